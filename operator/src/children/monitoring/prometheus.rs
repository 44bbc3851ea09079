//! The race's Prometheus: a ServiceAccount with a Role that lets it discover this race's
//! pods and read their container metrics from the operator (nothing cluster-wide), a
//! ConfigMap with `prometheus.yml` and the rules, a single-replica Deployment whose pod
//! template carries a hash of that ConfigMap (a changed configuration rolls the pod) and a
//! token for the operator, and a Service on :9090.

use super::prometheus_config::{
    Discovery, OPERATOR_TOKEN_DIR, OPERATOR_TOKEN_FILE, Options, prometheus_config, rules,
};
use crate::access::{AUDIENCE, CADVISOR_PERMISSION};
use crate::children::hash::config_hash;
use crate::children::meta::{Component, meta, name};
use crate::children::pod::{
    container_security, http_probe, pod_security, port, resources, single_pod,
};
use crate::children::ports;
use crate::children::service::service;
use crate::model::{Model, OwnedStack};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, EmptyDirVolumeSource, KeyToPath, PodSpec,
    ProjectedVolumeSource, Service, ServiceAccount, ServiceAccountTokenProjection, Volume,
    VolumeMount, VolumeProjection,
};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use std::collections::BTreeMap;

pub const PORT: i32 = ports::PROMETHEUS;
/// uid/gid `nobody` of the official image.
const UID: i64 = 65534;
const C: Component = Component::Prometheus;
/// Lifetime of the token for the operator; the kubelet renews it at 80 %.
const OPERATOR_TOKEN_SECONDS: i64 = 3600;

/// The objects of a race's Prometheus.
pub struct Objects {
    pub service_account: ServiceAccount,
    pub role: Role,
    pub role_binding: RoleBinding,
    pub config_map: ConfigMap,
    pub deployment: Deployment,
    pub service: Service,
}

pub fn objects(m: &Model, mon: &OwnedStack) -> Objects {
    let n = name(m, C);
    let config_map = ConfigMap {
        metadata: meta(m, C, n.clone()),
        data: Some(BTreeMap::from([
            (
                "prometheus.yml".into(),
                prometheus_config(m, &Discovery::Kubernetes, &Options::default()),
            ),
            ("rules.yaml".into(), rules(m)),
        ])),
        ..ConfigMap::default()
    };
    Objects {
        service_account: ServiceAccount {
            metadata: meta(m, C, n.clone()),
            ..ServiceAccount::default()
        },
        // Pod discovery is all Prometheus asks of the API server. The second rule is
        // what the operator checks before serving this namespace's container metrics
        // (`crate::access`); the API server itself serves nothing for it.
        role: Role {
            metadata: meta(m, C, n.clone()),
            rules: Some(vec![
                PolicyRule {
                    api_groups: Some(vec![String::new()]),
                    resources: Some(vec!["pods".into()]),
                    verbs: vec!["get".into(), "list".into(), "watch".into()],
                    ..PolicyRule::default()
                },
                PolicyRule {
                    api_groups: Some(vec![CADVISOR_PERMISSION.group.into()]),
                    resources: Some(vec![CADVISOR_PERMISSION.rbac_resource()]),
                    verbs: vec![CADVISOR_PERMISSION.verb.into()],
                    ..PolicyRule::default()
                },
            ]),
        },
        role_binding: RoleBinding {
            metadata: meta(m, C, n.clone()),
            role_ref: RoleRef {
                api_group: Some("rbac.authorization.k8s.io".into()),
                kind: "Role".into(),
                name: n.clone(),
            },
            subjects: Some(vec![Subject {
                kind: "ServiceAccount".into(),
                name: n.clone(),
                namespace: Some(m.namespace.clone()),
                ..Subject::default()
            }]),
        },
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
        read_only: Some(volume != "data"),
        ..VolumeMount::default()
    };
    let key = |k: &str, p: &str| KeyToPath {
        key: k.into(),
        path: p.into(),
        ..KeyToPath::default()
    };
    single_pod(
        m,
        C,
        hash,
        // One TSDB directory: never two pods writing it during a rollout.
        Some(DeploymentStrategy {
            type_: Some("Recreate".into()),
            ..DeploymentStrategy::default()
        }),
        PodSpec {
            service_account_name: Some(n.clone()),
            // Pod discovery authenticates with the default token.
            automount_service_account_token: Some(true),
            security_context: Some(pod_security(UID)),
            containers: vec![Container {
                name: "prometheus".into(),
                image: Some(mon.prometheus_image.clone()),
                args: Some(vec![
                    "--config.file=/etc/prometheus/prometheus.yml".into(),
                    "--storage.tsdb.path=/prometheus".into(),
                    format!("--storage.tsdb.retention.time={}", mon.retention),
                    format!("--web.listen-address=:{PORT}"),
                ]),
                ports: Some(vec![port("http", PORT)]),
                liveness_probe: Some(http_probe("/-/healthy", PORT, 10, 3)),
                readiness_probe: Some(http_probe("/-/ready", PORT, 5, 3)),
                resources: Some(resources(&None, ("100m", "256Mi"), ("1", "1Gi"))),
                security_context: Some(container_security()),
                volume_mounts: Some(vec![
                    mount("config", "/etc/prometheus"),
                    mount("data", "/prometheus"),
                    mount("operator-token", OPERATOR_TOKEN_DIR),
                ]),
                ..Container::default()
            }],
            volumes: Some(vec![
                Volume {
                    name: "config".into(),
                    config_map: Some(ConfigMapVolumeSource {
                        name: n,
                        items: Some(vec![
                            key("prometheus.yml", "prometheus.yml"),
                            key("rules.yaml", "rules/rules.yaml"),
                        ]),
                        ..ConfigMapVolumeSource::default()
                    }),
                    ..Volume::default()
                },
                // A race's metrics live as long as its Prometheus pod; the
                // post-race pipeline keeps what matters in PostgreSQL.
                Volume {
                    name: "data".into(),
                    empty_dir: Some(EmptyDirVolumeSource {
                        size_limit: Some(Quantity("2Gi".into())),
                        ..EmptyDirVolumeSource::default()
                    }),
                    ..Volume::default()
                },
                // The token sent to the operator's /cadvisor: bound to the operator's
                // audience, so it cannot be replayed against the API server (it travels
                // over plain HTTP), and short-lived.
                Volume {
                    name: "operator-token".into(),
                    projected: Some(ProjectedVolumeSource {
                        sources: Some(vec![VolumeProjection {
                            service_account_token: Some(ServiceAccountTokenProjection {
                                audience: Some(AUDIENCE.into()),
                                expiration_seconds: Some(OPERATOR_TOKEN_SECONDS),
                                path: OPERATOR_TOKEN_FILE.into(),
                            }),
                            ..VolumeProjection::default()
                        }]),
                        ..ProjectedVolumeSource::default()
                    }),
                    ..Volume::default()
                },
            ]),
            ..PodSpec::default()
        },
    )
}

#[cfg(test)]
mod tests {
    use crate::children::fixtures::*;
    /// Prometheus may only discover pods in the race's namespace; Grafana's password comes
    /// from the generated Secret; both pods roll when their configuration changes.
    #[test]
    fn monitoring_is_least_privilege_and_rolls_on_config_change() {
        let c = children(MINIMAL, &[]);
        let role = &c.roles[0];
        assert_eq!(role.metadata.name.as_deref(), Some("monza-prometheus"));
        let rules = role.rules.as_ref().unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(
            rules[0].resources.as_deref(),
            Some(&["pods".to_string()][..])
        );
        assert_eq!(rules[0].verbs, ["get", "list", "watch"]);
        // Exactly what the operator's SubjectAccessReview asks before serving /cadvisor.
        let p = crate::access::CADVISOR_PERMISSION;
        assert_eq!(
            rules[1].api_groups.as_deref(),
            Some(&[p.group.to_string()][..])
        );
        assert_eq!(
            rules[1].resources.as_deref(),
            Some(&["pods/metrics".to_string()][..])
        );
        assert_eq!(rules[1].verbs, [p.verb]);
        assert!(rules[1].resource_names.is_none() && rules[1].non_resource_urls.is_none());
        let binding = &c.role_bindings[0];
        assert_eq!(binding.role_ref.name, "monza-prometheus");
        assert_eq!(
            binding.subjects.as_ref().unwrap()[0].name,
            "monza-prometheus"
        );

        let grafana = c
            .deployments
            .iter()
            .find(|d| d.metadata.name.as_deref() == Some("monza-grafana"))
            .unwrap();
        let pod = grafana
            .spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap();
        let env = pod.containers[0].env.as_ref().unwrap();
        let password = env
            .iter()
            .find(|e| e.name == "GF_SECURITY_ADMIN_PASSWORD")
            .unwrap();
        assert!(password.value.is_none());
        let secret = password
            .value_from
            .as_ref()
            .unwrap()
            .secret_key_ref
            .as_ref()
            .unwrap();
        assert_eq!(
            (secret.name.as_str(), secret.key.as_str()),
            ("monza-grafana", "admin-password")
        );

        let hash = |c: &Children, name: &str| {
            c.deployments
                .iter()
                .find(|d| d.metadata.name.as_deref() == Some(name))
                .unwrap()
                .spec
                .as_ref()
                .unwrap()
                .template
                .metadata
                .as_ref()
                .unwrap()
                .annotations
                .as_ref()
                .unwrap()["pitstop.io/config-hash"]
                .clone()
        };
        // A different autoscaling maximum changes the rules, so Prometheus rolls; Grafana not.
        let other = children(
            "circuit: monza\nprocessor:\n  autoscaling: {maxReplicas: 9}",
            &[],
        );
        assert_ne!(
            hash(&c, "monza-prometheus"),
            hash(&other, "monza-prometheus")
        );
        assert_eq!(hash(&c, "monza-grafana"), hash(&other, "monza-grafana"));
        let retention = children("circuit: monza\nmonitoring: {retention: 7d}", &[]);
        let args = retention
            .deployments
            .iter()
            .find(|d| d.metadata.name.as_deref() == Some("monza-prometheus"))
            .unwrap()
            .spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap()
            .containers[0]
            .args
            .clone()
            .unwrap();
        assert!(args.contains(&"--storage.tsdb.retention.time=7d".to_string()));
    }

    /// The race's Prometheus sends the operator a token of its own service account, bound to
    /// the operator's audience and mounted where the cadvisor job reads it on every scrape.
    #[test]
    fn prometheus_presents_an_operator_token() {
        use crate::access::AUDIENCE;
        use crate::children::monitoring::prometheus_config::{
            OPERATOR_TOKEN_DIR, OPERATOR_TOKEN_FILE,
        };
        let c = children(MINIMAL, &[]);
        let d = c
            .deployments
            .iter()
            .find(|d| d.metadata.name.as_deref() == Some("monza-prometheus"))
            .unwrap();
        let pod = d.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
        assert_eq!(
            pod.service_account_name.as_deref(),
            Some("monza-prometheus")
        );
        assert_eq!(pod.automount_service_account_token, Some(true));
        let volume = pod
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == "operator-token")
            .expect("a token volume");
        let sources = volume.projected.as_ref().unwrap().sources.as_ref().unwrap();
        let projection = sources[0].service_account_token.as_ref().unwrap();
        assert_eq!(projection.audience.as_deref(), Some(AUDIENCE));
        assert_eq!(projection.path, OPERATOR_TOKEN_FILE);
        assert!(projection.expiration_seconds.unwrap() <= 3600);
        let mount = pod.containers[0]
            .volume_mounts
            .iter()
            .flatten()
            .find(|m| m.name == "operator-token")
            .unwrap();
        assert_eq!(mount.mount_path, OPERATOR_TOKEN_DIR);
        assert_eq!(mount.read_only, Some(true));

        let config_map = c
            .config_maps
            .iter()
            .find(|m| m.metadata.name.as_deref() == Some("monza-prometheus"))
            .unwrap();
        let config: serde_yaml::Value =
            serde_yaml::from_str(&config_map.data.as_ref().unwrap()["prometheus.yml"]).unwrap();
        let cadvisor = config["scrape_configs"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|j| j["job_name"] == "cadvisor")
            .unwrap();
        assert_eq!(
            cadvisor["authorization"]["credentials_file"].as_str(),
            Some(format!("{OPERATOR_TOKEN_DIR}/{OPERATOR_TOKEN_FILE}").as_str())
        );
    }
}
