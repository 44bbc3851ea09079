//! Test fixtures: a fresh PostgreSQL database and unique stream keys per test, on the
//! servers named by REDIS_URL / DATABASE_URL (`make test` provides them).
#![allow(dead_code)]

pub mod cluster;
pub mod contract;
pub mod dutch;
pub mod ingest;
pub mod lap_tables;
pub mod real_races;
pub mod reply_cut;
pub mod servers;
pub mod silent_redis;
pub mod splice;
pub mod strategy;
pub mod tls;

/// `../shared/data/f1/` beside the repository, or `None` with a message saying that the
/// test checks nothing without it (the real F1 data is not part of the repository).
pub fn f1_data() -> Option<std::path::PathBuf> {
    // PITSTOP_F1_DATA points the real-data tests at another copy (races of your own).
    let dir = std::env::var_os("PITSTOP_F1_DATA").map_or_else(
        || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/f1"),
        std::path::PathBuf::from,
    );
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: {} not found (real F1 data lives beside the repository, not in it)",
            dir.display()
        );
        None
    }
}

use pitstop_workloads::sim::circuit::circuit;
use pitstop_workloads::sim::grid::default_grid;
use pitstop_workloads::sim::race::RaceConfig;
use pitstop_workloads::stream::StreamKeys;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub struct Env {
    pub redis_url: String,
    pub admin_url: String,
    pub database_url: String,
    pub db_name: String,
    pub keys: StreamKeys,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn with_db(url: &str, db: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("DATABASE_URL has a path");
    format!("{base}/{db}")
}

impl Env {
    pub fn shared_redis_url() -> String {
        std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
    }

    pub fn shared_database_url() -> String {
        std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
    }

    pub async fn new(name: &str) -> Env {
        Env::on(name, Env::shared_redis_url(), Env::shared_database_url()).await
    }

    /// On given servers (a test's own, see [`servers`]).
    pub async fn on(name: &str, redis_url: String, admin_url: String) -> Env {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let db_name = format!("pitstop_t_{name}_{}_{n}", std::process::id());
        let admin = pitstop_workloads::db::connect(&admin_url)
            .await
            .expect("PostgreSQL reachable (run through `make test`)");
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {db_name}"))
            .await
            .unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {db_name}"))
            .await
            .unwrap();
        let database_url = with_db(&admin_url, &db_name);
        let keys = StreamKeys::new(format!("pitstop:test:{db_name}"), 4);
        Env {
            redis_url,
            admin_url,
            database_url,
            db_name,
            keys,
        }
    }

    pub async fn db(&self) -> tokio_postgres::Client {
        pitstop_workloads::db::connect(&self.database_url)
            .await
            .unwrap()
    }

    pub fn redis(&self) -> redis::Client {
        redis::Client::open(self.redis_url.as_str()).unwrap()
    }

    /// The Redis the workloads' own functions take.
    pub fn target(&self) -> pitstop_workloads::redis_conn::RedisTarget {
        pitstop_workloads::redis_conn::RedisTarget::open(&self.redis_url).unwrap()
    }

    /// Drops the database and the stream keys (a test's own cluster or TLS server goes
    /// with its process).
    pub async fn cleanup(self) {
        if self.redis_url.contains("+cluster://") || self.redis_url.starts_with("rediss") {
            return self.drop_database().await;
        }
        let mut con = self
            .redis()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        // Partition keys start with their hash tag's brace.
        let mut keys: Vec<String> = Vec::new();
        for pattern in [
            format!("{}*", self.keys.base),
            format!("{{{}*", self.keys.base),
        ] {
            let found: Vec<String> = redis::cmd("KEYS")
                .arg(pattern)
                .query_async(&mut con)
                .await
                .unwrap();
            keys.extend(found);
        }
        if !keys.is_empty() {
            let _: () = redis::cmd("DEL")
                .arg(keys)
                .query_async(&mut con)
                .await
                .unwrap();
        }
        self.drop_database().await;
    }

    async fn drop_database(self) {
        let admin = pitstop_workloads::db::connect(&self.admin_url)
            .await
            .unwrap();
        let _ = admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.db_name
            ))
            .await;
    }
}

/// Every entry of the stream's partitions, partition by partition, in id order.
pub async fn stream_entries(env: &Env) -> Vec<pitstop_workloads::processor::entry::Entry> {
    let mut con = env
        .redis()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let mut out = Vec::new();
    for (_, key) in env.keys.all_partitions() {
        let reply: redis::Value = redis::cmd("XRANGE")
            .arg(&key)
            .arg("-")
            .arg("+")
            .query_async(&mut con)
            .await
            .unwrap();
        out.extend(pitstop_workloads::processor::entry::parse_entries(reply));
    }
    out
}

/// The arguments of one attempt of a post-race step for `session`.
pub fn job_args(session: &str, task: &str) -> pitstop_workloads::jobs::JobArgs {
    pitstop_workloads::jobs::JobArgs {
        session: session.into(),
        attempt: pitstop_workloads::jobs::Attempt {
            run_id: "run-1".into(),
            task: task.into(),
            attempt: 1,
        },
        ..pitstop_workloads::jobs::JobArgs::default()
    }
}

/// Publishes `race` on a task, paced at `time_scale` race seconds per wall second (each
/// tick sent at once), through `env`'s Redis; `metrics` shows its failed attempts.
pub fn spawn_paced_race(
    env: &Env,
    race: RaceConfig,
    time_scale: f64,
    metrics: &pitstop_workloads::metrics::SimulatorMetrics,
) -> Racing {
    let pace = pitstop_workloads::sim::publisher::PublishConfig {
        time_scale: Some(time_scale),
        rate: None,
        batch_max: 64,
        maxlen: 1_000_000,
    };
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let handle = tokio::spawn(pitstop_workloads::sim::service::run_race(
        race,
        env.keys.clone(),
        env.target(),
        pace,
        metrics.clone(),
        std::sync::Arc::new(pitstop_workloads::sim::publisher::Progress::default()),
        stop.clone(),
    ));
    Racing { handle, stop }
}

type RaceOutcome = anyhow::Result<pitstop_workloads::sim::publisher::PublishReport>;

/// A race being published; awaited, its report. Dropped unfinished (a test that
/// panicked), it stops the publisher: its thread would otherwise retry a Redis the
/// test's fixture took away forever, and the test's runtime waits for it to end.
pub struct Racing {
    handle: tokio::task::JoinHandle<RaceOutcome>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Racing {
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }
}

impl std::future::Future for Racing {
    type Output = Result<RaceOutcome, tokio::task::JoinError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.handle).poll(cx)
    }
}

impl Drop for Racing {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

pub fn race(session: &str, laps: u16, cars: usize, seed: u64, anomaly_rate: f64) -> RaceConfig {
    RaceConfig {
        session: session.into(),
        circuit: circuit("monza").unwrap(),
        laps,
        grid: default_grid(cars),
        seed,
        sample_hz: 10.0,
        anomaly_rate,
        start_ms: pitstop_workloads::util::now_ms(),
    }
}

/// Polls `check` every 50 ms until it returns true or `timeout` passes.
pub async fn wait_until<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Per-car (samples, seq_sum, max_seq) as committed.
pub async fn accounting(db: &tokio_postgres::Client, session: &str) -> Vec<(u8, i64, i64, i64)> {
    db.query("SELECT car, samples, seq_sum, max_seq FROM car_accounting WHERE session_id = $1 ORDER BY car", &[&session])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get::<_, i32>(0) as u8, r.get(1), r.get(2), r.get(3)))
        .collect()
}

/// After the flag no car of `session` is left in the pit lane (`pit_lane_now`): each
/// visit stored live was withdrawn in the commit that stored the stop, across kills and
/// restarts too.
pub async fn assert_no_car_left_in_the_pit_lane(db: &tokio_postgres::Client, session: &str) {
    let left: Vec<i32> = db
        .query(
            "SELECT car FROM pit_lane_now WHERE session_id = $1",
            &[&session],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(left, Vec::<i32>::new(), "cars left in the pit lane");
}

/// Asserts that every published sample was committed exactly once: per car, the count
/// equals what was published and the sequence numbers sum to 0 + 1 + … + (n − 1).
pub async fn assert_exactly_once(
    db: &tokio_postgres::Client,
    session: &str,
    published: &std::collections::BTreeMap<u8, u64>,
) {
    let rows = accounting(db, session).await;
    assert_eq!(rows.len(), published.len(), "cars accounted");
    for (car, samples, seq_sum, max_seq) in rows {
        let n = published[&car] as i64;
        assert_eq!(samples, n, "car {car}: samples committed vs published");
        assert_eq!(
            seq_sum,
            n * (n - 1) / 2,
            "car {car}: a sample was lost and another duplicated"
        );
        assert_eq!(max_seq, n - 1, "car {car}: last sequence number");
    }
}
