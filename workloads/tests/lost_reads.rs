//! A read whose reply never came back. The redis crate's cluster client resends a command
//! whose connection broke (a master failing over), so a read the server had executed is
//! executed again: the first delivered entries to the processor that its code never saw.
//! They must still be counted, once. One Redis, so the state is made every time rather
//! than when a failover happens to land between a read and its reply.

mod common;

use common::{Env, assert_exactly_once, race, spawn_paced_race};
use pitstop_workloads::metrics::SimulatorMetrics;
use pitstop_workloads::processor::queries::wait_finished;
use pitstop_workloads::processor::{Processor, ProcessorConfig};
use pitstop_workloads::stream::GROUP;
use std::time::{Duration, Instant};

/// Entries delivered to the processor's own consumer behind its back (as the lost reply
/// of its read did), in every partition, mid-race: every sample is still committed
/// exactly once. With a plain `XREADGROUP >` the processor's next read went past them
/// and they stayed pending, never analysed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_a_lost_read_reply_delivered_are_counted() {
    let env = Env::new("lost_reads").await;
    let mut c = ProcessorConfig::new(&env.redis_url, &env.database_url, &env.keys.base);
    c.consumer = "solo".into();
    let p = Processor::start(c, None).await.unwrap();
    let racing = spawn_paced_race(
        &env,
        race("lostread", 3, 8, 5, 0.0),
        25.0,
        &SimulatorMetrics::new(),
    );
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut con = env
        .redis()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let mut taken = 0;
    for (_, key) in env.keys.all_partitions() {
        // The processor reads each entry within milliseconds: wait in line for the next
        // (Redis serves blocked readers first come, first served) until one is ours.
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let reply: redis::Value = redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg(GROUP)
                .arg("solo")
                .arg("COUNT")
                .arg(5)
                .arg("BLOCK")
                .arg(100)
                .arg("STREAMS")
                .arg(&key)
                .arg(">")
                .query_async(&mut con)
                .await
                .unwrap();
            let n = entries_in(&reply);
            taken += n;
            if n > 0 || Instant::now() > deadline {
                break;
            }
        }
    }
    assert!(taken > 0, "no entry could be taken before the processor");
    assert!(!racing.is_finished(), "the race ended before the reads");

    let report = racing.await.unwrap().unwrap();
    let db = env.db().await;
    wait_finished(&db, "lostread", Duration::from_secs(60))
        .await
        .unwrap();
    assert_exactly_once(&db, "lostread", &report.truth.published).await;
    eprintln!(
        "lost read replies: {taken} entries delivered behind the processor's back, {} samples committed once each",
        report.truth.published.values().sum::<u64>()
    );
    p.shutdown().await;
    env.cleanup().await;
}

/// Entries in an XREADGROUP reply (nil when there were none).
fn entries_in(reply: &redis::Value) -> usize {
    let redis::Value::Array(streams) = reply else {
        return 0;
    };
    streams
        .iter()
        .map(|s| match s {
            redis::Value::Array(kv) => match kv.get(1) {
                Some(redis::Value::Array(entries)) => entries.len(),
                _ => 0,
            },
            _ => 0,
        })
        .sum()
}
