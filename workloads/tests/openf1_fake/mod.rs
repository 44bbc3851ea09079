//! A fake OpenF1 API of the test's own on 127.0.0.1 (never the internet): `GET
//! /v1/<endpoint>` filtered by `session_key`, `driver_number` and `date>=`/`date<` as the
//! real API filters, 404 "No results found." for an empty answer, and faults scripted by
//! request number (429 with or without `Retry-After`, 500, a page cut short) or from the
//! n-th page on (every request 500: a run killed midway).
//!
//! [`from_fastf1`] turns FastF1 samples into the OpenF1 records of the same race.
#![allow(dead_code)]

use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use pitstop_workloads::feeds::time::date_ms;
use pitstop_workloads::model::Sample;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

pub const SESSION_KEY: i64 = 9912;
const MEETING_KEY: i64 = 1262;

/// What a scripted request answers instead of its page.
#[derive(Clone, Debug)]
pub enum Fault {
    /// 429, with `Retry-After: n` seconds or without.
    RateLimited(Option<u64>),
    /// 500.
    ServerError,
    /// 200 with the first half of the page.
    Truncated,
    /// This status, with a JSON reason.
    Status(u16),
}

#[derive(Default)]
pub struct Script {
    /// Faults by request number, from 1.
    pub faults: HashMap<u64, Fault>,
    /// Every request answers 500 once this many pages were served.
    pub fail_after_pages: Option<u64>,
    /// Every request to this endpoint answers a cut page.
    pub always_truncated: Option<&'static str>,
    /// Every request hangs, unanswered, once this many pages were served (a client to be
    /// killed while it waits).
    pub hang_after_pages: Option<u64>,
}

/// What the server saw.
#[derive(Default, Debug)]
pub struct Seen {
    pub requests: u64,
    pub pages: u64,
    /// (request number, endpoint, query, status, when).
    pub log: Vec<(u64, String, String, u16, std::time::Instant)>,
}

/// A record with what the filters compare read once (a page of a whole race is found
/// among a million records) and its JSON written once.
struct Indexed {
    value: Value,
    json: String,
    session: Option<i64>,
    driver: Option<i64>,
    /// `date`, else `date_start`, in ms.
    date: Option<i64>,
}

struct Shared {
    records: BTreeMap<String, Vec<Value>>,
    /// By endpoint and driver.
    index: BTreeMap<String, BTreeMap<Option<i64>, Vec<Indexed>>>,
    script: Mutex<Script>,
    seen: Mutex<Seen>,
}

pub struct FakeOpenF1 {
    pub url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl FakeOpenF1 {
    /// Serves `records` (by endpoint) on a free loopback port.
    pub async fn start(records: BTreeMap<String, Vec<Value>>, script: Script) -> FakeOpenF1 {
        let index = records
            .iter()
            .map(|(k, rs)| {
                let mut by_driver: BTreeMap<Option<i64>, Vec<Indexed>> = BTreeMap::new();
                for r in rs {
                    by_driver
                        .entry(r["driver_number"].as_i64())
                        .or_default()
                        .push(Indexed {
                            value: r.clone(),
                            json: r.to_string(),
                            session: r["session_key"].as_i64(),
                            driver: r["driver_number"].as_i64(),
                            date: ["date", "date_start"]
                                .iter()
                                .find_map(|f| date_ms(r.get(*f)?.as_str()?).ok()),
                        });
                }
                (k.clone(), by_driver)
            })
            .collect();
        let shared = Arc::new(Shared {
            index,
            records,
            script: Mutex::new(script),
            seen: Mutex::new(Seen::default()),
        });
        let app = axum::Router::new()
            .route("/v1/{endpoint}", get(page))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeOpenF1 {
            url,
            shared,
            server,
        }
    }

    pub fn script(&self, f: impl FnOnce(&mut Script)) {
        f(&mut self.shared.script.lock().unwrap());
    }

    pub fn seen<T>(&self, f: impl FnOnce(&Seen) -> T) -> T {
        f(&self.shared.seen.lock().unwrap())
    }

    /// The records of `endpoint`.
    pub fn records(&self, endpoint: &str) -> &[Value] {
        self.shared.records.get(endpoint).map_or(&[], Vec::as_slice)
    }
}

impl Drop for FakeOpenF1 {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A filter of the query: `field` compared with `op` to `value` (a date or number read
/// once, as ms or a float).
struct Filter {
    field: String,
    op: &'static str,
    value: String,
    number: Option<f64>,
}

fn filters(query: &str) -> Vec<Filter> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    let mut out = Vec::new();
    for (k, v) in pairs {
        // `date>=x` arrives as ("date>", "x"), `date<x` as ("date<x", "").
        let joined = if v.is_empty() { k } else { format!("{k}={v}") };
        for op in [">=", "<=", ">", "<", "="] {
            if let Some((field, value)) = joined.split_once(op) {
                let number = date_ms(value)
                    .map(|ms| ms as f64)
                    .ok()
                    .or_else(|| value.parse().ok());
                out.push(Filter {
                    field: field.to_owned(),
                    op,
                    value: value.to_owned(),
                    number,
                });
                break;
            }
        }
    }
    out
}

fn matches(r: &Indexed, f: &Filter) -> bool {
    let have = match f.field.as_str() {
        "date" | "date_start" => r.date.map(|d| d as f64),
        "driver_number" => r.driver.map(|d| d as f64),
        "session_key" => r.session.map(|d| d as f64),
        field => match r.value.get(field) {
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(a)) => return f.op == "=" && *a == f.value,
            _ => None,
        },
    };
    let (Some(a), Some(b)) = (have, f.number) else {
        return false;
    };
    let ord = a.total_cmp(&b);
    match f.op {
        ">=" => ord.is_ge(),
        "<=" => ord.is_le(),
        ">" => ord.is_gt(),
        "<" => ord.is_lt(),
        _ => ord.is_eq(),
    }
}

async fn page(
    State(s): State<Arc<Shared>>,
    Path(endpoint): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let (n, fault, failing, cut, hang) = {
        let mut seen = s.seen.lock().unwrap();
        seen.requests += 1;
        let mut script = s.script.lock().unwrap();
        let failing = script.fail_after_pages.is_some_and(|p| seen.pages >= p);
        let hang = script.hang_after_pages.is_some_and(|p| seen.pages >= p);
        let cut = script.always_truncated == Some(endpoint.as_str());
        let fault = script.faults.remove(&seen.requests);
        (seen.requests, fault, failing, cut, hang)
    };
    if hang {
        std::future::pending::<()>().await;
    }
    let f = filters(&query);
    // One driver's records when the query names one (the filters still apply).
    let driver = f
        .iter()
        .find(|f| f.field == "driver_number" && f.op == "=")
        .and_then(|f| f.number)
        .map(|d| d as i64);
    let body: Vec<&str> = s
        .index
        .get(&endpoint)
        .into_iter()
        .flat_map(|by| by.iter())
        .filter(|(d, _)| driver.is_none() || **d == driver)
        .flat_map(|(_, rs)| rs.iter())
        .filter(|r| f.iter().all(|f| matches(r, f)))
        .map(|r| r.json.as_str())
        .collect();
    let text = format!("[{}]", body.join(","));
    let scripted = if cut {
        Some(Fault::Truncated)
    } else if failing {
        Some(Fault::ServerError)
    } else {
        None
    };
    let fault = fault.or(scripted);
    let resp = match fault {
        Some(Fault::RateLimited(after)) => {
            let mut r =
                (StatusCode::TOO_MANY_REQUESTS, "{\"detail\":\"slow down\"}").into_response();
            if let Some(a) = after {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, a.to_string().parse().unwrap());
            }
            r
        }
        Some(Fault::ServerError) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "{\"detail\":\"boom\"}").into_response()
        }
        Some(Fault::Truncated) => json_page(text[..text.len() / 2].to_owned()),
        Some(Fault::Status(code)) => (
            StatusCode::from_u16(code).unwrap(),
            json_page("{\"detail\":\"refused by the test\"}".into()),
        )
            .into_response(),
        None if body.is_empty() => (
            StatusCode::NOT_FOUND,
            json_page("{\"detail\":\"No results found.\"}".into()),
        )
            .into_response(),
        None => json_page(text),
    };
    let status = resp.status().as_u16();
    let mut seen = s.seen.lock().unwrap();
    if status == 200 || status == 404 {
        seen.pages += 1;
    }
    seen.log
        .push((n, endpoint, query, status, std::time::Instant::now()));
    resp
}

fn json_page(text: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// A time as OpenF1 writes it.
pub fn date(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string()
}

/// The OpenF1 records of one driver's FastF1 samples (in time order, one car): its
/// `car_data` and `location` at the samples' instants, its `laps` (starting at each
/// lap's first sample, with a duration for the laps it `completed`), its `drivers`
/// record.
pub fn from_fastf1(samples: &[Sample], completed: u16) -> BTreeMap<String, Vec<Value>> {
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let s0 = &samples[0];
    let base =
        || json!({"session_key": SESSION_KEY, "meeting_key": MEETING_KEY, "driver_number": s0.car});
    let with = |fields: Value| {
        let mut r = base();
        r.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        r
    };
    for s in samples {
        out.entry("car_data".into()).or_default().push(with(json!({
            "date": date(s.timestamp_ms),
            "speed": s.speed_kph,
            "rpm": s.rpm,
            "n_gear": s.gear,
            "throttle": s.throttle.map(|t| (t as f64 * 100.0).round()),
            "brake": s.brake.map(|b| (b as f64 * 100.0).round()),
            "drs": s.drs.map(|open| if open { 12 } else { 0 }),
        })));
        if let (Some(x), Some(y), Some(z)) = (s.x, s.y, s.z) {
            let dm = |m: f32| (m as f64 * 10.0).round();
            out.entry("location".into()).or_default().push(with(
                json!({"date": date(s.timestamp_ms), "x": dm(x), "y": dm(y), "z": dm(z)}),
            ));
        }
    }
    let mut starts: BTreeMap<u16, (i64, i64)> = BTreeMap::new();
    for s in samples {
        let e = starts
            .entry(s.lap.expect("FastF1 laps"))
            .or_insert((s.timestamp_ms, s.timestamp_ms));
        e.1 = s.timestamp_ms;
    }
    let laps: Vec<(u16, (i64, i64))> = starts.into_iter().collect();
    for (i, &(lap, (start, last))) in laps.iter().enumerate() {
        let end = match laps.get(i + 1) {
            Some((_, (next, _))) => Some(*next),
            None => (lap <= completed).then_some(last),
        };
        out.entry("laps".into()).or_default().push(with(json!({
            "lap_number": lap,
            "date_start": date(start),
            "lap_duration": end.map(|e| (e - start) as f64 / 1000.0),
            "duration_sector_1": null, "duration_sector_2": null, "duration_sector_3": null,
            "is_pit_out_lap": false,
        })));
    }
    out.entry("drivers".into()).or_default().push(with(json!({
        "name_acronym": s0.driver.as_deref(),
        "team_name": s0.team.as_deref(),
        "broadcast_name": s0.driver.as_deref(),
    })));
    out
}

/// The `sessions` record of a race from `start` to `end` (ms) at Zandvoort.
pub fn session_record(start: i64, end: i64) -> Value {
    json!({"session_key": SESSION_KEY, "meeting_key": MEETING_KEY, "session_name": "Race",
           "session_type": "Race", "date_start": date(start), "date_end": date(end),
           "circuit_short_name": "Zandvoort", "year": 2025})
}

/// Adds `more` to `all`, endpoint by endpoint.
pub fn merge(all: &mut BTreeMap<String, Vec<Value>>, more: BTreeMap<String, Vec<Value>>) {
    for (k, mut v) in more {
        all.entry(k).or_default().append(&mut v);
    }
}

/// A small race of `cars` cars for `minutes` from `start` (ms): car data and locations
/// at 4 Hz at a steady 216 km/h (60 m/s) round a 4.8 km lap of 80 s, so no lap is slow
/// and no car stops; laps, drivers and the session; `race_control` as given.
pub fn synthetic(
    start: i64,
    cars: &[(u8, &str, &str)],
    minutes: i64,
    race_control: Vec<Value>,
) -> BTreeMap<String, Vec<Value>> {
    const LAP_MS: i64 = 80_000;
    let end = start + minutes * 60_000;
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (k, &(car, code, team)) in cars.iter().enumerate() {
        // Cars a little apart, so that their samples interleave.
        let offset = k as i64 * 37;
        let mut samples = Vec::new();
        let mut t = start + offset;
        while t < end {
            let along = ((t - start - offset) % LAP_MS) as f64 / LAP_MS as f64;
            let angle = along * std::f64::consts::TAU;
            samples.push(Sample {
                session: "x".into(),
                car,
                timestamp_ms: t,
                speed_kph: 216.0,
                rpm: Some(11_000),
                gear: Some(7),
                throttle: Some(1.0),
                brake: Some(0.0),
                drs: Some(false),
                lap: Some(((t - start - offset) / LAP_MS + 1) as u16),
                x: Some((764.0 * angle.cos()) as f32),
                y: Some((764.0 * angle.sin()) as f32),
                z: Some(0.0),
                driver: Some(code.into()),
                team: Some(team.into()),
                ..Sample::default()
            });
            t += 250;
        }
        let completed = samples.last().and_then(|s| s.lap).unwrap_or(1) - 1;
        merge(&mut out, from_fastf1(&samples, completed));
    }
    out.insert(
        "sessions".into(),
        vec![session_record(start - 60_000, end + 60_000)],
    );
    out.insert("race_control".into(), race_control);
    out
}

/// A `race_control` record.
pub fn race_control(at: i64, category: &str, flag: Option<&str>, message: &str) -> Value {
    json!({"session_key": SESSION_KEY, "meeting_key": MEETING_KEY, "date": date(at),
           "category": category, "flag": flag, "scope": "Track", "sector": null,
           "driver_number": null, "lap_number": null, "message": message})
}
