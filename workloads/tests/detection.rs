//! Detection quality of the analytics against the simulator's ground truth, without
//! Redis or PostgreSQL: the same code the processor runs, fed in stream order. Pit stops
//! are checked twice: with the simulator's pit status, and with it stripped from every
//! sample (found from motion, as real feeds need), at live-timing and game rates.

use pitstop_workloads::analytics::{Events, PartitionState, PitStopRecord};
use pitstop_workloads::evaluate::{Detected, DetectedStop, pit_laps, score_anomalies, score_stops};
use pitstop_workloads::sim::circuit::circuit;
use pitstop_workloads::sim::grid::default_grid;
use pitstop_workloads::sim::race::{Race, RaceConfig};
use pitstop_workloads::sim::truth::GroundTruth;

fn run(laps: u16, seed: u64, rate: f64, hz: f64, strip_flags: bool) -> (Events, GroundTruth) {
    let mut race = Race::new(RaceConfig {
        session: format!("detect-{seed}"),
        circuit: circuit("monza").unwrap(),
        laps,
        grid: default_grid(20),
        seed,
        sample_hz: hz,
        anomaly_rate: rate,
        start_ms: 1_725_800_000_000,
    });
    let mut state = PartitionState::default();
    let mut events = Events::default();
    let mut buf = Vec::new();
    while !race.finished() {
        buf.clear();
        race.step(&mut buf);
        for s in &mut buf {
            if strip_flags {
                s.pit_status = None;
            }
            state.observe(s, &mut events);
        }
    }
    (events, race.truth().clone())
}

fn detected(ev: &Events) -> Vec<Detected> {
    ev.anomalies
        .iter()
        .map(|a| Detected {
            car: a.id.car,
            kind: a.kind,
            at_ms: a.detected_at_ms,
        })
        .collect()
}

fn stops(ev: &Events) -> Vec<DetectedStop> {
    ev.pit_stops
        .iter()
        .map(|p| DetectedStop {
            car: p.id.car,
            lap: p.lap.unwrap(),
            stationary_ms: p.stationary_ms,
        })
        .collect()
}

/// Every stop found on its in-lap, no false stop, stationary time exact to one sample
/// interval (100 ms at 10 Hz and above) — from the pit status and from motion alone, at
/// the game's 60 Hz, the usual 10–20 Hz, and live timing's 4 Hz.
#[test]
fn pit_stops_match_ground_truth() {
    for (seed, hz) in [(1, 10.0), (2, 20.0), (3, 10.0), (4, 4.0), (5, 60.0)] {
        for strip in [false, true] {
            let (ev, truth) = run(8, seed, 0.05, hz, strip);
            let score = score_stops(&truth, &stops(&ev));
            let what = format!(
                "seed {seed} at {hz} Hz, {}",
                if strip { "motion only" } else { "pit status" }
            );
            assert_eq!(score.real, 20, "{what}");
            assert_eq!(score.matched, score.real, "{what}: {score:?}");
            assert_eq!(score.false_stops, 0, "{what}: {score:?}");
            let interval = (1000.0 / hz).max(100.0) as i64;
            assert!(score.max_error_ms <= interval, "{what}: {score:?}");
            assert!(
                ev.drive_throughs.is_empty(),
                "{what}: {:?}",
                ev.drive_throughs
            );
        }
    }
}

/// With and without the pit status the same stops come out, their boundaries within
/// 100 ms of each other.
#[test]
fn flags_and_motion_agree() {
    for hz in [4.0, 60.0] {
        let (flagged, _) = run(8, 7, 0.0, hz, false);
        let (motion, _) = run(8, 7, 0.0, hz, true);
        assert_eq!(flagged.pit_stops.len(), 20);
        assert_eq!(motion.pit_stops.len(), 20);
        let key = |p: &PitStopRecord| (p.id.car, p.lap);
        for f in &flagged.pit_stops {
            let m = motion
                .pit_stops
                .iter()
                .find(|m| key(m) == key(f))
                .unwrap_or_else(|| panic!("{hz} Hz: no motion stop for {f:?}"));
            for (what, a, b) in [
                ("entry", f.entry_ms, m.entry_ms),
                (
                    "stationary start",
                    f.stationary_start_ms,
                    m.stationary_start_ms,
                ),
                ("stationary time", f.stationary_ms, m.stationary_ms),
                ("pit-lane time", f.pit_lane_ms, m.pit_lane_ms),
            ] {
                assert!(
                    (a - b).abs() <= 100,
                    "{hz} Hz car {} {what}: flags {a} motion {b}",
                    f.id.car
                );
            }
            assert_eq!(
                (f.compound_in, f.compound_out),
                (m.compound_in, m.compound_out)
            );
        }
    }
}

/// Precision ≥ 0.95 and recall ≥ 0.90 over several seeded races with injected anomalies.
#[test]
fn anomaly_precision_and_recall() {
    for strip in [false, true] {
        let (mut tp, mut det, mut inj) = (0, 0, 0);
        for seed in 10..16 {
            let (ev, truth) = run(12, seed, 0.2, 10.0, strip);
            let s = score_anomalies(&truth, &detected(&ev));
            eprintln!("seed {seed}: {s:?}");
            tp += s.true_positives;
            det += s.detected;
            inj += s.injected;
        }
        let precision = tp as f64 / det as f64;
        let recall = tp as f64 / inj as f64;
        eprintln!(
            "pit status stripped {strip}: injected {inj}, detected {det}, tp {tp}: precision {precision:.3} recall {recall:.3}"
        );
        assert!(
            inj >= 80,
            "too few injected anomalies ({inj}) for a meaningful score"
        );
        assert!(precision >= 0.95, "precision {precision:.3}");
        assert!(recall >= 0.90, "recall {recall:.3}");
    }
}

/// A clean race (no injection) raises no anomaly at all.
#[test]
fn clean_race_raises_nothing() {
    for seed in [21, 22] {
        let (ev, truth) = run(15, seed, 0.0, 10.0, true);
        assert!(truth.anomalies.is_empty());
        assert!(ev.anomalies.is_empty(), "seed {seed}: {:?}", ev.anomalies);
        assert!(!ev.laps.is_empty());
    }
}

/// Lap times are Monza-like: green laps between 1:21 and 1:31; sectors add up.
#[test]
fn lap_times_are_plausible() {
    let (ev, _) = run(10, 4, 0.0, 10.0, true);
    let pit = pit_laps(&ev);
    assert!(pit.len() >= 20, "{pit:?}");
    let green: Vec<_> = ev
        .laps
        .iter()
        .filter(|l| !pit.contains(&(l.id.car, l.lap)) && l.lap > 1)
        .collect();
    assert!(green.len() > 50);
    for l in green {
        assert!((81_000..91_000).contains(&l.lap_time_ms), "{l:?}");
        let sum: i32 = l.sectors_ms.iter().map(|s| s.unwrap()).sum();
        assert!(
            (sum - l.lap_time_ms).abs() <= 150,
            "sectors {:?} vs lap {}",
            l.sectors_ms,
            l.lap_time_ms
        );
    }
}
