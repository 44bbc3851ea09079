//! The contract between the operator and the F1-game gateway, against the real `pitstop`
//! binary: the gateway takes the arguments and environment of the Deployment the operator
//! builds, and the operator reads its `GET /status` (what `status.source` shows).

use pitstop_operator::children::build;
use pitstop_operator::model::{Defaults, validate};
use pitstop_operator::reconcile::gateway;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The `pitstop` binary `cargo test --workspace` built next to this test.
fn pitstop_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join("pitstop");
    assert!(
        bin.exists(),
        "{} missing: run the workspace's tests (`make test`, or cargo test --workspace)",
        bin.display()
    );
    bin
}

/// A port nobody listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills the gateway when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The gateway container's args and environment variable names, as the operator builds
/// them for a game race.
fn gateway_container() -> (Vec<String>, Vec<String>) {
    let race = serde_yaml::from_str(
        "apiVersion: pitstop.io/v1alpha1\nkind: RaceSession\nmetadata: {name: monza, namespace: racing, uid: u1}\nspec:\n  source: {type: game, game: {allowedClients: [127.0.0.1/32]}}\n",
    )
    .unwrap();
    let secrets: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let children = build(&validate(&race, &secrets, &Defaults::default()).unwrap());
    let d = children
        .deployments
        .iter()
        .find(|d| d.metadata.name.as_deref() == Some("monza-gateway"))
        .unwrap();
    let c = &d
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0];
    let env = c.env.iter().flatten().map(|e| e.name.clone()).collect();
    (c.args.clone().unwrap(), env)
}

/// The real gateway starts with the operator's arguments (its UDP and HTTP addresses moved
/// to free loopback ports) and the API key variable, and its `/status` reads into the
/// figures `status.source` shows: nothing received yet, no flag.
#[tokio::test]
async fn the_gateway_takes_the_operators_args_and_its_status_reads() {
    let (mut args, env) = gateway_container();
    assert!(
        env.contains(&"STREAM_PROCESSOR_API_KEY".to_string()),
        "{env:?}"
    );
    let udp = args.iter().position(|a| a == "--udp").unwrap() + 1;
    args[udp] = format!("127.0.0.1:{}", free_port());
    let http = free_port();
    args.extend(["--listen".into(), format!("127.0.0.1:{http}")]);
    let _gateway = Running(
        Command::new(pitstop_binary())
            .args(&args)
            .env("STREAM_PROCESSOR_API_KEY", "0123456789abcdef01234567")
            .env_remove("STREAM_PROCESSOR_API_KEY_FILE")
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{http}");
    let race = serde_yaml::from_str(
        "apiVersion: pitstop.io/v1alpha1\nkind: RaceSession\nmetadata: {name: monza, namespace: racing}\nspec:\n  source: {type: game}\n",
    )
    .unwrap();
    let secrets: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let model = validate(&race, &secrets, &Defaults::default()).unwrap();
    let url = gateway::url(&model, Some(&base));
    assert_eq!(url, format!("{base}/status"));
    let http_client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let report = loop {
        if let Some(r) = gateway::fetch(&http_client, &url).await {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "no /status from the gateway at {url}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        (
            report.datagrams,
            report.dropped,
            report.sessions_seen,
            report.finished
        ),
        (0, 0, 0, false)
    );
    assert_eq!(report.datagrams_per_second, 0.0);
}
