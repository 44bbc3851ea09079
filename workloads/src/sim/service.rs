//! `pitstop simulate` as a service: the publisher on its own thread, `/health`,
//! `/ready` and `/metrics` on :8000.

use super::publisher::{Progress, PublishConfig, PublishReport, Source, publish};
use super::race::{Race, RaceConfig};
use crate::metrics::SimulatorMetrics;
use crate::stream::StreamKeys;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

#[derive(Clone)]
struct SimState {
    metrics: SimulatorMetrics,
    redis: redis::Client,
}

/// Serves the simulator's probes and metrics until the process ends.
pub async fn serve(
    addr: SocketAddr,
    metrics: SimulatorMetrics,
    redis: redis::Client,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "simulator metrics listening");
    serve_on(listener, metrics, redis).await
}

/// Serves on an already bound listener (tests bind port 0).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    metrics: SimulatorMetrics,
    redis: redis::Client,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/ready", get(ready))
        .route("/metrics", get(render))
        .with_state(SimState { metrics, redis });
    axum::serve(listener, app).await
}

async fn ready(State(st): State<SimState>) -> impl IntoResponse {
    let ok = match st.redis.get_multiplexed_async_connection().await {
        Ok(mut c) => redis::cmd("PING")
            .query_async::<String>(&mut c)
            .await
            .is_ok(),
        Err(_) => false,
    };
    if ok {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "redis unreachable")
    }
}

async fn render(State(st): State<SimState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::render(&st.metrics.registry),
    )
}

/// Runs a race to the chequered flag on a blocking thread.
pub async fn run_race(
    race: RaceConfig,
    keys: StreamKeys,
    redis: redis::Client,
    cfg: PublishConfig,
    metrics: SimulatorMetrics,
    progress: Arc<Progress>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<PublishReport> {
    run_source(Race::new(race), keys, redis, cfg, metrics, progress, stop).await
}

/// Publishes any source (a race, a replayed recording) to the end on a blocking thread.
pub async fn run_source<S: Source + Send + 'static>(
    source: S,
    keys: StreamKeys,
    redis: redis::Client,
    cfg: PublishConfig,
    metrics: SimulatorMetrics,
    progress: Arc<Progress>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<PublishReport> {
    let report = tokio::task::spawn_blocking(move || -> anyhow::Result<PublishReport> {
        let mut con = redis.get_connection()?;
        Ok(publish(
            source, &keys, &mut con, &cfg, &metrics, &progress, &stop,
        )?)
    })
    .await??;
    Ok(report)
}
