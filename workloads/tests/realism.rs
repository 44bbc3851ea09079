//! The simulator against real Formula 1 data from `../shared/data/f1/` (DHL pit-stop
//! times 2018–2026, FastF1 laps of the 2024 Italian GP). The data is not part of the
//! repository: without it these tests say so and pass without checking anything.

mod common;

use pitstop_workloads::analytics::{Events, PartitionState};
use pitstop_workloads::sim::circuit::circuit;
use pitstop_workloads::sim::grid::default_grid;
use pitstop_workloads::sim::race::{Race, RaceConfig, draw_stationary_s};
use rand::SeedableRng;
use std::path::PathBuf;

fn data_dir() -> Option<PathBuf> {
    common::f1_data()
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// Simulated stationary times match DHL's distribution at the quartiles, p90 and the
/// share of stops over 4 s.
#[test]
fn stationary_times_match_dhl() {
    let Some(dir) = data_dir() else { return };
    let mut real = Vec::new();
    for year in std::fs::read_dir(dir.join("dhl-pitstops"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
    {
        for race in std::fs::read_dir(year.path()).unwrap().flatten() {
            let rows: serde_json::Value =
                serde_json::from_slice(&std::fs::read(race.path()).unwrap()).unwrap();
            real.extend(
                rows.as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|r| r["Time (sec)"].as_f64())
                    .filter(|t| *t > 0.0),
            );
        }
    }
    assert!(real.len() > 5_000, "{} stops read", real.len());
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut sim: Vec<f64> = (0..20_000).map(|_| draw_stationary_s(&mut rng)).collect();
    real.sort_by(f64::total_cmp);
    sim.sort_by(f64::total_cmp);
    for (q, tolerance) in [(0.25, 0.15), (0.5, 0.15), (0.75, 0.3), (0.9, 1.0)] {
        let (r, s) = (quantile(&real, q), quantile(&sim, q));
        eprintln!("p{:.0}: real {r:.2} s, simulated {s:.2} s", q * 100.0);
        assert!(
            (r - s).abs() <= tolerance,
            "p{}: real {r:.2} s vs simulated {s:.2} s",
            q * 100.0
        );
    }
    let over = |v: &[f64]| v.iter().filter(|t| **t > 4.0).count() as f64 / v.len() as f64;
    assert!(
        (over(&real) - over(&sim)).abs() <= 0.04,
        "share over 4 s: real {:.3} vs simulated {:.3}",
        over(&real),
        over(&sim)
    );
    assert!(sim[0] >= real[0], "faster than the record");
}

/// A full-distance simulated Monza matches FastF1's 2024 green laps within 1 s at p5, the
/// median and p90 (the single fastest lap is a push lap the model does not try to copy).
#[test]
fn monza_lap_times_match_fastf1() {
    let Some(dir) = data_dir() else { return };
    let text =
        std::fs::read_to_string(dir.join("fastf1-laps/laps_2024_italian_grand_prix.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (lap_time, lap_no, pit_in, pit_out, status) = (
        col("LapTime"),
        col("LapNumber"),
        col("PitInTime"),
        col("PitOutTime"),
        col("TrackStatus"),
    );
    let mut real: Vec<f64> = lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|r| {
            r.len() == header.len()
                && r[pit_in].is_empty()
                && r[pit_out].is_empty()
                && r[lap_no] != "1.0"
                && r[status] == "1"
                && !r[lap_time].is_empty()
        })
        .map(|r| {
            let hms = r[lap_time].rsplit(' ').next().unwrap();
            let parts: Vec<f64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
            parts[1] * 60.0 + parts[2]
        })
        .collect();
    real.sort_by(f64::total_cmp);

    let mut race = Race::new(RaceConfig {
        session: "realism".into(),
        circuit: circuit("monza").unwrap(),
        laps: 53,
        grid: default_grid(20),
        seed: 5,
        sample_hz: 4.0,
        anomaly_rate: 0.0,
        start_ms: 1_725_800_000_000,
    });
    let (mut state, mut ev, mut buf) = (PartitionState::default(), Events::default(), Vec::new());
    while !race.finished() {
        buf.clear();
        race.step(&mut buf);
        for s in &buf {
            state.observe(s, &mut ev);
        }
    }
    let pit = pitstop_workloads::evaluate::pit_laps(&ev);
    let mut sim: Vec<f64> = ev
        .laps
        .iter()
        .filter(|l| l.lap > 1 && !pit.contains(&(l.id.car, l.lap)))
        .map(|l| l.lap_time_ms as f64 / 1000.0)
        .collect();
    sim.sort_by(f64::total_cmp);
    eprintln!(
        "green laps: {} real, {} simulated; fastest real {:.3} s, simulated {:.3} s",
        real.len(),
        sim.len(),
        real[0],
        sim[0]
    );
    for q in [0.05, 0.5, 0.9] {
        let (r, s) = (quantile(&real, q), quantile(&sim, q));
        eprintln!(
            "p{:.0} green lap: real {r:.3} s, simulated {s:.3} s",
            q * 100.0
        );
        assert!(
            (r - s).abs() <= 1.0,
            "p{:.0} green lap: real {r:.3} vs simulated {s:.3}",
            q * 100.0
        );
    }
}
