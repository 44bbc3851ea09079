//! The gateway's metrics (`/metrics`) and the figures of its `/status`.

use super::assemble::Dropped;
use super::decode::{PACKET_KINDS, Refused};
use crate::metrics::{counter_vec, gauge, histogram, latency_buckets, total};
use prometheus::{Histogram, IntCounterVec, IntGauge, Registry};

#[derive(Clone)]
pub struct GatewayMetrics {
    pub registry: Registry,
    /// Datagrams decoded, by packet kind.
    pub datagrams: IntCounterVec,
    /// Datagrams or frames not sent on, by reason.
    pub dropped: IntCounterVec,
    pub sessions: IntGauge,
    /// Samples the processor took, and refused (with its reason).
    pub samples: IntCounterVec,
    /// Arrival of a datagram to the processor's answer for its samples.
    pub lag: Histogram,
    /// |stationary time from motion − the game's `pitStopTimerInMS`|, per matched stop.
    pub stop_agreement: Histogram,
    /// Stops the game timed, by whether the processor found the same stop from motion.
    pub game_stops: IntCounterVec,
}

impl GatewayMetrics {
    pub fn new() -> Self {
        let r = Registry::new();
        let m = GatewayMetrics {
            datagrams: counter_vec(
                &r,
                "pitstop_gateway_datagrams_total",
                "F1 game datagrams decoded, by packet kind",
                &["packet"],
            ),
            dropped: counter_vec(
                &r,
                "pitstop_gateway_dropped_total",
                "Datagrams (or frames) not sent on, by reason",
                &["reason"],
            ),
            sessions: gauge(&r, "pitstop_gateway_sessions", "Game sessions seen"),
            samples: counter_vec(
                &r,
                "pitstop_gateway_samples_total",
                "Samples sent to the processor, by its answer (stored, duplicate, refused)",
                &["outcome"],
            ),
            lag: histogram(
                &r,
                "pitstop_gateway_lag_seconds",
                "From a datagram's arrival to the processor's answer for its samples",
                latency_buckets(),
            ),
            stop_agreement: histogram(
                &r,
                "pitstop_gateway_stop_agreement_seconds",
                "Stationary time found from motion minus the game's own pit-stop timer, absolute",
                vec![0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0],
            ),
            game_stops: counter_vec(
                &r,
                "pitstop_gateway_game_stops_total",
                "Stops the game timed, by whether motion found them (matched) or not (unmatched)",
                &["outcome"],
            ),
            registry: r,
        };
        // Every label value once, so a dashboard shows zeros rather than nothing.
        for k in PACKET_KINDS {
            m.datagrams.with_label_values(&[k]);
        }
        for r in Refused::ALL {
            m.dropped.with_label_values(&[r.as_str()]);
        }
        for d in Dropped::ALL {
            m.dropped.with_label_values(&[d.as_str()]);
        }
        m.dropped.with_label_values(&[BACKLOG_FULL]);
        m.dropped.with_label_values(&[SOCKET_OVERFLOW]);
        for o in ["matched", "unmatched"] {
            m.game_stops.with_label_values(&[o]);
        }
        for o in ["stored", "duplicate", "refused"] {
            m.samples.with_label_values(&[o]);
        }
        m
    }

    /// Datagrams and frames not sent on, every reason.
    pub fn dropped_total(&self) -> u64 {
        total(&self.dropped)
    }

    pub fn datagrams_total(&self) -> u64 {
        PACKET_KINDS
            .iter()
            .map(|k| self.datagrams.with_label_values(&[k]).get())
            .sum()
    }
}

impl Default for GatewayMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Drop reason of samples the sender could not queue (the processor is far behind).
pub const BACKLOG_FULL: &str = "backlog_full";

/// Drop reason of datagrams the kernel dropped because the socket's buffer was full (the
/// gateway did not read them in time: it never saw them).
pub const SOCKET_OVERFLOW: &str = "socket_overflow";
