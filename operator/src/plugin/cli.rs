//! The arguments of `kubectl pitstop`: the kubeconfig flags every plugin takes (before or
//! after the command, as kubectl passes them on), and one subcommand per task.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug, PartialEq)]
#[command(
    name = "kubectl-pitstop",
    bin_name = "kubectl pitstop",
    version,
    about = "Watch and drive pitstop RaceSessions: status, post-race pipeline, report, logs",
    after_help = "Exit codes: 0 done, 1 other error, 2 bad arguments, 3 not found, 4 forbidden \
                  (RBAC), 5 race not running, 6 refused by the operator, 7 no answer from the \
                  operator. See docs/kubectl-plugin.md."
)]
pub struct Cli {
    #[command(flatten)]
    pub kube: KubeFlags,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the cluster is, as kubectl takes it.
#[derive(Args, Debug, Default, PartialEq)]
pub struct KubeFlags {
    /// Path to the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config).
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: its current context).
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// The race's namespace (default: the context's namespace, else "default").
    #[arg(short = 'n', long, global = true, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// Give up on a request to the API server after this long (e.g. 10s, 500ms).
    #[arg(long, global = true, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub request_timeout: Duration,
}

#[derive(Subcommand, Debug, PartialEq)]
pub enum Command {
    /// The race on one screen: phase and conditions, lap, classification with gaps, last
    /// pit stops, strategy windows and threats, anomalies, components, post-race tasks.
    Status {
        race: String,
        /// Redraw every --interval until Ctrl-C (one screen after another, separated by a
        /// blank line, when stdout is not a terminal).
        #[arg(short = 'w', long)]
        watch: bool,
        /// Time between two screens with --watch (e.g. 2s, 500ms).
        #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_interval)]
        interval: Duration,
    },
    /// Start a post-race pipeline run (annotation pitstop.io/run-pipeline).
    RunPipeline(PipelineArgs),
    /// Re-run a failed run from its failed tasks (annotation pitstop.io/retry-pipeline).
    RetryPipeline(PipelineArgs),
    /// Save the race's HTML report (written by the pipeline's report step).
    Report {
        race: String,
        /// File to write ("-": standard output).
        #[arg(short = 'o', long, value_name = "PATH")]
        output: Option<PathBuf>,
    },
    /// Logs of the pod of a post-race task's latest Job.
    Logs {
        race: String,
        task: String,
        /// Only the last N lines.
        #[arg(long, value_name = "N")]
        tail: Option<i64>,
    },
}

#[derive(Args, Debug, PartialEq)]
pub struct PipelineArgs {
    pub race: String,
    /// How long to wait for the operator to act on the request (0s: do not wait).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub wait: Duration,
}

/// The shortest --interval: each screen is several requests to the API server, and a
/// screen redrawn faster than it can be read only loads it.
pub const MIN_INTERVAL: Duration = Duration::from_millis(500);

/// A --watch interval: a duration of at least [`MIN_INTERVAL`].
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < MIN_INTERVAL {
        return Err(format!(
            "{s:?} is too short: at least 500ms (each screen is several requests)"
        ));
    }
    Ok(d)
}

/// A duration as kubectl writes them: `10s`, `500ms`, `2m`, or plain seconds (`3`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit() && c != '.');
    let (num, unit) = split.map_or((s, ""), |i| s.split_at(i));
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 10s, 500ms, 2m)"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (ms, s, m, h)")),
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("{s:?} is not a duration"));
    }
    Ok(Duration::from_secs_f64(secs))
}
