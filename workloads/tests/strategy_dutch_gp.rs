//! The live strategy against what really happened in the 2025 Dutch Grand Prix (real
//! FastF1 telemetry, `../shared/data/f1/`): for every stop the analytics find, the rejoin
//! predicted at pit entry against the position the car really held one lap after pit
//! exit (from every car's lap and distance along it in the telemetry); for every pair of
//! cars within 3 s where one stopped one to three laps before the other, the undercut
//! call against the outcome. Prints both tables (the ones in docs/strategy.md). Skipped
//! with a message without the data.

mod common;

use common::{dutch, real_races, strategy};
use pitstop_workloads::analytics::Events;
use std::sync::OnceLock;

/// What the analytics found in the race, its neutralised periods, and each car's
/// progress from its telemetry.
type Recorded = (Events, Vec<(i64, i64)>, strategy::Distance);

/// The race read as `strategy_real_races.rs` reads any race (its directory, its circuit
/// from Ergast, its length from the telemetry), so that path is held to these figures.
fn events() -> Option<&'static Recorded> {
    static EV: OnceLock<Option<Recorded>> = OnceLock::new();
    EV.get_or_init(|| {
        let dir = dutch::dir()?;
        let races = real_races::all(&dir);
        let race = races.iter().find(|r| r.name == "2025-dutch-gp")?;
        assert_eq!(race.circuit.as_deref(), Some("zandvoort"));
        let samples = race.samples("dutch-2025", dutch::START_MS);
        assert_eq!(real_races::laps(&samples), 72);
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
    let f = strategy::rejoin_check(&race, &|c, t| distance.progress(c, t));
    let n = f.n;
    // Measured: 24/39 exact, 35/39 within one, 28/39 within the range a safety car
    // leaves to the others' choice, 5 of the 15 misses only for later stops, 25/39 with
    // every margin right (24/39 exact by line crossings; docs/strategy.md says why the
    // rest miss; 23/39 and 24/39 before cars that drove past the pit entry under a safety
    // car were no longer expected to stop); green margins 2.96 s
    // out (11 pairs; 3.71 s before the first lap on new tyres, 2.97 s before its
    // shortfall in this race). These floors catch a
    // regression; they are not the targets (80% / 95%). Within one was 36/39
    // before each stop was priced at its own cost: BEA's lap-53 miss then had two errors
    // that cancelled (one of them a stop priced at the safety-car loss although begun
    // before the safety car).
    assert!(n >= 35, "only {n} stops checked");
    assert!(f.misses_named, "every miss names the cars it misplaced");
    assert!(f.exact * 100 >= 58 * n, "exact {}/{n}", f.exact);
    // What margins alone could get exact: a change to the check or to what the
    // prediction knows moves it.
    assert!(
        f.margin_bound * 100 >= 61 * n,
        "every margin right {}/{n}",
        f.margin_bound
    );
    assert!(f.in_range * 100 >= 65 * n, "in range {}/{n}", f.in_range);
    assert!(
        f.crossings_exact * 100 >= 55 * f.crossings_n,
        "by line crossings: exact {}/{}",
        f.crossings_exact,
        f.crossings_n
    );
    assert!(f.near * 100 >= 88 * n, "within one {}/{n}", f.near);
    assert!(
        f.margin_error_ms <= 3_300.0,
        "margins {:.0} ms out over {} pairs",
        f.margin_error_ms,
        f.margin_pairs
    );
}

#[test]
fn undercut_calls_against_the_real_outcome() {
    let Some((ev, periods, distance)) = events() else {
        return;
    };
    let mut race = strategy::race(ev, "zandvoort", 72);
    race.neutral_periods = periods.clone();
    let f = strategy::undercut_check(&race, &|c, t| distance.progress(c, t));
    assert!(f.green >= 2, "only {} green pairs", f.green);
    assert!(
        f.green_right * 2 >= f.green,
        "{}/{} green",
        f.green_right,
        f.green
    );
}

/// The cars in the pit lane as the processor stores them live, on the real race: every
/// stop and drive-through found was published as under way from (about) its entry, and
/// nothing else was (a car published in the pit lane while racing would be placed a
/// whole stop too far back).
#[test]
fn the_pit_lane_is_known_live_on_the_real_race() {
    let Some((ev, _, _)) = events() else {
        return;
    };
    let published: Vec<(u8, i64)> = ev
        .pit_lane
        .iter()
        .filter_map(|r| r.entry.map(|e| (r.id.car, e.0)))
        .collect();
    let visits: Vec<(u8, i64)> = ev
        .pit_stops
        .iter()
        .map(|s| (s.id.car, s.entry_ms))
        .chain(ev.drive_throughs.iter().map(|d| (d.id.car, d.entry_ms)))
        .collect();
    // The stored entry may be sharpened by the timing feed's pit status afterwards.
    let near = |a: &(u8, i64), b: &(u8, i64)| a.0 == b.0 && (a.1 - b.1).abs() <= 2_000;
    let unpublished: Vec<_> = visits
        .iter()
        .filter(|v| !published.iter().any(|p| near(p, v)))
        .collect();
    let false_entries: Vec<_> = published
        .iter()
        .filter(|p| !visits.iter().any(|v| near(p, v)))
        .collect();
    println!(
        "pit lane known live: {} of {} visits, {} published without a visit",
        visits.len() - unpublished.len(),
        visits.len(),
        false_entries.len()
    );
    assert!(visits.len() >= 39);
    assert_eq!(unpublished, Vec::<&(u8, i64)>::new());
    assert_eq!(false_entries, Vec::<&(u8, i64)>::new());
    // Every visit published was withdrawn: no car is left in the pit lane at the flag.
    let mut last: std::collections::BTreeMap<u8, bool> = Default::default();
    for r in &ev.pit_lane {
        last.insert(r.id.car, r.entry.is_some());
    }
    assert!(last.values().all(|in_lane| !in_lane), "{last:?}");
}
