//! The stream processor: partition owners consuming Redis Streams into PostgreSQL, and
//! the HTTP API on :8001.

pub mod api;
pub mod batch;
pub mod consumer;
pub mod dead_letters;
pub mod entry;
pub mod lease;
pub mod live;
pub mod metrics;
pub mod queries;
pub mod recorder;
pub mod server;
mod shared;
pub mod store;
pub mod strategy_input;
pub mod strategy_metrics;

pub use shared::{Health, ProcessorConfig, Shared, Stall, default_consumer, liveness_bound};

use crate::errors::chain;
use crate::metrics::TeamLabels;
use crate::redis_conn::RedisHandle;
use crate::stream::StreamKeys;
use crate::util::retry_delay;
use consumer::Control;
use metrics::ProcessorMetrics;
use recorder::LatencyRecorder;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error(transparent)]
    RedisTarget(#[from] crate::redis_conn::TargetError),
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error(transparent)]
    Connect(#[from] crate::db::ConnectError),
    #[error("the API key {0}")]
    ApiKey(#[from] crate::secrets::ApiKeyError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A running processor.
pub struct Processor {
    pub shared: Arc<Shared>,
    pub addr: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    manager: JoinHandle<()>,
    server: Option<JoinHandle<()>>,
}

impl Processor {
    /// Starts the HTTP API (if `listen` is set) and the work loop. With PostgreSQL
    /// reachable the schema is migrated before this returns; without it the processor
    /// starts anyway (`/ready` says what is missing) and migrates once the database
    /// answers. Redis is connected on first use and reconnected after it restarts.
    pub async fn start(
        mut cfg: ProcessorConfig,
        recorder: Option<Arc<LatencyRecorder>>,
    ) -> Result<Self, StartError> {
        // No key disables ingest; a key that is empty or guessable is refused outright.
        if let Some(k) = &cfg.api_key {
            cfg.api_key = Some(crate::secrets::validate_api_key(k)?.to_owned());
        }
        // A URL that does not parse is a mistake, not an outage: stop now rather than
        // retry it for ever as if the server were away (as an unparsable Redis URL does).
        crate::db::config(&cfg.database_url)?;
        let redis = crate::redis_conn::RedisTarget::open_with(&cfg.redis_url, &cfg.redis_tls)?;
        let link = RedisHandle::new(&redis)?;
        let api_link = RedisHandle::new(&redis)?;
        let shared = Arc::new(Shared {
            keys: StreamKeys::new(&cfg.stream, cfg.partitions),
            consumer: cfg.consumer.clone(),
            database_url: cfg.database_url.clone(),
            redis,
            link,
            api_link,
            metrics: ProcessorMetrics::new(),
            teams: TeamLabels::new(32),
            recorder,
            health: Health::default(),
            cfg,
        });
        shared.health.beat(false);
        let db = match bring_up(&shared).await {
            Ok(db) => Some(db),
            Err(e) => {
                tracing::warn!(error = %chain(&e), "database not ready; the processor starts and retries");
                None
            }
        };
        let (shutdown, rx) = watch::channel(false);
        let (server, addr) = match shared.cfg.listen {
            Some(addr) => {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartError::Listen { addr, source })?;
                let bound = listener
                    .local_addr()
                    .map_err(|source| StartError::Listen { addr, source })?;
                let state = api::ApiState::new(shared.clone(), db);
                tokio::spawn(api::refresh_strategy(state.clone(), rx.clone()));
                let app = api::router(state);
                let handle =
                    tokio::spawn(server::serve(listener, app, shared.cfg.http, rx.clone()));
                tracing::info!(%bound, "processor API listening");
                (Some(handle), Some(bound))
            }
            None => (None, None),
        };
        let manager = tokio::spawn(manage(shared.clone(), rx));
        Ok(Processor {
            shared,
            addr,
            shutdown,
            manager,
            server,
        })
    }

    /// Commits what is in flight, releases the partitions and stops the API.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.manager.await;
        if let Some(s) = self.server {
            let _ = s.await;
        }
    }
}

/// Time without a new failure after which a partition's backoff starts over.
const HEALTHY_AFTER: Duration = Duration::from_secs(60);

struct Owned {
    ctl: Arc<Control>,
    task: JoinHandle<Result<(), consumer::ConsumeError>>,
}

/// Connects to PostgreSQL and migrates the schema, once per process.
async fn bring_up(shared: &Shared) -> Result<tokio_postgres::Client, StartError> {
    let mut db = crate::db::connect(&shared.database_url).await?;
    let applied = tokio::time::timeout(MIGRATE_TIMEOUT, crate::db::migrate(&mut db))
        .await
        .map_err(|_| {
            StartError::Connect(crate::db::ConnectError::Timeout {
                endpoint: "migrations".into(),
            })
        })??;
    if !applied.is_empty() {
        tracing::info!(?applied, "schema migrations applied");
    }
    shared.health.migrated.store(true, Ordering::Relaxed);
    Ok(db)
}

/// Bound on applying the migrations (they are small; a lock held elsewhere is not).
const MIGRATE_TIMEOUT: Duration = Duration::from_secs(60);

/// Sleeps `d` unless shutdown comes first (`false` then).
async fn pause(d: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => true,
        _ = shutdown.wait_for(|s| *s) => false,
    }
}

/// The lease manager: keeps this replica's fair share of partitions, restarts failed
/// partition tasks with backoff, and hands partitions over cleanly on shutdown.
async fn manage(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let ttl_ms = shared.cfg.lease_ttl.as_millis() as i64;
    let tick = shared.cfg.lease_ttl / 3;
    let mut owned: BTreeMap<u16, Owned> = BTreeMap::new();
    let mut backoff: BTreeMap<u16, (u32, tokio::time::Instant)> = BTreeMap::new();
    let mut failures = 0u32;
    while !shared.health.migrated.load(Ordering::Relaxed) {
        shared.health.beat(false);
        if !pause(retry_delay(failures), &mut shutdown).await {
            return;
        }
        match bring_up(&shared).await {
            Ok(_) => tracing::info!("database ready; processing starts"),
            Err(e) => {
                failures += 1;
                tracing::warn!(error = %chain(&e), "database not ready; retrying");
            }
        }
    }
    let mut con = shared.link.con();
    let mut failing_since: Option<tokio::time::Instant> = None;
    loop {
        let round = manage_once(&shared, &mut con, &mut owned, &mut backoff, ttl_ms).await;
        shared.health.beat(round.is_ok());
        match round {
            Ok(()) => {
                if let Some(t) = failing_since.take() {
                    tracing::info!(redis = shared.link.endpoint(), after = ?t.elapsed(), "lease rounds succeed again");
                }
            }
            // Once per outage, not every round: the address and the first error.
            Err(e) if failing_since.is_none() => {
                failing_since = Some(tokio::time::Instant::now());
                tracing::warn!(redis = shared.link.endpoint(), error = %chain(&e), "lease round failed; retrying every round until Redis answers");
            }
            Err(e) => tracing::debug!(error = %chain(&e), "lease round failed"),
        }
        shared.metrics.partitions_owned.set(owned.len() as i64);
        if !pause(tick, &mut shutdown).await {
            break;
        }
    }
    // Graceful hand-over: commit in-flight work, then free the partitions at once so
    // another replica does not wait for the TTL.
    for (p, o) in std::mem::take(&mut owned) {
        o.ctl.stop.store(true, Ordering::Relaxed);
        if let Ok(Err(e)) = o.task.await {
            tracing::warn!(partition = p, error = %chain(&e), "partition stopped with an error");
        }
        let _ = lease::release(&mut con, &shared.keys.lease(p), &shared.consumer).await;
    }
    let _ = lease::leave(&mut con, &shared.keys.members(), &shared.consumer).await;
    shared.metrics.partitions_owned.set(0);
}

/// Entries of the owned partitions not yet delivered to the group (XINFO GROUPS `lag`,
/// Redis ≥ 7). Best effort: a partition whose stream does not exist yet counts 0.
async fn consumer_lag(
    shared: &Shared,
    con: &mut impl redis::aio::ConnectionLike,
    owned: impl Iterator<Item = u16>,
) -> i64 {
    let mut lag = 0;
    for p in owned {
        let Ok(redis::Value::Array(groups)) = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(shared.keys.partition(p))
            .query_async(con)
            .await
        else {
            continue;
        };
        for g in &groups {
            let m = crate::util::redis_map(g);
            if m.get("name")
                .and_then(|v| crate::util::redis_string(v))
                .as_deref()
                == Some(crate::stream::GROUP)
            {
                lag += m.get("lag").and_then(crate::util::redis_int).unwrap_or(0);
            }
        }
    }
    lag
}

async fn manage_once(
    shared: &Arc<Shared>,
    con: &mut (impl redis::aio::ConnectionLike + Send),
    owned: &mut BTreeMap<u16, Owned>,
    backoff: &mut BTreeMap<u16, (u32, tokio::time::Instant)>,
    ttl_ms: i64,
) -> Result<(), redis::RedisError> {
    let now = crate::util::now_ms();
    let me = &shared.consumer;
    let live = lease::heartbeat(con, &shared.keys.members(), me, now, ttl_ms).await?;
    let fair = lease::fair_share(shared.keys.partitions, live);

    // A task stuck in one call past the liveness bound (every call it makes is bounded,
    // so this is the backstop) is stopped and restarted from its checkpoint.
    let bound = liveness_bound(shared.cfg.lease_ttl).as_millis() as i64;
    for (p, o) in owned.iter() {
        let idle = now - o.ctl.beat_ms.load(Ordering::Relaxed);
        if idle > bound && !o.task.is_finished() {
            tracing::error!(
                partition = p,
                idle_s = idle / 1000,
                "partition task stuck; restarting it"
            );
            o.task.abort();
        }
    }
    // Reap finished tasks; a failed one is retried after an exponential backoff.
    let finished: Vec<u16> = owned
        .iter()
        .filter(|(_, o)| o.task.is_finished())
        .map(|(p, _)| *p)
        .collect();
    for p in finished {
        let o = owned.remove(&p).expect("listed above");
        let result = o.task.await;
        let _ = lease::release(con, &shared.keys.lease(p), me).await;
        if let Ok(Err(e)) | Err(e) =
            result.map_err(|j| consumer::ConsumeError::LeaseLost(j.to_string()))
        {
            let (n, _) = backoff
                .get(&p)
                .copied()
                .unwrap_or((0, tokio::time::Instant::now()));
            let delay = retry_delay(n);
            tracing::warn!(partition = p, error = %chain(&e), category = e.category(), retry_in = ?delay, "partition task failed");
            backoff.insert(p, (n + 1, tokio::time::Instant::now() + delay));
        }
    }
    // Renew what we hold; a lost lease stops its task without a commit.
    for (p, o) in owned.iter() {
        if lease::renew(con, &shared.keys.lease(*p), me, ttl_ms).await? {
            o.ctl.valid_until_ms.store(now + ttl_ms, Ordering::Relaxed);
        } else {
            o.ctl.valid_until_ms.store(0, Ordering::Relaxed);
        }
    }
    // Give back surplus partitions when more replicas joined.
    while owned.len() > fair {
        let (&p, _) = owned.iter().next_back().expect("non-empty");
        let o = owned.remove(&p).expect("present");
        o.ctl.stop.store(true, Ordering::Relaxed);
        let _ = o.task.await;
        lease::release(con, &shared.keys.lease(p), me).await?;
        tracing::info!(
            partition = p,
            fair,
            live,
            "released partition for rebalancing"
        );
    }
    // Take free partitions up to the fair share.
    for p in 0..shared.keys.partitions {
        if owned.len() >= fair {
            break;
        }
        if owned.contains_key(&p)
            || backoff
                .get(&p)
                .is_some_and(|(_, until)| *until > tokio::time::Instant::now())
        {
            continue;
        }
        if lease::acquire(con, &shared.keys.lease(p), me, ttl_ms).await? {
            let ctl = Arc::new(Control::default());
            ctl.valid_until_ms.store(now + ttl_ms, Ordering::Relaxed);
            ctl.beat();
            let task = tokio::spawn(consumer::run(shared.clone(), p, ctl.clone()));
            owned.insert(p, Owned { ctl, task });
        }
    }
    shared
        .metrics
        .lag_entries
        .set(consumer_lag(shared, con, owned.keys().copied()).await);
    // A partition that has run for a minute past its last retry time is healthy again:
    // forget its failures. (Clearing them on re-acquisition would keep the delay at its
    // first step for a partition that fails every time.)
    let instant = tokio::time::Instant::now();
    backoff.retain(|_, (_, retry_at)| instant < *retry_at + HEALTHY_AFTER);
    Ok(())
}
