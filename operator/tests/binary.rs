//! The `pitstop-operator run` binary against the in-memory API server over TCP: it
//! reads a kubeconfig, takes the leader Lease, starts its watches, reconciles the
//! RaceSession from its initial list, serves /ready and /metrics, and stops on SIGTERM.

mod support;

use serde_json::json;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::FakeApi;

const RACE: &str = "/apis/pitstop.io/v1alpha1/namespaces/racing/racesessions/monza";
const LEASE: &str =
    "/apis/coordination.k8s.io/v1/namespaces/pitstop-system/leases/pitstop-operator-leader";
const SIM: &str = "/apis/apps/v1/namespaces/racing/deployments/monza-simulator";

/// Kills the operator if the test fails half-way, so no process outlives it.
struct Guard(std::process::Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_leads_watches_reconciles_and_stops() {
    let api = FakeApi::new();
    api.put(RACE, json!({
        "apiVersion": "pitstop.io/v1alpha1", "kind": "RaceSession",
        "metadata": {"name": "monza", "namespace": "racing", "uid": "u1", "generation": 1, "resourceVersion": "1"},
        "spec": {"timeScale": 40}
    }));
    let addr = api.serve_tcp().await;
    let dir = std::env::temp_dir().join(format!("pitstop-op-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(&kubeconfig, format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster: {{server: \"http://{addr}\"}}\nusers:\n- name: fake\n  user: {{token: test}}\ncontexts:\n- name: fake\n  context: {{cluster: fake, user: fake}}\ncurrent-context: fake\n"
    )).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_pitstop-operator"))
        .args([
            "run",
            "--namespaces",
            "racing",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("KUBECONFIG", &kubeconfig)
        .env("POD_NAMESPACE", "pitstop-system")
        .env("POD_NAME", "operator-0")
        .env("PITSTOP_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut guard = Guard(child);
    let child = &mut guard.0;

    let deadline = Instant::now() + Duration::from_secs(30);
    while api.get(SIM).is_none() || api.get(RACE).unwrap()["status"]["conditions"].is_null() {
        assert!(
            Instant::now() < deadline,
            "operator did not reconcile; requests: {:?}",
            api.log()
                .iter()
                .map(|l| format!("{} {}", l.method, l.path))
                .collect::<Vec<_>>()
        );
        assert!(child.try_wait().unwrap().is_none(), "operator exited early");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let lease = api.get(LEASE).expect("leader Lease taken");
    assert_eq!(lease["spec"]["holderIdentity"], "operator-0");
    let watches = api
        .log()
        .iter()
        .filter(|l| l.query.contains("watch=true"))
        .count();
    assert!(watches >= 1, "watches started");

    let base = format!("http://127.0.0.1:{port}");
    assert_eq!(
        reqwest::get(format!("{base}/health"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        reqwest::get(format!("{base}/ready"))
            .await
            .unwrap()
            .status(),
        200
    );
    // The counter moves right after the reconcile returns, a moment after its status
    // write: poll rather than read once.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = reqwest::get(format!("{base}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains("pitstop_operator_reconciles_total{result=\"success\"}") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no successful reconcile in /metrics: {metrics}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Idle: the race is reconciled and nothing changes.
    tokio::time::sleep(Duration::from_secs(2)).await;
    if let Some(kib) = rss_kib(child.id()) {
        eprintln!("operator idle RSS: {:.1} MiB", kib as f64 / 1024.0);
    }
    let t = Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "clean exit on SIGTERM: {status}");
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "operator did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}
