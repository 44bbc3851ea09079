//! Lap and sector timing from lap/sector transitions. The line crossing is placed by
//! back-extrapolating the first sample of the new lap (`t − distance / speed`), sector
//! boundaries midway between samples.

use super::{CarId, LapRecord};
use crate::model::{Compound, PitStatus, Sample};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LapTracker {
    lap: u16,
    started: bool,
    lap_start_ms: Option<i64>,
    sector: u8,
    sector_start_ms: Option<i64>,
    sectors_ms: [Option<i32>; 3],
    top_speed: f32,
    pit_in: bool,
    pit_out: bool,
    compound: Compound,
    tyre_age: u16,
    last_ts: i64,
    last_status: PitStatus,
}

/// When the car was at distance 0 of its current lap, if it is moving.
fn extrapolate_start(s: &Sample) -> Option<i64> {
    let v = s.speed_kph as f64 / 3.6;
    (v > 1.0 && s.lap_distance_m < 600.0)
        .then(|| s.timestamp_ms - (s.lap_distance_m as f64 / v * 1000.0).round() as i64)
}

impl LapTracker {
    pub fn observe(&mut self, id: &CarId, s: &Sample) -> Option<LapRecord> {
        if !self.started {
            self.started = true;
            self.lap = s.lap;
            self.lap_start_ms = extrapolate_start(s);
            self.sector = s.sector;
            self.sector_start_ms = if s.sector == 1 {
                self.lap_start_ms
            } else {
                None
            };
            self.absorb(s);
            return None;
        }
        let mut record = None;
        if s.lap > self.lap {
            let crossing = extrapolate_start(s).unwrap_or((self.last_ts + s.timestamp_ms) / 2);
            if self.sector == 3
                && let Some(start) = self.sector_start_ms
            {
                self.sectors_ms[2] = Some((crossing - start) as i32);
            }
            if let Some(start) = self.lap_start_ms
                && s.lap == self.lap + 1
            {
                record = Some(LapRecord {
                    id: id.clone(),
                    lap: self.lap,
                    lap_time_ms: (crossing - start) as i32,
                    sectors_ms: self.sectors_ms,
                    compound: self.compound,
                    tyre_age: self.tyre_age,
                    pit_in: self.pit_in,
                    pit_out: self.pit_out,
                    top_speed_kph: self.top_speed,
                    crossed_at_ms: crossing,
                    position: s.position,
                });
            }
            self.lap = s.lap;
            self.lap_start_ms = Some(crossing);
            self.sector = 1;
            self.sector_start_ms = Some(crossing);
            self.sectors_ms = [None; 3];
            self.top_speed = 0.0;
            self.pit_in = false;
            self.pit_out = s.pit_status != PitStatus::None;
        } else if s.sector != self.sector && s.lap == self.lap {
            let boundary = (self.last_ts + s.timestamp_ms) / 2;
            if let Some(start) = self.sector_start_ms
                && (1..=3).contains(&self.sector)
            {
                self.sectors_ms[self.sector as usize - 1] = Some((boundary - start) as i32);
            }
            self.sector = s.sector;
            self.sector_start_ms = Some(boundary);
        }
        self.absorb(s);
        record
    }

    fn absorb(&mut self, s: &Sample) {
        if s.pit_status != PitStatus::None && self.last_status == PitStatus::None {
            self.pit_in = true;
        }
        if s.pit_status == PitStatus::None && self.last_status != PitStatus::None {
            self.pit_out = true;
        }
        self.last_status = s.pit_status;
        self.top_speed = self.top_speed.max(s.speed_kph);
        self.compound = s.tyre_compound;
        self.tyre_age = s.tyre_age_laps;
        self.last_ts = s.timestamp_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> CarId {
        CarId {
            session: "s".into(),
            car: 1,
            driver: "VER".into(),
            team: "Red Bull Racing".into(),
        }
    }

    /// A car at constant 100 m/s on a 3 km lap: 30 s laps, 10 s sectors.
    #[test]
    fn constant_speed_lap_and_sectors() {
        let mut t = LapTracker::default();
        let mut laps = Vec::new();
        for i in 0..700 {
            let ts = 1_000_000 + i * 100; // 10 Hz
            let dist_total = (i as f64 + 1.0) * 10.0;
            let lap = (dist_total / 3000.0).floor() as u16 + 1;
            let d = dist_total % 3000.0;
            let s = Sample {
                timestamp_ms: ts + 100,
                lap,
                lap_distance_m: d as f32,
                sector: (d / 1000.0).floor() as u8 + 1,
                speed_kph: 360.0,
                ..Sample::default()
            };
            laps.extend(t.observe(&id(), &s));
        }
        assert_eq!(laps.len(), 2);
        for l in &laps {
            assert_eq!(l.lap_time_ms, 30_000, "lap {}", l.lap);
            for s in l.sectors_ms {
                assert!((s.unwrap() - 10_000).abs() <= 50, "{:?}", l.sectors_ms);
            }
        }
    }
}
