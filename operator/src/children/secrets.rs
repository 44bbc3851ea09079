//! The Secrets the operator generates for a race: the ingest API key (unless the spec
//! references one), the managed PostgreSQL password and the Grafana admin password. Built
//! here with the value the caller gives (the applier draws it from the OS generator and
//! creates each Secret once: generated values are never re-applied, logged or shown).
//!
//! The PostgreSQL password goes with the data it opens: owned by the race (deleted with
//! it, like the volumes) unless `deletionPolicy: retain` keeps the volumes, and then kept
//! with them, so that a race created again under the same name finds both.

use super::meta::{Component, labels, owner};
use crate::api::DeletionPolicy;
use crate::model::{Datastore, Model, api_key_secret_name};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use std::collections::BTreeMap;

/// Key of the generated ingest API key.
pub const API_KEY_KEY: &str = "api-key";
/// Key of the generated PostgreSQL password.
pub const POSTGRES_PASSWORD_KEY: &str = "password";
/// Key of the generated Grafana admin password.
pub const GRAFANA_PASSWORD_KEY: &str = "admin-password";

/// Secret holding the generated PostgreSQL password.
pub fn postgres_secret_name(race: &str) -> String {
    format!("{race}-postgres-auth")
}

/// Secret holding the generated Grafana admin password.
pub fn grafana_secret_name(race: &str) -> String {
    format!("{race}-grafana")
}

/// A Secret the operator generates once, before anything that reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct Generated {
    pub component: Component,
    pub name: String,
    pub key: &'static str,
}

/// The Secrets a race needs generated.
pub fn generated(m: &Model) -> Vec<Generated> {
    let mut out = Vec::new();
    if m.api_key_generated {
        out.push(Generated {
            component: Component::Processor,
            name: api_key_secret_name(&m.name),
            key: API_KEY_KEY,
        });
    }
    if matches!(m.postgres, Datastore::Managed { .. }) {
        out.push(Generated {
            component: Component::Postgres,
            name: postgres_secret_name(&m.name),
            key: POSTGRES_PASSWORD_KEY,
        });
    }
    if m.monitoring.owned().is_some() {
        out.push(Generated {
            component: Component::Grafana,
            name: grafana_secret_name(&m.name),
            key: GRAFANA_PASSWORD_KEY,
        });
    }
    out
}

/// Whether the race owns a generated Secret (Kubernetes then deletes it with the race):
/// every one but the PostgreSQL password of a race that retains its data.
pub fn owned(m: &Model, g: &Generated) -> bool {
    !(g.component == Component::Postgres && m.deletion_policy == DeletionPolicy::Retain)
}

/// The owner references an existing generated Secret should have, when they are not what
/// it has (`deletionPolicy` changed, or a Secret kept from an earlier race of the name):
/// other owners' stay, this race's is added or removed.
pub fn owners(m: &Model, g: &Generated, current: &[OwnerReference]) -> Option<Vec<OwnerReference>> {
    let ours = |r: &OwnerReference| r.uid == m.uid;
    let mut want: Vec<OwnerReference> = current.iter().filter(|r| !ours(r)).cloned().collect();
    if owned(m, g) {
        want.push(owner(m));
    }
    let has = |list: &[OwnerReference], r: &OwnerReference| list.iter().any(|c| c.uid == r.uid);
    let same = want.len() == current.len() && want.iter().all(|r| has(current, r));
    (!same).then_some(want)
}

/// The object of a generated Secret holding `value`.
pub fn secret(m: &Model, g: &Generated, value: String) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(g.name.clone()),
            namespace: Some(m.namespace.clone()),
            labels: Some(labels(m, g.component)),
            owner_references: owned(m, g).then(|| vec![owner(m)]),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".into()),
        data: Some(BTreeMap::from([(
            g.key.to_string(),
            ByteString(value.into_bytes()),
        )])),
        ..Secret::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::children::fixtures::{images, race, seen};
    use crate::model::validate;

    fn model(spec: &str) -> Model {
        validate(&race(spec), &seen(&[], false), &images()).unwrap()
    }

    fn postgres(m: &Model) -> Generated {
        generated(m)
            .into_iter()
            .find(|g| g.component == Component::Postgres)
            .unwrap()
    }

    /// By default the race owns the PostgreSQL password (deleted with it, like the
    /// volumes); with `retain` it does not, and Kubernetes keeps it with the volumes.
    #[test]
    fn the_password_goes_with_the_data() {
        let m = model("circuit: monza");
        let s = secret(&m, &postgres(&m), "x".into());
        assert_eq!(s.metadata.owner_references, Some(vec![owner(&m)]));
        let m = model("deletionPolicy: retain");
        let s = secret(&m, &postgres(&m), "x".into());
        assert_eq!(s.metadata.owner_references, None);
        // The API key and Grafana's password are no data: they always go with the race.
        for g in generated(&m)
            .iter()
            .filter(|g| g.component != Component::Postgres)
        {
            assert!(owned(&m, g), "{}", g.name);
        }
    }

    /// An existing Secret is patched only when its owners are not what the policy says:
    /// switching to `retain` drops this race's reference (another owner's stays), a Secret
    /// kept from an earlier race is adopted under `delete`.
    #[test]
    fn existing_owners_follow_the_policy() {
        let delete = model("circuit: monza");
        let retain = model("deletionPolicy: retain");
        let g = postgres(&delete);
        let other = OwnerReference {
            uid: "someone-else".into(),
            ..owner(&delete)
        };
        assert_eq!(owners(&delete, &g, &[owner(&delete)]), None);
        assert_eq!(owners(&retain, &g, &[]), None);
        assert_eq!(
            owners(&retain, &g, &[other.clone(), owner(&retain)]),
            Some(vec![other.clone()])
        );
        assert_eq!(owners(&delete, &g, &[]), Some(vec![owner(&delete)]));
        assert_eq!(
            owners(&delete, &g, std::slice::from_ref(&other)),
            Some(vec![other, owner(&delete)])
        );
    }
}
