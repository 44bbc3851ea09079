//! A suspended race (a red flag): the field waits in the pit lane for minutes and restarts
//! in its order, its tyres changed for free. Those visits are stored as stops like any
//! other (a lap table's pit entry and exit, a standstill found from motion), but the
//! wait, not a team's call, decides where a car comes out: the real-race checks leave out
//! every stop one held up, and the strategy learns neither a pit loss nor new tyres'
//! first lap from them. Found from the visits alone, so the telemetry path, which has no
//! race-control feed, finds them too: at least half the field in the pit lane at once,
//! for longer than any stop takes. A safety car's stops, however bunched, last seconds.

use super::input::{Race, Stop};
use super::timing::typical_lap_ms;
use std::collections::{BTreeMap, BTreeSet};

/// Shortest stretch with half the field in the pit lane that is a suspension, ms: no tyre
/// change takes that long, a red flag's wait is 10 minutes or more.
pub const MIN_SUSPENSION_MS: i64 = 120_000;

/// The stretches (start, end) in ms in which at least half the cars that have run a lap
/// (and two or more) were in the pit lane together for [`MIN_SUSPENSION_MS`] or longer.
/// Cars in the lane now count from their entry to the race's moment (during a restart
/// the waits stored so far and those still under way are one suspension), unless they
/// left the race: no line crossed for two laps of the field's (a car retired into its
/// garage stays in the lane until the session ends).
pub fn suspensions(race: &Race) -> Vec<(i64, i64)> {
    let cars: BTreeSet<u8> = race.laps.iter().map(|l| l.car).collect();
    let needed = cars.len().div_ceil(2).max(2);
    let now = race.moment();
    let racing_since = last_crossing(race, None).saturating_sub(2 * typical_lap_ms(&race.laps));
    let waiting = race
        .pit_entries
        .iter()
        .filter(|e| last_crossing(race, Some(e.car)) >= racing_since);
    let stored = race.stops.iter().chain(&race.drive_throughs);
    let visits = stored
        .map(|s| (s.car, s.entry_ms, s.exit_ms().max(s.entry_ms)))
        .chain(waiting.map(|e| (e.car, e.entry_ms, now.max(e.entry_ms))));
    // Entries before exits at one instant: a car in as another leaves overlaps it.
    let mut edges: Vec<(i64, i32, u8)> = visits
        .flat_map(|(car, entry, exit)| [(entry, 1, car), (exit, -1, car)])
        .collect();
    edges.sort_by_key(|&(t, step, _)| (t, -step));
    // Visits per car in the lane: a car counts once, whatever its records overlap.
    let mut in_lane: BTreeMap<u8, i32> = BTreeMap::new();
    let (mut out, mut since) = (Vec::new(), None);
    for (t, step, car) in edges {
        *in_lane.entry(car).or_default() += step;
        let inside = in_lane.values().filter(|n| **n > 0).count();
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

/// The last line crossing of `car`, or of any car.
fn last_crossing(race: &Race, car: Option<u8>) -> i64 {
    let laps = race.laps.iter().filter(|l| car.is_none_or(|c| l.car == c));
    laps.map(|l| l.crossed_at_ms).max().unwrap_or(i64::MIN)
}

/// Whether `stop`'s check (from its pit entry to a lap after its exit, `lap_ms`) meets
/// one of `suspensions`: the wait, not the stop, decides where the car comes out (a car
/// caught in the lane by the flag, or out of it just before).
pub fn held_up(stop: &Stop, lap_ms: i64, suspensions: &[(i64, i64)]) -> bool {
    let until = stop.exit_ms().saturating_add(lap_ms);
    suspensions
        .iter()
        .any(|&(start, end)| stop.entry_ms < end && until > start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::strategy::{PitEntry, fixtures};

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
    /// few seconds apart: one suspension, from the third entry to the first exit. The
    /// stop made minutes before it is not held up; one that left the lane just before
    /// it is (its check, a lap later, falls in the wait).
    #[test]
    fn half_the_field_waiting_for_minutes_is_a_suspension() {
        let wait = 1_200_000;
        let red = [
            visit(1, 1_000_000, wait),
            visit(2, 1_003_000, wait),
            visit(3, 1_006_000, wait),
        ];
        let (before, just_before) = (visit(4, 700_000, 22_000), visit(5, 980_000, 22_000));
        let mut stops = red.to_vec();
        stops.extend([before.clone(), just_before.clone()]);
        let s = suspensions(&field(stops));
        assert_eq!(s, [(1_006_000, 2_200_000)]);
        assert!(red.iter().all(|v| held_up(v, 0, &s)));
        assert!(!held_up(&before, 90_000, &s));
        assert!(!held_up(&just_before, 0, &s) && held_up(&just_before, 90_000, &s));
    }

    /// A safety car's stops: five of six cars in the lane at once, but for seconds; two
    /// of six waiting for minutes (a repair, a retirement) are not half the field, nor
    /// one car stored twice over.
    #[test]
    fn bunched_stops_and_long_repairs_are_not() {
        let bunched = (1..=5)
            .map(|car| visit(car, 1_000_000 + i64::from(car) * 1_000, 22_000))
            .collect();
        assert!(suspensions(&field(bunched)).is_empty());
        let repairs = vec![visit(1, 1_000_000, 600_000), visit(2, 1_100_000, 600_000)];
        assert!(suspensions(&field(repairs)).is_empty());
        let twice = vec![
            visit(1, 1_000_000, 600_000),
            visit(1, 1_001_000, 600_000),
            visit(2, 1_002_000, 600_000),
        ];
        assert!(suspensions(&field(twice)).is_empty());
    }

    /// At the restart some waits are stored (the car left the lane) and the rest are
    /// cars still in it: one suspension, open until the race's moment.
    #[test]
    fn waits_under_way_count_until_now() {
        let mut race = field(vec![visit(1, 1_000_000, 1_200_000)]);
        race.pit_entries = [2, 3]
            .map(|car| PitEntry {
                car,
                lap: Some(10),
                entry_ms: 1_002_000,
            })
            .to_vec();
        race.now_ms = Some(2_201_000);
        assert_eq!(suspensions(&race), [(1_002_000, 2_200_000)]);
        race.now_ms = Some(1_100_000);
        assert!(suspensions(&race).is_empty(), "not two minutes yet");
        // Three cars retired into their garages after lap 3 stay in the lane for good:
        // no wait, however long.
        race.laps.retain(|l| l.car > 3 || l.lap <= 3);
        race.pit_entries = [1, 2, 3]
            .map(|car| PitEntry {
                car,
                lap: Some(4),
                entry_ms: 300_000,
            })
            .to_vec();
        race.stops.clear();
        race.now_ms = Some(12 * 90_000);
        assert!(suspensions(&race).is_empty());
        race.laps.retain(|l| l.lap <= 3);
        race.now_ms = Some(3 * 90_000 + 200_000);
        assert_eq!(
            suspensions(&race).len(),
            1,
            "half the field waiting since lap 3"
        );
    }
}
