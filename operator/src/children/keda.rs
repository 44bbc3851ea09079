//! KEDA alternative to the HPA (`processor.autoscaling.engine: keda`): a ScaledObject on
//! the processor Deployment with a Prometheus trigger (messages/s per pod, queried from the
//! race's Prometheus, or the cluster's in `monitoring.mode: prometheusOperator`) and a CPU
//! trigger. KEDA then owns the Deployment's HPA; the operator
//! builds none of its own, so the two never fight over the replica count.

use super::meta::{Component, meta, name};
use super::monitoring::prometheus_config::PROCESSOR_JOB;
use super::monitoring::promql::Scope;
use super::ports;
use super::processor::max_replicas;
use crate::model::{Autoscaling, Model};
use kube::CustomResource;
use pitstop_contract::metrics::MESSAGES_PROCESSED_TOTAL;
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
/// Pods metric). The cluster's Prometheus sees every race: there it is confined to this one.
pub fn query(m: &Model) -> String {
    match m.monitoring.cluster() {
        Some(_) => Scope::of(m).apply(&format!(
            "sum(rate({MESSAGES_PROCESSED_TOTAL}{{job=\"{PROCESSOR_JOB}\"}}[1m]))"
        )),
        None => format!(
            "sum(rate({MESSAGES_PROCESSED_TOTAL}{{job=\"{PROCESSOR_JOB}\",namespace=\"{}\"}}[1m]))",
            m.namespace
        ),
    }
}

/// The Prometheus KEDA queries: the race's own, or the cluster's `prometheusUrl`
/// (validation refuses `engine: keda` without one).
fn server_address(m: &Model) -> String {
    match m
        .monitoring
        .cluster()
        .and_then(|c| c.prometheus_url.clone())
    {
        Some(url) => url,
        None => format!(
            "http://{}.{}.svc:{}",
            name(m, Component::Prometheus),
            m.namespace,
            ports::PROMETHEUS
        ),
    }
}

pub fn scaled_object(m: &Model, a: &Autoscaling) -> ScaledObject {
    let processor = name(m, Component::Processor);
    let prometheus = server_address(m);
    ScaledObject {
        metadata: meta(m, Component::Processor, processor.clone()),
        spec: ScaledObjectSpec {
            scale_target_ref: json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": processor}),
            min_replica_count: a.min_replicas,
            max_replica_count: max_replicas(m, a),
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

#[cfg(test)]
mod tests {
    use crate::children::fixtures::*;
    /// With `engine: keda` the processor gets a ScaledObject with a Prometheus and a CPU
    /// trigger and no HPA of ours.
    #[test]
    fn keda_replaces_the_hpa() {
        let c = build(&validate(&race(KEDA), &seen(&[], true), &images()).unwrap());
        assert!(c.hpas.is_empty(), "never an HPA next to KEDA's");
        assert_eq!(c.scaled_objects.len(), 1);
        let so = &c.scaled_objects[0].spec;
        assert_eq!(so.scale_target_ref["name"], "monza-processor");
        assert_eq!((so.min_replica_count, so.max_replica_count), (2, 6));
        assert_eq!(so.triggers[0]["type"], "prometheus");
        assert_eq!(so.triggers[0]["metadata"]["threshold"], "200");
        assert_eq!(
            so.triggers[0]["metadata"]["serverAddress"],
            "http://monza-prometheus.racing.svc:9090"
        );
        assert_eq!(so.triggers[1]["type"], "cpu");
        assert_eq!(so.triggers[1]["metadata"]["value"], "60");
        let p = c
            .deployments
            .iter()
            .find(|d| d.metadata.name.as_deref() == Some("monza-processor"))
            .unwrap();
        assert_eq!(
            p.spec.as_ref().unwrap().replicas,
            None,
            "KEDA owns the count"
        );
        golden(
            "keda",
            &serde_yaml::to_string(&c.scaled_objects[0]).unwrap(),
        );
    }

    /// KEDA missing, or KEDA without the Prometheus it queries, is a clear spec error.
    #[test]
    fn keda_needs_keda_and_monitoring() {
        let err = validate(&race(KEDA), &seen(&[], false), &images()).unwrap_err();
        assert_eq!(err, SpecError::KedaNotInstalled);
        assert_eq!(err.reason(), "KedaNotInstalled");
        assert!(err.to_string().contains("install KEDA"), "{err}");
        let no_mon = format!("{KEDA}\nmonitoring: {{enabled: false}}");
        let err = validate(&race(&no_mon), &seen(&[], true), &images()).unwrap_err();
        assert_eq!(err, SpecError::KedaWithoutMonitoring);
        let none = format!("{KEDA}\nmonitoring: {{mode: none}}");
        let err = validate(&race(&none), &seen(&[], true), &images()).unwrap_err();
        assert_eq!(err, SpecError::KedaWithoutMonitoring);
    }

    /// With the cluster's Prometheus, KEDA queries `prometheusUrl` with the query confined
    /// to the race; without a `prometheusUrl` the spec is refused, naming the field.
    #[test]
    fn keda_with_the_cluster_prometheus() {
        let spec = format!(
            "{KEDA}\nmonitoring:\n  mode: prometheusOperator\n  prometheusOperator: {{prometheusUrl: 'http://prometheus.monitoring.svc:9090'}}"
        );
        let m = validate(
            &race(&spec),
            &seen(&[], true).with_prometheus_operator(),
            &images(),
        )
        .unwrap();
        let c = build(&m);
        let trigger = &c.scaled_objects[0].spec.triggers[0]["metadata"];
        assert_eq!(
            trigger["serverAddress"],
            "http://prometheus.monitoring.svc:9090"
        );
        assert_eq!(
            trigger["query"],
            "sum(rate(pitstop_processor_messages_processed_total{job=\"pitstop-processor\",namespace=\"racing\",race=\"monza\"}[1m]))"
        );
        let no_url = format!("{KEDA}\nmonitoring: {{mode: prometheusOperator}}");
        let err = validate(
            &race(&no_url),
            &seen(&[], true).with_prometheus_operator(),
            &images(),
        )
        .unwrap_err();
        assert_eq!(err, SpecError::KedaWithoutPrometheusUrl);
        assert_eq!(err.reason(), "InvalidAutoscaling");
        assert!(err.to_string().contains("prometheusUrl"), "{err}");
    }
}
