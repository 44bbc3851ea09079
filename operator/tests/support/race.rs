//! A race's data plane run locally for operator tests: a fresh PostgreSQL database, fresh
//! Redis stream keys and a real processor serving its API and /metrics on loopback.

use pitstop_workloads::metrics::SimulatorMetrics;
use pitstop_workloads::processor::{Processor, ProcessorConfig};
use pitstop_workloads::sim::circuit::circuit;
use pitstop_workloads::sim::grid::default_grid;
use pitstop_workloads::sim::publisher::{Progress, PublishConfig};
use pitstop_workloads::sim::race::RaceConfig;
use pitstop_workloads::stream::StreamKeys;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// The processor's ingest key (for a feeder posting to it, such as the game gateway).
pub const API_KEY: &str = "local-race-key-not-a-secret";

pub struct LocalRace {
    pub admin: tokio_postgres::Client,
    pub db_name: String,
    pub database_url: String,
    pub keys: StreamKeys,
    pub redis: redis::Client,
    pub redis_url: String,
    pub processor: Processor,
}

impl LocalRace {
    /// A new database and stream named after `test`, and a processor on them.
    pub async fn start(test: &str) -> LocalRace {
        let redis_url =
            std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let admin_url = std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let db_name = format!("pitstop_t_{test}_{}", std::process::id());
        let admin = pitstop_workloads::db::connect(&admin_url)
            .await
            .expect("PostgreSQL reachable (run through `make test`)");
        for sql in [
            format!("DROP DATABASE IF EXISTS {db_name}"),
            format!("CREATE DATABASE {db_name}"),
        ] {
            admin.batch_execute(&sql).await.unwrap();
        }
        let database_url = format!("{}/{db_name}", admin_url.rsplit_once('/').unwrap().0);
        let keys = StreamKeys::new(format!("pitstop:test:{db_name}"), 4);
        let mut cfg = ProcessorConfig::new(&redis_url, &database_url, &keys.base);
        cfg.listen = Some("127.0.0.1:0".parse().unwrap());
        cfg.consumer = test.into();
        cfg.api_key = Some(API_KEY.into());
        let processor = Processor::start(cfg, None).await.unwrap();
        LocalRace {
            admin,
            db_name,
            database_url,
            keys,
            redis: redis::Client::open(redis_url.as_str()).unwrap(),
            redis_url,
            processor,
        }
    }

    /// Publishes a `laps`-lap Monza race of `cars` cars (Ferrari among them from six on),
    /// flat out (`time_scale: None`) or at `time_scale` × real time.
    pub async fn publish(
        &self,
        laps: u16,
        cars: usize,
        anomaly_rate: f64,
        time_scale: Option<f64>,
        metrics: SimulatorMetrics,
    ) {
        let race_cfg = RaceConfig {
            session: "monza".into(),
            circuit: circuit("monza").unwrap(),
            laps,
            grid: default_grid(cars),
            seed: 4,
            sample_hz: 10.0,
            anomaly_rate,
            start_ms: pitstop_workloads::util::now_ms(),
        };
        let pace = PublishConfig {
            time_scale,
            rate: None,
            batch_max: 64,
            maxlen: 1_000_000,
        };
        pitstop_workloads::sim::service::run_race(
            race_cfg,
            self.keys.clone(),
            pitstop_workloads::redis_conn::RedisTarget::open(&self.redis_url).unwrap(),
            pace,
            metrics,
            Arc::new(Progress::default()),
            Arc::new(AtomicBool::new(false)),
        )
        .await
        .unwrap();
    }

    /// Stops the processor and removes the stream keys and the database.
    pub async fn cleanup(self) {
        self.processor.shutdown().await;
        let mut con = self.redis.get_multiplexed_async_connection().await.unwrap();
        // Partition keys start with their hash tag's brace.
        let mut leftovers: Vec<String> = Vec::new();
        for pattern in [
            format!("{}*", self.keys.base),
            format!("{{{}*", self.keys.base),
        ] {
            let found: Vec<String> = redis::cmd("KEYS")
                .arg(pattern)
                .query_async(&mut con)
                .await
                .unwrap();
            leftovers.extend(found);
        }
        if !leftovers.is_empty() {
            let _: () = redis::cmd("DEL")
                .arg(leftovers)
                .query_async(&mut con)
                .await
                .unwrap();
        }
        let _ = self
            .admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.db_name
            ))
            .await;
    }
}
