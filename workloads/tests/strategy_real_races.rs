//! The strategy's real-race checks on every race under
//! `../shared/data/f1/fastf1-telemetry/` besides the Dutch GP (which
//! `strategy_dutch_gp.rs` reads the same way and holds to its measured floors): drop a
//! race's directory in, laid
//! out as that directory's README describes, and this prints its rejoin and undercut
//! tables with no change to the code:
//!
//! ```sh
//! cargo test --release -p pitstop-workloads --test strategy_real_races -- --nocapture
//! ```
//!
//! Skipped with a message without the data.

mod common;

use common::{dutch, real_races, strategy};

/// The race with a test of its own.
const DUTCH: &str = "2025-dutch-gp";

#[test]
fn every_real_race_is_checked() {
    let Some(f1) = common::f1_data() else {
        return;
    };
    let races = real_races::all(&f1);
    // The race we have is found, and its circuit with it (the pit-loss default).
    if let Some(dutch) = races.iter().find(|r| r.name == DUTCH) {
        assert_eq!(dutch.circuit.as_deref(), Some("zandvoort"));
    }
    let others: Vec<_> = races.iter().filter(|r| r.name != DUTCH).collect();
    if others.is_empty() {
        println!(
            "SKIPPED: no race besides {DUTCH} in {}; add one to check the strategy on it",
            f1.join("fastf1-telemetry").display()
        );
        return;
    }
    for r in others {
        let samples = r.samples(&r.name, dutch::START_MS);
        // A directory beside the races (a cache, notes) or one of plain CSVs: said, not
        // read as a race of nothing.
        if samples.is_empty() {
            println!(
                "\nSKIPPED {}: no <DRV>.csv.gz (or .csv) telemetry with samples in it",
                r.name
            );
            continue;
        }
        let laps = real_races::laps(&samples);
        println!(
            "\n## {} ({} laps, circuit {})",
            r.name,
            laps,
            r.circuit
                .as_deref()
                .unwrap_or("unknown: a typical pit lane assumed")
        );
        let periods = strategy::neutral_periods(&samples);
        let distance = strategy::Distance::new(&samples);
        let ev = dutch::analyse(&samples);
        let mut race = strategy::race(&ev, r.circuit.as_deref().unwrap_or(""), laps);
        race.circuit = r.circuit.clone();
        race.neutral_periods = periods;
        let rejoin = strategy::rejoin_check(&race, &|c, t| distance.progress(c, t));
        strategy::undercut_check(&race, &|c, t| distance.progress(c, t));
        if rejoin.n == 0 {
            println!(
                "NOTHING TO CHECK in {}: no stop with a lap after it",
                r.name
            );
            continue;
        }
        assert!(rejoin.misses_named, "{}: a miss names no car", r.name);
    }
}

/// A directory's name finds its circuit in Ergast's tables however Ergast spells the
/// race's name; an unknown one finds none (and the strategy assumes a typical pit lane).
#[test]
fn race_directories_find_their_circuit() {
    let Some(f1) = common::f1_data() else {
        return;
    };
    if !f1.join("ergast").is_dir() {
        println!("SKIPPED: {} has no ergast/", f1.display());
        return;
    }
    let dir = std::env::temp_dir().join(format!("pitstop-races-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for name in [
        "2023-dutch-gp",
        "2024-united-states-gp",
        "2024-sao-paulo-gp",
        "2023-são-paulo-gp",
        "2024-nowhere-gp",
        "notes",
    ] {
        std::fs::create_dir_all(dir.join("fastf1-telemetry").join(name)).unwrap();
    }
    std::os::unix::fs::symlink(f1.join("ergast"), dir.join("ergast")).unwrap();
    let found: Vec<(String, Option<String>)> = real_races::all(&dir)
        .into_iter()
        .map(|r| (r.name, r.circuit))
        .collect();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        found,
        [
            ("2023-dutch-gp".into(), Some("zandvoort".into())),
            ("2023-são-paulo-gp".into(), Some("interlagos".into())),
            ("2024-nowhere-gp".into(), None),
            ("2024-sao-paulo-gp".into(), Some("interlagos".into())),
            ("2024-united-states-gp".into(), Some("americas".into())),
            ("notes".into(), None),
        ]
    );
}
