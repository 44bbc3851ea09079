//! The sensor simulator: one pod publishing the race (strategy Recreate, so a rollout
//! never runs two simulators of the same race) and a Service for its metrics.

use super::connection;
use super::meta::Component;
use super::pod::{Workload, env, flag, http_workload, resources};
use super::ports;
use crate::model::Model;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentStrategy};
use pitstop_contract::{commands, env as var, flags};

fn args(m: &Model) -> Vec<String> {
    let mut a: Vec<String> = vec![
        commands::SIMULATE.into(),
        flag(flags::SESSION),
        m.name.clone(),
        flag(flags::CIRCUIT),
        m.circuit.as_str().into(),
        flag(flags::LAPS),
        m.laps.to_string(),
        flag(flags::SEED),
        m.seed.to_string(),
        flag(flags::SAMPLE_HZ),
        m.sample_hz.to_string(),
        flag(flags::ANOMALY_RATE),
        m.anomaly_rate.to_string(),
        flag(flags::TIME_SCALE),
        m.time_scale.to_string(),
    ];
    if let Some(rate) = m.simulator_rate {
        a.extend([flag(flags::RATE), rate.to_string()]);
    }
    if !m.grid.is_empty() {
        let grid: Vec<String> = m
            .grid
            .iter()
            .map(|g| format!("{}:{}:{}", g.car, g.driver, g.team))
            .collect();
        a.extend([flag(flags::GRID), grid.join(",")]);
    }
    a
}

pub fn deployment(m: &Model) -> Deployment {
    let conn = connection::redis(m);
    let mut env_vars = conn.env.clone();
    env_vars.extend([
        env(var::STREAM, &m.stream),
        env(var::PARTITIONS, m.partitions.to_string()),
        env(var::LOG_FORMAT, "json"),
    ]);
    http_workload(
        m,
        Workload {
            component: Component::Simulator,
            image: m.simulator_image.clone(),
            args: args(m),
            env: env_vars,
            port: ports::SIMULATOR,
            extra_ports: Vec::new(),
            resources: resources(&m.simulator_resources, ("100m", "64Mi"), ("1", "256Mi")),
            // A finished race has nothing left to publish: its requests go back to the node.
            replicas: Some(if m.finished { 0 } else { m.simulator_replicas }),
            // Never two simulators of one race, even during a rollout.
            strategy: Some(DeploymentStrategy {
                type_: Some("Recreate".into()),
                ..DeploymentStrategy::default()
            }),
            termination_grace_period_seconds: None,
            volumes: conn.pod_volumes(),
            mounts: conn.container_mounts(),
        },
    )
}
