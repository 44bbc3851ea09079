//! `/cadvisor/{namespace}` through the operator's real router and a real `kube::Client`
//! against the in-memory API server: 401 without a valid token for the operator's
//! audience, 403 without `get pods/metrics` in the namespace, 200 with only that
//! namespace's samples; decisions cached, API failures answered 503 and not cached.

mod support;

use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use pitstop_operator::access::cache::CachePolicy;
use pitstop_operator::access::{AUDIENCE, Access};
use pitstop_operator::metrics::OperatorMetrics;
use serde_json::json;
use std::sync::Arc;
use support::FakeApi;
use support::access::{ACCESS_REVIEWS, TOKEN_REVIEWS, Token, calls, serve_reviews};
use tower::ServiceExt;

const NODES: &str = "/api/v1/nodes";
const PROMETHEUS_SA: &str = "system:serviceaccount:racing:monza-prometheus";
const PAGE: &str = "# HELP container_cpu_usage_seconds_total Cumulative cpu time consumed in seconds.
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{container=\"processor\",namespace=\"racing\",pod=\"monza-processor-1\"} 12.5
container_cpu_usage_seconds_total{container=\"app\",namespace=\"bank\",pod=\"ledger-0\"} 99
";

/// An API server with one node and three tokens: the race's Prometheus (allowed in
/// `racing` only), a token minted for the API server's own audience, and the same
/// Prometheus user's token for the right audience but no grant elsewhere.
fn cluster() -> Arc<FakeApi> {
    let api = FakeApi::new();
    api.put(
        "/api/v1/nodes/node-1",
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}}),
    );
    api.raw("/api/v1/nodes/node-1/proxy/metrics/cadvisor", || {
        PAGE.to_string()
    });
    serve_reviews(
        &api,
        vec![
            Token {
                token: "prometheus-token",
                user: PROMETHEUS_SA,
                audiences: &[AUDIENCE],
            },
            Token {
                token: "api-server-token",
                user: PROMETHEUS_SA,
                audiences: &["https://kubernetes.default.svc"],
            },
            Token {
                token: "intruder-token",
                user: "system:serviceaccount:bank:ledger",
                audiences: &[AUDIENCE],
            },
        ],
        vec![(PROMETHEUS_SA, "racing")],
    );
    api
}

fn router(api: &Arc<FakeApi>) -> axum::Router {
    let client = api.client();
    pitstop_operator::server::router(client.clone(), OperatorMetrics::new(), Access::new(client))
}

async fn get(
    app: &axum::Router,
    path: &str,
    authorization: Option<&str>,
) -> (StatusCode, http::HeaderMap, String) {
    let mut req = Request::get(path);
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

/// Without a bearer token, or with a malformed header, the answer is 401 and nothing
/// is asked of the API server (no review, no node read).
#[tokio::test]
async fn no_token_is_401_without_any_api_call() {
    let api = cluster();
    let app = router(&api);
    for header in [
        None,
        Some("Basic cHJvbToxMjM="),
        Some("Bearer "),
        Some("prometheus-token"),
    ] {
        let (code, headers, _) = get(&app, "/cadvisor/racing", header).await;
        assert_eq!(code, StatusCode::UNAUTHORIZED, "{header:?}");
        assert_eq!(headers["www-authenticate"], "Bearer");
    }
    assert!(api.log().is_empty(), "{:?}", api.log());
}

/// An unknown token, and a valid token minted for the API server rather than for the
/// operator, are 401; neither gets as far as an access review.
#[tokio::test]
async fn invalid_or_foreign_audience_token_is_401() {
    let api = cluster();
    let app = router(&api);
    for token in ["forged", "api-server-token"] {
        let (code, _, body) = get(&app, "/cadvisor/racing", Some(&format!("Bearer {token}"))).await;
        assert_eq!(code, StatusCode::UNAUTHORIZED, "{token}: {body}");
    }
    assert_eq!(calls(&api, TOKEN_REVIEWS), 2);
    assert_eq!(calls(&api, ACCESS_REVIEWS), 0);
    // The TokenReview asked for the operator's audience.
    let review = api
        .log()
        .into_iter()
        .find(|l| l.path == TOKEN_REVIEWS)
        .unwrap();
    assert_eq!(review.body.unwrap()["spec"]["audiences"], json!([AUDIENCE]));
}

/// An authenticated user without `get pods/metrics` in the namespace is 403 (the
/// body says who and what), and the nodes are never read for them.
#[tokio::test]
async fn authenticated_without_permission_is_403() {
    let api = cluster();
    let app = router(&api);
    let (code, _, body) = get(&app, "/cadvisor/racing", Some("Bearer intruder-token")).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body.contains("system:serviceaccount:bank:ledger")
            && body.contains("get pods/metrics")
            && body.contains("racing"),
        "{body}"
    );
    // The race's own Prometheus may not read another namespace either.
    let (code, _, _) = get(&app, "/cadvisor/bank", Some("Bearer prometheus-token")).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert!(
        !api.log().iter().any(|l| l.path == NODES),
        "nodes read for a refused caller"
    );
    // The SubjectAccessReview carried the user's identity and the namespace asked for.
    let sar = api
        .log()
        .into_iter()
        .rfind(|l| l.path == ACCESS_REVIEWS)
        .unwrap()
        .body
        .unwrap();
    assert_eq!(sar["spec"]["user"], PROMETHEUS_SA);
    assert_eq!(sar["spec"]["uid"], format!("uid-of-{PROMETHEUS_SA}"));
    assert_eq!(sar["spec"]["groups"][0], "system:serviceaccounts");
    assert_eq!(
        sar["spec"]["resourceAttributes"],
        json!({"namespace": "bank", "verb": "get", "group": "", "resource": "pods", "subresource": "metrics"})
    );
}

/// The race's Prometheus gets 200 with its namespace's samples only.
#[tokio::test]
async fn allowed_caller_gets_only_its_namespace() {
    let api = cluster();
    let app = router(&api);
    let (code, headers, body) =
        get(&app, "/cadvisor/racing", Some("Bearer prometheus-token")).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(headers["content-type"], "text/plain; version=0.0.4");
    assert!(body.contains("pod=\"monza-processor-1\""), "{body}");
    assert!(!body.contains("bank"), "{body}");
}

/// Scrapes within the TTL reuse the decision: one TokenReview and one
/// SubjectAccessReview for many scrapes; a denial is cached as well.
#[tokio::test]
async fn decisions_are_cached() {
    let api = cluster();
    let app = router(&api);
    for _ in 0..5 {
        let (code, _, _) = get(&app, "/cadvisor/racing", Some("Bearer prometheus-token")).await;
        assert_eq!(code, StatusCode::OK);
        let (code, _, _) = get(&app, "/cadvisor/racing", Some("Bearer intruder-token")).await;
        assert_eq!(code, StatusCode::FORBIDDEN);
        let (code, _, _) = get(&app, "/cadvisor/racing", Some("Bearer forged")).await;
        assert_eq!(code, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(calls(&api, TOKEN_REVIEWS), 3);
    assert_eq!(calls(&api, ACCESS_REVIEWS), 2);
}

/// With caching off every scrape is checked again (so the test above would notice a
/// cache that never stores).
#[tokio::test]
async fn without_cache_every_request_is_reviewed() {
    let api = cluster();
    let client = api.client();
    let policy = CachePolicy {
        capacity: 0,
        ..CachePolicy::default()
    };
    let app = pitstop_operator::server::router(
        client.clone(),
        OperatorMetrics::new(),
        Access::with_policy(client, policy),
    );
    for _ in 0..3 {
        let (code, _, _) = get(&app, "/cadvisor/racing", Some("Bearer prometheus-token")).await;
        assert_eq!(code, StatusCode::OK);
    }
    assert_eq!(calls(&api, TOKEN_REVIEWS), 3);
    assert_eq!(calls(&api, ACCESS_REVIEWS), 3);
}

/// When the API server refuses the review itself (e.g. the operator lacks `create
/// tokenreviews`), the caller gets 503, the failure is not cached and no metrics leak.
#[tokio::test]
async fn review_failure_is_503_and_not_cached() {
    let api = FakeApi::new();
    api.on_create(TOKEN_REVIEWS, |_| {
        (
            StatusCode::FORBIDDEN,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden",
                "message": "tokenreviews.authentication.k8s.io is forbidden", "code": 403}),
        )
    });
    let app = router(&api);
    for _ in 0..2 {
        let (code, _, body) = get(&app, "/cadvisor/racing", Some("Bearer prometheus-token")).await;
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(!body.contains("prometheus-token"));
    }
    assert_eq!(calls(&api, TOKEN_REVIEWS), 2, "failures are not cached");
}

/// A path segment that cannot be a namespace is refused before any review.
#[tokio::test]
async fn non_namespace_is_400() {
    let api = cluster();
    let app = router(&api);
    let (code, _, _) = get(&app, "/cadvisor/Racing", Some("Bearer prometheus-token")).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(calls(&api, TOKEN_REVIEWS), 0);
}

/// `/health`, `/ready` and `/metrics` stay open: probes and scrapers carry no token.
#[tokio::test]
async fn probes_and_metrics_need_no_token() {
    let api = cluster();
    let app = router(&api);
    for path in ["/health", "/ready", "/metrics"] {
        let (code, _, _) = get(&app, path, None).await;
        assert_eq!(code, StatusCode::OK, "{path}");
    }
}

/// A TokenReview answer without our audience (an authenticator that ignores audiences)
/// is not trusted: 401.
#[tokio::test]
async fn audience_unaware_answer_is_401() {
    let api = FakeApi::new();
    api.on_create(TOKEN_REVIEWS, |body| {
        (
            StatusCode::CREATED,
            json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": body["spec"],
                "status": {"authenticated": true, "user": {"username": PROMETHEUS_SA}}}),
        )
    });
    let app = router(&api);
    let (code, _, _) = get(&app, "/cadvisor/racing", Some("Bearer prometheus-token")).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert_eq!(calls(&api, ACCESS_REVIEWS), 0);
}
