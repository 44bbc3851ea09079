//! The operator reads race progress from a real processor: a short race runs through
//! real Redis and PostgreSQL, then a reconcile against the in-memory API server puts the
//! processor's figures in the RaceSession status (the contract between the two crates).

mod support;

use kube::runtime::events::Reporter;
use pitstop_operator::api::RaceSession;
use pitstop_operator::metrics::OperatorMetrics;
use pitstop_operator::model::Images;
use pitstop_operator::reconcile::{Context, reconcile};
use pitstop_workloads::metrics::SimulatorMetrics;
use pitstop_workloads::processor::{Processor, ProcessorConfig};
use pitstop_workloads::sim::circuit::circuit;
use pitstop_workloads::sim::grid::default_grid;
use pitstop_workloads::sim::publisher::{Progress, PublishConfig};
use pitstop_workloads::sim::race::RaceConfig;
use pitstop_workloads::sim::service::run_race;
use pitstop_workloads::stream::StreamKeys;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;
use support::FakeApi;

const RACE: &str = "/apis/pitstop.io/v1alpha1/namespaces/racing/racesessions/monza";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_the_processors_progress() {
    let redis_url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let admin_url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let db_name = format!("pitstop_t_progress_{}", std::process::id());
    let admin = pitstop_workloads::db::connect(&admin_url)
        .await
        .expect("PostgreSQL reachable (run through `make test`)");
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db_name}"))
        .await
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {db_name}"))
        .await
        .unwrap();
    let database_url = format!("{}/{db_name}", admin_url.rsplit_once('/').unwrap().0);
    let keys = StreamKeys::new(format!("pitstop:test:{db_name}"), 4);

    let mut cfg = ProcessorConfig::new(&redis_url, &database_url, &keys.base);
    cfg.listen = Some("127.0.0.1:0".parse().unwrap());
    cfg.consumer = "progress".into();
    let processor = Processor::start(cfg, None).await.unwrap();
    let race_cfg = RaceConfig {
        session: "monza".into(),
        circuit: circuit("monza").unwrap(),
        laps: 3,
        grid: default_grid(6),
        seed: 4,
        sample_hz: 10.0,
        anomaly_rate: 0.0,
        start_ms: pitstop_workloads::util::now_ms(),
    };
    let pace = PublishConfig {
        time_scale: None,
        rate: None,
        batch_max: 64,
        maxlen: 1_000_000,
    };
    let redis = redis::Client::open(redis_url.as_str()).unwrap();
    run_race(
        race_cfg,
        keys.clone(),
        redis.clone(),
        pace,
        SimulatorMetrics::new(),
        Arc::new(Progress::default()),
        Arc::new(AtomicBool::new(false)),
    )
    .await
    .unwrap();
    let db = pitstop_workloads::db::connect(&database_url).await.unwrap();
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
    let ctx = Arc::new(Context {
        client: api.client(),
        images: Images::default(),
        reporter: Reporter {
            controller: "pitstop-operator".into(),
            instance: None,
        },
        metrics: OperatorMetrics::new(),
        http: reqwest::Client::new(),
        processor_base: Some(format!("http://{}", processor.addr.unwrap())),
    });
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
    assert_eq!(status["phase"], "Finished");

    processor.shutdown().await;
    let mut con = redis.get_multiplexed_async_connection().await.unwrap();
    let leftovers: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*", keys.base))
        .query_async(&mut con)
        .await
        .unwrap();
    if !leftovers.is_empty() {
        let _: () = redis::cmd("DEL")
            .arg(leftovers)
            .query_async(&mut con)
            .await
            .unwrap();
    }
    drop(db);
    let _ = admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"))
        .await;
}
