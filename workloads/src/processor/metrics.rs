//! The processor's Prometheus metrics (served on :8001 with the API): throughput,
//! latencies, detections, drops and dead letters, and the live per-car gauges.

use super::live::CarMetrics;
use crate::codec::DecodeError;
use crate::metrics::{counter, counter_vec, gauge, histogram, latency_buckets};
use prometheus::{Histogram, IntCounter, IntCounterVec, IntGauge, Registry};

/// Reasons of `pitstop_processor_dropped_samples_total`.
pub const DROP_REASONS: [&str; 3] = ["duplicate_at_ingest", "duplicate_in_stream", "after_finish"];

/// Reasons of `pitstop_processor_rejected_samples_total` (zero until the first).
pub const REJECT_REASONS: [&str; 7] = [
    "malformed",
    "required",
    "conflict",
    "numbering",
    "future",
    "too_late",
    "seq_jump",
];

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
    /// Ingest writes to a Redis Cluster that no replica confirmed in time.
    pub unreplicated: IntCounter,
    /// Samples older than their car's latest: counted, not analysed.
    pub out_of_order: IntCounter,
    /// Samples not counted at all, by reason (see [`DROP_REASONS`]).
    pub dropped: IntCounterVec,
    /// Samples `POST /telemetry` refused while taking the rest of their body, by reason.
    pub rejected: IntCounterVec,
    /// Values `POST /telemetry` made unknown because they were impossible.
    pub unknown_values: IntCounterVec,
    pub trimmed_before_processing: IntCounter,
    pub partitions_owned: IntGauge,
    pub ingest_requests: IntCounterVec,
    pub ingest_samples: IntCounter,
    pub lag_entries: IntGauge,
    /// Live per-car gauges (the telemetry dashboard).
    pub cars: std::sync::Arc<CarMetrics>,
    /// The strategy panel's gauges.
    pub strategy: super::strategy_metrics::StrategyMetrics,
}

impl ProcessorMetrics {
    pub fn new() -> Self {
        let r = Registry::new();
        ProcessorMetrics {
            processed: counter(
                &r,
                pitstop_contract::metrics::MESSAGES_PROCESSED_TOTAL,
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
            unreplicated: counter(
                &r,
                "pitstop_processor_unreplicated_writes_total",
                "Writes of ingest (samples, starts, finishes) and of dead letters to a Redis Cluster that no replica of their master confirmed within 200 ms: acknowledged, but on the master alone until it replicates.",
            ),
            out_of_order: counter(
                &r,
                "pitstop_processor_out_of_order_samples_total",
                "Samples older than what their car's analytics already saw (after the reorder hold): counted and archived, too late to analyse.",
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
            rejected: {
                let c = counter_vec(
                    &r,
                    "pitstop_processor_rejected_samples_total",
                    "Samples POST /telemetry refused while taking the rest of their body, by reason.",
                    &["reason"],
                );
                for reason in REJECT_REASONS {
                    c.with_label_values(&[reason]);
                }
                c
            },
            unknown_values: counter_vec(
                &r,
                "pitstop_processor_unknown_values_total",
                "Channel values POST /telemetry made unknown because they were impossible (out of range, unparsable), by channel and reason.",
                &["channel", "reason"],
            ),
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
            cars: std::sync::Arc::new(CarMetrics::new(&r)),
            strategy: super::strategy_metrics::StrategyMetrics::new(&r),
            dead_letters: {
                let c = counter_vec(
                    &r,
                    "pitstop_processor_dead_letters_total",
                    "Stream entries moved to the dead-letter stream, by reason.",
                    &["reason"],
                );
                // Zero, not absent, until the first dead letter of a reason.
                for reason in DecodeError::CATEGORIES {
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
    use crate::metrics::render;

    /// The HPA contract: the per-pod counter exists under its fixed name.
    #[test]
    fn processed_counter_has_the_contract_name() {
        let m = ProcessorMetrics::new();
        m.processed.inc_by(3);
        assert!(render(&m.registry).contains("pitstop_processor_messages_processed_total 3"));
    }

    /// Alert rules select `le="4"` (the slow-stop threshold): the exporter must print it so.
    #[test]
    fn slow_stop_bucket_label() {
        let m = ProcessorMetrics::new();
        m.stationary.observe(5.0);
        let text = render(&m.registry);
        assert!(
            text.contains("pitstop_processor_pit_stop_stationary_seconds_bucket{le=\"4\"} 0"),
            "{text}"
        );
    }
}
