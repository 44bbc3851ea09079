//! What the strategy is computed from: a session's laps, stops and neutralisations.

use crate::model::Compound;

/// A completed lap of a car, as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Lap {
    pub car: u8,
    pub lap: u16,
    pub lap_time_ms: i64,
    /// When the lap ended (the line crossing), ms since the epoch.
    pub crossed_at_ms: i64,
    pub compound: Option<Compound>,
    pub tyre_age: Option<u16>,
    /// A safety car, virtual safety car or red flag the session's events reported.
    pub neutralised: bool,
}

/// A pit stop, as stored when the car left the pit lane.
#[derive(Clone, Debug, PartialEq)]
pub struct Stop {
    pub car: u8,
    /// The in-lap, when known.
    pub lap: Option<u16>,
    pub entry_ms: i64,
    pub pit_lane_ms: i64,
    /// When the car stood still in its box (None for a drive-through): from then on the
    /// processor knows the car is in the pit lane, before the stop is stored at exit.
    pub stationary_start_ms: Option<i64>,
}

impl Stop {
    pub fn exit_ms(&self) -> i64 {
        self.entry_ms + self.pit_lane_ms
    }
}

/// A car in the pit lane now: it has stood still in its box, and not left the lane.
#[derive(Clone, Debug, PartialEq)]
pub struct PitEntry {
    pub car: u8,
    /// The in-lap, when known.
    pub lap: Option<u16>,
    pub entry_ms: i64,
}

/// Who drives a car.
#[derive(Clone, Debug, PartialEq)]
pub struct Entrant {
    pub car: u8,
    pub driver: String,
    pub team: String,
}

/// Everything the strategy is computed from: one session's laps and stops.
#[derive(Clone, Debug, Default)]
pub struct Race {
    /// The circuit's id (`zandvoort`, or Ergast's `circuitRef`), when known.
    pub circuit: Option<String>,
    pub total_laps: Option<u16>,
    pub entrants: Vec<Entrant>,
    pub laps: Vec<Lap>,
    pub stops: Vec<Stop>,
    /// Pit-lane visits without a stop (drive-through penalties): their laps are not
    /// racing laps, but the tyres stay on (no new stint).
    pub drive_throughs: Vec<Stop>,
    /// Cars in the pit lane now (their visit is stored when they leave it).
    pub pit_entries: Vec<PitEntry>,
    /// Safety-car, virtual-safety-car and red-flag periods (start, end) in ms; an end of
    /// `i64::MAX` for one still running.
    pub neutral_periods: Vec<(i64, i64)>,
    /// The moment the strategy is for; the last line crossing when not set.
    pub now_ms: Option<i64>,
}

impl Race {
    /// The moment the strategy is for: `now_ms`, else the last line crossing.
    pub fn moment(&self) -> i64 {
        let last = self.laps.iter().map(|l| l.crossed_at_ms).max();
        self.now_ms.unwrap_or(last.unwrap_or(0))
    }

    /// The neutralisation running at `now_ms`, if any.
    pub fn neutralised_at(&self, now_ms: i64) -> Option<(i64, i64)> {
        self.neutral_periods
            .iter()
            .copied()
            .find(|p| p.0 <= now_ms && now_ms < p.1)
    }

    /// Whether `car` is in the pit lane now (stood in its box, not out yet).
    pub fn in_pit_lane(&self, car: u8) -> bool {
        self.pit_entries.iter().any(|e| e.car == car)
    }

    /// What was known at `now_ms`: laps ended and stops left by then.
    pub fn as_of(&self, now_ms: i64) -> Race {
        Race {
            circuit: self.circuit.clone(),
            total_laps: self.total_laps,
            entrants: self.entrants.clone(),
            laps: self
                .laps
                .iter()
                .filter(|l| l.crossed_at_ms <= now_ms)
                .cloned()
                .collect(),
            stops: left_by(&self.stops, now_ms),
            drive_throughs: left_by(&self.drive_throughs, now_ms),
            // Stored live (the race as it is now), or a stop then under way.
            pit_entries: self
                .pit_entries
                .iter()
                .filter(|e| e.entry_ms <= now_ms)
                .cloned()
                .chain(in_lane_at(&self.stops, now_ms))
                .collect(),
            now_ms: Some(now_ms),
            // A period's start is known once it began, its end once it ended.
            neutral_periods: self
                .neutral_periods
                .iter()
                .filter(|p| p.0 <= now_ms)
                .map(|p| (p.0, if p.1 <= now_ms { p.1 } else { i64::MAX }))
                .collect(),
        }
    }
}

/// The visits of `visits` over by `now_ms` (a visit is stored when the car leaves the pit
/// lane).
fn left_by(visits: &[Stop], now_ms: i64) -> Vec<Stop> {
    visits
        .iter()
        .filter(|s| s.exit_ms() <= now_ms)
        .cloned()
        .collect()
}

/// The stops of `stops` under way at `now_ms` whose car stood in its box by then: the
/// cars the processor had stored as in the pit lane (`pit_lane_now`).
fn in_lane_at(stops: &[Stop], now_ms: i64) -> impl Iterator<Item = PitEntry> + '_ {
    stops
        .iter()
        .filter(move |s| s.stationary_start_ms.is_some_and(|t| t <= now_ms) && now_ms < s.exit_ms())
        .map(|s| PitEntry {
            car: s.car,
            lap: s.lap,
            entry_ms: s.entry_ms,
        })
}

/// Lap-time cost of fuel, ms per kg: "about a tenth per 2 kg", as usually quoted (the
/// simulator uses the same figure).
pub const FUEL_MS_PER_KG: f64 = 55.0;

/// How much faster a car gets per lap from burning fuel, ms: a race starts with at most
/// 110 kg (about 1.75 kg a lap plus a reserve) and ends nearly empty.
pub fn fuel_ms_per_lap(total_laps: Option<u16>) -> f64 {
    let kg_per_lap = match total_laps {
        Some(n) if n > 0 => (f64::from(n) * 1.75 + 3.0).min(110.0) / f64::from(n),
        _ => 1.6,
    };
    FUEL_MS_PER_KG * kg_per_lap
}

impl Race {
    /// The laps and stops the analytics emitted (a whole race, or what a test or a
    /// benchmark fed them), as the strategy takes them.
    pub fn from_events(
        ev: &crate::analytics::Events,
        circuit: Option<&str>,
        total_laps: Option<u16>,
    ) -> Race {
        // Each car's names of its latest lap in the events (a feed may name a car late).
        let mut entrants: Vec<Entrant> = Vec::new();
        for l in &ev.laps {
            let (driver, team) = (l.id.driver.to_string(), l.id.team.to_string());
            match entrants.iter_mut().find(|e| e.car == l.id.car) {
                Some(e) => (e.driver, e.team) = (driver, team),
                None => entrants.push(Entrant {
                    car: l.id.car,
                    driver,
                    team,
                }),
            }
        }
        entrants.sort_by_key(|e| e.car);
        Race {
            circuit: circuit.map(str::to_string),
            total_laps,
            entrants,
            laps: ev
                .laps
                .iter()
                .map(|l| Lap {
                    car: l.id.car,
                    lap: l.lap,
                    lap_time_ms: i64::from(l.lap_time_ms),
                    crossed_at_ms: l.crossed_at_ms,
                    compound: l.compound,
                    tyre_age: l.tyre_age,
                    neutralised: false,
                })
                .collect(),
            stops: ev
                .pit_stops
                .iter()
                .map(|p| Stop {
                    car: p.id.car,
                    lap: p.lap,
                    entry_ms: p.entry_ms,
                    pit_lane_ms: p.pit_lane_ms,
                    stationary_start_ms: Some(p.stationary_start_ms),
                })
                .collect(),
            drive_throughs: ev
                .drive_throughs
                .iter()
                .map(|d| Stop {
                    car: d.id.car,
                    lap: d.lap,
                    entry_ms: d.entry_ms,
                    pit_lane_ms: d.pit_lane_ms,
                    stationary_start_ms: None,
                })
                .collect(),
            ..Race::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a review of the past takes for the cars in the pit lane at a moment, as the
    /// processor stored them then: a stop from its car's standstill in the box until it
    /// left the lane (a drive-through never), and an entry stored live.
    #[test]
    fn a_stop_is_in_the_pit_lane_from_its_standstill_until_it_ends() {
        let visit = |car, entry_ms, stationary: Option<i64>| Stop {
            car,
            lap: Some(3),
            entry_ms,
            pit_lane_ms: 20_000,
            stationary_start_ms: stationary.map(|s| entry_ms + s),
        };
        let race = Race {
            stops: vec![
                visit(1, 100_000, Some(8_000)),
                visit(2, 104_000, Some(9_000)),
            ],
            drive_throughs: vec![visit(4, 100_000, None)],
            pit_entries: vec![PitEntry {
                car: 3,
                lap: None,
                entry_ms: 106_000,
            }],
            ..Race::default()
        };
        let in_lane = |now: i64| -> Vec<u8> {
            let r = race.as_of(now);
            r.pit_entries.iter().map(|e| e.car).collect()
        };
        assert_eq!(in_lane(105_999), Vec::<u8>::new());
        assert_eq!(in_lane(107_999), [3]);
        assert_eq!(in_lane(108_000), [3, 1]);
        assert_eq!(in_lane(113_000), [3, 1, 2]);
        // Car 1 left at 120 s: its stop is made, no longer under way.
        let r = race.as_of(120_000);
        assert_eq!(r.stops.len(), 1);
        assert_eq!(
            r.pit_entries.iter().map(|e| e.car).collect::<Vec<_>>(),
            [3, 2]
        );
    }
}

/// Fixtures the strategy's tests and the strategy metrics' tests share.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::{Entrant, Lap};

    /// Cars 1..=`cars` named `D1`, `D2`… of team `T`.
    pub fn entrants(cars: u8) -> Vec<Entrant> {
        (1..=cars)
            .map(|car| Entrant {
                car,
                driver: format!("D{car}"),
                team: "T".into(),
            })
            .collect()
    }

    /// Laps 1, 2, ... of `car` taking `times` ms each, the first begun at `start_ms`.
    pub fn timed_laps(car: u8, start_ms: i64, times: impl IntoIterator<Item = i64>) -> Vec<Lap> {
        let mut at = start_ms;
        (1u16..)
            .zip(times)
            .map(|(lap, time)| {
                at += time;
                Lap {
                    car,
                    lap,
                    lap_time_ms: time,
                    crossed_at_ms: at,
                    compound: None,
                    tyre_age: None,
                    neutralised: false,
                }
            })
            .collect()
    }

    /// Lap times 1..=`laps` of a car that stops in lap 8: 90 s plus 100 ms per lap of tyre
    /// age, `fuel_ms` a lap faster for fuel burnt; the in-lap 10 s and the out-lap (9)
    /// 12 s slow, new tyres from lap 9, and lap 10, the first after the out-lap,
    /// `late_ms` slower than its tyres say.
    pub fn one_stop_times(laps: i64, fuel_ms: i64, late_ms: i64) -> Vec<i64> {
        (1..=laps)
            .map(|lap| {
                let age = if lap <= 8 { lap } else { lap - 8 };
                let extra = match lap {
                    8 => 10_000,
                    9 => 12_000,
                    10 => late_ms,
                    _ => 0,
                };
                90_000 + 100 * age - fuel_ms * lap + extra
            })
            .collect()
    }

    /// Laps 1..=`laps` of cars 1..=`cars` at 90 s each, car N crossing the line N s after
    /// the lap's 90 s mark (so 1 s apart, in car order).
    pub fn steady_laps(cars: u8, laps: u16) -> Vec<Lap> {
        (1..=cars)
            .flat_map(|car| {
                (1..=laps).map(move |lap| Lap {
                    car,
                    lap,
                    lap_time_ms: 90_000,
                    crossed_at_ms: i64::from(lap) * 90_000 + i64::from(car) * 1_000,
                    compound: None,
                    tyre_age: None,
                    neutralised: false,
                })
            })
            .collect()
    }
}
