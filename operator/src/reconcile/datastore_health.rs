//! What the processor says of its datastores (`GET /ready`: 200 when Redis and PostgreSQL
//! answer, 503 with the problems otherwise), asked only while the processor's pods exist
//! and are not all ready: one list of its pods and one HTTP GET (5 s), no more. A 200, an
//! unreachable pod or an answer of another shape is no news: the status says what it
//! says without it.

use crate::children::meta::{Component, name, selector};
use crate::children::ports;
use crate::errors::chain;
use crate::model::Model;
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, ListParams};
use serde::Deserialize;
use std::time::Duration;

/// The processor's readiness path (every HTTP component serves it).
pub const READY_PATH: &str = "/ready";

/// One problem the processor names.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Problem {
    /// `redis` or `postgres`.
    pub datastore: String,
    /// `TlsUntrustedCertificate`, `TlsHostnameMismatch`, `TlsCertificateExpired`,
    /// `TlsNotOffered`, `TlsRequired`, `TlsSettingsInvalid`, `AuthenticationFailed`,
    /// `ConnectionClosed`, `Unreachable`, `SchemaNotMigrated` or `Other`.
    pub reason: String,
    #[serde(default)]
    pub message: String,
}

/// The body of a 503 from `/ready`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct ReadyReport {
    #[serde(default)]
    pub redis: bool,
    #[serde(default)]
    pub postgres: bool,
    #[serde(default)]
    pub problems: Vec<Problem>,
}

/// `http://<ip>:8001/ready` of the first processor pod that runs but is not ready (the
/// Service routes to ready pods only, so the unready ones are asked directly; the
/// processor's NetworkPolicy admits the operator).
pub fn pod_url(pods: &[Pod]) -> Option<String> {
    let ready = |p: &Pod| {
        p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    };
    pods.iter()
        .filter(|p| !ready(p) && p.metadata.deletion_timestamp.is_none())
        .find_map(|p| {
            let ip = p.status.as_ref()?.pod_ip.as_deref()?;
            let host = if ip.contains(':') {
                format!("[{ip}]")
            } else {
                ip.to_string()
            };
            Some(format!("http://{host}:{}{READY_PATH}", ports::PROCESSOR))
        })
}

/// Where to ask: `base` when given (tests, an operator outside the cluster), else an
/// unready processor pod.
async fn url(client: &Client, m: &Model, base: Option<&str>) -> Option<String> {
    if let Some(base) = base {
        return Some(format!("{}{READY_PATH}", base.trim_end_matches('/')));
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), &m.namespace);
    let labels = selector(m, Component::Processor)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    match pods.list(&ListParams::default().labels(&labels)).await {
        Ok(list) => pod_url(&list.items),
        Err(e) => {
            tracing::debug!(processor = %name(m, Component::Processor), error = %chain(&e), "could not list the processor's pods");
            None
        }
    }
}

/// The processor's datastore problems, when it answers 503 with them.
pub async fn fetch(
    client: &Client,
    http: &reqwest::Client,
    m: &Model,
    base: Option<&str>,
) -> Option<ReadyReport> {
    let url = url(client, m, base).await?;
    let resp = http
        .get(&url)
        // The processor's own checks take up to 2 s each (in parallel), and a Redis that
        // may speak only plaintext 1 s more to tell: 5 s lets every reason arrive.
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()?;
    if resp.status() != reqwest::StatusCode::SERVICE_UNAVAILABLE {
        return None;
    }
    let report: ReadyReport = resp.json().await.ok()?;
    (!report.problems.is_empty()).then_some(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};

    fn pod(ip: Option<&str>, ready: bool) -> Pod {
        Pod {
            status: Some(PodStatus {
                pod_ip: ip.map(String::from),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    ..PodCondition::default()
                }]),
                ..PodStatus::default()
            }),
            ..Pod::default()
        }
    }

    /// The first unready pod with an address is asked; ready pods and pods without an IP
    /// (not scheduled yet) are not; an IPv6 address is bracketed.
    #[test]
    fn an_unready_pod_is_asked() {
        assert_eq!(pod_url(&[]), None);
        assert_eq!(pod_url(&[pod(Some("10.0.0.1"), true)]), None);
        assert_eq!(
            pod_url(&[
                pod(Some("10.0.0.1"), true),
                pod(None, false),
                pod(Some("10.0.0.3"), false)
            ]),
            Some("http://10.0.0.3:8001/ready".into())
        );
        assert_eq!(
            pod_url(&[pod(Some("fd00::3"), false)]),
            Some("http://[fd00::3]:8001/ready".into())
        );
    }
}
