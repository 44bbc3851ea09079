//! Stream entry ids and parsing of XREADGROUP / XAUTOCLAIM replies.

use redis::Value;
use std::fmt;

/// A Redis stream entry id (`<ms>-<seq>`), ordered as Redis orders them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct EntryId {
    pub ms: i64,
    pub seq: i64,
}

impl EntryId {
    pub fn parse(s: &str) -> Option<Self> {
        let (ms, seq) = s.split_once('-')?;
        Some(EntryId {
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// One stream entry: its id and its fields.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub id: EntryId,
    pub fields: Vec<(String, Vec<u8>)>,
}

impl Entry {
    pub fn field(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_slice())
    }
}

fn bytes(v: Value) -> Option<Vec<u8>> {
    match v {
        // Moved, not copied: a data entry's payload is tens of kilobytes.
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.into_bytes()),
        _ => None,
    }
}

fn text(v: Value) -> Option<String> {
    bytes(v).and_then(|b| String::from_utf8(b).ok())
}

/// Parses `[[id, [field, value, ...]], ...]`. Entries whose body is nil (deleted by
/// trimming, as XAUTOCLAIM may report on older Redis) come back with no fields.
pub fn parse_entries(v: Value) -> Vec<Entry> {
    let Value::Array(items) = v else {
        return Vec::new();
    };
    items
        .into_iter()
        .filter_map(|item| {
            let Value::Array(pair) = item else {
                return None;
            };
            let mut pair = pair.into_iter();
            let id = EntryId::parse(&text(pair.next()?)?)?;
            let fields = match pair.next() {
                Some(Value::Array(kv)) => {
                    let mut kv = kv.into_iter();
                    let mut out = Vec::new();
                    while let (Some(k), Some(v)) = (kv.next(), kv.next()) {
                        if let (Some(k), Some(v)) = (text(k), bytes(v)) {
                            out.push((k, v));
                        }
                    }
                    out
                }
                Some(Value::Map(kv)) => kv
                    .into_iter()
                    .filter_map(|(k, v)| Some((text(k)?, bytes(v)?)))
                    .collect(),
                _ => Vec::new(),
            };
            Some(Entry { id, fields })
        })
        .collect()
}

/// Parses an XREADGROUP reply for a single stream (nil on timeout).
pub fn parse_xreadgroup(v: Value) -> Vec<Entry> {
    match v {
        Value::Array(streams) => streams
            .into_iter()
            .flat_map(|s| match s {
                Value::Array(kv) if kv.len() == 2 => {
                    parse_entries(kv.into_iter().nth(1).expect("two elements"))
                }
                _ => Vec::new(),
            })
            .collect(),
        Value::Map(streams) => streams
            .into_iter()
            .flat_map(|(_, entries)| parse_entries(entries))
            .collect(),
        _ => Vec::new(),
    }
}

/// Parses an XAUTOCLAIM reply: next cursor, claimed entries, ids deleted before claim.
pub fn parse_xautoclaim(v: Value) -> (String, Vec<Entry>, Vec<EntryId>) {
    let Value::Array(parts) = v else {
        return ("0-0".into(), Vec::new(), Vec::new());
    };
    let mut parts = parts.into_iter();
    let cursor = parts.next().and_then(text).unwrap_or_else(|| "0-0".into());
    let entries = parts.next().map(parse_entries).unwrap_or_default();
    let deleted = match parts.next() {
        Some(Value::Array(ids)) => ids
            .into_iter()
            .filter_map(|id| EntryId::parse(&text(id)?))
            .collect(),
        _ => Vec::new(),
    };
    (cursor, entries, deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids order numerically, not lexically ("10-0" > "9-5").
    #[test]
    fn ids_order_numerically() {
        let a = EntryId::parse("9-5").unwrap();
        let b = EntryId::parse("10-0").unwrap();
        assert!(a < b);
        assert_eq!(b.to_string(), "10-0");
        assert_eq!(EntryId::parse("x-1"), None);
    }
}
