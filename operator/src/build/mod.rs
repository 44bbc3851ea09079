//! Build: pure functions from a validated [`Model`] to the typed child objects. One
//! module per concern; all metadata comes from [`meta`] (name, namespace, controller
//! owner reference, `app.kubernetes.io/*` labels).

mod datastore;
pub mod keda;
pub mod monitoring;
mod network;
pub mod pipeline;
mod pod;
mod processor;
mod simulator;

use crate::api::AutoscalingEngine;
use crate::model::Model;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount, ServicePort, ServiceSpec};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use keda::ScaledObject;
use std::collections::BTreeMap;

pub use datastore::postgres_secret_name;

/// Value of `app.kubernetes.io/managed-by` on everything the operator creates; the
/// operator finds (and prunes) its children by it.
pub const MANAGED_BY: &str = "pitstop-operator";
/// Value of `app.kubernetes.io/name`.
pub const APP: &str = "pitstop";

/// The parts of a race.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    Simulator,
    Processor,
    Redis,
    Postgres,
    Prometheus,
    Grafana,
    /// Post-race pipeline Jobs and the season-report CronJob.
    Pipeline,
}

impl Component {
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Simulator => "simulator",
            Component::Processor => "processor",
            Component::Redis => "redis",
            Component::Postgres => "postgres",
            Component::Prometheus => "prometheus",
            Component::Grafana => "grafana",
            Component::Pipeline => "pipeline",
        }
    }
}

/// Name of a component's objects: `<race>-<component>`.
pub fn name(m: &Model, c: Component) -> String {
    format!("{}-{}", m.name, c.as_str())
}

/// Labels selecting one component's pods.
pub fn selector(m: &Model, c: Component) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".into(), APP.into()),
        ("app.kubernetes.io/instance".into(), m.name.clone()),
        ("app.kubernetes.io/component".into(), c.as_str().into()),
    ])
}

/// Full label set of a component's objects.
pub fn labels(m: &Model, c: Component) -> BTreeMap<String, String> {
    let mut l = selector(m, c);
    l.insert("app.kubernetes.io/managed-by".into(), MANAGED_BY.into());
    l.insert("app.kubernetes.io/part-of".into(), APP.into());
    l.insert(
        "app.kubernetes.io/version".into(),
        env!("CARGO_PKG_VERSION").into(),
    );
    l
}

/// The controller reference that makes Kubernetes garbage-collect a child with its race.
pub fn owner(m: &Model) -> OwnerReference {
    OwnerReference {
        api_version: "pitstop.io/v1alpha1".into(),
        kind: "RaceSession".into(),
        name: m.name.clone(),
        uid: m.uid.clone(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Metadata of a child object.
pub fn meta(m: &Model, c: Component, name: String) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: Some(m.namespace.clone()),
        labels: Some(labels(m, c)),
        owner_references: Some(vec![owner(m)]),
        ..ObjectMeta::default()
    }
}

/// The ClusterIP Service of a component: one named TCP port to the same-named container port.
pub fn service(m: &Model, c: Component, port: i32, port_name: &str) -> Service {
    Service {
        metadata: meta(m, c, name(m, c)),
        spec: Some(ServiceSpec {
            selector: Some(selector(m, c)),
            ports: Some(vec![ServicePort {
                name: Some(port_name.into()),
                port,
                target_port: Some(IntOrString::String(port_name.into())),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// FNV-1a, 64 bit: stable across Rust versions (unlike `DefaultHasher`), so names and
/// golden files derived from it do not churn.
pub fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A hash of a ConfigMap's data, put on pod templates so that a changed configuration
/// rolls the pods that read it.
pub fn config_hash(cm: &ConfigMap) -> String {
    let bytes = cm
        .data
        .iter()
        .flatten()
        .flat_map(|(k, v)| k.bytes().chain([0]).chain(v.bytes()).chain([0]));
    format!("{:016x}", fnv1a(bytes))
}

/// Everything one RaceSession becomes (Secrets are created once, outside of apply; see
/// `reconcile::secrets`).
#[derive(Clone, Debug, PartialEq)]
pub struct Children {
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
    /// The season report, when `postRace.schedule` is set. (The pipeline's Jobs are not
    /// children to converge: the scheduler creates them, see `reconcile::pipeline`.)
    pub cron_jobs: Vec<CronJob>,
}

/// Builds every child of a race.
pub fn build(m: &Model) -> Children {
    let mut c = Children {
        deployments: vec![simulator::deployment(m), processor::deployment(m)],
        services: vec![
            service(m, Component::Simulator, simulator::PORT, "http"),
            service(m, Component::Processor, processor::PORT, "http"),
        ],
        stateful_sets: Vec::new(),
        hpas: Vec::new(),
        network_policies: vec![network::processor(m)],
        config_maps: Vec::new(),
        service_accounts: Vec::new(),
        roles: Vec::new(),
        role_bindings: Vec::new(),
        scaled_objects: Vec::new(),
        cron_jobs: pipeline::cron_job(m).into_iter().collect(),
    };
    match &m.autoscaling {
        Some(a) if a.engine == AutoscalingEngine::Keda => {
            c.scaled_objects.push(keda::scaled_object(m, a))
        }
        _ => c.hpas.extend(processor::hpa(m)),
    }
    if let Some(mon) = &m.monitoring {
        let p = monitoring::prometheus::objects(m, mon);
        c.service_accounts.push(p.service_account);
        c.roles.push(p.role);
        c.role_bindings.push(p.role_binding);
        c.config_maps.push(p.config_map);
        c.deployments.push(p.deployment);
        c.services.push(p.service);
        let g = monitoring::grafana::objects(m, mon);
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
    /// Every object as one multi-document YAML stream, in apply order. The destructuring
    /// has no `..`: a new kind does not compile until it is rendered here.
    pub fn to_yaml(&self) -> String {
        let Children {
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
