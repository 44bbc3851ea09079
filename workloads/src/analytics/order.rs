//! What arrives before the analytics of one car: which seqs the stream already gave
//! ([`SeqRuns`], exact de-duplication without a high-water mark) and the short hold that
//! puts samples back in time order ([`Reorder`]).
//!
//! Real inputs are reordered (UDP, parallel uploaders, retried batches): a car's samples
//! reach the stream neither in seq nor in time order. Neither structure lets one sample
//! poison the car: a seq of 4,000,000,000 is one more run, not a new floor; a timestamp a
//! day ahead waits in the hold without moving the release point.

use crate::model::Sample;
use serde::{Deserialize, Serialize};

/// Runs of seqs already seen, as half-open ranges `[start, end)`, sorted and disjoint.
/// In-order data is one run; each out-of-order arrival adds at most one until the gap
/// closes. Bounded: past [`SeqRuns::MAX_RUNS`] the lowest run is forgotten, so a sample
/// in it would be counted again rather than a new one refused — the safe direction
/// (producers are exact; this is the processor's second line).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SeqRuns(Vec<(u32, u32)>);

impl SeqRuns {
    pub const MAX_RUNS: usize = 64;

    /// Records `seq`; false when it was already there.
    pub fn insert(&mut self, seq: u32) -> bool {
        let runs = &mut self.0;
        // The first run starting above seq; the one before it may contain seq.
        let i = runs.partition_point(|r| r.0 <= seq);
        if i > 0 && seq < runs[i - 1].1 {
            return false;
        }
        let end = seq.saturating_add(1);
        let joins_prev = i > 0 && runs[i - 1].1 == seq;
        let joins_next = i < runs.len() && runs[i].0 == end;
        match (joins_prev, joins_next) {
            (true, true) => {
                runs[i - 1].1 = runs[i].1;
                runs.remove(i);
            }
            (true, false) => runs[i - 1].1 = end,
            (false, true) => runs[i].0 = seq,
            (false, false) => {
                runs.insert(i, (seq, end));
                if runs.len() > Self::MAX_RUNS {
                    runs.remove(0);
                }
            }
        }
        true
    }

    pub fn runs(&self) -> usize {
        self.0.len()
    }
}

/// Holds a car's latest samples briefly and releases them in time order.
///
/// While a car's samples arrive in time order each is released at once, unless it jumps
/// more than [`Reorder::JUMP_MS`] ahead of the sample before: such a sample waits for a
/// second one to agree with it (a glitch a day ahead stays put, a real gap — a red flag —
/// is confirmed by the next sample). From the first sample that arrives out of order on,
/// samples wait [`Reorder::HOLD_MS`] of race time behind the car's newest trusted sample
/// for earlier ones still on their way. Never more than [`Reorder::CAP`] are held. A
/// sample older than the last one released is too late for the analytics: the caller
/// counts it, stores it, and says so.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Reorder {
    /// Held samples, oldest first.
    #[serde(with = "held_codec")]
    held: Vec<Sample>,
    /// Time of the last sample released (`None` before the first).
    released_ms: Option<i64>,
    /// The car's samples have arrived out of order: hold them for [`Reorder::HOLD_MS`].
    disordered: bool,
}

/// Where a sample went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hold {
    /// Due at once, nothing held before it: analyse it now (the common case, taken
    /// without a copy).
    Now,
    Held,
    /// Older than what the analytics already saw.
    Late,
}

impl Reorder {
    /// Race time a sample waits for later-arriving earlier ones: a UDP reorder, a retried
    /// batch landing after its successor. Longer holds delay every event by as much.
    pub const HOLD_MS: i64 = 1_000;
    /// Most samples held per car (1 s at 60 Hz with room to spare).
    pub const CAP: usize = 96;
    /// A step ahead that a single sample is not trusted with.
    pub const JUMP_MS: i64 = 10_000;

    /// Takes `s` unless it is too late.
    pub fn push(&mut self, s: &Sample) -> Hold {
        let t = s.timestamp_ms;
        match self.released_ms {
            Some(r) if t < r => return Hold::Late,
            // In order, a plausible step, nothing waiting: what `release` would hand
            // over at once.
            Some(r) if self.held.is_empty() && !self.disordered && t - r <= Self::JUMP_MS => {
                self.released_ms = Some(t);
                return Hold::Now;
            }
            _ => {}
        }
        // In-order arrival appends; otherwise after the held samples of equal time.
        let in_order = self
            .held
            .last()
            .is_none_or(|l| l.timestamp_ms <= s.timestamp_ms);
        let at = if in_order {
            self.held.len()
        } else {
            self.disordered = true;
            self.held
                .partition_point(|h| h.timestamp_ms <= s.timestamp_ms)
        };
        self.held.insert(at, s.clone());
        Hold::Held
    }

    /// Hands every sample that is due to `out`, oldest first.
    pub fn release(&mut self, mut out: impl FnMut(Sample)) {
        let n = self.held.len();
        let Some(newest) = self.held.last().map(|s| s.timestamp_ms) else {
            return;
        };
        // The car's time: its newest sample unless that one jumped ahead alone.
        let before = match n {
            1 => self.released_ms,
            _ => Some(self.held[n - 2].timestamp_ms),
        };
        let anchor = match before {
            Some(b) if newest - b <= Self::JUMP_MS => Some(newest),
            _ if n >= 2 => before,
            _ => None,
        };
        let hold = if self.disordered { Self::HOLD_MS } else { 0 };
        let mut due = anchor.map_or(0, |a| {
            self.held.partition_point(|h| h.timestamp_ms <= a - hold)
        });
        due = due.max(n.saturating_sub(Self::CAP));
        for s in self.held.drain(..due) {
            self.released_ms = Some(s.timestamp_ms);
            out(s);
        }
    }

    /// Hands over everything held (the session is over).
    pub fn flush(&mut self, mut out: impl FnMut(Sample)) {
        for s in self.held.drain(..) {
            self.released_ms = Some(s.timestamp_ms);
            out(s);
        }
    }

    pub fn held(&self) -> usize {
        self.held.len()
    }
}

/// Held samples in the checkpoint as one binary stream batch: compact (absent channels
/// take no space) and, unlike `Sample`'s JSON-shaped serde (optional fields skipped),
/// safe for postcard, which is not self-describing.
mod held_codec {
    use crate::codec::binary::{decode_batch, encode_batch};
    use crate::model::Sample;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(held: &[Sample], ser: S) -> Result<S::Ok, S::Error> {
        let bytes = match held.first() {
            None => Vec::new(),
            Some(s) => encode_batch(&s.session, 0, held),
        };
        // A byte sequence is its bytes in postcard (plus a length).
        bytes.serialize(ser)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<Vec<Sample>, D::Error> {
        let bytes = Vec::<u8>::deserialize(de)?;
        let mut held = Vec::new();
        if !bytes.is_empty() {
            decode_batch(&bytes, &mut held).map_err(serde::de::Error::custom)?;
        }
        Ok(held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: i64) -> Sample {
        Sample {
            timestamp_ms: t,
            ..Sample::default()
        }
    }

    fn released(r: &mut Reorder) -> Vec<i64> {
        let mut out = Vec::new();
        r.release(|s| out.push(s.timestamp_ms));
        out
    }

    /// What the analytics get for one arriving sample, as `CarAnalytics` drives it.
    fn feed(r: &mut Reorder, t: i64) -> Vec<i64> {
        match r.push(&at(t)) {
            Hold::Now => vec![t],
            Hold::Held => released(r),
            Hold::Late => Vec::new(),
        }
    }

    /// Exact: every seq once, in any order; a huge seq is one run, not a new floor.
    #[test]
    fn seq_runs_are_exact_in_any_order() {
        let mut r = SeqRuns::default();
        assert!(r.insert(4_000_000_000));
        for s in [5, 3, 4, 0, 1, 2, 9, 7, 8, 6] {
            assert!(r.insert(s), "{s} is new");
        }
        for s in [0, 5, 9, 4_000_000_000] {
            assert!(!r.insert(s), "{s} was there");
        }
        assert!(r.insert(10));
        assert_eq!(r.runs(), 2, "0..=10 and the outlier");
        assert!(r.insert(u32::MAX - 1) && !r.insert(u32::MAX - 1));
    }

    /// Fragmentation is bounded by forgetting the lowest run, never by refusing new seqs.
    #[test]
    fn seq_runs_forget_the_oldest_run() {
        let mut r = SeqRuns::default();
        for i in 0..(SeqRuns::MAX_RUNS as u32 + 5) {
            assert!(r.insert(i * 10));
        }
        assert_eq!(r.runs(), SeqRuns::MAX_RUNS);
        assert!(r.insert(0), "forgotten: taken again (counted, not refused)");
        assert!(!r.insert(10 * (SeqRuns::MAX_RUNS as u32 + 4)));
    }

    /// In order, a sample is analysed at once; only the car's first, or one that jumps
    /// ahead alone, waits for the next.
    #[test]
    fn in_order_samples_do_not_wait() {
        let mut r = Reorder::default();
        assert!(
            feed(&mut r, 0).is_empty(),
            "the first has nothing to agree with"
        );
        assert_eq!(feed(&mut r, 100), [0, 100]);
        assert_eq!(
            r.push(&at(200)),
            Hold::Now,
            "the common case: no copy, no wait"
        );
        assert!(
            feed(&mut r, 60_000).is_empty(),
            "a minute ahead alone waits"
        );
        assert_eq!(
            feed(&mut r, 60_100),
            [60_000, 60_100],
            "a red flag, confirmed"
        );
        assert_eq!(r.held(), 0);
    }

    /// Once a car's samples come out of order, they wait a second of race time.
    #[test]
    fn reorders_within_the_hold() {
        let mut r = Reorder::default();
        for t in [0, 300, 100, 200, 900, 700, 1_300, 1_200] {
            assert_eq!(r.push(&at(t)), Hold::Held);
        }
        assert_eq!(
            released(&mut r),
            [0, 100, 200, 300],
            "a second behind 1,300"
        );
        assert_eq!(r.push(&at(250)), Hold::Late, "older than what was released");
        assert_eq!(r.push(&at(350)), Hold::Held, "still in time");
        let mut out = Vec::new();
        r.flush(|s| out.push(s.timestamp_ms));
        assert_eq!(out, [350, 700, 900, 1_200, 1_300]);
    }

    /// A sample a day ahead neither releases the rest early nor makes them late.
    #[test]
    fn one_future_glitch_poisons_nothing() {
        let mut r = Reorder::default();
        let day = 86_400_000;
        feed(&mut r, 0);
        assert_eq!(feed(&mut r, 100), [0, 100]);
        assert!(
            feed(&mut r, day).is_empty(),
            "the glitch is not the car's time"
        );
        let mut got = vec![0, 100];
        for t in (200..=3_000).step_by(100) {
            got.extend(feed(&mut r, t));
        }
        assert_eq!(got.first(), Some(&0));
        assert!(got.windows(2).all(|w| w[0] < w[1]), "in order: {got:?}");
        assert!(got.len() >= 19, "released as time goes on: {got:?}");
        assert!(!got.contains(&day));
    }

    /// The hold is bounded in samples too (a 1 kHz burst does not grow it).
    #[test]
    fn the_hold_is_capped() {
        let mut r = Reorder::default();
        for t in (0..500).rev() {
            feed(&mut r, t);
        }
        assert!(r.held() <= Reorder::CAP);
    }
}
