//! Everything one RaceSession becomes, built by one pure function of the validated model.

use super::keda::{self, ScaledObject};
use super::meta::Component;
use super::monitoring::{grafana, prometheus};
use super::ports;
use super::secrets::{self, Generated};
use super::service::service;
use super::{datastore, network, post_race_jobs, processor, simulator};
use crate::api::AutoscalingEngine;
use crate::model::Model;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};

/// Every child of a race. The pipeline's Jobs are not children to converge: the
/// scheduler creates them (see `reconcile::post_race`).
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
}

/// Builds every child of a race.
pub fn build(m: &Model) -> Children {
    let mut c = Children {
        generated_secrets: secrets::generated(m),
        deployments: vec![simulator::deployment(m), processor::deployment(m)],
        services: vec![
            service(m, Component::Simulator, ports::SIMULATOR, "http"),
            service(m, Component::Processor, ports::PROCESSOR, "http"),
        ],
        stateful_sets: Vec::new(),
        hpas: Vec::new(),
        network_policies: vec![network::processor(m)],
        config_maps: Vec::new(),
        service_accounts: Vec::new(),
        roles: Vec::new(),
        role_bindings: Vec::new(),
        scaled_objects: Vec::new(),
        cron_jobs: post_race_jobs::cron_job(m).into_iter().collect(),
    };
    match &m.autoscaling {
        Some(a) if a.engine == AutoscalingEngine::Keda => {
            c.scaled_objects.push(keda::scaled_object(m, a))
        }
        _ => c.hpas.extend(processor::hpa(m)),
    }
    if let Some(mon) = &m.monitoring {
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

    /// Every pod meets the "restricted" Pod Security Standard, with resources and probes.
    #[test]
    fn every_pod_is_restricted() {
        for c in [
            children(MINIMAL, &[]),
            children(
                EXTERNAL,
                &[("ingest", "token"), ("redis-url", "url"), ("pg-url", "url")],
            ),
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
