//! The sessions a client feeds through `POST /telemetry`: their start marker (circuit,
//! laps, grid) and their chequered flag, as the simulator writes them for its own.

use super::request::{SessionId, authorize, read_body};
use super::state::{ApiError, ApiState, redis_bounded};
use crate::stream::{CarCount, FIELD_MARKER, Marker, xadd};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

/// Bound on a start marker's body (a grid of 99 cars fits many times over).
const START_BODY_LIMIT: usize = 64 * 1024;

/// What a client knows of a session it feeds: the simulator's start marker, by hand.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionStart {
    circuit: String,
    laps: u16,
    started_at_ms: i64,
    #[serde(default)]
    cars: Vec<crate::stream::CarInfo>,
}

/// `POST /api/v1/sessions/{id}/start`: the metadata of a session fed through
/// `POST /telemetry` (circuit, distance, start, grid), appended as the session's start
/// marker so it shows in the session, classification (race times) and data quality.
pub(super) async fn start(
    State(st): State<ApiState>,
    SessionId(id): SessionId,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    authorize(&st, &headers)?;
    let body = read_body(&st, body, START_BODY_LIMIT).await?;
    let start: SessionStart = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
    let keys = &st.shared.keys;
    let info = crate::stream::SessionInfo {
        session: id,
        circuit: start.circuit,
        laps: start.laps,
        partitions: keys.partitions,
        started_at_ms: start.started_at_ms,
        cars: start.cars,
    };
    let json = serde_json::to_string(&Marker::SessionStart(info)).expect("markers serialize");
    let mut pipe = redis::pipe();
    pipe.atomic();
    for (_, key) in keys.all_partitions() {
        xadd(
            &mut pipe,
            &key,
            st.shared.cfg.maxlen,
            FIELD_MARKER,
            json.as_str(),
        );
    }
    let mut con = st.redis();
    redis_bounded(pipe.query_async::<()>(&mut con)).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "started": true }))).into_response())
}

/// `POST /api/v1/sessions/{id}/finish`: the chequered flag of a session fed through
/// `POST /telemetry`. Appends the end marker to every partition with what ingest accepted
/// per car, so the session finishes (last laps closed, published counts known) as a
/// simulated one does. Finishing twice changes nothing.
pub(super) async fn finish(
    State(st): State<ApiState>,
    SessionId(id): SessionId,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&st, &headers)?;
    match redis_bounded(finish_rounds(&st, &id)).await? {
        Finish::Done { total, now } => {
            let code = if now {
                StatusCode::ACCEPTED
            } else {
                StatusCode::OK
            };
            Ok((code, Json(json!({ "finished": true, "published": total }))).into_response())
        }
        Finish::NeverFed => Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no telemetry was posted for session {id:?}"),
        )),
        Finish::KeepsArriving => Err(ApiError::unavailable(
            "telemetry stream (samples keep arriving; finish when the feed has stopped)",
        )),
    }
}

/// How a finish went.
enum Finish {
    /// Finished with `total` samples published: by this call (`now`) or an earlier one.
    Done {
        total: u64,
        now: bool,
    },
    NeverFed,
    /// Samples kept arriving between the read of the counts and the write.
    KeepsArriving,
}

/// The Redis part of a finish: counts read, then written into the markers only if no
/// sample came in between, for a few rounds.
async fn finish_rounds(st: &ApiState, id: &str) -> Result<Finish, redis::RedisError> {
    let keys = &st.shared.keys;
    let script = redis::Script::new(FINISH);
    let mut con = st.redis();
    for _ in 0..FINISH_ROUNDS {
        // Values as text: the hash holds the start (JSON) beside the counts.
        let fields: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
            .arg(keys.ingested(id))
            .query_async(&mut con)
            .await?;
        let published: Vec<CarCount> = fields
            .iter()
            .filter_map(|(k, v)| {
                Some(CarCount {
                    car: k.strip_prefix("car:")?.parse().ok()?,
                    samples: v.parse().ok()?,
                })
            })
            .collect();
        if published.is_empty() {
            return Ok(Finish::NeverFed);
        }
        let total: u64 = published.iter().map(|c| c.samples).sum();
        if fields.contains_key("end") {
            return Ok(Finish::Done { total, now: false });
        }
        let mut call = script.prepare_invoke();
        call.key(keys.ingested(id));
        for (_, key) in keys.all_partitions() {
            call.key(key);
        }
        call.arg(st.shared.cfg.maxlen)
            .arg(FIELD_MARKER)
            .arg(crate::util::now_ms())
            .arg(published.len());
        for c in &published {
            call.arg(c.car).arg(c.samples);
        }
        for (p, _) in keys.all_partitions() {
            let marker = Marker::SessionEnd {
                session: id.to_owned(),
                partitions: keys.partitions,
                published: published
                    .iter()
                    .filter(|c| keys.partition_of(c.car) == p)
                    .copied()
                    .collect(),
            };
            call.arg(serde_json::to_string(&marker).expect("markers serialize"));
        }
        let answer: String = call.invoke_async(&mut con).await?;
        match answer.as_str() {
            "ok" => return Ok(Finish::Done { total, now: true }),
            "finished" => return Ok(Finish::Done { total, now: false }),
            // Samples arrived since the counts were read: read again.
            _ => {}
        }
    }
    Ok(Finish::KeepsArriving)
}

/// Rounds of read-and-finish before giving up on a feed that keeps posting.
const FINISH_ROUNDS: usize = 4;

/// Writes the end markers and the `end` flag if the ingest counts are still those the
/// markers carry (`changed` otherwise, `finished` if another call finished first).
/// KEYS: the ingest hash, then every partition. ARGV: maxlen, marker field, now, the
/// number of cars, car/count pairs, one marker per partition.
const FINISH: &str = r#"
local hash = KEYS[1]
if redis.call('HEXISTS', hash, 'end') == 1 then return 'finished' end
local maxlen, field, now, cars = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local i = 5
for _ = 1, cars do
  if redis.call('HGET', hash, 'car:' .. ARGV[i]) ~= ARGV[i + 1] then return 'changed' end
  i = i + 2
end
local known = 0
for _, k in ipairs(redis.call('HKEYS', hash)) do
  if string.sub(k, 1, 4) == 'car:' then known = known + 1 end
end
if known ~= cars then return 'changed' end
for p = 2, #KEYS do
  redis.call('XADD', KEYS[p], 'MAXLEN', '~', maxlen, '*', field, ARGV[i])
  i = i + 1
end
redis.call('HSET', hash, 'end', now)
return 'ok'
"#;
