//! Prometheus metrics of the simulator, and what the processor's
//! ([`crate::processor::metrics`]) are built with. Every name starts with `pitstop_`;
//! labels take only bounded values (kinds, severities, static categories, team names
//! capped by [`TeamLabels`]).

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};
use std::collections::HashSet;
use std::sync::Mutex;

/// Renders a registry in the Prometheus text format.
pub fn render(registry: &Registry) -> String {
    let mut buf = Vec::new();
    TextEncoder::new()
        .encode(&registry.gather(), &mut buf)
        .expect("text encoding of gathered metrics cannot fail");
    String::from_utf8(buf).expect("prometheus text format is utf-8")
}

pub(crate) fn counter(r: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).expect("valid metric");
    r.register(Box::new(c.clone())).expect("unique metric");
    c
}

pub(crate) fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(c.clone())).expect("unique metric");
    c
}

/// A counter vector's sum over every label value.
pub(crate) fn total(v: &IntCounterVec) -> u64 {
    prometheus::core::Collector::collect(v)
        .iter()
        .flat_map(|f| f.get_metric())
        .map(|m| m.get_counter().get_value() as u64)
        .sum()
}

pub(crate) fn gauge(r: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).expect("valid metric");
    r.register(Box::new(g.clone())).expect("unique metric");
    g
}

pub(crate) fn histogram(r: &Registry, name: &str, help: &str, buckets: Vec<f64>) -> Histogram {
    let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))
        .expect("valid metric");
    r.register(Box::new(h.clone())).expect("unique metric");
    h
}

/// Latency buckets from 100 µs to 10 s.
pub(crate) fn latency_buckets() -> Vec<f64> {
    vec![
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
        10.0,
    ]
}

/// Simulator metrics (served on :8000).
#[derive(Clone)]
pub struct SimulatorMetrics {
    pub registry: Registry,
    pub published: IntCounter,
    pub entries: IntCounter,
    pub publish_latency: Histogram,
    /// Publishing attempts that failed on Redis (each is retried, resuming).
    pub publish_failures: IntCounter,
    pub current_lap: IntGauge,
    pub trimmed: IntGauge,
    /// 1 once the chequered flag has been published (silence is expected then).
    pub race_finished: IntGauge,
}

impl SimulatorMetrics {
    pub fn new() -> Self {
        let r = Registry::new();
        SimulatorMetrics {
            published: counter(
                &r,
                "pitstop_simulator_messages_published_total",
                "Telemetry samples published to Redis.",
            ),
            entries: counter(
                &r,
                "pitstop_simulator_stream_entries_total",
                "Stream entries (batches of samples) written.",
            ),
            publish_latency: histogram(
                &r,
                "pitstop_simulator_publish_latency_seconds",
                "Time of one pipelined XADD round trip.",
                latency_buckets(),
            ),
            publish_failures: counter(
                &r,
                "pitstop_simulator_publish_failures_total",
                "Publishing attempts that failed on Redis; each is retried, resuming from the session's progress.",
            ),
            current_lap: gauge(
                &r,
                "pitstop_simulator_current_lap",
                "Lap the race leader is on.",
            ),
            trimmed: gauge(
                &r,
                "pitstop_simulator_stream_trimmed_entries",
                "Entries of this session trimmed by MAXLEN before the post-race pipeline archived them.",
            ),
            race_finished: gauge(
                &r,
                "pitstop_simulator_race_finished",
                "1 once the chequered flag has been published.",
            ),
            registry: r,
        }
    }
}

impl Default for SimulatorMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Caps the number of distinct team label values (teams come from API clients too).
pub struct TeamLabels {
    seen: Mutex<HashSet<String>>,
    cap: usize,
}

impl TeamLabels {
    pub fn new(cap: usize) -> Self {
        TeamLabels {
            seen: Mutex::new(HashSet::new()),
            cap,
        }
    }

    /// The label to use for `team`: itself while under the cap, else `other`.
    pub fn label<'a>(&self, team: &'a str) -> &'a str {
        let mut seen = self.seen.lock().expect("poisoned");
        if seen.contains(team) {
            return team;
        }
        if seen.len() < self.cap {
            seen.insert(team.to_owned());
            team
        } else {
            "other"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Team labels stop growing at the cap, so a hostile client cannot explode cardinality.
    #[test]
    fn team_labels_are_capped() {
        let labels = TeamLabels::new(2);
        assert_eq!(labels.label("Ferrari"), "Ferrari");
        assert_eq!(labels.label("McLaren"), "McLaren");
        assert_eq!(labels.label("Evil"), "other");
        assert_eq!(labels.label("Ferrari"), "Ferrari");
    }
}
