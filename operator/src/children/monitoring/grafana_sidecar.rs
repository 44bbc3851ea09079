//! `monitoring.mode: prometheusOperator`: the race's three dashboards for the cluster's
//! Grafana, one ConfigMap each, labelled for Grafana's dashboard sidecar (kube-prometheus-
//! stack: `grafana_dashboard: "1"`) and annotated with the folder.
//!
//! The cluster's Grafana holds every race's dashboards and its own datasources, so each
//! race's copy of a dashboard differs from the owned one ([`DASHBOARDS`]): a uid and title
//! of its own (`<uid>-<hash of namespace/race>`, `<title> · <namespace>/<race>`), the
//! Prometheus datasource chosen by a `datasource` variable (`${datasource}`, the default
//! Prometheus datasource unless the viewer picks another) instead of the owned
//! datasource's uid, and every query confined to the race ([`super::promql`]). The data
//! key is `<namespace>-<race>-<file>`: the sidecar writes every ConfigMap's keys into one
//! directory.

use super::grafana::{DASHBOARDS, DATASOURCE_UID, Dashboard};
use super::promql::Scope;
use crate::children::hash::fnv1a;
use crate::children::meta::{Component, meta};
use crate::model::{ClusterStack, Model};
use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// What every panel's datasource says in the cluster's Grafana: the dashboard variable.
pub const DATASOURCE_VARIABLE: &str = "${datasource}";

/// Name of the ConfigMap holding one dashboard: `<race>-dashboard-<file stem>`.
fn config_map_name(m: &Model, d: &Dashboard) -> String {
    format!("{}-dashboard-{}", m.name, d.file.trim_end_matches(".json"))
}

/// The ConfigMaps of the race's dashboards, one per dashboard.
pub fn config_maps(m: &Model, c: &ClusterStack) -> Vec<ConfigMap> {
    DASHBOARDS
        .iter()
        .map(|d| {
            let mut metadata = meta(m, Component::Grafana, config_map_name(m, d));
            let (key, value) = &c.dashboard_label;
            metadata
                .labels
                .get_or_insert_with(BTreeMap::new)
                .insert(key.clone(), value.clone());
            let (annotation, folder) = &c.dashboard_folder;
            metadata.annotations = Some(BTreeMap::from([(annotation.clone(), folder.clone())]));
            let json = serde_json::to_string_pretty(&dashboard(m, d)).expect("serializes") + "\n";
            ConfigMap {
                metadata,
                data: Some(BTreeMap::from([(
                    format!("{}-{}-{}", m.namespace, m.name, d.file),
                    json,
                )])),
                ..ConfigMap::default()
            }
        })
        .collect()
}

/// One dashboard as the cluster's Grafana shows it for this race.
pub fn dashboard(m: &Model, d: &Dashboard) -> Value {
    let mut v: Value = serde_json::from_str(d.json).expect("dashboard JSON parses");
    let scope = Scope::of(m);
    rewrite(&mut v, &scope);
    let race = format!("{}/{}", m.namespace, m.name);
    let hash = fnv1a(race.bytes()) as u32;
    // Grafana's uids are at most 40 characters; the longest here is 35.
    v["uid"] = json!(format!(
        "{}-{hash:08x}",
        v["uid"].as_str().unwrap_or("pitstop")
    ));
    v["title"] = json!(format!(
        "{} · {race}",
        v["title"].as_str().unwrap_or("pitstop")
    ));
    if let Some(tags) = v["tags"].as_array_mut() {
        tags.push(json!(race));
    }
    let variable = json!({
        "name": "datasource",
        "label": "Prometheus",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "includeAll": false,
        "multi": false,
        "refresh": 1,
        "regex": "",
        "options": [],
    });
    match v["templating"]["list"].as_array_mut() {
        Some(list) => list.insert(0, variable),
        None => v["templating"] = json!({"list": [variable]}),
    }
    v
}

/// Points every reference to the owned datasource at the variable and confines every
/// query (panel targets' `expr`, query variables' `label_values(...)`) to the race.
fn rewrite(v: &mut Value, scope: &Scope) {
    match v {
        Value::Object(map) => {
            let query_variable = map.get("type").and_then(Value::as_str) == Some("query")
                && map.contains_key("definition");
            for (k, x) in map.iter_mut() {
                match (k.as_str(), x) {
                    ("uid", Value::String(s)) if s == DATASOURCE_UID => {
                        *s = DATASOURCE_VARIABLE.into()
                    }
                    ("expr", Value::String(s)) => *s = scope.apply(s),
                    ("definition", Value::String(s)) if query_variable => {
                        *s = label_values(s, scope)
                    }
                    ("query", Value::String(s)) if query_variable => *s = label_values(s, scope),
                    ("query", Value::Object(q)) if query_variable => {
                        if let Some(Value::String(s)) = q.get_mut("query") {
                            *s = label_values(s, scope);
                        }
                    }
                    (_, x) => rewrite(x, scope),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|x| rewrite(x, scope)),
        _ => {}
    }
}

/// A variable query `label_values(<selector>, <label>)` (or `label_values(<label>)`)
/// with the selector confined to the race; other queries are PromQL.
fn label_values(q: &str, scope: &Scope) -> String {
    let Some(args) = q
        .trim()
        .strip_prefix("label_values(")
        .and_then(|r| r.strip_suffix(')'))
    else {
        return scope.apply(q);
    };
    match args.rsplit_once(',') {
        Some((selector, label)) => {
            format!("label_values({}, {})", scope.apply(selector), label.trim())
        }
        None => format!("label_values({{{}}}, {})", scope.matchers(), args.trim()),
    }
}

#[cfg(test)]
mod tests {
    use crate::children::fixtures::*;
    use crate::children::monitoring::grafana::DASHBOARDS;

    /// Each dashboard is a ConfigMap with the sidecar's label and folder annotation, a uid
    /// and title of the race's own, the datasource variable on every panel and every query
    /// confined to the race.
    #[test]
    fn dashboards_for_the_grafana_sidecar() {
        let c = po_children(PROMETHEUS_OPERATOR);
        assert_eq!(c.config_maps.len(), DASHBOARDS.len());
        let mut uids = BTreeSet::new();
        for (cm, d) in c.config_maps.iter().zip(&DASHBOARDS) {
            let labels = cm.metadata.labels.as_ref().unwrap();
            assert_eq!(labels["grafana_dashboard"], "1", "the sidecar's label");
            assert_eq!(labels["app.kubernetes.io/component"], "grafana");
            assert_eq!(
                cm.metadata.annotations.as_ref().unwrap()["grafana_folder"],
                "pitstop"
            );
            let data = cm.data.as_ref().unwrap();
            let key = format!("racing-monza-{}", d.file);
            let v: serde_json::Value = serde_json::from_str(&data[&key]).unwrap();
            let uid = v["uid"].as_str().unwrap();
            assert!(uid.len() <= 40 && uid.starts_with("pitstop-"), "{uid}");
            uids.insert(uid.to_string());
            assert!(v["title"].as_str().unwrap().ends_with(" · racing/monza"));
            assert_eq!(v["templating"]["list"][0]["type"], "datasource");
            let text = data[&key].as_str();
            assert!(
                !text.contains("pitstop-prometheus"),
                "no owned datasource uid"
            );
            for p in v["panels"].as_array().unwrap() {
                assert_eq!(p["datasource"]["uid"], "${datasource}");
                for t in p["targets"].as_array().unwrap() {
                    let expr = t["expr"].as_str().unwrap();
                    assert!(
                        expr.contains("race=\"monza\"")
                            || expr.contains("pod=~\"monza-")
                            || expr.contains("pitstop_operator_"),
                        "{expr}"
                    );
                }
            }
        }
        assert_eq!(uids.len(), 3);
        let team = &serde_json::from_str::<serde_json::Value>(
            &c.config_maps[0].data.as_ref().unwrap()["racing-monza-ferrari-telemetry.json"],
        )
        .unwrap()["templating"]["list"][1];
        assert_eq!(
            team["query"]["query"],
            "label_values(pitstop_car_speed_kph{namespace=\"racing\",race=\"monza\"}, team)"
        );
        golden(
            "prometheus-operator-dashboards",
            &c.config_maps
                .iter()
                .map(|m| serde_yaml::to_string(m).unwrap())
                .collect::<Vec<_>>()
                .join("---\n"),
        );
    }

    /// The sidecar's label and folder annotation come from the spec; another race (or
    /// namespace) gets other uids, so races never overwrite each other's dashboards.
    #[test]
    fn sidecar_label_and_folder_are_configurable() {
        let spec = "monitoring:\n  mode: prometheusOperator\n  prometheusOperator:\n    dashboards: {label: dashboards, labelValue: pitstop, folderAnnotation: k8s-sidecar-target-directory, folder: /tmp/dashboards/league}";
        let c = po_children(spec);
        let cm = &c.config_maps[1];
        assert_eq!(
            cm.metadata.labels.as_ref().unwrap()["dashboards"],
            "pitstop"
        );
        assert!(
            !cm.metadata
                .labels
                .as_ref()
                .unwrap()
                .contains_key("grafana_dashboard")
        );
        assert_eq!(
            cm.metadata.annotations.as_ref().unwrap()["k8s-sidecar-target-directory"],
            "/tmp/dashboards/league"
        );
        let mut other = race(spec);
        other.metadata.name = Some("imola".into());
        let m = validate(
            &other,
            &seen(&[], false).with_prometheus_operator(),
            &images(),
        )
        .unwrap();
        let d = crate::children::monitoring::grafana_sidecar::dashboard(&m, &DASHBOARDS[0]);
        let mine = crate::children::monitoring::grafana_sidecar::dashboard(
            &validate(
                &race(spec),
                &seen(&[], false).with_prometheus_operator(),
                &images(),
            )
            .unwrap(),
            &DASHBOARDS[0],
        );
        assert_ne!(d["uid"], mine["uid"]);
    }
}
