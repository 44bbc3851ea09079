//! Real-time anomaly detection per car: fixed physical thresholds ("rules") plus an
//! exponentially weighted baseline per smooth channel ("ewma": engine temperature and
//! the four tyre pressures) that catches deviations too small for a rule, such as a
//! slow puncture. Raw hits are folded into episodes so one incident is one anomaly.
//!
//! Thresholds (docs/analytics.md, "Anomalies"):
//!
//! | kind | rule (warning / critical) | ewma (warning) |
//! |---|---|---|
//! | brake_overheat | disc > 1150 / 1250 °C | – |
//! | tyre_overheat | surface > 135 / 150 °C | – |
//! | pressure_loss | < 16 / 12 psi | 2.5 psi below baseline and z > 6 |
//! | engine_temp_spike | > 125 / 135 °C | 8 °C above baseline and z > 6 |
//! | sensor_fault | RPM > 15,000 or speed > 380 km/h | – |
//!
//! Real feeds lack channels (live timing has no temperatures or pressures): a rule or a
//! baseline whose channel a sample lacks is skipped, never fed a zero. Real signals are
//! quantised and have gaps, so a baseline's deviation is measured against at least the
//! channel's resolution (not against the near-zero variance of a flat, interpolated
//! stretch), and a baseline restarts after a gap of more than 2 s.

use super::events::{AnomalyRecord, CarId, Detector, Severity};
use crate::model::{CORNERS, Sample};
use crate::sim::truth::AnomalyKind;
use serde::{Deserialize, Serialize};

const BRAKE_WARN_C: f32 = 1150.0;
const BRAKE_CRIT_C: f32 = 1250.0;
const TYRE_WARN_C: f32 = 135.0;
const TYRE_CRIT_C: f32 = 150.0;
const PRESSURE_WARN_PSI: f32 = 16.0;
const PRESSURE_CRIT_PSI: f32 = 12.0;
const ENGINE_WARN_C: f32 = 125.0;
const ENGINE_CRIT_C: f32 = 135.0;
const RPM_MAX: u16 = 15_000;
const SPEED_MAX_KPH: f32 = 380.0;

/// Baseline time constant.
const EWMA_TAU_S: f64 = 5.0;
/// Data needed before a baseline may raise anything.
const WARMUP_MS: i64 = 4_000;
/// Quiet time after which an episode is over.
const EPISODE_GAP_MS: i64 = 1_500;
/// A baseline frozen this long by an ongoing deviation is re-learned (a lasting shift).
const REBASELINE_MS: i64 = 30_000;
const Z_THRESHOLD: f64 = 6.0;
/// Baselines restart after a gap this long in a car's data.
const GAP_RESET_MS: i64 = 2_000;
/// Smallest spread a baseline assumes: about the resolution real sensors report.
const ENGINE_SIGMA_FLOOR_C: f64 = 0.5;
const PRESSURE_SIGMA_FLOOR_PSI: f64 = 0.1;

/// The smoothing factor `1 − e^(−x)` of a step of `x` time constants. Between two samples
/// `x` is about 0.02 (five baselines per sample, on the hot path), where four terms of the
/// series are exact to 1e-7 of the result and much cheaper than `exp`.
fn smoothing(x: f64) -> f64 {
    if x < 0.05 {
        x * (1.0 - x * (0.5 - x * (1.0 / 6.0 - x / 24.0)))
    } else {
        1.0 - (-x).exp()
    }
}

/// Exponentially weighted mean and variance with a time-based smoothing factor.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Ewma {
    mean: f64,
    var: f64,
    since_ms: i64,
    last_ms: i64,
    frozen_since_ms: Option<i64>,
    init: bool,
}

impl Ewma {
    /// Feeds a value; returns `Some(baseline)` when it deviates by more than `min_dev`
    /// and `Z_THRESHOLD` standard deviations, at least `floor` each (then the baseline is
    /// not updated).
    fn check(&mut self, x: f64, ts: i64, min_dev: f64, floor: f64) -> Option<f64> {
        if !self.init {
            *self = Ewma {
                mean: x,
                var: 0.0,
                since_ms: ts,
                last_ms: ts,
                frozen_since_ms: None,
                init: true,
            };
            return None;
        }
        let dt = ((ts - self.last_ms).max(0) as f64) / 1000.0;
        self.last_ms = ts;
        let dev = x - self.mean;
        let warm = ts - self.since_ms >= WARMUP_MS;
        let z = dev.abs() / self.var.sqrt().max(floor);
        if warm && dev.abs() > min_dev && z > Z_THRESHOLD {
            let since = *self.frozen_since_ms.get_or_insert(ts);
            if ts - since < REBASELINE_MS {
                return Some(self.mean);
            }
            self.frozen_since_ms = None;
        }
        self.frozen_since_ms = None;
        let alpha = smoothing(dt / EWMA_TAU_S);
        self.mean += alpha * dev;
        self.var = (1.0 - alpha) * (self.var + alpha * dev * dev);
        None
    }

    fn reset(&mut self) {
        self.init = false;
    }
}

/// An open episode of one kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Episode {
    open: bool,
    last_hit_ms: i64,
}

/// One raw detection before episode folding.
struct Hit {
    kind: AnomalyKind,
    severity: Severity,
    detector: Detector,
    channel: &'static str,
    value: f32,
    low: f32,
    high: f32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AnomalyDetector {
    engine: Ewma,
    pressure: [Ewma; 4],
    episodes: [Episode; 5],
    in_pit: bool,
    last_ts: i64,
}

fn kind_index(kind: AnomalyKind) -> usize {
    AnomalyKind::ALL
        .iter()
        .position(|k| *k == kind)
        .expect("every kind is listed")
}

fn rules(s: &Sample, hits: &mut Vec<Hit>) {
    for (c, &t) in s.brake_temp_c.iter().flatten().enumerate() {
        if t > BRAKE_WARN_C {
            let severity = if t > BRAKE_CRIT_C {
                Severity::Critical
            } else {
                Severity::Warning
            };
            hits.push(Hit {
                kind: AnomalyKind::BrakeOverheat,
                severity,
                detector: Detector::Rule,
                channel: brake_channel(c),
                value: t,
                low: 0.0,
                high: BRAKE_WARN_C,
            });
        }
    }
    for (c, &t) in s.tyre_surface_temp_c.iter().flatten().enumerate() {
        if t > TYRE_WARN_C {
            let severity = if t > TYRE_CRIT_C {
                Severity::Critical
            } else {
                Severity::Warning
            };
            hits.push(Hit {
                kind: AnomalyKind::TyreOverheat,
                severity,
                detector: Detector::Rule,
                channel: tyre_channel(c),
                value: t,
                low: 0.0,
                high: TYRE_WARN_C,
            });
        }
    }
    for (c, &p) in s.tyre_pressure_psi.iter().flatten().enumerate() {
        if p < PRESSURE_WARN_PSI {
            let severity = if p < PRESSURE_CRIT_PSI {
                Severity::Critical
            } else {
                Severity::Warning
            };
            hits.push(Hit {
                kind: AnomalyKind::PressureLoss,
                severity,
                detector: Detector::Rule,
                channel: pressure_channel(c),
                value: p,
                low: PRESSURE_WARN_PSI,
                high: 50.0,
            });
        }
    }
    if let Some(engine) = s.engine_temp_c
        && engine > ENGINE_WARN_C
    {
        let severity = if engine > ENGINE_CRIT_C {
            Severity::Critical
        } else {
            Severity::Warning
        };
        hits.push(Hit {
            kind: AnomalyKind::EngineTempSpike,
            severity,
            detector: Detector::Rule,
            channel: "engine_temp_c",
            value: engine,
            low: 0.0,
            high: ENGINE_WARN_C,
        });
    }
    if let Some(rpm) = s.rpm
        && rpm > RPM_MAX
    {
        hits.push(Hit {
            kind: AnomalyKind::SensorFault,
            severity: Severity::Warning,
            detector: Detector::Rule,
            channel: "rpm",
            value: rpm as f32,
            low: 0.0,
            high: RPM_MAX as f32,
        });
    }
    if s.speed_kph > SPEED_MAX_KPH {
        hits.push(Hit {
            kind: AnomalyKind::SensorFault,
            severity: Severity::Warning,
            detector: Detector::Rule,
            channel: "speed_kph",
            value: s.speed_kph,
            low: 0.0,
            high: SPEED_MAX_KPH,
        });
    }
}

fn brake_channel(c: usize) -> &'static str {
    [
        "brake_temp_c.fl",
        "brake_temp_c.fr",
        "brake_temp_c.rl",
        "brake_temp_c.rr",
    ][c]
}
fn tyre_channel(c: usize) -> &'static str {
    [
        "tyre_surface_temp_c.fl",
        "tyre_surface_temp_c.fr",
        "tyre_surface_temp_c.rl",
        "tyre_surface_temp_c.rr",
    ][c]
}
fn pressure_channel(c: usize) -> &'static str {
    [
        "tyre_pressure_psi.fl",
        "tyre_pressure_psi.fr",
        "tyre_pressure_psi.rl",
        "tyre_pressure_psi.rr",
    ][c]
}
const _: () = assert!(CORNERS.len() == 4);

impl AnomalyDetector {
    /// Judges one sample. `in_pit` (from the pit-stop tracker) pauses everything but
    /// sensor faults: in the pit lane the car is slow, brakes and tyres cool and tyres
    /// may be changed, so baselines restart on the way out.
    pub fn observe(&mut self, id: &CarId, s: &Sample, in_pit: bool, out: &mut Vec<AnomalyRecord>) {
        let mut hits = Vec::new();
        let ts = s.timestamp_ms;
        let gap = self.last_ts != 0 && ts - self.last_ts > GAP_RESET_MS;
        self.last_ts = ts;
        if (in_pit && !self.in_pit) || gap {
            self.engine.reset();
            self.pressure.iter_mut().for_each(Ewma::reset);
        }
        self.in_pit = in_pit;
        rules(s, &mut hits);
        if in_pit {
            // A sensor fault is a fault wherever the car is.
            hits.retain(|h| h.kind == AnomalyKind::SensorFault);
        } else {
            if let Some(engine) = s.engine_temp_c {
                let e = engine as f64;
                if let Some(base) = self.engine.check(e, ts, 8.0, ENGINE_SIGMA_FLOOR_C)
                    && e > base
                {
                    hits.push(Hit {
                        kind: AnomalyKind::EngineTempSpike,
                        severity: Severity::Warning,
                        detector: Detector::Ewma,
                        channel: "engine_temp_c",
                        value: engine,
                        low: (base - 8.0) as f32,
                        high: (base + 8.0) as f32,
                    });
                }
            }
            if let Some(pressures) = s.tyre_pressure_psi {
                for (c, &psi) in pressures.iter().enumerate() {
                    let p = psi as f64;
                    if let Some(base) = self.pressure[c].check(p, ts, 2.5, PRESSURE_SIGMA_FLOOR_PSI)
                        && p < base
                    {
                        hits.push(Hit {
                            kind: AnomalyKind::PressureLoss,
                            severity: Severity::Warning,
                            detector: Detector::Ewma,
                            channel: pressure_channel(c),
                            value: psi,
                            low: (base - 2.5) as f32,
                            high: (base + 2.5) as f32,
                        });
                    }
                }
            }
        }
        // Fold hits into episodes: report the first hit of each kind that is not already open.
        for h in hits {
            let ep = &mut self.episodes[kind_index(h.kind)];
            let reopen = !ep.open || ts - ep.last_hit_ms > EPISODE_GAP_MS;
            ep.last_hit_ms = ts;
            if reopen {
                ep.open = true;
                out.push(AnomalyRecord {
                    id: id.clone(),
                    lap: s.lap,
                    kind: h.kind,
                    severity: h.severity,
                    detector: h.detector,
                    channel: h.channel,
                    value: h.value,
                    expected_low: h.low,
                    expected_high: h.high,
                    detected_at_ms: ts,
                });
            }
        }
        for ep in &mut self.episodes {
            if ep.open && ts - ep.last_hit_ms > EPISODE_GAP_MS {
                ep.open = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> CarId {
        CarId {
            session: "s".into(),
            car: 16,
            driver: "LEC".into(),
            team: "Ferrari".into(),
        }
    }

    fn sample(ts: i64) -> Sample {
        Sample {
            timestamp_ms: ts,
            tyre_pressure_psi: Some([24.5, 24.5, 21.5, 21.5]),
            engine_temp_c: Some(110.0),
            ..Sample::example()
        }
    }

    /// Runs 60 s at 10 Hz; `f` may change the sample and say whether the car is in the pit lane.
    fn run_pit(mut f: impl FnMut(i64, &mut Sample) -> bool) -> Vec<AnomalyRecord> {
        let mut d = AnomalyDetector::default();
        let mut out = Vec::new();
        for i in 0..600 {
            let ts = 1_000 + i * 100;
            let mut s = sample(ts);
            // deterministic small noise
            s.engine_temp_c = s.engine_temp_c.map(|e| e + ((i * 7919) % 11) as f32 * 0.03);
            if let Some(p) = s.tyre_pressure_psi.as_mut() {
                p[2] += ((i * 104_729) % 7) as f32 * 0.01;
            }
            let in_pit = f(ts - 1_000, &mut s);
            d.observe(&id(), &s, in_pit, &mut out);
        }
        out
    }

    fn run(mut f: impl FnMut(i64, &mut Sample)) -> Vec<AnomalyRecord> {
        run_pit(|ts, s| {
            f(ts, s);
            false
        })
    }

    /// The cheap smoothing factor agrees with the exact one where it is used, and is exact
    /// beyond.
    #[test]
    fn smoothing_matches_exp() {
        for x in [0.0_f64, 0.001, 0.02, 0.0499, 0.05, 0.3, 2.0] {
            let exact = 1.0 - (-x).exp();
            assert!(
                (smoothing(x) - exact).abs() <= 1e-7 * exact.max(1e-9),
                "{x}"
            );
        }
    }

    /// A steady car raises nothing.
    #[test]
    fn quiet_car_is_quiet() {
        assert!(run(|_, _| {}).is_empty());
    }

    /// A 4 psi slow puncture is above the 16 psi floor: only the baseline sees it, once.
    #[test]
    fn slow_puncture_caught_by_ewma_once() {
        let out = run(|ts, s| {
            if (20_000..28_000).contains(&ts) {
                s.tyre_pressure_psi.as_mut().unwrap()[2] -= 4.0;
            }
        });
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].kind, AnomalyKind::PressureLoss);
        assert_eq!(out[0].detector, Detector::Ewma);
        assert_eq!(out[0].channel, "tyre_pressure_psi.rl");
        assert_eq!(out[0].detected_at_ms, 21_000);
    }

    /// A brake spike is one critical episode; a second spike after a gap is another.
    #[test]
    fn episodes_split_on_gaps() {
        let out = run(|ts, s| {
            if (10_000..13_000).contains(&ts) || (30_000..31_000).contains(&ts) {
                s.brake_temp_c.as_mut().unwrap()[1] = 1300.0;
            }
        });
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(
            out.iter()
                .all(|a| a.kind == AnomalyKind::BrakeOverheat && a.severity == Severity::Critical)
        );
    }

    /// Sensor faults are reported even in the pit lane; temperatures there are not judged.
    #[test]
    fn pit_lane_only_sensor_faults() {
        let out = run_pit(|ts, s| {
            let pit = (10_000..20_000).contains(&ts);
            if pit {
                s.tyre_pressure_psi = Some([20.0; 4]);
                if ts == 15_000 {
                    s.rpm = Some(20_000);
                }
            }
            pit
        });
        assert_eq!(
            out.iter().map(|a| a.kind).collect::<Vec<_>>(),
            [AnomalyKind::SensorFault]
        );
    }

    /// A feed without temperatures or pressures (live timing) raises nothing from them,
    /// and a flat, quantised signal with a gap does not trip its baseline.
    #[test]
    fn absent_channels_and_gaps_raise_nothing() {
        let out = run(|_, s| {
            s.tyre_pressure_psi = None;
            s.engine_temp_c = None;
            s.brake_temp_c = None;
            s.tyre_surface_temp_c = None;
        });
        assert!(out.is_empty(), "{out:?}");
        // Engine temperature in whole degrees, flat for 20 s, then a 10 s gap after
        // which it reads 8.5 °C higher.
        let out = run(|ts, s| {
            s.engine_temp_c = Some(if ts < 20_000 { 110.0 } else { 118.5 });
            s.timestamp_ms = if ts < 20_000 { ts } else { ts + 10_000 };
        });
        assert!(out.is_empty(), "{out:?}");
    }
}
