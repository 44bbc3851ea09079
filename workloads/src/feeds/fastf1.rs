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

use super::dirt::{Dirt, Origin, Reject};
use super::options::{FeedError, FeedOptions};
use super::seq::number;
use super::{grid, time};
use crate::model::{Channel, Sample, clean};
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

/// Parses a FastF1 CSV body, all or nothing: the first problem is the error.
pub fn parse(body: &[u8], opts: &FeedOptions) -> Result<Vec<Sample>, FeedError> {
    let mut dirt = Dirt::default();
    let rows = parse_lenient(body, opts, &mut dirt)?;
    if let Some(e) = dirt.into_error() {
        return Err(e);
    }
    let mut samples: Vec<Sample> = rows.into_iter().map(|(_, s)| s).collect();
    number(&mut samples);
    Ok(samples)
}

/// Parses a FastF1 CSV body under the dirty-data policy: a row whose time, speed or
/// driver is unusable, that cannot be read, or that goes back in lap or time within its
/// driver's rows is rejected alone; an impossible value of another column is unknown.
/// The rows taken come with their origin, in time order per car, not numbered. The
/// header (and a missing session) are the body's errors.
///
/// Per driver, rows must run forward: lap numbers never go back, and time never goes
/// back; two rows at one instant are allowed only where a lap ends and the next begins
/// (FastF1 repeats the boundary), and the later is kept.
pub fn parse_lenient(
    body: &[u8],
    opts: &FeedOptions,
    dirt: &mut Dirt,
) -> Result<Vec<(Origin, Sample)>, FeedError> {
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
    let cols = columns(&mut reader, opts)?;
    let timing = ["Date", "SessionTime", "Time"]
        .into_iter()
        .find(|c| cols.0.contains_key(c))
        .ok_or_else(|| {
            FeedError::Body("FastF1 CSV has no Date, SessionTime or Time column".into())
        })?;
    let mut rows = Rows {
        opts,
        session,
        timing,
        start_ms: match (timing, opts.start_ms) {
            ("Date", _) => 0,
            (_, Some(start)) => start,
            // "Now" would be another time for each resend, which ingest would then take
            // again as new samples.
            (_, None) => {
                return Err(FeedError::Body(format!(
                    "FastF1 {timing} is relative: give the time it counts from (?start= on POST /telemetry, --start to replay), so that a resend lands at the same times"
                )));
            }
        },
        clocks: HashMap::new(),
        last: HashMap::new(),
    };
    let mut out = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let row_no = i + 1;
        let at = Origin::Row {
            row: row_no,
            line: line_of(body, row.as_ref().ok(), row_no),
        };
        let record = match row {
            Ok(r) => r,
            Err(e) => {
                dirt.reject(at, Reject::Malformed, format!("unreadable CSV: {e}"));
                continue;
            }
        };
        let row = Row {
            cols: &cols,
            record: &record,
        };
        match rows.sample(&row, at, dirt) {
            Ok(s) => out.push((at, s)),
            Err((why, message)) => dirt.reject(at, why, message),
        }
    }
    // One row per car and instant: where a lap's first row repeats the last, the later.
    out.sort_by_key(|(_, s)| (s.car, s.timestamp_ms));
    let mut kept: Vec<(Origin, Sample)> = Vec::with_capacity(out.len());
    for (at, s) in out {
        match kept.last_mut() {
            Some((_, last)) if last.car == s.car && last.timestamp_ms == s.timestamp_ms => {
                *kept.last_mut().expect("matched") = (at, s)
            }
            _ => kept.push((at, s)),
        }
    }
    Ok(kept)
}

/// The file's line of a data row: the header is line 1, and a quoted field may span
/// lines. The reader's position counts the line a record starts on from 1, but after a
/// CRLF it starts at the `\n` of the line before (the `\r` ended the record): one short.
fn line_of(body: &[u8], record: Option<&csv::StringRecord>, row_no: usize) -> u64 {
    record
        .and_then(|r| r.position())
        .map_or(row_no as u64 + 1, |p| {
            p.line() + (body.get(p.byte() as usize) == Some(&b'\n')) as u64
        })
}

/// Reads the header: every column known, used ones at most once, Speed present.
fn columns(reader: &mut csv::Reader<&[u8]>, opts: &FeedOptions) -> Result<Columns, FeedError> {
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
    Ok(cols)
}

/// What reading rows in order keeps: each driver's lap clock and last row taken.
struct Rows<'o> {
    opts: &'o FeedOptions,
    session: CompactString,
    timing: &'static str,
    start_ms: i64,
    clocks: HashMap<u8, LapClock>,
    last: HashMap<u8, Last>,
}

/// Why a row is rejected.
type Rejected = (Reject, String);

impl Rows<'_> {
    /// One row as a sample, or why it is rejected.
    fn sample(&mut self, row: &Row<'_>, at: Origin, dirt: &mut Dirt) -> Result<Sample, Rejected> {
        let required = |m: String| (Reject::Required, m);
        let (car, driver, team) = identity(row, self.opts).map_err(required)?;
        // The sample's lap: unknown when the value is impossible. The row's lap for
        // timing and order is then inferred (see `time`).
        let known = dirt.keep(
            at,
            Channel::Lap,
            row.get("LapNumber")
                .map(|v| whole("LapNumber", v, 1.0, 200.0).map(|l| l as u16))
                .transpose(),
        );
        let (timestamp_ms, lap) = self.time(row, car, known).map_err(required)?;
        let Origin::Row { row: row_no, .. } = at else {
            unreachable!("CSV rows are rows")
        };
        self.in_order(car, lap, timestamp_ms)
            .map_err(|m| (Reject::Conflict, m))?;
        let mut sample = row_sample(
            row,
            &self.session,
            car,
            timestamp_ms,
            known,
            driver,
            team,
            at,
            dirt,
        )
        .map_err(required)?;
        clean(&mut sample, |c, e| dirt.invalid(at, c, &e)).map_err(|e| required(e.to_string()))?;
        self.last.insert(
            car,
            Last {
                lap,
                timestamp_ms,
                row: row_no,
            },
        );
        Ok(sample)
    }

    /// The row's time, ms since the epoch, from the file's timing column, and its lap:
    /// the one it gives, or where that is unknown (an impossible value) the lap it is in
    /// — the driver's last, or the next when its per-lap `Time` has started again.
    fn time(
        &mut self,
        row: &Row<'_>,
        car: u8,
        known: Option<u16>,
    ) -> Result<(i64, Option<u16>), String> {
        let duration = |name: &'static str| -> Result<i64, String> {
            let v = row.get(name).ok_or_else(|| format!("{name} is empty"))?;
            let t = time::duration_ms(v).map_err(|e| format!("{name}: {e}"))?;
            if (-1_000..=MAX_DURATION_MS).contains(&t) {
                Ok(t)
            } else {
                Err(format!("{name}: {} is outside 0..=86400 s", shown(v)))
            }
        };
        let last_lap = || self.last.get(&car).and_then(|l| l.lap);
        Ok(match self.timing {
            "Date" => (
                time::date_ms(row.get("Date").ok_or("Date is empty")?)
                    .map_err(|e| format!("Date: {e}"))?,
                known.or_else(last_lap),
            ),
            "SessionTime" => (
                self.start_ms.saturating_add(duration("SessionTime")?),
                known.or_else(last_lap),
            ),
            _ => {
                let t = duration("Time")?;
                let lap_column = row.cols.0.contains_key("LapNumber");
                let clock = self.clocks.entry(car).or_insert(LapClock {
                    lap: known,
                    base_ms: self.start_ms,
                    last_time_ms: 0,
                });
                let new_lap = match known {
                    Some(l) => Some(l) != clock.lap,
                    // The lap number glitched away: `Time` starting again says the lap did.
                    None => lap_column && t < clock.last_time_ms,
                };
                if new_lap {
                    // `Time` restarts at each lap: the next lap starts where the last ended.
                    clock.base_ms = clock.base_ms.saturating_add(clock.last_time_ms);
                    clock.lap = known.or(clock.lap.map(|l| l.saturating_add(1)));
                }
                clock.last_time_ms = t;
                (clock.base_ms.saturating_add(t), clock.lap)
            }
        })
    }

    /// A row must not go back in lap or time from its driver's last row taken.
    fn in_order(&self, car: u8, lap: Option<u16>, timestamp_ms: i64) -> Result<(), String> {
        let Some(prev) = self.last.get(&car) else {
            return Ok(());
        };
        if let (Some(l), Some(p)) = (lap, prev.lap)
            && l < p
        {
            return Err(format!(
                "LapNumber {l} goes back from {p} (row {})",
                prev.row
            ));
        }
        let new_lap = lap != prev.lap;
        if timestamp_ms < prev.timestamp_ms || (timestamp_ms == prev.timestamp_ms && !new_lap) {
            return Err(if timestamp_ms == prev.timestamp_ms {
                format!(
                    "at the same time as row {} of the same driver and lap",
                    prev.row
                )
            } else {
                format!("earlier than row {} of the same driver", prev.row)
            });
        }
        Ok(())
    }
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

/// A row's sample: speed is required (its error rejects the row); every other column
/// that cannot be read is unknown for this sample, recorded in `dirt`.
#[allow(clippy::too_many_arguments)]
fn row_sample(
    row: &Row<'_>,
    session: &CompactString,
    car: u8,
    timestamp_ms: i64,
    lap: Option<u16>,
    driver: Option<CompactString>,
    team: Option<CompactString>,
    at: Origin,
    dirt: &mut Dirt,
) -> Result<Sample, String> {
    let get = |name| row.get(name);
    let speed = get("Speed").ok_or("Speed is empty or NaN")?;
    let speed_kph = number_in("Speed", speed, 0.0, 500.0, " km/h")? as f32;
    let mut opt = |c: Channel, name: &'static str, lo: f64, hi: f64, unit: &str| -> Option<f64> {
        dirt.keep(
            at,
            c,
            get(name)
                .map(|v| number_in(name, v, lo, hi, unit))
                .transpose(),
        )
    };
    let lap_distance_m =
        opt(Channel::LapDistance, "Distance", -5.0, 10_000.0, " m").map(|d| d.max(0.0) as f32);
    let rpm = opt(Channel::Rpm, "RPM", 0.0, 25_000.0, "").map(|r| r.round() as u16);
    let throttle =
        opt(Channel::Throttle, "Throttle", 0.0, 105.0, " %").map(|t| (t.min(100.0) / 100.0) as f32);
    let [x, y, z] = [(Channel::X, "X"), (Channel::Y, "Y"), (Channel::Z, "Z")]
        .map(|(c, name)| opt(c, name, -1e6, 1e6, "").map(|d| (d / 10.0) as f32));
    let brake = dirt.keep(
        at,
        Channel::Brake,
        get("Brake")
            .map(|v| match v {
                "True" | "true" | "1" | "1.0" => Ok(1.0),
                "False" | "false" | "0" | "0.0" => Ok(0.0),
                other => number_in("Brake", other, 0.0, 1.0, "").map(|b| b as f32),
            })
            .transpose(),
    );
    let drs = dirt.keep(
        at,
        Channel::Drs,
        get("DRS")
            .map(|v| whole("DRS", v, 0.0, 14.0).map(|code| code >= 10))
            .transpose(),
    );
    let gear = dirt.keep(
        at,
        Channel::Gear,
        get("nGear")
            .map(|v| whole("nGear", v, 0.0, 8.0).map(|g| g as i8))
            .transpose(),
    );
    Ok(Sample {
        session: session.clone(),
        car,
        timestamp_ms,
        speed_kph,
        seq: 0,
        driver,
        team,
        lap,
        lap_distance_m,
        rpm,
        gear,
        throttle,
        brake,
        drs,
        x,
        y,
        z,
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

    /// CRLF files count lines as LF files do: a row's line is where it is in an editor.
    #[test]
    fn crlf_line_numbers() {
        for end in ["\n", "\r\n"] {
            let csv = [
                "Driver,LapNumber,Time,Speed",
                "VER,1,0.1,80",
                "VER,1,0.2,x",
                "",
            ]
            .join(end);
            let err = parse(csv.as_bytes(), &opts()).unwrap_err();
            assert_eq!(
                err.to_string(),
                "row 2 (line 3): Speed: \"x\" is not a number",
                "{end:?}"
            );
        }
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
