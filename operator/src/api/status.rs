//! Status of a RaceSession, following the kstatus conventions kubectl, Argo CD and Flux
//! read: `observedGeneration`, `conditions` (`Ready`, `Reconciling`, `Stalled` and one per
//! component) and a human `phase`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Observed state of a RaceSession.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RaceSessionStatus {
    /// The spec generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Reconciling, Stalled, and SimulatorReady, ProcessorReady, AutoscalerReady,
    /// StorageReady.
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
    /// Name of the Secret holding the ingest API key (the key itself never appears here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_secret: Option<String>,
}

/// Life-cycle phase.
#[derive(schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Accepted, nothing created yet.
    Pending,
    /// Children created, not all ready.
    Provisioning,
    /// Everything ready, the race is running.
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
    /// simulator, processor, redis, postgres, prometheus, grafana.
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
}
