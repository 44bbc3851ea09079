//! `kubectl-pitstop`: the kubectl plugin (`kubectl pitstop ...`). See
//! `pitstop_operator::plugin` and docs/kubectl-plugin.md.

use clap::Parser;
use pitstop_operator::plugin::{Cli, PluginError, commands};

fn main() {
    let cli = Cli::parse();
    // One thread: a command makes a handful of requests, and start-up time counts.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let result = match runtime {
        Ok(rt) => rt.block_on(commands::run(cli, &mut std::io::stdout().lock())),
        Err(e) => Err(PluginError::Other(format!("cannot start: {e}"))),
    };
    if let Err(e) = result {
        if e == PluginError::OutputClosed {
            return;
        }
        eprintln!("error: {e}");
        std::process::exit(e.exit_code());
    }
}
