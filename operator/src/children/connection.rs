//! How the workloads reach the datastores: `REDIS_URL` and `DATABASE_URL`, and for TLS the
//! CA (and Redis client certificate) Secrets mounted read-only with the variables that
//! point at them. Shared by every pod that talks to a datastore (simulator, processor,
//! post-race Jobs); the gateway and the replay talk only to the processor.
//!
//! Secrets are mounted as whole volumes (no `subPath`), so the kubelet refreshes a rotated
//! CA or client certificate in place; the operator never reads their values.

use super::meta::{Component, name};
use super::pod::{env, env_secret};
use super::ports;
use super::secrets::{POSTGRES_PASSWORD_KEY, postgres_secret_name};
use crate::model::{Datastore, Model, TLS_CERT_KEY, TLS_KEY_KEY};
use k8s_openapi::api::core::v1::{
    EnvVar, KeyToPath, ProjectedVolumeSource, SecretProjection, Volume, VolumeMount,
    VolumeProjection,
};
use pitstop_contract::env as var;

/// Where the Redis TLS files are mounted.
pub const REDIS_TLS_DIR: &str = "/etc/pitstop/tls/redis";
/// Where the PostgreSQL CA is mounted.
pub const POSTGRES_TLS_DIR: &str = "/etc/pitstop/tls/postgres";
/// File names inside those directories.
pub const CA_FILE: &str = "ca.crt";
/// The sslmode a given CA comes with: the server's certificate must chain to it and name
/// the host the URL connects to (libpq's `verify-full`); the URL's own `sslmode` wins.
pub const VERIFY_FULL: &str = "verify-full";
/// Read-only for the owner and the pod's group (the workloads run with that group).
const MODE: i32 = 0o440;
const REDIS_VOLUME: &str = "tls-redis";
const POSTGRES_VOLUME: &str = "tls-postgres";

/// The CloudNativePG Secrets of a race's cluster `<race>-postgres` (CloudNativePG names
/// them after the cluster): the owner's credentials (`uri`:
/// `postgresql://pitstop:…@<race>-postgres-rw.<ns>:5432/pitstop`) and the server CA.
pub fn cnpg_app_secret(m: &Model) -> String {
    format!("{}-app", name(m, Component::Postgres))
}
pub fn cnpg_ca_secret(m: &Model) -> String {
    format!("{}-ca", name(m, Component::Postgres))
}
pub const CNPG_URI_KEY: &str = "uri";
pub const CNPG_CA_KEY: &str = "ca.crt";

/// What a pod needs to reach one or more datastores.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Connection {
    pub env: Vec<EnvVar>,
    pub volumes: Vec<Volume>,
    pub mounts: Vec<VolumeMount>,
}

impl Connection {
    /// `self` followed by `other`.
    pub fn and(mut self, other: Connection) -> Connection {
        self.env.extend(other.env);
        self.volumes.extend(other.volumes);
        self.mounts.extend(other.mounts);
        self
    }

    /// The volumes as a pod spec takes them (`None` when there are none, so pods without
    /// TLS keep their shape).
    pub fn pod_volumes(&self) -> Option<Vec<Volume>> {
        (!self.volumes.is_empty()).then(|| self.volumes.clone())
    }

    pub fn container_mounts(&self) -> Option<Vec<VolumeMount>> {
        (!self.mounts.is_empty()).then(|| self.mounts.clone())
    }
}

fn projection(secret: &str, items: &[(&str, &str)]) -> VolumeProjection {
    VolumeProjection {
        secret: Some(SecretProjection {
            name: secret.into(),
            items: Some(
                items
                    .iter()
                    .map(|(key, path)| KeyToPath {
                        key: (*key).into(),
                        path: (*path).into(),
                        mode: None,
                    })
                    .collect(),
            ),
            optional: Some(false),
        }),
        ..VolumeProjection::default()
    }
}

/// One read-only directory of Secret keys.
fn tls_volume(
    volume: &str,
    dir: &str,
    sources: Vec<VolumeProjection>,
) -> (Vec<Volume>, Vec<VolumeMount>) {
    if sources.is_empty() {
        return (Vec::new(), Vec::new());
    }
    (
        vec![Volume {
            name: volume.into(),
            projected: Some(ProjectedVolumeSource {
                default_mode: Some(MODE),
                sources: Some(sources),
            }),
            ..Volume::default()
        }],
        vec![VolumeMount {
            name: volume.into(),
            mount_path: dir.into(),
            read_only: Some(true),
            ..VolumeMount::default()
        }],
    )
}

fn file(dir: &str, f: &str) -> String {
    format!("{dir}/{f}")
}

/// `REDIS_URL`, and with TLS options the CA and client certificate.
pub fn redis(m: &Model) -> Connection {
    match &m.redis {
        Datastore::Managed { .. } => Connection {
            env: vec![env(
                var::REDIS_URL,
                format!("redis://{}:{}", name(m, Component::Redis), ports::REDIS),
            )],
            ..Connection::default()
        },
        Datastore::External {
            url,
            ca,
            client_cert,
            ..
        } => {
            let mut env_vars = vec![env_secret(var::REDIS_URL, &url.name, &url.key)];
            let mut sources = Vec::new();
            if let Some(ca) = ca {
                sources.push(projection(&ca.name, &[(&ca.key, CA_FILE)]));
                env_vars.push(env(var::REDIS_CA_FILE, file(REDIS_TLS_DIR, CA_FILE)));
            }
            if let Some(secret) = client_cert {
                sources.push(projection(
                    secret,
                    &[(TLS_CERT_KEY, TLS_CERT_KEY), (TLS_KEY_KEY, TLS_KEY_KEY)],
                ));
                env_vars.extend([
                    env(
                        var::REDIS_CLIENT_CERT_FILE,
                        file(REDIS_TLS_DIR, TLS_CERT_KEY),
                    ),
                    env(var::REDIS_CLIENT_KEY_FILE, file(REDIS_TLS_DIR, TLS_KEY_KEY)),
                ]);
            }
            let (volumes, mounts) = tls_volume(REDIS_VOLUME, REDIS_TLS_DIR, sources);
            Connection {
                env: env_vars,
                volumes,
                mounts,
            }
        }
        // Refused by validation; nothing to connect to.
        Datastore::CloudNativePG { .. } => Connection::default(),
    }
}

/// The CA mount and libpq's variables for a PostgreSQL server verified against it.
fn postgres_tls(secret: &str, key: &str) -> (Vec<EnvVar>, Vec<Volume>, Vec<VolumeMount>) {
    let (volumes, mounts) = tls_volume(
        POSTGRES_VOLUME,
        POSTGRES_TLS_DIR,
        vec![projection(secret, &[(key, CA_FILE)])],
    );
    let env_vars = vec![
        env(var::PG_SSLMODE, VERIFY_FULL),
        env(var::PG_SSLROOTCERT, file(POSTGRES_TLS_DIR, CA_FILE)),
    ];
    (env_vars, volumes, mounts)
}

/// `DATABASE_URL`. The managed password stays in its Secret: the URL refers to it through
/// Kubernetes' `$(VAR)` expansion. With a CA (given, or CloudNativePG's) the CA is mounted
/// and `PGSSLMODE=verify-full`, `PGSSLROOTCERT` point libpq-style clients at it.
pub fn postgres(m: &Model) -> Connection {
    match &m.postgres {
        Datastore::Managed { .. } => Connection {
            env: vec![
                env_secret(
                    "PGPASSWORD",
                    &postgres_secret_name(&m.name),
                    POSTGRES_PASSWORD_KEY,
                ),
                env(
                    var::DATABASE_URL,
                    format!(
                        "postgres://pitstop:$(PGPASSWORD)@{}:{}/pitstop",
                        name(m, Component::Postgres),
                        ports::POSTGRES
                    ),
                ),
            ],
            ..Connection::default()
        },
        Datastore::External { url, ca, .. } => {
            let mut c = Connection {
                env: vec![env_secret(var::DATABASE_URL, &url.name, &url.key)],
                ..Connection::default()
            };
            if let Some(ca) = ca {
                let (e, v, mnt) = postgres_tls(&ca.name, &ca.key);
                c.env.extend(e);
                c.volumes = v;
                c.mounts = mnt;
            }
            c
        }
        Datastore::CloudNativePG { .. } => {
            let (e, volumes, mounts) = postgres_tls(&cnpg_ca_secret(m), CNPG_CA_KEY);
            let mut env_vars = vec![env_secret(
                var::DATABASE_URL,
                &cnpg_app_secret(m),
                CNPG_URI_KEY,
            )];
            env_vars.extend(e);
            Connection {
                env: env_vars,
                volumes,
                mounts,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::children::fixtures::*;

    fn env_of(c: &Connection) -> Vec<(String, String)> {
        c.env
            .iter()
            .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
            .collect()
    }

    /// An external PostgreSQL with a CA: the CA is mounted read-only and libpq's defaults
    /// point at it with `verify-full` (the URL's own sslmode still wins); without one
    /// nothing but the URL, as before.
    #[test]
    fn external_postgres_with_a_ca() {
        let spec = "postgres:\n  external:\n    urlSecretRef: {name: pg-url, key: url}\n    caSecretRef: {name: pg-ca, key: root.pem}";
        let observed = seen(&[("pg-url", "url"), ("pg-ca", "root.pem")], false);
        let m = validate(&race(spec), &observed, &images()).unwrap();
        let c = postgres(&m);
        assert_eq!(
            env_of(&c)[1..],
            [
                ("PGSSLMODE".into(), "verify-full".into()),
                (
                    "PGSSLROOTCERT".into(),
                    "/etc/pitstop/tls/postgres/ca.crt".into()
                ),
            ]
        );
        let v = serde_json::to_value(&c.volumes).unwrap();
        assert_eq!(
            v[0]["projected"]["sources"][0]["secret"],
            serde_json::json!({"name": "pg-ca", "items": [{"key": "root.pem", "path": "ca.crt"}], "optional": false})
        );
        assert_eq!(c.mounts[0].read_only, Some(true));

        let plain = "postgres:\n  external:\n    urlSecretRef: {name: pg-url, key: url}";
        let m = validate(&race(plain), &seen(&[("pg-url", "url")], false), &images()).unwrap();
        let c = postgres(&m);
        assert_eq!(c.env.len(), 1);
        assert!(c.volumes.is_empty() && c.pod_volumes().is_none());
    }

    /// Every pod that talks to the datastores gets the TLS files: the simulator (Redis),
    /// the processor and the post-race steps (both); the gateway talks to neither.
    #[test]
    fn every_datastore_client_mounts_the_tls_files() {
        let spec = format!("{CNPG}\npostRace: {{schedule: \"0 6 * * *\"}}");
        let c = cnpg_children(&spec);
        let mounts = |name: &str| -> Vec<String> {
            deployment(&c, name)
                .spec
                .as_ref()
                .unwrap()
                .template
                .spec
                .as_ref()
                .unwrap()
                .containers[0]
                .volume_mounts
                .iter()
                .flatten()
                .map(|v| v.mount_path.clone())
                .collect()
        };
        assert_eq!(mounts("monza-simulator"), [REDIS_TLS_DIR]);
        assert_eq!(mounts("monza-processor"), [REDIS_TLS_DIR, POSTGRES_TLS_DIR]);
        let cron = serde_json::to_value(&c.cron_jobs[0]).unwrap();
        let pod = &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        let job_mounts: Vec<_> = pod["containers"][0]["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["mountPath"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(job_mounts, [REDIS_TLS_DIR, POSTGRES_TLS_DIR]);
        assert_eq!(pod["volumes"].as_array().map(Vec::len), Some(2));
    }
}
