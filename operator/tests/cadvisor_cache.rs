//! `/cadvisor/{namespace}` for a whole league: the nodes are fetched once per interval
//! for every namespace (single flight: concurrent scrapes wait for the fetch in
//! progress), each namespace still gets only its own samples, and a stale cache fetches
//! again. Requests are counted on the in-memory API server.

mod support;

use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use pitstop_operator::access::{AUDIENCE, Access};
use pitstop_operator::cadvisor::{INTERVAL, NodeMetrics};
use pitstop_operator::metrics::OperatorMetrics;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::FakeApi;
use support::access::{Token, serve_reviews};
use tower::ServiceExt;

const NODES: [&str; 3] = ["node-a", "node-b", "node-c"];
const NAMESPACES: usize = 12;
const PROMETHEUS: &str = "system:serviceaccount:league:prometheus";

fn proxy(node: &str) -> String {
    format!("/api/v1/nodes/{node}/proxy/metrics/cadvisor")
}

/// Three nodes, each running a container of every namespace `race-0` … `race-11`, and one
/// Prometheus token allowed in all of them.
fn league() -> Arc<FakeApi> {
    let api = FakeApi::new();
    for node in NODES {
        api.put(
            &format!("/api/v1/nodes/{node}"),
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}}),
        );
        api.raw(&proxy(node), move || {
            let mut page = String::from(
                "# HELP container_cpu_usage_seconds_total Cumulative cpu time consumed in seconds.\n\
                 # TYPE container_cpu_usage_seconds_total counter\n",
            );
            for i in 0..NAMESPACES {
                page.push_str(&format!(
                    "container_cpu_usage_seconds_total{{container=\"processor\",namespace=\"race-{i}\",pod=\"{node}-p{i}\"}} {i}\n"
                ));
            }
            page.push_str("machine_cpu_cores{machine_id=\"m\"} 8\n");
            page
        });
    }
    let grants: Vec<(&'static str, &'static str)> = (0..NAMESPACES)
        .map(|i| (PROMETHEUS, &*format!("race-{i}").leak()))
        .collect();
    serve_reviews(
        &api,
        vec![Token {
            token: "prometheus-token",
            user: PROMETHEUS,
            audiences: &[AUDIENCE],
        }],
        grants,
    );
    api
}

fn router(api: &Arc<FakeApi>, ttl: Duration) -> axum::Router {
    let client = api.client();
    pitstop_operator::server::router_with(
        client.clone(),
        OperatorMetrics::new(),
        Access::new(client.clone()),
        Arc::new(NodeMetrics::new(client, ttl)),
    )
}

async fn scrape(app: &axum::Router, namespace: &str) -> (StatusCode, String) {
    let req = Request::get(format!("/cadvisor/{namespace}"))
        .header("authorization", "Bearer prometheus-token")
        .body(Body::empty())
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let code = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (code, String::from_utf8_lossy(&bytes).into_owned())
}

/// (node lists, proxy requests per node) the API server has answered.
fn fetches(api: &FakeApi) -> (usize, Vec<usize>) {
    let log = api.log();
    let lists = log.iter().filter(|l| l.path == "/api/v1/nodes").count();
    let per_node = NODES
        .iter()
        .map(|n| log.iter().filter(|l| l.path == proxy(n)).count())
        .collect();
    (lists, per_node)
}

/// Every namespace scraping at once within the interval costs one node list and one
/// proxy request per node, not one per scrape; each still gets exactly its samples.
#[tokio::test]
async fn concurrent_scrapes_of_every_namespace_share_one_fetch() {
    let api = league();
    let app = router(&api, INTERVAL);
    let scrapes = (0..NAMESPACES).map(|i| {
        let app = app.clone();
        async move { (i, scrape(&app, &format!("race-{i}")).await) }
    });
    for (i, (code, body)) in futures_util::future::join_all(scrapes).await {
        assert_eq!(code, StatusCode::OK, "{body}");
        let samples: Vec<&str> = body.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(samples.len(), NODES.len(), "race-{i}: {body}");
        assert!(
            samples
                .iter()
                .all(|l| l.contains(&format!("namespace=\"race-{i}\""))),
            "race-{i}: {body}"
        );
        assert_eq!(body.matches("# TYPE").count(), 1, "{body}");
    }
    // And again, one after the other: still within the interval.
    for i in 0..NAMESPACES {
        assert_eq!(scrape(&app, &format!("race-{i}")).await.0, StatusCode::OK);
    }
    assert_eq!(fetches(&api), (1, vec![1; NODES.len()]));
}

/// A TTL of zero (a cache that never holds) fetches on every scrape: the test above
/// would notice a cache that does not share.
#[tokio::test]
async fn without_cache_every_scrape_fetches() {
    let api = league();
    let app = router(&api, Duration::ZERO);
    for i in 0..3 {
        assert_eq!(scrape(&app, &format!("race-{i}")).await.0, StatusCode::OK);
    }
    assert_eq!(fetches(&api), (3, vec![3; NODES.len()]));
}

/// Within the interval the fetch is reused; once it is older, the next scrape fetches
/// again and sees the new pages.
#[tokio::test]
async fn a_stale_cache_fetches_again() {
    let api = league();
    let nodes = NodeMetrics::new(api.client(), INTERVAL);
    let t0 = Instant::now();
    let first = nodes.namespace("race-1", t0).await.unwrap();
    assert!(first.contains("pod=\"node-a-p1\""), "{first}");
    api.raw(&proxy("node-a"), || {
        "container_cpu_usage_seconds_total{namespace=\"race-1\",pod=\"moved\"} 1\n".into()
    });
    let cached = nodes
        .namespace("race-2", t0 + INTERVAL - Duration::from_millis(1))
        .await
        .unwrap();
    assert!(cached.contains("pod=\"node-a-p2\""), "{cached}");
    assert_eq!(fetches(&api), (1, vec![1; NODES.len()]));
    let fresh = nodes.namespace("race-1", t0 + INTERVAL).await.unwrap();
    assert!(
        fresh.contains("pod=\"moved\"") && !fresh.contains("node-a-p1"),
        "{fresh}"
    );
    assert_eq!(fetches(&api), (2, vec![2; NODES.len()]));
}

/// When no node answers, every scrape in the interval gets the same 502 without asking
/// the API server again.
#[tokio::test]
async fn a_failed_fetch_is_shared_too() {
    let api = FakeApi::new();
    api.put(
        "/api/v1/nodes/node-a",
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-a"}}),
    );
    let nodes = NodeMetrics::new(api.client(), INTERVAL);
    let t0 = Instant::now();
    for s in 0..3 {
        let err = nodes
            .namespace("race-1", t0 + Duration::from_secs(s))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("node-a"), "{err}");
    }
    let log = api.log();
    assert_eq!(log.iter().filter(|l| l.path == proxy("node-a")).count(), 1);
}
