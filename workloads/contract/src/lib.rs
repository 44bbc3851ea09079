//! The interface of the `pitstop` binary as the operator uses it: what the operator writes
//! into the pods it builds (subcommands, flags, environment variables), where it finds
//! them (ports) and what it reads back (metric names). Both crates take these names from
//! here, so renaming a flag in `pitstop` changes what the operator writes too (or fails
//! to compile), instead of breaking pods at runtime.
//!
//! Only names live here: no types, no dependencies, nothing that could make this crate
//! depend on either side.

/// Ports the workloads listen on (fixed contracts, see docs/racesession.md).
pub mod ports {
    /// The simulator's `/health`, `/ready` and `/metrics`.
    pub const SIMULATOR: u16 = 8000;
    /// The processor's ingest and analytics API, probes and metrics.
    pub const PROCESSOR: u16 = 8001;
    /// The operator's metrics, probes and container-metrics proxy.
    pub const OPERATOR: u16 = 8002;
    /// The F1-game ingest gateway's `/health`, `/ready`, `/metrics` and `/status`.
    pub const GATEWAY: u16 = 8000;
    /// The F1 game's telemetry datagrams (UDP; the game's default port).
    pub const GAME_UDP: u16 = 20777;
}

/// HTTP paths the operator reads.
pub mod paths {
    /// The gateway's JSON status: `datagrams_per_second`, `sessions_seen`, `datagrams`,
    /// `dropped`, `finished` (the chequered flag of its session was seen).
    pub const GATEWAY_STATUS: &str = "/status";
}

/// Subcommands of `pitstop` the operator runs.
pub mod commands {
    pub const SIMULATE: &str = "simulate";
    pub const PROCESS: &str = "process";
    /// `pitstop job <step> ...`: one post-race step.
    pub const JOB: &str = "job";
    /// The step of the final notification (it takes [`super::flags::OUTCOME`]).
    pub const NOTIFY_STEP: &str = "notify";
    /// The step the season-report CronJob runs.
    pub const SEASON_REPORT_STEP: &str = "season-report";
    /// The F1-game UDP gateway (`source: game`).
    pub const INGEST: &str = "ingest";
    /// Feeds a recorded or OpenF1 session through the processor (`source: openf1`).
    pub const REPLAY: &str = "replay";
}

/// Long flags (without `--`) the operator passes.
pub mod flags {
    // `pitstop simulate`
    pub const SESSION: &str = "session";
    pub const CIRCUIT: &str = "circuit";
    pub const LAPS: &str = "laps";
    pub const SEED: &str = "seed";
    pub const SAMPLE_HZ: &str = "sample-hz";
    pub const ANOMALY_RATE: &str = "anomaly-rate";
    pub const TIME_SCALE: &str = "time-scale";
    pub const RATE: &str = "rate";
    pub const GRID: &str = "grid";
    // `pitstop ingest`: UDP address to listen on, processor to feed.
    pub const UDP: &str = "udp";
    pub const API_URL: &str = "api-url";
    // `pitstop replay --openf1-session KEY --openf1-url URL --speed N`
    pub const OPENF1_SESSION: &str = "openf1-session";
    pub const OPENF1_URL: &str = "openf1-url";
    pub const SPEED: &str = "speed";
    // `pitstop job notify`
    pub const OUTCOME: &str = "outcome";
    pub const FAILED_TASKS: &str = "failed-tasks";
}

/// Environment variables the workloads read (every flag above has none; these have no
/// flag the operator uses).
pub mod env {
    pub const REDIS_URL: &str = "REDIS_URL";
    pub const DATABASE_URL: &str = "DATABASE_URL";
    /// libpq's names: the default `sslmode` and CA file (PEM) of a database URL that
    /// does not give its own `sslmode` / `sslrootcert`.
    pub const PG_SSLMODE: &str = "PGSSLMODE";
    pub const PG_SSLROOTCERT: &str = "PGSSLROOTCERT";
    /// CA (PEM) that a `rediss://` server's certificate must chain to (default: the
    /// system's roots).
    pub const REDIS_CA_FILE: &str = "PITSTOP_REDIS_CA_FILE";
    /// Client certificate and key (PEM), for a Redis server that asks for one.
    pub const REDIS_CLIENT_CERT_FILE: &str = "PITSTOP_REDIS_CLIENT_CERT_FILE";
    pub const REDIS_CLIENT_KEY_FILE: &str = "PITSTOP_REDIS_CLIENT_KEY_FILE";
    /// Stream key prefix.
    pub const STREAM: &str = "PITSTOP_STREAM";
    pub const PARTITIONS: &str = "PITSTOP_PARTITIONS";
    /// The ingest API key of `POST /telemetry`.
    pub const API_KEY: &str = "STREAM_PROCESSOR_API_KEY";
    /// `json` or `text`.
    pub const LOG_FORMAT: &str = "PITSTOP_LOG_FORMAT";
    // Post-race steps.
    pub const SESSION: &str = "PITSTOP_SESSION";
    pub const REPORT_URL: &str = "PITSTOP_REPORT_URL";
    pub const WEBHOOK_URL: &str = "PITSTOP_WEBHOOK_URL";
    pub const RUN_ID: &str = "PITSTOP_RUN_ID";
    pub const TASK: &str = "PITSTOP_TASK";
    pub const ATTEMPT: &str = "PITSTOP_ATTEMPT";
}

/// Metric names the operator's configuration refers to.
pub mod metrics {
    /// Per-pod counter of processed samples: what the autoscaler's rate is computed from.
    pub const MESSAGES_PROCESSED_TOTAL: &str = "pitstop_processor_messages_processed_total";
    /// The HPA's Pods metric: the rate of [`MESSAGES_PROCESSED_TOTAL`] per pod, as the
    /// prometheus-adapter rule serves it.
    pub const MESSAGES_PROCESSED_PER_SECOND: &str =
        "pitstop_processor_messages_processed_per_second";
}

/// Stream partitions of a race (one processor works each at a time).
pub const PARTITIONS: u16 = 4;
