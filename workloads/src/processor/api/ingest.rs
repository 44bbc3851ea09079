//! `POST /telemetry`: bodies in any accepted format, appended to the stream exactly
//! once however often a client resends them.
//!
//! The contract a client can rely on: a 2xx means every sample of the body is in the
//! stream (or was already); a 4xx means none is and resending the same body will not
//! help; a 503 means "unknown, resend" — and resending is always safe. A resend is
//! recognised per car: by `seq` for native samples that give it (a sample at or below
//! the car's highest seq so far is dropped), by time for everything ingest numbers
//! itself (a sample at or before the car's latest time so far is dropped). Dropped
//! samples are counted in the answer (`duplicates`) and in
//! `pitstop_processor_dropped_samples_total{reason="duplicate_at_ingest"}`.

use super::request::{authorize, read_body};
use super::state::{ApiError, ApiState};
use crate::codec::binary::encode_batch;
use crate::feeds::{self, FeedOptions, Format, Numbering};
use crate::model::Sample;
use crate::stream::{FIELD_DATA, FIELD_SEQ_BASE};
use crate::util::now_us;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;

/// What one request did.
struct Ingested {
    accepted: usize,
    duplicates: usize,
    format: Format,
}

pub(super) async fn ingest(
    State(st): State<ApiState>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = ingest_inner(&st, &uri, &headers, body).await;
    // Nothing new (a resend of what the stream has): 200, not 202.
    let code = match &result {
        Ok(i) if i.accepted == 0 => StatusCode::OK,
        Ok(_) => StatusCode::ACCEPTED,
        Err(e) => e.0,
    };
    st.shared
        .metrics
        .ingest_requests
        .with_label_values(&[code.as_str()])
        .inc();
    match result {
        Ok(i) => (
            code,
            Json(json!({
                "accepted": i.accepted,
                "duplicates": i.duplicates,
                "format": i.format.as_str(),
            })),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// What a feed without our fields needs, from the query string of `POST /telemetry`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct IngestQuery {
    /// Session id for OpenF1 and FastF1 bodies.
    session: Option<String>,
    /// Time origin of relative FastF1 times, ms since the epoch or RFC 3339.
    start: Option<String>,
    /// `car:driver:team,…` for FastF1 codes of other seasons.
    grid: Option<String>,
    /// The car of a FastF1 CSV without a Driver column.
    car: Option<String>,
}

impl IngestQuery {
    fn options(self) -> Result<FeedOptions, String> {
        if let Some(s) = self.session.as_deref() {
            crate::model::validate_session(s).map_err(|e| e.to_string())?;
        }
        let start_ms = match self.start.as_deref() {
            None => None,
            Some(v) => Some(feeds::time::start_ms(v).map_err(|e| format!("start: {e}"))?),
        };
        let grid = match self.grid.as_deref() {
            None => Vec::new(),
            Some(g) => crate::sim::grid::parse_grid(g).map_err(|e| format!("grid: {e}"))?,
        };
        let car = match self.car.as_deref() {
            None => None,
            Some(c) => Some(
                c.parse::<u8>()
                    .ok()
                    .filter(|n| (1..=99).contains(n))
                    .ok_or_else(|| format!("car: {c:?} is not a car number 1..=99"))?,
            ),
        };
        Ok(FeedOptions {
            session: self.session,
            start_ms,
            grid,
            car,
        })
    }
}

/// The body formats by `Content-Type`; without one the body says which it is.
fn body_format(headers: &HeaderMap, body: &[u8]) -> Result<Format, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("?").to_owned());
    let essence = content_type
        .as_deref()
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase());
    match essence.as_deref() {
        None
        | Some("application/json")
        | Some("application/x-ndjson")
        | Some("application/ndjson")
        | Some("application/jsonl")
        | Some("application/json-seq")
        | Some("text/csv") => Ok(Format::detect(content_type.as_deref(), body)),
        Some(other) => Err(ApiError(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Content-Type {other:?} is not accepted: send application/json (native samples or OpenF1 records), application/x-ndjson, or text/csv (FastF1 telemetry)"
            ),
        )),
    }
}

async fn ingest_inner(
    st: &ApiState,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Ingested, ApiError> {
    let cfg = &st.shared.cfg;
    authorize(st, headers)?;
    let limit = cfg.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body exceeds the limit of {limit} bytes"),
        ));
    }
    let query: IngestQuery = serde_urlencoded::from_str(uri.query().unwrap_or(""))
        .map_err(|e| ApiError::bad_request(format!("query: {e}")))?;
    let opts = query.options().map_err(ApiError::bad_request)?;
    let bytes = read_body(st, body, limit).await?;
    let format = body_format(headers, &bytes)?;
    let (samples, numbering) =
        feeds::parse_numbered(format, &bytes, &opts, cfg.max_samples_per_request)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if samples.is_empty() {
        return Err(ApiError::bad_request("no samples in the body"));
    }
    if format == Format::Native
        && let Some(want) = opts.session.as_deref()
        && let Some((i, s)) = samples.iter().enumerate().find(|(_, s)| s.session != want)
    {
        return Err(ApiError::bad_request(format!(
            "sample {i} is of session {:?} but ?session= says {want:?}: native samples carry their session, leave ?session= out or make them agree",
            s.session
        )));
    }
    if numbering == Numbering::Client {
        in_seq_order(&samples).map_err(ApiError::bad_request)?;
    }
    let total = samples.len();
    let accepted = append(st, samples, numbering).await?;
    let duplicates = total - accepted;
    let m = &st.shared.metrics;
    m.ingest_samples.inc_by(accepted as u64);
    if duplicates > 0 {
        m.dropped
            .with_label_values(&["duplicate_at_ingest"])
            .inc_by(duplicates as u64);
    }
    Ok(Ingested {
        accepted,
        duplicates,
        format,
    })
}

/// Client-numbered samples go up in `seq` per car, in body order: the stream keeps that
/// order, and a seq that goes back would read as a resend.
fn in_seq_order(samples: &[Sample]) -> Result<(), String> {
    let mut last: BTreeMap<u8, (usize, u32)> = BTreeMap::new();
    for (i, s) in samples.iter().enumerate() {
        if let Some((j, seq)) = last.insert(s.car, (i, s.seq))
            && s.seq <= seq
        {
            return Err(format!(
                "sample {i}: car {} seq {} after seq {seq} (sample {j}): send each car's samples in rising seq order",
                s.car, s.seq
            ));
        }
    }
    Ok(())
}

/// Appends entries and advances each car's ingest position in one script, so an entry
/// is never in the stream without its car's position moved past it, nor the other way
/// round; a session that has finished takes nothing.
///
/// The script first compares: a car whose samples start at or below its position (by
/// seq for client numbering, by time otherwise) is a resend, and the script writes
/// nothing and answers each car's position. The caller then drops what is already there
/// and tries again (a second round only happens when a resend overlaps, or two requests
/// for one car race).
///
/// Keys per (partition, session) group: the partition, the session's ingest hash, the
/// simulator's progress hash (its `end` also finishes the session). The hash holds
/// `car:N` (the car's next seq: the published count at the chequered flag) and `ts:N`
/// (its latest time).
const APPEND: &str = r#"
local n = #KEYS / 3
local maxlen, data, basef = ARGV[1], ARGV[2], ARGV[3]
local i = 4
local groups, conflicts = {}, {}
for j = 1, n do
  local hash = KEYS[n + j]
  if redis.call('HEXISTS', hash, 'end') == 1 or redis.call('HEXISTS', KEYS[2 * n + j], 'end') == 1 then
    return {'finished', tostring(j)}
  end
  local g = {payload = ARGV[i], client = ARGV[i + 1] == 'c', cars = {}}
  local cars = tonumber(ARGV[i + 2])
  i = i + 3
  for _ = 1, cars do
    local c = {car = ARGV[i], first = tonumber(ARGV[i + 1]), last = tonumber(ARGV[i + 2]),
               count = tonumber(ARGV[i + 3]), ts = ARGV[i + 4]}
    i = i + 5
    c.next = tonumber(redis.call('HGET', hash, 'car:' .. c.car) or '0')
    c.seen = redis.call('HGET', hash, 'ts:' .. c.car)
    local resent
    if g.client then
      resent = c.first < c.next
    else
      resent = c.seen and c.first <= tonumber(c.seen)
    end
    if resent then
      conflicts[#conflicts + 1] = c.car .. ':' .. c.next .. ':' .. (c.seen or '')
    end
    g.cars[#g.cars + 1] = c
  end
  groups[j] = g
end
if #conflicts > 0 then
  return {'resent', unpack(conflicts)}
end
for j = 1, n do
  local g, hash = groups[j], KEYS[n + j]
  local bases = {}
  for _, c in ipairs(g.cars) do
    if g.client then
      redis.call('HSET', hash, 'car:' .. c.car, c.last + 1)
    else
      redis.call('HSET', hash, 'car:' .. c.car, c.next + c.count)
      bases[#bases + 1] = c.car .. ':' .. c.next
    end
    if not c.seen or tonumber(c.ts) > tonumber(c.seen) then
      redis.call('HSET', hash, 'ts:' .. c.car, c.ts)
    end
  end
  if g.client then
    redis.call('XADD', KEYS[j], 'MAXLEN', '~', maxlen, '*', data, g.payload)
  else
    redis.call('XADD', KEYS[j], 'MAXLEN', '~', maxlen, '*', data, g.payload, basef, table.concat(bases, ','))
  end
end
return {'ok'}
"#;

/// Where a car's ingest stands: its next seq and its latest time.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Position {
    next_seq: u64,
    latest_ms: Option<i64>,
}

/// Drops the samples a car's position says the stream already has. Samples ingest
/// numbers are numbered again from 0 per car (the script adds the car's base), so the
/// car's seqs stay without a gap.
fn drop_resent(samples: &mut Vec<Sample>, numbering: Numbering, at: &BTreeMap<u8, Position>) {
    samples.retain(|s| match at.get(&s.car) {
        None => true,
        Some(p) => match numbering {
            Numbering::Client => s.seq as u64 >= p.next_seq,
            Numbering::Server => p.latest_ms.is_none_or(|t| s.timestamp_ms > t),
        },
    });
    if numbering == Numbering::Server {
        feeds::number(samples);
    }
}

/// Parses the script's `resent` answer: `car:next:latest` per car.
fn positions(items: &[String]) -> BTreeMap<u8, Position> {
    items
        .iter()
        .filter_map(|item| {
            let mut f = item.split(':');
            let car = f.next()?.parse().ok()?;
            let next_seq = f.next()?.parse().ok()?;
            let latest_ms = f.next().and_then(|t| t.parse().ok());
            Some((
                car,
                Position {
                    next_seq,
                    latest_ms,
                },
            ))
        })
        .collect()
}

/// Rounds of compare-and-append before giving up (only concurrent writers of one car
/// need more than two).
const APPEND_ROUNDS: usize = 4;

/// Appends what the stream does not have yet; returns how many samples that was.
async fn append(
    st: &ApiState,
    mut samples: Vec<Sample>,
    numbering: Numbering,
) -> Result<usize, ApiError> {
    let script = redis::Script::new(APPEND);
    for _ in 0..APPEND_ROUNDS {
        if samples.is_empty() {
            return Ok(0);
        }
        let groups = group(st, &samples);
        let mut call = script.prepare_invoke();
        let keys = &st.shared.keys;
        for ((p, _), _) in &groups {
            call.key(keys.partition(*p));
        }
        for ((_, session), _) in &groups {
            call.key(keys.ingested(session));
        }
        for ((_, session), _) in &groups {
            call.key(keys.progress(session));
        }
        call.arg(st.shared.cfg.maxlen)
            .arg(FIELD_DATA)
            .arg(FIELD_SEQ_BASE);
        let created = now_us();
        for ((_, session), group) in &groups {
            call.arg(encode_batch(session, created, group))
                .arg(match numbering {
                    Numbering::Client => "c",
                    Numbering::Server => "s",
                });
            let cars = car_spans(group, numbering);
            call.arg(cars.len());
            for c in cars {
                call.arg(c.car)
                    .arg(c.first)
                    .arg(c.last)
                    .arg(c.count)
                    .arg(c.latest_ms);
            }
        }
        let mut con = st.redis();
        let answer: Vec<String> = call
            .invoke_async(&mut con)
            .await
            .map_err(ApiError::stream)?;
        match answer.first().map(String::as_str) {
            Some("ok") => return Ok(samples.len()),
            Some("finished") => {
                let j: usize = answer.get(1).and_then(|j| j.parse().ok()).unwrap_or(1);
                let session = &groups[j.saturating_sub(1).min(groups.len() - 1)].0.1;
                return Err(ApiError(
                    StatusCode::CONFLICT,
                    format!("session {session:?} is finished: it takes no more samples"),
                ));
            }
            Some("resent") => drop_resent(&mut samples, numbering, &positions(&answer[1..])),
            _ => {
                return Err(ApiError::stream(redis::RedisError::from((
                    redis::ErrorKind::UnexpectedReturnType,
                    "append script answered",
                    format!("{answer:?}"),
                ))));
            }
        }
    }
    Err(ApiError::unavailable(
        "telemetry stream (concurrent writers of one car)",
    ))
}

/// Samples by (partition, session), in body order within each.
fn group(st: &ApiState, samples: &[Sample]) -> Vec<((u16, String), Vec<Sample>)> {
    let keys = &st.shared.keys;
    let mut groups: Vec<((u16, String), Vec<Sample>)> = Vec::new();
    for s in samples {
        let k = (keys.partition_of(s.car), s.session.to_string());
        match groups.iter_mut().find(|(g, _)| *g == k) {
            Some((_, v)) => v.push(s.clone()),
            None => groups.push((k, vec![s.clone()])),
        }
    }
    groups
}

/// One car's samples in a group, as the script compares them.
struct CarSpan {
    car: u8,
    /// First and last seq (client numbering) or time (server numbering).
    first: i64,
    last: i64,
    count: u64,
    latest_ms: i64,
}

fn car_spans(group: &[Sample], numbering: Numbering) -> Vec<CarSpan> {
    let mut spans: Vec<CarSpan> = Vec::new();
    for s in group {
        let key = match numbering {
            Numbering::Client => s.seq as i64,
            Numbering::Server => s.timestamp_ms,
        };
        match spans.iter_mut().find(|c| c.car == s.car) {
            Some(c) => {
                c.first = c.first.min(key);
                c.last = c.last.max(key);
                c.count += 1;
                c.latest_ms = c.latest_ms.max(s.timestamp_ms);
            }
            None => spans.push(CarSpan {
                car: s.car,
                first: key,
                last: key,
                count: 1,
                latest_ms: s.timestamp_ms,
            }),
        }
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(car: u8, seq: u32, t: i64) -> Sample {
        Sample {
            car,
            seq,
            timestamp_ms: t,
            ..Sample::example()
        }
    }

    /// What the stream has is dropped by seq or by time, whichever numbers the body.
    #[test]
    fn resends_are_dropped_by_their_key() {
        let at = BTreeMap::from([(
            1,
            Position {
                next_seq: 2,
                latest_ms: Some(1_700_000_000_200),
            },
        )]);
        let body = || {
            vec![
                sample(1, 1, 1_700_000_000_100),
                sample(1, 2, 1_700_000_000_200),
                sample(1, 3, 1_700_000_000_300),
                sample(2, 0, 1_700_000_000_100),
            ]
        };
        let mut by_seq = body();
        drop_resent(&mut by_seq, Numbering::Client, &at);
        assert_eq!(by_seq.iter().map(|s| s.seq).collect::<Vec<_>>(), [2, 3, 0]);
        let mut by_time = body();
        drop_resent(&mut by_time, Numbering::Server, &at);
        let kept: Vec<_> = by_time
            .iter()
            .map(|s| (s.car, s.timestamp_ms, s.seq))
            .collect();
        assert_eq!(
            kept,
            [(2, 1_700_000_000_100, 0), (1, 1_700_000_000_300, 0)],
            "renumbered from 0 per car, in time order"
        );
        assert_eq!(
            positions(&["1:2:1700000000200".into(), "5:0:".into()]),
            BTreeMap::from([
                (1, at[&1]),
                (
                    5,
                    Position {
                        next_seq: 0,
                        latest_ms: None
                    }
                )
            ])
        );
    }

    /// A car's seq must rise through the body.
    #[test]
    fn seq_order_is_checked_per_car() {
        let t = 1_700_000_000_000;
        assert!(in_seq_order(&[sample(1, 0, t), sample(2, 0, t), sample(1, 1, t)]).is_ok());
        let err = in_seq_order(&[sample(1, 5, t), sample(2, 0, t), sample(1, 5, t)]).unwrap_err();
        assert_eq!(
            err,
            "sample 2: car 1 seq 5 after seq 5 (sample 0): send each car's samples in rising seq order"
        );
    }
}
