//! The strategy as gauges for the Grafana strategy panel: per car its predicted rejoin
//! position, pit window, degradation and undercut margins, per session the pit loss.
//! Set by the processor's refresher every [`REFRESH`] for the sessions still running;
//! a car that leaves the board leaves the gauges, a finished session leaves them all.

use crate::analytics::strategy::Strategy;
use prometheus::{GaugeVec, Opts, Registry};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the processor recomputes the strategy of its unfinished sessions.
pub const REFRESH: Duration = Duration::from_secs(10);

/// One gauge's label values, as set.
type Set = (GaugeVec, Vec<String>);

#[derive(Clone)]
pub struct StrategyMetrics {
    rejoin: GaugeVec,
    rejoin_if_out: GaugeVec,
    window: GaugeVec,
    degradation: GaugeVec,
    undercut: GaugeVec,
    pit_loss: GaugeVec,
    /// The label sets set per session, to remove when the session's strategy changes
    /// (this prometheus has no removal by partial match).
    set: Arc<Mutex<BTreeMap<String, Vec<Set>>>>,
}

fn gauge(r: &Registry, name: &str, help: &str, labels: &[&str]) -> GaugeVec {
    let g = GaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(g.clone())).expect("registered once");
    g
}

impl StrategyMetrics {
    pub fn new(r: &Registry) -> Self {
        let car = &["session", "car", "driver"];
        StrategyMetrics {
            rejoin: gauge(
                r,
                "pitstop_strategy_rejoin_position",
                "Position the car would hold a lap after rejoining if it stopped now.",
                car,
            ),
            rejoin_if_out: gauge(
                r,
                "pitstop_strategy_rejoin_position_if_field_stays_out",
                "Under a safety car: the rejoin position if the cars expected to stop as well stay out (the other end of the range).",
                car,
            ),
            window: gauge(
                r,
                "pitstop_strategy_pit_window_lap",
                "The car's pit window: bound=optimal|first|last in-lap.",
                &["session", "car", "driver", "bound"],
            ),
            degradation: gauge(
                r,
                "pitstop_strategy_degradation_ms_per_lap",
                "Fuel-corrected lap-time loss per lap of tyre age on the current stint (value=fit|ci95).",
                &["session", "car", "driver", "value"],
            ),
            undercut: gauge(
                r,
                "pitstop_strategy_undercut_margin_ms",
                "Gain minus gap if the car stops now (side=ahead: jumps it when positive; side=behind: the car behind jumps it when positive).",
                &["session", "car", "driver", "side"],
            ),
            pit_loss: gauge(
                r,
                "pitstop_strategy_pit_loss_seconds",
                "Pit loss the strategy uses now.",
                &["session", "source"],
            ),
            set: Arc::default(),
        }
    }

    /// Drops a session's gauges (it finished: its strategy is history, not a live call).
    pub fn forget(&self, session: &str) {
        let mut set = self.set.lock().unwrap_or_else(|p| p.into_inner());
        for (g, labels) in set.remove(session).unwrap_or_default() {
            let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
            let _ = g.remove_label_values(&labels);
        }
    }

    /// Replaces the session's gauges with `s`.
    pub fn observe(&self, session: &str, s: &Strategy) {
        let mut set = self.set.lock().unwrap_or_else(|p| p.into_inner());
        let mine = set.entry(session.to_string()).or_default();
        for (g, labels) in mine.drain(..) {
            let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
            let _ = g.remove_label_values(&labels);
        }
        let mut put = |g: &GaugeVec, labels: &[&str], v: f64| {
            g.with_label_values(labels).set(v);
            mine.push((g.clone(), labels.iter().map(|l| l.to_string()).collect()));
        };
        put(
            &self.pit_loss,
            &[session, source(s)],
            s.pit_loss.ms / 1000.0,
        );
        for c in &s.cars {
            let car = c.car.to_string();
            let (id, d) = (car.as_str(), c.driver.as_str());
            if let Some(r) = &c.rejoin {
                put(&self.rejoin, &[session, id, d], r.position as f64);
                if let Some(worst) = r.position_if_field_stays_out {
                    put(&self.rejoin_if_out, &[session, id, d], worst as f64);
                }
            }
            if let Some(w) = &c.window {
                for (bound, lap) in [
                    ("optimal", w.optimal_lap),
                    ("first", w.first_lap),
                    ("last", w.last_lap),
                ] {
                    put(&self.window, &[session, id, d, bound], f64::from(lap));
                }
            }
            if let Some(f) = &c.degradation {
                put(&self.degradation, &[session, id, d, "fit"], f.ms_per_lap);
                put(
                    &self.degradation,
                    &[session, id, d, "ci95"],
                    f.ci95_ms_per_lap,
                );
            }
            for (side, call) in [("ahead", &c.undercut.ahead), ("behind", &c.undercut.behind)] {
                if let Some(call) = call {
                    put(&self.undercut, &[session, id, d, side], call.margin_ms);
                }
            }
        }
    }
}

fn source(s: &Strategy) -> &'static str {
    match s.pit_loss.source {
        crate::analytics::strategy::PitLossSource::Measured => "measured",
        crate::analytics::strategy::PitLossSource::Default => "default",
        crate::analytics::strategy::PitLossSource::Assumed => "assumed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::strategy::{Race, compute, fixtures};

    /// Two cars 1 s apart on 10-lap-old tyres, a safety car out: car 2's rejoin is a range
    /// (car 1 expected to stop too), and both ends are exported; green, only one.
    #[test]
    fn a_safety_car_exports_both_ends_of_the_rejoin() {
        let mut race = Race {
            entrants: fixtures::entrants(2),
            laps: fixtures::steady_laps(2, 10),
            now_ms: Some(910_000),
            ..Race::default()
        };
        let exported = |race: &Race| {
            let r = Registry::new();
            let m = StrategyMetrics::new(&r);
            m.observe("s", &compute(race));
            let text = prometheus::TextEncoder::new()
                .encode_to_string(&r.gather())
                .unwrap();
            text.lines()
                .filter(|l| l.starts_with("pitstop_strategy_rejoin_position"))
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        let green = exported(&race);
        assert_eq!(green.len(), 2, "{green:?}");
        assert!(green.iter().all(|l| !l.contains("if_field_stays_out")));
        race.neutral_periods = vec![(905_000, i64::MAX)];
        let sc = exported(&race);
        assert!(
            sc.iter()
                .any(|l| l
                    .starts_with("pitstop_strategy_rejoin_position_if_field_stays_out{car=\"2\"")),
            "{sc:?}"
        );
        // On one registry: the range goes when the safety car does, all when finished.
        let r = Registry::new();
        let m = StrategyMetrics::new(&r);
        let series = |name: &str| {
            r.gather()
                .iter()
                .filter(|f| f.name() == name)
                .map(|f| f.get_metric().len())
                .sum::<usize>()
        };
        let range = "pitstop_strategy_rejoin_position_if_field_stays_out";
        m.observe("s", &compute(&race));
        assert!(series(range) > 0);
        race.neutral_periods.clear();
        m.observe("s", &compute(&race));
        assert_eq!(series(range), 0);
        assert_eq!(series("pitstop_strategy_rejoin_position"), 2);
        m.forget("s");
        assert_eq!(series("pitstop_strategy_rejoin_position"), 0);
    }
}
