//! :8002 — `/health` (the process runs), `/ready` (the API server answers), `/metrics`.

use crate::metrics::OperatorMetrics;
use axum::Router;
use axum::extract::State;
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
