//! Lap and sector timing from the lap and sector channels. The line crossing is placed by
//! back-extrapolating the first sample of the new lap (`t − distance / speed`), or midway
//! between samples without a distance; sector boundaries midway between samples. A car
//! standing on the line at its first sample (a standing start) starts lap 1 there.
//!
//! A car's last lap has no next lap to close it: at the chequered flag it is closed if the
//! car covered at least 95% of the lap distance of its full laps (a retirement on track
//! leaves its lap open). Cars without a lap channel have no laps; without a sector channel
//! no sector times; without a distance channel the last lap stays open.

use super::events::{CarId, LapRecord};
use crate::model::{Compound, Sample};
use serde::{Deserialize, Serialize};

/// Share of a full lap's distance that makes the last lap complete.
const FULL_LAP_SHARE: f32 = 0.95;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LapTracker {
    lap: Option<u16>,
    lap_start_ms: Option<i64>,
    sector: Option<u8>,
    sector_start_ms: Option<i64>,
    sectors_ms: [Option<i32>; 3],
    top_speed: f32,
    /// Time spent on each compound this lap (index = compound code).
    compound_ms: [i64; 5],
    compound: Option<Compound>,
    tyre_age: Option<u16>,
    last_ts: i64,
    last_distance: Option<f32>,
    /// Longest distance of a completed lap after the first (for closing the last lap).
    lap_length_m: f32,
}

/// When the car was at distance 0 of its current lap: extrapolated when it is moving, now
/// when it stands on the line.
fn extrapolate_start(s: &Sample) -> Option<i64> {
    let d = s.lap_distance_m?;
    let v = s.speed_kph as f64 / 3.6;
    if v > 1.0 && d < 600.0 {
        Some(s.timestamp_ms - (d.max(0.0) as f64 / v * 1000.0).round() as i64)
    } else if d <= 1.0 {
        Some(s.timestamp_ms)
    } else {
        None
    }
}

impl LapTracker {
    /// The lap the car is on, as far as its samples said.
    pub fn current(&self) -> Option<u16> {
        self.lap
    }

    pub fn observe(&mut self, id: &CarId, s: &Sample) -> Option<LapRecord> {
        let Some(lap) = s.lap else {
            self.absorb(s);
            return None;
        };
        let Some(current) = self.lap else {
            self.lap = Some(lap);
            self.lap_start_ms = extrapolate_start(s);
            self.sector = s.sector;
            self.sector_start_ms = if s.sector == Some(1) {
                self.lap_start_ms
            } else {
                None
            };
            self.absorb(s);
            return None;
        };
        let mut record = None;
        if lap > current {
            let crossing = extrapolate_start(s).unwrap_or((self.last_ts + s.timestamp_ms) / 2);
            if self.sector == Some(3)
                && let Some(start) = self.sector_start_ms
            {
                self.sectors_ms[2] = Some((crossing - start) as i32);
            }
            if lap == current + 1 {
                record = self.complete(id, crossing, s.position);
            }
            self.lap = Some(lap);
            self.lap_start_ms = Some(crossing);
            self.sector = s.sector.map(|_| 1);
            self.sector_start_ms = Some(crossing);
            self.sectors_ms = [None; 3];
            self.top_speed = 0.0;
            self.compound_ms = [0; 5];
        } else if lap == current
            && let Some(sector) = s.sector
            && self.sector != Some(sector)
        {
            let boundary = (self.last_ts + s.timestamp_ms) / 2;
            if let (Some(start), Some(prev)) = (self.sector_start_ms, self.sector)
                && (1..=3).contains(&prev)
            {
                self.sectors_ms[prev as usize - 1] = Some((boundary - start) as i32);
            }
            self.sector = Some(sector);
            self.sector_start_ms = Some(boundary);
        }
        self.absorb(s);
        record
    }

    /// The lap just completed at `crossing`, if it was timed from its start.
    fn complete(&mut self, id: &CarId, crossing: i64, position: Option<u8>) -> Option<LapRecord> {
        let lap = self.lap?;
        if lap > 1
            && let Some(d) = self.last_distance
        {
            self.lap_length_m = self.lap_length_m.max(d);
        }
        let start = self.lap_start_ms?;
        let compound = (0..5)
            .filter(|&c| self.compound_ms[c] > 0)
            .max_by_key(|&c| self.compound_ms[c])
            .and_then(|c| Compound::from_code(c as u8))
            .or(self.compound);
        Some(LapRecord {
            id: id.clone(),
            lap,
            lap_time_ms: (crossing - start) as i32,
            sectors_ms: self.sectors_ms,
            compound,
            tyre_age: self.tyre_age,
            top_speed_kph: self.top_speed,
            crossed_at_ms: crossing,
            position,
        })
    }

    /// At the chequered flag: the open lap, if the car covered (nearly) all of it.
    pub fn close_final(&mut self, id: &CarId) -> Option<LapRecord> {
        let covered = self.last_distance?;
        if self.lap_length_m <= 0.0 || covered < FULL_LAP_SHARE * self.lap_length_m {
            return None;
        }
        let record = self.complete(id, self.last_ts, None);
        self.lap_start_ms = None;
        record
    }

    fn absorb(&mut self, s: &Sample) {
        if let Some(c) = self.compound
            && self.last_ts > 0
        {
            self.compound_ms[c.code() as usize] += (s.timestamp_ms - self.last_ts).max(0);
        }
        self.top_speed = self.top_speed.max(s.speed_kph);
        if s.tyre_compound.is_some() {
            self.compound = s.tyre_compound;
        }
        if s.tyre_age_laps.is_some() {
            self.tyre_age = s.tyre_age_laps;
        }
        if s.lap_distance_m.is_some() {
            self.last_distance = s.lap_distance_m;
        }
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
                lap: Some(lap),
                lap_distance_m: Some(d as f32),
                sector: Some((d / 1000.0).floor() as u8 + 1),
                speed_kph: 360.0,
                tyre_compound: Some(Compound::Soft),
                ..Sample::default()
            };
            laps.extend(t.observe(&id(), &s));
        }
        assert_eq!(laps.len(), 2);
        for l in &laps {
            assert_eq!(l.lap_time_ms, 30_000, "lap {}", l.lap);
            assert_eq!(l.compound, Some(Compound::Soft));
            for s in l.sectors_ms {
                assert!((s.unwrap() - 10_000).abs() <= 50, "{:?}", l.sectors_ms);
            }
        }
    }

    /// Live timing: a standing start on the line times lap 1 from the first sample; no
    /// sector channel means no sector times; the last lap is closed at the flag when it
    /// was covered (FastF1 ends a lap's trace on the line), and left open after a
    /// retirement halfway round.
    #[test]
    fn standing_start_and_last_lap() {
        // 4 Hz, 80 s laps of 4,000 m (50 m/s), standing on the line at the start.
        let run = |last: i64| {
            let mut t = LapTracker::default();
            let mut out = Vec::new();
            for i in 0..=last {
                let travelled = i as f64 * 12.5;
                let (lap, d) = if i == 960 {
                    (3, 4000.0)
                } else {
                    ((travelled / 4000.0).floor() as u16 + 1, travelled % 4000.0)
                };
                let s = Sample {
                    timestamp_ms: 1_725_800_000_000 + i * 250,
                    speed_kph: if i == 0 { 0.0 } else { 180.0 },
                    lap: Some(lap),
                    lap_distance_m: Some(d as f32),
                    ..Sample::default()
                };
                out.extend(t.observe(&id(), &s));
            }
            out.extend(t.close_final(&id()));
            out
        };
        let full = run(960);
        assert_eq!(full.iter().map(|l| l.lap).collect::<Vec<_>>(), [1, 2, 3]);
        assert!(
            full.iter()
                .all(|l| l.lap_time_ms == 80_000 && l.sectors_ms == [None; 3]),
            "{full:?}"
        );
        let retired = run(800);
        assert_eq!(retired.iter().map(|l| l.lap).collect::<Vec<_>>(), [1, 2]);
    }

    /// A lap is labelled with the compound it ran most of (a stop late in the lap keeps the
    /// old compound), and with none when no source says.
    #[test]
    fn compound_of_most_of_the_lap() {
        let mut t = LapTracker::default();
        let mut out = Vec::new();
        for i in 0..=200 {
            let s = Sample {
                timestamp_ms: 1_725_800_000_000 + i * 1000,
                speed_kph: 200.0,
                lap: Some(if i < 100 { 1 } else { 2 }),
                lap_distance_m: Some((i % 100) as f32 * 50.0),
                tyre_compound: match i {
                    0..80 => Some(Compound::Medium),
                    80..150 => Some(Compound::Hard),
                    _ => None,
                },
                ..Sample::default()
            };
            out.extend(t.observe(&id(), &s));
        }
        assert_eq!(out[0].compound, Some(Compound::Medium));
        let mut bare = LapTracker::default();
        let mut none = Vec::new();
        for i in 0..=120 {
            let s = Sample {
                timestamp_ms: 1_725_800_000_000 + i * 1000,
                speed_kph: 200.0,
                lap: Some(if i < 100 { 1 } else { 2 }),
                lap_distance_m: Some((i % 100) as f32 * 50.0),
                ..Sample::default()
            };
            none.extend(bare.observe(&id(), &s));
        }
        assert_eq!(none[0].compound, None);
    }
}
