//! Validate: a RaceSession spec plus what was observed in the cluster becomes a
//! [`Model`] the builders read, or a [`SpecError`] with a reason for the `Stalled`
//! condition. Pure: no API calls.

use crate::api::{
    AutoscalingEngine, Circuit, DatastoreSpec, GridEntry, PostRaceSpec, RaceSession, SecretKeyRef,
};
use crate::post_race::Dag;
use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::api::networking::v1::NetworkPolicyPeer;
use kube::ResourceExt;
use std::collections::BTreeSet;

/// Stream partitions of every race (the processor's lease unit).
pub use pitstop_contract::PARTITIONS;

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
    },
}

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
    /// Redis stream base key of this race (unique per namespace and name).
    pub stream: String,
    pub simulator_image: String,
    pub simulator_replicas: i32,
    pub simulator_rate: Option<u32>,
    pub simulator_resources: Option<ResourceRequirements>,
    pub processor_image: String,
    /// `None` while the HPA owns the replica count.
    pub processor_replicas: Option<i32>,
    pub processor_resources: Option<ResourceRequirements>,
    pub autoscaling: Option<Autoscaling>,
    pub api_key: SecretKeyRef,
    /// Whether the operator generates the API key Secret.
    pub api_key_generated: bool,
    pub allowed_clients: Vec<NetworkPolicyPeer>,
    pub redis: Datastore,
    pub postgres: Datastore,
    /// `None` when `spec.monitoring.enabled` is false.
    pub monitoring: Option<Monitoring>,
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

/// The race's Prometheus and Grafana.
#[derive(Clone, Debug, PartialEq)]
pub struct Monitoring {
    pub retention: String,
    pub prometheus_image: String,
    pub grafana_image: String,
    /// Namespace of the operator, whose Services the race's Prometheus scrapes for
    /// operator metrics and this namespace's container metrics (`/cadvisor/<ns>`).
    pub operator_namespace: String,
    /// Name of the operator's Service (`<name>-metrics` is its headless twin).
    pub operator_service: String,
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
    #[error("{0} must set exactly one of managed or external")]
    DatastoreChoice(&'static str),
    #[error("metadata.namespace is missing")]
    NoNamespace,
    #[error(
        "processor.autoscaling.engine is keda, but monitoring.enabled is false: the KEDA Prometheus trigger queries the race's Prometheus"
    )]
    KedaWithoutMonitoring,
    #[error(
        "processor.autoscaling.engine is keda, but the cluster does not serve scaledobjects.keda.sh/v1alpha1: install KEDA (https://keda.sh) or set engine: hpa"
    )]
    KedaNotInstalled,
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
            SpecError::NoNamespace => "InvalidObject",
            SpecError::KedaWithoutMonitoring => "InvalidAutoscaling",
            SpecError::KedaNotInstalled => "KedaNotInstalled",
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
    /// Namespace this operator runs in (see [`Monitoring::operator_namespace`]).
    pub operator_namespace: String,
    /// Its Service (see [`Monitoring::operator_service`]).
    pub operator_service: String,
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
        }
    }
}

/// What the observe step found that validation depends on: the keys of the Secrets the
/// spec references (`None` = the Secret does not exist) and whether KEDA is installed.
pub trait Observations {
    fn keys(&self, name: &str) -> Option<BTreeSet<String>>;
    /// Whether the cluster serves KEDA's ScaledObject (asked only for `engine: keda`).
    fn keda_installed(&self) -> bool {
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
    match (&spec.managed, &spec.external) {
        (Some(m), None) => Ok(Datastore::Managed {
            persistence: m.persistence,
            storage: m.storage.clone(),
            storage_class_name: m.storage_class_name.clone(),
            image: m.image.clone().unwrap_or_else(|| default_image.into()),
        }),
        (None, Some(e)) => {
            check_secret(secrets, field, &e.url_secret_ref, ns)?;
            Ok(Datastore::External {
                url: e.url_secret_ref.clone(),
            })
        }
        _ => Err(SpecError::DatastoreChoice(field)),
    }
}

/// Observations for rendering a RaceSession without a cluster (`pitstop-operator render`):
/// every Secret the spec references exists with the referenced key, KEDA is installed.
pub struct Assumed(std::collections::BTreeMap<String, BTreeSet<String>>);

impl Assumed {
    pub fn from_spec(race: &RaceSession) -> Self {
        let spec = &race.spec;
        let refs = [
            spec.processor.api_key_secret_ref.as_ref(),
            spec.redis.external.as_ref().map(|e| &e.url_secret_ref),
            spec.postgres.external.as_ref().map(|e| &e.url_secret_ref),
            spec.post_race.webhook_secret_ref.as_ref(),
        ];
        let mut map = std::collections::BTreeMap::<String, BTreeSet<String>>::new();
        for r in refs.into_iter().flatten() {
            map.entry(r.name.clone()).or_default().insert(r.key.clone());
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
    if a.enabled && a.engine == AutoscalingEngine::Keda {
        if !spec.monitoring.enabled {
            return Err(SpecError::KedaWithoutMonitoring);
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
        redis,
        postgres,
        monitoring: spec.monitoring.enabled.then(|| Monitoring {
            retention: spec.monitoring.retention.clone(),
            prometheus_image: spec
                .monitoring
                .prometheus_image
                .clone()
                .unwrap_or_else(|| images.prometheus.clone()),
            grafana_image: spec
                .monitoring
                .grafana_image
                .clone()
                .unwrap_or_else(|| images.grafana.clone()),
            operator_namespace: images.operator_namespace.clone(),
            operator_service: images.operator_service.clone(),
        }),
        namespace,
        name,
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
