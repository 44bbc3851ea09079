//! `pitstop bench`: end-to-end figures through real Redis and PostgreSQL.
//!
//! 1. Throughput: a race published flat out (batched entries) while the processor
//!    consumes it; messages/s from first publish to the last commit. With a Redis
//!    Cluster (`--cluster-url`), the same again with the stream on the cluster, beside
//!    the single-Redis figure.
//! 2. Latency: a race paced at a fixed rate with one entry per tick and partition;
//!    detection latency (sample created → analysed) and durable latency (sample created
//!    → its effects committed), p50/p99/p99.9 from exact histograms.
//! 3. The F1 game: a 22-car race at 60 Hz through the UDP gateway's path at the game's
//!    pace (`game::bench`).

use crate::processor::queries::wait_finished;
use crate::processor::recorder::{LatencyRecorder, Quantiles};
use crate::processor::{Processor, ProcessorConfig};
use crate::sim::circuit::circuit;
use crate::sim::grid::default_grid;
use crate::sim::publisher::{Progress, PublishConfig};
use crate::sim::race::RaceConfig;
use crate::sim::service::run_race;
use crate::stream::StreamKeys;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

pub struct BenchConfig {
    pub redis_url: String,
    /// A Redis Cluster to run the throughput phase on as well.
    pub cluster_url: Option<String>,
    pub database_url: String,
    pub samples: u64,
    pub rate: f64,
    pub seconds: u64,
}

struct Phase {
    published: u64,
    elapsed: Duration,
    publish_elapsed: Duration,
    detection: Quantiles,
    durable: Quantiles,
    commit: Quantiles,
}

async fn phase(
    cfg: &BenchConfig,
    redis_url: &str,
    name: &str,
    samples: u64,
    pace: PublishConfig,
) -> anyhow::Result<Phase> {
    let session = format!("bench-{name}-{}", crate::util::now_ms());
    let keys = StreamKeys::new(format!("pitstop:bench:{session}"), 4);
    let hz = 60.0;
    // Monza at 60 Hz: ~85 s × 60 × 20 cars ≈ 102k samples per lap.
    let laps = ((samples as f64 / 102_000.0).ceil() as u16).clamp(1, 200);
    let race = RaceConfig {
        session: session.clone(),
        circuit: circuit("monza").expect("known"),
        laps,
        grid: default_grid(20),
        seed: 42,
        sample_hz: hz,
        anomaly_rate: 0.02,
        start_ms: crate::util::now_ms(),
    };
    let recorder = Arc::new(LatencyRecorder::default());
    let mut pcfg = ProcessorConfig::new(redis_url, &cfg.database_url, &keys.base);
    pcfg.consumer = "bench".into();
    let processor = Processor::start(pcfg, Some(recorder.clone())).await?;
    let db = crate::db::connect(&cfg.database_url).await?;
    let redis = crate::redis_conn::RedisTarget::open(redis_url)?;
    let t = Instant::now();
    let report = run_race(
        race,
        keys.clone(),
        redis.clone(),
        pace,
        crate::metrics::SimulatorMetrics::new(),
        Arc::new(Progress::default()),
        Arc::new(AtomicBool::new(false)),
    )
    .await?;
    let publish_elapsed = t.elapsed();
    wait_finished(&db, &session, Duration::from_secs(600)).await?;
    let elapsed = t.elapsed();
    let (detection, durable) = recorder.snapshot();
    let commit = recorder.commits();
    processor.shutdown().await;
    // Leave nothing behind: the bench streams are large.
    let mut con = crate::redis_conn::connect_async(&redis).await?;
    for (_, k) in keys.all_partitions() {
        let _: () = redis::cmd("DEL").arg(k).query_async(&mut con).await?;
    }
    Ok(Phase {
        published: report.published,
        elapsed,
        publish_elapsed,
        detection,
        durable,
        commit,
    })
}

fn print_commits(p: &Phase) {
    println!(
        "            {} transactions ({:.0} samples each), commit p50 {:.2} ms p99 {:.2} ms",
        p.commit.count,
        p.published as f64 / p.commit.count.max(1) as f64,
        ms(p.commit.p50_us),
        ms(p.commit.p99_us)
    );
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

pub async fn run(cfg: BenchConfig) -> anyhow::Result<()> {
    println!(
        "pitstop bench — end to end through Redis and PostgreSQL (simulator, processor, Redis and PostgreSQL share this machine)\n"
    );
    let flat_out = PublishConfig {
        time_scale: None,
        rate: None,
        batch_max: 256,
        maxlen: 10_000_000,
    };
    let tp = phase(
        &cfg,
        &cfg.redis_url,
        "throughput",
        cfg.samples,
        flat_out.clone(),
    )
    .await?;
    println!(
        "throughput  {} samples in {:.2} s  →  {:.0} msg/s end to end (publisher alone {:.0} msg/s)",
        tp.published,
        tp.elapsed.as_secs_f64(),
        tp.published as f64 / tp.elapsed.as_secs_f64(),
        tp.published as f64 / tp.publish_elapsed.as_secs_f64(),
    );
    print_commits(&tp);
    println!(
        "            detection p50 {:.2} ms p99 {:.2} ms (queueing under full load)",
        ms(tp.detection.p50_us),
        ms(tp.detection.p99_us)
    );
    if let Some(url) = &cfg.cluster_url {
        let cl = phase(&cfg, url, "cluster", cfg.samples, flat_out).await?;
        let rate = |p: &Phase| p.published as f64 / p.elapsed.as_secs_f64();
        println!(
            "cluster     {} samples in {:.2} s  →  {:.0} msg/s end to end on a 3-master Redis Cluster ({:.2}× one Redis; publisher alone {:.0} msg/s)",
            cl.published,
            cl.elapsed.as_secs_f64(),
            rate(&cl),
            rate(&cl) / rate(&tp),
            cl.published as f64 / cl.publish_elapsed.as_secs_f64(),
        );
        print_commits(&cl);
    }
    let samples = (cfg.rate * cfg.seconds as f64) as u64;
    let lat = phase(
        &cfg,
        &cfg.redis_url,
        "latency",
        samples,
        PublishConfig {
            time_scale: None,
            rate: Some(cfg.rate),
            batch_max: 256,
            maxlen: 10_000_000,
        },
    )
    .await?;
    println!(
        "latency     {} samples at {:.0} msg/s target ({:.0} achieved)",
        lat.published,
        cfg.rate,
        lat.published as f64 / lat.publish_elapsed.as_secs_f64()
    );
    for (name, q) in [("detection", lat.detection), ("durable", lat.durable)] {
        println!(
            "            {name:<9} p50 {:>7.3} ms  p99 {:>7.3} ms  p99.9 {:>7.3} ms",
            ms(q.p50_us),
            ms(q.p99_us),
            ms(q.p999_us)
        );
    }
    let game = crate::game::bench::run(&cfg.redis_url, &cfg.database_url).await?;
    println!(
        "game        {} datagrams in {:.1} s ({:.0}/s: Lap Data and Car Telemetry of 22 cars at 60 Hz) through the gateway",
        game.datagrams,
        game.seconds,
        game.datagrams as f64 / game.seconds
    );
    println!(
        "            datagram → stored  p50 {:>7.3} ms  p99 {:>7.3} ms",
        ms(game.stored_p50_us),
        ms(game.stored_p99_us)
    );
    println!(
        "            stored → analysed  p50 {:>7.3} ms  p99 {:>7.3} ms",
        ms(game.analysed.p50_us),
        ms(game.analysed.p99_us)
    );
    Ok(())
}
