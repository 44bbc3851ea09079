//! `POST /api/v1/sessions/{id}/events`: what neutralises a race (a safety car, a virtual
//! one, a red flag) and what ends it (green, chequered), from any source — OpenF1 race
//! control through `pitstop replay`, the F1 game's gateway — stored once however often it
//! is sent; `GET` lists them with the periods they make. The lap statistics read the
//! periods (`lap_status.neutralised`, migration 0005). The body is in `docs/openf1.md`.
//!
//! A body is taken whole or not at all: the first event that breaks a rule (an unknown
//! kind included) is the 400's reason, naming its index and field. Events are keyed by
//! (session, `at_ms`, `kind`): a resend, or the same event from a second source, is a
//! duplicate and keeps the first one's source and message.

use super::request::{SessionId, authorize, read_body};
use super::state::{ApiError, ApiState, ErrorBody, bounded};
use crate::feeds::openf1_events::{EventKind, MAX_MESSAGE_CHARS, SessionEvent};
use crate::model::TIMESTAMPS_MS;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use tokio_postgres::Client;

/// Bound on a body (a thousand events with long messages fit).
const BODY_LIMIT: usize = 256 * 1024;
/// Events per body.
const MAX_EVENTS: usize = 1_000;
/// A source is a short name: `openf1`, `game`.
const MAX_SOURCE_CHARS: usize = 32;
const FIELDS: [&str; 4] = ["at_ms", "kind", "source", "message"];

/// What a post of events stored.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct EventsStored {
    /// Events new to the session.
    stored: u64,
    /// Events it had already (by time and kind).
    duplicates: u64,
}

/// 202 with `{"stored": n, "duplicates": m}` when something was new, 200 for a resend.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/events", tag = "sessions", params(SessionId),
    request_body(content = Vec<SessionEvent>,
        description = "1 to 1,000 events, taken whole or not at all"),
    responses(
        (status = 202, description = "Something was new", body = EventsStored),
        (status = 200, description = "Every event was there already", body = EventsStored),
        (status = 400, description = "A bad session id, or the first event that breaks a rule (its index and field)", body = ErrorBody),
        (status = 401, description = "No API key, or a wrong one", body = ErrorBody),
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 413, description = "The body is over 256 KiB", body = ErrorBody),
        (status = 503, description = "PostgreSQL away or too slow: resend", body = ErrorBody),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub(super) async fn post(
    State(st): State<ApiState>,
    SessionId(id): SessionId,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    authorize(&st, &headers)?;
    let body = read_body(&st, body, BODY_LIMIT).await?;
    let events = parse(&body).map_err(ApiError::bad_request)?;
    let db = st.db().await?;
    let stored = bounded(store(&db, &id, &events)).await?;
    let code = if stored > 0 {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    let duplicates = events.len() as u64 - stored;
    Ok((code, Json(EventsStored { stored, duplicates })).into_response())
}

/// A session's events and the periods they make, in time order.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct EventsList {
    events: Vec<ListedEvent>,
    periods: Vec<Period>,
}

/// One stored event (the table's CHECK keeps `kind` to the vocabulary).
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ListedEvent {
    at_ms: i64,
    #[schema(value_type = EventKind)]
    kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

/// A neutralised stretch: from a safety car, virtual safety car or red flag to the
/// next event of another kind (`end_ms` null while none has come).
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Period {
    #[schema(value_type = EventKind)]
    kind: String,
    begin_ms: i64,
    #[schema(required = true)]
    end_ms: Option<i64>,
}

/// `{"events": [...], "periods": [{"kind", "begin_ms", "end_ms"}]}` in time order; 404
/// for a session with neither events nor samples.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/events", tag = "sessions", params(SessionId),
    responses(
        (status = 200, description = "The events and their periods", body = EventsList),
        (status = 400, description = "A bad session id", body = ErrorBody),
        (status = 404, description = "A session with neither events nor samples", body = ErrorBody),
        (status = 503, description = "PostgreSQL away or too slow: retry", body = ErrorBody),
    ))]
pub(super) async fn list(
    State(st): State<ApiState>,
    SessionId(id): SessionId,
) -> Result<Response, ApiError> {
    let db = st.db().await?;
    let events = bounded(db.query(
        "SELECT at_ms, kind, source, message FROM session_events WHERE session_id = $1 ORDER BY at_ms, kind",
        &[&id],
    ))
    .await?;
    if events.is_empty() {
        let known =
            bounded(db.query_opt("SELECT 1 FROM sessions WHERE session_id = $1", &[&id])).await?;
        if known.is_none() {
            return Err(ApiError(
                StatusCode::NOT_FOUND,
                format!("no session {id:?}"),
            ));
        }
    }
    let periods = bounded(db.query(
        "SELECT kind, begin_ms, end_ms FROM session_periods WHERE session_id = $1 ORDER BY begin_ms",
        &[&id],
    ))
    .await?;
    let events = events
        .iter()
        .map(|r| ListedEvent {
            at_ms: r.get(0),
            kind: r.get(1),
            source: r.get(2),
            message: r.get(3),
        })
        .collect();
    let periods = periods
        .iter()
        .map(|r| Period {
            kind: r.get(0),
            begin_ms: r.get(1),
            end_ms: r.get(2),
        })
        .collect();
    Ok(Json(EventsList { events, periods }).into_response())
}

/// Stores what the session does not have yet; how many rows that was.
async fn store(
    db: &Client,
    id: &str,
    events: &[SessionEvent],
) -> Result<u64, tokio_postgres::Error> {
    let at: Vec<i64> = events.iter().map(|e| e.at_ms).collect();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    let sources: Vec<Option<&str>> = events.iter().map(|e| e.source.as_deref()).collect();
    let messages: Vec<Option<&str>> = events.iter().map(|e| e.message.as_deref()).collect();
    db.execute(
        "INSERT INTO session_events (session_id, at_ms, kind, source, message)
         SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[])
         ON CONFLICT DO NOTHING",
        &[&id, &at, &kinds, &sources, &messages],
    )
    .await
}

/// The body's events, all or none.
fn parse(body: &[u8]) -> Result<Vec<SessionEvent>, String> {
    let items = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(items)) => items,
        Ok(_) => return Err("expected a JSON array of events".into()),
        Err(e) => return Err(format!("invalid JSON: {e}")),
    };
    if items.is_empty() {
        return Err("no events in the body".into());
    }
    if items.len() > MAX_EVENTS {
        return Err(format!(
            "{} events in one body; at most {MAX_EVENTS}",
            items.len()
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, e)| event(e).map_err(|m| format!("events[{i}]{m}")))
        .collect()
}

/// One event checked: every field known, `at_ms` a time between 2000 and 2100, `kind`
/// one of the vocabulary, `source` a short name, `message` text without control
/// characters.
fn event(v: &Value) -> Result<SessionEvent, String> {
    let Value::Object(m) = v else {
        return Err(": not an object".into());
    };
    if let Some(k) = m.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(format!(
            ".{k}: unknown field (an event has {})",
            FIELDS.join(", ")
        ));
    }
    let at_ms = m
        .get("at_ms")
        .and_then(Value::as_i64)
        .ok_or(".at_ms: missing or not a whole number")?;
    if !TIMESTAMPS_MS.contains(&at_ms) {
        return Err(format!(
            ".at_ms: {at_ms} is not a Unix time in milliseconds between 2000 and 2100"
        ));
    }
    let kind = match m.get("kind") {
        Some(Value::String(k)) => EventKind::parse(k).ok_or_else(|| {
            let names: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
            format!(".kind: {k:?} is not one of {}", names.join(", "))
        })?,
        _ => return Err(".kind: missing or not a string".into()),
    };
    let source = text(m, "source", MAX_SOURCE_CHARS)?;
    if let Some(s) = &source
        && !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            ".source: {s:?} is not a name (letters, digits, - and _)"
        ));
    }
    Ok(SessionEvent {
        at_ms,
        kind,
        source,
        message: text(m, "message", MAX_MESSAGE_CHARS)?,
    })
}

/// An optional text field: a non-empty string of at most `max` characters without
/// control characters.
fn text(m: &Map<String, Value>, field: &str, max: usize) -> Result<Option<String>, String> {
    match m.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() || s.chars().count() > max => {
            Err(format!(".{field}: empty or longer than {max} characters"))
        }
        Some(Value::String(s)) if s.chars().any(char::is_control) => {
            Err(format!(".{field}: control characters"))
        }
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!(".{field}: not a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Good bodies parse; each broken rule is refused with the event's index and field.
    #[test]
    fn bodies_are_checked() {
        let ok = parse(
            br#"[{"at_ms":1756647196000,"kind":"safety_car","source":"openf1","message":"SAFETY CAR DEPLOYED"},
                {"at_ms":1756647600000,"kind":"green"}]"#,
        )
        .unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(
            (ok[1].kind, ok[1].source.as_deref()),
            (EventKind::Green, None)
        );
        let cases: [(&[u8], &str); 10] = [
            (b"{}", "expected a JSON array of events"),
            (b"[]", "no events in the body"),
            (b"[1]", "events[0]: not an object"),
            (
                br#"[{"at_ms":1756647196000,"kind":"green"},{"kind":"yellow","at_ms":1756647196000}]"#,
                r#"events[1].kind: "yellow" is not one of safety_car, virtual_safety_car, red_flag, green, chequered"#,
            ),
            (br#"[{"kind":"green"}]"#, "events[0].at_ms: missing or not a whole number"),
            (
                br#"[{"at_ms":1756647196,"kind":"green"}]"#,
                "events[0].at_ms: 1756647196 is not a Unix time in milliseconds between 2000 and 2100",
            ),
            (br#"[{"at_ms":1756647196000}]"#, "events[0].kind: missing or not a string"),
            (
                br#"[{"at_ms":1756647196000,"kind":"green","lap":3}]"#,
                "events[0].lap: unknown field (an event has at_ms, kind, source, message)",
            ),
            (
                br#"[{"at_ms":1756647196000,"kind":"green","source":"a b"}]"#,
                r#"events[0].source: "a b" is not a name (letters, digits, - and _)"#,
            ),
            (
                br#"[{"at_ms":1756647196000,"kind":"green","message":"a\u0000"}]"#,
                "events[0].message: control characters",
            ),
        ];
        for (body, want) in cases {
            assert_eq!(
                parse(body).unwrap_err(),
                want,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert!(parse(b"[{").unwrap_err().starts_with("invalid JSON: "));
    }
}
