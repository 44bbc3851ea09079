//! `spec.source` through a real `kube::Client` against the in-memory API server in
//! `support/`: switching a race's source replaces the old source's objects with the new
//! one's (and never touches the pipeline's Jobs), a game race reads its gateway and
//! finishes on the processor's flag like a simulated one, an OpenF1 race follows its
//! replay Job, and a bad CIDR stalls with the entry named.

mod support;

use k8s_openapi::jiff::Timestamp;
use pitstop_operator::api::RaceSession;
use pitstop_operator::reconcile::{Context, reconcile_at};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use support::FakeApi;
use support::gateway::GatewayStub;
use support::processor::ProcessorStub;

const NS: &str = "/apis/apps/v1/namespaces/racing";
const RACE: &str = "/apis/pitstop.io/v1alpha1/namespaces/racing/racesessions/monza";
const SIM: &str = "/apis/apps/v1/namespaces/racing/deployments/monza-simulator";
const SIM_SVC: &str = "/api/v1/namespaces/racing/services/monza-simulator";
const GATEWAY: &str = "/apis/apps/v1/namespaces/racing/deployments/monza-gateway";
const GATEWAY_SVC: &str = "/api/v1/namespaces/racing/services/monza-gateway";
const GATEWAY_UDP: &str = "/api/v1/namespaces/racing/services/monza-gateway-udp";
const GATEWAY_NP: &str =
    "/apis/networking.k8s.io/v1/namespaces/racing/networkpolicies/monza-gateway";
const PROC_NP: &str =
    "/apis/networking.k8s.io/v1/namespaces/racing/networkpolicies/monza-processor";
const JOBS: &str = "/apis/batch/v1/namespaces/racing/jobs";
/// A post-race pipeline Job, which the scheduler owns: pruning the source leaves it.
const PIPELINE_JOB: &str = "/apis/batch/v1/namespaces/racing/jobs/monza-p1-collect-telemetry-0-1";

/// Every object of a game source.
const GAME_OBJECTS: [&str; 4] = [GATEWAY, GATEWAY_SVC, GATEWAY_UDP, GATEWAY_NP];

fn game_spec() -> Value {
    json!({"source": {"type": "game", "game": {
        "service": {"type": "NodePort", "nodePort": 30777},
        "allowedClients": ["192.168.1.0/24"]}}})
}

fn setup(spec: Value, ctx: impl Fn(&Arc<FakeApi>) -> Arc<Context>) -> (Arc<FakeApi>, Arc<Context>) {
    let api = FakeApi::new();
    api.put(
        RACE,
        json!({
            "apiVersion": "pitstop.io/v1alpha1",
            "kind": "RaceSession",
            "metadata": {"name": "monza", "namespace": "racing", "uid": "race-uid-1", "generation": 1},
            "spec": spec,
        }),
    );
    let c = ctx(&api);
    (api, c)
}

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + s).unwrap()
}

/// Reconciles the race as stored at `t(s)`.
async fn run(api: &FakeApi, ctx: &Arc<Context>, s: i64) -> kube::runtime::controller::Action {
    let race: RaceSession = serde_json::from_value(api.get(RACE).unwrap()).unwrap();
    let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(t(s));
    tokio::time::timeout(
        Duration::from_secs(10),
        reconcile_at(Arc::new(race), ctx.clone(), now),
    )
    .await
    .expect("reconcile finished")
    .expect("reconcile succeeded")
}

/// The stored spec's `source` replaced, as a `kubectl apply` of a new generation would.
fn switch(api: &FakeApi, source: Value, generation: i64) {
    api.edit(RACE, |r| {
        match source {
            Value::Null => r["spec"].as_object_mut().unwrap().remove("source"),
            s => r["spec"]
                .as_object_mut()
                .unwrap()
                .insert("source".into(), s),
        };
        r["metadata"]["generation"] = json!(generation);
    });
}

fn status(api: &FakeApi) -> Value {
    api.get(RACE).unwrap()["status"].clone()
}

fn condition(api: &FakeApi, t: &str) -> Value {
    status(api)["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == t)
        .cloned()
        .unwrap_or(Value::Null)
}

fn replay_jobs(api: &FakeApi) -> Vec<String> {
    api.paths()
        .into_iter()
        .filter_map(|p| p.strip_prefix(&format!("{JOBS}/")).map(str::to_string))
        .filter(|n| n.starts_with("monza-replay-"))
        .collect()
}

/// Every Deployment and StatefulSet at its replicas, ready.
fn mark_ready(api: &FakeApi) {
    for path in api.paths() {
        if !(path.starts_with(&format!("{NS}/deployments/"))
            || path.starts_with(&format!("{NS}/statefulsets/")))
        {
            continue;
        }
        api.edit(&path, |o| {
            let desired = o["spec"]["replicas"].as_i64().unwrap_or(1);
            o["spec"]["replicas"] = json!(desired);
            o["status"] = json!({"replicas": desired, "readyReplicas": desired});
        });
    }
}

/// The first peer the processor's NetworkPolicy admits: the source's pods.
fn feeder(api: &FakeApi) -> Value {
    api.get(PROC_NP).unwrap()["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
        ["app.kubernetes.io/component"]
        .clone()
}

/// Simulator → game → OpenF1 (twice, with another speed) → external → simulator on a live
/// race: each switch deletes the old source's objects (Deployment, Services,
/// NetworkPolicy, replay Job), applies the new one's, points the processor's
/// NetworkPolicy at the new feeder and says the source in the status; the pipeline's
/// Jobs are never pruned with the replay's.
#[tokio::test]
async fn switching_the_source_replaces_the_old_one() {
    let (api, ctx) = setup(json!({}), |api| support::context(api, None));
    api.put(
        PIPELINE_JOB,
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {
            "name": "monza-p1-collect-telemetry-0-1", "namespace": "racing",
            "labels": {"app.kubernetes.io/instance": "monza", "app.kubernetes.io/managed-by": "pitstop-operator",
                       "app.kubernetes.io/component": "pipeline", "pitstop.io/run": "1"}}}),
    );
    run(&api, &ctx, 0).await;
    assert!(api.get(SIM).is_some() && api.get(SIM_SVC).is_some());
    assert_eq!(feeder(&api), "simulator");
    assert_eq!(status(&api)["source"], json!({"type": "simulator"}));

    switch(&api, game_spec()["source"].clone(), 2);
    run(&api, &ctx, 10).await;
    assert!(
        api.get(SIM).is_none() && api.get(SIM_SVC).is_none(),
        "simulator pruned"
    );
    for path in GAME_OBJECTS {
        assert!(api.get(path).is_some(), "{path} applied");
    }
    assert_eq!(feeder(&api), "gateway");
    assert_eq!(status(&api)["source"]["type"], "game");
    assert_eq!(condition(&api, "SimulatorReady")["reason"], "Disabled");
    assert_eq!(
        condition(&api, "SourceReady")["status"],
        "False",
        "gateway not ready yet"
    );

    let openf1 =
        |speed: Value| json!({"type": "openf1", "openf1": {"sessionKey": 9606, "speed": speed}});
    switch(&api, openf1(json!(20)), 3);
    run(&api, &ctx, 20).await;
    for path in GAME_OBJECTS {
        assert!(api.get(path).is_none(), "{path} pruned");
    }
    let first = replay_jobs(&api);
    assert_eq!(first.len(), 1);
    assert_eq!(feeder(&api), "replay");
    // (The in-memory server merges applies: the game's fields linger in its copy, where
    // a real server drops what the field manager no longer sets.)
    let source = status(&api)["source"].clone();
    assert_eq!(
        (&source["type"], &source["job"]),
        (&json!("openf1"), &json!(first[0]))
    );

    switch(&api, openf1(json!("max")), 4);
    run(&api, &ctx, 30).await;
    let second = replay_jobs(&api);
    assert_eq!(second.len(), 1, "the old replay Job pruned: {second:?}");
    assert_ne!(second, first, "a new Job for the new pod template");

    switch(&api, json!({"type": "external"}), 5);
    run(&api, &ctx, 40).await;
    assert!(replay_jobs(&api).is_empty());
    assert!(api.get(SIM).is_none() && api.get(GATEWAY).is_none());
    assert_eq!(condition(&api, "SourceReady")["reason"], "External");
    let peers = api.get(PROC_NP).unwrap()["spec"]["ingress"][0]["from"].to_string();
    assert!(
        !peers.contains("simulator") && !peers.contains("gateway") && !peers.contains("replay"),
        "{peers}"
    );

    switch(&api, Value::Null, 6);
    run(&api, &ctx, 50).await;
    assert!(api.get(SIM).is_some(), "simulator back");
    assert!(api.get(GATEWAY_UDP).is_none());
    assert_eq!(
        condition(&api, "SourceReady"),
        Value::Null,
        "no SourceReady with the simulator"
    );
    assert!(
        api.get(PIPELINE_JOB).is_some(),
        "the pipeline's Job is never the source's"
    );
}

/// A game race: Racing once the gateway, processor and datastores are ready, with the
/// gateway's figures and the node port in the status; it finishes when the processor
/// says so (the gateway posted the chequered flag to it), and the next reconcile scales
/// the gateway to 0 and says why.
#[tokio::test]
async fn a_game_race_reads_its_gateway_and_finishes_on_the_processors_flag() {
    let processor = ProcessorStub::start().await;
    let gateway = GatewayStub::start().await;
    let (api, ctx) = setup(
        json!({"source": game_spec()["source"], "postRace": {"enabled": false}}),
        |api| {
            support::context_with_gateway(
                api,
                Some(processor.base.clone()),
                Some(gateway.base.clone()),
            )
        },
    );
    run(&api, &ctx, 0).await;
    mark_ready(&api);
    gateway.set(1200, false);
    processor.set(3, false, t(0).as_millisecond());
    run(&api, &ctx, 5).await;
    let s = status(&api);
    assert_eq!(s["phase"], "Racing");
    assert_eq!(s["race"]["lap"], 3);
    assert_eq!(
        s["source"],
        json!({"type": "game", "endpoint": "<the gateway pod's node>:30777", "datagramsPerSecond": 59.5,
               "sessionsSeen": 1, "datagrams": 1200, "dropped": 3, "finished": false})
    );
    let c = condition(&api, "SourceReady");
    assert_eq!(
        (&c["status"], &c["reason"]),
        (&json!("True"), &json!("Ready"))
    );

    gateway.set(5000, true);
    processor.set(10, true, t(0).as_millisecond());
    run(&api, &ctx, 10).await;
    assert_eq!(status(&api)["phase"], "Finished");
    assert_eq!(status(&api)["source"]["finished"], true);
    run(&api, &ctx, 11).await;
    assert_eq!(api.get(GATEWAY).unwrap()["spec"]["replicas"], 0);
    let c = condition(&api, "SourceReady");
    assert_eq!(
        (&c["status"], &c["reason"]),
        (&json!("True"), &json!("RaceFinished"))
    );
    assert_eq!(
        status(&api)["source"]["datagrams"],
        5000,
        "the last figures stay"
    );
    assert_eq!(status(&api)["phase"], "Finished");
}

/// An OpenF1 race follows its replay Job: a ready pod races, every attempt failed says
/// so (Ready False), and the Job is not replaced while its spec stands.
#[tokio::test]
async fn an_openf1_race_follows_its_replay_job() {
    let (api, ctx) = setup(
        json!({"source": {"type": "openf1", "openf1": {"sessionKey": 9606}}}),
        |api| support::context(api, None),
    );
    run(&api, &ctx, 0).await;
    mark_ready(&api);
    let job = format!("{JOBS}/{}", replay_jobs(&api)[0]);
    api.edit(&job, |j| j["status"] = json!({"active": 1, "ready": 1}));
    run(&api, &ctx, 5).await;
    assert_eq!(status(&api)["phase"], "Racing");
    assert_eq!(
        condition(&api, "SourceReady")["message"],
        "replaying OpenF1 session 9606 at speed 1"
    );
    api.edit(&job, |j| {
        j["status"] = json!({"failed": 4, "conditions": [{"type": "Failed", "status": "True",
            "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]})
    });
    run(&api, &ctx, 10).await;
    let c = condition(&api, "SourceReady");
    assert_eq!(
        (&c["status"], &c["reason"]),
        (&json!("False"), &json!("ReplayFailed"))
    );
    assert_eq!(condition(&api, "Ready")["status"], "False");
    assert_eq!(replay_jobs(&api).len(), 1, "kept for its logs");
}

/// A CIDR with host bits stalls the race with the entry named, before anything is
/// created (the CRD's rule says the same at admission).
#[tokio::test]
async fn a_bad_allowed_client_stalls_naming_it() {
    let (api, ctx) = setup(
        json!({"source": {"type": "game", "game": {"allowedClients": ["192.168.1.0/24", "192.168.1.5/24"]}}}),
        |api| support::context(api, None),
    );
    run(&api, &ctx, 0).await;
    let c = condition(&api, "Stalled");
    assert_eq!(
        (&c["status"], &c["reason"]),
        (&json!("True"), &json!("InvalidAllowedClients"))
    );
    assert_eq!(
        c["message"],
        "source.game.allowedClients[1]: \"192.168.1.5/24\" has host bits set: 192.168.1.0/24 for the network, 192.168.1.5/32 for one address"
    );
    assert!(api.get(GATEWAY).is_none() && api.get(SIM).is_none());
}
