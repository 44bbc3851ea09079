//! The Secrets the operator generates for a race: the ingest API key (unless the spec
//! references one), the managed PostgreSQL password and the Grafana admin password. Built
//! here with the value the caller gives (the applier draws it from the OS generator and
//! creates each Secret once: generated values are never re-applied, logged or shown).

use super::meta::{Component, labels, owner};
use crate::model::{Datastore, Model, api_key_secret_name};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
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

/// The object of a generated Secret holding `value`.
pub fn secret(m: &Model, g: &Generated, value: String) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(g.name.clone()),
            namespace: Some(m.namespace.clone()),
            labels: Some(labels(m, g.component)),
            owner_references: Some(vec![owner(m)]),
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
