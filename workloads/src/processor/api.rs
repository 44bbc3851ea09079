//! HTTP API on :8001: ingest (`POST /telemetry`), analytics (`/api/v1/...`), probes and
//! metrics. Ingest appends to the same partitioned stream the simulator writes, so API
//! samples get the same durability and exactly-once accounting.

use super::Shared;
use super::queries;
use crate::codec::binary::encode_batch;
use crate::feeds::{self, FeedOptions, Format};
use crate::model::Sample;
use crate::stream::{CarCount, FIELD_DATA, FIELD_MARKER, FIELD_SEQ_BASE, Marker, xadd};
use crate::util::now_us;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
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
    /// Redis could not take or give what was asked: the client should retry.
    fn stream(e: redis::RedisError) -> Self {
        tracing::warn!(error = %e, "telemetry stream unavailable");
        ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "telemetry stream unavailable, retry".into(),
        )
    }

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
        .route("/api/v1/sessions/{id}/cars", get(get_cars))
        .route("/api/v1/sessions/{id}/start", post(start_session))
        .route("/api/v1/sessions/{id}/finish", post(finish))
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

async fn ingest(State(st): State<ApiState>, uri: Uri, headers: HeaderMap, body: Body) -> Response {
    let result = ingest_inner(&st, &uri, &headers, body).await;
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
        Ok((n, format)) => (
            StatusCode::ACCEPTED,
            Json(json!({ "accepted": n, "format": format.as_str() })),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
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

/// What a feed without our fields needs, from the query string of `POST /telemetry`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct IngestQuery {
    /// Session id for OpenF1 and FastF1 bodies.
    session: Option<String>,
    /// Time origin of relative FastF1 times, ms since the epoch or RFC 3339.
    start: Option<String>,
    /// `car:driver:team,…` for FastF1 codes of other seasons.
    grid: Option<String>,
    /// The car of a FastF1 CSV without a Driver column.
    car: Option<String>,
}

impl IngestQuery {
    fn options(self) -> Result<FeedOptions, String> {
        if let Some(s) = self.session.as_deref() {
            crate::model::validate_session(s).map_err(|e| e.to_string())?;
        }
        let start_ms = match self.start.as_deref() {
            None => None,
            Some(v) => Some(feeds::time::start_ms(v).map_err(|e| format!("start: {e}"))?),
        };
        let grid = match self.grid.as_deref() {
            None => Vec::new(),
            Some(g) => crate::sim::grid::parse_grid(g).map_err(|e| format!("grid: {e}"))?,
        };
        let car = match self.car.as_deref() {
            None => None,
            Some(c) => Some(
                c.parse::<u8>()
                    .ok()
                    .filter(|n| (1..=99).contains(n))
                    .ok_or_else(|| format!("car: {c:?} is not a car number 1..=99"))?,
            ),
        };
        Ok(FeedOptions {
            session: self.session,
            start_ms,
            grid,
            car,
        })
    }
}

/// The body formats by `Content-Type`; without one the body says which it is.
fn body_format(headers: &HeaderMap, body: &[u8]) -> Result<Format, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("?").to_owned());
    let essence = content_type
        .as_deref()
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase());
    match essence.as_deref() {
        None
        | Some("application/json")
        | Some("application/x-ndjson")
        | Some("application/ndjson")
        | Some("application/jsonl")
        | Some("application/json-seq")
        | Some("text/csv") => Ok(Format::detect(content_type.as_deref(), body)),
        Some(other) => Err(ApiError(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Content-Type {other:?} is not accepted: send application/json (native samples or OpenF1 records), application/x-ndjson, or text/csv (FastF1 telemetry)"
            ),
        )),
    }
}

async fn ingest_inner(
    st: &ApiState,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<(usize, Format), ApiError> {
    let cfg = &st.shared.cfg;
    authorize(st, headers)?;
    let limit = cfg.max_body_bytes;
    let too_big = || {
        ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
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
    let query: IngestQuery = serde_urlencoded::from_str(uri.query().unwrap_or(""))
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("query: {e}")))?;
    let opts = query
        .options()
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, e))?;
    let bytes = to_bytes(body, limit).await.map_err(|_| too_big())?;
    let format = body_format(headers, &bytes)?;
    let samples = feeds::parse(format, &bytes, &opts, cfg.max_samples_per_request)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.to_string()))?;
    if samples.is_empty() {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "no samples in the body".into(),
        ));
    }
    let n = samples.len();
    refuse_finished(st, &samples).await?;
    append(st, samples, format != Format::Native)
        .await
        .map_err(ApiError::stream)?;
    st.shared.metrics.ingest_samples.inc_by(n as u64);
    Ok((n, format))
}

/// A session that saw its chequered flag takes no more samples: its last laps are closed
/// and its counts final.
async fn refuse_finished(st: &ApiState, samples: &[Sample]) -> Result<(), ApiError> {
    let mut sessions: Vec<&str> = samples.iter().map(|s| s.session.as_str()).collect();
    sessions.sort_unstable();
    sessions.dedup();
    let keys = &st.shared.keys;
    let mut pipe = redis::pipe();
    for s in &sessions {
        pipe.cmd("HEXISTS").arg(keys.ingested(s)).arg("end");
        pipe.cmd("HEXISTS").arg(keys.progress(s)).arg("end");
    }
    let mut con = st.redis.clone();
    let ended: Vec<bool> = pipe.query_async(&mut con).await.map_err(ApiError::stream)?;
    match sessions
        .iter()
        .zip(ended.chunks(2))
        .find(|(_, e)| e.iter().any(|x| *x))
    {
        Some((s, _)) => Err(ApiError(
            StatusCode::CONFLICT,
            format!("session {s:?} is finished: it takes no more samples"),
        )),
        None => Ok(()),
    }
}

/// Appends entries and counts their samples per car, atomically: one script, so an
/// entry is never in the stream without being counted, nor counted without being there.
/// With `renumber` (feeds that carry no `seq`: each car numbered from 0 within the
/// request), each entry also gets the base its cars' numbers continue from.
const APPEND: &str = r#"
local n = #KEYS / 2
local maxlen, renumber, data, base = ARGV[1], ARGV[2] == '1', ARGV[3], ARGV[4]
local i = 5
for j = 1, n do
  local payload, cars = ARGV[i], tonumber(ARGV[i + 1])
  i = i + 2
  local bases = {}
  for _ = 1, cars do
    local car, count = ARGV[i], tonumber(ARGV[i + 1])
    i = i + 2
    local total = redis.call('HINCRBY', KEYS[n + j], 'car:' .. car, count)
    bases[#bases + 1] = car .. ':' .. (total - count)
  end
  if renumber then
    redis.call('XADD', KEYS[j], 'MAXLEN', '~', maxlen, '*', data, payload, base, table.concat(bases, ','))
  else
    redis.call('XADD', KEYS[j], 'MAXLEN', '~', maxlen, '*', data, payload)
  end
end
return n
"#;

/// Appends samples to their car's partition, one entry per (partition, session), counted
/// per car in the session's ingest hash.
async fn append(
    st: &ApiState,
    samples: Vec<Sample>,
    renumber: bool,
) -> Result<(), redis::RedisError> {
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
    let script = redis::Script::new(APPEND);
    let mut call = script.prepare_invoke();
    for ((p, _), _) in &groups {
        call.key(keys.partition(*p));
    }
    for ((_, session), _) in &groups {
        call.key(keys.ingested(session));
    }
    call.arg(st.shared.cfg.maxlen)
        .arg(if renumber { "1" } else { "0" })
        .arg(FIELD_DATA)
        .arg(FIELD_SEQ_BASE);
    for ((_, session), group) in &groups {
        let mut counts: Vec<(u8, u64)> = Vec::new();
        for s in group {
            match counts.iter_mut().find(|(car, _)| *car == s.car) {
                Some(c) => c.1 += 1,
                None => counts.push((s.car, 1)),
            }
        }
        call.arg(encode_batch(session, created, group))
            .arg(counts.len());
        for (car, n) in counts {
            call.arg(car).arg(n);
        }
    }
    let mut con = st.redis.clone();
    call.invoke_async::<i64>(&mut con).await.map(|_| ())
}

/// What a client knows of a session it feeds: the simulator's start marker, by hand.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionStart {
    circuit: String,
    laps: u16,
    started_at_ms: i64,
    #[serde(default)]
    cars: Vec<crate::stream::CarInfo>,
}

/// `POST /api/v1/sessions/{id}/start`: the metadata of a session fed through
/// `POST /telemetry` (circuit, distance, start, grid), appended as the session's start
/// marker so it shows in the session, classification (race times) and data quality.
async fn start_session(
    State(st): State<ApiState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    authorize(&st, &headers)?;
    let start: SessionStart = serde_json::from_slice(&body)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("invalid JSON: {e}")))?;
    crate::model::validate_session(&id)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.to_string()))?;
    let keys = &st.shared.keys;
    let info = crate::stream::SessionInfo {
        session: id,
        circuit: start.circuit,
        laps: start.laps,
        partitions: keys.partitions,
        started_at_ms: start.started_at_ms,
        cars: start.cars,
    };
    let json = serde_json::to_string(&Marker::SessionStart(info)).expect("markers serialize");
    let mut pipe = redis::pipe();
    pipe.atomic();
    for (_, key) in keys.all_partitions() {
        xadd(
            &mut pipe,
            &key,
            st.shared.cfg.maxlen,
            FIELD_MARKER,
            json.as_str(),
        );
    }
    let mut con = st.redis.clone();
    pipe.query_async::<()>(&mut con)
        .await
        .map_err(ApiError::stream)?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "started": true }))).into_response())
}

/// `POST /api/v1/sessions/{id}/finish`: the chequered flag of a session fed through
/// `POST /telemetry`. Appends the end marker to every partition with what ingest accepted
/// per car, so the session finishes (last laps closed, published counts known) as a
/// simulated one does. Finishing twice changes nothing.
async fn finish(
    State(st): State<ApiState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&st, &headers)?;
    let keys = &st.shared.keys;
    let mut con = st.redis.clone();
    let fields: std::collections::HashMap<String, i64> = redis::cmd("HGETALL")
        .arg(keys.ingested(&id))
        .query_async(&mut con)
        .await
        .map_err(ApiError::stream)?;
    let published: Vec<CarCount> = fields
        .iter()
        .filter_map(|(k, v)| {
            Some(CarCount {
                car: k.strip_prefix("car:")?.parse().ok()?,
                samples: *v as u64,
            })
        })
        .collect();
    if published.is_empty() {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no telemetry was posted for session {id:?}"),
        ));
    }
    let total: u64 = published.iter().map(|c| c.samples).sum();
    if fields.contains_key("end") {
        return Ok(Json(json!({ "finished": true, "published": total })).into_response());
    }
    let mut pipe = redis::pipe();
    pipe.atomic();
    for (p, key) in keys.all_partitions() {
        let marker = Marker::SessionEnd {
            session: id.clone(),
            partitions: keys.partitions,
            published: published
                .iter()
                .filter(|c| keys.partition_of(c.car) == p)
                .copied()
                .collect(),
        };
        let json = serde_json::to_string(&marker).expect("markers serialize");
        xadd(&mut pipe, &key, st.shared.cfg.maxlen, FIELD_MARKER, json);
    }
    pipe.cmd("HSET")
        .arg(keys.ingested(&id))
        .arg("end")
        .arg(crate::util::now_ms())
        .ignore();
    pipe.query_async::<()>(&mut con)
        .await
        .map_err(ApiError::stream)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "finished": true, "published": total })),
    )
        .into_response())
}

async fn get_cars(
    State(st): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let db = st.db().await?;
    exists(&db, &id).await?;
    Ok(Json(queries::cars(&db, &id).await.map_err(ApiError::db)?).into_response())
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
