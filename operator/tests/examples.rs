//! Every file under `examples/` parses; every RaceSession in them deserializes into the
//! CRD type, passes the CRD's CEL rules and the operator's validation and builds; the
//! GitOps files have the kinds their tools expect; and the Argo CD health check runs in a
//! real Lua 5.4 against its test cases (`make test` installs lua into .tools/; set LUA to
//! use another).

mod support;

use pitstop_operator::api::RaceSession;
use pitstop_operator::children::build;
use pitstop_operator::model::{Assumed, Defaults, validate};
use serde::Deserialize;
use serde_yaml::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, ext, out);
        } else if p.extension().is_some_and(|x| x == ext) {
            out.push(p);
        }
    }
}

fn docs(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .filter(|v| !v.is_null())
        .collect()
}

fn relative(p: &Path) -> String {
    p.strip_prefix(examples()).unwrap().display().to_string()
}

/// Every YAML parses; every object names its kind; every RaceSession is valid and builds.
#[test]
fn every_example_parses_and_every_race_is_valid() {
    let mut yaml = Vec::new();
    files(&examples(), "yaml", &mut yaml);
    yaml.sort();
    let mut races = Vec::new();
    for path in &yaml {
        let name = relative(path);
        for doc in docs(path) {
            if name == "gitops/argocd/health_test.yaml" {
                assert!(doc["tests"].is_sequence(), "{name}");
                continue;
            }
            let kind = doc["kind"]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: object without kind"));
            assert!(
                doc["apiVersion"].is_string(),
                "{name}: {kind} without apiVersion"
            );
            if kind != "RaceSession" {
                continue;
            }
            let race: RaceSession = serde_yaml::from_value(doc.clone())
                .unwrap_or_else(|e| panic!("{name}: not a RaceSession: {e}"));
            race.validate_cel()
                .unwrap_or_else(|e| panic!("{name}: CEL rules: {e:?}"));
            let mut placed = race.clone();
            placed
                .metadata
                .namespace
                .get_or_insert_with(|| "racing".into());
            placed.metadata.uid = Some("u".into());
            let model = validate(&placed, &Assumed::from_spec(&placed), &Defaults::default())
                .unwrap_or_else(|e| panic!("{name}: {}: {e}", e.reason()));
            let children = build(&model);
            assert!(!children.deployments.is_empty(), "{name}");
            // Each source builds its own feeder: a simulator, a gateway, a replay Job.
            let feeders = children
                .deployments
                .iter()
                .filter(|d| {
                    let n = d.metadata.name.as_deref().unwrap_or_default();
                    n.ends_with("-simulator") || n.ends_with("-gateway")
                })
                .count()
                + children.jobs.len();
            let expected = match race.spec.source_type() {
                pitstop_operator::api::SourceType::External => 0,
                _ => 1,
            };
            assert_eq!(feeders, expected, "{name}");
            races.push((name.clone(), race));
        }
    }
    let names: Vec<&str> = races.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "minimal.yaml",
        "monza.yaml",
        "external-databases.yaml",
        "keda-autoscaling.yaml",
        "prometheus-operator.yaml",
        "race-game.yaml",
        "race-openf1.yaml",
        "race-external.yaml",
        "race-cloudnativepg.yaml",
        "gitops/flux/races/monza.yaml",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    let by = |n: &str| &races.iter().find(|(x, _)| x == n).unwrap().1;
    {
        use pitstop_operator::api::{ServiceType, SourceType};
        let source = |n: &str| by(n).spec.source.clone().unwrap_or_default();
        let game = source("race-game.yaml");
        assert_eq!(game.type_, SourceType::Game);
        let g = game.game.unwrap();
        assert_eq!(
            (g.service.type_, g.service.node_port),
            (ServiceType::NodePort, Some(30777))
        );
        assert!(
            !g.allowed_clients.is_empty(),
            "a game race others can reach"
        );
        assert_eq!(source("race-openf1.yaml").type_, SourceType::OpenF1);
        assert_eq!(source("race-openf1.yaml").openf1.unwrap().session_key, 9606);
        assert_eq!(source("race-external.yaml").type_, SourceType::External);
        assert_eq!(by("minimal.yaml").spec.source_type(), SourceType::Simulator);
    }
    let minimal = std::fs::read_to_string(examples().join("minimal.yaml")).unwrap();
    let lines = minimal.lines().filter(|l| !l.starts_with('#')).count();
    assert!(lines <= 12, "minimal.yaml has {lines} lines");
    assert_eq!(by("monza.yaml").spec.laps, 53);
    assert!(by("external-databases.yaml").spec.redis.external.is_some());
    let cnpg = &by("race-cloudnativepg.yaml").spec;
    assert!(cnpg.postgres.cloud_native_pg.is_some() && cnpg.redis.managed.is_some());
    assert_eq!(
        by("keda-autoscaling.yaml")
            .spec
            .processor
            .autoscaling
            .engine,
        pitstop_operator::api::AutoscalingEngine::Keda
    );
    let cluster = &by("prometheus-operator.yaml").spec.monitoring;
    assert_eq!(
        cluster.effective_mode(),
        pitstop_operator::api::MonitoringMode::PrometheusOperator
    );
    assert!(
        cluster
            .prometheus_operator
            .as_ref()
            .is_some_and(|p| p.prometheus_url.is_some()),
        "the cluster Prometheus's address, for a switch to KEDA"
    );
}

/// The GitOps examples are what Argo CD and Flux expect.
#[test]
fn gitops_examples_have_the_expected_kinds() {
    let kinds = |f: &str| -> Vec<String> {
        docs(&examples().join(f))
            .iter()
            .map(|d| d["kind"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        kinds("gitops/argocd/application.yaml"),
        ["Application", "Application"]
    );
    assert_eq!(kinds("gitops/flux/sources.yaml"), ["GitRepository"]);
    assert_eq!(
        kinds("gitops/flux/operator/helmrelease.yaml"),
        ["Namespace", "HelmRelease"]
    );
    assert_eq!(
        kinds("gitops/flux/kustomizations.yaml"),
        ["Kustomization", "Kustomization"]
    );
    let release = &docs(&examples().join("gitops/flux/operator/helmrelease.yaml"))[1];
    let chart = release["spec"]["chart"]["spec"]["chart"].as_str().unwrap();
    assert!(
        examples()
            .join("..")
            .join(chart)
            .join("Chart.yaml")
            .exists(),
        "the HelmRelease points at the chart: {chart}"
    );
    let app = &docs(&examples().join("gitops/argocd/application.yaml"))[0];
    let path = app["spec"]["source"]["path"].as_str().unwrap();
    assert!(examples().join("..").join(path).join("Chart.yaml").exists());
    // argocd-cm.yaml carries health.lua verbatim.
    let cm = &docs(&examples().join("gitops/argocd/argocd-cm.yaml"))[0];
    assert_eq!(
        cm["data"]["resource.customizations.health.pitstop.io_RaceSession"]
            .as_str()
            .unwrap(),
        std::fs::read_to_string(examples().join("gitops/argocd/health.lua")).unwrap()
    );
}

fn lua() -> PathBuf {
    support::tool("LUA", "lua")
}

/// A YAML value as a Lua constructor (what Argo CD hands the script as `obj`).
fn to_lua(v: &Value) -> String {
    match v {
        Value::Null => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Sequence(items) => format!(
            "{{{}}}",
            items.iter().map(to_lua).collect::<Vec<_>>().join(", ")
        ),
        Value::Mapping(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("[{}] = {}", to_lua(k), to_lua(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Tagged(t) => to_lua(&t.value),
    }
}

/// health.lua returns the status and message its test cases expect (Argo CD's
/// health_test.yaml layout), run by a real Lua 5.4.
#[test]
fn argocd_health_check_passes_its_tests() {
    let dir = examples().join("gitops/argocd");
    let script = std::fs::read_to_string(dir.join("health.lua")).unwrap();
    let cases = &docs(&dir.join("health_test.yaml"))[0]["tests"];
    let cases = cases.as_sequence().unwrap();
    assert!(cases.len() >= 5);
    for case in cases {
        let input = case["inputPath"].as_str().unwrap();
        let obj = &docs(&dir.join(input))[0];
        let program = format!(
            "obj = {}\nlocal function check()\n{script}\nend\nlocal hs = check()\nio.write(hs.status, '\\n', hs.message or '')\n",
            to_lua(obj)
        );
        let out = Command::new(lua())
            .args(["-e", &program])
            .output()
            .expect("run lua");
        assert!(
            out.status.success(),
            "{input}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let (status, message) = text.split_once('\n').unwrap();
        assert_eq!(
            status,
            case["healthStatus"]["status"].as_str().unwrap(),
            "{input}"
        );
        assert_eq!(
            message,
            case["healthStatus"]["message"].as_str().unwrap(),
            "{input}"
        );
    }
}
