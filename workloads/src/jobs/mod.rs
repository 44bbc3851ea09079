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
mod svg;

use tokio_postgres::Client;

/// The steps a pipeline task can run. The operator validates DAGs against [`Step::ALL`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    CollectTelemetry,
    PersistTeams,
    DataQuality,
    Aggregate,
    Report,
    Notify,
    SeasonReport,
}

impl Step {
    pub const ALL: [Step; 7] = [
        Step::CollectTelemetry,
        Step::PersistTeams,
        Step::DataQuality,
        Step::Aggregate,
        Step::Report,
        Step::Notify,
        Step::SeasonReport,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::CollectTelemetry => "collect-telemetry",
            Step::PersistTeams => "persist-teams",
            Step::DataQuality => "data-quality",
            Step::Aggregate => "aggregate",
            Step::Report => "report",
            Step::Notify => "notify",
            Step::SeasonReport => "season-report",
        }
    }

    pub fn parse(s: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// Why a step failed. The message is what the task's status and the notification show.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("redis at {endpoint}: {source}")]
    RedisAt {
        endpoint: String,
        source: redis::RedisError,
    },
    #[error(transparent)]
    Connect(#[from] crate::db::ConnectError),
    #[error("session {0:?} not found (did the processor see its start?)")]
    NoSession(String),
    #[error(
        "session {0:?} has not finished: the processor has not seen every partition's chequered flag"
    )]
    NotFinished(String),
    #[error("archive incomplete: {0}")]
    Incomplete(String),
    #[error("data quality failed: {0}")]
    Quality(String),
    #[error("notification: {0}")]
    Notify(String),
    #[error("{0}")]
    Usage(String),
}

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

/// A name safe inside an SQL identifier: lower-case alphanumerics and `_`, with a short
/// hash of the original so that different names never collide.
pub(crate) fn ident_suffix(name: &str) -> String {
    let mut slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(24)
        .collect();
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    slug.push_str(&format!("_{h:08x}"));
    slug
}

/// A string as an SQL literal (DDL takes no bind parameters).
pub(crate) fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_round_trip() {
        for s in Step::ALL {
            assert_eq!(Step::parse(s.as_str()), Some(s));
        }
        assert_eq!(Step::parse("train-model"), None);
    }

    /// Identifiers are safe and distinct even for names that slug the same.
    #[test]
    fn identifiers_are_safe_and_distinct() {
        let a = ident_suffix("Red Bull Racing");
        let b = ident_suffix("Red-Bull-Racing");
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        assert_eq!(literal("O'Neil"), "'O''Neil'");
    }
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
    redis: &redis::Client,
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
                    "archived {} samples of {} cars ({} read now, {} stream entries trimmed)",
                    c.archived, c.cars, c.read, c.trimmed
                )
            }),
        Step::PersistTeams => match &a.team {
            Some(team) => persist::run(db, s, team).await.map(|p| {
                format!(
                    "{team}: {} laps, {} stints, {} pit stops, {} anomalies",
                    p.laps, p.stints, p.pit_stops, p.anomalies
                )
            }),
            None => Err(JobError::Usage("persist-teams needs --team".into())),
        },
        Step::DataQuality => quality::run(db, s, &a.attempt.run_id)
            .await
            .map(|r| format!("{} checks passed", r.checks.len())),
        Step::Aggregate => aggregate::run(db, s)
            .await
            .map(|t| format!("{} team summaries", t.len())),
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
            format!(
                "season report over {} teams",
                v.as_array().map_or(0, Vec::len)
            )
        }),
    };
    if step != Step::SeasonReport {
        let (outcome, message) = match &result {
            Ok(m) => ("succeeded", m.clone()),
            Err(e) => ("failed", e.to_string()),
        };
        // The step's own outcome matters more than its bookkeeping.
        if let Err(e) = record_finish(db, s, &a.attempt, outcome, &message).await {
            tracing::warn!(error = %e, "could not record the attempt's outcome");
        }
    }
    result
}
