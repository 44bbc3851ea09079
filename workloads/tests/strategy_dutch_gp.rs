//! The live strategy against what really happened in the 2025 Dutch Grand Prix (real
//! FastF1 telemetry, `../shared/data/f1/`): for every stop the analytics find, the rejoin
//! predicted at pit entry against the position the car really held one lap after pit
//! exit (from every car's lap and distance along it in the telemetry); for every pair of
//! cars within 3 s where one stopped one to three laps before the other, the undercut
//! call against the outcome. Prints both tables (the ones in docs/strategy.md). Skipped
//! with a message without the data.

mod common;

use common::{dutch, strategy};
use pitstop_workloads::analytics::Events;
use pitstop_workloads::analytics::strategy::undercut::{Wear, gain_ms};
use pitstop_workloads::analytics::strategy::{Strategy, compute, review, timing};
use std::sync::OnceLock;

/// What the analytics found in the race, its neutralised periods, and each car's
/// progress from its telemetry.
type Recorded = (Events, Vec<(i64, i64)>, strategy::Distance);

fn events() -> Option<&'static Recorded> {
    static EV: OnceLock<Option<Recorded>> = OnceLock::new();
    EV.get_or_init(|| {
        let dir = dutch::dir()?;
        let samples = dutch::samples(&dir, "dutch-2025");
        let periods = strategy::neutral_periods(&samples);
        let distance = strategy::Distance::new(&samples);
        Some((dutch::analyse(&samples), periods, distance))
    })
    .as_ref()
}

#[test]
fn rejoin_predictions_hold_on_the_real_race() {
    let Some((ev, periods, distance)) = events() else {
        return;
    };
    let mut race = strategy::race(ev, "zandvoort", 72);
    race.neutral_periods = periods.clone();
    println!(
        "neutralised: {:?}",
        periods
            .iter()
            .map(|p| (
                (p.0 - dutch::START_MS) / 1000,
                (p.1 - dutch::START_MS) / 1000
            ))
            .collect::<Vec<_>>()
    );
    // Real positions from each car's distance along the lap (the line crossings alone
    // would interpolate linearly within the lap).
    let rows = review::rejoin_checks_by(&race, &|car, t| distance.progress(car, t));
    println!("| driver | in-lap | pit loss used (s) | predicted | actual | why missed |");
    println!("|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {:.1} | P{} | P{} | {} |",
            r.driver,
            r.lap.unwrap_or(0),
            r.loss_ms / 1000.0,
            r.predicted,
            r.actual,
            r.why()
        );
    }
    let exact = rows.iter().filter(|r| r.predicted == r.actual).count();
    let near = rows
        .iter()
        .filter(|r| r.predicted.abs_diff(r.actual) <= 1)
        .count();
    let n = rows.len();
    let later = rows.iter().filter(|r| r.missed_for_later_stops()).count();
    println!(
        "exact {exact}/{n}, within one place {near}/{n}; {later} of the {} misses only for \
         cars that stopped after the prediction",
        n - exact
    );
    // The stored line crossings alone (what the HTML report has) place the cars by a
    // linear guess within the lap: printed beside, for comparison.
    let crossings = review::rejoin_checks(&race);
    let exact_crossings = crossings.iter().filter(|r| r.predicted == r.actual).count();
    println!(
        "by line crossings instead of distance: exact {exact_crossings}/{}",
        crossings.len()
    );
    // Measured: 23/39 exact, 34/39 within one, 6 of the 16 misses only for later stops
    // (24/39 exact by line crossings; docs/strategy.md says why the rest miss). These
    // floors catch a regression; they are not the targets (80% / 95%).
    assert!(n >= 35, "only {n} stops checked");
    // Every miss names the cars it misplaced.
    assert!(
        rows.iter()
            .all(|r| (r.predicted == r.actual) || !r.misplaced.is_empty())
    );
    assert!(exact * 100 >= 50 * n, "exact {exact}/{n}");
    assert!(
        exact_crossings * 100 >= 60 * crossings.len(),
        "by line crossings: exact {exact_crossings}/{}",
        crossings.len()
    );
    assert!(near * 100 >= 85 * n, "within one {near}/{n}");
}

/// A car's tyres at a moment, as the strategy saw them.
fn wear(s: &Strategy, car: u8) -> Option<Wear> {
    let c = s.cars.iter().find(|c| c.car == car)?;
    Some(Wear {
        age: c.stint.tyre_age,
        deg_ms: c.degradation.map_or(0.0, |d| d.ms_per_lap.max(0.0)),
    })
}

#[test]
fn undercut_calls_against_the_real_outcome() {
    let Some((ev, periods, distance)) = events() else {
        return;
    };
    let mut race = strategy::race(ev, "zandvoort", 72);
    race.neutral_periods = periods.clone();
    let lap_ms = timing::typical_lap_ms(&race.laps);
    let under_sc = |t: i64| periods.iter().any(|p| p.0 <= t && t < p.1 + lap_ms);
    println!(
        "| first to stop | in-lap | rival | laps later | gap before (s) | neutralised | predicted | outcome |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let (mut pairs, mut right, mut green, mut green_right) = (0, 0, 0, 0);
    for a in &ev.pit_stops {
        for b in &ev.pit_stops {
            let (Some(la), Some(lb)) = (a.lap, b.lap) else {
                continue;
            };
            if a.id.car == b.id.car || !(1..=3).contains(&(lb.saturating_sub(la))) || lb <= la {
                continue;
            }
            // A stop under a safety car costs less: the outcome says little of an undercut.
            let neutral = under_sc(a.entry_ms) || under_sc(b.entry_ms);
            let now = race.as_of(a.entry_ms);
            let s = compute(&now);
            let board = timing::Board::new(&now.laps, &now.stops, a.entry_ms);
            let (Some(ta), Some(tb)) = (board.get(a.id.car), board.get(b.id.car)) else {
                continue;
            };
            let Some(gap) = timing::Board::gap_ms(ta, tb, s.pit_loss.ms) else {
                continue;
            };
            if gap.abs() > 3_000.0 {
                continue;
            }
            let (Some(rival), Some(mine)) = (wear(&s, b.id.car), wear(&s, a.id.car)) else {
                continue;
            };
            let gain = gain_ms(rival, mine.deg_ms, lb - la);
            // After both stops, positive: the first to stop is behind.
            let predicted_behind = gap - gain > 0.0;
            let t = b.entry_ms + b.pit_lane_ms + lap_ms;
            let (Some(pa), Some(pb)) = (
                distance.progress(a.id.car, t),
                distance.progress(b.id.car, t),
            ) else {
                continue;
            };
            let actual_behind = pa < pb;
            let was_behind = gap > 0.0;
            let word = |behind: bool| {
                if behind == was_behind {
                    "no jump"
                } else {
                    "jump"
                }
            };
            pairs += 1;
            right += usize::from(predicted_behind == actual_behind);
            if !neutral {
                green += 1;
                green_right += usize::from(predicted_behind == actual_behind);
            }
            println!(
                "| {} | {la} | {} | {} | {:+.1} | {} | {} | {}{} |",
                a.id.driver,
                b.id.driver,
                lb - la,
                gap / 1000.0,
                if neutral { "yes" } else { "" },
                word(predicted_behind),
                word(actual_behind),
                if predicted_behind == actual_behind {
                    ""
                } else {
                    " ✗"
                }
            );
        }
    }
    println!("undercut calls right: {right}/{pairs} ({green_right}/{green} green)");
    assert!(green >= 2, "only {green} green pairs");
    assert!(green_right * 2 >= green, "{green_right}/{green} green");
}
