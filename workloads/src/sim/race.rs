//! The race model: a deterministic (per seed) simulation of every car, stepped at a
//! fixed sample rate. Simple but plausible physics: a periodic speed profile whose
//! average gives the target lap time; lap time grows with tyre age and fuel load;
//! first-order thermal models for tyres, brakes and engine; pit stops from a
//! strategy; anomalies injected on top of the clean channels.

use super::circuit::Circuit;
use super::grid::Entrant;
use super::truth::{AnomalyKind, GroundTruth, TrueAnomaly, TruePitStop};
use crate::model::{Compound, PitStatus, Sample};
use compact_str::CompactString;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal, Normal};
use std::f64::consts::TAU;

/// Pit-lane speed limit, m/s (80 km/h).
const PIT_SPEED: f64 = 80.0 / 3.6;
/// Lap-time cost of fuel load (about a tenth per 2 kg, as usually quoted), relative to
/// 50 kg on board.
const FUEL_S_PER_KG: f64 = 0.055;
/// Grip gained per lap as rubber goes down (track evolution).
const TRACK_EVOLUTION_S_PER_LAP: f64 = 0.02;
/// Amplitude of the speed profile around its mean.
const PROFILE_AMPLITUDE: f64 = 0.32;

/// What to simulate.
#[derive(Clone, Debug)]
pub struct RaceConfig {
    pub session: String,
    pub circuit: &'static Circuit,
    pub laps: u16,
    pub grid: Vec<Entrant>,
    pub seed: u64,
    /// Samples per second per car (4 like live timing … 60 like the F1 game).
    pub sample_hz: f64,
    /// Probability that a car suffers an anomaly on a given lap.
    pub anomaly_rate: f64,
    /// Race start, ms since the Unix epoch (the race clock).
    pub start_ms: i64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    Running,
    /// Travelling in the pit lane; `box_at` and `exit_at` are metres travelled since entry.
    PitLane {
        travelled: f64,
        box_at: f64,
        exit_at: f64,
        stopped: bool,
    },
    Stationary {
        until_s: f64,
        travelled: f64,
        exit_at: f64,
    },
}

#[derive(Clone, Debug)]
struct PlannedStop {
    lap: u16,
    next: Compound,
    stationary_s: f64,
    pit_lane_s: f64,
}

#[derive(Clone, Debug)]
struct ActiveAnomaly {
    kind: AnomalyKind,
    corner: usize,
    start_s: f64,
    until_s: f64,
    magnitude: f64,
    truth_index: usize,
}

#[derive(Clone, Debug)]
struct Car {
    info: crate::stream::CarInfo,
    pace: f64,
    seq: u32,
    lap: u16,
    dist: f64,
    lap_target_s: f64,
    v0: f64,
    phase: Phase,
    compound: Compound,
    tyre_age: u16,
    wear: [f64; 4],
    fuel: f64,
    burn_per_m: f64,
    ers: f64,
    engine_c: f64,
    throttle_avg: f64,
    brake_c: [f64; 4],
    surface_c: [f64; 4],
    inner_c: [f64; 4],
    stops: Vec<PlannedStop>,
    current_stop: Option<(usize, i64, f64)>, // (truth index, entry ms, stationary started s)
    pending_anomaly: Option<(f64, AnomalyKind)>, // (lap fraction, kind)
    anomaly: Option<ActiveAnomaly>,
    finished: bool,
    total_dist: f64,
    finish_order: Option<usize>,
}

/// A race in progress. Call [`Race::step`] until [`Race::finished`].
pub struct Race {
    cfg: RaceConfig,
    rng: ChaCha8Rng,
    /// Sensor noise, a draw per channel per sample: a fast generator (the race's events
    /// come from `rng`, a cryptographic one, so a seed's strategy is stable).
    noise_rng: SmallRng,
    cars: Vec<Car>,
    time_s: f64,
    dt: f64,
    chequered: bool,
    finishers: usize,
    truth: GroundTruth,
}

fn base_temp(c: Compound) -> f64 {
    match c {
        Compound::Soft => 104.0,
        Compound::Medium => 100.0,
        Compound::Hard => 96.0,
        Compound::Intermediate => 85.0,
        Compound::Wet => 75.0,
    }
}

/// Lap-time cost per lap of tyre age, seconds, and tread loss per lap, percent.
pub fn degradation(c: Compound) -> (f64, f64) {
    match c {
        Compound::Soft => (0.085, 3.0),
        Compound::Medium => (0.055, 2.0),
        Compound::Hard => (0.035, 1.4),
        Compound::Intermediate | Compound::Wet => (0.06, 2.0),
    }
}

pub fn compound_offset(c: Compound) -> f64 {
    match c {
        Compound::Soft => -0.6,
        Compound::Medium => 0.0,
        Compound::Hard => 0.4,
        Compound::Intermediate | Compound::Wet => 5.0,
    }
}

/// Hot pressure at the reference temperature: fronts ~25 psi, rears ~21.5 psi.
fn pressure(corner: usize, inner_c: f64) -> f64 {
    let reference = if corner < 2 { 24.8 } else { 21.6 };
    reference * (inner_c + 273.15) / (100.0 + 273.15)
}

/// Draws a stationary time, calibrated on DHL's 5,474 stops of 2018–2026 (p25 2.53 s,
/// median 2.90 s, p75 3.55 s, p90 5.73 s, 17% over 4 s): a log-normal body of clean
/// stops (floor 1.8 s, the record), 15% slow stops of 3.5–5.5 s and 6.5% wheel-gun
/// failures or other problems of 6–13 s. `tests/realism.rs` checks it against the data.
pub fn draw_stationary_s(rng: &mut impl Rng) -> f64 {
    let roll: f64 = rng.random();
    if roll < 0.065 {
        rng.random_range(6.0..13.0)
    } else if roll < 0.215 {
        rng.random_range(3.5..5.5)
    } else {
        let ln = LogNormal::new(2.74_f64.ln(), 0.15).expect("valid");
        ln.sample(rng).max(1.8)
    }
}

impl Race {
    pub fn new(cfg: RaceConfig) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let dt = 1.0 / cfg.sample_hz.clamp(1.0, 1000.0);
        let fuel_start = (cfg.laps as f64 * 1.75 + 3.0).min(110.0);
        let race_len = cfg.laps as f64 * cfg.circuit.length_m;
        let cars = cfg
            .grid
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let stops = plan_strategy(&mut rng, cfg.laps, cfg.circuit);
                let start = if rng.random_bool(0.6) {
                    Compound::Medium
                } else {
                    Compound::Soft
                };
                let mut car = Car {
                    info: e.info.clone(),
                    pace: e.pace,
                    seq: 0,
                    lap: 1,
                    // Grid slots are 8 m apart behind the line; start them on lap 1 at 0.
                    dist: 0.0,
                    lap_target_s: 0.0,
                    v0: 0.0,
                    phase: Phase::Running,
                    compound: start,
                    tyre_age: 0,
                    wear: [0.0; 4],
                    fuel: fuel_start,
                    burn_per_m: (fuel_start - 1.0) / race_len,
                    ers: 4.0,
                    engine_c: 106.0,
                    throttle_avg: 0.6,
                    brake_c: [450.0; 4],
                    surface_c: [base_temp(start) - 5.0; 4],
                    inner_c: [base_temp(start); 4],
                    stops,
                    current_stop: None,
                    pending_anomaly: None,
                    anomaly: None,
                    finished: false,
                    total_dist: -(i as f64) * 8.0,
                    finish_order: None,
                };
                new_lap(&mut car, &mut rng, cfg.circuit);
                car
            })
            .collect();
        Race {
            rng,
            noise_rng: SmallRng::seed_from_u64(cfg.seed ^ 0x6e6f_6973_6500),
            cars,
            time_s: 0.0,
            dt,
            chequered: false,
            finishers: 0,
            truth: GroundTruth::default(),
            cfg,
        }
    }

    pub fn config(&self) -> &RaceConfig {
        &self.cfg
    }

    pub fn truth(&self) -> &GroundTruth {
        &self.truth
    }

    pub fn finished(&self) -> bool {
        self.cars.iter().all(|c| c.finished)
    }

    /// Lap the leader is on (the race's current lap).
    pub fn leader_lap(&self) -> u16 {
        self.cars
            .iter()
            .map(|c| c.lap)
            .max()
            .unwrap_or(1)
            .min(self.cfg.laps)
    }

    /// Race clock now, ms since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        self.cfg.start_ms + (self.time_s * 1000.0).round() as i64
    }

    /// Advances the race by one sample interval and appends one sample per running car.
    pub fn step(&mut self, out: &mut Vec<Sample>) {
        self.time_s += self.dt;
        let first = out.len();
        let session: CompactString = self.cfg.session.as_str().into();
        for i in 0..self.cars.len() {
            if self.cars[i].finished {
                continue;
            }
            let sample = self.advance_car(i, &session);
            if let Some(s) = sample {
                out.push(s);
            }
        }
        // Positions: finishers in finishing order, then by distance covered.
        let mut order: Vec<usize> = (0..self.cars.len()).collect();
        order.sort_by(|&a, &b| {
            let (ca, cb) = (&self.cars[a], &self.cars[b]);
            match (ca.finish_order, cb.finish_order) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => cb.total_dist.total_cmp(&ca.total_dist),
            }
        });
        let mut position = [0u8; 256];
        for (p, &i) in order.iter().enumerate() {
            position[self.cars[i].info.car as usize] = p as u8 + 1;
        }
        for s in &mut out[first..] {
            s.position = Some(position[s.car as usize]);
        }
    }

    /// Moves car `i` one sample interval and returns the sample it publishes (always
    /// one: a car is not stepped after the sample at its finish). The steps run in this
    /// order because their random draws, in this order, are what a seed's race is.
    fn advance_car(&mut self, i: usize, session: &CompactString) -> Option<Sample> {
        let motion = self.move_car(i);
        let finishing = self.cross_line(i);
        let mut s = self.drive_and_measure(i, session, &motion);
        // The sample takes its seq and counts as published; a finisher is not stepped again.
        let car = &mut self.cars[i];
        car.seq += 1;
        car.finished = finishing;
        *self.truth.published.entry(car.info.car).or_default() += 1;
        self.inject_anomaly(i, &motion, &mut s);
        Some(s)
    }

    /// Motion: moves car `i` along the speed profile for one tick, or through the pit
    /// lane at the speed limit. A car whose planned stop is due turns into the pit lane
    /// near the end of the lap (the stop goes into the ground truth), halts at its box
    /// for the stationary time (fresh tyres), then drives out and races on.
    fn move_car(&mut self, i: usize) -> Motion {
        let dt = self.dt;
        let now_s = self.time_s;
        let now_ms = self.now_ms();
        let circuit = self.cfg.circuit;
        let length = circuit.length_m;
        let car = &mut self.cars[i];

        let phase_angle = TAU * circuit.speed_cycles as f64 * car.dist / length;
        let profile = 1.0 + PROFILE_AMPLITUDE * phase_angle.cos();
        let slope = -phase_angle.sin(); // >0 accelerating, <0 braking
        let mut speed;
        let mut pit_status = PitStatus::None;
        match car.phase {
            Phase::Running => {
                speed = car.v0 * profile;
                let stop_due = car.stops.first().is_some_and(|s| s.lap == car.lap);
                if stop_due && !self.chequered {
                    let stop = car.stops[0].clone();
                    let travel = stop.pit_lane_s - stop.stationary_s;
                    let exit_at = PIT_SPEED * travel;
                    if car.dist >= length - exit_at * 0.55 {
                        car.phase = Phase::PitLane {
                            travelled: 0.0,
                            box_at: exit_at * 0.62,
                            exit_at,
                            stopped: false,
                        };
                        let entry_ms = now_ms;
                        self.truth.pit_stops.push(TruePitStop {
                            car: car.info.car,
                            lap: car.lap,
                            entry_ms,
                            stationary_ms: (stop.stationary_s * 1000.0).round() as i64,
                            pit_lane_ms: (stop.pit_lane_s * 1000.0).round() as i64,
                            compound_in: car.compound,
                            compound_out: stop.next,
                        });
                        car.current_stop = Some((self.truth.pit_stops.len() - 1, entry_ms, 0.0));
                        speed = PIT_SPEED;
                        pit_status = PitStatus::PitLane;
                    }
                }
            }
            Phase::PitLane { .. } => {
                speed = PIT_SPEED;
                pit_status = PitStatus::PitLane;
            }
            Phase::Stationary { .. } => {
                speed = 0.0;
                pit_status = PitStatus::Stationary;
            }
        }
        let step = speed * dt;
        car.dist += step;
        car.total_dist += step;
        car.fuel = (car.fuel - step * car.burn_per_m).max(0.0);
        match car.phase {
            Phase::PitLane {
                travelled,
                box_at,
                exit_at,
                stopped,
            } => {
                let travelled = travelled + step;
                if !stopped && travelled >= box_at {
                    let stop = car.stops[0].clone();
                    // Exact instant the car reached its box, within this tick.
                    let overshoot = (travelled - box_at) / PIT_SPEED;
                    let started = now_s - overshoot;
                    car.phase = Phase::Stationary {
                        until_s: started + stop.stationary_s,
                        travelled: box_at,
                        exit_at,
                    };
                    car.dist -= travelled - box_at;
                    car.total_dist -= travelled - box_at;
                    if let Some(cs) = car.current_stop.as_mut() {
                        cs.2 = started;
                    }
                    speed = 0.0;
                    pit_status = PitStatus::Stationary;
                    change_tyres(car, stop.next);
                } else if travelled >= exit_at {
                    // This tick was still driven at pit speed: the sample says so, and
                    // the next one (back at racing speed) is the first outside.
                    car.phase = Phase::Running;
                    car.stops.remove(0);
                    car.current_stop = None;
                } else {
                    car.phase = Phase::PitLane {
                        travelled,
                        box_at,
                        exit_at,
                        stopped,
                    };
                }
            }
            Phase::Stationary {
                until_s,
                travelled,
                exit_at,
            } => {
                if now_s >= until_s {
                    car.phase = Phase::PitLane {
                        travelled,
                        box_at: 0.0,
                        exit_at,
                        stopped: true,
                    };
                    pit_status = PitStatus::PitLane;
                    speed = PIT_SPEED;
                }
            }
            Phase::Running => {}
        }
        Motion {
            speed,
            pit_status,
            profile,
            slope,
        }
    }

    /// Lap crossing: when car `i` passes the line it starts a new lap (tyre wear, a new
    /// lap-time target, maybe an anomaly scheduled), or takes the chequered flag. Returns
    /// whether this tick's sample is the car's last.
    fn cross_line(&mut self, i: usize) -> bool {
        let circuit = self.cfg.circuit;
        let length = circuit.length_m;
        let rng = &mut self.rng;
        let car = &mut self.cars[i];

        let mut finishing = false;
        if car.dist >= length {
            car.dist -= length;
            let completed = car.lap;
            if self.chequered || completed >= self.cfg.laps {
                // The crossing sample is published (so the last lap is timed), then the
                // car stops publishing: the cool-down lap is not telemetry we analyse.
                self.chequered = true;
                car.lap += 1;
                finishing = true;
                car.finish_order = Some(self.finishers);
                self.finishers += 1;
            } else {
                car.lap += 1;
                car.tyre_age += 1;
                for w in &mut car.wear {
                    *w = (*w + degradation(car.compound).1 * rng.random_range(0.9..1.1)).min(100.0);
                }
                new_lap(car, rng, circuit);
                maybe_schedule_anomaly(car, rng, self.cfg.anomaly_rate, self.cfg.laps);
            }
        }
        finishing
    }

    /// Driver inputs and thermal models: throttle and brake from where car `i` is on the
    /// profile, the engine, brake and tyre temperatures and the ERS store they drive,
    /// then the sample its sensors report this tick (with sensor noise).
    fn drive_and_measure(&mut self, i: usize, session: &CompactString, m: &Motion) -> Sample {
        let dt = self.dt;
        let now_ms = self.now_ms();
        let length = self.cfg.circuit.length_m;
        let nrng = &mut self.noise_rng;
        let car = &mut self.cars[i];
        let &Motion {
            speed,
            pit_status,
            profile,
            slope,
        } = m;
        let moving = m.moving();
        let (throttle, brake) = if !moving {
            (if speed > 0.0 { 0.25 } else { 0.0 }, 0.0)
        } else if slope > 0.15 {
            (1.0, 0.0)
        } else if slope < -0.55 {
            (0.0, 0.6 + 0.4 * (-slope - 0.55) / 0.45)
        } else {
            (0.55 + 0.4 * slope.max(0.0), 0.0)
        };
        let throttle = (throttle + nrng.random_range(-0.02..0.02)).clamp(0.0, 1.0);
        let brake = if brake > 0.0 {
            (brake + nrng.random_range(-0.03..0.03)).clamp(0.0, 1.0)
        } else {
            0.0
        };
        car.throttle_avg += (throttle - car.throttle_avg) * (dt / 30.0);
        let engine_target = 103.0 + 10.0 * car.throttle_avg;
        car.engine_c += (engine_target - car.engine_c) * (dt / 20.0);

        for c in 0..4 {
            let front_bias = if c < 2 { 1.0 } else { 0.85 };
            let target = if brake > 0.0 {
                650.0 + 300.0 * brake * front_bias
            } else {
                420.0
            };
            let tau = if brake > 0.0 { 0.6 } else { 2.5 };
            car.brake_c[c] += (target - car.brake_c[c]) * (dt / tau).min(1.0);

            let load = if moving {
                6.0 * (speed / car.v0.max(1.0) - 1.0) + 4.0 * brake
            } else {
                -10.0
            };
            let surf_target =
                base_temp(car.compound) + load + if c < 2 { 3.0 } else { 0.0 } + 0.08 * car.wear[c];
            car.surface_c[c] += (surf_target - car.surface_c[c]) * (dt / 8.0);
            car.inner_c[c] += (car.surface_c[c] - car.inner_c[c]) * (dt / 45.0);
        }
        if moving {
            car.ers = (car.ers
                + if brake > 0.0 {
                    0.12 * dt
                } else {
                    -0.05 * dt * throttle
                })
            .clamp(0.0, 4.0);
        }

        let speed_kph = speed * 3.6;
        let gear: i8 = if speed_kph < 1.0 {
            0
        } else {
            ((speed_kph / 42.0).ceil() as i8).clamp(1, 8)
        };
        let rpm = if speed_kph < 1.0 {
            4_200.0
        } else if !moving {
            7_000.0
        } else {
            let band = (speed_kph - (gear as f64 - 1.0) * 42.0) / 42.0;
            9_000.0 + 3_200.0 * band.clamp(0.0, 1.0)
        };
        let sector = ((car.dist / length * 3.0).floor() as u8 + 1).min(3);

        let noise = Normal::new(0.0, 1.0).expect("valid");
        Sample {
            session: session.clone(),
            car: car.info.car,
            timestamp_ms: now_ms,
            speed_kph: (speed_kph
                + if speed_kph > 1.0 {
                    noise.sample(nrng) * 0.3
                } else {
                    0.0
                })
            .max(0.0) as f32,
            seq: car.seq,
            driver: Some(car.info.driver.clone()),
            team: Some(car.info.team.clone()),
            lap: Some(car.lap),
            sector: Some(sector),
            lap_distance_m: Some(car.dist as f32),
            rpm: Some((rpm + noise.sample(nrng) * 40.0).clamp(0.0, 15_000.0) as u16),
            gear: Some(gear),
            throttle: Some(throttle as f32),
            brake: Some(brake as f32),
            drs: Some(moving && car.lap > 2 && profile > 1.25),
            tyre_surface_temp_c: Some(std::array::from_fn(|c| {
                (car.surface_c[c] + noise.sample(nrng) * 0.4) as f32
            })),
            tyre_inner_temp_c: Some(std::array::from_fn(|c| {
                (car.inner_c[c] + noise.sample(nrng) * 0.15) as f32
            })),
            tyre_pressure_psi: Some(std::array::from_fn(|c| {
                (pressure(c, car.inner_c[c]) + noise.sample(nrng) * 0.04) as f32
            })),
            brake_temp_c: Some(std::array::from_fn(|c| {
                (car.brake_c[c] + noise.sample(nrng) * 4.0) as f32
            })),
            tyre_compound: Some(car.compound),
            tyre_age_laps: Some(car.tyre_age),
            tyre_wear_pct: Some(car.wear.map(|w| w as f32)),
            fuel_kg: Some(car.fuel as f32),
            ers_store_mj: Some(car.ers as f32),
            engine_temp_c: Some((car.engine_c + noise.sample(nrng) * 0.15) as f32),
            pit_status: Some(pit_status),
            position: Some(1),
            x: None,
            y: None,
            z: None,
        }
    }

    /// Anomalies: starts car `i`'s scheduled anomaly when it reaches the planned point
    /// of the lap (recorded in the ground truth), ends it when its time is up or when a
    /// pit entry cuts it short, and while it lasts writes it over the sample's channel.
    fn inject_anomaly(&mut self, i: usize, m: &Motion, s: &mut Sample) {
        let now_s = self.time_s;
        let now_ms = self.now_ms();
        let length = self.cfg.circuit.length_m;
        let rng = &mut self.rng;
        let nrng = &mut self.noise_rng;
        let car = &mut self.cars[i];
        let moving = m.moving();
        let noise = Normal::new(0.0, 1.0).expect("valid");

        if let Some((at, kind)) = car.pending_anomaly
            && moving
            && car.dist / length >= at
        {
            car.pending_anomaly = None;
            let duration = match kind {
                AnomalyKind::SensorFault => rng.random_range(0.5..1.5),
                AnomalyKind::BrakeOverheat => rng.random_range(3.0..6.0),
                _ => rng.random_range(4.0..9.0),
            };
            let magnitude = match kind {
                AnomalyKind::BrakeOverheat => rng.random_range(1_200.0..1_380.0),
                AnomalyKind::TyreOverheat => rng.random_range(140.0..165.0),
                // Slow punctures (3–6 psi) are only visible against the car's own
                // baseline; big ones also break the absolute floor.
                AnomalyKind::PressureLoss => rng.random_range(3.5..14.0),
                AnomalyKind::EngineTempSpike => rng.random_range(14.0..40.0),
                AnomalyKind::SensorFault => rng.random_range(18_000.0..24_000.0),
            };
            self.truth.anomalies.push(TrueAnomaly {
                car: car.info.car,
                lap: car.lap,
                kind,
                start_ms: now_ms,
                end_ms: now_ms + (duration * 1000.0) as i64,
            });
            car.anomaly = Some(ActiveAnomaly {
                kind,
                corner: rng.random_range(0..4),
                start_s: now_s,
                until_s: now_s + duration,
                magnitude,
                truth_index: self.truth.anomalies.len() - 1,
            });
        }
        if let Some(a) = &car.anomaly {
            if now_s >= a.until_s || !moving {
                if !moving {
                    // Cut short by a pit entry: the truth ends here.
                    self.truth.anomalies[a.truth_index].end_ms = now_ms;
                }
                car.anomaly = None;
            } else {
                let c = a.corner;
                let ramp = ((now_s - a.start_s) / 0.3).min(1.0);
                // The simulator fills every channel, so these are always present.
                let present = "the simulator sets every channel";
                match a.kind {
                    AnomalyKind::BrakeOverheat => {
                        s.brake_temp_c.as_mut().expect(present)[c] =
                            (a.magnitude + noise.sample(nrng) * 5.0) as f32
                    }
                    AnomalyKind::TyreOverheat => {
                        s.tyre_surface_temp_c.as_mut().expect(present)[c] =
                            (a.magnitude + noise.sample(nrng)) as f32
                    }
                    AnomalyKind::PressureLoss => {
                        let p = &mut s.tyre_pressure_psi.as_mut().expect(present)[c];
                        *p = (*p as f64 - a.magnitude * ramp).max(0.5) as f32
                    }
                    AnomalyKind::EngineTempSpike => {
                        *s.engine_temp_c.as_mut().expect(present) += (a.magnitude * ramp) as f32
                    }
                    AnomalyKind::SensorFault => s.rpm = Some(a.magnitude as u16),
                }
            }
        }
    }
}

/// What a car's motion this tick leaves for the steps after it.
struct Motion {
    /// Speed over the tick, m/s.
    speed: f64,
    pit_status: PitStatus,
    /// The speed profile where the tick started, around 1 (DRS opens on its peaks).
    profile: f64,
    /// The profile's trend there: > 0 accelerating, < 0 braking.
    slope: f64,
}

impl Motion {
    /// Racing: neither in the pit lane nor in the box.
    fn moving(&self) -> bool {
        self.pit_status == PitStatus::None
    }
}

/// Picks stop laps and compounds: one stop in short races, one or two in long ones,
/// stint lengths scaled from 2024 medians (soft 12, medium 18, hard 24 laps of ~55).
fn plan_strategy(rng: &mut impl Rng, laps: u16, circuit: &Circuit) -> Vec<PlannedStop> {
    let pit_noise = Normal::new(0.0, 0.6).expect("valid");
    let draw = |lap: u16, next: Compound, rng: &mut ChaCha8Rng| PlannedStop {
        lap,
        next,
        stationary_s: draw_stationary_s(rng),
        pit_lane_s: 0.0,
    };
    let mut inner = ChaCha8Rng::seed_from_u64(rng.random());
    let two_stops = laps >= 30 && inner.random_bool(0.35);
    let mut stops = if laps < 3 {
        Vec::new()
    } else if two_stops {
        let a = (laps as f64 * inner.random_range(0.25..0.35)).round() as u16;
        let b = (laps as f64 * inner.random_range(0.6..0.72)).round() as u16;
        vec![
            draw(a.max(1), Compound::Medium, &mut inner),
            draw(b.max(a + 1), Compound::Hard, &mut inner),
        ]
    } else {
        let a = (laps as f64 * inner.random_range(0.35..0.6)).round() as u16;
        vec![draw(a.clamp(1, laps - 1), Compound::Hard, &mut inner)]
    };
    for s in &mut stops {
        let travel = circuit.pit_lane_s - 2.6 + pit_noise.sample(&mut inner);
        s.pit_lane_s = travel.max(10.0) + s.stationary_s;
    }
    stops
}

fn new_lap(car: &mut Car, rng: &mut impl Rng, circuit: &Circuit) {
    let noise = Normal::new(0.0, 0.0025).expect("valid");
    let (deg, _) = degradation(car.compound);
    let target = circuit.race_lap_s * car.pace * (1.0 + noise.sample(rng))
        + compound_offset(car.compound)
        + deg * car.tyre_age as f64
        + FUEL_S_PER_KG * (car.fuel - 50.0)
        - TRACK_EVOLUTION_S_PER_LAP * (car.lap as f64 - 1.0);
    car.lap_target_s = target;
    // Mean of 1/(1 + a·cos) over a period is 1/sqrt(1 - a²): pick v0 so the lap takes `target`.
    car.v0 = circuit.length_m / (target * (1.0 - PROFILE_AMPLITUDE * PROFILE_AMPLITUDE).sqrt());
}

fn change_tyres(car: &mut Car, next: Compound) {
    car.compound = next;
    car.tyre_age = 0;
    car.wear = [0.0; 4];
    // Blankets hold the new set at ~80 °C surface.
    car.surface_c = [80.0; 4];
    car.inner_c = [85.0; 4];
}

fn maybe_schedule_anomaly(car: &mut Car, rng: &mut impl Rng, rate: f64, laps: u16) {
    // Not on the first lap (baselines are warming up), not on stop laps (the car is in
    // the pit lane for part of them) and not on the last lap (the car stops publishing).
    let stop_lap = car
        .stops
        .iter()
        .any(|s| s.lap == car.lap || s.lap + 1 == car.lap);
    if car.lap < 2 || car.lap >= laps || stop_lap || rate <= 0.0 {
        return;
    }
    if rng.random_bool(rate.min(1.0)) {
        let kind = AnomalyKind::ALL[rng.random_range(0..AnomalyKind::ALL.len())];
        car.pending_anomaly = Some((rng.random_range(0.1..0.6), kind));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{circuit::circuit, grid::default_grid};

    pub(crate) fn config(laps: u16, cars: usize, seed: u64, rate: f64) -> RaceConfig {
        RaceConfig {
            session: "test".into(),
            circuit: circuit("monza").unwrap(),
            laps,
            grid: default_grid(cars),
            seed,
            sample_hz: 10.0,
            anomaly_rate: rate,
            start_ms: 1_725_800_000_000,
        }
    }

    fn run(cfg: RaceConfig) -> (Vec<Sample>, GroundTruth) {
        let mut race = Race::new(cfg);
        let mut out = Vec::new();
        while !race.finished() {
            race.step(&mut out);
        }
        let truth = race.truth().clone();
        (out, truth)
    }

    /// Same seed, same race; another seed, another race.
    #[test]
    fn deterministic_per_seed() {
        let (a, ta) = run(config(3, 4, 9, 0.2));
        let (b, tb) = run(config(3, 4, 9, 0.2));
        assert_eq!(a, b);
        assert_eq!(ta, tb);
        let (c, _) = run(config(3, 4, 10, 0.2));
        assert_ne!(a, c);
    }

    /// Every sample passes wire validation and lap times are Monza-like.
    #[test]
    fn samples_are_valid_and_plausible() {
        let (samples, truth) = run(config(5, 20, 1, 0.0));
        for s in &samples {
            crate::model::validate(s).unwrap_or_else(|e| panic!("{e}: {s:?}"));
        }
        let max_speed = samples.iter().map(|s| s.speed_kph).fold(0.0, f32::max);
        assert!((300.0..360.0).contains(&max_speed), "top speed {max_speed}");
        let max_brake = samples
            .iter()
            .flat_map(|s| s.brake_temp_c.unwrap())
            .fold(0.0, f32::max);
        assert!(
            (800.0..1100.0).contains(&max_brake),
            "max brake temp {max_brake}"
        );
        // 5 laps of ~85 s at 10 Hz for 20 cars.
        let per_car = samples.len() / 20;
        assert!((4000..4800).contains(&per_car), "{per_car} samples per car");
        assert_eq!(truth.published.values().sum::<u64>(), samples.len() as u64);
        assert!(truth.anomalies.is_empty());
    }

    /// Every car stops exactly once in a short race and the stop shows up as 0→1→2→1→0.
    #[test]
    fn pit_stops_follow_the_strategy() {
        let (samples, truth) = run(config(6, 6, 3, 0.0));
        assert_eq!(truth.pit_stops.len(), 6);
        for stop in &truth.pit_stops {
            let statuses: Vec<_> = samples
                .iter()
                .filter(|s| s.car == stop.car)
                .map(|s| s.pit_status.unwrap())
                .collect();
            let mut transitions: Vec<_> = statuses
                .windows(2)
                .filter(|w| w[0] != w[1])
                .map(|w| (w[0], w[1]))
                .collect();
            transitions.dedup();
            assert_eq!(
                transitions,
                [
                    (PitStatus::None, PitStatus::PitLane),
                    (PitStatus::PitLane, PitStatus::Stationary),
                    (PitStatus::Stationary, PitStatus::PitLane),
                    (PitStatus::PitLane, PitStatus::None)
                ],
                "car {}",
                stop.car
            );
            assert!(stop.compound_in != stop.compound_out);
        }
    }

    /// The drawn stationary times have DHL's shape: median near 2.9 s, a slow tail.
    #[test]
    fn stationary_distribution_is_realistic() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut v: Vec<f64> = (0..5000).map(|_| draw_stationary_s(&mut rng)).collect();
        v.sort_by(f64::total_cmp);
        let median = v[v.len() / 2];
        let slow = v.iter().filter(|&&x| x > 4.0).count() as f64 / v.len() as f64;
        assert!((2.7..3.1).contains(&median), "median {median}");
        assert!((0.14..0.22).contains(&slow), "share > 4 s {slow}");
        assert!(v[0] >= 1.8);
    }
}
