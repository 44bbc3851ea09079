//! The strategy judged after the fact: for every stop of a race, the rejoin predicted at
//! pit entry (from what was known then) against the position the car really held one lap
//! after pit exit. The HTML report shows it; the real-race tests hold it to account.

use super::compute::compute;
use super::input::{Lap, Race};
use super::timing::typical_lap_ms;

/// One stop's rejoin, predicted and real.
#[derive(Clone, Debug, PartialEq)]
pub struct RejoinCheck {
    pub car: u8,
    pub driver: String,
    pub lap: Option<u16>,
    pub predicted: usize,
    pub actual: usize,
    /// The pit loss the prediction used, ms.
    pub loss_ms: f64,
}

/// How far round the race `car` was at `t_ms`, in laps (from its line crossings,
/// linear within a lap); None after its last crossing (it stopped racing, or its data
/// ends).
pub fn progress(race: &Race, car: u8, t_ms: i64) -> Option<f64> {
    let mut laps: Vec<&Lap> = race.laps.iter().filter(|l| l.car == car).collect();
    laps.sort_by_key(|l| l.lap);
    let l = laps.iter().find(|l| l.crossed_at_ms >= t_ms)?;
    let start = l.crossed_at_ms - l.lap_time_ms;
    let lap_ms = l.lap_time_ms.max(1) as f64;
    Some(f64::from(l.lap.saturating_sub(1)) + (t_ms - start) as f64 / lap_ms)
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

/// Every stop's rejoin check, in the order of the stops. A stop whose car did not run a
/// lap after it is left out; a car that retired before the check is ahead of nobody, so
/// the prediction is judged against the cars still racing then.
pub fn rejoin_checks(race: &Race) -> Vec<RejoinCheck> {
    let lap_ms = typical_lap_ms(&race.laps);
    let mut stops = race.stops.clone();
    stops.sort_by_key(|s| s.entry_ms);
    let mut out = Vec::new();
    for stop in &stops {
        let s = compute(&race.as_of(stop.entry_ms));
        let Some(c) = s.cars.iter().find(|c| c.car == stop.car) else {
            continue;
        };
        let Some(r) = &c.rejoin else { continue };
        let t = stop.exit_ms() + lap_ms;
        let Some(actual) = position_at(race, stop.car, t) else {
            continue;
        };
        let running = |car: u8| progress(race, car, t).is_some();
        let ahead = r.margins.iter().filter(|m| m.1 > 0.0 && running(m.0));
        out.push(RejoinCheck {
            car: stop.car,
            driver: c.driver.clone(),
            lap: stop.lap,
            predicted: 1 + ahead.count(),
            actual,
            loss_ms: s.pit_loss.ms,
        });
    }
    out
}
