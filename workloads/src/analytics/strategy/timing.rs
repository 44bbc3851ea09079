//! The timing board as of a moment: every running car's line crossings, its position and
//! its gap to any other car, as race time at the same point of the track.

use super::input::{Lap, Stop};
use std::collections::BTreeMap;

/// One car's line crossings, in lap order.
#[derive(Clone, Debug)]
pub struct Timing {
    pub car: u8,
    /// (lap, crossed at ms), ascending.
    crossings: Vec<(u16, i64)>,
    /// Stops known so far: (entry, exit) ms.
    stops: Vec<(i64, i64)>,
}

impl Timing {
    pub fn laps(&self) -> u16 {
        self.crossings.last().map_or(0, |c| c.0)
    }
    pub fn last_crossed_ms(&self) -> i64 {
        self.crossings.last().map_or(i64::MIN, |c| c.1)
    }
    pub fn crossed(&self, lap: u16) -> Option<i64> {
        self.crossings
            .binary_search_by_key(&lap, |c| c.0)
            .ok()
            .map(|i| self.crossings[i].1)
    }
    /// Stops begun after `at_ms` and known to be over: their loss is in the car's future
    /// crossings but not in a gap measured at `at_ms`.
    fn stops_after(&self, at_ms: i64) -> usize {
        self.stops.iter().filter(|s| s.0 > at_ms).count()
    }
}

/// The running cars in position order.
#[derive(Clone, Debug, Default)]
pub struct Board {
    pub order: Vec<Timing>,
}

impl Board {
    /// The board at `now_ms` from the laps and stops known then. A car that has not
    /// crossed the line for two of the leader's laps has stopped racing and is left out.
    pub fn new(laps: &[Lap], stops: &[Stop], now_ms: i64) -> Board {
        let mut cars: BTreeMap<u8, Timing> = BTreeMap::new();
        for l in laps.iter().filter(|l| l.crossed_at_ms <= now_ms) {
            cars.entry(l.car)
                .or_insert_with(|| Timing {
                    car: l.car,
                    crossings: Vec::new(),
                    stops: Vec::new(),
                })
                .crossings
                .push((l.lap, l.crossed_at_ms));
        }
        for s in stops.iter().filter(|s| s.exit_ms() <= now_ms) {
            if let Some(t) = cars.get_mut(&s.car) {
                t.stops.push((s.entry_ms, s.exit_ms()));
            }
        }
        let mut order: Vec<Timing> = cars.into_values().collect();
        for t in &mut order {
            t.crossings.sort_unstable();
            t.crossings.dedup_by_key(|c| c.0);
        }
        let lap_ms = typical_lap_ms(laps);
        order.retain(|t| now_ms - t.last_crossed_ms() <= 2 * lap_ms);
        order.sort_by_key(|t| (std::cmp::Reverse(t.laps()), t.last_crossed_ms()));
        Board { order }
    }

    pub fn get(&self, car: u8) -> Option<&Timing> {
        self.order.iter().find(|t| t.car == car)
    }

    /// 1 for the leader.
    pub fn position(&self, car: u8) -> Option<usize> {
        self.order.iter().position(|t| t.car == car).map(|i| i + 1)
    }

    /// How far `a` runs behind `b`, ms of race time (negative: ahead), at the last line
    /// both crossed, with `loss_ms` added for each stop either made since that crossing
    /// (a stop is in the gap only once the car has crossed the line after it).
    pub fn gap_ms(a: &Timing, b: &Timing, loss_ms: f64) -> Option<f64> {
        let lap = a.laps().min(b.laps());
        let (ta, tb) = (a.crossed(lap)?, b.crossed(lap)?);
        let pending = a.stops_after(ta) as f64 - b.stops_after(tb) as f64;
        Some((ta - tb) as f64 + pending * loss_ms)
    }
}

/// The median lap of the race so far, ms (90 s when nothing is known).
pub fn typical_lap_ms(laps: &[Lap]) -> i64 {
    let mut v: Vec<f64> = laps
        .iter()
        .filter(|l| l.lap > 1)
        .map(|l| l.lap_time_ms as f64)
        .collect();
    if v.is_empty() {
        return 90_000;
    }
    super::degradation::median(&mut v) as i64
}
