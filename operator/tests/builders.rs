//! Golden tests of the builders: an inline YAML RaceSession is validated and built, and
//! every child object is compared whole with `tests/golden/<case>.yaml`. After an
//! intended change, regenerate with `UPDATE_GOLDEN=1 cargo test -p pitstop-operator --test builders`
//! and review the diff.

use pitstop_operator::api::RaceSession;
use pitstop_operator::build::{Children, build};
use pitstop_operator::model::{Images, validate};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

fn race(spec: &str) -> RaceSession {
    let yaml = format!(
        "apiVersion: pitstop.io/v1alpha1\nkind: RaceSession\nmetadata:\n  name: monza\n  namespace: racing\n  uid: 6f1c0c4e-0000-4000-8000-000000000001\n  generation: 1\nspec:\n{}",
        spec.lines().map(|l| format!("  {l}\n")).collect::<String>()
    );
    serde_yaml::from_str(&yaml).unwrap()
}

fn images() -> Images {
    Images {
        workloads: "ghcr.io/pitstop-io/pitstop:test".into(),
        redis: "redis:7.4-alpine".into(),
        postgres: "postgres:16-alpine".into(),
    }
}

fn children(spec: &str, secrets: &[(&str, &str)]) -> Children {
    let secrets: BTreeMap<String, BTreeSet<String>> = secrets
        .iter()
        .map(|(n, k)| (n.to_string(), BTreeSet::from([k.to_string()])))
        .collect();
    build(&validate(&race(spec), &secrets, &images()).unwrap())
}

fn render(c: &Children) -> String {
    let Children {
        deployments,
        services,
        stateful_sets,
        hpas,
        network_policies,
    } = c;
    let mut docs = Vec::new();
    docs.extend(
        deployments
            .iter()
            .map(|o| serde_yaml::to_string(o).unwrap()),
    );
    docs.extend(services.iter().map(|o| serde_yaml::to_string(o).unwrap()));
    docs.extend(
        stateful_sets
            .iter()
            .map(|o| serde_yaml::to_string(o).unwrap()),
    );
    docs.extend(hpas.iter().map(|o| serde_yaml::to_string(o).unwrap()));
    docs.extend(
        network_policies
            .iter()
            .map(|o| serde_yaml::to_string(o).unwrap()),
    );
    docs.join("---\n")
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
  external: {urlSecretRef: {name: pg-url, key: url}}";

/// Defaults: simulator, processor with HPA, managed Redis and PostgreSQL, policies.
#[test]
fn minimal_race() {
    let c = children(MINIMAL, &[]);
    assert_eq!(c.deployments.len(), 2);
    assert_eq!(c.stateful_sets.len(), 2);
    assert_eq!(c.hpas.len(), 1);
    assert_eq!(c.network_policies.len(), 3);
    golden("minimal", &render(&c));
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
    golden("external", &render(&c));
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
            let pod = t.spec.as_ref().unwrap();
            let ps = pod.security_context.as_ref().unwrap();
            assert_eq!(ps.run_as_non_root, Some(true));
            assert_eq!(ps.seccomp_profile.as_ref().unwrap().type_, "RuntimeDefault");
            for ctr in &pod.containers {
                let sc = ctr.security_context.as_ref().unwrap();
                assert_eq!(sc.allow_privilege_escalation, Some(false), "{}", ctr.name);
                assert_eq!(
                    sc.capabilities.as_ref().unwrap().drop.as_deref(),
                    Some(&["ALL".to_string()][..])
                );
                assert_eq!(sc.read_only_root_filesystem, Some(true), "{}", ctr.name);
                let r = ctr.resources.as_ref().unwrap();
                assert!(r.requests.is_some() && r.limits.is_some(), "{}", ctr.name);
                assert!(
                    ctr.liveness_probe.is_some() && ctr.readiness_probe.is_some(),
                    "{}",
                    ctr.name
                );
                assert!(
                    ctr.env
                        .iter()
                        .flatten()
                        .all(|e| !e.name.contains("PASSWORD") || e.value.is_none()),
                    "secrets only by reference"
                );
            }
        }
    }
}
