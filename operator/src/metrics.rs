//! Operator metrics on :8002: reconciles by result, errors by static category,
//! reconcile duration, stalled specs by reason.

use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

#[derive(Clone)]
pub struct OperatorMetrics {
    pub registry: Registry,
    pub reconciles: IntCounterVec,
    pub errors: IntCounterVec,
    pub stalls: IntCounterVec,
    pub duration: Histogram,
    /// Post-race task durations by step and result.
    pub task_duration: HistogramVec,
    /// Failed post-race task attempts by step.
    pub task_failures: IntCounterVec,
    /// Finished post-race runs by result.
    pub pipeline_runs: IntCounterVec,
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
        let task_duration = HistogramVec::new(
            HistogramOpts::new(
                "pitstop_operator_pipeline_task_duration_seconds",
                "Duration of post-race pipeline tasks, by step and result.",
            )
            .buckets(vec![
                1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0,
            ]),
            &["step", "result"],
        )
        .expect("valid");
        let task_failures = IntCounterVec::new(
            Opts::new(
                "pitstop_operator_pipeline_task_failures_total",
                "Failed post-race task attempts, by step.",
            ),
            &["step"],
        )
        .expect("valid");
        let pipeline_runs = IntCounterVec::new(
            Opts::new(
                "pitstop_operator_pipeline_runs_total",
                "Finished post-race pipeline runs, by result.",
            ),
            &["result"],
        )
        .expect("valid");
        for c in [
            Box::new(task_duration.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(task_failures.clone()),
            Box::new(pipeline_runs.clone()),
            Box::new(reconciles.clone()),
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
        for result in ["succeeded", "failed"] {
            pipeline_runs.with_label_values(&[result]);
        }
        OperatorMetrics {
            registry,
            reconciles,
            errors,
            stalls,
            duration,
            task_duration,
            task_failures,
            pipeline_runs,
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
