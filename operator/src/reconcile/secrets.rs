//! Observe the Secrets a spec references, and create the generated ones (API key,
//! PostgreSQL password, Grafana admin password) exactly once with random values. Generated values are never
//! logged, never in status, never re-applied: an existing Secret is left alone.

use crate::api::{AutoscalingEngine, RaceSession};
use crate::build::monitoring::grafana;
use crate::build::{Component, labels, owner, postgres_secret_name};
use crate::model::{Datastore, Model, Observations, api_key_secret_name};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};
use kube::{Client, ResourceExt};
use rand::distr::Alphanumeric;
use rand::{Rng, TryRngCore};
use std::collections::{BTreeMap, BTreeSet};

/// What validation needs to know about the cluster.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// Keys of every Secret the spec references by name (absent = not found).
    pub secrets: BTreeMap<String, BTreeSet<String>>,
    /// Whether `scaledobjects.keda.sh/v1alpha1` is served (only asked for `engine: keda`).
    pub keda: bool,
}

impl Observations for Observed {
    fn keys(&self, name: &str) -> Option<BTreeSet<String>> {
        self.secrets.get(name).cloned()
    }
    fn keda_installed(&self) -> bool {
        self.keda
    }
}

/// Reads the referenced Secrets and, for `engine: keda`, KEDA's API group.
pub async fn observe(
    client: &Client,
    ns: &str,
    race: &RaceSession,
) -> Result<Observed, kube::Error> {
    let a = &race.spec.processor.autoscaling;
    let keda = if a.enabled && a.engine == AutoscalingEngine::Keda {
        keda_installed(client).await?
    } else {
        false
    };
    Ok(Observed {
        secrets: secret_keys(client, ns, race).await?,
        keda,
    })
}

/// Whether the API server serves KEDA's ScaledObject (a 404 on the group means no KEDA).
pub async fn keda_installed(client: &Client) -> Result<bool, kube::Error> {
    match client.list_api_group_resources("keda.sh/v1alpha1").await {
        Ok(list) => Ok(list.resources.iter().any(|r| r.name == "scaledobjects")),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(false),
        Err(e) => Err(e),
    }
}

async fn secret_keys(
    client: &Client,
    ns: &str,
    race: &RaceSession,
) -> Result<BTreeMap<String, BTreeSet<String>>, kube::Error> {
    let spec = &race.spec;
    let mut names: Vec<&str> = Vec::new();
    names.extend(
        spec.processor
            .api_key_secret_ref
            .as_ref()
            .map(|r| r.name.as_str()),
    );
    names.extend(
        spec.redis
            .external
            .as_ref()
            .map(|e| e.url_secret_ref.name.as_str()),
    );
    names.extend(
        spec.postgres
            .external
            .as_ref()
            .map(|e| e.url_secret_ref.name.as_str()),
    );
    names.extend(
        spec.post_race
            .webhook_secret_ref
            .as_ref()
            .map(|r| r.name.as_str()),
    );
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let mut out = BTreeMap::new();
    for name in names {
        if let Some(s) = api.get_opt(name).await? {
            let keys = s
                .data
                .iter()
                .flatten()
                .map(|(k, _)| k.clone())
                .chain(s.string_data.iter().flatten().map(|(k, _)| k.clone()))
                .collect();
            out.insert(name.to_string(), keys);
        }
    }
    Ok(out)
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

/// The generated Secret objects a model needs, with fresh random values.
pub fn generated(m: &Model) -> Vec<Secret> {
    let mut out = Vec::new();
    let secret = |c: Component, name: String, key: &str| Secret {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(m.namespace.clone()),
            labels: Some(labels(m, c)),
            owner_references: Some(vec![owner(m)]),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".into()),
        data: Some(BTreeMap::from([(
            key.to_string(),
            ByteString(random_token(32).into_bytes()),
        )])),
        ..Secret::default()
    };
    if m.api_key_generated {
        out.push(secret(
            Component::Processor,
            api_key_secret_name(&m.name),
            "api-key",
        ));
    }
    if matches!(m.postgres, Datastore::Managed { .. }) {
        out.push(secret(
            Component::Postgres,
            postgres_secret_name(&m.name),
            "password",
        ));
    }
    if m.monitoring.is_some() {
        out.push(secret(
            Component::Grafana,
            grafana::secret_name(&m.name),
            grafana::PASSWORD_KEY,
        ));
    }
    out
}

/// Creates each generated Secret that does not exist yet.
pub async fn ensure_generated(client: &Client, m: &Model) -> Result<(), kube::Error> {
    let api: Api<Secret> = Api::namespaced(client.clone(), &m.namespace);
    for s in generated(m) {
        let name = s.name_any();
        if api.get_opt(&name).await?.is_some() {
            continue;
        }
        match api
            .create(
                &PostParams {
                    field_manager: Some(super::context::FIELD_MANAGER.into()),
                    ..PostParams::default()
                },
                &s,
            )
            .await
        {
            Ok(_) => tracing::info!(secret = %name, "generated secret created"),
            // Created concurrently by another reconcile: keep theirs.
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// Tokens are long, alphanumeric and not repeated.
    #[test]
    fn tokens_are_random() {
        let a = super::random_token(32);
        let b = super::random_token(32);
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }
}
