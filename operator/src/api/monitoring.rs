//! `spec.monitoring`: what watches a race. `owned` runs its own Prometheus and Grafana;
//! `prometheusOperator` hands the cluster's Prometheus Operator (kube-prometheus-stack)
//! PodMonitors, a PrometheusRule and the dashboards as ConfigMaps for Grafana's dashboard
//! sidecar; `none` runs nothing. `enabled: false`, the spelling from before `mode`, means
//! `none`.

use k8s_openapi::api::networking::v1::NetworkPolicyPeer;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Label keys (`prefix/name`) and annotation keys follow the same syntax.
const KEY_PATTERN: &str = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$";

/// Monitoring of the race.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.enabled || !has(self.mode) || self.mode == 'none'").message("enabled: false means mode: none; drop enabled or set mode: none"))]
pub struct MonitoringSpec {
    /// `false` turns monitoring off, like `mode: none` (the spelling from before `mode`;
    /// with `enabled: false` the mode must be absent or `none`).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `owned` (the default): the race's own Prometheus and Grafana. `prometheusOperator`:
    /// PodMonitors for the simulator and processor, a PrometheusRule with the race's rules
    /// and the dashboards as ConfigMaps for Grafana's dashboard sidecar, for the cluster's
    /// Prometheus Operator (needs the monitoring.coreos.com CRDs). `none`: no monitoring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "optional_mode")]
    pub mode: Option<MonitoringMode>,
    /// Prometheus retention, e.g. 24h or 7d (`owned`).
    #[serde(default = "default_retention")]
    #[schemars(regex(pattern = r"^[0-9]+(ms|s|m|h|d|w|y)$"))]
    pub retention: String,
    /// Prometheus image (`owned`; default: prom/prometheus of the version this operator is
    /// tested with).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus_image: Option<String>,
    /// Grafana image (`owned`; default: grafana/grafana of the version the dashboards are
    /// made for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grafana_image: Option<String>,
    /// Settings of `mode: prometheusOperator` (ignored in the other modes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus_operator: Option<PrometheusOperatorSpec>,
}

impl Default for MonitoringSpec {
    fn default() -> Self {
        MonitoringSpec {
            enabled: true,
            mode: None,
            retention: default_retention(),
            prometheus_image: None,
            grafana_image: None,
            prometheus_operator: None,
        }
    }
}

impl MonitoringSpec {
    /// The mode `enabled` and `mode` ask for together: `enabled: false` is `none`, no
    /// mode is `owned`. (Validation refuses `enabled: false` with another mode.)
    pub fn effective_mode(&self) -> MonitoringMode {
        match (self.enabled, self.mode) {
            (false, _) => MonitoringMode::None,
            (true, mode) => mode.unwrap_or_default(),
        }
    }
}

/// Who monitors the race.
#[derive(
    schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq,
)]
#[serde(rename_all = "camelCase")]
pub enum MonitoringMode {
    #[default]
    Owned,
    PrometheusOperator,
    None,
}

/// The schema of an optional mode: the three values, or absent (schemars would list
/// `null` among the enum's values).
fn optional_mode(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let values = [
        MonitoringMode::Owned,
        MonitoringMode::PrometheusOperator,
        MonitoringMode::None,
    ]
    .map(MonitoringMode::as_str);
    schemars::json_schema!({"type": "string", "nullable": true, "enum": values})
}

impl MonitoringMode {
    /// The spelling in the spec.
    pub fn as_str(self) -> &'static str {
        match self {
            MonitoringMode::Owned => "owned",
            MonitoringMode::PrometheusOperator => "prometheusOperator",
            MonitoringMode::None => "none",
        }
    }
}

/// What the cluster's Prometheus Operator and Grafana need to pick the race's objects up.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PrometheusOperatorSpec {
    /// Labels added to the PodMonitors and the PrometheusRule, so that the Prometheus's
    /// `podMonitorSelector` and `ruleSelector` select them (kube-prometheus-stack selects
    /// `release: <its release name>` unless its `*SelectorNilUsesHelmValues` are false).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The cluster Prometheus's HTTP address, e.g.
    /// http://kube-prometheus-stack-prometheus.monitoring.svc:9090: what KEDA's Prometheus
    /// trigger queries. Required with `processor.autoscaling.engine: keda`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^https?://[^\s]+$"))]
    pub prometheus_url: Option<String>,
    /// Peers the processor's NetworkPolicy admits on :8001 for scraping. Empty: pods
    /// labelled `app.kubernetes.io/name: prometheus` in any namespace (how the Prometheus
    /// Operator labels its Prometheus pods).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prometheus_peers: Vec<NetworkPolicyPeer>,
    /// The dashboard ConfigMaps, as Grafana's dashboard sidecar finds them.
    #[serde(default)]
    pub dashboards: SidecarDashboardsSpec,
}

/// How Grafana's dashboard sidecar (kube-prometheus-stack: `grafana.sidecar.dashboards`)
/// recognizes the dashboard ConfigMaps and files them.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SidecarDashboardsSpec {
    /// Label key the sidecar watches for (`sidecar.dashboards.label`).
    #[serde(default = "default_label")]
    #[schemars(length(min = 1, max = 317), regex(pattern = KEY_PATTERN))]
    pub label: String,
    /// Its value (`sidecar.dashboards.labelValue`).
    #[serde(default = "default_label_value")]
    #[schemars(
        length(max = 63),
        regex(pattern = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
    )]
    pub label_value: String,
    /// Annotation naming the Grafana folder (`sidecar.dashboards.folderAnnotation`).
    #[serde(default = "default_folder_annotation")]
    #[schemars(length(min = 1, max = 317), regex(pattern = KEY_PATTERN))]
    pub folder_annotation: String,
    /// The Grafana folder of the race's dashboards.
    #[serde(default = "default_folder")]
    #[schemars(length(min = 1, max = 253))]
    pub folder: String,
}

impl Default for SidecarDashboardsSpec {
    fn default() -> Self {
        SidecarDashboardsSpec {
            label: default_label(),
            label_value: default_label_value(),
            folder_annotation: default_folder_annotation(),
            folder: default_folder(),
        }
    }
}

fn yes() -> bool {
    true
}
fn default_retention() -> String {
    "24h".into()
}
fn default_label() -> String {
    "grafana_dashboard".into()
}
fn default_label_value() -> String {
    "1".into()
}
fn default_folder_annotation() -> String {
    "grafana_folder".into()
}
fn default_folder() -> String {
    "pitstop".into()
}
