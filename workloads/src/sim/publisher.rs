//! Publishes a [`Source`] — a simulated [`Race`], or a recording replayed
//! ([`crate::replay`]) — to Redis Streams at a paced rate.
//!
//! Runs on its own OS thread with a synchronous connection: at 50,000 samples/s a tick
//! is due every 400 µs, finer than a tokio timer, and `std::thread::sleep` is precise to
//! tens of microseconds. Each tick's samples are sent at once when pacing (lowest
//! latency); when running flat out, samples accumulate per partition up to `batch_max`
//! (highest throughput). Every partition gets a start and an end marker.

use super::race::{Race, RaceConfig};
use super::truth::GroundTruth;
use crate::codec::binary::BatchEncoder;
use crate::metrics::SimulatorMetrics;
use crate::model::Sample;
use crate::stream::{CarCount, FIELD_DATA, FIELD_MARKER, Marker, SessionInfo, StreamKeys};
use crate::util::now_us;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Where a publication's samples come from, one tick at a time on the race clock. It must
/// be deterministic: a restarted publisher replays it silently up to what was published.
pub trait Source {
    /// The session's metadata for its start marker.
    fn info(&self, partitions: u16) -> SessionInfo;
    /// Race clock origin, ms since the Unix epoch.
    fn start_ms(&self) -> i64;
    /// Starts over with the race clock at `start_ms` (a resumed session keeps its clock).
    fn restart_at(&mut self, start_ms: i64);
    /// Appends the next tick's samples.
    fn step(&mut self, out: &mut Vec<Sample>);
    fn finished(&self) -> bool;
    /// Race clock of the last tick, ms since the Unix epoch.
    fn now_ms(&self) -> i64;
    /// The lap the leader is on.
    fn lap(&self) -> u16;
    /// Samples per car over the whole session (the chequered flag's counts). Each car's
    /// samples are numbered from 0, so its count is also its next seq, which the end
    /// marker checks the progress hash against.
    fn published(&self) -> BTreeMap<u8, u64>;
    /// What really happened, where the source knows (the simulator).
    fn truth(&self) -> GroundTruth {
        GroundTruth::default()
    }
}

impl Source for Race {
    fn info(&self, partitions: u16) -> SessionInfo {
        let rc = self.config();
        SessionInfo {
            session: rc.session.clone(),
            circuit: rc.circuit.id.to_owned(),
            laps: rc.laps,
            partitions,
            started_at_ms: rc.start_ms,
            cars: rc.grid.iter().map(|e| e.info.clone()).collect(),
        }
    }
    fn start_ms(&self) -> i64 {
        self.config().start_ms
    }
    fn restart_at(&mut self, start_ms: i64) {
        *self = Race::new(RaceConfig {
            start_ms,
            ..self.config().clone()
        });
    }
    fn step(&mut self, out: &mut Vec<Sample>) {
        Race::step(self, out)
    }
    fn finished(&self) -> bool {
        Race::finished(self)
    }
    fn now_ms(&self) -> i64 {
        Race::now_ms(self)
    }
    fn lap(&self) -> u16 {
        self.leader_lap()
    }
    fn published(&self) -> BTreeMap<u8, u64> {
        self.truth().published.clone()
    }
    fn truth(&self) -> GroundTruth {
        Race::truth(self).clone()
    }
}

/// How fast to publish.
#[derive(Clone, Debug)]
pub struct PublishConfig {
    /// Race seconds per wall second; `None` = as fast as possible.
    pub time_scale: Option<f64>,
    /// Upper bound on samples per second across all cars; `None` = unbounded.
    pub rate: Option<f64>,
    /// Samples per partition per stream entry when not pacing.
    pub batch_max: usize,
    /// Approximate per-partition bound on stream length (XADD MAXLEN ~).
    pub maxlen: usize,
}

impl Default for PublishConfig {
    fn default() -> Self {
        PublishConfig {
            time_scale: Some(1.0),
            rate: None,
            batch_max: 256,
            maxlen: 250_000,
        }
    }
}

/// Live progress, readable from other threads.
#[derive(Default)]
pub struct Progress {
    pub published: AtomicU64,
    pub lap: AtomicU64,
    pub done: AtomicBool,
}

/// What a finished publication did.
#[derive(Clone, Debug)]
pub struct PublishReport {
    /// Samples the session published, all of them: every attempt of this run and what an
    /// earlier, interrupted run had sent (what the processor counts at the flag).
    pub published: u64,
    /// Stream entries the last attempt sent.
    pub entries: u64,
    pub elapsed: Duration,
    /// Entries of this session's partitions removed by MAXLEN (unarchived data lost).
    pub trimmed: u64,
    /// Of `published`, the samples an earlier run (another process: a pod killed
    /// mid-race) had sent before this one started.
    pub skipped: u64,
    /// The session had already seen its chequered flag: nothing was published.
    pub already_finished: bool,
    pub truth: GroundTruth,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("stopped before the chequered flag")]
    Stopped,
    #[error(
        "session {0:?} is fed through a processor's POST /telemetry: publish under another session id"
    )]
    FedThroughApi(String),
}

/// What a publication carries from one attempt to the next: a Redis outage ends an
/// attempt, and the next, on a new connection, resumes from the session's progress hash.
#[derive(Debug, Default)]
pub struct Attempts {
    /// Redis as logs name it (`host:port`).
    pub endpoint: String,
    /// Since when publishing has been failing; cleared, and said in the log, by the
    /// first write that succeeds again.
    pub outage_since: Option<Instant>,
    /// Samples already in the stream when the first attempt read the progress hash: an
    /// earlier run's.
    pub earlier: Option<u64>,
}

impl Attempts {
    pub fn new(endpoint: impl Into<String>) -> Self {
        Attempts {
            endpoint: endpoint.into(),
            ..Attempts::default()
        }
    }

    /// A write went through: an outage, if there was one, is over.
    fn wrote(&mut self) {
        if let Some(since) = self.outage_since.take() {
            tracing::info!(
                redis = %self.endpoint,
                outage_s = since.elapsed().as_secs_f64(),
                "publishing again after the outage"
            );
        }
    }
}

/// Trimmed-entry accounting from `XINFO STREAM`: entries ever added minus entries left.
fn trimmed_entries(
    con: &mut crate::redis_conn::SyncConn,
    keys: &StreamKeys,
) -> Result<u64, redis::RedisError> {
    let mut total = 0;
    for (_, key) in keys.all_partitions() {
        let exists: bool = redis::cmd("EXISTS").arg(&key).query(con)?;
        if !exists {
            continue;
        }
        let info: redis::Value = redis::cmd("XINFO").arg("STREAM").arg(&key).query(con)?;
        let map = crate::util::redis_map(&info);
        let added = map
            .get("entries-added")
            .and_then(crate::util::redis_int)
            .unwrap_or(0);
        let length = map
            .get("length")
            .and_then(crate::util::redis_int)
            .unwrap_or(0);
        total += (added - length).max(0) as u64;
    }
    Ok(total)
}

/// What earlier runs of this session already published, from the session's progress hash.
#[derive(Debug, Default)]
struct Resume {
    started: bool,
    finished: bool,
    /// Race clock origin of the interrupted run (the `start` field).
    start_ms: Option<i64>,
    /// Samples already published per car (the next seq to publish).
    cars: HashMap<u8, u32>,
}

/// Merges the session's progress hashes, one per partition (each holds its cars).
/// Started once any partition has its start marker; finished once all have their end.
fn read_resume(
    con: &mut crate::redis_conn::SyncConn,
    keys: &StreamKeys,
    session: &str,
) -> Result<Resume, redis::RedisError> {
    let mut r = Resume {
        finished: true,
        ..Resume::default()
    };
    for p in 0..keys.partitions {
        let fields: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(keys.progress(session, p))
            .query(con)?;
        r.started |= fields.contains_key("start");
        r.finished &= fields.contains_key("end");
        if r.start_ms.is_none() {
            r.start_ms = fields.get("start").and_then(|v| v.parse().ok());
        }
        for (k, v) in fields {
            if let (Some(car), Ok(n)) = (
                k.strip_prefix("car:").and_then(|c| c.parse().ok()),
                v.parse(),
            ) {
                r.cars.insert(car, n);
            }
        }
    }
    Ok(r)
}

/// Whether any partition's ingest hash of `session` exists: the session is fed
/// through `POST /telemetry`.
fn fed_through_api(
    con: &mut crate::redis_conn::SyncConn,
    keys: &StreamKeys,
    session: &str,
) -> Result<bool, redis::RedisError> {
    for p in 0..keys.partitions {
        let fed: bool = redis::cmd("EXISTS")
            .arg(keys.ingested(session, p))
            .query(con)?;
        if fed {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Publishes the whole session. Blocks the calling thread until the chequered flag
/// (or `stop` is set). One attempt: a Redis error ends it, and `attempts` carries what
/// the next needs (see [`crate::sim::service::run_source`]).
///
/// A restarted publisher (a pod killed mid-race) resumes: the source is deterministic,
/// so it is replayed silently up to what the session's progress hash says was published
/// (written in the same MULTI/EXEC as the entries) and continues from there; a session
/// that already saw its chequered flag publishes nothing. Either way no sample reaches
/// the stream twice.
#[allow(clippy::too_many_arguments)]
pub fn publish<S: Source>(
    race: &mut S,
    keys: &StreamKeys,
    con: &mut crate::redis_conn::SyncConn,
    cfg: &PublishConfig,
    metrics: &SimulatorMetrics,
    progress: &Progress,
    stop: &Arc<AtomicBool>,
    attempts: &mut Attempts,
) -> Result<PublishReport, PublishError> {
    let session = race.info(keys.partitions).session;
    let resume = read_resume(con, keys, &session)?;
    // Samples already in the stream: the source numbers each car's samples from 0, and
    // the hash holds each car's next number.
    let already: u64 = resume.cars.values().map(|&n| u64::from(n)).sum();
    let earlier = *attempts.earlier.get_or_insert(already);
    // Two producers numbering one car would collide (ingest refuses the other way round).
    if fed_through_api(con, keys, &session)? {
        return Err(PublishError::FedThroughApi(session));
    }
    let wall = Instant::now();
    if resume.finished {
        tracing::warn!(session = %session, "session already finished; nothing to publish");
        progress.done.store(true, Ordering::Relaxed);
        metrics.race_finished.set(1);
        return Ok(PublishReport {
            published: already,
            entries: 0,
            elapsed: wall.elapsed(),
            trimmed: 0,
            skipped: earlier,
            already_finished: true,
            truth: race.truth(),
        });
    }
    if resume.started {
        tracing::warn!(session = %session, cars = resume.cars.len(), "resuming an interrupted session");
        // Replay on the original race clock so timestamps continue where they stopped.
        if let Some(start_ms) = resume.start_ms.filter(|s| *s != race.start_ms()) {
            race.restart_at(start_ms);
        }
    }
    let info = race.info(keys.partitions);
    let trimmed_before = trimmed_entries(con, keys)?;
    // Every partition: one that a killed run had not reached yet gets its start now
    // (the script skips those that have theirs).
    {
        send_marker(
            con,
            keys,
            cfg.maxlen,
            &session,
            ("start", info.started_at_ms),
            |_| Marker::SessionStart(info.clone()),
            |_| Vec::new(),
        )?;
        attempts.wrote();
    }

    let pacing = cfg.time_scale.is_some() || cfg.rate.is_some();
    // Pacing starts at the first sample this run publishes (after any silent replay).
    let mut origin: Option<(Instant, i64)> = None;
    let mut encoders: Vec<Option<BatchEncoder>> = (0..keys.partitions).map(|_| None).collect();
    let mut next_seq: HashMap<u8, u32> = HashMap::new();
    // Each car's next seq as the stream holds it, as far as this attempt knows: what a
    // write to a cluster checks the progress hash against (see [`flush`]).
    let mut stored = resume.cars.clone();
    let mut samples = Vec::with_capacity(64);
    // What this attempt sends (the silent replay of what the stream has is not counted).
    let (mut published, mut entries) = (0u64, 0u64);
    let mut last_trim_check = Instant::now();
    let mut trimmed;

    while !race.finished() {
        if stop.load(Ordering::Relaxed) {
            return Err(PublishError::Stopped);
        }
        samples.clear();
        race.step(&mut samples);
        samples.retain(|s| s.seq >= resume.cars.get(&s.car).copied().unwrap_or(0));
        if samples.is_empty() {
            continue;
        }
        let created = now_us();
        for s in &samples {
            let p = keys.partition_of(s.car) as usize;
            encoders[p]
                .get_or_insert_with(|| BatchEncoder::new(&session, created))
                .push(s);
            next_seq.insert(s.car, s.seq + 1);
        }
        published += samples.len() as u64;
        let full = encoders.iter().flatten().any(|e| e.len() >= cfg.batch_max);
        if pacing || full {
            entries += flush(
                con,
                keys,
                cfg.maxlen,
                &session,
                &mut encoders,
                (&mut next_seq, &mut stored),
                metrics,
            )?;
            attempts.wrote();
        }
        metrics.published.inc_by(samples.len() as u64);
        progress
            .published
            .store(already + published, Ordering::Relaxed);
        let lap = race.lap() as u64;
        progress.lap.store(lap, Ordering::Relaxed);
        metrics.current_lap.set(lap as i64);

        if pacing {
            let (t0, race0) = *origin.get_or_insert((Instant::now(), race.now_ms()));
            let by_clock = cfg
                .time_scale
                .map(|scale| (race.now_ms() - race0) as f64 / 1000.0 / scale)
                .unwrap_or(0.0);
            let by_rate = cfg.rate.map(|r| published as f64 / r).unwrap_or(0.0);
            // Saturating: a config no flag allows (a rate of 1e-300) waits forever
            // rather than panicking.
            let due = Duration::try_from_secs_f64(by_clock.max(by_rate).max(0.0))
                .unwrap_or(Duration::MAX);
            if let Some(wait) = due.checked_sub(t0.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        if last_trim_check.elapsed() > Duration::from_secs(1) {
            last_trim_check = Instant::now();
            trimmed = trimmed_entries(con, keys)?.saturating_sub(trimmed_before);
            metrics.trimmed.set(trimmed as i64);
        }
    }
    entries += flush(
        con,
        keys,
        cfg.maxlen,
        &session,
        &mut encoders,
        (&mut next_seq, &mut stored),
        metrics,
    )?;
    attempts.wrote();
    let truth = race.truth();
    let counts = race.published();
    send_marker(
        con,
        keys,
        cfg.maxlen,
        &session,
        ("end", crate::util::now_ms()),
        |p| Marker::SessionEnd {
            session: session.clone(),
            partitions: keys.partitions,
            published: counts
                .iter()
                .filter(|(car, _)| keys.partition_of(**car) == p)
                .map(|(&car, &samples)| CarCount { car, samples })
                .collect(),
        },
        |p| {
            counts
                .iter()
                .filter(|(car, _)| keys.partition_of(**car) == p)
                .map(|(&car, &samples)| (car, samples))
                .collect()
        },
    )?;
    trimmed = trimmed_entries(con, keys)?.saturating_sub(trimmed_before);
    metrics.trimmed.set(trimmed as i64);
    if trimmed > 0 {
        tracing::warn!(
            trimmed,
            maxlen = cfg.maxlen,
            "MAXLEN trimmed unarchived telemetry; raise --maxlen or archive sooner"
        );
    }
    progress.done.store(true, Ordering::Relaxed);
    metrics.race_finished.set(1);
    Ok(PublishReport {
        published: already + published,
        entries,
        elapsed: wall.elapsed(),
        trimmed,
        skipped: earlier,
        already_finished: false,
        truth,
    })
}

/// Sends the pending batches and records, in the same atomic step as each, how far each
/// of its partition's cars got (`next_seq`, then moved into `stored`): a script per
/// partition on a Redis Cluster (which keeps each partition in its own slot), one
/// transaction for all of them on one server (scripts there instead cost a quarter of
/// the end-to-end throughput).
///
/// On a cluster each script first checks that the progress hash still holds what this
/// attempt last wrote (`stored`): a master killed after acknowledging a write but
/// before its replica had it loses that write, and the cluster client sends the next
/// one to the promoted replica without an error, which would leave a gap in the
/// stream. The check refuses that next write instead ([`PROGRESS_MOVED`]), and the
/// attempt resumes from the hash, sending the lost samples again. One server needs no
/// check: its restart breaks this connection, which ends the attempt the same way.
fn flush(
    con: &mut crate::redis_conn::SyncConn,
    keys: &StreamKeys,
    maxlen: usize,
    session: &str,
    encoders: &mut [Option<BatchEncoder>],
    (next_seq, stored): (&mut HashMap<u8, u32>, &mut HashMap<u8, u32>),
    metrics: &SimulatorMetrics,
) -> Result<u64, redis::RedisError> {
    let t = Instant::now();
    let cluster = matches!(con, crate::redis_conn::SyncConn::Cluster(_));
    let (mut groups, mut scripts) = (Vec::new(), Vec::new());
    for (p, enc) in encoders.iter_mut().enumerate() {
        let Some(enc) = enc.take() else { continue };
        let p = p as u16;
        let cars = next_seq
            .iter()
            .filter(|(c, _)| keys.partition_of(**c) == p)
            .map(|(&car, &next)| (car, stored.get(&car).copied().unwrap_or(0), next));
        if cluster {
            let (stream, progress) = (keys.partition(p), keys.progress(session, p));
            scripts.push(guarded_batch(
                [&stream, &progress],
                maxlen,
                enc.finish(),
                cars,
            ));
            continue;
        }
        let mut xadd = redis::cmd("XADD");
        xadd.arg(keys.partition(p))
            .arg("MAXLEN")
            .arg("~")
            .arg(maxlen)
            .arg("*")
            .arg(FIELD_DATA)
            .arg(enc.finish());
        let mut hset = redis::cmd("HSET");
        hset.arg(keys.progress(session, p));
        for (car, _, next) in cars {
            hset.arg(format!("car:{car}")).arg(next);
        }
        groups.push((keys.partition(p), vec![xadd, hset]));
    }
    if cluster {
        con.each(&scripts)?;
    } else {
        con.transactions(&groups)?;
    }
    let n = (groups.len() + scripts.len()) as u64;
    stored.extend(next_seq.drain());
    if n > 0 {
        metrics.publish_latency.observe(t.elapsed().as_secs_f64());
        metrics.entries.inc_by(n);
    }
    Ok(n)
}

/// The [`GUARDED_BATCH`] script writing `batch` to a partition's `stream` and each car's
/// next seq to its `progress` hash, given as (car, last written, next).
fn guarded_batch(
    [stream, progress]: [&str; 2],
    maxlen: usize,
    batch: Vec<u8>,
    cars: impl Iterator<Item = (u8, u32, u32)>,
) -> redis::Cmd {
    let mut run = redis::cmd("EVAL");
    run.arg(GUARDED_BATCH)
        .arg(2)
        .arg(stream)
        .arg(progress)
        .arg(maxlen)
        .arg(FIELD_DATA)
        .arg(batch);
    for (car, was, next) in cars {
        run.arg(format!("car:{car}")).arg(was).arg(next);
    }
    run
}

/// The error code of a write refused because the session's progress hash no longer
/// holds what this publisher wrote last (see [`flush`]).
pub const PROGRESS_MOVED: &str = "PROGRESSMOVED";

/// KEYS: partition, progress hash. ARGV: maxlen, data field, batch, then per car its
/// progress field, the value this publisher last wrote there ("0": none) and the new
/// one. Writes nothing unless every car's field still holds the value last written;
/// where every one holds the new value already, this very write ran and the cluster
/// client sent it again after losing its reply: done, answered as the first run was.
const GUARDED_BATCH: &str = r#"
local moved, again = nil, true
for i = 4, #ARGV, 3 do
  local have = redis.call('HGET', KEYS[2], ARGV[i]) or '0'
  if have ~= ARGV[i + 1] and not moved then moved = {ARGV[i], have, ARGV[i + 1]} end
  if have ~= ARGV[i + 2] then again = false end
end
if moved and again then return 0 end
if moved then
  return redis.error_reply('PROGRESSMOVED ' .. KEYS[2] .. ' ' .. moved[1] .. ' is ' .. moved[2] .. ', this publisher wrote ' .. moved[3] .. ' last: a write was lost (a failover) or another publisher writes this session')
end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', ARGV[2], ARGV[3])
for i = 4, #ARGV, 3 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 2])
end
return 0
"#;

/// Appends a marker to every partition that has not had it, and records it (`flag`)
/// in that partition's progress hash in the same step, so a resumed run sends each
/// partition its marker exactly once. `expect` names, per partition, each car's next
/// seq the progress hash must hold first (the end marker's counts: a batch lost in a
/// failover must be sent again before the end is).
fn send_marker(
    con: &mut crate::redis_conn::SyncConn,
    keys: &StreamKeys,
    maxlen: usize,
    session: &str,
    (flag, value): (&str, i64),
    marker: impl Fn(u16) -> Marker,
    expect: impl Fn(u16) -> Vec<(u8, u64)>,
) -> Result<(), redis::RedisError> {
    let cmds: Vec<redis::Cmd> = keys
        .all_partitions()
        .map(|(p, key)| {
            let json = serde_json::to_string(&marker(p)).expect("markers serialize");
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(MARKER)
                .arg(2)
                .arg(key)
                .arg(keys.progress(session, p))
                .arg(maxlen)
                .arg(FIELD_MARKER)
                .arg(json)
                .arg(flag)
                .arg(value);
            for (car, next) in expect(p) {
                cmd.arg(format!("car:{car}")).arg(next);
            }
            cmd
        })
        .collect();
    con.each(&cmds)?;
    Ok(())
}

/// KEYS: partition, progress hash. ARGV: maxlen, marker field, marker, flag, value,
/// then pairs of a car's progress field and the value it must hold ("0": none).
const MARKER: &str = r#"
if redis.call('HEXISTS', KEYS[2], ARGV[4]) == 1 then return 0 end
for i = 6, #ARGV, 2 do
  local have = redis.call('HGET', KEYS[2], ARGV[i]) or '0'
  if have ~= ARGV[i + 1] then
    return redis.error_reply('PROGRESSMOVED ' .. KEYS[2] .. ' ' .. ARGV[i] .. ' is ' .. have .. ' at the ' .. ARGV[4] .. ' marker, where ' .. ARGV[i + 1] .. ' were published: a write was lost (a failover) or another publisher writes this session')
  end
end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', ARGV[2], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[4], ARGV[5])
return 0
"#;
