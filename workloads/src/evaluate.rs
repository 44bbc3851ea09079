//! Scores what the processor detected against the simulator's ground truth. Used by the
//! tests and by the demo summary, so the figures users see are the ones tests assert.

use crate::analytics::Events;
use crate::sim::truth::{AnomalyKind, GroundTruth};
use serde::Serialize;
use std::collections::HashSet;

/// A detected anomaly as stored (kind, car, onset).
#[derive(Clone, Debug, PartialEq)]
pub struct Detected {
    pub car: u8,
    pub kind: AnomalyKind,
    pub at_ms: i64,
}

/// A detected pit stop as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct DetectedStop {
    pub car: u8,
    pub lap: u16,
    pub stationary_ms: i64,
}

/// Precision and recall of anomaly detection.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DetectionScore {
    pub injected: usize,
    pub detected: usize,
    pub true_positives: usize,
    pub false_positives: usize,
    pub missed: usize,
    pub precision: f64,
    pub recall: f64,
}

/// A detection matches an injected episode of the same car and kind whose window
/// (start − 0.5 s … end + 1 s) holds its onset; each episode matches at most once, so a
/// split episode costs precision.
pub fn score_anomalies(truth: &GroundTruth, detected: &[Detected]) -> DetectionScore {
    let mut used = vec![false; truth.anomalies.len()];
    let mut tp = 0;
    for d in detected {
        let hit = truth.anomalies.iter().enumerate().position(|(i, t)| {
            !used[i]
                && t.car == d.car
                && t.kind == d.kind
                && (t.start_ms - 500..=t.end_ms + 1000).contains(&d.at_ms)
        });
        if let Some(i) = hit {
            used[i] = true;
            tp += 1;
        }
    }
    let (injected, n) = (truth.anomalies.len(), detected.len());
    DetectionScore {
        injected,
        detected: n,
        true_positives: tp,
        false_positives: n - tp,
        missed: injected - tp,
        precision: if n == 0 { 1.0 } else { tp as f64 / n as f64 },
        recall: if injected == 0 {
            1.0
        } else {
            tp as f64 / injected as f64
        },
    }
}

/// Pit-stop detection quality.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StopScore {
    pub real: usize,
    pub detected: usize,
    pub matched: usize,
    pub false_stops: usize,
    /// Largest |detected − real| stationary time among matched stops, ms.
    pub max_error_ms: i64,
}

/// A detected stop matches the real stop of the same car and in-lap.
pub fn score_stops(truth: &GroundTruth, detected: &[DetectedStop]) -> StopScore {
    let mut matched = 0;
    let mut max_error_ms = 0;
    for d in detected {
        if let Some(t) = truth
            .pit_stops
            .iter()
            .find(|t| t.car == d.car && t.lap == d.lap)
        {
            matched += 1;
            max_error_ms = max_error_ms.max((d.stationary_ms - t.stationary_ms).abs());
        }
    }
    StopScore {
        real: truth.pit_stops.len(),
        detected: detected.len(),
        matched,
        false_stops: detected.len() - matched,
        max_error_ms,
    }
}

/// The laps a pit visit touched, by (car, lap): each stop's or drive-through's in-lap and
/// the lap on which it left the pit lane (the rule of the `lap_status` view, for the
/// tests and tools that work without PostgreSQL).
pub fn pit_laps(ev: &Events) -> HashSet<(u8, u16)> {
    let visits = ev
        .pit_stops
        .iter()
        .map(|p| (p.id.car, p.lap, p.entry_ms + p.pit_lane_ms))
        .chain(
            ev.drive_throughs
                .iter()
                .map(|d| (d.id.car, d.lap, d.entry_ms + d.pit_lane_ms)),
        );
    let mut out = HashSet::new();
    for (car, lap, exit) in visits {
        if let Some(lap) = lap {
            out.insert((car, lap));
        }
        if let Some(l) = ev.laps.iter().find(|l| {
            l.id.car == car
                && l.crossed_at_ms - l.lap_time_ms as i64 <= exit
                && exit < l.crossed_at_ms
        }) {
            out.insert((car, l.lap));
        }
    }
    out
}
