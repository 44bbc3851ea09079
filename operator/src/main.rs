//! `pitstop-operator`: `run` reconciles RaceSessions; `crd` prints the CRD;
//! `prometheus-adapter` prints the adapter values or manifests (see `make manifests`);
//! `render` prints what a RaceSession manifest becomes.

use anyhow::Context as _;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use kube::CustomResourceExt;
use kube::runtime::events::Reporter;
use pitstop_operator::api::{RaceSession, reference};
use pitstop_operator::children::monitoring::adapter;
use pitstop_operator::leader::Elector;
use pitstop_operator::metrics::OperatorMetrics;
use pitstop_operator::model::Defaults;
use pitstop_operator::reconcile::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "pitstop-operator",
    version,
    about = "Kubernetes operator for pitstop RaceSessions"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the RaceSession CustomResourceDefinition as YAML.
    Crd,
    /// Reconcile RaceSessions (in-cluster config, else KUBECONFIG / ~/.kube/config).
    Run(RunArgs),
    /// Print the objects the operator would create for a RaceSession manifest, without a
    /// cluster (referenced Secrets and KEDA are assumed present). Spec errors are reported
    /// as the Stalled condition would report them.
    Render {
        /// The RaceSession manifest.
        #[arg(short = 'f', long)]
        file: std::path::PathBuf,
        /// Namespace when the manifest sets none.
        #[arg(long, default_value = "default")]
        namespace: String,
        /// Only objects of these kinds (e.g. HorizontalPodAutoscaler,NetworkPolicy).
        #[arg(long, value_delimiter = ',')]
        kind: Vec<String>,
        /// Only objects with these names.
        #[arg(long, value_delimiter = ',')]
        name: Vec<String>,
    },
    /// Print the RaceSession reference (markdown), or with --file rewrite the reference
    /// section of that file in place (`make docs`: docs/racesession.md).
    Reference {
        /// The markdown file whose reference section (between its markers) is rewritten.
        #[arg(long, alias = "readme")]
        file: Option<std::path::PathBuf>,
    },
    /// Print what serves the HPA's messages/s metric: prometheus-adapter chart values or
    /// plain manifests.
    PrometheusAdapter {
        #[arg(value_enum)]
        what: AdapterOutput,
    },
}

/// The CLI with the values of environment variables hidden from `--help`
/// (`PITSTOP_PROCESSOR_BASE_URL` may carry credentials), an argument added later
/// included: `--help` shows each variable's name, never its value.
fn cli_command() -> clap::Command {
    fn hide_env_values(cmd: clap::Command) -> clap::Command {
        cmd.mut_args(|a| a.hide_env_values(true))
            .mut_subcommands(hide_env_values)
    }
    hide_env_values(Cli::command())
}

/// [`Cli`] from the process's arguments, as [`cli_command`] describes it.
fn parse_cli() -> Cli {
    let matches = cli_command().get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum AdapterOutput {
    Values,
    Manifests,
}

#[derive(Args)]
struct RunArgs {
    /// Namespaces to watch, comma-separated (default: all).
    #[arg(long, env = "WATCH_NAMESPACES", value_delimiter = ',')]
    namespaces: Vec<String>,
    /// Address of /health, /ready and /metrics.
    #[arg(long, env = "PITSTOP_OPERATOR_LISTEN", default_value = "0.0.0.0:8002")]
    listen: SocketAddr,
    /// Elect a leader through a Lease so that only one replica reconciles.
    #[arg(long, env = "PITSTOP_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    leader_election: bool,
    /// Namespace of the leader Lease and of the operator's Services (its own).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    lease_namespace: String,
    /// Name of this operator's Service, which races' Prometheus scrape (with its headless
    /// twin `<name>-metrics`).
    #[arg(
        long,
        env = "PITSTOP_OPERATOR_SERVICE",
        default_value = "pitstop-operator"
    )]
    service_name: String,
    /// The API server's address ranges (comma-separated CIDRs, e.g. 10.0.0.2/32): admitted
    /// to every race's processor API so that `kubectl pitstop` works through the API
    /// server's service proxy where NetworkPolicies are enforced. None by default.
    #[arg(long = "api-server-cidr", env = "PITSTOP_API_SERVER_CIDRS", value_delimiter = ',', value_parser = cidr)]
    api_server_cidrs: Vec<String>,
    /// This replica's identity in the Lease (the pod name).
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// Reach processor APIs at this base URL instead of their in-cluster Service address
    /// (for an operator running outside the cluster, e.g. through a port-forward).
    #[arg(long, env = "PITSTOP_PROCESSOR_BASE_URL")]
    processor_base: Option<String>,
    /// Reach F1-game gateways (`source.type: game`) at this base URL instead of their
    /// in-cluster Service address (likewise).
    #[arg(long, env = "PITSTOP_GATEWAY_BASE_URL")]
    gateway_base: Option<String>,
    /// Races reconciled at once, per watched namespace. Each reconcile holds its race's
    /// children and the API server's answers until it returns, so this bounds the peak
    /// memory; races beyond it wait their turn.
    #[arg(
        long,
        env = "PITSTOP_RECONCILE_CONCURRENCY",
        default_value_t = pitstop_operator::controller::DEFAULT_CONCURRENCY,
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    reconcile_concurrency: u16,
    /// Workload image (simulator and processor) for races that do not set one.
    #[arg(long, env = "PITSTOP_WORKLOADS_IMAGE")]
    workloads_image: Option<String>,
}

/// Logs to stderr; colours only on a terminal (and not under `NO_COLOR`), as the
/// workloads do: a file, a pipe or a container log collector gets plain text.
fn init_logs() {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("PITSTOP_LOG").unwrap_or_else(|_| EnvFilter::new("info,kube=warn"));
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    if std::env::var("PITSTOP_LOG_FORMAT").is_ok_and(|f| f == "json") {
        b.json().init()
    } else {
        b.init()
    }
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("signal handler");
    tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = term.recv() => {} }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match parse_cli().command {
        Command::Crd => print!("{}", serde_yaml::to_string(&RaceSession::crd())?),
        Command::Render {
            file,
            namespace,
            kind,
            name,
        } => print!("{}", render(&file, &namespace, &kind, &name)?),
        Command::Reference { file: None } => print!("{}", reference::markdown()),
        Command::Reference { file: Some(path) } => {
            let text = std::fs::read_to_string(&path)?;
            let new = reference::splice(&text).with_context(|| {
                format!(
                    "{} has no {} … {} markers",
                    path.display(),
                    reference::BEGIN,
                    reference::END
                )
            })?;
            std::fs::write(&path, new)?;
        }
        Command::PrometheusAdapter { what } => print!(
            "{}",
            match what {
                AdapterOutput::Values => adapter::values(),
                AdapterOutput::Manifests => adapter::manifests(),
            }
        ),
        Command::Run(a) => {
            init_logs();
            run(a).await?;
        }
    }
    Ok(())
}

fn render(
    file: &std::path::Path,
    namespace: &str,
    kinds: &[String],
    names: &[String],
) -> anyhow::Result<String> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut race: RaceSession = serde_yaml::from_str(&text)
        .with_context(|| format!("{} is not a RaceSession", file.display()))?;
    if race.metadata.namespace.is_none() {
        race.metadata.namespace = Some(namespace.into());
    }
    // Owner references need a uid; a real one exists only in a cluster.
    race.metadata
        .uid
        .get_or_insert_with(|| "00000000-0000-0000-0000-000000000000".into());
    let model = pitstop_operator::model::validate(
        &race,
        &pitstop_operator::model::Assumed::from_spec(&race),
        &Defaults::default(),
    )
    .map_err(|e| anyhow::anyhow!("{}: {e}", e.reason()))?;
    let all = pitstop_operator::children::build(&model).to_yaml();
    let keep = |doc: &str| {
        let v: serde_yaml::Value = serde_yaml::from_str(doc).unwrap_or_default();
        (kinds.is_empty() || kinds.iter().any(|k| v["kind"].as_str() == Some(k)))
            && (names.is_empty()
                || names
                    .iter()
                    .any(|n| v["metadata"]["name"].as_str() == Some(n)))
    };
    Ok(all
        .split("---\n")
        .filter(|d| keep(d))
        .collect::<Vec<_>>()
        .join("---\n"))
}

async fn run(a: RunArgs) -> anyhow::Result<()> {
    let client = kube::Client::try_default()
        .await
        .context("no Kubernetes client configuration (in-cluster or KUBECONFIG)")?;
    let metrics = OperatorMetrics::new();
    let listener = tokio::net::TcpListener::bind(a.listen)
        .await
        .with_context(|| format!("binding {}", a.listen))?;
    tokio::spawn(pitstop_operator::server::serve(
        listener,
        client.clone(),
        metrics.clone(),
    ));
    let identity = a
        .identity
        .clone()
        .unwrap_or_else(|| format!("pitstop-operator-{}", std::process::id()));
    let mut images = Defaults::default();
    if let Some(i) = a.workloads_image {
        images.workloads = i;
    }
    // Races' Prometheus scrape this operator's Services in its own namespace.
    images.operator_namespace = a.lease_namespace.clone();
    images.operator_service = a.service_name.clone();
    images.api_server_cidrs = a.api_server_cidrs.clone();
    let ctx = Arc::new(Context {
        client: client.clone(),
        images,
        reporter: Reporter {
            controller: "pitstop-operator".into(),
            instance: Some(identity.clone()),
        },
        metrics,
        http: reqwest::Client::new(),
        processor_base: a.processor_base,
        gateway_base: a.gateway_base,
    });

    if a.leader_election {
        let elector = Elector::new(
            client.clone(),
            &a.lease_namespace,
            "pitstop-operator-leader",
            &identity,
            Duration::from_secs(15),
        );
        tracing::info!(%identity, "waiting for leadership");
        loop {
            tokio::select! {
                r = elector.try_acquire_or_renew() => if r.unwrap_or(false) { break },
                _ = shutdown_signal() => return Ok(()),
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        tracing::info!(%identity, "leading");
        // Renew in the background; losing the Lease ends the process (see `leader`).
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                if !elector.try_acquire_or_renew().await.unwrap_or(false) {
                    tracing::error!("lost leadership; exiting so that only one replica reconciles");
                    std::process::exit(1);
                }
            }
        });
    }

    let namespaces: Vec<Option<String>> = if a.namespaces.is_empty() {
        vec![None]
    } else {
        a.namespaces.into_iter().map(Some).collect()
    };
    tracing::info!(?namespaces, "reconciling RaceSessions");
    let (tx, rx) = tokio::sync::watch::channel(false);
    let controllers = futures_util::future::join_all(namespaces.into_iter().map(|ns| {
        let mut rx = rx.clone();
        let shutdown = async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        pitstop_operator::controller::run(
            client.clone(),
            ns,
            ctx.clone(),
            a.reconcile_concurrency,
            shutdown,
        )
    }));
    // On SIGTERM the controllers stop taking work and finish what is in flight.
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        let _ = tx.send(true);
    });
    controllers.await;
    Ok(())
}

/// An address range as NetworkPolicy's ipBlock takes it: `<IPv4 or IPv6>/<prefix>`.
fn cidr(s: &str) -> Result<String, String> {
    let (ip, prefix) = s
        .trim()
        .split_once('/')
        .ok_or_else(|| format!("{s:?} is not a CIDR (address/prefix, e.g. 10.0.0.2/32)"))?;
    let ip: std::net::IpAddr = ip
        .parse()
        .map_err(|_| format!("{ip:?} in {s:?} is not an IP address"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    match prefix.parse::<u8>() {
        Ok(p) if p <= max => Ok(format!("{ip}/{p}")),
        _ => Err(format!(
            "{prefix:?} in {s:?} is not a prefix length (0–{max})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::cidr;

    #[test]
    fn api_server_cidrs_are_checked() {
        assert_eq!(cidr(" 10.0.0.2/32").unwrap(), "10.0.0.2/32");
        assert_eq!(cidr("fd00::1/128").unwrap(), "fd00::1/128");
        for (bad, says) in [
            ("10.0.0.2", "not a CIDR"),
            ("10.0.0.300/32", "not an IP address"),
            ("10.0.0.2/33", "not a prefix length (0–32)"),
            ("fd00::1/129", "(0–128)"),
        ] {
            let e = cidr(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
