//! Dependencies going away, hanging and coming back, mid-race, on servers each test owns:
//! processing resumes by itself and every car's accounting stays exact (nothing lost,
//! nothing counted twice). Each test prints how long recovery took.

mod common;

use common::servers::{Postgres, Redis};
use common::{Env, assert_exactly_once, race, wait_until};
use pitstop_workloads::metrics::SimulatorMetrics;
use pitstop_workloads::processor::queries::wait_finished;
use pitstop_workloads::processor::{Processor, ProcessorConfig};
use pitstop_workloads::sim::publisher::{Progress, PublishConfig, PublishReport};
use pitstop_workloads::sim::service::run_race;
use reqwest::StatusCode;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

const KEY: &str = "chaos-test-key-not-a-secret";

fn processor_cfg(env: &Env) -> ProcessorConfig {
    let mut c = ProcessorConfig::new(&env.redis_url, &env.database_url, &env.keys.base);
    c.consumer = "chaos".into();
    c.lease_ttl = Duration::from_secs(3);
    c.api_key = Some(KEY.into());
    c.listen = Some("127.0.0.1:0".parse().unwrap());
    c
}

/// A paced race: 4 laps of Monza, 6 cars, at 40× real time (about 8 s of publishing).
fn start_race(env: &Env, session: &str) -> JoinHandle<anyhow::Result<PublishReport>> {
    let pace = PublishConfig {
        time_scale: Some(40.0),
        rate: None,
        batch_max: 64,
        maxlen: 1_000_000,
    };
    tokio::spawn(run_race(
        race(session, 4, 6, 21, 0.0),
        env.keys.clone(),
        env.target(),
        pace,
        SimulatorMetrics::new(),
        Arc::new(Progress::default()),
        Arc::new(AtomicBool::new(false)),
    ))
}

/// Samples committed so far, or `None` while the database is away.
async fn committed(database_url: &str) -> Option<i64> {
    let db = pitstop_workloads::db::connect(database_url).await.ok()?;
    db.query_one(
        "SELECT COALESCE(sum(samples), 0)::bigint FROM car_accounting",
        &[],
    )
    .await
    .ok()
    .map(|r| r.get(0))
}

/// From the moment a dependency is back: waits for the first commit after it (the count
/// read once the database answers, then a higher one); the time it took.
async fn resumed(database_url: &str) -> Duration {
    let t = Instant::now();
    let mut first: Option<i64> = None;
    loop {
        match (first, committed(database_url).await) {
            (None, Some(n)) => first = Some(n),
            (Some(before), Some(n)) if n > before => return t.elapsed(),
            _ => {}
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "processing did not resume within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Lets the race get going: until something is committed.
async fn underway(database_url: &str) -> i64 {
    let t = Instant::now();
    loop {
        if let Some(n) = committed(database_url).await.filter(|n| *n > 0) {
            return n;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the race never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn status(url: &str) -> StatusCode {
    match reqwest::get(url).await {
        Ok(r) => r.status(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Finishes the race and checks every car's count and sequence sum, then that the
/// processor says it is live and ready.
async fn finish_exactly_once(
    env: &Env,
    session: &str,
    p: Processor,
    publish: JoinHandle<anyhow::Result<PublishReport>>,
) {
    let report = publish.await.unwrap().unwrap();
    let db = env.db().await;
    wait_finished(&db, session, Duration::from_secs(90))
        .await
        .unwrap();
    assert_exactly_once(&db, session, &report.truth.published).await;
    let base = format!("http://{}", p.addr.unwrap());
    assert_eq!(status(&format!("{base}/health")).await, StatusCode::OK);
    assert_eq!(status(&format!("{base}/ready")).await, StatusCode::OK);
    p.shutdown().await;
}

/// A paced race through a processor on `env`: `fault` strikes once the race is underway;
/// then every car's accounting must be exact. Returns how long processing took to resume
/// after `fault` returned (the dependency back).
async fn race_with_fault(env: &Env, session: &str, fault: impl AsyncFnOnce()) -> Duration {
    let p = Processor::start(processor_cfg(env), None).await.unwrap();
    let publish = start_race(env, session);
    underway(&env.database_url).await;
    fault().await;
    let took = resumed(&env.database_url).await;
    finish_exactly_once(env, session, p, publish).await;
    took
}

/// Redis restarted mid-race (its append-only file keeps the streams): the publisher
/// resumes from its progress, the processor reconnects, every car exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_mid_race() {
    let mut redis = Redis::start(true);
    let env = Env::on("chaos_redis", redis.url(), Env::shared_database_url()).await;
    let took = race_with_fault(&env, "redis-restart", async || {
        redis.stop();
        tokio::time::sleep(Duration::from_secs(2)).await;
        redis.start_again();
    })
    .await;
    eprintln!("redis restart (2 s down): processing resumed {took:?} after Redis was back");
    env.cleanup().await;
}

/// Redis stalled (SIGSTOP) for 5 s mid-race: calls time out instead of hanging, and
/// processing resumes when it answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stall_mid_race() {
    let redis = Redis::start(true);
    let env = Env::on("chaos_stall", redis.url(), Env::shared_database_url()).await;
    let took = race_with_fault(&env, "redis-stall", async || {
        redis.pause();
        tokio::time::sleep(Duration::from_secs(5)).await;
        redis.resume();
    })
    .await;
    eprintln!("redis stall (5 s): processing resumed {took:?} after Redis answered again");
    env.cleanup().await;
}

/// PostgreSQL restarted mid-race: commits fail, partitions restart from their
/// checkpoints, and nothing is counted twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_mid_race() {
    let pg = Postgres::start();
    let env = Env::on("chaos_pg", Env::shared_redis_url(), pg.url()).await;
    let took = race_with_fault(&env, "pg-restart", async || {
        pg.stop();
        tokio::time::sleep(Duration::from_secs(2)).await;
        pg.start_again();
    })
    .await;
    eprintln!("postgres restart (2 s down): processing resumed {took:?} after it was back");
    env.cleanup().await;
}

async fn post(base: &str, body: &str) -> (StatusCode, serde_json::Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}/telemetry"))
        .header("X-API-Key", KEY)
        .header("Content-Type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let code = r.status();
    (code, r.json().await.unwrap_or_default())
}

fn samples(session: &str, car: u8, seqs: std::ops::Range<u32>) -> String {
    let lines: Vec<String> = seqs
        .map(|seq| {
            format!(
                r#"{{"session":"{session}","car":{car},"seq":{seq},"timestamp_ms":{},"speed_kph":250}}"#,
                1_756_646_882_000 + seq as i64 * 100
            )
        })
        .collect();
    lines.join("\n")
}

/// The issue's reproduction: a Redis without persistence killed and started again. The
/// processor's connections come back (it did not before: `/ready` stayed 503 and the log
/// repeated `broken pipe`), and new telemetry is processed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processor_reconnects_to_a_new_redis() {
    let mut redis = Redis::start(false);
    let env = Env::on("chaos_reconnect", redis.url(), Env::shared_database_url()).await;
    let p = Processor::start(processor_cfg(&env), None).await.unwrap();
    let base = format!("http://{}", p.addr.unwrap());
    let (code, body) = post(&base, &samples("before", 1, 0..10)).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{body}");
    redis.stop();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        status(&format!("{base}/ready")).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        status(&format!("{base}/health")).await,
        StatusCode::OK,
        "live while Redis is away: a restart would not bring it back"
    );
    redis.start_again();
    let t = Instant::now();
    let ready = format!("{base}/ready");
    wait_until(Duration::from_secs(30), "/ready once Redis is back", || {
        let ready = ready.clone();
        async move { status(&ready).await == StatusCode::OK }
    })
    .await;
    eprintln!("redis replaced: /ready after {:?}", t.elapsed());
    // The new Redis has no streams, no group, no leases: all are made again.
    let (code, body) = post(&base, &samples("after", 1, 0..10)).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{body}");
    let db = env.db().await;
    wait_until(Duration::from_secs(30), "the new samples processed", || {
        let db = &db;
        async move {
            common::accounting(db, "after")
                .await
                .first()
                .is_some_and(|(_, n, _, _)| *n == 10)
        }
    })
    .await;
    eprintln!(
        "redis replaced: new samples processed {:?} after it was back",
        t.elapsed()
    );
    p.shutdown().await;
    env.cleanup().await;
}

/// A client told "503, retry" while Redis stalled retries, as told: however the first
/// attempt ended, the samples are in the stream once. Then the session is finished and
/// takes no more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_ingest_counts_once() {
    let redis = Redis::start(true);
    let env = Env::on("chaos_retry", redis.url(), Env::shared_database_url()).await;
    let p = Processor::start(processor_cfg(&env), None).await.unwrap();
    let base = format!("http://{}", p.addr.unwrap());
    let (code, _) = post(&base, &samples("retry", 7, 0..50)).await;
    assert_eq!(code, StatusCode::ACCEPTED);
    redis.pause();
    let stalled = tokio::spawn({
        let base = base.clone();
        async move { post(&base, &samples("retry", 7, 50..100)).await }
    });
    tokio::time::sleep(Duration::from_secs(6)).await;
    redis.resume();
    let (code, body) = stalled.await.unwrap();
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    // The resend: 200 if the stalled append landed after all, 202 if it did not.
    let (code, body) = post(&base, &samples("retry", 7, 50..100)).await;
    assert!(code.is_success(), "{code} {body}");
    assert_eq!(
        body["accepted"].as_u64().unwrap() + body["duplicates"].as_u64().unwrap(),
        50
    );
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/sessions/retry/finish"))
        .header("X-API-Key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let db = env.db().await;
    wait_finished(&db, "retry", Duration::from_secs(30))
        .await
        .unwrap();
    assert_exactly_once(&db, "retry", &[(7u8, 100u64)].into()).await;
    // After the chequered flag, a resend of what the stream has is answered as there (a
    // client whose first try timed out before the finish must not be told "none is"),
    // a sample it never had is refused alone, and a request of only such samples is a
    // 409.
    let (code, body) = post(&base, &samples("retry", 7, 0..100)).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["duplicates"], 100, "{body}");
    let (code, body) = post(&base, &samples("retry", 7, 90..101)).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(
        (&body["duplicates"], &body["rejected"][0]["reason"]),
        (&10.into(), &"finished".into()),
        "{body}"
    );
    let (code, body) = post(&base, &samples("retry", 7, 100..101)).await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");
    // The finished session costs only its own samples, not a live session's beside
    // them in the body and partition (all of them were refused `finished`).
    let mixed = samples("retry", 7, 100..101) + "\n" + &samples("after", 7, 0..5);
    let (code, body) = post(&base, &mixed).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{body}");
    assert_eq!(
        (&body["accepted"], &body["rejected"][0]["reason"]),
        (&5.into(), &"finished".into()),
        "{body}"
    );
    p.shutdown().await;
    env.cleanup().await;
}

/// A port that accepts connections and never answers (a hung server).
fn silent_server() -> (std::net::TcpListener, u16) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

/// Sends SIGTERM to a child and waits for it, failing past `bound`.
fn terminate_within(mut child: std::process::Child, bound: Duration) -> Duration {
    let t = Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    loop {
        if child.try_wait().unwrap().is_some() {
            return t.elapsed();
        }
        if t.elapsed() > bound {
            let _ = child.kill();
            panic!("did not exit within {bound:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A database and a Redis that accept connections and never answer: the processor still
/// starts (and says what is missing), and both `process` and `simulate` end promptly on
/// SIGTERM instead of hanging.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_dependencies_do_not_hang_us() {
    let (_db_listener, db_port) = silent_server();
    let (_redis_listener, redis_port) = silent_server();
    let silent_db = format!("postgres://postgres@127.0.0.1:{db_port}/postgres");
    let silent_redis = format!("redis://127.0.0.1:{redis_port}");

    let mut cfg = ProcessorConfig::new(&Env::shared_redis_url(), &silent_db, "pitstop:test:hung");
    cfg.listen = Some("127.0.0.1:0".parse().unwrap());
    let t = Instant::now();
    let p = Processor::start(cfg, None).await.unwrap();
    eprintln!(
        "processor started against a silent database in {:?}",
        t.elapsed()
    );
    let base = format!("http://{}", p.addr.unwrap());
    let ready: serde_json::Value = reqwest::get(format!("{base}/ready"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["postgres"], false, "{ready}");
    assert_eq!(status(&format!("{base}/health")).await, StatusCode::OK);
    p.shutdown().await;

    let spawn = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_pitstop"))
            .args(args)
            .env("PITSTOP_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let process = spawn(&[
        "process",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        &silent_db,
        "--redis-url",
        &Env::shared_redis_url(),
    ]);
    std::thread::sleep(Duration::from_secs(1));
    let took = terminate_within(process, Duration::from_secs(15));
    eprintln!("process against a silent database: exited {took:?} after SIGTERM");
    let simulate = spawn(&[
        "simulate",
        "--listen",
        "127.0.0.1:0",
        "--redis-url",
        &silent_redis,
        "--laps",
        "1",
    ]);
    std::thread::sleep(Duration::from_secs(1));
    let took = terminate_within(simulate, Duration::from_secs(15));
    eprintln!("simulate against a silent Redis: exited {took:?} after SIGTERM");
}

/// Liveness: a work loop stuck in a call, or failing round after round while Redis
/// answers, fails `/health` (so the kubelet restarts the pod); one that fails because
/// Redis is away does not (a restart would not bring Redis back).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liveness_tells_a_stuck_loop_from_a_missing_redis() {
    use std::sync::atomic::Ordering;
    let mut redis = Redis::start(false);
    let env = Env::on("chaos_live", redis.url(), Env::shared_database_url()).await;
    let mut cfg = processor_cfg(&env);
    // One round at start, the next in 100 s: the test sets the heartbeat undisturbed.
    cfg.lease_ttl = Duration::from_secs(300);
    let p = Processor::start(cfg, None).await.unwrap();
    let base = format!("http://{}", p.addr.unwrap());
    let h = &p.shared.health;
    wait_until(Duration::from_secs(10), "the first lease round", || async {
        h.round_ok_ms.load(Ordering::Relaxed) > 0
    })
    .await;
    assert_eq!(p.shared.stall().await, None);
    let long_ago = pitstop_workloads::util::now_ms() - 3_600_000;
    h.round_ok_ms.store(long_ago, Ordering::Relaxed);
    assert!(matches!(
        p.shared.stall().await,
        Some(pitstop_workloads::processor::Stall::Failing { .. })
    ));
    let r = reqwest::get(format!("{base}/health")).await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    redis.stop();
    assert_eq!(
        p.shared.stall().await,
        None,
        "failing because Redis is away: live, not restarted"
    );
    h.beat_ms.store(long_ago, Ordering::Relaxed);
    assert!(matches!(
        p.shared.stall().await,
        Some(pitstop_workloads::processor::Stall::Wedged { .. })
    ));
    redis.start_again();
    p.shutdown().await;
    env.cleanup().await;
}

/// The `pitstop simulate` binary through a Redis restart mid-race: "publishing again
/// after the outage" is logged while the race still runs (it used to appear only at the
/// chequered flag), and the flag's `published` is every sample of the session (it used to
/// count the last attempt alone: 306,372 of 676,292 on a real node).
#[test]
fn the_simulator_says_when_publishing_resumes_and_counts_the_session() {
    use std::io::BufRead;
    let mut redis = Redis::start(true);
    let stream = format!("pitstop:test:sim-outage-{}", std::process::id());
    let keys = pitstop_workloads::stream::StreamKeys::new(&stream, 4);
    // The session's progress, one hash per partition (each holds its cars).
    let progress: Vec<String> = (0..keys.partitions)
        .map(|p| keys.progress("outage", p))
        .collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pitstop"))
        .args(["simulate", "--listen", "127.0.0.1:0", "--session", "outage"])
        .args(["--redis-url", &redis.url(), "--stream", &stream])
        .args(["--laps", "3", "--cars", "6", "--sample-hz", "10"])
        .args(["--time-scale", "30", "--exit-on-finish"])
        .env("PITSTOP_LOG", "info")
        .env("PITSTOP_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = std::sync::mpsc::channel::<serde_json::Value>();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let v = serde_json::from_str(&line).unwrap_or(serde_json::json!({"raw": line}));
            if tx.send(v).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let wait_for = |message: &str, seen: &mut Vec<serde_json::Value>| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no {message:?} in {seen:#?}"));
            seen.push(v.clone());
            if v["fields"]["message"] == message {
                return v;
            }
        }
    };
    let hash = |redis_url: &str| -> std::collections::HashMap<String, u64> {
        let mut con = redis::Client::open(redis_url)
            .unwrap()
            .get_connection()
            .unwrap();
        let mut all = std::collections::HashMap::new();
        for key in &progress {
            let one: std::collections::HashMap<String, u64> =
                redis::cmd("HGETALL").arg(key).query(&mut con).unwrap();
            all.extend(one);
        }
        all
    };
    wait_for("race started", &mut seen);
    wait_until_sync(Duration::from_secs(30), "publishing underway", || {
        hash(&redis.url()).keys().any(|k| k.starts_with("car:"))
    });
    redis.stop();
    std::thread::sleep(Duration::from_secs(1));
    redis.start_again();
    wait_for("publishing again after the outage", &mut seen);
    let at_resume = hash(&redis.url());
    assert!(
        !at_resume.contains_key("end"),
        "said at the chequered flag, not when publishing resumed: {seen:#?}"
    );
    let flag = wait_for("chequered flag", &mut seen);
    assert!(child.wait().unwrap().success());
    let session: u64 = hash(&redis.url())
        .iter()
        .filter(|(k, _)| k.starts_with("car:"))
        .map(|(_, n)| n)
        .sum();
    assert!(session > 0);
    assert_eq!(
        flag["fields"]["published"].as_u64(),
        Some(session),
        "the whole session: {flag}"
    );
}

/// Polls `done` every 20 ms until it holds, for at most `limit`.
fn wait_until_sync(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
