//! Per-car analytics state and the partition-wide collection the processor checkpoints.

use super::anomaly::AnomalyDetector;
use super::laps::LapTracker;
use super::pitstop::PitTracker;
use super::{CarId, Events};
use crate::model::Sample;
use serde::{Deserialize, Serialize};

/// Everything the processor remembers about one car between samples.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CarAnalytics {
    pub id: CarId,
    laps: LapTracker,
    pit: PitTracker,
    anomaly: AnomalyDetector,
    last_ts: i64,
}

impl CarAnalytics {
    pub fn new(s: &Sample) -> Self {
        CarAnalytics {
            id: CarId {
                session: s.session.clone(),
                car: s.car,
                driver: s.driver.clone(),
                team: s.team.clone(),
            },
            laps: LapTracker::default(),
            pit: PitTracker::default(),
            anomaly: AnomalyDetector::default(),
            last_ts: i64::MIN,
        }
    }

    /// Analyses one sample. Samples older than the last one seen (a client resending
    /// history) are counted by the caller but do not move the analytics backwards.
    pub fn observe(&mut self, s: &Sample, ev: &mut Events) {
        if s.timestamp_ms < self.last_ts {
            return;
        }
        self.last_ts = s.timestamp_ms;
        ev.laps.extend(self.laps.observe(&self.id, s));
        ev.pit_stops.extend(self.pit.observe(&self.id, s));
        self.anomaly.observe(&self.id, s, &mut ev.anomalies);
    }
}

/// The analytics state of every car in one stream partition.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PartitionState {
    cars: Vec<CarAnalytics>,
}

impl PartitionState {
    pub fn observe(&mut self, s: &Sample, ev: &mut Events) {
        // A partition holds a handful of cars: a linear scan beats hashing a string key.
        let i = match self
            .cars
            .iter()
            .position(|c| c.id.car == s.car && c.id.session == s.session)
        {
            Some(i) => i,
            None => {
                self.cars.push(CarAnalytics::new(s));
                self.cars.len() - 1
            }
        };
        self.cars[i].observe(s, ev);
    }

    /// Forgets a finished session (its cars will send nothing more).
    pub fn end_session(&mut self, session: &str) {
        self.cars.retain(|c| c.id.session != session);
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("analytics state serializes")
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    pub fn cars(&self) -> usize {
        self.cars.len()
    }
}
