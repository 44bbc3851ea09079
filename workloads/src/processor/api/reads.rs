//! The analytics reads: sessions, classification, laps, stints, pit stops, anomalies,
//! teams, cars and the post-race report, straight from PostgreSQL (and, for a car's
//! values ingest made unknown, its counts in Redis).

use super::request::{QueryOf, SessionId};
use super::state::{ApiError, ApiState, ErrorBody, bounded, redis_bounded};
use crate::analytics::strategy::Strategy;
use crate::processor::queries::{
    self, AnomalyRow, CarFeed, ClassifiedCar, LapRow, ScoredStop, SessionDetail, SessionSummary,
    Stint as StintRow, TeamPerformance,
};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

#[utoipa::path(get, path = "/api/v1/sessions/{id}/cars", tag = "reads", params(SessionId),
    responses(
        (status = 200, description = "Per car: channels sent, analytics skipped for lack of one, late samples, values made unknown", body = Vec<CarFeed>),
        (status = 400, description = "A bad session id", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 503, description = "PostgreSQL away or too slow: retry", body = ErrorBody),
    ))]
pub(super) async fn get_cars(
    State(st): State<ApiState>,
    SessionId(id): SessionId,
) -> Result<Response, ApiError> {
    let db = st.db().await?;
    exists(&db, &id).await?;
    let mut cars = bounded(queries::cars(&db, &id)).await?;
    // What ingest made unknown lives beside its counts in Redis; without Redis the
    // rest of the answer stands and says so (null).
    let mut con = st.redis();
    // A car's fields are in its partition's hash: the union has each once.
    let fields: Option<std::collections::HashMap<String, String>> = redis_bounded(
        super::sessions::ingest_hashes(&mut con, &st.shared.keys, &id),
    )
    .await
    .ok()
    .map(|hashes| hashes.into_iter().flatten().collect());
    for c in &mut cars {
        c.unknown = fields.as_ref().map(|f| unknown_of(f, c.car));
    }
    Ok(Json(cars).into_response())
}

/// A car's `unknown:<car>:<channel>:<reason>` counts as `{"channel": {"reason": n}}`.
fn unknown_of(fields: &std::collections::HashMap<String, String>, car: i32) -> serde_json::Value {
    let prefix = format!("unknown:{car}:");
    let mut out = serde_json::Map::new();
    for (k, v) in fields {
        if let Some((channel, reason)) = k.strip_prefix(&prefix).and_then(|r| r.split_once(':')) {
            let n: u64 = v.parse().unwrap_or(0);
            let entry = out
                .entry(channel)
                .or_insert_with(|| serde_json::Value::Object(Default::default()));
            entry[reason] = n.into();
        }
    }
    out.into()
}

#[utoipa::path(get, path = "/api/v1/sessions", tag = "reads",
    responses(
        (status = 200, description = "Every session with committed samples", body = Vec<SessionSummary>),
        (status = 503, description = "PostgreSQL away or too slow: retry", body = ErrorBody),
    ))]
pub(super) async fn list_sessions(State(st): State<ApiState>) -> Result<Response, ApiError> {
    let db = st.db().await?;
    Ok(Json(bounded(queries::sessions(&db)).await?).into_response())
}

fn not_found(id: &str) -> ApiError {
    ApiError(StatusCode::NOT_FOUND, format!("no session {id:?}"))
}

#[utoipa::path(get, path = "/api/v1/sessions/{id}", tag = "reads", params(SessionId),
    responses(
        (status = 200, description = "Progress, leader and counts", body = SessionDetail),
        (status = 400, description = "A bad session id", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 503, description = "PostgreSQL away or too slow: retry", body = ErrorBody),
    ))]
pub(super) async fn get_session(
    State(st): State<ApiState>,
    SessionId(id): SessionId,
) -> Result<Response, ApiError> {
    let db = st.db().await?;
    match bounded(queries::session(&db, &id)).await? {
        Some(s) => Ok(Json(s).into_response()),
        None => Err(not_found(&id)),
    }
}

async fn exists(db: &Client, id: &str) -> Result<(), ApiError> {
    let row = bounded(db.query_opt("SELECT 1 FROM sessions WHERE session_id = $1", &[&id])).await?;
    row.map(|_| ()).ok_or_else(|| not_found(id))
}

#[utoipa::path(get, path = "/api/v1/sessions/{id}/classification", tag = "reads", params(SessionId),
    responses(
        (status = 200, description = "Positions, laps, best lap, gap, DNF", body = Vec<ClassifiedCar>),
        (status = 400, description = "A bad session id", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 503, description = "PostgreSQL away or too slow: retry", body = ErrorBody),
    ))]
pub(super) async fn get_classification(
    State(st): State<ApiState>,
    SessionId(id): SessionId,
) -> Result<Response, ApiError> {
    let db = st.db().await?;
    exists(&db, &id).await?;
    Ok(Json(bounded(queries::classification(&db, &id)).await?).into_response())
}

/// `?car=`: one car's rows only.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct CarFilter {
    /// One car's rows only: its number, 1..=99.
    car: Option<i32>,
}

impl CarFilter {
    /// The car, checked by the sample rule (1..=99) so a typo is a 400, not an empty list.
    fn car(&self) -> Result<Option<i32>, ApiError> {
        match self.car {
            Some(c) if !(1..=99).contains(&c) => {
                Err(ApiError::bad_request(format!("car: {c} is outside 1..=99")))
            }
            c => Ok(c),
        }
    }
}

/// Every lap of every car (or of `?car=`): times, sectors, tyres, position, and whether
/// it was an in-lap, an out-lap, neutralised or green.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/laps", tag = "reads", params(SessionId, CarFilter),
    responses(
        (status = 200, description = "Every lap in car and lap order", body = Vec<LapRow>),
        (status = 400, description = "A bad session id or query", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 503, description = "PostgreSQL away or too slow: retry", body = ErrorBody),
    ))]
pub(super) async fn get_laps(
    State(st): State<ApiState>,
    SessionId(id): SessionId,
    QueryOf(f): QueryOf<CarFilter>,
) -> Result<Response, ApiError> {
    let car = f.car()?;
    let db = st.db().await?;
    exists(&db, &id).await?;
    Ok(Json(bounded(queries::laps(&db, &id, car)).await?).into_response())
}

/// Every stint of every car (or of `?car=`): compound, laps, green pace, degradation.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/stints", tag = "reads", params(SessionId, CarFilter),
    responses(
        (status = 200, description = "Every stint in car and stint order", body = Vec<StintRow>),
        (status = 400, description = "A bad session id or query", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 503, description = "PostgreSQL away or too slow: retry", body = ErrorBody),
    ))]
pub(super) async fn get_stints(
    State(st): State<ApiState>,
    SessionId(id): SessionId,
    QueryOf(f): QueryOf<CarFilter>,
) -> Result<Response, ApiError> {
    let car = f.car()?;
    let db = st.db().await?;
    exists(&db, &id).await?;
    Ok(Json(bounded(queries::stints(&db, &id, car)).await?).into_response())
}

#[utoipa::path(get, path = "/api/v1/sessions/{id}/pitstops", tag = "reads", params(SessionId),
    responses(
        (status = 200, description = "Pit stops with their scores", body = Vec<ScoredStop>),
        (status = 400, description = "A bad session id", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 503, description = "PostgreSQL away or too slow: retry", body = ErrorBody),
    ))]
pub(super) async fn get_pitstops(
    State(st): State<ApiState>,
    SessionId(id): SessionId,
) -> Result<Response, ApiError> {
    let db = st.db().await?;
    exists(&db, &id).await?;
    Ok(Json(bounded(queries::pit_stops(&db, &id)).await?).into_response())
}

/// `?car=` and `?kind=`: one car's anomalies, of one kind.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct AnomalyFilter {
    /// One car's anomalies only.
    car: Option<i32>,
    /// One kind only (`pressure_loss`, ...).
    kind: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/sessions/{id}/anomalies", tag = "reads", params(SessionId, AnomalyFilter),
    responses(
        (status = 200, description = "Anomalies in detection order", body = Vec<AnomalyRow>),
        (status = 400, description = "A bad session id or query", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 503, description = "PostgreSQL away or too slow: retry", body = ErrorBody),
    ))]
pub(super) async fn get_anomalies(
    State(st): State<ApiState>,
    SessionId(id): SessionId,
    QueryOf(f): QueryOf<AnomalyFilter>,
) -> Result<Response, ApiError> {
    let db = st.db().await?;
    exists(&db, &id).await?;
    Ok(
        Json(bounded(queries::anomalies(&db, &id, f.car, f.kind.as_deref())).await?)
            .into_response(),
    )
}

#[utoipa::path(get, path = "/api/v1/sessions/{id}/teams", tag = "reads", params(SessionId),
    responses(
        (status = 200, description = "Per team: lap statistics, best sectors, stints, gap to Ferrari", body = Vec<TeamPerformance>),
        (status = 400, description = "A bad session id", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 503, description = "PostgreSQL away or too slow: retry", body = ErrorBody),
    ))]
pub(super) async fn get_teams(
    State(st): State<ApiState>,
    SessionId(id): SessionId,
) -> Result<Response, ApiError> {
    let db = st.db().await?;
    exists(&db, &id).await?;
    Ok(Json(bounded(queries::teams(&db, &id)).await?).into_response())
}

/// The HTML report the post-race pipeline's `report` step stored (404 until it ran).
#[utoipa::path(get, path = "/api/v1/sessions/{id}/report", tag = "reads", params(SessionId),
    responses(
        (status = 200, description = "The HTML report", body = String, content_type = "text/html"),
        (status = 400, description = "A bad session id", body = ErrorBody),
        (status = 404, description = "No such session, or no report yet (the post-race pipeline's report step writes it)", body = ErrorBody),
        (status = 503, description = "PostgreSQL away or too slow: retry", body = ErrorBody),
    ))]
pub(super) async fn get_report(
    State(st): State<ApiState>,
    SessionId(id): SessionId,
) -> Result<Response, ApiError> {
    let db = st.db().await?;
    exists(&db, &id).await?;
    match bounded(crate::db::reports::stored(&db, &id)).await? {
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

/// The live strategy per car as of the last line crossing stored (`analytics::strategy`):
/// degradation, pit loss, rejoin, pit window and undercut calls.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/strategy", tag = "reads", params(SessionId),
    responses(
        (status = 200, description = "The live strategy of every running car", body = StrategyAnswer),
        (status = 400, description = "A bad session id", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 503, description = "PostgreSQL away or too slow: retry", body = ErrorBody),
    ))]
pub(super) async fn get_strategy(
    State(st): State<ApiState>,
    SessionId(id): SessionId,
) -> Result<Response, ApiError> {
    let db = st.db().await?;
    let race = bounded(crate::processor::strategy_input::race(&db, &id))
        .await?
        .ok_or_else(|| not_found(&id))?;
    // Pure and a few milliseconds for a whole race: computed on the request's task.
    let strategy = crate::analytics::strategy::compute(&race);
    Ok(Json(StrategyAnswer {
        session_id: id,
        strategy,
    })
    .into_response())
}

/// `GET /api/v1/sessions/{id}/strategy`'s answer: the session's strategy and its id.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct StrategyAnswer {
    session_id: String,
    #[serde(flatten)]
    strategy: Strategy,
}

/// Keeps the strategy gauges of the unfinished sessions current without anyone asking
/// the API: every [`crate::processor::strategy_metrics::REFRESH`] until shutdown. Every
/// processor pod does it (a few milliseconds a race); the dashboards take `max` over pods.
pub async fn refresh_strategy(st: ApiState, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let every = crate::processor::strategy_metrics::REFRESH;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        let Ok(db) = st.db().await else { continue };
        let Ok(Ok(sessions)) = tokio::time::timeout(every, queries::sessions(&db)).await else {
            continue;
        };
        for s in sessions.iter().filter(|s| s.finished) {
            st.shared.metrics.strategy.forget(&s.session_id);
        }
        for s in sessions.iter().filter(|s| !s.finished) {
            let read = crate::processor::strategy_input::race(&db, &s.session_id);
            if let Ok(Ok(Some(race))) = tokio::time::timeout(every, read).await {
                let strategy = crate::analytics::strategy::compute(&race);
                st.shared.metrics.strategy.observe(&s.session_id, &strategy);
            }
        }
    }
}
