//! Pod-level pieces every workload shares: the "restricted" Pod Security Standard
//! contexts, HTTP probes, default resources, env helpers, and the Deployment shape of
//! the `pitstop` workloads.

use super::meta::{Component, keys, labels, meta, name, selector};
use crate::model::Model;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EnvVar, EnvVarSource, HTTPGetAction,
    PodSecurityContext, PodSpec, PodTemplateSpec, Probe, ResourceRequirements, SeccompProfile,
    SecretKeySelector, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// Pod context of the restricted standard: non-root, RuntimeDefault seccomp.
pub fn pod_security(uid: i64) -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(uid),
        run_as_group: Some(uid),
        fs_group: Some(uid),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            ..SeccompProfile::default()
        }),
        ..PodSecurityContext::default()
    }
}

/// Container context of the restricted standard with a read-only root filesystem.
pub fn container_security() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            ..Capabilities::default()
        }),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            ..SeccompProfile::default()
        }),
        ..SecurityContext::default()
    }
}

pub fn http_probe(path: &str, port: i32, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::Int(port),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        timeout_seconds: Some(2),
        ..Probe::default()
    }
}

pub fn port(name: &str, port: i32) -> ContainerPort {
    ContainerPort {
        name: Some(name.into()),
        container_port: port,
        protocol: Some("TCP".into()),
        ..ContainerPort::default()
    }
}

/// The given resources, or requests/limits from the defaults.
pub fn resources(
    given: &Option<ResourceRequirements>,
    req: (&str, &str),
    lim: (&str, &str),
) -> ResourceRequirements {
    given.clone().unwrap_or_else(|| ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".into(), Quantity(req.0.into())),
            ("memory".into(), Quantity(req.1.into())),
        ])),
        limits: Some(BTreeMap::from([
            ("cpu".into(), Quantity(lim.0.into())),
            ("memory".into(), Quantity(lim.1.into())),
        ])),
        ..ResourceRequirements::default()
    })
}

pub fn env(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        ..EnvVar::default()
    }
}

pub fn env_secret(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.into(),
                key: key.into(),
                optional: Some(false),
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

/// Scrape annotations read by the monitoring stack's pod discovery.
pub fn scrape_annotations(port: i32) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("prometheus.io/scrape".into(), "true".into()),
        ("prometheus.io/port".into(), port.to_string()),
        ("prometheus.io/path".into(), "/metrics".into()),
    ])
}

/// `--<flag>` of the contract.
pub fn flag(f: &str) -> String {
    format!("--{f}")
}

/// What differs between the pitstop workloads (simulator, gateway, processor).
pub struct Workload {
    pub component: Component,
    pub image: String,
    pub args: Vec<String>,
    pub env: Vec<EnvVar>,
    pub port: i32,
    /// Ports besides `http` (the gateway's UDP port).
    pub extra_ports: Vec<ContainerPort>,
    pub resources: ResourceRequirements,
    /// `None` leaves the count to someone else (the HPA).
    pub replicas: Option<i32>,
    pub strategy: Option<DeploymentStrategy>,
    pub termination_grace_period_seconds: Option<i64>,
    /// The datastores' TLS files (see [`super::connection`]).
    pub volumes: Option<Vec<Volume>>,
    pub mounts: Option<Vec<VolumeMount>>,
}

/// A Deployment of the `pitstop` binary: one container serving /health, /ready and
/// /metrics on `port`, scraped by Prometheus, restricted, no service account token.
pub fn http_workload(m: &Model, w: Workload) -> Deployment {
    let c = w.component;
    let mut ports = vec![port("http", w.port)];
    ports.extend(w.extra_ports);
    Deployment {
        metadata: meta(m, c, name(m, c)),
        spec: Some(DeploymentSpec {
            replicas: w.replicas,
            selector: LabelSelector {
                match_labels: Some(selector(m, c)),
                ..LabelSelector::default()
            },
            strategy: w.strategy,
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(m, c)),
                    annotations: Some(scrape_annotations(w.port)),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    automount_service_account_token: Some(false),
                    termination_grace_period_seconds: w.termination_grace_period_seconds,
                    security_context: Some(pod_security(65532)),
                    containers: vec![Container {
                        name: c.as_str().into(),
                        image: Some(w.image),
                        args: Some(w.args),
                        env: Some(w.env),
                        ports: Some(ports),
                        liveness_probe: Some(http_probe("/health", w.port, 10, 3)),
                        readiness_probe: Some(http_probe("/ready", w.port, 5, 2)),
                        resources: Some(w.resources),
                        security_context: Some(container_security()),
                        volume_mounts: w.mounts,
                        ..Container::default()
                    }],
                    volumes: w.volumes,
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

/// The one-replica Deployment of a monitoring component whose pod template carries the
/// hash of its ConfigMap, so a configuration change rolls the pod.
pub fn single_pod(
    m: &Model,
    c: Component,
    config_hash: String,
    strategy: Option<DeploymentStrategy>,
    pod: PodSpec,
) -> Deployment {
    Deployment {
        metadata: meta(m, c, name(m, c)),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            selector: LabelSelector {
                match_labels: Some(selector(m, c)),
                ..LabelSelector::default()
            },
            strategy,
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(m, c)),
                    annotations: Some(BTreeMap::from([(keys::CONFIG_HASH.into(), config_hash)])),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}
