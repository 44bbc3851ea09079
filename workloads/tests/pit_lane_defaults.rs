//! The per-circuit pit-lane times the strategy falls back on (`strategy/pit_lane_times.rs`)
//! recomputed from Ergast's tables in `../shared/data/f1/ergast/`: an edit by hand or a
//! newer export shows here. Skipped with a message without the data.

mod common;

use pitstop_workloads::analytics::strategy::pit_loss::pit_lane_ms;
use std::collections::BTreeMap;

fn table(dir: &std::path::Path, name: &str) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(dir.join("ergast").join(name))
        .unwrap();
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

#[test]
fn the_table_matches_ergast() {
    let Some(dir) = common::f1_data() else { return };
    let races: BTreeMap<String, (i32, String)> = table(&dir, "races.csv")
        .into_iter()
        .map(|r| {
            (
                r["raceId"].clone(),
                (r["year"].parse().unwrap(), r["circuitId"].clone()),
            )
        })
        .collect();
    let circuits: BTreeMap<String, String> = table(&dir, "circuits.csv")
        .into_iter()
        .map(|r| (r["circuitId"].clone(), r["circuitRef"].clone()))
        .collect();
    let mut times: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for s in table(&dir, "pit_stops.csv") {
        let (year, circuit) = &races[&s["raceId"]];
        let Ok(ms) = s["milliseconds"].parse::<u32>() else {
            continue;
        };
        if *year >= 2018 && (10_000..60_000).contains(&ms) {
            times.entry(circuits[circuit].clone()).or_default().push(ms);
        }
    }
    assert!(times.len() >= 30, "{} circuits", times.len());
    for (circuit, mut v) in times {
        v.sort_unstable();
        let n = v.len();
        let median = if n % 2 == 1 {
            f64::from(v[n / 2])
        } else {
            (f64::from(v[n / 2 - 1]) + f64::from(v[n / 2])) / 2.0
        };
        let ours = pit_lane_ms(&circuit).unwrap_or_else(|| panic!("{circuit} missing"));
        assert!(
            (ours - median).abs() <= 1.0,
            "{circuit}: table {ours}, Ergast {median}"
        );
    }
    assert_eq!(pit_lane_ms("zandvoort"), Some(19_923.0));
    assert_eq!(
        pit_lane_ms("singapore"),
        pit_lane_ms("marina_bay"),
        "our ids map to Ergast's"
    );
}
