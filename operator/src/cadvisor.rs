//! Container metrics of one namespace for a race's Prometheus. The operator (whose
//! ClusterRole allows `nodes/proxy`) reads each kubelet's cAdvisor endpoint through the
//! API server and keeps only the samples of the asked namespace: a race's Prometheus then
//! needs no cluster-wide rights and sees no other namespace's containers.
//!
//! Every race's Prometheus scrapes its namespace every 15 s. Fetching every node per
//! scrape cost the API server races × nodes proxy requests per interval (and the
//! operator as many pages in memory at once), so [`NodeMetrics`] fetches all nodes once
//! per [`INTERVAL`], splits the pages by namespace once, and answers every namespace
//! from that; scrapes arriving while a fetch runs wait for it instead of starting their
//! own (single flight).

use crate::errors::chain;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long one fetch of every node serves all scrapes. Samples keep cAdvisor's own
/// timestamps, so a scrape that gets a cached page records when it was measured.
pub const INTERVAL: Duration = Duration::from_secs(10);

/// Whether `s` can name a namespace (an RFC 1123 label). Anything else is refused before
/// it reaches an access review or the label filter below.
pub fn is_namespace_name(s: &str) -> bool {
    let b = s.as_bytes();
    let inner = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-';
    !b.is_empty() && b.len() <= 63 && b.iter().all(inner) && b[0] != b'-' && b[b.len() - 1] != b'-'
}

/// The namespace a sample line belongs to: its `namespace` label exactly (not a label
/// whose name ends in "namespace"); none for an empty value or no such label.
fn namespace_of(line: &str) -> Option<&str> {
    let open = line.find('{')?;
    let labels = &line[open..];
    let needle = "namespace=\"";
    labels
        .match_indices(needle)
        .find(|(i, _)| *i > 0 && matches!(labels.as_bytes()[i - 1], b'{' | b','))
        .and_then(|(i, _)| {
            let value = &labels[i + needle.len()..];
            let ns = &value[..value.find('"')?];
            (!ns.is_empty()).then_some(ns)
        })
}

fn first_word(s: &str) -> &str {
    s.split(['{', ' ']).next().unwrap_or_default()
}

/// A family's HELP and TYPE lines.
#[derive(Default)]
struct Header {
    help: Option<String>,
    type_: Option<String>,
}

/// The family a sample belongs to: its own name, or for `_bucket`/`_sum`/`_count` the
/// histogram or summary it is part of.
fn family_of<'a>(sample: &'a str, headers: &BTreeMap<String, Header>) -> &'a str {
    let name = first_word(sample);
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && headers.get(base).is_some_and(|f| f.type_.is_some())
            && !headers.contains_key(name)
        {
            return base;
        }
    }
    name
}

/// Splits cAdvisor pages, one node at a time, into every namespace's share: one
/// exposition per namespace holding only its samples, each metric family once with its
/// HELP and TYPE lines. Samples without a namespace (machine and root-cgroup series) are
/// dropped. A page can be dropped once added, so a fetch holds the shares and one page.
#[derive(Default)]
pub struct Splitter {
    headers: BTreeMap<String, Header>,
    /// namespace → family → samples, families in name order.
    shares: HashMap<String, BTreeMap<String, Vec<String>>>,
}

impl Splitter {
    /// Adds one node's page.
    pub fn add(&mut self, page: &str) {
        for line in page.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let f = self.headers.entry(first_word(rest).into()).or_default();
                f.help.get_or_insert_with(|| line.to_string());
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let f = self.headers.entry(first_word(rest).into()).or_default();
                f.type_.get_or_insert_with(|| line.to_string());
            }
        }
        for line in page.lines().filter(|l| !l.starts_with('#')) {
            let Some(ns) = namespace_of(line) else {
                continue;
            };
            let family = family_of(line, &self.headers);
            let families = match self.shares.get_mut(ns) {
                Some(f) => f,
                None => self.shares.entry(ns.to_string()).or_default(),
            };
            match families.get_mut(family) {
                Some(samples) => samples.push(line.to_string()),
                None => {
                    families.insert(family.to_string(), vec![line.to_string()]);
                }
            }
        }
    }

    /// Every namespace's exposition.
    pub fn finish(self) -> HashMap<String, String> {
        let headers = self.headers;
        self.shares
            .into_iter()
            .map(|(ns, families)| {
                let mut out = String::new();
                for (name, samples) in families {
                    let h = headers.get(&name);
                    let help = h.and_then(|h| h.help.as_deref());
                    let type_ = h.and_then(|h| h.type_.as_deref());
                    for l in help.into_iter().chain(type_) {
                        out.push_str(l);
                        out.push('\n');
                    }
                    for l in samples {
                        out.push_str(&l);
                        out.push('\n');
                    }
                }
                (ns, out)
            })
            .collect()
    }
}

/// Every namespace's share of `pages` (see [`Splitter`]).
pub fn split(pages: &[String]) -> HashMap<String, String> {
    let mut s = Splitter::default();
    for p in pages {
        s.add(p);
    }
    s.finish()
}

/// `namespace`'s share of the pages (see [`split`]).
pub fn merge(pages: &[String], namespace: &str) -> String {
    split(pages).remove(namespace).unwrap_or_default()
}

/// Errors reading container metrics (answered as 502 with the message). Cloned to every
/// scrape that shares the failed fetch.
#[derive(Clone, Debug, thiserror::Error)]
pub enum Error {
    #[error("listing nodes: {0}")]
    Nodes(Arc<kube::Error>),
    #[error("node {node}: {source}")]
    Node {
        node: String,
        source: Arc<kube::Error>,
    },
}

/// Fetches every node's cAdvisor page through the API server's node proxy, one at a
/// time, and splits them by namespace. A node that does not answer is skipped (logged),
/// so one unhealthy kubelet does not blank the dashboards; no node answering is an error.
pub async fn fetch(client: &kube::Client) -> Result<HashMap<String, String>, Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    let list = nodes
        .list_metadata(&ListParams::default())
        .await
        .map_err(|e| Error::Nodes(Arc::new(e)))?;
    let mut shares = Splitter::default();
    let mut answered = false;
    let mut last_err = None;
    for n in list {
        let node = n.metadata.name.unwrap_or_default();
        let req = http::Request::get(format!("/api/v1/nodes/{node}/proxy/metrics/cadvisor"))
            .body(Vec::new())
            .expect("valid request");
        match client.request_text(req).await {
            Ok(page) => {
                shares.add(&page);
                answered = true;
            }
            Err(source) => {
                tracing::warn!(%node, error = %chain(&source), "cAdvisor of node unreachable");
                last_err = Some(Error::Node {
                    node,
                    source: Arc::new(source),
                });
            }
        }
    }
    match (answered, last_err) {
        (false, Some(e)) => Err(e),
        _ => Ok(shares.finish()),
    }
}

/// One fetch and what it gave: every namespace's share, or the error all its scrapes get.
struct Snapshot {
    at: Instant,
    shares: Result<Arc<HashMap<String, String>>, Error>,
}

/// Every node's container metrics, fetched at most once per `ttl` for all namespaces.
/// The lock is held across a fetch: concurrent scrapes wait for the one in progress and
/// then share its result, failures included (a struggling API server is not asked again
/// by each waiting scrape).
pub struct NodeMetrics {
    client: kube::Client,
    ttl: Duration,
    latest: tokio::sync::Mutex<Option<Snapshot>>,
}

impl NodeMetrics {
    /// A cache on `client` serving one fetch for `ttl` ([`INTERVAL`] in the operator;
    /// zero fetches on every scrape).
    pub fn new(client: kube::Client, ttl: Duration) -> NodeMetrics {
        NodeMetrics {
            client,
            ttl,
            latest: tokio::sync::Mutex::new(None),
        }
    }

    /// `namespace`'s container metrics as of a fetch younger than the TTL at `now`
    /// (fetching first when there is none).
    pub async fn namespace(&self, namespace: &str, now: Instant) -> Result<String, Error> {
        let mut latest = self.latest.lock().await;
        let fresh = latest
            .as_ref()
            .is_some_and(|s| now.saturating_duration_since(s.at) < self.ttl);
        if !fresh {
            let shares = fetch(&self.client).await.map(Arc::new);
            *latest = Some(Snapshot { at: now, shares });
        }
        let shares = latest.as_ref().expect("set above").shares.clone();
        drop(latest);
        Ok(shares?.get(namespace).cloned().unwrap_or_default())
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

    /// A label that only ends in "namespace" does not count; the value is read whole.
    #[test]
    fn namespace_label_is_matched_exactly() {
        assert_eq!(namespace_of(r#"m{xnamespace="racing"} 1"#), None);
        assert_eq!(
            namespace_of(r#"m{a="b",namespace="racing"} 1"#),
            Some("racing")
        );
        assert_eq!(namespace_of(r#"m{namespace="racing2"} 1"#), Some("racing2"));
        assert_eq!(
            namespace_of(r#"m{xnamespace="a",namespace="b"} 1"#),
            Some("b")
        );
        assert_eq!(namespace_of(r#"m{id="/",namespace=""} 1"#), None);
        assert_eq!(namespace_of("machine_cpu_cores 8"), None);
    }

    /// One split serves every namespace: each share equals that namespace's merge, and
    /// no share holds another namespace's samples.
    #[test]
    fn split_gives_each_namespace_its_share() {
        let pages = [NODE_A.to_string(), NODE_B.to_string()];
        let shares = split(&pages);
        let mut names: Vec<&str> = shares.keys().map(String::as_str).collect();
        names.sort();
        assert_eq!(names, ["racing", "racing-2"]);
        assert!(shares["racing-2"].contains("pod=\"other\""));
        assert!(!shares["racing-2"].contains("monza"));
        assert!(shares["racing-2"].starts_with("# HELP container_cpu_usage_seconds_total"));
        assert_eq!(merge(&pages, "racing"), shares["racing"]);
        assert_eq!(merge(&pages, "absent"), "");
    }
}
