//! Small helpers shared by several modules.

use std::collections::HashMap;

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
