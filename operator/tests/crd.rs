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

/// The contract names (group, kind, plural, short name, scope; see docs/racesession.md).
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
        "(has(self.managed) ? 1 : 0) + (has(self.external) ? 1 : 0) + (has(self.cloudNativePG) ? 1 : 0) == 1",
        "!has(self.cloudNativePG)",
        "!has(self.external) || !has(self.external.clientCertSecretRef)",
        "self == oldSelf",
        "self.enabled || !has(self.mode) || self.mode == 'none'",
        "!has(self.game) || self.type == 'game'",
        "!has(self.openf1) || self.type == 'openf1'",
        "self.type != 'openf1' || has(self.openf1)",
        "!has(self.nodePort) || self.type != 'ClusterIP'",
        "isCIDR(c)",
        "!has(self.source) || self.source.type == 'simulator' || (self.timeScale == 1.0",
    ] {
        assert!(json.contains(rule), "missing rule {rule}");
    }
    assert!(
        json.contains("circuit is immutable")
            && json.contains("seed is immutable")
            && json.contains("laps is immutable")
            && json.contains("timeScale is immutable")
    );
}

/// The CRD's description of `status.conditions` names every condition the operator sets.
#[test]
fn every_condition_is_documented() {
    use pitstop_operator::api::conditions::ConditionType;
    let crd = serde_json::to_value(RaceSession::crd()).unwrap();
    let description = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
        ["status"]["properties"]["conditions"]["description"]
        .as_str()
        .unwrap()
        .to_string();
    for c in ConditionType::ALL {
        assert!(
            description.contains(c.as_str()),
            "{} in {description}",
            c.as_str()
        );
    }
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
            "set exactly one of managed, external or cloudNativePG",
        ),
        (
            "postgres: {}",
            "set exactly one of managed, external or cloudNativePG",
        ),
        (
            "postgres:\n    managed: {}\n    cloudNativePG: {}",
            "set exactly one of managed, external or cloudNativePG",
        ),
        (
            "redis:\n    cloudNativePG: {}",
            "cloudNativePG is a PostgreSQL operator",
        ),
        (
            "postgres:\n    external:\n      urlSecretRef: {name: p, key: url}\n      clientCertSecretRef: pg-client",
            "postgres.external.clientCertSecretRef is not supported",
        ),
        (
            "monitoring:\n    enabled: false\n    mode: prometheusOperator",
            "enabled: false means mode: none",
        ),
        (
            "monitoring:\n    enabled: false\n    mode: owned",
            "enabled: false means mode: none",
        ),
        (
            "timeScale: 40\n  source: {type: game}",
            "the simulator's settings: leave them out unless source.type is simulator",
        ),
        (
            "simulator: {replicas: 0}\n  source: {type: external}",
            "the simulator's settings",
        ),
        (
            "anomalyRate: 0\n  source: {type: openf1, openf1: {sessionKey: 9606}}",
            "the simulator's settings",
        ),
        (
            "source: {type: external, game: {}}",
            "source.game is only read with source.type: game",
        ),
        (
            "source: {openf1: {sessionKey: 9606}}",
            "source.openf1 is only read with source.type: openf1",
        ),
        (
            "source: {type: openf1}",
            "source.type: openf1 needs source.openf1.sessionKey",
        ),
        (
            "source: {type: game, game: {service: {nodePort: 30777}}}",
            "nodePort needs type NodePort",
        ),
        (
            "source: {type: game, game: {allowedClients: [192.168.1.0/24, 192.168.1.20]}}",
            "allowedClients must be CIDRs",
        ),
        (
            "source: {type: game, game: {allowedClients: [192.168.1.5/24]}}",
            "no host bits set",
        ),
        (
            "source: {type: openf1, openf1: {sessionKey: 9606, speed: fast}}",
            "speed is a positive number",
        ),
        (
            "source: {type: openf1, openf1: {sessionKey: 9606, speed: -2}}",
            "speed is a positive number",
        ),
    ];
    for (fragment, message) in cases {
        let race = parse(&format!(
            "apiVersion: pitstop.io/v1alpha1\nkind: RaceSession\nmetadata: {{name: bad}}\nspec:\n  {fragment}\n"
        ));
        let err = race.validate_cel().expect_err(fragment);
        assert!(format!("{err:?}").contains(message), "{fragment}: {err:?}");
    }
}

/// `enabled` and `mode` agree in every spelling the older and newer manifests use.
#[test]
fn monitoring_enabled_and_mode_combine() {
    for fragment in [
        "monitoring: {enabled: false}",
        "monitoring: {enabled: false, mode: none}",
        "monitoring: {mode: none}",
        "monitoring: {mode: owned}",
        "monitoring: {enabled: true, mode: prometheusOperator}",
    ] {
        let race = parse(&format!(
            "apiVersion: pitstop.io/v1alpha1\nkind: RaceSession\nmetadata: {{name: ok}}\nspec:\n  {fragment}\n"
        ));
        race.validate_cel().expect(fragment);
    }
}

/// Every source in the spellings the examples and `docs/sources.md` use passes the rules;
/// the race's name (circuit, laps, grid) goes with any source, the simulator's settings
/// with the simulator.
#[test]
fn sources_that_fit_together_are_accepted() {
    for fragment in [
        "source: {type: simulator}\n  timeScale: 40\n  sampleHz: 4",
        "source: {type: external}\n  circuit: silverstone\n  laps: 52",
        "source: {type: game}",
        "source:\n    type: game\n    game:\n      service: {type: NodePort, port: 20777, nodePort: 30777}\n      allowedClients: [192.168.1.0/24, 10.0.0.7/32, \"2001:db8::/48\"]",
        "source: {type: game, game: {service: {type: LoadBalancer, nodePort: 30777}}}",
        "source: {type: openf1, openf1: {sessionKey: 9606}}",
        "source: {type: openf1, openf1: {sessionKey: 9606, speed: 20, url: \"https://api.openf1.org\"}}",
        "source: {type: openf1, openf1: {sessionKey: 9606, speed: max}}",
        "source: {type: openf1, openf1: {sessionKey: 9606, speed: \"0.5\"}}",
    ] {
        let race = parse(&format!(
            "apiVersion: pitstop.io/v1alpha1\nkind: RaceSession\nmetadata: {{name: ok}}\nspec:\n  {fragment}\n"
        ));
        race.validate_cel().expect(fragment);
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
    let mut faster = old.clone();
    faster.spec.time_scale *= 2.0;
    assert!(
        format!("{:?}", faster.validate_cel_update(&old).unwrap_err())
            .contains("timeScale is immutable")
    );
    let mut scaled = old.clone();
    scaled.spec.processor.autoscaling.max_replicas = 8;
    scaled
        .validate_cel_update(&old)
        .expect("scaling is allowed");
}

/// The RaceSession reference in docs/racesession.md is the CRD's (regenerate with
/// `make docs`).
#[test]
fn racesession_reference_is_current() {
    let page = std::fs::read_to_string(root().join("docs/racesession.md")).unwrap();
    let fresh =
        pitstop_operator::api::reference::splice(&page).expect("markers in docs/racesession.md");
    assert!(
        fresh == page,
        "docs/racesession.md's RaceSession reference is stale: run `make docs`"
    );
}

/// Formats kube-apiserver 1.36 recognizes, by schema type (apiextensions-apiserver's
/// `GetUnrecognizedFormats`: string formats compare with their dashes removed).
fn format_is_recognized(type_: &str, format: &str) -> bool {
    const STRING: &[&str] = &[
        "bsonobjectid",
        "uri",
        "email",
        "hostname",
        "ipv4",
        "ipv6",
        "cidr",
        "mac",
        "uuid",
        "uuid3",
        "uuid4",
        "uuid5",
        "isbn",
        "isbn10",
        "isbn13",
        "creditcard",
        "ssn",
        "hexcolor",
        "rgbcolor",
        "byte",
        "password",
        "date",
        "duration",
        "datetime",
        "quantity",
        "k8sshortname",
        "k8slongname",
    ];
    match type_ {
        "" | "string" => STRING.contains(&format.replace('-', "").as_str()),
        "integer" => matches!(format, "int32" | "int64"),
        "number" => matches!(format, "float" | "double"),
        _ => false,
    }
}

/// Every `format` in `schema` and its subschemas that the API server would warn about,
/// with its path.
fn unrecognized_formats(schema: &serde_json::Value, path: &str, out: &mut Vec<String>) {
    use serde_json::Value;
    let Some(obj) = schema.as_object() else {
        return;
    };
    if let Some(format) = obj.get("format").and_then(Value::as_str) {
        let type_ = obj.get("type").and_then(Value::as_str).unwrap_or("");
        if !format_is_recognized(type_, format) {
            out.push(format!("{path}: {type_} {format}"));
        }
    }
    for (key, sub) in obj {
        match key.as_str() {
            "properties" | "patternProperties" => {
                for (name, s) in sub.as_object().into_iter().flatten() {
                    unrecognized_formats(s, &format!("{path}.{name}"), out);
                }
            }
            "items" | "additionalProperties" | "not" => {
                unrecognized_formats(sub, &format!("{path}[{key}]"), out)
            }
            "allOf" | "anyOf" | "oneOf" => {
                for (i, s) in sub.as_array().into_iter().flatten().enumerate() {
                    unrecognized_formats(s, &format!("{path}.{key}[{i}]"), out);
                }
            }
            _ => {}
        }
    }
}

/// The CRD names only formats kube-apiserver knows, so applying it prints no
/// `unrecognized format "uint32"` warnings; unsigned fields keep their `minimum`.
#[test]
fn crd_formats_are_known_to_kubernetes() {
    let generated = serde_json::to_value(RaceSession::crd()).unwrap();
    let checked_in: serde_json::Value = serde_yaml::from_str(
        &std::fs::read_to_string(root().join("crds/racesessions.pitstop.io.yaml")).unwrap(),
    )
    .unwrap();
    for (what, crd) in [("generated", &generated), ("crds/", &checked_in)] {
        let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
        assert!(schema.is_object(), "{what}: no schema");
        let mut bad = Vec::new();
        unrecognized_formats(schema, "", &mut bad);
        assert!(
            bad.is_empty(),
            "{what}: unrecognized formats:\n{}",
            bad.join("\n")
        );
    }
    let spec = &generated["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        ["properties"];
    // `seed` is a u64: still unsigned, now in a format the API server knows.
    assert_eq!(spec["seed"]["format"], "int64");
    assert_eq!(spec["seed"]["minimum"], 0.0);
    assert_eq!(spec["laps"]["format"], "int32");
    assert_eq!(spec["laps"]["minimum"], 1.0);
}
