//! FastF1 telemetry CSV, as `Lap.get_telemetry().to_csv()` or a concatenation of laps
//! with `Driver` and `LapNumber` writes it.
//!
//! | column | becomes |
//! |---|---|
//! | `Date` (UTC), else `SessionTime`, else `Time` | `timestamp_ms`: `Date` as is; `SessionTime` from the session start; `Time` (per lap) from the session start plus the earlier laps of the same driver in the body |
//! | `Speed` km/h | `speed_kph` (required) |
//! | `RPM` (interpolated, fractional) | `rpm`, rounded |
//! | `nGear` | `gear` |
//! | `Throttle` 0–100 % | `throttle` 0–1 (live timing reports up to 104 % at full throttle: read as 1) |
//! | `Brake` `True`/`False` | `brake` 1/0 |
//! | `DRS` code (0/1 off, 8 eligible, 10/12/14 open) | `drs` open/closed |
//! | `Distance` m since the line (a hair below 0 at the start) | `lap_distance_m` |
//! | `X`, `Y`, `Z` (1/10 m) | `x`, `y`, `z` in metres |
//! | `Driver` code, `DriverNumber` | `driver`, `car` (the number from the grid when absent), `team` from the grid |
//! | `LapNumber` | `lap` |
//!
//! FastF1's other columns (`Status`, `Source`, `DriverAhead`, …) are read and ignored; a
//! column FastF1 does not write is refused (a typo). Rows of one car at the same instant
//! (the end of a lap repeated as the start of the next) are kept once, the later row.

use super::options::{FeedError, FeedOptions};
use super::seq::number;
use super::{grid, time};
use crate::model::{Sample, validate};
use compact_str::CompactString;
use std::collections::HashMap;

/// Columns FastF1 writes that carry nothing we use.
const IGNORED: &[&str] = &[
    "",
    "Unnamed: 0",
    "Status",
    "Source",
    "DriverAhead",
    "DistanceToDriverAhead",
    "RelativeDistance",
    "DifferentialDistance",
    "Team",
];
const USED: &[&str] = &[
    "Date",
    "SessionTime",
    "Time",
    "LapNumber",
    "Driver",
    "DriverNumber",
    "Speed",
    "RPM",
    "nGear",
    "Throttle",
    "Brake",
    "DRS",
    "Distance",
    "X",
    "Y",
    "Z",
];

/// Position of each used column in the header.
#[derive(Default)]
struct Columns(HashMap<&'static str, usize>);

/// One data row, read by column name; empty and `NaN` cells are absent.
struct Row<'a> {
    cols: &'a Columns,
    record: &'a csv::StringRecord,
}

impl<'a> Row<'a> {
    fn get(&self, name: &str) -> Option<&'a str> {
        let i = *self.cols.0.get(name)?;
        self.record
            .get(i)
            .map(str::trim)
            .filter(|v| !v.is_empty() && *v != "NaN" && *v != "nan")
    }
}

/// Per driver: the lap being read and where its `Time` starts.
struct LapClock {
    lap: Option<u16>,
    base_ms: i64,
    last_time_ms: i64,
}

fn number_in(name: &'static str, v: &str, lo: f64, hi: f64, unit: &str) -> Result<f64, String> {
    let x: f64 = v
        .parse()
        .map_err(|_| format!("{name}: {:?} is not a number", shown(v)))?;
    if x.is_finite() && (lo..=hi).contains(&x) {
        // + 0.0 turns a written `-0` into 0.
        Ok(x + 0.0)
    } else {
        Err(format!("{name}: {} is outside {lo}..={hi}{unit}", shown(v)))
    }
}

fn whole(name: &'static str, v: &str, lo: f64, hi: f64) -> Result<i64, String> {
    let x = number_in(name, v, lo, hi, "")?;
    if x.fract() == 0.0 {
        Ok(x as i64)
    } else {
        Err(format!("{name}: {} is not a whole number", shown(v)))
    }
}

/// Longest duration a `Time` or `SessionTime` may hold: a day.
const MAX_DURATION_MS: i64 = 86_400_000;

/// A value as an error shows it: at most 40 characters.
pub(crate) fn shown(v: &str) -> String {
    match v.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &v[..i]),
        None => v.to_owned(),
    }
}

/// What was last read for one driver, to keep rows in order.
struct Last {
    lap: Option<u16>,
    timestamp_ms: i64,
    row: usize,
}

/// Parses a FastF1 CSV body.
///
/// Per driver, rows must run forward: lap numbers never go back, and time never goes
/// back; two rows at one instant are allowed only where a lap ends and the next begins
/// (FastF1 repeats the boundary), and the later is kept.
pub fn parse(body: &[u8], opts: &FeedOptions) -> Result<Vec<Sample>, FeedError> {
    let session: CompactString = opts
        .session
        .as_deref()
        .ok_or_else(|| {
            FeedError::Body(
                "FastF1 telemetry names no session: pass one (?session= on POST /telemetry, --session to replay)".into(),
            )
        })?
        .into();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(body);
    let header = reader
        .headers()
        .map_err(|e| FeedError::Body(format!("FastF1 CSV header: {e}")))?
        .clone();
    let mut cols = Columns::default();
    for (i, name) in header.iter().enumerate() {
        let name = name.trim().trim_start_matches('\u{feff}');
        if let Some(known) = USED.iter().find(|u| **u == name) {
            if cols.0.insert(known, i).is_some() {
                return Err(FeedError::Body(format!(
                    "FastF1 CSV column {name:?} appears twice"
                )));
            }
        } else if !IGNORED.contains(&name) {
            return Err(FeedError::Body(format!(
                "FastF1 CSV column {:?} is not one FastF1 writes (known: {})",
                shown(name),
                USED.join(", ")
            )));
        }
    }
    if !cols.0.contains_key("Speed") {
        return Err(FeedError::Body("FastF1 CSV has no Speed column".into()));
    }
    if opts.car.is_some() && cols.0.contains_key("Driver") {
        return Err(FeedError::Body(
            "a car (?car=, --car) is for a FastF1 CSV without a Driver column; this one names its drivers".into(),
        ));
    }
    let timing = ["Date", "SessionTime", "Time"]
        .into_iter()
        .find(|c| cols.0.contains_key(c))
        .ok_or_else(|| {
            FeedError::Body("FastF1 CSV has no Date, SessionTime or Time column".into())
        })?;
    let start_ms = opts.start_ms.unwrap_or_else(crate::util::now_ms);
    let mut clocks: HashMap<u8, LapClock> = HashMap::new();
    let mut last: HashMap<u8, Last> = HashMap::new();
    let mut out = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let row_no = i + 1;
        // The file's line: the header is line 1 (a quoted field may span lines).
        let line = row
            .as_ref()
            .ok()
            .and_then(|r| r.position())
            .map_or(row_no as u64 + 1, |p| p.line());
        let at = |message: String| FeedError::Row {
            row: row_no,
            line,
            message,
        };
        let record = row.map_err(|e| at(format!("unreadable CSV: {e}")))?;
        let row = Row {
            cols: &cols,
            record: &record,
        };
        let get = |name| row.get(name);
        let (car, driver, team) = identity(&row, opts).map_err(at)?;
        let lap = get("LapNumber")
            .map(|v| whole("LapNumber", v, 1.0, 200.0).map(|l| l as u16))
            .transpose()
            .map_err(at)?;
        let duration = |name: &'static str| -> Result<i64, FeedError> {
            let v = get(name).ok_or_else(|| at(format!("{name} is empty")))?;
            let t = time::duration_ms(v).map_err(|e| at(format!("{name}: {e}")))?;
            if (-1_000..=MAX_DURATION_MS).contains(&t) {
                Ok(t)
            } else {
                Err(at(format!("{name}: {} is outside 0..=86400 s", shown(v))))
            }
        };
        let timestamp_ms = match timing {
            "Date" => time::date_ms(get("Date").ok_or_else(|| at("Date is empty".into()))?)
                .map_err(|e| at(format!("Date: {e}")))?,
            "SessionTime" => start_ms.saturating_add(duration("SessionTime")?),
            _ => {
                let t = duration("Time")?;
                let clock = clocks.entry(car).or_insert(LapClock {
                    lap,
                    base_ms: start_ms,
                    last_time_ms: 0,
                });
                if lap != clock.lap {
                    // `Time` restarts at each lap: the next lap starts where the last ended.
                    clock.base_ms = clock.base_ms.saturating_add(clock.last_time_ms);
                    clock.lap = lap;
                }
                clock.last_time_ms = t;
                clock.base_ms.saturating_add(t)
            }
        };
        if let Some(prev) = last.get(&car) {
            if let (Some(l), Some(p)) = (lap, prev.lap)
                && l < p
            {
                return Err(at(format!(
                    "LapNumber {l} goes back from {p} (row {})",
                    prev.row
                )));
            }
            let new_lap = lap != prev.lap;
            if timestamp_ms < prev.timestamp_ms || (timestamp_ms == prev.timestamp_ms && !new_lap) {
                return Err(at(if timestamp_ms == prev.timestamp_ms {
                    format!(
                        "at the same time as row {} of the same driver and lap",
                        prev.row
                    )
                } else {
                    format!("earlier than row {} of the same driver", prev.row)
                }));
            }
        }
        last.insert(
            car,
            Last {
                lap,
                timestamp_ms,
                row: row_no,
            },
        );
        let sample =
            row_sample(&row, &session, car, timestamp_ms, lap, driver, team).map_err(at)?;
        validate(&sample).map_err(|e| at(e.to_string()))?;
        out.push(sample);
    }
    // One row per car and instant: where a lap's first row repeats the last, the later.
    out.sort_by_key(|s| (s.car, s.timestamp_ms));
    let mut kept: Vec<Sample> = Vec::with_capacity(out.len());
    for s in out {
        match kept.last_mut() {
            Some(last) if last.car == s.car && last.timestamp_ms == s.timestamp_ms => *last = s,
            _ => kept.push(s),
        }
    }
    number(&mut kept);
    Ok(kept)
}

type Identity = (u8, Option<CompactString>, Option<CompactString>);

fn identity(row: &Row<'_>, opts: &FeedOptions) -> Result<Identity, String> {
    let has_driver_column = row.cols.0.contains_key("Driver");
    let code = row.get("Driver").map(str::to_ascii_uppercase);
    if has_driver_column && code.is_none() {
        return Err("Driver is empty".into());
    }
    let code = code.as_deref();
    let number = row
        .get("DriverNumber")
        .map(|v| whole("DriverNumber", v, 1.0, 99.0).map(|n| n as u8))
        .transpose()?;
    match (code, number.or(opts.car)) {
        (Some(code), Some(car)) => {
            let team = grid::by_code(&opts.grid, code).map(|e| e.team);
            Ok((car, Some(code.into()), team))
        }
        (Some(code), None) => grid::by_code(&opts.grid, code)
            .map(|e| (e.car, Some(e.driver), Some(e.team)))
            .ok_or_else(|| {
                let code = shown(code);
                format!(
                    "Driver {code:?} has no car number: add a DriverNumber column or a grid entry (car:{code}:team)"
                )
            }),
        (None, Some(car)) => {
            let known = grid::by_number_or_2025(&opts.grid, car);
            Ok((car, known.as_ref().map(|e| e.driver.clone()), known.map(|e| e.team)))
        }
        (None, None) => Err("no Driver or DriverNumber column, and no car given (?car=, --car)".into()),
    }
}

fn row_sample(
    row: &Row<'_>,
    session: &CompactString,
    car: u8,
    timestamp_ms: i64,
    lap: Option<u16>,
    driver: Option<CompactString>,
    team: Option<CompactString>,
) -> Result<Sample, String> {
    let get = |name| row.get(name);
    let speed = get("Speed").ok_or("Speed is empty or NaN")?;
    let opt = |name: &'static str, lo: f64, hi: f64, unit: &str| -> Result<Option<f64>, String> {
        get(name)
            .map(|v| number_in(name, v, lo, hi, unit))
            .transpose()
    };
    let brake = get("Brake")
        .map(|v| match v {
            "True" | "true" | "1" | "1.0" => Ok(1.0),
            "False" | "false" | "0" | "0.0" => Ok(0.0),
            other => number_in("Brake", other, 0.0, 1.0, "").map(|b| b as f32),
        })
        .transpose()?;
    let drs = get("DRS")
        .map(|v| whole("DRS", v, 0.0, 14.0).map(|code| code >= 10))
        .transpose()?;
    let metres = |name: &'static str| -> Result<Option<f32>, String> {
        Ok(opt(name, -1e6, 1e6, "")?.map(|d| (d / 10.0) as f32))
    };
    Ok(Sample {
        session: session.clone(),
        car,
        timestamp_ms,
        speed_kph: number_in("Speed", speed, 0.0, 500.0, " km/h")? as f32,
        seq: 0,
        driver,
        team,
        lap,
        lap_distance_m: opt("Distance", -5.0, 10_000.0, " m")?.map(|d| d.max(0.0) as f32),
        rpm: opt("RPM", 0.0, 25_000.0, "")?.map(|r| r.round() as u16),
        gear: get("nGear")
            .map(|v| whole("nGear", v, 0.0, 8.0).map(|g| g as i8))
            .transpose()?,
        throttle: opt("Throttle", 0.0, 105.0, " %")?.map(|t| (t.min(100.0) / 100.0) as f32),
        brake,
        drs,
        x: metres("X")?,
        y: metres("Y")?,
        z: metres("Z")?,
        ..Sample::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> FeedOptions {
        FeedOptions {
            session: Some("zandvoort".into()),
            start_ms: Some(1_756_645_200_000),
            ..FeedOptions::default()
        }
    }

    /// Real rows of a 2025 Dutch GP trace (end of lap 23, start of lap 24, as the shared
    /// data has them): units converted, laps chained, the repeated boundary row kept once.
    #[test]
    fn real_rows_convert() {
        let csv = "Driver,LapNumber,Time,Speed,RPM,nGear,Throttle,Brake,DRS,Distance,X,Y,Z
VER,23,90.900,80.0,7127,2,36.0,False,0,4209.28,497,3433,531
VER,23,90.929,80.0,7097,2,36.0,False,0,4209.93,499,3438,531
VER,24,0.000,80.0,7097,2,36.0,False,0,-0.00,490,3413,531
VER,24,0.171,80.0,6922.4,2,104.0,True,12,3.80,500,3443,531
";
        let s = parse(csv.as_bytes(), &opts()).unwrap();
        assert_eq!(s.len(), 3, "the lap boundary appears once");
        let (a, b, c) = (&s[0], &s[1], &s[2]);
        assert_eq!(
            (a.car, a.driver.as_deref(), a.team.as_deref()),
            (1, Some("VER"), Some("Red Bull Racing"))
        );
        assert_eq!(b.timestamp_ms, 1_756_645_200_000 + 90_929);
        assert_eq!(
            (b.lap, b.lap_distance_m),
            (Some(24), Some(0.0)),
            "the later row of the instant"
        );
        assert_eq!(c.timestamp_ms, b.timestamp_ms + 171);
        assert_eq!(
            (c.rpm, c.gear, c.throttle, c.brake, c.drs),
            (Some(6922), Some(2), Some(1.0), Some(1.0), Some(true))
        );
        assert_eq!((c.x, c.y, c.z), (Some(50.0), Some(344.3), Some(53.1)));
        assert_eq!(
            (a.throttle, a.brake, a.drs),
            (Some(0.36), Some(0.0), Some(false))
        );
        assert_eq!(s.iter().map(|x| x.seq).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(
            (a.engine_temp_c, a.tyre_pressure_psi, a.pit_status),
            (None, None, None)
        );
    }

    /// Driver codes in any case are one driver; a byte-order mark before the header is
    /// not part of the first column's name; rows of two drivers may interleave.
    #[test]
    fn codes_bom_and_interleaving() {
        let csv = "\u{feff}Driver,LapNumber,Time,Speed\nver,1,0.1,80\nNOR,1,0.1,90\nVER,1,0.2,81\nnor,1,0.2,91\n";
        let s = parse(csv.as_bytes(), &opts()).unwrap();
        assert_eq!(s.len(), 4);
        assert!(
            s.iter()
                .all(|x| matches!(x.driver.as_deref(), Some("VER") | Some("NOR")))
        );
        assert_eq!(s.iter().filter(|x| x.car == 4).count(), 2);
    }

    /// A real `to_csv()` export: pandas index, `Date`, timedeltas, FastF1's other columns.
    #[test]
    fn to_csv_export() {
        let csv = ",Date,SessionTime,DriverAhead,DistanceToDriverAhead,Time,RPM,Speed,nGear,Throttle,Brake,DRS,Source,Distance,RelativeDistance,Status,X,Y,Z
0,2024-05-05 20:03:23.810,0 days 00:55:43.042000,,,0 days 00:00:00.014000,10082.0,0.0,1,15.0,True,1,car,0.0,0.0,OnTrack,-1000,2000,30
1,2024-05-05 20:03:24.170,0 days 00:55:43.402000,44,12.5,0 days 00:00:00.374000,10221.0,10.0,1,16.0,False,1,car,1.5,0.0003,OnTrack,-1010,2004,30
";
        let o = FeedOptions {
            car: Some(1),
            ..opts()
        };
        let s = parse(csv.as_bytes(), &o).unwrap();
        assert_eq!(s[0].timestamp_ms, 1_714_939_403_810);
        assert_eq!(s[1].timestamp_ms - s[0].timestamp_ms, 360);
        assert_eq!(
            (s[0].car, s[0].driver.as_deref()),
            (1, Some("VER")),
            "the 2025 grid names car 1"
        );
    }

    /// A value wrong in every unit is a precise error; unknown columns and drivers too.
    #[test]
    fn malformed_values_are_precise() {
        let head = "Driver,LapNumber,Time,Speed,RPM,nGear,Throttle,Brake,DRS,Distance\n";
        let cases = [
            (
                "VER,1,0.5,80,7000,2,120,False,0,10",
                "row 1 (line 2): Throttle: 120 is outside 0..=105 %",
            ),
            (
                "VER,1,0.5,80,7000,9,50,False,0,10",
                "row 1 (line 2): nGear: 9 is outside 0..=8",
            ),
            (
                "VER,1,0.5,80,7000,2,50,maybe,0,10",
                "row 1 (line 2): Brake: \"maybe\" is not a number",
            ),
            (
                "VER,1,0.5,80,7000,2,50,False,11.5,10",
                "row 1 (line 2): DRS: 11.5 is not a whole number",
            ),
            (
                "VER,1,0.5,-3,7000,2,50,False,0,10",
                "row 1 (line 2): Speed: -3 is outside 0..=500 km/h",
            ),
            (
                "VER,1,x,80,7000,2,50,False,0,10",
                "row 1 (line 2): Time: \"x\" is not a duration (seconds, or D days HH:MM:SS.ffffff)",
            ),
            (
                "XXX,1,0.5,80,7000,2,50,False,0,10",
                "row 1 (line 2): Driver \"XXX\" has no car number: add a DriverNumber column or a grid entry (car:XXX:team)",
            ),
            (
                "VER,1,0.5,80,7000,2,50,False,0,-40",
                "row 1 (line 2): Distance: -40 is outside -5..=10000 m",
            ),
        ];
        for (row, want) in cases {
            let err = parse(format!("{head}{row}\n").as_bytes(), &opts()).unwrap_err();
            assert_eq!(err.to_string(), want);
        }
        let err = parse(b"Time,Sped\n0.1,80\n", &opts())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("column \"Sped\" is not one FastF1 writes"),
            "{err}"
        );
        let err = parse(b"Time,Speed\n0.1,80\n", &FeedOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("names no session"), "{err}");
    }

    /// Rows that would make a car go back in time or lap, and headers that cannot be
    /// read one way, are refused with the row they clash with.
    #[test]
    fn order_and_header_rules() {
        let cases: [(&str, &str, FeedOptions); 5] = [
            (
                "Driver,LapNumber,Time,Speed\nVER,2,0.1,80\nVER,1,0.2,80\n",
                "row 2 (line 3): LapNumber 1 goes back from 2 (row 1)",
                opts(),
            ),
            (
                "Driver,LapNumber,Time,Speed\nVER,1,0.2,80\nVER,1,0.1,80\n",
                "row 2 (line 3): earlier than row 1 of the same driver",
                opts(),
            ),
            (
                "Driver,LapNumber,Time,Speed\nVER,1,0.2,80\nVER,1,0.2,81\n",
                "row 2 (line 3): at the same time as row 1 of the same driver and lap",
                opts(),
            ),
            (
                "Time,Speed,Speed\n0.1,80,80\n",
                "FastF1 CSV column \"Speed\" appears twice",
                opts(),
            ),
            (
                "Driver,Time,Speed\nVER,0.1,80\n",
                "a car (?car=, --car) is for a FastF1 CSV without a Driver column; this one names its drivers",
                FeedOptions {
                    car: Some(1),
                    ..opts()
                },
            ),
        ];
        for (csv, want, o) in cases {
            let err = parse(csv.as_bytes(), &o).unwrap_err();
            assert_eq!(err.to_string(), want, "{csv}");
        }
        // The lap boundary repeats the instant (FastF1 writes the line crossing in both
        // laps): one sample for it, the later lap's row.
        let s = parse(
            b"Driver,LapNumber,SessionTime,Speed\nVER,1,10.0,200\nVER,2,10.0,201\nVER,2,10.3,202\n",
            &opts(),
        )
        .unwrap();
        let got: Vec<_> = s.iter().map(|x| (x.lap, x.speed_kph)).collect();
        assert_eq!(got, [(Some(2), 201.0), (Some(2), 202.0)]);
    }
}
