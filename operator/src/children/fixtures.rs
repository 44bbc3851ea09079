//! What the builders' tests share: an inline YAML RaceSession validated into a model,
//! the golden files (`tests/golden/<case>.yaml`, compared whole; after an intended change
//! regenerate with `UPDATE_GOLDEN=1 cargo test -p pitstop-operator --lib children` and
//! review the diff) and the restricted Pod Security Standard checks.

use crate::api::RaceSession;
use crate::model::{Defaults, Observations};
use std::collections::BTreeMap;

// What every builder test names.
pub use crate::children::{Children, build};
pub use crate::model::{SpecError, validate};
pub use std::collections::BTreeSet;
pub use std::path::PathBuf;

/// The checks every pod template must pass (shared with the integration tests).
#[path = "../../tests/support/pss.rs"]
pub mod pss;

pub fn race(spec: &str) -> RaceSession {
    let yaml = format!(
        "apiVersion: pitstop.io/v1alpha1\nkind: RaceSession\nmetadata:\n  name: monza\n  namespace: racing\n  uid: 6f1c0c4e-0000-4000-8000-000000000001\n  generation: 1\nspec:\n{}",
        spec.lines().map(|l| format!("  {l}\n")).collect::<String>()
    );
    serde_yaml::from_str(&yaml).unwrap()
}

pub fn images() -> Defaults {
    Defaults {
        workloads: "ghcr.io/pitstop-io/pitstop:test".into(),
        redis: "redis:7.4-alpine".into(),
        postgres: "postgres:16-alpine".into(),
        prometheus: "prom/prometheus:v2.55.1".into(),
        grafana: "grafana/grafana:11.3.0".into(),
        operator_namespace: "pitstop-system".into(),
        operator_service: "pitstop-operator".into(),
        api_server_cidrs: Vec::new(),
    }
}

/// Observed cluster state for validation: Secrets with one key each, KEDA present or not,
/// the Prometheus Operator absent unless [`Seen::with_prometheus_operator`].
pub struct Seen {
    secrets: BTreeMap<String, BTreeSet<String>>,
    keda: bool,
    prometheus_operator: bool,
    cloudnative_pg: bool,
}

impl Seen {
    /// The cluster serves CloudNativePG's Clusters.
    pub fn with_cloudnative_pg(mut self) -> Self {
        self.cloudnative_pg = true;
        self
    }

    /// `name` also exists with `keys`.
    pub fn with_secret(mut self, name: &str, keys: &[&str]) -> Self {
        self.secrets
            .entry(name.into())
            .or_default()
            .extend(keys.iter().map(|k| k.to_string()));
        self
    }

    /// The cluster serves PodMonitors and PrometheusRules.
    pub fn with_prometheus_operator(mut self) -> Self {
        self.prometheus_operator = true;
        self
    }
}

impl Observations for Seen {
    fn keys(&self, name: &str) -> Option<BTreeSet<String>> {
        self.secrets.get(name).cloned()
    }
    fn keda_installed(&self) -> bool {
        self.keda
    }
    fn prometheus_operator_installed(&self) -> bool {
        self.prometheus_operator
    }
    fn cloudnative_pg_installed(&self) -> bool {
        self.cloudnative_pg
    }
}

pub fn seen(secrets: &[(&str, &str)], keda: bool) -> Seen {
    Seen {
        secrets: secrets
            .iter()
            .map(|(n, k)| (n.to_string(), BTreeSet::from([k.to_string()])))
            .collect(),
        keda,
        prometheus_operator: false,
        cloudnative_pg: false,
    }
}

pub fn children(spec: &str, secrets: &[(&str, &str)]) -> Children {
    build(&validate(&race(spec), &seen(secrets, false), &images()).unwrap())
}

/// The children of `spec` on a cluster with the Prometheus Operator.
pub fn po_children(spec: &str) -> Children {
    build(
        &validate(
            &race(spec),
            &seen(&[], false).with_prometheus_operator(),
            &images(),
        )
        .unwrap(),
    )
}

/// The children of `spec` on a cluster with CloudNativePG and the Secrets [`CNPG`] names.
pub fn cnpg_children(spec: &str) -> Children {
    let observed = seen(&[("redis-url", "url"), ("redis-ca", "ca.crt")], false)
        .with_secret("redis-client", &["tls.crt", "tls.key"])
        .with_cloudnative_pg();
    build(&validate(&race(spec), &observed, &images()).unwrap())
}

/// The children of the defaults with `monitoring.mode: <mode>` (the Prometheus Operator
/// installed).
pub fn children_of_mode(mode: &str) -> Children {
    po_children(&format!("circuit: monza\nmonitoring: {{mode: {mode}}}"))
}

/// Whether an object belongs to the monitoring stack (rendered into its own golden file).
fn monitoring(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> bool {
    let c = &meta.labels.as_ref().unwrap()["app.kubernetes.io/component"];
    c == "prometheus" || c == "grafana"
}

/// The core children and the monitoring children as two multi-document YAML strings.
pub fn render(c: &Children) -> (String, String) {
    let Children {
        generated_secrets: _,
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
        jobs,
        pod_monitors,
        prometheus_rules,
        clusters,
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
    add!(jobs);
    add!(pod_monitors);
    add!(prometheus_rules);
    add!(clusters);
    (core.join("---\n"), mon.join("---\n"))
}

pub fn golden(case: &str, actual: &str) {
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

pub const MINIMAL: &str = "circuit: monza\nlaps: 10\ntimeScale: 40";

pub const EXTERNAL: &str = "\
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

/// Monitoring by the cluster's kube-prometheus-stack (release `kube-prometheus-stack`).
pub const PROMETHEUS_OPERATOR: &str = "\
circuit: monza
laps: 10
timeScale: 40
monitoring:
  mode: prometheusOperator
  prometheusOperator:
    labels: {release: kube-prometheus-stack}";

/// PostgreSQL by CloudNativePG (two instances on a named storage class), Redis external
/// (a cluster whose nodes listen on 7000–7002) over TLS with a private CA and a client
/// certificate.
pub const CNPG: &str = "\
circuit: monza
redis:
  external:
    urlSecretRef: {name: redis-url, key: url}
    caSecretRef: {name: redis-ca, key: ca.crt}
    clientCertSecretRef: redis-client
    ports: [7000, 7001, 7002]
postgres:
  cloudNativePG: {storage: 5Gi, storageClassName: fast}
monitoring: {enabled: false}";

pub const KEDA: &str =
    "circuit: monza\nprocessor:\n  autoscaling: {engine: keda, minReplicas: 2, maxReplicas: 6}";

/// The F1 game on a PC of the home network, reached through a fixed node port.
pub const GAME: &str = "\
circuit: silverstone
source:
  type: game
  game:
    service: {type: NodePort, port: 20777, nodePort: 30777}
    allowedClients: [192.168.1.0/24, 10.0.0.7/32]";

/// An OpenF1 session replayed at 20× from a mirror of the API.
pub const OPENF1: &str = "\
source:
  type: openf1
  openf1: {sessionKey: 9606, url: \"https://openf1.example.org\", speed: 20}";

/// Telemetry posted by clients of the team's namespace only.
pub const EXTERNAL_SOURCE: &str = "\
source: {type: external}
processor:
  allowedClients:
  - namespaceSelector: {matchLabels: {team: strategy}}";

/// The deployment named `name` of `c`.
pub fn deployment<'a>(c: &'a Children, name: &str) -> &'a k8s_openapi::api::apps::v1::Deployment {
    c.deployments
        .iter()
        .find(|d| d.metadata.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no Deployment {name}"))
}

/// Names of the objects of `c` of one kind.
pub fn names<T: kube::Resource>(objs: &[T]) -> Vec<String> {
    objs.iter()
        .map(|o| o.meta().name.clone().unwrap_or_default())
        .collect()
}

/// The processor's NetworkPolicy's ingress peers, as JSON.
pub fn processor_peers(c: &Children) -> serde_json::Value {
    let np = c
        .network_policies
        .iter()
        .find(|n| n.metadata.name.as_deref() == Some("monza-processor"))
        .unwrap();
    serde_json::to_value(&np.spec.as_ref().unwrap().ingress.as_ref().unwrap()[0].from).unwrap()
}
