//! The sessions a client feeds through `POST /telemetry`: their start marker (circuit,
//! laps, grid) and their chequered flag, as the simulator writes them for its own.

use super::append::FINISHED_KEYS_KEPT;
use super::request::{SessionId, authorize, read_body};
use super::state::{ApiError, ApiState, ErrorBody, redis_bounded};
use crate::model::{TIMESTAMPS_MS, validate_driver, validate_session, validate_team};
use crate::stream::{CarCount, CarInfo, FIELD_MARKER, Marker, SessionInfo};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::ops::RangeInclusive;

/// Bound on a start marker's body (a grid of 99 cars fits many times over).
const START_BODY_LIMIT: usize = 64 * 1024;

/// Race distance in laps: the simulator's `--laps` and a sample's `lap` take the same.
const LAPS: RangeInclusive<i64> = 1..=200;

/// Car numbers, as a sample's `car`.
const CARS: RangeInclusive<i64> = 1..=99;

/// The body of a start, as sent: integers wide enough that an out-of-range value
/// reaches [`SessionStart::validate`] and gets a reason naming its field.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct StartBody {
    /// The circuit's id, by the session-id rule (`zandvoort`).
    circuit: String,
    /// Race distance, 1..=200.
    laps: i64,
    /// The race clock's origin, ms since the epoch (between 2000 and 2100).
    started_at_ms: i64,
    /// The grid: each car 1..=99 once, each driver once.
    #[serde(default)]
    cars: Vec<GridCar>,
}

/// One car of a start's grid.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct GridCar {
    car: i64,
    driver: String,
    team: String,
}

/// A validated start: what the session's start marker carries, in one canonical form
/// (the grid ordered by car), so a resent start compares equal to the first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub(super) struct SessionStart {
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

/// A start or finish that holds: `{"started": true}`.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Started {
    started: bool,
}

/// The 409 of a start that differs from the session's: the error and the start the
/// session has (null when unreadable), for a client that restarted to adopt.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct StartConflict {
    error: String,
    #[schema(required = true)]
    started: Option<SessionStart>,
}

/// A 409 of a start: a different start ([`StartConflict`]), or a finished or simulated
/// session (the plain error).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[expect(
    dead_code,
    reason = "a schema only: the handler answers its variants as StartConflict and ApiError"
)]
pub(super) enum StartRefusal {
    Differs(StartConflict),
    Error(ErrorBody),
}

/// A finish that holds.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Finished {
    finished: bool,
    /// Samples published, by every partition's end marker.
    published: u64,
}

/// `POST /api/v1/sessions/{id}/start`: the metadata of a session fed through
/// `POST /telemetry` (circuit, distance, start, grid), appended as the session's start
/// marker so it shows in the session, classification (race times) and data quality.
/// 202 when appended; 200 for the same start again (a resend); 409 for a different
/// start of a started session, or any start of a finished or simulated one.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/start", tag = "sessions", params(SessionId),
    request_body = StartBody,
    responses(
        (status = 202, description = "Started: the start marker is appended", body = Started),
        (status = 200, description = "The same start again: nothing appended", body = Started),
        (status = 400, description = "A bad session id, invalid JSON, or a field out of its rule (named)", body = ErrorBody),
        (status = 401, description = "No API key, or a wrong one", body = ErrorBody),
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 409, description = "Started differently (with the stored start), finished, or started by the simulator", body = StartRefusal),
        (status = 413, description = "The body is over 64 KiB", body = ErrorBody),
        (status = 503, description = "Redis away or too slow: resend", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = [])))]
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
    let answer = redis_bounded(start_partitions(&st, &id, &canonical, &marker)).await?;
    let conflict = |message: String| Err(ApiError(StatusCode::CONFLICT, message));
    match answer.first().map(String::as_str) {
        Some("ok") => Ok((StatusCode::ACCEPTED, Json(Started { started: true })).into_response()),
        Some("same") => Ok(Json(Started { started: true }).into_response()),
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
                Json(StartConflict {
                    error,
                    started: first,
                }),
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

/// The start in every partition: first checked in all (a dry run: nothing written),
/// so a start that one partition refuses (finished, simulated, started differently)
/// writes nowhere; then written, partition 0 first, where of two different starts at
/// once exactly one lands (the other then meets it there and writes nowhere else). A
/// start interrupted part-way is completed by its resend. Answers the first refusal,
/// else `ok` if this call wrote partition 0, `same` if it had it; then replicated (a
/// Redis Cluster).
async fn start_partitions(
    st: &ApiState,
    id: &str,
    canonical: &str,
    marker: &Marker,
) -> Result<Vec<String>, redis::RedisError> {
    let keys = &st.shared.keys;
    let script = redis::Script::new(START);
    let marker = serde_json::to_string(marker).expect("markers serialize");
    let mut con = st.redis();
    let mut written = Vec::new();
    for dry in [true, false] {
        for p in 0..keys.partitions {
            let answer: Vec<String> = script
                .key(keys.ingested(id, p))
                .key(keys.progress(id, p))
                .key(keys.partition(p))
                .arg(st.shared.cfg.maxlen)
                .arg(FIELD_MARKER)
                .arg(canonical)
                .arg(&marker)
                .arg(if dry { "1" } else { "0" })
                .invoke_async(&mut con)
                .await?;
            match answer.first().map(String::as_str) {
                Some("ok") if !dry => written.push(keys.partition(p)),
                Some("ok" | "same") => {}
                _ => {
                    st.replicated(&written).await?;
                    return Ok(answer);
                }
            }
        }
    }
    st.replicated(&written).await?;
    // Started by this call where it wrote partition 0, the first written: of identical
    // starts at once each writes what it finds missing, and only one says it started.
    let first = written.first() == Some(&keys.partition(0));
    Ok(vec![if first { "ok" } else { "same" }.into()])
}

/// Appends the start marker to one partition and records the start in its ingest hash,
/// unless the session has a start there already (`same` or `differs` and the stored
/// start), has finished (`finished`), or was started by the simulator (`simulated`).
/// KEYS: the partition's ingest hash, its simulator progress hash, the partition.
/// ARGV: maxlen, marker field, the canonical start, the marker, `1` for a dry run
/// (answer, write nothing).
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
if ARGV[5] == '1' then return {'ok'} end
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[1], '*', ARGV[2], ARGV[4])
redis.call('HSET', hash, 'start', ARGV[3])
return {'ok'}
"#;

/// Every partition's ingest hash of session `id` (values as text: they hold the start,
/// as JSON, beside the counts). A car's fields are in its partition's hash only.
pub(super) async fn ingest_hashes(
    con: &mut impl redis::aio::ConnectionLike,
    keys: &crate::stream::StreamKeys,
    id: &str,
) -> Result<Vec<HashMap<String, String>>, redis::RedisError> {
    let mut out = Vec::with_capacity(keys.partitions as usize);
    for p in 0..keys.partitions {
        out.push(
            redis::cmd("HGETALL")
                .arg(keys.ingested(id, p))
                .query_async(con)
                .await?,
        );
    }
    Ok(out)
}

/// The `car:<n>` counts of one ingest hash.
fn counts(fields: &HashMap<String, String>) -> Vec<CarCount> {
    fields
        .iter()
        .filter_map(|(k, v)| {
            Some(CarCount {
                car: k.strip_prefix("car:")?.parse().ok()?,
                samples: v.parse().ok()?,
            })
        })
        .collect()
}

/// `POST /api/v1/sessions/{id}/finish`: the chequered flag of a session fed through
/// `POST /telemetry`. Appends the end marker to every partition with what ingest accepted
/// per car, so the session finishes (last laps closed, published counts known) as a
/// simulated one does. Finishing twice changes nothing.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/finish", tag = "sessions", params(SessionId),
    responses(
        (status = 202, description = "Finished now: every partition's end marker is appended", body = Finished),
        (status = 200, description = "Finished before", body = Finished),
        (status = 400, description = "A bad session id", body = ErrorBody),
        (status = 401, description = "No API key, or a wrong one", body = ErrorBody),
        (status = 404, description = "No telemetry was posted for the session", body = ErrorBody),
        (status = 503, description = "Redis away or too slow: resend", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub(super) async fn finish(
    State(st): State<ApiState>,
    SessionId(id): SessionId,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&st, &headers)?;
    match redis_bounded(finish_partitions(&st, &id)).await? {
        Finish::Done { total, now } => {
            let code = if now {
                StatusCode::ACCEPTED
            } else {
                StatusCode::OK
            };
            let answer = Finished {
                finished: true,
                published: total,
            };
            Ok((code, Json(answer)).into_response())
        }
        Finish::NeverFed => Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no telemetry was posted for session {id:?}"),
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
}

/// The Redis part of a finish: nothing if no car was ever fed; else every partition
/// finished by [`FINISH`], one atomic step each that reads the counts it writes into
/// the end marker (so a feed still posting cannot make the marker wrong: its later
/// samples are refused as finished), then replicated (a Redis Cluster). The total is
/// what the end markers carry.
async fn finish_partitions(st: &ApiState, id: &str) -> Result<Finish, redis::RedisError> {
    let keys = &st.shared.keys;
    let mut con = st.redis();
    let hashes = ingest_hashes(&mut con, keys, id).await?;
    if hashes.iter().all(|h| counts(h).is_empty()) {
        return Ok(Finish::NeverFed);
    }
    let script = redis::Script::new(FINISH);
    let (mut total, mut written) = (0, Vec::new());
    for p in 0..keys.partitions {
        let (answer, samples): (String, u64) = script
            .key(keys.ingested(id, p))
            .key(keys.partition(p))
            .arg(st.shared.cfg.maxlen)
            .arg(FIELD_MARKER)
            .arg(crate::util::now_ms())
            .arg(id)
            .arg(keys.partitions)
            .arg(keys.seen_prefix(id, p))
            .arg(FINISHED_KEYS_KEPT.as_millis() as u64)
            .invoke_async(&mut con)
            .await?;
        total += samples;
        if answer == "ok" {
            written.push(keys.partition(p));
        }
    }
    st.replicated(&written).await?;
    Ok(Finish::Done {
        total,
        now: !written.is_empty(),
    })
}

/// Writes a partition's end marker, with the count of each of its cars as its ingest
/// hash holds them now, and its `end` flag, and sets the keys that remember which
/// samples ingest took to expire (a finished session takes none; until then a resend is
/// answered as duplicates); or answers `finished` if an earlier call did. Either way
/// with the partition's total.
/// KEYS: the partition's ingest hash, the partition. ARGV: maxlen, marker field, now,
/// session, partitions, the de-duplication key prefix, how long the keys stay (ms). The marker is the JSON of
/// [`Marker::SessionEnd`], written here so that it and the counts are one step.
const FINISH: &str = r#"
local hash = KEYS[1]
local cars, total = {}, 0
for _, k in ipairs(redis.call('HKEYS', hash)) do
  if string.sub(k, 1, 4) == 'car:' then
    local n = tonumber(redis.call('HGET', hash, k))
    cars[#cars + 1] = {tonumber(string.sub(k, 5)), n}
    total = total + n
  end
end
if redis.call('HEXISTS', hash, 'end') == 1 then return {'finished', total} end
table.sort(cars, function(a, b) return a[1] < b[1] end)
local items = {}
for i, c in ipairs(cars) do
  items[i] = string.format('{"car":%d,"samples":%d}', c[1], c[2])
end
local marker = '{"type":"session_end","session":' .. cjson.encode(ARGV[4]) ..
  ',"partitions":' .. ARGV[5] .. ',"published":[' .. table.concat(items, ',') .. ']}'
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], '*', ARGV[2], marker)
redis.call('HSET', hash, 'end', ARGV[3])
local prefix = ARGV[6]
for _, c in ipairs(cars) do
  local pages = prefix .. c[1]
  for _, p in ipairs(redis.call('ZRANGE', pages, 0, -1)) do redis.call('PEXPIRE', pages .. ':' .. p, ARGV[7]) end
  redis.call('PEXPIRE', pages, ARGV[7])
  redis.call('PEXPIRE', pages .. ':gone', ARGV[7])
end
return {'ok', total}
"#;
