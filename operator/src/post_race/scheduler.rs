//! The scheduler: a pure function from (DAG, recorded task states, observed Jobs, now) to
//! the Jobs to create, the task states to record and the run's phase. Rules:
//!
//! - a task starts when all its dependencies succeeded, in DAG order, while fewer than
//!   `parallelism` tasks run;
//! - each attempt is its own Job (`backoffLimit: 0`, `activeDeadlineSeconds` = the task's
//!   deadline); a failed attempt is retried after `backoff × 2^(n−1)` (capped at 5 min)
//!   until `retries` are used up;
//! - a task whose dependency failed or was skipped is Skipped;
//! - finally tasks start once every other task is finished or skipped, whatever happened;
//! - a retry-from-failed (see [`retry_from_failed`]) starts a new round for the tasks that
//!   did not succeed and keeps the ones that did.
//!
//! Finished attempts live in the recorded states, so a Job removed by its TTL changes
//! nothing; a Job that vanishes while running counts as a failed attempt.

use super::dag::{Dag, Task};
use crate::api::{RunPhase, TaskPhase, TaskStatus};
use k8s_openapi::jiff::Timestamp;
use std::collections::BTreeMap;

/// Longest wait between attempts.
pub const MAX_BACKOFF_S: i64 = 300;

/// What the API server says about one Job.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobState {
    pub active: bool,
    pub succeeded: bool,
    pub failed: bool,
    pub started: Option<Timestamp>,
    pub finished: Option<Timestamp>,
    /// Why it failed (the Job's Failed condition: reason and message).
    pub message: String,
}

/// A Job to create.
#[derive(Clone, Debug, PartialEq)]
pub struct Launch {
    pub task: String,
    pub job: String,
    pub attempt: i32,
    pub round: i32,
    pub finally: bool,
}

/// A task's transition, for Events and metrics.
#[derive(Clone, Debug, PartialEq)]
pub enum Transition {
    Started {
        attempt: i32,
    },
    Succeeded {
        seconds: f64,
    },
    /// An attempt failed; `last` when no retry is left.
    Failed {
        attempt: i32,
        last: bool,
        message: String,
    },
    Skipped {
        because: String,
    },
}

/// The scheduler's answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    pub launch: Vec<Launch>,
    pub tasks: Vec<TaskStatus>,
    pub phase: RunPhase,
    /// Tasks that failed or were skipped (for the outcome notification).
    pub failed: Vec<String>,
    /// When to look again at the latest (a backoff ending).
    pub requeue_after_s: Option<i64>,
    pub transitions: Vec<(String, Transition)>,
}

/// The Job of one attempt: `<race>-p<run>-<task>-<round>-<attempt>`, shortened with a
/// hash when longer than a Job name may be (63, leaving room for the pod suffix).
pub fn job_name(race: &str, run: i32, task: &str, round: i32, attempt: i32) -> String {
    let full = format!("{race}-p{run}-{task}-{round}-{attempt}");
    if full.len() <= 52 {
        return full;
    }
    let h = crate::children::hash::fnv1a(full.bytes()) as u32;
    let keep: String = full.chars().take(43).collect();
    format!("{}-{h:08x}", keep.trim_end_matches('-'))
}

/// Wait before attempt `next` (2, 3, …) of a task.
pub fn backoff_s(t: &Task, next: i32) -> i64 {
    let doublings = (next - 2).clamp(0, 20) as u32;
    (t.backoff_s.saturating_mul(1 << doublings)).min(MAX_BACKOFF_S)
}

/// RFC 3339 to the second, like Kubernetes' own times.
pub fn ts(t: Timestamp) -> String {
    Timestamp::from_second(t.as_second())
        .unwrap_or(t)
        .to_string()
}

fn parse(s: &Option<String>) -> Option<Timestamp> {
    s.as_deref().and_then(|s| s.parse().ok())
}

fn terminal(p: TaskPhase) -> bool {
    matches!(
        p,
        TaskPhase::Succeeded | TaskPhase::Failed | TaskPhase::Skipped
    )
}

/// Plans the next step of run `run` of `race`.
pub fn schedule(
    race: &str,
    run: i32,
    dag: &Dag,
    recorded: &[TaskStatus],
    jobs: &BTreeMap<String, JobState>,
    now: Timestamp,
) -> Schedule {
    let mut transitions = Vec::new();
    // 1. Bring every task's record up to date with its running attempt's Job.
    let mut states: Vec<TaskStatus> = dag
        .all()
        .map(|t| {
            let mut s = recorded
                .iter()
                .find(|r| r.name == t.name)
                .cloned()
                .unwrap_or_else(|| TaskStatus {
                    name: t.name.clone(),
                    ..TaskStatus::default()
                });
            if s.phase == TaskPhase::Running {
                let job = s.job.clone().unwrap_or_default();
                let observed = jobs.get(&job);
                match observed {
                    Some(j) if j.succeeded => {
                        let end = j.finished.unwrap_or(now);
                        s.phase = TaskPhase::Succeeded;
                        s.finished_at = Some(ts(end));
                        s.message = String::new();
                        let start = parse(&s.started_at).unwrap_or(end);
                        transitions.push((
                            t.name.clone(),
                            Transition::Succeeded {
                                seconds: end.duration_since(start).as_secs_f64().max(0.0),
                            },
                        ));
                    }
                    Some(j) if j.active || !j.failed => {}
                    _ => {
                        let (end, message) = match observed {
                            Some(j) => (j.finished.unwrap_or(now), j.message.clone()),
                            None => (now, format!("Job {job} disappeared while running")),
                        };
                        let last = s.attempts > t.retries;
                        s.finished_at = Some(ts(end));
                        s.message = message.clone();
                        if last {
                            s.phase = TaskPhase::Failed;
                        } else {
                            s.phase = TaskPhase::Pending;
                            let wait = backoff_s(t, s.attempts + 1);
                            s.retry_at =
                                Some(ts(end + std::time::Duration::from_secs(wait as u64)));
                        }
                        transitions.push((
                            t.name.clone(),
                            Transition::Failed {
                                attempt: s.attempts,
                                last,
                                message,
                            },
                        ));
                    }
                }
            }
            s
        })
        .collect();

    // 2. Skip what can no longer run; find what may start.
    let phase_of = |states: &[TaskStatus], name: &str| {
        states
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.phase)
            .unwrap_or_default()
    };
    let n_dag = dag.tasks.len();
    for (i, t) in dag.tasks.iter().enumerate() {
        if states[i].phase != TaskPhase::Pending || states[i].attempts > 0 {
            continue;
        }
        if let Some(dep) = t
            .depends_on
            .iter()
            .find(|d| matches!(phase_of(&states, d), TaskPhase::Failed | TaskPhase::Skipped))
        {
            let because = format!("{dep} did not succeed");
            states[i].phase = TaskPhase::Skipped;
            states[i].message = because.clone();
            transitions.push((t.name.clone(), Transition::Skipped { because }));
        }
    }
    let dag_done = states[..n_dag].iter().all(|s| terminal(s.phase));
    let mut running = states
        .iter()
        .filter(|s| s.phase == TaskPhase::Running)
        .count();
    let mut launch = Vec::new();
    let mut requeue: Option<i64> = None;
    for (i, t) in dag.all().enumerate() {
        let is_finally = i >= n_dag;
        let s = &states[i];
        if s.phase != TaskPhase::Pending {
            continue;
        }
        let ready = if is_finally {
            dag_done
        } else {
            t.depends_on
                .iter()
                .all(|d| phase_of(&states, d) == TaskPhase::Succeeded)
        };
        if !ready {
            continue;
        }
        if let Some(at) = parse(&s.retry_at)
            && at > now
        {
            let wait = at.duration_since(now).as_secs().max(1);
            requeue = Some(requeue.map_or(wait, |r| r.min(wait)));
            continue;
        }
        if running >= dag.parallelism {
            break;
        }
        let s = &mut states[i];
        s.attempts += 1;
        let job = job_name(race, run, &t.name, s.round, s.attempts);
        s.phase = TaskPhase::Running;
        s.job = Some(job.clone());
        s.started_at = Some(ts(now));
        s.finished_at = None;
        s.retry_at = None;
        running += 1;
        transitions.push((
            t.name.clone(),
            Transition::Started {
                attempt: s.attempts,
            },
        ));
        launch.push(Launch {
            task: t.name.clone(),
            job,
            attempt: s.attempts,
            round: s.round,
            finally: is_finally,
        });
    }

    // 3. The run's phase.
    let failed: Vec<String> = states[..n_dag]
        .iter()
        .filter(|s| matches!(s.phase, TaskPhase::Failed | TaskPhase::Skipped))
        .map(|s| s.name.clone())
        .collect();
    let all_done = states.iter().all(|s| terminal(s.phase));
    let phase = if !all_done {
        RunPhase::Running
    } else if failed.is_empty()
        && states[n_dag..]
            .iter()
            .all(|s| s.phase == TaskPhase::Succeeded)
    {
        RunPhase::Succeeded
    } else {
        RunPhase::Failed
    };
    Schedule {
        launch,
        tasks: states,
        phase,
        failed,
        requeue_after_s: requeue,
        transitions,
    }
}

/// A retry-from-failed: tasks that succeeded keep their result; every other task (and
/// every finally task) starts over in a new round.
pub fn retry_from_failed(dag: &Dag, recorded: &[TaskStatus]) -> Vec<TaskStatus> {
    recorded
        .iter()
        .map(|s| {
            let in_dag = dag.tasks.iter().any(|t| t.name == s.name);
            if s.phase == TaskPhase::Succeeded && in_dag {
                s.clone()
            } else {
                TaskStatus {
                    name: s.name.clone(),
                    round: s.round + 1,
                    ..TaskStatus::default()
                }
            }
        })
        .collect()
}
