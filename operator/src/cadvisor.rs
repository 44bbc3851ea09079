//! Container metrics of one namespace for a race's Prometheus. The operator (whose
//! ClusterRole allows `nodes/proxy`) reads each kubelet's cAdvisor endpoint through the
//! API server and keeps only the samples of the asked namespace: a race's Prometheus then
//! needs no cluster-wide rights and sees no other namespace's containers.

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use std::collections::BTreeMap;

/// Whether `s` can name a namespace (an RFC 1123 label). Anything else is refused before
/// it reaches an access review or the label filter below.
pub fn is_namespace_name(s: &str) -> bool {
    let b = s.as_bytes();
    let inner = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-';
    !b.is_empty() && b.len() <= 63 && b.iter().all(inner) && b[0] != b'-' && b[b.len() - 1] != b'-'
}

/// Whether a sample line belongs to `namespace` (the label, exactly; not a label whose
/// name ends in "namespace" nor a value that merely starts with it).
fn in_namespace(line: &str, namespace: &str) -> bool {
    let Some(open) = line.find('{') else {
        return false;
    };
    let labels = &line[open..];
    let needle = format!("namespace=\"{namespace}\"");
    labels
        .match_indices(&needle)
        .any(|(i, _)| i > 0 && matches!(labels.as_bytes()[i - 1], b'{' | b','))
}

fn first_word(s: &str) -> &str {
    s.split(['{', ' ']).next().unwrap_or_default()
}

#[derive(Default)]
struct Family {
    help: Option<String>,
    type_: Option<String>,
    samples: Vec<String>,
}

/// The family a sample belongs to: its own name, or for `_bucket`/`_sum`/`_count` the
/// histogram or summary it is part of.
fn family_of<'a>(sample: &'a str, families: &BTreeMap<String, Family>) -> &'a str {
    let name = first_word(sample);
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && families.get(base).is_some_and(|f| f.type_.is_some())
            && !families.contains_key(name)
        {
            return base;
        }
    }
    name
}

/// Merges the cAdvisor pages of several nodes into one exposition holding only
/// `namespace`'s samples, each metric family once with its HELP and TYPE lines.
pub fn merge(pages: &[String], namespace: &str) -> String {
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    for line in pages.iter().flat_map(|p| p.lines()) {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let f = families.entry(first_word(rest).into()).or_default();
            f.help.get_or_insert_with(|| line.to_string());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let f = families.entry(first_word(rest).into()).or_default();
            f.type_.get_or_insert_with(|| line.to_string());
        }
    }
    for line in pages.iter().flat_map(|p| p.lines()) {
        if !line.starts_with('#') && in_namespace(line, namespace) {
            let name = family_of(line, &families).to_string();
            families.entry(name).or_default().samples.push(line.into());
        }
    }
    let mut out = String::new();
    for f in families.values().filter(|f| !f.samples.is_empty()) {
        for l in f.help.iter().chain(f.type_.iter()).chain(f.samples.iter()) {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

/// Errors reading container metrics (answered as 502 with the message).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("listing nodes: {0}")]
    Nodes(kube::Error),
    #[error("node {node}: {source}")]
    Node { node: String, source: kube::Error },
}

/// Fetches every node's cAdvisor page through the API server's node proxy and keeps
/// `namespace`'s samples. A node that does not answer is skipped (logged), so one
/// unhealthy kubelet does not blank the dashboard; no node answering is an error.
pub async fn collect(client: &kube::Client, namespace: &str) -> Result<String, Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    let list = nodes
        .list_metadata(&ListParams::default())
        .await
        .map_err(Error::Nodes)?;
    let mut pages = Vec::new();
    let mut last_err = None;
    for n in list {
        let node = n.metadata.name.unwrap_or_default();
        let req = http::Request::get(format!("/api/v1/nodes/{node}/proxy/metrics/cadvisor"))
            .body(Vec::new())
            .expect("valid request");
        match client.request_text(req).await {
            Ok(page) => pages.push(page),
            Err(source) => {
                tracing::warn!(%node, error = %source, "cAdvisor of node unreachable");
                last_err = Some(Error::Node { node, source });
            }
        }
    }
    match (pages.is_empty(), last_err) {
        (true, Some(e)) => Err(e),
        _ => Ok(merge(&pages, namespace)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODE_A: &str = r#"# HELP container_cpu_usage_seconds_total Cumulative cpu time consumed in seconds.
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{container="processor",cpu="total",namespace="racing",pod="monza-processor-1"} 12.5 1764300000000
container_cpu_usage_seconds_total{container="app",cpu="total",namespace="racing-2",pod="other"} 3 1764300000000
container_cpu_usage_seconds_total{container="",id="/",namespace=""} 900 1764300000000
# HELP machine_cpu_cores Number of logical CPU cores.
# TYPE machine_cpu_cores gauge
machine_cpu_cores{machine_id="a"} 8
"#;
    const NODE_B: &str = r#"# HELP container_cpu_usage_seconds_total Cumulative cpu time consumed in seconds.
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{container="redis",cpu="total",namespace="racing",pod="monza-redis-0"} 4 1764300000000
# HELP container_memory_working_set_bytes Current working set in bytes.
# TYPE container_memory_working_set_bytes gauge
container_memory_working_set_bytes{container="redis",namespace="racing",pod="monza-redis-0",xnamespace="racing"} 1.2e+07 1764300000000
"#;

    /// Only the namespace's samples survive, each family once with HELP and TYPE.
    #[test]
    fn keeps_one_namespace_and_groups_families() {
        let out = merge(&[NODE_A.into(), NODE_B.into()], "racing");
        assert_eq!(
            out.matches("# TYPE container_cpu_usage_seconds_total counter")
                .count(),
            1
        );
        assert!(out.contains("pod=\"monza-processor-1\""));
        assert!(out.contains("pod=\"monza-redis-0\""));
        assert!(!out.contains("racing-2"), "{out}");
        assert!(!out.contains("machine_cpu_cores"), "{out}");
        assert!(!out.contains("id=\"/\""), "{out}");
        assert!(out.contains("container_memory_working_set_bytes{"));
        // Families stay contiguous: the first family's samples precede the second's HELP.
        let cpu_last = out.rfind("container_cpu_usage_seconds_total{").unwrap();
        let mem_help = out.find("# HELP container_memory").unwrap();
        assert!(cpu_last < mem_help);
    }

    /// Namespace names are RFC 1123 labels; quotes, slashes and the like are not.
    #[test]
    fn namespace_names() {
        for ok in ["racing", "a", "race-2", &"x".repeat(63)] {
            assert!(is_namespace_name(ok), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "Racing",
            "a.b",
            "a/b",
            "racing\",pod=\"x",
            &"x".repeat(64),
        ] {
            assert!(!is_namespace_name(bad), "{bad}");
        }
    }

    /// A label that only ends in "namespace" does not count.
    #[test]
    fn namespace_label_is_matched_exactly() {
        assert!(!in_namespace(r#"m{xnamespace="racing"} 1"#, "racing"));
        assert!(in_namespace(r#"m{a="b",namespace="racing"} 1"#, "racing"));
        assert!(!in_namespace(r#"m{namespace="racing2"} 1"#, "racing"));
    }
}
