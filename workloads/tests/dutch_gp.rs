//! The whole 2025 Dutch Grand Prix, real FastF1 telemetry without any pit flag, through
//! the analytics the processor runs: every observable DHL stop found from motion with its
//! stationary time and pit-lane time, every lap counted, no anomaly. Needs
//! `../shared/data/f1/` (skipped with a message without it); the same race through
//! Redis and PostgreSQL is `replay_dutch_gp` in `tests/replay.rs`.

mod common;

use common::dutch;
use std::collections::BTreeMap;

/// Stops, stationary and pit-lane times, laps and anomalies of the real race.
#[test]
fn analytics_on_the_whole_race() {
    let Some(dir) = dutch::dir() else { return };
    let samples = dutch::samples(&dir, "dutch-2025");
    assert!(samples.iter().all(|s| s.pit_status.is_none()));
    let ev = dutch::analyse(&samples);
    dutch::check_stops(&dir, &dutch::found(&ev));

    let mut laps: BTreeMap<String, Vec<u16>> = BTreeMap::new();
    for l in &ev.laps {
        laps.entry(l.id.driver.to_string()).or_default().push(l.lap);
    }
    assert_eq!(laps.len(), 20);
    for (driver, got) in &laps {
        let n = dutch::completed_laps(driver);
        assert_eq!(*got, (1..=n).collect::<Vec<_>>(), "{driver}");
    }
    assert!(
        ev.anomalies.is_empty(),
        "{:?}",
        &ev.anomalies[..ev.anomalies.len().min(5)]
    );
    assert!(ev.drive_throughs.is_empty(), "{:?}", ev.drive_throughs);
}
