//! Exact latency distributions for benchmarks (the Prometheus histograms have fixed
//! buckets; `pitstop bench` reports p50/p99/p99.9 from these).

use hdrhistogram::Histogram;
use std::sync::Mutex;

pub struct LatencyRecorder {
    detection: Mutex<Histogram<u64>>,
    durable: Mutex<Histogram<u64>>,
    commit: Mutex<Histogram<u64>>,
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        let h = || Mutex::new(Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"));
        LatencyRecorder {
            detection: h(),
            durable: h(),
            commit: h(),
        }
    }
}

/// p50, p99 and p99.9 in microseconds.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Quantiles {
    pub count: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
}

fn quantiles(h: &Histogram<u64>) -> Quantiles {
    Quantiles {
        count: h.len(),
        p50_us: h.value_at_quantile(0.5),
        p99_us: h.value_at_quantile(0.99),
        p999_us: h.value_at_quantile(0.999),
    }
}

impl LatencyRecorder {
    pub fn detection(&self, us: i64, n: u64) {
        let _ = self
            .detection
            .lock()
            .expect("poisoned")
            .record_n(us.max(1) as u64, n);
    }
    pub fn durable(&self, us: i64, n: u64) {
        let _ = self
            .durable
            .lock()
            .expect("poisoned")
            .record_n(us.max(1) as u64, n);
    }
    /// Duration of one PostgreSQL batch transaction.
    pub fn commit(&self, us: i64) {
        let _ = self
            .commit
            .lock()
            .expect("poisoned")
            .record(us.max(1) as u64);
    }
    pub fn commits(&self) -> Quantiles {
        quantiles(&self.commit.lock().expect("poisoned"))
    }
    pub fn reset(&self) {
        self.detection.lock().expect("poisoned").reset();
        self.durable.lock().expect("poisoned").reset();
        self.commit.lock().expect("poisoned").reset();
    }
    pub fn snapshot(&self) -> (Quantiles, Quantiles) {
        (
            quantiles(&self.detection.lock().expect("poisoned")),
            quantiles(&self.durable.lock().expect("poisoned")),
        )
    }
}
