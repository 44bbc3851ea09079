//! Through a real 3-master Redis Cluster (one replica each, on loopback): a whole race of
//! 8 partitions and 4 processors with every sample committed exactly once while a master
//! is killed and its replica promoted; and `POST /telemetry` (start, samples of every
//! partition, resends, finish) with exact counts. What makes it work: every key of one
//! partition shares its hash tag (one slot), so no script or pipeline crosses slots.

mod common;

use common::cluster::Cluster;
use common::ingest::{KEY, finish, post_samples, race_samples, start_session};
use common::{Env, assert_exactly_once, race, wait_until};
use pitstop_workloads::metrics::SimulatorMetrics;
use pitstop_workloads::processor::queries::wait_finished;
use pitstop_workloads::processor::{Processor, ProcessorConfig};
use pitstop_workloads::sim::publisher::{Progress, PublishConfig};
use pitstop_workloads::sim::service::run_race;
use pitstop_workloads::stream::StreamKeys;
use reqwest::StatusCode;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

const PARTITIONS: u16 = 8;

async fn cluster_env(name: &str, cluster: &Cluster) -> Env {
    let mut env = Env::on(name, cluster.url(), Env::shared_database_url()).await;
    env.keys = StreamKeys::new(env.keys.base.clone(), PARTITIONS);
    env
}

fn processor(env: &Env, consumer: &str) -> ProcessorConfig {
    let mut c = ProcessorConfig::new(&env.redis_url, &env.database_url, &env.keys.base);
    c.partitions = PARTITIONS;
    c.consumer = consumer.into();
    c.lease_ttl = Duration::from_secs(3);
    c
}

/// The masters serving the race's partitions, by port.
fn masters_of(cluster: &Cluster, keys: &StreamKeys) -> BTreeMap<u16, Vec<u16>> {
    let mut by = BTreeMap::<u16, Vec<u16>>::new();
    for (p, key) in keys.all_partitions() {
        by.entry(cluster.master_of(&key)).or_default().push(p);
    }
    by
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_race_survives_a_master_failover_exactly_once() {
    let mut cluster = Cluster::start(3);
    let env = cluster_env("cluster_race", &cluster).await;
    let before = masters_of(&cluster, &env.keys);
    assert_eq!(
        before.len(),
        3,
        "8 partitions spread over the 3 masters: {before:?}"
    );

    let mut procs = Vec::new();
    for name in ["a", "b", "c", "d"] {
        procs.push(Processor::start(processor(&env, name), None).await.unwrap());
    }
    wait_until(Duration::from_secs(30), "a 2/2/2/2 partition split", || {
        let owned: Vec<i64> = procs
            .iter()
            .map(|p| p.shared.metrics.partitions_owned.get())
            .collect();
        async move { owned.iter().all(|&n| n == 2) }
    })
    .await;

    // About 20 s of racing at this pace: the kill lands mid-race.
    let pace = PublishConfig {
        time_scale: Some(25.0),
        rate: None,
        batch_max: 64,
        maxlen: 1_000_000,
    };
    let racing = tokio::spawn(run_race(
        race("cluster", 4, 12, 5, 0.0),
        env.keys.clone(),
        env.target(),
        pace,
        SimulatorMetrics::new(),
        Arc::new(Progress::default()),
        Arc::new(AtomicBool::new(false)),
    ));
    let db = env.db().await;
    wait_until(Duration::from_secs(30), "samples committed", || {
        let db = &db;
        async move {
            let n: i64 = db
                .query_one(
                    "SELECT coalesce(sum(samples), 0)::bigint FROM car_accounting WHERE session_id = 'cluster'",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            n > 5_000
        }
    })
    .await;

    // Kill the master of partition 0 (and so of others) with SIGKILL; its replica
    // takes over its slots.
    let victim = cluster.master_of(&env.keys.partition(0));
    let killed_at = Instant::now();
    cluster.kill(victim);
    tokio::task::block_in_place(|| cluster.wait_healthy(Duration::from_secs(30)));
    let failover = killed_at.elapsed();
    let after = masters_of(&cluster, &env.keys);
    assert!(
        !after.contains_key(&victim),
        "the replica serves the killed master's partitions: {after:?}"
    );
    assert!(
        !racing.is_finished(),
        "the kill came after the chequered flag"
    );

    let report = racing.await.unwrap().unwrap();
    wait_finished(&db, "cluster", Duration::from_secs(120))
        .await
        .unwrap();
    assert_exactly_once(&db, "cluster", &report.truth.published).await;
    let total: u64 = report.truth.published.values().sum();
    eprintln!(
        "cluster race: {total} samples of {} cars over {PARTITIONS} partitions on masters {before:?}; master {victim} killed, cluster healthy again after {:.1} s, now {after:?}",
        report.truth.published.len(),
        failover.as_secs_f64()
    );
    for p in procs {
        p.shutdown().await;
    }
    env.cleanup().await;
}

/// Posts `chunk` until a reply is a success, as a client retries a 5xx: the reply, and
/// whether a 5xx came first (its request may have stored part of the chunk: a 503 means
/// "unknown, resend").
async fn post_until_taken(
    http: &reqwest::Client,
    base: &str,
    chunk: &[pitstop_workloads::model::Sample],
) -> (StatusCode, serde_json::Value, bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut failed_before = false;
    loop {
        let (code, body) = post_samples(http, base, chunk, true).await;
        if code.is_success() || Instant::now() > deadline {
            return (code, body, failed_before);
        }
        assert!(code.is_server_error(), "{code}: {body}");
        failed_before = true;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `POST /telemetry` on a cluster: a start (markers in all 8 partitions), every car's
/// samples in reordered requests that span partitions, each sent twice, a master killed
/// halfway (the client retries a 503 as clients do), then the finish: every success says
/// its whole request is in the stream (new or found there), every resend finds all of it,
/// and every sample is committed once, the session finished with every car's count.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ingest_through_a_cluster_counts_every_sample_once() {
    let cluster = Cluster::start(3);
    let env = cluster_env("cluster_ingest", &cluster).await;
    let mut c = processor(&env, "api");
    c.api_key = Some(KEY.into());
    c.listen = Some("127.0.0.1:0".parse().unwrap());
    let p = Processor::start(c, None).await.unwrap();
    let base = format!("http://{}", p.addr.unwrap());
    let http = reqwest::Client::new();

    let (samples, truth) = race_samples("posted", 2, 20, 9);
    let cars: BTreeSet<u8> = samples.iter().map(|s| s.car).collect();
    let partitions: BTreeSet<u16> = cars.iter().map(|&c| env.keys.partition_of(c)).collect();
    assert_eq!(
        partitions.len(),
        PARTITIONS as usize,
        "cars in every partition"
    );
    let (code, body) = start_session(&http, &base, "posted", 2, &samples).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{body}");
    let (code, _) = start_session(&http, &base, "posted", 2, &samples).await;
    assert_eq!(code, StatusCode::OK, "a resent start is the same start");

    // `accepted`: samples a success said were new; `found`: samples a first success found
    // stored already: by this client's own earlier attempt, a request answered 503 (a 503
    // is "unknown, resend", never "nothing stored") or one the processor's Redis client
    // resent by itself across the failover after the reply was lost.
    let (mut accepted, mut found) = (0u64, 0u64);
    // Requests of 500 samples (all 8 partitions each), odd ones first, each sent twice.
    let chunks: Vec<_> = samples.chunks(500).collect();
    let order = (1..chunks.len())
        .step_by(2)
        .chain((0..chunks.len()).step_by(2));
    // Halfway, a master dies while the requests go on (they meet the failover).
    let victim = cluster.master_of(&env.keys.partition(0));
    let mut failover = None;
    let mut cluster = Some(cluster);
    for (n, chunk) in order.map(|i| chunks[i]).enumerate() {
        if n == chunks.len() / 2 {
            let mut c = cluster.take().unwrap();
            failover = Some(tokio::task::spawn_blocking(move || {
                let t = Instant::now();
                c.kill(victim);
                c.wait_healthy(Duration::from_secs(30));
                (c, t.elapsed())
            }));
        }
        let (code, body, failed_before) = post_until_taken(&http, &base, chunk).await;
        assert!(code.is_success(), "{code}: {body}");
        let new = body["accepted"].as_u64().unwrap();
        let known = body["duplicates"].as_u64().unwrap();
        assert_eq!(new + known, chunk.len() as u64, "every sample in: {body}");
        if known > 0 {
            eprintln!("request {n}: {known} samples found stored (a 503 before: {failed_before})");
        }
        accepted += new;
        found += known;
        // The resend: all of it known.
        let (code, body, _) = post_until_taken(&http, &base, chunk).await;
        assert_eq!(code, StatusCode::OK, "{body}");
        assert_eq!(
            body["duplicates"].as_u64(),
            Some(chunk.len() as u64),
            "{body}"
        );
    }
    let (_cluster, took) = failover.unwrap().await.unwrap();

    eprintln!(
        "cluster ingest: {} samples in {} requests (each sent again once taken), master {victim} killed at request {}, healthy again after {:.1} s; {accepted} samples new to a first success, {found} found stored by an earlier attempt",
        samples.len(),
        chunks.len(),
        chunks.len() / 2,
        took.as_secs_f64()
    );
    finish(&http, &base, "posted").await;
    let db = env.db().await;
    wait_finished(&db, "posted", Duration::from_secs(60))
        .await
        .unwrap();
    assert_exactly_once(&db, "posted", &truth.published).await;
    p.shutdown().await;
    env.cleanup().await;
}
