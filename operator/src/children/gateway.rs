//! `source.type: game`: the ingest gateway (`pitstop ingest`), one pod receiving the F1
//! game's UDP telemetry and posting it to the processor's `POST /telemetry`, and the UDP
//! Service the game sends to. Its probes, metrics and `/status` are served on TCP by a
//! separate ClusterIP Service ([`super::all`]), so that a NodePort or LoadBalancer opens
//! only the datagram port to the outside.

use super::meta::{Component, meta, name, selector};
use super::pod::{Workload, env, env_secret, flag, http_workload, resources};
use super::ports;
use super::service::url;
use crate::api::ServiceType;
use crate::model::{Game, Model};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentStrategy};
use k8s_openapi::api::core::v1::{ContainerPort, Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use pitstop_contract::{commands, env as var, flags};

const C: Component = Component::Gateway;
/// Name of the container's and the Service's UDP port.
const UDP_PORT: &str = "game";

fn args(m: &Model) -> Vec<String> {
    vec![
        commands::INGEST.into(),
        flag(flags::UDP),
        format!("0.0.0.0:{}", ports::GAME_UDP),
        flag(flags::API_URL),
        url(m, Component::Processor, ports::PROCESSOR),
        flag(flags::SESSION),
        m.name.clone(),
    ]
}

pub fn deployment(m: &Model, g: &Game) -> Deployment {
    http_workload(
        m,
        Workload {
            component: C,
            image: g.image.clone(),
            args: args(m),
            env: vec![
                env_secret(var::API_KEY, &m.api_key.name, &m.api_key.key),
                env(var::LOG_FORMAT, "json"),
            ],
            port: ports::GATEWAY,
            extra_ports: vec![ContainerPort {
                name: Some(UDP_PORT.into()),
                container_port: ports::GAME_UDP,
                protocol: Some("UDP".into()),
                ..ContainerPort::default()
            }],
            resources: resources(&g.resources, ("100m", "64Mi"), ("1", "256Mi")),
            // After the chequered flag nothing more is taken for the session: like the
            // simulator, the gateway gives its requests back.
            replicas: Some(if m.finished { 0 } else { 1 }),
            // One gateway per race: two would each post what the game sent them.
            strategy: Some(DeploymentStrategy {
                type_: Some("Recreate".into()),
                ..DeploymentStrategy::default()
            }),
            termination_grace_period_seconds: None,
            // The gateway talks to the processor only.
            volumes: None,
            mounts: None,
        },
    )
}

/// The Service the game sends its datagrams to: `<race>-gateway-udp`, of the spec's type.
/// Outside ClusterIP it keeps the sender's address (`externalTrafficPolicy: Local`):
/// otherwise the node's address replaces it and the NetworkPolicy's `allowedClients`
/// could not tell the game's PC from anyone else.
pub fn udp_service(m: &Model, g: &Game) -> Service {
    let exposed = g.service_type != ServiceType::ClusterIP;
    Service {
        metadata: meta(m, C, format!("{}-udp", name(m, C))),
        spec: Some(ServiceSpec {
            type_: Some(g.service_type.as_str().into()),
            external_traffic_policy: exposed.then(|| "Local".into()),
            selector: Some(selector(m, C)),
            ports: Some(vec![ServicePort {
                name: Some(UDP_PORT.into()),
                port: g.port,
                node_port: g.node_port,
                target_port: Some(IntOrString::String(UDP_PORT.into())),
                protocol: Some("UDP".into()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

#[cfg(test)]
mod tests {
    use crate::children::fixtures::*;
    use serde_json::json;

    /// A game race: the gateway (args of the contract, the API key from the processor's
    /// Secret, http on 8000 and game on UDP 20777, one replica, Recreate) in place of the
    /// simulator; a UDP NodePort Service keeping the sender's address; a ClusterIP Service
    /// for :8000; a NetworkPolicy admitting datagrams from the listed CIDRs only, :8000
    /// from Prometheus and the operator, out to the processor and DNS; the processor
    /// admitting the gateway, no longer the simulator.
    #[test]
    fn a_game_race_gets_the_gateway_instead_of_the_simulator() {
        let c = children(GAME, &[]);
        assert_eq!(
            names(&c.deployments),
            [
                "monza-gateway",
                "monza-processor",
                "monza-prometheus",
                "monza-grafana"
            ]
        );
        let d = deployment(&c, "monza-gateway");
        let spec = d.spec.as_ref().unwrap();
        assert_eq!(spec.replicas, Some(1));
        assert_eq!(
            spec.strategy.as_ref().unwrap().type_.as_deref(),
            Some("Recreate")
        );
        let pod = spec.template.spec.as_ref().unwrap();
        pss::assert_restricted(pod, "gateway");
        let ctr = serde_json::to_value(&pod.containers[0]).unwrap();
        assert_eq!(
            ctr["args"],
            json!([
                "ingest",
                "--udp",
                "0.0.0.0:20777",
                "--api-url",
                "http://monza-processor.racing.svc:8001",
                "--session",
                "monza"
            ])
        );
        assert_eq!(
            ctr["env"][0],
            json!({"name": "STREAM_PROCESSOR_API_KEY", "valueFrom": {"secretKeyRef":
                   {"name": "monza-api-key", "key": "api-key", "optional": false}}})
        );
        assert_eq!(
            ctr["ports"],
            json!([{"name": "http", "containerPort": 8000, "protocol": "TCP"},
                   {"name": "game", "containerPort": 20777, "protocol": "UDP"}])
        );
        assert_eq!(
            (
                ctr["readinessProbe"]["httpGet"]["path"].as_str(),
                ctr["livenessProbe"]["httpGet"]["path"].as_str()
            ),
            (Some("/ready"), Some("/health"))
        );

        assert_eq!(
            names(&c.services)[..3],
            ["monza-gateway", "monza-gateway-udp", "monza-processor"]
        );
        let udp = serde_json::to_value(&c.services[1].spec).unwrap();
        assert_eq!(
            (&udp["type"], &udp["externalTrafficPolicy"]),
            (&json!("NodePort"), &json!("Local"))
        );
        assert_eq!(
            udp["ports"],
            json!([{"name": "game", "port": 20777, "nodePort": 30777,
                    "targetPort": "game", "protocol": "UDP"}])
        );
        let http = serde_json::to_value(&c.services[0].spec).unwrap();
        assert_eq!(
            http["type"],
            json!(null),
            "ClusterIP: not exposed with the datagrams"
        );
        assert_eq!(http["ports"][0]["port"], 8000);

        let np = c
            .network_policies
            .iter()
            .find(|n| n.metadata.name.as_deref() == Some("monza-gateway"))
            .unwrap();
        let np = serde_json::to_value(np.spec.as_ref().unwrap()).unwrap();
        assert_eq!(
            np["ingress"][0],
            json!({"from": [{"ipBlock": {"cidr": "192.168.1.0/24"}}, {"ipBlock": {"cidr": "10.0.0.7/32"}}],
                   "ports": [{"port": 20777, "protocol": "UDP"}]})
        );
        assert_eq!(
            np["ingress"][1]["ports"],
            json!([{"port": 8000, "protocol": "TCP"}])
        );
        let http_peers = np["ingress"][1]["from"].to_string();
        assert!(
            http_peers.contains("\"app.kubernetes.io/component\":\"prometheus\"")
                && http_peers.contains("\"app.kubernetes.io/name\":\"pitstop-operator\""),
            "{http_peers}"
        );
        assert_eq!(
            np["egress"][0],
            json!({"to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/component": "processor",
                          "app.kubernetes.io/instance": "monza", "app.kubernetes.io/name": "pitstop"}}}],
                   "ports": [{"port": 8001, "protocol": "TCP"}]})
        );
        let feeders = processor_peers(&c);
        assert_eq!(
            feeders[0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"],
            "gateway"
        );
        assert!(!feeders.to_string().contains("simulator"));
        golden("game", &render(&c).0);
    }

    /// Defaults: a ClusterIP Service on 20777 that sets no traffic policy (the API server
    /// refuses one on ClusterIP); without allowedClients no rule admits a datagram, while
    /// Prometheus and the operator still reach :8000.
    #[test]
    fn defaults_admit_no_datagram() {
        let c = children("source: {type: game}", &[]);
        let udp = serde_json::to_value(&c.services[1].spec).unwrap();
        assert_eq!(udp["type"], "ClusterIP");
        assert_eq!(udp.get("externalTrafficPolicy"), None);
        assert_eq!(udp["ports"][0].get("nodePort"), None);
        assert_eq!(udp["ports"][0]["port"], 20777);
        let np = c
            .network_policies
            .iter()
            .find(|n| n.metadata.name.as_deref() == Some("monza-gateway"))
            .unwrap();
        let ingress = np.spec.as_ref().unwrap().ingress.as_ref().unwrap();
        assert_eq!(ingress.len(), 1, "only the :8000 rule");
        assert!(serde_json::to_string(ingress).unwrap().contains("\"TCP\""));
        assert!(!serde_json::to_string(ingress).unwrap().contains("UDP"));
    }

    /// A finished game race scales the gateway to 0; its Services stay.
    #[test]
    fn a_finished_race_releases_the_gateway() {
        let mut race = race(GAME);
        race.status = Some(crate::api::RaceSessionStatus {
            race: Some(crate::api::RaceProgress {
                finished: true,
                ..Default::default()
            }),
            ..Default::default()
        });
        let c = build(&validate(&race, &seen(&[], false), &images()).unwrap());
        let d = deployment(&c, "monza-gateway");
        assert_eq!(d.spec.as_ref().unwrap().replicas, Some(0));
        assert!(names(&c.services).contains(&"monza-gateway-udp".to_string()));
    }
}
