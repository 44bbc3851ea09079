//! Appends a request's samples to the stream exactly once, by one Lua script that
//! de-duplicates each sample by its key and appends in the same atomic step.
//!
//! A sample's key is its `seq` when the client numbers its samples, else its time (ms):
//! exact per (session, car, key), in any arrival order, whoever else writes the car. The
//! keys a car has had live in bitmaps of [`PAGE_KEYS`] keys each (65.5 s of race time, or
//! 65,536 seqs: 8 KiB at most), at most [`MAX_PAGES`] per car; past that the page least
//! recently written is forgotten, and a later sample that falls into a forgotten page is
//! refused as `too_late` (it might be a resend: taking it could count it twice). So a
//! sample far ahead or far behind costs one page, never the car's other keys.
//!
//! The script first checks every sample and writes nothing if one is a duplicate or
//! refused; it answers which, the caller drops them and calls again. A second round only
//! happens for such a request; concurrent requests for one car conflict only where they
//! carry the same samples, and each round removes those.

use super::state::{ApiError, ApiState};
use crate::codec::binary::encode_batch;
use crate::feeds::{Numbering, Unknown};
use crate::model::{Channel, Sample};
use crate::stream::{FIELD_DATA, FIELD_SEQ_BASE};
use crate::util::now_us;
use axum::http::StatusCode;
use std::collections::{BTreeMap, HashMap};

/// Keys per page of a car's seen-bitmap.
pub const PAGE_KEYS: u64 = 65_536;
/// Pages kept per car: 2.3 h of time-keyed data (about 1 MiB), 8.4 M seqs.
pub const MAX_PAGES: u64 = 128;
/// How long a finished session's pages are kept: a sample sent again after the finish
/// (its first try timed out or was answered 503) is answered as a duplicate meanwhile,
/// not refused as if it were not there.
pub const FINISHED_KEYS_KEPT: std::time::Duration = std::time::Duration::from_secs(600);
/// How far a client's seq may run ahead of the car's highest so far (or of 0): further
/// is a corrupted counter, which would otherwise stand for a million missing samples.
pub const MAX_SEQ_JUMP: u64 = 1_000_000;

/// Why a sample was not taken (the categories of
/// `pitstop_processor_rejected_samples_total` that the append step decides).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Its key falls in a page the car no longer remembers.
    TooLate,
    /// Its seq runs more than [`MAX_SEQ_JUMP`] past the car's highest.
    SeqJump,
    /// The car was numbered the other way by its first samples (seq given or not).
    Numbering,
    /// The session is finished (in this sample's partition), and the sample is not one
    /// it took while ingest remembers them ([`FINISHED_KEYS_KEPT`] after the finish).
    Finished,
    /// A simulator or `pitstop replay` publishes the session (in this sample's
    /// partition): two producers would number one car twice.
    Simulated,
}

impl Refusal {
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::TooLate => "too_late",
            Refusal::SeqJump => "seq_jump",
            Refusal::Numbering => "numbering",
            Refusal::Finished => "finished",
            Refusal::Simulated => "simulated",
        }
    }

    /// What the client is told, for sample `s`.
    pub fn message(self, s: &Sample, numbering: Numbering) -> String {
        let car = s.car;
        match (self, numbering) {
            (Refusal::TooLate, Numbering::Client) => format!(
                "car {car}: seq {} is older than what ingest still remembers of the car (its last {MAX_PAGES} pages of {PAGE_KEYS} seqs); it may be a resend, so it is not taken",
                s.seq
            ),
            (Refusal::TooLate, Numbering::Server) => format!(
                "car {car}: timestamp_ms {} is older than what ingest still remembers of the car (its last {MAX_PAGES} pages of {:.1} s); it may be a resend, so it is not taken",
                s.timestamp_ms,
                PAGE_KEYS as f64 / 1000.0
            ),
            (Refusal::SeqJump, _) => format!(
                "car {car}: seq {} is more than {MAX_SEQ_JUMP} beyond the car's highest seq so far (a corrupted counter?)",
                s.seq
            ),
            (Refusal::Numbering, Numbering::Client) => format!(
                "car {car}: its first samples came without seq (ingest numbers them): leave seq out for this car"
            ),
            (Refusal::Numbering, Numbering::Server) => format!(
                "car {car}: its first samples came with seq (the client numbers them): give seq in every sample of this car"
            ),
            (Refusal::Finished, _) => format!(
                "car {car}: session {:?} is finished: it takes no more samples, and this is not one it took",
                s.session
            ),
            (Refusal::Simulated, _) => format!(
                "car {car}: session {:?} is published by a simulator or `pitstop replay`",
                s.session
            ),
        }
    }

    fn parse(reason: &str) -> Option<Self> {
        match reason {
            "late" => Some(Refusal::TooLate),
            "jump" => Some(Refusal::SeqJump),
            "numbering" => Some(Refusal::Numbering),
            "finished" => Some(Refusal::Finished),
            "simulated" => Some(Refusal::Simulated),
            _ => None,
        }
    }

    /// The session takes no samples at all (finished, or fed by a simulator).
    fn closed(self) -> bool {
        matches!(self, Refusal::Finished | Refusal::Simulated)
    }
}

/// A sample the append step did not take.
#[derive(Debug)]
pub struct Refused {
    /// Its position in the request.
    pub at: usize,
    pub why: Refusal,
    pub message: String,
    session: compact_str::CompactString,
}

impl Refused {
    fn new((at, s): &(usize, Sample), why: Refusal, numbering: Numbering) -> Self {
        Refused {
            at: *at,
            why,
            message: why.message(s, numbering),
            session: s.session.clone(),
        }
    }
}

/// What one append did: how many samples are new in the stream, how many it had, and
/// which were refused.
#[derive(Debug, Default)]
pub struct Appended {
    pub accepted: usize,
    pub duplicates: usize,
    pub refused: Vec<Refused>,
    /// A strict request met a refusal: nothing of it was appended.
    pub aborted: bool,
}

/// What to append.
pub struct Request<'a> {
    /// Samples with their position in the request (the index a refusal names).
    pub samples: Vec<(usize, Sample)>,
    pub numbering: Numbering,
    /// Values made unknown, by sample position: counted for the car
    /// (`unknown:<car>:<channel>:<reason>` in the session's ingest hash) when the sample
    /// is stored.
    pub faults: &'a HashMap<usize, Vec<(Channel, Unknown)>>,
    /// All or nothing: a refusal stops the request before anything is appended.
    pub strict: bool,
}

/// The script, for the samples of one partition (every key it touches carries the
/// partition's hash tag: one Redis Cluster slot). KEYS: per session group the
/// partition, then every group's ingest hash, then every group's simulator progress
/// hash, then the call's receipt. ARGV: maxlen, the data and seq-base field names,
/// [`PAGE_KEYS`], [`MAX_PAGES`], [`MAX_SEQ_JUMP`], `1` for a dry run (check, answer
/// `clean` or the drops, write nothing), the receipt's life in ms; then per group
/// its payload, numbering (`1` client, `0` ingest), the seen-key prefix, its cars, each
/// as the car and its samples' keys (comma-separated, in payload order), and the counts
/// to add to the ingest hash once stored (how many, then field and count each).
///
/// The ingest hash holds per car `car:N` (samples taken: the car's published count at
/// the chequered flag, and the next seq ingest gives), `mode:N` (its numbering; every
/// field of the hash is an integer, which readers of the counts rely on) and
/// `hi:N` (its highest key); `tick` orders page writes. Per car, `<prefix>N` is the set
/// of its pages by last write, `<prefix>N:<page>` a page's bitmap, `<prefix>N:gone` the
/// pages forgotten. Answers `ok`, or `drop` and `group:car:index:reason` per sample to
/// drop (dup, late, jump, numbering, finished, simulated). A finished session's samples
/// are each a duplicate while its pages last (the finish keeps them a while), else
/// refused `finished`: a resend after the flag is told apart from a sample that came
/// too late, and a session closed in this partition costs only its own samples.
///
/// A call that writes leaves its receipt, and a call that finds its receipt answers `ok`
/// at once: the Redis Cluster client sends a call again by itself when the connection
/// drops before the reply (a failover, a network cut) or the reply is late, and without
/// the receipt that second run would answer the call's own samples as duplicates: a
/// reply saying "nothing new" for samples this request stored. Finding it, the call
/// still writes (the receipt's expiry): `WAIT` counts the replicas that have what *its*
/// connection wrote last, and the first write went over a connection now gone.
const APPEND: &str = r#"
local n = (#KEYS - 1) / 3
local receipt, receipt_ms = KEYS[#KEYS], ARGV[8]
if redis.call('EXISTS', receipt) == 1 then
  redis.call('PEXPIRE', receipt, receipt_ms)
  return {'ok'}
end
local maxlen, data, basef = ARGV[1], ARGV[2], ARGV[3]
local page_keys, max_pages, jump = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local dry = ARGV[7] == '1'
local i = 9
local groups, drops = {}, {}
local function drop(j, car, x, why) drops[#drops + 1] = j .. ':' .. car .. ':' .. x .. ':' .. why end
for j = 1, n do
  local hash, progress = KEYS[n + j], KEYS[2 * n + j]
  local closed = nil
  if redis.call('HEXISTS', hash, 'end') == 1 or redis.call('HEXISTS', progress, 'end') == 1 then
    closed = 'finished'
  elseif redis.call('EXISTS', progress) == 1 then
    closed = 'simulated'
  end
  local g = {payload = ARGV[i], mode = ARGV[i + 1], prefix = ARGV[i + 2], cars = {}, counts = {}}
  local cars = tonumber(ARGV[i + 3])
  i = i + 4
  for _ = 1, cars do
    local c = {car = ARGV[i], keys = {}, pages = {}}
    for k in string.gmatch(ARGV[i + 1], '[^,]+') do c.keys[#c.keys + 1] = tonumber(k) end
    i = i + 2
    local mode = redis.call('HGET', hash, 'mode:' .. c.car)
    c.hi = tonumber(redis.call('HGET', hash, 'hi:' .. c.car) or '-1')
    local bypage = {}
    for x, k in ipairs(c.keys) do
      if closed == 'simulated' then
        drop(j, c.car, x, 'simulated')
      elseif not closed and mode and mode ~= g.mode then
        drop(j, c.car, x, 'numbering')
      elseif not closed and g.mode == '1' and k > c.hi + jump then
        drop(j, c.car, x, 'jump')
      else
        local p = math.floor(k / page_keys)
        bypage[p] = bypage[p] or {}
        table.insert(bypage[p], x)
      end
    end
    local gone, mine = g.prefix .. c.car .. ':gone', {}
    for p, xs in pairs(bypage) do
      if redis.call('SISMEMBER', gone, p) == 1 then
        for _, x in ipairs(xs) do drop(j, c.car, x, closed or 'late') end
      else
        local key = g.prefix .. c.car .. ':' .. p
        for from = 1, #xs, 1000 do
          local args = {}
          for t = from, math.min(from + 999, #xs) do
            args[#args + 1] = 'GET'; args[#args + 1] = 'u1'; args[#args + 1] = c.keys[xs[t]] % page_keys
          end
          local bits = redis.call('BITFIELD_RO', key, unpack(args))
          for t = from, math.min(from + 999, #xs) do
            local x = xs[t]
            local k = c.keys[x]
            if bits[t - from + 1] == 1 or mine[k] then
              drop(j, c.car, x, 'dup')
            elseif closed then
              drop(j, c.car, x, closed)
            else
              mine[k] = true
            end
          end
        end
        c.pages[p] = xs
      end
    end
    g.cars[#g.cars + 1] = c
  end
  local counts = tonumber(ARGV[i])
  for t = 1, counts do g.counts[t] = {ARGV[i + 2 * t - 1], ARGV[i + 2 * t]} end
  i = i + 1 + 2 * counts
  groups[j] = g
end
if #drops > 0 then return {'drop', unpack(drops)} end
if dry then return {'clean'} end
for j = 1, n do
  local g, hash = groups[j], KEYS[n + j]
  local bases = {}
  for _, c in ipairs(g.cars) do
    local taken = tonumber(redis.call('HGET', hash, 'car:' .. c.car) or '0')
    bases[#bases + 1] = c.car .. ':' .. taken
    local hi, pages = c.hi, g.prefix .. c.car
    for p, xs in pairs(c.pages) do
      for from = 1, #xs, 1000 do
        local args = {}
        for t = from, math.min(from + 999, #xs) do
          local k = c.keys[xs[t]]
          if k > hi then hi = k end
          args[#args + 1] = 'SET'; args[#args + 1] = 'u1'; args[#args + 1] = k % page_keys; args[#args + 1] = 1
        end
        redis.call('BITFIELD', g.prefix .. c.car .. ':' .. p, unpack(args))
      end
      redis.call('ZADD', pages, redis.call('HINCRBY', hash, 'tick', 1), p)
    end
    redis.call('HSET', hash, 'car:' .. c.car, taken + #c.keys, 'mode:' .. c.car, g.mode, 'hi:' .. c.car, string.format('%d', hi))
    while redis.call('ZCARD', pages) > max_pages do
      local old = redis.call('ZPOPMIN', pages)[1]
      redis.call('DEL', pages .. ':' .. old)
      redis.call('SADD', pages .. ':gone', old)
    end
  end
  for _, kv in ipairs(g.counts) do redis.call('HINCRBY', hash, kv[1], kv[2]) end
  if g.mode == '1' then
    redis.call('XADD', KEYS[j], 'MAXLEN', '~', maxlen, '*', data, g.payload)
  else
    redis.call('XADD', KEYS[j], 'MAXLEN', '~', maxlen, '*', data, g.payload, basef, table.concat(bases, ','))
  end
end
redis.call('SET', receipt, '1', 'PX', receipt_ms)
return {'ok'}
"#;

/// How long a call's receipt lives: past the bound on the whole request, after which
/// the client has its 503 and nobody waits for this call's reply any more.
const RECEIPT_LIFE: std::time::Duration = super::state::REDIS_REQUEST_TIMEOUT.saturating_mul(2);

/// The 503 of a strict request that a concurrent request's change of its cars stopped
/// after part of it was stored: unlike other 503s, its resend is not taken whole.
pub const STRICT_MET_A_CHANGE: &str = "a concurrent request changed this strict request's cars after part of it was stored: what was stored stays, and a resend answers 400 with the reason";

/// Rounds of check-and-append before answering 503: each round that does not append
/// drops at least one sample, and only a request that resends part of itself, or races
/// another request carrying the same samples, needs a second.
const APPEND_ROUNDS: usize = 6;

/// A car's samples within one (partition, session) group, by position in the request.
struct CarSamples {
    car: u8,
    at: Vec<usize>,
}

/// One session's samples of a partition: one stream entry.
struct Group {
    session: String,
    /// Positions in the request, in payload order.
    at: Vec<usize>,
    cars: Vec<CarSamples>,
}

/// Appends what the stream does not have yet, one script call per partition (a call
/// never spans partitions, so it runs on a Redis Cluster). Each partition's samples are
/// stored atomically; a failure after some partitions stored theirs fails the request,
/// and its retry finds those as duplicates. A strict request is checked in every
/// partition first and aborted, with nothing written, if any sample would be refused.
pub async fn append(st: &ApiState, req: Request<'_>) -> Result<Appended, ApiError> {
    let Request {
        samples,
        numbering,
        faults,
        strict,
    } = req;
    let keys = &st.shared.keys;
    let mut parts: BTreeMap<u16, Vec<(usize, Sample)>> = BTreeMap::new();
    for s in samples {
        parts.entry(keys.partition_of(s.1.car)).or_default().push(s);
    }
    let mut out = Appended::default();
    if strict {
        for (&p, samples) in &parts {
            let mut samples = samples.clone();
            if let Round::Dropped(drops) =
                round(st, p, &mut samples, numbering, faults, true).await?
            {
                for (i, why) in drops {
                    if let Some(r) = Refusal::parse(&why) {
                        out.refused.push(Refused::new(&samples[i], r, numbering));
                    }
                }
            }
        }
        if !out.refused.is_empty() {
            out.aborted = true;
            return conflict_if_closed(out);
        }
    }
    let mut written = Vec::new();
    let result = async {
        for (p, samples) in parts {
            let stored_before = out.accepted;
            append_partition(st, p, samples, numbering, faults, strict, &mut out).await?;
            if out.accepted > stored_before {
                written.push(p);
            }
            if out.aborted {
                break;
            }
        }
        Ok(())
    }
    .await;
    // What was written, replicated before the answer says so (a Redis Cluster).
    let written: Vec<String> = written.iter().map(|&p| keys.partition(p)).collect();
    st.replicated(&written).await.map_err(ApiError::stream)?;
    result.and_then(|()| conflict_if_closed(out))
}

/// A 409 for a request none of whose samples is in the stream because their session is
/// finished or simulated (a sample found there is a duplicate and makes it a 2xx).
fn conflict_if_closed(out: Appended) -> Result<Appended, ApiError> {
    match out.refused.first() {
        Some(first)
            if out.accepted == 0
                && out.duplicates == 0
                && out.refused.iter().all(|r| r.why.closed()) =>
        {
            Err(first.why.conflict(&first.session))
        }
        _ => Ok(out),
    }
}

/// A name for one script call, unique among the calls of the last seconds: 128 random
/// bits (the time and a counter if the OS has no randomness to give).
fn call_token() -> String {
    use rand::{RngCore, SeedableRng};
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    match rand::rngs::SmallRng::try_from_os_rng() {
        Ok(mut rng) => format!("{:016x}{:016x}", rng.next_u64(), rng.next_u64()),
        Err(_) => format!(
            "t{}-{}",
            now_us(),
            CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ),
    }
}

/// What one script call answered.
enum Round {
    /// Stored (or, dry, nothing to drop).
    Done,
    /// Nothing written: these samples (positions in the call's slice) are duplicates
    /// or refused, with the script's reason.
    Dropped(Vec<(usize, String)>),
}

impl Refusal {
    /// The 409 of a request none of whose samples was taken.
    fn conflict(self, session: &str) -> ApiError {
        let why = if self == Refusal::Finished {
            format!(
                "session {session:?} is finished: it takes no more samples, and none of these is one it took (ingest remembers them for {} minutes after the finish)",
                FINISHED_KEYS_KEPT.as_secs() / 60
            )
        } else {
            format!(
                "session {session:?} is published into the stream by a simulator or `pitstop replay`: POST /telemetry feeds sessions of its own"
            )
        };
        ApiError(StatusCode::CONFLICT, why)
    }
}

/// One script call for the samples of partition `p` (numbered first when ingest numbers
/// them).
async fn round(
    st: &ApiState,
    p: u16,
    samples: &mut [(usize, Sample)],
    numbering: Numbering,
    faults: &HashMap<usize, Vec<(Channel, Unknown)>>,
    dry: bool,
) -> Result<Round, ApiError> {
    if numbering == Numbering::Server {
        number(samples);
    }
    let groups = group(samples);
    let script = redis::Script::new(APPEND);
    let mut call = script.prepare_invoke();
    let keys = &st.shared.keys;
    for _ in &groups {
        call.key(keys.partition(p));
    }
    for g in &groups {
        call.key(keys.ingested(&g.session, p));
    }
    for g in &groups {
        call.key(keys.progress(&g.session, p));
    }
    // Names this call, not the request: a later round carries other samples.
    call.key(keys.receipt(p, &call_token()));
    call.arg(st.shared.cfg.maxlen)
        .arg(FIELD_DATA)
        .arg(FIELD_SEQ_BASE)
        .arg(PAGE_KEYS)
        .arg(MAX_PAGES)
        .arg(MAX_SEQ_JUMP)
        .arg(if dry { "1" } else { "0" })
        .arg(RECEIPT_LIFE.as_millis() as u64);
    let created = now_us();
    for g in &groups {
        let payload: Vec<Sample> = g.at.iter().map(|&i| samples[i].1.clone()).collect();
        call.arg(encode_batch(&g.session, created, &payload))
            .arg(match numbering {
                Numbering::Client => "1",
                Numbering::Server => "0",
            })
            .arg(keys.seen_prefix(&g.session, p))
            .arg(g.cars.len());
        for c in &g.cars {
            call.arg(c.car).arg(key_list(samples, &c.at, numbering));
        }
        let counts = unknown_counts(samples, &g.at, faults);
        call.arg(counts.len());
        for (field, n) in counts {
            call.arg(field).arg(n);
        }
    }
    let mut con = st.redis();
    let answer: Vec<String> = call
        .invoke_async(&mut con)
        .await
        .map_err(ApiError::stream)?;
    match answer.first().map(String::as_str) {
        Some("ok" | "clean") => Ok(Round::Done),
        Some("drop") => {
            let drops = dropped(&answer[1..], &groups).ok_or_else(|| unexpected(&answer))?;
            Ok(Round::Dropped(
                drops.into_iter().map(|(i, w)| (i, w.to_owned())).collect(),
            ))
        }
        _ => Err(unexpected(&answer)),
    }
}

/// Rounds for one partition until its samples are stored, dropping the duplicates and
/// refusals each round names (a closed session's samples among them). Strict: a
/// refusal the dry run did not see (a concurrent request changed the car, or finished
/// the session) ends the request: a 400 or 409 if this request stored nothing yet, else
/// a 503 (a resend finds what is stored and meets the refusal).
async fn append_partition(
    st: &ApiState,
    p: u16,
    mut samples: Vec<(usize, Sample)>,
    numbering: Numbering,
    faults: &HashMap<usize, Vec<(Channel, Unknown)>>,
    strict: bool,
    out: &mut Appended,
) -> Result<(), ApiError> {
    for _ in 0..APPEND_ROUNDS {
        if samples.is_empty() {
            return Ok(());
        }
        match round(st, p, &mut samples, numbering, faults, false).await? {
            Round::Done => {
                out.accepted += samples.len();
                return Ok(());
            }
            Round::Dropped(drops)
                if strict && drops.iter().any(|(_, w)| Refusal::parse(w).is_some()) =>
            {
                if out.accepted > 0 {
                    return Err(ApiError(
                        StatusCode::SERVICE_UNAVAILABLE,
                        STRICT_MET_A_CHANGE.into(),
                    ));
                }
                for (i, why) in drops {
                    if let Some(r) = Refusal::parse(&why) {
                        out.refused.push(Refused::new(&samples[i], r, numbering));
                    }
                }
                out.duplicates = 0;
                out.aborted = true;
                return Ok(());
            }
            Round::Dropped(drops) => {
                let mut gone = vec![false; samples.len()];
                for (i, why) in drops {
                    gone[i] = true;
                    match Refusal::parse(&why) {
                        Some(r) => out.refused.push(Refused::new(&samples[i], r, numbering)),
                        None => out.duplicates += 1,
                    }
                }
                let mut keep = gone.iter().map(|g| !g);
                samples.retain(|_| keep.next().unwrap_or(true));
            }
        }
    }
    Err(ApiError::unavailable(
        "telemetry stream (concurrent writers of the same samples)",
    ))
}

fn unexpected(answer: &[String]) -> ApiError {
    ApiError::stream(redis::RedisError::from((
        redis::ErrorKind::UnexpectedReturnType,
        "append script answered",
        format!("{:?}", &answer[..answer.len().min(4)]),
    )))
}

/// Maps the script's `group:car:index:reason` items to positions in `samples`.
fn dropped<'a>(items: &'a [String], groups: &[Group]) -> Option<Vec<(usize, &'a str)>> {
    items
        .iter()
        .map(|item| {
            let mut f = item.splitn(4, ':');
            let j: usize = f.next()?.parse().ok()?;
            let car: u8 = f.next()?.parse().ok()?;
            let x: usize = f.next()?.parse().ok()?;
            let why = f.next()?;
            let c = groups
                .get(j.checked_sub(1)?)?
                .cars
                .iter()
                .find(|c| c.car == car)?;
            Some((*c.at.get(x.checked_sub(1)?)?, why))
        })
        .collect()
}

/// The group's values made unknown, as ingest-hash fields and counts.
fn unknown_counts(
    samples: &[(usize, Sample)],
    at: &[usize],
    faults: &HashMap<usize, Vec<(Channel, Unknown)>>,
) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    if faults.is_empty() {
        return out;
    }
    for &i in at {
        let (at, s) = &samples[i];
        for (c, why) in faults.get(at).into_iter().flatten() {
            *out.entry(unknown_field(s.car, *c, *why)).or_default() += 1;
        }
    }
    out
}

/// The ingest-hash field counting a car's values of channel `c` made unknown.
pub fn unknown_field(car: u8, c: Channel, why: Unknown) -> String {
    format!("unknown:{car}:{}:{}", c.name(), why.as_str())
}

/// A car's sample keys as the script reads them: seq or time.
fn key_list(samples: &[(usize, Sample)], at: &[usize], numbering: Numbering) -> String {
    let mut out = String::with_capacity(at.len() * 14);
    for (n, &i) in at.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        let s = &samples[i].1;
        let key = match numbering {
            Numbering::Client => s.seq as i64,
            Numbering::Server => s.timestamp_ms,
        };
        out.push_str(&key.to_string());
    }
    out
}

/// Numbers each car's samples of each session from 0 in time order (the script adds
/// what that session's ingest hash counts for the car so far); the request's positions
/// travel with them. Per session: a body carrying one car under two sessions once
/// numbered it across both, so each session's stream got every other seq of a range its
/// next body then filled again, and the processor dropped those as seqs it had.
fn number(samples: &mut [(usize, Sample)]) {
    samples.sort_by(|(_, a), (_, b)| {
        (&a.session, a.car, a.timestamp_ms).cmp(&(&b.session, b.car, b.timestamp_ms))
    });
    let mut next = 0u32;
    for i in 0..samples.len() {
        let fresh = i == 0 || {
            let (a, b) = (&samples[i - 1].1, &samples[i].1);
            (&a.session, a.car) != (&b.session, b.car)
        };
        next = if fresh { 0 } else { next + 1 };
        samples[i].1.seq = next;
    }
    samples.sort_by_key(|(_, s)| s.timestamp_ms);
}

/// One partition's samples by session, and within each by car, in request order.
fn group(samples: &[(usize, Sample)]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, (_, s)) in samples.iter().enumerate() {
        let g = *index.entry(&s.session).or_insert_with(|| {
            groups.push(Group {
                session: s.session.to_string(),
                at: Vec::new(),
                cars: Vec::new(),
            });
            groups.len() - 1
        });
        let g = &mut groups[g];
        g.at.push(i);
        match g.cars.iter_mut().find(|c| c.car == s.car) {
            Some(c) => c.at.push(i),
            None => g.cars.push(CarSamples {
                car: s.car,
                at: vec![i],
            }),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(car: u8, t: i64) -> (usize, Sample) {
        (
            t as usize,
            Sample {
                car,
                timestamp_ms: t,
                ..Sample::example()
            },
        )
    }

    /// Ingest numbers each car from 0 in time order, whatever the request order, and
    /// the request positions travel with the samples.
    #[test]
    fn numbers_per_car_in_time_order() {
        let mut s = vec![sample(1, 30), sample(2, 10), sample(1, 10), sample(1, 20)];
        number(&mut s);
        let got: Vec<_> = s.iter().map(|(i, s)| (*i, s.car, s.seq)).collect();
        assert_eq!(got, [(10, 1, 0), (10, 2, 0), (20, 1, 1), (30, 1, 2)]);
    }

    /// One car under two sessions in one body: each session's samples of it from 0.
    #[test]
    fn numbers_per_session_and_car() {
        let mut s: Vec<_> = (0..6).map(|t| sample(7, t)).collect();
        for (i, (_, x)) in s.iter_mut().enumerate() {
            x.session = if i % 2 == 0 { "a" } else { "b" }.into();
        }
        number(&mut s);
        let got: Vec<_> = s.iter().map(|(_, s)| (s.session.as_str(), s.seq)).collect();
        assert_eq!(
            got,
            [("a", 0), ("b", 0), ("a", 1), ("b", 1), ("a", 2), ("b", 2)]
        );
    }
}
