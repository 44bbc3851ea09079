//! Real Dutch GP traces edited to show what two 2025 races we do not have showed, where
//! it happened there: a standstill split by one reading above the creep speed, and
//! OpenF1 `pit` windows that disagree with the car data. Everything else in the trace
//! stays as FastF1 recorded it.

use pitstop_workloads::model::{PitStatus, Sample};

/// The reading in the middle of the standstill (≤ 0.5 km/h) of car `car`'s stop within
/// `from_ms..=to_ms`, and how long the car stood either side of it, ms (first to last
/// standstill sample); `None` if fewer than three samples stood.
pub fn middle_of_standstill(
    samples: &[Sample],
    car: u8,
    from_ms: i64,
    to_ms: i64,
) -> Option<(usize, i64, i64)> {
    let still: Vec<usize> = (0..samples.len())
        .filter(|&i| {
            let s = &samples[i];
            s.car == car && (from_ms..=to_ms).contains(&s.timestamp_ms) && s.speed_kph <= 0.5
        })
        .collect();
    if still.len() < 3 {
        return None;
    }
    let t = |i: usize| samples[i].timestamp_ms;
    let (first, last) = (still[0], still[still.len() - 1]);
    let middle = (t(first) + t(last)) / 2;
    let (k, &m) = still
        .iter()
        .enumerate()
        .skip(1)
        .take(still.len() - 2)
        .min_by_key(|(_, i)| (t(**i) - middle).abs())?;
    Some((m, t(still[k - 1]) - t(first), t(last) - t(still[k + 1])))
}

/// OpenF1's way: once a car has a `pit` record, every sample of it says whether it lies
/// in one of the car's windows (entry, entry + duration), ms.
pub fn pit_windows(samples: &mut [Sample], car: u8, windows: &[(i64, i64)]) {
    for s in samples.iter_mut().filter(|s| s.car == car) {
        let t = s.timestamp_ms;
        s.pit_status = Some(if windows.iter().any(|(a, b)| (*a..=*b).contains(&t)) {
            PitStatus::PitLane
        } else {
            PitStatus::None
        });
    }
}
