//! OpenF1 API records (<https://openf1.org>), as the API returns them: a JSON array, or
//! NDJSON. Output of the API can be piped in unchanged.
//!
//! `car_data` records become samples; the other kinds annotate the `car_data` of the same
//! driver in the same body:
//!
//! | record | gives |
//! |---|---|
//! | `car_data`: `date`, `driver_number`, `speed`, `rpm`, `n_gear`, `throttle` 0–100, `brake` 0/100, `drs` code | time, car, speed, RPM, gear, throttle 0–1 (up to 104 % reads as 1), brake 0–1, DRS open when the code is 10, 12 or 14 |
//! | `location`: `x`, `y`, `z` (1/10 m) | position in metres, interpolated to each sample's time (within 1 s) |
//! | `laps`: `lap_number`, `date_start`, `lap_duration`, `duration_sector_1..3` | lap (the last lap started at or before the sample), sector, and the distance since the line: OpenF1 has none, so it is integrated from `speed` as FastF1 computes its `Distance`, for laps whose start date is known |
//! | `stints`: `lap_start`, `lap_end`, `compound`, `tyre_age_at_start` | compound and tyre age of the lap |
//! | `pit`: `date`, `lane_duration` (or `pit_duration`) | the pit-lane phase as a pit-status hint |
//! | `drivers`: `name_acronym`, `team_name` | driver and team |
//! | `position`: `position` | race position |
//!
//! The session is the caller's (`?session=`, `--session`), else `openf1-<session_key>`.
//! How the records join is [`super::openf1_annotate`]; `pitstop replay --openf1-session`
//! fetches them page by page ([`super::openf1_live`]).

use super::dirt::{Dirt, Origin, Reject};
use super::fastf1::shown;
use super::openf1_annotate::{Driver, DriverContext, DriverFeed, LapRecord, Stint};
use super::options::{FeedError, FeedOptions};
use super::seq::number;
use super::time;
use crate::model::{Channel, Compound, Sample, validate};
use compact_str::CompactString;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Reads a body of OpenF1 records, all or nothing: the first problem is the error.
pub fn parse(body: &[u8], opts: &FeedOptions) -> Result<Vec<Sample>, FeedError> {
    parse_records(&read_records(body)?, opts)
}

/// Reads the records of several bodies as one (the files an OpenF1 download gives, one
/// per endpoint, annotate each other), all or nothing.
pub fn parse_bodies(bodies: &[Vec<u8>], opts: &FeedOptions) -> Result<Vec<Sample>, FeedError> {
    let mut records = Vec::new();
    for b in bodies {
        records.append(&mut read_records(b)?);
    }
    parse_records(&records, opts)
}

fn parse_records(records: &[Value], opts: &FeedOptions) -> Result<Vec<Sample>, FeedError> {
    let mut dirt = Dirt::default();
    let taken = parse_lenient(records, opts, &mut dirt);
    // The first bad record comes before what its absence leads to (no session, no data).
    if let Some(e) = dirt.into_error() {
        return Err(e);
    }
    let mut out: Vec<Sample> = taken?.into_iter().map(|(_, s)| s).collect();
    number(&mut out);
    Ok(out)
}

/// Reads records under the dirty-data policy: a record that cannot be read, lacks what
/// its kind needs (a `car_data` its time, driver or speed) or contradicts another is
/// rejected alone; an impossible value of an optional field becomes unknown. The
/// samples come with the index of their `car_data` record, not numbered.
pub fn parse_lenient(
    records: &[Value],
    opts: &FeedOptions,
    dirt: &mut Dirt,
) -> Result<Vec<(Origin, Sample)>, FeedError> {
    let (session_key, drivers) = collect(records, dirt);
    let session = session_of(opts, session_key)?;
    let mut out = Vec::new();
    for (car, mut d) in drivers {
        let ctx = DriverContext::new(car, &mut d, opts, dirt);
        out.extend(DriverFeed::new(car, ctx, false).annotate(d, &session, dirt));
    }
    if out.is_empty() && dirt.rejected.is_empty() {
        return Err(FeedError::Body(
            "no car_data records: location, laps, stints, pit, drivers and position records annotate the car_data of the same body".into(),
        ));
    }
    Ok(out)
}

/// The session id: the caller's, else `openf1-<session_key>`.
pub fn session_of(
    opts: &FeedOptions,
    session_key: Option<i64>,
) -> Result<CompactString, FeedError> {
    match (&opts.session, session_key) {
        (Some(s), _) => Ok(s.as_str().into()),
        (None, Some(k)) => Ok(compact_str::format_compact!("openf1-{k}")),
        (None, None) => Err(FeedError::Body(
            "OpenF1 records without a session_key need a session (?session=, --session)".into(),
        )),
    }
}

/// Reads every record into its driver's collections (a record that cannot be taken is
/// rejected into `dirt`), with the session key they share.
pub(super) fn collect(records: &[Value], dirt: &mut Dirt) -> (Option<i64>, BTreeMap<u8, Driver>) {
    let mut session_key = None;
    let mut drivers: BTreeMap<u8, Driver> = BTreeMap::new();
    for (index, r) in records.iter().enumerate() {
        let at = Origin::Record(index);
        if let Err((why, message)) = read_record(r, index, &mut session_key, &mut drivers, dirt) {
            dirt.reject(at, why, message);
        }
    }
    (session_key, drivers)
}

/// Why a record is rejected.
type Rejected = (Reject, String);

/// Reads one record into its driver's collections.
fn read_record(
    r: &Value,
    index: usize,
    session_key: &mut Option<i64>,
    drivers: &mut BTreeMap<u8, Driver>,
    dirt: &mut Dirt,
) -> Result<(), Rejected> {
    let at = Origin::Record(index);
    let malformed = |m: String| (Reject::Malformed, m);
    let required = |m: String| (Reject::Required, m);
    let Value::Object(m) = r else {
        return Err(malformed("not a JSON object".into()));
    };
    match m.get("session_key") {
        None | Some(Value::Null) => {}
        Some(k) => {
            let k = k.as_i64().ok_or_else(|| {
                malformed(format!(
                    "session_key: {} is not a number",
                    shown(&k.to_string())
                ))
            })?;
            if let Some(known) = *session_key
                && known != k
            {
                return Err((
                    Reject::Conflict,
                    format!(
                        "session_key {k}, where earlier records have {known}: post one session per body"
                    ),
                ));
            }
            *session_key = Some(k);
        }
    }
    let Some(kind) = kind(m) else {
        let mut keys: Vec<&str> = m.keys().map(String::as_str).collect();
        keys.truncate(12);
        return Err(malformed(format!(
            "not an OpenF1 car_data, location, laps, stints, pit, drivers or position record (fields: {})",
            keys.join(", ")
        )));
    };
    let f = Fields { m, kind };
    let car = f.whole("driver_number", 1, 99).map_err(required)? as u8;
    let d = drivers.entry(car).or_default();
    match f.kind {
        "car_data" => d
            .car_data
            .push((index, f.car_data(car, at, dirt).map_err(required)?)),
        "location" => {
            let t = f.date("date").map_err(required)?;
            let [x, y, z] =
                ["x", "y", "z"].map(|k| f.number(k, -1e6, 1e6).map(|v| (v / 10.0) as f32));
            d.locations.push((
                t,
                x.map_err(required)?,
                y.map_err(required)?,
                z.map_err(required)?,
            ));
        }
        "laps" => {
            let lap = f.whole("lap_number", 1, 200).map_err(required)? as u16;
            let start = f.opt_date("date_start").map_err(required)?;
            let duration = dirt
                .keep(at, Channel::Lap, f.opt_number("lap_duration", 0.0, 1e4))
                .map(|d| (d * 1000.0).round() as i64);
            let sectors = [
                "duration_sector_1",
                "duration_sector_2",
                "duration_sector_3",
            ]
            .map(|k| {
                dirt.keep(
                    at,
                    Channel::Sector,
                    f.opt_number(k, 0.0, 1e4)
                        .map(|v| v.map(|s| (s * 1000.0).round() as i64)),
                )
            });
            d.laps.insert(
                lap,
                LapRecord {
                    index,
                    start,
                    duration,
                    sectors,
                },
            );
        }
        "stints" => d.stints.push((index, f.stint(at, dirt)?)),
        "pit" => {
            let entry = f.date("date").map_err(required)?;
            let lane = match f.opt_number("lane_duration", 0.0, 600.0) {
                Ok(Some(l)) => Ok(Some(l)),
                Ok(None) => f.opt_number("pit_duration", 0.0, 600.0),
                Err(e) => Err(e),
            };
            // A pit record without a duration (an aborted entry) says nothing usable.
            if let Some(lane) = dirt.keep(at, Channel::PitStatus, lane) {
                d.pits.push((entry, entry + (lane * 1000.0).round() as i64));
            }
        }
        "drivers" => {
            let code = f.text("name_acronym").map_err(required)?;
            let team = m
                .get("team_name")
                .and_then(Value::as_str)
                .map(CompactString::from);
            // Checked here, so that a bad name points at this record.
            let probe = Sample {
                session: "s".into(),
                car,
                timestamp_ms: 946_684_800_000,
                driver: Some(code.into()),
                team: team.clone(),
                ..Sample::default()
            };
            validate(&probe).map_err(|e| required(format!("drivers {e}")))?;
            d.name = Some((code.into(), team));
        }
        "position" => {
            let t = f.date("date").map_err(required)?;
            let p = f.whole("position", 1, 99).map_err(required)? as u8;
            d.positions.push((t, p));
        }
        _ => unreachable!("kind() names only the kinds above"),
    }
    Ok(())
}

/// The records of one body: a JSON array, or NDJSON.
pub fn read_records(body: &[u8]) -> Result<Vec<Value>, FeedError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        return match serde_json::from_slice::<Value>(body) {
            Ok(Value::Array(v)) => Ok(v),
            Ok(_) => Err(FeedError::Body(
                "expected an array of OpenF1 records".into(),
            )),
            Err(e) => Err(FeedError::Body(format!("invalid JSON: {e}"))),
        };
    }
    serde_json::Deserializer::from_slice(body)
        .into_iter::<Value>()
        .enumerate()
        .map(|(index, r)| {
            r.map_err(|e| FeedError::Record {
                index,
                message: format!("invalid JSON: {e}"),
            })
        })
        .collect()
}

/// Which OpenF1 endpoint a record comes from, by its fields.
fn kind(m: &Map<String, Value>) -> Option<&'static str> {
    let has = |k: &str| m.contains_key(k);
    Some(if has("speed") && has("date") {
        "car_data"
    } else if has("x") && has("y") && has("date") {
        "location"
    } else if has("lap_number") && has("date_start") {
        "laps"
    } else if has("stint_number") {
        "stints"
    } else if has("pit_duration") || has("lane_duration") {
        "pit"
    } else if has("name_acronym") {
        "drivers"
    } else if has("position") && has("date") {
        "position"
    } else {
        return None;
    })
}

/// Field readers that name the record kind and field in their errors.
struct Fields<'a> {
    m: &'a Map<String, Value>,
    kind: &'static str,
}

impl Fields<'_> {
    fn err(&self, field: &str, message: String) -> String {
        format!("{} {field}: {message}", self.kind)
    }

    fn opt_number(&self, field: &str, lo: f64, hi: f64) -> Result<Option<f64>, String> {
        match self.m.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => {
                let v = n.as_f64().unwrap_or(f64::NAN);
                if (lo..=hi).contains(&v) {
                    Ok(Some(v))
                } else {
                    Err(self.err(field, format!("{v} is outside {lo}..={hi}")))
                }
            }
            Some(other) => Err(self.err(field, format!("{other} is not a number"))),
        }
    }

    fn number(&self, field: &str, lo: f64, hi: f64) -> Result<f64, String> {
        self.opt_number(field, lo, hi)?
            .ok_or_else(|| self.err(field, "missing".into()))
    }

    fn opt_whole(&self, field: &str, lo: i64, hi: i64) -> Result<Option<i64>, String> {
        match self.opt_number(field, lo as f64, hi as f64)? {
            Some(v) if v.fract() != 0.0 => {
                Err(self.err(field, format!("{v} is not a whole number")))
            }
            v => Ok(v.map(|v| v as i64)),
        }
    }

    fn whole(&self, field: &str, lo: i64, hi: i64) -> Result<i64, String> {
        self.opt_whole(field, lo, hi)?
            .ok_or_else(|| self.err(field, "missing".into()))
    }

    fn text(&self, field: &str) -> Result<&str, String> {
        self.m
            .get(field)
            .and_then(Value::as_str)
            .ok_or_else(|| self.err(field, "missing or not a string".into()))
    }

    fn opt_date(&self, field: &str) -> Result<Option<i64>, String> {
        match self.m.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => time::date_ms(s).map(Some).map_err(|e| self.err(field, e)),
            Some(other) => Err(self.err(field, format!("{other} is not a date"))),
        }
    }

    fn date(&self, field: &str) -> Result<i64, String> {
        self.opt_date(field)?
            .ok_or_else(|| self.err(field, "missing".into()))
    }

    /// A `car_data` record's sample: time and speed are required; an impossible RPM,
    /// gear, pedal or DRS value is unknown.
    fn car_data(&self, car: u8, at: Origin, dirt: &mut Dirt) -> Result<Sample, String> {
        let timestamp_ms = self.date("date")?;
        let speed_kph = self.number("speed", 0.0, 500.0)? as f32;
        Ok(Sample {
            car,
            timestamp_ms,
            speed_kph,
            rpm: dirt
                .keep(at, Channel::Rpm, self.opt_number("rpm", 0.0, 25_000.0))
                .map(|r| r.round() as u16),
            gear: dirt
                .keep(at, Channel::Gear, self.opt_whole("n_gear", 0, 8))
                .map(|g| g as i8),
            throttle: dirt
                .keep(
                    at,
                    Channel::Throttle,
                    self.opt_number("throttle", 0.0, 105.0),
                )
                .map(|t| (t.min(100.0) / 100.0) as f32),
            brake: dirt
                .keep(at, Channel::Brake, self.opt_number("brake", 0.0, 100.0))
                .map(|b| (b / 100.0) as f32),
            drs: dirt
                .keep(at, Channel::Drs, self.opt_whole("drs", 0, 14))
                .map(|code| code >= 10),
            ..Sample::default()
        })
    }

    /// A `stints` record: its first lap is required; an impossible last lap, compound or
    /// tyre age is unknown; a last lap before the first contradicts the record.
    fn stint(&self, at: Origin, dirt: &mut Dirt) -> Result<Stint, Rejected> {
        let first = self
            .whole("lap_start", 1, 200)
            .map_err(|m| (Reject::Required, m))? as u16;
        let last = self
            .opt_whole("lap_end", 1, 200)
            .map_err(|m| (Reject::Required, m))?
            .map(|l| l as u16);
        let compound = match self.m.get("compound") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(c)) => Compound::parse(c)
                .map_err(|_| format!("stints compound: {:?} is not a compound", shown(c))),
            Some(other) => Err(format!(
                "stints compound: {} is not a string",
                shown(&other.to_string())
            )),
        };
        let compound = dirt.keep(at, Channel::Compound, compound);
        if let Some(l) = last
            && l < first
        {
            return Err((
                Reject::Conflict,
                format!("stints lap_end {l} is before lap_start {first}"),
            ));
        }
        let age = dirt
            .keep(
                at,
                Channel::TyreAge,
                self.opt_whole("tyre_age_at_start", 0, 200),
            )
            .map(|a| a as u16);
        Ok(Stint {
            first,
            last,
            compound,
            age,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records in the shapes the OpenF1 API publishes, joined into samples.
    #[test]
    fn records_join_into_samples() {
        let body = r#"[
 {"meeting_key":1262,"session_key":9912,"driver_number":1,"broadcast_name":"M VERSTAPPEN","full_name":"Max VERSTAPPEN","name_acronym":"VER","team_name":"Red Bull Racing","team_colour":"4781D7","first_name":"Max","last_name":"Verstappen","headshot_url":null,"country_code":"NED"},
 {"meeting_key":1262,"session_key":9912,"driver_number":1,"date_start":"2025-08-31T13:28:01.123000+00:00","lap_number":23,"duration_sector_1":29.5,"duration_sector_2":30.1,"duration_sector_3":31.2,"i1_speed":200,"i2_speed":180,"st_speed":290,"is_pit_out_lap":false,"lap_duration":90.8,"segments_sector_1":[2049,2049],"segments_sector_2":[2049],"segments_sector_3":[2049]},
 {"meeting_key":1262,"session_key":9912,"driver_number":1,"stint_number":2,"lap_start":23,"lap_end":53,"compound":"MEDIUM","tyre_age_at_start":0},
 {"date":"2025-08-31T13:28:02.000000+00:00","driver_number":1,"meeting_key":1262,"session_key":9912,"x":490,"y":3413,"z":531},
 {"date":"2025-08-31T13:28:02.500000+00:00","driver_number":1,"meeting_key":1262,"session_key":9912,"x":500,"y":3443,"z":531},
 {"date":"2025-08-31T13:28:02.250000+00:00","driver_number":1,"meeting_key":1262,"session_key":9912,"position":1},
 {"brake":100,"date":"2025-08-31T13:28:02.250000+00:00","driver_number":1,"drs":12,"meeting_key":1262,"n_gear":2,"rpm":6922,"session_key":9912,"speed":80,"throttle":104},
 {"brake":0,"date":"2025-08-31T13:28:32.250000+00:00","driver_number":1,"drs":8,"meeting_key":1262,"n_gear":7,"rpm":11000,"session_key":9912,"speed":280,"throttle":99}
]"#;
        let s = parse(body.as_bytes(), &FeedOptions::default()).unwrap();
        assert_eq!(s.len(), 2);
        let a = &s[0];
        assert_eq!(a.session, "openf1-9912");
        assert_eq!(
            (a.car, a.driver.as_deref(), a.team.as_deref()),
            (1, Some("VER"), Some("Red Bull Racing"))
        );
        assert_eq!(a.timestamp_ms, 1_756_646_882_250);
        assert_eq!((a.speed_kph, a.rpm, a.gear), (80.0, Some(6922), Some(2)));
        assert_eq!(
            (a.throttle, a.brake, a.drs),
            (Some(1.0), Some(1.0), Some(true))
        );
        assert_eq!((a.lap, a.sector, a.position), (Some(23), Some(1), Some(1)));
        assert_eq!(
            (a.tyre_compound, a.tyre_age_laps),
            (Some(Compound::Medium), Some(0))
        );
        assert_eq!((a.x, a.y, a.z), (Some(49.5), Some(342.8), Some(53.1)));
        assert_eq!(
            (s[1].sector, s[1].drs, s[1].x),
            (Some(2), Some(false), None)
        );
        assert_eq!(s.iter().map(|x| x.seq).collect::<Vec<_>>(), [0, 1]);
        // The distance since the line: 80 km/h for the 1.127 s since the lap's start,
        // then trapezoids (80 to 280 km/h over 30 s: 1,500 m).
        let d: Vec<f32> = s.iter().map(|x| x.lap_distance_m.unwrap()).collect();
        assert!(
            (d[0] - 25.04).abs() < 0.01 && (d[1] - 1525.04).abs() < 0.01,
            "{d:?}"
        );
    }

    /// Wrong values in every unit are refused with the record and field.
    #[test]
    fn malformed_records_are_precise() {
        let base = r#"{"date":"2025-08-31T13:28:02.250000+00:00","driver_number":1,"session_key":9,"speed":80"#;
        let cases = [
            (
                ",\"throttle\":130}",
                "record 0: car_data throttle: 130 is outside 0..=105",
            ),
            (
                ",\"drs\":15}",
                "record 0: car_data drs: 15 is outside 0..=14",
            ),
            (
                ",\"n_gear\":2.5}",
                "record 0: car_data n_gear: 2.5 is not a whole number",
            ),
            (
                ",\"brake\":\"on\"}",
                "record 0: car_data brake: \"on\" is not a number",
            ),
        ];
        for (tail, want) in cases {
            let err =
                parse(format!("{base}{tail}").as_bytes(), &FeedOptions::default()).unwrap_err();
            assert_eq!(err.to_string(), want);
        }
        let err = parse(
            br#"{"driver_number":1,"date":"2025-08-31","gap_to_leader":1.2}"#,
            &FeedOptions::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("not an OpenF1 car_data"), "{err}");
        let err = parse(br#"{"driver_number":1,"date":"2025-08-31T13:28:02Z","x":1,"y":2,"z":3,"session_key":9}"#, &FeedOptions::default()).unwrap_err();
        assert!(err.to_string().contains("no car_data records"), "{err}");
        let err = parse(
            br#"{"driver_number":100,"date":"2025-08-31T13:28:02Z","speed":3}"#,
            &FeedOptions::default(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "record 0: car_data driver_number: 100 is outside 1..=99"
        );
    }

    /// Records that contradict each other are refused at the record that does; exact
    /// repeats (paging overlaps) are one sample.
    #[test]
    fn contradicting_records_are_refused() {
        let car = |t: &str, speed: u32| {
            format!(
                r#"{{"date":"2025-08-31T13:28:{t}+00:00","driver_number":1,"session_key":9,"speed":{speed}}}"#
            )
        };
        let lap = |n: u32, t: &str| {
            format!(
                r#"{{"driver_number":1,"session_key":9,"lap_number":{n},"date_start":"2025-08-31T13:28:{t}+00:00","duration_sector_1":30.0}}"#
            )
        };
        let stint = |first: u32, last: u32, compound: &str| {
            format!(
                r#"{{"driver_number":1,"session_key":9,"stint_number":1,"lap_start":{first},"lap_end":{last},"compound":{compound}}}"#
            )
        };
        let body = |records: &[String]| format!("[{}]", records.join(","));
        let cases = [
            (
                body(&[car("02.000", 80), car("03.000", 81).replace(":9,", ":10,")]),
                "record 1: session_key 10, where earlier records have 9: post one session per body",
            ),
            (
                body(&[car("02.000", 80), lap(1, "05.000"), lap(2, "01.000")]),
                "record 2: laps lap 2 starts before lap 1",
            ),
            (
                body(&[
                    car("02.000", 80),
                    stint(1, 20, "\"SOFT\""),
                    stint(15, 40, "\"HARD\""),
                ]),
                "record 2: stints from lap 15 overlaps the stint from lap 1",
            ),
            (
                body(&[car("02.000", 80), stint(20, 10, "\"SOFT\"")]),
                "record 1: stints lap_end 10 is before lap_start 20",
            ),
            (
                body(&[car("02.000", 80), stint(1, 10, "3")]),
                "record 1: stints compound: 3 is not a string",
            ),
            (
                body(&[car("02.000", 80), car("02.000", 95)]),
                "record 1: car_data at the same time as another record of the driver, with other values",
            ),
        ];
        for (json, want) in cases {
            let err = parse(json.as_bytes(), &FeedOptions::default()).unwrap_err();
            assert_eq!(err.to_string(), want, "{json}");
        }
        let same = body(&[car("02.000", 80), car("02.000", 80), car("02.250", 82)]);
        let s = parse(same.as_bytes(), &FeedOptions::default()).unwrap();
        assert_eq!(s.len(), 2);
    }
}
