//! Kill -9 of the processor mid-race: nothing lost, nothing counted twice.

mod common;

use common::{Env, assert_exactly_once, race};
use pitstop_workloads::metrics::SimulatorMetrics;
use pitstop_workloads::processor::queries::wait_finished;
use pitstop_workloads::sim::publisher::{Progress, PublishConfig};
use pitstop_workloads::sim::service::run_race;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

fn spawn_processor(env: &Env, consumer: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_pitstop"))
        .args([
            "process",
            "--listen",
            "127.0.0.1:0",
            "--lease-ttl-s",
            "2",
            "--consumer",
            consumer,
        ])
        .env("REDIS_URL", &env.redis_url)
        .env("DATABASE_URL", &env.database_url)
        .env("PITSTOP_STREAM", &env.keys.base)
        .env("PITSTOP_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn pitstop process")
}

/// Three SIGKILLs at different points of a paced race, each followed by a new replica
/// (a new consumer name, so the dead one's pending entries must be XAUTOCLAIMed):
/// per-car counts and sequence sums still match what was published, and the pit stops
/// spanning a kill are still detected once (analytics state is checkpointed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_race_loses_and_duplicates_nothing() {
    let env = Env::new("crash").await;
    let mut child = spawn_processor(&env, "victim-0");
    let progress = Arc::new(Progress::default());
    // 4 laps of Monza at 40× real time ≈ 8.5 s of publishing.
    let pace = PublishConfig {
        time_scale: Some(40.0),
        rate: None,
        batch_max: 64,
        maxlen: 1_000_000,
    };
    let publish = tokio::spawn(run_race(
        race("crash", 4, 10, 11, 0.1),
        env.keys.clone(),
        env.target(),
        pace,
        SimulatorMetrics::new(),
        progress.clone(),
        Arc::new(AtomicBool::new(false)),
    ));
    let db = env.db().await;
    let start = tokio::time::Instant::now();
    let mut killed_mid_flight = 0;
    for (i, at) in [1_500u64, 3_700, 6_100].into_iter().enumerate() {
        tokio::time::sleep_until(start + Duration::from_millis(at)).await;
        child.kill().expect("SIGKILL"); // std's kill() is SIGKILL on Unix
        child.wait().unwrap();
        let committed: i64 = db
            .query_one(
                "SELECT COALESCE(sum(samples), 0)::bigint FROM car_accounting",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        let published = progress.published.load(Ordering::Relaxed) as i64;
        eprintln!("kill {i} at {at} ms: published {published}, committed {committed}");
        killed_mid_flight += (committed < published) as usize;
        child = spawn_processor(&env, &format!("victim-{}", i + 1));
    }
    assert!(
        killed_mid_flight > 0,
        "no kill hit uncommitted work: the test proved nothing"
    );
    let report = publish.await.unwrap().unwrap();
    wait_finished(&db, "crash", Duration::from_secs(90))
        .await
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_exactly_once(&db, "crash", &report.truth.published).await;
    common::assert_no_car_left_in_the_pit_lane(&db, "crash").await;
    let stops: i64 = db
        .query_one(
            "SELECT count(*) FROM pit_stops WHERE session_id = 'crash'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        stops as usize,
        report.truth.pit_stops.len(),
        "each pit stop detected once across the kills"
    );
    env.cleanup().await;
}
