//! Live per-car gauges for the "Ferrari F1 Telemetry" dashboard: the latest sample of
//! every car, its recent lap crossings and its pit stops. Set by the committer once per
//! commit (not per sample), from the newest sample of each car in the batch.
//!
//! Cardinality is bounded: cars are a `u8`, drivers and teams go through capped
//! [`TeamLabels`](crate::metrics::TeamLabels), and only the last [`LAPS_KEPT`] crossings of
//! a car are exported (the `lap` label lets PromQL join a car with a Ferrari on the same lap,
//! which is how the dashboard computes the gap to Ferrari).

use crate::analytics::{LapRecord, PitStopRecord};
use crate::metrics::TeamLabels;
use crate::model::{CORNERS, Sample};
use prometheus::{GaugeVec, Opts, Registry};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Lap crossings exported per car: a car up to this many laps behind a Ferrari still has a gap.
pub const LAPS_KEPT: usize = 3;

#[derive(Clone)]
struct Gauges {
    speed: GaugeVec,
    rpm: GaugeVec,
    throttle: GaugeVec,
    position: GaugeVec,
    lap: GaugeVec,
    tyre: GaugeVec,
    brake: GaugeVec,
    wear: GaugeVec,
    crossed: GaugeVec,
    last_stop: GaugeVec,
    best_stop: GaugeVec,
}

/// The live gauges of one processor pod.
pub struct CarMetrics {
    g: Gauges,
    drivers: TeamLabels,
    /// Exported lap labels per car (oldest first), to remove the oldest.
    laps: Mutex<HashMap<u8, VecDeque<String>>>,
}

fn gauge_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> GaugeVec {
    let g = GaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(g.clone())).expect("unique metric");
    g
}

const CAR: &[&str] = &["car", "driver", "team"];
const CAR_CORNER: &[&str] = &["car", "driver", "team", "corner"];
const CAR_LAP: &[&str] = &["car", "driver", "team", "lap"];

impl CarMetrics {
    pub fn new(r: &Registry) -> Self {
        let g = Gauges {
            speed: gauge_vec(r, "pitstop_car_speed_kph", "Latest speed of a car.", CAR),
            rpm: gauge_vec(r, "pitstop_car_rpm", "Latest engine speed of a car.", CAR),
            throttle: gauge_vec(
                r,
                "pitstop_car_throttle_ratio",
                "Latest throttle pedal position, 0–1.",
                CAR,
            ),
            position: gauge_vec(
                r,
                "pitstop_car_position",
                "Latest race position of a car.",
                CAR,
            ),
            lap: gauge_vec(r, "pitstop_car_lap", "Lap a car is on.", CAR),
            tyre: gauge_vec(
                r,
                "pitstop_car_tyre_surface_temperature_celsius",
                "Latest tyre surface temperature per corner.",
                CAR_CORNER,
            ),
            brake: gauge_vec(
                r,
                "pitstop_car_brake_temperature_celsius",
                "Latest brake temperature per corner.",
                CAR_CORNER,
            ),
            wear: gauge_vec(
                r,
                "pitstop_car_tyre_wear_ratio",
                "Tread worn away per corner, 0–1.",
                CAR_CORNER,
            ),
            crossed: gauge_vec(
                r,
                "pitstop_car_lap_completed_timestamp_seconds",
                "Race-clock time a car completed a lap (the last few laps).",
                CAR_LAP,
            ),
            last_stop: gauge_vec(
                r,
                "pitstop_car_last_pit_stop_stationary_seconds",
                "Stationary time of a car's latest pit stop.",
                CAR,
            ),
            best_stop: gauge_vec(
                r,
                "pitstop_car_best_pit_stop_stationary_seconds",
                "Shortest stationary time of a car's pit stops this session.",
                CAR,
            ),
        };
        CarMetrics {
            g,
            drivers: TeamLabels::new(64),
            laps: Mutex::new(HashMap::new()),
        }
    }

    fn ids<'a>(
        &self,
        teams: &TeamLabels,
        car: &'a str,
        driver: &'a str,
        team: &'a str,
    ) -> [&'a str; 3] {
        [car, self.drivers.label(driver), teams.label(team)]
    }

    /// Sets the gauges from the newest sample of a car; a channel the sample lacks leaves
    /// its gauge as it was (absent is unknown, not zero).
    pub fn sample(&self, teams: &TeamLabels, s: &Sample) {
        let car = s.car.to_string();
        let (driver, team) = (s.driver_name(), s.team_name());
        let id = self.ids(teams, &car, &driver, &team);
        let g = &self.g;
        g.speed.with_label_values(&id).set(s.speed_kph as f64);
        let scalars = [
            (&g.rpm, s.rpm.map(f64::from)),
            (&g.throttle, s.throttle.map(f64::from)),
            (&g.position, s.position.map(f64::from)),
            (&g.lap, s.lap.map(f64::from)),
        ];
        for (gauge, value) in scalars {
            if let Some(v) = value {
                gauge.with_label_values(&id).set(v);
            }
        }
        let corners = [
            (&g.tyre, s.tyre_surface_temp_c, 1.0),
            (&g.brake, s.brake_temp_c, 1.0),
            (&g.wear, s.tyre_wear_pct, 0.01),
        ];
        for (gauge, values, scale) in corners {
            let Some(values) = values else { continue };
            for (corner, v) in CORNERS.iter().zip(values) {
                gauge
                    .with_label_values(&[id[0], id[1], id[2], corner])
                    .set(v as f64 * scale);
            }
        }
    }

    /// Exports a lap crossing and forgets the car's crossings older than [`LAPS_KEPT`].
    pub fn lap(&self, teams: &TeamLabels, l: &LapRecord) {
        let car = l.id.car.to_string();
        let id = self.ids(teams, &car, &l.id.driver, &l.id.team);
        let lap = l.lap.to_string();
        self.g
            .crossed
            .with_label_values(&[id[0], id[1], id[2], &lap])
            .set(l.crossed_at_ms as f64 / 1000.0);
        let mut laps = self.laps.lock().expect("poisoned");
        let kept = laps.entry(l.id.car).or_default();
        kept.push_back(lap);
        while kept.len() > LAPS_KEPT {
            let old = kept.pop_front().expect("non-empty");
            // The series may already be gone (a driver relabelled); nothing to do then.
            let _ = self
                .g
                .crossed
                .remove_label_values(&[id[0], id[1], id[2], &old]);
        }
    }

    /// Exports a pit stop's stationary time as the car's latest, and as its best if it is.
    pub fn pit_stop(&self, teams: &TeamLabels, p: &PitStopRecord) {
        let car = p.id.car.to_string();
        let id = self.ids(teams, &car, &p.id.driver, &p.id.team);
        let t = p.stationary_ms as f64 / 1000.0;
        self.g.last_stop.with_label_values(&id).set(t);
        let best = self.g.best_stop.with_label_values(&id);
        // A fresh gauge reads 0: treat it as "no stop yet".
        if best.get() == 0.0 || t < best.get() {
            best.set(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::CarId;
    use crate::metrics::render;
    use crate::model::Compound;

    fn id() -> CarId {
        CarId {
            session: "s".into(),
            car: 16,
            driver: "LEC".into(),
            team: "Ferrari".into(),
        }
    }

    /// Only the last few lap crossings stay exported, and the best stop is the minimum.
    #[test]
    fn keeps_recent_laps_and_best_stop() {
        let r = Registry::new();
        let m = CarMetrics::new(&r);
        let teams = TeamLabels::new(4);
        for lap in 1..=5u16 {
            m.lap(
                &teams,
                &LapRecord {
                    id: id(),
                    lap,
                    lap_time_ms: 90_000,
                    sectors_ms: [None; 3],
                    compound: Some(Compound::Medium),
                    tyre_age: Some(lap),
                    top_speed_kph: 330.0,
                    crossed_at_ms: lap as i64 * 90_000,
                    position: Some(1),
                },
            );
        }
        let text = render(&r);
        let crossings: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("pitstop_car_lap_completed_timestamp_seconds{"))
            .collect();
        assert_eq!(crossings.len(), LAPS_KEPT, "{text}");
        assert!(text.contains(
            "pitstop_car_lap_completed_timestamp_seconds{car=\"16\",driver=\"LEC\",lap=\"5\",team=\"Ferrari\"} 450"
        ));
        assert!(!text.contains("lap=\"2\""));

        for ms in [2_900, 2_400, 3_100] {
            let p = PitStopRecord {
                id: id(),
                lap: Some(20),
                entry_ms: 0,
                stationary_start_ms: 0,
                stationary_ms: ms,
                pit_lane_ms: 21_000,
                compound_in: Some(Compound::Medium),
                compound_out: Some(Compound::Hard),
            };
            m.pit_stop(&teams, &p);
        }
        let text = render(&r);
        assert!(text.contains("pitstop_car_last_pit_stop_stationary_seconds{car=\"16\",driver=\"LEC\",team=\"Ferrari\"} 3.1"));
        assert!(text.contains("pitstop_car_best_pit_stop_stationary_seconds{car=\"16\",driver=\"LEC\",team=\"Ferrari\"} 2.4"));
    }
}
