//! Status, computed as a pure function of the race, the model and what the API server
//! reported about the children. Conditions keep their `lastTransitionTime` unless their
//! status really changes, so a no-op reconcile writes nothing. How soon to look again
//! ([`requeue_after`]) is decided here too, from the status computed.

use super::apply::{AutoscalerTrouble, Readiness};
use crate::api::conditions::{ConditionType, reason};
use crate::api::{
    AutoscalingEngine, ComponentStatus, Phase, PipelineStatus, RaceProgress, RaceSession,
    RaceSessionStatus, RunPhase, TaskPhase,
};
use crate::children::meta::Component;
use crate::model::{Model, Monitoring, Source};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time as MetaTime};
use std::time::Duration;

/// How often a racing race is looked at again when nothing wakes it: its lap, leader and
/// counts come from the processor, whose progress changes no object the operator watches.
pub const RACING_REFRESH: Duration = Duration::from_secs(5);
/// The safety net of a race that is ready and not racing (owned objects wake it).
const SETTLED: Duration = Duration::from_secs(300);
/// The safety net of a race still converging.
const CONVERGING: Duration = Duration::from_secs(30);

/// `MonitoringReady` in `monitoring.mode: prometheusOperator`, where no pod of the race
/// monitors it.
const PROMETHEUS_OPERATOR_MESSAGE: &str = "PodMonitors, PrometheusRule and dashboard ConfigMaps applied for the cluster's Prometheus Operator and Grafana";

pub type Time = MetaTime;

pub fn now() -> Time {
    MetaTime(k8s_openapi::jiff::Timestamp::now())
}

pub fn condition(
    type_: ConditionType,
    ok: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: &Time,
) -> Condition {
    Condition {
        type_: type_.as_str().into(),
        status: if ok { "True" } else { "False" }.into(),
        reason: reason.into(),
        message: message.into(),
        observed_generation: generation,
        last_transition_time: now.clone(),
    }
}

/// Keeps the old transition time of every condition whose status did not change.
pub fn merge(old: &[Condition], mut new: Vec<Condition>) -> Vec<Condition> {
    for c in &mut new {
        if let Some(o) = old.iter().find(|o| o.type_ == c.type_)
            && o.status == c.status
        {
            c.last_transition_time = o.last_transition_time.clone();
        }
    }
    new
}

fn old_conditions(race: &RaceSession) -> &[Condition] {
    race.status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or(&[])
}

/// The first status: accepted, nothing ready yet.
pub fn initial(race: &RaceSession, now: Time) -> RaceSessionStatus {
    let g = race.metadata.generation;
    RaceSessionStatus {
        observed_generation: g,
        conditions: vec![
            condition(
                ConditionType::Ready,
                false,
                reason::PENDING,
                "creating the race's components",
                g,
                &now,
            ),
            condition(
                ConditionType::Reconciling,
                true,
                reason::PENDING,
                "creating the race's components",
                g,
                &now,
            ),
            condition(
                ConditionType::Stalled,
                false,
                reason::AS_EXPECTED,
                "",
                g,
                &now,
            ),
        ],
        phase: Some(Phase::Pending),
        ..RaceSessionStatus::default()
    }
}

/// The status of a spec that cannot be reconciled.
pub fn stalled(race: &RaceSession, reason: &str, message: &str, now: Time) -> RaceSessionStatus {
    let g = race.metadata.generation;
    let conditions = vec![
        condition(ConditionType::Ready, false, reason, message, g, &now),
        condition(
            ConditionType::Reconciling,
            false,
            reason,
            "waiting for the spec to be fixed",
            g,
            &now,
        ),
        condition(ConditionType::Stalled, true, reason, message, g, &now),
    ];
    RaceSessionStatus {
        observed_generation: g,
        conditions: merge(old_conditions(race), conditions),
        phase: Some(Phase::Failed),
        components: race
            .status
            .as_ref()
            .map(|s| s.components.clone())
            .unwrap_or_default(),
        race: race.status.as_ref().and_then(|s| s.race.clone()),
        source: race.status.as_ref().and_then(|s| s.source.clone()),
        api_key_secret: race.status.as_ref().and_then(|s| s.api_key_secret.clone()),
        partitions: race.status.as_ref().and_then(|s| s.partitions),
        pipeline: race.status.as_ref().and_then(|s| s.pipeline.clone()),
    }
}

/// The status after a successful apply. `progress` is what the processor reported now
/// (`None`: keep the last known progress). The source's own part (`status.source`,
/// `SourceReady`) is added by [`super::source_status::fill`].
pub fn compute(
    race: &RaceSession,
    m: &Model,
    readiness: &[Readiness],
    autoscaler_trouble: Option<&AutoscalerTrouble>,
    progress: Option<RaceProgress>,
    pipeline: Option<PipelineStatus>,
    now: Time,
) -> RaceSessionStatus {
    let g = race.metadata.generation;
    let components: Vec<ComponentStatus> = readiness
        .iter()
        .map(|r| ComponentStatus {
            name: r.component.as_str().into(),
            ready: r.ready >= r.desired,
            replicas: r.desired,
            ready_replicas: r.ready,
        })
        .collect();
    let ready_of = |of: &[Component]| -> (bool, String) {
        let waiting: Vec<&str> = readiness
            .iter()
            .filter(|r| of.contains(&r.component) && r.ready < r.desired)
            .map(|r| r.component.as_str())
            .collect();
        (
            waiting.is_empty(),
            if waiting.is_empty() {
                String::new()
            } else {
                format!("waiting for {}", waiting.join(", "))
            },
        )
    };
    let race_progress = progress.or_else(|| race.status.as_ref().and_then(|s| s.race.clone()));
    let finished = race_progress.as_ref().is_some_and(|p| p.finished);
    let (sim_ok, sim_msg) = ready_of(&[Component::Simulator]);
    let (proc_ok, proc_msg) = ready_of(&[Component::Processor]);
    // What the source (simulator, gateway or replay), processor and datastores say: the
    // phase follows them and the race, not monitoring (which has its own condition).
    let (race_ok, _) = ready_of(&[
        Component::Simulator,
        Component::Gateway,
        Component::Replay,
        Component::Processor,
        Component::Redis,
        Component::Postgres,
    ]);
    let (store_ok, store_msg) = ready_of(&[Component::Redis, Component::Postgres]);
    let (mon_ok, mon_msg) = ready_of(&[Component::Prometheus, Component::Grafana]);
    let (all_ok, all_msg) = ready_of(&Component::ALL);
    let progressing = |ok: bool| {
        if ok {
            reason::READY
        } else {
            reason::PROGRESSING
        }
    };
    let autoscaler_msg = match &m.autoscaling {
        Some(a) if m.finished => format!(
            "{} held at {} replica(s), its minimum: the race has finished",
            match a.engine {
                AutoscalingEngine::Hpa => "HPA",
                AutoscalingEngine::Keda => "KEDA ScaledObject",
            },
            a.min_replicas
        ),
        Some(a) => {
            let mut msg = format!(
                "{} {}–{} replicas, {}% CPU or {} msg/s per pod",
                match a.engine {
                    AutoscalingEngine::Hpa => "HPA",
                    AutoscalingEngine::Keda => "KEDA ScaledObject",
                },
                a.min_replicas,
                a.max_replicas,
                a.cpu_percent,
                a.messages_per_second
            );
            // maxReplicas raised after the race started: its partitions stay.
            if a.max_replicas > m.partitions as i32 {
                msg += &format!(
                    "; the race has {p} stream partitions (fixed at its start): at most {p} processors get work",
                    p = m.partitions
                );
            }
            msg
        }
        None => "autoscaling disabled".into(),
    };
    // The HPA's own word that it cannot scale (metrics unavailable, most often: no
    // prometheus-adapter) makes the autoscaler unready; its Pods never are.
    let autoscaler = match (&m.autoscaling, autoscaler_trouble) {
        (None, _) => condition(
            ConditionType::AutoscalerReady,
            true,
            reason::DISABLED,
            &autoscaler_msg,
            g,
            &now,
        ),
        (Some(_), None) => condition(
            ConditionType::AutoscalerReady,
            true,
            reason::APPLIED,
            &autoscaler_msg,
            g,
            &now,
        ),
        (Some(_), Some(t)) => condition(
            ConditionType::AutoscalerReady,
            false,
            &t.reason,
            &format!("{autoscaler_msg}: {}", t.message),
            g,
            &now,
        ),
    };
    let conditions = vec![
        condition(
            ConditionType::Ready,
            all_ok,
            if all_ok {
                reason::READY
            } else {
                reason::COMPONENTS_NOT_READY
            },
            &all_msg,
            g,
            &now,
        ),
        condition(
            ConditionType::Reconciling,
            !all_ok,
            progressing(all_ok),
            &all_msg,
            g,
            &now,
        ),
        condition(
            ConditionType::Stalled,
            false,
            reason::AS_EXPECTED,
            "",
            g,
            &now,
        ),
        match (&m.source, m.finished, sim_ok) {
            (Source::Game(_) | Source::OpenF1(_) | Source::External, _, _) => condition(
                ConditionType::SimulatorReady,
                true,
                reason::DISABLED,
                &format!(
                    "source.type is {}: no simulator runs (see SourceReady)",
                    m.source.type_().as_str()
                ),
                g,
                &now,
            ),
            (Source::Simulator, true, true) => condition(
                ConditionType::SimulatorReady,
                true,
                reason::RACE_FINISHED,
                "the race has finished: the simulator is scaled to 0, its requests released",
                g,
                &now,
            ),
            (Source::Simulator, _, ok) => condition(
                ConditionType::SimulatorReady,
                ok,
                progressing(ok),
                &sim_msg,
                g,
                &now,
            ),
        },
        match (m.finished, proc_ok) {
            (true, true) => condition(
                ConditionType::ProcessorReady,
                true,
                reason::RACE_FINISHED,
                "the race has finished: the processor runs at its minimum, serving the API",
                g,
                &now,
            ),
            (_, ok) => condition(
                ConditionType::ProcessorReady,
                ok,
                progressing(ok),
                &proc_msg,
                g,
                &now,
            ),
        },
        condition(
            ConditionType::StorageReady,
            store_ok,
            progressing(store_ok),
            &store_msg,
            g,
            &now,
        ),
        autoscaler,
        condition(
            ConditionType::MonitoringReady,
            mon_ok,
            match (&m.monitoring, mon_ok) {
                (Monitoring::None, _) => reason::DISABLED,
                (Monitoring::PrometheusOperator(_), _) => reason::PROMETHEUS_OPERATOR,
                (Monitoring::Owned(_), ok) => progressing(ok),
            },
            match m.monitoring {
                Monitoring::PrometheusOperator(_) => PROMETHEUS_OPERATOR_MESSAGE,
                _ => &mon_msg,
            },
            g,
            &now,
        ),
    ];
    let mut conditions = conditions;
    conditions.extend(pipeline_conditions(m, pipeline.as_ref(), g, &now));
    conditions.extend(retained_data(race, race_progress.as_ref(), g, &now));
    let started = race_progress
        .as_ref()
        .is_some_and(|p| p.samples_processed > 0);
    RaceSessionStatus {
        observed_generation: g,
        conditions: merge(old_conditions(race), conditions),
        phase: Some(if finished {
            Phase::Finished
        } else if race_ok || started {
            Phase::Racing
        } else {
            Phase::Provisioning
        }),
        components,
        race: race_progress,
        source: None,
        api_key_secret: Some(m.api_key.name.clone()),
        partitions: Some(m.partitions as i32),
        pipeline,
    }
}

/// `RetainedData`, when the processor's session started before this RaceSession was
/// created: its data outlived an earlier race of the same name (`deletionPolicy:
/// retain`). An unfinished session goes on (the simulator resumes from its progress, the
/// processor from its checkpoints); a finished one is not raced again, and says so.
fn retained_data(
    race: &RaceSession,
    progress: Option<&RaceProgress>,
    g: Option<i64>,
    now: &Time,
) -> Option<Condition> {
    let p = progress?;
    let started: k8s_openapi::jiff::Timestamp = p.started_at.as_deref()?.parse().ok()?;
    let created = race.metadata.creation_timestamp.as_ref()?;
    if started >= created.0 {
        return None;
    }
    let name = race.metadata.name.as_deref().unwrap_or_default();
    let ns = race.metadata.namespace.as_deref().unwrap_or_default();
    Some(if p.finished {
        condition(
            ConditionType::RetainedData,
            true,
            reason::ALREADY_FINISHED,
            &format!(
                "the retained data holds session {name}, started at {started} before this RaceSession was created and already finished: nothing is raced again, its results are served as they are; for a new race, delete this RaceSession, then its volumes and Secret (kubectl -n {ns} delete pvc,secret -l app.kubernetes.io/instance={name}), and apply it again, or use another name"
            ),
            g,
            now,
        )
    } else {
        condition(
            ConditionType::RetainedData,
            true,
            reason::RESUMED,
            &format!(
                "the retained data holds session {name}, started at {started} before this RaceSession was created: the race goes on from where it stopped"
            ),
            g,
            now,
        )
    })
}

/// How soon to reconcile again when nothing wakes the race: every [`RACING_REFRESH`]
/// while it races (its progress changes no watched object), then the safety net, or
/// sooner when the post-race pipeline waits for a retry.
pub fn requeue_after(s: &RaceSessionStatus, pipeline: Option<Duration>) -> Duration {
    let base = match s.phase {
        Some(Phase::Racing) => RACING_REFRESH,
        _ if is_ready(s) => SETTLED,
        _ => CONVERGING,
    };
    pipeline.map_or(base, |p| p.min(base))
}

/// `PipelineSucceeded` (separate from `Ready`: a failed analysis does not make the race
/// unready) and `PipelineRequestRefused`.
fn pipeline_conditions(
    m: &Model,
    p: Option<&PipelineStatus>,
    g: Option<i64>,
    now: &Time,
) -> Vec<Condition> {
    let succeeded = match (&m.post_race_dag, p) {
        (Err(e), _) => condition(
            ConditionType::PipelineSucceeded,
            false,
            e.reason,
            &e.message,
            g,
            now,
        ),
        (Ok(_), None) => condition(
            ConditionType::PipelineSucceeded,
            false,
            reason::NOT_RUN,
            if m.post_race.enabled {
                "runs when the race finishes"
            } else {
                "postRace.enabled is false: annotate pitstop.io/run-pipeline to run"
            },
            g,
            now,
        ),
        (Ok(_), Some(p)) => {
            let done = p
                .tasks
                .iter()
                .filter(|t| matches!(t.phase, TaskPhase::Succeeded))
                .count();
            match p.phase {
                RunPhase::Running => condition(
                    ConditionType::PipelineSucceeded,
                    false,
                    reason::RUNNING,
                    &format!(
                        "run {}: {done} of {} {} succeeded so far",
                        p.run,
                        p.tasks.len(),
                        if p.tasks.len() == 1 { "task" } else { "tasks" }
                    ),
                    g,
                    now,
                ),
                RunPhase::Succeeded => condition(
                    ConditionType::PipelineSucceeded,
                    true,
                    reason::SUCCEEDED,
                    &match p.tasks.len() {
                        1 => format!("run {}: its one task succeeded", p.run),
                        n => format!("run {}: all {n} tasks succeeded", p.run),
                    },
                    g,
                    now,
                ),
                RunPhase::Failed => {
                    let failed: Vec<String> = p
                        .tasks
                        .iter()
                        .filter(|t| t.phase == TaskPhase::Failed)
                        .map(|t| format!("{} ({})", t.name, t.message))
                        .collect();
                    condition(
                        ConditionType::PipelineSucceeded,
                        false,
                        reason::TASK_FAILED,
                        &format!(
                            "run {} failed: {}; retry with the annotation pitstop.io/retry-pipeline",
                            p.run,
                            failed.join(", ")
                        ),
                        g,
                        now,
                    )
                }
            }
        }
    };
    let refused = match p.and_then(|p| p.request_refused.as_deref()) {
        Some(why) => condition(
            ConditionType::PipelineRequestRefused,
            true,
            reason::REFUSED,
            why,
            g,
            now,
        ),
        None => condition(
            ConditionType::PipelineRequestRefused,
            false,
            reason::AS_EXPECTED,
            "",
            g,
            now,
        ),
    };
    vec![succeeded, refused]
}

pub fn is_ready(s: &RaceSessionStatus) -> bool {
    s.conditions
        .iter()
        .any(|c| c.type_ == ConditionType::Ready.as_str() && c.status == "True")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Defaults, validate};
    use std::collections::BTreeMap;

    fn at(secs: i64) -> Time {
        MetaTime(k8s_openapi::jiff::Timestamp::from_second(1_800_000_000 + secs).unwrap())
    }

    fn ready(component: &str, desired: i32, ready: i32) -> Readiness {
        Readiness {
            component: Component::parse(component).expect("a component"),
            desired,
            ready,
        }
    }

    fn setup() -> (RaceSession, Model) {
        let race = crate::model::tests::race("circuit: monza");
        let m = validate(&race, &BTreeMap::new(), &Defaults::default()).unwrap();
        (race, m)
    }

    fn get<'a>(s: &'a RaceSessionStatus, t: &str) -> &'a Condition {
        s.conditions.iter().find(|c| c.type_ == t).unwrap()
    }

    /// Ready only when every component is; the message names what is missing.
    #[test]
    fn ready_when_all_components_are() {
        let (race, m) = setup();
        let partial = [
            ready("simulator", 1, 1),
            ready("processor", 1, 0),
            ready("redis", 1, 1),
            ready("postgres", 1, 0),
        ];
        let s = compute(&race, &m, &partial, None, None, None, at(0));
        assert_eq!(get(&s, "Ready").status, "False");
        assert_eq!(get(&s, "Ready").message, "waiting for processor, postgres");
        assert_eq!(get(&s, "Reconciling").status, "True");
        assert_eq!(s.phase, Some(Phase::Provisioning));
        let all = [
            ready("simulator", 1, 1),
            ready("processor", 2, 2),
            ready("redis", 1, 1),
            ready("postgres", 1, 1),
        ];
        let s = compute(&race, &m, &all, None, None, None, at(0));
        assert!(is_ready(&s));
        assert_eq!(s.phase, Some(Phase::Racing));
        assert_eq!(s.api_key_secret.as_deref(), Some("monza-api-key"));
    }

    /// A second computation with nothing changed is identical, transition times included,
    /// so the reconciler skips the status write.
    #[test]
    fn unchanged_status_keeps_transition_times() {
        let (mut race, m) = setup();
        let all = [
            ready("simulator", 1, 1),
            ready("processor", 1, 1),
            ready("redis", 1, 1),
            ready("postgres", 1, 1),
        ];
        let first = compute(&race, &m, &all, None, None, None, at(0));
        race.status = Some(first.clone());
        let second = compute(&race, &m, &all, None, None, None, at(60));
        assert_eq!(first, second);
        // A real change moves only the changed conditions' times.
        let degraded = [
            ready("simulator", 1, 1),
            ready("processor", 1, 0),
            ready("redis", 1, 1),
            ready("postgres", 1, 1),
        ];
        let third = compute(&race, &m, &degraded, None, None, None, at(120));
        assert_eq!(get(&third, "Ready").last_transition_time, at(120));
        assert_eq!(get(&third, "SimulatorReady").last_transition_time, at(0));
    }

    /// Progress from the processor is shown; a finished race is in phase Finished, and
    /// an unreachable processor keeps the last known progress.
    #[test]
    fn progress_and_finish() {
        let (mut race, m) = setup();
        let all = [
            ready("simulator", 1, 1),
            ready("processor", 1, 1),
            ready("redis", 1, 1),
            ready("postgres", 1, 1),
        ];
        let p = RaceProgress {
            lap: 7,
            total_laps: 10,
            leader: Some("LEC (Ferrari)".into()),
            pit_stops: 12,
            anomalies: 1,
            samples_processed: 9000,
            finished: false,
            started_at: None,
        };
        let s = compute(&race, &m, &all, None, Some(p.clone()), None, at(0));
        assert_eq!(
            (s.race.as_ref().unwrap().lap, s.phase),
            (7, Some(Phase::Racing))
        );
        race.status = Some(s);
        let kept = compute(&race, &m, &all, None, None, None, at(30));
        assert_eq!(kept.race, Some(p.clone()));
        let done = compute(
            &race,
            &m,
            &all,
            None,
            Some(RaceProgress {
                finished: true,
                lap: 10,
                ..p
            }),
            None,
            at(60),
        );
        assert_eq!(done.phase, Some(Phase::Finished));
    }

    /// An HPA that says it cannot scale makes AutoscalerReady False with its reason; the
    /// race's components stay ready.
    #[test]
    fn autoscaler_trouble_is_reported() {
        let (race, m) = setup();
        let all = [
            ready("simulator", 1, 1),
            ready("processor", 1, 1),
            ready("redis", 1, 1),
            ready("postgres", 1, 1),
        ];
        let fine = compute(&race, &m, &all, None, None, None, at(0));
        assert_eq!(get(&fine, "AutoscalerReady").status, "True");
        assert_eq!(get(&fine, "AutoscalerReady").reason, "Applied");
        let trouble = AutoscalerTrouble {
            reason: "FailedGetPodsMetric".into(),
            message: "unable to get metric pitstop_processor_messages_processed_per_second".into(),
        };
        let s = compute(&race, &m, &all, Some(&trouble), None, None, at(0));
        let c = get(&s, "AutoscalerReady");
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("False", "FailedGetPodsMetric")
        );
        assert!(
            c.message
                .ends_with("unable to get metric pitstop_processor_messages_processed_per_second"),
            "{}",
            c.message
        );
        assert!(is_ready(&s));
    }

    /// The status records the race's partitions; a maxReplicas raised past them later is
    /// said in AutoscalerReady (the extra processors would sit idle).
    #[test]
    fn partitions_are_recorded_and_a_shortfall_is_said() {
        let (race, mut m) = setup();
        let all = [ready("simulator", 1, 1), ready("processor", 1, 1)];
        let s = compute(&race, &m, &all, None, None, None, at(0));
        assert_eq!(s.partitions, Some(4));
        assert!(!get(&s, "AutoscalerReady").message.contains("partitions"));
        m.autoscaling.as_mut().unwrap().max_replicas = 8;
        let s = compute(&race, &m, &all, None, None, None, at(0));
        let c = get(&s, "AutoscalerReady");
        assert!(
            c.message.ends_with("the race has 4 stream partitions (fixed at its start): at most 4 processors get work"),
            "{}",
            c.message
        );
    }

    /// A stalled spec reports Stalled=True with the reason and Ready=False.
    #[test]
    fn stalled_status() {
        let (race, _) = setup();
        let s = stalled(
            &race,
            "SecretNotFound",
            "redis: Secret \"x\" not found",
            at(0),
        );
        assert_eq!(get(&s, "Stalled").status, "True");
        assert_eq!(get(&s, "Stalled").reason, "SecretNotFound");
        assert_eq!(get(&s, "Ready").status, "False");
        assert_eq!(s.phase, Some(Phase::Failed));
    }

    /// The phase follows the race, not monitoring: a race whose Prometheus never gets
    /// ready races and finishes (it said Provisioning for a whole race on a real node);
    /// Ready and MonitoringReady say what is missing.
    #[test]
    fn the_phase_follows_the_race_not_monitoring() {
        let (mut race, m) = setup();
        let stuck_monitoring = [
            ready("simulator", 1, 1),
            ready("processor", 1, 1),
            ready("redis", 1, 1),
            ready("postgres", 1, 1),
            ready("prometheus", 1, 0),
            ready("grafana", 1, 1),
        ];
        let s = compute(&race, &m, &stuck_monitoring, None, None, None, at(0));
        assert_eq!(s.phase, Some(Phase::Racing));
        assert_eq!(get(&s, "Ready").status, "False");
        assert_eq!(get(&s, "Ready").message, "waiting for prometheus");
        assert_eq!(get(&s, "Reconciling").status, "True");
        assert_eq!(get(&s, "MonitoringReady").status, "False");
        race.status = Some(s);
        let done = RaceProgress {
            lap: 10,
            total_laps: 10,
            samples_processed: 9000,
            finished: true,
            ..RaceProgress::default()
        };
        let s = compute(&race, &m, &stuck_monitoring, None, Some(done), None, at(60));
        assert_eq!(s.phase, Some(Phase::Finished));
        assert_eq!(get(&s, "MonitoringReady").status, "False");
    }

    /// A race under way stays Racing while a component restarts (a processor pod
    /// deleted mid-race); before it starts, an unready component means Provisioning.
    #[test]
    fn a_started_race_races_through_a_restart() {
        let (mut race, m) = setup();
        let restarting = [
            ready("simulator", 1, 1),
            ready("processor", 1, 0),
            ready("redis", 1, 1),
            ready("postgres", 1, 1),
        ];
        let s = compute(&race, &m, &restarting, None, None, None, at(0));
        assert_eq!(s.phase, Some(Phase::Provisioning));
        race.status = Some(RaceSessionStatus {
            race: Some(RaceProgress {
                lap: 4,
                total_laps: 10,
                samples_processed: 4000,
                ..RaceProgress::default()
            }),
            ..s
        });
        let s = compute(&race, &m, &restarting, None, None, None, at(5));
        assert_eq!(s.phase, Some(Phase::Racing));
        assert_eq!(get(&s, "ProcessorReady").status, "False");
    }

    /// A racing race is looked at again every few seconds (its lap froze for a minute
    /// after each fault on a real node, until some object changed); a finished or a
    /// converging one only on the safety net; a pipeline retry due sooner wins.
    #[test]
    fn racing_races_are_refreshed_and_finished_ones_are_not() {
        let with = |phase: Phase, ready: bool| RaceSessionStatus {
            phase: Some(phase),
            conditions: vec![condition(
                ConditionType::Ready,
                ready,
                reason::READY,
                "",
                Some(1),
                &at(0),
            )],
            ..RaceSessionStatus::default()
        };
        assert_eq!(
            requeue_after(&with(Phase::Racing, true), None),
            RACING_REFRESH
        );
        assert_eq!(
            requeue_after(&with(Phase::Racing, false), None),
            RACING_REFRESH
        );
        assert!(RACING_REFRESH <= Duration::from_secs(10));
        assert_eq!(
            requeue_after(&with(Phase::Finished, true), None),
            Duration::from_secs(300)
        );
        assert_eq!(
            requeue_after(&with(Phase::Provisioning, false), None),
            Duration::from_secs(30)
        );
        assert_eq!(
            requeue_after(&with(Phase::Finished, true), Some(Duration::from_secs(12))),
            Duration::from_secs(12)
        );
    }

    /// Once the race has finished (as the last status recorded), SimulatorReady and
    /// ProcessorReady say what was released, and the autoscaler that it holds the minimum.
    #[test]
    fn a_finished_race_says_what_it_released() {
        let (mut race, _) = setup();
        race.status = Some(RaceSessionStatus {
            race: Some(RaceProgress {
                finished: true,
                ..RaceProgress::default()
            }),
            ..RaceSessionStatus::default()
        });
        let m = validate(&race, &BTreeMap::new(), &Defaults::default()).unwrap();
        assert!(m.finished);
        let released = [
            ready("simulator", 0, 0),
            ready("processor", 1, 1),
            ready("redis", 1, 1),
            ready("postgres", 1, 1),
        ];
        let s = compute(&race, &m, &released, None, None, None, at(0));
        let sim = get(&s, "SimulatorReady");
        assert_eq!(
            (sim.status.as_str(), sim.reason.as_str()),
            ("True", "RaceFinished")
        );
        assert!(sim.message.contains("scaled to 0"), "{}", sim.message);
        assert_eq!(get(&s, "ProcessorReady").reason, "RaceFinished");
        assert!(
            get(&s, "AutoscalerReady")
                .message
                .starts_with("HPA held at 1 replica(s)"),
            "{}",
            get(&s, "AutoscalerReady").message
        );
        let c = s.components.iter().find(|c| c.name == "simulator").unwrap();
        assert_eq!((c.replicas, c.ready), (0, true));
    }

    /// A session that started before the RaceSession was created is retained data: an
    /// unfinished one resumes, a finished one says why nothing is raced again; a fresh
    /// race has no such condition.
    #[test]
    fn retained_data_is_said() {
        let (mut race, m) = setup();
        race.metadata.creation_timestamp = Some(at(100));
        let all = [
            ready("simulator", 1, 1),
            ready("processor", 1, 1),
            ready("redis", 1, 1),
            ready("postgres", 1, 1),
        ];
        let progress = |started: i64, finished: bool| RaceProgress {
            lap: 3,
            total_laps: 10,
            samples_processed: 100,
            finished,
            started_at: Some(at(started).0.to_string()),
            ..RaceProgress::default()
        };
        let fresh = compute(
            &race,
            &m,
            &all,
            None,
            Some(progress(101, false)),
            None,
            at(200),
        );
        assert!(!fresh.conditions.iter().any(|c| c.type_ == "RetainedData"));
        let resumed = compute(
            &race,
            &m,
            &all,
            None,
            Some(progress(40, false)),
            None,
            at(200),
        );
        assert_eq!(get(&resumed, "RetainedData").reason, "Resumed");
        assert_eq!(resumed.phase, Some(Phase::Racing));
        let over = compute(
            &race,
            &m,
            &all,
            None,
            Some(progress(40, true)),
            None,
            at(200),
        );
        let c = get(&over, "RetainedData");
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("True", "AlreadyFinished")
        );
        assert!(
            c.message.contains("nothing is raced again")
                && c.message.contains("app.kubernetes.io/instance=monza"),
            "{}",
            c.message
        );
        assert_eq!(over.phase, Some(Phase::Finished));
    }

    /// The first status says Ready=False (kstatus: not ready until proven).
    #[test]
    fn first_status_is_not_ready() {
        let (race, _) = setup();
        let s = initial(&race, at(0));
        assert_eq!(get(&s, "Ready").status, "False");
        assert_eq!(s.observed_generation, Some(1));
    }

    /// The pipeline's message counts its tasks in words that agree with the count.
    #[test]
    fn pipeline_messages_count_tasks() {
        let (_, m) = setup();
        let run = |phase, tasks: &[TaskPhase]| PipelineStatus {
            run: 1,
            phase,
            tasks: tasks
                .iter()
                .enumerate()
                .map(|(i, p)| crate::api::TaskStatus {
                    name: format!("t{i}"),
                    phase: *p,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let message = |p: PipelineStatus| {
            let c = pipeline_conditions(&m, Some(&p), None, &at(0));
            c.into_iter()
                .find(|c| c.type_ == "PipelineSucceeded")
                .unwrap()
                .message
        };
        use TaskPhase::{Pending, Succeeded};
        assert_eq!(
            message(run(RunPhase::Succeeded, &[Succeeded])),
            "run 1: its one task succeeded"
        );
        assert_eq!(
            message(run(RunPhase::Succeeded, &[Succeeded; 3])),
            "run 1: all 3 tasks succeeded"
        );
        assert_eq!(
            message(run(RunPhase::Running, &[Pending])),
            "run 1: 0 of 1 task succeeded so far"
        );
        assert_eq!(
            message(run(RunPhase::Running, &[Succeeded, Pending])),
            "run 1: 1 of 2 tasks succeeded so far"
        );
    }
}
