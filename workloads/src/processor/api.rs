//! HTTP API on :8001: ingest (`POST /telemetry`), analytics (`/api/v1/...`), probes and
//! metrics. Ingest appends to the same partitioned stream the simulator writes, so API
//! samples get the same durability and exactly-once accounting.

use super::Shared;
use super::queries;
use crate::codec::binary::encode_batch;
use crate::codec::json::parse_samples;
use crate::model::Sample;
use crate::stream::{FIELD_DATA, xadd};
use crate::util::now_us;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use subtle::ConstantTimeEq;
use tokio::sync::RwLock;
use tokio_postgres::Client;

/// What the handlers share. The PostgreSQL client reconnects when its connection drops.
#[derive(Clone)]
pub struct ApiState {
    shared: Arc<Shared>,
    db: Arc<RwLock<Arc<Client>>>,
    redis: redis::aio::MultiplexedConnection,
}

impl ApiState {
    pub async fn new(shared: Arc<Shared>, db: Client) -> Result<Self, super::StartError> {
        let redis = shared.redis.get_multiplexed_async_connection().await?;
        Ok(ApiState {
            shared,
            db: Arc::new(RwLock::new(Arc::new(db))),
            redis,
        })
    }

    async fn db(&self) -> Result<Arc<Client>, ApiError> {
        let current = self.db.read().await.clone();
        if !current.is_closed() {
            return Ok(current);
        }
        let mut slot = self.db.write().await;
        if slot.is_closed() {
            *slot = Arc::new(
                crate::db::connect(&self.shared.database_url)
                    .await
                    .map_err(ApiError::db)?,
            );
        }
        Ok(slot.clone())
    }
}

/// An error answered as `{"error": "..."}`.
pub struct ApiError(StatusCode, String);

impl ApiError {
    fn db(e: tokio_postgres::Error) -> Self {
        tracing::warn!(error = %e, "database error in API");
        ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "database unavailable".into(),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/telemetry", post(ingest))
        .route("/api/v1/sessions", get(list_sessions))
        .route("/api/v1/sessions/{id}", get(get_session))
        .route(
            "/api/v1/sessions/{id}/classification",
            get(get_classification),
        )
        .route("/api/v1/sessions/{id}/pitstops", get(get_pitstops))
        .route("/api/v1/sessions/{id}/anomalies", get(get_anomalies))
        .route("/api/v1/sessions/{id}/teams", get(get_teams))
        .route("/api/v1/sessions/{id}/report", get(get_report))
        .route("/health", get(|| async { "ok" }))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
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

/// Constant-time comparison (the length may leak; the content does not).
fn key_matches(expected: &str, given: &str) -> bool {
    bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

async fn ingest(State(st): State<ApiState>, headers: HeaderMap, body: Body) -> Response {
    let result = ingest_inner(&st, &headers, body).await;
    let code = match &result {
        Ok(_) => StatusCode::ACCEPTED,
        Err(e) => e.0,
    };
    st.shared
        .metrics
        .ingest_requests
        .with_label_values(&[code.as_str()])
        .inc();
    match result {
        Ok(n) => (StatusCode::ACCEPTED, Json(json!({ "accepted": n }))).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn ingest_inner(st: &ApiState, headers: &HeaderMap, body: Body) -> Result<usize, ApiError> {
    let cfg = &st.shared.cfg;
    let Some(expected) = cfg.api_key.as_deref() else {
        return Err(ApiError(
            StatusCode::UNAUTHORIZED,
            "ingest is disabled: the processor has no API key configured".into(),
        ));
    };
    match presented_key(headers) {
        Some(k) if key_matches(expected, k) => {}
        Some(_) => return Err(ApiError(StatusCode::UNAUTHORIZED, "invalid API key".into())),
        None => {
            return Err(ApiError(
                StatusCode::UNAUTHORIZED,
                "missing API key (X-API-Key or Authorization: Bearer)".into(),
            ));
        }
    }
    let limit = cfg.max_body_bytes;
    let too_big = || {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("request body exceeds the limit of {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_big());
    }
    let bytes = to_bytes(body, limit).await.map_err(|_| too_big())?;
    let samples = parse_samples(&bytes, cfg.max_samples_per_request)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.to_string()))?;
    let n = samples.len();
    append(st, samples).await.map_err(|e| {
        tracing::warn!(error = %e, "ingest could not append to redis");
        ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "telemetry stream unavailable, retry".into(),
        )
    })?;
    st.shared.metrics.ingest_samples.inc_by(n as u64);
    Ok(n)
}

/// Appends samples to their car's partition, one entry per (partition, session).
async fn append(st: &ApiState, samples: Vec<Sample>) -> Result<(), redis::RedisError> {
    let keys = &st.shared.keys;
    let mut groups: Vec<((u16, String), Vec<Sample>)> = Vec::new();
    for s in samples {
        let k = (keys.partition_of(s.car), s.session.to_string());
        match groups.iter_mut().find(|(g, _)| *g == k) {
            Some((_, v)) => v.push(s),
            None => groups.push((k, vec![s])),
        }
    }
    let created = now_us();
    let mut pipe = redis::pipe();
    pipe.atomic();
    for ((p, session), group) in &groups {
        xadd(
            &mut pipe,
            &keys.partition(*p),
            st.shared.cfg.maxlen,
            FIELD_DATA,
            encode_batch(session, created, group),
        );
    }
    let mut con = st.redis.clone();
    pipe.query_async(&mut con).await
}

async fn ready(State(st): State<ApiState>) -> Response {
    let mut con = st.redis.clone();
    let redis_ok = redis::cmd("PING")
        .query_async::<String>(&mut con)
        .await
        .is_ok();
    let pg_ok = match st.db().await {
        Ok(db) => db.simple_query("SELECT 1").await.is_ok(),
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

async fn list_sessions(State(st): State<ApiState>) -> Result<Response, ApiError> {
    let db = st.db().await?;
    Ok(Json(queries::sessions(&db).await.map_err(ApiError::db)?).into_response())
}

fn not_found(id: &str) -> ApiError {
    ApiError(StatusCode::NOT_FOUND, format!("no session {id:?}"))
}

async fn get_session(
    State(st): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let db = st.db().await?;
    match queries::session(&db, &id).await.map_err(ApiError::db)? {
        Some(s) => Ok(Json(s).into_response()),
        None => Err(not_found(&id)),
    }
}

async fn exists(db: &Client, id: &str) -> Result<(), ApiError> {
    let row = db
        .query_opt("SELECT 1 FROM sessions WHERE session_id = $1", &[&id])
        .await
        .map_err(ApiError::db)?;
    row.map(|_| ()).ok_or_else(|| not_found(id))
}

async fn get_classification(
    State(st): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let db = st.db().await?;
    exists(&db, &id).await?;
    Ok(Json(
        queries::classification(&db, &id)
            .await
            .map_err(ApiError::db)?,
    )
    .into_response())
}

async fn get_pitstops(
    State(st): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let db = st.db().await?;
    exists(&db, &id).await?;
    Ok(Json(queries::pit_stops(&db, &id).await.map_err(ApiError::db)?).into_response())
}

#[derive(Deserialize)]
struct AnomalyFilter {
    car: Option<i32>,
    kind: Option<String>,
}

async fn get_anomalies(
    State(st): State<ApiState>,
    Path(id): Path<String>,
    Query(f): Query<AnomalyFilter>,
) -> Result<Response, ApiError> {
    let db = st.db().await?;
    exists(&db, &id).await?;
    Ok(Json(
        queries::anomalies(&db, &id, f.car, f.kind.as_deref())
            .await
            .map_err(ApiError::db)?,
    )
    .into_response())
}

async fn get_teams(
    State(st): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let db = st.db().await?;
    exists(&db, &id).await?;
    Ok(Json(queries::teams(&db, &id).await.map_err(ApiError::db)?).into_response())
}

/// The HTML report the post-race pipeline's `report` step stored (404 until it ran).
async fn get_report(
    State(st): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let db = st.db().await?;
    exists(&db, &id).await?;
    match crate::jobs::report::stored(&db, &id)
        .await
        .map_err(ApiError::db)?
    {
        Some(html) => {
            Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response())
        }
        None => Err(ApiError(
            StatusCode::NOT_FOUND,
            format!(
                "no report for session {id:?} yet: the post-race pipeline's report step writes it"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both header forms are read; other schemes are not.
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
    }
}
