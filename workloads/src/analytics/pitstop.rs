//! Pit-stop detection from the pit status channel (none → pit lane → stationary →
//! pit lane → none). Each phase boundary is placed midway between the two samples that
//! straddle it, so the stationary time is exact to half a sample interval at each end
//! (±50 ms at 10 Hz, ±25 ms at 20 Hz).

use super::{CarId, PitStopRecord};
use crate::model::{Compound, PitStatus, Sample};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PitTracker {
    last_status: PitStatus,
    last_ts: Option<i64>,
    entry_ms: Option<i64>,
    entry_lap: u16,
    compound_in: Compound,
    stationary_start_ms: Option<i64>,
    stationary_end_ms: Option<i64>,
}

impl PitTracker {
    /// Feeds one sample; returns the stop when the car leaves the pit lane after stopping.
    pub fn observe(&mut self, id: &CarId, s: &Sample) -> Option<PitStopRecord> {
        let prev = self.last_status;
        let mid = self
            .last_ts
            .map_or(s.timestamp_ms, |last| (last + s.timestamp_ms) / 2);
        self.last_status = s.pit_status;
        self.last_ts = Some(s.timestamp_ms);
        if prev == s.pit_status {
            return None;
        }
        if prev == PitStatus::None {
            self.entry_ms = Some(mid);
            self.entry_lap = s.lap;
            self.compound_in = s.tyre_compound;
            self.stationary_start_ms = None;
            self.stationary_end_ms = None;
        }
        if s.pit_status == PitStatus::Stationary {
            self.stationary_start_ms = Some(mid);
        }
        if prev == PitStatus::Stationary {
            self.stationary_end_ms = Some(mid);
        }
        if s.pit_status != PitStatus::None {
            return None;
        }
        // Left the pit lane. A drive-through (no stationary phase) is not a pit stop.
        let (entry, start, end) = (
            self.entry_ms.take()?,
            self.stationary_start_ms.take()?,
            self.stationary_end_ms.take()?,
        );
        Some(PitStopRecord {
            id: id.clone(),
            lap: self.entry_lap,
            entry_ms: entry,
            stationary_start_ms: start,
            stationary_ms: end - start,
            pit_lane_ms: mid - entry,
            compound_in: self.compound_in,
            compound_out: s.tyre_compound,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ts: i64, status: PitStatus, compound: Compound) -> Sample {
        Sample {
            timestamp_ms: ts,
            pit_status: status,
            tyre_compound: compound,
            lap: 7,
            ..Sample::default()
        }
    }

    fn id() -> CarId {
        CarId {
            session: "s".into(),
            car: 16,
            driver: "LEC".into(),
            team: "Ferrari".into(),
        }
    }

    /// Boundaries are midpoints; the stop carries both compounds and the in-lap.
    #[test]
    fn detects_a_stop_with_midpoint_boundaries() {
        use PitStatus::*;
        let mut t = PitTracker::default();
        let seq = [
            (0, None),
            (100, PitLane),
            (200, PitLane),
            (300, Stationary),
            (2700, Stationary),
            (2800, PitLane),
            (20_000, PitLane),
            (20_100, None),
        ];
        let mut out = Vec::new();
        for (ts, st) in seq {
            let c = if ts >= 2800 {
                Compound::Hard
            } else {
                Compound::Medium
            };
            out.extend(t.observe(&id(), &at(ts, st, c)));
        }
        assert_eq!(out.len(), 1);
        let stop = &out[0];
        assert_eq!(stop.entry_ms, 50);
        assert_eq!(stop.stationary_start_ms, 250);
        assert_eq!(stop.stationary_ms, 2750 - 250);
        assert_eq!(stop.pit_lane_ms, 20_050 - 50);
        assert_eq!(
            (stop.compound_in, stop.compound_out),
            (Compound::Medium, Compound::Hard)
        );
        assert_eq!(stop.lap, 7);
    }

    /// A drive-through penalty never stops: it is not reported as a pit stop.
    #[test]
    fn drive_through_is_not_a_stop() {
        use PitStatus::*;
        let mut t = PitTracker::default();
        let mut n = 0;
        for (ts, st) in [(0, None), (100, PitLane), (9000, PitLane), (9100, None)] {
            n += t
                .observe(&id(), &at(ts, st, Compound::Soft))
                .into_iter()
                .count();
        }
        assert_eq!(n, 0);
    }
}
