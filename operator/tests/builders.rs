//! Golden tests of the builders: an inline YAML RaceSession is validated and built, and
//! every child object is compared whole with `tests/golden/<case>.yaml`. After an
//! intended change, regenerate with `UPDATE_GOLDEN=1 cargo test -p pitstop-operator --test builders`
//! and review the diff.

use pitstop_operator::api::RaceSession;
use pitstop_operator::build::{Children, build};
use pitstop_operator::model::{Defaults, Observations, SpecError, validate};
mod support;

use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

fn race(spec: &str) -> RaceSession {
    let yaml = format!(
        "apiVersion: pitstop.io/v1alpha1\nkind: RaceSession\nmetadata:\n  name: monza\n  namespace: racing\n  uid: 6f1c0c4e-0000-4000-8000-000000000001\n  generation: 1\nspec:\n{}",
        spec.lines().map(|l| format!("  {l}\n")).collect::<String>()
    );
    serde_yaml::from_str(&yaml).unwrap()
}

fn images() -> Defaults {
    Defaults {
        workloads: "ghcr.io/pitstop-io/pitstop:test".into(),
        redis: "redis:7.4-alpine".into(),
        postgres: "postgres:16-alpine".into(),
        prometheus: "prom/prometheus:v2.55.1".into(),
        grafana: "grafana/grafana:11.3.0".into(),
        operator_namespace: "pitstop-system".into(),
        operator_service: "pitstop-operator".into(),
    }
}

/// Observed cluster state for validation: Secrets with one key each, KEDA present or not.
struct Seen {
    secrets: BTreeMap<String, BTreeSet<String>>,
    keda: bool,
}

impl Observations for Seen {
    fn keys(&self, name: &str) -> Option<BTreeSet<String>> {
        self.secrets.get(name).cloned()
    }
    fn keda_installed(&self) -> bool {
        self.keda
    }
}

fn seen(secrets: &[(&str, &str)], keda: bool) -> Seen {
    Seen {
        secrets: secrets
            .iter()
            .map(|(n, k)| (n.to_string(), BTreeSet::from([k.to_string()])))
            .collect(),
        keda,
    }
}

fn children(spec: &str, secrets: &[(&str, &str)]) -> Children {
    build(&validate(&race(spec), &seen(secrets, false), &images()).unwrap())
}

/// Whether an object belongs to the monitoring stack (rendered into its own golden file).
fn monitoring(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> bool {
    let c = &meta.labels.as_ref().unwrap()["app.kubernetes.io/component"];
    c == "prometheus" || c == "grafana"
}

/// The core children and the monitoring children as two multi-document YAML strings.
fn render(c: &Children) -> (String, String) {
    let Children {
        deployments,
        services,
        stateful_sets,
        hpas,
        network_policies,
        config_maps,
        service_accounts,
        roles,
        role_bindings,
        scaled_objects,
        cron_jobs,
    } = c;
    let split = |docs: Vec<(bool, String)>, core: &mut Vec<String>, mon: &mut Vec<String>| {
        for (m, d) in docs {
            if m { mon.push(d) } else { core.push(d) }
        }
    };
    let (mut core, mut mon) = (Vec::new(), Vec::new());
    macro_rules! add {
        ($objs:expr) => {
            split(
                $objs
                    .iter()
                    .map(|o| (monitoring(&o.metadata), serde_yaml::to_string(o).unwrap()))
                    .collect(),
                &mut core,
                &mut mon,
            )
        };
    }
    add!(deployments);
    add!(services);
    add!(stateful_sets);
    add!(hpas);
    add!(network_policies);
    add!(config_maps);
    add!(service_accounts);
    add!(roles);
    add!(role_bindings);
    add!(scaled_objects);
    add!(cron_jobs);
    (core.join("---\n"), mon.join("---\n"))
}

fn golden(case: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/{case}.yaml"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == actual,
        "{} differs from the builders' output; review and regenerate with UPDATE_GOLDEN=1",
        path.display()
    );
}

const MINIMAL: &str = "circuit: monza\nlaps: 10\ntimeScale: 40";

const EXTERNAL: &str = "\
circuit: silverstone
laps: 52
seed: 7
grid:
- {car: 16, driver: LEC, team: Ferrari}
- {car: 44, driver: HAM, team: Ferrari}
simulator:
  messagesPerSecond: 50000
processor:
  replicas: 3
  autoscaling: {enabled: false}
  apiKeySecretRef: {name: ingest, key: token}
  allowedClients:
  - namespaceSelector: {matchLabels: {team: strategy}}
redis:
  external: {urlSecretRef: {name: redis-url, key: url}}
postgres:
  external: {urlSecretRef: {name: pg-url, key: url}}
monitoring: {enabled: false}";

/// Defaults: simulator, processor with HPA, managed Redis and PostgreSQL, policies.
#[test]
fn minimal_race() {
    let c = children(MINIMAL, &[]);
    assert_eq!(
        c.deployments.len(),
        4,
        "simulator, processor, Prometheus, Grafana"
    );
    assert_eq!(c.stateful_sets.len(), 2);
    assert_eq!(c.hpas.len(), 1);
    assert_eq!(c.network_policies.len(), 3);
    let (core, monitoring) = render(&c);
    golden("minimal", &core);
    golden("monitoring", &monitoring);
}

/// External datastores from Secrets, fixed replicas, custom grid, extra API clients.
#[test]
fn external_datastores_without_autoscaling() {
    let c = children(
        EXTERNAL,
        &[("ingest", "token"), ("redis-url", "url"), ("pg-url", "url")],
    );
    assert!(c.stateful_sets.is_empty(), "no managed datastore");
    assert!(c.hpas.is_empty());
    assert_eq!(c.network_policies.len(), 1);
    let (core, monitoring) = render(&c);
    assert!(
        monitoring.is_empty(),
        "monitoring off builds no Prometheus or Grafana"
    );
    assert!(c.config_maps.is_empty() && c.roles.is_empty() && c.service_accounts.is_empty());
    golden("external", &core);
}

/// While the HPA is on, the processor Deployment does not carry `replicas` (the HPA owns
/// it); without the HPA it does.
#[test]
fn processor_replicas_belong_to_the_hpa() {
    let with_hpa = children(MINIMAL, &[]);
    let p = with_hpa
        .deployments
        .iter()
        .find(|d| d.metadata.name.as_deref() == Some("monza-processor"))
        .unwrap();
    assert_eq!(p.spec.as_ref().unwrap().replicas, None);
    let hpa = &with_hpa.hpas[0].spec;
    assert_eq!(hpa.scale_target_ref.name, "monza-processor");
    let metrics = hpa.metrics.as_ref().unwrap();
    assert_eq!(
        metrics[0]
            .resource
            .as_ref()
            .unwrap()
            .target
            .average_utilization,
        Some(60)
    );
    let pods = metrics[1].pods.as_ref().unwrap();
    assert_eq!(
        pods.metric.name,
        "pitstop_processor_messages_processed_per_second"
    );
    assert_eq!(pods.target.average_value.as_ref().unwrap().0, "200");
    let manual = children(
        EXTERNAL,
        &[("ingest", "token"), ("redis-url", "url"), ("pg-url", "url")],
    );
    let p = manual
        .deployments
        .iter()
        .find(|d| d.metadata.name.as_deref() == Some("monza-processor"))
        .unwrap();
    assert_eq!(p.spec.as_ref().unwrap().replicas, Some(3));
}

/// Every child is owned by the race (garbage collection) and labelled for pruning.
#[test]
fn every_child_is_owned_and_labelled() {
    let c = children(MINIMAL, &[]);
    let mut metas = Vec::new();
    metas.extend(c.deployments.iter().map(|o| &o.metadata));
    metas.extend(c.services.iter().map(|o| &o.metadata));
    metas.extend(c.stateful_sets.iter().map(|o| &o.metadata));
    metas.extend(c.hpas.iter().map(|o| &o.metadata));
    metas.extend(c.network_policies.iter().map(|o| &o.metadata));
    metas.extend(c.config_maps.iter().map(|o| &o.metadata));
    metas.extend(c.service_accounts.iter().map(|o| &o.metadata));
    metas.extend(c.roles.iter().map(|o| &o.metadata));
    metas.extend(c.role_bindings.iter().map(|o| &o.metadata));
    assert_eq!(metas.len(), 21, "every kind is checked");
    for m in metas {
        let owner = &m.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.controller),
            ("RaceSession", Some(true)),
            "{:?}",
            m.name
        );
        let labels = m.labels.as_ref().unwrap();
        assert_eq!(labels["app.kubernetes.io/managed-by"], "pitstop-operator");
        assert_eq!(labels["app.kubernetes.io/instance"], "monza");
        assert_eq!(m.namespace.as_deref(), Some("racing"));
    }
}

/// Every pod meets the "restricted" Pod Security Standard, with resources and probes.
#[test]
fn every_pod_is_restricted() {
    for c in [
        children(MINIMAL, &[]),
        children(
            EXTERNAL,
            &[("ingest", "token"), ("redis-url", "url"), ("pg-url", "url")],
        ),
    ] {
        let mut templates = Vec::new();
        templates.extend(
            c.deployments
                .iter()
                .map(|d| &d.spec.as_ref().unwrap().template),
        );
        templates.extend(
            c.stateful_sets
                .iter()
                .map(|s| &s.spec.as_ref().unwrap().template),
        );
        for t in templates {
            support::pss::assert_restricted(t.spec.as_ref().unwrap(), "race pod");
        }
    }
}

/// Prometheus may only discover pods in the race's namespace; Grafana's password comes
/// from the generated Secret; both pods roll when their configuration changes.
#[test]
fn monitoring_is_least_privilege_and_rolls_on_config_change() {
    let c = children(MINIMAL, &[]);
    let role = &c.roles[0];
    assert_eq!(role.metadata.name.as_deref(), Some("monza-prometheus"));
    let rules = role.rules.as_ref().unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(
        rules[0].resources.as_deref(),
        Some(&["pods".to_string()][..])
    );
    assert_eq!(rules[0].verbs, ["get", "list", "watch"]);
    // Exactly what the operator's SubjectAccessReview asks before serving /cadvisor.
    let p = pitstop_operator::access::CADVISOR_PERMISSION;
    assert_eq!(
        rules[1].api_groups.as_deref(),
        Some(&[p.group.to_string()][..])
    );
    assert_eq!(
        rules[1].resources.as_deref(),
        Some(&["pods/metrics".to_string()][..])
    );
    assert_eq!(rules[1].verbs, [p.verb]);
    assert!(rules[1].resource_names.is_none() && rules[1].non_resource_urls.is_none());
    let binding = &c.role_bindings[0];
    assert_eq!(binding.role_ref.name, "monza-prometheus");
    assert_eq!(
        binding.subjects.as_ref().unwrap()[0].name,
        "monza-prometheus"
    );

    let grafana = c
        .deployments
        .iter()
        .find(|d| d.metadata.name.as_deref() == Some("monza-grafana"))
        .unwrap();
    let pod = grafana
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap();
    let env = pod.containers[0].env.as_ref().unwrap();
    let password = env
        .iter()
        .find(|e| e.name == "GF_SECURITY_ADMIN_PASSWORD")
        .unwrap();
    assert!(password.value.is_none());
    let secret = password
        .value_from
        .as_ref()
        .unwrap()
        .secret_key_ref
        .as_ref()
        .unwrap();
    assert_eq!(
        (secret.name.as_str(), secret.key.as_str()),
        ("monza-grafana", "admin-password")
    );

    let hash = |c: &Children, name: &str| {
        c.deployments
            .iter()
            .find(|d| d.metadata.name.as_deref() == Some(name))
            .unwrap()
            .spec
            .as_ref()
            .unwrap()
            .template
            .metadata
            .as_ref()
            .unwrap()
            .annotations
            .as_ref()
            .unwrap()["pitstop.io/config-hash"]
            .clone()
    };
    // A different autoscaling maximum changes the rules, so Prometheus rolls; Grafana not.
    let other = children(
        "circuit: monza\nprocessor:\n  autoscaling: {maxReplicas: 9}",
        &[],
    );
    assert_ne!(
        hash(&c, "monza-prometheus"),
        hash(&other, "monza-prometheus")
    );
    assert_eq!(hash(&c, "monza-grafana"), hash(&other, "monza-grafana"));
    let retention = children("circuit: monza\nmonitoring: {retention: 7d}", &[]);
    let args = retention
        .deployments
        .iter()
        .find(|d| d.metadata.name.as_deref() == Some("monza-prometheus"))
        .unwrap()
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0]
        .args
        .clone()
        .unwrap();
    assert!(args.contains(&"--storage.tsdb.retention.time=7d".to_string()));
}

/// The race's Prometheus sends the operator a token of its own service account, bound to
/// the operator's audience and mounted where the cadvisor job reads it on every scrape.
#[test]
fn prometheus_presents_an_operator_token() {
    use pitstop_operator::access::AUDIENCE;
    use pitstop_operator::build::monitoring::{OPERATOR_TOKEN_DIR, OPERATOR_TOKEN_FILE};
    let c = children(MINIMAL, &[]);
    let d = c
        .deployments
        .iter()
        .find(|d| d.metadata.name.as_deref() == Some("monza-prometheus"))
        .unwrap();
    let pod = d.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    assert_eq!(
        pod.service_account_name.as_deref(),
        Some("monza-prometheus")
    );
    assert_eq!(pod.automount_service_account_token, Some(true));
    let volume = pod
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == "operator-token")
        .expect("a token volume");
    let sources = volume.projected.as_ref().unwrap().sources.as_ref().unwrap();
    let projection = sources[0].service_account_token.as_ref().unwrap();
    assert_eq!(projection.audience.as_deref(), Some(AUDIENCE));
    assert_eq!(projection.path, OPERATOR_TOKEN_FILE);
    assert!(projection.expiration_seconds.unwrap() <= 3600);
    let mount = pod.containers[0]
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.name == "operator-token")
        .unwrap();
    assert_eq!(mount.mount_path, OPERATOR_TOKEN_DIR);
    assert_eq!(mount.read_only, Some(true));

    let config_map = c
        .config_maps
        .iter()
        .find(|m| m.metadata.name.as_deref() == Some("monza-prometheus"))
        .unwrap();
    let config: serde_yaml::Value =
        serde_yaml::from_str(&config_map.data.as_ref().unwrap()["prometheus.yml"]).unwrap();
    let cadvisor = config["scrape_configs"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|j| j["job_name"] == "cadvisor")
        .unwrap();
    assert_eq!(
        cadvisor["authorization"]["credentials_file"].as_str(),
        Some(format!("{OPERATOR_TOKEN_DIR}/{OPERATOR_TOKEN_FILE}").as_str())
    );
}

const KEDA: &str =
    "circuit: monza\nprocessor:\n  autoscaling: {engine: keda, minReplicas: 2, maxReplicas: 6}";

/// With `engine: keda` the processor gets a ScaledObject with a Prometheus and a CPU
/// trigger and no HPA of ours.
#[test]
fn keda_replaces_the_hpa() {
    let c = build(&validate(&race(KEDA), &seen(&[], true), &images()).unwrap());
    assert!(c.hpas.is_empty(), "never an HPA next to KEDA's");
    assert_eq!(c.scaled_objects.len(), 1);
    let so = &c.scaled_objects[0].spec;
    assert_eq!(so.scale_target_ref["name"], "monza-processor");
    assert_eq!((so.min_replica_count, so.max_replica_count), (2, 6));
    assert_eq!(so.triggers[0]["type"], "prometheus");
    assert_eq!(so.triggers[0]["metadata"]["threshold"], "200");
    assert_eq!(
        so.triggers[0]["metadata"]["serverAddress"],
        "http://monza-prometheus.racing.svc:9090"
    );
    assert_eq!(so.triggers[1]["type"], "cpu");
    assert_eq!(so.triggers[1]["metadata"]["value"], "60");
    let p = c
        .deployments
        .iter()
        .find(|d| d.metadata.name.as_deref() == Some("monza-processor"))
        .unwrap();
    assert_eq!(
        p.spec.as_ref().unwrap().replicas,
        None,
        "KEDA owns the count"
    );
    golden(
        "keda",
        &serde_yaml::to_string(&c.scaled_objects[0]).unwrap(),
    );
}

/// KEDA missing, or KEDA without the Prometheus it queries, is a clear spec error.
#[test]
fn keda_needs_keda_and_monitoring() {
    let err = validate(&race(KEDA), &seen(&[], false), &images()).unwrap_err();
    assert_eq!(err, SpecError::KedaNotInstalled);
    assert_eq!(err.reason(), "KedaNotInstalled");
    assert!(err.to_string().contains("install KEDA"), "{err}");
    let no_mon = format!("{KEDA}\nmonitoring: {{enabled: false}}");
    let err = validate(&race(&no_mon), &seen(&[], true), &images()).unwrap_err();
    assert_eq!(err, SpecError::KedaWithoutMonitoring);
}

/// The adapter files (Helm values under helm/, manifests under k8s/prometheus-adapter)
/// are what the builder renders.
#[test]
fn prometheus_adapter_files_are_current() {
    use pitstop_operator::build::monitoring::adapter;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    for (file, text) in [
        ("helm/prometheus-adapter-values.yaml", adapter::values()),
        (
            "k8s/prometheus-adapter/manifests.yaml",
            adapter::manifests(),
        ),
    ] {
        let path = root.join(file);
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &text).unwrap();
        }
        assert_eq!(
            std::fs::read_to_string(&path).unwrap_or_default(),
            text,
            "{} is stale: run `make manifests`",
            path.display()
        );
    }
    let values: serde_yaml::Value = serde_yaml::from_str(&adapter::values()).unwrap();
    let rule = &values["rules"]["custom"][0];
    assert_eq!(
        rule["seriesQuery"],
        "pitstop_processor_messages_processed_total{namespace!=\"\",pod!=\"\"}"
    );
    assert_eq!(rule["name"]["as"], "${1}_per_second");
    // The rename turns the counter into the HPA's metric name.
    let re = rule["name"]["matches"].as_str().unwrap();
    assert_eq!(re, "^(.*)_total$");
    assert_eq!(
        adapter::COUNTER.strip_suffix("_total").unwrap().to_owned() + "_per_second",
        adapter::METRIC
    );
    let kinds: Vec<String> = serde_yaml::Deserializer::from_str(&adapter::manifests())
        .map(|d| {
            let v = serde_yaml::Value::deserialize(d).unwrap();
            v["kind"].as_str().unwrap().to_string()
        })
        .collect();
    for kind in [
        "Deployment",
        "Service",
        "APIService",
        "ConfigMap",
        "ClusterRoleBinding",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
}

/// The dashboards are valid Grafana JSON: stable uids, unique panel ids, every panel with
/// a title, a unit and at least one query on the provisioned datasource.
#[test]
fn dashboards_are_well_formed() {
    use pitstop_operator::build::monitoring::dashboards::{DASHBOARDS, DATASOURCE_UID};
    let mut uids = Vec::new();
    for d in &DASHBOARDS {
        let v: serde_json::Value = serde_json::from_str(d.json).unwrap();
        let uid = v["uid"].as_str().unwrap();
        assert!(uid.starts_with("pitstop-"), "{uid}");
        uids.push(uid.to_string());
        assert!(!v["title"].as_str().unwrap().is_empty());
        let panels = v["panels"].as_array().unwrap();
        assert!(panels.len() >= 4, "{}", d.file);
        let mut ids = BTreeSet::new();
        for p in panels {
            let title = p["title"].as_str().unwrap_or_default();
            assert!(!title.is_empty(), "{}: panel without title", d.file);
            assert!(
                ids.insert(p["id"].as_i64().unwrap()),
                "{title}: duplicate id"
            );
            let unit = p["fieldConfig"]["defaults"]["unit"]
                .as_str()
                .unwrap_or_default();
            assert!(!unit.is_empty(), "{}: {title} has no unit", d.file);
            assert_eq!(p["datasource"]["uid"], DATASOURCE_UID, "{title}");
            let targets = p["targets"].as_array().unwrap();
            assert!(!targets.is_empty(), "{title}: no query");
            for t in targets {
                assert!(!t["expr"].as_str().unwrap().is_empty(), "{title}");
            }
            let pos = &p["gridPos"];
            assert!(pos["w"].as_i64().unwrap() <= 24 && pos["h"].as_i64().unwrap() > 0);
        }
    }
    assert_eq!(
        uids,
        [
            "pitstop-ferrari-telemetry",
            "pitstop-system-performance",
            "pitstop-container-health"
        ]
    );
}

/// A pipeline task's Job and the season-report CronJob: restricted, never retried by
/// Kubernetes, bounded by the task's deadline, the webhook URL only from its Secret.
#[test]
fn pipeline_job_and_season_report() {
    use pitstop_operator::build::pipeline::{Outcome, cron_job, job};
    use pitstop_operator::post_race::scheduler::{Launch, job_name};
    let spec = "circuit: monza\npostRace:\n  schedule: \"0 6 * * *\"\n  webhookSecretRef: {name: slack, key: url}";
    let m = validate(&race(spec), &seen(&[("slack", "url")], false), &images()).unwrap();
    let dag = m.post_race_dag.as_ref().unwrap();
    let persist = dag
        .tasks
        .iter()
        .find(|t| t.step == "persist-teams")
        .unwrap();
    let l = Launch {
        task: persist.name.clone(),
        job: job_name("monza", 1, &persist.name, 0, 1),
        attempt: 1,
        round: 0,
        finally: false,
    };
    let j = job(&m, 1, persist, &l, None);
    let spec_ = j.spec.as_ref().unwrap();
    assert_eq!(spec_.backoff_limit, Some(0));
    assert_eq!(spec_.active_deadline_seconds, Some(900));
    let pod = spec_.template.spec.as_ref().unwrap();
    support::pss::assert_restricted_job(pod, "pipeline job");
    let c = &pod.containers[0];
    assert_eq!(
        c.args.as_deref().unwrap(),
        ["job", "persist-teams", "--team", "McLaren"]
    );
    let hook = c
        .env
        .iter()
        .flatten()
        .find(|e| e.name == "PITSTOP_WEBHOOK_URL")
        .unwrap();
    assert!(
        hook.value.is_none() && hook.value_from.is_some(),
        "from the Secret only"
    );

    let exit = dag.finally.iter().find(|t| t.name == "on-exit").unwrap();
    let l = Launch {
        task: exit.name.clone(),
        job: job_name("monza", 1, "on-exit", 0, 1),
        attempt: 1,
        round: 0,
        finally: true,
    };
    let outcome = Outcome {
        succeeded: true,
        failed_tasks: vec![],
    };
    let e = job(&m, 1, exit, &l, Some(&outcome));
    assert_eq!(
        e.spec.unwrap().template.spec.unwrap().containers[0]
            .args
            .as_deref()
            .unwrap(),
        ["job", "notify", "--outcome", "succeeded"]
    );

    let cj = cron_job(&m).unwrap();
    assert_eq!(cj.spec.schedule, "0 6 * * *");
    assert_eq!(cj.spec.concurrency_policy.as_deref(), Some("Forbid"));
    let cpod = cj
        .spec
        .job_template
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap();
    support::pss::assert_restricted_job(cpod, "season report");
    assert_eq!(build(&m).cron_jobs.len(), 1);
    assert!(
        children(MINIMAL, &[]).cron_jobs.is_empty(),
        "no schedule, no CronJob"
    );
    golden(
        "pipeline",
        &format!(
            "{}---\n{}",
            serde_yaml::to_string(&j).unwrap(),
            serde_yaml::to_string(&cj).unwrap()
        ),
    );
}
