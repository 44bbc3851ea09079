//! Whole real races from FastF1's lap tables (`../shared/data/f1/fastf1-laps/`,
//! `laps_<year>_<name>_grand_prix.csv`: one row per car and lap with the line crossing,
//! the pit entry and exit, the tyres and the track status), read into the strategy's
//! input as the processor would have stored them: the laps, the stops, the safety-car
//! periods a race-control feed reports, a car in the pit lane from its standstill (taken
//! mid-lane: the tables do not have it). No telemetry, so positions come from the line
//! crossings (linear within a lap), as in the HTML report.

use pitstop_workloads::analytics::strategy::{Entrant, Lap, Race, Stop};
use pitstop_workloads::model::Compound;
use std::collections::BTreeMap;
use std::path::Path;

/// When the session clock starts, so that times look like the epoch ms the processor
/// stores (the tables hold time since the session began).
const SESSION_START_MS: i64 = 1_700_000_000_000;

/// One race's lap table, read.
pub struct LapTable {
    /// `2024-italian-gp`, named as the telemetry directories are.
    pub name: String,
    pub race: Race,
}

/// Every lap table under `f1/fastf1-laps`, in name order, with its circuit from Ergast.
pub fn all(f1: &Path) -> Vec<LapTable> {
    let Ok(entries) = std::fs::read_dir(f1.join("fastf1-laps")) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    files.sort();
    files
        .iter()
        .filter_map(|path| {
            let stem = path.file_stem()?.to_str()?;
            let rest = stem.strip_prefix("laps_")?.strip_suffix("_grand_prix")?;
            let (year, name) = rest.split_once('_')?;
            let name = format!("{year}-{}-gp", name.replace('_', "-"));
            let mut race = read(path);
            race.circuit = super::real_races::circuit_of(f1, &name);
            Some(LapTable { name, race })
        })
        .collect()
}

/// `0 days 01:17:08.772000` (pandas' timedelta) → ms; None when empty.
pub fn ms(s: &str) -> Option<i64> {
    let hms = s.trim().rsplit(' ').next().filter(|t| !t.is_empty())?;
    let mut parts = hms.split(':').map(|p| p.parse::<f64>().ok());
    let (h, m, sec) = (parts.next()??, parts.next()??, parts.next()??);
    let days: i64 = s.split(' ').next()?.parse().unwrap_or(0);
    Some(days * 86_400_000 + ((h * 3600.0 + m * 60.0 + sec) * 1000.0).round() as i64)
}

/// One row of the table, as the reader needs it.
struct Row {
    car: u8,
    driver: String,
    team: String,
    lap: u16,
    /// The line crossing and the lap's start; FastF1 leaves either empty at times (a
    /// lap 1, laps around a red flag): [`fill_times`] takes them from the laps around.
    crossed_ms: Option<i64>,
    start_ms: Option<i64>,
    lap_time_ms: Option<i64>,
    pit_in_ms: Option<i64>,
    pit_out_ms: Option<i64>,
    compound: Option<Compound>,
    tyre_age: Option<u16>,
    /// FastF1's stint number, which a tyre change moves on and a drive-through does not.
    stint: Option<u16>,
    /// Safety car (4), red flag (5) or virtual safety car (6, 7) seen during the lap.
    neutral: bool,
}

fn rows(path: &Path) -> Vec<Row> {
    let mut reader = csv::Reader::from_path(path).expect("a FastF1 lap table");
    let header = reader.headers().expect("its header").clone();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("{}: no column {name}", path.display()))
    };
    let c = [
        "DriverNumber",
        "Driver",
        "Team",
        "LapNumber",
        "Time",
        "LapStartTime",
        "LapTime",
        "PitInTime",
        "PitOutTime",
        "Compound",
        "TyreLife",
        "TrackStatus",
    ]
    .map(col);
    let stint = header.iter().position(|h| h == "Stint");
    let number = |s: &str| s.parse::<f64>().ok();
    reader
        .records()
        .flatten()
        .filter_map(|r| {
            Some(Row {
                car: number(&r[c[0]])? as u8,
                driver: r[c[1]].to_string(),
                team: r[c[2]].to_string(),
                lap: number(&r[c[3]])? as u16,
                crossed_ms: ms(&r[c[4]]),
                start_ms: ms(&r[c[5]]),
                lap_time_ms: ms(&r[c[6]]),
                pit_in_ms: ms(&r[c[7]]),
                pit_out_ms: ms(&r[c[8]]),
                compound: Compound::parse(&r[c[9]]).ok().flatten(),
                tyre_age: number(&r[c[10]]).map(|a| a as u16),
                stint: stint.and_then(|i| number(r.get(i)?)).map(|n| n as u16),
                neutral: r[c[11]].contains(['4', '5', '6', '7']),
            })
        })
        .collect()
}

/// A row's missing crossing or start from its own lap time or the car's laps either
/// side (`laps` in lap order): the crossing is the next lap's start, the start the lap
/// before's crossing. A row still without both keeps its pit entry and exit but is no lap.
fn fill_times(laps: &mut [Row]) {
    for i in 0..laps.len() {
        let next = laps
            .get(i + 1)
            .filter(|n| n.lap == laps[i].lap + 1)
            .and_then(|n| n.start_ms);
        let before = i
            .checked_sub(1)
            .map(|j| &laps[j])
            .filter(|b| b.lap + 1 == laps[i].lap)
            .and_then(|b| b.crossed_ms);
        let r = &mut laps[i];
        let by_time = |t: Option<i64>, sign: i64| Some(t? + sign * r.lap_time_ms?);
        r.start_ms = r.start_ms.or(before);
        r.crossed_ms = r.crossed_ms.or(by_time(r.start_ms, 1)).or(next);
        r.start_ms = r.start_ms.or(by_time(r.crossed_ms, -1));
    }
}

/// Whether a pit visit from row `r` to `next` (the out-lap) changed tyres: FastF1's stint
/// number moves on at a tyre change; without it, another compound, or tyres that do not
/// go on ageing.
fn changed_tyres(r: &Row, next: &Row) -> bool {
    match (r.stint, next.stint) {
        (Some(a), Some(b)) => a != b,
        _ => {
            let other = matches!((r.compound, next.compound), (Some(a), Some(b)) if a != b);
            other || !matches!((r.tyre_age, next.tyre_age), (Some(a), Some(b)) if b > a)
        }
    }
}

/// The race in one lap table: each car's laps, its stops (pit entry in the in-lap's
/// row, exit in the next lap's) and drive-throughs (no tyre change), its names, the
/// neutralised periods.
pub fn read(path: &Path) -> Race {
    let mut by_car: BTreeMap<u8, Vec<Row>> = BTreeMap::new();
    for r in rows(path) {
        by_car.entry(r.car).or_default().push(r);
    }
    for laps in by_car.values_mut() {
        laps.sort_by_key(|r| r.lap);
        // A row written twice is one lap.
        laps.dedup_by_key(|r| r.lap);
        fill_times(laps);
    }
    let by_car: BTreeMap<u8, Vec<&Row>> = by_car
        .iter()
        .map(|(car, laps)| (*car, laps.iter().collect()))
        .collect();
    let rows: Vec<&Row> = by_car.values().flatten().copied().collect();
    let mut race = Race {
        total_laps: rows.iter().map(|r| r.lap).max(),
        ..Race::default()
    };
    for (&car, laps) in &by_car {
        race.entrants.push(Entrant {
            car,
            driver: laps[0].driver.clone(),
            team: laps[0].team.clone(),
        });
        for (i, r) in laps.iter().enumerate() {
            if let (Some(crossed), Some(start)) = (r.crossed_ms, r.start_ms) {
                race.laps.push(Lap {
                    car,
                    lap: r.lap,
                    lap_time_ms: r.lap_time_ms.unwrap_or(crossed - start),
                    crossed_at_ms: SESSION_START_MS + crossed,
                    compound: r.compound,
                    tyre_age: r.tyre_age,
                    // As the processor stores a lap: neutralisation is in the periods.
                    neutralised: false,
                });
            }
            // The exit is in the out-lap's row: the next lap's, not merely the next row.
            let Some(next) = laps.get(i + 1).filter(|next| next.lap == r.lap + 1) else {
                continue;
            };
            let (Some(entry), Some(exit)) = (r.pit_in_ms, next.pit_out_ms) else {
                continue;
            };
            if exit <= entry {
                println!(
                    "{}: car {car} lap {}: pit exit not after its entry, left out",
                    path.display(),
                    r.lap
                );
                continue;
            }
            let visit = Stop {
                car,
                lap: Some(r.lap),
                entry_ms: SESSION_START_MS + entry,
                pit_lane_ms: exit - entry,
                stationary_start_ms: Some(SESSION_START_MS + standstill(entry, exit)),
            };
            if changed_tyres(r, next) {
                race.stops.push(visit);
            } else {
                race.drive_throughs.push(Stop {
                    stationary_start_ms: None,
                    ..visit
                });
            }
        }
    }
    race.neutral_periods = neutral_periods(&by_car);
    race
}

/// When a stop's car stood in its box, from which on the processor knows it is in the
/// pit lane: the tables have no standstill, so it is taken halfway down the lane less
/// half a typical 2.5 s tyre change (8 s into a 19 s lane at Zandvoort, as measured).
fn standstill(entry_ms: i64, exit_ms: i64) -> i64 {
    entry_ms + (exit_ms - entry_ms - 2_500).max(0) / 2
}

/// The periods in which every car on track was in a lap whose track status saw a
/// neutralisation: a status is per lap, so a period begins at the latest start of a
/// first neutralised lap and ends at the earliest end of a last one (the tightest bounds
/// the laps give of what a race-control feed would have reported).
fn neutral_periods(by_car: &BTreeMap<u8, Vec<&Row>>) -> Vec<(i64, i64)> {
    let mut bounds: Vec<i64> = by_car
        .values()
        .flatten()
        .flat_map(|r| [r.start_ms, r.crossed_ms])
        .flatten()
        .collect();
    bounds.sort_unstable();
    bounds.dedup();
    let neutral_at = |t: i64| {
        let current: Vec<bool> = by_car
            .values()
            .filter_map(|laps| {
                laps.iter().find(
                    |r| matches!((r.start_ms, r.crossed_ms), (Some(s), Some(c)) if s <= t && t < c),
                )
            })
            .map(|r| r.neutral)
            .collect();
        !current.is_empty() && current.iter().all(|n| *n)
    };
    let mut periods: Vec<(i64, i64)> = Vec::new();
    for w in bounds.windows(2) {
        if !neutral_at((w[0] + w[1]) / 2) {
            continue;
        }
        let (start, end) = (SESSION_START_MS + w[0], SESSION_START_MS + w[1]);
        match periods.last_mut() {
            Some(p) if p.1 == start => p.1 = end,
            _ => periods.push((start, end)),
        }
    }
    periods
}
