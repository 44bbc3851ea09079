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

use super::{FeedError, FeedOptions, grid, number, time};
use crate::model::Sample;
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
        .map_err(|_| format!("{name}: {v:?} is not a number"))?;
    if x.is_finite() && (lo..=hi).contains(&x) {
        Ok(x)
    } else {
        Err(format!("{name}: {v} is outside {lo}..={hi}{unit}"))
    }
}

fn whole(name: &'static str, v: &str, lo: f64, hi: f64) -> Result<i64, String> {
    let x = number_in(name, v, lo, hi, "")?;
    if x.fract() == 0.0 {
        Ok(x as i64)
    } else {
        Err(format!("{name}: {v} is not a whole number"))
    }
}

/// Parses a FastF1 CSV body.
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
        let name = name.trim();
        if let Some(known) = USED.iter().find(|u| **u == name) {
            cols.0.insert(known, i);
        } else if !IGNORED.contains(&name) {
            return Err(FeedError::Body(format!(
                "FastF1 CSV column {name:?} is not one FastF1 writes (known: {})",
                USED.join(", ")
            )));
        }
    }
    if !cols.0.contains_key("Speed") {
        return Err(FeedError::Body("FastF1 CSV has no Speed column".into()));
    }
    let timing = ["Date", "SessionTime", "Time"]
        .into_iter()
        .find(|c| cols.0.contains_key(c))
        .ok_or_else(|| {
            FeedError::Body("FastF1 CSV has no Date, SessionTime or Time column".into())
        })?;
    let start_ms = opts.start_ms.unwrap_or_else(crate::util::now_ms);
    let mut clocks: HashMap<u8, LapClock> = HashMap::new();
    let mut out = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let row_no = i + 1;
        let at = |message: String| FeedError::Row {
            row: row_no,
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
        let timestamp_ms = match timing {
            "Date" => time::date_ms(get("Date").ok_or_else(|| at("Date is empty".into()))?)
                .map_err(|e| at(format!("Date: {e}")))?,
            "SessionTime" => {
                let v = get("SessionTime").ok_or_else(|| at("SessionTime is empty".into()))?;
                start_ms + time::duration_ms(v).map_err(|e| at(format!("SessionTime: {e}")))?
            }
            _ => {
                let v = get("Time").ok_or_else(|| at("Time is empty".into()))?;
                let t = time::duration_ms(v).map_err(|e| at(format!("Time: {e}")))?;
                let clock = clocks.entry(car).or_insert(LapClock {
                    lap,
                    base_ms: start_ms,
                    last_time_ms: 0,
                });
                if lap != clock.lap {
                    // `Time` restarts at each lap: the next lap starts where the last ended.
                    clock.base_ms += clock.last_time_ms;
                    clock.lap = lap;
                }
                clock.last_time_ms = t;
                clock.base_ms + t
            }
        };
        let sample =
            row_sample(&row, &session, car, timestamp_ms, lap, driver, team).map_err(at)?;
        out.push(sample);
    }
    // One row per car and instant: the later (a lap's first row repeats the last).
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
    let code = row.get("Driver");
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
                format!(
                    "Driver {code:?} has no car number: add a DriverNumber column or a grid entry (car:{code}:team)"
                )
            }),
        (None, Some(car)) => {
            let known = grid::by_number(&opts.grid, car);
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
    let speed = get("Speed").ok_or("Speed is empty")?;
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
        assert_eq!((s[0].car, s[0].driver.as_deref()), (1, None));
    }

    /// A value wrong in every unit is a precise error; unknown columns and drivers too.
    #[test]
    fn malformed_values_are_precise() {
        let head = "Driver,LapNumber,Time,Speed,RPM,nGear,Throttle,Brake,DRS,Distance\n";
        let cases = [
            (
                "VER,1,0.5,80,7000,2,120,False,0,10",
                "row 1: Throttle: 120 is outside 0..=105 %",
            ),
            (
                "VER,1,0.5,80,7000,9,50,False,0,10",
                "row 1: nGear: 9 is outside 0..=8",
            ),
            (
                "VER,1,0.5,80,7000,2,50,maybe,0,10",
                "row 1: Brake: \"maybe\" is not a number",
            ),
            (
                "VER,1,0.5,80,7000,2,50,False,11.5,10",
                "row 1: DRS: 11.5 is not a whole number",
            ),
            (
                "VER,1,0.5,-3,7000,2,50,False,0,10",
                "row 1: Speed: -3 is outside 0..=500 km/h",
            ),
            (
                "VER,1,x,80,7000,2,50,False,0,10",
                "row 1: Time: \"x\" is not a duration (seconds, or D days HH:MM:SS.ffffff)",
            ),
            (
                "XXX,1,0.5,80,7000,2,50,False,0,10",
                "row 1: Driver \"XXX\" has no car number: add a DriverNumber column or a grid entry (car:XXX:team)",
            ),
            (
                "VER,1,0.5,80,7000,2,50,False,0,-40",
                "row 1: Distance: -40 is outside -5..=10000 m",
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
}
