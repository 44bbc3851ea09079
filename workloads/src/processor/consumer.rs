//! The consume loop of one owned partition: claim what a dead consumer left pending,
//! then read new entries, analyse them in order, commit in batches on a committer task,
//! acknowledge after the commit.

use super::batch::{Batch, DeadLetter, SessionEnd};
use super::dead_letters;
use super::entry::{Entry, EntryId, parse_xautoclaim, parse_xreadgroup};
use super::shared::Shared;
use super::store::{PartitionStore, StoreError};
use crate::analytics::{Observed, PartitionState};
use crate::codec::DecodeError;
use crate::codec::binary::decode_entry;
use crate::errors::chain;
use crate::model::Sample;
use crate::redis_conn::AsyncConn;
use crate::redis_conn::connect_async;
use crate::stream::{FIELD_DATA, FIELD_MARKER, FIELD_SEQ_BASE, GROUP, Marker};
use crate::util::now_us;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use tokio::sync::mpsc;

/// Signals between the lease manager and a partition task.
#[derive(Default)]
pub struct Control {
    /// Finish the current batch, commit and return (rebalance, shutdown).
    pub stop: AtomicBool,
    /// Lease valid until (ms since epoch); past it the task must not commit.
    pub valid_until_ms: AtomicI64,
    /// When the task last came round its loop (ms since epoch): the manager restarts a
    /// task stuck longer than the liveness bound.
    pub beat_ms: AtomicI64,
}

impl Control {
    pub fn beat(&self) {
        self.beat_ms.store(crate::util::now_ms(), Ordering::Relaxed);
    }
}

/// Bound on one commit transaction (a healthy one takes milliseconds). Past it the
/// partition restarts from its checkpoint: the transaction either landed (and moved the
/// checkpoint) or did not, so nothing is lost or counted twice.
pub const COMMIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs a store call bounded by [`COMMIT_TIMEOUT`].
async fn bounded<T>(
    what: &'static str,
    fut: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(COMMIT_TIMEOUT, fut)
        .await
        .unwrap_or(Err(StoreError::Timeout {
            what,
            seconds: COMMIT_TIMEOUT.as_secs(),
        }))
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
            ConsumeError::Store(StoreError::Postgres(_) | StoreError::Connect(_)) => "postgres",
            ConsumeError::Store(StoreError::Timeout { .. }) => "timeout",
            ConsumeError::Store(StoreError::Fenced(_)) => "fenced",
            ConsumeError::LeaseLost(_) => "lease_lost",
        }
    }
}

/// Creates the consumer group (and the stream) if missing.
pub async fn ensure_group(con: &mut AsyncConn, key: &str) -> Result<(), redis::RedisError> {
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

/// A sealed batch and the analytics state at its last entry, handed to the committer.
struct Work {
    batch: Batch,
    state: Vec<u8>,
}

/// Reads, decodes and analyses one partition in order. Commits happen on a separate
/// task ([`Committer`]) so reading goes on while a transaction is in flight; whatever
/// accumulates meanwhile becomes the next transaction (group commit without a timer).
struct Reader {
    key: String,
    shared: Arc<Shared>,
    ctl: Arc<Control>,
    redis: AsyncConn,
    /// Highest entry id analysed (starts at the checkpoint): anything at or below it was
    /// already counted and is only acknowledged.
    seen: EntryId,
    state: PartitionState,
    batch: Batch,
    buf: Vec<Sample>,
    detection_latency: prometheus::local::LocalHistogram,
    to_committer: mpsc::Sender<Work>,
    /// The partition's lease key, which every read checks.
    lease: String,
    /// Wake-ups since a read last took an entry: more than one means an entry past
    /// `seen` that the read does not give us.
    idle_wakeups: u32,
}

/// Runs one partition until asked to stop (Ok) or until an error (the caller backs off
/// and the partition restarts from its checkpoint).
pub async fn run(shared: Arc<Shared>, p: u16, ctl: Arc<Control>) -> Result<(), ConsumeError> {
    let key = shared.keys.partition(p);
    ctl.beat();
    let mut redis = connect_async(&shared.redis).await?;
    ensure_group(&mut redis, &key).await?;
    let store = bounded("connecting", PartitionStore::connect(&shared.database_url)).await?;
    let cp = bounded("loading the checkpoint", store.load_checkpoint(&key)).await?;
    let state = match cp.state.as_deref().map(PartitionState::from_bytes) {
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            // State written by an incompatible version: analytics restart cleanly, counts stay exact.
            tracing::warn!(partition = %key, error = %chain(&e), "checkpointed analytics state unreadable; starting fresh");
            PartitionState::default()
        }
        None => PartitionState::default(),
    };
    tracing::info!(partition = %key, checkpoint = %cp.id, cars = state.cars(), "partition acquired");
    // Capacity 1: at most one batch committing and one waiting.
    let (tx, rx) = mpsc::channel(1);
    let committer = Committer {
        key: key.clone(),
        dead_letters: shared.keys.dead_letters(p),
        shared: shared.clone(),
        ctl: ctl.clone(),
        redis: connect_async(&shared.redis).await?,
        store,
        committed: cp.id,
    };
    let mut committing = tokio::spawn(committer.run(rx));
    let mut reader = Reader {
        key,
        shared: shared.clone(),
        ctl,
        redis,
        seen: cp.id,
        state,
        batch: Batch::default(),
        buf: Vec::new(),
        detection_latency: shared.metrics.detection_latency.local(),
        to_committer: tx,
        lease: shared.keys.lease(p),
        idle_wakeups: 0,
    };
    let read = async {
        reader.claim_pending().await?;
        reader.consume().await
    };
    tokio::select! {
        r = read => {
            match r {
                Ok(()) => {
                    // Stop requested: the last batch was handed over; wait for it to land.
                    drop(reader);
                    committing.await.unwrap_or_else(|e| Err(ConsumeError::LeaseLost(e.to_string())))
                }
                Err(e) => {
                    committing.abort();
                    Err(e)
                }
            }
        }
        // The committer only ends early on an error (fenced, database, lease).
        r = &mut committing => r.unwrap_or_else(|e| Err(ConsumeError::LeaseLost(e.to_string()))),
    }
}

impl Reader {
    fn lease_ok(&self) -> bool {
        lease_ok(&self.ctl)
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
            let (next, entries, deleted) = parse_xautoclaim(reply);
            // Deleted at or below the checkpoint: committed, only their XACK was lost
            // (a post-race step removed them since). Above it: data lost unprocessed.
            let lost = deleted.iter().filter(|id| **id > self.seen).count();
            if lost > 0 {
                tracing::error!(partition = %self.key, lost, "pending entries were trimmed by MAXLEN before processing");
                self.shared
                    .metrics
                    .trimmed_before_processing
                    .inc_by(lost as u64);
            }
            if !entries.is_empty() {
                tracing::info!(partition = %self.key, claimed = entries.len(), "claimed pending entries");
            }
            for e in entries {
                self.handle(e);
            }
            self.hand_over(false).await?;
            if next == "0-0" {
                break;
            }
            cursor = next;
        }
        Ok(())
    }

    async fn consume(&mut self) -> Result<(), ConsumeError> {
        loop {
            self.ctl.beat();
            if self.ctl.stop.load(Ordering::Relaxed) {
                return self.hand_over(true).await;
            }
            if !self.lease_ok() {
                return Err(ConsumeError::LeaseLost(self.key.clone()));
            }
            let entries = self.read().await?;
            let read_any = !entries.is_empty();
            for e in entries {
                self.handle(e);
            }
            let full = self.batch.samples >= self.shared.cfg.max_batch_samples as u64;
            self.hand_over(full).await?;
            if read_any {
                self.idle_wakeups = 0;
            } else {
                self.wait_for_entries().await?;
            }
        }
    }

    /// Takes the next entries: ours delivered but never analysed first (past `seen`),
    /// else new ones, in one script that first checks that we hold the lease
    /// ([`FENCED_READ`]).
    async fn read(&mut self) -> Result<Vec<Entry>, ConsumeError> {
        let reply: redis::Value = redis::cmd("EVAL")
            .arg(FENCED_READ)
            .arg(2)
            .arg(&self.key)
            .arg(&self.lease)
            .arg(GROUP)
            .arg(&self.shared.consumer)
            .arg(self.shared.cfg.read_count)
            .arg(self.seen.to_string())
            .query_async(&mut self.redis)
            .await
            .map_err(|e| match e.code() {
                Some(LEASE_HELD_ELSEWHERE) => ConsumeError::LeaseLost(self.key.clone()),
                _ => ConsumeError::Redis(e),
            })?;
        Ok(parse_xreadgroup(reply))
    }

    /// Nothing to read: with work waiting for a busy committer, come round again soon
    /// to hand it over; else wait, at most 250 ms, for an entry past `seen` (scripts
    /// cannot block, so the wait is its own call, which takes nothing).
    async fn wait_for_entries(&mut self) -> Result<(), ConsumeError> {
        if !self.batch.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            return Ok(());
        }
        let reply: redis::Value = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(1)
            .arg("BLOCK")
            .arg(250)
            .arg("STREAMS")
            .arg(&self.key)
            .arg(self.seen.to_string())
            .query_async(&mut self.redis)
            .await?;
        // Woken by an entry past `seen`: the next read takes it. Woken again with no read
        // in between taking anything, the entry is one the read cannot give us (delivered
        // to another consumer, which the lease rules out): do not spin on it.
        if !parse_xreadgroup(reply).is_empty() {
            self.idle_wakeups += 1;
            if self.idle_wakeups > 1 {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }

    /// Gives the batch to the committer if it can take it now (or waits when `wait`).
    async fn hand_over(&mut self, wait: bool) -> Result<(), ConsumeError> {
        self.detection_latency.flush();
        if self.batch.is_empty() {
            return Ok(());
        }
        let permit = if wait {
            self.to_committer.reserve().await.ok()
        } else {
            match self.to_committer.try_reserve() {
                Ok(p) => Some(p),
                Err(mpsc::error::TrySendError::Full(())) => return Ok(()),
                Err(mpsc::error::TrySendError::Closed(())) => None,
            }
        };
        // A closed channel means the committer failed; `run` reports its error.
        let Some(permit) = permit else { return Ok(()) };
        let batch = std::mem::take(&mut self.batch);
        let state = if batch.has_effects() {
            self.state.to_bytes()
        } else {
            Vec::new()
        };
        permit.send(Work { batch, state });
        Ok(())
    }

    /// Analyses one entry into the current batch. Never fails: undecodable entries are
    /// dead-lettered, redelivered ones only acknowledged.
    fn handle(&mut self, e: Entry) {
        self.batch.ack.push(e.id);
        if e.id <= self.seen {
            self.shared.metrics.redelivered.inc();
            return;
        }
        self.seen = e.id;
        self.batch.last_id = Some(e.id);
        if let Some(d) = e.field(FIELD_DATA) {
            match decode_entry(d, e.field(FIELD_SEQ_BASE), &mut self.buf) {
                Ok(h) => {
                    let (mut stale, mut duplicates, mut late) = (0, 0, 0);
                    for s in &self.buf {
                        let observed = self.state.observe(s, &mut self.batch.events);
                        match observed {
                            Observed::Accepted => {}
                            Observed::Late => stale += 1,
                            // Not counted: the stream had this sample already (a
                            // producer's retry), or the session is over.
                            Observed::Duplicate => {
                                duplicates += 1;
                                continue;
                            }
                            Observed::AfterFinish => {
                                late += 1;
                                continue;
                            }
                        }
                        self.batch.account(s, observed == Observed::Late);
                    }
                    let m = &self.shared.metrics;
                    if stale > 0 {
                        m.out_of_order.inc_by(stale);
                    }
                    if duplicates > 0 {
                        m.dropped
                            .with_label_values(&["duplicate_in_stream"])
                            .inc_by(duplicates);
                    }
                    if late > 0 {
                        m.dropped.with_label_values(&["after_finish"]).inc_by(late);
                    }
                    self.batch.keep_latest(&self.buf);
                    let latency_us = now_us() - h.created_us;
                    let latency_s = latency_us.max(0) as f64 / 1e6;
                    // Every sample of the entry has the same latency: observe it locally
                    // (no atomics per sample) and flush once per batch.
                    for _ in 0..h.count {
                        self.detection_latency.observe(latency_s);
                    }
                    if let Some(rec) = &self.shared.recorder {
                        rec.detection(latency_us, h.count as u64);
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
                    self.state.end_session(&session, &mut self.batch.events);
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
        tracing::warn!(partition = %self.key, id = %e.id, reason = err.category(), error = %chain(&err), "dead-lettering entry");
        self.batch.dead.push(DeadLetter {
            id: e.id,
            reason: err.category(),
            message: err.to_string(),
            fields: e.fields,
        });
    }
}

/// The error code [`FENCED_READ`] answers when the partition's lease names another
/// consumer (or none).
const LEASE_HELD_ELSEWHERE: &str = "LEASEHELDELSEWHERE";

/// KEYS: partition, its lease. ARGV: group, consumer, count, the highest id analysed.
///
/// Reads only while the lease names this consumer: a read the cluster client sent
/// before a failover and resends after it, once another consumer holds the lease, would
/// otherwise deliver entries to us that we drop and the new owner never sees (it claims
/// pending entries once, when it takes the partition). And it reads our own pending
/// entries past the highest analysed first: a read executed whose reply was lost (and
/// resent by the client) delivered entries to us that we never saw; with plain
/// `XREADGROUP >` they stayed pending while later entries moved `seen` past them.
const FENCED_READ: &str = r#"
if redis.call('GET', KEYS[2]) ~= ARGV[2] then
  return redis.error_reply('LEASEHELDELSEWHERE the lease on ' .. KEYS[1] .. ' is not ours')
end
local mine = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3], 'STREAMS', KEYS[1], ARGV[4])
if mine and mine[1] and #mine[1][2] > 0 then return mine end
return redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3], 'STREAMS', KEYS[1], '>')
"#;

fn lease_ok(ctl: &Control) -> bool {
    // A safety margin of 1 s against clock skew between us and Redis' TTL.
    crate::util::now_ms() + 1_000 < ctl.valid_until_ms.load(Ordering::Relaxed)
}

/// Commits batches in order: dead letters (once each, see [`dead_letters`], replicated
/// on a Redis Cluster), PostgreSQL transaction (effects + fenced checkpoint), XACK, then
/// metrics.
struct Committer {
    key: String,
    /// The partition's dead-letter stream (same slot as `key`).
    dead_letters: String,
    shared: Arc<Shared>,
    ctl: Arc<Control>,
    redis: AsyncConn,
    store: PartitionStore,
    committed: EntryId,
}

impl Committer {
    async fn run(mut self, mut rx: mpsc::Receiver<Work>) -> Result<(), ConsumeError> {
        while let Some(work) = rx.recv().await {
            self.commit(work).await?;
        }
        Ok(())
    }

    async fn commit(&mut self, Work { batch, state }: Work) -> Result<(), ConsumeError> {
        if !lease_ok(&self.ctl) {
            return Err(ConsumeError::LeaseLost(self.key.clone()));
        }
        let m = &self.shared.metrics;
        if !batch.dead.is_empty() {
            dead_letters::record(&mut self.redis, &self.dead_letters, &self.key, &batch.dead)
                .await?;
            // On a Redis Cluster, on a replica before the commit moves past the entries:
            // a letter only the master held when it failed over would be lost for good.
            let dead = std::slice::from_ref(&self.dead_letters);
            let unconfirmed = self.redis.replicated(dead).await?;
            m.unreplicated.inc_by(unconfirmed as u64);
        }
        if batch.has_effects() {
            let t = std::time::Instant::now();
            bounded(
                "a commit",
                self.store.commit(&self.key, self.committed, &state, &batch),
            )
            .await?;
            m.commit_duration.observe(t.elapsed().as_secs_f64());
            if let Some(rec) = &self.shared.recorder {
                rec.commit(t.elapsed().as_micros() as i64);
            }
        }
        // Effects are durable: now acknowledge.
        let mut pipe = redis::pipe();
        for chunk in batch.ack.chunks(1000) {
            let c = pipe.cmd("XACK").arg(&self.key).arg(GROUP);
            for id in chunk {
                c.arg(id.to_string());
            }
            c.ignore();
        }
        pipe.query_async::<()>(&mut self.redis).await?;

        let now = now_us();
        let e2e = m.e2e_latency.local();
        for &(created, n) in &batch.created {
            let s = (now - created).max(0) as f64 / 1e6;
            for _ in 0..n {
                e2e.observe(s);
            }
            if let Some(rec) = &self.shared.recorder {
                rec.durable(now - created, n as u64);
            }
        }
        e2e.flush();
        if batch.samples > 0 {
            m.batch_samples.observe(batch.samples as f64);
        }
        m.processed.inc_by(batch.samples);
        m.entries.inc_by(batch.ack.len() as u64);
        for stop in &batch.events.pit_stops {
            m.pit_stops
                .with_label_values(&[self.shared.teams.label(&stop.id.team)])
                .inc();
            m.stationary.observe(stop.stationary_ms as f64 / 1000.0);
        }
        let teams = &self.shared.teams;
        for s in &batch.latest {
            m.cars.sample(teams, s);
        }
        for l in &batch.events.laps {
            m.cars.lap(teams, l);
        }
        for stop in &batch.events.pit_stops {
            m.cars.pit_stop(teams, stop);
        }
        for a in &batch.events.anomalies {
            m.anomalies
                .with_label_values(&[a.kind.as_str(), a.severity.as_str()])
                .inc();
        }
        for d in &batch.dead {
            m.dead_letters.with_label_values(&[d.reason]).inc();
        }
        if let Some(last) = batch.last_id {
            self.committed = last;
        }
        self.ctl.beat();
        Ok(())
    }
}
