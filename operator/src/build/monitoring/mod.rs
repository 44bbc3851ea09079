//! The monitoring stack of a race. So far: its Prometheus rules.

use crate::model::Model;

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
