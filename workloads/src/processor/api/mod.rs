//! HTTP API on :8001: ingest (`POST /telemetry`, [`ingest`]), the sessions a client
//! feeds ([`sessions`]), analytics reads (`/api/v1/...`, [`reads`]), probes and metrics.
//! Ingest appends to the same partitioned stream the simulator writes, so API samples get
//! the same durability and exactly-once accounting.
//!
//! Every error is `{"error": "..."}` with a status that says whose fault it is: bad
//! paths, queries and bodies are 4xx with the reason, unknown routes 404, a dependency
//! away 503 (with no detail beyond which one: the log has the rest). The OpenAPI 3.1
//! document of all of it ([`openapi`]) is served at [`OPENAPI_PATH`].

mod append;
mod events;
mod ingest;
mod openapi;
mod probes;
mod reads;
mod request;
mod sessions;
mod state;

pub use append::FINISHED_KEYS_KEPT;
pub use openapi::{OPENAPI_PATH, document, document_json};
pub use reads::refresh_strategy;
pub use state::{ApiError, ApiState};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};

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
        .route(OPENAPI_PATH, get(openapi::serve))
        .route("/health", get(probes::health))
        .route("/ready", get(probes::ready))
        .route("/metrics", get(probes::metrics))
        .fallback(|| async {
            ApiError(
                StatusCode::NOT_FOUND,
                format!("no such endpoint (see {OPENAPI_PATH} and docs/http-api.md)"),
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
