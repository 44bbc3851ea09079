//! The league-scale run on the real kube-apiserver of the local kit: N RaceSessions in
//! ten namespaces of the bench's own (zero-pod quota each), reconciled by the release
//! `pitstop-operator run` out of cluster, watching those namespaces only (never the
//! races of other work on the cluster), its Lease in the first of them.
//!
//! The API requests are the operator's alone although the cluster is shared: it runs as
//! a user of its own (impersonated; a RoleBinding to `cluster-admin` in each bench
//! namespace), which a FlowSchema of the bench's own classifies, so the API server's
//! `apiserver_flowcontrol_dispatched_requests_total` for that FlowSchema counts exactly
//! its requests (watches included).

use super::kit::operator::{Launch, Operator};
use super::kit::{Kit, TEST_MANAGER, TestNamespace};
use super::{quantile, reconcile_buckets, samples};
use futures_util::StreamExt;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::{Client, Config};
use serde_json::json;
use std::time::{Duration, Instant};

const NAMESPACES: usize = 10;

fn flow_schemas(client: &Client) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("flowcontrol.apiserver.k8s.io", "v1", "FlowSchema");
    Api::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(&gvk, "flowschemas"),
    )
}

/// The bench's FlowSchema, deleted when dropped (it is cluster-scoped: no namespace takes
/// it along).
struct FlowSchema {
    name: String,
    config: Config,
}

impl FlowSchema {
    /// Classifies every request of `user` under its own name (priority level
    /// `workload-high`, as the cluster's controllers).
    async fn create(client: &Client, config: &Config, user: &str) -> FlowSchema {
        let fs: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema",
            "metadata": {"name": user},
            "spec": {"priorityLevelConfiguration": {"name": "workload-high"}, "matchingPrecedence": 600,
                "distinguisherMethod": {"type": "ByUser"},
                "rules": [{"subjects": [{"kind": "User", "user": {"name": user}}],
                    "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"],
                        "namespaces": ["*"], "clusterScope": true}],
                    "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}]}]}
        }))
        .unwrap();
        flow_schemas(client)
            .patch(user, &PatchParams::apply(TEST_MANAGER), &Patch::Apply(&fs))
            .await
            .expect("FlowSchema created");
        FlowSchema {
            name: user.into(),
            config: config.clone(),
        }
    }
}

impl Drop for FlowSchema {
    fn drop(&mut self) {
        let name = self.name.clone();
        super::kit::on_own_runtime(self.config.clone(), move |client| async move {
            flow_schemas(&client)
                .delete(&name, &DeleteParams::default())
                .await
                .ok();
        });
    }
}

/// Requests the API server dispatched under FlowSchema `name`.
async fn dispatched(client: &Client, name: &str) -> f64 {
    let req = http::Request::get("/metrics").body(vec![]).unwrap();
    let text = client.request_text(req).await.expect("API server /metrics");
    let needle = format!("flow_schema=\"{name}\"");
    text.lines()
        .filter(|l| l.starts_with("apiserver_flowcontrol_dispatched_requests_total{"))
        .filter(|l| l.contains(&needle))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

/// The bench's namespaces, each with a RoleBinding of `user` to `cluster-admin` (power in
/// these namespaces only).
async fn namespaces(kit: &Kit, user: &str) -> Vec<TestNamespace> {
    let mut out = Vec::new();
    for i in 0..NAMESPACES {
        let ns = kit.namespace(&format!("bench{i}")).await;
        let rb: RoleBinding = serde_json::from_value(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "bench-operator"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]
        }))
        .unwrap();
        Api::<RoleBinding>::namespaced(kit.client.clone(), &ns.name)
            .patch(
                "bench-operator",
                &PatchParams::apply(TEST_MANAGER),
                &Patch::Apply(&rb),
            )
            .await
            .expect("RoleBinding");
        out.push(ns);
    }
    out
}

fn races(client: &Client, ns: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("pitstop.io", "v1alpha1", "RaceSession");
    Api::namespaced_with(
        client.clone(),
        ns,
        &ApiResource::from_gvk_with_plural(&gvk, "racesessions"),
    )
}

/// Creates race-0 … race-(n-1), round robin over `ns`, 16 at a time.
async fn create_races(client: &Client, ns: &[TestNamespace], n: usize) {
    futures_util::stream::iter(0..n)
        .map(|i| {
            let api = races(client, &ns[i % ns.len()].name);
            async move {
                let name = format!("race-{i}");
                let obj: DynamicObject = serde_json::from_value(json!({
                    "apiVersion": "pitstop.io/v1alpha1", "kind": "RaceSession",
                    "metadata": {"name": name}, "spec": {"timeScale": 40}}))
                .unwrap();
                api.patch(
                    &name,
                    &PatchParams::apply(TEST_MANAGER),
                    &Patch::Apply(&obj),
                )
                .await
                .expect("race created");
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
}

/// Races with their first full status (the components listed), over every namespace.
async fn with_full_status(client: &Client, ns: &[TestNamespace]) -> usize {
    let mut n = 0;
    for ns in ns {
        let list = races(client, &ns.name)
            .list(&ListParams::default())
            .await
            .expect("list");
        n += list
            .items
            .iter()
            .filter(|r| {
                r.data["status"]["components"]
                    .as_array()
                    .is_some_and(|c| !c.is_empty())
            })
            .count();
    }
    n
}

/// Waits until `count` stops moving for 2 s (at most `limit`).
async fn settle(client: &Client, flow: &str, limit: Duration) {
    let until = Instant::now() + limit;
    let (mut seen, mut quiet_since) = (dispatched(client, flow).await, Instant::now());
    while quiet_since.elapsed() < Duration::from_secs(2) && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = dispatched(client, flow).await;
        if now != seen {
            (seen, quiet_since) = (now, Instant::now());
        }
    }
}

/// `n` races through the release operator on the real API server; prints the figures.
pub async fn run(kit: &Kit, n: usize) {
    let user = format!(
        "apitest-bench-{}",
        pitstop_operator::reconcile::apply::random_token(6).to_lowercase()
    );
    let ns = namespaces(kit, &user).await;
    let _flow = FlowSchema::create(&kit.client, &kit.config, &user).await;
    let t_create = Instant::now();
    create_races(&kit.client, &ns, n).await;
    let created_in = t_create.elapsed();
    let names: Vec<&str> = ns.iter().map(|n| n.name.as_str()).collect();
    let before = dispatched(&kit.client, &user).await;
    let t0 = Instant::now();
    let op = Operator::start(Launch {
        kubeconfig: &kit.kubeconfig,
        namespace: names[0],
        args: &["--namespaces", &names.join(",")],
        env: &[("KUBE_RS_DEBUG_IMPERSONATE_USER", user.clone())],
        log_filter: "warn",
    });
    // The real API server shares 2 cores with etcd and the controller manager, which keeps
    // retrying the pods the zero-pod quota refuses: a second per race is a generous bound.
    let deadline = t0 + Duration::from_secs(180 + n as u64);
    let success = "pitstop_operator_reconciles_total{result=\"success\"}";
    loop {
        let done = with_full_status(&kit.client, &ns).await;
        if done >= n && op.metric(success).await >= n as f64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{done} of {n} races with a full status after {:?}:\n{}",
            t0.elapsed(),
            op.logs()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let to_status = t0.elapsed();
    settle(&kit.client, &user, Duration::from_secs(60)).await;
    let settled = t0.elapsed();
    let requests = dispatched(&kit.client, &user).await - before;
    let (rss, peak) = op.rss_kib();
    let cpu = super::support::operator::cpu_of(&format!("/proc/{}/stat", op.child.id()))
        .unwrap_or_default();
    let metrics = samples(&op.get("/metrics").await);
    let buckets = reconcile_buckets(&metrics);
    let reconciles = metrics.get(success).copied().unwrap_or(0.0);
    let errors = metrics
        .get("pitstop_operator_reconciles_total{result=\"error\"}")
        .copied()
        .unwrap_or(0.0);
    eprintln!(
        "\noperator at {n} races ({} build; the real kube-apiserver of the kit, {NAMESPACES} namespaces)\n\
         \x20 races created (16 at a time)     {:>8.1} s\n\
         \x20 every race's first full status  {:>8.1} s  ({:.0} races/s)\n\
         \x20 settled (no request for 2 s)    {:>8.1} s\n\
         \x20 reconciles                      {reconciles:>8.0}     ({:.0}/s until settled; {errors} failed)\n\
         \x20 reconcile time                  p50 {:.3} s, p99 {:.3} s\n\
         \x20 API requests (its FlowSchema)   {requests:>8.0}     ({:.1} per race)\n\
         \x20 CPU until settled               operator {:.1} s ({:.1} ms per race)\n\
         \x20 RSS                             settled {:.1} MiB, peak {:.1} MiB",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        created_in.as_secs_f64(),
        to_status.as_secs_f64(),
        n as f64 / to_status.as_secs_f64(),
        settled.as_secs_f64(),
        reconciles / settled.as_secs_f64(),
        quantile(0.5, &buckets),
        quantile(0.99, &buckets),
        requests / n as f64,
        cpu.as_secs_f64(),
        cpu.as_secs_f64() * 1000.0 / n as f64,
        rss as f64 / 1024.0,
        peak as f64 / 1024.0,
    );
    assert_eq!(errors, 0.0, "failed reconciles:\n{}", op.logs());
    assert!(requests > 0.0, "the FlowSchema counted nothing");
}
