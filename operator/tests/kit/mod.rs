//! The real kube-apiserver (v1.36, from the local kit of `scripts/kit.sh`) for the tests
//! that must not trust an imitation: CRD schema and CEL validation, server-side apply
//! field ownership, RBAC, garbage collection, watches.
//!
//! Found through `PITSTOP_KUBECONFIG`, else `scripts/kit.sh kubeconfig`; without one a
//! test says so on stderr and returns ([`Kit::connect`]). Every test works in namespaces
//! of its own ([`Kit::namespace`]: `apitest-<test>-<random>`, deleted when dropped) that
//! hold a ResourceQuota of zero pods: the cluster's node may be running someone else's
//! race, and nothing these tests create may schedule a pod on it.
#![allow(dead_code)]

pub mod operator;
pub mod proxy;

use k8s_openapi::api::core::v1::{Namespace, ResourceQuota};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Field manager of what the tests themselves apply (the CRD, namespaces, a user's edits).
pub const TEST_MANAGER: &str = "pitstop-apiserver-tests";

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The kubeconfig of a real API server: `PITSTOP_KUBECONFIG`, else the kit's when its
/// control plane answers (`scripts/kit.sh kubeconfig` exits 3 otherwise).
pub fn kubeconfig() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PITSTOP_KUBECONFIG") {
        return Some(p.into());
    }
    let out = std::process::Command::new(root().join("scripts/kit.sh"))
        .arg("kubeconfig")
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let path = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !path.is_empty()).then(|| path.into())
}

/// The folder with the kit's `kubectl` and `helm` (`PITSTOP_KIT_TOOLS`, else
/// `scripts/kit.sh tools`).
pub fn tools() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PITSTOP_KIT_TOOLS") {
        return Some(p.into());
    }
    let out = std::process::Command::new(root().join("scripts/kit.sh"))
        .arg("tools")
        .output()
        .ok()?;
    let path = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !path.is_empty()).then(|| path.into())
}

/// Says on the real stderr (not the captured one, so `cargo test` shows it) that `test`
/// did not run.
pub fn skip(test: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "\n{test}: skipped: {why}");
}

/// A connection to the real API server, the RaceSession CRD applied and served.
#[derive(Clone)]
pub struct Kit {
    pub client: Client,
    pub config: Config,
    pub kubeconfig: PathBuf,
}

impl Kit {
    /// The real API server, or `None` after saying why `test` is skipped.
    pub async fn connect(test: &str) -> Option<Kit> {
        let Some(kubeconfig) = kubeconfig() else {
            skip(
                test,
                "no real API server — set PITSTOP_KUBECONFIG, or run scripts/kit.sh up \
                 (needs ../shared/k8s-local, root)",
            );
            return None;
        };
        let kc = Kubeconfig::read_from(&kubeconfig).expect("readable kubeconfig");
        let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
            .await
            .expect("usable kubeconfig");
        let client = Client::try_from(config.clone()).expect("client");
        let kit = Kit {
            client,
            config,
            kubeconfig,
        };
        kit.install_crd().await;
        Some(kit)
    }

    /// A client acting as `user` (e.g. `system:serviceaccount:<ns>:<name>`): the API
    /// server authorizes each request as that user (the kit's admin may impersonate).
    pub fn impersonating(&self, user: &str) -> Client {
        let mut config = self.config.clone();
        config.auth_info.impersonate = Some(user.into());
        Client::try_from(config).expect("client")
    }

    /// Server-side applies `crds/racesessions.pitstop.io.yaml` (what `make e2e` applies
    /// too: the same fields with the same values, so no conflict) and waits until
    /// RaceSessions are served. Never deleted: other work on the cluster uses it.
    async fn install_crd(&self) {
        let text = std::fs::read_to_string(root().join("crds/racesessions.pitstop.io.yaml"))
            .expect("CRD file");
        let crd: CustomResourceDefinition = serde_yaml::from_str(&text).expect("CRD YAML");
        let api: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        let name = crd.metadata.name.clone().expect("named");
        api.patch(
            &name,
            &PatchParams::apply(TEST_MANAGER).force(),
            &Patch::Apply(&crd),
        )
        .await
        .expect("CRD applied");
        eventually("RaceSessions served", Duration::from_secs(30), async || {
            self.client
                .list_api_group_resources("pitstop.io/v1alpha1")
                .await
                .is_ok_and(|l| l.resources.iter().any(|r| r.name == "racesessions"))
        })
        .await;
    }

    /// A namespace of this test's own, `apitest-<test>-<random>`, where no pod may be
    /// created (ResourceQuota `pods: "0"`); deleted when the returned guard drops.
    pub async fn namespace(&self, test: &str) -> TestNamespace {
        let suffix = pitstop_operator::reconcile::apply::random_token(6).to_lowercase();
        let name = format!("apitest-{}-{suffix}", test.replace('_', "-"));
        assert!(name.len() <= 63, "{name}: too long for a namespace");
        let ns: Api<Namespace> = Api::all(self.client.clone());
        let pp = PatchParams::apply(TEST_MANAGER);
        ns.patch(
            &name,
            &pp,
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": name, "labels": {"pitstop.io/apiserver-test": test}}})),
        )
        .await
        .expect("namespace created");
        // Before anything else in it: the quota admission refuses pods from the moment the
        // quota exists (while its usage is not yet computed, it refuses them all).
        let quota: Api<ResourceQuota> = Api::namespaced(self.client.clone(), &name);
        quota
            .patch(
                "no-pods",
                &pp,
                &Patch::Apply(json!({"apiVersion": "v1", "kind": "ResourceQuota",
                    "metadata": {"name": "no-pods"}, "spec": {"hard": {"pods": "0"}}})),
            )
            .await
            .expect("quota created");
        TestNamespace {
            name,
            config: self.config.clone(),
        }
    }
}

/// A test's namespace, deleted (with everything in it) when dropped, also when the test
/// fails.
pub struct TestNamespace {
    pub name: String,
    config: Config,
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        let name = self.name.clone();
        on_own_runtime(self.config.clone(), move |client| async move {
            release_races(&client, &name).await;
            let api: Api<Namespace> = Api::all(client);
            api.delete(&name, &DeleteParams::background()).await.ok();
        });
    }
}

/// Runs `work` to the end with a client of its own on a runtime of its own, for clean-up
/// in `Drop`: the test's runtime may be the one blocked in that drop.
pub fn on_own_runtime<F, Fut>(config: Config, work: F)
where
    F: FnOnce(Client) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let done = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move { work(Client::try_from(config).expect("client")).await })
    });
    let _ = done.join();
}

/// Drops the operator's finalizer from every race in `ns`: the operator that would remove
/// it has stopped with the test, and a race holding it would keep the namespace
/// Terminating for the rest of the cluster's life (and hand its deletion to whichever
/// operator runs next on the shared cluster).
async fn release_races(client: &Client, ns: &str) {
    let races: Api<pitstop_operator::api::RaceSession> = Api::namespaced(client.clone(), ns);
    let Ok(list) = races.list(&Default::default()).await else {
        return;
    };
    let unset = Patch::Merge(json!({"metadata": {"finalizers": null}}));
    for race in list {
        let name = race.metadata.name.unwrap_or_default();
        races
            .patch(&name, &PatchParams::default(), &unset)
            .await
            .ok();
    }
}

/// Polls `check` every 200 ms until it holds; panics naming `what` after `limit`.
pub async fn eventually(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One reconcile of race `name` as the server holds it now (bounded: 20 s).
pub async fn reconcile_once(ctx: &Arc<pitstop_operator::reconcile::Context>, ns: &str, name: &str) {
    use pitstop_operator::api::RaceSession;
    let api: kube::Api<RaceSession> = kube::Api::namespaced(ctx.client.clone(), ns);
    let race = api.get(name).await.expect("race exists");
    tokio::time::timeout(
        Duration::from_secs(20),
        pitstop_operator::reconcile::reconcile(Arc::new(race), ctx.clone()),
    )
    .await
    .expect("reconcile finished")
    .expect("reconcile succeeded");
}

/// A reconcile context on `client` with default images (as `support::context` builds
/// for the in-memory server).
pub fn context(client: Client) -> Arc<pitstop_operator::reconcile::Context> {
    Arc::new(pitstop_operator::reconcile::Context {
        client,
        images: pitstop_operator::model::Defaults::default(),
        reporter: kube::runtime::events::Reporter {
            controller: "pitstop-operator".into(),
            instance: None,
        },
        metrics: pitstop_operator::metrics::OperatorMetrics::new(),
        http: reqwest::Client::new(),
        processor_base: None,
        gateway_base: None,
    })
}
