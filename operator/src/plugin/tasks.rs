//! Post-race tasks as `kubectl pitstop logs` finds them: the names a race has, the Job
//! of a task's latest attempt, and the pod to read.

use crate::api::RaceSession;
use crate::children::meta::keys;
use crate::model::DEFAULT_TEAMS;
use crate::post_race::dag;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;

/// The label the Job controller puts on a Job's pods.
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
/// The container of a post-race step (`children::post_race_jobs`).
pub const STEP_CONTAINER: &str = "step";

/// The task names of the race: those of its current (or last) run, else those its spec's
/// pipeline would run (the grand-prix default over its grid's teams).
pub fn names(race: &RaceSession) -> Vec<String> {
    if let Some(p) = race.status.as_ref().and_then(|s| s.pipeline.as_ref())
        && !p.tasks.is_empty()
    {
        return p.tasks.iter().map(|t| t.name.clone()).collect();
    }
    let spec = &race.spec;
    let mut teams: Vec<String> = Vec::new();
    let grid: Vec<String> = if spec.grid.is_empty() {
        DEFAULT_TEAMS.iter().map(|t| t.to_string()).collect()
    } else {
        spec.grid.iter().map(|g| g.team.clone()).collect()
    };
    for t in grid {
        if !teams.contains(&t) {
            teams.push(t);
        }
    }
    dag::validate(&spec.post_race, &teams)
        .map(|d| d.all().map(|t| t.name.clone()).collect())
        .unwrap_or_default()
}

/// Where a task's logs are, as far as the race's status knows.
#[derive(Clone, Debug, PartialEq)]
pub enum Lookup {
    /// Its latest attempt's Job (from the status), or `None`: find it by labels.
    Job(Option<String>),
    /// No such task: the valid names.
    Unknown(Vec<String>),
    /// Recorded, but no attempt started yet (phase Pending).
    NotStarted,
}

pub fn lookup(race: &RaceSession, task: &str) -> Lookup {
    let recorded = race
        .status
        .as_ref()
        .and_then(|s| s.pipeline.as_ref())
        .and_then(|p| p.tasks.iter().find(|t| t.name == task));
    match recorded {
        Some(t) if t.job.is_some() => Lookup::Job(t.job.clone()),
        Some(_) => Lookup::NotStarted,
        None => {
            let names = names(race);
            if names.iter().any(|n| n == task) {
                Lookup::Job(None)
            } else {
                Lookup::Unknown(names)
            }
        }
    }
}

/// The label selector of a race's Jobs of one task.
pub fn job_selector(race: &str, task: &str) -> String {
    format!("{}={race},{}={task}", keys::INSTANCE, keys::TASK)
}

/// The newest of `jobs` (by creation, then name): the latest attempt.
pub fn latest_job(jobs: &[Job]) -> Option<&Job> {
    jobs.iter().max_by(|a, b| {
        (
            a.metadata.creation_timestamp.as_ref().map(|t| t.0),
            &a.metadata.name,
        )
            .cmp(&(
                b.metadata.creation_timestamp.as_ref().map(|t| t.0),
                &b.metadata.name,
            ))
    })
}

/// The pod whose logs to show among a Job's: the newest (a Job of `backoffLimit: 0` has
/// one, but a pod replaced after an eviction leaves two).
pub fn pick_pod(pods: &[Pod]) -> Option<&Pod> {
    pods.iter().max_by(|a, b| {
        (
            a.metadata.creation_timestamp.as_ref().map(|t| t.0),
            &a.metadata.name,
        )
            .cmp(&(
                b.metadata.creation_timestamp.as_ref().map(|t| t.0),
                &b.metadata.name,
            ))
    })
}

/// Why a pod has no logs yet (`None`: it has, or had, a running step container): not
/// scheduled, or its container still waiting (with the kubelet's reason).
pub fn not_started(pod: &Pod) -> Option<String> {
    let status = pod.status.clone().unwrap_or_default();
    let phase = status.phase.unwrap_or_else(|| "Pending".into());
    if phase != "Pending" {
        return None;
    }
    let step = status
        .container_statuses
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.name == STEP_CONTAINER);
    let state = step.and_then(|c| c.state).unwrap_or_default();
    if state.running.is_some() || state.terminated.is_some() {
        return None;
    }
    Some(match state.waiting.and_then(|w| w.reason) {
        Some(reason) => format!("its container is waiting ({reason})"),
        None if pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_ref())
            .is_none() =>
        {
            "it is not scheduled yet (Pending)".into()
        }
        None => "its container has not started (Pending)".into(),
    })
}
