//! `pitstop simulate` as a service: the publisher on its own thread, `/health`,
//! `/ready` and `/metrics` on :8000.

use super::publisher::{
    Attempts, PROGRESS_MOVED, Progress, PublishConfig, PublishError, PublishReport, Source, publish,
};
use super::race::{Race, RaceConfig};
use crate::errors::chain;
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
use std::time::Duration;

#[derive(Clone)]
struct SimState {
    metrics: SimulatorMetrics,
    redis: crate::redis_conn::RedisTarget,
}

/// Serves the simulator's probes and metrics until the process ends.
pub async fn serve(
    addr: SocketAddr,
    metrics: SimulatorMetrics,
    redis: crate::redis_conn::RedisTarget,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "simulator metrics listening");
    serve_on(listener, metrics, redis).await
}

/// Serves on an already bound listener (tests bind port 0).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    metrics: SimulatorMetrics,
    redis: crate::redis_conn::RedisTarget,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/ready", get(ready))
        .route("/metrics", get(render))
        .with_state(SimState { metrics, redis });
    axum::serve(listener, app).await
}

async fn ready(State(st): State<SimState>) -> impl IntoResponse {
    let probe = async {
        let mut c = crate::redis_conn::connect_async(&st.redis).await?;
        redis::cmd("PING").query_async::<String>(&mut c).await
    };
    let ok = matches!(
        tokio::time::timeout(std::time::Duration::from_secs(2), probe).await,
        Ok(Ok(_))
    );
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
    redis: crate::redis_conn::RedisTarget,
    cfg: PublishConfig,
    metrics: SimulatorMetrics,
    progress: Arc<Progress>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<PublishReport> {
    run_source(Race::new(race), keys, redis, cfg, metrics, progress, stop).await
}

/// Publishes any source (a race, a replayed recording) to the end on a blocking thread.
///
/// Survives Redis going away: a failed call ends the attempt, and the next attempt (after
/// a backoff, on a new connection) resumes from the session's progress hash, replaying the
/// deterministic source silently up to it. Should an append that timed out land after
/// all, its samples reach the stream twice with the same seq, and the processor drops
/// the second copy. `stop` ends the wait between attempts too.
///
/// Each outage is logged when it begins and when the first write after it goes through
/// (the race publishing again, not the flag); the report counts every sample the session
/// published, whichever attempt sent it.
pub async fn run_source<S: Source + Send + 'static>(
    mut source: S,
    keys: StreamKeys,
    redis: crate::redis_conn::RedisTarget,
    cfg: PublishConfig,
    metrics: SimulatorMetrics,
    progress: Arc<Progress>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<PublishReport> {
    let report = tokio::task::spawn_blocking(move || -> anyhow::Result<PublishReport> {
        let mut attempts = Attempts::new(redis.endpoint().to_owned());
        // Failed attempts in a row, for the backoff (the outage's first, 0, is logged).
        let mut failures = 0u32;
        loop {
            let attempt = crate::redis_conn::connect_sync(&redis)
                .map_err(PublishError::from)
                .and_then(|mut con| {
                    publish(
                        &mut source,
                        &keys,
                        &mut con,
                        &cfg,
                        &metrics,
                        &progress,
                        &stop,
                        &mut attempts,
                    )
                });
            let e = match attempt {
                Ok(report) => return Ok(report),
                Err(PublishError::Redis(e)) => e,
                Err(e) => return Err(e.into()),
            };
            if e.code() == Some(PROGRESS_MOVED) {
                // Not an outage: the stream lacks a write the server acknowledged.
                tracing::warn!(redis = %attempts.endpoint, error = %chain(&e), "the stream does not hold what was published; resuming from its progress");
            } else if attempts.outage_since.is_none() {
                // A new outage: the last one ended with a write that went through.
                failures = 0;
                attempts.outage_since = Some(std::time::Instant::now());
                tracing::warn!(redis = %attempts.endpoint, error = %chain(&e), "publishing failed; resuming when Redis answers");
            }
            metrics.publish_failures.inc();
            let delay = crate::util::retry_delay(failures).min(MAX_RETRY_DELAY);
            failures += 1;
            if !sleep_unless_stopped(delay, &stop) {
                return Err(PublishError::Stopped.into());
            }
            // From the top: `publish` skips what the progress hash says was sent.
            let origin = source.start_ms();
            source.restart_at(origin);
        }
    })
    .await??;
    Ok(report)
}

/// Longest wait between publishing attempts.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(2);

/// Sleeps `d` in short steps; `false` as soon as `stop` is set.
fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) -> bool {
    let until = std::time::Instant::now() + d;
    while std::time::Instant::now() < until {
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20).min(d));
    }
    !stop.load(std::sync::atomic::Ordering::Relaxed)
}
