//! `postgres.cloudNativePG` against the real kube-apiserver v1.36 of the local kit (`kit/`,
//! as `apiserver.rs`): the race without CloudNativePG's CRD served, then with it, then back
//! to a managed PostgreSQL. CloudNativePG itself cannot run here (no pods: the test's
//! namespace has a zero-pod quota, and the operator's image cannot be pulled); its CRD can
//! be applied, so the Cluster the operator applies is checked as the server holds it, and
//! the Cluster's status is written by the test where CloudNativePG would write it.
//! (`reconcile.rs`'s `cloudnative_pg_follows_the_cluster` does the same on the in-memory
//! API server.)
//!
//! Skips with a line on stderr without a real API server (see `kit::kubeconfig`).

mod kit;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kit::{Kit, TEST_MANAGER, eventually, reconcile_once};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use pitstop_operator::api::RaceSession;
use pitstop_operator::children::cnpg::Cluster;
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

/// CloudNativePG's CRD of `clusters.postgresql.cnpg.io`.
const CRD: &str = "clusters.postgresql.cnpg.io";

/// A stand-in for CloudNativePG's Cluster CRD: its group, version, kind, plural, scope and
/// status subresource, but not its schema (spec and status keep whatever is sent). The
/// real CRD (`cnpg-1.25.1.yaml`) cannot be downloaded here; this checks what the operator
/// asks of the API server (discovery, server-side apply, the status it reads, pruning),
/// not CloudNativePG's validation of the spec.
fn cnpg_crd() -> Value {
    let open = json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD},
        "spec": {
            "group": "postgresql.cnpg.io",
            "scope": "Namespaced",
            "names": {"kind": "Cluster", "listKind": "ClusterList", "plural": "clusters",
                      "singular": "cluster"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object",
                    "properties": {"spec": open, "status": open}}}
            }]
        }
    })
}

/// Whether discovery serves `clusters` in `postgresql.cnpg.io/v1` (what the operator's
/// `observe::cloudnative_pg_installed` asks; it asks the server each time, no cache).
async fn served(client: &Client) -> bool {
    pitstop_operator::reconcile::observe::cloudnative_pg_installed(client)
        .await
        .expect("discovery answers")
}

/// Deletes the CRD (and with it every Cluster) and waits until it and its API are gone.
async fn remove_crd(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.delete(CRD, &DeleteParams::default()).await.ok();
    eventually(
        "the Cluster CRD gone",
        Duration::from_secs(60),
        async || crds.get_opt(CRD).await.unwrap().is_none() && !served(client).await,
    )
    .await;
}

/// Applies the stand-in CRD and waits until it is Established and discovery serves it.
async fn install_crd(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(cnpg_crd()).unwrap();
    crds.patch(
        CRD,
        &PatchParams::apply(TEST_MANAGER).force(),
        &Patch::Apply(&crd),
    )
    .await
    .expect("Cluster CRD applied");
    eventually(
        "the Cluster CRD served",
        Duration::from_secs(30),
        async || {
            let established = crds.get(CRD).await.unwrap().status.is_some_and(|s| {
                s.conditions
                    .iter()
                    .flatten()
                    .any(|c| c.type_ == "Established" && c.status == "True")
            });
            established && served(client).await
        },
    )
    .await;
}

/// Deletes the CRD when dropped, also when the test fails (the namespace's guard, dropped
/// after it, takes the race and the rest).
struct CrdGuard(kube::Config);

impl Drop for CrdGuard {
    fn drop(&mut self) {
        kit::on_own_runtime(self.0.clone(), |client| async move {
            let crds: Api<CustomResourceDefinition> = Api::all(client);
            crds.delete(CRD, &DeleteParams::default()).await.ok();
        });
    }
}

/// Creates or changes the RaceSession as a user would (`kubectl apply --server-side`).
async fn apply_race(client: &Client, ns: &str, name: &str, spec: Value) -> RaceSession {
    let race = json!({"apiVersion": "pitstop.io/v1alpha1", "kind": "RaceSession",
        "metadata": {"name": name}, "spec": spec});
    let api: Api<RaceSession> = Api::namespaced(client.clone(), ns);
    api.patch(
        name,
        &PatchParams::apply(TEST_MANAGER),
        &Patch::Apply(&race),
    )
    .await
    .expect("race applied")
}

/// The race's condition of `type_`, as the server holds it.
async fn condition(client: &Client, ns: &str, race: &str, type_: &str) -> Condition {
    let api: Api<RaceSession> = Api::namespaced(client.clone(), ns);
    let r = api.get(race).await.unwrap();
    r.status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == type_).cloned())
        .unwrap_or_else(|| panic!("no {type_} condition: {:?}", r.status))
}

/// The Cluster of the golden file `tests/golden/cloudnativepg.yaml` (race `monza`,
/// `postgres.cloudNativePG: {storage: 5Gi, storageClassName: fast}`).
fn golden_cluster() -> Value {
    let text =
        std::fs::read_to_string(kit::root().join("operator/tests/golden/cloudnativepg.yaml"))
            .expect("golden file");
    serde_yaml::Deserializer::from_str(&text)
        .filter_map(|d| serde_json::to_value(serde_yaml::Value::deserialize(d).ok()?).ok())
        .find(|d| d["kind"] == "Cluster")
        .expect("a Cluster in the golden file")
}

/// The processor container's env var `name`.
fn env_of(d: &Deployment, name: &str) -> Value {
    let c = &d
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0];
    let e = c
        .env
        .iter()
        .flatten()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no {name} in {:?}", c.env));
    serde_json::to_value(e).unwrap()
}

/// The race with `postgres.cloudNativePG` on the real API server: without CloudNativePG's
/// CRD it is Stalled (`CloudNativePGNotInstalled`) and nothing of PostgreSQL is created;
/// with the CRD served (a stand-in, see [`cnpg_crd`]) the next reconcile applies the
/// Cluster `<race>-postgres` as the golden file has it, owned by the race, and no
/// StatefulSet; the processor reads CloudNativePG's Secrets and verifies its CA;
/// StorageReady follows the Cluster's `readyInstances`; switching to `postgres.managed`
/// prunes the Cluster and brings the StatefulSet.
#[tokio::test]
async fn cloudnative_pg_cluster_on_a_real_api_server() {
    const TEST: &str = "cloudnative_pg_cluster_on_a_real_api_server";
    let Some(kit) = Kit::connect(TEST).await else {
        return;
    };
    let client = kit.client.clone();
    // Left by an earlier run that was killed: the test starts without CloudNativePG.
    remove_crd(&client).await;
    let _crd = CrdGuard(kit.config.clone());
    let ns = kit.namespace("cnpg").await;
    let n = ns.name.as_str();
    let ctx = kit::context(client.clone());
    // Redis external (a Secret with its URL, nobody answering: no pod ever asks), so
    // that StorageReady is PostgreSQL's alone; monitoring off to keep the race light.
    let secrets: Api<Secret> = Api::namespaced(client.clone(), n);
    secrets
        .patch(
            "redis-url",
            &PatchParams::apply(TEST_MANAGER),
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "redis-url"},
                "stringData": {"url": "redis://redis.example:6379"}})),
        )
        .await
        .expect("Redis URL Secret");
    let spec = |postgres: Value| {
        json!({"timeScale": 40, "monitoring": {"enabled": false},
            "redis": {"external": {"urlSecretRef": {"name": "redis-url", "key": "url"}}},
            "postgres": postgres})
    };
    let race = apply_race(
        &client,
        n,
        "monza",
        spec(json!({"cloudNativePG": {"instances": 2, "storage": "2Gi"}})),
    )
    .await;
    let clusters: Api<Cluster> = Api::namespaced(client.clone(), n);
    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), n);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), n);

    // 1. CloudNativePG not installed.
    reconcile_once(&ctx, n, "monza").await;
    let stalled = condition(&client, n, "monza", "Stalled").await;
    assert_eq!(
        (stalled.status.as_str(), stalled.reason.as_str()),
        ("True", "CloudNativePGNotInstalled"),
        "{stalled:?}"
    );
    assert!(
        stalled.message.contains("clusters.postgresql.cnpg.io/v1"),
        "{}",
        stalled.message
    );
    assert!(
        sts.get_opt("monza-postgres").await.unwrap().is_none(),
        "no PostgreSQL StatefulSet"
    );
    // Not even a Cluster the API server would refuse: the kind is not served at all.
    assert_eq!(
        clusters
            .get_opt("monza-postgres")
            .await
            .map_err(|e| match e {
                kube::Error::Api(s) => s.code,
                other => panic!("{other}"),
            }),
        Err(404)
    );

    // 2. The CRD served: the next reconcile sees it (discovery is asked every time, the
    //    same Context will do).
    install_crd(&client).await;
    reconcile_once(&ctx, n, "monza").await;
    let cluster = clusters
        .get("monza-postgres")
        .await
        .expect("Cluster applied");
    assert_eq!(cluster.spec.instances, 2);
    assert_eq!(cluster.spec.storage.size, "2Gi");
    assert_eq!(cluster.spec.bootstrap.initdb.database, "pitstop");
    assert_eq!(cluster.spec.bootstrap.initdb.owner, "pitstop");
    let owner = &cluster.owner_references()[0];
    assert_eq!(
        (
            owner.kind.as_str(),
            owner.name.as_str(),
            &owner.uid,
            owner.controller
        ),
        ("RaceSession", "monza", &race.uid().unwrap(), Some(true))
    );
    // What the server holds is the golden Cluster (but for the storage this race asks
    // for): no field dropped, renamed or added on the way.
    let mut golden = golden_cluster();
    golden["spec"]["storage"] = json!({"size": "2Gi"});
    let live = serde_json::to_value(&cluster).unwrap();
    assert_eq!(live["spec"], golden["spec"]);
    assert_eq!(live["metadata"]["labels"], golden["metadata"]["labels"]);
    assert_eq!(
        live["metadata"]["ownerReferences"][0]["blockOwnerDeletion"],
        golden["metadata"]["ownerReferences"][0]["blockOwnerDeletion"]
    );
    assert!(
        sts.get_opt("monza-postgres").await.unwrap().is_none(),
        "no PostgreSQL StatefulSet"
    );
    assert!(
        secrets
            .get_opt("monza-postgres-auth")
            .await
            .unwrap()
            .is_none(),
        "CloudNativePG makes the password"
    );
    let processor = deployments.get("monza-processor").await.unwrap();
    assert_eq!(
        env_of(&processor, "DATABASE_URL")["valueFrom"]["secretKeyRef"],
        json!({"name": "monza-postgres-app", "key": "uri", "optional": false})
    );
    assert_eq!(env_of(&processor, "PGSSLMODE")["value"], "verify-full");
    let root_cert = env_of(&processor, "PGSSLROOTCERT")["value"].clone();
    assert_eq!(root_cert, "/etc/pitstop/tls/postgres/ca.crt");
    let pod = serde_json::to_value(&processor.spec.as_ref().unwrap().template).unwrap();
    let volume = pod["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "tls-postgres")
        .expect("the CA's volume")
        .clone();
    assert_eq!(
        volume["projected"]["sources"][0]["secret"]["name"],
        "monza-postgres-ca"
    );
    assert_eq!(
        volume["projected"]["sources"][0]["secret"]["items"],
        json!([{"key": "ca.crt", "path": "ca.crt"}])
    );
    let stalled = condition(&client, n, "monza", "Stalled").await;
    assert_eq!(stalled.status, "False", "{stalled:?}");
    let storage = condition(&client, n, "monza", "StorageReady").await;
    assert_eq!(storage.status, "False");
    assert_eq!(
        storage.message,
        "waiting for postgres: CloudNativePG Cluster monza-postgres: 0/2 instances ready"
    );

    // 3. CloudNativePG's report, written where it writes it (the status subresource).
    let report = |ready: i32, phase: &str| json!({"status": {"instances": 2, "readyInstances": ready, "phase": phase}});
    clusters
        .patch_status(
            "monza-postgres",
            &PatchParams::default(),
            &Patch::Merge(report(1, "Waiting for the instances to become active")),
        )
        .await
        .expect("Cluster status written");
    reconcile_once(&ctx, n, "monza").await;
    assert_eq!(
        condition(&client, n, "monza", "StorageReady").await.message,
        "waiting for postgres: CloudNativePG Cluster monza-postgres: 1/2 instances ready \
         (Waiting for the instances to become active)"
    );
    clusters
        .patch_status(
            "monza-postgres",
            &PatchParams::default(),
            &Patch::Merge(report(2, "Cluster in healthy state")),
        )
        .await
        .unwrap();
    reconcile_once(&ctx, n, "monza").await;
    let storage = condition(&client, n, "monza", "StorageReady").await;
    assert_eq!(storage.status, "True", "{storage:?}");
    // The processor and simulator have no pods here, so the race as a whole is not.
    assert_eq!(
        condition(&client, n, "monza", "Ready").await.status,
        "False"
    );
    let applied = clusters.get("monza-postgres").await.unwrap();
    assert_eq!(
        applied.metadata.generation, cluster.metadata.generation,
        "reconciles leave the Cluster's spec alone"
    );

    // 4. Back to a managed PostgreSQL: the Cluster is pruned, the StatefulSet is back.
    apply_race(&client, n, "monza", spec(json!({"managed": {}}))).await;
    reconcile_once(&ctx, n, "monza").await;
    eventually("the Cluster pruned", Duration::from_secs(20), async || {
        clusters.get_opt("monza-postgres").await.unwrap().is_none()
    })
    .await;
    assert!(sts.get_opt("monza-postgres").await.unwrap().is_some());
    let processor = deployments.get("monza-processor").await.unwrap();
    assert_eq!(
        env_of(&processor, "PGPASSWORD")["valueFrom"]["secretKeyRef"]["name"],
        "monza-postgres-auth"
    );
    assert!(
        processor
            .spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap()
            .containers[0]
            .env
            .iter()
            .flatten()
            .all(|e| e.name != "PGSSLMODE"),
        "no CloudNativePG CA to verify against"
    );

    // 5. Clean-up: the CRD now (the guard again if this is not reached), the namespace
    //    when `ns` drops.
    remove_crd(&client).await;
}
