//! The post-race step's cluster side. It reads the two annotations and the current run's
//! Jobs, hands them to the planner ([`crate::post_race::plan`], which decides everything)
//! and carries out its plan: creates the Jobs it launches, keeps failed Jobs longer,
//! records the metrics, publishes the Events. Nothing here waits on a Job: the controller
//! is woken by Job changes and by the requeue the plan asks for.

use super::context::{Context, Error, FIELD_MANAGER};
use super::events;
use crate::api::{PipelineStatus, RaceSession};
use crate::children::meta::keys;
use crate::children::meta::{Component, race_selector};
use crate::model::Model;
use crate::post_race::plan::{
    self, Inputs, Observation, Plan, RETRY_ANNOTATION, RUN_ANNOTATION, job_state,
};
use crate::post_race::scheduler::JobState;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use std::collections::BTreeMap;
use std::time::Duration;

fn annotation<'a>(race: &'a RaceSession, key: &str) -> Option<&'a str> {
    race.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

/// Runs the post-race step at `now`; returns the new pipeline status and when to look
/// again.
pub async fn reconcile(
    ctx: &Context,
    race: &RaceSession,
    m: &Model,
    race_finished: bool,
    now: Timestamp,
) -> Result<(Option<PipelineStatus>, Option<Duration>), Error> {
    let inputs = Inputs {
        prior: race.status.as_ref().and_then(|s| s.pipeline.as_ref()),
        run_request: annotation(race, RUN_ANNOTATION),
        retry_request: annotation(race, RETRY_ANNOTATION),
        race_finished,
    };
    let requested = plan::requests(m, &inputs, now);
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &m.namespace);
    let observed = match requested.observe {
        Some(run) => list_run(&jobs, m, run).await?,
        None => BTreeMap::new(),
    };
    let plan = plan::plan(m, requested, &observed, now);
    carry_out(ctx, race, &jobs, &plan).await?;
    Ok((plan.status, plan.requeue))
}

/// The Jobs of run `run` of the race, by name.
async fn list_run(
    jobs: &Api<Job>,
    m: &Model,
    run: i32,
) -> Result<BTreeMap<String, JobState>, Error> {
    let selector = format!(
        "{},{}={},{}={run}",
        race_selector(&m.name),
        keys::COMPONENT,
        Component::Pipeline.as_str(),
        keys::RUN,
    );
    Ok(jobs
        .list(&ListParams::default().labels(&selector))
        .await?
        .iter()
        .map(|j| (j.name_any(), job_state(j)))
        .collect())
}

/// Creates, patches, records, publishes: in that order, so a failed write publishes
/// nothing and the next reconcile, deciding the same, publishes it once.
async fn carry_out(
    ctx: &Context,
    race: &RaceSession,
    jobs: &Api<Job>,
    plan: &Plan,
) -> Result<(), Error> {
    let create = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PostParams::default()
    };
    for j in &plan.create {
        match jobs.create(&create, j).await {
            Ok(_) => {}
            // Created by an earlier reconcile whose status write did not land: the same Job.
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
    }
    for k in &plan.keep {
        let patch =
            serde_json::json!({"spec": {"ttlSecondsAfterFinished": k.ttl_seconds_after_finished}});
        match jobs
            .patch(&k.job, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            // Refused (the Job gone already, say): not worth failing the reconcile for.
            Ok(_) | Err(kube::Error::Api(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    for o in &plan.observations {
        match o {
            Observation::TaskDuration { step, seconds } => ctx
                .metrics
                .task_duration
                .with_label_values(&[step, "succeeded"])
                .observe(*seconds),
            Observation::TaskFailure { step } => {
                ctx.metrics.task_failures.with_label_values(&[step]).inc()
            }
            Observation::RunFinished { result } => {
                ctx.metrics.pipeline_runs.with_label_values(&[result]).inc()
            }
        }
    }
    events::publish(ctx, race, &plan.events).await;
    Ok(())
}
