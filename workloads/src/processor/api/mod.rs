//! HTTP API on :8001: ingest (`POST /telemetry`, [`ingest`]), the sessions a client
//! feeds ([`sessions`]), analytics reads (`/api/v1/...`, [`reads`]), probes and metrics.
//! Ingest appends to the same partitioned stream the simulator writes, so API samples get
//! the same durability and exactly-once accounting.
//!
//! Every error is `{"error": "..."}` with a status that says whose fault it is: bad
//! paths, queries and bodies are 4xx with the reason, unknown routes 404, a dependency
//! away 503 (with no detail beyond which one: the log has the rest).

mod ingest;
mod reads;
mod sessions;

use super::shared::Shared;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use subtle::ConstantTimeEq;
use tokio::sync::RwLock;
use tokio_postgres::Client;

/// Bound on one API query against PostgreSQL (the reads are indexed by session).
const QUERY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What the handlers share. The PostgreSQL client is connected on first use and again
/// after its connection drops; Redis is the processor's reconnecting handle.
#[derive(Clone)]
pub struct ApiState {
    shared: Arc<Shared>,
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

    fn redis(&self) -> redis::aio::ConnectionManager {
        self.shared.link.con()
    }

    async fn db(&self) -> Result<Arc<Client>, ApiError> {
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
async fn bounded<T>(
    fut: impl Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, ApiError> {
    match tokio::time::timeout(QUERY_TIMEOUT, fut).await {
        Ok(r) => r.map_err(ApiError::db),
        Err(_) => Err(ApiError::db(format!(
            "query took longer than {} s",
            QUERY_TIMEOUT.as_secs()
        ))),
    }
}

/// An error answered as `{"error": "..."}`.
pub struct ApiError(StatusCode, String);

impl ApiError {
    fn bad_request(message: impl Into<String>) -> Self {
        ApiError(StatusCode::BAD_REQUEST, message.into())
    }

    fn unavailable(what: &str) -> Self {
        ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{what} unavailable, retry"),
        )
    }

    /// Redis could not take or give what was asked: the client should retry (resending
    /// is safe, see `ingest`).
    fn stream(e: redis::RedisError) -> Self {
        tracing::warn!(error = %e, "telemetry stream unavailable");
        ApiError::unavailable("telemetry stream")
    }

    fn db(e: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %e, "database error in API");
        ApiError::unavailable("database")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

/// A session id from the path, checked by the sample rule before it reaches a query
/// (a NUL byte or bad percent-encoding is the client's error, not the database's).
struct SessionId(String);

impl<S: Send + Sync> FromRequestParts<S> for SessionId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request(format!("path: {}", e.body_text())))?;
        crate::model::validate_session(&id)
            .map_err(|e| ApiError::bad_request(format!("session id: {}", e.message)))?;
        Ok(SessionId(id))
    }
}

/// A query string parsed into `T`, its errors in our JSON shape.
struct QueryOf<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryOf<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        serde_urlencoded::from_str(parts.uri.query().unwrap_or(""))
            .map(QueryOf)
            .map_err(|e| ApiError::bad_request(format!("query: {e}")))
    }
}

/// Reads a request body up to `limit` bytes within the server's body timeout.
async fn read_body(st: &ApiState, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let timeout = st.shared.cfg.http.body_read_timeout;
    match tokio::time::timeout(timeout, to_bytes(body, limit)).await {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(_)) => Err(ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body exceeds the limit of {limit} bytes"),
        )),
        Err(_) => Err(ApiError(
            StatusCode::REQUEST_TIMEOUT,
            format!("request body not received within {} s", timeout.as_secs()),
        )),
    }
}

pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/telemetry", post(ingest::ingest))
        .route("/api/v1/sessions", get(reads::list_sessions))
        .route("/api/v1/sessions/{id}", get(reads::get_session))
        .route(
            "/api/v1/sessions/{id}/classification",
            get(reads::get_classification),
        )
        .route("/api/v1/sessions/{id}/pitstops", get(reads::get_pitstops))
        .route("/api/v1/sessions/{id}/anomalies", get(reads::get_anomalies))
        .route("/api/v1/sessions/{id}/teams", get(reads::get_teams))
        .route("/api/v1/sessions/{id}/report", get(reads::get_report))
        .route("/api/v1/sessions/{id}/cars", get(reads::get_cars))
        .route("/api/v1/sessions/{id}/start", post(sessions::start))
        .route("/api/v1/sessions/{id}/finish", post(sessions::finish))
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

/// The key from `X-API-Key` or `Authorization: Bearer`.
fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(k) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(k.trim());
    }
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

/// Constant-time comparison (the length may leak; the content does not). An empty
/// expected key never matches: a processor without a usable key takes no samples.
fn key_matches(expected: &str, given: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// Checks the API key from `X-API-Key` or `Authorization: Bearer`.
fn authorize(st: &ApiState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = st.shared.cfg.api_key.as_deref() else {
        return Err(ApiError(
            StatusCode::UNAUTHORIZED,
            "ingest is disabled: the processor has no API key configured".into(),
        ));
    };
    match presented_key(headers) {
        Some(k) if key_matches(expected, k) => Ok(()),
        Some(_) => Err(ApiError(StatusCode::UNAUTHORIZED, "invalid API key".into())),
        None => Err(ApiError(
            StatusCode::UNAUTHORIZED,
            "missing API key (X-API-Key or Authorization: Bearer)".into(),
        )),
    }
}

/// Liveness: 200 while the work loop makes progress or waits for a dependency that is
/// away; 503 when it is wedged or keeps failing against a Redis that answers (see
/// [`super::liveness_bound`]), so the kubelet restarts the pod.
async fn health(State(st): State<ApiState>) -> Response {
    match st.shared.stall().await {
        None => Json(json!({ "status": "ok" })).into_response(),
        Some(super::shared::Stall::Wedged { seconds }) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "wedged", "error": format!("the work loop has not come round for {seconds} s") })),
        )
            .into_response(),
        Some(super::shared::Stall::Failing { seconds }) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "failing", "error": format!("no lease round has succeeded for {seconds} s although Redis answers") })),
        )
            .into_response(),
    }
}

/// Readiness: both dependencies answer now, and the schema is migrated.
async fn ready(State(st): State<ApiState>) -> Response {
    let probe = std::time::Duration::from_secs(2);
    let mut con = st.redis();
    let redis_ok = matches!(
        tokio::time::timeout(probe, redis::cmd("PING").query_async::<String>(&mut con)).await,
        Ok(Ok(_))
    );
    let pg_ok = match st.db().await {
        Ok(db) => matches!(
            tokio::time::timeout(probe, db.simple_query("SELECT 1")).await,
            Ok(Ok(_))
        ),
        Err(_) => false,
    };
    let code = if redis_ok && pg_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(json!({ "redis": redis_ok, "postgres": pg_ok }))).into_response()
}

async fn metrics(State(st): State<ApiState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::render(&st.shared.metrics.registry),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both header forms are read; other schemes are not; an empty key matches nothing.
    #[test]
    fn key_from_headers() {
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer s3cret".parse().unwrap());
        assert_eq!(presented_key(&h), Some("s3cret"));
        h.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(presented_key(&h), None);
        h.insert("x-api-key", "k".parse().unwrap());
        assert_eq!(presented_key(&h), Some("k"));
        assert!(
            key_matches("abc", "abc") && !key_matches("abc", "abd") && !key_matches("abc", "ab")
        );
        assert!(!key_matches("", ""));
    }
}
