//! The race's Prometheus configuration and rules pass the real `promtool check config` /
//! `promtool check rules`, and the rules pass their unit tests
//! (`promtool test rules`, operator/tests/promtool/rules_test.yaml). `make test` installs
//! promtool (scripts/tools.sh); set PROMTOOL to use another one.

mod support;

use pitstop_operator::children::monitoring::prometheus_config::{
    Discovery, Options, prometheus_config, rules,
};
use pitstop_operator::model::{Defaults, validate};
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
