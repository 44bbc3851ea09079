//! Real-time analytics, pure and deterministic: feed a car's samples in order to a
//! [`CarAnalytics`] and collect [`Events`]. The state serializes, so the processor can
//! checkpoint it with the stream position and resume exactly after a crash.

pub mod anomaly;
pub mod car;
mod events;
pub mod laps;
pub mod order;
pub mod pithint;
pub mod pitlane;
pub mod pitstop;
pub mod scoring;
pub mod strategy;

pub use car::{CarAnalytics, Observed, PartitionState};
pub use events::{
    AnomalyRecord, CarId, Detector, DriveThroughRecord, Events, LapRecord, PitLaneRecord,
    PitStopRecord, Severity,
};
pub use pitstop::PitEvent;

use crate::model::{Channel, Channels};

/// What each analytic needs beyond session, car, time and speed (which every sample has):
/// a car whose feed lacks the channel is skipped by it, and the API says so per car.
/// Pit stops need nothing more (they are found from speed; `pit_status` only sharpens).
pub const REQUIREMENTS: &[(&str, Channel)] = &[
    ("laps", Channel::Lap),
    ("sectors", Channel::Sector),
    ("last_lap_at_the_flag", Channel::LapDistance),
    ("stint_compounds", Channel::Compound),
    ("tyre_degradation", Channel::TyreAge),
    ("brake_overheat", Channel::BrakeTemp),
    ("tyre_overheat", Channel::TyreSurfaceTemp),
    ("pressure_loss", Channel::TyrePressure),
    ("engine_temp_spike", Channel::EngineTemp),
    ("sensor_fault_rpm", Channel::Rpm),
];

/// The analytics a car with `channels` is skipped by, with the channel each lacks.
pub fn skipped(channels: Channels) -> Vec<(&'static str, &'static str)> {
    REQUIREMENTS
        .iter()
        .filter(|(_, c)| !channels.contains(*c))
        .map(|(a, c)| (*a, c.name()))
        .collect()
}
