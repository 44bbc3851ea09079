//! The install paths: the Helm chart with the real helm v4 (`helm lint --strict`,
//! `helm template` with default and non-default values, schema rejections), the RBAC it
//! grants against what the operator does, restricted pods, and the generated files that
//! must not drift (chart CRD copy, `k8s/` bundle, rendered references, chart version).
//! `make test` installs helm into .tools/ (scripts/tools.sh); set HELM to use another.

mod support;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::PolicyRule;
use pitstop_operator::model::{Defaults, validate};
use serde::Deserialize;
use serde_yaml::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn chart() -> PathBuf {
    root().join("helm/pitstop-operator")
}

fn helm() -> PathBuf {
    let candidates: Vec<PathBuf> = std::env::var_os("HELM")
        .map(PathBuf::from)
        .into_iter()
        .chain([root().join(".tools/bin/helm"), "helm".into()])
        .collect();
    for c in candidates {
        if let Ok(out) = Command::new(&c).args(["version", "--short"]).output()
            && String::from_utf8_lossy(&out.stdout).starts_with("v4.")
        {
            return c;
        }
    }
    panic!("helm v4 not found: run `make test` (it installs it into .tools/) or set HELM");
}

fn run_helm(args: &[&str]) -> Result<String, String> {
    let out = Command::new(helm())
        .args(args)
        .current_dir(root())
        .output()
        .expect("run helm");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(text)
    }
}

const NON_DEFAULT: &str = "helm/pitstop-operator/ci/namespaced-values.yaml";

fn template(extra: &[&str]) -> Vec<Value> {
    let mut args = vec![
        "template",
        "pitstop-operator",
        "helm/pitstop-operator",
        "--namespace",
        "pitstop-system",
    ];
    args.extend(extra);
    let out = run_helm(&args).unwrap_or_else(|e| panic!("helm template: {e}"));
    serde_yaml::Deserializer::from_str(&out)
        .map(|d| Value::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

fn kinds(docs: &[Value]) -> Vec<String> {
    let mut k: Vec<String> = docs
        .iter()
        .map(|d| d["kind"].as_str().unwrap().to_string())
        .collect();
    k.sort();
    k
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("{kind} {name} rendered"))
}

fn deployment(docs: &[Value]) -> Deployment {
    serde_yaml::from_value(find(docs, "Deployment", "pitstop-operator").clone()).unwrap()
}

/// Whether `rules` allow `verb` on `group`/`resource`.
fn allows(rules: &[PolicyRule], group: &str, resource: &str, verb: &str) -> bool {
    rules.iter().any(|r| {
        r.api_groups.iter().flatten().any(|g| g == group)
            && r.resources.iter().flatten().any(|x| x == resource)
            && r.verbs.iter().any(|v| v == verb)
    })
}

/// Every verb on every kind of [`OPERATOR_NEEDS`] is granted by `rules`.
fn assert_operator_needs(rules: &[PolicyRule], what: &str) {
    for (group, resource, verbs) in OPERATOR_NEEDS {
        for verb in *verbs {
            assert!(
                allows(rules, group, resource, verb),
                "{what}: {verb} {group}/{resource}"
            );
        }
    }
}

fn rules(doc: &Value) -> Vec<PolicyRule> {
    serde_yaml::from_value(doc["rules"].clone()).unwrap()
}

/// The children the operator builds for examples/minimal.yaml in namespace `racing`.
fn minimal_race() -> pitstop_operator::children::Children {
    let mut race: pitstop_operator::api::RaceSession =
        serde_yaml::from_str(&read(&root().join("examples/minimal.yaml"))).unwrap();
    race.metadata.namespace = Some("racing".into());
    race.metadata.uid = Some("u".into());
    let model = validate(&race, &BTreeMap::new(), &Defaults::default()).unwrap();
    pitstop_operator::children::build(&model)
}

/// RBAC refuses to let the operator create a Role granting what it does not hold itself:
/// every rule of the Roles it builds for a race must be covered by `rules`.
fn assert_can_grant_race_roles(rules: &[PolicyRule], what: &str) {
    for role in minimal_race().roles {
        for r in role.rules.iter().flatten() {
            for group in r.api_groups.iter().flatten() {
                for resource in r.resources.iter().flatten() {
                    for verb in &r.verbs {
                        assert!(
                            allows(rules, group, resource, verb),
                            "{what} cannot grant {verb} {group}/{resource} (Role {:?})",
                            role.metadata.name
                        );
                    }
                }
            }
        }
    }
}

/// Every kind the reconciler applies, prunes or watches, with the verbs it uses.
const OPERATOR_NEEDS: &[(&str, &str, &[&str])] = &[
    ("pitstop.io", "racesessions", &["get", "list", "watch"]),
    ("pitstop.io", "racesessions/status", &["patch"]),
    (
        "apps",
        "deployments",
        &["get", "list", "watch", "patch", "delete"],
    ),
    (
        "apps",
        "statefulsets",
        &["get", "list", "watch", "patch", "delete"],
    ),
    ("", "services", &["get", "list", "watch", "patch", "delete"]),
    (
        "",
        "configmaps",
        &["get", "list", "watch", "patch", "delete"],
    ),
    (
        "",
        "serviceaccounts",
        &["get", "list", "watch", "patch", "delete"],
    ),
    ("", "secrets", &["get", "list", "watch", "create", "delete"]),
    (
        "autoscaling",
        "horizontalpodautoscalers",
        &["get", "list", "watch", "patch", "delete"],
    ),
    (
        "networking.k8s.io",
        "networkpolicies",
        &["get", "list", "watch", "patch", "delete"],
    ),
    (
        "rbac.authorization.k8s.io",
        "roles",
        &["get", "list", "watch", "patch", "delete"],
    ),
    (
        "rbac.authorization.k8s.io",
        "rolebindings",
        &["get", "list", "watch", "patch", "delete"],
    ),
    ("keda.sh", "scaledobjects", &["list", "patch", "delete"]),
    // postgres.cloudNativePG: the Cluster applied, pruned, deleted.
    (
        "postgresql.cnpg.io",
        "clusters",
        &["get", "list", "watch", "create", "patch", "delete"],
    ),
    // Server-side apply that creates is authorized as create.
    (
        "monitoring.coreos.com",
        "podmonitors",
        &["list", "create", "patch", "delete"],
    ),
    (
        "monitoring.coreos.com",
        "prometheusrules",
        &["list", "create", "patch", "delete"],
    ),
    (
        "batch",
        "jobs",
        &["get", "list", "watch", "create", "patch"],
    ),
    (
        "batch",
        "cronjobs",
        &["get", "list", "watch", "patch", "delete"],
    ),
    ("events.k8s.io", "events", &["create"]),
    // What a race's Prometheus Role grants: RBAC lets only a holder grant it.
    ("", "pods", &["get", "list", "watch"]),
];

/// `helm lint --strict` passes with the default values and with non-default ones.
#[test]
fn chart_lints_strictly() {
    run_helm(&["lint", "--strict", "helm/pitstop-operator"]).unwrap();
    run_helm(&[
        "lint",
        "--strict",
        "helm/pitstop-operator",
        "-f",
        NON_DEFAULT,
    ])
    .unwrap();
}

/// Defaults: CRD kept on uninstall, cluster-wide RBAC covering exactly what the operator
/// does, two leader-elected replicas, restricted pods, both Services races scrape.
#[test]
fn default_install() {
    let docs = template(&[]);
    assert_eq!(
        kinds(&docs),
        [
            "ClusterRole",
            "ClusterRole",
            "ClusterRoleBinding",
            "ClusterRoleBinding",
            "CustomResourceDefinition",
            "Deployment",
            "NetworkPolicy",
            "Role",
            "RoleBinding",
            "Service",
            "Service",
            "ServiceAccount"
        ]
    );
    let crd = find(&docs, "CustomResourceDefinition", "racesessions.pitstop.io");
    assert_eq!(
        crd["metadata"]["annotations"]["helm.sh/resource-policy"],
        "keep"
    );
    let checked_in: Value = serde_yaml::from_str(
        &std::fs::read_to_string(root().join("crds/racesessions.pitstop.io.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        crd["spec"], checked_in["spec"],
        "the chart's CRD is the generated one"
    );

    let cluster = rules(find(&docs, "ClusterRole", "pitstop-operator"));
    assert_operator_needs(&cluster, "ClusterRole");
    assert_can_grant_race_roles(&cluster, "ClusterRole");
    // The Prometheus Operator's kinds: what apply and prune use, nothing more (no reads of
    // single objects, no watches, none of its other kinds).
    let monitoring: Vec<&PolicyRule> = cluster
        .iter()
        .filter(|r| {
            r.api_groups
                .iter()
                .flatten()
                .any(|g| g == "monitoring.coreos.com")
        })
        .collect();
    assert_eq!(monitoring.len(), 1, "{monitoring:?}");
    assert_eq!(
        monitoring[0].resources.as_deref(),
        Some(&["podmonitors".to_string(), "prometheusrules".to_string()][..])
    );
    assert_eq!(monitoring[0].verbs, ["list", "create", "patch", "delete"]);
    // CloudNativePG: its Clusters only, none of its other kinds (Backups, Poolers, ...).
    let cnpg: Vec<&PolicyRule> = cluster
        .iter()
        .filter(|r| {
            r.api_groups
                .iter()
                .flatten()
                .any(|g| g == "postgresql.cnpg.io")
        })
        .collect();
    assert_eq!(cnpg.len(), 1, "{cnpg:?}");
    assert_eq!(
        cnpg[0].resources.as_deref(),
        Some(&["clusters".to_string()][..])
    );
    assert!(
        !allows(&cluster, "", "nodes", "list"),
        "nodes only in the container-metrics role"
    );
    let nodes = rules(find(
        &docs,
        "ClusterRole",
        "pitstop-operator-container-metrics",
    ));
    assert!(allows(&nodes, "", "nodes", "list") && allows(&nodes, "", "nodes/proxy", "get"));
    // /cadvisor checks each caller's token and permission with the API server.
    assert!(allows(
        &nodes,
        "authentication.k8s.io",
        "tokenreviews",
        "create"
    ));
    assert!(allows(
        &nodes,
        "authorization.k8s.io",
        "subjectaccessreviews",
        "create"
    ));
    assert_eq!(
        nodes.len(),
        4,
        "nothing else cluster-wide for container metrics"
    );
    let lease = rules(find(&docs, "Role", "pitstop-operator-leader-election"));
    assert!(allows(&lease, "coordination.k8s.io", "leases", "update"));

    let d = deployment(&docs);
    let spec = d.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(2));
    let pod = spec.template.spec.as_ref().unwrap();
    support::pss::assert_restricted(pod, "operator");
    let labels = spec
        .template
        .metadata
        .as_ref()
        .unwrap()
        .labels
        .as_ref()
        .unwrap();
    assert_eq!(
        labels["app.kubernetes.io/name"], "pitstop-operator",
        "race NetworkPolicies admit the operator by this label"
    );
    let c = &pod.containers[0];
    assert_eq!(
        c.args.as_ref().unwrap(),
        &["run".to_string(), "--leader-election=true".to_string()]
    );
    assert!(
        c.image
            .as_ref()
            .unwrap()
            .ends_with(&format!(":{}", env!("CARGO_PKG_VERSION")))
    );
    let env: Vec<(&str, Option<&str>)> = c
        .env
        .iter()
        .flatten()
        .map(|e| (e.name.as_str(), e.value.as_deref()))
        .collect();
    assert!(env.contains(&("PITSTOP_OPERATOR_SERVICE", Some("pitstop-operator"))));
    assert!(env.iter().any(|(n, _)| *n == "POD_NAMESPACE"));
    let probe = c
        .readiness_probe
        .as_ref()
        .unwrap()
        .http_get
        .as_ref()
        .unwrap();
    assert_eq!(probe.path.as_deref(), Some("/ready"));
    assert_eq!(c.ports.as_ref().unwrap()[0].container_port, 8002);

    let headless = find(&docs, "Service", "pitstop-operator-metrics");
    assert_eq!(headless["spec"]["clusterIP"], "None");
    find(&docs, "Service", "pitstop-operator");
}

/// Non-default values: namespaced mode (a Role per watched namespace, no cluster-wide
/// race rules), no CRD, PDB and Prometheus Operator monitors, custom service account.
#[test]
fn namespaced_install() {
    let docs = template(&["-f", NON_DEFAULT]);
    let k = kinds(&docs);
    assert!(
        !k.iter()
            .any(|k| k == "ClusterRole" || k == "ClusterRoleBinding"),
        "{k:?}"
    );
    assert!(!k.iter().any(|k| k == "CustomResourceDefinition"));
    for kind in ["PodDisruptionBudget", "ServiceMonitor", "PodMonitor"] {
        assert!(k.iter().any(|x| x == kind), "{kind} in {k:?}");
    }
    for ns in ["racing", "qualifying"] {
        let role = docs
            .iter()
            .find(|d| d["kind"] == "Role" && d["metadata"]["namespace"] == ns)
            .unwrap_or_else(|| panic!("Role in {ns}"));
        let r = rules(role);
        assert_operator_needs(&r, ns);
        assert_can_grant_race_roles(&r, ns);
        let binding = docs
            .iter()
            .find(|d| d["kind"] == "RoleBinding" && d["metadata"]["namespace"] == ns)
            .unwrap();
        assert_eq!(binding["subjects"][0]["name"], "pitstop-bot");
    }
    let d = deployment(&docs);
    let spec = d.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(3));
    let pod = spec.template.spec.as_ref().unwrap();
    support::pss::assert_restricted(pod, "operator (namespaced)");
    assert!(
        pod.containers[0]
            .args
            .as_ref()
            .unwrap()
            .contains(&"--namespaces=racing,qualifying".to_string())
    );
    assert_eq!(
        find(&docs, "ServiceMonitor", "pitstop-operator")["metadata"]["labels"]["release"],
        "kube-prometheus-stack"
    );
}

/// values.schema.json turns mistakes into errors that name the value.
#[test]
fn schema_rejects_bad_values() {
    for (set, says) in [
        ("replicaCount=0", "/replicaCount"),
        ("logFormat=xml", "/logFormat"),
        ("watchNamespaces[0]=Not_A_Namespace", "/watchNamespaces/0"),
        ("replicas=2", "'replicas' not allowed"),
        (
            "networkPolicy.extraIngressFrom[0].podSelecter.matchLabels.app=x",
            "'podSelecter' not allowed",
        ),
    ] {
        let err = run_helm(&["template", "x", "helm/pitstop-operator", "--set", set]).unwrap_err();
        assert!(err.contains(says), "--set {set}: {err}");
    }
}

/// Whether `selector` (matchLabels only) selects a pod labelled `labels`.
fn selects(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    selector["matchLabels"]
        .as_mapping()
        .into_iter()
        .flatten()
        .all(|(k, v)| labels.get(k.as_str().unwrap()).map(String::as_str) == v.as_str())
}

/// Pod labels of a race's component, as the operator's builder sets them.
fn race_pod_labels(component: &str) -> BTreeMap<String, String> {
    minimal_race()
        .deployments
        .into_iter()
        .find(|d| d.metadata.name.as_deref() == Some(&format!("monza-{component}")))
        .unwrap_or_else(|| panic!("{component} Deployment"))
        .spec
        .unwrap()
        .template
        .metadata
        .unwrap()
        .labels
        .unwrap()
}

/// The chart's NetworkPolicy isolates the operator's pods for ingress and admits :8002
/// only from races' Prometheus — the pods the operator labels so, in any namespace, or in
/// the watched ones in namespaced mode — plus `networkPolicy.extraIngressFrom`.
#[test]
fn network_policy_admits_only_races_prometheus() {
    let docs = template(&[]);
    let np = find(&docs, "NetworkPolicy", "pitstop-operator");
    let typed: NetworkPolicy = serde_yaml::from_value(np.clone()).unwrap();
    let spec = typed.spec.as_ref().unwrap();
    let operator_pod = deployment(&docs)
        .spec
        .unwrap()
        .template
        .metadata
        .unwrap()
        .labels
        .unwrap();
    assert!(selects(&np["spec"]["podSelector"], &operator_pod));
    assert_eq!(
        spec.policy_types.as_deref(),
        Some(&["Ingress".to_string()][..])
    );
    let ingress = spec.ingress.as_ref().unwrap();
    assert_eq!(ingress.len(), 1, "one rule: :8002 from the peers");
    let ports = ingress[0].ports.as_ref().unwrap();
    assert_eq!(ports.len(), 1);
    assert_eq!(
        serde_json::to_value(&ports[0]).unwrap(),
        serde_json::json!({"port": 8002, "protocol": "TCP"})
    );
    let from = &np["spec"]["ingress"][0]["from"];
    assert_eq!(from.as_sequence().unwrap().len(), 1, "{from:?}");
    let peer = &from[0];
    assert_eq!(
        peer["namespaceSelector"],
        serde_yaml::from_str::<Value>("{}").unwrap(),
        "races live in any namespace"
    );
    assert!(
        selects(&peer["podSelector"], &race_pod_labels("prometheus")),
        "a race's Prometheus is admitted"
    );
    for other in ["simulator", "processor", "grafana"] {
        assert!(
            !selects(&peer["podSelector"], &race_pod_labels(other)),
            "{other} is not admitted"
        );
    }

    // Namespaced mode: only the watched namespaces, plus the extra peer of the values.
    let docs = template(&["-f", NON_DEFAULT]);
    let from = &find(&docs, "NetworkPolicy", "pitstop-operator")["spec"]["ingress"][0]["from"];
    let names = &from[0]["namespaceSelector"]["matchExpressions"][0];
    assert_eq!(names["key"], "kubernetes.io/metadata.name");
    assert_eq!(names["operator"], "In");
    assert_eq!(
        names["values"],
        serde_yaml::from_str::<Value>("[racing, qualifying]").unwrap()
    );
    assert_eq!(
        from[1]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
        "monitoring"
    );

    let off = template(&["--set", "networkPolicy.enabled=false"]);
    assert!(!kinds(&off).iter().any(|k| k == "NetworkPolicy"));
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Generated files are current: the chart's CRD copy, the chart and app versions, the
/// `k8s/` bundle and the two rendered references. `make manifests` regenerates them.
#[test]
fn generated_files_are_current() {
    let stale = |what: &str| format!("{what} is stale: run `make manifests`");
    assert_eq!(
        read(&chart().join("files/racesessions.pitstop.io.yaml")),
        read(&root().join("crds/racesessions.pitstop.io.yaml")),
        "{}",
        stale("helm/pitstop-operator/files/racesessions.pitstop.io.yaml")
    );
    // `kubectl apply -f k8s/` (client-side) stores the object in an annotation of 256 KiB.
    let crd_len = read(&root().join("crds/racesessions.pitstop.io.yaml")).len();
    assert!(
        crd_len < 200 * 1024,
        "the CRD is {crd_len} bytes: too close to the limit"
    );
    let chart_yaml: Value = serde_yaml::from_str(&read(&chart().join("Chart.yaml"))).unwrap();
    assert_eq!(chart_yaml["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(chart_yaml["appVersion"], env!("CARGO_PKG_VERSION"));

    let rendered = run_helm(&[
        "template",
        "pitstop-operator",
        "helm/pitstop-operator",
        "--namespace",
        "pitstop-system",
    ])
    .unwrap();
    let bundle = read(&root().join("k8s/pitstop-operator.yaml"));
    assert_eq!(
        bundle.split_once('\n').unwrap().1,
        rendered,
        "{}",
        stale("k8s/pitstop-operator.yaml")
    );
    let ns: Value = serde_yaml::from_str(&read(&root().join("k8s/00-namespace.yaml"))).unwrap();
    assert_eq!(ns["metadata"]["name"], "pitstop-system");

    for (file, kind) in [
        ("stream-processor-hpa.yaml", "HorizontalPodAutoscaler"),
        ("networkpolicy.yaml", "NetworkPolicy"),
    ] {
        let text = read(&root().join("k8s").join(file));
        // Every line is a comment, so `kubectl apply -f k8s/` creates nothing from it.
        assert!(text.lines().all(|l| l.starts_with('#')), "{file}");
        // The explanation comes first; the object starts at its apiVersion.
        let uncommented: String = text
            .lines()
            .skip_while(|l| !l.starts_with("# apiVersion:"))
            .map(|l| l.strip_prefix("# ").or(l.strip_prefix('#')).unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n");
        let out = Command::new(env!("CARGO_BIN_EXE_pitstop-operator"))
            .args(["render", "-f", "examples/minimal.yaml", "--kind", kind])
            .args(["--name", "monza-processor"])
            .current_dir(root())
            .output()
            .unwrap();
        assert!(out.status.success());
        let expected: Value = serde_yaml::from_slice(&out.stdout).unwrap();
        let actual: Value = serde_yaml::from_str(&uncommented).unwrap();
        assert_eq!(actual, expected, "{}", stale(&format!("k8s/{file}")));
        assert_eq!(actual["kind"], kind);
    }
}

/// Every file a recursive reader of `k8s/` finds (`kubectl apply -R -f k8s/`, Argo CD and
/// Flux directory sources): its YAML and JSON files, in every subfolder.
fn k8s_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            k8s_files(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        ) {
            out.push(path);
        }
    }
}

/// Everything under `k8s/` is Kubernetes objects — each document has apiVersion, kind and
/// a name (comment-only reference files hold none) — so recursive readers do not fail on
/// it (Helm values belong in helm/). The real kubectl reads the folder the same way:
/// `kubectl apply --dry-run=client` needs an API server even for a client-side dry run
/// (discovery, OpenAPI), so `kubectl annotate --local`, which decodes with the same file
/// reader and no server, stands in for it.
#[test]
fn everything_under_k8s_is_kubernetes_objects() {
    let mut files = Vec::new();
    k8s_files(&root().join("k8s"), &mut files);
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    let mut objects = 0;
    for file in &files {
        let text = read(file);
        for (i, doc) in serde_yaml::Deserializer::from_str(&text).enumerate() {
            let doc = Value::deserialize(doc)
                .unwrap_or_else(|e| panic!("{}: document {i}: {e}", file.display()));
            if doc.is_null() {
                continue;
            }
            for field in ["apiVersion", "kind"] {
                assert!(
                    doc[field].as_str().is_some_and(|s| !s.is_empty()),
                    "{}: document {i} has no {field}: not a Kubernetes object",
                    file.display()
                );
            }
            assert!(
                doc["metadata"]["name"].as_str().is_some(),
                "{}: document {i} has no metadata.name",
                file.display()
            );
            objects += 1;
        }
    }

    let out = Command::new(support::tool("KUBECTL", "kubectl"))
        .args(["annotate", "--local", "--dry-run=client", "-o", "name"])
        .args(["-R", "-f", "k8s/", "pitstop.io/check=1"])
        .current_dir(root())
        // Never a real cluster: the command must work from the files alone.
        .env("KUBECONFIG", "/dev/null")
        .output()
        .expect("run kubectl");
    assert!(
        out.status.success(),
        "kubectl cannot read k8s/ recursively:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names = String::from_utf8_lossy(&out.stdout);
    assert_eq!(names.lines().count(), objects, "{names}");
    assert!(
        names.contains("deployment.apps/pitstop-operator"),
        "{names}"
    );
    assert!(
        names.contains("networkpolicy.networking.k8s.io/pitstop-operator"),
        "{names}"
    );
}
