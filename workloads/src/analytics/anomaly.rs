//! Real-time anomaly detection per car: fixed physical thresholds ("rules") plus an
//! exponentially weighted baseline per smooth channel ("ewma": engine temperature and
//! the four tyre pressures) that catches deviations too small for a rule, such as a
//! slow puncture. Raw hits are folded into episodes so one incident is one anomaly.
//!
//! Thresholds (README, "Anomaly detection"):
//!
//! | kind | rule (warning / critical) | ewma (warning) |
//! |---|---|---|
//! | brake_overheat | disc > 1150 / 1250 °C | – |
//! | tyre_overheat | surface > 135 / 150 °C | – |
//! | pressure_loss | < 16 / 12 psi | 2.5 psi below baseline and z > 6 |
//! | engine_temp_spike | > 125 / 135 °C | 8 °C above baseline and z > 6 |
//! | sensor_fault | RPM > 15,000 or speed > 380 km/h | – |

use super::{AnomalyRecord, CarId, Detector, Severity};
use crate::model::{CORNERS, PitStatus, Sample};
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
    /// and `Z_THRESHOLD` standard deviations (then the baseline is not updated).
    fn check(&mut self, x: f64, ts: i64, min_dev: f64) -> Option<f64> {
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
        let z = dev.abs() / (self.var.sqrt() + 1e-6);
        if warm && dev.abs() > min_dev && z > Z_THRESHOLD {
            let since = *self.frozen_since_ms.get_or_insert(ts);
            if ts - since < REBASELINE_MS {
                return Some(self.mean);
            }
            self.frozen_since_ms = None;
        }
        self.frozen_since_ms = None;
        let alpha = 1.0 - (-dt / EWMA_TAU_S).exp();
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
    last_status: PitStatus,
}

fn kind_index(kind: AnomalyKind) -> usize {
    AnomalyKind::ALL
        .iter()
        .position(|k| *k == kind)
        .expect("every kind is listed")
}

fn rules(s: &Sample, hits: &mut Vec<Hit>) {
    for (c, &t) in s.brake_temp_c.iter().enumerate() {
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
    for (c, &t) in s.tyre_surface_temp_c.iter().enumerate() {
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
    for (c, &p) in s.tyre_pressure_psi.iter().enumerate() {
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
    if s.engine_temp_c > ENGINE_WARN_C {
        let severity = if s.engine_temp_c > ENGINE_CRIT_C {
            Severity::Critical
        } else {
            Severity::Warning
        };
        hits.push(Hit {
            kind: AnomalyKind::EngineTempSpike,
            severity,
            detector: Detector::Rule,
            channel: "engine_temp_c",
            value: s.engine_temp_c,
            low: 0.0,
            high: ENGINE_WARN_C,
        });
    }
    if s.rpm > RPM_MAX {
        hits.push(Hit {
            kind: AnomalyKind::SensorFault,
            severity: Severity::Warning,
            detector: Detector::Rule,
            channel: "rpm",
            value: s.rpm as f32,
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
    pub fn observe(&mut self, id: &CarId, s: &Sample, out: &mut Vec<AnomalyRecord>) {
        let mut hits = Vec::new();
        let ts = s.timestamp_ms;
        if s.pit_status != PitStatus::None {
            // In the pit lane the car is slow, brakes and tyres cool and tyres may be
            // changed: baselines restart on the way out.
            if self.last_status == PitStatus::None {
                self.engine.reset();
                self.pressure.iter_mut().for_each(Ewma::reset);
            }
            self.last_status = s.pit_status;
            // A sensor fault is a fault wherever the car is.
            rules(s, &mut hits);
            hits.retain(|h| h.kind == AnomalyKind::SensorFault);
        } else {
            self.last_status = s.pit_status;
            rules(s, &mut hits);
            if let Some(base) = self.engine.check(s.engine_temp_c as f64, ts, 8.0)
                && (s.engine_temp_c as f64) > base
            {
                hits.push(Hit {
                    kind: AnomalyKind::EngineTempSpike,
                    severity: Severity::Warning,
                    detector: Detector::Ewma,
                    channel: "engine_temp_c",
                    value: s.engine_temp_c,
                    low: (base - 8.0) as f32,
                    high: (base + 8.0) as f32,
                });
            }
            for c in 0..4 {
                let p = s.tyre_pressure_psi[c] as f64;
                if let Some(base) = self.pressure[c].check(p, ts, 2.5)
                    && p < base
                {
                    hits.push(Hit {
                        kind: AnomalyKind::PressureLoss,
                        severity: Severity::Warning,
                        detector: Detector::Ewma,
                        channel: pressure_channel(c),
                        value: p as f32,
                        low: (base - 2.5) as f32,
                        high: (base + 2.5) as f32,
                    });
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
            tyre_pressure_psi: [24.5, 24.5, 21.5, 21.5],
            engine_temp_c: 110.0,
            ..Sample::default()
        }
    }

    fn run(mut f: impl FnMut(i64, &mut Sample)) -> Vec<AnomalyRecord> {
        let mut d = AnomalyDetector::default();
        let mut out = Vec::new();
        for i in 0..600 {
            let ts = i * 100;
            let mut s = sample(ts);
            // deterministic small noise
            s.engine_temp_c += ((i * 7919) % 11) as f32 * 0.03;
            s.tyre_pressure_psi[2] += ((i * 104_729) % 7) as f32 * 0.01;
            f(ts, &mut s);
            d.observe(&id(), &s, &mut out);
        }
        out
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
                s.tyre_pressure_psi[2] -= 4.0;
            }
        });
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].kind, AnomalyKind::PressureLoss);
        assert_eq!(out[0].detector, Detector::Ewma);
        assert_eq!(out[0].channel, "tyre_pressure_psi.rl");
        assert_eq!(out[0].detected_at_ms, 20_000);
    }

    /// A brake spike is one critical episode; a second spike after a gap is another.
    #[test]
    fn episodes_split_on_gaps() {
        let out = run(|ts, s| {
            if (10_000..13_000).contains(&ts) || (30_000..31_000).contains(&ts) {
                s.brake_temp_c[1] = 1300.0;
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
        let out = run(|ts, s| {
            if (10_000..20_000).contains(&ts) {
                s.pit_status = PitStatus::PitLane;
                s.tyre_pressure_psi = [20.0; 4];
                if ts == 15_000 {
                    s.rpm = 20_000;
                }
            }
        });
        assert_eq!(
            out.iter().map(|a| a.kind).collect::<Vec<_>>(),
            [AnomalyKind::SensorFault]
        );
    }
}
