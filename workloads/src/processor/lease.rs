//! Partition ownership. Each replica heartbeats into a sorted set of members; its fair
//! share is ceil(partitions / live members). A partition is owned through a Redis key
//! set with NX and a TTL, renewed by its owner at a third of the TTL. A replica that
//! dies stops renewing; after the TTL another replica takes the partition, claims the
//! dead consumer's pending entries (XAUTOCLAIM) and resumes from the PostgreSQL
//! checkpoint. Ownership also fences in PostgreSQL (see `store`), so a stale owner
//! cannot commit over a new one.

use redis::aio::ConnectionLike;
use redis::{RedisError, Script};

/// Renews the lease only if we still hold it.
const RENEW: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";
/// Deletes the lease only if we still hold it.
const RELEASE: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

pub async fn heartbeat(
    con: &mut impl ConnectionLike,
    members: &str,
    me: &str,
    now_ms: i64,
    ttl_ms: i64,
) -> Result<usize, RedisError> {
    let (_, _, live): ((), (), usize) = redis::pipe()
        .cmd("ZADD")
        .arg(members)
        .arg(now_ms + ttl_ms)
        .arg(me)
        .cmd("ZREMRANGEBYSCORE")
        .arg(members)
        .arg("-inf")
        .arg(now_ms)
        .cmd("ZCARD")
        .arg(members)
        .query_async(con)
        .await?;
    Ok(live.max(1))
}

pub async fn leave(
    con: &mut impl ConnectionLike,
    members: &str,
    me: &str,
) -> Result<(), RedisError> {
    redis::cmd("ZREM")
        .arg(members)
        .arg(me)
        .query_async(con)
        .await
}

pub async fn acquire(
    con: &mut impl ConnectionLike,
    key: &str,
    me: &str,
    ttl_ms: i64,
) -> Result<bool, RedisError> {
    let ok: Option<String> = redis::cmd("SET")
        .arg(key)
        .arg(me)
        .arg("NX")
        .arg("PX")
        .arg(ttl_ms)
        .query_async(con)
        .await?;
    Ok(ok.is_some())
}

pub async fn renew(
    con: &mut impl ConnectionLike,
    key: &str,
    me: &str,
    ttl_ms: i64,
) -> Result<bool, RedisError> {
    let n: i64 = Script::new(RENEW)
        .key(key)
        .arg(me)
        .arg(ttl_ms)
        .invoke_async(con)
        .await?;
    Ok(n == 1)
}

pub async fn release(con: &mut impl ConnectionLike, key: &str, me: &str) -> Result<(), RedisError> {
    let _: i64 = Script::new(RELEASE)
        .key(key)
        .arg(me)
        .invoke_async(con)
        .await?;
    Ok(())
}

/// How many partitions one of `live` replicas should own.
pub fn fair_share(partitions: u16, live: usize) -> usize {
    (partitions as usize).div_ceil(live.max(1))
}

#[cfg(test)]
mod tests {
    /// Shares cover every partition and never exceed it.
    #[test]
    fn fair_share_covers_all_partitions() {
        assert_eq!(super::fair_share(4, 1), 4);
        assert_eq!(super::fair_share(4, 3), 2);
        assert_eq!(super::fair_share(4, 8), 1);
        assert_eq!(super::fair_share(8, 0), 8);
    }
}
