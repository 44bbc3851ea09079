//! The sensor simulator: one pod publishing the race (strategy Recreate, so a rollout
//! never runs two simulators of the same race) and a Service for its metrics.

use super::datastore::redis_env;
use super::pod::{
    container_security, env, http_probe, pod_security, port, resources, scrape_annotations,
};
use super::{Component, meta, name, selector};
use crate::model::{Model, PARTITIONS};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    Container, PodSpec, PodTemplateSpec, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub const PORT: i32 = 8000;

fn args(m: &Model) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "simulate".into(),
        "--session".into(),
        m.name.clone(),
        "--circuit".into(),
        m.circuit.as_str().into(),
        "--laps".into(),
        m.laps.to_string(),
        "--seed".into(),
        m.seed.to_string(),
        "--sample-hz".into(),
        m.sample_hz.to_string(),
        "--anomaly-rate".into(),
        m.anomaly_rate.to_string(),
        "--time-scale".into(),
        m.time_scale.to_string(),
    ];
    if let Some(rate) = m.simulator_rate {
        a.extend(["--rate".into(), rate.to_string()]);
    }
    if !m.grid.is_empty() {
        let grid: Vec<String> = m
            .grid
            .iter()
            .map(|g| format!("{}:{}:{}", g.car, g.driver, g.team))
            .collect();
        a.extend(["--grid".into(), grid.join(",")]);
    }
    a
}

pub fn deployment(m: &Model) -> Deployment {
    let mut env_vars = redis_env(m);
    env_vars.extend([
        env("PITSTOP_STREAM", &m.stream),
        env("PITSTOP_PARTITIONS", PARTITIONS.to_string()),
        env("PITSTOP_LOG_FORMAT", "json"),
    ]);
    Deployment {
        metadata: meta(m, Component::Simulator, name(m, Component::Simulator)),
        spec: Some(DeploymentSpec {
            replicas: Some(m.simulator_replicas),
            selector: LabelSelector {
                match_labels: Some(selector(m, Component::Simulator)),
                ..LabelSelector::default()
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("Recreate".into()),
                ..DeploymentStrategy::default()
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(super::labels(m, Component::Simulator)),
                    annotations: Some(scrape_annotations(PORT)),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    automount_service_account_token: Some(false),
                    security_context: Some(pod_security(65532)),
                    containers: vec![Container {
                        name: "simulator".into(),
                        image: Some(m.simulator_image.clone()),
                        args: Some(args(m)),
                        env: Some(env_vars),
                        ports: Some(vec![port("http", PORT)]),
                        liveness_probe: Some(http_probe("/health", PORT, 10, 3)),
                        readiness_probe: Some(http_probe("/ready", PORT, 5, 2)),
                        resources: Some(resources(
                            &m.simulator_resources,
                            ("100m", "64Mi"),
                            ("1", "256Mi"),
                        )),
                        security_context: Some(container_security()),
                        ..Container::default()
                    }],
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

pub fn service(m: &Model) -> Service {
    Service {
        metadata: meta(m, Component::Simulator, name(m, Component::Simulator)),
        spec: Some(ServiceSpec {
            selector: Some(selector(m, Component::Simulator)),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: PORT,
                target_port: Some(IntOrString::String("http".into())),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}
