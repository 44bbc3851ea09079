//! Validate: a RaceSession spec plus what was observed in the cluster becomes a
//! [`Model`] the builders read, or a [`SpecError`] with a reason for the `Stalled`
//! condition. Pure: no API calls.

use crate::api::{
    AutoscalingEngine, Circuit, DatastoreSpec, DeletionPolicy, GridEntry, MonitoringMode,
    MonitoringSpec, PostRaceSpec, RaceSession, SecretKeyRef,
};
use crate::post_race::Dag;
use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::api::networking::v1::NetworkPolicyPeer;
use kube::ResourceExt;
use std::collections::{BTreeMap, BTreeSet};

pub mod source;
pub use source::{Game, OpenF1, Source, SourceError};

/// Fewest stream partitions of a race (the processor's lease unit).
pub use pitstop_contract::PARTITIONS;

/// Most stream partitions (what `pitstop` accepts).
pub const MAX_PARTITIONS: u16 = 64;

/// The stream partitions of a race: what its status recorded at the first reconcile, or
/// one per processor it may run (`maxReplicas`, or the fixed replica count), at least
/// [`PARTITIONS`]. Recorded, never re-derived: a car's partition is its number modulo
/// the count, so a running race cannot change it (raising `maxReplicas` later leaves the
/// extra processors without a partition; the AutoscalerReady condition says so).
pub fn partitions(race: &RaceSession) -> u16 {
    if let Some(p) = race.status.as_ref().and_then(|s| s.partitions) {
        return p.clamp(1, MAX_PARTITIONS as i32) as u16;
    }
    let a = &race.spec.processor.autoscaling;
    let processors = if a.enabled {
        a.max_replicas
    } else {
        race.spec.processor.replicas
    };
    (processors.clamp(PARTITIONS as i32, MAX_PARTITIONS as i32)) as u16
}

/// Where a datastore comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum Datastore {
    Managed {
        persistence: bool,
        storage: String,
        storage_class_name: Option<String>,
        image: String,
    },
    External {
        url: SecretKeyRef,
        /// CA (PEM) the server's certificate must chain to.
        ca: Option<SecretKeyRef>,
        /// Redis only: a `kubernetes.io/tls` Secret with the client certificate.
        client_cert: Option<String>,
        /// Ports egress allows (empty: the datastore's standard one).
        ports: Vec<i32>,
    },
    /// PostgreSQL only: a CloudNativePG `Cluster` the operator applies.
    CloudNativePG {
        instances: i32,
        storage: String,
        storage_class_name: Option<String>,
        image_name: Option<String>,
    },
}

/// Keys of a `kubernetes.io/tls` Secret.
pub const TLS_CERT_KEY: &str = "tls.crt";
pub const TLS_KEY_KEY: &str = "tls.key";

/// Autoscaling as the HPA will apply it.
#[derive(Clone, Debug, PartialEq)]
pub struct Autoscaling {
    pub engine: AutoscalingEngine,
    pub min_replicas: i32,
    pub max_replicas: i32,
    pub cpu_percent: i32,
    pub messages_per_second: i32,
}

/// A validated RaceSession: everything the builders need, nothing they must check.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub circuit: Circuit,
    pub laps: u16,
    pub time_scale: f64,
    pub seed: u64,
    pub sample_hz: u16,
    pub anomaly_rate: f64,
    pub grid: Vec<GridEntry>,
    /// Where telemetry comes from (`spec.source`).
    pub source: Source,
    /// Redis stream base key of this race (unique per namespace and name).
    pub stream: String,
    pub simulator_image: String,
    pub simulator_replicas: i32,
    pub simulator_rate: Option<u32>,
    pub simulator_resources: Option<ResourceRequirements>,
    pub processor_image: String,
    /// `None` while the HPA owns the replica count.
    pub processor_replicas: Option<i32>,
    /// Stream partitions (see [`partitions`]).
    pub partitions: u16,
    pub processor_resources: Option<ResourceRequirements>,
    pub autoscaling: Option<Autoscaling>,
    pub api_key: SecretKeyRef,
    /// Whether the operator generates the API key Secret.
    pub api_key_generated: bool,
    pub allowed_clients: Vec<NetworkPolicyPeer>,
    /// The API server's addresses (the operator's `--api-server-cidr`), admitted to the
    /// processor's API for its service proxy.
    pub api_server_cidrs: Vec<String>,
    pub redis: Datastore,
    pub postgres: Datastore,
    /// Whether the datastores' volumes and the PostgreSQL password outlive the race.
    pub deletion_policy: DeletionPolicy,
    /// The race has finished (the processor said so, and the status recorded it): what
    /// only the race needed is released (the simulator or the game's gateway; the
    /// processor down to its minimum), the API and the data stay.
    pub finished: bool,
    /// What monitors the race (`spec.monitoring`).
    pub monitoring: Monitoring,
    /// The post-race pipeline's settings.
    pub post_race: PostRaceSpec,
    /// The validated DAG, or why it cannot run (the race runs regardless; the
    /// PipelineSucceeded condition says why no pipeline will).
    pub post_race_dag: Result<Dag, PipelineError>,
}

/// Why a pipeline cannot run: a condition reason and a message naming what to fix.
#[derive(Clone, Debug, PartialEq)]
pub struct PipelineError {
    pub reason: &'static str,
    pub message: String,
}

/// Teams of the 2024 grid the simulator uses when `spec.grid` is empty (a test keeps this
/// equal to the workloads' grid): the default DAG persists each.
pub const DEFAULT_TEAMS: [&str; 10] = [
    "McLaren",
    "Ferrari",
    "Red Bull Racing",
    "Mercedes",
    "Aston Martin",
    "Alpine",
    "Williams",
    "RB",
    "Haas F1 Team",
    "Kick Sauber",
];

/// What monitors a race, as the builders read it.
#[derive(Clone, Debug, PartialEq)]
pub enum Monitoring {
    /// The race's own Prometheus and Grafana.
    Owned(OwnedStack),
    /// PodMonitors, a PrometheusRule and dashboard ConfigMaps for the cluster's
    /// Prometheus Operator and Grafana.
    PrometheusOperator(ClusterStack),
    None,
}

impl Monitoring {
    /// The race's own stack, in mode `owned`.
    pub fn owned(&self) -> Option<&OwnedStack> {
        match self {
            Monitoring::Owned(o) => Some(o),
            _ => None,
        }
    }

    /// The cluster's stack, in mode `prometheusOperator`.
    pub fn cluster(&self) -> Option<&ClusterStack> {
        match self {
            Monitoring::PrometheusOperator(c) => Some(c),
            _ => None,
        }
    }

    pub fn mode(&self) -> MonitoringMode {
        match self {
            Monitoring::Owned(_) => MonitoringMode::Owned,
            Monitoring::PrometheusOperator(_) => MonitoringMode::PrometheusOperator,
            Monitoring::None => MonitoringMode::None,
        }
    }
}

/// The race's Prometheus and Grafana.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnedStack {
    pub retention: String,
    pub prometheus_image: String,
    pub grafana_image: String,
    /// Namespace of the operator, whose Services the race's Prometheus scrapes for
    /// operator metrics and this namespace's container metrics (`/cadvisor/<ns>`).
    pub operator_namespace: String,
    /// Name of the operator's Service (`<name>-metrics` is its headless twin).
    pub operator_service: String,
}

/// The cluster's Prometheus Operator and Grafana, as the race's objects address them.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterStack {
    /// Extra labels of the PodMonitors and the PrometheusRule (the Prometheus's selectors).
    pub labels: BTreeMap<String, String>,
    /// Where KEDA queries; `Some` whenever `engine: keda`.
    pub prometheus_url: Option<String>,
    /// Who may scrape the processor (never empty: the default peer is filled in).
    pub prometheus_peers: Vec<NetworkPolicyPeer>,
    /// Label (key, value) that makes Grafana's sidecar load a dashboard ConfigMap.
    pub dashboard_label: (String, String),
    /// Annotation (key, value) naming the dashboards' Grafana folder.
    pub dashboard_folder: (String, String),
}

/// The scraper the processor admits when the spec names none: Prometheus pods of the
/// Prometheus Operator (it labels them `app.kubernetes.io/name: prometheus`), any namespace.
pub fn default_prometheus_peer() -> NetworkPolicyPeer {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector::default()),
        pod_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([(
                "app.kubernetes.io/name".into(),
                "prometheus".into(),
            )])),
            ..LabelSelector::default()
        }),
        ..NetworkPolicyPeer::default()
    }
}

/// Why a spec cannot be reconciled. `reason()` is the condition reason and Event reason.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    #[error("grid: car number {0} appears more than once")]
    DuplicateCar(u8),
    #[error("{field}: Secret {name:?} not found in namespace {namespace:?}")]
    SecretNotFound {
        field: &'static str,
        name: String,
        namespace: String,
    },
    #[error("{field}: Secret {name:?} has no key {key:?}")]
    SecretKeyMissing {
        field: &'static str,
        name: String,
        key: String,
    },
    #[error("processor.autoscaling: minReplicas {min} exceeds maxReplicas {max}")]
    ReplicaBounds { min: i32, max: i32 },
    #[error("{0} must set exactly one of managed, external or cloudNativePG")]
    DatastoreChoice(&'static str),
    #[error(
        "redis.cloudNativePG: CloudNativePG runs PostgreSQL, not Redis; use redis.managed or redis.external"
    )]
    CloudNativePGOnRedis,
    #[error(
        "postgres.external.clientCertSecretRef: client certificates are not supported for PostgreSQL (the workloads authenticate with the URL's credentials); remove it"
    )]
    PostgresClientCert,
    #[error(
        "postgres.cloudNativePG is set, but the cluster does not serve clusters.postgresql.cnpg.io/v1: install CloudNativePG (https://cloudnative-pg.io) or use postgres.managed or postgres.external"
    )]
    CloudNativePGNotInstalled,
    #[error("metadata.namespace is missing")]
    NoNamespace,
    #[error(
        "processor.autoscaling.engine is keda, but monitoring is off (mode none or enabled: false): the KEDA Prometheus trigger needs a Prometheus"
    )]
    KedaWithoutMonitoring,
    #[error(
        "processor.autoscaling.engine is keda and monitoring.mode is prometheusOperator, but monitoring.prometheusOperator.prometheusUrl is not set: the KEDA Prometheus trigger needs the cluster Prometheus's address"
    )]
    KedaWithoutPrometheusUrl,
    #[error(
        "monitoring.enabled is false but monitoring.mode is {0}: enabled: false means mode: none; drop enabled or set mode: none"
    )]
    MonitoringContradiction(&'static str),
    #[error(
        "monitoring.mode is prometheusOperator, but the cluster does not serve podmonitors and prometheusrules of monitoring.coreos.com/v1: install the Prometheus Operator (e.g. kube-prometheus-stack) or set monitoring.mode: owned"
    )]
    PrometheusOperatorNotInstalled,
    #[error(
        "processor.autoscaling.engine is keda, but the cluster does not serve scaledobjects.keda.sh/v1alpha1: install KEDA (https://keda.sh) or set engine: hpa"
    )]
    KedaNotInstalled,
    #[error(transparent)]
    Source(#[from] SourceError),
}

impl SpecError {
    /// Static reason for conditions, Events and metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            SpecError::DuplicateCar(_) => "InvalidGrid",
            SpecError::SecretNotFound { .. } => "SecretNotFound",
            SpecError::SecretKeyMissing { .. } => "SecretKeyMissing",
            SpecError::ReplicaBounds { .. } => "InvalidAutoscaling",
            SpecError::DatastoreChoice(_) => "InvalidDatastore",
            SpecError::CloudNativePGOnRedis => "InvalidDatastore",
            SpecError::PostgresClientCert => "InvalidDatastore",
            SpecError::CloudNativePGNotInstalled => "CloudNativePGNotInstalled",
            SpecError::NoNamespace => "InvalidObject",
            SpecError::KedaWithoutMonitoring => "InvalidAutoscaling",
            SpecError::KedaWithoutPrometheusUrl => "InvalidAutoscaling",
            SpecError::KedaNotInstalled => "KedaNotInstalled",
            SpecError::MonitoringContradiction(_) => "InvalidMonitoring",
            SpecError::PrometheusOperatorNotInstalled => "PrometheusOperatorNotInstalled",
            SpecError::Source(e) => e.reason(),
        }
    }
}

/// Images of this operator's version (overridable per RaceSession) and where the
/// operator itself can be reached.
#[derive(Clone, Debug, PartialEq)]
pub struct Defaults {
    pub workloads: String,
    pub redis: String,
    pub postgres: String,
    pub prometheus: String,
    pub grafana: String,
    /// Namespace this operator runs in (see [`OwnedStack::operator_namespace`]).
    pub operator_namespace: String,
    /// Its Service (see [`OwnedStack::operator_service`]).
    pub operator_service: String,
    /// Where the API server's proxied requests come from (CIDRs): admitted to the
    /// processor's API, for `kubectl pitstop` on clusters that enforce NetworkPolicies.
    pub api_server_cidrs: Vec<String>,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            workloads: format!("ghcr.io/pitstop-io/pitstop:{}", env!("CARGO_PKG_VERSION")),
            redis: "redis:7.4-alpine".into(),
            postgres: "postgres:16-alpine".into(),
            prometheus: "prom/prometheus:v2.55.1".into(),
            grafana: "grafana/grafana:11.3.0".into(),
            operator_namespace: "pitstop-system".into(),
            operator_service: "pitstop-operator".into(),
            api_server_cidrs: Vec::new(),
        }
    }
}

/// What the observe step found that validation depends on: the keys of the Secrets the
/// spec references (`None` = the Secret does not exist) and whether KEDA and the
/// Prometheus Operator are installed.
pub trait Observations {
    fn keys(&self, name: &str) -> Option<BTreeSet<String>>;
    /// Whether the cluster serves KEDA's ScaledObject (asked only for `engine: keda`).
    fn keda_installed(&self) -> bool {
        false
    }
    /// Whether the cluster serves the Prometheus Operator's PodMonitor and PrometheusRule
    /// (asked only for `monitoring.mode: prometheusOperator`).
    fn prometheus_operator_installed(&self) -> bool {
        false
    }
    /// Whether the cluster serves CloudNativePG's Cluster (asked only for
    /// `postgres.cloudNativePG`).
    fn cloudnative_pg_installed(&self) -> bool {
        false
    }
}

impl Observations for std::collections::BTreeMap<String, BTreeSet<String>> {
    fn keys(&self, name: &str) -> Option<BTreeSet<String>> {
        self.get(name).cloned()
    }
}

fn check_secret(
    secrets: &dyn Observations,
    field: &'static str,
    r: &SecretKeyRef,
    namespace: &str,
) -> Result<(), SpecError> {
    let keys = secrets
        .keys(&r.name)
        .ok_or_else(|| SpecError::SecretNotFound {
            field,
            name: r.name.clone(),
            namespace: namespace.into(),
        })?;
    if keys.contains(&r.key) {
        Ok(())
    } else {
        Err(SpecError::SecretKeyMissing {
            field,
            name: r.name.clone(),
            key: r.key.clone(),
        })
    }
}

fn datastore(
    spec: &DatastoreSpec,
    field: &'static str,
    default_image: &str,
    secrets: &dyn Observations,
    ns: &str,
) -> Result<Datastore, SpecError> {
    match (&spec.managed, &spec.external, &spec.cloud_native_pg) {
        (Some(m), None, None) => Ok(Datastore::Managed {
            persistence: m.persistence,
            storage: m.storage.clone(),
            storage_class_name: m.storage_class_name.clone(),
            image: m.image.clone().unwrap_or_else(|| default_image.into()),
        }),
        (None, Some(e), None) => {
            check_secret(secrets, field, &e.url_secret_ref, ns)?;
            if let Some(ca) = &e.ca_secret_ref {
                check_secret(secrets, ca_field(field), ca, ns)?;
            }
            if let Some(name) = &e.client_cert_secret_ref {
                if field == "postgres" {
                    return Err(SpecError::PostgresClientCert);
                }
                for key in [TLS_CERT_KEY, TLS_KEY_KEY] {
                    let r = SecretKeyRef {
                        name: name.clone(),
                        key: key.into(),
                    };
                    check_secret(secrets, "redis.external.clientCertSecretRef", &r, ns)?;
                }
            }
            Ok(Datastore::External {
                url: e.url_secret_ref.clone(),
                ca: e.ca_secret_ref.clone(),
                client_cert: e.client_cert_secret_ref.clone(),
                ports: e.ports.clone(),
            })
        }
        (None, None, Some(_)) if field == "redis" => Err(SpecError::CloudNativePGOnRedis),
        (None, None, Some(c)) => {
            if !secrets.cloudnative_pg_installed() {
                return Err(SpecError::CloudNativePGNotInstalled);
            }
            Ok(Datastore::CloudNativePG {
                instances: c.instances,
                storage: c.storage.clone(),
                storage_class_name: c.storage_class_name.clone(),
                image_name: c.image_name.clone(),
            })
        }
        _ => Err(SpecError::DatastoreChoice(field)),
    }
}

/// The field of a datastore's `caSecretRef`, as errors name it.
fn ca_field(datastore: &str) -> &'static str {
    if datastore == "redis" {
        "redis.external.caSecretRef"
    } else {
        "postgres.external.caSecretRef"
    }
}

/// Observations for rendering a RaceSession without a cluster (`pitstop-operator render`):
/// every Secret the spec references exists with the referenced key, KEDA and the
/// Prometheus Operator are installed.
pub struct Assumed(std::collections::BTreeMap<String, BTreeSet<String>>);

impl Assumed {
    pub fn from_spec(race: &RaceSession) -> Self {
        let spec = &race.spec;
        let refs = [
            spec.processor.api_key_secret_ref.as_ref(),
            spec.redis.external.as_ref().map(|e| &e.url_secret_ref),
            spec.redis
                .external
                .as_ref()
                .and_then(|e| e.ca_secret_ref.as_ref()),
            spec.postgres.external.as_ref().map(|e| &e.url_secret_ref),
            spec.postgres
                .external
                .as_ref()
                .and_then(|e| e.ca_secret_ref.as_ref()),
            spec.post_race.webhook_secret_ref.as_ref(),
        ];
        let mut map = std::collections::BTreeMap::<String, BTreeSet<String>>::new();
        for r in refs.into_iter().flatten() {
            map.entry(r.name.clone()).or_default().insert(r.key.clone());
        }
        let client_cert = spec
            .redis
            .external
            .as_ref()
            .and_then(|e| e.client_cert_secret_ref.as_ref());
        if let Some(name) = client_cert {
            map.entry(name.clone())
                .or_default()
                .extend([TLS_CERT_KEY.to_string(), TLS_KEY_KEY.to_string()]);
        }
        Assumed(map)
    }
}

impl Observations for Assumed {
    fn keys(&self, name: &str) -> Option<BTreeSet<String>> {
        self.0.get(name).cloned()
    }
    fn keda_installed(&self) -> bool {
        true
    }
    fn prometheus_operator_installed(&self) -> bool {
        true
    }
    fn cloudnative_pg_installed(&self) -> bool {
        true
    }
}

/// Name of the generated API key Secret.
pub fn api_key_secret_name(race: &str) -> String {
    format!("{race}-api-key")
}

/// Validates a RaceSession against the observed Secrets.
pub fn validate(
    race: &RaceSession,
    secrets: &dyn Observations,
    images: &Defaults,
) -> Result<Model, SpecError> {
    let spec = &race.spec;
    let namespace = race.namespace().ok_or(SpecError::NoNamespace)?;
    let name = race.name_any();
    let mut seen = BTreeSet::new();
    for g in &spec.grid {
        if !seen.insert(g.car) {
            return Err(SpecError::DuplicateCar(g.car));
        }
    }
    let a = &spec.processor.autoscaling;
    // The CRD's CEL rule catches this at admission; checked again for objects created
    // before the rule existed or on servers without CEL.
    if a.enabled && a.min_replicas > a.max_replicas {
        return Err(SpecError::ReplicaBounds {
            min: a.min_replicas,
            max: a.max_replicas,
        });
    }
    let source = source::validate(spec, &images.workloads)?;
    let monitoring = validate_monitoring(&spec.monitoring, secrets, images)?;
    if a.enabled && a.engine == AutoscalingEngine::Keda {
        match &monitoring {
            Monitoring::None => return Err(SpecError::KedaWithoutMonitoring),
            Monitoring::PrometheusOperator(c) if c.prometheus_url.is_none() => {
                return Err(SpecError::KedaWithoutPrometheusUrl);
            }
            _ => {}
        }
        if !secrets.keda_installed() {
            return Err(SpecError::KedaNotInstalled);
        }
    }
    let (api_key, api_key_generated) = match &spec.processor.api_key_secret_ref {
        Some(r) => {
            check_secret(secrets, "processor.apiKeySecretRef", r, &namespace)?;
            (r.clone(), false)
        }
        None => (
            SecretKeyRef {
                name: api_key_secret_name(&name),
                key: "api-key".into(),
            },
            true,
        ),
    };
    let redis = datastore(&spec.redis, "redis", &images.redis, secrets, &namespace)?;
    let postgres = datastore(
        &spec.postgres,
        "postgres",
        &images.postgres,
        secrets,
        &namespace,
    )?;
    // Teams in grid order, each once.
    let mut teams: Vec<String> = Vec::new();
    let grid_teams: Vec<String> = if spec.grid.is_empty() {
        DEFAULT_TEAMS.iter().map(|t| t.to_string()).collect()
    } else {
        spec.grid.iter().map(|g| g.team.clone()).collect()
    };
    for t in grid_teams {
        if !teams.contains(&t) {
            teams.push(t);
        }
    }
    let post_race_dag = crate::post_race::dag::validate(&spec.post_race, &teams)
        .map_err(|e| PipelineError {
            reason: "InvalidPipeline",
            message: e.to_string(),
        })
        .and_then(|dag| match &spec.post_race.webhook_secret_ref {
            Some(r) => check_secret(secrets, "postRace.webhookSecretRef", r, &namespace)
                .map(|()| dag)
                .map_err(|e| PipelineError {
                    reason: e.reason(),
                    message: e.to_string(),
                }),
            None => Ok(dag),
        });
    Ok(Model {
        post_race: spec.post_race.clone(),
        post_race_dag,
        stream: format!("pitstop:{namespace}:{name}"),
        uid: race.uid().unwrap_or_default(),
        circuit: spec.circuit,
        laps: spec.laps,
        time_scale: spec.time_scale,
        seed: spec.seed,
        sample_hz: spec.sample_hz,
        anomaly_rate: spec.anomaly_rate,
        grid: spec.grid.clone(),
        source,
        simulator_image: spec
            .simulator
            .image
            .clone()
            .unwrap_or_else(|| images.workloads.clone()),
        simulator_replicas: spec.simulator.replicas,
        simulator_rate: spec.simulator.messages_per_second,
        simulator_resources: spec.simulator.resources.clone(),
        processor_image: spec
            .processor
            .image
            .clone()
            .unwrap_or_else(|| images.workloads.clone()),
        processor_replicas: (!a.enabled).then_some(spec.processor.replicas),
        partitions: partitions(race),
        processor_resources: spec.processor.resources.clone(),
        autoscaling: a.enabled.then_some(Autoscaling {
            engine: a.engine,
            min_replicas: a.min_replicas,
            max_replicas: a.max_replicas,
            cpu_percent: a.target_cpu_utilization_percentage,
            messages_per_second: a.target_messages_per_second_per_pod,
        }),
        api_key,
        api_key_generated,
        allowed_clients: spec.processor.allowed_clients.clone(),
        api_server_cidrs: images.api_server_cidrs.clone(),
        redis,
        postgres,
        deletion_policy: spec.deletion_policy,
        finished: race
            .status
            .as_ref()
            .and_then(|s| s.race.as_ref())
            .is_some_and(|p| p.finished),
        monitoring,
        namespace,
        name,
    })
}

/// `spec.monitoring` into the stack the builders address: `enabled: false` with another
/// mode than `none` is a contradiction (the CRD's CEL rule says so at admission too), and
/// `prometheusOperator` needs its CRDs served.
fn validate_monitoring(
    spec: &MonitoringSpec,
    observed: &dyn Observations,
    images: &Defaults,
) -> Result<Monitoring, SpecError> {
    if let (false, Some(mode)) = (spec.enabled, spec.mode)
        && mode != MonitoringMode::None
    {
        return Err(SpecError::MonitoringContradiction(mode.as_str()));
    }
    Ok(match spec.effective_mode() {
        MonitoringMode::None => Monitoring::None,
        MonitoringMode::Owned => Monitoring::Owned(OwnedStack {
            retention: spec.retention.clone(),
            prometheus_image: spec
                .prometheus_image
                .clone()
                .unwrap_or_else(|| images.prometheus.clone()),
            grafana_image: spec
                .grafana_image
                .clone()
                .unwrap_or_else(|| images.grafana.clone()),
            operator_namespace: images.operator_namespace.clone(),
            operator_service: images.operator_service.clone(),
        }),
        MonitoringMode::PrometheusOperator => {
            if !observed.prometheus_operator_installed() {
                return Err(SpecError::PrometheusOperatorNotInstalled);
            }
            let po = spec.prometheus_operator.clone().unwrap_or_default();
            let d = po.dashboards;
            Monitoring::PrometheusOperator(ClusterStack {
                labels: po.labels,
                prometheus_url: po.prometheus_url,
                prometheus_peers: if po.prometheus_peers.is_empty() {
                    vec![default_prometheus_peer()]
                } else {
                    po.prometheus_peers
                },
                dashboard_label: (d.label, d.label_value),
                dashboard_folder: (d.folder_annotation, d.folder),
            })
        }
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::BTreeMap;

    pub(crate) fn race(yaml_spec: &str) -> RaceSession {
        let yaml = format!(
            "apiVersion: pitstop.io/v1alpha1\nkind: RaceSession\nmetadata:\n  name: monza\n  namespace: racing\n  uid: 6f1c0c4e-0000-4000-8000-000000000001\n  generation: 1\nspec:\n{}",
            yaml_spec
                .lines()
                .map(|l| format!("  {l}\n"))
                .collect::<String>()
        );
        serde_yaml::from_str(&yaml).unwrap()
    }

    fn no_secrets() -> BTreeMap<String, BTreeSet<String>> {
        BTreeMap::new()
    }

    /// One partition per processor the race may run, at least four and at most 64; once
    /// the status records a count, that count stays whatever the spec says.
    #[test]
    fn partitions_follow_the_processor_count_and_then_stay() {
        let cases = [
            ("{}", 4),
            ("processor:\n  autoscaling: {maxReplicas: 8}", 8),
            ("processor:\n  autoscaling: {maxReplicas: 64}", 64),
            (
                "processor:\n  replicas: 2\n  autoscaling: {enabled: false}",
                4,
            ),
            (
                "processor:\n  replicas: 12\n  autoscaling: {enabled: false}",
                12,
            ),
        ];
        for (spec, want) in cases {
            assert_eq!(partitions(&race(spec)), want, "{spec}");
        }
        let mut running = race("processor:\n  autoscaling: {maxReplicas: 16}");
        running.status = Some(crate::api::RaceSessionStatus {
            partitions: Some(8),
            ..Default::default()
        });
        assert_eq!(partitions(&running), 8, "recorded at the start, kept");
    }

    /// Defaults give managed datastores, a generated API key and an HPA that owns replicas.
    #[test]
    fn defaults() {
        let m = validate(&race("circuit: monza"), &no_secrets(), &Defaults::default()).unwrap();
        assert_eq!(m.stream, "pitstop:racing:monza");
        assert!(matches!(
            m.redis,
            Datastore::Managed {
                persistence: true,
                ..
            }
        ));
        assert!(m.api_key_generated && m.api_key.name == "monza-api-key");
        assert_eq!(m.processor_replicas, None, "the HPA owns the count");
        assert_eq!(m.autoscaling.as_ref().unwrap().messages_per_second, 200);
    }

    /// A referenced Secret that is missing, or lacks the key, is named precisely.
    #[test]
    fn missing_external_secret_is_named() {
        let r = race("redis:\n  external:\n    urlSecretRef: {name: redis-url, key: url}");
        let err = validate(&r, &no_secrets(), &Defaults::default()).unwrap_err();
        assert_eq!(err.reason(), "SecretNotFound");
        assert_eq!(
            err.to_string(),
            "redis: Secret \"redis-url\" not found in namespace \"racing\""
        );
        let secrets =
            BTreeMap::from([("redis-url".to_string(), BTreeSet::from(["uri".to_string()]))]);
        let err = validate(&r, &secrets, &Defaults::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "redis: Secret \"redis-url\" has no key \"url\""
        );
        let ok = BTreeMap::from([("redis-url".to_string(), BTreeSet::from(["url".to_string()]))]);
        assert!(matches!(
            validate(&r, &ok, &Defaults::default()).unwrap().redis,
            Datastore::External { .. }
        ));
    }

    /// TLS references are checked like the URL's: a missing CA Secret or key, or a client
    /// certificate Secret without `tls.key`, is named with its field; a client
    /// certificate for PostgreSQL is refused with a reason (the workloads cannot use one).
    #[test]
    fn tls_references_are_checked() {
        let r = race(
            "redis:\n  external:\n    urlSecretRef: {name: redis-url, key: url}\n    caSecretRef: {name: redis-ca, key: ca.crt}\n    clientCertSecretRef: redis-client",
        );
        let mut secrets =
            BTreeMap::from([("redis-url".to_string(), BTreeSet::from(["url".to_string()]))]);
        let err = validate(&r, &secrets, &Defaults::default()).unwrap_err();
        assert_eq!(err.reason(), "SecretNotFound");
        assert_eq!(
            err.to_string(),
            "redis.external.caSecretRef: Secret \"redis-ca\" not found in namespace \"racing\""
        );
        secrets.insert("redis-ca".into(), BTreeSet::from(["tls.crt".to_string()]));
        let err = validate(&r, &secrets, &Defaults::default()).unwrap_err();
        assert_eq!(err.reason(), "SecretKeyMissing");
        assert_eq!(
            err.to_string(),
            "redis.external.caSecretRef: Secret \"redis-ca\" has no key \"ca.crt\""
        );
        secrets.insert("redis-ca".into(), BTreeSet::from(["ca.crt".to_string()]));
        secrets.insert(
            "redis-client".into(),
            BTreeSet::from(["tls.crt".to_string()]),
        );
        let err = validate(&r, &secrets, &Defaults::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "redis.external.clientCertSecretRef: Secret \"redis-client\" has no key \"tls.key\""
        );
        secrets.insert(
            "redis-client".into(),
            BTreeSet::from(["tls.crt".to_string(), "tls.key".to_string()]),
        );
        let m = validate(&r, &secrets, &Defaults::default()).unwrap();
        assert_eq!(
            m.redis,
            Datastore::External {
                url: SecretKeyRef {
                    name: "redis-url".into(),
                    key: "url".into()
                },
                ca: Some(SecretKeyRef {
                    name: "redis-ca".into(),
                    key: "ca.crt".into()
                }),
                client_cert: Some("redis-client".into()),
                ports: vec![],
            }
        );

        let pg = race(
            "postgres:\n  external:\n    urlSecretRef: {name: pg-url, key: url}\n    clientCertSecretRef: pg-client",
        );
        let secrets = BTreeMap::from([
            ("pg-url".to_string(), BTreeSet::from(["url".to_string()])),
            (
                "pg-client".to_string(),
                BTreeSet::from(["tls.crt".to_string(), "tls.key".to_string()]),
            ),
        ]);
        let err = validate(&pg, &secrets, &Defaults::default()).unwrap_err();
        assert_eq!(err, SpecError::PostgresClientCert);
        assert_eq!(err.reason(), "InvalidDatastore");
    }

    /// `cloudNativePG` is PostgreSQL's only, needs CloudNativePG served, and takes the
    /// place of the other two.
    #[test]
    fn cloudnative_pg_choice() {
        struct WithCnpg;
        impl Observations for WithCnpg {
            fn keys(&self, _: &str) -> Option<BTreeSet<String>> {
                None
            }
            fn cloudnative_pg_installed(&self) -> bool {
                true
            }
        }
        let pg = race("postgres:\n  cloudNativePG: {instances: 3}");
        let err = validate(&pg, &no_secrets(), &Defaults::default()).unwrap_err();
        assert_eq!(err, SpecError::CloudNativePGNotInstalled);
        assert_eq!(err.reason(), "CloudNativePGNotInstalled");
        assert!(err.to_string().contains("clusters.postgresql.cnpg.io/v1"));
        let m = validate(&pg, &WithCnpg, &Defaults::default()).unwrap();
        assert_eq!(
            m.postgres,
            Datastore::CloudNativePG {
                instances: 3,
                storage: "1Gi".into(),
                storage_class_name: None,
                image_name: None,
            }
        );
        let redis = race("redis:\n  cloudNativePG: {}");
        let err = validate(&redis, &WithCnpg, &Defaults::default()).unwrap_err();
        assert_eq!(err, SpecError::CloudNativePGOnRedis);
        assert_eq!(err.reason(), "InvalidDatastore");
        let both = race("postgres:\n  managed: {}\n  cloudNativePG: {}");
        assert_eq!(
            validate(&both, &WithCnpg, &Defaults::default()).unwrap_err(),
            SpecError::DatastoreChoice("postgres")
        );
    }

    /// `enabled` and `mode` combine: no mode is `owned`, `enabled: false` is `none` (and
    /// contradicts any other mode), `prometheusOperator` needs its CRDs served.
    #[test]
    fn monitoring_modes() {
        struct WithPrometheusOperator;
        impl Observations for WithPrometheusOperator {
            fn keys(&self, _: &str) -> Option<BTreeSet<String>> {
                None
            }
            fn prometheus_operator_installed(&self) -> bool {
                true
            }
        }
        let mode = |spec: &str| {
            validate(&race(spec), &WithPrometheusOperator, &Defaults::default())
                .map(|m| m.monitoring.mode())
        };
        assert_eq!(mode("circuit: monza"), Ok(MonitoringMode::Owned));
        assert_eq!(
            mode("monitoring: {enabled: false}"),
            Ok(MonitoringMode::None)
        );
        assert_eq!(mode("monitoring: {mode: none}"), Ok(MonitoringMode::None));
        assert_eq!(
            mode("monitoring: {enabled: false, mode: none}"),
            Ok(MonitoringMode::None)
        );
        assert_eq!(
            mode("monitoring: {mode: prometheusOperator}"),
            Ok(MonitoringMode::PrometheusOperator)
        );
        let err = mode("monitoring: {enabled: false, mode: owned}").unwrap_err();
        assert_eq!(err, SpecError::MonitoringContradiction("owned"));
        assert_eq!(err.reason(), "InvalidMonitoring");
        assert!(err.to_string().contains("set mode: none"), "{err}");

        let missing = validate(
            &race("monitoring: {mode: prometheusOperator}"),
            &no_secrets(),
            &Defaults::default(),
        )
        .unwrap_err();
        assert_eq!(missing, SpecError::PrometheusOperatorNotInstalled);
        assert_eq!(missing.reason(), "PrometheusOperatorNotInstalled");
        assert!(
            missing.to_string().contains("monitoring.coreos.com"),
            "{missing}"
        );

        // Defaults of the sidecar: kube-prometheus-stack's.
        let m = validate(
            &race("monitoring: {mode: prometheusOperator}"),
            &WithPrometheusOperator,
            &Defaults::default(),
        )
        .unwrap();
        let c = m.monitoring.cluster().unwrap();
        assert_eq!(c.dashboard_label, ("grafana_dashboard".into(), "1".into()));
        assert_eq!(
            c.dashboard_folder,
            ("grafana_folder".into(), "pitstop".into())
        );
        assert_eq!(c.prometheus_peers, [default_prometheus_peer()]);
        assert!(m.monitoring.owned().is_none());
    }

    /// Grid and autoscaling mistakes are caught even without the API server's CEL.
    #[test]
    fn spec_mistakes() {
        let dup = race(
            "grid:\n- {car: 16, driver: LEC, team: Ferrari}\n- {car: 16, driver: SAI, team: Ferrari}",
        );
        assert_eq!(
            validate(&dup, &no_secrets(), &Defaults::default()).unwrap_err(),
            SpecError::DuplicateCar(16)
        );
        let bounds = race("processor:\n  autoscaling: {minReplicas: 5, maxReplicas: 2}");
        assert_eq!(
            validate(&bounds, &no_secrets(), &Defaults::default())
                .unwrap_err()
                .reason(),
            "InvalidAutoscaling"
        );
        let manual = race("processor:\n  replicas: 3\n  autoscaling: {enabled: false}");
        let m = validate(&manual, &no_secrets(), &Defaults::default()).unwrap();
        assert_eq!((m.processor_replicas, m.autoscaling), (Some(3), None));
    }
}
