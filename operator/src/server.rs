//! :8002 — `/health` (the process runs), `/ready` (the API server answers), `/metrics`,
//! and `/cadvisor/{namespace}`: one namespace's container metrics for a race's Prometheus
//! (see [`crate::cadvisor`]). The first three answer anyone (kubelet probes and scrapers
//! carry no credentials, and they reveal nothing about races); `/cadvisor/{namespace}`
//! answers only a caller allowed to read that namespace's metrics ([`crate::access`]),
//! from one fetch of every node shared by all namespaces ([`NodeMetrics`]).

use crate::access::{self, Access, Decision};
use crate::cadvisor::NodeMetrics;
use crate::errors::chain;
use crate::metrics::OperatorMetrics;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone)]
struct ServerState {
    client: kube::Client,
    metrics: OperatorMetrics,
    access: Access,
    nodes: Arc<NodeMetrics>,
}

/// The routes of :8002, checking `/cadvisor` callers with `access` and fetching the
/// nodes at most once per [`crate::cadvisor::INTERVAL`].
pub fn router(client: kube::Client, metrics: OperatorMetrics, access: Access) -> Router {
    let nodes = Arc::new(NodeMetrics::new(client.clone(), crate::cadvisor::INTERVAL));
    router_with(client, metrics, access, nodes)
}

/// [`router`] serving `/cadvisor` from `nodes`.
pub fn router_with(
    client: kube::Client,
    metrics: OperatorMetrics,
    access: Access,
    nodes: Arc<NodeMetrics>,
) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/ready", get(ready))
        .route("/metrics", get(render))
        .route("/cadvisor/{namespace}", get(cadvisor))
        .with_state(ServerState {
            client,
            metrics,
            access,
            nodes,
        })
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    client: kube::Client,
    metrics: OperatorMetrics,
) -> std::io::Result<()> {
    let access = Access::new(client.clone());
    axum::serve(listener, router(client, metrics, access)).await
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

fn text(code: StatusCode, body: String) -> Response {
    (code, [(header::CONTENT_TYPE, "text/plain")], body).into_response()
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [
            (header::WWW_AUTHENTICATE, "Bearer"),
            (header::CONTENT_TYPE, "text/plain"),
        ],
        format!(
            "Unauthorized: send `Authorization: Bearer <token>` with a service-account token for the audience {}\n",
            access::AUDIENCE
        ),
    )
        .into_response()
}

async fn cadvisor(
    State(st): State<ServerState>,
    Path(ns): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(token) = access::bearer_token(headers.get(header::AUTHORIZATION)) else {
        return unauthorized();
    };
    if !crate::cadvisor::is_namespace_name(&ns) {
        return text(
            StatusCode::BAD_REQUEST,
            "Bad Request: not a namespace name\n".into(),
        );
    }
    match st.access.decide(token, &ns).await {
        Ok(Decision::Allowed { .. }) => {}
        Ok(Decision::Unauthenticated) => return unauthorized(),
        Ok(Decision::Forbidden { user }) => {
            tracing::debug!(%user, namespace = %ns, "container metrics refused");
            let p = access::CADVISOR_PERMISSION;
            return text(
                StatusCode::FORBIDDEN,
                format!(
                    "Forbidden: {user} may not {} {} in namespace {ns}\n",
                    p.verb,
                    p.rbac_resource()
                ),
            );
        }
        Err(e) => {
            tracing::warn!(error = %chain(&e), "cannot check a container-metrics caller");
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Unavailable: the caller's access cannot be checked now\n".into(),
            );
        }
    }
    match st.nodes.namespace(&ns, Instant::now()).await {
        Ok(text) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            text,
        )
            .into_response(),
        Err(e) => text(StatusCode::BAD_GATEWAY, e.to_string()),
    }
}
