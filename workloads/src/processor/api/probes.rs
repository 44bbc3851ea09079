//! Probes and metrics: `/health` (liveness), `/ready` (both datastores answer and the
//! schema is migrated) and `/metrics` (Prometheus text).

use super::state::ApiState;
use crate::datastore_problem::{Datastore, Finding, Problem, classify, finding};
use crate::processor::shared::Stall;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::sync::atomic::Ordering;

/// How the work loop is doing.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub(super) enum Liveness {
    /// It makes progress, or waits for a dependency that is away.
    Ok,
    /// It has not come round for longer than the liveness bound.
    Wedged,
    /// No lease round has succeeded for that long although Redis answers.
    Failing,
}

/// `/health`'s answer.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Health {
    pub status: Liveness,
    /// Why it is not `ok`, with the seconds it has been so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `/ready`'s answer: whether each datastore answers, and the cause of each failure.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Readiness {
    pub redis: bool,
    pub postgres: bool,
    pub problems: Vec<Finding>,
}

/// Liveness: 200 while the work loop makes progress or waits for a dependency that is
/// away; 503 when it is wedged or keeps failing against a Redis that answers (see
/// [`crate::processor::liveness_bound`]), so the kubelet restarts the pod.
#[utoipa::path(get, path = "/health", tag = "probes",
    responses(
        (status = 200, description = "Alive", body = Health),
        (status = 503, description = "Wedged or failing: restart the pod", body = Health),
    ))]
pub(super) async fn health(State(st): State<ApiState>) -> Response {
    let (code, status, error) = match st.shared.stall().await {
        None => (StatusCode::OK, Liveness::Ok, None),
        Some(Stall::Wedged { seconds }) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Liveness::Wedged,
            Some(format!("the work loop has not come round for {seconds} s")),
        ),
        Some(Stall::Failing { seconds }) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Liveness::Failing,
            Some(format!(
                "no lease round has succeeded for {seconds} s although Redis answers"
            )),
        ),
    };
    (code, Json(Health { status, error })).into_response()
}

/// Readiness: both dependencies answer now, and the schema is migrated. `problems` names
/// the cause of each failure ([`crate::datastore_problem`]): the operator turns it into
/// its condition's reason.
#[utoipa::path(get, path = "/ready", tag = "probes",
    responses(
        (status = 200, description = "Both datastores answer", body = Readiness),
        (status = 503, description = "A datastore does not answer: `problems` says why", body = Readiness),
    ))]
pub(super) async fn ready(State(st): State<ApiState>) -> Response {
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

/// `/ready`'s status and body from each dependency's problem (`None`: it answers).
fn readiness(redis: Option<Problem>, postgres: Option<Problem>) -> (StatusCode, Readiness) {
    let problems: Vec<_> = [(Datastore::Postgres, postgres), (Datastore::Redis, redis)]
        .into_iter()
        .filter_map(|(store, problem)| problem.map(|p| finding(store, p)))
        .collect();
    let code = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Readiness {
        redis: redis.is_none(),
        postgres: postgres.is_none(),
        problems,
    };
    (code, body)
}

/// The processor's Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "probes",
    responses(
        (status = 200, description = "Prometheus text exposition format 0.0.4",
            body = String, content_type = "text/plain"),
    ))]
pub(super) async fn metrics(State(st): State<ApiState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::render(&st.shared.metrics.registry),
    )
        .into_response()
}
