//! The configuration of a race's Prometheus: `prometheus.yml` (what it scrapes and how
//! it authenticates to the operator) and the rule file (recording and alerting rules with
//! the race's autoscaling figures). The objects that mount it are in
//! [`super::prometheus`].

use crate::api::DEFAULT_MESSAGES_PER_SECOND;
use crate::children::meta::{Component, keys};
use crate::children::ports;
use crate::model::{Model, Source};
use serde_json::json;

const RULES: &str = include_str!("rules.yaml");

/// Scrape job of the race's simulators (the rules and the KEDA query name it).
pub const SIMULATOR_JOB: &str = "pitstop-simulator";
/// Scrape job of the race's processors.
pub const PROCESSOR_JOB: &str = "pitstop-processor";
/// Scrape job of the race's F1-game gateway (`source.type: game`).
pub const GATEWAY_JOB: &str = "pitstop-gateway";

/// The scraped pod of the race's source, its job and port: the simulator, or the F1-game
/// gateway (the OpenF1 replay and external clients serve no metrics).
pub fn source_job(m: &Model) -> Option<(Component, &'static str, i32)> {
    match m.source {
        Source::Simulator => Some((Component::Simulator, SIMULATOR_JOB, ports::SIMULATOR)),
        Source::Game(_) => Some((Component::Gateway, GATEWAY_JOB, ports::GATEWAY)),
        Source::OpenF1(_) | Source::External => None,
    }
}

/// The rule file of a race's Prometheus. The autoscaler's maximum and per-pod target are
/// the race-specific values (with autoscaling off, the fixed replica count is the maximum
/// and the default target stays as a reference line).
pub fn rules(m: &Model) -> String {
    let max = m
        .autoscaling
        .as_ref()
        .map(|a| a.max_replicas)
        .or(m.processor_replicas)
        .unwrap_or(1);
    let target = m
        .autoscaling
        .as_ref()
        .map(|a| a.messages_per_second)
        .unwrap_or(DEFAULT_MESSAGES_PER_SECOND);
    RULES
        .replace("{{MAX_REPLICAS}}", &max.to_string())
        .replace("{{TARGET_MPS}}", &target.to_string())
}

/// Rendering choices of `prometheus.yml` (tests shorten the intervals and move the rule file).
pub struct Options {
    pub rules: String,
    pub scrape_interval: String,
    pub evaluation_interval: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            rules: "/etc/prometheus/rules/rules.yaml".into(),
            scrape_interval: "5s".into(),
            evaluation_interval: "15s".into(),
        }
    }
}

/// How Prometheus finds its targets.
pub enum Discovery {
    /// In the cluster: pod discovery in the race's namespace, DNS discovery of the
    /// operator's replicas, the operator's container-metrics proxy for cAdvisor.
    Kubernetes,
    /// Fixed `host:port` targets (local runs and tests).
    Static {
        simulator: Vec<String>,
        processor: Vec<String>,
        operator: Vec<String>,
        /// Servers of `/cadvisor/<namespace>` (the operator).
        cadvisor: Vec<String>,
        /// File holding the bearer token sent to them.
        cadvisor_token_file: String,
    },
}

/// Where a race's Prometheus finds its token for the operator: a projected
/// service-account token for the audience [`crate::access::AUDIENCE`] (see
/// `prometheus::deployment`).
pub const OPERATOR_TOKEN_DIR: &str = "/var/run/secrets/pitstop.io/operator";
pub const OPERATOR_TOKEN_FILE: &str = "token";

/// The scrape's `authorization` block: the token is read from the file on every scrape,
/// so the kubelet's rotation of a projected token needs no reload.
fn bearer_from(file: &str) -> serde_json::Value {
    json!({"type": "Bearer", "credentials_file": file})
}

/// Path of the operator's container-metrics proxy for one namespace.
pub fn cadvisor_path(namespace: &str) -> String {
    format!("/cadvisor/{namespace}")
}

/// Where the race's pods of one component are scraped: pod discovery restricted to the
/// race's namespace and labels, one port, `pod` and `namespace` labels kept (the
/// prometheus-adapter maps them to Kubernetes objects).
fn pod_job(m: &Model, job: &str, component: Component, port: i32) -> serde_json::Value {
    json!({
        "job_name": job,
        "kubernetes_sd_configs": [{
            "role": "pod",
            "namespaces": {"names": [m.namespace]},
            "selectors": [{"role": "pod", "label": format!("{}={},{}={}", keys::INSTANCE, m.name, keys::COMPONENT, component.as_str())}],
        }],
        "relabel_configs": [
            {"source_labels": ["__meta_kubernetes_pod_container_port_number"], "regex": port.to_string(), "action": "keep"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
        ],
    })
}

/// A job of fixed targets; the address stands in for the pod name.
fn static_job(m: &Model, job: &str, targets: &[String], path: Option<String>) -> serde_json::Value {
    let mut j = json!({
        "job_name": job,
        "static_configs": [{"targets": targets}],
        "relabel_configs": [
            {"source_labels": ["__address__"], "target_label": "pod"},
            {"target_label": "namespace", "replacement": m.namespace},
        ],
    });
    if let Some(p) = path {
        j["metrics_path"] = json!(p);
    }
    j
}

/// `prometheus.yml` of a race's Prometheus: simulator (:8000), the F1-game gateway
/// (:8000, `source.type: game`), every processor pod
/// (:8001), every operator replica (:8002) and this namespace's container metrics
/// (cAdvisor, through the operator: a race's Prometheus holds no cluster-wide rights).
pub fn prometheus_config(m: &Model, d: &Discovery, o: &Options) -> String {
    let jobs = match d {
        Discovery::Kubernetes => {
            // The operator's Service and its headless twin `<service>-metrics` (one DNS
            // record per replica), both created by the Helm chart.
            let (operator_ns, service) = m
                .monitoring
                .owned()
                .map(|x| (x.operator_namespace.as_str(), x.operator_service.as_str()))
                .unwrap_or(("pitstop-system", "pitstop-operator"));
            let source = source_job(m).map(|(c, job, port)| pod_job(m, job, c, port));
            let mut jobs: Vec<serde_json::Value> = source.into_iter().collect();
            jobs.extend([
                pod_job(m, PROCESSOR_JOB, Component::Processor, ports::PROCESSOR),
                json!({
                    "job_name": "pitstop-operator",
                    "dns_sd_configs": [{
                        "names": [format!("{service}-metrics.{operator_ns}.svc")],
                        "type": "A",
                        "port": ports::OPERATOR,
                    }],
                    "relabel_configs": [{"source_labels": ["__address__"], "target_label": "pod"}],
                }),
                json!({
                    "job_name": "cadvisor",
                    "metrics_path": cadvisor_path(&m.namespace),
                    // Container metrics of every node: one proxy pass can take a while.
                    "scrape_interval": "15s",
                    "scrape_timeout": "10s",
                    "authorization": bearer_from(&format!("{OPERATOR_TOKEN_DIR}/{OPERATOR_TOKEN_FILE}")),
                    "static_configs": [{"targets": [format!("{service}.{operator_ns}.svc:{}", ports::OPERATOR)]}],
                    "honor_labels": true,
                }),
            ]);
            jobs
        }
        Discovery::Static {
            simulator,
            processor,
            operator,
            cadvisor,
            cadvisor_token_file,
        } => vec![
            static_job(m, SIMULATOR_JOB, simulator, None),
            static_job(m, PROCESSOR_JOB, processor, None),
            static_job(m, "pitstop-operator", operator, None),
            json!({
                "job_name": "cadvisor",
                "metrics_path": cadvisor_path(&m.namespace),
                "authorization": bearer_from(cadvisor_token_file),
                "static_configs": [{"targets": cadvisor}],
                "honor_labels": true,
            }),
        ],
    };
    let config = json!({
        "global": {
            "scrape_interval": o.scrape_interval,
            "evaluation_interval": o.evaluation_interval,
            "external_labels": {"race": m.name, "namespace": m.namespace},
        },
        "rule_files": [o.rules],
        "scrape_configs": jobs,
    });
    serde_yaml::to_string(&config).expect("configuration serializes")
}
