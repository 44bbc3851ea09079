//! The sensor simulator: one pod publishing the race (strategy Recreate, so a rollout
//! never runs two simulators of the same race) and a Service for its metrics.

use super::Component;
use super::datastore::redis_env;
use super::pod::{Workload, env, http_workload, resources};
use crate::model::{Model, PARTITIONS};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentStrategy};

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
    http_workload(
        m,
        Workload {
            component: Component::Simulator,
            image: m.simulator_image.clone(),
            args: args(m),
            env: env_vars,
            port: PORT,
            resources: resources(&m.simulator_resources, ("100m", "64Mi"), ("1", "256Mi")),
            replicas: Some(m.simulator_replicas),
            // Never two simulators of one race, even during a rollout.
            strategy: Some(DeploymentStrategy {
                type_: Some("Recreate".into()),
                ..DeploymentStrategy::default()
            }),
            termination_grace_period_seconds: None,
        },
    )
}
