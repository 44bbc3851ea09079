//! Managed Redis and PostgreSQL (StatefulSet, Service, NetworkPolicy). How the workloads
//! connect to them (or to external or CloudNativePG ones) is [`super::connection`].

use super::meta::{Component, labels, meta, name, selector};
use super::network;
use super::pod::{container_security, env, env_secret, pod_security, port, resources};
use super::ports;
use super::secrets::{POSTGRES_PASSWORD_KEY, postgres_secret_name};
use super::service::service;
use crate::api::DeletionPolicy;
use crate::model::{Datastore, Model};
use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
};
use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, ExecAction, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PodSpec, PodTemplateSpec, Probe, Service, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use std::collections::BTreeMap;

const REDIS_PORT: i32 = ports::REDIS;
const POSTGRES_PORT: i32 = ports::POSTGRES;
/// uid/gid of the `redis` and `postgres` users in the official Alpine images.
const REDIS_UID: i64 = 999;
const POSTGRES_UID: i64 = 70;

fn exec_probe(cmd: &[&str], period: i32) -> Probe {
    Probe {
        exec: Some(ExecAction {
            command: Some(cmd.iter().map(|s| s.to_string()).collect()),
        }),
        period_seconds: Some(period),
        timeout_seconds: Some(3),
        failure_threshold: Some(3),
        ..Probe::default()
    }
}

/// A data volume: a claim template when persistent, else an emptyDir in the pod.
fn data_volume(
    persistence: bool,
    storage: &str,
    class: &Option<String>,
) -> (Option<Vec<PersistentVolumeClaim>>, Vec<Volume>) {
    if persistence {
        let pvc = PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some("data".into()),
                ..ObjectMeta::default()
            },
            spec: Some(PersistentVolumeClaimSpec {
                access_modes: Some(vec!["ReadWriteOnce".into()]),
                storage_class_name: class.clone(),
                resources: Some(VolumeResourceRequirements {
                    requests: Some(BTreeMap::from([(
                        "storage".into(),
                        Quantity(storage.into()),
                    )])),
                    ..VolumeResourceRequirements::default()
                }),
                ..PersistentVolumeClaimSpec::default()
            }),
            ..PersistentVolumeClaim::default()
        };
        (Some(vec![pvc]), Vec::new())
    } else {
        (
            None,
            vec![Volume {
                name: "data".into(),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Volume::default()
            }],
        )
    }
}

/// What becomes of the data volumes: deleted with the StatefulSet (and so with the race)
/// unless the race retains its data; never when a StatefulSet is scaled down. The
/// PostgreSQL password goes the same way ([`super::secrets::owners`]).
fn claim_retention(policy: DeletionPolicy) -> StatefulSetPersistentVolumeClaimRetentionPolicy {
    StatefulSetPersistentVolumeClaimRetentionPolicy {
        when_deleted: Some(
            match policy {
                DeletionPolicy::Delete => "Delete",
                DeletionPolicy::Retain => "Retain",
            }
            .into(),
        ),
        when_scaled: Some("Retain".into()),
    }
}

fn stateful_set(
    m: &Model,
    c: Component,
    uid: i64,
    container: Container,
    claims: Option<Vec<PersistentVolumeClaim>>,
    volumes: Vec<Volume>,
) -> StatefulSet {
    StatefulSet {
        metadata: meta(m, c, name(m, c)),
        spec: Some(StatefulSetSpec {
            replicas: Some(1),
            service_name: Some(name(m, c)),
            selector: LabelSelector {
                match_labels: Some(selector(m, c)),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(m, c)),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    automount_service_account_token: Some(false),
                    security_context: Some(pod_security(uid)),
                    containers: vec![container],
                    volumes: (!volumes.is_empty()).then_some(volumes),
                    ..PodSpec::default()
                }),
            },
            persistent_volume_claim_retention_policy: claims
                .as_ref()
                .map(|_| claim_retention(m.deletion_policy)),
            volume_claim_templates: claims,
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    }
}

fn mount(name: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        ..VolumeMount::default()
    }
}

/// Managed Redis: AOF persistence when enabled; only the simulator and processor reach it.
pub fn redis(m: &Model) -> Option<(StatefulSet, Service, NetworkPolicy)> {
    let Datastore::Managed {
        persistence,
        storage,
        storage_class_name,
        image,
    } = &m.redis
    else {
        return None;
    };
    let args: Vec<String> = if *persistence {
        [
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--dir",
            "/data",
        ]
        .map(String::from)
        .to_vec()
    } else {
        ["--appendonly", "no", "--save", "", "--dir", "/data"]
            .map(String::from)
            .to_vec()
    };
    let container = Container {
        name: "redis".into(),
        image: Some(image.clone()),
        args: Some(args),
        ports: Some(vec![port("redis", REDIS_PORT)]),
        liveness_probe: Some(exec_probe(&["redis-cli", "ping"], 10)),
        readiness_probe: Some(exec_probe(&["redis-cli", "ping"], 5)),
        resources: Some(resources(&None, ("100m", "128Mi"), ("1", "1Gi"))),
        security_context: Some(container_security()),
        volume_mounts: Some(vec![mount("data", "/data")]),
        ..Container::default()
    };
    let (claims, volumes) = data_volume(*persistence, storage, storage_class_name);
    Some((
        stateful_set(m, Component::Redis, REDIS_UID, container, claims, volumes),
        service(m, Component::Redis, REDIS_PORT, "redis"),
        network::datastore(
            m,
            Component::Redis,
            REDIS_PORT,
            // The post-race pipeline reads the stream to archive it.
            &[
                Component::Simulator,
                Component::Processor,
                Component::Pipeline,
            ],
        ),
    ))
}

/// Managed PostgreSQL with a generated password; only the processor reaches it.
pub fn postgres(m: &Model) -> Option<(StatefulSet, Service, NetworkPolicy)> {
    let Datastore::Managed {
        persistence,
        storage,
        storage_class_name,
        image,
    } = &m.postgres
    else {
        return None;
    };
    let container = Container {
        name: "postgres".into(),
        image: Some(image.clone()),
        env: Some(vec![
            env("POSTGRES_USER", "pitstop"),
            env("POSTGRES_DB", "pitstop"),
            env_secret(
                "POSTGRES_PASSWORD",
                &postgres_secret_name(&m.name),
                POSTGRES_PASSWORD_KEY,
            ),
            env("PGDATA", "/var/lib/postgresql/data/pgdata"),
        ]),
        ports: Some(vec![port("postgres", POSTGRES_PORT)]),
        liveness_probe: Some(exec_probe(
            &["pg_isready", "-U", "pitstop", "-d", "pitstop"],
            10,
        )),
        readiness_probe: Some(exec_probe(
            &["pg_isready", "-U", "pitstop", "-d", "pitstop"],
            5,
        )),
        resources: Some(resources(&None, ("250m", "256Mi"), ("2", "1Gi"))),
        security_context: Some(container_security()),
        // The root filesystem is read-only: the socket directory and /tmp are emptyDirs.
        volume_mounts: Some(vec![
            mount("data", "/var/lib/postgresql/data"),
            mount("run", "/var/run/postgresql"),
            mount("tmp", "/tmp"),
        ]),
        ..Container::default()
    };
    let (claims, mut volumes) = data_volume(*persistence, storage, storage_class_name);
    for v in ["run", "tmp"] {
        volumes.push(Volume {
            name: v.into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        });
    }
    Some((
        stateful_set(
            m,
            Component::Postgres,
            POSTGRES_UID,
            container,
            claims,
            volumes,
        ),
        service(m, Component::Postgres, POSTGRES_PORT, "postgres"),
        network::datastore(
            m,
            Component::Postgres,
            POSTGRES_PORT,
            &[Component::Processor, Component::Pipeline],
        ),
    ))
}

#[cfg(test)]
mod tests {
    use crate::children::fixtures::*;

    fn policies(spec: &str) -> Vec<(Option<String>, Option<String>)> {
        children(spec, &[])
            .stateful_sets
            .iter()
            .map(|s| {
                let p = s.spec.as_ref().unwrap();
                let policy = p.persistent_volume_claim_retention_policy.clone();
                (
                    policy.as_ref().and_then(|p| p.when_deleted.clone()),
                    policy.and_then(|p| p.when_scaled),
                )
            })
            .collect()
    }

    /// The volumes go with the race by default (a re-created race used to find the old
    /// data under a new password and hang); `retain` keeps them; scaling never deletes
    /// them; a datastore without a volume has no policy.
    #[test]
    fn volumes_follow_the_deletion_policy() {
        let some = |s: &str| Some(s.to_string());
        assert_eq!(
            policies(MINIMAL),
            [
                (some("Delete"), some("Retain")),
                (some("Delete"), some("Retain"))
            ]
        );
        assert_eq!(
            policies("deletionPolicy: retain"),
            [
                (some("Retain"), some("Retain")),
                (some("Retain"), some("Retain"))
            ]
        );
        assert_eq!(
            policies("redis:\n  managed: {persistence: false}"),
            [(None, None), (some("Delete"), some("Retain"))]
        );
    }
}
