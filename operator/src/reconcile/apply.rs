//! Apply: the generated Secrets created once with random values, server-side apply of
//! every other child with one field manager (forcing ownership of the fields we set, so
//! hand edits are reverted), then deletion of the children the spec no longer wants
//! (found by label).

use super::context::{FIELD_MANAGER, apply_params};
use super::source_seen::{SourceSeen, replay_state, udp_endpoint};
use crate::children::Children;
use crate::children::cnpg::{self, Cluster};
use crate::children::keda::ScaledObject;
use crate::children::meta::{Component, keys, race_selector};
use crate::children::monitoring::prometheus_operator::{PodMonitor, PrometheusRule};
use crate::children::secrets::{Generated, owners, secret};
use crate::model::Model;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerCondition;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, DeleteParams, ListParams, Patch};
use kube::api::{PatchParams, PostParams};
use kube::{Client, Resource, ResourceExt};
use rand::distr::Alphanumeric;
use rand::{Rng, TryRngCore};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeSet;
use std::fmt::Debug;

/// Readiness of one component as read from what the API server returned.
#[derive(Clone, Debug, PartialEq)]
pub struct Readiness {
    pub component: Component,
    pub desired: i32,
    pub ready: i32,
}

/// What the autoscaler says of itself, when it says it cannot scale.
#[derive(Clone, Debug, PartialEq)]
pub struct AutoscalerTrouble {
    pub reason: String,
    pub message: String,
}

/// Names applied per kind (what pruning keeps).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Names {
    pub deployments: BTreeSet<String>,
    pub services: BTreeSet<String>,
    pub stateful_sets: BTreeSet<String>,
    pub hpas: BTreeSet<String>,
    pub network_policies: BTreeSet<String>,
    pub config_maps: BTreeSet<String>,
    pub service_accounts: BTreeSet<String>,
    pub roles: BTreeSet<String>,
    pub role_bindings: BTreeSet<String>,
    pub scaled_objects: BTreeSet<String>,
    /// Generated Secrets.
    pub secrets: BTreeSet<String>,
    pub cron_jobs: BTreeSet<String>,
    /// The source's Jobs (the OpenF1 replay), never the pipeline's.
    pub jobs: BTreeSet<String>,
    pub pod_monitors: BTreeSet<String>,
    pub prometheus_rules: BTreeSet<String>,
    /// CloudNativePG Clusters.
    pub clusters: BTreeSet<String>,
}

pub struct Applied {
    pub names: Names,
    pub readiness: Vec<Readiness>,
    /// The HPA's own report that it cannot scale (`AbleToScale` or `ScalingActive`
    /// False), if it made one.
    pub autoscaler_trouble: Option<AutoscalerTrouble>,
    /// What the source's objects showed (the gateway's `/status` is asked later).
    pub source: SourceSeen,
    /// What the CloudNativePG Cluster says of itself while not all its instances are
    /// ready (a message for StorageReady).
    pub storage_note: Option<String>,
}

async fn apply_one<K>(client: &Client, ns: &str, obj: &K) -> Result<K, kube::Error>
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + DeserializeOwned + Serialize + Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    api.patch(&obj.name_any(), &apply_params(), &Patch::Apply(obj))
        .await
}

/// Applies each object in order, records its name, and returns what the server holds.
async fn apply_each<K>(
    client: &Client,
    ns: &str,
    objs: &[K],
    names: &mut BTreeSet<String>,
) -> Result<Vec<K>, kube::Error>
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + DeserializeOwned + Serialize + Debug,
    K::DynamicType: Default,
{
    let mut live = Vec::with_capacity(objs.len());
    for o in objs {
        let l = apply_one(client, ns, o).await?;
        names.insert(l.name_any());
        live.push(l);
    }
    Ok(live)
}

/// The component a built object belongs to ([`crate::children::meta::meta`] labels every
/// child with it).
fn component(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Component {
    meta.labels
        .as_ref()
        .and_then(|l| l.get(keys::COMPONENT))
        .and_then(|c| Component::parse(c))
        .expect("every child is labelled with its component")
}

/// The first condition of an HPA that says it cannot scale.
fn hpa_trouble(conditions: &[HorizontalPodAutoscalerCondition]) -> Option<AutoscalerTrouble> {
    conditions
        .iter()
        .find(|c| (c.type_ == "AbleToScale" || c.type_ == "ScalingActive") && c.status == "False")
        .map(|c| AutoscalerTrouble {
            reason: c.reason.clone().unwrap_or_else(|| c.type_.clone()),
            message: c.message.clone().unwrap_or_default(),
        })
}

/// A random alphanumeric string from the OS generator (URL-safe, so it can sit in a
/// connection URL).
pub fn random_token(len: usize) -> String {
    rand::rngs::OsRng
        .unwrap_err()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// Creates each generated Secret that does not exist yet, with a fresh random value; an
/// existing one keeps its value (it may be in use: the PostgreSQL password of a retained
/// volume) and only has its owner references set as `deletionPolicy` says.
async fn create_missing(
    client: &Client,
    m: &Model,
    generated: &[Generated],
    names: &mut BTreeSet<String>,
) -> Result<(), kube::Error> {
    let api: Api<Secret> = Api::namespaced(client.clone(), &m.namespace);
    for g in generated {
        names.insert(g.name.clone());
        if let Some(existing) = api.get_metadata_opt(&g.name).await? {
            let current = existing.metadata.owner_references.unwrap_or_default();
            if let Some(want) = owners(m, g, &current) {
                // A merge patch replaces the list whole; the value is not touched.
                let patch = serde_json::json!({"metadata": {"ownerReferences": want}});
                let params = PatchParams {
                    field_manager: Some(FIELD_MANAGER.into()),
                    ..PatchParams::default()
                };
                api.patch_metadata(&g.name, &params, &Patch::Merge(&patch))
                    .await?;
                tracing::info!(secret = %g.name, owned = !want.is_empty(), "generated secret's owners set");
            }
            continue;
        }
        let params = PostParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PostParams::default()
        };
        match api.create(&params, &secret(m, g, random_token(32))).await {
            Ok(_) => tracing::info!(secret = %g.name, "generated secret created"),
            // Created concurrently by another reconcile: keep theirs.
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Applies every child. The destructuring has no `..`: a new kind added to [`Children`]
/// does not compile until it is applied here.
pub async fn apply_all(
    client: &Client,
    m: &Model,
    children: Children,
) -> Result<Applied, kube::Error> {
    let ns = m.namespace.as_str();
    let Children {
        generated_secrets,
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
    } = children;
    let mut n = Names::default();
    // What pods mount or run as comes first, so a new pod never waits for it.
    create_missing(client, m, &generated_secrets, &mut n.secrets).await?;
    apply_each(client, ns, &config_maps, &mut n.config_maps).await?;
    apply_each(client, ns, &service_accounts, &mut n.service_accounts).await?;
    apply_each(client, ns, &roles, &mut n.roles).await?;
    apply_each(client, ns, &role_bindings, &mut n.role_bindings).await?;
    let mut readiness = Vec::new();
    // Under an HPA the desired count is the Deployment's own (the HPA sets it).
    for d in apply_each(client, ns, &deployments, &mut n.deployments).await? {
        readiness.push(Readiness {
            component: component(&d.metadata),
            desired: d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
            ready: d
                .status
                .as_ref()
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0),
        });
    }
    for s in apply_each(client, ns, &stateful_sets, &mut n.stateful_sets).await? {
        readiness.push(Readiness {
            component: component(&s.metadata),
            desired: s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
            ready: s
                .status
                .as_ref()
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0),
        });
    }
    // The UDP Service is the gateway's only one with a UDP port.
    let endpoint = apply_each(client, ns, &services, &mut n.services)
        .await?
        .iter()
        .filter(|s| component(&s.metadata) == Component::Gateway)
        .find(|s| udp(s))
        .and_then(udp_endpoint);
    let mut source = SourceSeen {
        endpoint,
        ..SourceSeen::default()
    };
    let autoscaler_trouble = apply_each(client, ns, &hpas, &mut n.hpas)
        .await?
        .iter()
        .find_map(|h| hpa_trouble(h.status.as_ref()?.conditions.as_deref()?));
    apply_each(client, ns, &network_policies, &mut n.network_policies).await?;
    apply_each(client, ns, &cron_jobs, &mut n.cron_jobs).await?;
    for j in apply_each(client, ns, &jobs, &mut n.jobs).await? {
        let state = replay_state(&j);
        readiness.push(Readiness {
            component: component(&j.metadata),
            desired: 1,
            ready: i32::from(state.ready()),
        });
        source.replay = Some((j.name_any(), state));
    }
    apply_each(client, ns, &scaled_objects, &mut n.scaled_objects).await?;
    apply_each(client, ns, &pod_monitors, &mut n.pod_monitors).await?;
    apply_each(client, ns, &prometheus_rules, &mut n.prometheus_rules).await?;
    let mut storage_note = None;
    for c in apply_each(client, ns, &clusters, &mut n.clusters).await? {
        let (desired, ready, note) = cnpg::readiness(&c);
        readiness.push(Readiness {
            component: component(&c.metadata),
            desired,
            ready,
        });
        storage_note = (ready < desired).then_some(note);
    }
    Ok(Applied {
        names: n,
        readiness,
        autoscaler_trouble,
        source,
        storage_note,
    })
}

fn udp(s: &Service) -> bool {
    s.spec
        .iter()
        .flat_map(|s| s.ports.iter().flatten())
        .any(|p| p.protocol.as_deref() == Some("UDP"))
}

async fn prune_kind<K>(
    client: &Client,
    ns: &str,
    selector: &str,
    keep: &BTreeSet<String>,
) -> Result<(), kube::Error>
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + DeserializeOwned + Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    // Names only: a list of whole children would carry every dashboard and Secret value.
    let list = match api
        .list_metadata(&ListParams::default().labels(selector))
        .await
    {
        Ok(l) => l,
        // The kind is not served (KEDA or the Prometheus Operator not installed):
        // nothing of it to delete.
        Err(kube::Error::Api(e)) if e.code == 404 => return Ok(()),
        // None of the kind is wanted and the operator may not list it (RBAC from before
        // the kind was added, e.g. an older bundle's ClusterRole): then it cannot have
        // created any either, and the race should not fail over it.
        Err(kube::Error::Api(e)) if e.code == 403 && keep.is_empty() => {
            tracing::warn!(kind = %K::kind(&Default::default()), error = %e.message, "may not list children of this kind; skipping their pruning");
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    for obj in list {
        let name = obj.name_any();
        if !keep.contains(&name) {
            tracing::info!(kind = %K::kind(&Default::default()), %name, "deleting child the spec no longer wants");
            api.delete(&name, &DeleteParams::background()).await?;
        }
    }
    Ok(())
}

/// Deletes this race's children that were not applied this time (e.g. managed → external
/// Redis removes the StatefulSet, Service and NetworkPolicy; autoscaling off removes the
/// HPA; `monitoring.mode` owned → prometheusOperator removes the race's Prometheus and
/// Grafana, and back removes the PodMonitors, PrometheusRule and dashboard ConfigMaps;
/// `source.type` simulator → game removes the simulator, and back the gateway and its
/// Services and NetworkPolicy; a changed OpenF1 replay removes the old replay Job).
pub async fn prune(client: &Client, ns: &str, race: &str, keep: &Names) -> Result<(), kube::Error> {
    let selector = race_selector(race);
    let Names {
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
        secrets,
        cron_jobs,
        jobs,
        pod_monitors,
        prometheus_rules,
        clusters,
    } = keep;
    prune_kind::<Deployment>(client, ns, &selector, deployments).await?;
    prune_kind::<Service>(client, ns, &selector, services).await?;
    prune_kind::<StatefulSet>(client, ns, &selector, stateful_sets).await?;
    prune_kind::<HorizontalPodAutoscaler>(client, ns, &selector, hpas).await?;
    prune_kind::<NetworkPolicy>(client, ns, &selector, network_policies).await?;
    prune_kind::<ConfigMap>(client, ns, &selector, config_maps).await?;
    prune_kind::<ServiceAccount>(client, ns, &selector, service_accounts).await?;
    prune_kind::<Role>(client, ns, &selector, roles).await?;
    prune_kind::<RoleBinding>(client, ns, &selector, role_bindings).await?;
    prune_kind::<ScaledObject>(client, ns, &selector, scaled_objects).await?;
    prune_kind::<CronJob>(client, ns, &selector, cron_jobs).await?;
    // The replay's Jobs only: the pipeline's belong to the scheduler.
    let replay = component_selector(&selector, Component::Replay);
    prune_kind::<Job>(client, ns, &replay, jobs).await?;
    prune_kind::<PodMonitor>(client, ns, &selector, pod_monitors).await?;
    prune_kind::<PrometheusRule>(client, ns, &selector, prometheus_rules).await?;
    // postgres.cloudNativePG → managed or external deletes the Cluster (and CloudNativePG
    // its pods and volumes).
    prune_kind::<Cluster>(client, ns, &selector, clusters).await?;
    // Only Grafana's generated Secret follows the spec: the API key and the PostgreSQL
    // password outlive a switch to external parts (their data may still be needed).
    let grafana = component_selector(&selector, Component::Grafana);
    prune_kind::<Secret>(client, ns, &grafana, secrets).await?;
    Ok(())
}

/// `selector` narrowed to one component's objects.
fn component_selector(selector: &str, c: Component) -> String {
    format!("{selector},{}={}", keys::COMPONENT, c.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tokens are long, alphanumeric and not repeated.
    #[test]
    fn tokens_are_random() {
        let a = random_token(32);
        let b = random_token(32);
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    /// Only a condition saying False is trouble; its reason and message are kept.
    #[test]
    fn hpa_trouble_is_a_false_scaling_condition() {
        let c = |t: &str, s: &str, r: &str| HorizontalPodAutoscalerCondition {
            type_: t.into(),
            status: s.into(),
            reason: Some(r.into()),
            message: Some(format!("{t} {s}")),
            last_transition_time: None,
        };
        assert_eq!(hpa_trouble(&[]), None);
        assert_eq!(
            hpa_trouble(&[
                c("AbleToScale", "True", "ReadyForNewScale"),
                c("ScalingLimited", "False", "DesiredWithinRange"),
            ]),
            None
        );
        assert_eq!(
            hpa_trouble(&[
                c("AbleToScale", "True", "SucceededGetScale"),
                c("ScalingActive", "False", "FailedGetPodsMetric"),
            ]),
            Some(AutoscalerTrouble {
                reason: "FailedGetPodsMetric".into(),
                message: "ScalingActive False".into(),
            })
        );
    }
}
