//! What the partition tasks, the lease manager and the API share: the processor's
//! settings, its connections and metrics ([`Shared`]), and the liveness it reports.

use super::metrics::ProcessorMetrics;
use super::recorder::LatencyRecorder;
use super::server;
use crate::metrics::TeamLabels;
use crate::redis_conn::RedisHandle;
use crate::stream::StreamKeys;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

/// Processor settings (flags and env vars of `pitstop process`). Its `Debug` shows no
/// key and no password.
#[derive(Clone)]
pub struct ProcessorConfig {
    pub redis_url: String,
    /// CA and client certificate files of a `rediss://` URL (default: from the
    /// environment, see [`crate::redis_conn::TlsFiles::from_env`]).
    pub redis_tls: crate::redis_conn::TlsFiles,
    pub database_url: String,
    pub stream: String,
    pub partitions: u16,
    /// Unique per replica (the pod name in Kubernetes).
    pub consumer: String,
    pub api_key: Option<String>,
    pub listen: Option<SocketAddr>,
    pub max_batch_samples: usize,
    pub read_count: usize,
    pub lease_ttl: Duration,
    pub max_body_bytes: usize,
    pub max_samples_per_request: usize,
    pub maxlen: usize,
    /// Header-read timeout and connection cap of the HTTP server.
    pub http: server::Limits,
}

impl ProcessorConfig {
    pub fn new(redis_url: &str, database_url: &str, stream: &str) -> Self {
        ProcessorConfig {
            redis_url: redis_url.into(),
            redis_tls: crate::redis_conn::TlsFiles::from_env(),
            database_url: database_url.into(),
            stream: stream.into(),
            partitions: 4,
            consumer: default_consumer(),
            api_key: None,
            listen: None,
            max_batch_samples: 20_000,
            read_count: 64,
            lease_ttl: Duration::from_secs(10),
            max_body_bytes: 1 << 20,
            max_samples_per_request: 5_000,
            maxlen: 250_000,
            http: server::Limits::default(),
        }
    }
}

impl std::fmt::Debug for ProcessorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::secrets::redact_url;
        f.debug_struct("ProcessorConfig")
            .field("redis_url", &redact_url(&self.redis_url))
            .field("database_url", &redact_url(&self.database_url))
            .field("stream", &self.stream)
            .field("partitions", &self.partitions)
            .field("consumer", &self.consumer)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("listen", &self.listen)
            .field("lease_ttl", &self.lease_ttl)
            .finish_non_exhaustive()
    }
}

/// `$HOSTNAME` (the pod name) or `pitstop-<pid>`.
pub fn default_consumer() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| format!("pitstop-{}", std::process::id()))
}

/// State shared by the partition tasks and the API.
pub struct Shared {
    pub cfg: ProcessorConfig,
    pub keys: StreamKeys,
    pub consumer: String,
    pub database_url: String,
    /// For connections of their own (each partition task opens its own).
    pub redis: crate::redis_conn::RedisTarget,
    /// The shared connection of the lease manager and the API; comes back after Redis
    /// restarts.
    pub link: RedisHandle,
    /// The API's shared connection (its writes wait for replicas in a Redis Cluster,
    /// which must not hold the lease manager's calls).
    pub api_link: RedisHandle,
    pub metrics: ProcessorMetrics,
    pub teams: TeamLabels,
    pub recorder: Option<Arc<LatencyRecorder>>,
    pub health: Health,
}

/// How long the work loop may go without progress before `/health` fails, so the
/// kubelet restarts a wedged pod: one minute, or six lease rounds if the TTL is longer.
pub fn liveness_bound(lease_ttl: Duration) -> Duration {
    (lease_ttl * 2).max(Duration::from_secs(60))
}

/// What `/health` judges by: the lease manager's heartbeat.
#[derive(Debug, Default)]
pub struct Health {
    /// The schema is migrated (the work loop has started).
    pub migrated: AtomicBool,
    /// End of the manager's last round, whatever its outcome (ms since the epoch).
    pub beat_ms: AtomicI64,
    /// End of its last successful round.
    pub round_ok_ms: AtomicI64,
}

impl Health {
    /// Records a round of the work loop (`ok`: it succeeded).
    pub(super) fn beat(&self, ok: bool) {
        let now = crate::util::now_ms();
        self.beat_ms.store(now, Ordering::Relaxed);
        if ok {
            self.round_ok_ms.store(now, Ordering::Relaxed);
        }
    }
}

/// Why the processor is not live, if it is not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stall {
    /// The work loop has not come round at all (stuck in a call).
    Wedged { seconds: i64 },
    /// The loop runs but none of its rounds succeeded, although Redis answers a fresh
    /// connection: the processor's own connection is not coming back.
    Failing { seconds: i64 },
}

impl Shared {
    /// Liveness: `None` when the work loop is making progress, or is only waiting for a
    /// dependency that is away (restarting the pod would not bring it back).
    pub async fn stall(&self) -> Option<Stall> {
        let bound = liveness_bound(self.cfg.lease_ttl).as_millis() as i64;
        let now = crate::util::now_ms();
        let h = &self.health;
        let beat = now - h.beat_ms.load(Ordering::Relaxed);
        if beat > bound {
            return Some(Stall::Wedged {
                seconds: beat / 1000,
            });
        }
        let since_ok = now - h.round_ok_ms.load(Ordering::Relaxed);
        if !h.migrated.load(Ordering::Relaxed) || since_ok <= bound {
            return None;
        }
        // Probe with a connection of our own, briefly: kubelet probes time out in
        // seconds.
        let probe = async {
            let mut con = crate::redis_conn::connect_async(&self.redis).await?;
            redis::cmd("PING").query_async::<String>(&mut con).await
        };
        match tokio::time::timeout(Duration::from_secs(1), probe).await {
            Ok(Ok(_)) => Some(Stall::Failing {
                seconds: since_ok / 1000,
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    /// A config in a log line shows neither the key nor a password.
    #[test]
    fn debug_hides_secrets() {
        let mut c = super::ProcessorConfig::new(
            "redis://:hunter2-redis@r:6379",
            "postgres://u:hunter2-pg@h/db",
            "s",
        );
        c.api_key = Some("hunter2-api-key-0123456789".into());
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("api_key: Some(\"<set>\")"), "{shown}");
    }
}
