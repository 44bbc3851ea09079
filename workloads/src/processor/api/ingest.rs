//! `POST /telemetry`: bodies in any accepted format, appended to the stream exactly
//! once however often, in whatever order and however concurrently clients send them.
//!
//! The contract a client can rely on: a 2xx means every sample of the body that is not
//! listed under `rejected` is in the stream (`accepted` new ones, `duplicates` that were
//! already there); a 4xx means none is and resending the same body will not help; a 503
//! means "unknown, resend" — and resending is always safe. A sample is a duplicate only
//! if the stream has its (session, car, key) already, the key being its `seq` when the
//! client gives one, else its time ([`super::append`]). Late and parallel arrival is
//! normal: nothing is refused for being older or newer than another sample of its car,
//! only for being outside what ingest remembers of the car (`too_late`), further ahead
//! of the processor's clock than [`MAX_AHEAD_MS`] (`future`), or a seq more than
//! [`super::append::MAX_SEQ_JUMP`] past the car's highest (`seq_jump`).

use super::append::{Appended, Request, STRICT_MET_A_CHANGE, append};
use super::request::{authorize, read_body};
use super::state::{ApiError, ApiState, ErrorBody, REDIS_REQUEST_TIMEOUT};
use crate::feeds::{self, Dirt, FeedOptions, Format, Origin, Parsed, Unknown};
use crate::model::{Channel, Sample};
use crate::util::now_ms;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};

/// How far ahead of the processor's clock a sample may be dated: a day, for replays
/// of a recording timed from now and clocks set wrong by hours; 2099 is a glitch.
pub const MAX_AHEAD_MS: i64 = 24 * 3_600_000;

/// A sample (row, record) not taken: where it is, the reason, and the error.
#[derive(Debug)]
struct Rejected {
    at: Origin,
    reason: &'static str,
    error: String,
}

/// A sample (row, record) not taken, as the answer lists it: where it is (`sample`, or
/// `row` and `line`, or `record`), the reason, and the error.
#[derive(Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub(super) struct RejectedSample {
    /// A native sample's index in the body, from 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    sample: Option<usize>,
    /// A CSV data row, from 1 after the header, and its line in the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    row: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u64>,
    /// An OpenF1 record's index in the body, from 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    record: Option<usize>,
    /// `malformed`, `required`, `conflict`, `future`, `too_late`, `seq_jump`,
    /// `numbering`, `finished` or `simulated`
    /// (`pitstop_processor_rejected_samples_total{reason}`).
    reason: &'static str,
    error: String,
}

impl Rejected {
    fn body(&self) -> RejectedSample {
        let (mut sample, mut row, mut line, mut record) = (None, None, None, None);
        match self.at {
            Origin::Sample(i) => sample = Some(i),
            Origin::Row { row: r, line: l } => (row, line) = (Some(r), Some(l)),
            Origin::Record(i) => record = Some(i),
        }
        RejectedSample {
            sample,
            row,
            line,
            record,
            reason: self.reason,
            error: self.error.clone(),
        }
    }
}

/// What one request did.
struct Ingested {
    accepted: usize,
    duplicates: usize,
    rejected: Vec<Rejected>,
    /// Values made unknown, as `{"gear": {"out_of_range": 3}}`.
    unknown: serde_json::Value,
    format: Format,
}

/// The answer to a request that was read: a 2xx, or a 400 when every sample was refused
/// (then with `error`).
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct IngestAnswer {
    /// Samples new in the stream.
    accepted: usize,
    /// Samples the stream had already (a resend).
    duplicates: usize,
    /// Samples not taken, in body order; the others are in the stream.
    rejected: Vec<RejectedSample>,
    /// Values made unknown for their sample, by channel and reason:
    /// `{"gear": {"out_of_range": 3}}`.
    #[schema(value_type = HashMap<String, HashMap<String, u64>>)]
    unknown: serde_json::Value,
    format: Format,
    /// Only on a 400: no sample was taken, and the first reason why.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// A 400 of `POST /telemetry`: the answer when every sample was refused, else the
/// plain error of a request that could not be read at all.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[expect(
    dead_code,
    reason = "a schema only: the handler answers its variants as IngestAnswer and ApiError"
)]
pub(super) enum IngestRefusal {
    AllRejected(IngestAnswer),
    Error(ErrorBody),
}

/// `POST /telemetry`: samples in any accepted format, stored exactly once however often
/// they are sent.
#[utoipa::path(post, path = "/telemetry", tag = "ingest",
    params(IngestQuery),
    request_body(description = "Native samples (one object, an array, or NDJSON), OpenF1 \
        records (an array or NDJSON) or FastF1 telemetry CSV; without a Content-Type the body \
        says which. At most 5,000 samples.",
        content((TelemetryJson = "application/json"), ("application/x-ndjson"), ("text/csv"))),
    responses(
        (status = 202, description = "Something new was stored: every sample not under \
            `rejected` is in the stream", body = IngestAnswer),
        (status = 200, description = "Nothing new: every sample not under `rejected` was \
            there already (a resend)", body = IngestAnswer),
        (status = 400, description = "Nothing stored, and resending will not help: a bad \
            query, a body that is not its format, no sample, more than 5,000, with \
            `?strict=true` any impossible value; or every sample rejected (then the whole \
            answer with `error`); or, where sending it whole again does help, a body cut \
            short", body = IngestRefusal),
        (status = 401, description = "No API key, or a wrong one", body = ErrorBody),
        (status = 408, description = "The body did not arrive within 30 s", body = ErrorBody),
        (status = 409, description = "None of the samples is in the stream: their session has finished, or a simulator publishes it", body = ErrorBody),
        (status = 413, description = "The body is over the size limit", body = ErrorBody),
        (status = 415, description = "Another content type", body = ErrorBody),
        (status = 503, description = "Redis away or too slow: unknown whether stored, resend", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub(super) async fn ingest(
    State(st): State<ApiState>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = ingest_inner(&st, &uri, &headers, body).await;
    let code = match &result {
        Ok(i) if i.accepted > 0 => StatusCode::ACCEPTED,
        // Nothing new, but what was not refused is there: a resend.
        Ok(i) if i.duplicates > 0 => StatusCode::OK,
        // Every sample refused: none is in the stream, and resending will not help.
        Ok(_) => StatusCode::BAD_REQUEST,
        Err(e) => e.0,
    };
    st.shared
        .metrics
        .ingest_requests
        .with_label_values(&[code.as_str()])
        .inc();
    match result {
        Ok(i) => {
            let answer = IngestAnswer {
                accepted: i.accepted,
                duplicates: i.duplicates,
                rejected: i.rejected.iter().map(Rejected::body).collect(),
                unknown: i.unknown,
                format: i.format,
                error: (code == StatusCode::BAD_REQUEST).then(|| no_sample_taken(&i.rejected)),
            };
            (code, Json(answer)).into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// The error of a request whose every sample was refused: the first reason, and how many.
fn no_sample_taken(rejected: &[Rejected]) -> String {
    match rejected.first() {
        Some(r) => format!(
            "no sample was taken: {} rejected ({}: {})",
            rejected.len(),
            r.at,
            r.error
        ),
        None => "no samples in the body".into(),
    }
}

/// A JSON body of `POST /telemetry`, for the document: a native sample, or an array of
/// native samples or of OpenF1 records (the OpenF1 API's own objects, as it serves
/// them). Impossible values of optional channels are made unknown, not refused, so the
/// sample schema describes; it does not decide.
pub(super) enum TelemetryJson {}

impl utoipa::PartialSchema for TelemetryJson {
    fn schema() -> RefOr<Schema> {
        let sample = || Ref::from_schema_name(<Sample as utoipa::ToSchema>::name());
        let item = AnyOfBuilder::new()
            .item(sample())
            .item(ObjectBuilder::new().description(Some("An OpenF1 record")));
        AnyOfBuilder::new()
            .item(sample())
            .item(ArrayBuilder::new().items(item))
            .into()
    }
}

impl utoipa::ToSchema for TelemetryJson {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        let name = <Sample as utoipa::ToSchema>::name().into_owned();
        schemas.push((name, <Sample as utoipa::PartialSchema>::schema()));
        <Sample as utoipa::ToSchema>::schemas(schemas);
    }
}

/// What a feed without our fields needs, from the query string of `POST /telemetry`.
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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
    /// All or nothing: the first impossible value or refused sample rejects the body.
    strict: Option<bool>,
}

impl IngestQuery {
    fn options(&self) -> Result<FeedOptions, String> {
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
            session: self.session.clone(),
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
    let strict = query.strict.unwrap_or(false);
    let bytes = read_body(st, body, limit).await?;
    let format = body_format(headers, &bytes)?;
    let Parsed {
        samples,
        origins,
        numbering,
        dirt,
    } = feeds::parse_body(format, &bytes, &opts, cfg.max_samples_per_request)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if strict && let Some(e) = dirt.clone().into_error() {
        return Err(ApiError::bad_request(e.to_string()));
    }
    if samples.is_empty() && dirt.rejected.is_empty() {
        return Err(ApiError::bad_request("no samples in the body"));
    }
    if format == Format::Native
        && let Some(want) = opts.session.as_deref()
        && let Some((i, s)) = samples.iter().enumerate().find(|(_, s)| s.session != want)
    {
        return Err(ApiError::bad_request(format!(
            "{} is of session {:?} but ?session= says {want:?}: native samples carry their session, leave ?session= out or make them agree",
            origins[i], s.session
        )));
    }
    let mut rejected: Vec<Rejected> = dirt
        .rejected
        .iter()
        .map(|(p, why)| Rejected {
            at: p.at,
            reason: why.as_str(),
            error: p.message.clone(),
        })
        .collect();
    let now = now_ms();
    let mut take = Vec::with_capacity(samples.len());
    for (i, s) in samples.into_iter().enumerate() {
        match ahead(&s, now) {
            Some(error) => rejected.push(Rejected {
                at: origins[i],
                reason: "future",
                error,
            }),
            None => take.push((i, s)),
        }
    }
    if strict && let Some(r) = rejected.first() {
        return Err(ApiError::bad_request(format!("{}: {}", r.at, r.error)));
    }
    let mut faults: HashMap<usize, Vec<(Channel, Unknown)>> = HashMap::new();
    if !dirt.faults.is_empty() {
        let position: HashMap<Origin, usize> =
            origins.iter().enumerate().map(|(i, o)| (*o, i)).collect();
        for (at, c, why) in &dirt.faults {
            if let Some(i) = position.get(at) {
                faults.entry(*i).or_default().push((*c, *why));
            }
        }
    }
    let Appended {
        accepted,
        duplicates,
        refused,
        aborted,
    } = if take.is_empty() {
        Appended::default()
    } else {
        let req = Request {
            samples: take,
            numbering,
            faults: &faults,
            strict,
        };
        // Every round of the append within the documented bound: a Redis that accepts
        // and never answers is a 503 after 5 s (the script is atomic: a resend is safe).
        tokio::time::timeout(REDIS_REQUEST_TIMEOUT, append(st, req))
            .await
            .unwrap_or_else(|_| Err(ApiError::unavailable("telemetry stream")))
            .map_err(outcome_unknown)?
    };
    for r in refused {
        rejected.push(Rejected {
            at: origins[r.at],
            reason: r.why.reason(),
            error: r.message,
        });
    }
    if aborted {
        rejected.sort_by_key(|r| r.at);
        let r = &rejected[0];
        return Err(ApiError::bad_request(format!("{}: {}", r.at, r.error)));
    }
    rejected.sort_by_key(|r| r.at);
    record(st, &rejected, &dirt, accepted, duplicates);
    Ok(Ingested {
        accepted,
        duplicates,
        rejected,
        unknown: dirt.unknown_json(),
        format,
    })
}

/// A 503 of the append says what it means: the store failed or did not answer part-way,
/// so some partitions may hold their samples (a reply saying nothing was stored would
/// not be true); the resend stores the rest and answers these as duplicates.
fn outcome_unknown(e: ApiError) -> ApiError {
    if e.0 != StatusCode::SERVICE_UNAVAILABLE || e.1 == STRICT_MET_A_CHANGE {
        return e;
    }
    ApiError(
        e.0,
        format!(
            "{}: part of this request may be stored already; resend it whole, and what is stored is answered as duplicates",
            e.1
        ),
    )
}

/// Why a sample dated further ahead of the processor's clock than [`MAX_AHEAD_MS`] is
/// refused, if it is.
fn ahead(s: &Sample, now: i64) -> Option<String> {
    (s.timestamp_ms > now + MAX_AHEAD_MS).then(|| {
        format!(
            "car {}: timestamp_ms {} is {:.1} h ahead of the processor's clock; at most {} h",
            s.car,
            s.timestamp_ms,
            (s.timestamp_ms - now) as f64 / 3_600_000.0,
            MAX_AHEAD_MS / 3_600_000
        )
    })
}

/// The request in the metrics.
fn record(st: &ApiState, rejected: &[Rejected], dirt: &Dirt, accepted: usize, duplicates: usize) {
    let m = &st.shared.metrics;
    m.ingest_samples.inc_by(accepted as u64);
    if duplicates > 0 {
        m.dropped
            .with_label_values(&["duplicate_at_ingest"])
            .inc_by(duplicates as u64);
    }
    for r in rejected {
        m.rejected.with_label_values(&[r.reason]).inc();
    }
    for ((c, why), n) in &dirt.unknown {
        m.unknown_values
            .with_label_values(&[c.name(), why.as_str()])
            .inc_by(*n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 503 of the append says part of the request may be stored, except the strict
    /// one whose resend is refused (its own words say so); other statuses pass as they are.
    #[test]
    fn a_503_of_the_append_says_what_a_resend_finds() {
        let plain = outcome_unknown(ApiError::unavailable("telemetry stream"));
        assert_eq!(plain.0, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            plain.1.starts_with(
                "telemetry stream unavailable, retry: part of this request may be stored already"
            ),
            "{}",
            plain.1
        );
        let strict = ApiError(StatusCode::SERVICE_UNAVAILABLE, STRICT_MET_A_CHANGE.into());
        assert_eq!(outcome_unknown(strict).1, STRICT_MET_A_CHANGE);
        assert_eq!(outcome_unknown(ApiError::bad_request("x")).1, "x");
    }

    /// The 400 of a request whose every sample was refused names the first reason.
    #[test]
    fn all_refused_names_the_first() {
        let r = vec![Rejected {
            at: Origin::Row { row: 3, line: 4 },
            reason: "required",
            error: "Speed is empty or NaN".into(),
        }];
        assert_eq!(
            no_sample_taken(&r),
            "no sample was taken: 1 rejected (row 3 (line 4): Speed is empty or NaN)"
        );
        assert_eq!(
            serde_json::to_value(r[0].body()).unwrap(),
            serde_json::json!({"row": 3, "line": 4, "reason": "required", "error": "Speed is empty or NaN"})
        );
    }
}
