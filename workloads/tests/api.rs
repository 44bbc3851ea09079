//! The processor's HTTP API against real Redis and PostgreSQL.

mod common;

use common::{Env, wait_until};
use pitstop_workloads::model::Sample;
use pitstop_workloads::processor::{Processor, ProcessorConfig};
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;

const KEY: &str = "test-key-not-a-secret";

async fn start(env: &Env) -> (Processor, String) {
    let mut c = ProcessorConfig::new(&env.redis_url, &env.database_url, &env.keys.base);
    c.api_key = Some(KEY.into());
    c.listen = Some("127.0.0.1:0".parse().unwrap());
    c.max_body_bytes = 64 * 1024;
    c.consumer = "api".into();
    let p = Processor::start(c, None).await.unwrap();
    let base = format!("http://{}", p.addr.unwrap());
    (p, base)
}

fn sample(session: &str, car: u8, seq: u32) -> Sample {
    Sample {
        session: session.into(),
        car,
        seq,
        timestamp_ms: 1_725_800_000_000 + seq as i64 * 100,
        speed_kph: 250.0,
        ..Sample::example()
    }
}

/// Waits until `/metrics` contains `line`.
async fn metric_appears(base: &str, line: &str) {
    let url = format!("{base}/metrics");
    wait_until(Duration::from_secs(10), line, || {
        let url = url.clone();
        async move {
            reqwest::get(&url)
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
                .contains(line)
        }
    })
    .await;
}

async fn post(base: &str, key: Option<&str>, body: String) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{base}/telemetry"))
        .body(body);
    if let Some(k) = key {
        req = req.header("X-API-Key", k);
    }
    let resp = req.send().await.unwrap();
    let code = resp.status();
    (code, resp.json().await.unwrap_or(Value::Null))
}

/// Auth, validation and size limits answer precisely; a valid batch becomes visible.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_contract() {
    let env = Env::new("api").await;
    let (p, base) = start(&env).await;
    let one = serde_json::to_string(&sample("api-s", 16, 0)).unwrap();

    let (code, body) = post(&base, None, one.clone()).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert!(body["error"].as_str().unwrap().contains("missing API key"));
    assert_eq!(
        post(&base, Some("wrong"), one.clone()).await.0,
        StatusCode::UNAUTHORIZED
    );

    let (code, body) = post(&base, Some(KEY), "{\"session\": ".into()).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(
        body["error"].as_str().unwrap().contains("invalid JSON"),
        "{body}"
    );

    let bad = one.replace("\"throttle\":1.0", "\"throttle\":4.0");
    let (code, body) = post(&base, Some(KEY), bad).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "sample 0: throttle: 4 is outside 0..=1");

    let huge = format!("[{}]", vec![one.as_str(); 200].join(","));
    let (code, body) = post(&base, Some(KEY), huge).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("exceeds the limit of 65536 bytes"),
        "{body}"
    );

    // NDJSON, two cars, with the Bearer form of the key.
    let nd: Vec<String> = (0..3)
        .map(|i| serde_json::to_string(&sample("api-s", 16 + (i % 2) as u8 * 39, i)).unwrap())
        .collect();
    let resp = reqwest::Client::new()
        .post(format!("{base}/telemetry"))
        .header("Authorization", format!("Bearer {KEY}"))
        .header("Content-Type", "application/x-ndjson")
        .body(nd.join("\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert_eq!(resp.json::<Value>().await.unwrap()["accepted"], 3);

    let url = format!("{base}/api/v1/sessions/api-s");
    wait_until(
        Duration::from_secs(20),
        "ingested samples committed",
        || {
            let url = url.clone();
            async move {
                let v: Value = reqwest::get(&url)
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap_or(Value::Null);
                v["samples_processed"] == 3
            }
        },
    )
    .await;
    let list: Value = reqwest::get(format!("{base}/api/v1/sessions"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|s| s["session_id"] == "api-s")
    );
    for path in ["classification", "pitstops", "anomalies", "teams"] {
        let r = reqwest::get(format!("{base}/api/v1/sessions/api-s/{path}"))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
    }
    assert_eq!(
        reqwest::get(format!("{base}/api/v1/sessions/nope"))
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        reqwest::get(format!("{base}/ready"))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        reqwest::get(format!("{base}/health"))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    // Counters move just after the commit the API already shows: poll.
    metric_appears(&base, "pitstop_processor_messages_processed_total 3").await;
    metric_appears(
        &base,
        "pitstop_processor_ingest_requests_total{code=\"401\"} 2",
    )
    .await;
    p.shutdown().await;
    env.cleanup().await;
}

/// A corrupt entry is dead-lettered with its reason and acknowledged; processing goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_entries_are_dead_lettered() {
    let env = Env::new("dead").await;
    let (p, base) = start(&env).await;
    let mut con = env
        .redis()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let part = env.keys.partition(0);
    let _: String = redis::cmd("XADD")
        .arg(&part)
        .arg("*")
        .arg("d")
        .arg(b"PT\x01\x00garbage".as_slice())
        .query_async(&mut con)
        .await
        .unwrap();
    let _: String = redis::cmd("XADD")
        .arg(&part)
        .arg("*")
        .arg("m")
        .arg("{not json")
        .query_async(&mut con)
        .await
        .unwrap();
    let _: String = redis::cmd("XADD")
        .arg(&part)
        .arg("*")
        .arg("other")
        .arg("x")
        .query_async(&mut con)
        .await
        .unwrap();
    // A good sample after the bad ones is still processed.
    let (code, _) = post(
        &base,
        Some(KEY),
        serde_json::to_string(&sample("dl", 4, 0)).unwrap(),
    )
    .await;
    assert_eq!(code, StatusCode::ACCEPTED);
    let dead = env.keys.dead_letters();
    wait_until(
        Duration::from_secs(20),
        "three dead letters and the good sample",
        || {
            let (mut con, dead, m) = (con.clone(), dead.clone(), p.shared.metrics.clone());
            async move {
                let n: usize = redis::cmd("XLEN")
                    .arg(&dead)
                    .query_async(&mut con)
                    .await
                    .unwrap();
                n == 3 && m.processed.get() == 1
            }
        },
    )
    .await;
    let entries: redis::Value = redis::cmd("XRANGE")
        .arg(&dead)
        .arg("-")
        .arg("+")
        .query_async(&mut con)
        .await
        .unwrap();
    let text = format!("{entries:?}");
    for reason in ["truncated", "bad_marker", "missing_payload"] {
        assert!(text.contains(reason), "{reason} in {text}");
    }
    wait_until(Duration::from_secs(10), "nothing left pending", || {
        let (mut con, part) = (con.clone(), part.clone());
        async move {
            let v: redis::Value = redis::cmd("XPENDING")
                .arg(&part)
                .arg("processors")
                .query_async(&mut con)
                .await
                .unwrap();
            matches!(v, redis::Value::Array(ref a) if a.first() == Some(&redis::Value::Int(0)))
        }
    })
    .await;
    metric_appears(
        &base,
        "pitstop_processor_dead_letters_total{reason=\"truncated\"} 1",
    )
    .await;
    p.shutdown().await;
    env.cleanup().await;
}
