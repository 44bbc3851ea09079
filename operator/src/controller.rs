//! The controller: watches RaceSessions and every kind they own, reconciles with
//! per-object exponential backoff on transient errors, and records metrics.

use crate::api::RaceSession;
use crate::children::meta::{MANAGED_BY, keys};
use crate::reconcile::{Context, Error, reconcile};
use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Consecutive failures per object, for the backoff.
#[derive(Default)]
struct Failures(Mutex<HashMap<String, u32>>);

/// Backoff after `n` consecutive failures: 1 s, 2 s, 4 s … capped at 5 minutes.
pub fn backoff(n: u32) -> Duration {
    Duration::from_secs((1u64 << n.min(9)).min(300))
}

/// Runs the controller for one namespace (or all, with `None`) until `shutdown` resolves.
pub async fn run(
    client: Client,
    namespace: Option<String>,
    ctx: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let owned = watcher::Config::default().labels(&format!("{}={MANAGED_BY}", keys::MANAGED_BY));
    fn api<K>(client: &Client, ns: &Option<String>) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
        K::DynamicType: Default,
    {
        match ns {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        }
    }
    let failures = Arc::new(Failures::default());
    let f = failures.clone();
    let instrumented = move |race: Arc<RaceSession>, ctx: Arc<Context>| {
        let failures = f.clone();
        async move {
            let key = format!(
                "{}/{}",
                race.namespace().unwrap_or_default(),
                race.name_any()
            );
            let t = Instant::now();
            let result = reconcile(race, ctx.clone()).await;
            ctx.metrics.duration.observe(t.elapsed().as_secs_f64());
            match &result {
                Ok(_) => {
                    ctx.metrics.reconciles.with_label_values(&["success"]).inc();
                    failures.0.lock().expect("poisoned").remove(&key);
                }
                Err(e) => {
                    ctx.metrics.reconciles.with_label_values(&["error"]).inc();
                    ctx.metrics.errors.with_label_values(&[e.category()]).inc();
                }
            }
            result
        }
    };
    let error_policy = move |race: Arc<RaceSession>, err: &Error, _ctx: Arc<Context>| -> Action {
        let key = format!(
            "{}/{}",
            race.namespace().unwrap_or_default(),
            race.name_any()
        );
        let mut map = failures.0.lock().expect("poisoned");
        let n = map.entry(key.clone()).or_insert(0);
        let delay = backoff(*n);
        *n += 1;
        tracing::warn!(race = %key, error = %err, category = err.category(), retry_in = ?delay, "reconcile failed");
        Action::requeue(delay)
    };
    Controller::new(
        api::<RaceSession>(&client, &namespace),
        watcher::Config::default(),
    )
    .owns(api::<Deployment>(&client, &namespace), owned.clone())
    .owns(api::<StatefulSet>(&client, &namespace), owned.clone())
    .owns(api::<Service>(&client, &namespace), owned.clone())
    .owns(
        api::<HorizontalPodAutoscaler>(&client, &namespace),
        owned.clone(),
    )
    .owns(api::<NetworkPolicy>(&client, &namespace), owned.clone())
    .owns(api::<ConfigMap>(&client, &namespace), owned.clone())
    .owns(api::<ServiceAccount>(&client, &namespace), owned.clone())
    .owns(api::<Role>(&client, &namespace), owned.clone())
    .owns(api::<RoleBinding>(&client, &namespace), owned.clone())
    // Pipeline Jobs: a finished attempt wakes the scheduler at once.
    .owns(api::<Job>(&client, &namespace), owned.clone())
    .owns(api::<CronJob>(&client, &namespace), owned.clone())
    // KEDA ScaledObjects are not watched: the kind may not exist, and a watch on a
    // missing kind fails forever. The periodic requeue reverts edits to them.
    // Generated Secrets: a deleted one is recreated at once (label-filtered, so the
    // operator never caches other Secrets).
    .owns(api::<Secret>(&client, &namespace), owned)
    .graceful_shutdown_on(shutdown)
    .run(instrumented, error_policy, ctx)
    .for_each(|res| async move {
        match res {
            Ok((obj, _)) => tracing::debug!(race = %obj.name, "reconciled"),
            Err(e) => tracing::debug!(error = %e, "controller event"),
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    /// Transient errors back off exponentially up to five minutes.
    #[test]
    fn backoff_grows_and_caps() {
        let secs: Vec<u64> = (0..12).map(|n| super::backoff(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
    }
}
