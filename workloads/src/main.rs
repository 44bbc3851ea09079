//! `pitstop`: the workload binary (simulator, stream processor, demo, benchmark).

use anyhow::{Context, bail};
use clap::builder::RangedU64ValueParser;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use pitstop_contract::{commands, env as var, flags};
use pitstop_workloads::errors::chain;
use pitstop_workloads::processor::{Processor, ProcessorConfig, default_consumer};
use pitstop_workloads::sim::circuit::{circuit, circuit_ids};
use pitstop_workloads::sim::grid::{default_grid, parse_grid};
use pitstop_workloads::sim::publisher::{Progress, PublishConfig};
use pitstop_workloads::sim::race::RaceConfig;
use pitstop_workloads::sim::service;
use pitstop_workloads::stream::StreamKeys;
use pitstop_workloads::util::shutdown_signal;
use pitstop_workloads::{bench, demo, metrics::SimulatorMetrics, secrets};
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

#[cfg(test)]
mod cli_tests;

#[derive(Parser)]
#[command(
    name = "pitstop",
    version,
    about = "F1 smart pit-stop telemetry: simulator, stream processor, demo and benchmark"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a race and publish its telemetry to Redis Streams (metrics on :8000).
    #[command(name = commands::SIMULATE)]
    Simulate(SimulateArgs),
    /// Consume telemetry into PostgreSQL and serve the API on :8001.
    #[command(name = commands::PROCESS)]
    Process(ProcessArgs),
    /// Run a short accelerated race end to end and print a summary.
    Demo(DemoArgs),
    /// Measure end-to-end throughput and latency through real Redis and PostgreSQL.
    Bench(BenchArgs),
    /// Run one post-race pipeline step (what the operator's Jobs run): collect-telemetry,
    /// persist-teams, data-quality, aggregate, report, notify, season-report.
    #[command(name = commands::JOB)]
    Job(JobCliArgs),
    /// Feed a recorded race (FastF1 telemetry CSV, OpenF1 records, native NDJSON; `.gz`
    /// read) at N× real time, into Redis or through a processor's POST /telemetry; or an
    /// OpenF1 session fetched by its key (--openf1-session) through the processor.
    #[command(name = commands::REPLAY)]
    Replay(ReplayArgs),
    /// Receive the F1 game's UDP telemetry (formats 2022-2024) and feed it through a
    /// processor's POST /telemetry (probes and metrics on :8000).
    #[command(name = commands::INGEST)]
    Ingest(pitstop_workloads::game::IngestArgs),
    /// Play a synthesized F1 24 race over UDP to a gateway: `source: game` without the game.
    GameRace(pitstop_workloads::game::GameRaceArgs),
    /// Print the processor API's OpenAPI 3.1 document (`docs/openapi.json`, served at
    /// /api/v1/openapi.json).
    Openapi,
}

/// The CLI with the values of environment variables hidden from `--help`: `REDIS_URL`
/// and `DATABASE_URL` carry passwords, and an argument added later is covered too.
fn cli_command() -> clap::Command {
    fn hide_env_values(cmd: clap::Command) -> clap::Command {
        cmd.mut_args(|a| a.hide_env_values(true))
            .mut_subcommands(hide_env_values)
    }
    hide_env_values(Cli::command())
}

/// [`Cli`] from `args` (the program name first), as `main` parses it.
fn try_parse_cli<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let matches = cli_command().try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

/// Race seconds per wall second of `--time-scale`, `--speed`: from a hundredth of real
/// time to a million times it. The bounds keep every pacing wait (race time / scale)
/// far inside what a `Duration` holds, so no accepted value can panic the publisher.
const PACE: RangeInclusive<f64> = 0.01..=1e6;

/// Samples per second of `--rate`: one keeps the publisher's waits (samples / rate)
/// within a `Duration`; ten million is beyond what one publisher reaches.
const RATE: RangeInclusive<f64> = 1.0..=1e7;

/// Race seconds per wall second; `None` = as fast as possible.
#[derive(Clone, Copy, Debug)]
struct Speed(Option<f64>);

/// `--speed`, `--time-scale`: race seconds per wall second within [`PACE`], or `max`.
fn parse_speed(v: &str) -> Result<Speed, String> {
    if v == "max" {
        return Ok(Speed(None));
    }
    parse_f64_in(v, &PACE)
        .map(|x| Speed(Some(x)))
        .map_err(|e| format!("{e} nor max"))
}

/// A finite number within `range` (`NaN`, infinities and out-of-range values refused).
fn parse_f64_in(v: &str, range: &RangeInclusive<f64>) -> Result<f64, String> {
    match v.trim().parse::<f64>() {
        Ok(x) if range.contains(&x) => Ok(x),
        _ => Err(format!(
            "not a number within {}..={}",
            range.start(),
            range.end()
        )),
    }
}

/// A clap value parser for [`parse_f64_in`].
fn f64_in(range: RangeInclusive<f64>) -> impl Fn(&str) -> Result<f64, String> + Clone {
    move |v| parse_f64_in(v, &range)
}

#[derive(Args)]
struct ReplayArgs {
    /// Recordings: FastF1 `.csv`, OpenF1 or native JSON/NDJSON, optionally `.gz`.
    #[arg(
        required_unless_present = "openf1_session",
        conflicts_with = "openf1_session"
    )]
    files: Vec<PathBuf>,
    /// Fetch this OpenF1 session (its session_key) from the OpenF1 API instead of reading
    /// files: car data window by window as it is fed, race control as session events.
    /// Needs --api-url; run again after a failure to resume (nothing is stored twice).
    #[arg(long = flags::OPENF1_SESSION, value_parser = clap::value_parser!(i64).range(1..))]
    openf1_session: Option<i64>,
    /// The OpenF1 API to fetch from.
    #[arg(long = flags::OPENF1_URL, default_value = pitstop_workloads::feeds::openf1_fetch::DEFAULT_URL)]
    openf1_url: String,
    /// Minutes of one driver's car data per OpenF1 request, 1..=60.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=60))]
    openf1_window_min: u32,
    /// Session id (required for FastF1 and OpenF1 files; replaces a native file's; an
    /// OpenF1 session's defaults to openf1-<session_key>).
    #[arg(long = flags::SESSION, env = var::SESSION)]
    session: Option<String>,
    /// Race seconds per wall second, or `max` for as fast as possible.
    #[arg(long = flags::SPEED, default_value = "1", value_parser = parse_speed)]
    speed: Speed,
    /// Send through this processor's POST /telemetry (key from STREAM_PROCESSOR_API_KEY
    /// or --api-key-file) instead of writing to Redis.
    #[arg(long = flags::API_URL)]
    api_url: Option<String>,
    /// File holding the processor's API key.
    #[arg(long, env = "STREAM_PROCESSOR_API_KEY_FILE")]
    api_key_file: Option<PathBuf>,
    /// Race start of files with relative times (FastF1 `Time`), RFC 3339 or ms since the
    /// epoch; default now.
    #[arg(long)]
    start: Option<String>,
    /// Car numbers and teams of FastF1 driver codes, `car:driver:team,…` (default: the
    /// 2025 grid).
    #[arg(long)]
    grid: Option<String>,
    /// The car of a FastF1 file without a Driver column.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=99))]
    car: Option<u8>,
    /// Circuit name for the session's start marker (default: `replay`; an OpenF1
    /// session's own circuit).
    #[arg(long)]
    circuit: Option<String>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// All or nothing: the first impossible value or unusable row stops the replay
    /// (by default it becomes unknown or is left out, and the end says what and where).
    #[arg(long)]
    strict: bool,
    #[command(flatten)]
    stream: StreamArgs,
}

/// The processor and its key, from `--api-url` and the key's sources.
fn replay_api(a: &ReplayArgs) -> anyhow::Result<Option<(&str, String)>> {
    let Some(url) = &a.api_url else {
        return Ok(None);
    };
    let Some(key) = api_key(a.api_key_file.as_deref())? else {
        bail!("--api-url needs the processor's key: STREAM_PROCESSOR_API_KEY or --api-key-file");
    };
    Ok(Some((url.as_str(), key)))
}

/// A progress bar on stderr (hidden with `--quiet`) of `len` units.
fn replay_bar(quiet: bool, len: u64, template: &str) -> indicatif::ProgressBar {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr())
    };
    bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
    bar
}

/// `replay --openf1-session`: the session fetched and fed through the processor.
async fn replay_openf1(a: ReplayArgs, key: i64) -> anyhow::Result<()> {
    use pitstop_workloads::feeds::Dirt;
    use pitstop_workloads::feeds::openf1::session_of;
    use pitstop_workloads::replay::session_finished;
    let Some((url, api_key)) = replay_api(&a)? else {
        bail!(
            "--{} feeds through a processor: give --{} (into Redis only recordings are replayed)",
            flags::OPENF1_SESSION,
            flags::API_URL
        );
    };
    let opts = live_options(&a, key)?;
    let session = session_of(&opts.feed, Some(key))?.to_string();
    if session_finished(url, &session).await? {
        println!("session {session} is already finished: nothing left to send");
        return Ok(());
    }
    let mut dirt = Dirt::default();
    let report = live_replay(&a, &opts, url, &api_key, &mut dirt)
        .await
        .with_context(|| {
            format!(
                "replaying OpenF1 session {key} into {session} (run the same command again to resume: what the processor has is not stored twice)"
            )
        })?;
    print_live_report(key, &session, report, dirt);
    Ok(())
}

/// What `replay --openf1-session` asks for.
fn live_options(
    a: &ReplayArgs,
    key: i64,
) -> anyhow::Result<pitstop_workloads::feeds::openf1_live::LiveOptions> {
    Ok(pitstop_workloads::feeds::openf1_live::LiveOptions {
        session_key: key,
        feed: pitstop_workloads::feeds::FeedOptions {
            session: a.session.clone(),
            grid: match &a.grid {
                Some(g) => parse_grid(g).map_err(|e| anyhow::anyhow!("--grid: {e}"))?,
                None => Vec::new(),
            },
            ..Default::default()
        },
        circuit: a.circuit.clone(),
        window_ms: a.openf1_window_min as i64 * 60_000,
    })
}

/// Fetches the session and feeds it, with a progress bar of the pages fetched. What the
/// small records could not give goes into `dirt`.
async fn live_replay(
    a: &ReplayArgs,
    opts: &pitstop_workloads::feeds::openf1_live::LiveOptions,
    url: &str,
    api_key: &str,
    dirt: &mut pitstop_workloads::feeds::Dirt,
) -> anyhow::Result<pitstop_workloads::replay::LiveReport> {
    use pitstop_workloads::feeds::openf1_fetch::{Fetcher, RetryPolicy};
    use pitstop_workloads::feeds::openf1_live::LiveSession;
    use pitstop_workloads::replay::{ReplayProgress, openf1_to_api};
    use std::sync::atomic::{AtomicU64, Ordering};
    let fetcher =
        Fetcher::new(&a.openf1_url, RetryPolicy::default()).map_err(anyhow::Error::msg)?;
    let live = LiveSession::open(&fetcher, opts, dirt).await?;
    if a.strict
        && let Some(e) = dirt.clone().into_error()
    {
        return Err(anyhow::Error::from(e).context("OpenF1 drivers, laps, stints, pit, position"));
    }
    let bar = replay_bar(
        a.quiet,
        live.pages(),
        "{bar:40} {pos}/{len} pages · {msg} · {elapsed}",
    );
    let progress = Arc::new(ReplayProgress::default());
    let ticker = tick_bar(bar.clone(), {
        let (p, pages) = (progress.clone(), fetcher.pages.clone());
        move || {
            let load = |x: &AtomicU64| x.load(Ordering::Relaxed);
            let (sent, lap) = (load(&p.sent), load(&p.lap));
            (load(&pages), format!("{sent} samples sent · lap {lap}"))
        }
    });
    let r = openf1_to_api(fetcher, live, url, api_key, a.speed.0, &progress, a.strict).await;
    ticker.abort();
    match &r {
        Ok(_) => bar.finish(),
        Err(_) => bar.abandon(),
    }
    r
}

/// The end of `replay --openf1-session`: what was sent and what was there already, what
/// was left out and why.
fn print_live_report(
    key: i64,
    session: &str,
    mut report: pitstop_workloads::replay::LiveReport,
    dirt: pitstop_workloads::feeds::Dirt,
) {
    let answered = &report.answered;
    println!(
        "replayed OpenF1 session {key}: {} samples of {} cars into session {session} ({} new, {} already there), {} session events ({} already there), then finished",
        answered.sent,
        report.cars,
        answered.accepted,
        answered.duplicates,
        report.events_stored,
        report.events_duplicates,
    );
    if report.after_finish > 0 {
        println!(
            "{} samples after the drivers' last laps (the cool-down lap) not sent",
            report.after_finish
        );
    }
    if answered.rejected > 0 {
        println!(
            "the processor refused {} samples (first: {})",
            answered.rejected,
            answered.first_rejected.as_deref().unwrap_or("?")
        );
    }
    report.dirt.insert(
        0,
        ("OpenF1 drivers, laps, stints, pit, position".into(), dirt),
    );
    if let Some(summary) = pitstop_workloads::replay::dirt_summary(&report.dirt) {
        print!("{summary}");
    }
}

async fn replay(a: ReplayArgs) -> anyhow::Result<()> {
    use pitstop_workloads::feeds::{FeedOptions, time};
    use pitstop_workloads::replay::{Recording, Replay, ReplayProgress, to_api};
    if let Some(key) = a.openf1_session {
        return replay_openf1(a, key).await;
    }
    // The processor and its key first: a bad key fails before a large recording is read.
    let api = replay_api(&a)?;
    let start_ms = match a.start.as_deref() {
        None => None,
        Some(v) => Some(time::start_ms(v).map_err(|e| anyhow::anyhow!("--start: {e}"))?),
    };
    let opts = FeedOptions {
        session: a.session.clone(),
        start_ms: Some(start_ms.unwrap_or_else(pitstop_workloads::util::now_ms)),
        grid: match &a.grid {
            Some(g) => parse_grid(g).map_err(|e| anyhow::anyhow!("--grid: {e}"))?,
            None => Vec::new(),
        },
        car: a.car,
    };
    let circuit = a.circuit.as_deref().unwrap_or("replay");
    let rec = Recording::load(&a.files, &opts, circuit, a.strict)?;
    let dirty = rec.dirt_summary();
    let total = rec.samples.len() as u64;
    let cars = rec.cars().len();
    let session = rec.session.clone();
    let bar = replay_bar(
        a.quiet,
        total,
        "{bar:40} {pos}/{len} samples · {msg} · {elapsed} (eta {eta})",
    );
    let speed = a.speed.0;
    let mut refused = None;
    tracing::info!(session = %rec.session, samples = total, cars, ?speed, "replay starting");
    let sent = match api {
        Some((url, key)) => {
            let progress = Arc::new(ReplayProgress::default());
            let ticker = tick_bar(bar.clone(), {
                let p = progress.clone();
                move || {
                    let lap = p.lap.load(std::sync::atomic::Ordering::Relaxed);
                    (
                        p.sent.load(std::sync::atomic::Ordering::Relaxed),
                        format!("lap {lap}"),
                    )
                }
            });
            let r = to_api(&rec, url, &key, speed, &progress, a.strict).await;
            ticker.abort();
            let answered = r?;
            if answered.rejected > 0 {
                refused = Some(format!(
                    "the processor refused {} samples (first: {})",
                    answered.rejected,
                    answered.first_rejected.as_deref().unwrap_or("?")
                ));
            }
            answered.sent
        }
        None => {
            let redis =
                pitstop_workloads::redis_conn::RedisTarget::open(a.stream.redis.redis_url.as_str())
                    .context("invalid --redis-url")?;
            let keys = StreamKeys::new(&a.stream.stream, a.stream.partitions);
            let cfg = PublishConfig {
                time_scale: speed,
                rate: None,
                batch_max: 256,
                maxlen: a.stream.maxlen,
            };
            let progress = Arc::new(Progress::default());
            let stop = Arc::new(AtomicBool::new(false));
            let ticker = tick_bar(bar.clone(), {
                let p = progress.clone();
                move || {
                    let lap = p.lap.load(std::sync::atomic::Ordering::Relaxed);
                    (
                        p.published.load(std::sync::atomic::Ordering::Relaxed),
                        format!("lap {lap}"),
                    )
                }
            });
            let publish = service::run_source(
                Replay::new(rec),
                keys,
                redis,
                cfg,
                SimulatorMetrics::new(),
                progress.clone(),
                stop.clone(),
            );
            let r = tokio::select! {
                r = publish => r.map(|report| report.published),
                _ = shutdown_signal() => {
                    stop.store(true, std::sync::atomic::Ordering::Relaxed);
                    ticker.abort();
                    bar.abandon();
                    tracing::warn!("stopped; run the same replay again to resume where it stopped");
                    return Ok(());
                }
            };
            ticker.abort();
            r?
        }
    };
    bar.set_position(sent);
    bar.finish();
    println!(
        "replayed {sent} samples of {cars} cars into session {session} ({})",
        match &a.api_url {
            Some(_) => "through the processor's API, then finished",
            None => "into Redis, with start and end markers",
        }
    );
    if let Some(summary) = dirty {
        print!("{summary}");
    }
    if let Some(refused) = refused {
        println!("{refused}");
    }
    Ok(())
}

/// Redraws the bar from `read` (position, message) five times a second.
fn tick_bar(
    bar: indicatif::ProgressBar,
    read: impl Fn() -> (u64, String) + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let (position, message) = read();
            bar.set_position(position);
            bar.set_message(message);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
}

#[derive(Args)]
struct JobCliArgs {
    /// The step to run.
    step: String,
    /// Session (the RaceSession's name).
    #[arg(long, env = var::SESSION, default_value = "")]
    session: String,
    #[command(flatten)]
    stream: StreamArgs,
    #[command(flatten)]
    database: DatabaseUrl,
    /// Pipeline run this attempt belongs to.
    #[arg(long, env = var::RUN_ID, default_value = "manual")]
    run_id: String,
    /// Task name within the run.
    #[arg(long, env = var::TASK, default_value = "")]
    task: String,
    /// Attempt number of the task, from 1.
    #[arg(long, env = var::ATTEMPT, default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..))]
    attempt: i32,
    /// persist-teams: the team.
    #[arg(long)]
    team: Option<String>,
    /// notify: announce the run's outcome (succeeded or failed) instead of the race summary.
    #[arg(long = flags::OUTCOME)]
    outcome: Option<String>,
    /// notify --outcome failed: the tasks that failed, comma-separated.
    #[arg(long = flags::FAILED_TASKS, value_delimiter = ',')]
    failed_tasks: Vec<String>,
    /// collect-telemetry: do not trim the stream after archiving.
    #[arg(long)]
    keep_stream: bool,
    /// notify: link to the report.
    #[arg(long, env = var::REPORT_URL)]
    report_url: Option<String>,
    /// notify: webhook URL (from a Secret; never logged).
    #[arg(long, env = var::WEBHOOK_URL, hide_env_values = true)]
    webhook_url: Option<String>,
}

async fn job(a: JobCliArgs) -> anyhow::Result<()> {
    use pitstop_workloads::jobs::{Attempt, JobArgs, Step, execute};
    let step = Step::parse(&a.step).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown step {:?}; one of {}",
            a.step,
            Step::ALL.map(Step::as_str).join(", ")
        )
    })?;
    if a.session.is_empty() && step != Step::SeasonReport {
        anyhow::bail!(
            "--session (PITSTOP_SESSION) is required for {}",
            step.as_str()
        );
    }
    let outcome = match a.outcome.as_deref() {
        None => None,
        Some("succeeded") => Some(true),
        Some("failed") => Some(false),
        Some(o) => anyhow::bail!("--outcome is succeeded or failed, not {o:?}"),
    };
    let mut db = pitstop_workloads::db::connect(&a.database.database_url).await?;
    pitstop_workloads::db::migrate(&mut db).await?;
    let redis =
        pitstop_workloads::redis_conn::RedisTarget::open(a.stream.redis.redis_url.as_str())?;
    let keys = StreamKeys::new(a.stream.stream.clone(), a.stream.partitions);
    let args = JobArgs {
        session: a.session,
        attempt: Attempt {
            run_id: a.run_id,
            task: if a.task.is_empty() {
                step.as_str().into()
            } else {
                a.task
            },
            attempt: a.attempt,
        },
        team: a.team,
        outcome,
        failed_tasks: a.failed_tasks,
        keep_stream: a.keep_stream,
        report_url: a.report_url,
        webhook_url: a.webhook_url,
    };
    match execute(step, &mut db, &redis, &keys, &args).await {
        Ok(summary) => {
            tracing::info!(step = step.as_str(), session = %args.session, "{summary}");
            Ok(())
        }
        Err(e) => {
            tracing::error!(step = step.as_str(), session = %args.session, error = %chain(&e), "step failed");
            // The message is what the operator shows as the task's failure.
            Err(anyhow::anyhow!("{} failed: {}", step.as_str(), chain(&e)))
        }
    }
}

/// `--redis-url`, flattened into every subcommand that reads or writes the streams; its
/// environment value is hidden from `--help` by [`cli_command`].
#[derive(Args, Clone)]
struct RedisUrl {
    /// Redis URL.
    #[arg(long, env = var::REDIS_URL, default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
}

/// `--database-url`, flattened into every subcommand that uses PostgreSQL (its own struct:
/// `simulate` and `replay` take only the Redis URL); hidden like [`RedisUrl`].
#[derive(Args, Clone)]
struct DatabaseUrl {
    /// PostgreSQL URL.
    #[arg(
        long,
        env = var::DATABASE_URL,
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    database_url: String,
}

#[derive(Args, Clone)]
pub struct StreamArgs {
    #[command(flatten)]
    redis: RedisUrl,
    /// Base key of the telemetry stream (partitions are `<stream>:p<k>`).
    #[arg(long, env = var::STREAM, default_value = "pitstop:telemetry")]
    stream: String,
    /// Number of stream partitions; simulator and processor must agree.
    #[arg(long, env = var::PARTITIONS, default_value_t = pitstop_contract::PARTITIONS, value_parser = clap::value_parser!(u16).range(1..=64))]
    partitions: u16,
    /// Approximate bound on entries per partition (XADD MAXLEN ~), 1000..=1000000000.
    #[arg(long, env = "PITSTOP_MAXLEN", default_value_t = 250_000, value_parser = RangedU64ValueParser::<usize>::new().range(1_000..=1_000_000_000))]
    maxlen: usize,
}

#[derive(Args, Clone)]
pub struct RaceArgs {
    /// Circuit id (monza, bahrain, silverstone, monaco, melbourne, baku, zandvoort, singapore, imola).
    #[arg(long = flags::CIRCUIT, env = "PITSTOP_CIRCUIT", default_value = "monza")]
    circuit: String,
    /// Race distance in laps.
    #[arg(long = flags::LAPS, env = "PITSTOP_LAPS", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=200))]
    laps: u16,
    /// Cars on the grid (first N of the 2024 grid).
    #[arg(long, env = "PITSTOP_CARS", default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=20))]
    cars: u16,
    /// Random seed: the same seed gives the same race.
    #[arg(long = flags::SEED, env = "PITSTOP_SEED", default_value_t = 1)]
    seed: u64,
    /// Samples per second per car, 1..=120 (4 like live timing … 60 like the F1 game).
    #[arg(long = flags::SAMPLE_HZ, env = "PITSTOP_SAMPLE_HZ", default_value_t = 20.0, value_parser = f64_in(1.0..=120.0))]
    sample_hz: f64,
    /// Probability that a car suffers an injected anomaly on a lap, 0..=1.
    #[arg(long = flags::ANOMALY_RATE, env = "PITSTOP_ANOMALY_RATE", default_value_t = 0.03, value_parser = f64_in(0.0..=1.0))]
    anomaly_rate: f64,
    /// Custom grid, `car:driver:team` entries separated by commas (overrides --cars).
    #[arg(long = flags::GRID, env = "PITSTOP_GRID")]
    grid: Option<String>,
    /// Session id (default: `<circuit>-<unix seconds>`).
    #[arg(long = flags::SESSION, env = var::SESSION)]
    session: Option<String>,
}

impl RaceArgs {
    fn config(&self) -> anyhow::Result<RaceConfig> {
        let Some(c) = circuit(&self.circuit) else {
            bail!(
                "unknown circuit {:?}; known: {}",
                self.circuit,
                circuit_ids().join(", ")
            );
        };
        let now = pitstop_workloads::util::now_ms();
        let session = self
            .session
            .clone()
            .unwrap_or_else(|| format!("{}-{}", c.id, now / 1000));
        pitstop_workloads::model::validate(&pitstop_workloads::model::Sample {
            session: session.as_str().into(),
            car: 1,
            timestamp_ms: now,
            ..Default::default()
        })
        .map_err(|e| anyhow::anyhow!("invalid --session: {e}"))?;
        Ok(RaceConfig {
            session,
            circuit: c,
            laps: self.laps,
            grid: match &self.grid {
                Some(g) => parse_grid(g).map_err(|e| anyhow::anyhow!("invalid --grid: {e}"))?,
                None => default_grid(self.cars as usize),
            },
            seed: self.seed,
            sample_hz: self.sample_hz,
            anomaly_rate: self.anomaly_rate,
            start_ms: now,
        })
    }
}

#[derive(Args)]
struct SimulateArgs {
    #[command(flatten)]
    stream: StreamArgs,
    #[command(flatten)]
    race: RaceArgs,
    /// Race seconds per wall second, 0.01..=1e6 (1 = real time), or `max` for as fast as
    /// possible.
    #[arg(long = flags::TIME_SCALE, env = "PITSTOP_TIME_SCALE", default_value = "1", value_parser = parse_speed)]
    time_scale: Speed,
    /// Cap on samples per second across all cars, 1..=1e7.
    #[arg(long = flags::RATE, env = "PITSTOP_RATE", value_parser = f64_in(RATE))]
    rate: Option<f64>,
    /// Samples per partition per stream entry when running flat out, 1..=10000.
    #[arg(long, env = "PITSTOP_BATCH", default_value_t = 256, value_parser = RangedU64ValueParser::<usize>::new().range(1..=10_000))]
    batch: usize,
    /// Address for /health, /ready and /metrics.
    #[arg(long, env = "PITSTOP_LISTEN", default_value = "0.0.0.0:8000")]
    listen: SocketAddr,
    /// Write the ground truth (pit stops, anomalies, counts) as JSON here at the end.
    #[arg(long)]
    ground_truth: Option<PathBuf>,
    /// Exit after the chequered flag (default: keep serving metrics until stopped, so a
    /// Deployment does not restart and re-run the race).
    #[arg(long)]
    exit_on_finish: bool,
}

impl SimulateArgs {
    /// How fast to publish (every value was range-checked when parsed).
    fn publish_config(&self) -> PublishConfig {
        PublishConfig {
            time_scale: self.time_scale.0,
            rate: self.rate,
            batch_max: self.batch,
            maxlen: self.stream.maxlen,
        }
    }
}

#[derive(Args)]
struct ProcessArgs {
    #[command(flatten)]
    stream: StreamArgs,
    #[command(flatten)]
    database: DatabaseUrl,
    /// Consumer name, unique per replica (defaults to $HOSTNAME, the pod name).
    #[arg(long, env = "PITSTOP_CONSUMER")]
    consumer: Option<String>,
    /// Address of the HTTP API.
    #[arg(long, env = "PITSTOP_LISTEN", default_value = "0.0.0.0:8001")]
    listen: SocketAddr,
    /// Read the ingest API key from this file instead of STREAM_PROCESSOR_API_KEY.
    #[arg(long, env = "STREAM_PROCESSOR_API_KEY_FILE")]
    api_key_file: Option<PathBuf>,
    /// Largest batch, 1..=1000000: past this many samples the reader waits for the
    /// committer.
    #[arg(long, env = "PITSTOP_MAX_BATCH", default_value_t = 20_000, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    max_batch: usize,
    /// Partition lease time-to-live, 2..=300 seconds: how soon a dead replica's partitions
    /// move.
    #[arg(long, env = "PITSTOP_LEASE_TTL_S", default_value_t = 10, value_parser = clap::value_parser!(u64).range(2..=300))]
    lease_ttl_s: u64,
    /// Largest accepted POST /telemetry body, 1024..=268435456 bytes (256 MiB).
    #[arg(long, env = "PITSTOP_MAX_BODY_BYTES", default_value_t = 1 << 20, value_parser = RangedU64ValueParser::<usize>::new().range(1_024..=256 << 20))]
    max_body_bytes: usize,
}

impl ProcessArgs {
    /// The ingest key; `None` when neither `--api-key-file` nor the variable is set.
    fn api_key(&self) -> anyhow::Result<Option<String>> {
        api_key(self.api_key_file.as_deref())
    }
}

/// The ingest key from `file`, else from `STREAM_PROCESSOR_API_KEY`: `None` when neither
/// is set, an error naming the source when the key there is empty, short or malformed.
fn api_key(file: Option<&std::path::Path>) -> anyhow::Result<Option<String>> {
    Ok(secrets::load_api_key(
        file,
        std::env::var_os(secrets::API_KEY_ENV),
    )?)
}

#[derive(Args)]
#[command(mut_arg("redis_url", |a| {
    a.help("Redis URL (`make demo` starts a throwaway server when REDIS_URL is unset)")
}))]
pub struct DemoArgs {
    #[command(flatten)]
    pub race: RaceArgs,
    #[command(flatten)]
    redis: RedisUrl,
    #[command(flatten)]
    database: DatabaseUrl,
    /// Race seconds per wall second, 0.01..=1e6.
    #[arg(long, default_value_t = 40.0, value_parser = f64_in(PACE))]
    pub time_scale: f64,
}

// `bench --help` has always listed the two URLs without a description: the shared
// structs' help texts are cleared so that its output stays as it was.
#[derive(Args)]
#[command(
    mut_arg("redis_url", |a| a.help(None::<&str>)),
    mut_arg("database_url", |a| a.help(None::<&str>))
)]
pub struct BenchArgs {
    #[command(flatten)]
    redis: RedisUrl,
    #[command(flatten)]
    database: DatabaseUrl,
    /// Samples for the throughput phase, 1..=1000000000.
    #[arg(long, default_value_t = 3_000_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub samples: u64,
    /// Target rate of the latency phase, 1..=1e7 samples/s.
    #[arg(long, default_value_t = 50_000.0, value_parser = f64_in(RATE))]
    pub rate: f64,
    /// Duration of the latency phase, 1..=3600 seconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub seconds: u64,
    /// A Redis Cluster (`redis+cluster://host:port,…`) to run the throughput phase on as
    /// well (`make bench` starts one with scripts/redis-cluster.sh).
    #[arg(long, env = "REDIS_CLUSTER_URL", hide_env_values = true)]
    pub cluster_url: Option<String>,
}

/// Logs to stderr; `PITSTOP_LOG` overrides `default` (a tracing filter). Colours only
/// on a terminal (and not under `NO_COLOR`): a pipe, a file or a container log
/// collector gets plain text.
fn init_logs(default: &str) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("PITSTOP_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let json = std::env::var(var::LOG_FORMAT).is_ok_and(|f| f == "json");
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    if json { b.json().init() } else { b.init() }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = try_parse_cli(std::env::args_os()).unwrap_or_else(|e| e.exit());
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", chain(&*e));
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Simulate(a) => {
            init_logs("info");
            simulate(a).await
        }
        Command::Process(a) => {
            init_logs("info");
            process(a).await
        }
        Command::Job(a) => {
            init_logs("info");
            job(a).await
        }
        Command::Replay(a) => {
            init_logs("warn");
            replay(a).await
        }
        Command::Ingest(a) => {
            init_logs("info");
            pitstop_workloads::game::run(a).await
        }
        Command::GameRace(a) => {
            init_logs("warn");
            pitstop_workloads::game::game_race(a).await
        }
        Command::Openapi => {
            print!("{}", pitstop_workloads::processor::api::document_json());
            Ok(())
        }
        Command::Demo(a) => {
            // The demo prints its own progress; keep logs to warnings.
            init_logs("warn");
            demo::run(demo::DemoConfig {
                race: a.race.config()?,
                redis_url: a.redis.redis_url,
                database_url: a.database.database_url,
                time_scale: a.time_scale,
            })
            .await
        }
        Command::Bench(a) => {
            init_logs("warn");
            bench::run(bench::BenchConfig {
                redis_url: a.redis.redis_url,
                cluster_url: a.cluster_url,
                database_url: a.database.database_url,
                samples: a.samples,
                rate: a.rate,
                seconds: a.seconds,
            })
            .await
        }
    }
}

/// How long SIGTERM waits for the publisher to stop by itself.
const STOP_GRACE: Duration = Duration::from_secs(2);

async fn simulate(a: SimulateArgs) -> anyhow::Result<()> {
    let race = a.race.config()?;
    let redis = pitstop_workloads::redis_conn::RedisTarget::open(a.stream.redis.redis_url.as_str())
        .context("invalid --redis-url")?;
    let metrics = SimulatorMetrics::new();
    tokio::spawn({
        let (m, r) = (metrics.clone(), redis.clone());
        async move {
            if let Err(e) = service::serve(a.listen, m, r).await {
                tracing::error!(error = %chain(&e), "metrics server failed");
            }
        }
    });
    let keys = StreamKeys::new(&a.stream.stream, a.stream.partitions);
    let cfg = a.publish_config();
    tracing::info!(session = %race.session, circuit = race.circuit.id, laps = race.laps, cars = race.grid.len(), stream = %keys.base, "race started");
    let stop = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(Progress::default());
    let mut run = tokio::spawn(service::run_race(
        race,
        keys,
        redis,
        cfg,
        metrics,
        progress,
        stop.clone(),
    ));
    let report = tokio::select! {
        r = &mut run => r??,
        _ = shutdown_signal() => {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            tracing::warn!("stopped before the chequered flag");
            // The publisher sees `stop` at its next tick; one blocked on a stalled Redis
            // would hold the process until its socket timeout. What it sent is atomic
            // per batch (a restart resumes from it), so leaving it mid-call is safe.
            if tokio::time::timeout(STOP_GRACE, run).await.is_err() {
                tracing::warn!("publisher still blocked on Redis; exiting without it");
                std::process::exit(0);
            }
            return Ok(());
        }
    };
    tracing::info!(
        published = report.published,
        entries = report.entries,
        seconds = report.elapsed.as_secs_f64(),
        pit_stops = report.truth.pit_stops.len(),
        anomalies = report.truth.anomalies.len(),
        trimmed = report.trimmed,
        "chequered flag"
    );
    if let Some(path) = a.ground_truth {
        std::fs::write(&path, serde_json::to_vec_pretty(&report.truth)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if !a.exit_on_finish {
        shutdown_signal().await;
    }
    Ok(())
}

async fn process(a: ProcessArgs) -> anyhow::Result<()> {
    let api_key = a.api_key()?;
    if api_key.is_none() {
        tracing::warn!("no STREAM_PROCESSOR_API_KEY: POST /telemetry will answer 401");
    }
    let mut cfg = ProcessorConfig::new(
        &a.stream.redis.redis_url,
        &a.database.database_url,
        &a.stream.stream,
    );
    cfg.partitions = a.stream.partitions;
    cfg.maxlen = a.stream.maxlen;
    cfg.consumer = a.consumer.unwrap_or_else(default_consumer);
    cfg.api_key = api_key;
    cfg.listen = Some(a.listen);
    cfg.max_batch_samples = a.max_batch.max(1);
    cfg.lease_ttl = Duration::from_secs(a.lease_ttl_s.clamp(2, 300));
    cfg.max_body_bytes = a.max_body_bytes;
    tracing::info!(consumer = %cfg.consumer, stream = %cfg.stream, partitions = cfg.partitions, "processor starting");
    // Starting is bounded (connect and migrate time out), but SIGTERM need not wait.
    let p = tokio::select! {
        p = Processor::start(cfg, None) => p?,
        _ = shutdown_signal() => return Ok(()),
    };
    shutdown_signal().await;
    tracing::info!("shutting down: committing in-flight batches and releasing partitions");
    p.shutdown().await;
    Ok(())
}
