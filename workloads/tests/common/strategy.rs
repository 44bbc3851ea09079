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
