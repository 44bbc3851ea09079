//! Pit stops that real traces hide, reproduced in the real 2025 Dutch GP: what the
//! detector met on two 2025 races we do not have, spliced into FastF1 traces where it
//! happened there (`common::splice`). A standstill split by one reading of 4 km/h (a stop
//! lost whole); a car beached off the track, crawling back and pitting on the same lap
//! (reported as two stops, or its beaching taken for its stop). Needs
//! `../shared/data/f1/` (each test says `SKIPPED` and passes without it).

mod common;

use common::dutch;
use common::splice::{self, Beached, Rejoin};
use pitstop_workloads::analytics::{Events, PitStopRecord};
use pitstop_workloads::model::Sample;
use std::sync::OnceLock;

const SESSION: &str = "dutch-2025";

fn data() -> Option<std::path::PathBuf> {
    let dir = dutch::dir();
    if dir.is_none() {
        eprintln!("SKIPPED: the 2025 Dutch GP telemetry is not in ../shared/data/f1");
    }
    dir
}

/// The whole race and what the analytics make of it, read once for this file's tests.
fn race() -> Option<&'static (Vec<Sample>, Events)> {
    static RACE: OnceLock<Option<(Vec<Sample>, Events)>> = OnceLock::new();
    RACE.get_or_init(|| {
        let samples = dutch::samples(&data()?, SESSION);
        let reference = dutch::analyse(&samples);
        Some((samples, reference))
    })
    .as_ref()
}

/// A reading of 4 km/h in the middle of a real standstill whose halves are each under a
/// second (0 km/h for ~0.6 s, one reading, 0 km/h for ~0.6 s) must not lose the stop or
/// cut it short: it comes out as without the reading.
#[test]
fn standstill_split_by_one_reading_is_one_stop() {
    let Some((samples, reference)) = race() else {
        return;
    };
    let mut split = samples.clone();
    let mut changed = Vec::new();
    for p in &reference.pit_stops {
        let end = p.stationary_start_ms + p.stationary_ms;
        let Some((i, before, after)) =
            splice::middle_of_standstill(samples, p.id.car, p.stationary_start_ms, end)
        else {
            continue;
        };
        if before < 1_000 && after < 1_000 {
            split[i].speed_kph = 4.0;
            changed.push((p, before, after));
        }
    }
    assert!(changed.len() >= 2, "too few short standstills to split");
    let ev = dutch::analyse(&split);
    let mut wrong = Vec::new();
    for (p, before, after) in changed {
        let got = same_stop(&ev, p);
        println!(
            "{} lap {:?}: stood {before} ms, 4 km/h, {after} ms: {} (unsplit {} ms)",
            p.id.driver,
            p.lap,
            got.map_or("lost".into(), |g| format!("{} ms", g.stationary_ms)),
            p.stationary_ms
        );
        if got != Some(p) {
            wrong.push((&p.id.driver, p.lap));
        }
    }
    assert!(wrong.is_empty(), "changed by the reading: {wrong:?}");
    assert_eq!(ev.pit_stops, reference.pit_stops);
}

/// The stop of `ev` that is `p` (same car and stationary start).
fn same_stop<'a>(ev: &'a Events, p: &PitStopRecord) -> Option<&'a PitStopRecord> {
    ev.pit_stops
        .iter()
        .find(|s| s.id.car == p.id.car && s.stationary_start_ms == p.stationary_start_ms)
}

/// Where a splice's stops differ from the real trace's: the same laps and stationary
/// times, the pit-lane times within `lane_ms`, no other stop, no drive-through.
fn differs(reference: &[PitStopRecord], ev: &Events, lane_ms: i64) -> Option<String> {
    let key = |p: &PitStopRecord| (p.lap, p.stationary_ms);
    let got: Vec<_> = ev.pit_stops.iter().map(key).collect();
    let real: Vec<_> = reference.iter().map(key).collect();
    if got != real || !ev.drive_throughs.is_empty() {
        return Some(format!(
            "(lap, stationary ms) {got:?}, real {real:?}; drive-throughs {:?}",
            ev.drive_throughs
        ));
    }
    ev.pit_stops
        .iter()
        .zip(reference)
        .find(|(g, r)| (g.pit_lane_ms - r.pit_lane_ms).abs() > lane_ms)
        .map(|(g, r)| format!("pit lane {} ms, real {} ms", g.pit_lane_ms, r.pit_lane_ms))
}

/// Every in-lap of the race, each driver's first stop (no earlier stop taught his pit
/// lane) and later ones, with a beaching spliced in (`splice::beach`): each must give
/// the driver's real stops, their pit-lane times within `lane_ms`.
fn beach_every_in_lap(rejoin: Rejoin, lane_ms: i64) {
    let Some(dir) = data() else { return };
    let (mut cases, mut failures) = (0, Vec::new());
    for file in dutch::files(&dir) {
        let name = file.file_name().unwrap().to_string_lossy();
        let code = &name[..name.find('.').unwrap()];
        let car: Vec<Sample> = dutch::driver(&dir, SESSION, code);
        let reference = dutch::analyse(&car).pit_stops;
        for (n, p) in reference.iter().enumerate() {
            let b: Beached = splice::beach(&car, p.entry_ms, rejoin);
            cases += 1;
            if let Some(why) = differs(&reference, &dutch::analyse(&b.samples), lane_ms) {
                let which = if n == 0 { "first stop" } else { "later stop" };
                failures.push(format!(
                    "{code} lap {:?} ({which}), beached at ({:.0}, {:.0}) m: {why}",
                    p.lap, b.at.0, b.at.1
                ));
            }
        }
    }
    println!("{rejoin:?}: {cases} in-laps, {} differ", failures.len());
    assert!(cases >= 39, "{cases}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Beached 9 s, 25 m off the racing line, 500 m before the pit entry, crawling back and
/// rejoining the track (1.5 s steady at 55 km/h), then pitting on the same lap: the
/// beaching is no pit stop (it was reported as a second one).
#[test]
fn beached_and_rejoined_before_the_pit_is_no_stop() {
    // The approach to the pit lane is the real one: pit-lane times exact.
    beach_every_in_lap(Rejoin::Track, 0);
}

/// Beached just before the pit entry, crawling on into the pit lane: the stop is the one
/// at the box (the beaching was taken for it: 9 s stationary, a 38 s pit lane), the pit
/// lane timed from where the car reached the limiter (not the real approach: within 1 s).
#[test]
fn beached_into_the_pit_entry_is_not_the_stop() {
    beach_every_in_lap(Rejoin::PitEntry, 1_000);
}

/// Position only arbitrates: the real race without x/y gives exactly the same stops.
#[test]
fn positions_change_no_real_stop() {
    let Some((samples, with)) = race() else {
        return;
    };
    let without: Vec<Sample> = samples
        .iter()
        .map(|s| Sample {
            x: None,
            y: None,
            z: None,
            ..s.clone()
        })
        .collect();
    assert_eq!(dutch::analyse(&without).pit_stops, with.pit_stops);
}
