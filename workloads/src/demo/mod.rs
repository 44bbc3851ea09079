//! `pitstop demo`: a short accelerated race through real Redis and PostgreSQL with the
//! processor in-process, live progress, and a summary a race engineer can read.

use crate::evaluate::{Detected, DetectedStop, score_anomalies, score_stops};
use crate::metrics::total;
use crate::processor::recorder::LatencyRecorder;
use crate::processor::{Processor, ProcessorConfig, queries};
use crate::sim::publisher::{Progress, PublishConfig};
use crate::sim::race::RaceConfig;
use crate::sim::service::run_race;
use crate::sim::truth::AnomalyKind;
use crate::stream::StreamKeys;
use crate::wording::{count, stationary};
use anyhow::Context;
use progress::{Counts, LapProgress};
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio_postgres::Client;

mod progress;

pub struct DemoConfig {
    pub race: RaceConfig,
    pub redis_url: String,
    pub database_url: String,
    pub time_scale: f64,
}

fn lap_time(ms: i32) -> String {
    format!("{}:{:06.3}", ms / 60_000, (ms % 60_000) as f64 / 1000.0)
}

pub async fn run(cfg: DemoConfig) -> anyhow::Result<()> {
    let race = cfg.race;
    let session = race.session.clone();
    let keys = StreamKeys::new(format!("pitstop:demo:{session}"), 4);
    let recorder = Arc::new(LatencyRecorder::default());
    let mut pcfg = ProcessorConfig::new(&cfg.redis_url, &cfg.database_url, &keys.base);
    pcfg.partitions = keys.partitions;
    pcfg.listen = Some("127.0.0.1:0".parse().expect("valid address"));
    pcfg.consumer = "demo".into();
    let processor = Processor::start(pcfg, Some(recorder.clone()))
        .await
        .context("starting the processor (is PostgreSQL reachable?)")?;
    let redis = crate::redis_conn::RedisTarget::open(cfg.redis_url.as_str())?;
    println!(
        "pitstop demo — {} ({}, {}, {:.0} Hz, {:.0}× real time)\nsession {session}  ·  API http://{}/api/v1/sessions/{session}\n",
        race.circuit.name,
        count(race.laps, "lap", "laps"),
        count(race.grid.len(), "car", "cars"),
        race.sample_hz,
        cfg.time_scale,
        processor.addr.expect("listening"),
    );
    let progress = Arc::new(Progress::default());
    let metrics = crate::metrics::SimulatorMetrics::new();
    let laps = race.laps;
    let started = Instant::now();
    let publish = tokio::spawn(run_race(
        race,
        keys.clone(),
        redis.clone(),
        PublishConfig {
            time_scale: Some(cfg.time_scale),
            rate: None,
            batch_max: 256,
            maxlen: 1_000_000,
        },
        metrics,
        progress.clone(),
        Arc::new(AtomicBool::new(false)),
    ));
    let pm = processor.shared.metrics.clone();
    let mut shown = LapProgress::new(laps, std::io::stdout().is_terminal());
    while !publish.is_finished() {
        // Often enough that a log misses no lap even at a high --time-scale.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let counts = Counts {
            lap: progress.lap.load(Ordering::Relaxed),
            published: progress.published.load(Ordering::Relaxed),
            processed: pm.processed.get(),
            pit_stops: total(&pm.pit_stops),
            anomalies: total(&pm.anomalies),
        };
        if let Some(text) = shown.update(&counts) {
            print!("{text}");
            std::io::stdout().flush().ok();
        }
    }
    let report = publish.await??;
    let db = crate::db::connect(&cfg.database_url).await?;
    queries::wait_finished(&db, &session, Duration::from_secs(60)).await?;
    let elapsed = started.elapsed();
    print!("{}", shown.finish(elapsed.as_secs_f64()));

    print_classification(&db, &session).await?;
    let stops = queries::pit_stops(&db, &session).await?;
    println!(
        "\nPIT STOPS ({})\n  {:<4} {:<16} {:>4} {:>11} {:>10} {:>6}  tyres",
        stops.len(),
        "DRV",
        "TEAM",
        "LAP",
        "STATIONARY",
        "PIT LANE",
        "SCORE"
    );
    for s in &stops {
        println!(
            "  {:<4} {:<16} {:>4} {:>9} s {:>8.1} s {:>6.1}  {} → {}{}",
            s.driver,
            s.team,
            s.lap.map_or_else(|| "?".into(), |l| l.to_string()),
            stationary(s.stationary_s),
            s.pit_lane_s,
            s.score,
            s.compound_in.as_deref().unwrap_or("?"),
            s.compound_out.as_deref().unwrap_or("?"),
            if s.slow { "  SLOW" } else { "" }
        );
    }
    print_strategy(&db, &session).await?;
    let anomalies = queries::anomalies(&db, &session, None, None).await?;
    println!("\nANOMALIES ({})", anomalies.len());
    for a in &anomalies {
        println!(
            "  lap {:>2}  {:<4} {:<18} {:<8} {:<5} {} = {:.1} (expected {:.1}–{:.1})",
            a.lap.map_or_else(|| "?".into(), |l| l.to_string()),
            a.driver,
            a.kind,
            a.severity,
            a.detector,
            a.channel,
            a.value,
            a.expected_low,
            a.expected_high
        );
    }
    let det: Vec<Detected> = anomalies
        .iter()
        .filter_map(|a| {
            Some(Detected {
                car: a.car as u8,
                kind: AnomalyKind::parse(&a.kind)?,
                at_ms: a.detected_at_ms,
            })
        })
        .collect();
    let a_score = score_anomalies(&report.truth, &det);
    let s_score = score_stops(
        &report.truth,
        &stops
            .iter()
            .map(|s| DetectedStop {
                car: s.car as u8,
                lap: s.lap.unwrap_or(0) as u16,
                stationary_ms: (s.stationary_s * 1000.0).round() as i64,
            })
            .collect::<Vec<_>>(),
    );
    println!(
        "\nDETECTION vs ground truth\n  pit stops  {}/{} found, {} false, {}\n  anomalies  {}/{} injected found, {} (precision {:.2}, recall {:.2})",
        s_score.matched,
        s_score.real,
        s_score.false_stops,
        if s_score.matched == 0 {
            "no stop to time".to_string()
        } else {
            format!("stationary error ≤ {} ms", s_score.max_error_ms)
        },
        a_score.true_positives,
        a_score.injected,
        count(a_score.false_positives, "false alarm", "false alarms"),
        a_score.precision,
        a_score.recall
    );
    let detail = queries::session(&db, &session)
        .await?
        .context("session row")?;
    let (detection, durable) = recorder.snapshot();
    println!(
        "\nPIPELINE\n  samples    {} published, {} processed ({}), {} dead letters, {} trimmed\n  rate       {:.0} msg/s over {:.1} s\n  latency    detection p50 {:.2} ms  p99 {:.2} ms · durable p50 {:.2} ms  p99 {:.2} ms",
        report.published,
        detail.summary.samples_processed,
        if detail.summary.samples_processed as u64 == report.published {
            "all accounted for"
        } else {
            "MISMATCH"
        },
        total(&pm.dead_letters),
        report.trimmed,
        report.published as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64(),
        detection.p50_us as f64 / 1000.0,
        detection.p99_us as f64 / 1000.0,
        durable.p50_us as f64 / 1000.0,
        durable.p99_us as f64 / 1000.0,
    );
    post_race(&cfg.database_url, &redis, &keys, &session).await?;
    processor.shutdown().await;
    Ok(())
}

/// The operator's grand-prix DAG run in-process, in its order (collect → persist each team
/// → data quality → aggregate → report, notify), stopping at the first failure like the
/// DAG skips downstream tasks. The report is written to a file ([`report_path`]).
async fn post_race(
    database_url: &str,
    redis: &crate::redis_conn::RedisTarget,
    keys: &StreamKeys,
    session: &str,
) -> anyhow::Result<()> {
    use crate::jobs::{Attempt, JobArgs, Step, execute};
    let mut db = crate::db::connect(database_url).await?;
    let teams: Vec<String> = db
        .query(
            "SELECT team FROM car_accounting WHERE session_id = $1 GROUP BY team ORDER BY min(car)",
            &[&session],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut tasks: Vec<(String, Step, Option<String>)> =
        vec![("collect-telemetry".into(), Step::CollectTelemetry, None)];
    for t in &teams {
        tasks.push((format!("persist {t}"), Step::PersistTeams, Some(t.clone())));
    }
    for (name, step) in [
        ("data-quality", Step::DataQuality),
        ("aggregate", Step::Aggregate),
        ("report", Step::Report),
        ("notify", Step::Notify),
    ] {
        tasks.push((name.into(), step, None));
    }
    println!("\nPOST-RACE PIPELINE (the operator's grand-prix DAG, in-process)");
    for (name, step, team) in tasks {
        let args = JobArgs {
            session: session.into(),
            attempt: Attempt {
                run_id: format!("{session}-demo"),
                task: name.clone(),
                attempt: 1,
            },
            team,
            ..JobArgs::default()
        };
        let t = Instant::now();
        match execute(step, &mut db, redis, keys, &args).await {
            Ok(summary) => println!(
                "  ✓ {name:<28} {:>6.2} s  {summary}",
                t.elapsed().as_secs_f64()
            ),
            Err(e) => {
                println!("  ✗ {name:<28} {e}");
                println!("    (downstream tasks skipped, as the operator's DAG would)");
                return Ok(());
            }
        }
    }
    if let Some(html) = crate::db::reports::stored(&db, session).await? {
        let path = report_path(
            session,
            std::env::var_os("PITSTOP_DEMO_REPORT"),
            std::env::var_os("CARGO_TARGET_DIR"),
        );
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).ok();
        }
        std::fs::write(&path, &html)
            .with_context(|| format!("writing the report to {}", path.display()))?;
        // The processor serving the report stops when this function returns: the file is
        // what the reader still has afterwards.
        println!(
            "\nREPORT  {} ({} KB): open it in a browser.\n        \
             The file stays; the demo's API (/api/v1/sessions/{session}/report) stops when the demo ends.",
            std::path::absolute(&path).unwrap_or(path).display(),
            html.len() / 1024
        );
    }
    Ok(())
}

/// Where the demo writes the report: `PITSTOP_DEMO_REPORT` when set, else
/// `pitstop-report-<session>.html` in cargo's target directory (`CARGO_TARGET_DIR`, as
/// `make demo` builds with it, or `target`), beside the binary `make demo` runs.
fn report_path(
    session: &str,
    explicit: Option<std::ffi::OsString>,
    target_dir: Option<std::ffi::OsString>,
) -> std::path::PathBuf {
    if let Some(path) = explicit.filter(|p| !p.is_empty()) {
        return path.into();
    }
    let dir = target_dir
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "target".into());
    std::path::Path::new(&dir).join(format!("pitstop-report-{session}.html"))
}

async fn print_classification(db: &Client, session: &str) -> anyhow::Result<()> {
    let rows = queries::classification(db, session).await?;
    let teams = queries::teams(db, session).await?;
    println!(
        "CLASSIFICATION\n  {:>3}  {:<4} {:<16} {:>4} {:>10} {:>12}",
        "POS", "DRV", "TEAM", "LAPS", "BEST LAP", "GAP"
    );
    for c in &rows {
        println!(
            "  {:>3}  {:<4} {:<16} {:>4} {:>10} {:>12}",
            c.position,
            c.driver,
            c.team,
            c.laps,
            c.best_lap_ms.map(lap_time).unwrap_or_default(),
            c.gap
        );
    }
    println!("\nTEAMS (median green lap, gap to Ferrari)");
    for t in &teams {
        println!(
            "  {:<16} {:>10}  {:>+8.3} s",
            t.team,
            t.median_lap_ms
                .map(|m| lap_time(m as i32))
                .unwrap_or_default(),
            t.gap_to_ferrari_ms.unwrap_or(0.0) / 1000.0
        );
    }
    Ok(())
}

/// The live strategy judged on this race: the rejoin each stop was predicted at pit entry
/// against the position one lap after exit (docs/strategy.md).
async fn print_strategy(db: &Client, session: &str) -> anyhow::Result<()> {
    let Some(race) = crate::processor::strategy_input::race(db, session).await? else {
        return Ok(());
    };
    let checks = crate::analytics::strategy::review::rejoin_checks(&race);
    if checks.is_empty() {
        return Ok(());
    }
    println!("\nSTRATEGY (rejoin predicted at pit entry vs held one lap after exit)");
    for c in &checks {
        println!(
            "  {:<4} in-lap {:>3}  predicted {:<7}  actual P{:<2}  pit loss {:.1} s{}",
            c.driver,
            c.lap.map_or_else(|| "?".into(), |l| l.to_string()),
            c.predicted_text(),
            c.actual,
            c.loss_ms / 1000.0,
            if c.predicted == c.actual {
                String::new()
            } else {
                format!("{}  {}", c.mark(), c.why())
            }
        );
    }
    let exact = checks.iter().filter(|c| c.predicted == c.actual).count();
    let near = checks
        .iter()
        .filter(|c| c.predicted.abs_diff(c.actual) <= 1)
        .count();
    let later = checks.iter().filter(|c| c.missed_for_later_stops()).count();
    let in_range = checks.iter().filter(|c| c.in_range()).count();
    println!(
        "  {exact} of {} exact, {near} within one place, {in_range} within the predicted range{}",
        checks.len(),
        if later > 0 {
            // A short demo race stops most cars within a few laps of each other.
            format!(
                "; {} of the misses only for cars that stopped after the prediction",
                later
            )
        } else {
            String::new()
        }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::report_path;
    use std::path::PathBuf;

    /// `PITSTOP_DEMO_REPORT` wins; otherwise the report goes where cargo put the build
    /// (`make demo` with `CARGO_TARGET_DIR` set used to write into a `target/` of its own).
    #[test]
    fn the_report_goes_where_the_build_went() {
        let at = |explicit: Option<&str>, dir: Option<&str>| {
            report_path("monza-1", explicit.map(Into::into), dir.map(Into::into))
        };
        assert_eq!(
            at(None, None),
            PathBuf::from("target/pitstop-report-monza-1.html")
        );
        assert_eq!(
            at(None, Some("/tmp/build")),
            PathBuf::from("/tmp/build/pitstop-report-monza-1.html")
        );
        assert_eq!(
            at(Some("out/r.html"), Some("/tmp/build")),
            PathBuf::from("out/r.html")
        );
        assert_eq!(
            at(Some(""), Some("")),
            PathBuf::from("target/pitstop-report-monza-1.html")
        );
    }
}
