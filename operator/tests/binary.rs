//! The `pitstop-operator run` binary against the in-memory API server over TCP: it
//! reads a kubeconfig, takes the leader Lease, starts its watches (metadata only for the
//! kinds it owns), reconciles the RaceSession from its initial list, is woken by a
//! deleted child and recreates it, serves /ready and /metrics, and stops on SIGTERM.

mod support;

use serde_json::json;
use std::process::Command;
use std::time::{Duration, Instant};
use support::FakeApi;
use support::operator::Operator;

const RACE: &str = "/apis/pitstop.io/v1alpha1/namespaces/racing/racesessions/monza";
const LEASE: &str =
    "/apis/coordination.k8s.io/v1/namespaces/pitstop-system/leases/pitstop-operator-leader";
const SIM: &str = "/apis/apps/v1/namespaces/racing/deployments/monza-simulator";
const GRAFANA_SECRET: &str = "/api/v1/namespaces/racing/secrets/monza-grafana";

/// Polls `done` every 100 ms for up to `secs`, failing with `what` (and the requests the
/// server saw) if it never holds or the operator exits.
async fn wait_for(
    api: &FakeApi,
    op: &mut Operator,
    secs: u64,
    what: &str,
    done: impl Fn() -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(
            Instant::now() < deadline,
            "{what}; requests: {:?}",
            api.log()
                .iter()
                .map(|l| format!("{} {}?{}", l.method, l.path, l.query))
                .collect::<Vec<_>>()
        );
        assert!(op.running(), "operator exited early");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_leads_watches_reconciles_and_stops() {
    let api = FakeApi::new();
    api.put(
        RACE,
        json!({
            "apiVersion": "pitstop.io/v1alpha1", "kind": "RaceSession",
            "metadata": {"name": "monza", "namespace": "racing", "uid": "u1", "generation": 1},
            "spec": {"timeScale": 40}
        }),
    );
    let addr = api.serve_tcp().await;
    let mut op = Operator::start(addr, &["--namespaces", "racing"]);

    wait_for(&api, &mut op, 30, "operator did not reconcile", || {
        api.get(SIM).is_some() && !api.get(RACE).unwrap()["status"]["conditions"].is_null()
    })
    .await;
    let lease = api.get(LEASE).expect("leader Lease taken");
    assert_eq!(lease["spec"]["holderIdentity"], "operator-0");
    let log = api.log();
    let watches: Vec<_> = log
        .iter()
        .filter(|l| l.query.contains("watch=true"))
        .collect();
    assert!(
        watches.len() >= 13,
        "the race and its twelve owned kinds: {watches:?}"
    );
    // Only RaceSessions are watched (and cached) whole; of what it owns the operator
    // asks for metadata only, so no Secret value, ConfigMap or pod template reaches it
    // through a watch. Prune lists ask for names only; the post-race step's list of its
    // Jobs reads their status, and while the processor is not ready the list of its own
    // pods (by its selector) reads their addresses and readiness, to ask one's `/ready`.
    for l in log.iter().filter(|l| l.method == "GET") {
        let watch = l.query.contains("watch=true");
        let list = support::is_collection(&l.path) && !watch;
        let processor_pods = list
            && l.path.ends_with("/pods")
            && l.query
                .contains("app.kubernetes.io%2Fcomponent%3Dprocessor");
        let whole_ok = l.path.contains("/racesessions")
            || (list && l.path.ends_with("/jobs"))
            || processor_pods;
        if (watch || list || l.path.contains("/secrets")) && !whole_ok {
            assert!(
                l.metadata_only(),
                "GET {}?{} asked for whole objects",
                l.path,
                l.query
            );
        }
    }
    assert!(
        log.iter().any(
            |l| l.path == "/api/v1/namespaces/racing/secrets" && l.query.contains("watch=true")
        ),
        "generated Secrets are watched"
    );

    let (code, _) = op.get("/health").await;
    assert_eq!(code, 200);
    let (code, _) = op.get("/ready").await;
    assert_eq!(code, 200);
    // The counter moves right after the reconcile returns, a moment after its status
    // write: poll rather than read once.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, metrics) = op.get("/metrics").await;
        if metrics.contains("pitstop_operator_reconciles_total{result=\"success\"}") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no successful reconcile in /metrics: {metrics}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Settle: the reconciles woken by its own writes (status, children) have run.
    let mut seen = api.requests();
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = api.requests();
        if now == seen {
            break;
        }
        seen = now;
    }

    // Drift: a deleted child (here a generated Secret, watched by metadata) wakes the
    // race's reconcile through the watch, long before the 30 s requeue.
    let uid = api.get(GRAFANA_SECRET).unwrap()["metadata"]["uid"].clone();
    let t = Instant::now();
    api.delete(GRAFANA_SECRET);
    api.delete(SIM);
    wait_for(&api, &mut op, 10, "deleted children not recreated", || {
        api.get(SIM).is_some()
            && api
                .get(GRAFANA_SECRET)
                .is_some_and(|s| s["metadata"]["uid"] != uid)
    })
    .await;
    eprintln!("deleted children recreated in {:?}", t.elapsed());

    // Idle: the race is reconciled and nothing changes.
    tokio::time::sleep(Duration::from_secs(2)).await;
    if let Some(kib) = op.rss_kib() {
        eprintln!("operator idle RSS: {:.1} MiB", kib as f64 / 1024.0);
    }
    let t = Instant::now();
    Command::new("kill")
        .args(["-TERM", &op.child.id().to_string()])
        .status()
        .unwrap();
    loop {
        if let Some(status) = op.child.try_wait().unwrap() {
            assert!(status.success(), "clean exit on SIGTERM: {status}");
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "operator did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
