//! `pitstop replay` end to end, the way a user feeds a recording: the binary reads the
//! files, publishes them (into Redis, or through a processor's `POST /telemetry`), a real
//! processor consumes them into a real PostgreSQL, and the API and SQL views report.

mod common;

use common::dutch::{self, Found};
use common::{Env, accounting, wait_until};
use pitstop_workloads::jobs::{Attempt, JobArgs, Step, execute};
use pitstop_workloads::processor::queries::{self, wait_finished};
use pitstop_workloads::processor::{Processor, ProcessorConfig};
use pitstop_workloads::sim::race::Race;
use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

const KEY: &str = "replay-test-key-not-a-secret";

fn processor_cfg(env: &Env, listen: bool) -> ProcessorConfig {
    let mut c = ProcessorConfig::new(&env.redis_url, &env.database_url, &env.keys.base);
    c.consumer = "replay".into();
    c.lease_ttl = Duration::from_secs(3);
    c.api_key = Some(KEY.into());
    if listen {
        c.listen = Some("127.0.0.1:0".parse().unwrap());
    }
    c
}

/// A two-column query as a map.
async fn pairs<K, V>(db: &tokio_postgres::Client, sql: &str) -> BTreeMap<K, V>
where
    K: Ord + for<'a> tokio_postgres::types::FromSql<'a>,
    V: for<'a> tokio_postgres::types::FromSql<'a>,
{
    db.query(sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// Runs `pitstop replay` with `args` against the test's Redis and streams.
fn replay(env: &Env, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_pitstop"))
        .arg("replay")
        .args(args)
        .args([
            "--redis-url",
            &env.redis_url,
            "--stream",
            &env.keys.base,
            "--quiet",
        ])
        .env("STREAM_PROCESSOR_API_KEY", KEY)
        .output()
        .expect("pitstop binary runs");
    assert!(
        out.status.success(),
        "pitstop replay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The whole 2025 Dutch Grand Prix, FastF1 CSV with no pit status, replayed into Redis
/// and processed into PostgreSQL: every observable DHL stop, its stationary and pit-lane
/// times, every lap, no anomaly, every sample counted exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_dutch_gp() {
    let Some(dir) = dutch::dir() else { return };
    let env = Env::new("dutch").await;
    let p = Processor::start(processor_cfg(&env, false), None)
        .await
        .unwrap();
    let files: Vec<String> = dutch::files(&dir)
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    let mut args: Vec<&str> = files.iter().map(String::as_str).collect();
    args.extend([
        "--session",
        "dutch-2025",
        "--speed",
        "max",
        "--start",
        "2025-08-31T13:03:00Z",
        "--circuit",
        "zandvoort",
    ]);
    replay(&env, &args);
    let db = env.db().await;
    wait_finished(&db, "dutch-2025", Duration::from_secs(300))
        .await
        .unwrap();

    // Exactly once: per car, every sample of the files, sequence numbers 0..n.
    let expected: BTreeMap<String, i64> = {
        let samples = dutch::samples(&dir, "dutch-2025");
        let mut n = BTreeMap::new();
        for s in &samples {
            *n.entry(s.driver.as_deref().unwrap().to_string())
                .or_default() += 1;
        }
        n
    };
    let rows = accounting(&db, "dutch-2025").await;
    assert_eq!(rows.len(), 20);
    let drivers: BTreeMap<i32, String> = pairs(
        &db,
        "SELECT car, driver FROM car_accounting WHERE session_id = 'dutch-2025'",
    )
    .await;
    for (car, samples, seq_sum, _) in rows {
        let n = expected[&drivers[&(car as i32)]];
        assert_eq!((samples, seq_sum), (n, n * (n - 1) / 2), "car {car}");
    }

    common::assert_no_car_left_in_the_pit_lane(&db, "dutch-2025").await;
    let found: Vec<Found> = queries::pit_stops(&db, "dutch-2025")
        .await
        .unwrap()
        .into_iter()
        .map(|s| Found {
            driver: s.driver,
            lap: s.lap.unwrap() as u16,
            stationary_s: s.stationary_s,
            pit_lane_s: s.pit_lane_s,
        })
        .collect();
    dutch::check_stops(&dir, &found);

    let laps: BTreeMap<String, i64> = pairs(
        &db,
        "SELECT driver, count(*) FROM laps WHERE session_id = 'dutch-2025' GROUP BY driver",
    )
    .await;
    assert_eq!(laps.len(), 20);
    for (driver, n) in &laps {
        assert_eq!(*n, dutch::completed_laps(driver) as i64, "{driver}");
    }
    let anomalies: i64 = db
        .query_one(
            "SELECT count(*) FROM anomalies WHERE session_id = 'dutch-2025'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(anomalies, 0);

    // Laps under the four safety-car periods are neutralised, found from the field's pace.
    let neutralised: Vec<i32> = db
        .query(
            "SELECT DISTINCT lap FROM lap_status WHERE session_id = 'dutch-2025' AND neutralised ORDER BY lap",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        neutralised,
        [
            1, 23, 24, 25, 26, 31, 32, 53, 54, 55, 56, 57, 65, 66, 67, 68
        ]
    );
    // Stints: one per stop plus one, for every car; compounds unknown (FastF1 has none).
    let stints: Vec<(i64, i64, String)> = db
        .query(
            "SELECT s.n, COALESCE(p.stops, 0), s.compounds FROM
               (SELECT car, count(*) AS n, string_agg(DISTINCT compound, ',') AS compounds FROM stints WHERE session_id = 'dutch-2025' GROUP BY car) s
               LEFT JOIN (SELECT car, count(*) AS stops FROM pit_stops WHERE session_id = 'dutch-2025' GROUP BY car) p ON p.car = s.car",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(stints.len(), 20);
    assert!(
        stints
            .iter()
            .all(|(n, stops, c)| *n == stops + 1 && c == "unknown"),
        "{stints:?}"
    );
    let teams = queries::teams(&db, "dutch-2025").await.unwrap();
    let mclaren = teams.iter().find(|t| t.team == "McLaren").unwrap();
    // Green laps at Zandvoort 2025: 1:12–1:17.
    let median = mclaren.median_lap_ms.unwrap();
    assert!((72_000.0..77_000.0).contains(&median), "{median}");

    // The post-race steps on a real race: archive (every sample, absent channels NULL),
    // data quality (a feed without temperatures is not a dropout), aggregates, report.
    let mut db = env.db().await;
    for step in [
        Step::CollectTelemetry,
        Step::DataQuality,
        Step::Aggregate,
        Step::Report,
    ] {
        let args = JobArgs {
            session: "dutch-2025".into(),
            attempt: Attempt {
                run_id: "real".into(),
                task: step.as_str().into(),
                attempt: 1,
            },
            keep_stream: true,
            ..JobArgs::default()
        };
        let summary = execute(step, &mut db, &env.target(), &env.keys, &args)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", step.as_str()));
        eprintln!("{}: {summary}", step.as_str());
    }
    let nulls: i64 = db
        .query_one(
            "SELECT count(*) FROM telemetry_raw WHERE session_id = 'dutch-2025' AND engine_temp_c IS NULL AND x IS NOT NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let archived: i64 = expected.values().sum();
    assert_eq!(
        nulls, archived,
        "every archived sample: position known, engine temperature unknown"
    );
    p.shutdown().await;
    env.cleanup().await;
}

/// A recording replayed through a processor's `POST /telemetry` at 400× real time: every
/// sample accepted once, the session finished, its stops found from motion (the native
/// file carries no pit status).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_through_the_api() {
    let env = Env::new("replay_api").await;
    let p = Processor::start(processor_cfg(&env, true), None)
        .await
        .unwrap();
    let base = format!("http://{}", p.addr.unwrap());
    // Three laps of four simulated cars at 4 Hz, pit status stripped: a native NDJSON file.
    let mut rc = common::race("replay-api", 3, 4, 11, 0.0);
    rc.sample_hz = 4.0;
    let mut race = Race::new(rc);
    let mut samples = Vec::new();
    while !race.finished() {
        race.step(&mut samples);
    }
    let truth = race.truth().clone();
    let path = std::env::temp_dir().join(format!("pitstop-replay-{}.ndjson", std::process::id()));
    let mut body = Vec::new();
    for s in &mut samples {
        s.pit_status = None;
        serde_json::to_writer(&mut body, s).unwrap();
        body.push(b'\n');
    }
    std::fs::write(&path, body).unwrap();
    replay(
        &env,
        &[path.to_str().unwrap(), "--speed", "400", "--api-url", &base],
    );
    std::fs::remove_file(&path).ok();
    let db = env.db().await;
    wait_finished(&db, "replay-api", Duration::from_secs(60))
        .await
        .unwrap();
    common::assert_exactly_once(&db, "replay-api", &truth.published).await;
    let stops = queries::pit_stops(&db, "replay-api").await.unwrap();
    assert_eq!(stops.len(), truth.pit_stops.len(), "{stops:?}");
    for t in &truth.pit_stops {
        let s = stops
            .iter()
            .find(|s| s.car == t.car as i32 && s.lap == Some(t.lap as i32))
            .unwrap_or_else(|| panic!("no stop for {t:?}"));
        assert!(
            (s.stationary_s * 1000.0 - t.stationary_ms as f64).abs() <= 250.0,
            "{s:?} vs {t:?}"
        );
    }
    let url = format!("{base}/api/v1/sessions/replay-api");
    wait_until(
        Duration::from_secs(10),
        "the session reports itself finished",
        || {
            let url = url.clone();
            async move {
                let v: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
                v["finished"] == true
            }
        },
    )
    .await;
    p.shutdown().await;
    env.cleanup().await;
}

/// One car's real laps posted as separate FastF1 bodies, each with its own start, into
/// a session with no start marker: every sample processed and archived once, the car's
/// sequence numbers continuing across bodies (each body numbers its rows from 0; the
/// processor's per-car count is the base), and the post-race archive complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn laps_posted_apart_archive_whole() {
    let Some(dir) = common::f1_data() else {
        eprintln!("skipped: no ../shared/data/f1 (the real Dutch GP telemetry)");
        return;
    };
    let path = dir.join("fastf1-telemetry/2025-dutch-gp/VER.csv.gz");
    let (_, body) = pitstop_workloads::feeds::read_file(&path).unwrap();
    let text = String::from_utf8(body).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    // `Time` restarts at every lap: a lap's start is the race start plus the laps before.
    let race_start = 1_756_645_380_000i64;
    let mut lap_end_s: BTreeMap<u16, f64> = BTreeMap::new();
    let mut rows: BTreeMap<u16, Vec<&str>> = BTreeMap::new();
    for line in lines {
        let mut f = line.split(',');
        let lap: u16 = f.nth(1).unwrap().parse().unwrap();
        let t: f64 = f.next().unwrap().parse().unwrap();
        lap_end_s.insert(lap, t);
        rows.entry(lap).or_default().push(line);
    }
    let start_of = |lap: u16| {
        race_start + (lap_end_s.range(..lap).map(|(_, t)| t).sum::<f64>() * 1000.0).round() as i64
    };

    let env = Env::new("laps_apart").await;
    let p = Processor::start(processor_cfg(&env, true), None)
        .await
        .unwrap();
    let base = format!("http://{}", p.addr.unwrap());
    let http = reqwest::Client::new();
    let mut posted = 0u64;
    for lap in [23u16, 24] {
        let body = format!("{header}\n{}\n", rows[&lap].join("\n"));
        let r = http
            .post(format!(
                "{base}/telemetry?session=laps-apart&start={}",
                start_of(lap)
            ))
            .header("X-API-Key", KEY)
            .header("Content-Type", "text/csv")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::ACCEPTED);
        let v: serde_json::Value = r.json().await.unwrap();
        posted += v["accepted"].as_u64().unwrap();
    }
    let r = http
        .post(format!("{base}/api/v1/sessions/laps-apart/finish"))
        .header("X-API-Key", KEY)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let mut db = env.db().await;
    wait_finished(&db, "laps-apart", Duration::from_secs(30))
        .await
        .unwrap();
    common::assert_exactly_once(&db, "laps-apart", &BTreeMap::from([(1u8, posted)])).await;

    let args = JobArgs {
        session: "laps-apart".into(),
        attempt: Attempt {
            run_id: "apart".into(),
            task: Step::CollectTelemetry.as_str().into(),
            attempt: 1,
        },
        keep_stream: true,
        ..JobArgs::default()
    };
    execute(
        Step::CollectTelemetry,
        &mut db,
        &env.target(),
        &env.keys,
        &args,
    )
    .await
    .unwrap();
    let row = db
        .query_one(
            "SELECT count(*), count(DISTINCT seq), min(seq), max(seq) FROM telemetry_raw WHERE session_id = 'laps-apart'",
            &[],
        )
        .await
        .unwrap();
    let (n, distinct, lo, hi): (i64, i64, i64, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!(
        (n, distinct, lo, hi),
        (posted as i64, posted as i64, 0, posted as i64 - 1)
    );
    p.shutdown().await;
    env.cleanup().await;
}
