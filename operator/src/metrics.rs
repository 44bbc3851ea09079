//! Operator metrics on :8002: reconciles by result, errors by static category,
//! reconcile duration, stalled specs by reason.

use prometheus::{Histogram, HistogramOpts, IntCounterVec, Opts, Registry};

#[derive(Clone)]
pub struct OperatorMetrics {
    pub registry: Registry,
    pub reconciles: IntCounterVec,
    pub errors: IntCounterVec,
    pub stalls: IntCounterVec,
    pub duration: Histogram,
}

impl OperatorMetrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let reconciles = IntCounterVec::new(
            Opts::new("pitstop_operator_reconciles_total", "Reconciles by result."),
            &["result"],
        )
        .expect("valid");
        let errors = IntCounterVec::new(
            Opts::new(
                "pitstop_operator_reconcile_errors_total",
                "Failed reconciles by error category.",
            ),
            &["category"],
        )
        .expect("valid");
        let stalls = IntCounterVec::new(
            Opts::new(
                "pitstop_operator_stalled_total",
                "Reconciles that found an invalid spec, by reason.",
            ),
            &["reason"],
        )
        .expect("valid");
        let duration = Histogram::with_opts(
            HistogramOpts::new(
                "pitstop_operator_reconcile_duration_seconds",
                "Duration of one reconcile.",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
        )
        .expect("valid");
        for c in [
            Box::new(reconciles.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(errors.clone()),
            Box::new(stalls.clone()),
            Box::new(duration.clone()),
        ] {
            registry.register(c).expect("unique");
        }
        // Known label values start at zero, so "no errors" is a zero, not a missing series.
        for category in [
            "conflict",
            "forbidden",
            "api",
            "transport",
            "invalid_object",
        ] {
            errors.with_label_values(&[category]);
        }
        for result in ["success", "error"] {
            reconciles.with_label_values(&[result]);
        }
        OperatorMetrics {
            registry,
            reconciles,
            errors,
            stalls,
            duration,
        }
    }

    pub fn stalled(&self, reason: &'static str) {
        self.stalls.with_label_values(&[reason]).inc();
    }
}

impl Default for OperatorMetrics {
    fn default() -> Self {
        Self::new()
    }
}
