//! `pitstop-operator`: `crd` prints the CustomResourceDefinition.

use clap::{Parser, Subcommand};
use kube::CustomResourceExt;
use pitstop_operator::api::RaceSession;

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
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Crd => print!("{}", serde_yaml::to_string(&RaceSession::crd())?),
    }
    Ok(())
}
