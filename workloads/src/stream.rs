//! Redis Streams layout shared by the simulator, the processor and the post-race steps.
//!
//! A session's telemetry lives in `partitions` streams `{<base>:p<k>}`; a car always maps
//! to the same partition (`car % partitions`), so one processor sees a car's samples in
//! order — per-car analytics (pit stops, laps, EWMA baselines) depend on that.
//! Entries carry either a binary batch (field `d`, see [`crate::codec::binary`]) or a
//! JSON marker (field `m`, [`Marker`]).

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

/// Consumer group every processor replica joins.
pub const GROUP: &str = "processors";
/// Field of a data entry.
pub const FIELD_DATA: &str = "d";
/// Field of a marker entry.
pub const FIELD_MARKER: &str = "m";
/// Optional field of a data entry: where each car's sequence numbers continue
/// (`car:base,…`), for samples numbered from 0 within their request (OpenF1 and FastF1
/// bodies carry no `seq`; ingest numbers them on from what the session already has).
pub const FIELD_SEQ_BASE: &str = "b";

/// Key names derived from one base name (the operator passes one per RaceSession).
///
/// Every key that belongs to a partition carries the partition's hash tag
/// (`{<base>:p<k>}`): the stream, its lease, its dead letters and, per session, the
/// counts, progress and de-duplication pages of the partition's cars. A Redis Cluster
/// puts all of them in one slot, so each script and transaction touches one slot, and
/// the partitions of a race spread over the cluster's masters. Only [`Self::members`]
/// stands alone (single-key commands only).
#[derive(Clone, Debug)]
pub struct StreamKeys {
    pub base: String,
    pub partitions: u16,
}

impl StreamKeys {
    pub fn new(base: impl Into<String>, partitions: u16) -> Self {
        StreamKeys {
            base: base.into(),
            partitions: partitions.max(1),
        }
    }
    /// The partition's stream, which is also its hash tag.
    pub fn partition(&self, p: u16) -> String {
        format!("{{{}:p{p}}}", self.base)
    }
    pub fn partition_of(&self, car: u8) -> u16 {
        car as u16 % self.partitions
    }
    pub fn all_partitions(&self) -> impl Iterator<Item = (u16, String)> + '_ {
        (0..self.partitions).map(|p| (p, self.partition(p)))
    }
    /// Entries of partition `p` that could not be decoded, with the reason.
    pub fn dead_letters(&self, p: u16) -> String {
        format!("{}:dead", self.partition(p))
    }
    /// Lease that gives one processor replica exclusive ownership of a partition.
    pub fn lease(&self, p: u16) -> String {
        format!("{}:lease", self.partition(p))
    }
    /// Hash of how far the simulator got in a session, for the cars of partition `p`
    /// (`car:<n>` → samples published, `start`/`end` → markers sent to `p`), so a
    /// restarted simulator resumes instead of repeating.
    pub fn progress(&self, session: &str, p: u16) -> String {
        format!("{}:progress:{session}", self.partition(p))
    }
    /// Hash of how many samples `POST /telemetry` accepted per car of a session, for the
    /// cars of partition `p` (`car:<n>` → samples, `start` → the start it was given, as
    /// JSON, `end` once `p`'s end marker is written): the published counts of its
    /// chequered flag.
    pub fn ingested(&self, session: &str, p: u16) -> String {
        format!("{}:ingested:{session}", self.partition(p))
    }
    /// Prefix of the keys that remember which samples ingest took of each car of a
    /// session in partition `p` (`<prefix><car>`, `<prefix><car>:<page>`,
    /// `<prefix><car>:gone`).
    pub fn seen_prefix(&self, session: &str, p: u16) -> String {
        format!("{}:seen:{session}:", self.partition(p))
    }
    /// Receipt of one `POST /telemetry` script call that wrote partition `p` (`token`
    /// names the call; it lives a few seconds): a call the Redis Cluster client sends
    /// again after losing the reply finds it and answers as the first did.
    pub fn receipt(&self, p: u16, token: &str) -> String {
        format!("{}:call:{token}", self.partition(p))
    }
    /// Sorted set of live processor replicas (score = heartbeat expiry, ms).
    pub fn members(&self) -> String {
        format!("{}:members", self.base)
    }
}

/// One car of the grid.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CarInfo {
    pub car: u8,
    #[schema(value_type = String)]
    pub driver: CompactString,
    #[schema(value_type = String)]
    pub team: CompactString,
}

/// Session metadata published at the start of a race.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub session: String,
    pub circuit: String,
    pub laps: u16,
    pub partitions: u16,
    pub started_at_ms: i64,
    pub cars: Vec<CarInfo>,
}

/// Control entries interleaved with data in every partition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Marker {
    SessionStart(SessionInfo),
    /// Chequered flag as seen by one partition: how many samples each of its cars published.
    SessionEnd {
        session: String,
        partitions: u16,
        published: Vec<CarCount>,
    },
}

/// Samples one car published.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarCount {
    pub car: u8,
    pub samples: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Markers are tagged JSON so other producers can write them by hand.
    #[test]
    fn marker_json_shape() {
        let m = Marker::SessionEnd {
            session: "s".into(),
            partitions: 2,
            published: vec![CarCount {
                car: 16,
                samples: 10,
            }],
        };
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(
            json,
            r#"{"type":"session_end","session":"s","partitions":2,"published":[{"car":16,"samples":10}]}"#
        );
        assert_eq!(serde_json::from_str::<Marker>(&json).unwrap(), m);
    }

    /// A car always lands in the same partition.
    #[test]
    fn partitioning_is_stable() {
        let k = StreamKeys::new("pitstop:telemetry", 4);
        assert_eq!(k.partition_of(16), 0);
        assert_eq!(k.partition_of(55), 3);
        assert_eq!(k.partition(3), "{pitstop:telemetry:p3}");
    }

    /// What one script or transaction touches together lives in one Redis Cluster slot,
    /// and the partitions of a race do not share one.
    #[test]
    fn a_partition_is_one_cluster_slot() {
        use redis::cluster_routing::Slot;
        let k = StreamKeys::new("pitstop:racing:monza", 8);
        let mut slots = Vec::new();
        for p in 0..8 {
            let slot = Slot::for_key(k.partition(p));
            for key in [
                k.lease(p),
                k.dead_letters(p),
                k.progress("monza", p),
                k.ingested("monza", p),
                format!("{}16:3", k.seen_prefix("monza", p)),
            ] {
                assert_eq!(Slot::for_key(&key), slot, "{key}");
            }
            assert!(!slots.contains(&slot), "partition {p} shares a slot");
            slots.push(slot);
        }
    }
}
