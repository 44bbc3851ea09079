//! What the in-memory API server of `support/` only imitates, against the real
//! kube-apiserver v1.36 of the local kit (`kit/`): the CRD's OpenAPI schema and CEL rules
//! at admission, server-side apply's field ownership, the chart's RBAC as the
//! operator's ServiceAccount, the garbage collector of kube-controller-manager, and
//! watches that break. The in-memory server stays for what a real one will not do on
//! demand (410 Gone watches, a node's cAdvisor page, scripted review answers, races that
//! reach Ready and finish).
//!
//! Each test skips with a line on stderr when no real API server is found (see
//! `kit::kubeconfig`), works in namespaces of its own with a zero-pod quota, and deletes
//! them at the end.

mod kit;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kit::{Kit, TEST_MANAGER, eventually, reconcile_once};
use kube::api::PostParams;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::{Client, Resource, ResourceExt};
use pitstop_operator::api::RaceSession;
use pitstop_operator::reconcile::{Context, FIELD_MANAGER};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// RaceSessions as untyped objects: an invalid one cannot be built as a `RaceSession`.
fn races(client: &Client, ns: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), ns, &ApiResource::erase::<RaceSession>(&()))
}

fn race_json(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "pitstop.io/v1alpha1", "kind": "RaceSession",
        "metadata": {"name": name}, "spec": spec})
}

/// Creates a RaceSession as a user would (`kubectl apply --server-side`).
async fn apply_race(client: &Client, ns: &str, name: &str, spec: Value) -> DynamicObject {
    let obj: DynamicObject = serde_json::from_value(race_json(name, spec)).unwrap();
    races(client, ns)
        .patch(name, &PatchParams::apply(TEST_MANAGER), &Patch::Apply(&obj))
        .await
        .expect("race applied")
}

async fn metas_of<K>(
    client: &Client,
    ns: &str,
    lp: &ListParams,
    out: &mut BTreeMap<String, ObjectMeta>,
) where
    K: Resource<Scope = NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    for o in api.list_metadata(lp).await.expect("list") {
        out.insert(
            format!("{}/{}", K::kind(&Default::default()), o.name_any()),
            o.metadata,
        );
    }
}

/// Every object labelled as race `race`'s, by `Kind/name`, with its metadata as the server
/// holds it (resourceVersion, generation, managedFields, owners).
async fn children(client: &Client, ns: &str, race: &str) -> BTreeMap<String, ObjectMeta> {
    let lp = ListParams::default().labels(&format!("app.kubernetes.io/instance={race}"));
    let mut out = BTreeMap::new();
    metas_of::<Deployment>(client, ns, &lp, &mut out).await;
    metas_of::<StatefulSet>(client, ns, &lp, &mut out).await;
    metas_of::<Service>(client, ns, &lp, &mut out).await;
    metas_of::<HorizontalPodAutoscaler>(client, ns, &lp, &mut out).await;
    metas_of::<NetworkPolicy>(client, ns, &lp, &mut out).await;
    metas_of::<ConfigMap>(client, ns, &lp, &mut out).await;
    metas_of::<ServiceAccount>(client, ns, &lp, &mut out).await;
    metas_of::<Role>(client, ns, &lp, &mut out).await;
    metas_of::<RoleBinding>(client, ns, &lp, &mut out).await;
    metas_of::<Secret>(client, ns, &lp, &mut out).await;
    out
}

/// The API server's refusal of a request, as (HTTP code, message).
fn refusal<T: std::fmt::Debug>(r: Result<T, kube::Error>) -> (u16, String) {
    match r {
        Err(kube::Error::Api(s)) => (s.code, s.message),
        other => panic!("expected a refusal from the API server, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// 1. The CRD's schema and CEL rules, enforced by the real server.

/// Invalid specs and the field path and message the server names for each (the
/// OpenAPI ranges, enums, patterns and item limits, and the CEL rules of `api/`).
fn invalid_specs() -> Vec<(Value, &'static str, &'static str)> {
    let car = |i: usize| json!({"car": i + 1, "driver": "DRV", "team": "Team"});
    vec![
        (
            json!({"laps": 0}),
            "spec.laps",
            "should be greater than or equal to 1",
        ),
        (
            json!({"timeScale": 5000}),
            "spec.timeScale",
            "should be less than or equal to 1000",
        ),
        (
            json!({"circuit": "spa"}),
            "spec.circuit",
            "Unsupported value: \"spa\"",
        ),
        (
            json!({"deletionPolicy": "keep"}),
            "spec.deletionPolicy",
            "Unsupported value: \"keep\"",
        ),
        (
            json!({"simulator": {"replicas": 2}}),
            "spec.simulator.replicas",
            "less than or equal to 1",
        ),
        (
            json!({"grid": (0..27).map(car).collect::<Vec<_>>()}),
            "spec.grid",
            "must have at most 26 items",
        ),
        (
            json!({"redis": {"managed": {"storage": "1GB"}}}),
            "spec.redis.managed.storage",
            "should match",
        ),
        (
            json!({"postRace": {"tasks": [{"name": "Bad_Name", "step": "aggregate"}]}}),
            "spec.postRace.tasks[0].name",
            "should match",
        ),
        (
            json!({"processor": {"apiKeySecretRef": {"name": "", "key": "k"}}}),
            "spec.processor.apiKeySecretRef.name",
            "at least 1 chars long",
        ),
        (
            json!({"processor": {"autoscaling": {"minReplicas": 5, "maxReplicas": 2}}}),
            "spec.processor.autoscaling",
            "minReplicas must not exceed maxReplicas",
        ),
        (
            json!({"redis": {"managed": {}, "external": {"urlSecretRef": {"name": "r", "key": "url"}}}}),
            "spec.redis",
            "set exactly one of managed, external or cloudNativePG",
        ),
        (
            json!({"postgres": {}}),
            "spec.postgres",
            "set exactly one of managed, external or cloudNativePG",
        ),
        (
            json!({"redis": {"cloudNativePG": {}}}),
            "spec.redis",
            "cloudNativePG is a PostgreSQL operator",
        ),
        (
            json!({"postgres": {"external": {"urlSecretRef": {"name": "p", "key": "url"}, "clientCertSecretRef": "c"}}}),
            "spec.postgres",
            "clientCertSecretRef is not supported",
        ),
        (
            json!({"redis": {"external": {"urlSecretRef": {"name": "r", "key": "url"}, "ports": [0]}}}),
            "spec.redis.external.ports[0]",
            "should be greater than or equal to 1",
        ),
        (
            json!({"monitoring": {"enabled": false, "mode": "owned"}}),
            "spec.monitoring",
            "enabled: false means mode: none",
        ),
        (
            json!({"timeScale": 40, "source": {"type": "game"}}),
            "spec",
            "the simulator's settings: leave them out unless source.type is simulator",
        ),
        (
            json!({"source": {"type": "external", "game": {}}}),
            "spec.source",
            "source.game is only read with source.type: game",
        ),
        (
            json!({"source": {"type": "openf1"}}),
            "spec.source",
            "source.type: openf1 needs source.openf1.sessionKey",
        ),
        (
            json!({"source": {"type": "openf1", "openf1": {"speed": 2}}}),
            "spec.source.openf1.sessionKey",
            "Required value",
        ),
        (
            json!({"source": {"type": "openf1", "openf1": {"sessionKey": 9606, "speed": "fast"}}}),
            "spec.source.openf1.speed",
            "speed is a positive number",
        ),
        (
            json!({"source": {"type": "game", "game": {"service": {"nodePort": 30777}}}}),
            "spec.source.game.service",
            "nodePort needs type NodePort",
        ),
        (
            json!({"source": {"type": "game", "game": {"allowedClients": ["192.168.1.5/24"]}}}),
            "spec.source.game.allowedClients",
            "no host bits set",
        ),
        (
            json!({"source": {"type": "game", "game": {"allowedClients": ["pc.local"]}}}),
            "spec.source.game.allowedClients",
            "allowedClients must be CIDRs",
        ),
    ]
}

/// Specs of every source the real server accepts (the rules' functions, `isCIDR`,
/// `cidr().masked()` and `string()` of an int-or-string, are the server's own).
fn valid_sources() -> Vec<Value> {
    vec![
        json!({"source": {"type": "game", "game": {
            "service": {"type": "NodePort", "nodePort": 30777},
            "allowedClients": ["192.168.1.0/24", "10.0.0.7/32", "2001:db8::/48"]}}}),
        json!({"source": {"type": "openf1", "openf1": {"sessionKey": 9606, "speed": 20}}}),
        json!({"source": {"type": "openf1", "openf1": {"sessionKey": 9606, "speed": "0.5"}}}),
        json!({"source": {"type": "external"}, "circuit": "silverstone", "laps": 52}),
    ]
}

/// The real server refuses every invalid spec with the field and the rule's message
/// (`crd.rs` checks the same rules client-side; this is what `kubectl apply` meets),
/// accepts a minimal one and fills in the schema's defaults, prunes unknown fields, and
/// refuses changes to the race definition while it allows scaling.
#[tokio::test]
async fn crd_schema_and_cel_rules_are_enforced() {
    let Some(kit) = Kit::connect("crd_schema_and_cel_rules_are_enforced").await else {
        return;
    };
    let ns = kit.namespace("crd").await;
    let api = races(&kit.client, &ns.name);
    for (i, (spec, field, message)) in invalid_specs().into_iter().enumerate() {
        let obj: DynamicObject =
            serde_json::from_value(race_json(&format!("bad-{i}"), spec.clone())).unwrap();
        let (code, text) = refusal(api.create(&PostParams::default(), &obj).await);
        assert_eq!(code, 422, "{spec}: {text}");
        assert!(
            text.contains(&format!("{field}:")) && text.contains(message),
            "{spec}: expected `{field}: …{message}`, got: {text}"
        );
    }

    for (i, spec) in valid_sources().into_iter().enumerate() {
        let obj: DynamicObject =
            serde_json::from_value(race_json(&format!("source-{i}"), spec.clone())).unwrap();
        if let Err(e) = api.create(&PostParams::default(), &obj).await {
            panic!("{spec}: {e}");
        }
    }

    let ok: DynamicObject =
        serde_json::from_value(race_json("ok", json!({"timeScale": 40, "lapz": 3}))).unwrap();
    let created = api
        .create(&PostParams::default(), &ok)
        .await
        .expect("a minimal race is accepted");
    let spec = &created.data["spec"];
    assert_eq!(spec.get("lapz"), None, "unknown fields are pruned");
    assert_eq!(
        (&spec["circuit"], &spec["laps"], &spec["seed"]),
        (&json!("monza"), &json!(10), &json!(1)),
        "defaults filled in: {spec}"
    );
    assert_eq!(spec["redis"]["managed"]["storage"], "1Gi");
    assert_eq!(spec["deletionPolicy"], "delete");

    let change = |patch: Value| {
        let api = api.clone();
        async move {
            api.patch(
                "ok",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": patch})),
            )
            .await
        }
    };
    for (patch, message) in [
        (
            json!({"circuit": "monaco"}),
            "spec.circuit: Invalid value: \"monaco\": circuit is immutable",
        ),
        (
            json!({"laps": 53}),
            "spec.laps: Invalid value: 53: laps is immutable",
        ),
        (
            json!({"seed": 7}),
            "spec.seed: Invalid value: 7: seed is immutable",
        ),
        (
            json!({"timeScale": 80}),
            "spec.timeScale: Invalid value: 80: timeScale is immutable",
        ),
    ] {
        let (code, text) = refusal(change(patch.clone()).await);
        assert!(
            code == 422 && text.contains(message),
            "{patch}: {code} {text}"
        );
    }
    change(json!({"processor": {"autoscaling": {"maxReplicas": 8}}, "sampleHz": 4}))
        .await
        .expect("scaling and the sample rate may change");
}

// ---------------------------------------------------------------------------------------
// 2. Server-side apply: what the operator owns, and what it leaves to others.

/// The managedFields entry of `manager`, as JSON.
fn managed_by(meta: &ObjectMeta, manager: &str) -> Option<Value> {
    meta.managed_fields
        .iter()
        .flatten()
        .find(|m| m.manager.as_deref() == Some(manager) && m.subresource.is_none())
        .map(|m| serde_json::to_value(m).unwrap())
}

/// Waits until no child of `race` changes for two seconds (the Deployment, StatefulSet and
/// HPA controllers write their status after the operator's first apply), at most 20 s.
async fn settled(client: &Client, ns: &str, race: &str) -> BTreeMap<String, ObjectMeta> {
    let rvs = |c: &BTreeMap<String, ObjectMeta>| {
        c.iter()
            .map(|(k, m)| (k.clone(), m.resource_version.clone()))
            .collect::<Vec<_>>()
    };
    let mut last = children(client, ns, race).await;
    let mut quiet = 0;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = children(client, ns, race).await;
        quiet = if rvs(&now) == rvs(&last) {
            quiet + 1
        } else {
            0
        };
        last = now;
        if quiet >= 4 {
            break;
        }
    }
    last
}

/// Every child is created by server-side apply under the one field manager and is
/// controlled by the race (the generated Secrets by a create under the same manager).
fn assert_owned(children: &BTreeMap<String, ObjectMeta>, race_uid: &str) {
    for (key, meta) in children {
        let entry = managed_by(meta, FIELD_MANAGER)
            .unwrap_or_else(|| panic!("{key}: no {FIELD_MANAGER} in managedFields"));
        let op = if key.starts_with("Secret/") {
            "Update"
        } else {
            "Apply"
        };
        assert_eq!(entry["operation"], op, "{key}: {entry}");
        let owner = &meta.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.uid.as_str(), owner.controller),
            (race_uid, Some(true)),
            "{key}"
        );
    }
}

/// On the real server: a reconcile creates every child with the operator's field
/// manager and the race as controller; a second reconcile writes nothing (same
/// resourceVersions, race included); a user's edit of a field the operator owns is
/// reverted on the next reconcile and the user loses that field, while fields it does
/// not own (a label, the replicas the HPA sets) are kept; and a user's own apply of an
/// owned field conflicts with the operator. (`reconcile.rs` imitates the first three
/// with the in-memory server, which has no field ownership of its own.)
#[tokio::test]
async fn server_side_apply_owns_what_the_operator_sets() {
    let Some(kit) = Kit::connect("server_side_apply_owns_what_the_operator_sets").await else {
        return;
    };
    let ns = kit.namespace("ssa").await;
    let race = apply_race(&kit.client, &ns.name, "monza", json!({"timeScale": 40})).await;
    let uid = race.uid().unwrap();
    let ctx = kit::context(kit.client.clone());
    reconcile_once(&ctx, &ns.name, "monza").await;

    let first = settled(&kit.client, &ns.name, "monza").await;
    for want in [
        "Deployment/monza-simulator",
        "Deployment/monza-processor",
        "StatefulSet/monza-redis",
        "StatefulSet/monza-postgres",
        "HorizontalPodAutoscaler/monza-processor",
        "Secret/monza-api-key",
        "Secret/monza-postgres-auth",
        "Role/monza-prometheus",
        "NetworkPolicy/monza-processor",
    ] {
        assert!(
            first.contains_key(want),
            "{want} missing: {:?}",
            first.keys()
        );
    }
    assert_eq!(first.len(), 24, "children: {:?}", first.keys());
    assert_owned(&first, &uid);
    assert_no_op_reconcile(&kit, &ctx, &ns.name, &first).await;
    user_edits(&kit, &ctx, &ns.name).await;
}

/// A second reconcile with nothing changed writes nothing: every child and the race keep
/// their resourceVersion.
async fn assert_no_op_reconcile(
    kit: &Kit,
    ctx: &Arc<Context>,
    ns: &str,
    before: &BTreeMap<String, ObjectMeta>,
) {
    let race_rv = races(&kit.client, ns)
        .get("monza")
        .await
        .unwrap()
        .resource_version();
    reconcile_once(ctx, ns, "monza").await;
    let after = children(&kit.client, ns, "monza").await;
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>()
    );
    for (key, meta) in &after {
        assert_eq!(
            meta.resource_version, before[key].resource_version,
            "{key} written again:\nbefore {:?}\nafter {:?}",
            before[key].managed_fields, meta.managed_fields
        );
    }
    let race_after = races(&kit.client, ns).get("monza").await.unwrap();
    assert_eq!(
        race_after.resource_version(),
        race_rv,
        "the race's status was written again"
    );
}

/// A user edits the processor: its image (the operator's field), a label and the replicas
/// (not the operator's: under an HPA it never sets replicas); then applies the image
/// with a field manager of their own.
async fn user_edits(kit: &Kit, ctx: &Arc<Context>, ns: &str) {
    let deployments: Api<Deployment> = Api::namespaced(kit.client.clone(), ns);
    let before = deployments.get("monza-processor").await.unwrap();
    let spec = before.spec.as_ref().unwrap();
    let container = spec.template.spec.as_ref().unwrap().containers[0].clone();
    let edit = json!({"metadata": {"labels": {"team": "ferrari"}}, "spec": {"replicas": 3,
        "template": {"spec": {"containers": [{"name": container.name, "image": "evil:latest"}]}}}});
    let pp = PatchParams {
        field_manager: Some("kubectl-edit".into()),
        ..Default::default()
    };
    deployments
        .patch("monza-processor", &pp, &Patch::Strategic(&edit))
        .await
        .unwrap();

    reconcile_once(ctx, ns, "monza").await;
    let after = deployments.get("monza-processor").await.unwrap();
    let image = |d: &Deployment| {
        d.spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap()
            .containers[0]
            .image
            .clone()
    };
    assert_eq!(
        image(&after),
        container.image,
        "the operator's field is reverted"
    );
    assert_eq!(
        after.spec.as_ref().unwrap().replicas,
        Some(3),
        "replicas are not the operator's"
    );
    assert_eq!(
        after.labels().get("team").map(String::as_str),
        Some("ferrari"),
        "a label of the user's stays"
    );
    let user = managed_by(&after.metadata, "kubectl-edit")
        .expect("the user still manages something")
        .to_string();
    assert!(
        user.contains("f:replicas") && user.contains("f:team") && !user.contains("f:image"),
        "{user}"
    );

    // The user's own apply of the image meets the operator's ownership.
    let mine = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "monza-processor"},
        "spec": {"template": {"spec": {"containers": [{"name": container.name, "image": "mine:1"}]}}}});
    let (code, text) = refusal(
        deployments
            .patch(
                "monza-processor",
                &PatchParams::apply("user-apply"),
                &Patch::Apply(&mine),
            )
            .await,
    );
    assert!(code == 409 && text.contains(FIELD_MANAGER), "{code} {text}");
}

// ---------------------------------------------------------------------------------------
// 3. The chart's RBAC, as the operator's ServiceAccount.

/// The ServiceAccount, Roles and RoleBindings `helm template` renders for a release in
/// `ns` that watches `ns` only (namespaced mode: `watchNamespaces`), without the
/// cluster-wide container-metrics grant.
fn chart_rbac(helm: &std::path::Path, ns: &str) -> Vec<Value> {
    let out = std::process::Command::new(helm)
        .args(["template", "pitstop-operator"])
        .arg(kit::root().join("helm/pitstop-operator"))
        .args([
            "--namespace",
            ns,
            "--set",
            &format!("watchNamespaces[0]={ns}"),
        ])
        .args([
            "--set",
            "rbac.containerMetrics=false",
            "--set",
            "crds.install=false",
        ])
        .output()
        .expect("helm runs");
    assert!(
        out.status.success(),
        "helm template: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .filter_map(|d| serde_json::to_value(serde_yaml::Value::deserialize(d).ok()?).ok())
        .filter(|d| {
            matches!(
                d["kind"].as_str(),
                Some("ServiceAccount" | "Role" | "RoleBinding")
            )
        })
        .collect()
}

/// Applies a namespaced manifest of kind ServiceAccount, Role or RoleBinding.
async fn apply_manifest(client: &Client, ns: &str, doc: &Value) {
    let (api_version, kind) = (
        doc["apiVersion"].as_str().unwrap(),
        doc["kind"].as_str().unwrap(),
    );
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let plural = format!("{}s", kind.to_lowercase());
    let gvk = kube::api::GroupVersionKind::gvk(group, version, kind);
    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        ns,
        &ApiResource::from_gvk_with_plural(&gvk, &plural),
    );
    let obj: DynamicObject = serde_json::from_value(doc.clone()).unwrap();
    api.patch(
        &obj.name_any(),
        &PatchParams::apply(TEST_MANAGER),
        &Patch::Apply(&obj),
    )
    .await
    .unwrap_or_else(|e| panic!("{kind}: {e}"));
}

/// Whether the API server lets `client`'s user do `verb` on `resource` (`group`, an
/// optional subresource) in `ns` (None: cluster-wide).
async fn may(
    client: &Client,
    verb: &str,
    group: &str,
    resource: &str,
    sub: Option<&str>,
    ns: Option<&str>,
) -> bool {
    use k8s_openapi::api::authorization::v1::SelfSubjectAccessReview;
    let review: SelfSubjectAccessReview = serde_json::from_value(json!({
        "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": verb, "group": group, "resource": resource,
            "subresource": sub, "namespace": ns}}}))
    .unwrap();
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let answer = api
        .create(&PostParams::default(), &review)
        .await
        .expect("review answered");
    answer.status.is_some_and(|s| s.allowed)
}

/// The release `pitstop-operator run`, impersonating the chart's ServiceAccount (kube-rs
/// honours `KUBE_RS_DEBUG_IMPERSONATE_USER` when it loads the kubeconfig), reconciles a
/// race fully in namespaced mode: elects itself through its Lease, writes the status,
/// creates every child (including the Role of the race's Prometheus, which RBAC lets it
/// grant only because it holds the same), and watches the children (a deleted one comes
/// back), with no request refused. What the chart withholds stays refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chart_rbac_lets_the_service_account_reconcile() {
    const TEST: &str = "chart_rbac_lets_the_service_account_reconcile";
    let Some(kit) = Kit::connect(TEST).await else {
        return;
    };
    let Some(helm) = kit::tools().map(|t| t.join("helm")).filter(|h| h.exists()) else {
        return kit::skip(TEST, "no helm: scripts/kit.sh tools names none");
    };
    let ns = kit.namespace("rbac").await;
    let other = kit.namespace("rbac-other").await;
    for doc in chart_rbac(&helm, &ns.name) {
        apply_manifest(&kit.client, &ns.name, &doc).await;
    }
    apply_race(&kit.client, &ns.name, "monza", json!({"timeScale": 40})).await;
    let sa = format!("system:serviceaccount:{}:pitstop-operator", ns.name);
    let mut op = kit::operator::Operator::start(kit::operator::Launch {
        kubeconfig: &kit.kubeconfig,
        namespace: &ns.name,
        args: &["--namespaces", &ns.name],
        env: &[("KUBE_RS_DEBUG_IMPERSONATE_USER", sa.clone())],
        // The controller logs a refused watch at debug.
        log_filter: "info,kube=warn,pitstop_operator::controller=debug",
    });
    let admin = kit.client.clone();
    eventually(
        "the race's full status",
        Duration::from_secs(40),
        async || {
            assert!(op.running(), "operator exited:\n{}", op.logs());
            let race = races(&admin, &ns.name).get("monza").await.unwrap();
            race.data["status"]["components"]
                .as_array()
                .is_some_and(|c| !c.is_empty())
        },
    )
    .await;
    assert_eq!(children(&admin, &ns.name, "monza").await.len(), 24);
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), &ns.name);
    let old = deployments.get("monza-simulator").await.unwrap().uid();
    deployments
        .delete("monza-simulator", &DeleteParams::default())
        .await
        .unwrap();
    eventually(
        "the deleted simulator recreated",
        Duration::from_secs(20),
        async || {
            deployments
                .get_opt("monza-simulator")
                .await
                .unwrap()
                .is_some_and(|d| d.uid() != old)
        },
    )
    .await;
    let lease: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(admin.clone(), &ns.name);
    let holder = lease
        .get("pitstop-operator-leader")
        .await
        .expect("Lease")
        .spec
        .unwrap()
        .holder_identity;
    assert!(holder.is_some_and(|h| h.starts_with("apitest-operator-")));
    assert_eq!(
        op.metric("pitstop_operator_reconciles_total{result=\"error\"}")
            .await,
        0.0,
        "{}",
        op.logs()
    );
    // A refusal reads "forbidden" and carries "code: 403"; a bare "403" also matches log
    // timestamps (32.354033z failed a green run).
    let logs = op.logs().to_lowercase();
    assert!(
        !logs.contains("forbidden") && !logs.contains("code: 403"),
        "a request was refused:\n{logs}"
    );
    withheld(&kit.impersonating(&sa), &ns.name, &other.name).await;
}

/// What the chart does not grant in namespaced mode, asked of the real authorizer.
async fn withheld(sa: &Client, ns: &str, other: &str) {
    let secrets: Api<Secret> = Api::namespaced(sa.clone(), other);
    assert_eq!(
        refusal(secrets.list(&ListParams::default()).await).0,
        403,
        "Secrets of another namespace"
    );
    assert_eq!(
        refusal(races(sa, other).list(&ListParams::default()).await).0,
        403,
        "races of another namespace"
    );
    for (verb, group, resource, sub, in_ns) in [
        ("create", "", "pods", Some("exec"), Some(ns)),
        ("create", "", "pods", None, Some(ns)),
        ("delete", "", "namespaces", None, None),
        ("list", "", "nodes", None, None),
        (
            "create",
            "rbac.authorization.k8s.io",
            "clusterroles",
            None,
            None,
        ),
        (
            "patch",
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            None,
            None,
        ),
        ("get", "", "secrets", None, Some(other)),
    ] {
        assert!(
            !may(sa, verb, group, resource, sub, in_ns).await,
            "{verb} {resource}/{sub:?} in {in_ns:?} is granted"
        );
    }
    assert!(
        may(
            sa,
            "patch",
            "pitstop.io",
            "racesessions",
            Some("status"),
            Some(ns)
        )
        .await,
        "the review itself works"
    );
    // RBAC refuses to let it grant what it does not hold (a race's Role with exec).
    let roles: Api<Role> = Api::namespaced(sa.clone(), ns);
    let exec: Role = serde_json::from_value(json!({"metadata": {"name": "exec"},
        "rules": [{"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}]}))
    .unwrap();
    let (code, text) = refusal(roles.create(&PostParams::default(), &exec).await);
    assert!(
        code == 403 && text.contains("attempting to grant RBAC permissions not currently held"),
        "{code} {text}"
    );
}

// ---------------------------------------------------------------------------------------
// 4. Garbage collection by kube-controller-manager.

fn owner_uids(meta: &ObjectMeta) -> Vec<String> {
    meta.owner_references
        .iter()
        .flatten()
        .map(|o| o.uid.clone())
        .collect()
}

/// The retention policy of a StatefulSet's claims when it is deleted.
async fn claims_when_deleted(client: &Client, ns: &str, name: &str) -> Option<String> {
    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), ns);
    sts.get(name)
        .await
        .unwrap()
        .spec?
        .persistent_volume_claim_retention_policy?
        .when_deleted
}

/// Deleting RaceSessions lets the real garbage collector remove everything they own:
/// with `deletionPolicy: delete` nothing of the race is left; with `retain` exactly the
/// PostgreSQL password stays (ownerless, like the volumes it opens), the StatefulSets
/// having said `Retain` for their claims, and a race created again under the name finds
/// the same password. (`reconcile.rs`'s `volumes_and_the_password_go_together` imitates
/// the collector.) The claims themselves exist only once pods do, which the zero-pod
/// quota forbids here: that they stay is the StatefulSet controller's promise for
/// `whenDeleted: Retain`, shown on a node by `make e2e`, not here.
#[tokio::test]
async fn deleted_races_are_garbage_collected_as_their_policy_says() {
    let Some(kit) = Kit::connect("deleted_races_are_garbage_collected_as_their_policy_says").await
    else {
        return;
    };
    let (client, ns) = (kit.client.clone(), kit.namespace("gc").await);
    let n = ns.name.as_str();
    let gone = apply_race(&client, n, "gone", json!({"timeScale": 40})).await;
    let kept = apply_race(
        &client,
        n,
        "kept",
        json!({"timeScale": 40, "deletionPolicy": "retain"}),
    )
    .await;
    let ctx = kit::context(client.clone());
    reconcile_once(&ctx, n, "gone").await;
    reconcile_once(&ctx, n, "kept").await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), n);
    let password = secrets.get("kept-postgres-auth").await.unwrap();
    assert!(
        owner_uids(&password.metadata).is_empty(),
        "a retained race's password is ownerless"
    );
    assert_eq!(
        owner_uids(&secrets.get("gone-postgres-auth").await.unwrap().metadata),
        [gone.uid().unwrap()]
    );
    assert_eq!(
        claims_when_deleted(&client, n, "kept-postgres")
            .await
            .as_deref(),
        Some("Retain")
    );
    assert_eq!(
        claims_when_deleted(&client, n, "gone-postgres")
            .await
            .as_deref(),
        Some("Delete")
    );
    assert_eq!(children(&client, n, "kept").await.len(), 24);

    for name in ["gone", "kept"] {
        races(&client, n)
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
    }
    eventually(
        "the garbage collector done",
        Duration::from_secs(40),
        async || {
            children(&client, n, "gone").await.is_empty()
                && children(&client, n, "kept").await.len() == 1
        },
    )
    .await;
    let left: Vec<String> = children(&client, n, "kept").await.into_keys().collect();
    assert_eq!(left, ["Secret/kept-postgres-auth"]);
    assert!(
        races(&client, n)
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );

    let again = apply_race(
        &client,
        n,
        "kept",
        json!({"timeScale": 40, "deletionPolicy": "retain"}),
    )
    .await;
    assert_ne!(again.uid(), kept.uid());
    reconcile_once(&ctx, n, "kept").await;
    assert_eq!(
        secrets.get("kept-postgres-auth").await.unwrap().data,
        password.data,
        "the same password"
    );
}

// ---------------------------------------------------------------------------------------
// 5. Watches that break.

/// Whether race `name` has had a full reconcile (its status lists the components).
async fn has_full_status(client: &Client, ns: &str, name: &str) -> bool {
    races(client, ns)
        .get_opt(name)
        .await
        .unwrap()
        .is_some_and(|r| {
            r.data["status"]["components"]
                .as_array()
                .is_some_and(|c| !c.is_empty())
        })
}

/// The processor's image, as the server holds it.
async fn processor_image(client: &Client, ns: &str, race: &str) -> Option<String> {
    let d: Api<Deployment> = Api::namespaced(client.clone(), ns);
    d.get(&format!("{race}-processor"))
        .await
        .ok()?
        .spec?
        .template
        .spec?
        .containers[0]
        .image
        .clone()
}

/// What changes while the operator cannot see: a child deleted, a hand edit of a field
/// the operator owns, a new race.
async fn change_behind_its_back(client: &Client, ns: &str, race: &str, new_race: &str) {
    let d: Api<Deployment> = Api::namespaced(client.clone(), ns);
    d.delete(&format!("{race}-simulator"), &DeleteParams::default())
        .await
        .unwrap();
    let edit = json!({"spec": {"template": {"spec": {"containers": [{"name": "processor", "image": "evil:latest"}]}}}});
    d.patch(
        &format!("{race}-processor"),
        &PatchParams::default(),
        &Patch::Strategic(&edit),
    )
    .await
    .unwrap();
    assert_eq!(
        processor_image(client, ns, race).await.as_deref(),
        Some("evil:latest")
    );
    apply_race(client, ns, new_race, json!({"timeScale": 40})).await;
}

/// Everything [`change_behind_its_back`] did is undone or reconciled.
async fn caught_up(client: &Client, ns: &str, race: &str, new_race: &str, image: &str) -> bool {
    let d: Api<Deployment> = Api::namespaced(client.clone(), ns);
    d.get_opt(&format!("{race}-simulator"))
        .await
        .unwrap()
        .is_some()
        && processor_image(client, ns, race).await.as_deref() == Some(image)
        && has_full_status(client, ns, new_race).await
}

/// The release binary through a relay the test can cut: every connection (its watches
/// among them) is closed and new ones are refused for three seconds while a child is
/// deleted, a field the operator owns is edited and a race is created; when the API
/// server is back, the operator's watches resume and all of it is reconciled, without a
/// restart. Then the process itself is killed, the same happens again, and a new process
/// catches up. (The in-memory server's `at_scale.rs` imitates the 410 Gone a watch gets
/// from too old a resourceVersion, which a real server gives only once its history is
/// compacted.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_resume_after_the_connection_breaks() {
    let Some(kit) = Kit::connect("watches_resume_after_the_connection_breaks").await else {
        return;
    };
    let (client, ns) = (kit.client.clone(), kit.namespace("watch").await);
    let n = ns.name.as_str();
    let upstream = kit
        .config
        .cluster_url
        .authority()
        .unwrap()
        .as_str()
        .parse()
        .expect("API server at ip:port");
    let proxy = kit::proxy::Proxy::start(upstream).await;
    let through = vec![(
        "KUBE_RS_DEBUG_OVERRIDE_URL",
        format!("https://{}", proxy.addr),
    )];
    let launch = || {
        kit::operator::Operator::start(kit::operator::Launch {
            kubeconfig: &kit.kubeconfig,
            namespace: n,
            args: &["--namespaces", n, "--leader-election", "false"],
            env: &through,
            log_filter: "warn",
        })
    };
    apply_race(&client, n, "a", json!({"timeScale": 40})).await;
    let mut op = launch();
    eventually("race a reconciled", Duration::from_secs(30), async || {
        has_full_status(&client, n, "a").await
    })
    .await;
    let image = processor_image(&client, n, "a").await.unwrap();

    proxy.cut();
    change_behind_its_back(&client, n, "a", "b").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let refused = proxy.refused();
    proxy.restore();
    eventually(
        "caught up after the outage",
        Duration::from_secs(30),
        async || caught_up(&client, n, "a", "b", &image).await,
    )
    .await;
    assert!(
        op.running(),
        "the operator survived the outage:\n{}",
        op.logs()
    );
    eprintln!("connections refused during the 3 s outage: {refused}");

    op.kill();
    change_behind_its_back(&client, n, "b", "c").await;
    let op = launch();
    eventually(
        "caught up after a restart",
        Duration::from_secs(30),
        async || caught_up(&client, n, "b", "c", &image).await,
    )
    .await;
    drop(op);
}
