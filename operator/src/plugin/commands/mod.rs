//! One module per command: each reads the cluster through [`Cluster`], decides with the
//! pure modules beside it, and writes to `out` (standard output in the binary).

mod logs;
mod pipeline;
mod report;
pub mod status;

use super::cli::{Cli, Command};
use super::cluster::Cluster;
use super::error::PluginError;
use super::request::Kind;
use std::io::Write;

/// Carries out the command of `cli`.
pub async fn run(cli: Cli, out: &mut dyn Write) -> Result<(), PluginError> {
    let cluster = Cluster::connect(&cli.kube).await?;
    match cli.command {
        Command::Status {
            race, watch: false, ..
        } => status::once(&cluster, &race, out).await,
        Command::Status {
            race,
            watch: true,
            interval,
        } => {
            let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
            status::watch(&cluster, &race, interval, tty, out).await
        }
        Command::RunPipeline(a) => pipeline::request(&cluster, Kind::Run, &a, out).await,
        Command::RetryPipeline(a) => pipeline::request(&cluster, Kind::Retry, &a, out).await,
        Command::Report { race, output } => report::save(&cluster, &race, output, out).await,
        Command::Logs { race, task, tail } => logs::show(&cluster, &race, &task, tail, out).await,
    }
}
