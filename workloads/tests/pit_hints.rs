//! OpenF1 `pit` windows as hints on the whole real 2025 Dutch GP: every stop motion
//! finds in the FastF1 car data is given a window of the kind OpenF1 publishes — one that
//! closes while the car still stands in its box, one that opens a second before the car
//! stops, one a lap away — and must come out as motion found it: a hint sharpens the
//! boundaries, it never deletes, shrinks or moves a stop. Needs `../shared/data/f1/`
//! (each test says `SKIPPED` and passes without it).

mod common;

use common::{dutch, splice};
use pitstop_workloads::analytics::{Events, PitStopRecord};
use pitstop_workloads::model::Sample;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The race and what motion alone finds in it, read once for this file's tests.
fn race() -> Option<&'static (Vec<Sample>, Events)> {
    static RACE: OnceLock<Option<(Vec<Sample>, Events)>> = OnceLock::new();
    let race = RACE
        .get_or_init(|| {
            let dir = dutch::dir()?;
            let samples = dutch::samples(&dir, "dutch-2025");
            let reference = dutch::analyse(&samples);
            Some((samples, reference))
        })
        .as_ref();
    if race.is_none() {
        eprintln!("SKIPPED: the 2025 Dutch GP telemetry is not in ../shared/data/f1");
    }
    race
}

fn exit(p: &PitStopRecord) -> i64 {
    p.entry_ms + p.pit_lane_ms
}

/// The race again, each stop's car given the windows `window` makes of its stops (the
/// reference: motion alone), as OpenF1 turns its `pit` records into a status on every
/// sample of the car.
fn hinted(window: impl Fn(&PitStopRecord) -> Vec<(i64, i64)>) -> Option<(&'static Events, Events)> {
    let (samples, reference) = race()?;
    let mut samples = samples.clone();
    let mut windows: BTreeMap<u8, Vec<(i64, i64)>> = BTreeMap::new();
    for p in &reference.pit_stops {
        windows.entry(p.id.car).or_default().extend(window(p));
    }
    for (car, w) in &windows {
        splice::pit_windows(&mut samples, *car, w);
    }
    Some((reference, dutch::analyse(&samples)))
}

/// Every stop of `reference` is in `hinted` on its lap with the same stationary phase,
/// its entry and exit within `entry_ms` and `exit_ms` of motion's; nothing else is.
fn assert_kept(reference: &Events, hinted: &Events, entry_ms: i64, exit_ms: i64) {
    assert!(
        hinted.drive_throughs.is_empty(),
        "{:?}",
        hinted.drive_throughs
    );
    for r in &reference.pit_stops {
        let what = format!("{} lap {:?}", r.id.driver, r.lap);
        let h = hinted
            .pit_stops
            .iter()
            .find(|h| h.id.car == r.id.car && h.stationary_start_ms == r.stationary_start_ms)
            .unwrap_or_else(|| panic!("{what}: the stop is gone: {:?}", hinted.pit_stops));
        assert_eq!((h.lap, h.stationary_ms), (r.lap, r.stationary_ms), "{what}");
        assert!(
            (h.entry_ms - r.entry_ms).abs() <= entry_ms,
            "{what}: entry {} against motion's {}",
            h.entry_ms,
            r.entry_ms
        );
        assert!(
            (exit(h) - exit(r)).abs() <= exit_ms,
            "{what}: pit lane {} ms against motion's {}",
            h.pit_lane_ms,
            r.pit_lane_ms
        );
    }
    assert_eq!(hinted.pit_stops.len(), reference.pit_stops.len());
}

/// A window that closes while the car stands in its box (its entry where motion's is)
/// must not delete the stop or cut its pit lane short.
#[test]
fn window_closing_in_the_box_keeps_the_stop() {
    let Some((reference, hinted)) =
        hinted(|p| vec![(p.entry_ms, p.stationary_start_ms + p.stationary_ms / 2)])
    else {
        return;
    };
    // The entry hint agrees with motion and may sharpen it (within a second).
    assert_kept(reference, &hinted, 1_000, 0);
}

/// A window that opens a second before the car stops (a 12 s pit lane for a real
/// 19.9 s) must not shrink the pit-lane time.
#[test]
fn window_opening_late_keeps_the_pit_lane_time() {
    let Some((reference, hinted)) = hinted(|p| vec![(p.stationary_start_ms - 1_000, exit(p))])
    else {
        return;
    };
    assert_kept(reference, &hinted, 0, 1_000);
}

/// Windows a lap before or after the stop must neither delete it nor report a visit on
/// another lap.
#[test]
fn window_a_lap_away_keeps_the_stop_on_its_lap() {
    let Some((_, reference)) = race() else { return };
    let lap_ms: BTreeMap<(u8, u16), i64> = reference
        .laps
        .iter()
        .map(|l| ((l.id.car, l.lap), l.lap_time_ms as i64))
        .collect();
    for sign in [-1, 1] {
        let Some((reference, hinted)) = hinted(|p| {
            let lap = lap_ms[&(p.id.car, p.lap.unwrap())];
            vec![(p.entry_ms + sign * lap, exit(p) + sign * lap)]
        }) else {
            return;
        };
        assert_kept(reference, &hinted, 0, 0);
    }
}

/// A window that agrees with the car data, 0.4 s inside motion's visit at each end,
/// gives the visit its boundaries.
#[test]
fn agreeing_window_sharpens_the_boundaries() {
    let Some((reference, hinted)) = hinted(|p| vec![(p.entry_ms + 400, exit(p) - 400)]) else {
        return;
    };
    assert_kept(reference, &hinted, 1_000, 1_000);
    let moved: Vec<(i64, i64)> = reference
        .pit_stops
        .iter()
        .zip(&hinted.pit_stops)
        .map(|(r, h)| (h.entry_ms - r.entry_ms, exit(r) - exit(h)))
        .collect();
    // The hint's boundary lies midway between the samples around the window's edge.
    assert!(
        moved
            .iter()
            .all(|(a, b)| (a - 400).abs() <= 400 && (b - 400).abs() <= 400),
        "{moved:?}"
    );
}
