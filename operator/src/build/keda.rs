//! KEDA alternative to the HPA (`processor.autoscaling.engine: keda`): a ScaledObject on
//! the processor Deployment with a Prometheus trigger (messages/s per pod, queried from the
//! race's Prometheus) and a CPU trigger. KEDA then owns the Deployment's HPA; the operator
//! builds none of its own, so the two never fight over the replica count.

use super::{Component, meta, name};
use crate::model::{Autoscaling, Model};
use kube::CustomResource;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The fields of `keda.sh/v1alpha1` ScaledObject this operator sets (KEDA validates the rest).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "keda.sh",
    version = "v1alpha1",
    kind = "ScaledObject",
    namespaced,
    schema = "disabled",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct ScaledObjectSpec {
    pub scale_target_ref: Value,
    pub min_replica_count: i32,
    pub max_replica_count: i32,
    pub polling_interval: i32,
    pub cooldown_period: i32,
    pub triggers: Vec<Value>,
}

/// The PromQL the Prometheus trigger evaluates: the processors' total rate. KEDA divides
/// it by the threshold to get the replica count (an average per pod, like the HPA's
/// Pods metric).
pub fn query(m: &Model) -> String {
    format!(
        "sum(rate(pitstop_processor_messages_processed_total{{job=\"pitstop-processor\",namespace=\"{}\"}}[1m]))",
        m.namespace
    )
}

pub fn scaled_object(m: &Model, a: &Autoscaling) -> ScaledObject {
    let processor = name(m, Component::Processor);
    let prometheus = format!(
        "http://{}.{}.svc:{}",
        name(m, Component::Prometheus),
        m.namespace,
        super::monitoring::prometheus::PORT
    );
    ScaledObject {
        metadata: meta(m, Component::Processor, processor.clone()),
        spec: ScaledObjectSpec {
            scale_target_ref: json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": processor}),
            min_replica_count: a.min_replicas,
            max_replica_count: a.max_replicas,
            polling_interval: 15,
            cooldown_period: 120,
            triggers: vec![
                json!({
                    "type": "prometheus",
                    "name": "messages-per-second",
                    "metadata": {
                        "serverAddress": prometheus,
                        "query": query(m),
                        "threshold": a.messages_per_second.to_string(),
                    },
                }),
                json!({
                    "type": "cpu",
                    "name": "cpu",
                    "metricType": "Utilization",
                    "metadata": {"value": a.cpu_percent.to_string()},
                }),
            ],
        },
    }
}
