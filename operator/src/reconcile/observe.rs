//! Observe: what validation needs from the cluster — the keys of the Secrets a spec
//! references (never their values), for `engine: keda` whether KEDA is installed, for
//! `monitoring.mode: prometheusOperator` whether the Prometheus Operator is, and for
//! `postgres.cloudNativePG` whether CloudNativePG is.

use crate::api::{AutoscalingEngine, MonitoringMode, RaceSession};
use crate::model::Observations;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::Api;
use std::collections::{BTreeMap, BTreeSet};

/// What validation needs to know about the cluster.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// Keys of every Secret the spec references by name (absent = not found).
    pub secrets: BTreeMap<String, BTreeSet<String>>,
    /// Whether `scaledobjects.keda.sh/v1alpha1` is served (only asked for `engine: keda`).
    pub keda: bool,
    /// Whether `podmonitors` and `prometheusrules` of `monitoring.coreos.com/v1` are served
    /// (only asked for `monitoring.mode: prometheusOperator`).
    pub prometheus_operator: bool,
    /// Whether `clusters` of `postgresql.cnpg.io/v1` are served (only asked for
    /// `postgres.cloudNativePG`).
    pub cloudnative_pg: bool,
}

impl Observations for Observed {
    fn keys(&self, name: &str) -> Option<BTreeSet<String>> {
        self.secrets.get(name).cloned()
    }
    fn keda_installed(&self) -> bool {
        self.keda
    }
    fn prometheus_operator_installed(&self) -> bool {
        self.prometheus_operator
    }
    fn cloudnative_pg_installed(&self) -> bool {
        self.cloudnative_pg
    }
}

/// Reads the referenced Secrets and, when the spec needs them, KEDA's and the Prometheus
/// Operator's API groups.
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
    let prometheus_operator =
        if race.spec.monitoring.effective_mode() == MonitoringMode::PrometheusOperator {
            prometheus_operator_installed(client).await?
        } else {
            false
        };
    let cloudnative_pg = if race.spec.postgres.cloud_native_pg.is_some() {
        cloudnative_pg_installed(client).await?
    } else {
        false
    };
    Ok(Observed {
        secrets: secret_keys(client, ns, race).await?,
        keda,
        prometheus_operator,
        cloudnative_pg,
    })
}

/// Whether the API server serves every one of `resources` in `group_version` (a 404 on
/// the group means none).
async fn serves(
    client: &Client,
    group_version: &str,
    resources: &[&str],
) -> Result<bool, kube::Error> {
    match client.list_api_group_resources(group_version).await {
        Ok(list) => Ok(resources
            .iter()
            .all(|want| list.resources.iter().any(|r| r.name == *want))),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether the API server serves KEDA's ScaledObject.
pub async fn keda_installed(client: &Client) -> Result<bool, kube::Error> {
    serves(client, "keda.sh/v1alpha1", &["scaledobjects"]).await
}

/// Whether the API server serves the Prometheus Operator's PodMonitor and PrometheusRule.
pub async fn prometheus_operator_installed(client: &Client) -> Result<bool, kube::Error> {
    serves(
        client,
        "monitoring.coreos.com/v1",
        &["podmonitors", "prometheusrules"],
    )
    .await
}

/// Whether the API server serves CloudNativePG's Cluster.
pub async fn cloudnative_pg_installed(client: &Client) -> Result<bool, kube::Error> {
    serves(client, "postgresql.cnpg.io/v1", &["clusters"]).await
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
    for e in [&spec.redis.external, &spec.postgres.external]
        .into_iter()
        .flatten()
    {
        names.push(e.url_secret_ref.name.as_str());
        names.extend(e.ca_secret_ref.as_ref().map(|r| r.name.as_str()));
        names.extend(e.client_cert_secret_ref.as_deref());
    }
    names.extend(
        spec.post_race
            .webhook_secret_ref
            .as_ref()
            .map(|r| r.name.as_str()),
    );
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    names.sort_unstable();
    names.dedup();
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
