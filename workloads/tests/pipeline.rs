//! End to end through real Redis and PostgreSQL: simulator → streams → processor.

mod common;

use common::{Env, assert_exactly_once, race};
use pitstop_workloads::evaluate::{Detected, DetectedStop, score_anomalies, score_stops};
use pitstop_workloads::metrics::SimulatorMetrics;
use pitstop_workloads::processor::queries::wait_finished;
use pitstop_workloads::processor::{Processor, ProcessorConfig, queries};
use pitstop_workloads::sim::publisher::{Progress, PublishConfig};
use pitstop_workloads::sim::service::run_race;
use pitstop_workloads::sim::truth::AnomalyKind;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

fn flat_out(maxlen: usize) -> PublishConfig {
    PublishConfig {
        time_scale: None,
        rate: None,
        batch_max: 64,
        maxlen,
    }
}

fn processor_cfg(env: &Env, consumer: &str) -> ProcessorConfig {
    let mut c = ProcessorConfig::new(&env.redis_url, &env.database_url, &env.keys.base);
    c.consumer = consumer.into();
    c.lease_ttl = Duration::from_secs(3);
    c
}

/// Every published sample is committed exactly once; stops and anomalies match the truth
/// through the database, and the read API agrees with the accounting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn race_is_accounted_exactly_once_and_scored() {
    let env = Env::new("e2e").await;
    let p = Processor::start(processor_cfg(&env, "solo"), None)
        .await
        .unwrap();
    let rc = race("e2e", 6, 10, 7, 0.15);
    let report = run_race(
        rc,
        env.keys.clone(),
        env.target(),
        flat_out(1_000_000),
        SimulatorMetrics::new(),
        Arc::new(Progress::default()),
        Arc::new(AtomicBool::new(false)),
    )
    .await
    .unwrap();
    let db = env.db().await;
    wait_finished(&db, "e2e", Duration::from_secs(60))
        .await
        .unwrap();
    assert_exactly_once(&db, "e2e", &report.truth.published).await;

    let stops = queries::pit_stops(&db, "e2e").await.unwrap();
    let detected: Vec<_> = stops
        .iter()
        .map(|s| DetectedStop {
            car: s.car as u8,
            lap: s.lap.unwrap() as u16,
            stationary_ms: (s.stationary_s * 1000.0).round() as i64,
        })
        .collect();
    let ss = score_stops(&report.truth, &detected);
    assert_eq!((ss.matched, ss.false_stops, ss.real), (10, 0, 10), "{ss:?}");
    assert!(ss.max_error_ms <= 100, "{ss:?}");
    assert!(stops.iter().all(|s| (0.0..=100.0).contains(&s.score)));

    let anomalies = queries::anomalies(&db, "e2e", None, None).await.unwrap();
    let det: Vec<_> = anomalies
        .iter()
        .map(|a| Detected {
            car: a.car as u8,
            kind: AnomalyKind::parse(&a.kind).unwrap(),
            at_ms: a.detected_at_ms,
        })
        .collect();
    let sc = score_anomalies(&report.truth, &det);
    assert!(sc.injected > 0, "seed should inject anomalies");
    assert!(sc.precision >= 0.95 && sc.recall >= 0.9, "{sc:?}");

    let detail = queries::session(&db, "e2e").await.unwrap().unwrap();
    assert!(detail.summary.finished);
    assert_eq!(detail.samples_published, Some(report.published as i64));
    assert_eq!(detail.summary.samples_processed, report.published as i64);
    assert_eq!(detail.summary.lap, 6);
    let classification = queries::classification(&db, "e2e").await.unwrap();
    assert_eq!(classification.len(), 10);
    assert_eq!(
        classification[0].laps, 6,
        "the winner completed the race distance"
    );
    let teams = queries::teams(&db, "e2e").await.unwrap();
    let ferrari = teams.iter().find(|t| t.team == "Ferrari").unwrap();
    assert_eq!(ferrari.gap_to_ferrari_ms, Some(0.0));
    assert!(
        ferrari.stints.len() >= 2,
        "two stints per car: {:?}",
        ferrari.stints
    );
    p.shutdown().await;
    env.cleanup().await;
}

/// Two replicas split the partitions between them and still count every sample once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_the_partitions() {
    let env = Env::new("pair").await;
    let a = Processor::start(processor_cfg(&env, "a"), None)
        .await
        .unwrap();
    let b = Processor::start(processor_cfg(&env, "b"), None)
        .await
        .unwrap();
    common::wait_until(Duration::from_secs(20), "a 2/2 partition split", || {
        let (a, b) = (
            a.shared.metrics.partitions_owned.get(),
            b.shared.metrics.partitions_owned.get(),
        );
        async move { a == 2 && b == 2 }
    })
    .await;
    let report = run_race(
        race("pair", 3, 8, 3, 0.0),
        env.keys.clone(),
        env.target(),
        flat_out(1_000_000),
        SimulatorMetrics::new(),
        Arc::new(Progress::default()),
        Arc::new(AtomicBool::new(false)),
    )
    .await
    .unwrap();
    let db = env.db().await;
    wait_finished(&db, "pair", Duration::from_secs(60))
        .await
        .unwrap();
    assert_exactly_once(&db, "pair", &report.truth.published).await;
    // The counters move just after the commits that finished the session: poll.
    let (ma, mb) = (a.shared.metrics.clone(), b.shared.metrics.clone());
    common::wait_until(Duration::from_secs(10), "both counters to add up", || {
        let (ma, mb) = (ma.clone(), mb.clone());
        async move { ma.processed.get() + mb.processed.get() == report.published }
    })
    .await;
    assert!(
        a.shared.metrics.processed.get() > 0 && b.shared.metrics.processed.get() > 0,
        "both replicas worked"
    );
    a.shutdown().await;
    b.shutdown().await;
    env.cleanup().await;
}

/// MAXLEN trimming of unarchived entries is counted and reported, never silent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maxlen_trimming_is_reported() {
    let env = Env::new("trim").await;
    let metrics = SimulatorMetrics::new();
    let report = run_race(
        race("trim", 2, 4, 1, 0.0),
        env.keys.clone(),
        env.target(),
        PublishConfig {
            time_scale: None,
            rate: None,
            batch_max: 4,
            maxlen: 100,
        },
        metrics.clone(),
        Arc::new(Progress::default()),
        Arc::new(AtomicBool::new(false)),
    )
    .await
    .unwrap();
    assert!(report.entries > 1000);
    assert!(report.trimmed > 0, "{report:?}");
    assert_eq!(metrics.trimmed.get() as u64, report.trimmed);
    env.cleanup().await;
}

/// Several replicas migrating at once leave one schema and one history row per version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrations_are_safe() {
    let env = Env::new("migrate").await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let url = env.database_url.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = pitstop_workloads::db::connect(&url).await.unwrap();
            pitstop_workloads::db::migrate(&mut c).await.unwrap()
        }));
    }
    let mut applied = Vec::new();
    for t in tasks {
        applied.extend(t.await.unwrap());
    }
    applied.sort();
    let every: Vec<i32> = pitstop_workloads::db::MIGRATIONS
        .iter()
        .map(|m| m.0)
        .collect();
    assert_eq!(
        applied, every,
        "each version applied by exactly one migrator"
    );
    let n: i64 = env
        .db()
        .await
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, pitstop_workloads::db::MIGRATIONS.len() as i64);
    env.cleanup().await;
}

/// A simulator stopped mid-race and started again resumes where it stopped: the stream
/// holds every sample exactly once (the processor's accounting proves it), and a third
/// start after the chequered flag publishes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_simulator_resumes_without_duplicates() {
    let env = Env::new("resume").await;
    let p = Processor::start(processor_cfg(&env, "solo"), None)
        .await
        .unwrap();
    let paced = PublishConfig {
        time_scale: Some(150.0),
        rate: None,
        batch_max: 64,
        maxlen: 1_000_000,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let first = tokio::spawn(run_race(
        race("resume", 3, 6, 9, 0.0),
        env.keys.clone(),
        env.target(),
        paced.clone(),
        SimulatorMetrics::new(),
        Arc::new(Progress::default()),
        stop.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(first.await.unwrap().is_err(), "first run stopped mid-race");

    // A new process would start with a new clock: the stored origin must win.
    let mut again = race("resume", 3, 6, 9, 0.0);
    again.start_ms += 3_600_000;
    let second = run_race(
        again,
        env.keys.clone(),
        env.target(),
        paced.clone(),
        SimulatorMetrics::new(),
        Arc::new(Progress::default()),
        Arc::new(AtomicBool::new(false)),
    )
    .await
    .unwrap();
    // The report counts the whole session; of it, what the first run had sent.
    let total = second.truth.published.values().sum::<u64>();
    assert_eq!(second.published, total, "{second:?}");
    assert!(second.skipped > 0 && second.skipped < total, "{second:?}");
    let db = env.db().await;
    wait_finished(&db, "resume", Duration::from_secs(60))
        .await
        .unwrap();
    assert_exactly_once(&db, "resume", &second.truth.published).await;
    // Lap times stay race-like across the restart (no hour-long lap from a new clock).
    let longest: i32 = db
        .query_one(
            "SELECT max(lap_time_ms) FROM laps WHERE session_id = 'resume'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(longest < 130_000, "longest lap {longest} ms");

    let third = run_race(
        race("resume", 3, 6, 9, 0.0),
        env.keys.clone(),
        env.target(),
        paced,
        SimulatorMetrics::new(),
        Arc::new(Progress::default()),
        Arc::new(AtomicBool::new(false)),
    )
    .await
    .unwrap();
    assert!(third.already_finished, "{third:?}");
    assert_eq!(
        (third.published, third.skipped),
        (total, total),
        "{third:?}"
    );
    p.shutdown().await;
    env.cleanup().await;
}

/// Eight replicas share eight partitions one each; a scale-down to two mid-race hands the
/// six released partitions over (graceful shutdown, as on a pod's SIGTERM), and every
/// sample is still counted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_replicas_share_eight_partitions_and_scale_down_loses_nothing() {
    let mut env = Env::new("octet").await;
    env.keys = pitstop_workloads::stream::StreamKeys::new(env.keys.base.clone(), 8);
    let cfg = |name: &str| {
        let mut c = processor_cfg(&env, name);
        c.partitions = 8;
        c
    };
    let mut replicas = Vec::new();
    for i in 0..8 {
        replicas.push(Processor::start(cfg(&format!("r{i}")), None).await.unwrap());
    }
    let owned: Vec<_> = replicas
        .iter()
        .map(|p| p.shared.metrics.partitions_owned.clone())
        .collect();
    common::wait_until(Duration::from_secs(30), "one partition each", || {
        let counts: Vec<i64> = owned.iter().map(|g| g.get()).collect();
        async move { counts.iter().all(|&c| c == 1) }
    })
    .await;
    let paced = PublishConfig {
        time_scale: Some(30.0),
        rate: None,
        batch_max: 64,
        maxlen: 1_000_000,
    };
    let published = Arc::new(Progress::default());
    // The whole 2024 grid: its car numbers modulo 8 leave no partition empty (16 cars
    // would leave partition 5 without a car).
    let race_task = tokio::spawn(run_race(
        race("octet", 4, 20, 5, 0.0),
        env.keys.clone(),
        env.target(),
        paced,
        SimulatorMetrics::new(),
        published.clone(),
        Arc::new(AtomicBool::new(false)),
    ));
    // Mid-race: every replica has done work, then six of them go away.
    let processed: Vec<_> = replicas
        .iter()
        .map(|p| p.shared.metrics.processed.clone())
        .collect();
    common::wait_until(Duration::from_secs(30), "every replica working", || {
        let all = processed.iter().all(|c| c.get() > 0);
        async move { all }
    })
    .await;
    let at_scale_down = published
        .published
        .load(std::sync::atomic::Ordering::Relaxed);
    for p in replicas.drain(2..) {
        p.shutdown().await;
    }
    let remaining: Vec<_> = replicas
        .iter()
        .map(|p| p.shared.metrics.partitions_owned.clone())
        .collect();
    common::wait_until(
        Duration::from_secs(30),
        "two replicas with four each",
        || {
            let counts: Vec<i64> = remaining.iter().map(|g| g.get()).collect();
            async move { counts == [4, 4] }
        },
    )
    .await;
    let report = race_task.await.unwrap().unwrap();
    assert!(
        at_scale_down < report.published,
        "the scale-down happened mid-race ({at_scale_down} of {} published)",
        report.published
    );
    let db = env.db().await;
    wait_finished(&db, "octet", Duration::from_secs(90))
        .await
        .unwrap();
    assert_exactly_once(&db, "octet", &report.truth.published).await;
    // The database accounting above is the exactly-once check. The per-pod counters (the
    // HPA's input) never count a sample twice; a replica stopped between a commit and its
    // counter update may miss its last batch, so they are bounded, not equal.
    let sum: u64 = processed.iter().map(|c| c.get()).sum();
    assert!(
        sum <= report.published,
        "{sum} counted of {}",
        report.published
    );
    assert!(
        replicas
            .iter()
            .all(|p| p.shared.metrics.processed.get() > 0),
        "the two remaining replicas worked"
    );
    for p in replicas {
        p.shutdown().await;
    }
    env.cleanup().await;
}
