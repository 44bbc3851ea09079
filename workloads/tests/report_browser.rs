//! The HTML report in a real browser (Debian's headless Chromium) at 1280 px: a realistic
//! finished race (20 cars, 32 laps, one or two stops each) rendered from real PostgreSQL,
//! and a crowded one built in memory (44 stops, stints too short to fit, a safety car,
//! long names). Each logs nothing to the browser's console, no two SVG text boxes overlap
//! (as the browser lays them out), and a full-page screenshot is left under the target
//! dir for a person to look at. Without Chromium the tests say SKIPPED, unless CI or
//! `PITSTOP_KIT_REQUIRED` says everything must run.

#[path = "common/chromium.rs"]
mod chromium;
mod common;
#[path = "common/crowded.rs"]
mod crowded;

use chromium::{TextBox, check_page, chromium, describe, out_dir, overlaps, probe};
use common::{Env, race};
use pitstop_workloads::jobs::report;
use pitstop_workloads::jobs::{Step, execute};
use pitstop_workloads::metrics::SimulatorMetrics;
use pitstop_workloads::processor::queries::wait_finished;
use pitstop_workloads::processor::{Processor, ProcessorConfig};
use pitstop_workloads::sim::publisher::PublishConfig;
use pitstop_workloads::sim::service::run_race;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

const SESSION: &str = "browser";

/// A finished race of 20 cars over 32 laps, processed and aggregated; its report.
async fn realistic_report(env: &Env) -> String {
    let mut cfg = ProcessorConfig::new(&env.redis_url, &env.database_url, &env.keys.base);
    cfg.consumer = "report-browser".into();
    let processor = Processor::start(cfg, None).await.unwrap();
    let publish = PublishConfig {
        time_scale: None,
        rate: None,
        batch_max: 256,
        maxlen: 10_000_000,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let race = race(SESSION, 32, 20, 11, 0.1);
    run_race(
        race,
        env.keys.clone(),
        env.target(),
        publish,
        SimulatorMetrics::new(),
        Arc::default(),
        stop,
    )
    .await
    .unwrap();
    let mut db = env.db().await;
    wait_finished(&db, SESSION, Duration::from_secs(120))
        .await
        .unwrap();
    let args = common::job_args(SESSION, "aggregate");
    execute(Step::Aggregate, &mut db, &env.target(), &env.keys, &args)
        .await
        .unwrap();
    drop(processor);
    pitstop_workloads::jobs::report::render(&db, SESSION)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_race_report_renders_cleanly_at_1280_px() {
    let Some(chromium) = chromium() else { return };
    let started = Instant::now();
    let env = Env::new("report_browser").await;
    let html = realistic_report(&env).await;
    env.cleanup().await;
    assert_eq!(html.matches("<svg").count(), 6, "six charts");
    assert!(!html.contains("<script"), "the report needs no script");
    let dir = out_dir("report-browser");
    let checked = check_page(&chromium, &dir, "report", &html).await;
    assert!(checked.texts > 200, "{} SVG texts measured", checked.texts);
    eprintln!(
        "screenshot {} ({} SVG texts, none overlapping) after {:.1?}",
        checked.screenshot.display(),
        checked.texts,
        started.elapsed()
    );
}

/// A race as crowded as a real one gets still lays out without collisions, and says
/// which stints it could not fit.
#[tokio::test]
async fn crowded_race_report_renders_cleanly_at_1280_px() {
    let Some(chromium) = chromium() else { return };
    let html = report::html(&crowded::report());
    assert!(
        html.contains("Not drawn: no trustworthy fit"),
        "short stints listed"
    );
    assert!(html.contains("Every stop (44)"));
    let dir = out_dir("report-browser-crowded");
    let checked = check_page(&chromium, &dir, "report", &html).await;
    eprintln!(
        "screenshot {} ({} SVG texts, none overlapping)",
        checked.screenshot.display(),
        checked.texts
    );
}

/// The checks can fail: overlapping texts, a script error and an invalid SVG attribute
/// in a tiny page are all caught.
#[tokio::test]
async fn the_checks_catch_overlap_and_console_errors() {
    let Some(chromium) = chromium() else { return };
    let dir = out_dir("report-browser-negative");
    let html = r#"<!doctype html><html><head><meta charset="utf-8"></head><body><svg viewBox="0 0 200 60" width="200">
<text x="10" y="20">Red Bull Racing</text><text x="30" y="24">Ferrari</text><text x="10" y="50">apart</text>
<rect width="-1" height="4"/></svg><script>throw new Error("boom")</script></body></html>"#;
    let (probe, console) = probe(&chromium, &dir, "negative", html).await;
    let pairs = overlaps(&probe.texts);
    assert_eq!(pairs.len(), 1, "{}", describe(&pairs));
    assert_eq!(
        (pairs[0].0.text.as_str(), pairs[0].1.text.as_str()),
        ("Red Bull Racing", "Ferrari")
    );
    assert!(
        probe.errors.iter().any(|e| e.contains("boom")),
        "{:?}",
        probe.errors
    );
    assert!(
        console.iter().any(|l| l.contains("attribute width")),
        "{console:?}"
    );
}

/// Boxes overlapping by more than the tolerance both ways are reported; touching ones
/// and ones apart in either direction are not.
#[test]
fn overlap_detector() {
    let b = |text: &str, x: f64, y: f64| TextBox {
        text: text.into(),
        x,
        y,
        w: 40.0,
        h: 13.0,
    };
    let boxes = [
        b("a", 0.0, 0.0),
        b("b", 30.0, 5.0),
        b("touching sideways", 200.0, 0.0),
        b("touching sideways too", 239.5, 0.0),
        b("touching below", 400.0, 0.0),
        b("touching above", 400.0, 12.5),
        b("g", 600.0, 0.0),
        b("h", 600.0, 11.0),
    ];
    let found: Vec<(&str, &str)> = overlaps(&boxes)
        .iter()
        .map(|(x, y)| (x.text.as_str(), y.text.as_str()))
        .collect();
    assert_eq!(found, [("a", "b"), ("g", "h")]);
}
