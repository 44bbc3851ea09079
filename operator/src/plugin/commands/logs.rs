//! `kubectl pitstop logs RACE TASK`: the logs of the pod of the task's latest Job.

use crate::plugin::cluster::Cluster;
use crate::plugin::error::PluginError;
use crate::plugin::tasks::{self, Lookup};
use std::io::Write;

pub async fn show(
    c: &Cluster,
    name: &str,
    task: &str,
    tail: Option<i64>,
    out: &mut dyn Write,
) -> Result<(), PluginError> {
    let race = c.race(name).await?;
    let job = match tasks::lookup(&race, task) {
        Lookup::Unknown(names) if names.is_empty() => {
            return Err(PluginError::NotFound(format!(
                "race {name:?} has no post-race task {task:?} (its pipeline has none)"
            )));
        }
        Lookup::Unknown(names) => {
            return Err(PluginError::NotFound(format!(
                "race {name:?} has no post-race task {task:?}; its tasks: {}",
                names.join(", ")
            )));
        }
        Lookup::NotStarted => {
            return Err(PluginError::NotFound(format!(
                "task {task:?} of race {name:?} has not started yet: no logs"
            )));
        }
        Lookup::Job(Some(job)) => job,
        Lookup::Job(None) => {
            let jobs = c.task_jobs(name, task).await?;
            tasks::latest_job(&jobs)
                .and_then(|j| j.metadata.name.clone())
                .ok_or_else(|| {
                    PluginError::NotFound(format!(
                        "task {task:?} of race {name:?} has no Job: it has not run yet"
                    ))
                })?
        }
    };
    let pods = c.job_pods(&job).await?;
    let picked = tasks::pick_pod(&pods).ok_or_else(|| {
            PluginError::NotFound(format!(
                "task {task:?} of race {name:?}: Job {job:?} has no pod (not started yet, or removed after the Job's TTL; failed attempts are kept for postRace.ttlSecondsAfterFailure)"
            ))
        })?;
    let pod = picked.metadata.name.clone().unwrap_or_default();
    if let Some(why) = tasks::not_started(picked) {
        return Err(PluginError::NotFound(format!(
            "no logs of pod {pod:?} yet: {why}"
        )));
    }
    let text = c.logs(&pod, tasks::STEP_CONTAINER, tail).await?;
    out.write_all(text.as_bytes()).map_err(PluginError::write)
}
