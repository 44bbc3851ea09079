//! NetworkPolicies: the processor accepts its API only from the race's source (the
//! simulator, the game's gateway or the OpenF1 replay; none for `external`), Prometheus
//! (the race's own, or the cluster's in `monitoring.mode: prometheusOperator`), the
//! operator and listed clients, and talks only to Redis, PostgreSQL and DNS; the game's
//! gateway accepts datagrams only from `allowedClients`, its :8000 only from Prometheus
//! and the operator, and talks only to the processor and DNS; each managed datastore
//! accepts only the components that use it.

use super::cnpg;
use super::meta::{APP, Component, keys, meta, name, selector};
use super::ports;
use crate::model::{Datastore, Game, Model, Source};
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// `app.kubernetes.io/name` of the operator's pods (the Helm chart and `k8s/` set it).
const OPERATOR_APP: &str = "pitstop-operator";

fn tcp(port: i32) -> NetworkPolicyPort {
    NetworkPolicyPort {
        protocol: Some("TCP".into()),
        port: Some(IntOrString::Int(port)),
        ..NetworkPolicyPort::default()
    }
}

fn pods(labels: BTreeMap<String, String>) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        pod_selector: Some(LabelSelector {
            match_labels: Some(labels),
            ..LabelSelector::default()
        }),
        ..NetworkPolicyPeer::default()
    }
}

fn component(m: &Model, c: Component) -> NetworkPolicyPeer {
    pods(selector(m, c))
}

/// Prometheus of this race (the monitoring stack labels it so).
fn prometheus(m: &Model) -> NetworkPolicyPeer {
    pods(BTreeMap::from([
        (keys::NAME.into(), APP.into()),
        (keys::INSTANCE.into(), m.name.clone()),
        (
            keys::COMPONENT.into(),
            Component::Prometheus.as_str().into(),
        ),
    ]))
}

/// The operator, in whatever namespace it runs.
fn operator() -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector::default()),
        pod_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([(keys::NAME.into(), OPERATOR_APP.into())])),
            ..LabelSelector::default()
        }),
        ..NetworkPolicyPeer::default()
    }
}

fn dns() -> NetworkPolicyEgressRule {
    NetworkPolicyEgressRule {
        to: Some(vec![NetworkPolicyPeer {
            namespace_selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([(
                    "kubernetes.io/metadata.name".into(),
                    "kube-system".into(),
                )])),
                ..LabelSelector::default()
            }),
            pod_selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([("k8s-app".into(), "kube-dns".into())])),
                ..LabelSelector::default()
            }),
            ..NetworkPolicyPeer::default()
        }]),
        ports: Some(vec![
            NetworkPolicyPort {
                protocol: Some("UDP".into()),
                port: Some(IntOrString::Int(53)),
                ..NetworkPolicyPort::default()
            },
            tcp(53),
        ]),
    }
}

/// Egress to a datastore: its pods when managed or run by CloudNativePG; when external its
/// address is unknown to the cluster, so its ports (`external.ports`, else the standard
/// one) are allowed to any destination.
fn datastore_egress(m: &Model, d: &Datastore, c: Component, port: i32) -> NetworkPolicyEgressRule {
    let ports = match d {
        Datastore::External { ports, .. } if !ports.is_empty() => ports.clone(),
        _ => vec![port],
    };
    let to = match d {
        Datastore::Managed { .. } => component(m, c),
        // CloudNativePG labels its instances with their cluster's name.
        Datastore::CloudNativePG { .. } => {
            pods(BTreeMap::from([(cnpg::CLUSTER_LABEL.into(), name(m, c))]))
        }
        Datastore::External { .. } => NetworkPolicyPeer {
            ip_block: Some(IPBlock {
                cidr: "0.0.0.0/0".into(),
                except: None,
            }),
            ..NetworkPolicyPeer::default()
        },
    };
    NetworkPolicyEgressRule {
        to: Some(vec![to]),
        ports: Some(ports.into_iter().map(tcp).collect()),
    }
}

/// The pods that feed the processor's API for the race's source (none for `external`:
/// its clients are the spec's `processor.allowedClients`).
fn source_peer(m: &Model) -> Option<NetworkPolicyPeer> {
    match &m.source {
        Source::Simulator => Some(component(m, Component::Simulator)),
        Source::Game(_) => Some(component(m, Component::Gateway)),
        Source::OpenF1(_) => Some(component(m, Component::Replay)),
        Source::External => None,
    }
}

/// Who scrapes the race: its own Prometheus, or the cluster's peers.
fn scrapers(m: &Model) -> Vec<NetworkPolicyPeer> {
    match m.monitoring.cluster() {
        Some(c) => c.prometheus_peers.clone(),
        None => vec![prometheus(m)],
    }
}

pub fn processor(m: &Model) -> NetworkPolicy {
    let mut from: Vec<NetworkPolicyPeer> = source_peer(m).into_iter().collect();
    from.extend(scrapers(m));
    from.push(operator());
    from.extend(m.allowed_clients.iter().cloned());
    // The API server's service proxy (`kubectl pitstop`) comes from the control plane,
    // which no pod selector names.
    from.extend(m.api_server_cidrs.iter().map(|cidr| NetworkPolicyPeer {
        ip_block: Some(IPBlock {
            cidr: cidr.clone(),
            except: None,
        }),
        ..NetworkPolicyPeer::default()
    }));
    NetworkPolicy {
        metadata: meta(m, Component::Processor, name(m, Component::Processor)),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(selector(m, Component::Processor)),
                ..LabelSelector::default()
            }),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(from),
                ports: Some(vec![tcp(ports::PROCESSOR)]),
            }]),
            egress: Some(vec![
                datastore_egress(m, &m.redis, Component::Redis, ports::REDIS),
                datastore_egress(m, &m.postgres, Component::Postgres, ports::POSTGRES),
                dns(),
            ]),
        }),
    }
}

/// Ingress to a managed datastore from the listed components only.
pub fn datastore(m: &Model, c: Component, port: i32, clients: &[Component]) -> NetworkPolicy {
    NetworkPolicy {
        metadata: meta(m, c, name(m, c)),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(selector(m, c)),
                ..LabelSelector::default()
            }),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(clients.iter().map(|k| component(m, *k)).collect()),
                ports: Some(vec![tcp(port)]),
            }]),
            egress: None,
        }),
    }
}

/// The game's gateway: UDP datagrams from `allowedClients` only (none listed: no rule
/// admits any, and the SourceReady condition says so), `/metrics` and `/status` from
/// Prometheus and the operator; out only to the processor's API and DNS.
pub fn gateway(m: &Model, g: &Game) -> NetworkPolicy {
    let mut ingress = Vec::new();
    if !g.allowed_clients.is_empty() {
        ingress.push(NetworkPolicyIngressRule {
            from: Some(
                g.allowed_clients
                    .iter()
                    .map(|cidr| NetworkPolicyPeer {
                        ip_block: Some(IPBlock {
                            cidr: cidr.clone(),
                            except: None,
                        }),
                        ..NetworkPolicyPeer::default()
                    })
                    .collect(),
            ),
            // The pod's port: a Service's port and node port are translated before.
            ports: Some(vec![NetworkPolicyPort {
                protocol: Some("UDP".into()),
                port: Some(IntOrString::Int(ports::GAME_UDP)),
                ..NetworkPolicyPort::default()
            }]),
        });
    }
    let mut http = scrapers(m);
    http.push(operator());
    ingress.push(NetworkPolicyIngressRule {
        from: Some(http),
        ports: Some(vec![tcp(ports::GATEWAY)]),
    });
    NetworkPolicy {
        metadata: meta(m, Component::Gateway, name(m, Component::Gateway)),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(selector(m, Component::Gateway)),
                ..LabelSelector::default()
            }),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ingress: Some(ingress),
            egress: Some(vec![
                NetworkPolicyEgressRule {
                    to: Some(vec![component(m, Component::Processor)]),
                    ports: Some(vec![tcp(ports::PROCESSOR)]),
                },
                dns(),
            ]),
        }),
    }
}
