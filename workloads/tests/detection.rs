//! Detection quality of the analytics against the simulator's ground truth, without
//! Redis or PostgreSQL: the same code the processor runs, fed in stream order.

use pitstop_workloads::analytics::{Events, PartitionState};
use pitstop_workloads::evaluate::{Detected, DetectedStop, score_anomalies, score_stops};
use pitstop_workloads::sim::circuit::circuit;
use pitstop_workloads::sim::grid::default_grid;
use pitstop_workloads::sim::race::{Race, RaceConfig};
use pitstop_workloads::sim::truth::GroundTruth;

fn run(laps: u16, seed: u64, rate: f64, hz: f64) -> (Events, GroundTruth) {
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
        for s in &buf {
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

/// Every stop found, no false stop, stationary time within 100 ms (at 10 and 20 Hz).
#[test]
fn pit_stops_match_ground_truth() {
    for (seed, hz) in [(1, 10.0), (2, 20.0), (3, 10.0)] {
        let (ev, truth) = run(8, seed, 0.05, hz);
        let stops: Vec<_> = ev
            .pit_stops
            .iter()
            .map(|p| DetectedStop {
                car: p.id.car,
                lap: p.lap,
                stationary_ms: p.stationary_ms,
            })
            .collect();
        let score = score_stops(&truth, &stops);
        assert_eq!(score.real, 20, "seed {seed}");
        assert_eq!(score.matched, score.real, "seed {seed}: {score:?}");
        assert_eq!(score.false_stops, 0, "seed {seed}: {score:?}");
        assert!(score.max_error_ms <= 100, "seed {seed}: {score:?}");
    }
}

/// Precision ≥ 0.95 and recall ≥ 0.90 over several seeded races with injected anomalies.
#[test]
fn anomaly_precision_and_recall() {
    let (mut tp, mut det, mut inj) = (0, 0, 0);
    for seed in 10..16 {
        let (ev, truth) = run(12, seed, 0.2, 10.0);
        let s = score_anomalies(&truth, &detected(&ev));
        eprintln!("seed {seed}: {s:?}");
        tp += s.true_positives;
        det += s.detected;
        inj += s.injected;
    }
    let precision = tp as f64 / det as f64;
    let recall = tp as f64 / inj as f64;
    eprintln!(
        "injected {inj}, detected {det}, tp {tp}: precision {precision:.3} recall {recall:.3}"
    );
    assert!(
        inj >= 80,
        "too few injected anomalies ({inj}) for a meaningful score"
    );
    assert!(precision >= 0.95, "precision {precision:.3}");
    assert!(recall >= 0.90, "recall {recall:.3}");
}

/// A clean race (no injection) raises no anomaly at all.
#[test]
fn clean_race_raises_nothing() {
    for seed in [21, 22] {
        let (ev, truth) = run(15, seed, 0.0, 10.0);
        assert!(truth.anomalies.is_empty());
        assert!(ev.anomalies.is_empty(), "seed {seed}: {:?}", ev.anomalies);
        assert!(!ev.laps.is_empty());
    }
}

/// Lap times are Monza-like: green laps between 1:21 and 1:31.
#[test]
fn lap_times_are_plausible() {
    let (ev, _) = run(10, 4, 0.0, 10.0);
    let green: Vec<_> = ev
        .laps
        .iter()
        .filter(|l| !l.pit_in && !l.pit_out && l.lap > 1)
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
