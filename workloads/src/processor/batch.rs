//! What one partition has processed since its last commit.

use super::entry::EntryId;
use crate::analytics::Events;
use crate::model::{Channels, Sample};
use crate::stream::{CarCount, SessionInfo};

/// Samples of one car within a batch.
#[derive(Clone, Debug, PartialEq)]
pub struct CarDelta {
    pub session: String,
    pub car: u8,
    /// The driver and team when a sample of the batch named them.
    pub driver: Option<String>,
    pub team: Option<String>,
    /// Channels the car's samples carried.
    pub channels: Channels,
    pub samples: i64,
    /// Of them, samples too late for the car's analytics (counted, not analysed).
    pub late: i64,
    pub seq_sum: i64,
    pub max_seq: i64,
    pub last_lap: i32,
    pub last_ts_ms: i64,
}

/// A dead-lettered entry.
#[derive(Clone, Debug)]
pub struct DeadLetter {
    pub id: EntryId,
    pub reason: &'static str,
    pub message: String,
    pub fields: Vec<(String, Vec<u8>)>,
}

/// A chequered flag seen in this partition.
#[derive(Clone, Debug)]
pub struct SessionEnd {
    pub session: String,
    pub partitions: u16,
    pub published: Vec<CarCount>,
}

/// Uncommitted work of one partition.
#[derive(Default)]
pub struct Batch {
    /// Every id to acknowledge after the commit, including redelivered ones.
    pub ack: Vec<EntryId>,
    /// Highest id whose effects are in this batch.
    pub last_id: Option<EntryId>,
    pub events: Events,
    pub cars: Vec<CarDelta>,
    pub sessions: Vec<SessionInfo>,
    pub ends: Vec<SessionEnd>,
    pub dead: Vec<DeadLetter>,
    /// (created_us, samples) of each data entry, for the durable-latency histogram.
    pub created: Vec<(i64, u32)>,
    pub samples: u64,
    /// The newest sample of each car in the batch (for the live gauges).
    pub latest: Vec<Sample>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.ack.is_empty()
    }

    /// Whether the batch carries effects (otherwise a commit is only an XACK).
    pub fn has_effects(&self) -> bool {
        self.last_id.is_some()
    }

    /// Counts one sample of its car; `late` when its analytics could not use it.
    pub fn account(&mut self, s: &Sample, late: bool) {
        let i = match self
            .cars
            .iter()
            .position(|c| c.car == s.car && c.session == s.session)
        {
            Some(i) => i,
            None => {
                self.cars.push(CarDelta {
                    session: s.session.to_string(),
                    car: s.car,
                    driver: None,
                    team: None,
                    channels: Channels::default(),
                    samples: 0,
                    late: 0,
                    seq_sum: 0,
                    max_seq: -1,
                    last_lap: 0,
                    last_ts_ms: 0,
                });
                self.cars.len() - 1
            }
        };
        let c = &mut self.cars[i];
        if let Some(d) = &s.driver
            && c.driver.as_deref() != Some(d.as_str())
        {
            c.driver = Some(d.to_string());
        }
        if let Some(t) = &s.team
            && c.team.as_deref() != Some(t.as_str())
        {
            c.team = Some(t.to_string());
        }
        c.channels = c.channels.union(s.channels());
        c.samples += 1;
        c.late += late as i64;
        c.seq_sum += s.seq as i64;
        c.max_seq = c.max_seq.max(s.seq as i64);
        c.last_lap = c.last_lap.max(s.lap.unwrap_or(0) as i32);
        c.last_ts_ms = c.last_ts_ms.max(s.timestamp_ms);
        self.samples += 1;
    }

    /// Keeps the newest of `samples` (one decoded entry) for each car.
    pub fn keep_latest(&mut self, samples: &[Sample]) {
        for s in samples.iter().rev() {
            match self.latest.iter_mut().find(|l| l.car == s.car) {
                // Entries arrive in order, so a later entry replaces what an earlier one left.
                Some(l) if l.timestamp_ms < s.timestamp_ms => *l = s.clone(),
                Some(_) => {}
                None => self.latest.push(s.clone()),
            }
        }
    }
}
