//! The stream processor: Deployment (replicas left to the HPA when autoscaling), its API
//! Service on :8001 and the HorizontalPodAutoscaler on CPU and messages/s per pod.

use super::connection;
use super::meta::{Component, meta, name};
use super::pod::{Workload, env, env_secret, http_workload, resources};
use super::ports;
use crate::model::{Autoscaling, Model};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec,
    MetricIdentifier, MetricSpec, MetricTarget, PodsMetricSource, ResourceMetricSource,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use pitstop_contract::{commands, env as var, metrics};

/// The Pods metric the HPA reads (served by prometheus-adapter from the per-pod counter
/// [`metrics::MESSAGES_PROCESSED_TOTAL`]).
const MESSAGES_METRIC: &str = metrics::MESSAGES_PROCESSED_PER_SECOND;

pub fn deployment(m: &Model) -> Deployment {
    let conn = connection::redis(m).and(connection::postgres(m));
    let mut env_vars = conn.env.clone();
    env_vars.extend([
        env(var::STREAM, &m.stream),
        env(var::PARTITIONS, m.partitions.to_string()),
        env_secret(var::API_KEY, &m.api_key.name, &m.api_key.key),
        env(var::LOG_FORMAT, "json"),
    ]);
    http_workload(
        m,
        Workload {
            component: Component::Processor,
            image: m.processor_image.clone(),
            args: vec![commands::PROCESS.into()],
            env: env_vars,
            port: ports::PROCESSOR,
            extra_ports: Vec::new(),
            resources: resources(&m.processor_resources, ("200m", "128Mi"), ("2", "512Mi")),
            // With autoscaling the field is left out, so this field manager never owns it
            // and the HPA's scaling is not undone by the next apply. A finished race keeps
            // one replica for its API (none if the spec says none).
            replicas: m
                .processor_replicas
                .map(|r| if m.finished { r.min(1) } else { r }),
            strategy: None,
            // Long enough to commit in-flight batches and hand partitions over.
            termination_grace_period_seconds: Some(30),
            volumes: conn.pod_volumes(),
            mounts: conn.container_mounts(),
        },
    )
}

/// The most processors the autoscaler may run: the spec's while the race runs, its
/// minimum once it has finished (what is left is serving the API).
pub fn max_replicas(m: &Model, a: &Autoscaling) -> i32 {
    if m.finished {
        a.min_replicas
    } else {
        a.max_replicas
    }
}

/// The HPA, when autoscaling is enabled.
pub fn hpa(m: &Model) -> Option<HorizontalPodAutoscaler> {
    let a = m.autoscaling.as_ref()?;
    Some(HorizontalPodAutoscaler {
        metadata: meta(m, Component::Processor, name(m, Component::Processor)),
        spec: HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: "Deployment".into(),
                name: name(m, Component::Processor),
            },
            min_replicas: Some(a.min_replicas),
            max_replicas: max_replicas(m, a),
            metrics: Some(vec![
                MetricSpec {
                    type_: "Resource".into(),
                    resource: Some(ResourceMetricSource {
                        name: "cpu".into(),
                        target: MetricTarget {
                            type_: "Utilization".into(),
                            average_utilization: Some(a.cpu_percent),
                            ..MetricTarget::default()
                        },
                    }),
                    ..MetricSpec::default()
                },
                MetricSpec {
                    type_: "Pods".into(),
                    pods: Some(PodsMetricSource {
                        metric: MetricIdentifier {
                            name: MESSAGES_METRIC.into(),
                            selector: None,
                        },
                        target: MetricTarget {
                            type_: "AverageValue".into(),
                            average_value: Some(Quantity(a.messages_per_second.to_string())),
                            ..MetricTarget::default()
                        },
                    }),
                    ..MetricSpec::default()
                },
            ]),
            behavior: None,
        },
        ..HorizontalPodAutoscaler::default()
    })
}

#[cfg(test)]
mod tests {
    use crate::children::fixtures::*;

    /// Simulator, processor and every post-race Job agree on the partition count, which
    /// follows maxReplicas (eight processors, eight partitions).
    #[test]
    fn every_workload_gets_the_race_partitions() {
        let c = children(
            "circuit: monza\nprocessor:\n  autoscaling: {maxReplicas: 8}\npostRace:\n  schedule: \"0 6 * * *\"",
            &[],
        );
        let env_of = |d: &k8s_openapi::api::apps::v1::Deployment| {
            d.spec
                .as_ref()
                .unwrap()
                .template
                .spec
                .as_ref()
                .unwrap()
                .containers[0]
                .env
                .clone()
                .unwrap()
        };
        for d in c.deployments.iter().take(2) {
            let e = env_of(d);
            let p = e.iter().find(|e| e.name == "PITSTOP_PARTITIONS").unwrap();
            assert_eq!(p.value.as_deref(), Some("8"), "{:?}", d.metadata.name);
        }
        // Post-race pods share one environment builder; the season report is one of them.
        let job_pod = c.cron_jobs[0]
            .spec
            .job_template
            .spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap();
        let e = job_pod.containers[0].env.as_ref().unwrap();
        let p = e.iter().find(|e| e.name == "PITSTOP_PARTITIONS").unwrap();
        assert_eq!(p.value.as_deref(), Some("8"), "season report");
    }
    /// A finished race (as its status recorded) releases what it no longer needs: the
    /// simulator goes to 0, the autoscaler is held at its minimum (HPA or KEDA), a fixed
    /// count goes to one; the API stays.
    #[test]
    fn a_finished_race_releases_the_simulator_and_extra_processors() {
        let finished = |spec: &str, secrets: &[(&str, &str)], keda: bool| {
            let mut race = race(spec);
            race.status = Some(crate::api::RaceSessionStatus {
                race: Some(crate::api::RaceProgress {
                    finished: true,
                    ..Default::default()
                }),
                ..Default::default()
            });
            build(&validate(&race, &seen(secrets, keda), &images()).unwrap())
        };
        let replicas = |c: &Children, name: &str| {
            c.deployments
                .iter()
                .find(|d| d.metadata.name.as_deref() == Some(name))
                .unwrap()
                .spec
                .as_ref()
                .unwrap()
                .replicas
        };
        let running = children(MINIMAL, &[]);
        assert_eq!(replicas(&running, "monza-simulator"), Some(1));
        assert_eq!(running.hpas[0].spec.max_replicas, 4);
        let done = finished(MINIMAL, &[], false);
        assert_eq!(replicas(&done, "monza-simulator"), Some(0));
        assert_eq!(replicas(&done, "monza-processor"), None, "still the HPA's");
        let hpa = &done.hpas[0].spec;
        assert_eq!((hpa.min_replicas, hpa.max_replicas), (Some(1), 1));
        let secrets = [("ingest", "token"), ("redis-url", "url"), ("pg-url", "url")];
        let fixed = finished(EXTERNAL, &secrets, false);
        assert_eq!(
            replicas(&fixed, "monza-processor"),
            Some(1),
            "3 while racing"
        );
        let keda = finished(KEDA, &[], true);
        let so = &keda.scaled_objects[0].spec;
        assert_eq!(so.max_replica_count, so.min_replica_count);
    }

    /// While the HPA is on, the processor Deployment does not carry `replicas` (the HPA owns
    /// it); without the HPA it does.
    #[test]
    fn processor_replicas_belong_to_the_hpa() {
        let with_hpa = children(MINIMAL, &[]);
        let p = with_hpa
            .deployments
            .iter()
            .find(|d| d.metadata.name.as_deref() == Some("monza-processor"))
            .unwrap();
        assert_eq!(p.spec.as_ref().unwrap().replicas, None);
        let hpa = &with_hpa.hpas[0].spec;
        assert_eq!(hpa.scale_target_ref.name, "monza-processor");
        let metrics = hpa.metrics.as_ref().unwrap();
        assert_eq!(
            metrics[0]
                .resource
                .as_ref()
                .unwrap()
                .target
                .average_utilization,
            Some(60)
        );
        let pods = metrics[1].pods.as_ref().unwrap();
        assert_eq!(
            pods.metric.name,
            "pitstop_processor_messages_processed_per_second"
        );
        assert_eq!(pods.target.average_value.as_ref().unwrap().0, "200");
        let manual = children(
            EXTERNAL,
            &[("ingest", "token"), ("redis-url", "url"), ("pg-url", "url")],
        );
        let p = manual
            .deployments
            .iter()
            .find(|d| d.metadata.name.as_deref() == Some("monza-processor"))
            .unwrap();
        assert_eq!(p.spec.as_ref().unwrap().replicas, Some(3));
    }
}
