//! Through a real 3-master Redis Cluster (one replica each, on loopback): a whole race of
//! 8 partitions and 4 processors with every sample committed exactly once while a master
//! is killed and its replica promoted; a write such a kill loses (acknowledged, never
//! replicated) published again; `POST /telemetry` (start, samples of every partition,
//! resends, finish) with exact counts, and with a reply lost after Redis ran the call
//! answered true; a dead letter waiting for a replica. What makes it work: every key of
//! one partition shares its hash tag (one slot), so no script or pipeline crosses slots.

mod common;

use common::cluster::Cluster;
use common::ingest::{KEY, finish, post_samples, race_samples, start_session};
use common::reply_cut::ReplyCut;
use common::{Env, assert_exactly_once, race, spawn_paced_race, wait_until};
use pitstop_workloads::codec::binary::decode_entry;
use pitstop_workloads::metrics::SimulatorMetrics;
use pitstop_workloads::model::Sample;
use pitstop_workloads::processor::queries::wait_finished;
use pitstop_workloads::processor::{Processor, ProcessorConfig};
use pitstop_workloads::redis_conn::{SyncConn, connect_sync};
use pitstop_workloads::stream::{FIELD_DATA, FIELD_SEQ_BASE, StreamKeys};
use redis::streams::{StreamId, StreamRangeReply};
use reqwest::StatusCode;
use std::collections::{BTreeMap, BTreeSet};
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
    let racing = spawn_paced_race(
        &env,
        race("cluster", 4, 12, 5, 0.0),
        25.0,
        &SimulatorMetrics::new(),
    );
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
    // The stream first, so that a loss says whose it was: the publisher's or the
    // processors'.
    let seqs = stream_seqs_of(&env).await;
    assert_stream_holds_each_once(&seqs, &report.truth.published);
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

/// A master killed after acknowledging a write and before its replica had it: the
/// promoted replica lacks that write, and the cluster client sends the next one there
/// without an error. Undoing the last write of a partition mid-race (its entry and its
/// cars' progress, in one step) is exactly that state, every time rather than when a
/// kill happens to land between a write and its replication. The publisher's next write
/// there must be refused and the lost samples sent again: the stream ends with each
/// car's samples 0..n once, no gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_a_failover_lost_is_published_again() {
    let cluster = Cluster::start(3);
    let env = cluster_env("cluster_lost", &cluster).await;
    let metrics = SimulatorMetrics::new();
    let racing = spawn_paced_race(&env, race("lost", 3, 8, 11, 0.0), 25.0, &metrics);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (keys, target) = (env.keys.clone(), env.target());
    let undone = tokio::task::spawn_blocking(move || {
        let mut con = connect_sync(&target).unwrap();
        undo_last_write(&mut con, &keys, "lost", 0)
    })
    .await
    .unwrap();
    assert!(
        !racing.is_finished(),
        "the write was undone after the chequered flag"
    );
    let report = racing.await.unwrap().unwrap();

    let seqs = stream_seqs_of(&env).await;
    assert_stream_holds_each_once(&seqs, &report.truth.published);
    assert!(
        metrics.publish_failures.get() >= 1,
        "the write after the lost one was refused"
    );
    eprintln!(
        "lost write: {undone} samples of partition 0 undone mid-race, published again; {} samples in the stream, each once",
        seqs.values().map(Vec::len).sum::<usize>()
    );
    env.cleanup().await;
}

/// Removes the last data entry of partition `p` and sets its cars' progress back to
/// before it, in one step (retried until no write came between reading and undoing).
/// Returns how many samples it held.
fn undo_last_write(con: &mut SyncConn, keys: &StreamKeys, session: &str, p: u16) -> usize {
    const UNDO: &str = r#"
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #last == 0 or last[1][1] ~= ARGV[1] then return 0 end
redis.call('XDEL', KEYS[1], ARGV[1])
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
return 1
"#;
    for _ in 0..200 {
        let reply: StreamRangeReply = redis::cmd("XREVRANGE")
            .arg(keys.partition(p))
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query(con)
            .unwrap();
        let Some(samples) = reply.ids.first().and_then(data_of) else {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        let mut first = BTreeMap::<u8, u32>::new();
        for s in &samples {
            let seq = first.entry(s.car).or_insert(s.seq);
            *seq = (*seq).min(s.seq);
        }
        let mut undo = redis::cmd("EVAL");
        undo.arg(UNDO)
            .arg(2)
            .arg(keys.partition(p))
            .arg(keys.progress(session, p))
            .arg(&reply.ids[0].id);
        for (car, seq) in first {
            undo.arg(format!("car:{car}")).arg(seq);
        }
        if undo.query::<i64>(con).unwrap() == 1 {
            return samples.len();
        }
    }
    panic!("partition {p}: no data entry stayed the last for long enough to undo");
}

/// The samples of a data entry; `None` for a marker.
fn data_of(entry: &StreamId) -> Option<Vec<Sample>> {
    let bytes = |field: &str| match entry.map.get(field) {
        Some(redis::Value::BulkString(b)) => Some(b.clone()),
        _ => None,
    };
    let data = bytes(FIELD_DATA)?;
    let mut out = Vec::new();
    decode_entry(&data, bytes(FIELD_SEQ_BASE).as_deref(), &mut out).unwrap();
    Some(out)
}

/// Each car's samples 0..n in its stream once, in order: no gap, no duplicate.
fn assert_stream_holds_each_once(seqs: &BTreeMap<u8, Vec<u32>>, published: &BTreeMap<u8, u64>) {
    for (car, &n) in published {
        let got = seqs.get(car).map(Vec::as_slice).unwrap_or_default();
        let held: BTreeSet<u32> = got.iter().copied().collect();
        let missing: Vec<u32> = (0..n as u32).filter(|s| !held.contains(s)).collect();
        assert!(
            missing.is_empty() && got.len() as u64 == n && got.is_sorted(),
            "car {car}: {n} samples published, the stream holds {} ({} distinct), missing {missing:?}",
            got.len(),
            held.len()
        );
    }
}

/// Every car's seqs in `env`'s stream, read on a blocking thread.
async fn stream_seqs_of(env: &Env) -> BTreeMap<u8, Vec<u32>> {
    let (keys, target) = (env.keys.clone(), env.target());
    tokio::task::spawn_blocking(move || stream_seqs(&mut connect_sync(&target).unwrap(), &keys))
        .await
        .unwrap()
}

/// Every car's seqs in stream order, over all partitions.
fn stream_seqs(con: &mut SyncConn, keys: &StreamKeys) -> BTreeMap<u8, Vec<u32>> {
    let mut seqs = BTreeMap::<u8, Vec<u32>>::new();
    for (_, key) in keys.all_partitions() {
        let mut from = "-".to_owned();
        loop {
            let reply: StreamRangeReply = redis::cmd("XRANGE")
                .arg(&key)
                .arg(&from)
                .arg("+")
                .arg("COUNT")
                .arg(1000)
                .query(con)
                .unwrap();
            let Some(last) = reply.ids.last() else { break };
            from = format!("({}", last.id);
            for s in reply.ids.iter().filter_map(data_of).flatten() {
                seqs.entry(s.car).or_default().push(s.seq);
            }
        }
    }
    seqs
}

/// A processor serving the API on a free port, and its base URL.
async fn api_processor(env: &Env) -> (Processor, String) {
    let mut c = processor(env, "api");
    c.api_key = Some(KEY.into());
    c.listen = Some("127.0.0.1:0".parse().unwrap());
    let p = Processor::start(c, None).await.unwrap();
    let base = format!("http://{}", p.addr.unwrap());
    (p, base)
}

/// Finishes `session`, checks every car's samples committed once, and stops `p`.
async fn finish_exactly_once(
    http: &reqwest::Client,
    base: &str,
    env: Env,
    session: &str,
    published: &BTreeMap<u8, u64>,
    p: Processor,
) {
    finish(http, base, session).await;
    let db = env.db().await;
    wait_finished(&db, session, Duration::from_secs(60))
        .await
        .unwrap();
    assert_exactly_once(&db, session, published).await;
    p.shutdown().await;
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
    let (p, base) = api_processor(&env).await;
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
    // is "unknown, resend", never "nothing stored").
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
        // Only an attempt answered 503 stores what a first success then finds: a call
        // the cluster client sent again by itself answers as it did the first time.
        assert!(
            failed_before || known == 0,
            "request {n}: its own samples answered as duplicates: {body}"
        );
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
    finish_exactly_once(&http, &base, env, "posted", &truth.published, p).await;
}

/// A `POST /telemetry` script call whose reply a network cut loses after Redis ran it:
/// the cluster client sends it again by itself, and the request is still answered with
/// what it stored (every sample `accepted`, none a duplicate of itself); a resend by
/// the HTTP client then finds all of it, and the session's counts are exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_call_sent_again_after_its_reply_was_lost_answers_as_the_first() {
    let cluster = Cluster::start(3);
    let env = cluster_env("cluster_resent", &cluster).await;
    // Partition 0's master is reached through a proxy that, armed, loses the reply of
    // the next call writing session "cutreply"'s seen-keys (see `append.rs`).
    let target = cluster.master_of(&env.keys.partition(0));
    let cut = ReplyCut::start(target, b":seen:cutreply:").await;
    cluster.announce(target, cut.addr.port());

    let (p, base) = api_processor(&env).await;
    let http = reqwest::Client::new();
    let (samples, truth) = race_samples("cutreply", 1, 16, 5);
    let (code, body) = start_session(&http, &base, "cutreply", 1, &samples).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{body}");

    // A first request runs the script once on every master: from then on a call is
    // one `EVALSHA` that runs at once (a first one is refused `NOSCRIPT` and sent as
    // `EVAL`: a lost refusal would cut a call that never ran).
    let (code, body) = post_samples(&http, &base, &samples[..500], true).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{body}");
    cut.arm();
    let chunk = &samples[500..1000];
    let (code, body) = post_samples(&http, &base, chunk, true).await;
    assert_eq!(cut.cuts(), 1, "the proxy lost one reply");
    assert_eq!(code, StatusCode::ACCEPTED, "{body}");
    assert_eq!(
        (body["accepted"].as_u64(), body["duplicates"].as_u64()),
        (Some(chunk.len() as u64), Some(0)),
        "the request stored every sample once, and says so: {body}"
    );
    let (code, body) = post_samples(&http, &base, chunk, true).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(
        body["duplicates"].as_u64(),
        Some(chunk.len() as u64),
        "{body}"
    );
    for rest in samples[1000..].chunks(500) {
        let (code, body) = post_samples(&http, &base, rest, true).await;
        assert_eq!(code, StatusCode::ACCEPTED, "{body}");
    }
    eprintln!(
        "a reply lost after the call ran: {} samples answered accepted, its resend all {} duplicates",
        chunk.len(),
        chunk.len()
    );

    finish_exactly_once(&http, &base, env, "cutreply", &truth.published, p).await;
}

/// A dead letter waits for a replica of its master before the batch's commit moves past
/// its entry (a letter on the master alone is lost with it for good): with that replica
/// stopped, the letter is written and counted as not replicated.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_letter_waits_for_a_replica_before_the_commit() {
    let cluster = Cluster::start(3);
    let env = cluster_env("cluster_dead", &cluster).await;
    let master = cluster.master_of(&env.keys.partition(0));
    let replicas = cluster.replicas_of(master);
    assert_eq!(replicas.len(), 1, "one replica per master: {replicas:?}");
    let p = Processor::start(processor(&env, "dead"), None)
        .await
        .unwrap();
    wait_until(Duration::from_secs(30), "partition 0 owned", || {
        let m = p.shared.metrics.clone();
        async move { m.partitions_owned.get() == PARTITIONS as i64 }
    })
    .await;
    cluster.freeze(replicas[0], true);
    let (keys, target) = (env.keys.clone(), env.target());
    let dead = tokio::task::spawn_blocking(move || {
        let mut con = connect_sync(&target).unwrap();
        let _: String = redis::cmd("XADD")
            .arg(keys.partition(0))
            .arg("*")
            .arg("other")
            .arg("x")
            .query(&mut con)
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let n: usize = redis::cmd("XLEN")
                .arg(keys.dead_letters(0))
                .query(&mut con)
                .unwrap();
            if n > 0 || Instant::now() > deadline {
                return n;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .await
    .unwrap();
    assert_eq!(dead, 1, "the dead letter written");
    // The wait (200 ms at most) comes after the write.
    let unreplicated = &p.shared.metrics.unreplicated;
    let deadline = Instant::now() + Duration::from_secs(5);
    while unreplicated.get() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cluster.freeze(replicas[0], false);
    assert_eq!(
        unreplicated.get(),
        1,
        "the letter's write waited for the stopped replica, and is counted"
    );
    p.shutdown().await;
    env.cleanup().await;
}

/// The simulator's write whose reply a network cut loses after Redis ran it: the
/// cluster client sends it again by itself, and the write's check finds its own
/// progress there. That is the write done, not a lost write or a second publisher: no
/// failed attempt, every sample counted as published once, the stream each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_publish_sent_again_after_its_reply_was_lost_is_done_once() {
    let cluster = Cluster::start(3);
    let env = cluster_env("cluster_republish", &cluster).await;
    let target = cluster.master_of(&env.keys.partition(0));
    // A text of the guarded batch script, which the simulator sends with every write.
    let cut = ReplyCut::start(target, b"this publisher wrote").await;
    cluster.announce(target, cut.addr.port());
    let metrics = SimulatorMetrics::new();
    let racing = spawn_paced_race(&env, race("republish", 3, 8, 11, 0.0), 25.0, &metrics);
    tokio::time::sleep(Duration::from_secs(2)).await;
    cut.arm();
    wait_until(Duration::from_secs(10), "a reply lost", || {
        let n = cut.cuts();
        async move { n == 1 }
    })
    .await;
    assert!(
        !racing.is_finished(),
        "the cut came after the chequered flag"
    );
    let report = racing.await.unwrap().unwrap();
    let seqs = stream_seqs_of(&env).await;
    assert_stream_holds_each_once(&seqs, &report.truth.published);
    let total: u64 = report.truth.published.values().sum();
    assert_eq!(
        (metrics.publish_failures.get(), metrics.published.get()),
        (0, total),
        "no attempt failed, every sample counted once"
    );
    eprintln!(
        "a publish resent after its reply was lost: {total} samples, each once, no failed attempt"
    );
    env.cleanup().await;
}
