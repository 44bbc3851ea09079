//! Session events: what neutralises a race (a safety car, a virtual one, a red flag) and
//! what ends that (the track going green, the chequered flag), as
//! `POST /api/v1/sessions/{id}/events` takes them from any source, and how OpenF1's
//! `race_control` records become them ([`from_race_control`]).
//!
//! The vocabulary is source-neutral (the F1 game's gateway posts its safety-car status
//! with it too); it lives here because the feeds sit below the processor and both need
//! it. The body is documented in `docs/openf1.md`.

use super::time;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What happened at an instant of a session.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A safety car is deployed: a period begins.
    SafetyCar,
    /// A virtual safety car is deployed: a period begins.
    VirtualSafetyCar,
    /// The session is stopped: a period begins.
    RedFlag,
    /// The track is clear: the open period ends.
    Green,
    /// The chequered flag: the open period ends.
    Chequered,
}

impl EventKind {
    pub const ALL: [EventKind; 5] = [
        EventKind::SafetyCar,
        EventKind::VirtualSafetyCar,
        EventKind::RedFlag,
        EventKind::Green,
        EventKind::Chequered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::SafetyCar => "safety_car",
            EventKind::VirtualSafetyCar => "virtual_safety_car",
            EventKind::RedFlag => "red_flag",
            EventKind::Green => "green",
            EventKind::Chequered => "chequered",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// A period of this kind begins with it; it lasts until an event of another kind.
    pub fn begins_period(self) -> bool {
        matches!(
            self,
            EventKind::SafetyCar | EventKind::VirtualSafetyCar | EventKind::RedFlag
        )
    }
}

/// One event, as the API takes and lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionEvent {
    /// When, ms since the Unix epoch.
    pub at_ms: i64,
    pub kind: EventKind,
    /// Who says so (`openf1`, `game`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The source's own words (`SAFETY CAR DEPLOYED`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Longest message an event carries (the API's bound).
pub const MAX_MESSAGE_CHARS: usize = 200;

/// The session events in OpenF1 `race_control` records, in time order; other messages
/// (yellow flags, DRS, penalties, "SAFETY CAR IN THIS LAP", "VIRTUAL SAFETY CAR ENDING")
/// and records without a readable date give none:
///
/// | record | event |
/// |---|---|
/// | `category` `SafetyCar` (or `VirtualSafetyCar`), `message` `… DEPLOYED` | `virtual_safety_car` when the message says `VIRTUAL`, else `safety_car` |
/// | `flag` `RED` | `red_flag` |
/// | `flag` `GREEN` or `CLEAR` for the whole track (`scope` `Track` or none) | `green` |
/// | `flag` `CHEQUERED` | `chequered` |
///
/// A safety car's period runs until the track is clear: "IN THIS LAP" and "ENDING"
/// announce that end, the green (`TRACK CLEAR`) is it.
pub fn from_race_control(records: &[Value]) -> Vec<SessionEvent> {
    let mut out: Vec<SessionEvent> = records
        .iter()
        .filter_map(|r| {
            let kind = kind_of(r)?;
            let at_ms = time::date_ms(r.get("date")?.as_str()?).ok()?;
            let message = r
                .get("message")
                .and_then(Value::as_str)
                .map(str::trim)
                // The events API refuses an empty message: leave it out.
                .filter(|m| !m.is_empty())
                .map(|m| m.chars().take(MAX_MESSAGE_CHARS).collect());
            Some(SessionEvent {
                at_ms,
                kind,
                source: Some("openf1".into()),
                message,
            })
        })
        .collect();
    out.sort_by_key(|e| (e.at_ms, e.kind));
    out
}

fn kind_of(r: &Value) -> Option<EventKind> {
    let text = |k: &str| {
        r.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_uppercase()
    };
    let (category, flag, message) = (text("category"), text("flag"), text("message"));
    let whole_track = matches!(text("scope").as_str(), "" | "TRACK");
    match category.as_str() {
        "SAFETYCAR" | "VIRTUALSAFETYCAR" if message.contains("DEPLOYED") => {
            Some(if message.contains("VIRTUAL") {
                EventKind::VirtualSafetyCar
            } else {
                EventKind::SafetyCar
            })
        }
        _ => match flag.as_str() {
            "RED" => Some(EventKind::RedFlag),
            "GREEN" | "CLEAR" if whole_track => Some(EventKind::Green),
            "CHEQUERED" => Some(EventKind::Chequered),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rc(date: &str, category: &str, flag: Option<&str>, scope: Option<&str>, m: &str) -> Value {
        json!({"date": date, "session_key": 9912, "meeting_key": 1262, "driver_number": null,
               "lap_number": 23, "category": category, "flag": flag, "scope": scope,
               "sector": null, "message": m})
    }

    /// Race control as OpenF1 publishes it: deployments begin periods, a track-wide
    /// green or clear and the chequered flag end them; sector flags, announcements of
    /// the end and everything else give nothing.
    #[test]
    fn race_control_becomes_events() {
        let records = [
            rc(
                "2025-08-31T13:40:05+00:00",
                "Flag",
                Some("CLEAR"),
                Some("Track"),
                "TRACK CLEAR",
            ),
            rc(
                "2025-08-31T13:33:16+00:00",
                "SafetyCar",
                None,
                Some("Track"),
                "SAFETY CAR DEPLOYED",
            ),
            rc(
                "2025-08-31T13:37:04+00:00",
                "SafetyCar",
                None,
                Some("Track"),
                "SAFETY CAR IN THIS LAP",
            ),
            rc(
                "2025-08-31T13:32:58+00:00",
                "Flag",
                Some("DOUBLE YELLOW"),
                Some("Sector"),
                "DOUBLE YELLOW IN TRACK SECTOR 14",
            ),
            rc(
                "2025-08-31T13:50:00+00:00",
                "SafetyCar",
                None,
                Some("Track"),
                "VIRTUAL SAFETY CAR DEPLOYED",
            ),
            rc(
                "2025-08-31T13:51:00+00:00",
                "SafetyCar",
                None,
                Some("Track"),
                "VIRTUAL SAFETY CAR ENDING",
            ),
            rc(
                "2025-08-31T13:51:15+00:00",
                "Flag",
                Some("GREEN"),
                None,
                "TRACK CLEAR",
            ),
            rc(
                "2025-08-31T13:52:00+00:00",
                "Flag",
                Some("CLEAR"),
                Some("Sector"),
                "CLEAR IN TRACK SECTOR 4",
            ),
            rc(
                "2025-08-31T14:00:00+00:00",
                "Flag",
                Some("RED"),
                Some("Track"),
                "RED FLAG",
            ),
            rc(
                "2025-08-31T14:40:00+00:00",
                "Flag",
                Some("CHEQUERED"),
                Some("Track"),
                "CHEQUERED FLAG",
            ),
            json!({"category": "Flag", "flag": "RED", "message": "RED FLAG"}),
        ];
        let got: Vec<(String, &str)> = from_race_control(&records)
            .iter()
            .map(|e| {
                let t = jiff::Timestamp::from_millisecond(e.at_ms).unwrap();
                (t.strftime("%H:%M:%S").to_string(), e.kind.as_str())
            })
            .collect();
        let want = [
            ("13:33:16", "safety_car"),
            ("13:40:05", "green"),
            ("13:50:00", "virtual_safety_car"),
            ("13:51:15", "green"),
            ("14:00:00", "red_flag"),
            ("14:40:00", "chequered"),
        ];
        let want: Vec<(String, &str)> = want.iter().map(|(t, k)| (t.to_string(), *k)).collect();
        assert_eq!(got, want);
    }

    /// Every kind reads back from its name; the body's JSON uses the same names.
    #[test]
    fn kinds_round_trip() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), json!(k.as_str()));
        }
        assert_eq!(EventKind::parse("yellow"), None);
    }
}
