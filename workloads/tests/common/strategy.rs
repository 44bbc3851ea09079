//! Laps and stops the analytics found, as the strategy takes them, and the neutralised
//! periods of a recording without a race-control feed.

use pitstop_workloads::analytics::Events;
use pitstop_workloads::analytics::strategy::Race;
use std::collections::BTreeMap;

/// The strategy's input from what the analytics emitted for a whole race.
pub fn race(ev: &Events, circuit: &str, total_laps: u16) -> Race {
    Race::from_events(ev, Some(circuit), Some(total_laps))
}

/// The periods in which the field ran slower than 65% of its race median speed for at
/// least 30 s (safety car, virtual safety car, red flag): what a race-control feed
/// reports, derived here from the cars' speed because the recording has no such feed.
pub fn neutral_periods(samples: &[pitstop_workloads::model::Sample]) -> Vec<(i64, i64)> {
    const BUCKET_MS: i64 = 5_000;
    let mut buckets: BTreeMap<i64, Vec<f32>> = BTreeMap::new();
    for s in samples {
        buckets
            .entry(s.timestamp_ms / BUCKET_MS)
            .or_default()
            .push(s.speed_kph);
    }
    let med = |v: &mut Vec<f32>| {
        v.sort_by(f32::total_cmp);
        v[v.len() / 2]
    };
    let mut all: Vec<f32> = buckets
        .values()
        .filter(|v| v.len() >= 20)
        .map(|v| med(&mut v.clone()))
        .collect();
    let race = med(&mut all);
    let mut periods: Vec<(i64, i64)> = Vec::new();
    for (b, v) in &buckets {
        if v.len() < 20 || med(&mut v.clone()) >= 0.65 * race {
            continue;
        }
        let (start, end) = (b * BUCKET_MS, (b + 1) * BUCKET_MS);
        match periods.last_mut() {
            Some(p) if p.1 + 24 * BUCKET_MS >= start => p.1 = end,
            _ => periods.push((start, end)),
        }
    }
    periods.retain(|p| p.1 - p.0 >= 30_000);
    periods
}

/// Each car's progress round the race from its own telemetry (lap number and distance
/// along the lap, as the check asks for), where the stored line crossings give
/// only a linear guess within the lap.
pub struct Distance {
    /// Per car: (time ms, laps completed + the share of the current lap), in time order.
    cars: BTreeMap<u8, Vec<(i64, f64)>>,
}

impl Distance {
    pub fn new(samples: &[pitstop_workloads::model::Sample]) -> Distance {
        // The lap's length: the median of every car's longest distance in each lap.
        let mut longest: BTreeMap<(u8, u16), f32> = BTreeMap::new();
        for s in samples {
            if let (Some(lap), Some(d)) = (s.lap, s.lap_distance_m) {
                let m = longest.entry((s.car, lap)).or_insert(0.0);
                *m = m.max(d);
            }
        }
        let mut lengths: Vec<f32> = longest.into_values().collect();
        lengths.sort_by(f32::total_cmp);
        let length = f64::from(lengths[lengths.len() / 2]);
        let mut cars: BTreeMap<u8, Vec<(i64, f64)>> = BTreeMap::new();
        for s in samples {
            if let (Some(lap), Some(d)) = (s.lap, s.lap_distance_m) {
                let share = (f64::from(d) / length).clamp(0.0, 1.0);
                cars.entry(s.car)
                    .or_default()
                    .push((s.timestamp_ms, f64::from(lap.saturating_sub(1)) + share));
            }
        }
        for v in cars.values_mut() {
            v.sort_by_key(|p| p.0);
        }
        Distance { cars }
    }

    /// How far round the race `car` was at `t_ms`, interpolated between the samples
    /// either side (cars in a safety car's queue run a few metres apart); None without a
    /// sample on each side within 5 s (it retired, or its data ends).
    pub fn progress(&self, car: u8, t_ms: i64) -> Option<f64> {
        let v = self.cars.get(&car)?;
        let i = v.partition_point(|p| p.0 <= t_ms);
        let ((t0, p0), (t1, p1)) = (v[i.checked_sub(1)?], *v.get(i)?);
        if t_ms - t0 > 5_000 || t1 - t_ms > 5_000 {
            return None;
        }
        Some(p0 + (p1 - p0) * (t_ms - t0) as f64 / (t1 - t0).max(1) as f64)
    }
}
