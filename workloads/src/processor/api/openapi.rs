//! The API's OpenAPI 3.1 document, derived from the handlers' own types and
//! `#[utoipa::path]` attributes: served at [`OPENAPI_PATH`], checked in as
//! `docs/openapi.json` (`pitstop openapi`, `make docs`), and every answer of the API
//! tests is validated against it.

use super::{events, ingest, probes, reads, sessions};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::sync::LazyLock;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "pitstop processor API",
        description = "Ingest (`POST /telemetry`), the sessions a client feeds, analytics \
            reads, probes and metrics of `pitstop process` (:8001). Every error is \
            `{\"error\": \"...\"}` (`ErrorBody`), on every route: an unknown route is a 404 and \
            a wrong method a 405, both with that body. See docs/http-api.md."
    ),
    paths(
        ingest::ingest,
        reads::list_sessions,
        reads::get_session,
        reads::get_classification,
        reads::get_laps,
        reads::get_stints,
        reads::get_pitstops,
        reads::get_anomalies,
        reads::get_teams,
        reads::get_report,
        reads::get_cars,
        reads::get_strategy,
        sessions::start,
        sessions::finish,
        events::list,
        events::post,
        serve,
        probes::health,
        probes::ready,
        probes::metrics,
    ),
    modifiers(&KeySchemes),
    tags(
        (name = "ingest", description = "Telemetry in: native samples, OpenF1, FastF1"),
        (name = "sessions", description = "Start, finish and race-control events of a session fed through the API"),
        (name = "reads", description = "Analytics of a session, from what the processor committed"),
        (name = "probes", description = "Liveness, readiness, metrics and this document"),
    )
)]
struct ApiDoc;

/// The two ways to present the API key that ingest and the session writes require.
struct KeySchemes;

impl Modify for KeySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as `docs/openapi.json` holds it: pretty JSON with a trailing newline.
pub fn document_json() -> String {
    let mut json = document()
        .to_pretty_json()
        .expect("an OpenAPI document serializes");
    json.push('\n');
    json
}

static SERVED: LazyLock<String> = LazyLock::new(document_json);

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "probes",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of this API",
            body = Object, content_type = "application/json"),
    ))]
pub(super) async fn serve() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        SERVED.as_str(),
    )
        .into_response()
}
