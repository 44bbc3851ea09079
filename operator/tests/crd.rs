//! The generated CRD: checked-in YAML is current, CEL rules are in the schema and reject
//! invalid manifests client-side (the same rules the API server enforces).

use kube::CustomResourceExt;
use pitstop_operator::api::RaceSession;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn parse(yaml: &str) -> RaceSession {
    serde_yaml::from_str(yaml).expect("valid RaceSession YAML")
}

fn minimal() -> RaceSession {
    parse(&std::fs::read_to_string(root().join("examples/minimal.yaml")).unwrap())
}

/// `crds/` is generated from the types: a stale file fails here (run `make manifests`).
#[test]
fn checked_in_crd_is_current() {
    let generated = serde_yaml::to_string(&RaceSession::crd()).unwrap();
    let path = root().join("crds/racesessions.pitstop.io.yaml");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "{} is stale: run `make manifests`",
        path.display()
    );
}

/// The contract names of ARCHITECTURE.md.
#[test]
fn crd_names_follow_the_contract() {
    let crd = RaceSession::crd();
    assert_eq!(crd.spec.group, "pitstop.io");
    assert_eq!(crd.spec.names.kind, "RaceSession");
    assert_eq!(crd.spec.names.plural, "racesessions");
    assert_eq!(
        crd.spec.names.short_names.as_deref(),
        Some(&["race".to_string()][..])
    );
    assert_eq!(crd.spec.scope, "Namespaced");
    let v = &crd.spec.versions[0];
    assert_eq!(v.name, "v1alpha1");
    assert!(v.subresources.as_ref().unwrap().status.is_some());
    let columns: Vec<_> = v
        .additional_printer_columns
        .as_ref()
        .unwrap()
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(columns, ["Ready", "Phase", "Circuit", "Lap", "Age"]);
}

/// Every cross-field and immutability rule is in the schema the API server receives.
#[test]
fn cel_rules_are_in_the_schema() {
    let json = serde_json::to_string(&RaceSession::crd()).unwrap();
    for rule in [
        "self.minReplicas <= self.maxReplicas",
        "has(self.managed) != has(self.external)",
        "self == oldSelf",
    ] {
        assert!(json.contains(rule), "missing rule {rule}");
    }
    assert!(
        json.contains("circuit is immutable")
            && json.contains("seed is immutable")
            && json.contains("laps is immutable")
    );
}

/// The ten-line example relies on defaults and passes validation.
#[test]
fn minimal_example_is_valid_and_defaulted() {
    let race = minimal();
    race.validate_cel()
        .expect("minimal.yaml passes the CEL rules");
    assert_eq!(race.spec.laps, 10);
    assert_eq!(race.spec.simulator.replicas, 1, "a race runs unless paused");
    assert_eq!(race.spec.processor.replicas, 1);
    assert!(race.spec.processor.autoscaling.enabled);
    assert_eq!(
        race.spec
            .processor
            .autoscaling
            .target_cpu_utilization_percentage,
        60
    );
    assert_eq!(
        race.spec
            .processor
            .autoscaling
            .target_messages_per_second_per_pod,
        200
    );
    assert!(race.spec.redis.managed.is_some() && race.spec.postgres.managed.is_some());
    assert!(race.spec.monitoring.enabled);
}

/// Invalid manifests are rejected with the rule's message.
#[test]
fn invalid_specs_are_rejected() {
    let cases = [
        (
            "processor:\n    autoscaling:\n      minReplicas: 5\n      maxReplicas: 2",
            "minReplicas must not exceed maxReplicas",
        ),
        (
            "redis:\n    managed: {}\n    external:\n      urlSecretRef: {name: r, key: url}",
            "set exactly one of managed or external",
        ),
        ("postgres: {}", "set exactly one of managed or external"),
    ];
    for (fragment, message) in cases {
        let race = parse(&format!(
            "apiVersion: pitstop.io/v1alpha1\nkind: RaceSession\nmetadata: {{name: bad}}\nspec:\n  {fragment}\n"
        ));
        let err = race.validate_cel().expect_err(fragment);
        assert!(format!("{err:?}").contains(message), "{fragment}: {err:?}");
    }
}

/// Changing the race definition of an existing RaceSession is refused; scaling is not.
#[test]
fn race_definition_is_immutable() {
    let old = minimal();
    let mut moved = old.clone();
    moved.spec.circuit = pitstop_operator::api::Circuit::Silverstone;
    let err = moved.validate_cel_update(&old).expect_err("circuit change");
    assert!(
        format!("{err:?}").contains("circuit is immutable"),
        "{err:?}"
    );
    let mut longer = old.clone();
    longer.spec.laps = 53;
    assert!(
        format!("{:?}", longer.validate_cel_update(&old).unwrap_err())
            .contains("laps is immutable")
    );
    let mut scaled = old.clone();
    scaled.spec.processor.autoscaling.max_replicas = 8;
    scaled
        .validate_cel_update(&old)
        .expect("scaling is allowed");
}

/// The README's RaceSession reference is the CRD's (regenerate with `make docs`).
#[test]
fn readme_reference_is_current() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let fresh = pitstop_operator::api::reference::splice(&readme).expect("markers in README.md");
    assert!(
        fresh == readme,
        "README.md's RaceSession reference is stale: run `make docs`"
    );
}
