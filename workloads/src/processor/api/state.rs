//! What every handler works with: [`ApiState`] (the processor's shared state and a
//! PostgreSQL connection made on first use), queries [`bounded`] and Redis calls
//! [`redis_bounded`] in time, and [`ApiError`], the `{"error": "..."}` answer.

use crate::errors::chain;
use crate::processor::shared::Shared;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::RwLock;
use tokio_postgres::Client;

/// Bound on one API query against PostgreSQL (the reads are indexed by session).
const QUERY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Bound on the Redis part of one request, all its calls together (connecting
/// included): the 5 s of docs/http-api.md, after which the client gets a 503 and resends.
pub(super) const REDIS_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// What the handlers share. The PostgreSQL client is connected on first use and again
/// after its connection drops; Redis is the processor's reconnecting handle.
#[derive(Clone)]
pub struct ApiState {
    pub(super) shared: Arc<Shared>,
    db: Arc<RwLock<Option<Arc<Client>>>>,
}

impl ApiState {
    /// `db`: the connection the processor migrated with, if it got one.
    pub fn new(shared: Arc<Shared>, db: Option<Client>) -> Self {
        ApiState {
            shared,
            db: Arc::new(RwLock::new(db.map(Arc::new))),
        }
    }

    /// The API's own shared connection (not the lease manager's: a `WAIT` of ingest
    /// holds the connection it is sent on).
    pub(super) fn redis(&self) -> crate::redis_conn::SharedConnection {
        self.shared.api_link.con()
    }

    /// After writes to the slots of `keys` on [`Self::redis`]: in a Redis Cluster, waits
    /// for a replica of each master to have them (see
    /// [`crate::redis_conn::RedisHandle::replicated`]); counts the writes none confirmed.
    pub(super) async fn replicated(&self, keys: &[String]) -> Result<(), redis::RedisError> {
        let unconfirmed = self.shared.api_link.replicated(keys).await?;
        self.shared.metrics.unreplicated.inc_by(unconfirmed as u64);
        Ok(())
    }

    pub(super) async fn db(&self) -> Result<Arc<Client>, ApiError> {
        if !self.shared.health.migrated.load(Ordering::Relaxed) {
            return Err(ApiError::unavailable("database"));
        }
        if let Some(current) = self.db.read().await.clone()
            && !current.is_closed()
        {
            return Ok(current);
        }
        let mut slot = self.db.write().await;
        match slot.as_ref() {
            Some(c) if !c.is_closed() => Ok(c.clone()),
            _ => {
                let client = Arc::new(
                    crate::db::connect(&self.shared.database_url)
                        .await
                        .map_err(ApiError::db)?,
                );
                *slot = Some(client.clone());
                Ok(client)
            }
        }
    }
}

/// Runs one query future against the API's database connection, bounded in time.
pub(super) async fn bounded<T>(
    fut: impl Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, ApiError> {
    match tokio::time::timeout(QUERY_TIMEOUT, fut).await {
        Ok(r) => r.map_err(ApiError::db),
        Err(_) => {
            tracing::warn!(
                timeout_s = QUERY_TIMEOUT.as_secs(),
                "database query in API took too long"
            );
            Err(ApiError::unavailable("database"))
        }
    }
}

/// Runs the Redis part of a request (one call or several) under one deadline,
/// [`REDIS_REQUEST_TIMEOUT`]; a Redis error or the deadline is a 503 "telemetry stream
/// unavailable, retry". Dropping the future at the deadline leaves no half-write as long
/// as each write it makes is atomic on the server (a script, a MULTI pipeline): it
/// landed whole or not at all, and the client's resend is recognised.
pub(super) async fn redis_bounded<T>(
    fut: impl Future<Output = Result<T, redis::RedisError>>,
) -> Result<T, ApiError> {
    match tokio::time::timeout(REDIS_REQUEST_TIMEOUT, fut).await {
        Ok(r) => r.map_err(ApiError::stream),
        Err(_) => {
            tracing::warn!(
                bound_s = REDIS_REQUEST_TIMEOUT.as_secs(),
                "telemetry stream unavailable: no answer from Redis within the bound"
            );
            Err(ApiError::unavailable("telemetry stream"))
        }
    }
}

/// The body of every error: `{"error": "..."}` and nothing else (the few answers that
/// carry more have schemas of their own). `deny_unknown_fields` is for the schema: it
/// says `additionalProperties: false`, so a body with more is not an `ErrorBody`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ErrorBody {
    /// What went wrong, for a person: the field, row or dependency at fault.
    pub error: String,
}

/// An error answered as `{"error": "..."}`.
pub struct ApiError(pub(super) StatusCode, pub(super) String);

impl ApiError {
    pub(super) fn bad_request(message: impl Into<String>) -> Self {
        ApiError(StatusCode::BAD_REQUEST, message.into())
    }

    pub(super) fn unavailable(what: &str) -> Self {
        ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{what} unavailable, retry"),
        )
    }

    /// Redis could not take or give what was asked: the client should retry (resending
    /// is safe, see `ingest`).
    pub(super) fn stream(e: redis::RedisError) -> Self {
        tracing::warn!(error = %chain(&e), "telemetry stream unavailable");
        ApiError::unavailable("telemetry stream")
    }

    pub(super) fn db(e: impl std::error::Error + 'static) -> Self {
        tracing::warn!(error = %chain(&e), "database error in API");
        ApiError::unavailable("database")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(ErrorBody { error: self.1 })).into_response()
    }
}
