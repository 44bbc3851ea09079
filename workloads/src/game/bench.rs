//! `pitstop bench`'s game phase: a 22-car race at 60 Hz, at the game's own pace, through
//! the gateway (decode, assemble, POST /telemetry) into a processor: datagram arrival →
//! samples stored in the stream, and stream → analysed, p50/p99.

use super::gateway::{self, Gateway};
use super::metrics::GatewayMetrics;
use super::record::Recording;
use super::send::{self, SendState, Target};
use crate::processor::queries::wait_finished;
use crate::processor::recorder::{LatencyRecorder, Quantiles};
use crate::processor::{Processor, ProcessorConfig};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct GameFigures {
    pub datagrams: usize,
    pub seconds: f64,
    /// Datagram arrival → the processor's answer (the samples are in the stream), µs.
    pub stored_p50_us: u64,
    pub stored_p99_us: u64,
    /// Stream → analysed, as the processor measures it.
    pub analysed: Quantiles,
}

const KEY: &str = "bench-key-not-a-secret";

/// Two laps of 1 km, 22 cars at 60 Hz, stops for every third car: about 40 s at the
/// game's pace.
fn recording() -> Recording {
    super::play::synthesized(22, 2, 1_000.0, 60.0)
}

pub async fn run(redis_url: &str, database_url: &str) -> anyhow::Result<GameFigures> {
    let session = format!("bench-game-{}", crate::util::now_ms());
    let recorder = Arc::new(LatencyRecorder::default());
    let mut pcfg =
        ProcessorConfig::new(redis_url, database_url, &format!("pitstop:bench:{session}"));
    pcfg.consumer = "bench".into();
    pcfg.api_key = Some(KEY.into());
    pcfg.listen = Some("127.0.0.1:0".parse().expect("an address"));
    let processor = Processor::start(pcfg, Some(recorder.clone())).await?;
    let base = format!("http://{}", processor.addr.expect("listening"));
    let state = Arc::new(SendState::default());
    *state.lag_us.lock().expect("not poisoned") = Some(hdrhistogram::Histogram::new(3)?);
    let (tx, rx) = tokio::sync::mpsc::channel(8_192);
    let target = Target {
        api_url: base,
        api_key: KEY.into(),
    };
    let metrics = GatewayMetrics::new();
    let sender = tokio::spawn(send::run(rx, target, metrics.clone(), state.clone()));
    let gw = Mutex::new(Gateway::new(Some(&session), metrics, tx, None));
    let mut rec = recording();
    rec.start_ms = crate::util::now_ms();
    let t = Instant::now();
    gateway::replay(&rec, &gw, Some(1.0)).await;
    let seconds = t.elapsed().as_secs_f64();
    gateway::close(gw.into_inner().expect("not poisoned")).await;
    sender.await?;
    let db = crate::db::connect(database_url).await?;
    wait_finished(&db, &session, Duration::from_secs(120)).await?;
    let (analysed, _) = recorder.snapshot();
    processor.shutdown().await;
    let lag = state
        .lag_us
        .lock()
        .expect("not poisoned")
        .take()
        .expect("set above");
    Ok(GameFigures {
        datagrams: rec.datagrams.len(),
        seconds,
        stored_p50_us: lag.value_at_quantile(0.5),
        stored_p99_us: lag.value_at_quantile(0.99),
        analysed,
    })
}
