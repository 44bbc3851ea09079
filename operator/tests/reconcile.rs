//! Reconcile scenarios through a real `kube::Client` against the in-memory API server in
//! `support/`: what is created, with which field manager and owner, when the race is
//! Ready, that a second pass changes nothing, that deleted or edited children come back,
//! that a spec change rolls out and prunes, and that an invalid spec stalls.

mod support;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use pitstop_operator::api::RaceSession;
use pitstop_operator::model::Defaults;
use pitstop_operator::reconcile::{Context, reconcile, reconcile_at};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::FakeApi;
use support::processor::ProcessorStub;

const RACE: &str = "/apis/pitstop.io/v1alpha1/namespaces/racing/racesessions/monza";
const SIM: &str = "/apis/apps/v1/namespaces/racing/deployments/monza-simulator";
const PROC: &str = "/apis/apps/v1/namespaces/racing/deployments/monza-processor";
const REDIS: &str = "/apis/apps/v1/namespaces/racing/statefulsets/monza-redis";
const PG: &str = "/apis/apps/v1/namespaces/racing/statefulsets/monza-postgres";
const HPA: &str = "/apis/autoscaling/v2/namespaces/racing/horizontalpodautoscalers/monza-processor";
const API_KEY: &str = "/api/v1/namespaces/racing/secrets/monza-api-key";
const PROM: &str = "/apis/apps/v1/namespaces/racing/deployments/monza-prometheus";
const GRAFANA: &str = "/apis/apps/v1/namespaces/racing/deployments/monza-grafana";
const GRAFANA_SECRET: &str = "/api/v1/namespaces/racing/secrets/monza-grafana";
const SCALED: &str = "/apis/keda.sh/v1alpha1/namespaces/racing/scaledobjects/monza-processor";
/// Every monitoring object (Deployments, Services, ConfigMaps, RBAC, generated Secret).
const MONITORING: [&str; 10] = [
    PROM,
    GRAFANA,
    GRAFANA_SECRET,
    "/api/v1/namespaces/racing/services/monza-prometheus",
    "/api/v1/namespaces/racing/services/monza-grafana",
    "/api/v1/namespaces/racing/configmaps/monza-prometheus",
    "/api/v1/namespaces/racing/configmaps/monza-grafana",
    "/api/v1/namespaces/racing/serviceaccounts/monza-prometheus",
    "/apis/rbac.authorization.k8s.io/v1/namespaces/racing/roles/monza-prometheus",
    "/apis/rbac.authorization.k8s.io/v1/namespaces/racing/rolebindings/monza-prometheus",
];

fn race_json(spec: Value) -> Value {
    json!({
        "apiVersion": "pitstop.io/v1alpha1",
        "kind": "RaceSession",
        "metadata": {"name": "monza", "namespace": "racing", "uid": "race-uid-1", "generation": 1},
        "spec": spec,
    })
}

fn setup(spec: Value) -> (Arc<FakeApi>, Arc<Context>) {
    let api = FakeApi::new();
    api.put(RACE, race_json(spec));
    let ctx = support::context(&api, None);
    (api, ctx)
}

/// Reconciles the race as currently stored (like the controller's cache would hand it over).
async fn run(api: &FakeApi, ctx: &Arc<Context>) -> kube::runtime::controller::Action {
    let race: RaceSession = serde_json::from_value(api.get(RACE).unwrap()).unwrap();
    tokio::time::timeout(
        Duration::from_secs(10),
        reconcile(Arc::new(race), ctx.clone()),
    )
    .await
    .expect("reconcile finished")
    .expect("reconcile succeeded")
}

/// [`run`] at `now` instead of the wall clock.
async fn run_at(
    api: &FakeApi,
    ctx: &Arc<Context>,
    now: Timestamp,
) -> kube::runtime::controller::Action {
    let race: RaceSession = serde_json::from_value(api.get(RACE).unwrap()).unwrap();
    tokio::time::timeout(
        Duration::from_secs(10),
        reconcile_at(Arc::new(race), ctx.clone(), Time(now)),
    )
    .await
    .expect("reconcile finished")
    .expect("reconcile succeeded")
}

fn condition(api: &FakeApi, t: &str) -> Value {
    let race = api.get(RACE).unwrap();
    race["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == t)
        .cloned()
        .unwrap_or(Value::Null)
}

fn mark_ready(api: &FakeApi) {
    for path in [SIM, PROC, REDIS, PG, PROM, GRAFANA] {
        if api.get(path).is_none() {
            continue;
        }
        api.edit(path, |o| {
            let desired = o["spec"]["replicas"].as_i64().unwrap_or(1);
            o["spec"]["replicas"] = json!(desired);
            o["status"] = json!({"replicas": desired, "readyReplicas": desired});
        });
    }
}

/// A fresh race gets every child by server-side apply with the one field manager, each
/// owned by the race; status starts Ready=False and turns True when children are ready.
#[tokio::test]
async fn creates_every_child_and_becomes_ready() {
    let (api, ctx) = setup(json!({"circuit": "monza", "timeScale": 40}));
    let t = Instant::now();
    run(&api, &ctx).await;
    let elapsed = t.elapsed();
    let log = api.log();
    eprintln!("fresh reconcile: {} API requests in {elapsed:?}", log.len());

    let applies: Vec<_> = log
        .iter()
        .filter(|l| l.method == "PATCH" && !l.path.ends_with("/status"))
        .collect();
    assert_eq!(
        applies.len(),
        21,
        "4 Deployments, 2 StatefulSets, 6 Services, 1 HPA, 3 NetworkPolicies, 2 ConfigMaps, \
         ServiceAccount, Role, RoleBinding"
    );
    for a in &applies {
        assert!(
            a.query.contains("fieldManager=pitstop-operator") && a.query.contains("force=true"),
            "{}?{}",
            a.path,
            a.query
        );
        let owner = &a.body.as_ref().unwrap()["metadata"]["ownerReferences"][0];
        assert_eq!(
            (
                owner["kind"].as_str(),
                owner["uid"].as_str(),
                owner["controller"].as_bool()
            ),
            (Some("RaceSession"), Some("race-uid-1"), Some(true)),
            "{}",
            a.path
        );
    }
    for path in [
        SIM,
        PROC,
        REDIS,
        PG,
        HPA,
        API_KEY,
        "/api/v1/namespaces/racing/secrets/monza-postgres-auth",
    ]
    .into_iter()
    .chain(MONITORING)
    {
        assert!(api.get(path).is_some(), "{path} exists");
    }
    assert_eq!(condition(&api, "MonitoringReady")["status"], "False");
    assert_eq!(condition(&api, "Ready")["status"], "False");
    assert_eq!(condition(&api, "Ready")["reason"], "ComponentsNotReady");
    assert_eq!(api.get(RACE).unwrap()["status"]["phase"], "Provisioning");

    mark_ready(&api);
    run(&api, &ctx).await;
    assert_eq!(condition(&api, "Ready")["status"], "True");
    assert_eq!(condition(&api, "Stalled")["status"], "False");
    assert_eq!(condition(&api, "MonitoringReady")["status"], "True");
    let status = api.get(RACE).unwrap()["status"].clone();
    assert_eq!(status["phase"], "Racing");
    assert_eq!(status["observedGeneration"], 1);
    assert_eq!(status["apiKeySecret"], "monza-api-key");
}

/// Nothing changed: the second pass only re-applies (no-op applies), writes no status,
/// and the generated API key keeps its value.
#[tokio::test]
async fn second_pass_is_a_no_op() {
    let (api, ctx) = setup(json!({}));
    run(&api, &ctx).await;
    mark_ready(&api);
    run(&api, &ctx).await;
    let key_before = api.get(API_KEY).unwrap()["data"].clone();
    let status_before = api.get(RACE).unwrap()["status"].clone();
    api.clear_log();
    run(&api, &ctx).await;
    let log = api.log();
    assert!(
        !log.iter().any(|l| l.path.ends_with("/status")),
        "no status write"
    );
    assert!(
        !log.iter()
            .any(|l| l.method == "POST" || l.method == "DELETE"),
        "no creates or deletes"
    );
    assert_eq!(
        api.get(API_KEY).unwrap()["data"],
        key_before,
        "generated once"
    );
    assert_eq!(
        api.get(RACE).unwrap()["status"],
        status_before,
        "transition times untouched"
    );
    let status_text = status_before.to_string();
    let key = key_before["api-key"].as_str().unwrap();
    assert!(
        !status_text.contains(key),
        "the key never appears in status"
    );
}

/// A deleted child is recreated; a hand edit is reverted; replicas set by the HPA stay.
#[tokio::test]
async fn drift_is_repaired_but_hpa_replicas_are_kept() {
    let (api, ctx) = setup(json!({}));
    run(&api, &ctx).await;
    api.delete(SIM);
    api.edit(PROC, |o| {
        o["spec"]["template"]["spec"]["containers"][0]["image"] = json!("evil:latest");
        o["spec"]["replicas"] = json!(3); // what the HPA did
    });
    run(&api, &ctx).await;
    assert!(api.get(SIM).is_some(), "simulator recreated");
    let p = api.get(PROC).unwrap();
    assert_eq!(
        p["spec"]["template"]["spec"]["containers"][0]["image"],
        Defaults::default().workloads.as_str()
    );
    assert_eq!(
        p["spec"]["replicas"], 3,
        "the operator does not write replicas under an HPA"
    );
}

/// Switching Redis to an external server and autoscaling off rolls out: the managed
/// Redis objects and the HPA are deleted, the processor reads the URL from the Secret.
#[tokio::test]
async fn spec_change_rolls_out_and_prunes() {
    let (api, ctx) = setup(json!({}));
    run(&api, &ctx).await;
    api.put(
        "/api/v1/namespaces/racing/secrets/redis-url",
        json!({"metadata": {"name": "redis-url"}, "data": {"url": "cmVkaXM6Ly94"}}),
    );
    api.edit(RACE, |r| {
        r["spec"]["redis"] =
            json!({"external": {"urlSecretRef": {"name": "redis-url", "key": "url"}}});
        r["spec"]["processor"] = json!({"replicas": 2, "autoscaling": {"enabled": false}});
        r["metadata"]["generation"] = json!(2);
    });
    run(&api, &ctx).await;
    assert!(api.get(REDIS).is_none(), "managed Redis removed");
    assert!(
        api.get("/api/v1/namespaces/racing/services/monza-redis")
            .is_none()
    );
    assert!(
        api.get("/apis/networking.k8s.io/v1/namespaces/racing/networkpolicies/monza-redis")
            .is_none()
    );
    assert!(api.get(HPA).is_none(), "HPA removed");
    assert!(api.get(PG).is_some(), "PostgreSQL untouched");
    let p = api.get(PROC).unwrap();
    assert_eq!(p["spec"]["replicas"], 2);
    let env = p["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .clone();
    let redis = env.iter().find(|e| e["name"] == "REDIS_URL").unwrap();
    assert_eq!(redis["valueFrom"]["secretKeyRef"]["name"], "redis-url");
    assert_eq!(api.get(RACE).unwrap()["status"]["observedGeneration"], 2);
}

/// A reference to a missing Secret stalls with the reason, publishes a Warning Event,
/// creates nothing, and is looked at again in a minute, not in a hot loop.
#[tokio::test]
async fn invalid_spec_stalls_with_a_reason() {
    let (api, ctx) = setup(
        json!({"postgres": {"external": {"urlSecretRef": {"name": "pg-url", "key": "url"}}}}),
    );
    let action = run(&api, &ctx).await;
    assert_eq!(
        action,
        kube::runtime::controller::Action::requeue(Duration::from_secs(60))
    );
    let stalled = condition(&api, "Stalled");
    assert_eq!(
        (stalled["status"].as_str(), stalled["reason"].as_str()),
        (Some("True"), Some("SecretNotFound"))
    );
    assert_eq!(
        stalled["message"],
        "postgres: Secret \"pg-url\" not found in namespace \"racing\""
    );
    assert_eq!(condition(&api, "Ready")["status"], "False");
    assert_eq!(api.get(RACE).unwrap()["status"]["phase"], "Failed");
    assert!(
        api.get(SIM).is_none() && api.get(PROC).is_none(),
        "nothing created"
    );
    let events: Vec<_> = api
        .log()
        .into_iter()
        .filter(|l| l.path.contains("/events"))
        .collect();
    assert_eq!(events.len(), 1, "one Warning event");
    assert_eq!(events[0].body.as_ref().unwrap()["reason"], "SecretNotFound");
    // The same stalled state again: no second Event, no status write.
    api.clear_log();
    run(&api, &ctx).await;
    assert!(
        !api.log()
            .iter()
            .any(|l| l.path.contains("/events") || l.path.ends_with("/status"))
    );
}

/// Monitoring switched off removes all of it (Deployments, Services, ConfigMaps, RBAC and
/// Grafana's generated password); switched on again it comes back with a new password.
#[tokio::test]
async fn monitoring_off_removes_the_stack() {
    let (api, ctx) = setup(json!({}));
    run(&api, &ctx).await;
    let password = api.get(GRAFANA_SECRET).unwrap()["data"]["admin-password"].clone();
    assert_eq!(
        password.as_str().unwrap().len(),
        44,
        "32 random bytes, base64"
    );
    api.edit(RACE, |r| {
        r["spec"]["monitoring"] = json!({"enabled": false});
        r["metadata"]["generation"] = json!(2);
    });
    run(&api, &ctx).await;
    for path in MONITORING {
        assert!(api.get(path).is_none(), "{path} removed");
    }
    assert!(api.get(PROC).is_some() && api.get(API_KEY).is_some());
    assert_eq!(condition(&api, "MonitoringReady")["reason"], "Disabled");
    mark_ready(&api);
    run(&api, &ctx).await;
    assert_eq!(
        condition(&api, "Ready")["status"],
        "True",
        "ready without monitoring"
    );

    api.edit(RACE, |r| {
        r["spec"]["monitoring"] = json!({"enabled": true});
        r["metadata"]["generation"] = json!(3);
    });
    run(&api, &ctx).await;
    for path in MONITORING {
        assert!(api.get(path).is_some(), "{path} back");
    }
    assert_ne!(
        api.get(GRAFANA_SECRET).unwrap()["data"]["admin-password"],
        password
    );
}

/// `engine: keda` on a cluster without KEDA stalls with a reason that says what to do and
/// is looked at again each minute; once KEDA serves ScaledObjects the ScaledObject replaces
/// the HPA, and switching back to `hpa` removes it.
#[tokio::test]
async fn keda_engine_follows_the_cluster() {
    let (api, ctx) = setup(json!({}));
    run(&api, &ctx).await;
    assert!(api.get(HPA).is_some());
    api.edit(RACE, |r| {
        r["spec"]["processor"] = json!({"autoscaling": {"engine": "keda"}});
        r["metadata"]["generation"] = json!(2);
    });
    let action = run(&api, &ctx).await;
    assert_eq!(
        action,
        kube::runtime::controller::Action::requeue(Duration::from_secs(60))
    );
    let stalled = condition(&api, "Stalled");
    assert_eq!(stalled["reason"], "KedaNotInstalled");
    assert!(
        stalled["message"]
            .as_str()
            .unwrap()
            .contains("scaledobjects.keda.sh"),
        "{stalled}"
    );

    api.put(
        "/apis/keda.sh/v1alpha1",
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "keda.sh/v1alpha1",
               "resources": [{"name": "scaledobjects", "singularName": "scaledobject", "namespaced": true,
                              "kind": "ScaledObject", "verbs": ["get", "list", "watch", "patch"]}]}),
    );
    run(&api, &ctx).await;
    let so = api.get(SCALED).expect("ScaledObject applied");
    assert_eq!(so["spec"]["scaleTargetRef"]["name"], "monza-processor");
    assert!(
        api.get(HPA).is_none(),
        "our HPA removed: KEDA brings its own"
    );
    assert_eq!(condition(&api, "Stalled")["status"], "False");
    assert!(
        condition(&api, "AutoscalerReady")["message"]
            .as_str()
            .unwrap()
            .starts_with("KEDA ScaledObject")
    );

    api.edit(RACE, |r| {
        r["spec"]["processor"] = json!({"autoscaling": {"engine": "hpa"}});
        r["metadata"]["generation"] = json!(3);
    });
    run(&api, &ctx).await;
    assert!(api.get(SCALED).is_none(), "ScaledObject removed");
    assert!(api.get(HPA).is_some());
}

const JOBS: &str = "/apis/batch/v1/namespaces/racing/jobs";

fn jobs(api: &FakeApi) -> Vec<String> {
    api.paths()
        .into_iter()
        .filter_map(|p| p.strip_prefix(&format!("{JOBS}/")).map(str::to_string))
        .collect()
}

/// The Job controller reports `name` finished at `at`.
fn finish_job(api: &FakeApi, name: &str, ok: bool, at: Timestamp) {
    let end = at.to_string();
    api.edit(&format!("{JOBS}/{name}"), |j| {
        j["status"] = if ok {
            json!({"succeeded": 1, "startTime": "2026-01-01T10:00:00Z", "completionTime": end})
        } else {
            json!({"failed": 1, "startTime": "2026-01-01T10:00:00Z",
                   "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                                   "message": "Job has reached the specified backoff limit", "lastTransitionTime": end}]})
        };
    });
}

fn finish_race(api: &FakeApi) {
    api.edit(RACE, |r| {
        r["status"]["race"] = json!({"lap": 10, "totalLaps": 10, "pitStops": 20, "anomalies": 2,
                                     "samplesProcessed": 1000, "finished": true});
    });
}

fn pipeline(api: &FakeApi) -> Value {
    api.get(RACE).unwrap()["status"]["pipeline"].clone()
}

/// When the race finishes the grand-prix DAG starts: the first task's Job is created,
/// owned by the race, labelled, restricted, with TTL and deadline; Jobs follow their
/// dependencies and the parallelism limit as they succeed.
#[tokio::test]
async fn pipeline_starts_when_the_race_finishes() {
    let (api, ctx) = setup(json!({"grid": [
        {"car": 16, "driver": "LEC", "team": "Ferrari"},
        {"car": 1, "driver": "VER", "team": "Red Bull Racing"},
        {"car": 4, "driver": "NOR", "team": "McLaren"},
        {"car": 44, "driver": "HAM", "team": "Mercedes"}]}));
    run(&api, &ctx).await;
    assert!(jobs(&api).is_empty(), "nothing before the flag");
    assert_eq!(condition(&api, "PipelineSucceeded")["reason"], "NotRun");

    finish_race(&api);
    let action = run(&api, &ctx).await;
    assert_eq!(jobs(&api), ["monza-p1-collect-telemetry-0-1"]);
    assert_eq!(
        action,
        kube::runtime::controller::Action::requeue(Duration::from_secs(15)),
        "look again while the run runs"
    );
    let job = api
        .get(&format!("{JOBS}/monza-p1-collect-telemetry-0-1"))
        .unwrap();
    let owner = &job["metadata"]["ownerReferences"][0];
    assert_eq!(
        (owner["kind"].as_str(), owner["controller"].as_bool()),
        (Some("RaceSession"), Some(true))
    );
    let labels = &job["metadata"]["labels"];
    assert_eq!(labels["app.kubernetes.io/component"], "pipeline");
    assert_eq!(labels["pitstop.io/run"], "1");
    assert_eq!(labels["pitstop.io/task"], "collect-telemetry");
    assert_eq!(job["spec"]["backoffLimit"], 0, "the scheduler owns retries");
    assert_eq!(job["spec"]["ttlSecondsAfterFinished"], 3600);
    assert_eq!(job["spec"]["activeDeadlineSeconds"], 900);
    let j: k8s_openapi::api::batch::v1::Job = serde_json::from_value(job.clone()).unwrap();
    let pod = j.spec.unwrap().template.spec.unwrap();
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    let c = &pod.containers[0];
    assert_eq!(c.args.as_deref().unwrap(), ["job", "collect-telemetry"]);
    let sc = c.security_context.as_ref().unwrap();
    assert_eq!(
        (
            sc.run_as_non_root,
            sc.read_only_root_filesystem,
            sc.allow_privilege_escalation
        ),
        (Some(true), Some(true), Some(false))
    );
    let env: Vec<&str> = c.env.iter().flatten().map(|e| e.name.as_str()).collect();
    for v in [
        "PITSTOP_SESSION",
        "PITSTOP_RUN_ID",
        "PITSTOP_TASK",
        "PITSTOP_ATTEMPT",
        "REDIS_URL",
        "DATABASE_URL",
    ] {
        assert!(env.contains(&v), "{v} in {env:?}");
    }
    let p = pipeline(&api);
    assert_eq!(
        (
            p["run"].as_i64(),
            p["phase"].as_str(),
            p["trigger"].as_str()
        ),
        (Some(1), Some("Running"), Some("race-finished"))
    );
    assert_eq!(p["tasks"][0]["phase"], "Running");
    assert_eq!(condition(&api, "PipelineSucceeded")["reason"], "Running");
    let events: Vec<String> = api
        .log()
        .iter()
        .filter(|l| l.path.contains("/events") && l.method == "POST")
        .filter_map(|l| {
            l.body
                .as_ref()
                .map(|b| b["reason"].as_str().unwrap_or("").to_string())
        })
        .collect();
    assert!(
        events.contains(&"PipelineStarted".into()) && events.contains(&"TaskStarted".into()),
        "{events:?}"
    );

    // Fan-out: four teams, parallelism 3.
    finish_job(
        &api,
        "monza-p1-collect-telemetry-0-1",
        true,
        Timestamp::now(),
    );
    run(&api, &ctx).await;
    let mut started = jobs(&api);
    started.sort();
    assert_eq!(
        started,
        [
            "monza-p1-collect-telemetry-0-1",
            "monza-p1-persist-ferrari-0-1",
            "monza-p1-persist-mclaren-0-1",
            "monza-p1-persist-red-bull-racing-0-1"
        ]
    );
    let p = pipeline(&api);
    assert_eq!(p["tasks"][0]["phase"], "Succeeded");
    assert!(p["tasks"][0]["finishedAt"].is_string());
}

/// A failed attempt keeps its Job longer and is retried after the backoff; a second run
/// requested while one runs is refused with a condition; an invalid DAG is named in the
/// PipelineSucceeded condition while the race itself still runs.
#[tokio::test]
async fn pipeline_failures_retries_and_refusals() {
    let (api, ctx) = setup(json!({"postRace": {"tasks": [
        {"name": "collect", "step": "collect-telemetry", "retries": 1, "retryBackoffSeconds": 1},
        {"name": "dq", "step": "data-quality", "dependsOn": ["collect"]}]}}));
    // The test's clock: each reconcile and each Job's end happens when it says.
    let t0 = Timestamp::from_second(1_800_000_000).unwrap();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    finish_race(&api);
    run_at(&api, &ctx, at(0)).await;
    finish_job(&api, "monza-p1-collect-0-1", false, at(5_000));
    let action = run_at(&api, &ctx, at(5_000)).await;
    let failed = api.get(&format!("{JOBS}/monza-p1-collect-0-1")).unwrap();
    assert_eq!(
        failed["spec"]["ttlSecondsAfterFinished"],
        7 * 24 * 3600,
        "failed Jobs stay a week"
    );
    assert_eq!(pipeline(&api)["tasks"][0]["phase"], "Pending");
    assert!(
        pipeline(&api)["tasks"][0]["message"]
            .as_str()
            .unwrap()
            .contains("BackoffLimitExceeded")
    );
    assert_eq!(
        action,
        kube::runtime::controller::Action::requeue(Duration::from_secs(1)),
        "back when the backoff ends"
    );

    api.edit(RACE, |r| {
        r["metadata"]["annotations"] = json!({"pitstop.io/run-pipeline": "again"});
    });
    // 1.1 s later: the backoff has ended.
    run_at(&api, &ctx, at(6_100)).await;
    assert!(
        jobs(&api).contains(&"monza-p1-collect-0-2".to_string()),
        "{:?}",
        jobs(&api)
    );
    let refused = condition(&api, "PipelineRequestRefused");
    assert_eq!(refused["status"], "True");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("run 1 is still running"),
        "{refused}"
    );
    assert_eq!(pipeline(&api)["run"], 1, "not queued: still run 1");

    // Second attempt fails too: retries used up, dq skipped, on-exit runs and says so.
    finish_job(&api, "monza-p1-collect-0-2", false, at(7_000));
    run_at(&api, &ctx, at(7_000)).await;
    let p = pipeline(&api);
    assert_eq!(p["tasks"][0]["phase"], "Failed");
    assert_eq!(p["tasks"][1]["phase"], "Skipped");
    let exit = api
        .get(&format!("{JOBS}/monza-p1-on-exit-0-1"))
        .expect("the final task runs");
    let args = exit["spec"]["template"]["spec"]["containers"][0]["args"].clone();
    assert_eq!(
        args,
        json!([
            "job",
            "notify",
            "--outcome",
            "failed",
            "--failed-tasks",
            "collect,dq"
        ])
    );
    finish_job(&api, "monza-p1-on-exit-0-1", true, at(8_000));
    run_at(&api, &ctx, at(8_000)).await;
    assert_eq!(pipeline(&api)["phase"], "Failed");
    let c = condition(&api, "PipelineSucceeded");
    assert_eq!(c["reason"], "TaskFailed");
    assert!(c["message"].as_str().unwrap().contains("collect"), "{c}");

    // Retry from the failed task: a new round of collect; nothing else is repeated.
    api.edit(RACE, |r| {
        r["metadata"]["annotations"]["pitstop.io/retry-pipeline"] = json!("1");
    });
    run_at(&api, &ctx, at(9_000)).await;
    assert!(
        jobs(&api).contains(&"monza-p1-collect-1-1".to_string()),
        "{:?}",
        jobs(&api)
    );
    assert_eq!(pipeline(&api)["phase"], "Running");
    assert_eq!(pipeline(&api)["trigger"], "retry");
    assert_eq!(condition(&api, "PipelineRequestRefused")["status"], "False");

    // An invalid DAG: the condition names the tasks, the race is unaffected.
    api.edit(RACE, |r| {
        r["spec"]["postRace"]["tasks"] = json!([
            {"name": "a", "step": "report", "dependsOn": ["b"]},
            {"name": "b", "step": "report", "dependsOn": ["a"]}]);
        r["metadata"]["generation"] = json!(2);
    });
    run_at(&api, &ctx, at(10_000)).await;
    let c = condition(&api, "PipelineSucceeded");
    assert_eq!(c["reason"], "InvalidPipeline");
    assert!(c["message"].as_str().unwrap().contains("a → b → a"), "{c}");
    assert_eq!(
        condition(&api, "Stalled")["status"],
        "False",
        "the race is not stalled"
    );
}

const MONITORING_GROUP: &str = "/apis/monitoring.coreos.com/v1";
const POD_MONITORS: [&str; 2] = [
    "/apis/monitoring.coreos.com/v1/namespaces/racing/podmonitors/monza-simulator",
    "/apis/monitoring.coreos.com/v1/namespaces/racing/podmonitors/monza-processor",
];
const PROMETHEUS_RULE: &str =
    "/apis/monitoring.coreos.com/v1/namespaces/racing/prometheusrules/monza-rules";
const DASHBOARD_CONFIG_MAPS: [&str; 3] = [
    "/api/v1/namespaces/racing/configmaps/monza-dashboard-ferrari-telemetry",
    "/api/v1/namespaces/racing/configmaps/monza-dashboard-system-performance",
    "/api/v1/namespaces/racing/configmaps/monza-dashboard-container-health",
];

/// The cluster serves the Prometheus Operator's PodMonitor and PrometheusRule.
fn install_prometheus_operator(api: &FakeApi) {
    let kind = |name: &str, kind: &str| {
        json!({"name": name, "singularName": "", "namespaced": true, "kind": kind,
               "verbs": ["get", "list", "watch", "create", "patch", "delete"]})
    };
    api.put(
        MONITORING_GROUP,
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "monitoring.coreos.com/v1",
               "resources": [kind("podmonitors", "PodMonitor"), kind("prometheusrules", "PrometheusRule"),
                             kind("servicemonitors", "ServiceMonitor")]}),
    );
}

fn prometheus_operator_spec() -> Value {
    json!({"monitoring": {"mode": "prometheusOperator",
                          "prometheusOperator": {"labels": {"release": "kube-prometheus-stack"}}}})
}

/// `mode: prometheusOperator` applies the PodMonitors, the PrometheusRule and the dashboard
/// ConfigMaps (labelled for Grafana's sidecar), owned by the race, and no Prometheus or
/// Grafana of its own; the race is Ready without them and MonitoringReady says who monitors.
#[tokio::test]
async fn prometheus_operator_mode_applies_monitors_rules_and_dashboards() {
    let (api, ctx) = setup(prometheus_operator_spec());
    install_prometheus_operator(&api);
    run(&api, &ctx).await;
    for path in POD_MONITORS
        .into_iter()
        .chain([PROMETHEUS_RULE])
        .chain(DASHBOARD_CONFIG_MAPS)
    {
        let obj = api.get(path).unwrap_or_else(|| panic!("{path} applied"));
        assert_eq!(
            obj["metadata"]["ownerReferences"][0]["uid"], "race-uid-1",
            "{path}"
        );
        assert_eq!(
            obj["metadata"]["labels"]["app.kubernetes.io/instance"], "monza",
            "{path}"
        );
    }
    let applied = |path: &str| {
        api.log().iter().any(|l| {
            l.method == "PATCH"
                && l.path == path
                && l.query.contains("fieldManager=pitstop-operator")
        })
    };
    assert!(applied(PROMETHEUS_RULE), "server-side applied");
    for path in POD_MONITORS.into_iter().chain([PROMETHEUS_RULE]) {
        assert_eq!(
            api.get(path).unwrap()["metadata"]["labels"]["release"],
            "kube-prometheus-stack",
            "{path}: selected by the cluster's Prometheus"
        );
    }
    let pm = api.get(POD_MONITORS[1]).unwrap();
    assert_eq!(pm["spec"]["podMetricsEndpoints"][0]["port"], "http");
    assert_eq!(pm["spec"]["podMetricsEndpoints"][0]["path"], "/metrics");
    for path in DASHBOARD_CONFIG_MAPS {
        let cm = api.get(path).unwrap();
        assert_eq!(cm["metadata"]["labels"]["grafana_dashboard"], "1", "{path}");
        assert_eq!(cm["metadata"]["annotations"]["grafana_folder"], "pitstop");
    }
    let groups = api.get(PROMETHEUS_RULE).unwrap()["spec"]["groups"].clone();
    assert_eq!(groups.as_array().unwrap().len(), 3);
    for path in MONITORING {
        assert!(
            api.get(path).is_none(),
            "{path}: no Prometheus or Grafana of the race's own"
        );
    }
    mark_ready(&api);
    run(&api, &ctx).await;
    assert_eq!(condition(&api, "Ready")["status"], "True");
    let monitoring = condition(&api, "MonitoringReady");
    assert_eq!(
        (monitoring["status"].as_str(), monitoring["reason"].as_str()),
        (Some("True"), Some("PrometheusOperator"))
    );
}

/// Without the monitoring.coreos.com CRDs the race stalls with a reason that says what to
/// install, creates nothing and looks again each minute; once they are served it proceeds.
#[tokio::test]
async fn prometheus_operator_missing_stalls_with_a_reason() {
    let (api, ctx) = setup(prometheus_operator_spec());
    let action = run(&api, &ctx).await;
    assert_eq!(
        action,
        kube::runtime::controller::Action::requeue(Duration::from_secs(60))
    );
    let stalled = condition(&api, "Stalled");
    assert_eq!(
        (stalled["status"].as_str(), stalled["reason"].as_str()),
        (Some("True"), Some("PrometheusOperatorNotInstalled"))
    );
    assert!(
        stalled["message"]
            .as_str()
            .unwrap()
            .contains("monitoring.coreos.com/v1"),
        "{stalled}"
    );
    assert!(
        api.get(SIM).is_none() && api.get(PROC).is_none(),
        "nothing created"
    );

    install_prometheus_operator(&api);
    run(&api, &ctx).await;
    assert_eq!(condition(&api, "Stalled")["status"], "False");
    assert!(api.get(PROMETHEUS_RULE).is_some() && api.get(SIM).is_some());
}

/// Switching modes prunes the old mode's objects: owned → prometheusOperator removes the
/// race's Prometheus and Grafana (Deployments, Services, ConfigMaps, RBAC, Grafana's
/// password); → none removes the PodMonitors, the PrometheusRule and the dashboards;
/// back to owned brings the race's stack again.
#[tokio::test]
async fn switching_monitoring_modes_prunes_the_old_objects() {
    let (api, ctx) = setup(json!({}));
    install_prometheus_operator(&api);
    run(&api, &ctx).await;
    for path in MONITORING {
        assert!(api.get(path).is_some(), "{path} in owned mode");
    }
    let switch = |mode: &str, generation: i64| {
        api.edit(RACE, |r| {
            r["spec"]["monitoring"] = json!({"mode": mode});
            r["metadata"]["generation"] = json!(generation);
        });
    };

    switch("prometheusOperator", 2);
    run(&api, &ctx).await;
    for path in MONITORING {
        assert!(api.get(path).is_none(), "{path} pruned");
    }
    for path in POD_MONITORS
        .into_iter()
        .chain([PROMETHEUS_RULE])
        .chain(DASHBOARD_CONFIG_MAPS)
    {
        assert!(api.get(path).is_some(), "{path} applied");
    }
    assert!(api.get(PROC).is_some() && api.get(API_KEY).is_some());

    switch("none", 3);
    run(&api, &ctx).await;
    for path in POD_MONITORS
        .into_iter()
        .chain([PROMETHEUS_RULE])
        .chain(DASHBOARD_CONFIG_MAPS)
        .chain(MONITORING)
    {
        assert!(api.get(path).is_none(), "{path} pruned");
    }
    assert_eq!(condition(&api, "MonitoringReady")["reason"], "Disabled");

    switch("owned", 4);
    run(&api, &ctx).await;
    for path in MONITORING {
        assert!(api.get(path).is_some(), "{path} back");
    }
    assert!(api.get(PROMETHEUS_RULE).is_none());
}

/// A reconcile context whose processor is `stub`.
fn setup_with_processor(spec: Value, stub: &ProcessorStub) -> (Arc<FakeApi>, Arc<Context>) {
    let api = FakeApi::new();
    api.put(RACE, race_json(spec));
    let ctx = support::context(&api, Some(stub.base.clone()));
    (api, ctx)
}

fn requeue(secs: u64) -> kube::runtime::controller::Action {
    kube::runtime::controller::Action::requeue(Duration::from_secs(secs))
}

/// Every child ready but the race's Prometheus.
fn mark_ready_but_prometheus(api: &FakeApi) {
    mark_ready(api);
    api.edit(PROM, |o| {
        o["status"] = json!({"replicas": 1, "readyReplicas": 0})
    });
}

/// A racing race is reconciled again every few seconds and its lap follows the
/// processor's (it froze for a minute after each fault on a real node: nothing the
/// operator watches changes while a race runs); its phase follows the race although its
/// Prometheus never gets ready. At the flag the refresh stops, and the next reconcile
/// releases the simulator and holds the processors at their minimum, saying so.
#[tokio::test]
async fn a_racing_race_is_refreshed_until_the_flag_then_released() {
    let stub = ProcessorStub::start().await;
    let (api, ctx) = setup_with_processor(json!({"postRace": {"enabled": false}}), &stub);
    let t0 = Timestamp::from_second(1_800_000_000).unwrap();
    let at = |s: i64| t0 + k8s_openapi::jiff::SignedDuration::from_secs(s);
    let started = t0.as_millisecond() + 2_000;
    run_at(&api, &ctx, t0).await;
    mark_ready_but_prometheus(&api);
    stub.set(3, false, started);
    assert_eq!(run_at(&api, &ctx, at(5)).await, requeue(5));
    let status = api.get(RACE).unwrap()["status"].clone();
    assert_eq!(
        (&status["phase"], &status["race"]["lap"]),
        (&json!("Racing"), &json!(3))
    );
    assert_eq!(condition(&api, "Ready")["status"], "False");
    assert_eq!(condition(&api, "MonitoringReady")["status"], "False");

    // Nothing the operator watches changed; the refresh alone brings the next lap.
    stub.set(4, false, started);
    assert_eq!(run_at(&api, &ctx, at(10)).await, requeue(5));
    assert_eq!(api.get(RACE).unwrap()["status"]["race"]["lap"], 4);
    assert_eq!(
        condition(&api, "Ready")["lastTransitionTime"],
        json!(Time(at(0)))
    );

    stub.set(10, true, started);
    let action = run_at(&api, &ctx, at(15)).await;
    assert_ne!(action, requeue(5), "no refresh once finished");
    assert_eq!(api.get(RACE).unwrap()["status"]["phase"], "Finished");
    run_at(&api, &ctx, at(16)).await;
    assert_eq!(api.get(SIM).unwrap()["spec"]["replicas"], 0);
    assert_eq!(api.get(HPA).unwrap()["spec"]["maxReplicas"], 1);
    let sim = condition(&api, "SimulatorReady");
    assert_eq!(
        (&sim["status"], &sim["reason"]),
        (&json!("True"), &json!("RaceFinished"))
    );
    assert_eq!(condition(&api, "ProcessorReady")["reason"], "RaceFinished");
    assert_eq!(api.get(RACE).unwrap()["status"]["phase"], "Finished");
    let components = api.get(RACE).unwrap()["status"]["components"].clone();
    let sim = components
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "simulator")
        .unwrap()
        .clone();
    assert_eq!((&sim["replicas"], &sim["ready"]), (&json!(0), &json!(true)));
    assert_ne!(run_at(&api, &ctx, at(20)).await, requeue(5));
}

const PG_SECRET: &str = "/api/v1/namespaces/racing/secrets/monza-postgres-auth";

/// What Kubernetes' garbage collector does when a RaceSession is deleted: the race and
/// everything whose owner references name its uid go; the rest stays.
fn delete_race(api: &FakeApi, uid: &str) {
    api.delete(RACE);
    for path in api.paths() {
        let owned = api.get(&path).is_some_and(|o| {
            o["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid))
        });
        if owned {
            api.delete(&path);
        }
    }
}

fn owners(api: &FakeApi, path: &str) -> Vec<Value> {
    api.get(path).unwrap()["metadata"]["ownerReferences"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The PostgreSQL volumes and the password that opens them go together: by default both
/// go with the race (the StatefulSets delete their claims, the race owns the Secret), so
/// a race created again starts afresh; with `retain` both stay, and a race created again
/// under the name finds the same password and says that its retained session had
/// already finished. (Before, the Secret went and the volumes stayed: the new password
/// was refused and the race sat in Provisioning with no reason.)
#[tokio::test]
async fn volumes_and_the_password_go_together() {
    let stub = ProcessorStub::start().await;
    let (api, ctx) = setup_with_processor(json!({}), &stub);
    api.edit(RACE, |r| {
        r["metadata"]["creationTimestamp"] = json!("2026-11-28T10:00:00Z")
    });
    run(&api, &ctx).await;
    let policy = |path: &str| {
        api.get(path).unwrap()["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"]
            .clone()
    };
    assert_eq!(
        (policy(PG), policy(REDIS)),
        (json!("Delete"), json!("Delete"))
    );
    assert_eq!(
        owners(&api, PG_SECRET).len(),
        1,
        "the race owns the password"
    );
    let password = api.get(PG_SECRET).unwrap()["data"].clone();

    api.edit(RACE, |r| {
        r["spec"]["deletionPolicy"] = json!("retain");
        r["metadata"]["generation"] = json!(2);
    });
    run(&api, &ctx).await;
    assert_eq!(
        (policy(PG), policy(REDIS)),
        (json!("Retain"), json!("Retain"))
    );
    assert!(owners(&api, PG_SECRET).is_empty(), "kept with the volumes");
    assert_eq!(owners(&api, API_KEY).len(), 1, "the API key is no data");

    // Deleted, then applied again: a new uid, created later.
    delete_race(&api, "race-uid-1");
    assert!(api.get(PG_SECRET).is_some() && api.get(API_KEY).is_none());
    api.put(RACE, race_json(json!({"deletionPolicy": "retain"})));
    api.edit(RACE, |r| {
        r["metadata"]["uid"] = json!("race-uid-2");
        r["metadata"]["creationTimestamp"] = json!("2026-11-28T11:00:00Z");
    });
    run(&api, &ctx).await;
    assert_eq!(
        api.get(PG_SECRET).unwrap()["data"],
        password,
        "the same password"
    );
    mark_ready(&api);
    // The retained session started (10:00:05) before this race was created, and finished.
    stub.set(10, true, 1_795_860_005_000);
    run(&api, &ctx).await;
    let retained = condition(&api, "RetainedData");
    assert_eq!(
        (&retained["status"], &retained["reason"]),
        (&json!("True"), &json!("AlreadyFinished")),
        "{retained}"
    );
    assert_eq!(api.get(RACE).unwrap()["status"]["phase"], "Finished");

    // Back to delete: the new race adopts the password, so both go with it.
    api.edit(RACE, |r| {
        r["spec"]["deletionPolicy"] = json!("delete");
        r["metadata"]["generation"] = json!(2);
    });
    run(&api, &ctx).await;
    let refs = owners(&api, PG_SECRET);
    assert_eq!(refs.len(), 1);
    assert_eq!(refs[0]["uid"], "race-uid-2");
    assert_eq!(policy(PG), json!("Delete"));
    assert_eq!(api.get(PG_SECRET).unwrap()["data"], password);
}

/// While the processor is not ready, what its `/ready` names becomes the conditions: a
/// TLS or credentials problem is `StorageReady=False` and `Stalled=True` with reason
/// `<Datastore><Reason>` and the processor's message (credentials in it redacted); an
/// unreachable server only `StorageReady=False`. Once the processor is ready `/ready` is
/// not asked any more and the conditions are as before.
#[tokio::test]
async fn a_datastore_problem_is_named_in_the_conditions() {
    let stub = ProcessorStub::start().await;
    let (api, ctx) = setup_with_processor(json!({"postRace": {"enabled": false}}), &stub);
    let t0 = Timestamp::from_second(1_800_000_000).unwrap();
    let at = |s: i64| t0 + k8s_openapi::jiff::SignedDuration::from_secs(s);
    stub.set_problem(Some((
        "postgres",
        "TlsUntrustedCertificate",
        "postgres://pitstop:hunter2@db.example:5432/pitstop: certificate signed by an unknown authority",
    )));
    run_at(&api, &ctx, t0).await;
    assert_eq!(stub.ready_calls(), 1, "asked once per reconcile");
    let storage = condition(&api, "StorageReady");
    assert_eq!(
        (&storage["status"], &storage["reason"]),
        (&json!("False"), &json!("PostgresTlsUntrustedCertificate"))
    );
    let message = storage["message"].as_str().unwrap();
    assert!(
        message.starts_with("postgres: postgres://***@db.example:5432/pitstop: certificate signed by an unknown authority"),
        "{message}"
    );
    assert!(!message.contains("hunter2"));
    let stalled = condition(&api, "Stalled");
    assert_eq!(
        (&stalled["status"], &stalled["reason"]),
        (&json!("True"), &json!("PostgresTlsUntrustedCertificate"))
    );
    assert_eq!(stalled["message"], storage["message"]);
    assert_eq!(condition(&api, "Reconciling")["status"], "False");
    assert_eq!(
        condition(&api, "Ready")["reason"],
        "PostgresTlsUntrustedCertificate"
    );

    // A server that is down is not the user's to fix: not stalled.
    stub.set_problem(Some(("redis", "Unreachable", "connection refused")));
    run_at(&api, &ctx, at(30)).await;
    let storage = condition(&api, "StorageReady");
    assert_eq!(
        (&storage["reason"], &storage["message"]),
        (
            &json!("RedisUnreachable"),
            &json!("redis: connection refused")
        )
    );
    assert_eq!(condition(&api, "Stalled")["status"], "False");
    assert_eq!(condition(&api, "Reconciling")["status"], "True");

    // Fixed: the processor gets ready; /ready is no longer asked.
    stub.set_problem(None);
    mark_ready(&api);
    let calls = stub.ready_calls();
    run_at(&api, &ctx, at(60)).await;
    assert_eq!(
        stub.ready_calls(),
        calls,
        "not asked once the processor is ready"
    );
    let storage = condition(&api, "StorageReady");
    assert_eq!(
        (&storage["status"], &storage["reason"]),
        (&json!("True"), &json!("Ready"))
    );
    let stalled = condition(&api, "Stalled");
    assert_eq!(
        (&stalled["status"], &stalled["reason"]),
        (&json!("False"), &json!("AsExpected"))
    );
    assert_eq!(condition(&api, "Ready")["status"], "True");
    assert_eq!(
        stalled["lastTransitionTime"],
        json!(Time(at(30))),
        "Stalled=False since the TLS problem went"
    );
}

/// A processor not ready whose `/ready` says 200 (or does not answer) changes nothing:
/// the conditions are what the children say.
#[tokio::test]
async fn a_processor_without_problems_leaves_the_conditions_alone() {
    let stub = ProcessorStub::start().await;
    let (api, ctx) = setup_with_processor(json!({"postRace": {"enabled": false}}), &stub);
    run(&api, &ctx).await;
    assert_eq!(stub.ready_calls(), 1);
    let storage = condition(&api, "StorageReady");
    assert_eq!(storage["reason"], "Progressing");
    assert_eq!(condition(&api, "Stalled")["status"], "False");
}

const CNPG_GROUP: &str = "/apis/postgresql.cnpg.io/v1";
const CNPG_CLUSTER: &str = "/apis/postgresql.cnpg.io/v1/namespaces/racing/clusters/monza-postgres";

/// `postgres.cloudNativePG` on a cluster without CloudNativePG stalls with a reason and is
/// looked at again each minute; once CloudNativePG serves Clusters the race applies one
/// (owned, labelled, no PostgreSQL StatefulSet), StorageReady follows its ready
/// instances, and switching back to `managed` removes it.
#[tokio::test]
async fn cloudnative_pg_follows_the_cluster() {
    let (api, ctx) = setup(json!({"postgres": {"cloudNativePG": {}}}));
    let action = run(&api, &ctx).await;
    assert_eq!(
        action,
        kube::runtime::controller::Action::requeue(Duration::from_secs(60))
    );
    let stalled = condition(&api, "Stalled");
    assert_eq!(stalled["reason"], "CloudNativePGNotInstalled");
    assert!(
        stalled["message"]
            .as_str()
            .unwrap()
            .contains("clusters.postgresql.cnpg.io/v1"),
        "{stalled}"
    );
    assert!(api.get(CNPG_CLUSTER).is_none());

    api.put(
        CNPG_GROUP,
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "postgresql.cnpg.io/v1",
               "resources": [{"name": "clusters", "singularName": "cluster", "namespaced": true,
                              "kind": "Cluster", "verbs": ["get", "list", "watch", "patch"]}]}),
    );
    run(&api, &ctx).await;
    let cluster = api.get(CNPG_CLUSTER).expect("Cluster applied");
    assert_eq!(cluster["spec"]["instances"], 2);
    assert_eq!(cluster["spec"]["storage"]["size"], "1Gi");
    assert_eq!(
        cluster["spec"]["bootstrap"]["initdb"],
        json!({"database": "pitstop", "owner": "pitstop"})
    );
    assert_eq!(
        cluster["metadata"]["ownerReferences"][0]["uid"],
        "race-uid-1"
    );
    assert_eq!(
        cluster["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "pitstop-operator"
    );
    assert!(api.get(PG).is_none(), "no StatefulSet for PostgreSQL");
    assert!(
        api.get(PG_SECRET).is_none(),
        "CloudNativePG makes the password"
    );
    let proc = api.get(PROC).unwrap();
    let env = &proc["spec"]["template"]["spec"]["containers"][0]["env"];
    let url = env
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "DATABASE_URL")
        .unwrap();
    assert_eq!(
        url["valueFrom"]["secretKeyRef"],
        json!({"name": "monza-postgres-app", "key": "uri", "optional": false})
    );
    assert_eq!(condition(&api, "Stalled")["status"], "False");

    mark_ready(&api);
    api.edit(CNPG_CLUSTER, |c| {
        c["status"] = json!({"instances": 2, "readyInstances": 1, "phase": "Waiting for the instances to become active"})
    });
    run(&api, &ctx).await;
    let storage = condition(&api, "StorageReady");
    assert_eq!(storage["status"], "False");
    assert_eq!(
        storage["message"],
        "waiting for postgres: CloudNativePG Cluster monza-postgres: 1/2 instances ready (Waiting for the instances to become active)"
    );
    api.edit(
        CNPG_CLUSTER,
        |c| {
            c["status"] =
                json!({"instances": 2, "readyInstances": 2, "phase": "Cluster in healthy state"})
        },
    );
    run(&api, &ctx).await;
    assert_eq!(condition(&api, "StorageReady")["status"], "True");
    assert_eq!(condition(&api, "Ready")["status"], "True");

    api.edit(RACE, |r| {
        r["spec"]["postgres"] = json!({"managed": {}});
        r["metadata"]["generation"] = json!(2);
    });
    run(&api, &ctx).await;
    assert!(api.get(CNPG_CLUSTER).is_none(), "Cluster pruned");
    assert!(api.get(PG).is_some());
}
