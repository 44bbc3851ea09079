//! Laps and stops the analytics found, as the strategy takes them, and the positions a
//! race really had: the truth the strategy's predictions are checked against.

use pitstop_workloads::analytics::Events;
use pitstop_workloads::analytics::strategy::{Lap, Race};
use std::collections::BTreeMap;

/// The strategy's input from what the analytics emitted for a whole race.
pub fn race(ev: &Events, circuit: &str, total_laps: u16) -> Race {
    Race::from_events(ev, Some(circuit), Some(total_laps))
}

/// How far round the race `car` was at `t_ms`, in laps (from its line crossings,
/// linear within a lap); None before its first crossing or after its last.
pub fn progress(race: &Race, car: u8, t_ms: i64) -> Option<f64> {
    let mut laps: Vec<&Lap> = race.laps.iter().filter(|l| l.car == car).collect();
    laps.sort_by_key(|l| l.lap);
    let next = laps.iter().position(|l| l.crossed_at_ms >= t_ms)?;
    let l = laps[next];
    let start = l.crossed_at_ms - l.lap_time_ms;
    let done = f64::from(l.lap - 1) + (t_ms - start) as f64 / l.lap_time_ms as f64;
    Some(done)
}

/// The position `car` really held at `t_ms`: 1 + the cars further round the race.
pub fn position_at(race: &Race, car: u8, t_ms: i64) -> Option<usize> {
    let me = progress(race, car, t_ms)?;
    let ahead = race
        .entrants
        .iter()
        .filter(|e| e.car != car)
        .filter_map(|e| progress(race, e.car, t_ms))
        .filter(|p| *p > me)
        .count();
    Some(ahead + 1)
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
