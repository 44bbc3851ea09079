//! The simulator as a service: probes and metrics on its HTTP port, against real Redis.

mod common;

use common::{Env, race};
use pitstop_workloads::metrics::SimulatorMetrics;
use pitstop_workloads::sim::publisher::{Progress, PublishConfig};
use pitstop_workloads::sim::service::{run_race, serve_on};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

async fn start(metrics: SimulatorMetrics, redis_url: &str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let redis = pitstop_workloads::redis_conn::RedisTarget::open(redis_url).unwrap();
    tokio::spawn(serve_on(listener, metrics, redis));
    base
}

/// /health and /ready answer, and /metrics reports what was published and the lap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_and_metrics() {
    let env = Env::new("sim").await;
    let metrics = SimulatorMetrics::new();
    let base = start(metrics.clone(), &env.redis_url).await;
    assert_eq!(
        reqwest::get(format!("{base}/health"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        reqwest::get(format!("{base}/ready"))
            .await
            .unwrap()
            .status(),
        200
    );
    let pace = PublishConfig {
        time_scale: None,
        rate: None,
        batch_max: 64,
        maxlen: 100_000,
    };
    let report = run_race(
        race("sim", 2, 4, 1, 0.0),
        env.keys.clone(),
        env.target(),
        pace,
        metrics,
        Arc::new(Progress::default()),
        Arc::new(AtomicBool::new(false)),
    )
    .await
    .unwrap();
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(&format!(
            "pitstop_simulator_messages_published_total {}",
            report.published
        )),
        "{text}"
    );
    assert!(text.contains("pitstop_simulator_current_lap 2"), "{text}");
    assert!(
        text.contains(&format!(
            "pitstop_simulator_stream_entries_total {}",
            report.entries
        )),
        "{text}"
    );
    assert!(text.contains("pitstop_simulator_publish_latency_seconds_count"));
    env.cleanup().await;
}

/// /ready fails while Redis is unreachable (a port nothing listens on).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_without_redis() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}", closed.local_addr().unwrap());
    drop(closed);
    let base = start(SimulatorMetrics::new(), &url).await;
    assert_eq!(
        reqwest::get(format!("{base}/health"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        reqwest::get(format!("{base}/ready"))
            .await
            .unwrap()
            .status(),
        503
    );
}
