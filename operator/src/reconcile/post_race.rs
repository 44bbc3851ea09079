//! The post-race step of a reconcile: start a run (race finished, or the
//! `pitstop.io/run-pipeline` annotation), retry from the failed task
//! (`pitstop.io/retry-pipeline`), read the run's Jobs, ask the scheduler what to do, create
//! the Jobs it launches, and report. Nothing here waits on a Job: the controller is woken
//! by Job changes and by the requeue the scheduler asks for.

use super::context::{Context, Error, FIELD_MANAGER};
use super::events;
use crate::api::{PipelineStatus, RaceSession, RunPhase, RunSummary, TaskPhase};
use crate::build::pipeline::{Outcome, RUN_LABEL, job};
use crate::build::{Component, MANAGED_BY};
use crate::event::{Event, EventType};
use crate::model::Model;
use crate::post_race::scheduler::{JobState, Transition, retry_from_failed, schedule, ts};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use std::collections::BTreeMap;
use std::time::Duration;

/// Annotation that starts a run (any new value).
pub const RUN_ANNOTATION: &str = "pitstop.io/run-pipeline";
/// Annotation that re-runs a failed run from its failed tasks (any new value).
pub const RETRY_ANNOTATION: &str = "pitstop.io/retry-pipeline";

fn job_state(j: &Job) -> JobState {
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

fn annotation<'a>(race: &'a RaceSession, key: &str) -> Option<&'a str> {
    race.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
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

async fn event(
    ctx: &Context,
    race: &RaceSession,
    type_: EventType,
    reason: &'static str,
    note: String,
) {
    let e = Event {
        type_,
        reason,
        note,
        action: "Pipeline",
    };
    events::publish(ctx, race, &[e]).await;
}

/// Runs the pipeline step; returns the new pipeline status and when to look again.
pub async fn reconcile(
    ctx: &Context,
    race: &RaceSession,
    m: &Model,
    race_finished: bool,
) -> Result<(Option<PipelineStatus>, Option<Duration>), Error> {
    let prior = race.status.as_ref().and_then(|s| s.pipeline.clone());
    let Ok(dag) = &m.post_race_dag else {
        return Ok((prior, None));
    };
    let now = Timestamp::now();
    let limit = m.post_race.history_limit.max(1) as usize;
    let running = prior.as_ref().is_some_and(|p| p.phase == RunPhase::Running);
    let mut p = prior.clone();

    if let Some(v) = annotation(race, RUN_ANNOTATION)
        && prior.as_ref().and_then(|p| p.run_request.as_deref()) != Some(v)
    {
        if running {
            let run = prior.as_ref().map_or(0, |p| p.run);
            let why = format!(
                "{RUN_ANNOTATION}={v} refused: run {run} is still running (one run at a time)"
            );
            event(
                ctx,
                race,
                EventType::Warning,
                "PipelineRunRefused",
                why.clone(),
            )
            .await;
            let q = p.get_or_insert_with(PipelineStatus::default);
            q.request_refused = Some(why);
            q.run_request = Some(v.into());
        } else {
            let mut q = start_run(p.take(), "annotation", now, limit);
            q.run_request = Some(v.into());
            event(
                ctx,
                race,
                EventType::Normal,
                "PipelineStarted",
                format!("run {} started by {RUN_ANNOTATION}", q.run),
            )
            .await;
            p = Some(q);
        }
    }
    if let Some(v) = annotation(race, RETRY_ANNOTATION)
        && prior.as_ref().and_then(|p| p.retry_request.as_deref()) != Some(v)
    {
        let q = p.get_or_insert_with(PipelineStatus::default);
        if q.phase == RunPhase::Failed && q.run > 0 {
            q.tasks = retry_from_failed(dag, &q.tasks);
            q.phase = RunPhase::Running;
            q.trigger = "retry".into();
            q.finished_at = None;
            q.request_refused = None;
            event(
                ctx,
                race,
                EventType::Normal,
                "PipelineRetried",
                format!("run {} retried from its failed tasks", q.run),
            )
            .await;
        } else {
            let why = match (q.run, q.phase) {
                (0, _) => format!("{RETRY_ANNOTATION}={v} refused: no run to retry"),
                (n, RunPhase::Running) => {
                    format!("{RETRY_ANNOTATION}={v} refused: run {n} is still running")
                }
                (n, _) => {
                    format!("{RETRY_ANNOTATION}={v} refused: run {n} succeeded, nothing to retry")
                }
            };
            event(
                ctx,
                race,
                EventType::Warning,
                "PipelineRetryRefused",
                why.clone(),
            )
            .await;
            q.request_refused = Some(why);
        }
        q.retry_request = Some(v.into());
    }
    if m.post_race.enabled && race_finished && p.as_ref().is_none_or(|q| q.run == 0) {
        let q = start_run(p.take(), "race-finished", now, limit);
        event(
            ctx,
            race,
            EventType::Normal,
            "PipelineStarted",
            format!("run {} started: the race has finished", q.run),
        )
        .await;
        p = Some(q);
    }

    let Some(mut q) = p else {
        return Ok((None, None));
    };
    if q.phase != RunPhase::Running {
        return Ok((Some(q), None));
    }

    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &m.namespace);
    let selector = format!(
        "app.kubernetes.io/instance={},app.kubernetes.io/managed-by={MANAGED_BY},app.kubernetes.io/component={},{RUN_LABEL}={}",
        m.name,
        Component::Pipeline.as_str(),
        q.run
    );
    let observed: BTreeMap<String, JobState> = jobs
        .list(&ListParams::default().labels(&selector))
        .await?
        .iter()
        .map(|j| (j.name_any(), job_state(j)))
        .collect();
    let plan = schedule(&m.name, q.run, dag, &q.tasks, &observed, now);

    let outcome = Outcome {
        succeeded: plan.failed.is_empty(),
        failed_tasks: plan.failed.clone(),
    };
    for l in &plan.launch {
        let task = dag
            .all()
            .find(|t| t.name == l.task)
            .expect("launched from the DAG");
        let j = job(m, q.run, task, l, Some(&outcome));
        match jobs
            .create(
                &PostParams {
                    field_manager: Some(FIELD_MANAGER.into()),
                    ..PostParams::default()
                },
                &j,
            )
            .await
        {
            Ok(_) => {}
            // Created by an earlier reconcile whose status write did not land: the same Job.
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
    }
    let step_of = |name: &str| {
        dag.all()
            .find(|t| t.name == name)
            .map(|t| t.step.clone())
            .unwrap_or_default()
    };
    for (task, tr) in &plan.transitions {
        let step = step_of(task);
        match tr {
            Transition::Started { attempt } => {
                event(
                    ctx,
                    race,
                    EventType::Normal,
                    "TaskStarted",
                    format!("{task} ({step}) attempt {attempt} started"),
                )
                .await
            }
            Transition::Succeeded { seconds } => {
                ctx.metrics
                    .task_duration
                    .with_label_values(&[&step, "succeeded"])
                    .observe(*seconds);
                let note = if step == "notify" && m.post_race.webhook_secret_ref.is_none() {
                    format!(
                        "{task} succeeded in {seconds:.1} s; no webhook configured, the notification was only logged"
                    )
                } else {
                    format!("{task} succeeded in {seconds:.1} s")
                };
                event(ctx, race, EventType::Normal, "TaskSucceeded", note).await
            }
            Transition::Failed {
                attempt,
                last,
                message,
            } => {
                ctx.metrics.task_failures.with_label_values(&[&step]).inc();
                // Keep the failed Job (and its pod's logs) longer, for debugging.
                if let Some(name) = q
                    .tasks
                    .iter()
                    .find(|t| &t.name == task)
                    .and_then(|t| t.job.clone())
                {
                    let patch = serde_json::json!({"spec": {"ttlSecondsAfterFinished": m.post_race.ttl_seconds_after_failure}});
                    match jobs
                        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                        .await
                    {
                        Ok(_) | Err(kube::Error::Api(_)) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                let (reason, what) = if *last {
                    ("TaskFailed", "failed")
                } else {
                    ("TaskRetrying", "failed, will retry")
                };
                event(
                    ctx,
                    race,
                    EventType::Warning,
                    reason,
                    format!("{task} attempt {attempt} {what}: {message}"),
                )
                .await
            }
            Transition::Skipped { because } => {
                event(
                    ctx,
                    race,
                    EventType::Normal,
                    "TaskSkipped",
                    format!("{task} skipped: {because}"),
                )
                .await
            }
        }
    }
    q.tasks = plan.tasks;
    q.phase = plan.phase;
    if q.phase != RunPhase::Running {
        q.finished_at = Some(ts(now));
        let result = if q.phase == RunPhase::Succeeded {
            "succeeded"
        } else {
            "failed"
        };
        ctx.metrics.pipeline_runs.with_label_values(&[result]).inc();
        let (t, reason) = if q.phase == RunPhase::Succeeded {
            (EventType::Normal, "PipelineSucceeded")
        } else {
            (EventType::Warning, "PipelineFailed")
        };
        let note = if plan.failed.is_empty() {
            format!("run {} {result}", q.run)
        } else {
            format!(
                "run {} {result}: {} did not succeed",
                q.run,
                plan.failed.join(", ")
            )
        };
        event(ctx, race, t, reason, note).await;
    }
    // While running, Job changes wake the controller; the timer covers backoffs and a
    // missed watch event.
    let requeue = match (q.phase, plan.requeue_after_s) {
        (RunPhase::Running, Some(s)) => Some(Duration::from_secs(s.clamp(1, 300) as u64)),
        (RunPhase::Running, None) => Some(Duration::from_secs(15)),
        _ => None,
    };
    Ok((Some(q), requeue))
}
