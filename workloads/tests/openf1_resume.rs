//! `pitstop replay --openf1-session` stopped midway and run again, against a fake OpenF1
//! API of the test's own and a real processor (Redis, PostgreSQL): the API failing for
//! good after some pages, and the replay process killed while it waits on a page. Run
//! again, the session ends with every car's samples stored exactly once (counts equal to
//! the car data served, sequence numbers 0..n), its race control stored once as session
//! events, and the laps under the safety car neutralised.

mod common;
mod openf1_fake;

use common::{Env, assert_exactly_once, wait_until};
use openf1_fake::{FakeOpenF1, SESSION_KEY, Script, race_control, synthetic};
use pitstop_workloads::feeds::openf1_fetch::{Fetcher, RetryPolicy};
use pitstop_workloads::feeds::openf1_live::{LiveOptions, LiveSession};
use pitstop_workloads::feeds::{Dirt, FeedOptions};
use pitstop_workloads::processor::queries::wait_finished;
use pitstop_workloads::processor::{Processor, ProcessorConfig};
use pitstop_workloads::replay::{LiveReport, ReplayProgress, openf1_to_api};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

const KEY: &str = "openf1-test-key-not-a-secret";
/// 2025-08-31T13:00:00Z.
const T0: i64 = 1_756_645_200_000;
const CARS: [(u8, &str, &str); 3] = [
    (1, "VER", "Red Bull Racing"),
    (4, "NOR", "McLaren"),
    (16, "LEC", "Ferrari"),
];
/// The safety car: deployed 4 min 10 s in, the track clear 6 min 5 s in.
const SC: (i64, i64) = (T0 + 250_000, T0 + 365_000);

async fn processor(env: &Env) -> (Processor, String) {
    let mut c = ProcessorConfig::new(&env.redis_url, &env.database_url, &env.keys.base);
    c.consumer = "openf1".into();
    c.api_key = Some(KEY.into());
    c.listen = Some("127.0.0.1:0".parse().unwrap());
    let p = Processor::start(c, None).await.unwrap();
    let base = format!("http://{}", p.addr.unwrap());
    (p, base)
}

/// Twelve minutes of three cars, with a safety car, served from the start of the
/// session; `script` says when the API breaks.
async fn fake(script: Script) -> FakeOpenF1 {
    let rc = vec![
        race_control(SC.0, "SafetyCar", None, "SAFETY CAR DEPLOYED"),
        race_control(T0 + 330_000, "SafetyCar", None, "SAFETY CAR IN THIS LAP"),
        race_control(SC.1, "Flag", Some("CLEAR"), "TRACK CLEAR"),
        race_control(
            T0 + 400_000,
            "Flag",
            Some("YELLOW"),
            "YELLOW IN TRACK SECTOR 3",
        ),
    ];
    FakeOpenF1::start(synthetic(T0, &CARS, 12, rc), script).await
}

/// Car data served per car: what each car must end with.
fn served(f: &FakeOpenF1) -> BTreeMap<u8, u64> {
    let mut n = BTreeMap::new();
    for r in f.records("car_data") {
        *n.entry(r["driver_number"].as_u64().unwrap() as u8)
            .or_default() += 1;
    }
    n
}

fn quick() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
        ..RetryPolicy::default()
    }
}

/// One run of the library's live replay: two-minute windows, flat out.
async fn run(f: &FakeOpenF1, base: &str, session: &str) -> (anyhow::Result<LiveReport>, u64) {
    let fetcher = Fetcher::new(&f.url, quick()).unwrap();
    let opts = LiveOptions {
        session_key: SESSION_KEY,
        feed: FeedOptions {
            session: Some(session.into()),
            ..FeedOptions::default()
        },
        circuit: None,
        window_ms: 120_000,
    };
    let live = LiveSession::open(&fetcher, &opts, &mut Dirt::default())
        .await
        .unwrap();
    let progress = Arc::new(ReplayProgress::default());
    let r = openf1_to_api(fetcher, live, base, KEY, None, &progress, false).await;
    (r, progress.sent.load(Ordering::Relaxed))
}

/// What the session must end with: each car's samples once, per the API too; the two
/// race-control events once, one safety-car period; exactly the laps that overlap it
/// neutralised.
async fn check_session(env: &Env, base: &str, session: &str, want: &BTreeMap<u8, u64>) {
    let db = env.db().await;
    wait_finished(&db, session, Duration::from_secs(60))
        .await
        .unwrap();
    assert_exactly_once(&db, session, want).await;
    let cars: Vec<Value> = reqwest::get(format!("{base}/api/v1/sessions/{session}/cars"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let counted: BTreeMap<u8, u64> = cars
        .iter()
        .map(|c| {
            (
                c["car"].as_u64().unwrap() as u8,
                c["samples"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(&counted, want);

    let events: Value = reqwest::get(format!("{base}/api/v1/sessions/{session}/events"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds: Vec<(i64, &str)> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["at_ms"].as_i64().unwrap(), e["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, [(SC.0, "safety_car"), (SC.1, "green")]);
    assert_eq!(
        events["periods"],
        serde_json::json!([{"kind": "safety_car", "begin_ms": SC.0, "end_ms": SC.1}])
    );

    // Steady pace throughout: only the period can neutralise a lap.
    let laps = db
        .query(
            "SELECT car, lap, crossed_at_ms - lap_time_ms, crossed_at_ms, neutralised FROM lap_status WHERE session_id = $1",
            &[&session],
        )
        .await
        .unwrap();
    assert!(laps.len() >= 3 * 7, "{} laps", laps.len());
    let mut neutralised = 0;
    for r in &laps {
        let (start, end): (i64, i64) = (r.get(2), r.get(3));
        let overlaps = start < SC.1 && end > SC.0;
        let lap: i32 = r.get(1);
        assert_eq!(
            r.get::<_, bool>(4),
            overlaps,
            "car {} lap {lap}",
            r.get::<_, i32>(0)
        );
        neutralised += overlaps as usize;
    }
    assert!(
        neutralised >= 3 * 2,
        "{neutralised} laps under the safety car"
    );
}

/// The API fails for good after 20 pages: the run stops with an error naming the page;
/// run again on the healthy API, it resends what was stored (all recognised) and sends
/// the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_resumes_without_duplicates() {
    let env = Env::new("openf1_resume").await;
    let (p, base) = processor(&env).await;
    let f = fake(Script {
        fail_after_pages: Some(20),
        ..Script::default()
    })
    .await;
    let want = served(&f);
    let total: u64 = want.values().sum();

    let (r, sent) = run(&f, &base, "resumed").await;
    let err = format!("{:#}", r.unwrap_err());
    assert!(
        err.contains("of session 9912, driver ")
            && err.contains("still failing after 3 attempts (last: HTTP 500)"),
        "{err}"
    );
    assert!(
        0 < sent && sent < total,
        "{sent} of {total} sent before the failure"
    );

    f.script(|s| s.fail_after_pages = None);
    let (r, _) = run(&f, &base, "resumed").await;
    let report = r.unwrap();
    assert_eq!(
        report.answered.duplicates, sent,
        "what the first run stored"
    );
    assert_eq!(report.answered.accepted, total - sent);
    assert_eq!(report.events_stored + report.events_duplicates, 2);
    assert_eq!(report.answered.rejected, 0);
    check_session(&env, &base, "resumed", &want).await;
    p.shutdown().await;
    env.cleanup().await;
}

/// `pitstop replay --openf1-session`, with its key from the environment.
fn replay(f: &FakeOpenF1, base: &str, session: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pitstop"));
    c.args(["replay", "--openf1-session", &SESSION_KEY.to_string()])
        .args([
            "--openf1-url",
            &f.url,
            "--api-url",
            base,
            "--session",
            session,
        ])
        .args(["--speed", "max", "--openf1-window-min", "2", "--quiet"])
        .env("STREAM_PROCESSOR_API_KEY", KEY);
    c
}

/// The replay process killed (SIGKILL) while it waits on a page, then the same command
/// run again to the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replay_run_again_stores_each_sample_once() {
    let env = Env::new("openf1_kill").await;
    let (p, base) = processor(&env).await;
    let f = fake(Script {
        hang_after_pages: Some(26),
        ..Script::default()
    })
    .await;
    let want = served(&f);

    let mut child = replay(&f, &base, "killed")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until(
        Duration::from_secs(60),
        "the replay to wait on a hung page",
        || async { f.seen(|s| s.requests > s.pages) },
    )
    .await;
    // Samples of the windows before are in the stream: the kill comes midway.
    let (redis, hash) = (
        env.redis(),
        env.keys.ingested("killed", env.keys.partition_of(1)),
    );
    wait_until(
        Duration::from_secs(30),
        "samples taken before the kill",
        || {
            let (redis, hash) = (redis.clone(), hash.clone());
            async move {
                let mut con = redis.get_multiplexed_async_connection().await.unwrap();
                let n: Option<u64> = redis::cmd("HGET")
                    .arg(hash)
                    .arg("car:1")
                    .query_async(&mut con)
                    .await
                    .unwrap();
                n.is_some_and(|n| n > 0)
            }
        },
    )
    .await;
    child.kill().unwrap();
    child.wait().unwrap();

    f.script(|s| s.hang_after_pages = None);
    let out = replay(&f, &base, "killed").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("already there"), "{stdout}");
    check_session(&env, &base, "killed", &want).await;

    // Once more (a Job's retry after the end): nothing fetched, nothing sent.
    let pages = f.seen(|s| s.requests);
    let out = replay(&f, &base, "killed").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert_eq!(
        stdout.trim(),
        "session killed is already finished: nothing left to send"
    );
    assert_eq!(f.seen(|s| s.requests), pages);
    p.shutdown().await;
    env.cleanup().await;
}
