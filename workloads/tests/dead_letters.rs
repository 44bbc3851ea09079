//! Dead letters, once each. An entry no decoder can read is copied to its partition's
//! dead-letter stream; that write failing (Redis restarting between it and the batch's
//! commit) must not lose it, and the client resending it (a reply lost to a failover)
//! must not write it twice.

mod common;

use common::{Env, wait_until};
use pitstop_workloads::processor::batch::DeadLetter;
use pitstop_workloads::processor::dead_letters;
use pitstop_workloads::processor::entry::EntryId;
use pitstop_workloads::processor::{Processor, ProcessorConfig};
use std::time::Duration;

/// The dead-letter stream refuses writes (its key holds a string) while the processor
/// reads a bad entry, then accepts them: the letter is there once, under the entry's own
/// id. Written after the commit, as it was, it was lost: the commit had moved the
/// checkpoint past the entry, which the restarted partition then only acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_survives_a_failed_write_and_is_written_once() {
    let env = Env::new("dead_once").await;
    let mut con = env
        .redis()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let (part, dead) = (env.keys.partition(0), env.keys.dead_letters(0));
    let _: () = redis::cmd("SET")
        .arg(&dead)
        .arg("in the way")
        .query_async(&mut con)
        .await
        .unwrap();
    let c = ProcessorConfig::new(&env.redis_url, &env.database_url, &env.keys.base);
    let p = Processor::start(c, None).await.unwrap();
    let id: String = redis::cmd("XADD")
        .arg(&part)
        .arg("*")
        .arg("other")
        .arg("x")
        .query_async(&mut con)
        .await
        .unwrap();
    // Read, and its dead letter refused (the partition restarts and tries again).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _: () = redis::cmd("DEL")
        .arg(&dead)
        .query_async(&mut con)
        .await
        .unwrap();
    wait_until(Duration::from_secs(30), "the dead letter written", || {
        let (mut con, dead) = (con.clone(), dead.clone());
        async move { xlen(&mut con, &dead).await == 1 }
    })
    .await;
    let written: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(&dead)
        .arg("-")
        .arg("+")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(written[0].0, id, "the letter keeps the entry's id");
    assert!(
        written[0]
            .1
            .contains(&("reason".into(), "missing_payload".into()))
    );
    // Its entry acknowledged and committed: nothing left to write it again.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(xlen(&mut con, &dead).await, 1);
    p.shutdown().await;

    // The same write sent again adds nothing; a later entry's letter is new.
    let letter = |id: &str| DeadLetter {
        id: EntryId::parse(id).unwrap(),
        reason: "missing_payload",
        message: "no payload".into(),
        fields: vec![("other".into(), b"x".to_vec())],
    };
    let again = dead_letters::record(&mut con, &dead, &part, &[letter(&id)]).await;
    assert_eq!(again.unwrap(), 0);
    let later = EntryId::parse(&id).unwrap().ms + 1;
    let both = [letter(&id), letter(&format!("{later}-0"))];
    let n = dead_letters::record(&mut con, &dead, &part, &both).await;
    assert_eq!(n.unwrap(), 1);
    assert_eq!(xlen(&mut con, &dead).await, 2);

    // A stream an earlier release wrote, its letters under the time they were written
    // (past their entries' ids): a later entry's letter is added (under a new id) once,
    // an earlier one's is taken as there.
    let (part1, dead1) = (env.keys.partition(1), env.keys.dead_letters(1));
    let _: String = redis::cmd("XADD")
        .arg(&dead1)
        .arg("*")
        .arg("stream")
        .arg(&part1)
        .arg("id")
        .arg("1000-5")
        .query_async(&mut con)
        .await
        .unwrap();
    for (id, new) in [("1000-4", 0), ("1000-6", 1), ("1000-6", 0), ("2000-0", 1)] {
        let n = dead_letters::record(&mut con, &dead1, &part1, &[letter(id)]).await;
        assert_eq!(n.unwrap(), new, "letter {id}");
    }
    assert_eq!(xlen(&mut con, &dead1).await, 3);
    env.cleanup().await;
}

async fn xlen(con: &mut redis::aio::MultiplexedConnection, key: &str) -> usize {
    redis::cmd("XLEN").arg(key).query_async(con).await.unwrap()
}
