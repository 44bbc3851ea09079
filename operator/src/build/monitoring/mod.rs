//! The monitoring stack of a race: its Prometheus configuration and rules.

use crate::model::Model;
use serde_json::json;

const RULES: &str = include_str!("rules.yaml");

/// The rule file of a race's Prometheus. The HPA maximum is the only race-specific value
/// (with autoscaling off, the fixed replica count plays its part).
pub fn rules(m: &Model) -> String {
    let max = m
        .autoscaling
        .as_ref()
        .map(|a| a.max_replicas)
        .or(m.processor_replicas)
        .unwrap_or(1);
    RULES.replace("{{MAX_REPLICAS}}", &max.to_string())
}

/// Files the configuration refers to (in the pod; tests point them elsewhere).
pub struct Paths {
    pub rules: String,
    pub token: String,
    pub ca: String,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            rules: "/etc/prometheus/rules/rules.yaml".into(),
            token: "/var/run/secrets/kubernetes.io/serviceaccount/token".into(),
            ca: "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt".into(),
        }
    }
}

/// How Prometheus finds its targets.
pub enum Discovery {
    /// In the cluster: Kubernetes pod and node discovery.
    Kubernetes,
    /// Fixed `host:port` targets (local runs and tests; no cAdvisor job).
    Static {
        simulator: Vec<String>,
        processor: Vec<String>,
        operator: Vec<String>,
    },
}

/// A job keeping one component's pods of this race on one port (or fixed targets).
fn component_job(
    m: &Model,
    d: &Discovery,
    job: &str,
    component: &str,
    port: u16,
) -> serde_json::Value {
    match d {
        Discovery::Kubernetes => json!({
            "job_name": job,
            "scrape_interval": "5s",
            "kubernetes_sd_configs": [{
                "role": "pod",
                "namespaces": {"names": [m.namespace]},
                "selectors": [{"role": "pod", "label": format!("app.kubernetes.io/instance={},app.kubernetes.io/component={component}", m.name)}],
            }],
            "relabel_configs": [
                {"source_labels": ["__meta_kubernetes_pod_container_port_number"], "regex": port.to_string(), "action": "keep"},
                {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
                {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            ],
        }),
        Discovery::Static {
            simulator,
            processor,
            operator,
        } => {
            let targets = match component {
                "simulator" => simulator,
                "processor" => processor,
                _ => operator,
            };
            json!({
                "job_name": job,
                "scrape_interval": "5s",
                "static_configs": [{"targets": targets}],
                // Locally the target address stands in for the pod name.
                "relabel_configs": [{"source_labels": ["__address__"], "target_label": "pod"}],
            })
        }
    }
}

/// `prometheus.yml` of a race's Prometheus: simulator (:8000), every processor pod
/// (:8001), the operator (:8002) and, in the cluster, container metrics from cAdvisor.
pub fn prometheus_config(m: &Model, d: &Discovery, paths: &Paths) -> String {
    let mut jobs = vec![
        component_job(m, d, "pitstop-simulator", "simulator", 8000),
        component_job(m, d, "pitstop-processor", "processor", 8001),
    ];
    if let Discovery::Static { .. } = d {
        jobs.push(component_job(m, d, "pitstop-operator", "operator", 8002));
    } else {
        jobs.extend(kubernetes_only_jobs(m, paths));
    }
    let config = json!({
        "global": {
            "scrape_interval": "15s",
            "evaluation_interval": "15s",
            "external_labels": {"race": m.name, "namespace": m.namespace},
        },
        "rule_files": [paths.rules],
        "scrape_configs": jobs,
    });
    serde_yaml::to_string(&config).expect("configuration serializes")
}

/// The operator (found in any namespace) and each kubelet's cAdvisor through the API
/// server's node proxy, kept to this race's namespace.
fn kubernetes_only_jobs(m: &Model, paths: &Paths) -> Vec<serde_json::Value> {
    vec![
        json!({
            "job_name": "pitstop-operator",
            "kubernetes_sd_configs": [{
                "role": "pod",
                "selectors": [{"role": "pod", "label": "app.kubernetes.io/name=pitstop-operator"}],
            }],
            "relabel_configs": [
                {"source_labels": ["__meta_kubernetes_pod_container_port_number"], "regex": "8002", "action": "keep"},
                {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            ],
        }),
        json!({
            "job_name": "kubelet-cadvisor",
            "scheme": "https",
            "authorization": {"credentials_file": paths.token},
            "tls_config": {"ca_file": paths.ca},
            "kubernetes_sd_configs": [{"role": "node"}],
            "relabel_configs": [
                {"target_label": "__address__", "replacement": "kubernetes.default.svc:443"},
                {"source_labels": ["__meta_kubernetes_node_name"], "regex": "(.+)", "target_label": "__metrics_path__",
                 "replacement": "/api/v1/nodes/${1}/proxy/metrics/cadvisor"},
            ],
            "metric_relabel_configs": [
                {"source_labels": ["namespace"], "regex": m.namespace, "action": "keep"},
            ],
        }),
    ]
}
