//! The post-race pipeline end to end, with a stand-in for the kubelet: a real race runs
//! through a real processor, Redis and PostgreSQL; the operator reconciles against the
//! in-memory API server and creates the grand-prix DAG's Jobs; each Job is then run as the
//! real `pitstop` binary with the Job's own arguments and environment (the datastore
//! addresses, which in a cluster are Service names, pointed at the local servers), and its
//! exit code becomes the Job's status. The run must succeed with every task, and the
//! tables and the report must be there: the operator's Jobs and the binary's CLI agree.

mod support;

use pitstop_operator::api::RaceSession;
use pitstop_operator::reconcile::reconcile;
use pitstop_workloads::metrics::SimulatorMetrics;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use support::FakeApi;
use support::race::LocalRace;

const RACE: &str = "/apis/pitstop.io/v1alpha1/namespaces/racing/racesessions/monza";
const JOBS: &str = "/apis/batch/v1/namespaces/racing/jobs/";

/// The `pitstop` binary `cargo test --workspace` built next to this test.
fn pitstop_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let bin = dir.join("pitstop");
    assert!(
        bin.exists(),
        "{} missing: run the workspace's tests (`make test`, or cargo test --workspace)",
        bin.display()
    );
    bin
}

/// Runs one Job's container as a local process; true when it exits 0.
fn run_job(job: &Value, local: &LocalRace, redis_url: &str, log: &mut String) -> bool {
    let c = &job["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<String> = serde_json::from_value(c["args"].clone()).unwrap();
    let mut cmd = std::process::Command::new(pitstop_binary());
    cmd.args(&args).env_clear();
    cmd.env("PATH", std::env::var("PATH").unwrap_or_default());
    for e in c["env"].as_array().unwrap() {
        if let Some(v) = e["value"].as_str() {
            cmd.env(e["name"].as_str().unwrap(), v);
        }
    }
    // What kube-dns and the Secrets would provide in the cluster.
    cmd.env("DATABASE_URL", &local.database_url)
        .env("REDIS_URL", redis_url)
        .env("PITSTOP_STREAM", &local.keys.base)
        .env("PITSTOP_LOG_FORMAT", "text");
    let out = cmd.output().unwrap();
    log.push_str(&format!(
        "$ pitstop {}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    ));
    out.status.success()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operators_jobs_run_the_real_steps() {
    let local = LocalRace::start("pipeline_e2e").await;
    // Four cars of two teams (the first four of the 2024 grid), so two persist tasks.
    local
        .publish(4, 4, 0.3, None, SimulatorMetrics::new())
        .await;
    let db = pitstop_workloads::db::connect(&local.database_url)
        .await
        .unwrap();
    pitstop_workloads::processor::queries::wait_finished(&db, "monza", Duration::from_secs(60))
        .await
        .unwrap();
    let redis_url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());

    let api = FakeApi::new();
    api.put(
        RACE,
        json!({
            "apiVersion": "pitstop.io/v1alpha1", "kind": "RaceSession",
            "metadata": {"name": "monza", "namespace": "racing", "uid": "u1", "generation": 1},
            "spec": {"laps": 4, "grid": [
                {"car": 4, "driver": "NOR", "team": "McLaren"}, {"car": 81, "driver": "PIA", "team": "McLaren"},
                {"car": 16, "driver": "LEC", "team": "Ferrari"}, {"car": 55, "driver": "SAI", "team": "Ferrari"}]},
            "status": {"race": {"lap": 4, "totalLaps": 4, "pitStops": 4, "anomalies": 0, "samplesProcessed": 1, "finished": true}}
        }),
    );
    let ctx = support::context(&api, None);

    let mut log = String::new();
    let mut ran = Vec::new();
    for _ in 0..20 {
        let race: RaceSession = serde_json::from_value(api.get(RACE).unwrap()).unwrap();
        reconcile(Arc::new(race), ctx.clone()).await.unwrap();
        let phase = api.get(RACE).unwrap()["status"]["pipeline"]["phase"].clone();
        if phase != "Running" {
            break;
        }
        // The kubelet: run every Job that has not run yet, report how it ended.
        let pending: Vec<String> = api
            .paths()
            .into_iter()
            .filter(|p| p.starts_with(JOBS))
            .filter(|p| api.get(p).unwrap()["status"].is_null())
            .collect();
        for path in pending {
            let job = api.get(&path).unwrap();
            let ok = run_job(&job, &local, &redis_url, &mut log);
            ran.push(
                job["metadata"]["labels"]["pitstop.io/task"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
            let now = k8s_openapi::jiff::Timestamp::now().to_string();
            api.edit(&path, |j| {
                j["status"] = if ok {
                    json!({"succeeded": 1, "startTime": now, "completionTime": now})
                } else {
                    json!({"failed": 1, "startTime": now, "conditions": [{"type": "Failed", "status": "True",
                           "reason": "BackoffLimitExceeded", "message": "exit 1", "lastTransitionTime": now}]})
                };
            });
        }
    }
    let status = api.get(RACE).unwrap()["status"].clone();
    let p = &status["pipeline"];
    assert_eq!(p["phase"], "Succeeded", "{p:#}\n{log}");
    let tasks: Vec<(&str, &str)> = p["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap(), t["phase"].as_str().unwrap()))
        .collect();
    assert_eq!(
        tasks,
        [
            ("collect-telemetry", "Succeeded"),
            ("persist-mclaren", "Succeeded"),
            ("persist-ferrari", "Succeeded"),
            ("data-quality", "Succeeded"),
            ("aggregate", "Succeeded"),
            ("report", "Succeeded"),
            ("notify", "Succeeded"),
            ("on-exit", "Succeeded")
        ]
    );
    assert_eq!(ran.len(), 8, "each task ran once: {ran:?}");
    assert_eq!(ran.last().map(String::as_str), Some("on-exit"));
    let c = status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "PipelineSucceeded")
        .unwrap();
    assert_eq!(c["status"], "True");

    // What the steps wrote, and the attempts they recorded under the operator's run id.
    let teams: i64 = db
        .query_one(
            "SELECT count(*) FROM telemetry_team_summary WHERE session_id = 'monza'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(teams, 2);
    let report: i64 = db
        .query_one(
            "SELECT length(html) FROM reports WHERE session_id = 'monza'",
            &[],
        )
        .await
        .unwrap()
        .get::<_, i32>(0) as i64;
    assert!(report > 5_000, "report of {report} bytes");
    let attempts: i64 = db
        .query_one(
            "SELECT count(*) FROM pipeline_task_runs WHERE run_id = 'monza-1' AND outcome = 'succeeded'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(attempts, 8, "{log}");
    drop(db);
    local.cleanup().await;
}
