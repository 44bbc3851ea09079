//! The 2025 Dutch Grand Prix from `../shared/data/f1/`: every driver's FastF1 telemetry,
//! DHL's stationary times and Ergast's pit-lane times, and the checks a detector must
//! pass on them. The data is not part of the repository: without it the tests that use
//! it say so and check nothing.

use super::real_races;
use pitstop_workloads::analytics::{Events, PartitionState};
use pitstop_workloads::model::Sample;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Race start (lights out, 15:03 CEST), the origin of the traces' lap-relative times.
pub const START_MS: i64 = 1_756_645_380_000;

/// Laps each driver completed: the finishers all 72; Hamilton crashed on lap 23, Norris
/// retired on lap 65 and Leclerc on lap 53 (after entering the pit lane at the end of 52).
pub fn completed_laps(code: &str) -> u16 {
    match code {
        "HAM" => 22,
        "NOR" => 64,
        "LEC" => 52,
        _ => 72,
    }
}

/// Stops where our stationary time and DHL's differ by more than 0.5 s, each explained
/// in docs/analytics.md ("Measured on a real race").
pub const STATIONARY_OUTLIERS: &[(&str, u16)] = &[("LAW", 27), ("BOR", 60), ("SAI", 65)];
/// Stops where our pit-lane time and Ergast's differ by more than 1.5 s (docs/analytics.md).
pub const LANE_OUTLIERS: &[(&str, u16)] = &[("LAW", 27)];

pub fn dir() -> Option<PathBuf> {
    let dir = super::f1_data()?;
    if dir.join("fastf1-telemetry/2025-dutch-gp").is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: {} has no fastf1-telemetry/2025-dutch-gp",
            dir.display()
        );
        None
    }
}

/// The telemetry files, one per driver.
pub fn files(dir: &std::path::Path) -> Vec<PathBuf> {
    let files = real_races::csv_files(&dir.join("fastf1-telemetry/2025-dutch-gp"));
    assert_eq!(files.len(), 20, "{files:?}");
    files
}

/// One file's samples, as the FastF1 feed reads them.
fn parse(file: &std::path::Path, session: &str) -> Vec<Sample> {
    real_races::parse(file, session, START_MS)
}

/// Every sample of the race, as the FastF1 feed reads it, in time order.
pub fn samples(dir: &std::path::Path, session: &str) -> Vec<Sample> {
    let mut all: Vec<Sample> = files(dir).iter().flat_map(|f| parse(f, session)).collect();
    all.sort_by_key(|s| s.timestamp_ms);
    all
}

/// One driver's samples (by code: `ALO`), in time order.
pub fn driver(dir: &std::path::Path, session: &str, code: &str) -> Vec<Sample> {
    parse(
        &dir.join(format!("fastf1-telemetry/2025-dutch-gp/{code}.csv.gz")),
        session,
    )
}

/// What the processor's analytics make of `samples` (of one session, in time order),
/// the session then ended.
pub fn analyse(samples: &[Sample]) -> Events {
    let (mut state, mut ev) = (PartitionState::default(), Events::default());
    for s in samples {
        state.observe(s, &mut ev);
    }
    if let Some(s) = samples.first() {
        state.end_session(&s.session, &mut ev);
    }
    ev
}

/// The stops of `ev` as [`check_stops`] takes them.
pub fn found(ev: &Events) -> Vec<Found> {
    ev.pit_stops
        .iter()
        .map(|p| Found {
            driver: p.id.driver.to_string(),
            lap: p.lap.expect("FastF1 has lap numbers"),
            stationary_s: p.stationary_ms as f64 / 1000.0,
            pit_lane_s: p.pit_lane_ms as f64 / 1000.0,
        })
        .collect()
}

fn code(surname: &str) -> &'static str {
    match surname {
        "Albon" => "ALB",
        "Alonso" => "ALO",
        "Antonelli" => "ANT",
        "Bearman" => "BEA",
        "Bortoleto" => "BOR",
        "Colapinto" => "COL",
        "Gasly" => "GAS",
        "Hadjar" => "HAD",
        "Hamilton" => "HAM",
        "Hulkenberg" => "HUL",
        "Lawson" => "LAW",
        "Leclerc" => "LEC",
        "Norris" => "NOR",
        "Ocon" => "OCO",
        "Piastri" => "PIA",
        "Russell" => "RUS",
        "Sainz" => "SAI",
        "Stroll" => "STR",
        "Tsunoda" => "TSU",
        "Verstappen" => "VER",
        other => panic!("unknown driver {other}"),
    }
}

/// DHL's stops: (driver, lap) → stationary seconds.
pub fn dhl(dir: &std::path::Path) -> BTreeMap<(String, u16), f64> {
    let rows: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("dhl-pitstops/2025/Dutch Grand Prix.json")).unwrap(),
    )
    .unwrap();
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                (
                    code(r["Driver"].as_str().unwrap()).to_string(),
                    r["Lap"].as_u64().unwrap() as u16,
                ),
                r["Time (sec)"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// Ergast's driver ids of the 2025 field (the table is not in the shared data; the
/// mapping was checked against the order of the lap-23 stops in the telemetry).
fn ergast_driver(id: u32) -> &'static str {
    match id {
        4 => "ALO",
        807 => "HUL",
        830 => "VER",
        832 => "SAI",
        839 => "OCO",
        840 => "STR",
        842 => "GAS",
        844 => "LEC",
        846 => "NOR",
        847 => "RUS",
        848 => "ALB",
        852 => "TSU",
        857 => "PIA",
        859 => "LAW",
        860 => "BEA",
        861 => "COL",
        863 => "ANT",
        864 => "BOR",
        865 => "HAD",
        other => panic!("unknown Ergast driver {other}"),
    }
}

/// Ergast's pit-lane times of the race (raceId 1159): (driver, lap) → seconds.
pub fn ergast(dir: &std::path::Path) -> BTreeMap<(String, u16), f64> {
    std::fs::read_to_string(dir.join("ergast/pit_stops.csv"))
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("1159,"))
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                (
                    ergast_driver(f[1].parse().unwrap()).to_string(),
                    f[3].parse().unwrap(),
                ),
                f[5].parse().unwrap(),
            )
        })
        .collect()
}

/// A stop as detected: driver, in-lap, stationary and pit-lane time in seconds.
#[derive(Clone, Debug)]
pub struct Found {
    pub driver: String,
    pub lap: u16,
    pub stationary_s: f64,
    pub pit_lane_s: f64,
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// Checks detected stops against DHL and Ergast and prints the comparison table.
pub fn check_stops(dir: &std::path::Path, found: &[Found]) {
    let dhl = dhl(dir);
    let ergast = ergast(dir);
    assert_eq!(dhl.len(), 40);
    let mut errors = Vec::new();
    let mut stationary_outliers = Vec::new();
    let mut lane_outliers = Vec::new();
    println!(
        "| driver | lap | DHL stationary s | ours | error | Ergast pit lane s | ours | error |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for ((driver, lap), &truth) in &dhl {
        let matches: Vec<&Found> = found
            .iter()
            .filter(|f| f.driver == *driver && f.lap == *lap)
            .collect();
        if (driver.as_str(), *lap) == ("LEC", 52) {
            // His lap-53 trace, where the stop would be, does not exist: he retired.
            assert!(matches.is_empty(), "{matches:?}");
            println!("| LEC | 52 | {truth:.2} | — (no lap-53 trace) | | | | |");
            continue;
        }
        let [f] = matches[..] else {
            panic!("{driver} lap {lap} (DHL {truth} s): found {matches:?}");
        };
        let error = f.stationary_s - truth;
        errors.push(error.abs());
        if error.abs() > 0.5 {
            stationary_outliers.push((driver.clone(), *lap));
        }
        let lane = ergast[&(driver.clone(), *lap)];
        let lane_error = f.pit_lane_s - lane;
        if lane_error.abs() > 1.5 {
            lane_outliers.push((driver.clone(), *lap));
        }
        println!(
            "| {driver} | {lap} | {truth:.2} | {:.2} | {error:+.2} | {lane:.2} | {:.2} | {lane_error:+.2} |",
            f.stationary_s, f.pit_lane_s
        );
    }
    for f in found {
        assert!(
            dhl.contains_key(&(f.driver.clone(), f.lap)),
            "a stop DHL does not have: {f:?}"
        );
    }
    errors.sort_by(f64::total_cmp);
    let (median, p90, max) = (
        quantile(&errors, 0.5),
        quantile(&errors, 0.9),
        errors[errors.len() - 1],
    );
    println!(
        "{} stops found of 39 observable; stationary |error| median {median:.3} s, p90 {p90:.3} s, max {max:.3} s",
        errors.len()
    );
    assert_eq!(errors.len(), 39);
    assert!(median <= 0.15, "median |error| {median:.3} s");
    assert!(p90 <= 0.45, "p90 |error| {p90:.3} s");
    let expected = |list: &[(&str, u16)]| -> Vec<(String, u16)> {
        list.iter().map(|(d, l)| (d.to_string(), *l)).collect()
    };
    stationary_outliers.sort();
    lane_outliers.sort();
    let mut want = expected(STATIONARY_OUTLIERS);
    want.sort();
    assert_eq!(
        stationary_outliers, want,
        "stops off by more than 0.5 s (listed in docs/analytics.md)"
    );
    assert_eq!(
        lane_outliers,
        expected(LANE_OUTLIERS),
        "pit-lane times off by more than 1.5 s (docs/analytics.md)"
    );
}
