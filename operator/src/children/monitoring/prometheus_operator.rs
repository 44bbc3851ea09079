//! `monitoring.mode: prometheusOperator`: what the cluster's Prometheus Operator needs to
//! monitor a race — a PodMonitor each for the simulator and the processor and a
//! PrometheusRule with the race's recording and alerting rules — instead of a Prometheus
//! of the race's own.
//!
//! The cluster's Prometheus sees every race, so the objects confine it to this one: the
//! PodMonitors label every series with the race (`race`, next to the `namespace` and
//! `pod` labels the operator keeps, which prometheus-adapter needs) and give the jobs the
//! names the rules use; every selector of the rules is confined to the race
//! ([`super::promql`]), and every rule labels its result with `namespace` and `race`, so
//! that two races' recorded series never collide.

use super::prometheus_config::{PROCESSOR_JOB, rules, source_job};
use super::promql::{RACE_LABEL, Scope};
use crate::children::meta::{Component, meta, name, selector};
use crate::model::{ClusterStack, Model};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::CustomResource;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Scrape interval of the race's pods: the rules' one-minute rates see four samples.
const SCRAPE_INTERVAL: &str = "15s";

/// The fields of `monitoring.coreos.com/v1` PodMonitor this operator sets (the Prometheus
/// Operator validates the rest).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "monitoring.coreos.com",
    version = "v1",
    kind = "PodMonitor",
    namespaced,
    schema = "disabled",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct PodMonitorSpec {
    /// The pods, in the PodMonitor's own namespace.
    pub selector: LabelSelector,
    pub pod_metrics_endpoints: Vec<PodMetricsEndpoint>,
}

/// One scraped port of the selected pods.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PodMetricsEndpoint {
    /// Container port name.
    pub port: String,
    pub path: String,
    pub interval: String,
    /// Applied after the operator's own (which set `namespace`, `pod`, `container`,
    /// `endpoint` and `job`), so they can rename the job.
    pub relabelings: Vec<Relabeling>,
}

/// A relabeling that sets a target label to a fixed value.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Relabeling {
    pub action: String,
    pub target_label: String,
    pub replacement: String,
}

/// The fields of `monitoring.coreos.com/v1` PrometheusRule this operator sets.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "monitoring.coreos.com",
    version = "v1",
    kind = "PrometheusRule",
    namespaced,
    schema = "disabled",
    derive = "PartialEq"
)]
pub struct PrometheusRuleSpec {
    pub groups: Vec<RuleGroup>,
}

/// A rule group, as in a Prometheus rule file (`rules.yaml` parses into these).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RuleGroup {
    pub name: String,
    pub rules: Vec<Rule>,
}

/// A recording or alerting rule.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    pub expr: String,
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A rule file's top level.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    groups: Vec<RuleGroup>,
}

/// Metadata of an object the cluster's Prometheus selects: ours, plus the spec's labels
/// for its selectors (ours win, so pruning still finds the object).
fn selected_meta(m: &Model, c: &ClusterStack, name: String) -> ObjectMeta {
    let mut meta = meta(m, Component::Prometheus, name);
    let mut labels = c.labels.clone();
    labels.extend(meta.labels.take().unwrap_or_default());
    meta.labels = Some(labels);
    meta
}

/// A PodMonitor each for the simulator (the F1-game gateway with `source.type: game`)
/// and the processor: port `http`, `/metrics`, the jobs named as in the race's own
/// Prometheus, every series labelled with the race.
pub fn pod_monitors(m: &Model, c: &ClusterStack) -> Vec<PodMonitor> {
    let set = |label: &str, value: &str| Relabeling {
        action: "replace".into(),
        target_label: label.into(),
        replacement: value.into(),
    };
    let source = source_job(m).map(|(component, job, _)| (component, job));
    source
        .into_iter()
        .chain([(Component::Processor, PROCESSOR_JOB)])
        .map(|(component, job)| PodMonitor {
            metadata: selected_meta(m, c, name(m, component)),
            spec: PodMonitorSpec {
                selector: LabelSelector {
                    match_labels: Some(selector(m, component)),
                    ..LabelSelector::default()
                },
                pod_metrics_endpoints: vec![PodMetricsEndpoint {
                    port: "http".into(),
                    path: "/metrics".into(),
                    interval: SCRAPE_INTERVAL.into(),
                    relabelings: vec![set("job", job), set(RACE_LABEL, &m.name)],
                }],
            },
        })
        .collect()
}

/// The rules of the race's own Prometheus ([`rules`]), confined to the race.
pub fn rule_groups(m: &Model) -> Vec<RuleGroup> {
    let file: RuleFile = serde_yaml::from_str(&rules(m)).expect("rules.yaml is a rule file");
    let scope = Scope::of(m);
    let race = [
        ("namespace".to_string(), m.namespace.clone()),
        (RACE_LABEL.to_string(), m.name.clone()),
    ];
    file.groups
        .into_iter()
        .map(|g| RuleGroup {
            name: g.name,
            rules: g
                .rules
                .into_iter()
                .map(|r| {
                    let mut labels = r.labels;
                    labels.extend(race.clone());
                    Rule {
                        expr: scope.apply(&r.expr),
                        labels,
                        ..r
                    }
                })
                .collect(),
        })
        .collect()
}

/// The PrometheusRule `<race>-rules`.
pub fn prometheus_rule(m: &Model, c: &ClusterStack) -> PrometheusRule {
    PrometheusRule {
        metadata: selected_meta(m, c, format!("{}-rules", m.name)),
        spec: PrometheusRuleSpec {
            groups: rule_groups(m),
        },
    }
}

#[cfg(test)]
mod tests {
    use crate::children::fixtures::*;

    /// Prometheus Operator mode builds two PodMonitors and a PrometheusRule carrying the
    /// spec's selector labels, and no Prometheus or Grafana of the race's own.
    #[test]
    fn monitors_and_rules_for_the_cluster_prometheus() {
        let c = po_children(PROMETHEUS_OPERATOR);
        let names: Vec<_> = c
            .deployments
            .iter()
            .map(|d| d.metadata.name.clone().unwrap())
            .collect();
        assert_eq!(names, ["monza-simulator", "monza-processor"]);
        assert!(c.roles.is_empty() && c.service_accounts.is_empty());
        assert_eq!(c.pod_monitors.len(), 2);
        for pm in &c.pod_monitors {
            let labels = pm.metadata.labels.as_ref().unwrap();
            assert_eq!(labels["release"], "kube-prometheus-stack");
            assert_eq!(labels["app.kubernetes.io/instance"], "monza");
            let ep = &pm.spec.pod_metrics_endpoints[0];
            assert_eq!((ep.port.as_str(), ep.path.as_str()), ("http", "/metrics"));
        }
        let processor = &c.pod_monitors[1];
        assert_eq!(
            processor.spec.selector.match_labels.as_ref().unwrap()["app.kubernetes.io/component"],
            "processor"
        );
        let relabel = &processor.spec.pod_metrics_endpoints[0].relabelings;
        assert_eq!(
            (
                relabel[0].target_label.as_str(),
                relabel[0].replacement.as_str()
            ),
            ("job", "pitstop-processor")
        );
        assert_eq!(
            (
                relabel[1].target_label.as_str(),
                relabel[1].replacement.as_str()
            ),
            ("race", "monza")
        );
        // Nothing drops namespace or pod: prometheus-adapter maps them to the processor pods.
        assert!(
            relabel
                .iter()
                .all(|r| r.target_label != "namespace" && r.target_label != "pod")
        );
        assert_eq!(c.prometheus_rules.len(), 1);
        assert_eq!(
            c.prometheus_rules[0].metadata.labels.as_ref().unwrap()["release"],
            "kube-prometheus-stack"
        );
        golden(
            "prometheus-operator",
            &format!(
                "{}---\n{}",
                c.pod_monitors
                    .iter()
                    .map(|p| serde_yaml::to_string(p).unwrap())
                    .collect::<Vec<_>>()
                    .join("---\n"),
                serde_yaml::to_string(&c.prometheus_rules[0]).unwrap()
            ),
        );
    }

    /// The PrometheusRule holds every rule of the owned Prometheus, in the same groups and
    /// order, each selector confined to the race and each result labelled with it.
    #[test]
    fn the_rules_are_the_owned_ones_confined_to_the_race() {
        use crate::children::monitoring::prometheus_config::rules;
        let m = validate(
            &race(PROMETHEUS_OPERATOR),
            &seen(&[], false).with_prometheus_operator(),
            &images(),
        )
        .unwrap();
        let owned: serde_yaml::Value = serde_yaml::from_str(&rules(&m)).unwrap();
        let groups = super::rule_groups(&m);
        let owned_groups = owned["groups"].as_sequence().unwrap();
        assert_eq!(groups.len(), owned_groups.len());
        for (g, o) in groups.iter().zip(owned_groups) {
            assert_eq!(g.name, o["name"].as_str().unwrap());
            let o = o["rules"].as_sequence().unwrap();
            assert_eq!(g.rules.len(), o.len(), "{}", g.name);
            for (r, o) in g.rules.iter().zip(o) {
                assert_eq!(r.record.as_deref(), o["record"].as_str());
                assert_eq!(r.alert.as_deref(), o["alert"].as_str());
                assert_eq!(r.labels["namespace"], "racing");
                assert_eq!(r.labels["race"], "monza");
                if let Some(severity) = o["labels"]["severity"].as_str() {
                    assert_eq!(r.labels["severity"], severity);
                }
                let any_selector = r.expr.contains("race=\"monza\"")
                    || r.expr.contains("pod=~\"monza-")
                    || r.expr.starts_with("vector(");
                assert!(any_selector, "{}: {}", g.name, r.expr);
            }
        }
    }
}
