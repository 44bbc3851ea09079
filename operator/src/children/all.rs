//! Everything one RaceSession becomes, built by one pure function of the validated model.

use super::cnpg::{self, Cluster};
use super::keda::{self, ScaledObject};
use super::meta::Component;
use super::monitoring::prometheus_operator::{self, PodMonitor, PrometheusRule};
use super::monitoring::{grafana, grafana_sidecar, prometheus};
use super::ports;
use super::secrets::{self, Generated};
use super::service::service;
use super::{datastore, gateway, network, post_race_jobs, processor, replay, simulator};
use crate::api::AutoscalingEngine;
use crate::model::{Model, Monitoring, Source};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};

/// Every child of a race. The pipeline's Jobs are not children to converge: the
/// scheduler creates them (see `reconcile::post_race`); `jobs` holds the source's.
#[derive(Clone, Debug, PartialEq)]
pub struct Children {
    /// Created once with a random value, never applied again (see [`secrets`]).
    pub generated_secrets: Vec<Generated>,
    pub deployments: Vec<Deployment>,
    pub services: Vec<Service>,
    pub stateful_sets: Vec<StatefulSet>,
    pub hpas: Vec<HorizontalPodAutoscaler>,
    pub network_policies: Vec<NetworkPolicy>,
    pub config_maps: Vec<ConfigMap>,
    pub service_accounts: Vec<ServiceAccount>,
    pub roles: Vec<Role>,
    pub role_bindings: Vec<RoleBinding>,
    /// KEDA's, when `engine: keda` (then `hpas` is empty).
    pub scaled_objects: Vec<ScaledObject>,
    /// The season report, when `postRace.schedule` is set.
    pub cron_jobs: Vec<CronJob>,
    /// The OpenF1 replay, with `source.type: openf1`.
    pub jobs: Vec<Job>,
    /// The simulator's and processor's, in `monitoring.mode: prometheusOperator`.
    pub pod_monitors: Vec<PodMonitor>,
    /// The race's rules, in `monitoring.mode: prometheusOperator`.
    pub prometheus_rules: Vec<PrometheusRule>,
    /// CloudNativePG's Cluster, with `postgres.cloudNativePG`.
    pub clusters: Vec<Cluster>,
}

/// The objects of the race's source, before the processor's (a simulated race's children
/// come in the order they always had).
fn add_source(c: &mut Children, m: &Model) {
    match &m.source {
        Source::Simulator => {
            c.deployments.push(simulator::deployment(m));
            c.services
                .push(service(m, Component::Simulator, ports::SIMULATOR, "http"));
        }
        Source::Game(g) => {
            c.deployments.push(gateway::deployment(m, g));
            // `/metrics` and `/status` stay inside the cluster whatever the UDP Service's type.
            c.services
                .push(service(m, Component::Gateway, ports::GATEWAY, "http"));
            c.services.push(gateway::udp_service(m, g));
        }
        Source::OpenF1(o) => c.jobs.push(replay::job(m, o)),
        Source::External => {}
    }
}

/// Builds every child of a race.
pub fn build(m: &Model) -> Children {
    let mut c = Children {
        generated_secrets: secrets::generated(m),
        deployments: Vec::new(),
        services: Vec::new(),
        stateful_sets: Vec::new(),
        hpas: Vec::new(),
        network_policies: Vec::new(),
        config_maps: Vec::new(),
        service_accounts: Vec::new(),
        roles: Vec::new(),
        role_bindings: Vec::new(),
        scaled_objects: Vec::new(),
        cron_jobs: post_race_jobs::cron_job(m).into_iter().collect(),
        jobs: Vec::new(),
        pod_monitors: Vec::new(),
        prometheus_rules: Vec::new(),
        clusters: cnpg::cluster(m).into_iter().collect(),
    };
    add_source(&mut c, m);
    c.deployments.push(processor::deployment(m));
    c.services
        .push(service(m, Component::Processor, ports::PROCESSOR, "http"));
    c.network_policies.push(network::processor(m));
    if let Some(g) = m.source.game() {
        c.network_policies.push(network::gateway(m, g));
    }
    match &m.autoscaling {
        Some(a) if a.engine == AutoscalingEngine::Keda => {
            c.scaled_objects.push(keda::scaled_object(m, a))
        }
        _ => c.hpas.extend(processor::hpa(m)),
    }
    match &m.monitoring {
        Monitoring::Owned(mon) => {
            let p = prometheus::objects(m, mon);
            c.service_accounts.push(p.service_account);
            c.roles.push(p.role);
            c.role_bindings.push(p.role_binding);
            c.config_maps.push(p.config_map);
            c.deployments.push(p.deployment);
            c.services.push(p.service);
            let g = grafana::objects(m, mon);
            c.config_maps.push(g.config_map);
            c.deployments.push(g.deployment);
            c.services.push(g.service);
        }
        Monitoring::PrometheusOperator(cluster) => {
            c.pod_monitors = prometheus_operator::pod_monitors(m, cluster);
            c.prometheus_rules
                .push(prometheus_operator::prometheus_rule(m, cluster));
            c.config_maps
                .extend(grafana_sidecar::config_maps(m, cluster));
        }
        Monitoring::None => {}
    }
    if let Some((sts, svc, np)) = datastore::redis(m) {
        c.stateful_sets.push(sts);
        c.services.push(svc);
        c.network_policies.push(np);
    }
    if let Some((sts, svc, np)) = datastore::postgres(m) {
        c.stateful_sets.push(sts);
        c.services.push(svc);
        c.network_policies.push(np);
    }
    c
}

impl Children {
    /// Every applied object as one multi-document YAML stream, in apply order (generated
    /// Secrets have no value until they are created, so they are not rendered). The
    /// destructuring has no `..`: a new kind does not compile until it is rendered here.
    pub fn to_yaml(&self) -> String {
        let Children {
            generated_secrets: _,
            deployments,
            services,
            stateful_sets,
            hpas,
            network_policies,
            config_maps,
            service_accounts,
            roles,
            role_bindings,
            scaled_objects,
            cron_jobs,
            jobs,
            pod_monitors,
            prometheus_rules,
            clusters,
        } = self;
        fn docs<T: serde::Serialize>(out: &mut Vec<String>, objs: &[T]) {
            out.extend(
                objs.iter()
                    .map(|o| serde_yaml::to_string(o).expect("serializes")),
            );
        }
        let mut out = Vec::new();
        docs(&mut out, config_maps);
        docs(&mut out, service_accounts);
        docs(&mut out, roles);
        docs(&mut out, role_bindings);
        docs(&mut out, deployments);
        docs(&mut out, stateful_sets);
        docs(&mut out, services);
        docs(&mut out, hpas);
        docs(&mut out, network_policies);
        docs(&mut out, scaled_objects);
        docs(&mut out, cron_jobs);
        docs(&mut out, jobs);
        docs(&mut out, pod_monitors);
        docs(&mut out, prometheus_rules);
        docs(&mut out, clusters);
        out.join("---\n")
    }
}

#[cfg(test)]
mod tests {
    use crate::children::fixtures::*;
    /// Defaults: simulator, processor with HPA, managed Redis and PostgreSQL, policies.
    #[test]
    fn minimal_race() {
        let c = children(MINIMAL, &[]);
        assert_eq!(
            c.deployments.len(),
            4,
            "simulator, processor, Prometheus, Grafana"
        );
        assert_eq!(c.stateful_sets.len(), 2);
        assert_eq!(c.hpas.len(), 1);
        assert_eq!(c.network_policies.len(), 3);
        let (core, monitoring) = render(&c);
        golden("minimal", &core);
        golden("monitoring", &monitoring);
    }

    /// External datastores from Secrets, fixed replicas, custom grid, extra API clients.
    #[test]
    fn external_datastores_without_autoscaling() {
        let c = children(
            EXTERNAL,
            &[("ingest", "token"), ("redis-url", "url"), ("pg-url", "url")],
        );
        assert!(c.stateful_sets.is_empty(), "no managed datastore");
        assert!(c.hpas.is_empty());
        assert_eq!(c.network_policies.len(), 1);
        let (core, monitoring) = render(&c);
        assert!(
            monitoring.is_empty(),
            "monitoring off builds no Prometheus or Grafana"
        );
        assert!(c.config_maps.is_empty() && c.roles.is_empty() && c.service_accounts.is_empty());
        golden("external", &core);
    }

    /// Every child is owned by the race (garbage collection) and labelled for pruning.
    #[test]
    fn every_child_is_owned_and_labelled() {
        let c = children(MINIMAL, &[]);
        let mut metas = Vec::new();
        metas.extend(c.deployments.iter().map(|o| &o.metadata));
        metas.extend(c.services.iter().map(|o| &o.metadata));
        metas.extend(c.stateful_sets.iter().map(|o| &o.metadata));
        metas.extend(c.hpas.iter().map(|o| &o.metadata));
        metas.extend(c.network_policies.iter().map(|o| &o.metadata));
        metas.extend(c.config_maps.iter().map(|o| &o.metadata));
        metas.extend(c.service_accounts.iter().map(|o| &o.metadata));
        metas.extend(c.roles.iter().map(|o| &o.metadata));
        metas.extend(c.role_bindings.iter().map(|o| &o.metadata));
        assert_eq!(metas.len(), 21, "every kind is checked");
        for m in metas {
            let owner = &m.owner_references.as_ref().unwrap()[0];
            assert_eq!(
                (owner.kind.as_str(), owner.controller),
                ("RaceSession", Some(true)),
                "{:?}",
                m.name
            );
            let labels = m.labels.as_ref().unwrap();
            assert_eq!(labels["app.kubernetes.io/managed-by"], "pitstop-operator");
            assert_eq!(labels["app.kubernetes.io/instance"], "monza");
            assert_eq!(m.namespace.as_deref(), Some("racing"));
        }
    }

    /// In `monitoring.mode: prometheusOperator` the race's Prometheus and Grafana give way
    /// to PodMonitors, a PrometheusRule and dashboard ConfigMaps, all owned by the race and
    /// labelled for pruning; `none` builds no monitoring at all.
    #[test]
    fn prometheus_operator_and_none_modes() {
        let c = children_of_mode("prometheusOperator");
        let mut metas = Vec::new();
        metas.extend(c.deployments.iter().map(|o| &o.metadata));
        metas.extend(c.services.iter().map(|o| &o.metadata));
        metas.extend(c.config_maps.iter().map(|o| &o.metadata));
        metas.extend(c.pod_monitors.iter().map(|o| &o.metadata));
        metas.extend(c.prometheus_rules.iter().map(|o| &o.metadata));
        for m in metas {
            let owner = &m.owner_references.as_ref().unwrap()[0];
            assert_eq!(owner.kind, "RaceSession", "{:?}", m.name);
            let labels = m.labels.as_ref().unwrap();
            assert_eq!(labels["app.kubernetes.io/managed-by"], "pitstop-operator");
            assert_eq!(labels["app.kubernetes.io/instance"], "monza");
        }
        let components = |c: &Children| -> Vec<String> {
            c.deployments
                .iter()
                .map(|d| d.metadata.labels.as_ref().unwrap()["app.kubernetes.io/component"].clone())
                .collect()
        };
        assert_eq!(components(&c), ["simulator", "processor"]);
        assert!(
            c.generated_secrets
                .iter()
                .all(|g| g.name != "monza-grafana")
        );
        assert!(c.roles.is_empty() && c.role_bindings.is_empty() && c.service_accounts.is_empty());
        let (_, monitoring) = render(&c);
        assert!(!monitoring.contains("kind: Deployment"));

        let none = children_of_mode("none");
        assert_eq!(components(&none), ["simulator", "processor"]);
        assert!(none.config_maps.is_empty() && none.pod_monitors.is_empty());
        assert!(none.prometheus_rules.is_empty());
        assert_eq!(render(&none).1, "", "nothing of monitoring");
        // `enabled: false` is the same as `mode: none`.
        assert_eq!(
            none,
            children("circuit: monza\nmonitoring: {enabled: false}", &[])
        );
    }

    /// The processor's NetworkPolicy admits the race's own Prometheus, or in
    /// `prometheusOperator` mode the cluster's (default: Prometheus Operator pods of any
    /// namespace; or the spec's peers), never both.
    #[test]
    fn processor_admits_the_prometheus_that_scrapes_it() {
        let from = |c: &Children| {
            serde_json::to_value(
                &c.network_policies[0]
                    .spec
                    .as_ref()
                    .unwrap()
                    .ingress
                    .as_ref()
                    .unwrap()[0]
                    .from,
            )
            .unwrap()
        };
        let owned = from(&children(MINIMAL, &[]));
        assert_eq!(
            owned[1]["podSelector"]["matchLabels"]["app.kubernetes.io/component"],
            "prometheus"
        );
        assert!(
            owned[1].get("namespaceSelector").is_none(),
            "the race's namespace only"
        );
        let cluster = from(&children_of_mode("prometheusOperator"));
        assert_eq!(
            cluster.as_array().unwrap().len(),
            3,
            "simulator, Prometheus, operator"
        );
        assert_eq!(cluster[1]["namespaceSelector"], serde_json::json!({}));
        assert_eq!(
            cluster[1]["podSelector"]["matchLabels"]["app.kubernetes.io/name"],
            "prometheus"
        );
        let custom = from(&po_children(
            "monitoring:\n  mode: prometheusOperator\n  prometheusOperator:\n    prometheusPeers:\n    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}",
        ));
        assert_eq!(
            custom[1]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
            "monitoring"
        );
        assert!(custom[1].get("podSelector").is_none());
    }

    /// What a race asks the scheduler for in each mode with the builders' default
    /// requests (processor at `minReplicas` 1): the "Monitoring modes" table of
    /// docs/monitoring.md.
    #[test]
    fn requests_per_mode() {
        fn quantity(q: &str) -> f64 {
            let units = [
                ("m", 1e-3),
                ("Ki", 1024.0),
                ("Mi", 1024.0 * 1024.0),
                ("Gi", 1024.0 * 1024.0 * 1024.0),
            ];
            for (suffix, factor) in units {
                if let Some(n) = q.strip_suffix(suffix) {
                    return n.parse::<f64>().unwrap() * factor;
                }
            }
            q.parse().unwrap()
        }
        let requests = |c: &Children| {
            let mut pods: Vec<(i32, &k8s_openapi::api::core::v1::PodSpec)> = Vec::new();
            for d in &c.deployments {
                let s = d.spec.as_ref().unwrap();
                pods.push((s.replicas.unwrap_or(1), s.template.spec.as_ref().unwrap()));
            }
            for st in &c.stateful_sets {
                let s = st.spec.as_ref().unwrap();
                pods.push((s.replicas.unwrap_or(1), s.template.spec.as_ref().unwrap()));
            }
            let (mut cpu, mut memory) = (0.0, 0.0);
            for (n, pod) in pods {
                for container in &pod.containers {
                    let r = container
                        .resources
                        .as_ref()
                        .unwrap()
                        .requests
                        .as_ref()
                        .unwrap();
                    cpu += f64::from(n) * quantity(&r["cpu"].0);
                    memory += f64::from(n) * quantity(&r["memory"].0);
                }
            }
            (
                (cpu * 1000.0).round() as i64,
                (memory / 1024.0 / 1024.0).round() as i64,
            )
        };
        assert_eq!(
            requests(&children_of_mode("owned")),
            (800, 960),
            "millicores, MiB"
        );
        assert_eq!(
            requests(&children_of_mode("prometheusOperator")),
            (650, 576)
        );
        assert_eq!(requests(&children_of_mode("none")), (650, 576));
    }

    /// `external`: neither simulator nor gateway nor Job; the processor admits no source
    /// pods, only Prometheus, the operator and `processor.allowedClients`.
    #[test]
    fn an_external_source_runs_nothing_but_the_processor() {
        let c = children(EXTERNAL_SOURCE, &[]);
        assert_eq!(
            names(&c.deployments),
            ["monza-processor", "monza-prometheus", "monza-grafana"]
        );
        assert!(c.jobs.is_empty());
        assert!(
            !names(&c.services)
                .iter()
                .any(|n| n.contains("simulator") || n.contains("gateway"))
        );
        let peers = processor_peers(&c);
        assert_eq!(peers.as_array().unwrap().len(), 3, "{peers}");
        assert_eq!(
            peers[0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"],
            "prometheus"
        );
        assert_eq!(
            peers[2]["namespaceSelector"]["matchLabels"]["team"],
            "strategy"
        );
    }

    /// `--api-server-cidr`: the API server's service proxy (`kubectl pitstop`) reaches
    /// the processor's API, and nothing else of the race; without it, no ipBlock at all.
    #[test]
    fn the_api_server_reaches_the_processor_api_when_named() {
        let mut d = images();
        d.api_server_cidrs = vec!["10.0.0.2/32".into()];
        let m = crate::model::validate(&race(EXTERNAL_SOURCE), &seen(&[], false), &d).unwrap();
        let c = build(&m);
        let peers = processor_peers(&c);
        assert_eq!(peers.as_array().unwrap().len(), 4, "{peers}");
        assert_eq!(peers[3]["ipBlock"]["cidr"], "10.0.0.2/32");
        let others = serde_json::to_string(
            &c.network_policies
                .iter()
                .filter(|n| n.metadata.name.as_deref() != Some("monza-processor"))
                .collect::<Vec<_>>(),
        )
        .unwrap();
        assert!(!others.contains("10.0.0.2/32"), "{others}");
        assert!(
            !serde_json::to_string(&processor_peers(&children(EXTERNAL_SOURCE, &[])))
                .unwrap()
                .contains("ipBlock")
        );
    }

    /// Every source's children are owned by the race and labelled for pruning, the
    /// replay Job and the gateway's Services included.
    #[test]
    fn every_source_child_is_owned_and_labelled() {
        for spec in [GAME, OPENF1, EXTERNAL_SOURCE] {
            let c = children(spec, &[]);
            let mut metas = Vec::new();
            metas.extend(c.deployments.iter().map(|o| &o.metadata));
            metas.extend(c.services.iter().map(|o| &o.metadata));
            metas.extend(c.network_policies.iter().map(|o| &o.metadata));
            metas.extend(c.jobs.iter().map(|o| &o.metadata));
            for m in metas {
                let owner = &m.owner_references.as_ref().unwrap()[0];
                assert_eq!(owner.kind, "RaceSession", "{:?}", m.name);
                let labels = m.labels.as_ref().unwrap();
                assert_eq!(labels["app.kubernetes.io/managed-by"], "pitstop-operator");
                assert_eq!(labels["app.kubernetes.io/instance"], "monza");
            }
        }
    }

    /// The race's Prometheus and the cluster's PodMonitors scrape the source that serves
    /// metrics: the gateway instead of the simulator for a game race; neither for an
    /// OpenF1 replay (a Job with no metrics port).
    #[test]
    fn monitoring_scrapes_the_source() {
        let config = |c: &Children| {
            c.config_maps
                .iter()
                .find(|m| m.metadata.name.as_deref() == Some("monza-prometheus"))
                .unwrap()
                .data
                .as_ref()
                .unwrap()["prometheus.yml"]
                .clone()
        };
        let game = config(&children(GAME, &[]));
        assert!(game.contains("job_name: pitstop-gateway"), "{game}");
        assert!(
            game.contains("app.kubernetes.io/component=gateway"),
            "{game}"
        );
        assert!(!game.contains("pitstop-simulator"), "{game}");
        let replay = config(&children(OPENF1, &[]));
        assert!(!replay.contains("pitstop-simulator") && !replay.contains("pitstop-gateway"));
        assert!(config(&children(MINIMAL, &[])).contains("job_name: pitstop-simulator"));

        let monitors = |spec: &str| {
            names(
                &po_children(&format!("{spec}\nmonitoring: {{mode: prometheusOperator}}"))
                    .pod_monitors,
            )
        };
        assert_eq!(monitors(GAME), ["monza-gateway", "monza-processor"]);
        assert_eq!(monitors(OPENF1), ["monza-processor"]);
        assert_eq!(monitors(MINIMAL), ["monza-simulator", "monza-processor"]);
    }

    /// Every pod meets the "restricted" Pod Security Standard, with resources and probes.
    #[test]
    fn every_pod_is_restricted() {
        for c in [
            children(MINIMAL, &[]),
            children(
                EXTERNAL,
                &[("ingest", "token"), ("redis-url", "url"), ("pg-url", "url")],
            ),
            // TLS files come in projected Secret volumes, which the standard allows.
            cnpg_children(CNPG),
        ] {
            let mut templates = Vec::new();
            templates.extend(
                c.deployments
                    .iter()
                    .map(|d| &d.spec.as_ref().unwrap().template),
            );
            templates.extend(
                c.stateful_sets
                    .iter()
                    .map(|s| &s.spec.as_ref().unwrap().template),
            );
            for t in templates {
                pss::assert_restricted(t.spec.as_ref().unwrap(), "race pod");
            }
        }
    }
}
