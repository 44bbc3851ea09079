//! The consume loop of one owned partition: claim what a dead consumer left pending,
//! then read new entries, analyse them in order, commit in batches, acknowledge after
//! the commit.

use super::Shared;
use super::batch::{Batch, DeadLetter, SessionEnd};
use super::entry::{Entry, EntryId, parse_xautoclaim, parse_xreadgroup};
use super::store::{PartitionStore, StoreError};
use crate::analytics::PartitionState;
use crate::codec::DecodeError;
use crate::codec::binary::decode_batch;
use crate::model::Sample;
use crate::stream::{FIELD_DATA, FIELD_MARKER, GROUP, Marker};
use crate::util::now_us;
use redis::aio::MultiplexedConnection;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

/// Signals between the lease manager and a partition task.
#[derive(Default)]
pub struct Control {
    /// Finish the current batch, commit and return (rebalance, shutdown).
    pub stop: AtomicBool,
    /// Lease valid until (ms since epoch); past it the task must not commit.
    pub valid_until_ms: AtomicI64,
}

#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("lease on {0} expired")]
    LeaseLost(String),
}

impl ConsumeError {
    pub fn category(&self) -> &'static str {
        match self {
            ConsumeError::Redis(_) => "redis",
            ConsumeError::Store(StoreError::Postgres(_)) => "postgres",
            ConsumeError::Store(StoreError::Fenced(_)) => "fenced",
            ConsumeError::LeaseLost(_) => "lease_lost",
        }
    }
}

/// Creates the consumer group (and the stream) if missing.
pub async fn ensure_group(
    con: &mut MultiplexedConnection,
    key: &str,
) -> Result<(), redis::RedisError> {
    let r: Result<(), _> = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(key)
        .arg(GROUP)
        .arg("0")
        .arg("MKSTREAM")
        .query_async(con)
        .await;
    match r {
        Err(e) if e.to_string().contains("BUSYGROUP") => Ok(()),
        other => other,
    }
}

struct Partition {
    key: String,
    shared: Arc<Shared>,
    ctl: Arc<Control>,
    redis: MultiplexedConnection,
    store: PartitionStore,
    committed: EntryId,
    state: PartitionState,
    batch: Batch,
    buf: Vec<Sample>,
}

/// Runs one partition until asked to stop (Ok) or until an error (the caller backs off
/// and the partition restarts from its checkpoint).
pub async fn run(shared: Arc<Shared>, p: u16, ctl: Arc<Control>) -> Result<(), ConsumeError> {
    let key = shared.keys.partition(p);
    let mut redis = shared.redis.get_multiplexed_async_connection().await?;
    ensure_group(&mut redis, &key).await?;
    let store = PartitionStore::connect(&shared.database_url).await?;
    let cp = store.load_checkpoint(&key).await?;
    let state = match cp.state.as_deref().map(PartitionState::from_bytes) {
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            // State written by an incompatible version: analytics restart cleanly, counts stay exact.
            tracing::warn!(partition = %key, error = %e, "checkpointed analytics state unreadable; starting fresh");
            PartitionState::default()
        }
        None => PartitionState::default(),
    };
    tracing::info!(partition = %key, checkpoint = %cp.id, cars = state.cars(), "partition acquired");
    let mut part = Partition {
        key,
        shared,
        ctl,
        redis,
        store,
        committed: cp.id,
        state,
        batch: Batch::default(),
        buf: Vec::new(),
    };
    part.claim_pending().await?;
    part.consume().await
}

impl Partition {
    fn lease_ok(&self) -> bool {
        // A safety margin of 1 s against clock skew between us and Redis' TTL.
        crate::util::now_ms() + 1_000 < self.ctl.valid_until_ms.load(Ordering::Relaxed)
    }

    /// Takes over every pending entry of the group on this partition (ours from before a
    /// restart, or a dead replica's) and processes them in id order.
    async fn claim_pending(&mut self) -> Result<(), ConsumeError> {
        let mut cursor = "0-0".to_string();
        loop {
            let reply: redis::Value = redis::cmd("XAUTOCLAIM")
                .arg(&self.key)
                .arg(GROUP)
                .arg(&self.shared.consumer)
                .arg(0)
                .arg(&cursor)
                .arg("COUNT")
                .arg(500)
                .query_async(&mut self.redis)
                .await?;
            let (next, entries, deleted) = parse_xautoclaim(&reply);
            if deleted > 0 {
                tracing::error!(partition = %self.key, deleted, "pending entries were trimmed by MAXLEN before processing");
                self.shared
                    .metrics
                    .trimmed_before_processing
                    .inc_by(deleted as u64);
            }
            if !entries.is_empty() {
                tracing::info!(partition = %self.key, claimed = entries.len(), "claimed pending entries");
            }
            for e in entries {
                self.handle(e);
                if self.batch.samples >= self.shared.cfg.max_batch_samples as u64 {
                    self.commit().await?;
                }
            }
            if next == "0-0" {
                break;
            }
            cursor = next;
        }
        self.commit().await
    }

    async fn consume(&mut self) -> Result<(), ConsumeError> {
        let flush = self.shared.cfg.flush_interval;
        loop {
            if self.ctl.stop.load(Ordering::Relaxed) {
                return self.commit().await;
            }
            if !self.lease_ok() {
                return Err(ConsumeError::LeaseLost(self.key.clone()));
            }
            let mut cmd = redis::cmd("XREADGROUP");
            cmd.arg("GROUP")
                .arg(GROUP)
                .arg(&self.shared.consumer)
                .arg("COUNT")
                .arg(self.shared.cfg.read_count);
            match self.batch.started {
                None => {
                    cmd.arg("BLOCK").arg(250);
                }
                Some(t) => {
                    let left = flush.saturating_sub(t.elapsed());
                    if left >= Duration::from_millis(1) {
                        cmd.arg("BLOCK").arg(left.as_millis() as u64);
                    }
                }
            }
            cmd.arg("STREAMS").arg(&self.key).arg(">");
            let reply: redis::Value = cmd.query_async(&mut self.redis).await?;
            let entries = parse_xreadgroup(&reply);
            let got = entries.len();
            for e in entries {
                self.handle(e);
            }
            let due = self.batch.started.is_some_and(|t| t.elapsed() >= flush);
            if due
                || self.batch.samples >= self.shared.cfg.max_batch_samples as u64
                || (got == 0 && !self.batch.is_empty())
            {
                self.commit().await?;
            }
        }
    }

    /// Analyses one entry into the current batch. Never fails: undecodable entries are
    /// dead-lettered, redelivered ones only acknowledged.
    fn handle(&mut self, e: Entry) {
        self.batch.touch();
        self.batch.ack.push(e.id);
        if e.id <= self.committed || self.batch.last_id.is_some_and(|l| e.id <= l) {
            self.shared.metrics.redelivered.inc();
            return;
        }
        self.batch.last_id = Some(e.id);
        if let Some(d) = e.field(FIELD_DATA) {
            match decode_batch(d, &mut self.buf) {
                Ok(h) => {
                    for s in &self.buf {
                        self.state.observe(s, &mut self.batch.events);
                        self.batch.account(s);
                    }
                    let latency_s = (now_us() - h.created_us).max(0) as f64 / 1e6;
                    for _ in 0..h.count {
                        self.shared.metrics.detection_latency.observe(latency_s);
                    }
                    if let Some(rec) = &self.shared.recorder {
                        rec.detection(now_us() - h.created_us, h.count as u64);
                    }
                    self.batch.created.push((h.created_us, h.count as u32));
                }
                Err(err) => self.dead_letter(e, err),
            }
        } else if let Some(m) = e.field(FIELD_MARKER) {
            match serde_json::from_slice::<Marker>(m) {
                Ok(Marker::SessionStart(info)) => self.batch.sessions.push(info),
                Ok(Marker::SessionEnd {
                    session,
                    partitions,
                    published,
                }) => {
                    self.state.end_session(&session);
                    self.batch.ends.push(SessionEnd {
                        session,
                        partitions,
                        published,
                    });
                }
                Err(err) => self.dead_letter(e, DecodeError::BadMarker(err.to_string())),
            }
        } else {
            self.dead_letter(e, DecodeError::MissingPayload);
        }
    }

    fn dead_letter(&mut self, e: Entry, err: DecodeError) {
        tracing::warn!(partition = %self.key, id = %e.id, reason = err.category(), error = %err, "dead-lettering entry");
        self.batch.dead.push(DeadLetter {
            id: e.id,
            reason: err.category(),
            message: err.to_string(),
            fields: e.fields,
        });
    }

    async fn commit(&mut self) -> Result<(), ConsumeError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        if !self.lease_ok() {
            return Err(ConsumeError::LeaseLost(self.key.clone()));
        }
        let m = &self.shared.metrics;
        if self.batch.has_effects() {
            let t = std::time::Instant::now();
            let state = self.state.to_bytes();
            self.store
                .commit(&self.key, self.committed, &state, &self.batch)
                .await?;
            m.commit_duration.observe(t.elapsed().as_secs_f64());
        }
        // Effects are durable: now acknowledge, and record dead letters.
        let mut pipe = redis::pipe();
        for d in &self.batch.dead {
            let dl = self.shared.keys.dead_letters();
            let c = pipe
                .cmd("XADD")
                .arg(dl)
                .arg("MAXLEN")
                .arg("~")
                .arg(100_000)
                .arg("*");
            c.arg("stream")
                .arg(&self.key)
                .arg("id")
                .arg(d.id.to_string())
                .arg("reason")
                .arg(d.reason)
                .arg("error")
                .arg(&d.message);
            for (k, v) in &d.fields {
                c.arg(format!("original_{k}")).arg(v.as_slice());
            }
            c.ignore();
        }
        for chunk in self.batch.ack.chunks(1000) {
            let c = pipe.cmd("XACK").arg(&self.key).arg(GROUP);
            for id in chunk {
                c.arg(id.to_string());
            }
            c.ignore();
        }
        pipe.query_async::<()>(&mut self.redis).await?;

        let now = now_us();
        for &(created, n) in &self.batch.created {
            let s = (now - created).max(0) as f64 / 1e6;
            for _ in 0..n {
                m.e2e_latency.observe(s);
            }
            if let Some(rec) = &self.shared.recorder {
                rec.durable(now - created, n as u64);
            }
        }
        if self.batch.samples > 0 {
            m.batch_samples.observe(self.batch.samples as f64);
        }
        m.processed.inc_by(self.batch.samples);
        m.entries.inc_by(self.batch.ack.len() as u64);
        for stop in &self.batch.events.pit_stops {
            m.pit_stops
                .with_label_values(&[self.shared.teams.label(&stop.id.team)])
                .inc();
            m.stationary.observe(stop.stationary_ms as f64 / 1000.0);
        }
        for a in &self.batch.events.anomalies {
            m.anomalies
                .with_label_values(&[a.kind.as_str(), a.severity.as_str()])
                .inc();
        }
        for d in &self.batch.dead {
            m.dead_letters.with_label_values(&[d.reason]).inc();
        }
        if let Some(last) = self.batch.last_id {
            self.committed = last;
        }
        self.batch.clear();
        Ok(())
    }
}
