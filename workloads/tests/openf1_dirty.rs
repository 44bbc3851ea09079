//! Dirty OpenF1 pages through `pitstop replay --openf1-session`: an impossible value is
//! made unknown and a record without a speed is left out, both said at the end with
//! the page they were on (never skipped silently); `--strict` stops at the first instead,
//! naming the page and the record.

mod common;
mod openf1_fake;

use common::{Env, accounting};
use openf1_fake::{FakeOpenF1, SESSION_KEY, Script, synthetic};
use pitstop_workloads::processor::queries::wait_finished;
use pitstop_workloads::processor::{Processor, ProcessorConfig};
use std::process::{Command, Output};
use std::time::Duration;

const KEY: &str = "openf1-dirty-key-not-a-secret";
/// 2025-08-31T13:00:00Z.
const T0: i64 = 1_756_645_200_000;

fn replay(fake: &FakeOpenF1, base: &str, session: &str, strict: bool) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pitstop"));
    c.args(["replay", "--openf1-session", &SESSION_KEY.to_string()])
        .args([
            "--openf1-url",
            &fake.url,
            "--api-url",
            base,
            "--session",
            session,
        ])
        .args(["--speed", "max", "--quiet"])
        .env("STREAM_PROCESSOR_API_KEY", KEY);
    if strict {
        c.arg("--strict");
    }
    c.output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dirty_pages_are_said_or_refused() {
    let env = Env::new("openf1_dirty").await;
    let mut c = ProcessorConfig::new(&env.redis_url, &env.database_url, &env.keys.base);
    c.consumer = "dirty".into();
    c.api_key = Some(KEY.into());
    c.listen = Some("127.0.0.1:0".parse().unwrap());
    let p = Processor::start(c, None).await.unwrap();
    let base = format!("http://{}", p.addr.unwrap());
    let mut race = synthetic(T0, &[(1, "VER", "Red Bull Racing")], 3, vec![]);
    let car_data = race.get_mut("car_data").unwrap();
    let served = car_data.len() as i64;
    car_data[10]["throttle"] = 130.into();
    car_data[20]["speed"] = serde_json::Value::Null;
    let fake = FakeOpenF1::start(race, Script::default()).await;

    let out = replay(&fake, &base, "dirty", false);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    for said in [
        "dirty input: 1 values made unknown, 1 rows or records left out",
        "car_data of session 9912, driver 1, 2025-08-31T12:59:00.000 to 2025-08-31T13:04:00.000 UTC (and its location):",
        "1 throttle values out_of_range -> unknown (first: record 10",
        "1 left out, required (first: record 20",
    ] {
        assert!(stdout.contains(said), "{said:?} not in:\n{stdout}");
    }
    let db = env.db().await;
    wait_finished(&db, "dirty", Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(accounting(&db, "dirty").await[0].1, served - 1);

    let out = replay(&fake, &base, "strict", true);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("car_data of session 9912, driver 1,")
            && stderr.contains("record 10: car_data throttle: 130 is outside 0..=105"),
        "{stderr}"
    );
    p.shutdown().await;
    env.cleanup().await;
}
