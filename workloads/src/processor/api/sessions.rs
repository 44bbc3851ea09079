//! The sessions a client feeds through `POST /telemetry`: their start marker (circuit,
//! laps, grid) and their chequered flag, as the simulator writes them for its own.

use super::request::{SessionId, authorize, read_body};
use super::state::{ApiError, ApiState, redis_bounded};
use crate::model::{TIMESTAMPS_MS, validate_driver, validate_session, validate_team};
use crate::stream::{CarCount, CarInfo, FIELD_MARKER, Marker, SessionInfo};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeSet;
use std::ops::RangeInclusive;

/// Bound on a start marker's body (a grid of 99 cars fits many times over).
const START_BODY_LIMIT: usize = 64 * 1024;

/// Race distance in laps: the simulator's `--laps` and a sample's `lap` take the same.
const LAPS: RangeInclusive<i64> = 1..=200;

/// Car numbers, as a sample's `car`.
const CARS: RangeInclusive<i64> = 1..=99;

/// The body of a start, as sent: integers wide enough that an out-of-range value
/// reaches [`SessionStart::validate`] and gets a reason naming its field.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    circuit: String,
    laps: i64,
    started_at_ms: i64,
    #[serde(default)]
    cars: Vec<GridCar>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GridCar {
    car: i64,
    driver: String,
    team: String,
}

/// A validated start: what the session's start marker carries, in one canonical form
/// (the grid ordered by car), so a resent start compares equal to the first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct SessionStart {
    circuit: String,
    laps: u16,
    started_at_ms: i64,
    cars: Vec<CarInfo>,
}

impl SessionStart {
    /// The rules samples and the simulator follow: the circuit as an id (a session id's
    /// rule), laps 1..=200, a start in milliseconds between 2000 and 2100, each car
    /// 1..=99 once with a valid driver and team, each driver once.
    fn validate(body: StartBody) -> Result<SessionStart, String> {
        validate_session(&body.circuit).map_err(|e| format!("circuit: {}", e.message))?;
        if !LAPS.contains(&body.laps) {
            return Err(format!(
                "laps: {} is outside {}..={}",
                body.laps,
                LAPS.start(),
                LAPS.end()
            ));
        }
        if !TIMESTAMPS_MS.contains(&body.started_at_ms) {
            return Err(format!(
                "started_at_ms: {} is not a Unix time in milliseconds between 2000 and 2100",
                body.started_at_ms
            ));
        }
        let (mut numbers, mut drivers) = (BTreeSet::new(), BTreeSet::new());
        let mut cars = Vec::with_capacity(body.cars.len());
        for (i, c) in body.cars.into_iter().enumerate() {
            if !CARS.contains(&c.car) {
                return Err(format!(
                    "cars[{i}].car: {} is outside {}..={}",
                    c.car,
                    CARS.start(),
                    CARS.end()
                ));
            }
            validate_driver(&c.driver).map_err(|e| format!("cars[{i}].driver: {}", e.message))?;
            validate_team(&c.team).map_err(|e| format!("cars[{i}].team: {}", e.message))?;
            if !numbers.insert(c.car) {
                return Err(format!("cars: car {} appears twice", c.car));
            }
            if !drivers.insert(c.driver.clone()) {
                return Err(format!("cars: driver {:?} appears twice", c.driver));
            }
            cars.push(CarInfo {
                car: c.car as u8,
                driver: c.driver.into(),
                team: c.team.into(),
            });
        }
        cars.sort_by_key(|c| c.car);
        Ok(SessionStart {
            circuit: body.circuit,
            laps: body.laps as u16,
            started_at_ms: body.started_at_ms,
            cars,
        })
    }

    /// What `self` changes against the start a session already has, field by field.
    fn differences(&self, first: &SessionStart) -> Vec<String> {
        let mut out = Vec::new();
        if self.circuit != first.circuit {
            out.push(format!(
                "circuit was {:?}, now {:?}",
                first.circuit, self.circuit
            ));
        }
        if self.laps != first.laps {
            out.push(format!("laps was {}, now {}", first.laps, self.laps));
        }
        if self.started_at_ms != first.started_at_ms {
            out.push(format!(
                "started_at_ms was {}, now {}",
                first.started_at_ms, self.started_at_ms
            ));
        }
        let numbers = |cars: &[CarInfo]| cars.iter().map(|c| c.car).collect::<BTreeSet<_>>();
        let changed: Vec<String> = numbers(&self.cars)
            .union(&numbers(&first.cars))
            .filter(|n| {
                let find = |cars: &[CarInfo]| cars.iter().find(|c| c.car == **n).cloned();
                find(&self.cars) != find(&first.cars)
            })
            .map(|n| n.to_string())
            .collect();
        if !changed.is_empty() {
            out.push(format!("cars {} differ", changed.join(", ")));
        }
        out
    }
}

/// `POST /api/v1/sessions/{id}/start`: the metadata of a session fed through
/// `POST /telemetry` (circuit, distance, start, grid), appended as the session's start
/// marker so it shows in the session, classification (race times) and data quality.
/// 202 when appended; 200 for the same start again (a resend); 409 for a different
/// start of a started session, or any start of a finished or simulated one.
pub(super) async fn start(
    State(st): State<ApiState>,
    SessionId(id): SessionId,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    authorize(&st, &headers)?;
    let body = read_body(&st, body, START_BODY_LIMIT).await?;
    let body: StartBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
    let start = SessionStart::validate(body).map_err(ApiError::bad_request)?;
    let keys = &st.shared.keys;
    let canonical = serde_json::to_string(&start).expect("a start serializes");
    let marker = Marker::SessionStart(SessionInfo {
        session: id.clone(),
        circuit: start.circuit.clone(),
        laps: start.laps,
        partitions: keys.partitions,
        started_at_ms: start.started_at_ms,
        cars: start.cars.clone(),
    });
    let script = redis::Script::new(START);
    let mut call = script.prepare_invoke();
    call.key(keys.ingested(&id)).key(keys.progress(&id));
    for (_, key) in keys.all_partitions() {
        call.key(key);
    }
    call.arg(st.shared.cfg.maxlen)
        .arg(FIELD_MARKER)
        .arg(&canonical)
        .arg(serde_json::to_string(&marker).expect("markers serialize"));
    let mut con = st.redis();
    let answer: Vec<String> = redis_bounded(call.invoke_async(&mut con)).await?;
    let conflict = |message: String| Err(ApiError(StatusCode::CONFLICT, message));
    match answer.first().map(String::as_str) {
        Some("ok") => Ok((StatusCode::ACCEPTED, Json(json!({ "started": true }))).into_response()),
        Some("same") => Ok(Json(json!({ "started": true })).into_response()),
        Some("finished") => conflict(format!(
            "session {id:?} is finished: it cannot be started again"
        )),
        Some("simulated") => conflict(format!(
            "session {id:?} was started by the simulator: its metadata is the simulator's"
        )),
        Some("differs") => {
            let first: Option<SessionStart> = answer
                .get(1)
                .and_then(|prev| serde_json::from_str(prev).ok());
            let what = match &first {
                Some(first) => start.differences(first).join("; "),
                None => "its stored start is unreadable".into(),
            };
            // The stored start goes back with the refusal, so a client that restarted
            // (the game gateway anchors its clock anew) can adopt it and resend.
            let error = format!(
                "session {id:?} was already started differently ({what}): a start can only be repeated as it was"
            );
            Ok((
                StatusCode::CONFLICT,
                Json(json!({ "error": error, "started": first })),
            )
                .into_response())
        }
        _ => Err(ApiError::stream(redis::RedisError::from((
            redis::ErrorKind::UnexpectedReturnType,
            "start script answered",
            format!("{answer:?}"),
        )))),
    }
}

/// Appends the start markers and records the start in the ingest hash, unless the
/// session has a start already (`same` or `differs` and the stored start), has finished
/// (`finished`), or was started by the simulator (`simulated`). One script, so of two
/// different starts at once exactly one lands.
/// KEYS: the ingest hash, the simulator's progress hash, then every partition. ARGV:
/// maxlen, marker field, the canonical start, the marker.
const START: &str = r#"
local hash, progress = KEYS[1], KEYS[2]
if redis.call('HEXISTS', hash, 'end') == 1 or redis.call('HEXISTS', progress, 'end') == 1 then
  return {'finished'}
end
if redis.call('HEXISTS', progress, 'start') == 1 then return {'simulated'} end
local prev = redis.call('HGET', hash, 'start')
if prev then
  if prev == ARGV[3] then return {'same'} end
  return {'differs', prev}
end
for p = 3, #KEYS do
  redis.call('XADD', KEYS[p], 'MAXLEN', '~', ARGV[1], '*', ARGV[2], ARGV[4])
end
redis.call('HSET', hash, 'start', ARGV[3])
return {'ok'}
"#;

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
        call.arg(keys.seen_prefix(id));
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
/// number of cars, car/count pairs, one marker per partition, the prefix of the keys
/// that remember which samples ingest took (dropped: a finished session takes none).
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
local prefix = ARGV[i]
for _, k in ipairs(redis.call('HKEYS', hash)) do
  if string.sub(k, 1, 4) == 'car:' then
    local pages = prefix .. string.sub(k, 5)
    for _, p in ipairs(redis.call('ZRANGE', pages, 0, -1)) do redis.call('DEL', pages .. ':' .. p) end
    redis.call('DEL', pages, pages .. ':gone')
  end
end
return 'ok'
"#;
