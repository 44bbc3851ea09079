//! Observe the Secrets a spec references, and create the generated ones (API key,
//! PostgreSQL password) exactly once with random values. Generated values are never
//! logged, never in status, never re-applied: an existing Secret is left alone.

use crate::api::RaceSession;
use crate::build::{Component, labels, owner, postgres_secret_name};
use crate::model::{Datastore, Model, api_key_secret_name};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};
use kube::{Client, ResourceExt};
use rand::distr::Alphanumeric;
use rand::{Rng, TryRngCore};
use std::collections::{BTreeMap, BTreeSet};

/// Keys of every Secret the spec references by name (absent = not found).
pub async fn observe(
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
                    field_manager: Some(super::FIELD_MANAGER.into()),
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
