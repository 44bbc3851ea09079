//! The processor's answers as the plugin reads them (`GET /api/v1/sessions/{id}` and its
//! `classification`, `pitstops` and `anomalies`). Only the fields the screen shows, each
//! defaulted, so a processor of another version still gives a screen; a test reads the
//! processor's own serialized types with these.

use serde::{Deserialize, Serialize};

/// `GET /api/v1/sessions/{id}`.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct Session {
    pub session_id: String,
    pub circuit: Option<String>,
    pub total_laps: Option<i32>,
    pub lap: i32,
    pub finished: bool,
    pub samples_processed: i64,
    pub leader: Option<ClassifiedCar>,
    pub cars: i64,
    pub pit_stops: i64,
    pub anomalies: i64,
}

/// One row of `GET .../classification`.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct ClassifiedCar {
    pub position: u32,
    pub car: i32,
    pub driver: String,
    pub team: String,
    pub laps: i64,
    pub best_lap_ms: Option<i64>,
    /// "+12.345 s", "+1 lap", "DNF", or "" for the leader.
    pub gap: String,
    pub dnf: bool,
}

/// One row of `GET .../pitstops` (in the order they happened).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct Stop {
    pub car: i32,
    pub driver: String,
    pub team: String,
    pub lap: Option<i32>,
    pub stationary_s: f64,
    pub pit_lane_s: f64,
    pub compound_in: Option<String>,
    pub compound_out: Option<String>,
    pub score: f64,
    pub slow: bool,
}

/// One row of `GET .../anomalies` (in the order they were detected).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct Anomaly {
    pub car: i32,
    pub driver: String,
    pub lap: Option<i32>,
    pub kind: String,
    pub severity: String,
    pub channel: String,
    pub value: f64,
    pub expected_low: f64,
    pub expected_high: f64,
}

/// The paths under `/api/v1/sessions/{id}` the plugin reads.
pub mod paths {
    pub const CLASSIFICATION: &str = "classification";
    pub const PITSTOPS: &str = "pitstops";
    pub const ANOMALIES: &str = "anomalies";
    pub const STRATEGY: &str = "strategy";
    pub const REPORT: &str = "report";

    /// `/api/v1/sessions/{id}` (`sub` empty) or `/api/v1/sessions/{id}/{sub}`.
    pub fn session(id: &str, sub: &str) -> String {
        if sub.is_empty() {
            format!("/api/v1/sessions/{id}")
        } else {
            format!("/api/v1/sessions/{id}/{sub}")
        }
    }
}
