//! The telemetry model: one [`Sample`] per car per tick, with the channels a race
//! engineer reads on the pit wall. Ranges are documented in `docs/wire-format.md`.

mod validate;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

pub use validate::{ValidationError, validate};

/// Corner order used by every `[f32; 4]` channel: front-left, front-right, rear-left, rear-right.
pub const CORNERS: [&str; 4] = ["fl", "fr", "rl", "rr"];

/// Tyre compound fitted to the car.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Compound {
    #[default]
    Soft,
    Medium,
    Hard,
    Intermediate,
    Wet,
}

impl Compound {
    pub const ALL: [Compound; 5] = [
        Compound::Soft,
        Compound::Medium,
        Compound::Hard,
        Compound::Intermediate,
        Compound::Wet,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Compound::Soft => "soft",
            Compound::Medium => "medium",
            Compound::Hard => "hard",
            Compound::Intermediate => "intermediate",
            Compound::Wet => "wet",
        }
    }

    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(code as usize).copied()
    }
}

/// Where the car is with respect to the pit lane (the F1 game's `pitStatus` 0/1/2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PitStatus {
    #[default]
    None,
    PitLane,
    Stationary,
}

impl PitStatus {
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(PitStatus::None),
            1 => Some(PitStatus::PitLane),
            2 => Some(PitStatus::Stationary),
            _ => None,
        }
    }
}

/// One telemetry sample of one car.
///
/// `seq` numbers the samples of a car within a session from 0; the processor uses it to
/// prove that every published sample was counted exactly once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sample {
    pub session: CompactString,
    pub car: u8,
    pub driver: CompactString,
    pub team: CompactString,
    #[serde(default)]
    pub seq: u32,
    pub lap: u16,
    pub sector: u8,
    pub lap_distance_m: f32,
    /// Time of the measurement (race clock), milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    pub speed_kph: f32,
    pub rpm: u16,
    pub gear: i8,
    /// Throttle pedal, 0.0–1.0.
    pub throttle: f32,
    /// Brake pedal, 0.0–1.0.
    pub brake: f32,
    pub drs: bool,
    pub tyre_surface_temp_c: [f32; 4],
    pub tyre_inner_temp_c: [f32; 4],
    pub tyre_pressure_psi: [f32; 4],
    pub brake_temp_c: [f32; 4],
    pub tyre_compound: Compound,
    pub tyre_age_laps: u16,
    /// Tread worn away, percent per corner.
    pub tyre_wear_pct: [f32; 4],
    pub fuel_kg: f32,
    pub ers_store_mj: f32,
    pub engine_temp_c: f32,
    pub pit_status: PitStatus,
    pub position: u8,
}

impl Default for Sample {
    fn default() -> Self {
        Sample {
            session: CompactString::const_new(""),
            car: 0,
            driver: CompactString::const_new(""),
            team: CompactString::const_new(""),
            seq: 0,
            lap: 1,
            sector: 1,
            lap_distance_m: 0.0,
            timestamp_ms: 0,
            speed_kph: 0.0,
            rpm: 0,
            gear: 0,
            throttle: 0.0,
            brake: 0.0,
            drs: false,
            tyre_surface_temp_c: [90.0; 4],
            tyre_inner_temp_c: [95.0; 4],
            tyre_pressure_psi: [23.0; 4],
            brake_temp_c: [450.0; 4],
            tyre_compound: Compound::Medium,
            tyre_age_laps: 0,
            tyre_wear_pct: [0.0; 4],
            fuel_kg: 100.0,
            ers_store_mj: 3.0,
            engine_temp_c: 105.0,
            pit_status: PitStatus::None,
            position: 1,
        }
    }
}
