//! A suspended race (a red flag): the field waits in the pit lane for minutes and restarts
//! in its order, its tyres changed for free. Those visits are stored as stops like any
//! other (a lap table's pit entry and exit, a standstill found from motion), but nobody
//! chose them: the real-race checks leave them out, as Ergast's and the FIA's stop counts
//! do, and the strategy learns neither a pit loss nor new tyres' first lap from them.
//! Found from the visits alone, so the telemetry path, which has no race-control
//! feed, finds them too: at least half the field in the pit lane at once, for longer than
//! any stop takes. A safety car's stops, however bunched, last seconds.

use super::input::{Race, Stop};
use std::collections::BTreeSet;

/// Shortest stretch with half the field in the pit lane that is a suspension, ms: no tyre
/// change takes that long, a red flag's wait is 10 minutes or more.
pub const MIN_SUSPENSION_MS: i64 = 120_000;

/// The stretches (start, end) in ms in which at least half the cars that have run a lap
/// (and two or more) were in the pit lane together for [`MIN_SUSPENSION_MS`] or longer.
pub fn suspensions(race: &Race) -> Vec<(i64, i64)> {
    let cars: BTreeSet<u8> = race.laps.iter().map(|l| l.car).collect();
    let needed = cars.len().div_ceil(2).max(2);
    // Entries before exits at one instant: a car in as another leaves overlaps it.
    let mut edges: Vec<(i64, i32)> = race
        .stops
        .iter()
        .chain(&race.drive_throughs)
        .flat_map(|s| [(s.entry_ms, 1), (s.exit_ms(), -1)])
        .collect();
    edges.sort_by_key(|&(t, step)| (t, -step));
    let mut out = Vec::new();
    let (mut inside, mut since) = (0usize, None);
    for (t, step) in edges {
        inside = inside.saturating_add_signed(step as isize);
        match since {
            None if inside >= needed => since = Some(t),
            Some(start) if inside < needed => {
                if t - start >= MIN_SUSPENSION_MS {
                    out.push((start, t));
                }
                since = None;
            }
            _ => {}
        }
    }
    out
}

/// Whether `stop`'s pit lane overlaps one of `suspensions`.
pub fn suspended(stop: &Stop, suspensions: &[(i64, i64)]) -> bool {
    suspensions
        .iter()
        .any(|&(start, end)| stop.entry_ms < end && stop.exit_ms() > start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::strategy::fixtures;

    fn visit(car: u8, entry_ms: i64, pit_lane_ms: i64) -> Stop {
        Stop {
            car,
            lap: Some(10),
            entry_ms,
            pit_lane_ms,
            stationary_start_ms: None,
        }
    }

    /// Six cars on track, each with its laps.
    fn field(stops: Vec<Stop>) -> Race {
        Race {
            laps: fixtures::steady_laps(6, 12),
            stops,
            ..Race::default()
        }
    }

    /// Three of six cars wait 20 minutes together (a red flag), entering and leaving a
    /// few seconds apart: one suspension, from the third entry to the first exit; the
    /// stop made minutes before it is not in it, the car that came in last is.
    #[test]
    fn half_the_field_waiting_for_minutes_is_a_suspension() {
        let wait = 1_200_000;
        let red = [
            visit(1, 1_000_000, wait),
            visit(2, 1_003_000, wait),
            visit(3, 1_006_000, wait),
        ];
        let before = visit(4, 700_000, 22_000);
        let mut stops = red.to_vec();
        stops.push(before.clone());
        let s = suspensions(&field(stops));
        assert_eq!(s, [(1_006_000, 2_200_000)]);
        assert!(red.iter().all(|v| suspended(v, &s)));
        assert!(!suspended(&before, &s));
    }

    /// A safety car's stops: five of six cars in the lane at once, but for seconds; and
    /// two of six waiting for minutes (a repair, a retirement) are not half the field.
    #[test]
    fn bunched_stops_and_long_repairs_are_not() {
        let bunched = (1..=5)
            .map(|car| visit(car, 1_000_000 + i64::from(car) * 1_000, 22_000))
            .collect();
        assert!(suspensions(&field(bunched)).is_empty());
        let repairs = vec![visit(1, 1_000_000, 600_000), visit(2, 1_100_000, 600_000)];
        assert!(suspensions(&field(repairs)).is_empty());
    }
}
