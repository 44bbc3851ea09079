//! The post-race pipeline's steps against real Redis and PostgreSQL: a clean race passes
//! every step, the team summary matches an independent computation from the archived raw
//! samples, re-running a step changes nothing, injected bad data fails data quality with
//! the right check named, the report renders and is served, and the notification reaches a
//! local webhook and is retried on 500.

mod common;

use common::{Env, race};
use pitstop_workloads::jobs::{JobArgs, Step, execute, notify, quality};
use pitstop_workloads::metrics::SimulatorMetrics;
use pitstop_workloads::processor::queries::wait_finished;
use pitstop_workloads::processor::{Processor, ProcessorConfig};
use pitstop_workloads::sim::publisher::{Progress, PublishConfig};
use pitstop_workloads::sim::service::run_race;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SESSION: &str = "jobs";

/// A finished 6-lap race of 8 cars (two Ferraris), processed, with its processor.
async fn finished_race(env: &Env) -> Processor {
    let mut cfg = ProcessorConfig::new(&env.redis_url, &env.database_url, &env.keys.base);
    cfg.consumer = "jobs".into();
    cfg.listen = Some("127.0.0.1:0".parse().unwrap());
    let p = Processor::start(cfg, None).await.unwrap();
    run_race(
        race(SESSION, 6, 8, 11, 0.2),
        env.keys.clone(),
        env.target(),
        PublishConfig {
            time_scale: None,
            rate: None,
            batch_max: 64,
            maxlen: 1_000_000,
        },
        SimulatorMetrics::new(),
        Arc::new(Progress::default()),
        Arc::new(AtomicBool::new(false)),
    )
    .await
    .unwrap();
    let db = env.db().await;
    wait_finished(&db, SESSION, Duration::from_secs(60))
        .await
        .unwrap();
    p
}

fn args(task: &str) -> JobArgs {
    common::job_args(SESSION, task)
}

async fn teams(db: &tokio_postgres::Client) -> Vec<String> {
    db.query(
        "SELECT DISTINCT team FROM car_accounting WHERE session_id = $1 ORDER BY team",
        &[&SESSION],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// What the raw samples say per team, computed here without the processor's tables.
#[derive(Debug, Default)]
struct Independent {
    laps: i64,
    top_speed: f32,
    stops: Vec<f64>,
    green_laps_ms: Vec<f64>,
}

async fn independent(db: &tokio_postgres::Client) -> BTreeMap<String, Independent> {
    let rows = db
        .query(
            "SELECT team, car, lap, timestamp_ms, speed_kph, pit_status FROM telemetry_raw
              WHERE session_id = $1 ORDER BY car, seq",
            &[&SESSION],
        )
        .await
        .unwrap();
    let mut out: BTreeMap<String, Independent> = BTreeMap::new();
    // Per car: first timestamp of each lap, whether the lap saw the pit lane, stationary runs.
    let mut by_car: BTreeMap<i32, Vec<&tokio_postgres::Row>> = BTreeMap::new();
    for r in &rows {
        by_car.entry(r.get(1)).or_default().push(r);
    }
    for samples in by_car.values() {
        let team: String = samples[0].get(0);
        let t = out.entry(team).or_default();
        let mut lap_start: BTreeMap<i32, i64> = BTreeMap::new();
        let mut pit_laps = std::collections::BTreeSet::new();
        let mut stationary_from: Option<i64> = None;
        let mut last_ts = 0;
        let max_lap: i32 = samples.iter().map(|r| r.get::<_, i32>(2)).max().unwrap();
        for r in samples {
            let (lap, ts, speed, pit): (i32, i64, f32, String) =
                (r.get(2), r.get(3), r.get(4), r.get(5));
            let pit = pit.as_str();
            lap_start.entry(lap).or_insert(ts);
            if lap < max_lap {
                t.top_speed = t.top_speed.max(speed);
            }
            if pit != "none" {
                pit_laps.insert(lap);
            }
            match (pit == "stationary", stationary_from) {
                (true, None) => stationary_from = Some(ts),
                (false, Some(from)) => {
                    t.stops.push((last_ts - from) as f64 / 1000.0);
                    stationary_from = None;
                }
                _ => {}
            }
            last_ts = ts;
        }
        // The final sample is the crossing of the last timed lap.
        t.laps += (max_lap - 1) as i64;
        for lap in 2..max_lap {
            let green = !pit_laps.contains(&lap) && !pit_laps.contains(&(lap - 1));
            if let (Some(a), Some(b), true) =
                (lap_start.get(&lap), lap_start.get(&(lap + 1)), green)
            {
                t.green_laps_ms.push((b - a) as f64);
            }
        }
    }
    out
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_race_passes_every_step_and_matches_the_raw_data() {
    let env = Env::new("jobs_clean").await;
    let processor = finished_race(&env).await;
    let redis = env.target();
    let mut db = env.db().await;

    // collect-telemetry archives every committed sample, then trims the stream.
    let done = execute(
        Step::CollectTelemetry,
        &mut db,
        &redis,
        &env.keys,
        &args("collect-telemetry"),
    )
    .await
    .unwrap();
    assert!(done.contains("archived"), "{done}");
    let committed: i64 = db
        .query_one(
            "SELECT sum(samples)::bigint FROM car_accounting WHERE session_id = $1",
            &[&SESSION],
        )
        .await
        .unwrap()
        .get(0);
    let archived: i64 = db
        .query_one(
            "SELECT count(*) FROM telemetry_raw WHERE session_id = $1",
            &[&SESSION],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(archived, committed);
    let mut con = env
        .redis()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    for (_, key) in env.keys.all_partitions() {
        let len: i64 = redis::cmd("XLEN")
            .arg(&key)
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(len, 0, "{key} trimmed after the archive was verified");
    }
    // Again: nothing left to read, nothing added, still verified.
    let again = execute(
        Step::CollectTelemetry,
        &mut db,
        &redis,
        &env.keys,
        &args("collect-telemetry"),
    )
    .await
    .unwrap();
    assert!(
        again.contains(&format!("archived {archived} samples")) && again.contains("0 read now"),
        "{again}"
    );

    // persist-teams, one task per team, twice (idempotent).
    let team_names = teams(&db).await;
    assert!(team_names.contains(&"Ferrari".to_string()));
    for _ in 0..2 {
        for team in &team_names {
            let mut a = args(&format!("persist-{team}"));
            a.team = Some(team.clone());
            execute(Step::PersistTeams, &mut db, &redis, &env.keys, &a)
                .await
                .unwrap();
        }
    }
    let r = db
        .query_one(
            "SELECT (SELECT count(*) FROM team_laps WHERE session_id = $1), (SELECT count(*) FROM laps WHERE session_id = $1),
                    (SELECT count(*) FROM team_pit_stops WHERE session_id = $1), (SELECT count(*) FROM pit_stops WHERE session_id = $1)",
            &[&SESSION],
        )
        .await
        .unwrap();
    assert_eq!(
        r.get::<_, i64>(0),
        r.get::<_, i64>(1),
        "every lap in its team's partition, once"
    );
    assert_eq!(r.get::<_, i64>(2), r.get::<_, i64>(3));

    // data-quality passes and stores its report.
    let report = quality::evaluate(&db, SESSION).await.unwrap();
    assert!(report.passed, "{}", report.violations());
    execute(
        Step::DataQuality,
        &mut db,
        &redis,
        &env.keys,
        &args("data-quality"),
    )
    .await
    .unwrap();
    let passed: bool = db
        .query_one(
            "SELECT passed FROM dq_reports WHERE session_id = $1 AND run_id = 'run-1'",
            &[&SESSION],
        )
        .await
        .unwrap()
        .get(0);
    assert!(passed);

    // aggregate: compare with the raw samples.
    execute(
        Step::Aggregate,
        &mut db,
        &redis,
        &env.keys,
        &args("aggregate"),
    )
    .await
    .unwrap();
    let mut raw = independent(&db).await;
    let rows = db
        .query(
            "SELECT team, laps, top_speed_kph, pit_stops, mean_stationary_s, median_lap_ms, pace_delta_to_ferrari_ms, best_lap_ms
               FROM telemetry_team_summary WHERE session_id = $1 ORDER BY team",
            &[&SESSION],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), team_names.len(), "one row per team");
    let ferrari_median = median(&mut raw.get_mut("Ferrari").unwrap().green_laps_ms.clone());
    for r in &rows {
        let team: String = r.get(0);
        let t = raw.get_mut(&team).unwrap();
        assert_eq!(r.get::<_, i32>(1) as i64, t.laps, "{team}: laps");
        let top: f32 = r.get(2);
        assert!(
            (top - t.top_speed).abs() < 1.0,
            "{team}: top speed {top} vs raw {}",
            t.top_speed
        );
        assert_eq!(r.get::<_, i32>(3) as usize, t.stops.len(), "{team}: stops");
        if !t.stops.is_empty() {
            let raw_mean = t.stops.iter().sum::<f64>() / t.stops.len() as f64;
            let mean: f64 = r.get(4);
            // The raw estimate stops at the last stationary sample: within one sample (0.1 s).
            assert!(
                (mean - raw_mean).abs() <= 0.15,
                "{team}: mean stationary {mean} vs raw {raw_mean}"
            );
        }
        let med: f64 = r.get(5);
        let raw_med = median(&mut t.green_laps_ms);
        assert!(
            (med - raw_med).abs() <= 150.0,
            "{team}: median lap {med} vs raw {raw_med}"
        );
        let delta: f64 = r.get(6);
        assert!(
            (delta - (raw_med - ferrari_median)).abs() <= 300.0,
            "{team}: pace delta {delta} vs raw {}",
            raw_med - ferrari_median
        );
        let best: i32 = r.get(7);
        let raw_best = t.green_laps_ms.iter().copied().fold(f64::MAX, f64::min);
        assert!(
            (best as f64 - raw_best).abs() <= 150.0,
            "{team}: best lap {best} vs raw {raw_best}"
        );
    }
    let ferrari: f64 = rows
        .iter()
        .find(|r| r.get::<_, String>(0) == "Ferrari")
        .unwrap()
        .get(6);
    assert_eq!(ferrari, 0.0, "Ferrari's delta to itself");
    let drivers: i64 = db
        .query_one(
            "SELECT count(*) FROM telemetry_driver_summary WHERE session_id = $1",
            &[&SESSION],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(drivers, 8);

    // report: rendered, stored, served by the processor.
    execute(Step::Report, &mut db, &redis, &env.keys, &args("report"))
        .await
        .unwrap();
    let url = format!(
        "http://{}/api/v1/sessions/{SESSION}/report",
        processor.addr.unwrap()
    );
    let resp = common::contract::get(&url).await;
    assert_eq!(resp.status, 200);
    assert!(resp.content_type.unwrap().starts_with("text/html"));
    let html = resp.text;
    assert_eq!(html.matches("<svg").count(), 6, "six charts");
    for needle in [
        "Lap times",
        "Pit-stop stationary times by team",
        "Tyre degradation",
        "Anomalies per lap",
        "Live strategy calls",
        "within one place",
        "Ferrari",
        "LEC",
    ] {
        assert!(html.contains(needle), "report mentions {needle}");
    }
    // The strategy of the finished race: every classified car on the board, in order,
    // with the pit loss measured from its stops or the circuit's default; no call is made
    // after the flag (no rejoin, undercut or window).
    let base = format!("http://{}", processor.addr.unwrap());
    let resp = common::contract::get(format!("{base}/api/v1/sessions/{SESSION}/strategy")).await;
    assert_eq!(resp.status, 200);
    let s = resp.json;
    assert_eq!(s["session_id"], SESSION);
    assert_eq!(s["total_laps"], 6);
    let cars = s["cars"].as_array().unwrap();
    assert_eq!(cars.len(), 8, "{s}");
    for (i, c) in cars.iter().enumerate() {
        assert_eq!(c["position"], i + 1, "{c}");
        assert!(c["rejoin"].is_null(), "after the flag: {c}");
        assert!(c["undercut"]["ahead"].is_null() && c["undercut"]["behind"].is_null());
        assert!(
            c["window_hidden"]
                .as_str()
                .is_some_and(|w| w.starts_with("the race is over")),
            "{c}"
        );
        // Six laps: no stint has five green laps, so no fit is shown, and says why.
        assert!(c["degradation"].is_null(), "{c}");
        assert!(
            c["degradation_hidden"].as_str().unwrap().contains("needed"),
            "{c}"
        );
    }
    assert!(s["pit_loss"]["ms"].as_f64().unwrap() > 5_000.0, "{s}");
    assert!(["measured", "default"].contains(&s["pit_loss"]["source"].as_str().unwrap()));
    let missing = common::contract::get(format!("{base}/api/v1/sessions/nope/strategy")).await;
    assert_eq!(missing.status, 404);
    if let Ok(dir) = std::env::var("PITSTOP_REPORT_OUT") {
        std::fs::write(std::path::Path::new(&dir).join("report.html"), &html).unwrap();
    }

    // season-report over what was aggregated.
    execute(
        Step::SeasonReport,
        &mut db,
        &redis,
        &env.keys,
        &args("season"),
    )
    .await
    .unwrap();
    let sessions: i32 = db
        .query_one("SELECT sessions FROM season_reports", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(sessions, 1);

    // Every attempt is on record.
    let recorded: Vec<(String, String)> = db
        .query(
            "SELECT task, outcome FROM pipeline_task_runs WHERE session_id = $1 AND run_id = 'run-1' ORDER BY started_at",
            &[&SESSION],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get::<_, Option<String>>(1).unwrap_or_default()))
        .collect();
    assert!(
        recorded.iter().all(|(_, o)| o == "succeeded"),
        "{recorded:?}"
    );
    assert!(recorded.iter().any(|(t, _)| t == "aggregate"));

    processor.shutdown().await;
    env.cleanup().await;
}

/// Gaps, duplicates and impossible values each fail data quality, naming the check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_data_fails_quality_with_the_check_named() {
    let env = Env::new("jobs_bad").await;
    let processor = finished_race(&env).await;
    let redis = env.target();
    let mut db = env.db().await;
    execute(
        Step::CollectTelemetry,
        &mut db,
        &redis,
        &env.keys,
        &args("collect-telemetry"),
    )
    .await
    .unwrap();
    assert!(quality::evaluate(&db, SESSION).await.unwrap().passed);
    let failing = |r: &quality::Report| -> Vec<&'static str> {
        r.checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name)
            .collect()
    };

    // A gap: one of car 16's green laps in the middle of the race disappears.
    let lap: i32 = db
        .query_one(
            "SELECT min(lap) FROM lap_status WHERE session_id = $1 AND car = 16 AND green
                AND lap < (SELECT max(lap) FROM laps WHERE session_id = $1 AND car = 16)",
            &[&SESSION],
        )
        .await
        .unwrap()
        .get(0);
    let n = db
        .execute(
            "DELETE FROM laps WHERE session_id = $1 AND car = 16 AND lap = $2",
            &[&SESSION, &lap],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    let r = quality::evaluate(&db, SESSION).await.unwrap();
    assert_eq!(failing(&r), ["lap_completeness"], "{}", r.violations());
    assert!(r.violations().contains("car 16"), "{}", r.violations());

    // A duplicate: one sample stored again under a new sequence number.
    db.execute(
        "INSERT INTO telemetry_raw SELECT session_id, car, seq + 1000000, driver, team, lap, sector, lap_distance_m, timestamp_ms,
                speed_kph, rpm, gear, throttle, brake, tyre_surface_c, tyre_pressure_psi, brake_temp_c, tyre_wear_pct, compound,
                tyre_age_laps, fuel_kg, engine_temp_c, pit_status, position
           FROM telemetry_raw WHERE session_id = $1 AND car = 1 AND seq = 100",
        &[&SESSION],
    )
    .await
    .unwrap();
    let r = quality::evaluate(&db, SESSION).await.unwrap();
    let f = failing(&r);
    assert!(
        f.contains(&"duplicates") && f.contains(&"telemetry_count"),
        "{f:?}"
    );

    // An impossible value.
    db.execute(
        "UPDATE telemetry_raw SET speed_kph = 912 WHERE session_id = $1 AND car = 4 AND seq = 50",
        &[&SESSION],
    )
    .await
    .unwrap();
    let err = execute(
        Step::DataQuality,
        &mut db,
        &redis,
        &env.keys,
        &args("data-quality"),
    )
    .await
    .unwrap_err()
    .to_string();
    for check in [
        "lap_completeness",
        "duplicates",
        "value_ranges",
        "car 4 seq 50 (912 km/h",
    ] {
        assert!(err.contains(check), "{check} in: {err}");
    }
    let passed: bool = db
        .query_one(
            "SELECT passed FROM dq_reports WHERE session_id = $1",
            &[&SESSION],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!passed);
    let outcome: String = db
        .query_one(
            "SELECT outcome FROM pipeline_task_runs WHERE task = 'data-quality'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(outcome, "failed");
    processor.shutdown().await;
    env.cleanup().await;
}

/// A local webhook that fails `fail_first` times with 500, then accepts; it records bodies.
async fn webhook(
    fail_first: usize,
    status_after: u16,
) -> (String, Arc<Mutex<Vec<serde_json::Value>>>, Arc<AtomicUsize>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let calls = Arc::new(AtomicUsize::new(0));
    let (s, c) = (seen.clone(), calls.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<serde_json::Value>| {
            let (s, c) = (s.clone(), c.clone());
            async move {
                let n = c.fetch_add(1, Ordering::SeqCst);
                s.lock().unwrap().push(body);
                if n < fail_first {
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    axum::http::StatusCode::from_u16(status_after).unwrap()
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), seen, calls)
}

/// The summary reaches the webhook after two 500s; a 4xx is not retried; no URL only logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notification_is_delivered_and_retried() {
    let env = Env::new("jobs_notify").await;
    let processor = finished_race(&env).await;
    let redis = env.target();
    let mut db = env.db().await;

    let (url, seen, calls) = webhook(2, 200).await;
    let mut a = args("notify");
    a.webhook_url = Some(url);
    a.report_url = Some("http://reports.example/jobs".into());
    let done = execute(Step::Notify, &mut db, &redis, &env.keys, &a)
        .await
        .unwrap();
    assert_eq!(done, "notification delivered");
    assert_eq!(calls.load(Ordering::SeqCst), 3, "two 500s, then delivered");
    let body = seen.lock().unwrap().last().cloned().unwrap();
    let text = body["text"].as_str().unwrap();
    assert!(
        text.contains(":checkered_flag: *jobs* finished")
            && text.contains("Report: http://reports.example/jobs"),
        "{text}"
    );

    let (url, _, calls) = webhook(0, 404).await;
    let err = notify::post(&url, "x", 4, Duration::from_millis(10))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("HTTP 404"), "{err}");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "a 4xx is not retried");

    // The pipeline's final task: the outcome, with the failed tasks named.
    let (url, seen, _) = webhook(0, 200).await;
    let mut a = args("on-exit");
    a.webhook_url = Some(url);
    a.outcome = Some(false);
    a.failed_tasks = vec!["data-quality".into()];
    execute(Step::Notify, &mut db, &redis, &env.keys, &a)
        .await
        .unwrap();
    let text = seen.lock().unwrap()[0]["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        text.contains("failed: data-quality") && text.contains("pitstop.io/retry-pipeline"),
        "{text}"
    );

    let done = execute(Step::Notify, &mut db, &redis, &env.keys, &args("notify"))
        .await
        .unwrap();
    assert!(done.starts_with("no webhook configured"), "{done}");
    processor.shutdown().await;
    env.cleanup().await;
}

/// Samples of `session` still in the stream's partitions.
async fn samples_in_stream(env: &Env, session: &str) -> u64 {
    use pitstop_workloads::codec::binary::decode_entry;
    let (mut n, mut buf) = (0, Vec::new());
    for e in common::stream_entries(env).await {
        if let Some(d) = e.field("d")
            && let Ok(h) = decode_entry(d, e.field("b"), &mut buf)
            && h.session == session
        {
            n += buf.len() as u64;
        }
    }
    n
}

/// Collecting one session removes only that session's entries: a second session in the
/// same stream, published while no processor ran, keeps every sample, is processed once
/// a processor is back, and collects exactly (a stream-wide trim would wipe it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collect_removes_only_its_own_session() {
    let env = Env::new("jobs_two_sessions").await;
    let first = finished_race(&env).await;
    first.shutdown().await;
    let publish = PublishConfig {
        time_scale: None,
        rate: None,
        batch_max: 64,
        maxlen: 1_000_000,
    };
    let other = run_race(
        race("other", 3, 6, 5, 0.0),
        env.keys.clone(),
        env.target(),
        publish,
        SimulatorMetrics::new(),
        Arc::new(Progress::default()),
        Arc::new(AtomicBool::new(false)),
    )
    .await
    .unwrap();
    assert_eq!(samples_in_stream(&env, "other").await, other.published);
    let (redis, mut db) = (env.target(), env.db().await);
    let done = execute(
        Step::CollectTelemetry,
        &mut db,
        &redis,
        &env.keys,
        &args("collect-telemetry"),
    )
    .await
    .unwrap();
    assert!(done.contains("archived"), "{done}");
    assert_eq!(
        samples_in_stream(&env, SESSION).await,
        0,
        "its own entries go"
    );
    assert_eq!(
        samples_in_stream(&env, "other").await,
        other.published,
        "the other session's unprocessed samples stay"
    );

    let mut cfg = ProcessorConfig::new(&env.redis_url, &env.database_url, &env.keys.base);
    cfg.consumer = "jobs-2".into();
    let second = Processor::start(cfg, None).await.unwrap();
    wait_finished(&db, "other", Duration::from_secs(60))
        .await
        .unwrap();
    common::assert_exactly_once(&db, "other", &other.truth.published).await;
    let mut a = args("collect-telemetry");
    a.session = "other".into();
    let done = execute(Step::CollectTelemetry, &mut db, &redis, &env.keys, &a)
        .await
        .unwrap();
    assert!(
        done.contains(&format!("archived {} samples", other.published)),
        "{done}"
    );
    second.shutdown().await;
    env.cleanup().await;
}
