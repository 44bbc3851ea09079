//! Prometheus metrics of the simulator and the processor. Every name starts with
//! `pitstop_`; labels take only bounded values (kinds, severities, static categories,
//! team names capped by [`TeamLabels`]).

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

/// Reasons of `pitstop_processor_dropped_samples_total`.
pub const DROP_REASONS: [&str; 3] = ["duplicate_at_ingest", "duplicate_in_stream", "after_finish"];

fn counter(r: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).expect("valid metric");
    r.register(Box::new(c.clone())).expect("unique metric");
    c
}

fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(c.clone())).expect("unique metric");
    c
}

fn gauge(r: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).expect("valid metric");
    r.register(Box::new(g.clone())).expect("unique metric");
    g
}

fn histogram(r: &Registry, name: &str, help: &str, buckets: Vec<f64>) -> Histogram {
    let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))
        .expect("valid metric");
    r.register(Box::new(h.clone())).expect("unique metric");
    h
}

/// Latency buckets from 100 µs to 10 s.
fn latency_buckets() -> Vec<f64> {
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

/// Processor metrics (served on :8001).
#[derive(Clone)]
pub struct ProcessorMetrics {
    pub registry: Registry,
    /// The per-pod counter behind the HPA's `pitstop_processor_messages_processed_per_second`.
    pub processed: IntCounter,
    pub entries: IntCounter,
    pub detection_latency: Histogram,
    pub e2e_latency: Histogram,
    pub commit_duration: Histogram,
    pub batch_samples: Histogram,
    pub pit_stops: IntCounterVec,
    pub stationary: Histogram,
    pub anomalies: IntCounterVec,
    pub dead_letters: IntCounterVec,
    pub redelivered: IntCounter,
    /// Samples older than their car's latest: counted, not analysed.
    pub out_of_order: IntCounter,
    /// Samples not counted at all, by reason (see [`DROP_REASONS`]).
    pub dropped: IntCounterVec,
    pub trimmed_before_processing: IntCounter,
    pub partitions_owned: IntGauge,
    pub ingest_requests: IntCounterVec,
    pub ingest_samples: IntCounter,
    pub lag_entries: IntGauge,
    /// Live per-car gauges (the telemetry dashboard).
    pub cars: std::sync::Arc<crate::processor::live::CarMetrics>,
}

impl ProcessorMetrics {
    pub fn new() -> Self {
        let r = Registry::new();
        ProcessorMetrics {
            processed: counter(
                &r,
                "pitstop_processor_messages_processed_total",
                "Telemetry samples processed and committed by this pod.",
            ),
            entries: counter(
                &r,
                "pitstop_processor_stream_entries_total",
                "Stream entries processed and committed by this pod.",
            ),
            detection_latency: histogram(
                &r,
                "pitstop_processor_detection_latency_seconds",
                "Sample created to analysed (when a stop or anomaly can be raised).",
                latency_buckets(),
            ),
            e2e_latency: histogram(
                &r,
                "pitstop_processor_e2e_latency_seconds",
                "Sample created to its effects committed in PostgreSQL.",
                latency_buckets(),
            ),
            commit_duration: histogram(
                &r,
                "pitstop_processor_commit_duration_seconds",
                "Duration of one PostgreSQL batch transaction.",
                latency_buckets(),
            ),
            batch_samples: histogram(
                &r,
                "pitstop_processor_batch_samples",
                "Samples per committed batch.",
                vec![1.0, 10.0, 100.0, 1_000.0, 10_000.0, 100_000.0],
            ),
            pit_stops: counter_vec(
                &r,
                "pitstop_processor_pit_stops_total",
                "Pit stops detected, by team.",
                &["team"],
            ),
            stationary: histogram(
                &r,
                "pitstop_processor_pit_stop_stationary_seconds",
                "Stationary time of detected pit stops.",
                vec![
                    1.8, 2.0, 2.2, 2.4, 2.6, 2.8, 3.0, 3.5, 4.0, 5.0, 7.0, 10.0, 15.0,
                ],
            ),
            anomalies: counter_vec(
                &r,
                "pitstop_processor_anomalies_total",
                "Anomalies detected, by kind and severity.",
                &["kind", "severity"],
            ),
            redelivered: counter(
                &r,
                "pitstop_processor_redelivered_entries_total",
                "Entries delivered again whose effects were already committed (acknowledged, not counted).",
            ),
            out_of_order: counter(
                &r,
                "pitstop_processor_out_of_order_samples_total",
                "Samples older than their car's latest: counted, not analysed (history resent, or chunks timed from the wrong start).",
            ),
            dropped: {
                let c = counter_vec(
                    &r,
                    "pitstop_processor_dropped_samples_total",
                    "Samples not counted, by reason: a resend ingest recognised (duplicate_at_ingest), a seq the car already had in the stream (duplicate_in_stream), a session past its chequered flag (after_finish).",
                    &["reason"],
                );
                for reason in DROP_REASONS {
                    c.with_label_values(&[reason]);
                }
                c
            },
            trimmed_before_processing: counter(
                &r,
                "pitstop_processor_trimmed_entries_total",
                "Pending entries that MAXLEN trimmed before they were processed.",
            ),
            partitions_owned: gauge(
                &r,
                "pitstop_processor_partitions_owned",
                "Stream partitions this pod currently owns.",
            ),
            ingest_requests: counter_vec(
                &r,
                "pitstop_processor_ingest_requests_total",
                "POST /telemetry requests by HTTP status code.",
                &["code"],
            ),
            ingest_samples: counter(
                &r,
                "pitstop_processor_ingest_samples_total",
                "Samples accepted through POST /telemetry.",
            ),
            lag_entries: gauge(
                &r,
                "pitstop_processor_consumer_lag_entries",
                "Entries in owned partitions not yet delivered to this pod (Redis 7 group lag).",
            ),
            cars: std::sync::Arc::new(crate::processor::live::CarMetrics::new(&r)),
            dead_letters: {
                let c = counter_vec(
                    &r,
                    "pitstop_processor_dead_letters_total",
                    "Stream entries moved to the dead-letter stream, by reason.",
                    &["reason"],
                );
                // Zero, not absent, until the first dead letter of a reason.
                for reason in crate::codec::DecodeError::CATEGORIES {
                    c.with_label_values(&[reason]);
                }
                c
            },
            registry: r,
        }
    }
}

impl Default for ProcessorMetrics {
    fn default() -> Self {
        Self::new()
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

    /// The HPA contract: the per-pod counter exists under its fixed name.
    #[test]
    fn processed_counter_has_the_contract_name() {
        let m = ProcessorMetrics::new();
        m.processed.inc_by(3);
        assert!(render(&m.registry).contains("pitstop_processor_messages_processed_total 3"));
    }
}

#[cfg(test)]
mod bucket_format {
    /// Alert rules select `le="4"` (the slow-stop threshold): the exporter must print it so.
    #[test]
    fn slow_stop_bucket_label() {
        let m = super::ProcessorMetrics::new();
        m.stationary.observe(5.0);
        let text = super::render(&m.registry);
        assert!(
            text.contains("pitstop_processor_pit_stop_stationary_seconds_bucket{le=\"4\"} 0"),
            "{text}"
        );
    }
}
