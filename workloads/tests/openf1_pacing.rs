//! `pitstop replay --openf1-session --speed N` keeps the race clock: twelve minutes of a
//! fake OpenF1 session at 180× take at least four seconds, and the race-control events
//! reach the processor as the clock passes them, not all at once.

mod common;
mod openf1_fake;

use common::Env;
use openf1_fake::{FakeOpenF1, SESSION_KEY, Script, race_control, synthetic};
use pitstop_workloads::processor::queries::wait_finished;
use pitstop_workloads::processor::{Processor, ProcessorConfig};
use std::process::Command;
use std::time::{Duration, Instant};

const KEY: &str = "openf1-pacing-key-not-a-secret";
/// 2025-08-31T13:00:00Z.
const T0: i64 = 1_756_645_200_000;
const SPEED: f64 = 180.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_race_clock_paces_samples_and_events() {
    let env = Env::new("openf1_pacing").await;
    let mut c = ProcessorConfig::new(&env.redis_url, &env.database_url, &env.keys.base);
    c.consumer = "pacing".into();
    c.api_key = Some(KEY.into());
    c.listen = Some("127.0.0.1:0".parse().unwrap());
    let p = Processor::start(c, None).await.unwrap();
    let base = format!("http://{}", p.addr.unwrap());
    // The safety car two minutes in, the green six minutes in: 4 min of race apart.
    let (sc, green) = (T0 + 120_000, T0 + 360_000);
    let rc = vec![
        race_control(sc, "SafetyCar", None, "SAFETY CAR DEPLOYED"),
        race_control(green, "Flag", Some("GREEN"), "TRACK CLEAR"),
    ];
    let fake = FakeOpenF1::start(
        synthetic(T0, &[(1, "VER", "Red Bull Racing")], 12, rc),
        Script::default(),
    )
    .await;

    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_pitstop"))
        .args(["replay", "--openf1-session", &SESSION_KEY.to_string()])
        .args([
            "--openf1-url",
            &fake.url,
            "--api-url",
            &base,
            "--session",
            "paced",
        ])
        .args(["--speed", &SPEED.to_string(), "--quiet"])
        .env("STREAM_PROCESSOR_API_KEY", KEY)
        .output()
        .unwrap();
    let took = t.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The samples span 12 minutes of race: 4 s at 180×.
    let race_s = 12.0 * 60.0 / SPEED;
    assert!(took.as_secs_f64() >= race_s - 0.1, "{took:?}");

    let db = env.db().await;
    wait_finished(&db, "paced", Duration::from_secs(30))
        .await
        .unwrap();
    let apart: f64 = db
        .query_one(
            "SELECT extract(epoch FROM max(received_at) - min(received_at))::float8 FROM session_events WHERE session_id = 'paced'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let want = (green - sc) as f64 / 1000.0 / SPEED;
    assert!(
        (want * 0.8..want + 1.0).contains(&apart),
        "events {apart:.2} s apart, the race clock says {want:.2} s"
    );
    p.shutdown().await;
    env.cleanup().await;
}
