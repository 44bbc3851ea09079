//! The `RaceSession` custom resource (`pitstop.io/v1alpha1`). Field doc comments become
//! the CRD's descriptions; CEL rules (`x-kubernetes-validations`) reject cross-field
//! mistakes at admission, before the operator sees them.

// Several `printcolumn(...)` entries share `type_ = "string"`; clippy reads them as one
// attribute repeated.
#![allow(clippy::duplicated_attributes)]

pub mod conditions;
mod formats;
mod monitoring;
pub mod reference;
mod source;
mod status;

pub use monitoring::*;
pub use source::*;
pub use status::*;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::api::networking::v1::NetworkPolicyPeer;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

/// A Formula 1 race whose telemetry pitstop simulates (or takes from the F1 game, OpenF1
/// or your clients: `source`), processes and stores: the operator turns it into a
/// simulator (or the source's gateway or replay), a stream processor with autoscaling and
/// a NetworkPolicy, Redis, PostgreSQL and monitoring, and keeps them converged.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "pitstop.io",
    version = "v1alpha1",
    kind = "RaceSession",
    plural = "racesessions",
    shortname = "race",
    category = "pitstop",
    namespaced,
    doc = "A Formula 1 race whose telemetry pitstop simulates, processes and stores. See https://github.com/pitstop-io/pitstop#racesession-reference.",
    status = "RaceSessionStatus",
    cel,
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Circuit", type_ = "string", json_path = ".spec.circuit"),
    printcolumn(name = "Lap", type_ = "integer", json_path = ".status.race.lap"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
// Recursive, so the formats of every nested type are rewritten too (the CRD inlines them).
#[schemars(transform = schemars::transform::RecursiveTransform(formats::kubernetes_formats))]
// The schema defaults every field, so "set" can only mean "not at its default"; mirrored
// by `RaceSessionSpec::simulator_settings` for servers without CEL.
#[x_kube(validation = Rule::new(SIMULATOR_SETTINGS_RULE).message(SIMULATOR_SETTINGS_MESSAGE))]
pub struct RaceSessionSpec {
    /// Circuit to race on. Immutable: a race does not change tracks.
    #[serde(default)]
    #[x_kube(validation = Rule::new("self == oldSelf").message("circuit is immutable"))]
    pub circuit: Circuit,
    /// Race distance in laps. Immutable.
    #[serde(default = "default_laps")]
    #[schemars(range(min = 1, max = 200))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("laps is immutable"))]
    pub laps: u16,
    /// Cars on the grid. Empty: the 2024 grid (20 cars, 10 teams).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 26))]
    pub grid: Vec<GridEntry>,
    /// Race seconds per wall-clock second: 1 is real time, 40 runs a 10-lap race in about
    /// 20 s. Immutable.
    #[serde(default = "default_time_scale")]
    #[schemars(range(min = 0.1, max = 1000.0))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("timeScale is immutable"))]
    pub time_scale: f64,
    /// Random seed: the same seed gives the same race. Immutable.
    #[serde(default = "default_seed")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("seed is immutable"))]
    pub seed: u64,
    /// Telemetry samples per second per car (4 like live timing, up to 60 like the F1 game).
    #[serde(default = "default_sample_hz")]
    #[schemars(range(min = 1, max = 60))]
    pub sample_hz: u16,
    /// Probability that a car suffers an injected anomaly on a lap (0 for a clean race).
    #[serde(default = "default_anomaly_rate")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub anomaly_rate: f64,
    /// The sensor simulator.
    #[serde(default)]
    pub simulator: SimulatorSpec,
    /// Where telemetry comes from (default: the simulator). Changing it on a running race
    /// replaces the old source's objects with the new one's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceSpec>,
    /// The stream processor.
    #[serde(default)]
    pub processor: ProcessorSpec,
    /// Redis holding the telemetry streams (`managed` or `external`).
    #[serde(default)]
    #[x_kube(validation = Rule::new("!has(self.cloudNativePG)").message("cloudNativePG is a PostgreSQL operator: redis takes managed or external"))]
    pub redis: DatastoreSpec,
    /// PostgreSQL holding the analytics (`managed`, `external` or `cloudNativePG`).
    #[serde(default)]
    #[x_kube(validation = Rule::new("!has(self.external) || !has(self.external.clientCertSecretRef)").message("postgres.external.clientCertSecretRef is not supported: the workloads authenticate to PostgreSQL with the URL's credentials; remove it"))]
    pub postgres: DatastoreSpec,
    /// What deleting the RaceSession does to its data: the volumes of the managed Redis
    /// and PostgreSQL and the generated PostgreSQL password that opens them, which go
    /// together. `delete`: they are deleted with the race, so a race created again under
    /// the same name starts afresh. `retain`: both are kept (PersistentVolumeClaims
    /// `data-<name>-redis-0`, `data-<name>-postgres-0`, Secret `<name>-postgres-auth`),
    /// so a RaceSession created again under the same name in the same namespace finds its
    /// data and the password that opens it: an unfinished race goes on from where it
    /// stopped, a finished one stays finished (condition `RetainedData`). Delete them
    /// yourself when done: `kubectl delete pvc,secret -l app.kubernetes.io/instance=<name>`.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// What monitors this race: its own Prometheus and Grafana, the cluster's Prometheus
    /// Operator and Grafana, or nothing.
    #[serde(default)]
    pub monitoring: MonitoringSpec,
    /// Post-race analytics: a DAG of Kubernetes Jobs run when the race finishes.
    #[serde(default)]
    pub post_race: PostRaceSpec,
}

/// With another source than the simulator, the simulator's own settings keep their
/// defaults. `circuit`, `laps` and `grid` are not among them: they name the race (and the
/// grid's teams are what the post-race DAG persists), whatever feeds it.
const SIMULATOR_SETTINGS_RULE: &str = "!has(self.source) || self.source.type == 'simulator' || (self.timeScale == 1.0 && self.seed == 1 && self.sampleHz == 20 && self.anomalyRate == 0.03 && self.simulator.replicas == 1 && !has(self.simulator.image) && !has(self.simulator.messagesPerSecond) && !has(self.simulator.resources))";
const SIMULATOR_SETTINGS_MESSAGE: &str = "timeScale, seed, sampleHz, anomalyRate and simulator are the simulator's settings: leave them out unless source.type is simulator (a race that set timeScale or seed, which are immutable, keeps its source: create a new RaceSession)";

impl RaceSessionSpec {
    /// The source type (absent: the simulator).
    pub fn source_type(&self) -> SourceType {
        self.source.as_ref().map(|s| s.type_).unwrap_or_default()
    }

    /// The simulator's settings this spec sets to something else than their defaults, by
    /// their field names (what the CEL rule refuses with another source).
    pub fn simulator_settings(&self) -> Vec<&'static str> {
        let s = &self.simulator;
        let simulator_default = s.replicas == 1
            && s.image.is_none()
            && s.messages_per_second.is_none()
            && s.resources.is_none();
        [
            ("timeScale", self.time_scale == default_time_scale()),
            ("seed", self.seed == default_seed()),
            ("sampleHz", self.sample_hz == default_sample_hz()),
            ("anomalyRate", self.anomaly_rate == default_anomaly_rate()),
            ("simulator", simulator_default),
        ]
        .into_iter()
        .filter(|(_, default)| !default)
        .map(|(name, _)| name)
        .collect()
    }
}

fn default_laps() -> u16 {
    10
}
fn default_time_scale() -> f64 {
    1.0
}
fn default_seed() -> u64 {
    1
}
fn default_sample_hz() -> u16 {
    20
}
fn default_anomaly_rate() -> f64 {
    0.03
}

/// Circuits the simulator knows.
#[derive(
    schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq,
)]
#[serde(rename_all = "lowercase")]
pub enum Circuit {
    #[default]
    Monza,
    Bahrain,
    Silverstone,
    Monaco,
    Melbourne,
    Baku,
    Zandvoort,
    Singapore,
    Imola,
}

impl Circuit {
    pub fn as_str(self) -> &'static str {
        match self {
            Circuit::Monza => "monza",
            Circuit::Bahrain => "bahrain",
            Circuit::Silverstone => "silverstone",
            Circuit::Monaco => "monaco",
            Circuit::Melbourne => "melbourne",
            Circuit::Baku => "baku",
            Circuit::Zandvoort => "zandvoort",
            Circuit::Singapore => "singapore",
            Circuit::Imola => "imola",
        }
    }
}

/// One car of a custom grid.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GridEntry {
    /// Race number.
    #[schemars(range(min = 1, max = 99))]
    pub car: u8,
    /// Driver code, e.g. LEC.
    #[schemars(length(min = 1, max = 16))]
    pub driver: String,
    /// Team name, e.g. Ferrari.
    #[schemars(length(min = 1, max = 32))]
    pub team: String,
}

/// The sensor simulator Deployment.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SimulatorSpec {
    /// Container image (default: the `pitstop` image of this operator's version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// 1 runs the race, 0 pauses it. A race has one simulator.
    #[serde(default = "one")]
    #[schemars(range(min = 0, max = 1))]
    pub replicas: i32,
    /// Cap on samples per second across all cars (default: no cap beyond the time scale).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 5000000))]
    pub messages_per_second: Option<u32>,
    /// CPU and memory (default: requests 100m/64Mi, limits 1/256Mi).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

fn one() -> i32 {
    1
}

impl Default for SimulatorSpec {
    fn default() -> Self {
        SimulatorSpec {
            image: None,
            replicas: 1,
            messages_per_second: None,
            resources: None,
        }
    }
}

/// The stream processor Deployment, its autoscaling and its ingest API.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProcessorSpec {
    /// Container image (default: the `pitstop` image of this operator's version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Replicas when autoscaling is disabled (with autoscaling the HPA owns the count).
    #[serde(default = "one")]
    #[schemars(range(min = 0, max = 64))]
    pub replicas: i32,
    /// CPU and memory (default: requests 200m/128Mi, limits 2/512Mi).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Horizontal autoscaling on CPU and messages per second per pod.
    #[serde(default)]
    pub autoscaling: AutoscalingSpec,
    /// Secret key holding the `POST /telemetry` API key. Absent: the operator generates a
    /// random key once, in the Secret `<name>-api-key` (key `api-key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_secret_ref: Option<SecretKeyRef>,
    /// Extra peers allowed to reach the processor's API (the simulator, Prometheus and the
    /// operator always are).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_clients: Vec<NetworkPolicyPeer>,
}

impl Default for ProcessorSpec {
    fn default() -> Self {
        ProcessorSpec {
            image: None,
            replicas: 1,
            resources: None,
            autoscaling: AutoscalingSpec::default(),
            api_key_secret_ref: None,
            allowed_clients: Vec::new(),
        }
    }
}

/// HorizontalPodAutoscaler settings.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.minReplicas <= self.maxReplicas").message("minReplicas must not exceed maxReplicas"))]
pub struct AutoscalingSpec {
    /// Whether the HPA manages the processor's replicas.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Fewest processor replicas.
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 64))]
    pub min_replicas: i32,
    /// Most processor replicas (the PitstopProcessorAtMaxReplicas alert fires at it).
    #[serde(default = "default_max_replicas")]
    #[schemars(range(min = 1, max = 64))]
    pub max_replicas: i32,
    /// Target average CPU utilisation, percent of requests.
    #[serde(default = "default_cpu", rename = "targetCPUUtilizationPercentage")]
    #[schemars(range(min = 1, max = 100))]
    pub target_cpu_utilization_percentage: i32,
    /// Target average of `pitstop_processor_messages_processed_per_second` per pod.
    #[serde(default = "default_mps")]
    #[schemars(range(min = 1, max = 1000000))]
    pub target_messages_per_second_per_pod: i32,
    /// What scales the processor: `hpa` (a HorizontalPodAutoscaler on CPU and the Pods
    /// metric served by prometheus-adapter) or `keda` (a KEDA ScaledObject with a Prometheus
    /// trigger and a CPU trigger; needs KEDA installed and a Prometheus: `monitoring.mode`
    /// `owned`, or `prometheusOperator` with `prometheusUrl`).
    #[serde(default)]
    pub engine: AutoscalingEngine,
}

/// The autoscaler behind `processor.autoscaling`.
#[derive(
    schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq,
)]
#[serde(rename_all = "lowercase")]
pub enum AutoscalingEngine {
    #[default]
    Hpa,
    Keda,
}

impl Default for AutoscalingSpec {
    fn default() -> Self {
        AutoscalingSpec {
            enabled: true,
            min_replicas: 1,
            max_replicas: default_max_replicas(),
            target_cpu_utilization_percentage: default_cpu(),
            target_messages_per_second_per_pod: default_mps(),
            engine: AutoscalingEngine::Hpa,
        }
    }
}

fn yes() -> bool {
    true
}
fn default_max_replicas() -> i32 {
    4
}
fn default_cpu() -> i32 {
    60
}
/// The autoscaler's per-pod target when the spec sets none (the original design's figure).
pub const DEFAULT_MESSAGES_PER_SECOND: i32 = 200;
fn default_mps() -> i32 {
    DEFAULT_MESSAGES_PER_SECOND
}

/// A key in a Secret of the RaceSession's namespace.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Secret name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key within the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// What deleting a RaceSession does to its data (`spec.deletionPolicy`).
#[derive(
    schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq,
)]
#[serde(rename_all = "lowercase")]
pub enum DeletionPolicy {
    #[default]
    Delete,
    Retain,
}

/// Either a datastore the operator runs (`managed`), one you run (`external`) or, for
/// PostgreSQL only, a CloudNativePG cluster the operator asks for (`cloudNativePG`).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(DATASTORE_CHOICE_RULE).message("set exactly one of managed, external or cloudNativePG"))]
pub struct DatastoreSpec {
    /// Run it in the cluster as a StatefulSet owned by the RaceSession.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed: Option<ManagedSpec>,
    /// Use an existing server; its URL (credentials included) is read from a Secret key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalSpec>,
    /// PostgreSQL only: a CloudNativePG `Cluster` (`postgresql.cnpg.io/v1`) named
    /// `<race>-postgres`, owned by the RaceSession; needs the CloudNativePG operator
    /// installed. The workloads connect to its `-rw` Service over TLS verified against
    /// the cluster's CA.
    #[serde(
        default,
        rename = "cloudNativePG",
        skip_serializing_if = "Option::is_none"
    )]
    pub cloud_native_pg: Option<CloudNativePGSpec>,
}

/// Exactly one of the three (mirrored by `model::validate` for servers without CEL).
const DATASTORE_CHOICE_RULE: &str = "(has(self.managed) ? 1 : 0) + (has(self.external) ? 1 : 0) + (has(self.cloudNativePG) ? 1 : 0) == 1";

impl Default for DatastoreSpec {
    fn default() -> Self {
        DatastoreSpec {
            managed: Some(ManagedSpec::default()),
            external: None,
            cloud_native_pg: None,
        }
    }
}

/// A datastore run by the operator.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ManagedSpec {
    /// Keep data on a PersistentVolumeClaim (Redis: with AOF). Without it data lives as
    /// long as the pod.
    #[serde(default = "yes")]
    pub persistence: bool,
    /// Size of the volume.
    #[serde(default = "default_storage")]
    #[schemars(regex(pattern = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$"))]
    pub storage: String,
    /// Storage class (default: the cluster's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    /// Container image (default: redis:7.4-alpine / postgres:16-alpine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

impl Default for ManagedSpec {
    fn default() -> Self {
        ManagedSpec {
            persistence: true,
            storage: default_storage(),
            storage_class_name: None,
            image: None,
        }
    }
}

fn default_storage() -> String {
    "1Gi".into()
}

/// A datastore you run.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSpec {
    /// Secret key holding the connection URL. Redis: `redis://` or `rediss://` (TLS), or
    /// for a Redis Cluster `redis+cluster://host:port[,host:port…]` or
    /// `rediss+cluster://…`. PostgreSQL: `postgres://` or `postgresql://`; its `sslmode`
    /// parameter wins over the default the operator sets with `caSecretRef`.
    pub url_secret_ref: SecretKeyRef,
    /// Secret key holding the CA certificate (PEM) the server's certificate must chain
    /// to. Mounted read-only at `/etc/pitstop/tls/<redis|postgres>/ca.crt`. PostgreSQL:
    /// also makes `verify-full` the default `sslmode` (the URL's own `sslmode` wins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_secret_ref: Option<SecretKeyRef>,
    /// Redis only: name of a `kubernetes.io/tls` Secret (keys `tls.crt`, `tls.key`) with
    /// the client certificate for a server that asks for one. Mounted read-only at
    /// `/etc/pitstop/tls/redis/tls.crt` and `tls.key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub client_cert_secret_ref: Option<String>,
    /// TCP ports the race's pods may reach the server on (their NetworkPolicy egress).
    /// Default: the datastore's standard port (6379 / 5432). Give every port a client
    /// is sent to: a TLS port such as Azure Cache's 6380, or each node port of a Redis
    /// Cluster whose nodes listen on several (7000–7005).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), inner(range(min = 1, max = 65535)))]
    pub ports: Vec<i32>,
}

/// A PostgreSQL cluster run by the CloudNativePG operator.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CloudNativePGSpec {
    /// PostgreSQL instances: one primary, the rest streaming replicas CloudNativePG fails
    /// over to. Default 2, so that losing the primary's node (a drain, an upgrade) fails
    /// over instead of stopping the race; CloudNativePG's anti-affinity is only
    /// preferred, so 2 still fits a single-node cluster.
    #[serde(default = "default_instances")]
    #[schemars(range(min = 1, max = 9))]
    pub instances: i32,
    /// Size of each instance's volume.
    #[serde(default = "default_storage")]
    #[schemars(regex(pattern = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$"))]
    pub storage: String,
    /// Storage class (default: the cluster's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    /// PostgreSQL image (default: CloudNativePG's default for its version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_name: Option<String>,
}

fn default_instances() -> i32 {
    2
}

impl Default for CloudNativePGSpec {
    fn default() -> Self {
        CloudNativePGSpec {
            instances: default_instances(),
            storage: default_storage(),
            storage_class_name: None,
            image_name: None,
        }
    }
}

/// Post-race analytics run as a DAG of Kubernetes Jobs (`pitstop job <step>`): the role
/// Airflow's `ferrari_grand_prix_dag` played, done natively.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PostRaceSpec {
    /// Start a run automatically when the processor has seen the chequered flag. Runs can
    /// always be started with the annotation `pitstop.io/run-pipeline`.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Tasks running at the same time.
    #[serde(default = "default_parallelism")]
    #[schemars(range(min = 1, max = 32))]
    pub parallelism: i32,
    /// The DAG. Empty: the grand-prix DAG (collect-telemetry → persist-team-<team> for every
    /// team → data-quality → aggregate → {report, notify}).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub tasks: Vec<TaskSpec>,
    /// Tasks that run after every other task has finished or been skipped, whatever
    /// happened (like Argo's onExit). Absent: one `notify --outcome` task named `on-exit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finally: Option<Vec<TaskSpec>>,
    /// Seconds a succeeded task's Job is kept.
    #[serde(default = "default_ttl_success")]
    #[schemars(range(min = 0, max = 2592000))]
    pub ttl_seconds_after_success: i32,
    /// Seconds a failed task's Job (and its pod's logs) is kept, for debugging.
    #[serde(default = "default_ttl_failure")]
    #[schemars(range(min = 0, max = 2592000))]
    pub ttl_seconds_after_failure: i32,
    /// Finished runs kept in `status.pipeline.history` (all are in PostgreSQL).
    #[serde(default = "default_history")]
    #[schemars(range(min = 1, max = 50))]
    pub history_limit: i32,
    /// Secret key holding the notification webhook URL (Slack-compatible). Absent: the
    /// notification is logged and recorded as an Event only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret_ref: Option<SecretKeyRef>,
    /// Cron schedule of the historical ETL and season report (a CronJob, concurrency
    /// Forbid), e.g. "0 6 * * *".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(
        pattern = r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|(\S+\s+){4}\S+)$"
    ))]
    pub schedule: Option<String>,
}

impl Default for PostRaceSpec {
    fn default() -> Self {
        PostRaceSpec {
            enabled: true,
            parallelism: default_parallelism(),
            tasks: Vec::new(),
            finally: None,
            ttl_seconds_after_success: default_ttl_success(),
            ttl_seconds_after_failure: default_ttl_failure(),
            history_limit: default_history(),
            webhook_secret_ref: None,
            schedule: None,
        }
    }
}

fn default_parallelism() -> i32 {
    3
}
fn default_ttl_success() -> i32 {
    3600
}
fn default_ttl_failure() -> i32 {
    7 * 24 * 3600
}
fn default_history() -> i32 {
    5
}

/// One task of the post-race DAG.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TaskSpec {
    /// Unique name within the pipeline (lower-case letters, digits and '-').
    #[schemars(
        length(min = 1, max = 30),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub name: String,
    /// The step it runs: collect-telemetry, persist-teams, data-quality, aggregate,
    /// report, notify, season-report.
    pub step: String,
    /// Extra arguments of the step, e.g. ["--team", "Ferrari"] for persist-teams.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Tasks that must succeed first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// Attempts after the first failure.
    #[serde(default = "default_retries")]
    #[schemars(range(min = 0, max = 10))]
    pub retries: i32,
    /// Wait before the first retry; doubled for each further one, capped at 5 minutes.
    #[serde(default = "default_backoff")]
    #[schemars(range(min = 1, max = 300))]
    pub retry_backoff_seconds: i32,
    /// Deadline of one attempt (the Job's activeDeadlineSeconds).
    #[serde(default = "default_deadline")]
    #[schemars(range(min = 10, max = 86400))]
    pub deadline_seconds: i32,
    /// CPU and memory (default: requests 100m/128Mi, limits 1/512Mi).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

fn default_retries() -> i32 {
    2
}
fn default_backoff() -> i32 {
    10
}
fn default_deadline() -> i32 {
    900
}
