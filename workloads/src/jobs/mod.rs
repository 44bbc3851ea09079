//! Post-race pipeline steps (`pitstop job <step>`), each idempotent and safe to retry:
//! the operator runs them as Kubernetes Jobs in the order of its DAG, `make demo` runs
//! them in-process. Every attempt records itself in `pipeline_task_runs`.

pub mod aggregate;
pub mod collect;
pub mod notify;
pub mod persist;
pub mod quality;
pub mod report;
pub mod season;
mod sql;
mod step;
mod svg;

pub use step::{JobError, Step};

use crate::errors::chain;
use crate::wording::count;
use tokio_postgres::Client;

/// Identity of one attempt of one task of one pipeline run.
#[derive(Clone, Debug, Default)]
pub struct Attempt {
    pub run_id: String,
    pub task: String,
    pub attempt: i32,
}

/// Records the start of an attempt (a retry of the same attempt id restarts the row).
pub async fn record_start(
    db: &Client,
    session: &str,
    a: &Attempt,
    step: Step,
) -> Result<(), JobError> {
    db.execute(
        "INSERT INTO pipeline_task_runs (session_id, run_id, task, attempt, step) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (session_id, run_id, task, attempt) DO UPDATE SET started_at = now(), finished_at = NULL, outcome = NULL, message = NULL",
        &[&session, &a.run_id, &a.task, &a.attempt, &step.as_str()],
    )
    .await?;
    Ok(())
}

/// Records how an attempt ended.
pub async fn record_finish(
    db: &Client,
    session: &str,
    a: &Attempt,
    outcome: &str,
    message: &str,
) -> Result<(), JobError> {
    db.execute(
        "UPDATE pipeline_task_runs SET finished_at = now(), outcome = $5, message = $6
          WHERE session_id = $1 AND run_id = $2 AND task = $3 AND attempt = $4",
        &[&session, &a.run_id, &a.task, &a.attempt, &outcome, &message],
    )
    .await?;
    Ok(())
}

/// Everything one `pitstop job <step>` invocation needs besides its connections.
#[derive(Clone, Debug, Default)]
pub struct JobArgs {
    pub session: String,
    pub attempt: Attempt,
    /// `persist-teams`: the team.
    pub team: Option<String>,
    /// `notify`: announce the run's outcome (`Some(succeeded)`) instead of the race summary.
    pub outcome: Option<bool>,
    pub failed_tasks: Vec<String>,
    /// `collect-telemetry`: leave the stream untrimmed.
    pub keep_stream: bool,
    pub report_url: Option<String>,
    pub webhook_url: Option<String>,
}

/// Runs one step, recording the attempt in `pipeline_task_runs`. Returns a one-line
/// summary of what it did (logged, and the task's message).
pub async fn execute(
    step: Step,
    db: &mut Client,
    redis: &crate::redis_conn::RedisTarget,
    keys: &crate::stream::StreamKeys,
    a: &JobArgs,
) -> Result<String, JobError> {
    let s = a.session.as_str();
    if step != Step::SeasonReport {
        record_start(db, s, &a.attempt, step).await?;
    }
    let result = match step {
        Step::CollectTelemetry => collect::run(db, redis, keys, s, !a.keep_stream)
            .await
            .map(|c| {
                format!(
                    "archived {} of {} ({} read now, {} deleted from the stream once archived)",
                    count(c.archived, "sample", "samples"),
                    count(c.cars, "car", "cars"),
                    c.read,
                    count(c.trimmed, "stream entry", "stream entries"),
                )
            }),
        Step::PersistTeams => match &a.team {
            Some(team) => persist::run(db, s, team).await.map(|p| {
                if p.absent {
                    return format!("{team}: no car in this session, nothing to persist");
                }
                format!(
                    "{team}: {}, {}, {}, {}",
                    count(p.laps, "lap", "laps"),
                    count(p.stints, "stint", "stints"),
                    count(p.pit_stops, "pit stop", "pit stops"),
                    count(p.anomalies, "anomaly", "anomalies"),
                )
            }),
            None => Err(JobError::Usage("persist-teams needs --team".into())),
        },
        Step::DataQuality => quality::run(db, s, &a.attempt.run_id)
            .await
            .map(|r| format!("{} passed", count(r.checks.len(), "check", "checks"))),
        Step::Aggregate => aggregate::run(db, s)
            .await
            .map(|t| count(t.len(), "team summary", "team summaries")),
        Step::Report => report::run(db, s)
            .await
            .map(|n| format!("report stored ({n} bytes)")),
        Step::Notify => {
            let message = match a.outcome {
                Some(succeeded) => notify::Message::Outcome {
                    succeeded,
                    failed_tasks: a.failed_tasks.clone(),
                    run_id: a.attempt.run_id.clone(),
                },
                None => notify::Message::Summary {
                    report_url: a.report_url.clone(),
                },
            };
            notify::run(db, s, &message, a.webhook_url.as_deref())
                .await
                .map(|_| {
                    if a.webhook_url.as_deref().is_some_and(|u| !u.is_empty()) {
                        "notification delivered".to_string()
                    } else {
                        "no webhook configured; notification logged".to_string()
                    }
                })
        }
        Step::SeasonReport => season::run(db).await.map(|v| {
            let teams = v.as_array().map_or(0, Vec::len);
            format!("season report over {}", count(teams, "team", "teams"))
        }),
    };
    if step != Step::SeasonReport {
        let (outcome, message) = match &result {
            Ok(m) => ("succeeded", m.clone()),
            Err(e) => ("failed", chain(e).to_string()),
        };
        // The step's own outcome matters more than its bookkeeping.
        if let Err(e) = record_finish(db, s, &a.attempt, outcome, &message).await {
            tracing::warn!(error = %chain(&e), "could not record the attempt's outcome");
        }
    }
    result
}
