//! Every `kubectl get|describe|delete|wait|explain … <resource>` the README, `docs/`,
//! `examples/`, the chart's NOTES and scripts/kind.sh show names a resource the API server
//! knows: the RaceSession CRD's names (from the CRD this operator generates), Kubernetes'
//! own, or those of the add-ons the operator writes to (the Prometheus Operator's, KEDA's
//! and CloudNativePG's, from the operator's types).
//! `kubectl get races` fails on a real cluster ("the server doesn't have a resource type
//! races"): the CRD's names are a contract, so the documentation follows them.

use kube::{CustomResourceExt, Resource};
use pitstop_operator::api::RaceSession;
use pitstop_operator::children::cnpg::Cluster;
use pitstop_operator::children::keda::ScaledObject;
use pitstop_operator::children::monitoring::prometheus_operator::{PodMonitor, PrometheusRule};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Verbs whose first argument is a resource (`type`, `type/name`, `a,b`, `type.field`).
const VERBS: [&str; 5] = ["get", "describe", "delete", "wait", "explain"];

/// Flags of kubectl that take the next word as their value.
const VALUED_FLAGS: [&str; 13] = [
    "-n",
    "--namespace",
    "-o",
    "--output",
    "-l",
    "--selector",
    "--field-selector",
    "--timeout",
    "--for",
    "--context",
    "-c",
    "--container",
    "--kubeconfig",
];

/// Kubernetes' built-in resources as kubectl spells them (plural, singular, short names).
const BUILT_IN: &[&str] = &[
    "all",
    "pods",
    "pod",
    "po",
    "deployments",
    "deployment",
    "deploy",
    "statefulsets",
    "statefulset",
    "sts",
    "services",
    "service",
    "svc",
    "secrets",
    "secret",
    "configmaps",
    "configmap",
    "cm",
    "jobs",
    "job",
    "cronjobs",
    "cronjob",
    "cj",
    "horizontalpodautoscalers",
    "horizontalpodautoscaler",
    "hpa",
    "networkpolicies",
    "networkpolicy",
    "netpol",
    "persistentvolumeclaims",
    "persistentvolumeclaim",
    "pvc",
    "persistentvolumes",
    "persistentvolume",
    "pv",
    "events",
    "event",
    "ev",
    "nodes",
    "node",
    "no",
    "namespaces",
    "namespace",
    "ns",
    "serviceaccounts",
    "serviceaccount",
    "sa",
    "roles",
    "role",
    "rolebindings",
    "rolebinding",
    "clusterroles",
    "clusterrole",
    "clusterrolebindings",
    "clusterrolebinding",
    "leases",
    "lease",
    "endpoints",
    "endpointslices",
    "endpointslice",
    "customresourcedefinitions",
    "customresourcedefinition",
    "crd",
    "crds",
];

/// The names the API server answers to: the CRD's (plural, singular, short names,
/// categories, kind, and plural/singular qualified by the group), Kubernetes' and the
/// add-ons' the operator creates objects of.
fn known() -> BTreeSet<String> {
    let crd = RaceSession::crd();
    let n = &crd.spec.names;
    let group = &crd.spec.group;
    let mut names: BTreeSet<String> = [n.plural.clone(), n.kind.to_lowercase()]
        .into_iter()
        .chain(n.singular.clone())
        .chain(n.short_names.clone().unwrap_or_default())
        .chain(n.categories.clone().unwrap_or_default())
        .collect();
    for name in [n.plural.clone()].into_iter().chain(n.singular.clone()) {
        names.insert(format!("{name}.{group}"));
    }
    names.extend(BUILT_IN.iter().map(|s| s.to_string()));
    for (plural, kind) in [
        (PodMonitor::plural(&()), PodMonitor::kind(&())),
        (PrometheusRule::plural(&()), PrometheusRule::kind(&())),
        (ScaledObject::plural(&()), ScaledObject::kind(&())),
        (Cluster::plural(&()), Cluster::kind(&())),
    ] {
        names.insert(plural.to_string());
        names.insert(kind.to_lowercase());
    }
    // CloudNativePG's Cluster is best named with its group: other add-ons have a
    // `cluster` too.
    names.insert(format!("{}.{}", Cluster::plural(&()), Cluster::group(&())));
    names
}

/// The resources each `kubectl` command in `text` names, with the command (line by line;
/// a command ends at a backtick, a pipe, a comment, `;`, `&&` or `)`). Commands that name
/// none (`kubectl delete -f …`, `kubectl get --raw …`, a bare `kubectl wait --for=…` in
/// prose) give nothing.
fn resources(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        for (i, _) in line.match_indices("kubectl ") {
            let rest = &line[i..];
            let end = rest
                .find(['`', '|', '#', ';', ')'])
                .unwrap_or(rest.len())
                .min(rest.find("&&").unwrap_or(rest.len()));
            let command = rest[..end].trim();
            let mut words = command.split_whitespace().skip(1).peekable();
            // Global flags before the verb.
            let mut verb = None;
            while let Some(w) = words.next() {
                if VALUED_FLAGS.contains(&w) {
                    words.next();
                } else if !w.starts_with('-') {
                    verb = Some(w);
                    break;
                }
            }
            let Some(verb) = verb.filter(|v| VERBS.contains(v)) else {
                continue;
            };
            let mut arg = None;
            while let Some(w) = words.next() {
                if w == "-f" || w == "--filename" || w == "--raw" || w.starts_with("--raw=") {
                    break;
                }
                if VALUED_FLAGS.contains(&w) {
                    words.next();
                } else if !w.starts_with('-') {
                    arg = Some(w);
                    break;
                }
            }
            let Some(arg) = arg else { continue };
            let types = arg.split('/').next().unwrap_or(arg);
            for t in types.split(',') {
                // `explain race.spec`: the resource is before the first field.
                let t = if verb == "explain" {
                    t.split('.').next().unwrap_or(t)
                } else {
                    t
                };
                out.push((t.to_string(), command.to_string()));
            }
        }
    }
    out
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p
            .extension()
            .is_some_and(|x| x == "md" || x == "yaml" || x == "yml")
        {
            out.push(p);
        }
    }
}

/// The README, `docs/`, `examples/`, the chart's NOTES and the scripts name only resources
/// the API server knows.
#[test]
fn documented_kubectl_commands_name_known_resources() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut paths = vec![
        root.join("README.md"),
        root.join("helm/pitstop-operator/templates/NOTES.txt"),
        root.join("scripts/kind.sh"),
    ];
    files(&root.join("docs"), &mut paths);
    files(&root.join("examples"), &mut paths);
    let known = known();
    let mut checked = 0;
    let mut unknown = Vec::new();
    for path in &paths {
        let text = std::fs::read_to_string(path).unwrap();
        for (resource, command) in resources(&text) {
            checked += 1;
            if !known.contains(&resource.to_lowercase()) {
                let file = path.strip_prefix(&root).unwrap_or(path).display();
                unknown.push(format!("{file}: `{command}`: {resource}"));
            }
        }
    }
    assert!(checked > 10, "only {checked} kubectl commands found");
    assert!(
        unknown.is_empty(),
        "resources the API server does not know (the CRD's names: {:?}):\n{}",
        RaceSession::crd().spec.names,
        unknown.join("\n")
    );
}

/// The parser finds what a reader would type: the resource after the verb, past flags,
/// in every spelling; and `races` is not a name of the CRD.
#[test]
fn the_parser_finds_the_resource_of_each_spelling() {
    let found =
        |text: &str| -> Vec<String> { resources(text).into_iter().map(|(r, _)| r).collect() };
    assert_eq!(found("kubectl -n racing get races   # NAME"), ["races"]);
    assert_eq!(
        found("`kubectl -n racing wait race/monza --for=condition=Ready --timeout=5m`"),
        ["race"]
    );
    assert_eq!(
        found("kubectl -n racing get podmonitors,prometheusrules -l a=b"),
        ["podmonitors", "prometheusrules"]
    );
    assert_eq!(found("kubectl explain race.spec --recursive"), ["race"]);
    assert_eq!(
        found("kubectl -n racing get -o yaml secret monza-grafana | jq"),
        ["secret"]
    );
    assert!(found("kubectl delete -f k8s/pitstop-operator.yaml").is_empty());
    assert!(found("kubectl get --raw /api/v1/nodes/x/proxy/metrics/cadvisor").is_empty());
    assert!(found("kubectl apply -f examples/minimal.yaml").is_empty());
    let known = known();
    for name in [
        "race",
        "racesessions",
        "racesession",
        "racesessions.pitstop.io",
        "pitstop",
    ] {
        assert!(known.contains(name), "{name}");
    }
    assert!(!known.contains("races"), "not a name of the CRD");
}
