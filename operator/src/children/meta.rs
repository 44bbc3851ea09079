//! The metadata of every child: names, the `app.kubernetes.io/*` labels, the controller
//! owner reference. Every builder takes its metadata from here; nothing here imports
//! another builder.

use crate::model::Model;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use std::collections::BTreeMap;

/// Value of `app.kubernetes.io/managed-by` on everything the operator creates; the
/// operator finds (and prunes) its children by it.
pub const MANAGED_BY: &str = "pitstop-operator";
/// Value of `app.kubernetes.io/name`.
pub const APP: &str = "pitstop";

/// Label keys, typed once.
pub mod keys {
    pub const NAME: &str = "app.kubernetes.io/name";
    pub const INSTANCE: &str = "app.kubernetes.io/instance";
    pub const COMPONENT: &str = "app.kubernetes.io/component";
    pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
    pub const PART_OF: &str = "app.kubernetes.io/part-of";
    pub const VERSION: &str = "app.kubernetes.io/version";
    /// The run of a post-race pipeline Job.
    pub const RUN: &str = "pitstop.io/run";
    /// The task of a post-race pipeline Job.
    pub const TASK: &str = "pitstop.io/task";
    /// Pod-template annotation holding the hash of the configuration a pod reads.
    pub const CONFIG_HASH: &str = "pitstop.io/config-hash";
}

/// The parts of a race.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Component {
    Simulator,
    /// The F1 game's ingest gateway (`source.type: game`).
    Gateway,
    /// The OpenF1 replay Job (`source.type: openf1`).
    Replay,
    Processor,
    Redis,
    Postgres,
    Prometheus,
    Grafana,
    /// Post-race pipeline Jobs and the season-report CronJob.
    Pipeline,
}

impl Component {
    /// Every component, in the order status lists them.
    pub const ALL: [Component; 9] = [
        Component::Simulator,
        Component::Gateway,
        Component::Replay,
        Component::Processor,
        Component::Redis,
        Component::Postgres,
        Component::Prometheus,
        Component::Grafana,
        Component::Pipeline,
    ];

    /// The value of `app.kubernetes.io/component` (and the suffix of object names).
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Simulator => "simulator",
            Component::Gateway => "gateway",
            Component::Replay => "replay",
            Component::Processor => "processor",
            Component::Redis => "redis",
            Component::Postgres => "postgres",
            Component::Prometheus => "prometheus",
            Component::Grafana => "grafana",
            Component::Pipeline => "pipeline",
        }
    }

    /// The component a label value names.
    pub fn parse(s: &str) -> Option<Component> {
        Component::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Name of a component's objects: `<race>-<component>`.
pub fn name(m: &Model, c: Component) -> String {
    format!("{}-{}", m.name, c.as_str())
}

/// Labels selecting one component's pods.
pub fn selector(m: &Model, c: Component) -> BTreeMap<String, String> {
    BTreeMap::from([
        (keys::NAME.into(), APP.into()),
        (keys::INSTANCE.into(), m.name.clone()),
        (keys::COMPONENT.into(), c.as_str().into()),
    ])
}

/// Full label set of a component's objects.
pub fn labels(m: &Model, c: Component) -> BTreeMap<String, String> {
    let mut l = selector(m, c);
    l.insert(keys::MANAGED_BY.into(), MANAGED_BY.into());
    l.insert(keys::PART_OF.into(), APP.into());
    l.insert(keys::VERSION.into(), env!("CARGO_PKG_VERSION").into());
    l
}

/// The label selector of everything this operator made for one race.
pub fn race_selector(race: &str) -> String {
    format!(
        "{}={race},{}={MANAGED_BY}",
        keys::INSTANCE,
        keys::MANAGED_BY
    )
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
