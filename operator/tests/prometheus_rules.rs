//! The race's Prometheus configuration and rules pass the real `promtool check config` /
//! `promtool check rules`, and the rules pass their unit tests
//! (`promtool test rules`, operator/tests/promtool/rules_test.yaml). The same holds for the
//! rules of the PrometheusRule built for the cluster's Prometheus Operator, with the unit
//! tests run against a Prometheus that also holds another race's series; and every query
//! of the dashboards built for the cluster's Grafana is valid PromQL. `make test` installs
//! promtool (scripts/tools.sh); set PROMTOOL to use another one.

mod support;

use pitstop_operator::children::monitoring::prometheus_config::{
    Discovery, Options, prometheus_config, rules,
};
use pitstop_operator::model::{Assumed, Defaults, validate};
use std::path::PathBuf;
use std::process::Command;

fn promtool() -> PathBuf {
    support::tool("PROMTOOL", "promtool")
}

fn race(spec: &str) -> pitstop_operator::model::Model {
    let yaml = format!(
        "apiVersion: pitstop.io/v1alpha1\nkind: RaceSession\nmetadata: {{name: monza, namespace: racing, uid: u}}\nspec: {spec}\n"
    );
    validate(
        &serde_yaml::from_str(&yaml).unwrap(),
        &std::collections::BTreeMap::new(),
        &Defaults::default(),
    )
    .unwrap()
}

/// The rendered rules are valid and behave as the unit tests say.
#[test]
fn rules_pass_promtool() {
    let dir = std::env::temp_dir().join(format!("pitstop-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("rules.yaml"),
        rules(&race("{processor: {autoscaling: {maxReplicas: 4}}}")),
    )
    .unwrap();
    let tests = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/promtool/rules_test.yaml");
    std::fs::copy(&tests, dir.join("rules_test.yaml")).unwrap();
    for args in [
        vec!["check", "rules", "rules.yaml"],
        vec!["test", "rules", "rules_test.yaml"],
    ] {
        let out = Command::new(promtool())
            .args(&args)
            .current_dir(&dir)
            .output()
            .expect("run promtool");
        assert!(
            out.status.success(),
            "promtool {}:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The HPA maximum of the race is the threshold; without autoscaling the fixed count is.
#[test]
fn max_replicas_is_race_specific() {
    assert!(rules(&race("{processor: {autoscaling: {maxReplicas: 7}}}")).contains(">= 7"));
    assert!(
        rules(&race(
            "{processor: {replicas: 3, autoscaling: {enabled: false}}}"
        ))
        .contains(">= 3")
    );
    assert!(!rules(&race("{}")).contains("{{MAX_REPLICAS}}"));
}

/// The static rendering (what local runs and the end-to-end test use) is valid
/// Prometheus configuration: relabelling, rule file and jobs. Debian's promtool is built
/// without Kubernetes service discovery, so the in-cluster rendering is checked by
/// structure below instead.
#[test]
fn static_config_passes_promtool() {
    let dir = std::env::temp_dir().join(format!("pitstop-promcfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let m = race("{}");
    std::fs::write(dir.join("rules.yaml"), rules(&m)).unwrap();
    // promtool checks that the credentials file exists.
    std::fs::write(dir.join("token"), "a-token").unwrap();
    let options = Options {
        rules: dir.join("rules.yaml").display().to_string(),
        ..Options::default()
    };
    let local = Discovery::Static {
        simulator: vec!["127.0.0.1:8000".into()],
        processor: vec!["127.0.0.1:8001".into(), "127.0.0.1:18001".into()],
        operator: vec!["127.0.0.1:8002".into()],
        cadvisor: vec!["127.0.0.1:8002".into()],
        cadvisor_token_file: dir.join("token").display().to_string(),
    };
    let config = prometheus_config(&m, &local, &options);
    std::fs::write(dir.join("prometheus.yml"), &config).unwrap();
    let out = Command::new(promtool())
        .args(["check", "config", "prometheus.yml"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}\n{config}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// In the cluster, every job is scoped to this race (namespace and instance labels), the
/// operator's replicas are found by DNS and container metrics come through the operator,
/// authenticated with the pod's token for the operator's audience.
/// Debian's promtool lacks Kubernetes discovery, so the pod jobs are swapped for static
/// targets before `promtool check config` checks everything else.
#[test]
fn kubernetes_config_is_scoped_to_the_race() {
    let rendered = prometheus_config(&race("{}"), &Discovery::Kubernetes, &Options::default());
    let mut config: serde_yaml::Value = serde_yaml::from_str(&rendered).unwrap();
    let jobs = config["scrape_configs"].as_sequence().unwrap();
    let names: Vec<&str> = jobs
        .iter()
        .map(|j| j["job_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "pitstop-simulator",
            "pitstop-processor",
            "pitstop-operator",
            "cadvisor"
        ]
    );
    let processor = &jobs[1]["kubernetes_sd_configs"][0];
    assert_eq!(processor["namespaces"]["names"][0], "racing");
    assert_eq!(
        processor["selectors"][0]["label"],
        "app.kubernetes.io/instance=monza,app.kubernetes.io/component=processor"
    );
    assert_eq!(jobs[1]["relabel_configs"][0]["regex"], "8001");
    assert_eq!(
        jobs[2]["dns_sd_configs"][0]["names"][0],
        "pitstop-operator-metrics.pitstop-system.svc"
    );
    assert_eq!(jobs[3]["metrics_path"], "/cadvisor/racing");
    assert_eq!(
        jobs[3]["static_configs"][0]["targets"][0],
        "pitstop-operator.pitstop-system.svc:8002"
    );
    assert_eq!(jobs[3]["authorization"]["type"], "Bearer");
    assert_eq!(
        jobs[3]["authorization"]["credentials_file"],
        "/var/run/secrets/pitstop.io/operator/token"
    );
    // Only the operator's proxy gets the token; the other jobs send none.
    for j in &jobs[..3] {
        assert!(j.get("authorization").is_none(), "{:?}", j["job_name"]);
    }
    assert_eq!(config["rule_files"][0], "/etc/prometheus/rules/rules.yaml");
    assert_eq!(config["global"]["external_labels"]["race"], "monza");

    let dir = std::env::temp_dir().join(format!("pitstop-k8scfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("rules.yaml"), rules(&race("{}"))).unwrap();
    config["rule_files"][0] = dir.join("rules.yaml").display().to_string().into();
    // The token file exists only in the pod; promtool wants it to exist.
    std::fs::write(dir.join("token"), "a-token").unwrap();
    config["scrape_configs"][3]["authorization"]["credentials_file"] =
        dir.join("token").display().to_string().into();
    for job in config["scrape_configs"].as_sequence_mut().unwrap() {
        if let Some(m) = job.as_mapping_mut()
            && m.remove("kubernetes_sd_configs").is_some()
        {
            m.insert(
                "static_configs".into(),
                serde_yaml::from_str("[{targets: ['127.0.0.1:1']}]").unwrap(),
            );
        }
    }
    std::fs::write(
        dir.join("prometheus.yml"),
        serde_yaml::to_string(&config).unwrap(),
    )
    .unwrap();
    let out = Command::new(promtool())
        .args(["check", "config", "prometheus.yml"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The score rule's unit-test numbers are the Rust scoring function's.
#[test]
fn score_rule_numbers_match_the_processor() {
    use pitstop_workloads::analytics::scoring::score;
    assert_eq!(score(2.0, 2.0, 2.0), 100.0);
    assert_eq!(score(3.5, 2.0, 2.0), 30.0);
}

/// A race in `monitoring.mode: prometheusOperator` (the cluster serves its CRDs).
fn cluster_race(spec: &str) -> pitstop_operator::model::Model {
    let yaml = format!(
        "apiVersion: pitstop.io/v1alpha1\nkind: RaceSession\nmetadata: {{name: monza, namespace: racing, uid: u}}\nspec: {spec}\n"
    );
    let race: pitstop_operator::api::RaceSession = serde_yaml::from_str(&yaml).unwrap();
    validate(&race, &Assumed::from_spec(&race), &Defaults::default()).unwrap()
}

/// `series` (a series selector of a promtool test) with more labels.
fn with_labels(series: &str, labels: &str) -> String {
    match series.strip_suffix('}') {
        Some(open) if open.ends_with('{') => format!("{open}{labels}}}"),
        Some(open) => format!("{open},{labels}}}"),
        None => format!("{series}{{{labels}}}"),
    }
}

/// The unit tests of the owned rules, rewritten for the cluster's Prometheus: every input
/// series belongs to race `monza` in `racing` and is repeated for race `imola` in the same
/// namespace and for a `monza` in another namespace (the rules must not see them), every
/// expected sample and alert carries the race's labels.
fn cluster_rule_tests(tests: &str) -> String {
    let mut doc: serde_yaml::Value = serde_yaml::from_str(tests).unwrap();
    const MONZA: &str = r#"namespace="racing",race="monza""#;
    const OTHERS: [&str; 2] = [
        r#"namespace="racing",race="imola""#,
        r#"namespace="qualifying",race="monza""#,
    ];
    for test in doc["tests"].as_sequence_mut().unwrap() {
        let inputs = test["input_series"].as_sequence_mut().unwrap();
        let mut all = Vec::new();
        for input in inputs.iter() {
            let series = input["series"].as_str().unwrap();
            for labels in std::iter::once(MONZA).chain(OTHERS) {
                let mut copy = input.clone();
                copy["series"] = with_labels(series, labels).into();
                all.push(copy);
            }
        }
        *inputs = all;
        for t in test["promql_expr_test"]
            .as_sequence_mut()
            .into_iter()
            .flatten()
        {
            t["expr"] = with_labels(t["expr"].as_str().unwrap(), MONZA).into();
            for sample in t["exp_samples"].as_sequence_mut().into_iter().flatten() {
                sample["labels"] = with_labels(sample["labels"].as_str().unwrap(), MONZA).into();
            }
        }
        for t in test["alert_rule_test"]
            .as_sequence_mut()
            .into_iter()
            .flatten()
        {
            for alert in t["exp_alerts"].as_sequence_mut().into_iter().flatten() {
                alert["exp_labels"]["namespace"] = "racing".into();
                alert["exp_labels"]["race"] = "monza".into();
            }
        }
    }
    serde_yaml::to_string(&doc).unwrap()
}

/// The rule groups of the built PrometheusRule pass `promtool check rules`, and the owned
/// rules' unit tests pass against them with another race's series in the same Prometheus:
/// the cluster's Prometheus evaluates the same rules, confined to the race.
#[test]
fn prometheus_rule_passes_promtool() {
    use pitstop_operator::children::build;
    let m = cluster_race(
        "{monitoring: {mode: prometheusOperator}, processor: {autoscaling: {maxReplicas: 4}}}",
    );
    let children = build(&m);
    assert_eq!(children.prometheus_rules.len(), 1);
    let spec = serde_json::to_value(&children.prometheus_rules[0]).unwrap()["spec"].clone();
    let groups = serde_json::json!({"groups": spec["groups"]});
    let dir = std::env::temp_dir().join(format!("pitstop-prometheusrule-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("rules.yaml"),
        serde_yaml::to_string(&groups).unwrap(),
    )
    .unwrap();
    let tests = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/promtool/rules_test.yaml");
    std::fs::write(
        dir.join("rules_test.yaml"),
        cluster_rule_tests(&std::fs::read_to_string(tests).unwrap()),
    )
    .unwrap();
    for args in [
        vec!["check", "rules", "rules.yaml"],
        vec!["test", "rules", "rules_test.yaml"],
    ] {
        let out = Command::new(promtool())
            .args(&args)
            .current_dir(&dir)
            .output()
            .expect("run promtool");
        assert!(
            out.status.success(),
            "promtool {}:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every query of the dashboards for the cluster's Grafana (panel targets and the team
/// variable's selector), with Grafana's variables given values, is PromQL that promtool
/// accepts (as the expressions of recording rules).
#[test]
fn cluster_dashboard_queries_are_valid_promql() {
    use pitstop_operator::children::monitoring::grafana::DASHBOARDS;
    use pitstop_operator::children::monitoring::grafana_sidecar::dashboard;
    let m = cluster_race("{monitoring: {mode: prometheusOperator}}");
    let mut exprs = Vec::new();
    for d in &DASHBOARDS {
        let v = dashboard(&m, d);
        for p in v["panels"].as_array().unwrap() {
            for t in p["targets"].as_array().unwrap() {
                exprs.push(t["expr"].as_str().unwrap().to_string());
            }
        }
        for var in v["templating"]["list"].as_array().unwrap() {
            if let Some(q) = var["query"]["query"].as_str() {
                let selector = q
                    .strip_prefix("label_values(")
                    .and_then(|r| r.rsplit_once(','))
                    .map(|(s, _)| s.to_string())
                    .unwrap_or_else(|| panic!("a label_values query: {q}"));
                exprs.push(selector);
            }
        }
    }
    assert!(exprs.len() > 20, "{exprs:?}");
    let rules: Vec<serde_json::Value> = exprs
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let e = e
                .replace("$__rate_interval", "1m")
                .replace("$team", "Ferrari");
            serde_json::json!({"record": format!("dashboard:query:{i}"), "expr": e})
        })
        .collect();
    let file = serde_json::json!({"groups": [{"name": "dashboards", "rules": rules}]});
    let dir = std::env::temp_dir().join(format!("pitstop-dashboards-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("queries.yaml"),
        serde_yaml::to_string(&file).unwrap(),
    )
    .unwrap();
    let out = Command::new(promtool())
        .args(["check", "rules", "queries.yaml"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
