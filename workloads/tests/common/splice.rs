//! Real Dutch GP traces edited to show what two 2025 races we do not have showed, where
//! it happened there: OpenF1 `pit` windows that disagree with the car data. Everything
//! else in the trace stays as FastF1 recorded it.

use pitstop_workloads::model::{PitStatus, Sample};

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
