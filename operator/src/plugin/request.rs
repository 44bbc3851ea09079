//! A run or retry request (the annotations the operator acts on, see
//! `post_race::plan::requests`): the value that makes a new request, what the operator
//! will do with it given `status.pipeline` now, and its answer once the status records
//! the value.

use crate::api::{PipelineStatus, RunPhase, TaskPhase};
use crate::post_race::plan::{RETRY_ANNOTATION, RUN_ANNOTATION};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Run,
    Retry,
}

impl Kind {
    pub fn annotation(self) -> &'static str {
        match self {
            Kind::Run => RUN_ANNOTATION,
            Kind::Retry => RETRY_ANNOTATION,
        }
    }

    /// The value of this request the status records once the operator acted on it.
    fn recorded(self, p: &PipelineStatus) -> Option<&str> {
        match self {
            Kind::Run => p.run_request.as_deref(),
            Kind::Retry => p.retry_request.as_deref(),
        }
    }
}

/// The annotation's value: the operator acts on each value once, so a new one each time
/// (the time, to the nanosecond, which also says when it was asked).
pub fn value(now: k8s_openapi::jiff::Timestamp) -> String {
    now.to_string()
}

/// What the operator does with a request.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Run `run` starts.
    Started { run: i32 },
    /// Run `run` goes on from these failed (or skipped) tasks.
    Retried { run: i32, tasks: Vec<String> },
    /// The operator refuses, and why.
    Refused(String),
}

/// Tasks a retry re-runs: those that failed or were skipped.
fn unfinished(p: &PipelineStatus) -> Vec<String> {
    p.tasks
        .iter()
        .filter(|t| matches!(t.phase, TaskPhase::Failed | TaskPhase::Skipped))
        .map(|t| t.name.clone())
        .collect()
}

/// What the operator will do with a new request, given `status.pipeline` now (the rules
/// of `post_race::plan::requests`).
pub fn predict(kind: Kind, prior: Option<&PipelineStatus>) -> Outcome {
    let run = prior.map_or(0, |p| p.run);
    let phase = prior.map(|p| p.phase);
    match (kind, run, phase) {
        (Kind::Run, n, Some(RunPhase::Running)) if n > 0 => {
            Outcome::Refused(format!("run {n} is still running (one run at a time)"))
        }
        (Kind::Run, n, _) => Outcome::Started { run: n + 1 },
        (Kind::Retry, 0, _) => Outcome::Refused("no run to retry".into()),
        (Kind::Retry, n, Some(RunPhase::Running)) => {
            Outcome::Refused(format!("run {n} is still running"))
        }
        (Kind::Retry, n, Some(RunPhase::Failed)) => Outcome::Retried {
            run: n,
            tasks: prior.map(unfinished).unwrap_or_default(),
        },
        (Kind::Retry, n, _) => Outcome::Refused(format!("run {n} succeeded, nothing to retry")),
    }
}

/// The operator's answer to the request of `value`, from `status.pipeline` after it:
/// `None` while the status does not record the value yet.
pub fn answer(kind: Kind, value: &str, after: Option<&PipelineStatus>) -> Option<Outcome> {
    let p = after?;
    if kind.recorded(p) != Some(value) {
        return None;
    }
    // One reconcile may refuse both requests: their refusals are joined by "; ".
    let refusal = format!("{}={value} refused", kind.annotation());
    if let Some(why) = p
        .request_refused
        .as_deref()
        .and_then(|w| w.split("; ").find(|w| w.starts_with(&refusal)))
    {
        return Some(Outcome::Refused(why.to_string()));
    }
    Some(match kind {
        Kind::Run => Outcome::Started { run: p.run },
        Kind::Retry => Outcome::Retried {
            run: p.run,
            tasks: p
                .tasks
                .iter()
                .filter(|t| t.round > 0 && t.phase != TaskPhase::Succeeded)
                .map(|t| t.name.clone())
                .collect(),
        },
    })
}

/// An outcome in words, for the race `race`.
pub fn describe(race: &str, o: &Outcome) -> String {
    match o {
        Outcome::Started { run } => format!("race {race:?}: post-race run {run} started"),
        Outcome::Retried { run, tasks } if tasks.is_empty() => {
            format!("race {race:?}: run {run} retried from its failed tasks")
        }
        Outcome::Retried { run, tasks } => format!(
            "race {race:?}: run {run} retried from its failed tasks ({})",
            tasks.join(", ")
        ),
        Outcome::Refused(why) => format!("race {race:?}: the operator refused: {why}"),
    }
}
