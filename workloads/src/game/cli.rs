//! `pitstop ingest`: its flags and how its parts run together.

use super::gateway::{self, Gateway, Probe};
use super::metrics::GatewayMetrics;
use super::record::{Recorder, Recording};
use super::send::{self, SendState, Target};
use crate::secrets;
use anyhow::{Context, bail};
use clap::Args;
use pitstop_contract::{flags, ports};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Outputs queued for the sender: a frame of 22 cars is one, so about a minute of a
/// 60 Hz game while the processor is away.
const QUEUE: usize = 8_192;
/// How long a stopping gateway waits for the sender to deliver what it holds.
const DRAIN_GRACE: Duration = Duration::from_secs(10);

/// `pitstop ingest`.
#[derive(Args, Debug)]
pub struct IngestArgs {
    /// UDP address the game sends to (in the game: Settings → Telemetry Settings → UDP
    /// Telemetry On, UDP IP Address, UDP Port, UDP Format 2022/2023/2024).
    #[arg(long = flags::UDP, default_value_t = SocketAddr::from(([0, 0, 0, 0], ports::GAME_UDP)))]
    pub udp: SocketAddr,
    /// The processor whose POST /telemetry is fed (key from STREAM_PROCESSOR_API_KEY or
    /// --api-key-file).
    #[arg(long = flags::API_URL, required_unless_present = "to")]
    pub api_url: Option<String>,
    /// File holding the processor's API key.
    #[arg(long, env = "STREAM_PROCESSOR_API_KEY_FILE")]
    pub api_key_file: Option<PathBuf>,
    /// One pitstop session for the first game session seen (others are dropped); without
    /// it every game session is its own, `game-<sessionUID in hex>`.
    #[arg(long = flags::SESSION)]
    pub session: Option<String>,
    /// `/health`, `/ready`, `/metrics`, `/status`.
    #[arg(long, default_value_t = SocketAddr::from(([0, 0, 0, 0], ports::GATEWAY)))]
    pub listen: SocketAddr,
    /// Also write every datagram with its arrival time to this file.
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// Feed this recording (from --record) instead of listening, then exit.
    #[arg(long)]
    pub replay: Option<PathBuf>,
    /// With --replay: send the recording's datagrams over UDP to this gateway (a game
    /// stand-in) instead of feeding a processor.
    #[arg(long, requires = "replay")]
    pub to: Option<SocketAddr>,
    /// With --replay: times the recorded pace, or `max` for as fast as possible.
    #[arg(long = flags::SPEED, default_value = "1")]
    pub speed: String,
}

impl IngestArgs {
    /// `--speed` as a multiple of the recorded pace (`None`: flat out).
    pub fn speed(&self) -> Result<Option<f64>, String> {
        Self::parse_speed(&self.speed)
    }

    fn parse_speed(v: &str) -> Result<Option<f64>, String> {
        if v == "max" {
            return Ok(None);
        }
        match v.parse::<f64>() {
            Ok(x) if (0.01..=1e6).contains(&x) => Ok(Some(x)),
            _ => Err(format!("--speed {v:?}: a number within 0.01..=1e6, or max")),
        }
    }

    /// Everything checkable before the gateway starts.
    pub fn check(&self) -> Result<(), String> {
        self.speed()?;
        if let Some(s) = &self.session {
            crate::model::validate_session(s).map_err(|e| format!("--session: {}", e.message))?;
        }
        if let Some(url) = &self.api_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err("--api-url: an http:// or https:// URL of the processor".into());
        }
        Ok(())
    }
}

pub async fn run(a: IngestArgs) -> anyhow::Result<()> {
    a.check().map_err(anyhow::Error::msg)?;
    if let (Some(to), Some(path)) = (a.to, &a.replay) {
        let rec = Recording::read(path).map_err(anyhow::Error::msg)?;
        tracing::info!(datagrams = rec.datagrams.len(), %to, "sending the recording");
        return super::play::send(&rec, to, a.speed().map_err(anyhow::Error::msg)?).await;
    }
    let api_url = a.api_url.clone().expect("required without --to");
    let Some(key) = secrets::load_api_key(
        a.api_key_file.as_deref(),
        std::env::var_os(secrets::API_KEY_ENV),
    )?
    else {
        bail!("the processor's key is needed: STREAM_PROCESSOR_API_KEY or --api-key-file");
    };
    let metrics = GatewayMetrics::new();
    let state = Arc::new(SendState::default());
    let (tx, rx) = tokio::sync::mpsc::channel(QUEUE);
    let target = Target {
        api_url,
        api_key: key,
    };
    let sender = tokio::spawn(send::run(rx, target, metrics.clone(), state.clone()));
    let recorder = match &a.record {
        Some(p) => Some(
            Recorder::create(p, crate::util::now_ms())
                .with_context(|| format!("--record {}", p.display()))?,
        ),
        None => None,
    };
    let gw = Arc::new(Mutex::new(Gateway::new(
        a.session.as_deref(),
        metrics.clone(),
        tx,
        recorder,
    )));
    let probe = Probe {
        metrics,
        send: state,
        ready: Arc::new(AtomicBool::new(false)),
        rate: Arc::new(Mutex::new((Instant::now(), 0, 0.0))),
    };
    let http = tokio::net::TcpListener::bind(a.listen)
        .await
        .with_context(|| format!("--listen {}", a.listen))?;
    tokio::spawn(gateway::serve(http, probe.clone()));
    match &a.replay {
        Some(path) => {
            let rec = Recording::read(path).map_err(anyhow::Error::msg)?;
            probe.ready.store(true, Ordering::Relaxed);
            tracing::info!(datagrams = rec.datagrams.len(), "replaying");
            gateway::replay(&rec, &gw, a.speed().map_err(anyhow::Error::msg)?).await;
        }
        None => {
            let socket = super::socket::bind(a.udp).with_context(|| format!("--udp {}", a.udp))?;
            probe.ready.store(true, Ordering::Relaxed);
            tracing::info!(udp = %a.udp, "listening for the F1 game");
            let stop = Arc::new(AtomicBool::new(false));
            let listen = tokio::spawn(gateway::listen(socket, gw.clone(), stop.clone()));
            crate::util::shutdown_signal().await;
            stop.store(true, Ordering::Relaxed);
            let _ = listen.await;
        }
    }
    // What is held goes out; the sender ends when the queue it reads is closed.
    let gw = Arc::into_inner(gw).expect("the listener has ended");
    let deliver = async move {
        let finished = gateway::close(gw.into_inner().expect("not poisoned")).await;
        let _ = sender.await;
        finished
    };
    let Ok(finished) = tokio::time::timeout(DRAIN_GRACE, deliver).await else {
        tracing::warn!("the processor did not take everything in time");
        return Ok(());
    };
    tracing::info!(finished, "gateway stopped");
    Ok(())
}

/// `pitstop game-race`.
#[derive(Args, Debug)]
pub struct GameRaceArgs {
    /// The gateway's UDP address (`pitstop ingest --udp`, or a `source: game` race's
    /// Service).
    #[arg(long)]
    pub to: SocketAddr,
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u8).range(2..=22))]
    pub cars: u8,
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=200))]
    pub laps: u8,
    /// Lap length in metres (5,412 is Bahrain; a short lap is a short race).
    #[arg(long, default_value_t = 5_412.0)]
    pub lap_m: f32,
    /// Frames per second, as the game's "UDP Send Rate".
    #[arg(long, default_value_t = 20.0)]
    pub hz: f32,
    /// Times real time, or `max`.
    #[arg(long = flags::SPEED, default_value = "1")]
    pub speed: String,
    /// Also write the datagrams as a recording (`pitstop ingest --replay` reads it).
    #[arg(long)]
    pub record: Option<PathBuf>,
}

/// Plays a synthesized F1 24 race to a gateway.
pub async fn game_race(a: GameRaceArgs) -> anyhow::Result<()> {
    if !(100.0..=20_000.0).contains(&a.lap_m) || !(1.0..=120.0).contains(&a.hz) {
        bail!("--lap-m within 100..=20000 and --hz within 1..=120");
    }
    let speed = IngestArgs::parse_speed(&a.speed).map_err(anyhow::Error::msg)?;
    let rec = super::play::synthesized(a.cars as usize, a.laps, a.lap_m, a.hz);
    if let Some(path) = &a.record {
        let mut r = Recorder::create(path, rec.start_ms)
            .with_context(|| format!("--record {}", path.display()))?;
        let t0 = Instant::now();
        for (at, d) in &rec.datagrams {
            r.write(d, t0 + Duration::from_micros(*at))?;
        }
        r.finish()?;
    }
    println!(
        "sending {} datagrams ({} cars, {} laps) to {}",
        rec.datagrams.len(),
        a.cars,
        a.laps,
        a.to
    );
    super::play::send(&rec, a.to, speed).await
}
