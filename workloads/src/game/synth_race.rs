//! A race as the F1 24 game would stream it, for tests and benchmarks: every car's Lap
//! Data and Car Telemetry at `hz`, pit stops the way the game reports them (pit status
//! 0→1→2→1→0, `numPitStops` + 1, `pitStopTimerInMS` counting each stationary frame), the
//! chequered flag when the leader completes the distance, then each car taking it.
//!
//! Cars drive at a steady racing speed; a stop is a pit lane at 80 km/h around the
//! finish line with the box in it: braking from 80 to 10 km/h, one frame to a standstill
//! (cars stop hard onto their marks), the stationary time, and away.

use super::decode::{CarLap, CarTelemetry};
use super::synth;

pub struct RaceSpec {
    pub uid: u64,
    /// Game time and frame of the first frame (after a recorded start, say).
    pub t0_s: f32,
    pub frame0: u32,
    pub cars: usize,
    pub laps: u8,
    pub hz: f32,
    /// Lap length: 5,412 m is Bahrain; a short lap makes a short test.
    pub lap_m: f32,
    /// (car index, lap of the pit entry, stationary seconds)
    pub stops: Vec<(usize, u8, f32)>,
}

/// What the race holds, to check a pipeline against.
#[derive(Debug, Default)]
pub struct Truth {
    /// (car index, lap of the pit entry, the game's timer in ms)
    pub stops: Vec<(usize, u8, u32)>,
    /// Game time of the chequered flag.
    pub chequered_s: f32,
}

/// Pit entry and exit before and after the line, and the box after it, as parts of a lap
/// (400 m, 400 m and 108 m at Bahrain).
const ENTRY: f32 = 0.075;
const EXIT: f32 = 0.075;
const BOX: f32 = 0.02;
const LIMITER_KPH: f32 = 80.0;

#[derive(Clone, Copy, PartialEq)]
enum Phase {
    Racing,
    /// Braking to the limiter, then on it to the box.
    Lane,
    /// Braking into the box, then stationary until the given game time.
    Box {
        until_s: Option<f32>,
    },
    /// On the limiter to the exit.
    Leaving,
    /// Back up to racing speed.
    Rejoin,
}

struct Car {
    lap: u8,
    dist: f32,
    total: f32,
    kph: f32,
    racing_kph: f32,
    phase: Phase,
    stops: u8,
    timer_ms: u16,
    finished: bool,
}

/// The datagrams of the race, with their times (µs after the first).
pub fn race(spec: &RaceSpec) -> (Vec<(u64, Vec<u8>)>, Truth) {
    let dt = 1.0 / spec.hz;
    let mut cars: Vec<Car> = (0..spec.cars)
        .map(|i| Car {
            lap: 1,
            // Grid slots 8 m apart behind the line: lap 1 starts there.
            dist: -(8.0 * i as f32) - 10.0,
            total: -(8.0 * i as f32) - 10.0,
            kph: 0.0,
            racing_kph: 230.0 - i as f32 * 0.7,
            phase: Phase::Racing,
            stops: 0,
            timer_ms: 0,
            finished: false,
        })
        .collect();
    let mut truth = Truth::default();
    let mut out = Vec::new();
    let mut chequered = false;
    let mut frame = spec.frame0;
    let mut t = spec.t0_s;
    let us = |t: f32| ((t - spec.t0_s) as f64 * 1e6) as u64;
    while !cars.iter().all(|c| c.finished) {
        for (i, c) in cars.iter_mut().enumerate() {
            step(c, i, spec, t, dt, &mut truth, chequered);
        }
        if !chequered && cars.iter().any(|c| c.lap > spec.laps) {
            chequered = true;
            truth.chequered_s = t;
            out.push((us(t), synth::event(spec.uid, t, frame, b"CHQF")));
        }
        let positions = positions(&cars);
        let laps: Vec<CarLap> = cars
            .iter()
            .zip(&positions)
            .map(|(c, &p)| lap_data(c, p, spec.lap_m))
            .collect();
        let tel: Vec<CarTelemetry> = cars.iter().map(telemetry).collect();
        out.push((us(t), synth::laps(spec.uid, t, frame, &laps)));
        out.push((us(t) + 200, synth::telemetry(spec.uid, t, frame, &tel)));
        frame += 1;
        t += dt;
    }
    (out, truth)
}

fn step(
    c: &mut Car,
    i: usize,
    spec: &RaceSpec,
    t: f32,
    dt: f32,
    truth: &mut Truth,
    chequered: bool,
) {
    if c.finished {
        return;
    }
    let lap_m = spec.lap_m;
    let stop = spec
        .stops
        .iter()
        .find(|s| s.0 == i && s.1 == c.lap && c.stops == 0);
    c.phase = match c.phase {
        Phase::Racing if stop.is_some() && c.dist >= lap_m * (1.0 - ENTRY) => Phase::Lane,
        Phase::Lane if c.dist >= lap_m * BOX && c.dist < lap_m / 2.0 => {
            Phase::Box { until_s: None }
        }
        Phase::Box { until_s: Some(u) } if t >= u => {
            c.stops += 1;
            truth.stops.push((i, c.lap - 1, c.timer_ms as u32));
            Phase::Leaving
        }
        Phase::Leaving if c.dist >= lap_m * EXIT => Phase::Rejoin,
        Phase::Rejoin if c.kph >= c.racing_kph => Phase::Racing,
        p => p,
    };
    let accel = |kph: f32, to: f32, per_s: f32| {
        if kph < to {
            (kph + per_s * dt).min(to)
        } else {
            (kph - per_s * dt).max(to)
        }
    };
    c.kph = match c.phase {
        Phase::Racing => accel(c.kph, c.racing_kph, 40.0),
        Phase::Lane => accel(c.kph, LIMITER_KPH, 100.0),
        // Away from the marks as hard as onto them.
        Phase::Leaving => accel(c.kph.max(10.0), LIMITER_KPH, 60.0),
        Phase::Rejoin => accel(c.kph, c.racing_kph, 40.0),
        Phase::Box { until_s } => match until_s {
            Some(_) => {
                c.timer_ms += (dt * 1000.0).round() as u16;
                0.0
            }
            None if c.kph <= 10.0 => {
                let stationary = spec.stops.iter().find(|s| s.0 == i).map_or(2.5, |s| s.2);
                c.phase = Phase::Box {
                    until_s: Some(t + stationary),
                };
                c.timer_ms = (dt * 1000.0).round() as u16;
                0.0
            }
            None => accel(c.kph, 10.0, 40.0),
        },
    };
    if matches!(c.phase, Phase::Racing) {
        c.timer_ms = 0;
    }
    let m = c.kph / 3.6 * dt;
    c.dist += m;
    c.total += m;
    if c.dist >= lap_m {
        c.dist -= lap_m;
        c.lap += 1;
        if chequered || c.lap > spec.laps {
            c.finished = c.lap > spec.laps;
        }
    }
}

/// Race positions by distance covered.
fn positions(cars: &[Car]) -> Vec<u8> {
    let mut order: Vec<usize> = (0..cars.len()).collect();
    order.sort_by(|&a, &b| {
        let key = |c: &Car| c.total + if c.finished { 1e9 } else { 0.0 };
        key(&cars[b]).total_cmp(&key(&cars[a]))
    });
    let mut pos = vec![0u8; cars.len()];
    for (p, &i) in order.iter().enumerate() {
        pos[i] = p as u8 + 1;
    }
    pos
}

fn lap_data(c: &Car, position: u8, lap_m: f32) -> CarLap {
    let pit_status = match c.phase {
        Phase::Lane | Phase::Leaving => 1,
        Phase::Box { .. } => 2,
        _ => 0,
    };
    CarLap {
        lap: if c.finished { c.lap - 1 } else { c.lap },
        lap_distance_m: c.dist,
        position,
        sector: 1 + (c.dist.max(0.0) / (lap_m / 3.0)).min(2.0) as u8,
        pit_status,
        num_pit_stops: c.stops,
        pit_stop_timer_ms: if pit_status != 0 { c.timer_ms } else { 0 },
        racing: !c.finished,
    }
}

fn telemetry(c: &Car) -> CarTelemetry {
    let gear = if c.kph < 1.0 {
        0
    } else {
        (1 + (c.kph / 40.0) as i8).min(8)
    };
    CarTelemetry {
        speed_kph: c.kph.round() as u16,
        throttle: if c.phase == Phase::Racing { 1.0 } else { 0.3 },
        brake: 0.0,
        gear,
        rpm: 4_000 + (c.kph * 35.0) as u16,
        drs: false,
        brake_temp_c: [500; 4],
        tyre_surface_temp_c: [100; 4],
        tyre_inner_temp_c: [100; 4],
        engine_temp_c: 110,
        tyre_pressure_psi: [24.9, 24.9, 21.1, 21.1],
    }
}
