//! `spec.source`: where a race's telemetry comes from. `simulator` (the default) runs the
//! sensor simulator; `game` an ingest gateway for the F1 game's UDP telemetry; `openf1`
//! a Job replaying an OpenF1 session; `external` nothing: clients post to the processor's
//! `POST /telemetry` themselves. The CEL rules refuse a block of one type under another.

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// The source of a race's telemetry.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.game) || self.type == 'game'").message("source.game is only read with source.type: game"))]
#[x_kube(validation = Rule::new("!has(self.openf1) || self.type == 'openf1'").message("source.openf1 is only read with source.type: openf1"))]
#[x_kube(validation = Rule::new("self.type != 'openf1' || has(self.openf1)").message("source.type: openf1 needs source.openf1.sessionKey"))]
pub struct SourceSpec {
    /// `simulator`: the sensor simulator races the spec's circuit. `game`: an ingest
    /// gateway receives the F1 game's UDP telemetry (see `game`). `openf1`: a Job replays
    /// an OpenF1 session (see `openf1`). `external`: no source runs; clients send to the
    /// processor's `POST /telemetry`.
    #[serde(default, rename = "type")]
    pub type_: SourceType,
    /// The F1 game's gateway (`type: game`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub game: Option<GameSource>,
    /// The OpenF1 replay (`type: openf1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openf1: Option<OpenF1Source>,
}

/// Where telemetry comes from.
#[derive(
    schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq,
)]
#[serde(rename_all = "lowercase")]
pub enum SourceType {
    #[default]
    Simulator,
    Game,
    #[serde(rename = "openf1")]
    OpenF1,
    External,
}

impl SourceType {
    /// The spelling in the spec.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceType::Simulator => "simulator",
            SourceType::Game => "game",
            SourceType::OpenF1 => "openf1",
            SourceType::External => "external",
        }
    }
}

/// The ingest gateway of the F1 game's UDP telemetry (`pitstop ingest`).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GameSource {
    /// The Service the game sends its datagrams to.
    #[serde(default)]
    pub service: GameServiceSpec,
    /// CIDRs the gateway's NetworkPolicy admits UDP datagrams from, e.g. 192.168.1.0/24
    /// (one address: /32). Empty: none, and the SourceReady condition says so.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), inner(length(min = 1, max = 49)))]
    #[x_kube(validation = Rule::new("self.all(c, isCIDR(c) && cidr(c).masked() == cidr(c))").message("allowedClients must be CIDRs with no host bits set, e.g. 192.168.1.0/24 (one address: 192.168.1.20/32)"))]
    pub allowed_clients: Vec<String>,
    /// Container image (default: the `pitstop` image of this operator's version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// CPU and memory (default: requests 100m/64Mi, limits 1/256Mi).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

/// The gateway's UDP Service.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.nodePort) || self.type != 'ClusterIP'").message("nodePort needs type NodePort (or LoadBalancer)"))]
pub struct GameServiceSpec {
    /// `ClusterIP` (reachable inside the cluster only), `NodePort` (every node's address,
    /// port `nodePort`) or `LoadBalancer` (the cloud's load balancer). NodePort and
    /// LoadBalancer keep the game's source address (`externalTrafficPolicy: Local`) so that
    /// `allowedClients` can admit it.
    #[serde(default, rename = "type")]
    pub type_: ServiceType,
    /// The Service's UDP port (the gateway listens on 20777, the game's default).
    #[serde(default = "game_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    /// The node port of `type: NodePort` (default: one the cluster picks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub node_port: Option<i32>,
}

impl Default for GameServiceSpec {
    fn default() -> Self {
        GameServiceSpec {
            type_: ServiceType::default(),
            port: game_port(),
            node_port: None,
        }
    }
}

fn game_port() -> i32 {
    pitstop_contract::ports::GAME_UDP as i32
}

/// A Kubernetes Service type.
#[derive(
    schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq,
)]
pub enum ServiceType {
    #[default]
    ClusterIP,
    NodePort,
    LoadBalancer,
}

impl ServiceType {
    /// The spelling in the spec and in a Service.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::ClusterIP => "ClusterIP",
            ServiceType::NodePort => "NodePort",
            ServiceType::LoadBalancer => "LoadBalancer",
        }
    }
}

/// A replay of an OpenF1 session (`pitstop replay --openf1-session`).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OpenF1Source {
    /// OpenF1's `session_key` of the session, e.g. 9606.
    #[schemars(range(min = 1))]
    pub session_key: u32,
    /// The OpenF1 API's base URL (default: the public API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^https?://[^\s]+$"))]
    pub url: Option<String>,
    /// Race seconds per wall-clock second: a number (1 is real time; a fraction as a
    /// string, e.g. "0.5") or "max" for as fast as the processor takes it. Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("string(self).matches('^(max|[0-9]{1,7}([.][0-9]{1,6})?)$')").message("speed is a positive number (a fraction as a string, e.g. \"0.5\") or \"max\""))]
    pub speed: Option<IntOrString>,
    /// Container image (default: the `pitstop` image of this operator's version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// CPU and memory (default: requests 100m/128Mi, limits 1/512Mi).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}
