//! `postgres.cloudNativePG`: a CloudNativePG `Cluster` (`postgresql.cnpg.io/v1`) named
//! `<race>-postgres`, owned by the race, instead of the managed StatefulSet. CloudNativePG
//! creates the database `pitstop` owned by `pitstop`, the Secrets the workloads read
//! (`<race>-postgres-app`, `<race>-postgres-ca`: [`super::connection`]) and the `-rw`
//! Service they connect to over TLS.

use super::meta::{Component, meta, name};
use crate::model::{Datastore, Model};
use kube::CustomResource;
use serde::{Deserialize, Serialize};

/// Label CloudNativePG puts on every pod of a cluster (what the processor's egress
/// NetworkPolicy admits).
pub const CLUSTER_LABEL: &str = "cnpg.io/cluster";

/// The fields of a CloudNativePG Cluster this operator sets (CloudNativePG defaults and
/// validates the rest).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "postgresql.cnpg.io",
    version = "v1",
    kind = "Cluster",
    namespaced,
    schema = "disabled",
    status = "ClusterStatus",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSpec {
    pub instances: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_name: Option<String>,
    pub storage: Storage,
    pub bootstrap: Bootstrap,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Storage {
    pub size: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Bootstrap {
    pub initdb: InitDb,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InitDb {
    pub database: String,
    pub owner: String,
}

/// What the operator reads of a Cluster's status.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_instances: Option<i32>,
    /// CloudNativePG's phase, e.g. "Setting up primary", "Cluster in healthy state".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
}

/// The race's Cluster, with `postgres.cloudNativePG`.
pub fn cluster(m: &Model) -> Option<Cluster> {
    let Datastore::CloudNativePG {
        instances,
        storage,
        storage_class_name,
        image_name,
    } = &m.postgres
    else {
        return None;
    };
    Some(Cluster {
        metadata: meta(m, Component::Postgres, name(m, Component::Postgres)),
        spec: ClusterSpec {
            instances: *instances,
            image_name: image_name.clone(),
            storage: Storage {
                size: storage.clone(),
                storage_class: storage_class_name.clone(),
            },
            bootstrap: Bootstrap {
                initdb: InitDb {
                    database: "pitstop".into(),
                    owner: "pitstop".into(),
                },
            },
        },
        status: None,
    })
}

/// How ready a Cluster the API server returned is: (instances wanted, instances ready, a
/// message for StorageReady).
pub fn readiness(c: &Cluster) -> (i32, i32, String) {
    let status = c.status.clone().unwrap_or_default();
    let ready = status.ready_instances.unwrap_or(0);
    let wanted = c.spec.instances;
    let mut message = format!(
        "CloudNativePG Cluster {}: {ready}/{wanted} instances ready",
        c.metadata.name.as_deref().unwrap_or_default()
    );
    if let Some(phase) = status.phase.filter(|p| !p.is_empty()) {
        message += &format!(" ({phase})");
    }
    (wanted, ready, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::children::fixtures::*;

    /// With `postgres.cloudNativePG` the race asks CloudNativePG for a Cluster (no
    /// StatefulSet, Service or NetworkPolicy of its own for PostgreSQL), the workloads
    /// read CloudNativePG's Secrets, verify its CA, and the processor may reach its pods.
    #[test]
    fn cloudnative_pg_cluster() {
        let c = cnpg_children(CNPG);
        assert_eq!(c.clusters.len(), 1);
        assert!(c.stateful_sets.is_empty(), "no PostgreSQL StatefulSet");
        assert!(!names(&c.services).contains(&"monza-postgres".to_string()));
        assert!(
            c.generated_secrets
                .iter()
                .all(|g| g.name != "monza-postgres-auth"),
            "CloudNativePG makes the password"
        );
        let (core, _) = render(&c);
        golden("cloudnativepg", &core);
    }

    /// The Cluster's readiness: instances ready out of those wanted, with its phase.
    #[test]
    fn readiness_follows_the_status() {
        let mut cl = cnpg_children(CNPG).clusters.remove(0);
        assert_eq!(
            readiness(&cl),
            (
                2,
                0,
                "CloudNativePG Cluster monza-postgres: 0/2 instances ready".into()
            )
        );
        cl.status = Some(ClusterStatus {
            instances: Some(2),
            ready_instances: Some(1),
            phase: Some("Waiting for the instances to become active".into()),
        });
        assert_eq!(
            readiness(&cl).2,
            "CloudNativePG Cluster monza-postgres: 1/2 instances ready (Waiting for the instances to become active)"
        );
    }
}
