//! Feeding a processor through `POST /telemetry` as clients do: a processor with its API,
//! posts that return the status and the JSON answer, and a simulated race's samples to
//! send (its ground truth says what a correct pipeline finds).

use super::Env;
use pitstop_workloads::model::Sample;
use pitstop_workloads::processor::{Processor, ProcessorConfig};
use pitstop_workloads::sim::race::Race;
use pitstop_workloads::sim::truth::GroundTruth;
use reqwest::StatusCode;
use serde_json::Value;

pub const KEY: &str = "test-key-not-a-secret";

/// A processor with its API on a free port; the base URL.
pub async fn start_api(env: &Env, consumer: &str) -> (Processor, String) {
    let mut c = ProcessorConfig::new(&env.redis_url, &env.database_url, &env.keys.base);
    c.api_key = Some(KEY.into());
    c.listen = Some("127.0.0.1:0".parse().unwrap());
    c.consumer = consumer.into();
    let p = Processor::start(c, None).await.unwrap();
    let base = format!("http://{}", p.addr.unwrap());
    (p, base)
}

/// Posts `body` (JSON) to `path` with the key: the status and the answer, checked
/// against the API's OpenAPI document.
pub async fn post(client: &reqwest::Client, url: &str, body: String) -> (StatusCode, Value) {
    let a = super::contract::call(
        client
            .post(url)
            .header("X-API-Key", KEY)
            .header("Content-Type", "application/json")
            .body(body),
    )
    .await;
    (a.status, a.json)
}

/// Posts native samples as a JSON array; without `seq` when `numbered` is false.
pub async fn post_samples(
    client: &reqwest::Client,
    base: &str,
    samples: &[Sample],
    numbered: bool,
) -> (StatusCode, Value) {
    let body: Vec<Value> = samples
        .iter()
        .map(|s| {
            let mut v = serde_json::to_value(s).unwrap();
            if !numbered {
                v.as_object_mut().unwrap().remove("seq");
            }
            v
        })
        .collect();
    post(
        client,
        &format!("{base}/telemetry"),
        serde_json::to_string(&body).unwrap(),
    )
    .await
}

/// `POST /api/v1/sessions/{session}/start` at Monza for `laps`, with a grid of the cars
/// of `samples` (named after their numbers) starting at the first sample: the answer.
pub async fn start_session(
    client: &reqwest::Client,
    base: &str,
    session: &str,
    laps: u16,
    samples: &[Sample],
) -> (StatusCode, Value) {
    let cars: std::collections::BTreeSet<u8> = samples.iter().map(|s| s.car).collect();
    let grid: Vec<Value> = cars
        .iter()
        .map(|c| serde_json::json!({"car": c, "driver": format!("Driver {c}"), "team": "Team"}))
        .collect();
    let start = serde_json::json!({"circuit": "monza", "laps": laps, "started_at_ms": samples[0].timestamp_ms, "cars": grid});
    post(
        client,
        &format!("{base}/api/v1/sessions/{session}/start"),
        start.to_string(),
    )
    .await
}

/// `POST /api/v1/sessions/{id}/finish`, which must succeed.
pub async fn finish(client: &reqwest::Client, base: &str, session: &str) {
    let (code, body) = post(
        client,
        &format!("{base}/api/v1/sessions/{session}/finish"),
        String::new(),
    )
    .await;
    assert!(code.is_success(), "finish {session}: {code} {body}");
}

/// Every sample of a simulated race (seq numbered per car from 0), with its truth.
pub fn race_samples(
    session: &str,
    laps: u16,
    cars: usize,
    seed: u64,
) -> (Vec<Sample>, GroundTruth) {
    let mut race = Race::new(super::race(session, laps, cars, seed, 0.0));
    let (mut all, mut buf) = (Vec::new(), Vec::new());
    while !race.finished() {
        buf.clear();
        race.step(&mut buf);
        all.append(&mut buf);
    }
    (all, race.truth().clone())
}

/// Per car (laps, pit stops) as committed.
pub async fn laps_and_stops(db: &tokio_postgres::Client, session: &str) -> Vec<(u8, i64, i64)> {
    db.query(
        "SELECT a.car, (SELECT count(*) FROM laps l WHERE l.session_id = a.session_id AND l.car = a.car),
                (SELECT count(*) FROM pit_stops p WHERE p.session_id = a.session_id AND p.car = a.car)
           FROM car_accounting a WHERE a.session_id = $1 ORDER BY a.car",
        &[&session],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get::<_, i32>(0) as u8, r.get(1), r.get(2)))
    .collect()
}
