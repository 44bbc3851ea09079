//! Ground truth recorded by the simulator so tests (and the demo summary) can score
//! what the processor detected against what really happened.

use crate::model::Compound;
use serde::{Deserialize, Serialize};

/// Kinds of injected anomaly; the processor reports the same names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    BrakeOverheat,
    TyreOverheat,
    PressureLoss,
    EngineTempSpike,
    SensorFault,
}

impl AnomalyKind {
    pub const ALL: [AnomalyKind; 5] = [
        AnomalyKind::BrakeOverheat,
        AnomalyKind::TyreOverheat,
        AnomalyKind::PressureLoss,
        AnomalyKind::EngineTempSpike,
        AnomalyKind::SensorFault,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyKind::BrakeOverheat => "brake_overheat",
            AnomalyKind::TyreOverheat => "tyre_overheat",
            AnomalyKind::PressureLoss => "pressure_loss",
            AnomalyKind::EngineTempSpike => "engine_temp_spike",
            AnomalyKind::SensorFault => "sensor_fault",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A pit stop as it happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TruePitStop {
    pub car: u8,
    /// The in-lap (the lap on which the car entered the pit lane).
    pub lap: u16,
    pub entry_ms: i64,
    pub stationary_ms: i64,
    pub pit_lane_ms: i64,
    pub compound_in: Compound,
    pub compound_out: Compound,
}

/// An injected anomaly episode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrueAnomaly {
    pub car: u8,
    pub lap: u16,
    pub kind: AnomalyKind,
    pub start_ms: i64,
    pub end_ms: i64,
}

/// Everything the simulator knows that the processor has to find out.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    pub pit_stops: Vec<TruePitStop>,
    pub anomalies: Vec<TrueAnomaly>,
    /// Samples published per car.
    pub published: std::collections::BTreeMap<u8, u64>,
}
