//! Small helpers shared by several modules.

use std::collections::HashMap;
use std::time::Duration;

/// Wall clock, microseconds since the Unix epoch.
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Wall clock, milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    now_us() / 1000
}

/// Delay before retrying after `n` failures in a row: 250 ms doubling to 15 s (a failed
/// partition task; the publisher caps it lower).
pub fn retry_delay(n: u32) -> Duration {
    Duration::from_millis((250u64 << n.min(6)).min(15_000))
}

/// Reads a flat `[key, value, key, value, ...]` or map reply (XINFO) into a map.
pub fn redis_map(v: &redis::Value) -> HashMap<String, &redis::Value> {
    let mut out = HashMap::new();
    match v {
        redis::Value::Array(items) => {
            for pair in items.chunks(2) {
                if let [k, v] = pair
                    && let Some(k) = redis_string(k)
                {
                    out.insert(k, v);
                }
            }
        }
        redis::Value::Map(items) => {
            for (k, v) in items {
                if let Some(k) = redis_string(k) {
                    out.insert(k, v);
                }
            }
        }
        _ => {}
    }
    out
}

pub fn redis_string(v: &redis::Value) -> Option<String> {
    match v {
        redis::Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        redis::Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

pub fn redis_int(v: &&redis::Value) -> Option<i64> {
    match v {
        redis::Value::Int(i) => Some(*i),
        redis::Value::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        _ => None,
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("signal handler");
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[cfg(test)]
mod tests {
    /// Retries of a failing partition slow down to 15 s instead of spinning.
    #[test]
    fn retry_delay_grows_and_caps() {
        let ms: Vec<u128> = (0..9).map(|n| super::retry_delay(n).as_millis()).collect();
        assert_eq!(
            ms,
            [250, 500, 1_000, 2_000, 4_000, 8_000, 15_000, 15_000, 15_000]
        );
    }
}
