//! The race's Grafana: admin password from a generated Secret (never admin/admin, see
//! [`crate::children::secrets`]), the Prometheus datasource and the three dashboards
//! (JSON in `dashboards/`) provisioned from one ConfigMap (hashed
//! into the pod template so a change rolls the pod), anonymous access and sign-up off,
//! no calls home; a Service on :3000.

use crate::children::hash::config_hash;
use crate::children::meta::{Component, meta, name};
use crate::children::pod::{
    container_security, env, env_secret, http_probe, pod_security, port, resources, single_pod,
};
use crate::children::ports;
use crate::children::secrets::{GRAFANA_PASSWORD_KEY, grafana_secret_name};
use crate::children::service::service;
use crate::model::{Model, OwnedStack};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, EmptyDirVolumeSource, KeyToPath, PodSpec, Service,
    Volume, VolumeMount,
};
use serde_json::json;
use std::collections::BTreeMap;

pub const PORT: i32 = ports::GRAFANA;
/// uid/gid `grafana` of the official image.
const UID: i64 = 472;
const C: Component = Component::Grafana;
const DASHBOARD_DIR: &str = "/var/lib/grafana/dashboards";

// The three provisioned dashboards, kept as Grafana JSON in `dashboards/` and embedded
// at build time. Every panel queries the race's Prometheus through the datasource uid
// [`DATASOURCE_UID`]; the end-to-end test runs every panel query against a real
// Prometheus and fails on one that returns nothing.

/// uid of the provisioned Prometheus datasource the dashboards point at.
pub const DATASOURCE_UID: &str = "pitstop-prometheus";

/// A dashboard file: its name in the ConfigMap and its JSON.
pub struct Dashboard {
    pub file: &'static str,
    pub json: &'static str,
}

pub const DASHBOARDS: [Dashboard; 3] = [
    Dashboard {
        file: "ferrari-telemetry.json",
        json: include_str!("dashboards/ferrari-telemetry.json"),
    },
    Dashboard {
        file: "system-performance.json",
        json: include_str!("dashboards/system-performance.json"),
    },
    Dashboard {
        file: "container-health.json",
        json: include_str!("dashboards/container-health.json"),
    },
];

/// The objects of a race's Grafana.
pub struct Objects {
    pub config_map: ConfigMap,
    pub deployment: Deployment,
    pub service: Service,
}

fn provisioning(m: &Model) -> BTreeMap<String, String> {
    let datasources = json!({
        "apiVersion": 1,
        "datasources": [{
            "name": "Prometheus",
            "uid": DATASOURCE_UID,
            "type": "prometheus",
            "access": "proxy",
            "url": format!("http://{}:{}", name(m, Component::Prometheus), ports::PROMETHEUS),
            "isDefault": true,
            "editable": false,
            "jsonData": {"timeInterval": "5s"},
        }],
    });
    let providers = json!({
        "apiVersion": 1,
        "providers": [{
            "name": "pitstop",
            "folder": "pitstop",
            "type": "file",
            "disableDeletion": true,
            "allowUiUpdates": false,
            "options": {"path": DASHBOARD_DIR},
        }],
    });
    let mut data = BTreeMap::from([
        (
            "datasources.yaml".to_string(),
            serde_yaml::to_string(&datasources).expect("serializes"),
        ),
        (
            "dashboards.yaml".to_string(),
            serde_yaml::to_string(&providers).expect("serializes"),
        ),
    ]);
    for d in &DASHBOARDS {
        data.insert(d.file.into(), d.json.into());
    }
    data
}

pub fn objects(m: &Model, mon: &OwnedStack) -> Objects {
    let config_map = ConfigMap {
        metadata: meta(m, C, name(m, C)),
        data: Some(provisioning(m)),
        ..ConfigMap::default()
    };
    Objects {
        deployment: deployment(m, mon, config_hash(&config_map)),
        service: service(m, C, PORT, "http"),
        config_map,
    }
}

fn deployment(m: &Model, mon: &OwnedStack, hash: String) -> Deployment {
    let n = name(m, C);
    let mount = |volume: &str, path: &str| VolumeMount {
        name: volume.into(),
        mount_path: path.into(),
        read_only: Some(!volume.ends_with("data") && volume != "tmp"),
        ..VolumeMount::default()
    };
    let items = |keys: Vec<&str>| {
        keys.into_iter()
            .map(|k| KeyToPath {
                key: k.into(),
                path: k.into(),
                ..KeyToPath::default()
            })
            .collect::<Vec<_>>()
    };
    let from_config = |volume: &str, keys: Vec<&str>| Volume {
        name: volume.into(),
        config_map: Some(ConfigMapVolumeSource {
            name: n.clone(),
            items: Some(items(keys)),
            ..ConfigMapVolumeSource::default()
        }),
        ..Volume::default()
    };
    let scratch = |volume: &str| Volume {
        name: volume.into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    };
    single_pod(
        m,
        C,
        hash,
        None,
        PodSpec {
            automount_service_account_token: Some(false),
            security_context: Some(pod_security(UID)),
            containers: vec![Container {
                name: "grafana".into(),
                image: Some(mon.grafana_image.clone()),
                env: Some(vec![
                    env("GF_SECURITY_ADMIN_USER", "admin"),
                    env_secret(
                        "GF_SECURITY_ADMIN_PASSWORD",
                        &grafana_secret_name(&m.name),
                        GRAFANA_PASSWORD_KEY,
                    ),
                    env("GF_AUTH_ANONYMOUS_ENABLED", "false"),
                    env("GF_USERS_ALLOW_SIGN_UP", "false"),
                    env("GF_ANALYTICS_REPORTING_ENABLED", "false"),
                    env("GF_ANALYTICS_CHECK_FOR_UPDATES", "false"),
                    env("GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES", "false"),
                    env("GF_PATHS_DATA", "/var/lib/grafana"),
                    env("GF_PATHS_LOGS", "/var/lib/grafana/log"),
                    env("GF_PATHS_PLUGINS", "/var/lib/grafana/plugins"),
                    env("GF_PATHS_PROVISIONING", "/etc/grafana/provisioning"),
                    env(
                        "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH",
                        format!("{DASHBOARD_DIR}/{}", DASHBOARDS[0].file),
                    ),
                ]),
                ports: Some(vec![port("http", PORT)]),
                liveness_probe: Some(http_probe("/api/health", PORT, 10, 3)),
                readiness_probe: Some(http_probe("/api/health", PORT, 5, 3)),
                resources: Some(resources(&None, ("50m", "128Mi"), ("500m", "512Mi"))),
                security_context: Some(container_security()),
                volume_mounts: Some(vec![
                    mount("data", "/var/lib/grafana"),
                    mount("tmp", "/tmp"),
                    mount("datasources", "/etc/grafana/provisioning/datasources"),
                    mount("providers", "/etc/grafana/provisioning/dashboards"),
                    mount("dashboards", DASHBOARD_DIR),
                ]),
                ..Container::default()
            }],
            volumes: Some(vec![
                scratch("data"),
                scratch("tmp"),
                from_config("datasources", vec!["datasources.yaml"]),
                from_config("providers", vec!["dashboards.yaml"]),
                from_config("dashboards", DASHBOARDS.iter().map(|d| d.file).collect()),
            ]),
            ..PodSpec::default()
        },
    )
}

#[cfg(test)]
mod tests {
    use crate::children::fixtures::*;
    /// The dashboards are valid Grafana JSON: stable uids, unique panel ids, every panel with
    /// a title, a unit and at least one query on the provisioned datasource.
    #[test]
    fn dashboards_are_well_formed() {
        use crate::children::monitoring::grafana::{DASHBOARDS, DATASOURCE_UID};
        let mut uids = Vec::new();
        for d in &DASHBOARDS {
            let v: serde_json::Value = serde_json::from_str(d.json).unwrap();
            let uid = v["uid"].as_str().unwrap();
            assert!(uid.starts_with("pitstop-"), "{uid}");
            uids.push(uid.to_string());
            assert!(!v["title"].as_str().unwrap().is_empty());
            let panels = v["panels"].as_array().unwrap();
            assert!(panels.len() >= 4, "{}", d.file);
            let mut ids = BTreeSet::new();
            for p in panels {
                let title = p["title"].as_str().unwrap_or_default();
                assert!(!title.is_empty(), "{}: panel without title", d.file);
                assert!(
                    ids.insert(p["id"].as_i64().unwrap()),
                    "{title}: duplicate id"
                );
                let unit = p["fieldConfig"]["defaults"]["unit"]
                    .as_str()
                    .unwrap_or_default();
                assert!(!unit.is_empty(), "{}: {title} has no unit", d.file);
                assert_eq!(p["datasource"]["uid"], DATASOURCE_UID, "{title}");
                let targets = p["targets"].as_array().unwrap();
                assert!(!targets.is_empty(), "{title}: no query");
                for t in targets {
                    assert!(!t["expr"].as_str().unwrap().is_empty(), "{title}");
                }
                let pos = &p["gridPos"];
                assert!(pos["w"].as_i64().unwrap() <= 24 && pos["h"].as_i64().unwrap() > 0);
            }
        }
        assert_eq!(
            uids,
            [
                "pitstop-ferrari-telemetry",
                "pitstop-system-performance",
                "pitstop-container-health"
            ]
        );
    }
}
