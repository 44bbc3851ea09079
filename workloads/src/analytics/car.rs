//! Per-car analytics state and the partition-wide collection the processor checkpoints.

use super::anomaly::AnomalyDetector;
use super::events::{CarId, Events, PitLaneRecord};
use super::laps::LapTracker;
use super::order::{Hold, Reorder, SeqRuns};
use super::pitstop::{PitEvent, PitTracker};
use crate::model::Sample;
use compact_str::CompactString;
use serde::{Deserialize, Serialize};

/// Everything the processor remembers about one car between samples.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CarAnalytics {
    pub id: CarId,
    laps: LapTracker,
    pit: PitTracker,
    anomaly: AnomalyDetector,
    /// Seqs the stream gave so far: a seq among them is one it had already.
    seqs: SeqRuns,
    /// The samples waiting to be analysed in time order.
    order: Reorder,
}

/// What became of one sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Observed {
    /// Counted, and analysed in time order (at once or after the reorder hold).
    Accepted,
    /// Older than what the car's analytics already saw (history resent under new seqs,
    /// a chunk uploaded after its successors, chunks timed from the wrong start):
    /// counted and archived, but too late to analyse.
    Late,
    /// A seq the car already had (a producer retried an append that had landed): not
    /// counted, not analysed.
    Duplicate,
    /// Of a session whose chequered flag this partition has seen: not counted.
    AfterFinish,
}

impl CarAnalytics {
    pub fn new(s: &Sample) -> Self {
        CarAnalytics {
            id: CarId {
                session: s.session.clone(),
                car: s.car,
                driver: s.driver_name(),
                team: s.team_name(),
            },
            laps: LapTracker::default(),
            pit: PitTracker::default(),
            anomaly: AnomalyDetector::default(),
            seqs: SeqRuns::default(),
            order: Reorder::default(),
        }
    }

    /// Takes one sample: refused if the car had its seq already, else counted and
    /// analysed in time order — now, after the reorder hold, or never if it is late.
    pub fn observe(&mut self, s: &Sample, ev: &mut Events) -> Observed {
        if !self.seqs.insert(s.seq) {
            return Observed::Duplicate;
        }
        match self.order.push(s) {
            Hold::Late => return Observed::Late,
            Hold::Now => self.analyse(s, ev),
            Hold::Held => {
                let mut order = std::mem::take(&mut self.order);
                order.release(|due| self.analyse(&due, ev));
                self.order = order;
            }
        }
        Observed::Accepted
    }

    /// Runs the analytics on the car's next sample in time order.
    fn analyse(&mut self, s: &Sample, ev: &mut Events) {
        // A feed may name the driver and team only in some samples (OpenF1 sends them in
        // separate records): the first name given replaces the car-number placeholder,
        // here and in the rows already stored under it.
        let mut renamed = false;
        if let Some(d) = &s.driver
            && *d != self.id.driver
        {
            self.id.driver = d.clone();
            renamed = true;
        }
        if let Some(t) = &s.team
            && *t != self.id.team
        {
            self.id.team = t.clone();
            renamed = true;
        }
        if renamed {
            ev.renamed.push(self.id.clone());
        }
        ev.laps.extend(self.laps.observe(&self.id, s));
        // A lap number the feed lost (an impossible value made unknown) is still the lap
        // the car is on: a stop entered on that sample keeps its in-lap.
        let filled;
        let for_pits = match (s.lap, self.laps.current()) {
            (None, Some(lap)) => {
                filled = Sample {
                    lap: Some(lap),
                    ..s.clone()
                };
                &filled
            }
            _ => s,
        };
        let before = self.pit.visit_under_way();
        match self.pit.observe(&self.id, for_pits) {
            Some(PitEvent::Stop(p)) => ev.pit_stops.push(p),
            Some(PitEvent::DriveThrough(d)) => ev.drive_throughs.push(d),
            None => {}
        }
        self.pit_lane_changed(before, ev);
        self.anomaly
            .observe(&self.id, s, self.pit.in_pit_lane(), &mut ev.anomalies);
    }

    /// Records a visit begun or ended by the last sample (deterministic from the state,
    /// so a replay after a restart records the same).
    fn pit_lane_changed(&self, before: Option<(i64, Option<u16>)>, ev: &mut Events) {
        let now = self.pit.visit_under_way();
        if now != before {
            ev.pit_lane.push(PitLaneRecord {
                id: self.id.clone(),
                entry: now,
            });
        }
    }

    /// At the chequered flag: analyses what the reorder hold still has, closes the last
    /// lap if the car covered it, and hands over a pit stop still held back (one judged
    /// only once the car's pit lane is known).
    pub fn finish(&mut self, ev: &mut Events) {
        let mut order = std::mem::take(&mut self.order);
        order.flush(|due| self.analyse(&due, ev));
        self.order = order;
        ev.laps.extend(self.laps.close_final(&self.id));
        // A visit the flag cut short will not be stored: the car is no longer in the
        // lane (whatever a state begun afresh forgot it had stored).
        ev.pit_lane.push(PitLaneRecord {
            id: self.id.clone(),
            entry: None,
        });
        for e in self.pit.finish(&self.id) {
            match e {
                PitEvent::Stop(p) => ev.pit_stops.push(p),
                PitEvent::DriveThrough(d) => ev.drive_throughs.push(d),
            }
        }
    }
}

/// Version of the checkpoint encoding; bump on any change to the analytics state types.
pub const STATE_FORMAT: u8 = 6;

/// A checkpoint that cannot be restored.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("checkpoint format {0}, this version reads {STATE_FORMAT}")]
    Format(u8),
    #[error("corrupt checkpoint: {0}")]
    Decode(#[from] postcard::Error),
}

/// The analytics state of every car in one stream partition.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PartitionState {
    cars: Vec<CarAnalytics>,
    /// Sessions whose chequered flag this partition has seen, newest last (bounded).
    finished: Vec<CompactString>,
}

/// Finished sessions remembered per partition: samples of older ones are no longer
/// recognised as late (they count as a new session's, which the session's own
/// accounting then shows).
const FINISHED_REMEMBERED: usize = 64;

impl PartitionState {
    /// Analyses one sample of its car (see [`Observed`]).
    pub fn observe(&mut self, s: &Sample, ev: &mut Events) -> Observed {
        // A partition holds a handful of cars: a linear scan beats hashing a string key.
        let i = match self
            .cars
            .iter()
            .position(|c| c.id.car == s.car && c.id.session == s.session)
        {
            Some(i) => i,
            None => {
                if self.finished.contains(&s.session) {
                    return Observed::AfterFinish;
                }
                let car = CarAnalytics::new(s);
                // Begun afresh (a new car, or a checkpoint this version cannot read): a
                // pit-lane row stored before is no longer followed, and rows an earlier
                // state stored under placeholders take the names this sample gives.
                ev.pit_lane.push(PitLaneRecord {
                    id: car.id.clone(),
                    entry: None,
                });
                if s.driver.is_some() || s.team.is_some() {
                    ev.renamed.push(car.id.clone());
                }
                self.cars.push(car);
                self.cars.len() - 1
            }
        };
        self.cars[i].observe(s, ev)
    }

    /// Closes a finished session: each car's last lap, if covered, goes to `ev`, then the
    /// session's cars are forgotten (they will send nothing more; a sample that still
    /// comes is [`Observed::AfterFinish`]).
    pub fn end_session(&mut self, session: &str, ev: &mut Events) {
        for c in self.cars.iter_mut().filter(|c| c.id.session == session) {
            c.finish(ev);
        }
        self.cars.retain(|c| c.id.session != session);
        if !self.finished.iter().any(|f| f == session) {
            if self.finished.len() == FINISHED_REMEMBERED {
                self.finished.remove(0);
            }
            self.finished.push(session.into());
        }
    }

    /// Compact binary checkpoint: a format byte, then postcard. Postcard is not
    /// self-describing, so any change to the state's types must bump
    /// [`STATE_FORMAT`]; a checkpoint of another format is refused (the processor
    /// then restarts analytics, keeping counts exact) instead of being misread.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![STATE_FORMAT];
        postcard::to_io(self, &mut out).expect("analytics state serializes");
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StateError> {
        match bytes.split_first() {
            Some((&STATE_FORMAT, rest)) => Ok(postcard::from_bytes(rest)?),
            Some((&other, _)) => Err(StateError::Format(other)),
            None => Err(StateError::Format(0)),
        }
    }

    pub fn cars(&self) -> usize {
        self.cars.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::circuit::circuit;
    use crate::sim::grid::default_grid;
    use crate::sim::race::{Race, RaceConfig};

    /// A car racing, on the limiter, then standing in its box from 14 s (8 Hz).
    fn into_the_box() -> Vec<Sample> {
        let speed = |t: f64| match t {
            t if t < 10.0 => 250.0,
            t if t < 14.0 => 80.0,
            _ => 0.0,
        };
        (0..140u32)
            .map(|k| Sample {
                session: "lane".into(),
                car: 7,
                seq: k,
                timestamp_ms: i64::from(k) * 125,
                speed_kph: speed(f64::from(k) / 8.0),
                lap: Some(3),
                ..Sample::default()
            })
            .collect()
    }

    /// Who is in the pit lane is stored as records: the standstill publishes the visit;
    /// analytics begun afresh (a checkpoint of another format) withdraw whatever the
    /// car had stored, as does the session's end, visit or not.
    #[test]
    fn the_pit_lane_is_withdrawn_by_a_fresh_start_and_the_end() {
        let samples = into_the_box();
        let (mut state, mut ev) = (PartitionState::default(), Events::default());
        for s in &samples[..120] {
            state.observe(s, &mut ev);
        }
        let entries: Vec<_> = ev.pit_lane.iter().map(|r| r.entry.map(|e| e.0)).collect();
        assert_eq!(entries.len(), 2, "{entries:?}");
        assert_eq!(
            entries[0], None,
            "a new car withdraws what it may have stored"
        );
        assert!(
            entries[1].is_some_and(|e| (9_900..=10_100).contains(&e)),
            "{entries:?}"
        );

        let (mut fresh, mut ev) = (PartitionState::default(), Events::default());
        for s in &samples[120..] {
            fresh.observe(s, &mut ev);
        }
        fresh.end_session("lane", &mut ev);
        let entries: Vec<_> = ev.pit_lane.iter().map(|r| r.entry).collect();
        assert_eq!(entries, [None, None]);
    }

    /// A car's stored rows are renamed when its analytics meet a name, or begin with one
    /// (an earlier state may have stored rows under placeholders); not for a sample
    /// without names.
    #[test]
    fn a_name_asks_for_the_stored_rows_to_be_renamed() {
        let mut samples = into_the_box();
        samples[1].driver = Some("VER".into());
        let (mut state, mut ev) = (PartitionState::default(), Events::default());
        state.observe(&samples[0], &mut ev);
        assert!(ev.renamed.is_empty());
        state.observe(&samples[1], &mut ev);
        state.observe(&samples[2], &mut ev);
        let names: Vec<&str> = ev.renamed.iter().map(|c| c.driver.as_str()).collect();
        assert_eq!(names, ["VER"]);
        let (mut fresh, mut ev) = (PartitionState::default(), Events::default());
        fresh.observe(&samples[1], &mut ev);
        assert_eq!(ev.renamed.len(), 1);
    }

    /// The checkpoint is written by every commit: it must stay small and round-trip
    /// exactly (a resumed partition continues where the crashed one stopped).
    #[test]
    fn checkpoint_is_small_and_round_trips() {
        let mut race = Race::new(RaceConfig {
            session: "ckpt".into(),
            circuit: circuit("monza").unwrap(),
            laps: 5,
            grid: default_grid(20),
            seed: 2,
            sample_hz: 10.0,
            anomaly_rate: 0.2,
            start_ms: 1_725_800_000_000,
        });
        let (mut state, mut ev, mut buf) =
            (PartitionState::default(), Events::default(), Vec::new());
        for _ in 0..2_000 {
            buf.clear();
            race.step(&mut buf);
            for s in buf.iter().filter(|s| s.car % 4 == 0) {
                state.observe(s, &mut ev);
            }
        }
        let bytes = state.to_bytes();
        eprintln!("checkpoint of {} cars: {} bytes", state.cars(), bytes.len());
        // An in-order car holds no sample back (a disordered one holds a second's worth).
        assert!(bytes.len() < 400 * state.cars(), "{} bytes", bytes.len());
        assert_eq!(PartitionState::from_bytes(&bytes).unwrap(), state);
        // Another format version is refused, not misread.
        let mut other = bytes.clone();
        other[0] = STATE_FORMAT + 1;
        assert!(matches!(
            PartitionState::from_bytes(&other),
            Err(StateError::Format(_))
        ));
    }
}
