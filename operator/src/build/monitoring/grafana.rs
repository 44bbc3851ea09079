//! The race's Grafana: admin password from a generated Secret (never admin/admin), the
//! Prometheus datasource and the three dashboards provisioned from one ConfigMap (hashed
//! into the pod template so a change rolls the pod), anonymous access and sign-up off,
//! no calls home; a Service on :3000.

use super::dashboards::{DASHBOARDS, DATASOURCE_UID};
use crate::build::pod::{
    container_security, env, env_secret, http_probe, pod_security, port, resources,
};
use crate::build::{Component, config_hash, meta, name, service};
use crate::model::{Model, Monitoring};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, EmptyDirVolumeSource, KeyToPath, PodSpec, Service,
    Volume, VolumeMount,
};
use serde_json::json;
use std::collections::BTreeMap;

pub const PORT: i32 = 3000;
/// uid/gid `grafana` of the official image.
const UID: i64 = 472;
const C: Component = Component::Grafana;
/// Key of the generated admin password in the Secret [`secret_name`].
pub const PASSWORD_KEY: &str = "admin-password";
const DASHBOARD_DIR: &str = "/var/lib/grafana/dashboards";

/// The generated Secret holding the admin password.
pub fn secret_name(race: &str) -> String {
    format!("{race}-grafana")
}

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
            "url": format!("http://{}:{}", name(m, Component::Prometheus), super::prometheus::PORT),
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

pub fn objects(m: &Model, mon: &Monitoring) -> Objects {
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

fn deployment(m: &Model, mon: &Monitoring, hash: String) -> Deployment {
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
    super::single_pod(
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
                        &secret_name(&m.name),
                        PASSWORD_KEY,
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
