//! The post-race steps by name, and why one fails.

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
            Step::Notify => pitstop_contract::commands::NOTIFY_STEP,
            Step::SeasonReport => pitstop_contract::commands::SEASON_REPORT_STEP,
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
}
