//! What the analytics emit: laps, pit stops, drive-throughs and anomalies of a car, in
//! the [`Events`] of a run of samples, waiting for the processor to commit them.

use crate::model::Compound;
use crate::sim::truth::AnomalyKind;
use compact_str::CompactString;
use serde::{Deserialize, Serialize};

/// Identity of the car an event belongs to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CarId {
    pub session: CompactString,
    pub car: u8,
    pub driver: CompactString,
    pub team: CompactString,
}

/// A completed lap. Whether it is an in-lap, an out-lap or a neutralised lap is derived
/// where every car's laps and pit visits are known (the `lap_status` view).
#[derive(Clone, Debug, PartialEq)]
pub struct LapRecord {
    pub id: CarId,
    pub lap: u16,
    pub lap_time_ms: i32,
    pub sectors_ms: [Option<i32>; 3],
    /// The compound the car ran for most of the lap, when a source says.
    pub compound: Option<Compound>,
    pub tyre_age: Option<u16>,
    pub top_speed_kph: f32,
    pub crossed_at_ms: i64,
    pub position: Option<u8>,
}

/// A detected pit stop (entry, stationary phase, exit). `lap` is the in-lap: the lap on
/// which the car entered the pit lane.
#[derive(Clone, Debug, PartialEq)]
pub struct PitStopRecord {
    pub id: CarId,
    pub lap: Option<u16>,
    pub entry_ms: i64,
    pub stationary_start_ms: i64,
    pub stationary_ms: i64,
    pub pit_lane_ms: i64,
    pub compound_in: Option<Compound>,
    pub compound_out: Option<Compound>,
}

/// A pit-lane visit without a stop.
#[derive(Clone, Debug, PartialEq)]
pub struct DriveThroughRecord {
    pub id: CarId,
    pub lap: Option<u16>,
    pub entry_ms: i64,
    pub pit_lane_ms: i64,
}

/// A car's pit-lane visit became certain (`entry`), or the visit ended (`None`): the
/// strategy places a car in the pit lane where it will come out, before its stop is
/// stored at pit exit.
#[derive(Clone, Debug, PartialEq)]
pub struct PitLaneRecord {
    pub id: CarId,
    /// (entry ms, in-lap) of the visit under way.
    pub entry: Option<(i64, Option<u16>)>,
}

/// How bad an anomaly is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// Which detector raised an anomaly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Detector {
    /// A fixed physical threshold.
    Rule,
    /// A deviation from the car's own exponentially weighted baseline.
    Ewma,
}

impl Detector {
    pub fn as_str(self) -> &'static str {
        match self {
            Detector::Rule => "rule",
            Detector::Ewma => "ewma",
        }
    }
}

/// The onset of an anomaly episode.
#[derive(Clone, Debug, PartialEq)]
pub struct AnomalyRecord {
    pub id: CarId,
    pub lap: Option<u16>,
    pub kind: AnomalyKind,
    pub severity: Severity,
    pub detector: Detector,
    pub channel: &'static str,
    pub value: f32,
    pub expected_low: f32,
    pub expected_high: f32,
    pub detected_at_ms: i64,
}

/// Everything derived from a run of samples, waiting to be committed.
#[derive(Clone, Debug, Default)]
pub struct Events {
    pub laps: Vec<LapRecord>,
    pub pit_stops: Vec<PitStopRecord>,
    pub drive_throughs: Vec<DriveThroughRecord>,
    pub anomalies: Vec<AnomalyRecord>,
    /// Pit-lane visits begun or ended, in order (the last of a car is its state).
    pub pit_lane: Vec<PitLaneRecord>,
    /// Cars a sample named for the first time or anew: the rows stored under the
    /// placeholders (the car number, `unknown`) take the names.
    pub renamed: Vec<CarId>,
}

impl Events {
    pub fn clear(&mut self) {
        self.laps.clear();
        self.pit_stops.clear();
        self.drive_throughs.clear();
        self.anomalies.clear();
        self.pit_lane.clear();
        self.renamed.clear();
    }
    pub fn is_empty(&self) -> bool {
        self.laps.is_empty()
            && self.pit_stops.is_empty()
            && self.drive_throughs.is_empty()
            && self.anomalies.is_empty()
            && self.pit_lane.is_empty()
            && self.renamed.is_empty()
    }
}
