//! `spec.source` validated into the [`Source`] the builders read. The CRD's CEL rules
//! refuse the same mistakes at admission; they are checked again here for objects created
//! before the rules existed and for servers without CEL. Pure: no API calls.

use crate::api::{GameSource, OpenF1Source, RaceSessionSpec, ServiceType, SourceType};
use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::net::IpAddr;

/// Race seconds per wall second `pitstop replay --speed` accepts (besides `max`).
const SPEEDS: std::ops::RangeInclusive<f64> = 0.01..=1e6;

/// Where a race's telemetry comes from, as the builders read it.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// The sensor simulator (the spec's top-level race settings).
    Simulator,
    /// The ingest gateway of the F1 game's UDP telemetry.
    Game(Game),
    /// A Job replaying an OpenF1 session.
    OpenF1(OpenF1),
    /// Nothing runs: clients post to the processor's `POST /telemetry`.
    External,
}

impl Source {
    pub fn type_(&self) -> SourceType {
        match self {
            Source::Simulator => SourceType::Simulator,
            Source::Game(_) => SourceType::Game,
            Source::OpenF1(_) => SourceType::OpenF1,
            Source::External => SourceType::External,
        }
    }

    pub fn game(&self) -> Option<&Game> {
        match self {
            Source::Game(g) => Some(g),
            _ => None,
        }
    }
}

/// The gateway and its UDP Service.
#[derive(Clone, Debug, PartialEq)]
pub struct Game {
    pub image: String,
    pub resources: Option<ResourceRequirements>,
    pub service_type: ServiceType,
    pub port: i32,
    pub node_port: Option<i32>,
    /// CIDRs admitted to send datagrams, each checked (none: nobody is).
    pub allowed_clients: Vec<String>,
}

/// The replay Job.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenF1 {
    pub image: String,
    pub resources: Option<ResourceRequirements>,
    pub session_key: u32,
    /// `None`: the replay's default, the public API.
    pub url: Option<String>,
    /// `--speed` as the replay takes it: a number or `max`.
    pub speed: String,
}

/// Why `spec.source` cannot be reconciled.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SourceError {
    #[error(
        "source.{block} is set but source.type is {type_}: source.{block} is only read with source.type: {block}"
    )]
    BlockOfAnotherType {
        block: &'static str,
        type_: &'static str,
    },
    #[error(
        "source.type is openf1 but source.openf1 is not set: it needs source.openf1.sessionKey"
    )]
    OpenF1WithoutSession,
    #[error(
        "{fields}: the simulator's settings, but source.type is {type_}; leave them out (a race that set timeScale or seed, which are immutable, keeps its source: create a new RaceSession)"
    )]
    SimulatorSettings { type_: &'static str, fields: String },
    #[error(
        "source.game.service.nodePort is set but its type is ClusterIP: nodePort needs type NodePort (or LoadBalancer)"
    )]
    NodePortWithoutNodePortType,
    #[error("source.game.allowedClients[{index}]: {value:?} {why}")]
    InvalidClient {
        index: usize,
        value: String,
        why: String,
    },
    #[error("source.openf1.speed: {0:?} is neither a number from 0.01 to 1000000 nor \"max\"")]
    InvalidSpeed(String),
}

impl SourceError {
    /// Static reason for conditions, Events and metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            SourceError::InvalidClient { .. } => "InvalidAllowedClients",
            _ => "InvalidSource",
        }
    }
}

/// `spec.source` into a [`Source`]; `image` is the default workloads image.
pub fn validate(spec: &RaceSessionSpec, image: &str) -> Result<Source, SourceError> {
    let Some(s) = &spec.source else {
        return Ok(Source::Simulator);
    };
    let type_ = s.type_.as_str();
    if s.game.is_some() && s.type_ != SourceType::Game {
        return Err(SourceError::BlockOfAnotherType {
            block: "game",
            type_,
        });
    }
    if s.openf1.is_some() && s.type_ != SourceType::OpenF1 {
        return Err(SourceError::BlockOfAnotherType {
            block: "openf1",
            type_,
        });
    }
    let settings = spec.simulator_settings();
    if s.type_ != SourceType::Simulator && !settings.is_empty() {
        return Err(SourceError::SimulatorSettings {
            type_,
            fields: settings.join(", "),
        });
    }
    Ok(match s.type_ {
        SourceType::Simulator => Source::Simulator,
        SourceType::External => Source::External,
        SourceType::Game => Source::Game(game(&s.game.clone().unwrap_or_default(), image)?),
        SourceType::OpenF1 => {
            let o = s.openf1.as_ref().ok_or(SourceError::OpenF1WithoutSession)?;
            Source::OpenF1(openf1(o, image)?)
        }
    })
}

fn game(g: &GameSource, image: &str) -> Result<Game, SourceError> {
    if g.service.node_port.is_some() && g.service.type_ == ServiceType::ClusterIP {
        return Err(SourceError::NodePortWithoutNodePortType);
    }
    for (index, value) in g.allowed_clients.iter().enumerate() {
        check_cidr(value).map_err(|why| SourceError::InvalidClient {
            index,
            value: value.clone(),
            why,
        })?;
    }
    Ok(Game {
        image: g.image.clone().unwrap_or_else(|| image.into()),
        resources: g.resources.clone(),
        service_type: g.service.type_,
        port: g.service.port,
        node_port: g.service.node_port,
        allowed_clients: g.allowed_clients.clone(),
    })
}

fn openf1(o: &OpenF1Source, image: &str) -> Result<OpenF1, SourceError> {
    Ok(OpenF1 {
        image: o.image.clone().unwrap_or_else(|| image.into()),
        resources: o.resources.clone(),
        session_key: o.session_key,
        url: o.url.clone(),
        speed: speed(o.speed.as_ref())?,
    })
}

/// `--speed` of the replay: 1 when absent, `max`, or a number within [`SPEEDS`].
fn speed(s: Option<&IntOrString>) -> Result<String, SourceError> {
    let text = match s {
        None => return Ok("1".into()),
        Some(IntOrString::Int(n)) => n.to_string(),
        Some(IntOrString::String(s)) if s == "max" => return Ok(s.clone()),
        Some(IntOrString::String(s)) => s.clone(),
    };
    // Digits and at most one point, as the CEL rule's pattern: no exponent, sign or "NaN".
    let plain = text.chars().all(|c| c.is_ascii_digit() || c == '.')
        && text.starts_with(|c: char| c.is_ascii_digit())
        && !text.ends_with('.');
    match text.parse::<f64>() {
        Ok(x) if plain && SPEEDS.contains(&x) => Ok(text),
        _ => Err(SourceError::InvalidSpeed(text)),
    }
}

/// Whether `s` is a CIDR a NetworkPolicy's `ipBlock` takes: an address, a prefix length
/// within its family's bits, no host bits set (what the CEL rule's `isCIDR` and
/// `masked()` check). The error says what is wrong, for the Stalled message.
pub fn check_cidr(s: &str) -> Result<(), String> {
    let Some((addr, len)) = s.split_once('/') else {
        return Err("is not a CIDR: it needs a prefix length, e.g. /32 for one address".into());
    };
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| format!("is not a CIDR: {addr:?} is not an IP address"))?;
    if let IpAddr::V6(v6) = ip
        && v6.to_ipv4_mapped().is_some()
    {
        return Err("is not a CIDR: write an IPv4-mapped IPv6 address as IPv4".into());
    }
    let bits: u8 = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = len
        .parse::<u8>()
        .ok()
        .filter(|p| *p <= bits && len.chars().all(|c| c.is_ascii_digit()))
        .ok_or_else(|| format!("is not a CIDR: the prefix length must be 0 to {bits}"))?;
    let network = masked(ip, prefix);
    if network != ip {
        return Err(format!(
            "has host bits set: {network}/{prefix} for the network, {ip}/{bits} for one address"
        ));
    }
    Ok(())
}

/// `ip` with the bits after `prefix` cleared.
fn masked(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & mask).into())
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & mask).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::race;

    fn source(spec: &str) -> Result<Source, SourceError> {
        validate(&race(spec).spec, "pitstop:test")
    }

    /// Absent, `{}` and `type: simulator` are the simulator; the other types build their
    /// source with the spec's settings and the defaults (port 20777, ClusterIP, speed 1).
    #[test]
    fn each_type_validates_into_its_source() {
        for spec in ["circuit: monza", "source: {}", "source: {type: simulator}"] {
            assert_eq!(source(spec), Ok(Source::Simulator), "{spec}");
        }
        assert_eq!(source("source: {type: external}"), Ok(Source::External));
        let Ok(Source::Game(g)) = source("source: {type: game}") else {
            panic!("a game source");
        };
        assert_eq!(
            (g.service_type, g.port, g.node_port, g.image.as_str()),
            (ServiceType::ClusterIP, 20777, None, "pitstop:test")
        );
        assert!(g.allowed_clients.is_empty());
        let Ok(Source::OpenF1(o)) =
            source("source: {type: openf1, openf1: {sessionKey: 9606, speed: max}}")
        else {
            panic!("an openf1 source");
        };
        assert_eq!(
            (o.session_key, o.url, o.speed.as_str()),
            (9606, None, "max")
        );
        let Ok(Source::OpenF1(o)) = source("source: {type: openf1, openf1: {sessionKey: 1}}")
        else {
            panic!("an openf1 source");
        };
        assert_eq!(o.speed, "1", "real time by default");
    }

    /// A block of another type, openf1 without its block, a node port on a ClusterIP
    /// Service: each refused with a message naming the field.
    #[test]
    fn blocks_that_do_not_fit_the_type_are_refused() {
        let err = source("source: {type: external, game: {}}").unwrap_err();
        assert_eq!(err.reason(), "InvalidSource");
        assert!(
            err.to_string()
                .starts_with("source.game is set but source.type is external"),
            "{err}"
        );
        let err = source("source: {openf1: {sessionKey: 9}}").unwrap_err();
        assert!(
            err.to_string().contains("source.type is simulator"),
            "{err}"
        );
        assert_eq!(
            source("source: {type: openf1}"),
            Err(SourceError::OpenF1WithoutSession)
        );
        assert_eq!(
            source("source: {type: game, game: {service: {nodePort: 30777}}}"),
            Err(SourceError::NodePortWithoutNodePortType)
        );
        for t in ["NodePort", "LoadBalancer"] {
            let spec = format!(
                "source: {{type: game, game: {{service: {{type: {t}, nodePort: 30777}}}}}}"
            );
            assert!(source(&spec).is_ok(), "{t}");
        }
    }

    /// The simulator's own settings away from their defaults are refused with another
    /// source, each named; circuit, laps and grid are not the simulator's alone.
    #[test]
    fn simulator_settings_with_another_source_are_refused() {
        let err =
            source("timeScale: 40\nsampleHz: 10\nsimulator: {replicas: 0}\nsource: {type: game}")
                .unwrap_err();
        assert_eq!(
            err,
            SourceError::SimulatorSettings {
                type_: "game",
                fields: "timeScale, sampleHz, simulator".into()
            }
        );
        for setting in ["seed: 7", "anomalyRate: 0", "simulator: {image: sim:1}"] {
            let spec = format!("{setting}\nsource: {{type: external}}");
            assert!(source(&spec).is_err(), "{setting}");
        }
        let kept = "circuit: silverstone\nlaps: 52\ngrid:\n- {car: 16, driver: LEC, team: Ferrari}\nsource: {type: external}";
        assert_eq!(source(kept), Ok(Source::External));
        assert_eq!(
            source("timeScale: 40\nsource: {type: simulator}"),
            Ok(Source::Simulator)
        );
    }

    /// CIDRs as a NetworkPolicy takes them; the first bad entry is named with what is
    /// wrong with it (reason InvalidAllowedClients).
    #[test]
    fn allowed_clients_must_be_cidrs() {
        for ok in [
            "192.168.1.0/24",
            "10.0.0.7/32",
            "0.0.0.0/0",
            "2001:db8::/32",
            "::/0",
        ] {
            assert_eq!(check_cidr(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("192.168.1.20", "needs a prefix length"),
            ("192.168.1.0/33", "0 to 32"),
            ("192.168.1.0/+24", "0 to 32"),
            ("192.168.1.300/24", "not an IP address"),
            ("010.0.0.0/8", "not an IP address"),
            (
                "192.168.1.5/24",
                "192.168.1.0/24 for the network, 192.168.1.5/32 for one address",
            ),
            ("::ffff:10.0.0.0/104", "IPv4-mapped"),
            ("pc.local/32", "not an IP address"),
        ] {
            let e = check_cidr(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        let err =
            source("source:\n  type: game\n  game: {allowedClients: [192.168.1.0/24, 10.1.2.3/8]}")
                .unwrap_err();
        assert_eq!(err.reason(), "InvalidAllowedClients");
        assert_eq!(
            err.to_string(),
            "source.game.allowedClients[1]: \"10.1.2.3/8\" has host bits set: 10.0.0.0/8 for the network, 10.1.2.3/32 for one address"
        );
    }

    /// Speeds the replay takes pass through as written; others are refused.
    #[test]
    fn speeds() {
        let s = |v: &str| speed(Some(&serde_json::from_str::<IntOrString>(v).unwrap()));
        assert_eq!(s("20"), Ok("20".into()));
        assert_eq!(s("\"0.5\""), Ok("0.5".into()));
        assert_eq!(s("\"max\""), Ok("max".into()));
        for bad in [
            "0",
            "\"0.001\"",
            "\"fast\"",
            "\"1e3\"",
            "\"NaN\"",
            "\"-2\"",
            "2000000",
        ] {
            assert!(s(bad).is_err(), "{bad}");
        }
    }
}
