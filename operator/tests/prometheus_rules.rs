//! The race's Prometheus rules pass the real `promtool check rules` and its unit tests
//! (`promtool test rules`, operator/tests/promtool/rules_test.yaml). `make test` installs
//! promtool (scripts/tools.sh); set PROMTOOL to use another one.

use pitstop_operator::build::monitoring::rules;
use pitstop_operator::model::{Images, validate};
use std::path::PathBuf;
use std::process::Command;

fn promtool() -> PathBuf {
    if let Some(p) = std::env::var_os("PROMTOOL") {
        return p.into();
    }
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/bin/promtool");
    if local.exists() {
        return local;
    }
    if Command::new("promtool").arg("--version").output().is_ok() {
        return "promtool".into();
    }
    panic!(
        "promtool not found: run `make test` (it installs promtool into .tools/) or set PROMTOOL"
    );
}

fn race(spec: &str) -> pitstop_operator::model::Model {
    let yaml = format!(
        "apiVersion: pitstop.io/v1alpha1\nkind: RaceSession\nmetadata: {{name: monza, namespace: racing, uid: u}}\nspec: {spec}\n"
    );
    validate(
        &serde_yaml::from_str(&yaml).unwrap(),
        &std::collections::BTreeMap::new(),
        &Images::default(),
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
