//! The monitoring stack of a race: Prometheus ([`prometheus`] objects, its
//! [`prometheus_config`]), Grafana ([`grafana`]: objects, provisioning, dashboards) and the
//! cluster-wide prometheus-adapter rule that serves the HPA's messages-per-second metric
//! ([`adapter`]).

pub mod adapter;
pub mod grafana;
pub mod prometheus;
pub mod prometheus_config;
