//! Status of a RaceSession, following the kstatus conventions kubectl, Argo CD and Flux
//! read: `observedGeneration`, `conditions` (`Ready`, `Reconciling`, `Stalled` and one per
//! component) and a human `phase`.

use super::source::SourceType;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Observed state of a RaceSession.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
// As on the spec: only formats the API server recognizes (see `api::formats`).
#[schemars(transform = schemars::transform::RecursiveTransform(super::formats::kubernetes_formats))]
pub struct RaceSessionStatus {
    /// The spec generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Reconciling, Stalled; SimulatorReady (SourceReady with another source than
    /// the simulator), ProcessorReady, StorageReady, AutoscalerReady, MonitoringReady;
    /// PipelineSucceeded, PipelineRequestRefused; RetainedData when the race found the
    /// data of an earlier race of its name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Pending, Provisioning, Racing, Finished or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// Readiness of each component.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<ComponentStatus>,
    /// Race progress as reported by the processor's API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub race: Option<RaceProgress>,
    /// Where telemetry comes from (`spec.source`), and what the source reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceStatus>,
    /// Name of the Secret holding the ingest API key (the key itself never appears here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_secret: Option<String>,
    /// Stream partitions of the race: one per processor it may run (autoscaling's
    /// maxReplicas, or the fixed replica count), at least 4. Fixed at the race's first
    /// reconcile, since a car's partition is its number modulo the count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitions: Option<i32>,
    /// The post-race pipeline: the current (or last) run, per task, and earlier runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<PipelineStatus>,
}

/// The post-race pipeline as the operator runs it.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PipelineStatus {
    /// Number of the current (or last) run, from 1.
    pub run: i32,
    /// Running, Succeeded or Failed.
    pub phase: RunPhase,
    /// What started it: race-finished, annotation or retry.
    pub trigger: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Every task of the run, in DAG order (finally tasks last).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<TaskStatus>,
    /// Earlier runs, newest first (postRace.historyLimit of them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<RunSummary>,
    /// Last value of the pitstop.io/run-pipeline annotation acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_request: Option<String>,
    /// Last value of the pitstop.io/retry-pipeline annotation acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_request: Option<String>,
    /// Why the last run or retry request was refused (cleared by the next accepted one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_refused: Option<String>,
}

/// Phase of a pipeline run.
#[derive(
    schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq,
)]
pub enum RunPhase {
    #[default]
    Running,
    Succeeded,
    Failed,
}

/// Phase of one task.
#[derive(
    schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq,
)]
pub enum TaskPhase {
    /// Waiting for its dependencies, a free slot, or its retry backoff.
    #[default]
    Pending,
    Running,
    Succeeded,
    /// Failed on every attempt.
    Failed,
    /// Not run because a dependency failed or was skipped.
    Skipped,
}

/// One task of a run.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TaskStatus {
    pub name: String,
    pub phase: TaskPhase,
    /// Attempts started in the current round.
    #[serde(default)]
    pub attempts: i32,
    /// Incremented by a retry-from-failed (its Jobs carry it in their name).
    #[serde(default)]
    pub round: i32,
    /// The Job of the latest attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Earliest start of the next attempt while backing off (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// A finished run.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    pub run: i32,
    pub phase: RunPhase,
    pub trigger: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_tasks: Vec<String>,
}

/// Life-cycle phase. It follows the race: monitoring's readiness is its own condition
/// (`MonitoringReady`), and does not hold the phase back.
#[derive(schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Accepted, nothing created yet.
    Pending,
    /// Children created; the simulator, processor and datastores not all ready, and the
    /// race not started.
    Provisioning,
    /// The simulator, processor and datastores ready, or the race under way.
    Racing,
    /// The chequered flag has been processed.
    Finished,
    /// The spec cannot be reconciled (see the Stalled condition).
    Failed,
}

/// Readiness of one component.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ComponentStatus {
    /// simulator (gateway or replay with another source), processor, redis, postgres,
    /// prometheus, grafana.
    pub name: String,
    pub ready: bool,
    #[serde(default)]
    pub replicas: i32,
    #[serde(default)]
    pub ready_replicas: i32,
}

/// Race progress read from the processor.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RaceProgress {
    pub lap: i32,
    pub total_laps: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
    pub pit_stops: i64,
    pub anomalies: i64,
    pub samples_processed: i64,
    pub finished: bool,
    /// When the session started (RFC 3339), as the processor recorded it: before the
    /// RaceSession was created, its data outlived an earlier race of the same name
    /// (`deletionPolicy: retain`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
}

/// The source of the race's telemetry as last seen. `game`: what the gateway's
/// `GET /status` said when last asked (kept while it cannot be asked) and where the game
/// sends to; `openf1`: the replay Job.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SourceStatus {
    /// simulator, game, openf1 or external.
    #[serde(rename = "type")]
    pub type_: SourceType,
    /// `game`: where the game sends its datagrams: `<address>:<port>` of the load
    /// balancer, `<the gateway pod's node>:<nodePort>`, or the cluster IP and port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// `game`: datagrams per second the gateway received lately.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datagrams_per_second: Option<f64>,
    /// `game`: game sessions the gateway has seen (a new one each time the game starts a
    /// session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions_seen: Option<i64>,
    /// `game`: datagrams received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datagrams: Option<i64>,
    /// `game`: datagrams the gateway dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped: Option<i64>,
    /// `game`: the processor has taken the session's finish from the gateway, after the
    /// game's chequered flag (the race is `Finished` once the processor has processed it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<bool>,
    /// `openf1`: the replay Job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
}
