//! The controller: watches RaceSessions and every kind they own, reconciles at most
//! `concurrency` races at once ([`DEBOUNCE`] after what woke them) with per-object
//! exponential backoff on transient errors, and records metrics.
//!
//! What it holds, so that memory stays flat in what the races own:
//! - RaceSessions, whole (the reconciler reads spec, status and annotations), minus what
//!   nothing reads: `managedFields` and kubectl's last-applied copy of the spec ([`slim`]).
//! - Owned kinds, nothing: their watches ask for metadata only (`PartialObjectMetadata`:
//!   no ConfigMap or Secret data, no pod template ever reaches the operator through them)
//!   and only map a change or deletion to its race's reconcile. The reconciler reads
//!   readiness from the answers to its own server-side applies, and Jobs by a list of
//!   the current run, never from a cache.
//! - Reconciles in flight, at most `concurrency`: each holds its race's built children
//!   (three Grafana dashboards among them) and the server's answers until it returns.
//!   Unbounded, a thousand races starting together held all of that at once (~0.4 MiB
//!   per race, what took the operator past its memory limit).

use crate::api::RaceSession;
use crate::children::meta::{MANAGED_BY, keys};
use crate::errors::chain;
use crate::reconcile::{Context, Error, reconcile};
use futures_util::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Client, ResourceExt};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Races reconciled at once by default (per watched namespace): what bounds the
/// operator's peak memory (~0.45 MiB per reconcile in flight). On two cores against the
/// in-memory API server, 8 to 64 reconcile 1,000 races equally fast (the cores are the
/// limit); 16 leaves room for a real API server's latency.
pub const DEFAULT_CONCURRENCY: u16 = 16;

/// How long a race's reconcile waits after the change that woke it, gathering the
/// changes that follow (a reconcile's own writes wake it once, not once per child). It
/// also keeps the queue fair: a race woken while it runs goes behind races that are due,
/// instead of running again at once (kube's scheduler serves such races first).
pub const DEBOUNCE: Duration = Duration::from_secs(1);

/// kubectl's copy of the last applied manifest (client-side apply): a second spec.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// What the cache keeps of a RaceSession: all but `managedFields` and kubectl's
/// last-applied annotation, which the reconciler never reads (its own annotations, the
/// post-race requests, stay).
pub fn slim(race: &mut RaceSession) {
    race.metadata.managed_fields = None;
    if let Some(a) = race.metadata.annotations.as_mut() {
        a.remove(LAST_APPLIED);
    }
}

fn api<K>(client: &Client, ns: &Option<String>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match ns {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Changes to the children of kind `K`, as metadata only (`Api<PartialObjectMeta<K>>`
/// lists and watches with `Accept: …;as=PartialObjectMetadata`): enough to find the race
/// (the owner reference) and to say that something changed or went away.
fn changes<K>(
    client: &Client,
    ns: &Option<String>,
    config: &watcher::Config,
) -> impl Stream<Item = Result<PartialObjectMeta<K>, watcher::Error>> + Send + 'static
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + 'static,
    K::DynamicType: Default,
{
    watcher(api::<PartialObjectMeta<K>>(client, ns), config.clone()).touched_objects()
}

/// Consecutive failures per object, for the backoff.
#[derive(Default)]
struct Failures(Mutex<HashMap<String, u32>>);

/// Backoff after `n` consecutive failures: 1 s, 2 s, 4 s … capped at 5 minutes.
pub fn backoff(n: u32) -> Duration {
    Duration::from_secs((1u64 << n.min(9)).min(300))
}

/// Runs the controller for one namespace (or all, with `None`), reconciling at most
/// `concurrency` races at once, until `shutdown` resolves.
pub async fn run(
    client: Client,
    namespace: Option<String>,
    ctx: Arc<Context>,
    concurrency: u16,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let owned = watcher::Config::default().labels(&format!("{}={MANAGED_BY}", keys::MANAGED_BY));
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
        tracing::warn!(race = %key, error = %chain(err), category = err.category(), retry_in = ?delay, "reconcile failed");
        Action::requeue(delay)
    };
    let (reader, writer) = reflector::store();
    let races = watcher(
        api::<RaceSession>(&client, &namespace),
        watcher::Config::default(),
    )
    .modify(slim)
    .reflect(writer)
    .applied_objects();
    let (c, ns) = (&client, &namespace);
    Controller::for_stream(races, reader)
        .owns_stream(changes::<Deployment>(c, ns, &owned))
        .owns_stream(changes::<StatefulSet>(c, ns, &owned))
        .owns_stream(changes::<Service>(c, ns, &owned))
        .owns_stream(changes::<HorizontalPodAutoscaler>(c, ns, &owned))
        .owns_stream(changes::<NetworkPolicy>(c, ns, &owned))
        .owns_stream(changes::<ConfigMap>(c, ns, &owned))
        .owns_stream(changes::<ServiceAccount>(c, ns, &owned))
        .owns_stream(changes::<Role>(c, ns, &owned))
        .owns_stream(changes::<RoleBinding>(c, ns, &owned))
        // Pipeline Jobs: a finished attempt wakes the scheduler at once; the OpenF1
        // replay's: its progress and failure reach the status at once.
        .owns_stream(changes::<Job>(c, ns, &owned))
        .owns_stream(changes::<CronJob>(c, ns, &owned))
        // KEDA ScaledObjects are not watched: the kind may not exist, and a watch on a
        // missing kind fails forever. The periodic requeue reverts edits to them.
        // Generated Secrets: a deleted one is recreated at once (label-filtered, and
        // metadata only: the operator never holds a Secret's value from a watch).
        .owns_stream(changes::<Secret>(c, ns, &owned))
        .with_config(
            controller::Config::default()
                .concurrency(concurrency)
                .debounce(DEBOUNCE),
        )
        .graceful_shutdown_on(shutdown)
        .run(instrumented, error_policy, ctx)
        .for_each(|res| async move {
            match res {
                Ok((obj, _)) => tracing::debug!(race = %obj.name, "reconciled"),
                Err(e) => tracing::debug!(error = %chain(&e), "controller event"),
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

    /// The cache drops managedFields and kubectl's copy of the spec, and keeps what the
    /// reconciler reads: spec, status and the post-race annotations.
    #[test]
    fn slim_keeps_what_the_reconciler_reads() {
        let mut race: crate::api::RaceSession = serde_json::from_value(serde_json::json!({
            "apiVersion": "pitstop.io/v1alpha1", "kind": "RaceSession",
            "metadata": {
                "name": "monza", "namespace": "racing", "uid": "u1", "generation": 3,
                "labels": {"team": "ferrari"},
                "annotations": {
                    super::LAST_APPLIED: "{\"spec\":{\"timeScale\":40}}",
                    crate::post_race::plan::RUN_ANNOTATION: "now",
                },
                "managedFields": [{"manager": "kubectl", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}]
            },
            "spec": {"timeScale": 40},
            "status": {"observedGeneration": 3}
        }))
        .unwrap();
        let before = race.clone();
        super::slim(&mut race);
        assert_eq!(race.metadata.managed_fields, None);
        let annotations = race.metadata.annotations.clone().unwrap();
        assert_eq!(
            annotations.keys().collect::<Vec<_>>(),
            [crate::post_race::plan::RUN_ANNOTATION]
        );
        assert_eq!(race.spec, before.spec);
        assert_eq!(race.status, before.status);
        assert_eq!(
            (
                race.metadata.labels,
                race.metadata.uid,
                race.metadata.generation
            ),
            (
                before.metadata.labels,
                before.metadata.uid,
                before.metadata.generation
            )
        );
    }
}
