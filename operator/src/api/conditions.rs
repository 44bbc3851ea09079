//! The vocabulary of a RaceSession's status conditions: their types (what `kubectl wait
//! --for=condition=...`, Argo CD and Flux read) and the reasons the operator gives.
//! Reasons of a spec that cannot work come from `model::SpecError::reason` and the DAG's
//! validation.

/// The condition types, in the order the status lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionType {
    /// Every component ready.
    Ready,
    /// The operator is still converging the race.
    Reconciling,
    /// The spec cannot be reconciled until it is fixed.
    Stalled,
    /// The simulator ready (reason `Disabled` with another source).
    SimulatorReady,
    /// With `source.type` game, openf1 or external: the gateway ready and open to the
    /// game, the replay running or done, or (external) nothing to wait for. Absent with
    /// the simulator.
    SourceReady,
    ProcessorReady,
    /// Redis and PostgreSQL (managed ones) ready.
    StorageReady,
    /// The HPA or ScaledObject applied and not reporting that it cannot scale.
    AutoscalerReady,
    /// Prometheus and Grafana ready (reason `Disabled` without monitoring,
    /// `PrometheusOperator` when the cluster's monitors the race).
    MonitoringReady,
    /// The last post-race run succeeded (separate from `Ready`: a failed analysis does
    /// not make the race unready).
    PipelineSucceeded,
    /// The last run or retry annotation was refused.
    PipelineRequestRefused,
    /// The race found the data of an earlier RaceSession of its name (`deletionPolicy:
    /// retain`): it resumed, or that session had finished. Present only then.
    RetainedData,
}

impl ConditionType {
    pub const ALL: [ConditionType; 12] = [
        ConditionType::Ready,
        ConditionType::Reconciling,
        ConditionType::Stalled,
        ConditionType::SimulatorReady,
        ConditionType::SourceReady,
        ConditionType::ProcessorReady,
        ConditionType::StorageReady,
        ConditionType::AutoscalerReady,
        ConditionType::MonitoringReady,
        ConditionType::PipelineSucceeded,
        ConditionType::PipelineRequestRefused,
        ConditionType::RetainedData,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConditionType::Ready => "Ready",
            ConditionType::Reconciling => "Reconciling",
            ConditionType::Stalled => "Stalled",
            ConditionType::SimulatorReady => "SimulatorReady",
            ConditionType::SourceReady => "SourceReady",
            ConditionType::ProcessorReady => "ProcessorReady",
            ConditionType::StorageReady => "StorageReady",
            ConditionType::AutoscalerReady => "AutoscalerReady",
            ConditionType::MonitoringReady => "MonitoringReady",
            ConditionType::PipelineSucceeded => "PipelineSucceeded",
            ConditionType::PipelineRequestRefused => "PipelineRequestRefused",
            ConditionType::RetainedData => "RetainedData",
        }
    }
}

/// Reasons of the operator's own conditions.
pub mod reason {
    /// The first status: nothing created yet.
    pub const PENDING: &str = "Pending";
    pub const READY: &str = "Ready";
    pub const PROGRESSING: &str = "Progressing";
    pub const COMPONENTS_NOT_READY: &str = "ComponentsNotReady";
    /// The normal state of `Stalled` and `PipelineRequestRefused`.
    pub const AS_EXPECTED: &str = "AsExpected";
    /// The autoscaler is applied.
    pub const APPLIED: &str = "Applied";
    /// The part is switched off in the spec.
    pub const DISABLED: &str = "Disabled";
    /// Monitoring is the cluster's Prometheus Operator's (`monitoring.mode:
    /// prometheusOperator`).
    pub const PROMETHEUS_OPERATOR: &str = "PrometheusOperator";
    /// Post-race: no run yet.
    pub const NOT_RUN: &str = "NotRun";
    pub const RUNNING: &str = "Running";
    pub const SUCCEEDED: &str = "Succeeded";
    pub const TASK_FAILED: &str = "TaskFailed";
    pub const REFUSED: &str = "Refused";
    /// The race has finished: the simulator released, the processor at its minimum.
    pub const RACE_FINISHED: &str = "RaceFinished";
    /// Retained data of an unfinished session: the race goes on from where it stopped.
    pub const RESUMED: &str = "Resumed";
    /// Retained data of a session that had finished: nothing is raced again.
    pub const ALREADY_FINISHED: &str = "AlreadyFinished";
    /// `source.type: external`: telemetry comes only through `POST /telemetry`.
    pub const EXTERNAL: &str = "External";
    /// `source.type: game` without `allowedClients`: no datagram is admitted.
    pub const NO_ALLOWED_CLIENTS: &str = "NoAllowedClients";
    /// `source.type: openf1`: the replay Job failed on every attempt.
    pub const REPLAY_FAILED: &str = "ReplayFailed";
    /// `source.type: openf1`: the replay Job has sent the whole session.
    pub const REPLAY_COMPLETE: &str = "ReplayComplete";
}
