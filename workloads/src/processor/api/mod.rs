//! HTTP API on :8001: ingest (`POST /telemetry`, [`ingest`]), the sessions a client
//! feeds ([`sessions`]), analytics reads (`/api/v1/...`, [`reads`]), probes and metrics.
//! Ingest appends to the same partitioned stream the simulator writes, so API samples get
//! the same durability and exactly-once accounting.
//!
//! Every error is `{"error": "..."}` with a status that says whose fault it is: bad
//! paths, queries and bodies are 4xx with the reason, unknown routes 404, a dependency
//! away 503 (with no detail beyond which one: the log has the rest).

mod append;
mod events;
mod ingest;
mod reads;
mod request;
mod sessions;
mod state;

pub use reads::refresh_strategy;
pub use state::{ApiError, ApiState};

use super::shared::Stall;
use crate::datastore_problem::{Datastore, Problem, classify, finding};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use std::sync::atomic::Ordering;

pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/telemetry", post(ingest::ingest))
        .route("/api/v1/sessions", get(reads::list_sessions))
        .route("/api/v1/sessions/{id}", get(reads::get_session))
        .route(
            "/api/v1/sessions/{id}/classification",
            get(reads::get_classification),
        )
        .route("/api/v1/sessions/{id}/laps", get(reads::get_laps))
        .route("/api/v1/sessions/{id}/stints", get(reads::get_stints))
        .route("/api/v1/sessions/{id}/pitstops", get(reads::get_pitstops))
        .route("/api/v1/sessions/{id}/anomalies", get(reads::get_anomalies))
        .route("/api/v1/sessions/{id}/teams", get(reads::get_teams))
        .route("/api/v1/sessions/{id}/report", get(reads::get_report))
        .route("/api/v1/sessions/{id}/cars", get(reads::get_cars))
        .route("/api/v1/sessions/{id}/strategy", get(reads::get_strategy))
        .route("/api/v1/sessions/{id}/start", post(sessions::start))
        .route("/api/v1/sessions/{id}/finish", post(sessions::finish))
        .route(
            "/api/v1/sessions/{id}/events",
            get(events::list).post(events::post),
        )
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .fallback(|| async {
            ApiError(
                StatusCode::NOT_FOUND,
                "no such endpoint (see the README's API reference)".into(),
            )
        })
        .method_not_allowed_fallback(|| async {
            ApiError(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this endpoint".into(),
            )
        })
        .with_state(state)
}

/// Liveness: 200 while the work loop makes progress or waits for a dependency that is
/// away; 503 when it is wedged or keeps failing against a Redis that answers (see
/// [`super::liveness_bound`]), so the kubelet restarts the pod.
async fn health(State(st): State<ApiState>) -> Response {
    match st.shared.stall().await {
        None => Json(json!({ "status": "ok" })).into_response(),
        Some(Stall::Wedged { seconds }) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "wedged", "error": format!("the work loop has not come round for {seconds} s") })),
        )
            .into_response(),
        Some(Stall::Failing { seconds }) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "failing", "error": format!("no lease round has succeeded for {seconds} s although Redis answers") })),
        )
            .into_response(),
    }
}

/// Readiness: both dependencies answer now, and the schema is migrated. `problems` names
/// the cause of each failure ([`crate::datastore_problem`]): the operator turns it into
/// its condition's reason.
async fn ready(State(st): State<ApiState>) -> Response {
    let (redis, postgres) = tokio::join!(redis_problem(&st), postgres_problem(&st));
    let (code, body) = readiness(redis, postgres);
    (code, Json(body)).into_response()
}

/// Bound on each dependency's check in [`ready`].
const READY_PROBE: std::time::Duration = std::time::Duration::from_secs(2);

async fn redis_problem(st: &ApiState) -> Option<Problem> {
    let mut con = st.redis();
    match tokio::time::timeout(
        READY_PROBE,
        redis::cmd("PING").query_async::<String>(&mut con),
    )
    .await
    {
        Ok(Ok(_)) => None,
        Ok(Err(e)) => Some(st.shared.redis.diagnose(classify(&e)).await),
        Err(_) => Some(st.shared.redis.diagnose(Problem::Unreachable).await),
    }
}

async fn postgres_problem(st: &ApiState) -> Option<Problem> {
    match st.db().await {
        Ok(db) => match tokio::time::timeout(READY_PROBE, db.simple_query("SELECT 1")).await {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(classify(&e)),
            Err(_) => Some(Problem::Unreachable),
        },
        // `db()` answers only "unavailable": one bounded attempt of our own finds why.
        Err(_) => {
            match tokio::time::timeout(READY_PROBE, crate::db::connect(&st.shared.database_url))
                .await
            {
                Ok(Err(e)) => Some(classify(&e)),
                Err(_) => Some(Problem::Unreachable),
                Ok(Ok(_)) if !st.shared.health.migrated.load(Ordering::Relaxed) => {
                    Some(Problem::SchemaNotMigrated)
                }
                Ok(Ok(_)) => Some(Problem::Other),
            }
        }
    }
}

/// `/ready`'s status and body from each dependency's problem (`None`: it answers):
/// `{"redis": bool, "postgres": bool, "problems": [{"datastore", "reason", "message"}]}`.
fn readiness(redis: Option<Problem>, postgres: Option<Problem>) -> (StatusCode, serde_json::Value) {
    let problems: Vec<_> = [(Datastore::Postgres, postgres), (Datastore::Redis, redis)]
        .into_iter()
        .filter_map(|(store, problem)| problem.map(|p| finding(store, p)))
        .collect();
    let code = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "redis": redis.is_none(),
        "postgres": postgres.is_none(),
        "problems": problems,
    });
    (code, body)
}

async fn metrics(State(st): State<ApiState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::render(&st.shared.metrics.registry),
    )
        .into_response()
}
