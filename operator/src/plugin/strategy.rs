//! `GET /api/v1/sessions/{id}/strategy`: per car, the pit window, tyre degradation, where
//! a stop now would rejoin and the undercut either way. Any part may be null, with a
//! reason in its `*_hidden` twin; processors without the endpoint answer 404.

use serde::{Deserialize, Serialize};

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct Strategy {
    pub session_id: String,
    pub as_of_lap: i32,
    pub total_laps: Option<i32>,
    pub pit_loss: Option<PitLoss>,
    pub cars: Vec<CarStrategy>,
}

/// Time a stop costs on this circuit.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct PitLoss {
    pub ms: f64,
    pub uncertainty_ms: Option<f64>,
    /// `measured` (from this race's stops) or a prior.
    pub source: String,
    pub stops: Option<i64>,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct CarStrategy {
    pub car: i32,
    pub driver: String,
    pub team: String,
    pub position: Option<i32>,
    pub lap: Option<i32>,
    /// In the pit lane now: the rejoin is where it stands a lap after this stop.
    pub in_pit_lane: bool,
    pub gap_ahead_ms: Option<f64>,
    pub gap_leader_ms: Option<f64>,
    pub stint: Option<Stint>,
    pub degradation: Option<Degradation>,
    pub degradation_hidden: Option<String>,
    pub rejoin: Option<Rejoin>,
    pub window: Option<Window>,
    pub window_hidden: Option<String>,
    pub undercut: Option<Undercut>,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct Stint {
    pub number: i32,
    /// Null when no source names it, and for a car just stopped (no lap on its new
    /// tyres yet).
    pub compound: Option<String>,
    pub laps: i32,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct Degradation {
    pub ms_per_lap: f64,
    pub ci95_ms_per_lap: Option<f64>,
    pub green_laps: Option<i32>,
}

/// Where the car would stand a lap after coming out if it stopped now.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct Rejoin {
    pub position: i32,
    /// Under a safety car: the position if the cars expected to stop stay out.
    pub position_if_field_stays_out: Option<i32>,
    pub ahead: Option<Neighbour>,
    pub behind: Option<Neighbour>,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct Neighbour {
    pub car: i32,
    pub driver: String,
    pub gap_ms: f64,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct Window {
    pub optimal_lap: i32,
    pub first_lap: i32,
    pub last_lap: i32,
    /// Another stop is needed to finish (the compound rule, or the tyres' life).
    pub stop_required: bool,
}

/// The undercut on the car ahead (can this car jump it?) and from the car behind (can
/// it jump this car?).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct Undercut {
    pub ahead: Option<Duel>,
    pub behind: Option<Duel>,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct Duel {
    pub car: i32,
    pub driver: String,
    pub gap_ms: f64,
    pub call: Call,
    pub margin_ms: f64,
}

/// The processor's verdict on a duel.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Call {
    /// Ahead: stopping first gets this car past.
    Jump,
    NoJump,
    /// Behind: the car behind gets past by stopping first.
    Threat,
    Safe,
    /// A call this plugin does not know yet.
    #[default]
    #[serde(other)]
    Unknown,
}
