//! :8002 — `/health` (the process runs), `/ready` (the API server answers), `/metrics`,
//! and `/cadvisor/{namespace}`: one namespace's container metrics for a race's Prometheus
//! (see [`crate::cadvisor`]).

use crate::metrics::OperatorMetrics;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

#[derive(Clone)]
struct ServerState {
    client: kube::Client,
    metrics: OperatorMetrics,
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    client: kube::Client,
    metrics: OperatorMetrics,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/ready", get(ready))
        .route("/metrics", get(render))
        .route("/cadvisor/{namespace}", get(cadvisor))
        .with_state(ServerState { client, metrics });
    axum::serve(listener, app).await
}

async fn ready(State(st): State<ServerState>) -> impl IntoResponse {
    match st.client.apiserver_version().await {
        Ok(_) => (StatusCode::OK, "ready"),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "kubernetes API unreachable",
        ),
    }
}

async fn render(State(st): State<ServerState>) -> impl IntoResponse {
    let mut buf = Vec::new();
    prometheus::Encoder::encode(
        &prometheus::TextEncoder::new(),
        &st.metrics.registry.gather(),
        &mut buf,
    )
    .expect("encodable");
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], buf)
}

async fn cadvisor(State(st): State<ServerState>, Path(ns): Path<String>) -> impl IntoResponse {
    match crate::cadvisor::collect(&st.client, &ns).await {
        Ok(text) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            text,
        ),
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            [(header::CONTENT_TYPE, "text/plain")],
            e.to_string(),
        ),
    }
}
