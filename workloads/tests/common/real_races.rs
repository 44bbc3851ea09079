//! Every whole race under `../shared/data/f1/fastf1-telemetry/`: one directory per race
//! (`<year>-<name>-gp`, one `<DRV>.csv.gz` of FastF1 telemetry per driver, as its README
//! describes), with the circuit the strategy's pit-loss default needs, found in Ergast's
//! tables. The strategy's real-race checks run on each of them, so a race dropped in
//! beside the Dutch GP is checked without a change to the code.

use pitstop_workloads::feeds::{self, FeedOptions, Format};
use pitstop_workloads::model::Sample;
use std::path::{Path, PathBuf};

/// One race's telemetry directory.
pub struct RealRace {
    /// The directory's name: `2025-dutch-gp`.
    pub name: String,
    pub dir: PathBuf,
    /// Ergast's `circuitRef` (`zandvoort`); None when Ergast has no race of that year and
    /// name (the strategy then assumes a typical pit lane).
    pub circuit: Option<String>,
}

/// The races under `f1/fastf1-telemetry`, in name order.
pub fn all(f1: &Path) -> Vec<RealRace> {
    let Ok(entries) = std::fs::read_dir(f1.join("fastf1-telemetry")) else {
        return Vec::new();
    };
    let mut races: Vec<RealRace> = entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            RealRace {
                circuit: circuit_of(f1, &name),
                dir: e.path(),
                name,
            }
        })
        .collect();
    races.sort_by(|a, b| a.name.cmp(&b.name));
    races
}

/// `2025-dutch-gp` → the circuit of Ergast's 2025 "Dutch Grand Prix".
pub fn circuit_of(f1: &Path, name: &str) -> Option<String> {
    let (year, rest) = name.split_once('-')?;
    let slug = |s: &str| {
        s.to_lowercase()
            .chars()
            .map(unaccented)
            .collect::<String>()
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join("-")
    };
    // The directory's or table's name may carry the accent too (FastF1 names the race
    // "São Paulo Grand Prix").
    let wanted = slug(&format!(
        "{}-grand-prix",
        rest.strip_suffix("-gp").unwrap_or(rest)
    ));
    let rows = |file: &str| -> Option<Vec<csv::StringRecord>> {
        // Rows of later seasons have fewer fields than the header.
        let mut r = csv::ReaderBuilder::new()
            .flexible(true)
            .from_path(f1.join("ergast").join(file))
            .ok()?;
        Some(r.records().flatten().collect())
    };
    // races.csv: raceId, year, round, circuitId, name, …
    let circuit_id = rows("races.csv")?
        .into_iter()
        .find(|r| r.get(1) == Some(year) && r.get(4).is_some_and(|n| slug(n) == wanted))?
        .get(3)?
        .to_string();
    // circuits.csv: circuitId, circuitRef, …
    rows("circuits.csv")?
        .into_iter()
        .find(|r| r.get(0) == Some(circuit_id.as_str()))
        .and_then(|r| r.get(1).map(str::to_string))
}

/// The letter without its accent, for the race names Ergast spells with one (São Paulo).
fn unaccented(c: char) -> char {
    match c {
        'á' | 'à' | 'â' | 'ã' | 'ä' => 'a',
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'í' | 'ì' | 'î' | 'ï' => 'i',
        'ó' | 'ò' | 'ô' | 'õ' | 'ö' => 'o',
        'ú' | 'ù' | 'û' | 'ü' => 'u',
        'ç' => 'c',
        'ñ' => 'n',
        other => other,
    }
}

impl RealRace {
    /// Every driver's samples as the FastF1 feed reads them, in time order; the race clock
    /// starts at `start_ms` (only an origin: the files hold lap-relative times).
    pub fn samples(&self, session: &str, start_ms: i64) -> Vec<Sample> {
        let mut all: Vec<Sample> = csv_files(&self.dir)
            .iter()
            .flat_map(|f| parse_or_skip(f, session, start_ms))
            .collect();
        all.sort_by_key(|s| s.timestamp_ms);
        all
    }
}

/// A race directory's telemetry files (`<DRV>.csv.gz`, or `<DRV>.csv` uncompressed),
/// sorted.
pub fn csv_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.to_string_lossy();
            // A driver's `.csv` beside its `.csv.gz` is the same file unpacked.
            let packed = || std::path::PathBuf::from(format!("{name}.gz")).exists();
            name.ends_with(".csv.gz") || (name.ends_with(".csv") && !packed())
        })
        .collect();
    files.sort();
    files
}

/// One driver's file as the FastF1 feed reads it, the race clock starting at `start_ms`.
pub fn parse(file: &Path, session: &str, start_ms: i64) -> Vec<Sample> {
    let (format, body) = feeds::read_file(file).unwrap();
    assert_eq!(format, Format::FastF1, "{}", file.display());
    feeds::fastf1::parse(&body, &options(session, start_ms)).unwrap()
}

/// [`parse`] for a race directory someone dropped in: a file that is not FastF1
/// telemetry (notes, a results table) is said and skipped, not a failed test.
fn parse_or_skip(file: &Path, session: &str, start_ms: i64) -> Vec<Sample> {
    let parsed = feeds::read_file(file)
        .map_err(|e| e.to_string())
        .and_then(|(format, body)| match format {
            Format::FastF1 => {
                feeds::fastf1::parse(&body, &options(session, start_ms)).map_err(|e| e.to_string())
            }
            other => Err(format!("{other:?}, not FastF1 telemetry")),
        });
    parsed.unwrap_or_else(|e| {
        println!("SKIPPED {}: {e}", file.display());
        Vec::new()
    })
}

fn options(session: &str, start_ms: i64) -> FeedOptions {
    FeedOptions {
        session: Some(session.into()),
        start_ms: Some(start_ms),
        ..FeedOptions::default()
    }
}

/// The race's length: the most laps any car started.
pub fn laps(samples: &[Sample]) -> u16 {
    samples.iter().filter_map(|s| s.lap).max().unwrap_or(0)
}
