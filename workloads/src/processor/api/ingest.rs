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

use super::append::{Appended, append};
use super::request::{authorize, read_body};
use super::state::{ApiError, ApiState};
use crate::feeds::{self, FeedOptions, Format};
use crate::util::now_ms;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::Serialize;
use serde_json::json;

/// How far ahead of the processor's clock a sample may be dated: a day, for replays
/// of a recording timed from now and clocks set wrong by hours; 2099 is a glitch.
pub const MAX_AHEAD_MS: i64 = 24 * 3_600_000;

/// A sample not taken, as the answer lists it.
#[derive(Debug, Serialize)]
struct Rejected {
    /// Position of the sample in the body (an array's index, NDJSON's line from 0).
    sample: usize,
    reason: &'static str,
    error: String,
}

/// What one request did.
struct Ingested {
    accepted: usize,
    duplicates: usize,
    rejected: Vec<Rejected>,
    format: Format,
}

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
            let mut answer = json!({
                "accepted": i.accepted,
                "duplicates": i.duplicates,
                "rejected": i.rejected,
                "format": i.format.as_str(),
            });
            if code == StatusCode::BAD_REQUEST {
                answer["error"] = json!(no_sample_taken(&i.rejected));
            }
            (code, Json(answer)).into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// The error of a request whose every sample was refused: the first reason, and how many.
fn no_sample_taken(rejected: &[Rejected]) -> String {
    match rejected.first() {
        Some(r) => format!(
            "no sample was taken: {} rejected (sample {}: {})",
            rejected.len(),
            r.sample,
            r.error
        ),
        None => "no sample was taken".into(),
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
    let m = &st.shared.metrics;
    let now = now_ms();
    let mut rejected = Vec::new();
    let mut take = Vec::with_capacity(samples.len());
    for (i, s) in samples.into_iter().enumerate() {
        if s.timestamp_ms > now + MAX_AHEAD_MS {
            rejected.push(Rejected {
                sample: i,
                reason: "future",
                error: format!(
                    "car {}: timestamp_ms {} is {:.1} h ahead of the processor's clock; at most {} h",
                    s.car,
                    s.timestamp_ms,
                    (s.timestamp_ms - now) as f64 / 3_600_000.0,
                    MAX_AHEAD_MS / 3_600_000
                ),
            });
        } else {
            take.push((i, s));
        }
    }
    let Appended {
        accepted,
        duplicates,
        refused,
    } = if take.is_empty() {
        Appended::default()
    } else {
        append(st, take, numbering).await?
    };
    for r in refused {
        rejected.push(Rejected {
            sample: r.at,
            reason: r.why.reason(),
            error: r.message,
        });
    }
    rejected.sort_by_key(|r| r.sample);
    m.ingest_samples.inc_by(accepted as u64);
    if duplicates > 0 {
        m.dropped
            .with_label_values(&["duplicate_at_ingest"])
            .inc_by(duplicates as u64);
    }
    for r in &rejected {
        m.rejected.with_label_values(&[r.reason]).inc();
    }
    Ok(Ingested {
        accepted,
        duplicates,
        rejected,
        format,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 400 of a request whose every sample was refused names the first reason.
    #[test]
    fn all_refused_names_the_first() {
        let r = vec![Rejected {
            sample: 3,
            reason: "future",
            error: "car 1: timestamp_ms 4 is 74.0 h ahead".into(),
        }];
        assert_eq!(
            no_sample_taken(&r),
            "no sample was taken: 1 rejected (sample 3: car 1: timestamp_ms 4 is 74.0 h ahead)"
        );
    }
}
