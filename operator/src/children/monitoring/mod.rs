//! The monitoring of a race, by `monitoring.mode`. `owned`: the race's Prometheus
//! ([`prometheus`] objects, its [`prometheus_config`]) and Grafana ([`grafana`]: objects,
//! provisioning, dashboards). `prometheusOperator`: PodMonitors and a PrometheusRule for
//! the cluster's Prometheus Operator ([`prometheus_operator`]) and dashboard ConfigMaps for
//! the cluster Grafana's sidecar ([`grafana_sidecar`]), their queries confined to the race
//! ([`promql`]). For both, the cluster-wide prometheus-adapter rule that serves the HPA's
//! messages-per-second metric ([`adapter`]).

pub mod adapter;
pub mod grafana;
pub mod grafana_sidecar;
pub mod prometheus;
pub mod prometheus_config;
pub mod prometheus_operator;
pub mod promql;
