//! Pit stops that real traces hide, reproduced in the real 2025 Dutch GP: what the
//! detector met on two 2025 races we do not have, spliced into FastF1 traces where it
//! happened there (`common::splice`). A standstill split by one reading of 4 km/h (a stop
//! lost whole). Needs `../shared/data/f1/` (each test says `SKIPPED` and passes without
//! it).

mod common;

use common::dutch;
use common::splice;
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
