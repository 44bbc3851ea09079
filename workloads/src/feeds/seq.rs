//! Sequence numbers of samples from feeds that carry none of ours: who numbers a body
//! ([`Numbering`]) and the numbering ingest does itself ([`number`]).

use crate::model::Sample;

/// Who numbers a body's samples, which decides how ingest recognises a resend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Numbering {
    /// The client: native samples that give `seq`. A sample at or below its car's
    /// highest seq so far is a resend.
    Client,
    /// Ingest, continuing each car's count: OpenF1, FastF1 and native samples without
    /// `seq` (numbered from 0 here, in time order per car). A sample at or before its
    /// car's latest time so far is a resend.
    Server,
}

/// Numbers each car's samples from 0 in time order (feeds without our `seq`).
pub fn number(samples: &mut [Sample]) {
    samples.sort_by_key(|s| (s.car, s.timestamp_ms));
    let mut next = [0u32; 256];
    for s in samples.iter_mut() {
        s.seq = next[s.car as usize];
        next[s.car as usize] += 1;
    }
    samples.sort_by_key(|s| s.timestamp_ms);
}
