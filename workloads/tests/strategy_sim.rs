//! The pit window against the optimum of a model whose degradation is known: the
//! simulator's. A simulated race goes through the processor's analytics; at lap 8 each
//! car's predicted optimal stop (from the laps alone) is compared with the one-stop
//! optimum found by brute force on the simulator's own tyre model (wear per lap and pace
//! offset of each compound, the car's planned next compound). Fuel, track evolution and
//! the pit loss are the same for every choice of lap and drop out.
//!
//! Monza's real 53 laps, not a round 40: the simulator's compound offsets are −20 laps
//! × each compound's wear (plus a constant), so in a 40-lap race every one-stop optimum
//! is lap 20 whatever the compounds, the midpoint any model that takes the new tyres to
//! wear like the old predicts too; such a check proves nothing. At 53 laps the optima
//! are 24 (soft→hard) to 26 (medium→medium) for a car on 8-lap-old tyres at lap 8, and
//! the window, which does not know the team's next compound and takes the new tyres to
//! wear like the old, says 26, the balance of tyre ages (the fitted wear cancels out of
//! where that balance lies): what this bounds is the cost of not knowing the next
//! compound, at most 2 laps here.

mod common;

use pitstop_workloads::analytics::strategy::{Race, compute};
use pitstop_workloads::analytics::{Events, PartitionState};
use pitstop_workloads::model::Compound;
use pitstop_workloads::sim::race::{Race as SimRace, compound_offset, degradation};

const LAPS: u16 = 53;
const DECIDE_AT: u16 = 8;

fn simulate(seed: u64) -> (Events, Vec<(u8, Compound, Compound, u16)>) {
    let mut cfg = common::race("sim-optimum", LAPS, 20, seed, 0.0);
    cfg.sample_hz = 4.0;
    let mut race = SimRace::new(cfg);
    let (mut state, mut ev, mut out) = (PartitionState::default(), Events::default(), Vec::new());
    while !race.finished() {
        out.clear();
        race.step(&mut out);
        for s in &out {
            state.observe(s, &mut ev);
        }
    }
    state.end_session("sim-optimum", &mut ev);
    // (car, first compound, the one after the first stop, first stop's lap)
    let mut plans: Vec<(u8, Compound, Compound, u16)> = Vec::new();
    for p in &race.truth().pit_stops {
        if !plans.iter().any(|q| q.0 == p.car) {
            plans.push((p.car, p.compound_in, p.compound_out, p.lap));
        }
    }
    (ev, plans)
}

/// The one-stop in-lap minimising the remaining race on the simulator's model, deciding
/// after `now` laps on tyres `age` laps old.
fn brute_force(now: u16, age: f64, current: Compound, next: Compound) -> u16 {
    let (d1, d2) = (degradation(current).0, degradation(next).0);
    let cost = |k: u16| -> f64 {
        let old: f64 = (1..=k - now).map(|j| d1 * (age + f64::from(j))).sum();
        let new: f64 = (1..=LAPS - k)
            .map(|j| compound_offset(next) + d2 * f64::from(j))
            .sum();
        old + new + compound_offset(current) * f64::from(k - now)
    };
    (now + 1..LAPS)
        .min_by(|a, b| cost(*a).total_cmp(&cost(*b)))
        .unwrap()
}

#[test]
fn the_predicted_window_finds_the_simulators_optimum() {
    let (mut checked, mut within) = (0, 0);
    let mut misses = Vec::new();
    for seed in [3, 11] {
        let (ev, plans) = simulate(seed);
        let race: Race = common::strategy::race(&ev, "monza", LAPS);
        for (car, current, next, lap) in plans {
            if lap <= DECIDE_AT + 2 {
                continue; // stopped before a decision could be made
            }
            let Some(at) = race
                .laps
                .iter()
                .find(|l| l.car == car && l.lap == DECIDE_AT)
                .map(|l| l.crossed_at_ms)
            else {
                continue;
            };
            let s = compute(&race.as_of(at));
            let c = s.cars.iter().find(|c| c.car == car).unwrap();
            let Some(w) = &c.window else {
                panic!(
                    "car {car}: no window: {:?} {:?}",
                    c.window_hidden, c.degradation_hidden
                );
            };
            let best = brute_force(DECIDE_AT, c.stint.tyre_age, current, next);
            checked += 1;
            let ok = w.optimal_lap.abs_diff(best) <= 2;
            within += usize::from(ok);
            if !ok {
                misses.push((current, next, w.optimal_lap, best));
            }
            println!(
                "seed {seed} car {car:>2} {}→{}: predicted lap {} (window {}–{}), optimum {best}{}",
                current.as_str(),
                next.as_str(),
                w.optimal_lap,
                w.first_lap,
                w.last_lap,
                if ok { "" } else { "  ✗" }
            );
        }
    }
    println!("within ±2 laps: {within}/{checked}");
    assert!(checked >= 20, "only {checked} cars checked");
    // Measured: 40 of 40 (37 when a tie of two equal laps fell to the later one by
    // rounding). A miss can only be a change to a harder compound, whose best stop is
    // earlier than the balance of tyre ages.
    assert!(
        within * 10 >= checked * 9,
        "{within}/{checked} within ±2 laps"
    );
    for (current, next, predicted, best) in misses {
        let (now, then) = (degradation(current).0, degradation(next).0);
        assert!(
            then < now && predicted > best && predicted - best <= 4,
            "{}→{}: predicted {predicted}, optimum {best}",
            current.as_str(),
            next.as_str()
        );
    }
}
