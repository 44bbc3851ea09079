//! The `kubectl-pitstop` binary against the real kube-apiserver v1.36 of the local kit
//! (`kit/`, as `apiserver.rs`), with the kit's kubeconfig as a user's: every command and
//! its errors.
//!
//! The processor is played by a tiny HTTP server in the test, reached the way the plugin
//! reaches a real one: through the API server's service proxy. The API server proxies only
//! to the IP of an existing pod named by the Service's Endpoints, so the race's namespace
//! holds a pod that never runs (a scheduling gate keeps it off the node) whose status the
//! test sets to this host's address, and Endpoints `<race>-processor` naming it with the
//! test server's port. Those namespaces have no zero-pod quota (the pod object must
//! exist), but nothing in them can be scheduled; reconciles by the operator's code (for
//! run/retry) happen in the kit's zero-pod namespaces.
//!
//! `logs` is checked as far as a cluster without running pods allows: the Job's pod found
//! by its label among others, and the API server's refusal to give logs of a pod that has
//! not run turned into one line (pod selection itself: `plugin.rs`).
//!
//! Skips with a line on stderr without a real API server (see `kit::kubeconfig`).

mod kit;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kit::{Kit, TEST_MANAGER, eventually, reconcile_once};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use pitstop_operator::api::RaceSession;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const RACE: &str = "dutch";

/// The plugin's exit, standard output and standard error.
struct Run {
    code: i32,
    out: String,
    err: String,
}

fn plugin_cmd(kubeconfig: &Path, ns: &str, args: &[&str]) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_kubectl-pitstop"));
    c.args(args)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["-n", ns])
        .env_remove("KUBECONFIG")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    c
}

async fn plugin(kubeconfig: &Path, ns: &str, args: &[&str]) -> Run {
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        plugin_cmd(kubeconfig, ns, args).output(),
    )
    .await
    .expect("the plugin finished within 60 s")
    .expect("the plugin runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        out: String::from_utf8_lossy(&out.stdout).into(),
        err: String::from_utf8_lossy(&out.stderr).into(),
    }
}

impl Run {
    #[track_caller]
    fn expect(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.out, self.err
        );
        self
    }

    /// The one-line error on stderr.
    #[track_caller]
    fn error(&self) -> &str {
        assert_eq!(self.err.lines().count(), 1, "one line:\n{}", self.err);
        self.err
            .trim()
            .strip_prefix("error: ")
            .expect("error: prefix")
    }
}

/// The collapsed-whitespace lines of a screen.
fn has(screen: &str, line: &str) -> bool {
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    screen.lines().any(|l| norm(l) == norm(line))
}

/// A fixed answer: status, body, content type.
type Answer = (u16, String, &'static str);
/// Answers by request path.
type Routes = Arc<Mutex<HashMap<String, Answer>>>;

/// A stand-in for the processor's HTTP API: fixed answers by path, 404 like the real one
/// for the rest. Answers can change while it runs.
#[derive(Clone)]
struct FakeProcessor {
    port: u16,
    routes: Routes,
}

impl FakeProcessor {
    async fn start() -> FakeProcessor {
        let listener = TcpListener::bind("0.0.0.0:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let routes: Routes = Arc::default();
        let r = routes.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let routes = r.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf).to_string();
                    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                    let (code, body, ctype) =
                        routes.lock().unwrap().get(&path).cloned().unwrap_or((
                            404,
                            json!({"error": "no such endpoint (see /api/v1/openapi.json and docs/http-api.md)"})
                                .to_string(),
                            "application/json",
                        ));
                    let resp = format!(
                        "HTTP/1.1 {code} X\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    sock.write_all(resp.as_bytes()).await.ok();
                    sock.shutdown().await.ok();
                });
            }
        });
        FakeProcessor { port, routes }
    }

    fn json(&self, sub: &str, body: Value) {
        self.set(sub, 200, body.to_string(), "application/json");
    }

    fn set(&self, sub: &str, code: u16, body: String, ctype: &'static str) {
        let path = if sub.is_empty() {
            format!("/api/v1/sessions/{RACE}")
        } else {
            format!("/api/v1/sessions/{RACE}/{sub}")
        };
        self.routes
            .lock()
            .unwrap()
            .insert(path, (code, body, ctype));
    }

    fn remove(&self, sub: &str) {
        self.routes
            .lock()
            .unwrap()
            .remove(&format!("/api/v1/sessions/{RACE}/{sub}"));
    }
}

/// This host's address as the API server (on this host) can dial it: not loopback, which
/// the API server refuses as an endpoint.
fn host_ip() -> Option<Ipv4Addr> {
    let routed = std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.connect("192.0.2.255:9").map(|()| s))
        .and_then(|s| s.local_addr())
        .ok()
        .and_then(|a| match a.ip() {
            IpAddr::V4(v4) if !v4.is_loopback() && !v4.is_unspecified() => Some(v4),
            _ => None,
        });
    routed.or_else(|| {
        let out = std::process::Command::new("hostname")
            .arg("-I")
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|w| w.parse::<Ipv4Addr>().ok())
            .find(|ip| !ip.is_loopback())
    })
}

/// A namespace without the kit's zero-pod quota, deleted when dropped: only unschedulable
/// (gated) pods are created in it.
struct OpenNamespace {
    name: String,
    config: kube::Config,
}

impl Drop for OpenNamespace {
    fn drop(&mut self) {
        let name = self.name.clone();
        kit::on_own_runtime(self.config.clone(), move |client| async move {
            let api: Api<Namespace> = Api::all(client);
            api.delete(&name, &DeleteParams::background()).await.ok();
        });
    }
}

async fn open_namespace(kit: &Kit, test: &str) -> OpenNamespace {
    let suffix = pitstop_operator::reconcile::apply::random_token(6).to_lowercase();
    let name = format!("apitest-{test}-{suffix}");
    let ns: Api<Namespace> = Api::all(kit.client.clone());
    ns.patch(
        &name,
        &PatchParams::apply(TEST_MANAGER),
        &Patch::Apply(json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {"pitstop.io/apiserver-test": test}}})),
    )
    .await
    .expect("namespace created");
    OpenNamespace {
        name,
        config: kit.config.clone(),
    }
}

async fn apply(client: &Client, ns: &str, obj: Value) {
    let name = obj["metadata"]["name"].as_str().unwrap().to_string();
    let (group_version, kind) = (
        obj["apiVersion"].as_str().unwrap().to_string(),
        obj["kind"].as_str().unwrap().to_string(),
    );
    let (group, version) = group_version
        .rsplit_once('/')
        .unwrap_or(("", &group_version));
    let gvk = kube::api::GroupVersionKind::gvk(group, version, &kind);
    let (ar, _) = kube::discovery::pinned_kind(client, &gvk).await.unwrap();
    let api: Api<kube::api::DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
    api.patch(
        &name,
        &PatchParams::apply(TEST_MANAGER).force(),
        &Patch::Apply(&obj),
    )
    .await
    .unwrap_or_else(|e| panic!("{kind} {name}: {e}"));
}

/// The race with the status an operator would have written (lap 34 of 72, a failed run).
async fn race_with_status(client: &Client, ns: &str, status: Value) {
    apply(
        client,
        ns,
        json!({"apiVersion": "pitstop.io/v1alpha1", "kind": "RaceSession",
            "metadata": {"name": RACE}, "spec": {"circuit": "zandvoort", "laps": 72}}),
    )
    .await;
    let races: Api<RaceSession> = Api::namespaced(client.clone(), ns);
    races
        .patch_status(
            RACE,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": status})),
        )
        .await
        .expect("status written");
}

fn racing_status() -> Value {
    json!({
        "phase": "Racing",
        "conditions": [
            {"type": "Ready", "status": "True", "reason": "Ready", "message": "every component ready",
             "lastTransitionTime": "2026-12-03T12:00:00Z"},
            {"type": "ProcessorReady", "status": "True", "reason": "Ready", "message": "",
             "lastTransitionTime": "2026-12-03T12:00:00Z"}
        ],
        "components": [{"name": "processor", "ready": true, "replicas": 2, "readyReplicas": 2}],
        "pipeline": {"run": 1, "phase": "Failed", "trigger": "race-finished",
            "tasks": [{"name": "report", "phase": "Failed", "attempts": 1, "round": 0,
                       "job": "dutch-p1-report-0-1", "message": "boom"}]}
    })
}

/// The processor Service of the race (no selector, as the test fills its Endpoints), the
/// gated pod standing in for a processor pod at `ip`, and Endpoints naming it with `port`.
async fn processor_endpoint(client: &Client, ns: &str, ip: Ipv4Addr, port: u16) {
    apply(
        client,
        ns,
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "dutch-processor"},
            "spec": {"ports": [{"name": "http", "port": 8001, "protocol": "TCP"}]}}),
    )
    .await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "stand-in-processor"},
        "spec": {"schedulingGates": [{"name": "pitstop.io/never"}],
                 "containers": [{"name": "processor", "image": "localhost/pause:3.10"}]}}))
    .unwrap();
    if pods.get_opt("stand-in-processor").await.unwrap().is_none() {
        pods.create(&PostParams::default(), &pod)
            .await
            .expect("gated pod");
    }
    pods.patch_status(
        "stand-in-processor",
        &PatchParams::default(),
        &Patch::Merge(
            json!({"status": {"podIP": ip.to_string(), "podIPs": [{"ip": ip.to_string()}]}}),
        ),
    )
    .await
    .expect("pod IP set");
    apply(
        client,
        ns,
        json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "dutch-processor"},
            "subsets": [{"addresses": [{"ip": ip.to_string(),
                "targetRef": {"kind": "Pod", "name": "stand-in-processor", "namespace": ns}}],
                "ports": [{"name": "http", "port": port, "protocol": "TCP"}]}]}),
    )
    .await;
}

fn session_json(lap: i32) -> Value {
    json!({"session_id": RACE, "circuit": "zandvoort", "total_laps": 72, "lap": lap,
        "finished": false, "samples_processed": 4242, "started_at_ms": 1,
        "leader": {"position": 1, "car": 4, "driver": "NOR", "team": "McLaren", "laps": lap,
                   "gap": "", "dnf": false},
        "cars": 2, "pit_stops": 1, "anomalies": 0, "laps_recorded": 68})
}

fn strategy_json() -> Value {
    json!({"session_id": RACE, "as_of_lap": 34, "total_laps": 72,
        "pit_loss": {"ms": 21300, "uncertainty_ms": 800, "source": "measured", "stops": 5, "circuit": "zandvoort"},
        "cars": [{"car": 1, "driver": "VER", "team": "Red Bull Racing", "position": 2, "lap": 34,
            "gap_ahead_ms": 1200, "gap_leader_ms": 1200,
            "stint": {"number": 2, "compound": "HARD", "laps": 12},
            "degradation": {"ms_per_lap": 48.0, "ci95_ms_per_lap": 20.0, "green_laps": 10}, "degradation_hidden": null,
            "rejoin": {"position": 7, "ahead": {"car": 16, "driver": "LEC", "gap_ms": 900}, "behind": {"car": 44, "driver": "HAM", "gap_ms": 1500}},
            "window": {"optimal_lap": 40, "first_lap": 38, "last_lap": 43, "stop_required": true}, "window_hidden": null,
            "undercut": {"ahead": {"car": 4, "driver": "NOR", "gap_ms": 1200, "call": "jump", "margin_ms": 800},
                         "behind": {"car": 81, "driver": "PIA", "gap_ms": 2100, "call": "threat", "margin_ms": 300}}}]})
}

/// A race whose processor the fake plays, reachable through the proxy.
struct Proxied {
    kit: Kit,
    ns: OpenNamespace,
    fake: FakeProcessor,
    ip: Ipv4Addr,
}

async fn proxied(test: &str) -> Option<Proxied> {
    let kit = Kit::connect(test).await?;
    let Some(ip) = host_ip() else {
        kit::skip(
            test,
            "no non-loopback IPv4 address on this host for the API server to dial",
        );
        return None;
    };
    let ns = open_namespace(&kit, &test.replace('_', "-")[..test.len().min(30)]).await;
    let fake = FakeProcessor::start().await;
    fake.json("", session_json(34));
    fake.json(
        "classification",
        json!([
            {"position": 1, "car": 4, "driver": "NOR", "team": "McLaren", "laps": 34, "gap": "", "dnf": false},
            {"position": 2, "car": 1, "driver": "VER", "team": "Red Bull Racing", "laps": 34, "gap": "+1.200 s", "dnf": false}
        ]),
    );
    fake.json(
        "pitstops",
        json!([{"car": 1, "driver": "VER", "team": "Red Bull Racing", "lap": 22, "stationary_s": 2.3,
            "pit_lane_s": 21.1, "compound_in": "MEDIUM", "compound_out": "HARD", "score": 91.0, "slow": false}]),
    );
    fake.json("anomalies", json!([]));
    fake.json("strategy", strategy_json());
    race_with_status(&kit.client, &ns.name, racing_status()).await;
    processor_endpoint(&kit.client, &ns.name, ip, fake.port).await;
    Some(Proxied { kit, ns, fake, ip })
}

/// `status` through the service proxy: the RaceSession's sections and the processor's,
/// strategy included; then a processor without `/strategy` (404) still gives the screen
/// with one line for it. Would break if the proxy path, the Service name or port, or the
/// session id were wrong (the fake answers only the right paths).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_through_the_service_proxy() {
    let Some(p) = proxied("plugin_status").await else {
        return;
    };
    let kc = &p.kit.kubeconfig;
    let run = plugin(kc, &p.ns.name, &["status", RACE]).await;
    run.expect(0);
    let screen = &run.out;
    for line in [
        &format!("Race: {}/dutch", p.ns.name) as &str,
        "Phase: Racing",
        "Lap: 34 / 72",
        "Leader: NOR (McLaren)",
        "2 1 VER Red Bull Racing 34 +1.200 s",
        "22 1 VER Red Bull Racing 2.30 s 21.1 s MEDIUM -> HARD 91",
        "Strategy (as of lap 34 of 72; pit loss 21.3 s ± 0.8 s, measured from 5 stops)",
        "P2 1 VER 2 HARD 12L 48.0 ± 20.0 L38-43, best 40 P7 (LEC 0.9 s ahead, HAM 1.5 s behind)",
        "PIA (81) threatens VER (1) with an undercut: 2.1 s behind, margin 0.3 s",
        "Anomalies: none",
        "processor yes 2/2",
        "report Failed 1 dutch-p1-report-0-1 boom",
    ] {
        assert!(has(screen, line), "missing {line:?}:\n{screen}");
    }

    p.fake.remove("strategy");
    let run = plugin(kc, &p.ns.name, &["status", RACE]).await;
    run.expect(0);
    assert!(
        has(&run.out, "Strategy: not available from this processor"),
        "{}",
        run.out
    );
    assert!(
        has(&run.out, "2 1 VER Red Bull Racing 34 +1.200 s"),
        "{}",
        run.out
    );
}

/// `status --watch` on a pipe: one screen per interval, separated by a blank line, the
/// lap moving as the processor's does; Ctrl-C (SIGINT) ends it with exit code 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_watch_redraws_until_interrupted() {
    let Some(p) = proxied("plugin_watch").await else {
        return;
    };
    let mut child = plugin_cmd(
        &p.kit.kubeconfig,
        &p.ns.name,
        &["status", RACE, "--watch", "--interval", "500ms"],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = String::new();
    let fake = p.fake.clone();
    let read = async {
        let mut buf = [0u8; 8192];
        loop {
            let n = stdout.read(&mut buf).await.unwrap();
            assert!(n > 0, "stdout closed early:\n{seen}");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            if seen.matches("Race:").count() >= 1 {
                fake.json("", session_json(35));
            }
            if seen.contains("Lap:      35 / 72") && seen.matches("Post-race pipeline").count() >= 2
            {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .unwrap_or_else(|_| panic!("no second screen with lap 35 within 30 s"));
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("ended after SIGINT")
        .unwrap();
    assert_eq!(status.code(), Some(0), "{seen}");
    assert!(
        !seen.contains('\x1b'),
        "no terminal codes on a pipe:\n{seen}"
    );
    // Screens follow each other after a blank line.
    assert!(seen.contains("\n\nRace:"), "{seen}");
    assert!(seen.contains("Lap:      34 / 72"), "{seen}");
}

/// `report -o FILE`: the processor's HTML, byte for byte; before the report step ran,
/// a one-line "no report yet" (exit 3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_to_a_file() {
    let Some(p) = proxied("plugin_report").await else {
        return;
    };
    let html = "<!doctype html><title>Dutch GP</title><h1>Dutch GP — report</h1>\n";
    p.fake
        .set("report", 200, html.into(), "text/html; charset=utf-8");
    let file: PathBuf =
        std::env::temp_dir().join(format!("pitstop-report-{}.html", std::process::id()));
    let run = plugin(
        &p.kit.kubeconfig,
        &p.ns.name,
        &["report", RACE, "-o", file.to_str().unwrap()],
    )
    .await;
    run.expect(0);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), html);
    assert!(run.out.contains("report written to"), "{}", run.out);
    std::fs::remove_file(&file).ok();

    p.fake.set(
        "report",
        404,
        json!({"error": "no report for session \"dutch\" yet: the post-race pipeline's report step writes it"}).to_string(),
        "application/json",
    );
    let run = plugin(
        &p.kit.kubeconfig,
        &p.ns.name,
        &["report", RACE, "-o", file.to_str().unwrap()],
    )
    .await;
    assert_eq!(
        run.expect(3).error(),
        "race \"dutch\" has no report yet: the post-race pipeline's report step writes it (kubectl pitstop status dutch shows the pipeline)"
    );
    assert!(!file.exists());
}

/// A race whose processor cannot be asked: no ready endpoint, an endpoint that refuses,
/// a processor without the session. `status` still shows the RaceSession and exits 5
/// with why; `report` exits 5.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn race_not_running() {
    let Some(p) = proxied("plugin_not_running").await else {
        return;
    };
    let (kc, ns) = (&p.kit.kubeconfig, p.ns.name.as_str());
    // No session yet.
    p.fake.set(
        "",
        404,
        json!({"error": "no session \"dutch\""}).to_string(),
        "application/json",
    );
    let run = plugin(kc, ns, &["status", RACE]).await;
    run.expect(5);
    assert_eq!(
        run.error(),
        "race \"dutch\" is not running: the processor has no session for it yet (no session \"dutch\")"
    );
    assert!(has(&run.out, "Phase: Racing"), "{}", run.out);
    // Nothing listening where the Endpoints point.
    let closed = {
        let l = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
        l.local_addr().unwrap().port()
    };
    processor_endpoint(&p.kit.client, ns, p.ip, closed).await;
    let run = plugin(kc, ns, &["status", RACE]).await;
    run.expect(5);
    let e = run.error();
    assert!(
        e.starts_with("race \"dutch\" is not running: its processor cannot be reached: error trying to reach service")
            && e.contains("connection refused"),
        "{e}"
    );
    // No ready endpoint (what the endpoints controller leaves while no processor pod is
    // ready), and the operator says why.
    apply(
        &p.kit.client,
        ns,
        json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "dutch-processor"},
            "subsets": []}),
    )
    .await;
    let races: Api<RaceSession> = Api::namespaced(p.kit.client.clone(), ns);
    races
        .patch_status(
            RACE,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Provisioning", "conditions": [
                {"type": "ProcessorReady", "status": "False", "reason": "ComponentsNotReady",
                 "message": "0/2 replicas ready", "lastTransitionTime": "2026-12-03T12:00:00Z"}]}})),
        )
        .await
        .unwrap();
    let run = plugin(kc, ns, &["status", RACE]).await;
    run.expect(5);
    assert_eq!(
        run.error(),
        "race \"dutch\" is not running: no processor pod is ready behind Service \"dutch-processor\" (ProcessorReady=False, ComponentsNotReady: 0/2 replicas ready)"
    );
    let run = plugin(kc, ns, &["report", RACE]).await;
    assert_eq!(
        run.expect(5).error(),
        "race \"dutch\" is not running: no processor pod is ready behind Service \"dutch-processor\""
    );
    // No Endpoints object at all (the API server calls that a missing Service too).
    let endpoints: Api<k8s_openapi::api::core::v1::Endpoints> =
        Api::namespaced(p.kit.client.clone(), ns);
    endpoints
        .delete("dutch-processor", &DeleteParams::default())
        .await
        .unwrap();
    let run = plugin(kc, ns, &["status", RACE]).await;
    assert!(
        run.expect(5).error().starts_with(
            "race \"dutch\" is not running: it has no processor Service \"dutch-processor\" (or no Endpoints for it) yet"
        ),
        "{}",
        run.err
    );
}

/// A kubeconfig acting as `user` (`as:` in its user, as `kubectl --as` does): the API
/// server authorizes every request as that user.
fn kubeconfig_as(kit: &Kit, user: &str, dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(&kit.kubeconfig).unwrap();
    let mut kc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    for u in kc["users"].as_sequence_mut().unwrap() {
        u["user"]["as"] = user.into();
    }
    let path = dir.join(format!("kubeconfig-{}", user.replace(':', "-")));
    std::fs::write(&path, serde_yaml::to_string(&kc).unwrap()).unwrap();
    path
}

/// A missing race names race and namespace (exit 3); missing RBAC names the verb and
/// resource (exit 4): no access at all, read but not proxy, read but not patch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_race_and_missing_rbac() {
    let Some(p) = proxied("plugin_rbac").await else {
        return;
    };
    let (client, ns) = (&p.kit.client, p.ns.name.as_str());
    let run = plugin(&p.kit.kubeconfig, ns, &["status", "imola"]).await;
    assert_eq!(
        run.expect(3).error(),
        format!("racesession \"imola\" not found in namespace \"{ns}\"")
    );

    for sa in ["nobody", "reader"] {
        apply(
            client,
            ns,
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa}}),
        )
        .await;
    }
    apply(
        client,
        ns,
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "race-reader"},
            "rules": [{"apiGroups": ["pitstop.io"], "resources": ["racesessions"],
                       "verbs": ["get", "list", "watch"]}]}),
    )
    .await;
    apply(
        client,
        ns,
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "race-reader"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "race-reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": ns}]}),
    )
    .await;
    let dir = std::env::temp_dir().join(format!("pitstop-rbac-{}-{ns}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let nobody = kubeconfig_as(&p.kit, &format!("system:serviceaccount:{ns}:nobody"), &dir);
    let reader = kubeconfig_as(&p.kit, &format!("system:serviceaccount:{ns}:reader"), &dir);
    let grant = |verb: &str, resource: &str| {
        format!(
            "you cannot {verb} {resource} in namespace \"{ns}\" (RBAC): ask for a Role granting {verb} on {resource} there (docs/kubectl-plugin.md#rbac)"
        )
    };
    let run = plugin(&nobody, ns, &["status", RACE]).await;
    assert_eq!(
        run.expect(4).error(),
        grant("get", "racesessions.pitstop.io")
    );
    // The Role may take a moment to reach the authorizer's cache.
    let mut last = String::new();
    eventually(
        "the reader's Role in force",
        Duration::from_secs(20),
        async || {
            let run = plugin(&reader, ns, &["status", RACE]).await;
            last = run.err.clone();
            run.code == 4 && run.error() == grant("get", "services/proxy")
        },
    )
    .await;
    let run = plugin(&reader, ns, &["run-pipeline", RACE, "--wait", "0s"]).await;
    assert_eq!(
        run.expect(4).error(),
        grant("patch", "racesessions.pitstop.io"),
        "{last}"
    );
    let run = plugin(&reader, ns, &["logs", RACE, "report"]).await;
    assert_eq!(run.expect(4).error(), grant("list", "pods"));
    std::fs::remove_dir_all(&dir).ok();
}

/// `logs`: a wrong task lists the valid ones; the task's Job's pod is found by its label
/// among other pods, and the API server's "not started" answer for a pod that never ran
/// is one line (exit 3); a Job without pods says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_of_a_task() {
    let Some(p) = proxied("plugin_logs").await else {
        return;
    };
    let (client, ns, kc) = (&p.kit.client, p.ns.name.as_str(), &p.kit.kubeconfig);
    let run = plugin(kc, ns, &["logs", RACE, "reprot"]).await;
    assert_eq!(
        run.expect(3).error(),
        "race \"dutch\" has no post-race task \"reprot\"; its tasks: report"
    );
    let run = plugin(kc, ns, &["logs", RACE, "report"]).await;
    assert_eq!(
        run.expect(3).error(),
        "task \"report\" of race \"dutch\": Job \"dutch-p1-report-0-1\" has no pod (not started yet, or removed after the Job's TTL; failed attempts are kept for postRace.ttlSecondsAfterFailure)"
    );
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    for (name, job) in [
        ("other-pod", "dutch-p1-aggregate-0-1"),
        ("report-pod", "dutch-p1-report-0-1"),
    ] {
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": name,
                "labels": {"batch.kubernetes.io/job-name": job}},
            "spec": {"schedulingGates": [{"name": "pitstop.io/never"}],
                     "containers": [{"name": "step", "image": "localhost/pause:3.10"}]}}))
        .unwrap();
        pods.create(&PostParams::default(), &pod).await.unwrap();
    }
    let run = plugin(kc, ns, &["logs", RACE, "report"]).await;
    assert_eq!(
        run.expect(3).error(),
        "no logs of pod \"report-pod\" yet: it is not scheduled yet (Pending)"
    );
}

/// `run-pipeline` and `retry-pipeline` with the operator's own reconcile: the annotation
/// set with a new value, the operator's answer read back (run 1 started; a retry refused
/// while it runs, exit 6); without an operator, exit 7 after --wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_and_retry_pipeline_with_the_operator() {
    const TEST: &str = "run_and_retry_pipeline_with_the_operator";
    let Some(kit) = Kit::connect(TEST).await else {
        return;
    };
    let ns = kit.namespace("plugin-pipeline").await;
    let n = ns.name.as_str();
    let client = kit.client.clone();
    apply(
        &client,
        n,
        json!({"apiVersion": "pitstop.io/v1alpha1", "kind": "RaceSession",
            "metadata": {"name": RACE},
            "spec": {"circuit": "zandvoort", "laps": 3, "monitoring": {"mode": "none"}}}),
    )
    .await;
    let ctx = kit::context(client.clone());
    reconcile_once(&ctx, n, RACE).await;
    let races: Api<RaceSession> = Api::namespaced(client.clone(), n);

    // No operator answering: exit 7 after --wait, the annotation set all the same.
    let run = plugin(&kit.kubeconfig, n, &["run-pipeline", RACE, "--wait", "1s"]).await;
    let e = run.expect(7).error().to_string();
    assert!(
        e.contains("the operator has not acted on pitstop.io/run-pipeline="),
        "{e}"
    );
    let first = races.get(RACE).await.unwrap().annotations()["pitstop.io/run-pipeline"].clone();
    assert!(run.out.contains(&first), "{}", run.out);
    assert!(
        run.out.contains("the operator should start run 1"),
        "{}",
        run.out
    );

    // With the operator: each command waits while the test reconciles for it.
    async fn with_reconcile(
        kit: &Kit,
        ctx: &Arc<pitstop_operator::reconcile::Context>,
        ns: &str,
        key: &str,
        before: Option<String>,
        args: &[&str],
    ) -> Run {
        let child = plugin_cmd(&kit.kubeconfig, ns, args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let races: Api<RaceSession> = Api::namespaced(kit.client.clone(), ns);
        eventually(
            "the plugin's annotation",
            Duration::from_secs(20),
            async || {
                let r = races.get(RACE).await.unwrap();
                r.annotations().get(key).cloned() != before
            },
        )
        .await;
        reconcile_once(ctx, ns, RACE).await;
        let out = tokio::time::timeout(Duration::from_secs(40), child.wait_with_output())
            .await
            .expect("the plugin answered")
            .unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            out: String::from_utf8_lossy(&out.stdout).into(),
            err: String::from_utf8_lossy(&out.stderr).into(),
        }
    }
    // Nothing reconciled the first value: this command's new value supersedes it, and
    // is the one the operator acts on.
    let run = with_reconcile(
        &kit,
        &ctx,
        n,
        "pitstop.io/run-pipeline",
        Some(first),
        &["run-pipeline", RACE, "--wait", "30s"],
    )
    .await;
    run.expect(0);
    assert!(
        run.out.contains("race \"dutch\": post-race run 1 started"),
        "{}",
        run.out
    );
    let run = with_reconcile(
        &kit,
        &ctx,
        n,
        "pitstop.io/retry-pipeline",
        None,
        &["retry-pipeline", RACE, "--wait", "30s"],
    )
    .await;
    assert!(
        run.out
            .contains("the operator will likely refuse it: run 1 is still running"),
        "{}",
        run.out
    );
    let e = run.expect(6).error().to_string();
    assert!(
        e.starts_with("race \"dutch\": the operator refused: pitstop.io/retry-pipeline=")
            && e.ends_with("refused: run 1 is still running"),
        "{e}"
    );
    let status = races.get(RACE).await.unwrap().status.unwrap();
    let refused = status
        .conditions
        .iter()
        .find(|c| c.type_ == "PipelineRequestRefused")
        .unwrap();
    assert_eq!(refused.status, "True", "the operator's condition agrees");
}
