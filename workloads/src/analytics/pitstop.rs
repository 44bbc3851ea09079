//! Pit stops found from motion, so that feeds without a pit flag (live timing, FastF1,
//! OpenF1) get them; a pit status, where a source sends one, sharpens the boundaries
//! ([`super::pithint`]), and a position, where a feed has one, arbitrates the stops the
//! speed trace leaves ambiguous ([`super::pitlane`]).
//!
//! **Pit lane** — the speed limiter holds a car at one speed: a *plateau*, speeds within
//! a 3 km/h window for at least 0.6 s at a level between 50 and 100 km/h (80 km/h at most
//! circuits, 60 at some). A visit starts where the car, having been at racing speed,
//! comes onto a plateau (its entry crossing) and ends where it leaves the limiter
//! upwards after the stop (2.5 km/h above the limiter level it held after the stop).
//!
//! **Stationary** — at or below 3 km/h, a car that reached a standstill (≤ 0.5 km/h).
//! Feeds report 0–3 km/h of creeping either side of the stop, so the stop runs from the
//! downward to the upward crossing of 3 km/h. Halts separated by less than 1 s of
//! movement slower than 25 km/h are one stop (a car pushed back onto its marks, a long
//! penalty stop, a standstill split by a reading above 3 km/h), except that a standstill
//! of less than 1 s before another of at least 1 s is the car arriving short of its box,
//! not the stop. With positions, halts more than 10 m apart are never one stop. A stop
//! lasts at least 1 s.
//!
//! **Boundaries** — each crossing is interpolated between the two samples around it, so
//! the estimate does not depend on the sample rate; when those two samples imply more
//! than 150 km/h per second (over 4 g, which no car does at pit speeds) they do not
//! resolve the transition and the boundary is their midpoint (the simulator's speed
//! steps, or a gap in the data).
//!
//! **Not pit stops** — a stop before the car first reached racing speed (a standing start,
//! a pit-lane start waiting for the lights), a stop with no limiter plateau around it
//! (a car stopped on track), a visit whose exit is never seen (retired in the pit lane,
//! or the data ends). A pit-lane phase without a stop is a drive-through, reported when
//! the car held the limiter for 8 s in one go: behind a safety car a car also drives
//! steadily at 55–85 km/h, but in stretches of a second or two at changing speeds.
//!
//! **Ambiguous stops** — a stop with the limiter after it but not before (*an orphan*) is
//! a queue in the pit lane, or a car beached off the track that crawled back. With
//! positions: a visit whose stop followed the limiter is certain and teaches the car's
//! pit lane; an orphan off that lane is not a pit stop; an orphan followed in its visit by
//! a stop the limiter led to, more than 15 m away, gives way to it; an orphan before the
//! car's lane is known is held (up to 3 minutes) until a certain visit says whether it
//! lay on the lane. Without positions orphans are taken as they are.
//!
//! A stop belongs to the lap on which the car entered the pit lane (its in-lap, as DHL and
//! the FIA count it), even when the stationary phase falls after the timing line.

use super::events::{CarId, DriveThroughRecord, PitStopRecord};
use super::pithint::{Bounds, Hint};
use super::pitlane::{PitLane, Pos, apart};
use crate::model::{Compound, Sample};
use serde::{Deserialize, Serialize};

/// At or below this a car is stationary or creeping onto its marks.
const V_CREEP: f32 = 3.0;
/// A halt must reach a true standstill.
const V_STILL: f32 = 0.5;
/// A standstill shorter than this, before one at least as long, is the arrival.
const MIN_HALT_MS: i64 = 1_000;
/// Halts closer than this, with the car slower than `MERGE_MAX_KPH` between, are one stop.
const MERGE_GAP_MS: i64 = 1_000;
const MERGE_MAX_KPH: f32 = 25.0;
/// Halts further apart than this are separate stops (a nudge moves a car a metre or two).
const HALT_SPAN_M: i64 = 10;
/// Shortest stop (the record is 1.80 s).
const MIN_STOP_MS: i64 = 1_000;
/// Samples implying a faster change than this (km/h per second) do not resolve it.
const MAX_RATE_KPH_S: f64 = 150.0;
/// Limiter plateau: window, duration and level range.
const PLATEAU_BAND_KPH: f32 = 3.0;
const PLATEAU_MS: i64 = 600;
const LIMITER_MIN_KPH: f32 = 50.0;
const LIMITER_MAX_KPH: f32 = 100.0;
/// A visit ends this far above the limiter level held after the stop.
const EXIT_MARGIN_KPH: f32 = 2.5;
/// A car has raced once it went this fast (not a standing or pit-lane start).
const V_RACING: f32 = 150.0;
/// Above this the car is not in the pit lane; the last downward crossing is the entry of
/// a visit whose approach never held the limiter (a queue behind another car).
const V_LANE_MAX: f32 = 85.0;
/// A plateau older than this without a stop is slow driving, not a pit lane.
const VISIT_MAX_MS: i64 = 60_000;
/// A stop waits this long for a plateau after it before it is judged a stop on track.
const ORPHAN_WAIT_MS: i64 = 20_000;
/// A pit-lane phase without a stop counts as a drive-through from this much limiter time.
const DRIVE_THROUGH_MS: i64 = 8_000;
/// An orphan and a stop the limiter led to, further apart than this, are not one box.
const BOX_APART_M: i64 = 15;
/// An orphan waits this long for a certain visit to teach the lane: longer than a lap
/// plus a crawl back, so a car that beached and then pitted on that lap is judged.
const HOLD_MS: i64 = 180_000;

/// One observation: time (ms) and speed (km/h).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Point {
    t: i64,
    v: f32,
}

/// Where `level` is crossed between `a` and `b`: interpolated, or the midpoint when the
/// two samples do not resolve the change.
fn crossing(a: Point, b: Point, level: f32) -> i64 {
    let dt = (b.t - a.t) as f64;
    if dt <= 0.0 {
        return b.t;
    }
    let dv = (a.v - b.v) as f64;
    if dv == 0.0 || dv.abs() / (dt / 1000.0) > MAX_RATE_KPH_S {
        return (a.t + b.t) / 2;
    }
    let f = ((a.v - level) as f64 / dv).clamp(0.0, 1.0);
    a.t + (f * dt).round() as i64
}

/// Samples whose speeds stay within the plateau window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Run {
    before: Point,
    first: Point,
    last: Point,
    min: f32,
    max: f32,
    lap: Option<u16>,
    confirmed: bool,
}

impl Run {
    /// When the car came onto the plateau, from above or from below.
    fn entered_at(&self) -> i64 {
        let level = if self.before.v > self.first.v {
            self.max + 0.5
        } else {
            self.min - 0.5
        };
        crossing(self.before, self.first, level)
    }
}

/// A stretch at or below the creep speed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Creep {
    start: i64,
    /// First and last sample at standstill.
    still: Option<(i64, i64)>,
    /// Where the car stood, if the feed has positions.
    at: Option<Pos>,
}

/// A stop being assembled from halts.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
struct Halt {
    start: i64,
    end: i64,
    still_ms: i64,
    at: Option<Pos>,
}

/// A stationary phase of at least [`MIN_STOP_MS`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
struct Stop {
    start: i64,
    end: i64,
    at: Option<Pos>,
    /// The limiter led to it (an orphan is not).
    certain: bool,
}

impl Stop {
    fn ms(&self) -> i64 {
        self.end - self.start
    }
}

/// The start of a pit-lane visit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Entry {
    at: i64,
    lap: Option<u16>,
    compound: Option<Compound>,
    /// Longest limiter plateau of the visit so far.
    plateau_ms: i64,
}

/// A stop seen before any plateau: a pit stop if the limiter follows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Orphan {
    stop: Stop,
    entry: Entry,
}

/// A visit motion closed (its boundaries sharpened by the hint), waiting to be returned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Closed {
    lap: Option<u16>,
    entry: i64,
    exit: i64,
    stop: Option<(i64, i64)>,
    compound_in: Option<Compound>,
    compound_out: Option<Compound>,
}

impl Closed {
    fn event(self, id: &CarId) -> PitEvent {
        match self.stop {
            Some((start, end)) => PitEvent::Stop(PitStopRecord {
                id: id.clone(),
                lap: self.lap,
                entry_ms: self.entry,
                stationary_start_ms: start,
                stationary_ms: end - start,
                pit_lane_ms: self.exit - self.entry,
                compound_in: self.compound_in,
                compound_out: self.compound_out,
            }),
            None => PitEvent::DriveThrough(DriveThroughRecord {
                id: id.clone(),
                lap: self.lap,
                entry_ms: self.entry,
                pit_lane_ms: self.exit - self.entry,
            }),
        }
    }
}

/// An orphan's visit, closed before the car's pit lane was known, and where it stood.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Held {
    visit: Closed,
    at: Pos,
}

/// What the tracker concluded from one sample.
#[derive(Clone, Debug, PartialEq)]
pub enum PitEvent {
    Stop(PitStopRecord),
    DriveThrough(DriveThroughRecord),
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PitTracker {
    prev: Option<Point>,
    raced: bool,
    compound: Option<Compound>,
    run: Option<Run>,
    creep: Option<Creep>,
    halt: Option<Halt>,
    /// Fastest speed since the pending halt ended.
    since_halt_kph: f32,
    entry: Option<Entry>,
    /// Where the limiter began, when the visit's entry is an orphan's (taken instead if
    /// the orphan gives way to a stop the limiter led to).
    lane_entry: Option<Entry>,
    stop: Option<Stop>,
    orphan: Option<Orphan>,
    /// Last downward crossing of `V_LANE_MAX`, as a fallback entry.
    slowed: Option<Entry>,
    /// Limiter level held after the stop; the visit ends above it.
    exit_level: Option<f32>,
    hint: Hint,
    lane: PitLane,
    held: Option<Held>,
    /// Closed visits not yet returned: one is returned per sample.
    ready: Vec<Closed>,
}

impl PitTracker {
    /// Whether the car is in (or arriving at) the pit lane: anomaly baselines pause there.
    pub fn in_pit_lane(&self) -> bool {
        self.entry.is_some() || self.hint.in_lane() || self.creep.is_some() || self.halt.is_some()
    }

    /// The visit under way as (entry ms, in-lap), once the car has stood still in it:
    /// a limiter speed held on track (behind a safety car, on the formation lap) opens
    /// a visit too, closed without a stop when the car speeds up (on the 2025 Dutch GP,
    /// 175 such visits held 5 s; none stood still). None otherwise, and for a
    /// drive-through.
    pub fn visit_under_way(&self) -> Option<(i64, Option<u16>)> {
        let entry = self.entry.as_ref()?;
        let still = self.creep.as_ref().is_some_and(|c| c.still.is_some());
        (self.stop.is_some() || still || self.halt.is_some()).then_some((entry.at, entry.lap))
    }

    /// Feeds one sample (in time order); returns a stop or a drive-through when the car
    /// leaves the pit lane (or, for an orphan held until its lane was known, later).
    pub fn observe(&mut self, id: &CarId, s: &Sample) -> Option<PitEvent> {
        let now = Point {
            t: s.timestamp_ms,
            v: s.speed_kph,
        };
        if s.tyre_compound.is_some() {
            self.compound = s.tyre_compound;
        }
        let prev = self.prev.replace(now);
        // The hint first, so that a transition on this sample counts when motion closes
        // a visit on it.
        self.hint.observe(prev.map(|p| p.t), now.t, s.pit_status);
        match prev {
            Some(p) if p.t < now.t => self.motion(p, now, s.lap, Pos::of(s)),
            Some(_) => {}
            None => self.raced |= now.v >= V_RACING,
        }
        if self
            .held
            .as_ref()
            .is_some_and(|h| now.t - h.visit.exit > HOLD_MS)
        {
            // No certain visit came to say otherwise: taken, as without a position.
            self.ready.extend(self.held.take().map(|h| h.visit));
        }
        (!self.ready.is_empty()).then(|| self.ready.remove(0).event(id))
    }

    /// At the end of the session: what is still waiting, in time order (an orphan held
    /// for lack of a certain visit is taken).
    pub fn finish(&mut self, id: &CarId) -> Vec<PitEvent> {
        let mut out: Vec<Closed> = self.ready.drain(..).collect();
        out.extend(self.held.take().map(|h| h.visit));
        out.sort_by_key(|c| c.entry);
        out.into_iter().map(|c| c.event(id)).collect()
    }

    fn motion(&mut self, p: Point, now: Point, lap: Option<u16>, at: Option<Pos>) {
        self.raced |= now.v >= V_RACING;
        if p.v > V_LANE_MAX && now.v <= V_LANE_MAX {
            self.slowed = Some(Entry {
                at: crossing(p, now, V_LANE_MAX),
                lap,
                compound: self.compound,
                plateau_ms: 0,
            });
        }
        self.halts(p, now, at);
        self.plateaus(p, now, lap);
        if self
            .orphan
            .as_ref()
            .is_some_and(|o| now.t - o.stop.end > ORPHAN_WAIT_MS)
        {
            self.orphan = None;
        }
        let Some(entry) = self.entry.as_ref() else {
            return;
        };
        if let Some(at) = at {
            self.lane.pass(at);
        }
        match (self.stop, self.exit_level) {
            (None, _) if now.v > V_LANE_MAX => {
                let exit = crossing(p, now, V_LANE_MAX);
                self.close(exit);
            }
            (None, _) if now.t - entry.at > VISIT_MAX_MS => {
                self.entry = None;
                self.lane_entry = None;
            }
            (Some(_), Some(level))
                if now.v > level + EXIT_MARGIN_KPH || now.v > LIMITER_MAX_KPH =>
            {
                let exit = crossing(p, now, (level + EXIT_MARGIN_KPH).min(LIMITER_MAX_KPH));
                self.close(exit);
            }
            (Some(_), None) if p.v <= V_LANE_MAX && now.v > V_LANE_MAX => {
                // Left without holding the limiter after the stop (a short pit exit).
                let exit = crossing(p, now, V_LANE_MAX);
                self.close(exit);
            }
            _ => {}
        }
    }

    /// Tracks creeping and standstill; merges halts into stops.
    fn halts(&mut self, p: Point, now: Point, at: Option<Pos>) {
        if now.v <= V_CREEP {
            let creep = self.creep.get_or_insert_with(|| Creep {
                start: if p.v > V_CREEP {
                    crossing(p, now, V_CREEP)
                } else {
                    now.t
                },
                still: None,
                at: None,
            });
            if now.v <= V_STILL {
                let first = creep.still.map_or(now.t, |(f, _)| f);
                creep.still = Some((first, now.t));
                creep.at = creep.at.or(at);
            }
            return;
        }
        if let Some(creep) = self.creep.take()
            && let Some((first, last)) = creep.still
        {
            let end = crossing(p, now, V_CREEP);
            self.halt_done(Halt {
                start: creep.start,
                end,
                still_ms: last - first,
                at: creep.at,
            });
        }
        if let Some(h) = self.halt {
            self.since_halt_kph = self.since_halt_kph.max(now.v);
            if self.since_halt_kph > MERGE_MAX_KPH || now.t - h.end > MERGE_GAP_MS {
                self.finish_halt();
            }
        }
    }

    /// A halt ended; it joins the pending one (close enough in time: the gap check in
    /// `halts` ran on every sample between) unless something says they are two.
    fn halt_done(&mut self, h: Halt) {
        self.since_halt_kph = 0.0;
        let Some(pending) = self.halt else {
            self.halt = Some(h);
            return;
        };
        if apart(pending.at, h.at, HALT_SPAN_M) {
            // Not where the car stood before: another stop, however slowly it moved.
            self.finish_halt();
            self.halt = Some(h);
        } else if pending.still_ms < MIN_HALT_MS && h.still_ms >= MIN_HALT_MS {
            // Stopped short of the box, then rolled onto the marks: the stop is this one.
            self.halt = Some(h);
        } else {
            // One stop: nudged during it, or split by a reading above the creep speed
            // into standstills each too short to be a stop's.
            self.halt = Some(Halt {
                end: h.end,
                still_ms: pending.still_ms + h.still_ms,
                ..pending
            });
        }
    }

    fn finish_halt(&mut self) {
        let Some(h) = self.halt.take() else { return };
        if h.end - h.start < MIN_STOP_MS {
            return;
        }
        let new = Stop {
            start: h.start,
            end: h.end,
            at: h.at,
            certain: true,
        };
        if self.entry.is_none() {
            if self.raced
                && let Some(entry) = self.slowed.clone()
            {
                self.orphan = Some(Orphan {
                    stop: Stop {
                        certain: false,
                        ..new
                    },
                    entry,
                });
            }
            return;
        }
        self.stop = Some(match self.stop {
            None => new,
            // The car has one box: an orphan elsewhere than the stop the limiter led to
            // was not at it. The visit began where the limiter did, and ends above the
            // level held after this stop (not the approach's, which may be slower).
            Some(old) if !old.certain && apart(old.at, new.at, BOX_APART_M) => {
                if let Some(e) = self.lane_entry.take() {
                    self.entry = Some(e);
                }
                self.exit_level = None;
                new
            }
            // Otherwise the longest stop of a visit is its stop.
            Some(old) if new.ms() > old.ms() => new,
            Some(old) => old,
        });
    }

    /// Tracks limiter plateaus: they open a visit, and set the level to exit above.
    fn plateaus(&mut self, p: Point, now: Point, lap: Option<u16>) {
        let run = match self.run.as_mut() {
            Some(r) if r.max.max(now.v) - r.min.min(now.v) <= PLATEAU_BAND_KPH => {
                r.min = r.min.min(now.v);
                r.max = r.max.max(now.v);
                r.last = now;
                r
            }
            _ => {
                if let (Some(r), Some(e)) = (&self.run, self.entry.as_mut())
                    && r.confirmed
                {
                    e.plateau_ms = e.plateau_ms.max(r.last.t - r.first.t);
                }
                self.run.insert(Run {
                    before: p,
                    first: now,
                    last: now,
                    min: now.v,
                    max: now.v,
                    lap,
                    confirmed: false,
                })
            }
        };
        if !run.confirmed
            && run.last.t - run.first.t >= PLATEAU_MS
            && (LIMITER_MIN_KPH..=LIMITER_MAX_KPH).contains(&run.max)
        {
            run.confirmed = true;
            let run = run.clone();
            self.plateau_confirmed(&run);
        }
        if let (Some(run), Some(stop), Some(level)) =
            (&self.run, self.stop, self.exit_level.as_mut())
            && run.confirmed
            && run.first.t > stop.end
        {
            *level = level.max(run.max);
        }
    }

    fn plateau_confirmed(&mut self, run: &Run) {
        if let (Some(_), Some(stop)) = (&self.entry, self.stop) {
            if run.first.t > stop.end && self.exit_level.is_none() {
                self.exit_level = Some(run.max);
            }
            return;
        }
        if self.entry.is_some() || !self.raced || self.creep.is_some() || self.halt.is_some() {
            return;
        }
        let lane_entry = Entry {
            at: run.entered_at(),
            lap: run.lap,
            compound: self.compound,
            plateau_ms: 0,
        };
        self.lane.begin();
        match self.orphan.take() {
            Some(orphan) if self.lane.admits(orphan.stop.at) => {
                // A stop, then the limiter: the approach never held it (a queue in the
                // lane), unless a certain stop elsewhere follows.
                self.entry = Some(orphan.entry);
                self.lane_entry = Some(lane_entry);
                self.stop = Some(orphan.stop);
                self.exit_level = Some(run.max);
            }
            // None, or off the lane this car drove: it stopped elsewhere (beached, on
            // track), and the plateau is a visit of its own.
            _ => self.entry = Some(lane_entry),
        }
    }

    /// Ends the visit at `exit`.
    fn close(&mut self, exit: i64) {
        let Some(entry) = self.entry.take() else {
            return;
        };
        self.lane_entry = None;
        let stop = self.stop.take();
        self.exit_level = None;
        self.orphan = None;
        let bounds = self.hint.sharpen(Bounds {
            entry: entry.at,
            stop: stop.map(|s| (s.start, s.end)),
            exit,
        });
        let visit = Closed {
            lap: entry.lap,
            entry: bounds.entry,
            exit: bounds.exit,
            stop: bounds.stop,
            compound_in: entry.compound,
            compound_out: self.compound,
        };
        let Some(stop) = stop else {
            let held = entry.plateau_ms.max(
                self.run
                    .as_ref()
                    .filter(|r| r.confirmed)
                    .map_or(0, |r| r.last.t - r.first.t),
            );
            if held >= DRIVE_THROUGH_MS {
                self.ready.push(visit);
            }
            return;
        };
        match stop.at {
            _ if stop.certain => {
                // The next stop needs the car back at racing speed first.
                self.raced = false;
                self.lane.learn();
                // The lane is known now (unless this visit had no positions): an orphan
                // held for it is judged, reported if it lay on it, dropped if not.
                if self.lane.known()
                    && let Some(h) = self.held.take()
                    && self.lane.on_path(h.at)
                {
                    self.ready.push(h.visit);
                }
                self.ready.push(visit);
            }
            Some(at) if !self.lane.known() => {
                // Racing speed is not asked of the next stop: if this one was a car
                // beached before its pit entry, the pit stop may follow at once.
                if let Some(h) = self.held.replace(Held { visit, at }) {
                    self.ready.push(h.visit);
                }
            }
            _ => {
                self.raced = false;
                self.ready.push(visit);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PitStatus;

    fn id() -> CarId {
        CarId {
            session: "s".into(),
            car: 16,
            driver: "LEC".into(),
            team: "Ferrari".into(),
        }
    }

    /// Feeds `(ms, kph)` points (lap 7 until `lap_at`, then 8) and collects events.
    fn feed(points: &[(i64, f32)], lap_at: i64) -> Vec<PitEvent> {
        let mut t = PitTracker::default();
        points
            .iter()
            .filter_map(|&(ms, v)| {
                let s = Sample {
                    timestamp_ms: ms,
                    speed_kph: v,
                    lap: Some(if ms < lap_at { 7 } else { 8 }),
                    ..Sample::default()
                };
                t.observe(&id(), &s)
            })
            .collect()
    }

    /// A trace sampled every `dt` ms from a speed profile.
    fn sampled(dt: i64, until: i64, profile: impl Fn(f64) -> f64) -> Vec<(i64, f32)> {
        (0..=until / dt)
            .map(|i| (i * dt, profile((i * dt) as f64 / 1000.0) as f32))
            .collect()
    }

    /// A smooth stop: racing, brake to 80 at 10 s, limiter, decelerate to the box
    /// (standstill 20.0–23.0 s, creeping either side), limiter, exit at 38 s.
    fn smooth(t: f64) -> f64 {
        match t {
            t if t < 8.0 => 250.0,
            t if t < 10.0 => 250.0 - 85.0 * (t - 8.0),
            t if t < 17.0 => 80.0,
            t if t < 19.9 => 80.0 - 80.0 * (t - 17.0) / 2.9 * 0.97,
            t if t < 20.0 => 2.4,
            t if t < 23.0 => 0.0,
            t if t < 23.1 => 2.0,
            t if t < 26.0 => 2.4 + 77.6 * (t - 23.1) / 2.9,
            t if t < 38.0 => 80.0,
            t => 80.0 + 60.0 * (t - 38.0),
        }
    }

    fn stop(events: &[PitEvent]) -> &PitStopRecord {
        match events {
            [PitEvent::Stop(s)] => s,
            other => panic!("expected one stop, got {other:?}"),
        }
    }

    /// The same smooth stop at 4, 8 and 60 Hz gives the same stationary time (the crossing
    /// is interpolated, not snapped to samples) and the same pit-lane time.
    #[test]
    fn stationary_time_does_not_depend_on_sample_rate() {
        let mut seen = Vec::new();
        for dt in [250, 125, 17] {
            let ev = feed(&sampled(dt, 45_000, smooth), i64::MAX);
            let s = stop(&ev);
            seen.push((s.stationary_ms, s.pit_lane_ms));
            // 3 km/h is crossed at 19.877 s and 23.122 s.
            assert!((s.stationary_ms - 3_245).abs() <= 100, "{dt} ms: {s:?}");
            assert!((s.pit_lane_ms - 28_050).abs() <= 300, "{dt} ms: {s:?}");
            assert_eq!(s.lap, Some(7));
        }
        let spread =
            seen.iter().map(|s| s.0).max().unwrap() - seen.iter().map(|s| s.0).min().unwrap();
        assert!(spread <= 120, "{seen:?}");
    }

    /// The simulator's steps (80 → 0 between two samples): boundaries are midpoints, as
    /// the pit status gives them.
    #[test]
    fn unresolved_steps_use_midpoints() {
        let step = |t: f64| match t {
            t if t < 5.0 => 250.0,
            t if t < 15.0 => 80.0,
            t if t < 17.4 => 0.0,
            t if t < 30.0 => 80.0,
            _ => 250.0,
        };
        for dt in [250, 17] {
            let ev = feed(&sampled(dt, 40_000, step), i64::MAX);
            let s = stop(&ev);
            assert!(
                (s.stationary_start_ms - 15_000).abs() <= dt / 2 + 1,
                "{s:?}"
            );
            assert!((s.stationary_ms - 2_400).abs() <= dt, "{s:?}");
            assert!((s.pit_lane_ms - 25_000).abs() <= dt, "{s:?}");
        }
    }

    /// A long penalty stop with the car nudged forward at 16 km/h in the middle is one
    /// stop; a standstill of under a second before rolling onto the marks is not counted.
    #[test]
    fn merges_nudges_and_drops_the_arrival() {
        let penalty = |t: f64| match t {
            t if t < 5.0 => 250.0,
            t if t < 15.0 => 80.0,
            t if t < 28.0 => 0.0, // 13 s stationary
            t if t < 28.3 => 16.0,
            t if t < 29.5 => 0.0,
            t if t < 40.0 => 80.0,
            _ => 250.0,
        };
        let ev = feed(&sampled(125, 45_000, penalty), i64::MAX);
        assert!((stop(&ev).stationary_ms - 14_500).abs() <= 130, "{ev:?}");

        let arrival = |t: f64| match t {
            t if t < 5.0 => 250.0,
            t if t < 15.0 => 80.0,
            t if t < 15.6 => 0.0, // stopped short
            t if t < 16.0 => 5.0,
            t if t < 18.8 => 0.0,
            t if t < 30.0 => 80.0,
            _ => 250.0,
        };
        let ev = feed(&sampled(125, 40_000, arrival), i64::MAX);
        assert!((stop(&ev).stationary_ms - 2_800).abs() <= 130, "{ev:?}");
    }

    /// Stops that are not pit stops: a standing start, a pit-lane start at the light, a
    /// car stopped on track (no limiter), a car that never leaves the pit lane.
    #[test]
    fn not_pit_stops() {
        let standing_start = |t: f64| {
            if t < 3.0 {
                0.0
            } else {
                (t - 3.0) * 60.0 + 10.0
            }
        };
        assert!(feed(&sampled(125, 10_000, standing_start), i64::MAX).is_empty());
        let pit_lane_start = |t: f64| match t {
            t if t < 4.0 => 40.0 - 10.0 * t,
            t if t < 12.0 => 0.0,
            t if t < 14.0 => (t - 12.0) * 40.0,
            t if t < 20.0 => 80.0,
            _ => 250.0,
        };
        assert!(feed(&sampled(125, 30_000, pit_lane_start), i64::MAX).is_empty());
        let on_track = |t: f64| match t {
            t if t < 5.0 => 250.0,
            t if t < 8.0 => 250.0 - 83.0 * (t - 5.0),
            t if t < 20.0 => 0.0,
            _ => 250.0,
        };
        assert!(feed(&sampled(125, 30_000, on_track), i64::MAX).is_empty());
        let retired = |t: f64| match t {
            t if t < 5.0 => 250.0,
            t if t < 15.0 => 80.0,
            _ => 0.0,
        };
        assert!(feed(&sampled(125, 60_000, retired), i64::MAX).is_empty());
    }

    /// A long limiter phase without a stop is a drive-through; a few seconds at a steady
    /// 70 km/h behind a safety car is nothing.
    #[test]
    fn drive_through_and_safety_car() {
        let drive = |t: f64| match t {
            t if t < 5.0 => 250.0,
            t if t < 20.0 => 80.0,
            _ => 250.0,
        };
        let ev = feed(&sampled(125, 30_000, drive), i64::MAX);
        assert!(
            matches!(ev.as_slice(), [PitEvent::DriveThrough(d)] if (d.pit_lane_ms - 15_000).abs() < 200),
            "{ev:?}"
        );
        let sc = |t: f64| match t {
            t if t < 5.0 => 250.0,
            t if t < 9.0 => 70.0,
            _ => 180.0,
        };
        assert!(feed(&sampled(125, 20_000, sc), i64::MAX).is_empty());
    }

    /// The in-lap: a stop whose standstill falls after the timing line belongs to the lap
    /// on which the car entered the pit lane.
    #[test]
    fn stop_belongs_to_the_in_lap() {
        let ev = feed(&sampled(125, 45_000, smooth), 15_000);
        assert_eq!(stop(&ev).lap, Some(7));
    }

    /// With a pit status, its transitions are the boundaries; a status with only the
    /// pit-lane phase still gets its stationary phase from motion.
    #[test]
    fn pit_status_sharpens_boundaries() {
        let mut t = PitTracker::default();
        let mut out = Vec::new();
        for (ms, v, st) in [
            (0, 250.0, PitStatus::None),
            (100, 80.0, PitStatus::PitLane),
            (200, 80.0, PitStatus::PitLane),
            (300, 0.0, PitStatus::Stationary),
            (2_700, 0.0, PitStatus::Stationary),
            (2_800, 80.0, PitStatus::PitLane),
            (20_000, 80.0, PitStatus::PitLane),
            (20_100, 250.0, PitStatus::None),
        ] {
            let s = Sample {
                timestamp_ms: ms,
                speed_kph: v,
                pit_status: Some(st),
                tyre_compound: Some(if ms >= 2_800 {
                    Compound::Hard
                } else {
                    Compound::Medium
                }),
                lap: Some(7),
                ..Sample::default()
            };
            out.extend(t.observe(&id(), &s));
        }
        let s = stop(&out);
        assert_eq!((s.entry_ms, s.stationary_start_ms), (50, 250));
        assert_eq!(s.stationary_ms, 2_750 - 250);
        assert_eq!(s.pit_lane_ms, 20_050 - 50);
        assert_eq!(
            (s.compound_in, s.compound_out),
            (Some(Compound::Medium), Some(Compound::Hard))
        );

        // Only the pit-lane phase flagged: the 1.8 s standstill comes from speed.
        let mut t = PitTracker::default();
        let mut out = Vec::new();
        for (ms, v) in sampled(125, 45_000, smooth) {
            let lane = (10_000..38_000).contains(&ms);
            let s = Sample {
                timestamp_ms: ms,
                speed_kph: v,
                pit_status: Some(if lane {
                    PitStatus::PitLane
                } else {
                    PitStatus::None
                }),
                ..Sample::default()
            };
            out.extend(t.observe(&id(), &s));
        }
        let s = stop(&out);
        assert!((s.stationary_ms - 3_245).abs() <= 100, "{s:?}");
        assert!((s.pit_lane_ms - 28_000).abs() <= 130, "{s:?}");
    }

    /// The state survives a checkpoint mid-stop and the stop comes out the same.
    #[test]
    fn state_round_trips_mid_stop() {
        let points = sampled(125, 45_000, smooth);
        let whole = feed(&points, i64::MAX);
        let mut t = PitTracker::default();
        let mut out = Vec::new();
        for (i, &(ms, v)) in points.iter().enumerate() {
            if i == 170 {
                let bytes = postcard::to_allocvec(&t).unwrap();
                t = postcard::from_bytes(&bytes).unwrap();
            }
            let s = Sample {
                timestamp_ms: ms,
                speed_kph: v,
                lap: Some(7),
                ..Sample::default()
            };
            out.extend(t.observe(&id(), &s));
        }
        assert_eq!(out, whole);
    }

    /// A standstill of 0.6 s, one reading of 4 km/h, 0.6 s more (each half too short to
    /// be a stop's standstill) is one stop, the same at 4, 8 and 60 Hz.
    #[test]
    fn standstill_split_by_one_reading_is_one_stop() {
        let mut seen = Vec::new();
        for dt in [250, 125, 17] {
            let mut points = sampled(dt, 45_000, |t| match t {
                t if t < 5.0 => 250.0,
                t if t < 15.0 => 80.0,
                t if t < 16.0 => 80.0 * (16.0 - t),
                t if t < 17.3 => 0.0,
                t if t < 18.3 => 80.0 * (t - 17.3),
                t if t < 35.0 => 80.0,
                _ => 250.0,
            });
            let blip = points.iter().position(|p| p.0 >= 16_600).unwrap();
            points[blip].1 = 4.0;
            let ev = feed(&points, i64::MAX);
            let s = stop(&ev);
            // 3 km/h is crossed at 15.96 s and 17.34 s.
            assert!((s.stationary_ms - 1_380).abs() <= 60, "{dt} ms: {s:?}");
            seen.push(s.stationary_ms);
        }
        assert!(
            seen.iter().max().unwrap() - seen.iter().min().unwrap() <= 60,
            "{seen:?}"
        );
    }

    type Phase = (f64, f64, f64, Option<(f32, f32)>);

    /// Phases of (seconds, speed at start, at end, position): speed linear within a
    /// phase, sampled every 125 ms, lap 7.
    fn trace(phases: &[Phase]) -> Vec<Sample> {
        let mut out = Vec::new();
        let mut t0 = 0.0;
        for &(secs, a, b, at) in phases {
            let n = (secs * 8.0).round() as i64;
            for k in 0..n {
                let f = k as f64 / n as f64;
                out.push(Sample {
                    timestamp_ms: ((t0 + k as f64 / 8.0) * 1000.0).round() as i64,
                    speed_kph: (a + (b - a) * f) as f32,
                    lap: Some(7),
                    x: at.map(|p| p.0),
                    y: at.map(|p| p.1),
                    ..Sample::default()
                });
            }
            t0 += n as f64 / 8.0;
        }
        out
    }

    /// Racing, into the pit lane on the limiter, 2.5 s at the box at (0, 100), out.
    fn pit_visit(track: Option<(f32, f32)>) -> Vec<Phase> {
        let lane = |y: f32| track.map(|_| (0.0, y));
        vec![
            (10.0, 250.0, 250.0, track),
            (2.0, 250.0, 80.0, lane(0.0)),
            (4.0, 80.0, 80.0, lane(40.0)),
            (2.0, 80.0, 0.0, lane(95.0)),
            (2.5, 0.0, 0.0, lane(100.0)),
            (3.0, 0.0, 80.0, lane(120.0)),
            (6.0, 80.0, 80.0, lane(180.0)),
            (3.0, 80.0, 250.0, track),
        ]
    }

    /// Beached 9 s at `off`, 500 m from the lane, crawling back at 5–30 km/h, 1.5 s
    /// steady at 55 km/h rejoining, racing on.
    fn beaching(off: Option<(f32, f32)>) -> Vec<Phase> {
        vec![
            (10.0, 250.0, 250.0, off.map(|_| (400.0, 350.0))),
            (4.5, 250.0, 0.0, off),
            (9.0, 0.0, 0.0, off),
            (6.0, 5.0, 30.0, off),
            (1.5, 55.0, 55.0, off.map(|(x, y)| (x, y + 30.0))),
            (6.0, 55.0, 250.0, off.map(|(x, y)| (x, y + 100.0))),
        ]
    }

    fn stops(samples: &[Sample]) -> (Vec<PitEvent>, PitTracker) {
        let mut t = PitTracker::default();
        let out = samples.iter().filter_map(|s| t.observe(&id(), s)).collect();
        (out, t)
    }

    fn stationary(events: &[PitEvent]) -> Vec<i64> {
        events
            .iter()
            .map(|e| match e {
                PitEvent::Stop(s) => s.stationary_ms / 100,
                PitEvent::DriveThrough(d) => -d.pit_lane_ms,
            })
            .collect()
    }

    /// The visit under way is published once the car stands still in it, withdrawn on
    /// the sample that returns the stop; a limiter speed held on track (here 5 s, as
    /// behind a safety car) and a drive-through never are.
    #[test]
    fn a_visit_is_known_from_its_standstill() {
        let behind_sc = [(10.0, 250.0, 250.0, None), (5.0, 80.0, 80.0, None)];
        let mut phases = behind_sc.to_vec();
        phases.push((5.0, 250.0, 250.0, None));
        phases.extend(pit_visit(None));
        phases.extend([(10.0, 250.0, 250.0, None), (20.0, 80.0, 80.0, None)]);
        phases.push((5.0, 250.0, 250.0, None));
        let mut t = PitTracker::default();
        let (mut known, mut last) = (Vec::new(), None);
        let mut returned = Vec::new();
        for s in trace(&phases) {
            let event = t.observe(&id(), &s);
            let now = t.visit_under_way().map(|v| v.0);
            if now != last {
                known.push((s.timestamp_ms, now));
                last = now;
            }
            returned.extend(event.map(|e| (s.timestamp_ms, e)));
        }
        let stop = match &returned[..] {
            [(at, PitEvent::Stop(s)), (_, PitEvent::DriveThrough(_))] => (*at, s.clone()),
            other => panic!("a stop and a drive-through: {other:?}"),
        };
        assert_eq!(known.len(), 2, "{known:?}");
        assert_eq!(known[0].1, Some(stop.1.entry_ms));
        // At the first sample at a standstill (every 125 ms).
        let from = known[0].0 - stop.1.stationary_start_ms;
        assert!((0..250).contains(&from), "{known:?} {:?}", stop.1);
        assert_eq!(known[1], (stop.0, None));
    }

    /// Once a pit visit has taught the car's pit lane, a car beached off it that crawls
    /// back and rejoins is no pit stop; without positions it is taken, as it always was.
    #[test]
    fn beached_off_the_learned_lane_is_no_stop() {
        let track = Some((1_000.0, 1_000.0));
        let phases = [
            pit_visit(track),
            beaching(Some((500.0, 0.0))),
            pit_visit(track),
        ];
        let (events, _) = stops(&trace(&phases.concat()));
        assert_eq!(stationary(&events), [26, 26], "{events:?}");

        let blind = [pit_visit(None), beaching(None), pit_visit(None)];
        let (events, _) = stops(&trace(&blind.concat()));
        assert_eq!(stationary(&events), [26, 90, 26], "{events:?}");
    }

    /// Before any visit has taught the lane, the beaching waits: a pit visit after it
    /// shows it lay off the lane (dropped), one without positions shows nothing; with no
    /// visit in 3 minutes it is taken, and the session's end hands over one still
    /// waiting. The wait survives a checkpoint.
    #[test]
    fn beached_before_the_lane_is_known_waits() {
        let track = Some((1_000.0, 1_000.0));
        let off = Some((500.0, 0.0));
        let (events, _) = stops(&trace(&[beaching(off), pit_visit(track)].concat()));
        assert_eq!(stationary(&events), [26], "{events:?}");
        let (events, mut t) = stops(&trace(&[beaching(off), pit_visit(None)].concat()));
        assert_eq!(stationary(&events), [26], "{events:?}");
        assert_eq!(stationary(&t.finish(&id())), [90]);

        let mut racing = beaching(off);
        racing.push((200.0, 250.0, 250.0, track));
        let samples = trace(&racing);
        let (events, _) = stops(&samples);
        assert_eq!(stationary(&events), [90], "{events:?}");

        let cut = samples.partition_point(|s| s.timestamp_ms < 60_000);
        let (events, mut t) = stops(&samples[..cut]);
        assert!(events.is_empty(), "{events:?}");
        t = postcard::from_bytes(&postcard::to_allocvec(&t).unwrap()).unwrap();
        assert_eq!(stationary(&t.finish(&id())), [90]);
    }
}
