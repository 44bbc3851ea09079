//! The post-race step's decisions, pure. From the run recorded in `status.pipeline`, the
//! values of the two annotations, whether the race has finished, the model and the run's
//! observed Jobs, at a given `now`: the new `status.pipeline` and everything the cluster
//! side (`reconcile::post_race`) then does — Jobs to create, failed Jobs to keep longer,
//! Events, metric observations, when to look again.
//!
//! Two phases, because the Jobs to read are those of the run the requests decide:
//! [`requests`] starts a run (race finished, or [`RUN_ANNOTATION`]), retries one from its
//! failed tasks ([`RETRY_ANNOTATION`]) or refuses, and names the run to observe; the
//! caller lists that run's Jobs; [`plan`] asks the scheduler and says what to do.

use super::scheduler::{JobState, Transition, retry_from_failed, schedule, ts};
use crate::api::{PipelineStatus, RunPhase, RunSummary, TaskPhase};
use crate::children::post_race_jobs::{Outcome, job};
use crate::event::Event;
use crate::model::Model;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::jiff::Timestamp;
use std::collections::BTreeMap;
use std::time::Duration;

/// Annotation that starts a run (any new value).
pub const RUN_ANNOTATION: &str = "pitstop.io/run-pipeline";
/// Annotation that re-runs a failed run from its failed tasks (any new value).
pub const RETRY_ANNOTATION: &str = "pitstop.io/retry-pipeline";

/// The action of every Event of this step.
const ACTION: &str = "Pipeline";

/// What a reconcile brings to the step.
#[derive(Clone, Copy, Debug, Default)]
pub struct Inputs<'a> {
    /// `status.pipeline` as last written.
    pub prior: Option<&'a PipelineStatus>,
    /// The value of [`RUN_ANNOTATION`], if set.
    pub run_request: Option<&'a str>,
    /// The value of [`RETRY_ANNOTATION`], if set.
    pub retry_request: Option<&'a str>,
    /// The processor has seen the chequered flag.
    pub race_finished: bool,
}

/// The requests decided: the status so far, their Events, and the run to observe.
#[derive(Clone, Debug, PartialEq)]
pub struct Requested {
    pub status: Option<PipelineStatus>,
    pub events: Vec<Event>,
    /// The run whose Jobs [`plan`] needs: the current run while it runs (and the DAG is
    /// valid). `None`: nothing to schedule, no Jobs to read.
    pub observe: Option<i32>,
}

/// A metric observation.
#[derive(Clone, Debug, PartialEq)]
pub enum Observation {
    /// A task of this step succeeded after `seconds`.
    TaskDuration { step: String, seconds: f64 },
    /// An attempt of a task of this step failed.
    TaskFailure { step: String },
    /// A run finished; `result` is `succeeded` or `failed`.
    RunFinished { result: &'static str },
}

/// A failed attempt's Job to keep longer, with its pod's logs, for debugging: its
/// `spec.ttlSecondsAfterFinished` becomes `ttl_seconds_after_finished`.
#[derive(Clone, Debug, PartialEq)]
pub struct KeepJob {
    pub job: String,
    pub ttl_seconds_after_finished: i32,
}

/// Everything the step decided, in the order to carry it out.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// The new `status.pipeline`.
    pub status: Option<PipelineStatus>,
    /// One Job per attempt launched.
    pub create: Vec<Job>,
    pub keep: Vec<KeepJob>,
    pub observations: Vec<Observation>,
    /// In the order they happened: the requests', then the tasks', then the run's.
    pub events: Vec<Event>,
    /// When to look again (`None`: only when something changes).
    pub requeue: Option<Duration>,
}

/// What the API server says about a Job, as the scheduler reads it.
pub fn job_state(j: &Job) -> JobState {
    let st = j.status.clone().unwrap_or_default();
    let failed_condition = st
        .conditions
        .iter()
        .flatten()
        .find(|c| (c.type_ == "Failed" || c.type_ == "FailureTarget") && c.status == "True");
    JobState {
        active: st.active.unwrap_or(0) > 0,
        succeeded: st.succeeded.unwrap_or(0) > 0,
        failed: st.failed.unwrap_or(0) > 0 || failed_condition.is_some(),
        started: st.start_time.map(|t| t.0),
        finished: st.completion_time.map(|t| t.0).or_else(|| {
            failed_condition.and_then(|c| c.last_transition_time.as_ref().map(|t| t.0))
        }),
        message: failed_condition
            .map(|c| {
                format!(
                    "{}: {}",
                    c.reason.clone().unwrap_or_default(),
                    c.message.clone().unwrap_or_default()
                )
            })
            .unwrap_or_default(),
    }
}

/// A new run: the previous one (if any) moves to the history.
fn start_run(
    prior: Option<PipelineStatus>,
    trigger: &str,
    now: Timestamp,
    limit: usize,
) -> PipelineStatus {
    let mut p = prior.unwrap_or_default();
    if p.run > 0 {
        p.history.insert(
            0,
            RunSummary {
                run: p.run,
                phase: p.phase,
                trigger: p.trigger.clone(),
                started_at: p.started_at.clone(),
                finished_at: p.finished_at.clone(),
                failed_tasks: p
                    .tasks
                    .iter()
                    .filter(|t| matches!(t.phase, TaskPhase::Failed | TaskPhase::Skipped))
                    .map(|t| t.name.clone())
                    .collect(),
            },
        );
        p.history.truncate(limit);
    }
    p.run += 1;
    p.phase = RunPhase::Running;
    p.trigger = trigger.into();
    p.started_at = Some(ts(now));
    p.finished_at = None;
    p.tasks = Vec::new();
    p.request_refused = None;
    p
}

/// Phase one: acts on a new annotation value (each value once) and on the race's end.
/// A retry is judged before a run request seen in the same reconcile: it asks about the
/// run that existed, not one the other request is about to start.
pub fn requests(m: &Model, input: &Inputs, now: Timestamp) -> Requested {
    let prior = input.prior;
    let Ok(dag) = &m.post_race_dag else {
        return Requested {
            status: prior.cloned(),
            events: Vec::new(),
            observe: None,
        };
    };
    let limit = m.post_race.history_limit.max(1) as usize;
    let mut p = prior.cloned();
    let mut events = Vec::new();
    // Every refusal of this reconcile stays in the status, even when a run starts after
    // it: the plugin reads its answer there.
    let mut refused = Vec::new();

    if let Some(v) = input.retry_request
        && prior.and_then(|p| p.retry_request.as_deref()) != Some(v)
    {
        let q = p.get_or_insert_with(PipelineStatus::default);
        refused.extend(retry(dag, q, v, &mut events));
    }
    if let Some(v) = input.run_request
        && prior.and_then(|p| p.run_request.as_deref()) != Some(v)
    {
        let (q, why) = run(p, v, now, limit, &mut events);
        refused.extend(why);
        p = Some(q);
    }
    if m.post_race.enabled && input.race_finished && p.as_ref().is_none_or(|q| q.run == 0) {
        let q = start_run(p.take(), "race-finished", now, limit);
        events.push(Event::normal(
            "PipelineStarted",
            format!("run {} started: the race has finished", q.run),
            ACTION,
        ));
        p = Some(q);
    }

    if let Some(q) = p.as_mut().filter(|_| !refused.is_empty()) {
        q.request_refused = Some(refused.join("; "));
    }

    // Run 0 is "no run yet" (a refused request before any run leaves a status with
    // phase Running by default): there is nothing to schedule for it.
    let observe = p
        .as_ref()
        .filter(|q| q.phase == RunPhase::Running && q.run > 0)
        .map(|q| q.run);
    Requested {
        status: p,
        events,
        observe,
    }
}

/// A run request: refused while a run runs (run 0 is "no run yet", whatever its phase),
/// else the next run starts. The refusal, if any.
fn run(
    p: Option<PipelineStatus>,
    v: &str,
    now: Timestamp,
    limit: usize,
    events: &mut Vec<Event>,
) -> (PipelineStatus, Option<String>) {
    match p {
        Some(mut q) if q.run > 0 && q.phase == RunPhase::Running => {
            let why = format!(
                "{RUN_ANNOTATION}={v} refused: run {} is still running (one run at a time)",
                q.run
            );
            events.push(Event::warning("PipelineRunRefused", why.clone(), ACTION));
            q.run_request = Some(v.into());
            (q, Some(why))
        }
        p => {
            let mut q = start_run(p, "annotation", now, limit);
            q.run_request = Some(v.into());
            events.push(Event::normal(
                "PipelineStarted",
                format!("run {} started by {RUN_ANNOTATION}", q.run),
                ACTION,
            ));
            (q, None)
        }
    }
}

/// A retry request: a failed run goes on from its failed tasks; anything else is
/// refused. The refusal, if any.
fn retry(
    dag: &crate::post_race::Dag,
    q: &mut PipelineStatus,
    v: &str,
    events: &mut Vec<Event>,
) -> Option<String> {
    q.retry_request = Some(v.into());
    if q.phase == RunPhase::Failed && q.run > 0 {
        q.tasks = retry_from_failed(dag, &q.tasks);
        q.phase = RunPhase::Running;
        q.trigger = "retry".into();
        q.finished_at = None;
        q.request_refused = None;
        events.push(Event::normal(
            "PipelineRetried",
            format!("run {} retried from its failed tasks", q.run),
            ACTION,
        ));
        return None;
    }
    let why = match (q.run, q.phase) {
        (0, _) => format!("{RETRY_ANNOTATION}={v} refused: no run to retry"),
        (n, RunPhase::Running) => {
            format!("{RETRY_ANNOTATION}={v} refused: run {n} is still running")
        }
        (n, _) => format!("{RETRY_ANNOTATION}={v} refused: run {n} succeeded, nothing to retry"),
    };
    events.push(Event::warning("PipelineRetryRefused", why.clone(), ACTION));
    Some(why)
}

/// Phase two: schedules the run [`Requested::observe`] names, given its observed `jobs`
/// (by name), and says what to do.
pub fn plan(
    m: &Model,
    requested: Requested,
    jobs: &BTreeMap<String, JobState>,
    now: Timestamp,
) -> Plan {
    let Requested {
        status,
        mut events,
        observe,
    } = requested;
    let (Some(mut q), Some(_), Ok(dag)) = (status.clone(), observe, &m.post_race_dag) else {
        return Plan {
            status,
            events,
            ..Plan::default()
        };
    };
    let s = schedule(&m.name, q.run, dag, &q.tasks, jobs, now);

    let outcome = Outcome {
        succeeded: s.failed.is_empty(),
        failed_tasks: s.failed.clone(),
    };
    let create = s
        .launch
        .iter()
        .map(|l| {
            let task = dag
                .all()
                .find(|t| t.name == l.task)
                .expect("launched from the DAG");
            job(m, q.run, task, l, Some(&outcome))
        })
        .collect();
    let step_of = |name: &str| {
        dag.all()
            .find(|t| t.name == name)
            .map(|t| t.step.clone())
            .unwrap_or_default()
    };
    let mut keep = Vec::new();
    let mut observations = Vec::new();
    for (task, tr) in &s.transitions {
        let step = step_of(task);
        match tr {
            Transition::Started { attempt } => events.push(Event::normal(
                "TaskStarted",
                format!("{task} ({step}) attempt {attempt} started"),
                ACTION,
            )),
            Transition::Succeeded { seconds } => {
                let note = if step == "notify" && m.post_race.webhook_secret_ref.is_none() {
                    format!(
                        "{task} succeeded in {seconds:.1} s; no webhook configured, the notification was only logged"
                    )
                } else {
                    format!("{task} succeeded in {seconds:.1} s")
                };
                observations.push(Observation::TaskDuration {
                    step,
                    seconds: *seconds,
                });
                events.push(Event::normal("TaskSucceeded", note, ACTION));
            }
            Transition::Failed {
                attempt,
                last,
                message,
            } => {
                observations.push(Observation::TaskFailure { step });
                // The recorded state still names the attempt that failed.
                if let Some(job) = q
                    .tasks
                    .iter()
                    .find(|t| &t.name == task)
                    .and_then(|t| t.job.clone())
                {
                    keep.push(KeepJob {
                        job,
                        ttl_seconds_after_finished: m.post_race.ttl_seconds_after_failure,
                    });
                }
                let (reason, what) = if *last {
                    ("TaskFailed", "failed")
                } else {
                    ("TaskRetrying", "failed, will retry")
                };
                events.push(Event::warning(
                    reason,
                    format!("{task} attempt {attempt} {what}: {message}"),
                    ACTION,
                ));
            }
            Transition::Skipped { because } => events.push(Event::normal(
                "TaskSkipped",
                format!("{task} skipped: {because}"),
                ACTION,
            )),
        }
    }
    q.tasks = s.tasks;
    q.phase = s.phase;
    if q.phase != RunPhase::Running {
        q.finished_at = Some(ts(now));
        let succeeded = q.phase == RunPhase::Succeeded;
        let result = if succeeded { "succeeded" } else { "failed" };
        observations.push(Observation::RunFinished { result });
        let note = if s.failed.is_empty() {
            format!("run {} {result}", q.run)
        } else {
            format!(
                "run {} {result}: {} did not succeed",
                q.run,
                s.failed.join(", ")
            )
        };
        events.push(if succeeded {
            Event::normal("PipelineSucceeded", note, ACTION)
        } else {
            Event::warning("PipelineFailed", note, ACTION)
        });
    }
    // While running, Job changes wake the controller; the timer covers backoffs and a
    // missed watch event.
    let requeue = match (q.phase, s.requeue_after_s) {
        (RunPhase::Running, Some(secs)) => Some(Duration::from_secs(secs.clamp(1, 300) as u64)),
        (RunPhase::Running, None) => Some(Duration::from_secs(15)),
        _ => None,
    };
    Plan {
        status: Some(q),
        create,
        keep,
        observations,
        events,
        requeue,
    }
}
