//! The operator reads race progress from a real processor: a short race runs through
//! real Redis and PostgreSQL, then a reconcile against the in-memory API server puts the
//! processor's figures in the RaceSession status (the contract between the two crates).

mod support;

use pitstop_operator::api::RaceSession;
use pitstop_operator::reconcile::reconcile;
use pitstop_workloads::metrics::SimulatorMetrics;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use support::FakeApi;
use support::race::LocalRace;

const RACE: &str = "/apis/pitstop.io/v1alpha1/namespaces/racing/racesessions/monza";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_the_processors_progress() {
    let local = LocalRace::start("progress").await;
    local
        .publish(3, 6, 0.0, None, SimulatorMetrics::new())
        .await;
    let db = pitstop_workloads::db::connect(&local.database_url)
        .await
        .unwrap();
    pitstop_workloads::processor::queries::wait_finished(&db, "monza", Duration::from_secs(60))
        .await
        .unwrap();

    let api = FakeApi::new();
    api.put(
        RACE,
        json!({
            "apiVersion": "pitstop.io/v1alpha1", "kind": "RaceSession",
            "metadata": {"name": "monza", "namespace": "racing", "uid": "u1", "generation": 1},
            "spec": {"laps": 3}
        }),
    );
    let ctx = support::context(
        &api,
        Some(format!("http://{}", local.processor.addr.unwrap())),
    );
    let reconcile_once = || async {
        let race: RaceSession = serde_json::from_value(api.get(RACE).unwrap()).unwrap();
        reconcile(Arc::new(race), ctx.clone()).await.unwrap();
    };
    reconcile_once().await;
    for path in [
        "deployments/monza-simulator",
        "deployments/monza-processor",
        "statefulsets/monza-redis",
        "statefulsets/monza-postgres",
    ] {
        api.edit(&format!("/apis/apps/v1/namespaces/racing/{path}"), |o| {
            o["spec"]["replicas"] = json!(1);
            o["status"] = json!({"replicas": 1, "readyReplicas": 1});
        });
    }
    reconcile_once().await;

    let status = api.get(RACE).unwrap()["status"].clone();
    let race = &status["race"];
    assert_eq!(race["lap"], 3, "{status}");
    assert_eq!(race["totalLaps"], 3);
    assert_eq!(race["finished"], true);
    assert_eq!(race["pitStops"], 6, "one stop per car");
    assert!(
        race["leader"].as_str().unwrap().contains('('),
        "leader with team: {}",
        race["leader"]
    );
    assert!(race["samplesProcessed"].as_i64().unwrap() > 0);
    // The session's start, which tells a race's own session from a retained one.
    let started: k8s_openapi::jiff::Timestamp =
        race["startedAt"].as_str().unwrap().parse().unwrap();
    let age = k8s_openapi::jiff::Timestamp::now().duration_since(started);
    assert!(
        age.as_secs() >= 0 && age.as_secs() < 600,
        "{started} is this race's start"
    );
    assert_eq!(status["phase"], "Finished");

    drop(db);
    local.cleanup().await;
}
