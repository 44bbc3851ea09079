//! What OpenF1's other records add to a driver's `car_data`: name and team, lap and
//! sector, tyres, position in metres, pit-lane phase, race position, and the distance
//! since the line. A body annotates its own car data at once ([`super::openf1::parse`]);
//! `pitstop replay --openf1-session` annotates page after page with one [`DriverFeed`] per
//! driver, so the distance run and the checks carry across pages.

use super::dirt::{Dirt, Origin, Reject, Unknown};
use super::grid;
use super::options::FeedOptions;
use crate::model::{Compound, PitStatus, Sample, clean};
use compact_str::CompactString;
use std::collections::BTreeMap;

/// Location records further than this from a sample are not used for it.
const LOCATION_WINDOW_MS: i64 = 1_000;

/// A lap's first sample later than this after the lap's start date leaves the lap's
/// distance unknown: the distance run before it cannot be told (the analytics break a
/// car's data at 2 s too).
const MAX_LEAD_MS: i64 = 2_000;

/// Longest distance a sample may carry (`model::clean`'s bound): past it the lap is no
/// racing lap (a red-flag wait counted as one) and its distance is left unknown.
const MAX_LAP_M: f64 = 10_000.0;

/// A stint: first lap, last lap (open while it runs), compound, tyre age at its start.
#[derive(Clone, Copy, Debug)]
pub(super) struct Stint {
    pub(super) first: u16,
    pub(super) last: Option<u16>,
    pub(super) compound: Option<Compound>,
    pub(super) age: Option<u16>,
}

/// A `laps` record: where it is in the body, when the lap starts, how long it took, its
/// sector durations (ms).
#[derive(Clone, Copy, Debug)]
pub(super) struct LapRecord {
    pub(super) index: usize,
    pub(super) start: Option<i64>,
    pub(super) duration: Option<i64>,
    pub(super) sectors: [Option<i64>; 3],
}

/// One driver's records as read from a body or a page, not yet checked against each other.
#[derive(Clone, Debug, Default)]
pub(super) struct Driver {
    /// Samples with the index of their `car_data` record.
    pub(super) car_data: Vec<(usize, Sample)>,
    pub(super) locations: Vec<(i64, f32, f32, f32)>,
    pub(super) laps: BTreeMap<u16, LapRecord>,
    pub(super) stints: Vec<(usize, Stint)>,
    pub(super) pits: Vec<(i64, i64)>,
    pub(super) name: Option<(CompactString, Option<CompactString>)>,
    pub(super) positions: Vec<(i64, u8)>,
}

/// A lap that can place samples: number, start date (lap 1 may have none), sectors.
#[derive(Clone, Copy, Debug)]
struct LapStart {
    lap: u16,
    start: Option<i64>,
    sectors: [Option<i64>; 3],
}

/// What a driver's records other than car data and location say, checked once.
#[derive(Clone, Debug, Default)]
pub struct DriverContext {
    pub driver: Option<CompactString>,
    pub team: Option<CompactString>,
    starts: Vec<LapStart>,
    stints: Vec<Stint>,
    pits: Vec<(i64, i64)>,
    positions: Vec<(i64, u8)>,
    /// The end of the driver's last lap, when its laps record has a duration and no
    /// later lap starts: the driver's chequered flag.
    pub finish_ms: Option<i64>,
}

impl DriverContext {
    /// Takes the laps, stints, pit visits, name and positions out of `d`; records that
    /// contradict others are rejected into `dirt`.
    pub(super) fn new(car: u8, d: &mut Driver, opts: &FeedOptions, dirt: &mut Dirt) -> Self {
        let known = grid::by_number(&opts.grid, car);
        let (driver, team) = match d.name.take() {
            Some((code, team)) => (Some(code), team.or(known.map(|k| k.team))),
            None => (
                known.as_ref().map(|k| k.driver.clone()),
                known.map(|k| k.team),
            ),
        };
        let mut positions = std::mem::take(&mut d.positions);
        positions.sort_by_key(|p| p.0);
        DriverContext {
            driver,
            team,
            starts: lap_starts(&d.laps, dirt),
            stints: stints(std::mem::take(&mut d.stints), dirt),
            pits: std::mem::take(&mut d.pits),
            positions,
            finish_ms: d
                .laps
                .last_key_value()
                .and_then(|(_, l)| Some(l.start? + l.duration?)),
        }
    }

    /// The lap a sample at `t` is on (the last lap started at or before it).
    fn lap_at(&self, t: i64) -> Option<&LapStart> {
        self.starts
            .iter()
            .rev()
            .find(|l| l.start.is_none_or(|st| st <= t))
    }
}

/// Stints in lap order; one overlapping the stint before it is rejected.
fn stints(mut raw: Vec<(usize, Stint)>, dirt: &mut Dirt) -> Vec<Stint> {
    raw.sort_by_key(|(_, s)| s.first);
    let mut out: Vec<Stint> = Vec::with_capacity(raw.len());
    for (index, b) in raw {
        match out.last() {
            Some(a) if a.last.is_none_or(|l| l >= b.first) => dirt.reject(
                Origin::Record(index),
                Reject::Conflict,
                format!(
                    "stints from lap {} overlaps the stint from lap {}",
                    b.first, a.first
                ),
            ),
            _ => out.push(b),
        }
    }
    out
}

/// Lap starts in order. Lap 1 often has no start date (it starts with the session); a
/// later lap without one cannot place samples and is left out; a lap starting before
/// the one before it contradicts it and is rejected.
fn lap_starts(laps: &BTreeMap<u16, LapRecord>, dirt: &mut Dirt) -> Vec<LapStart> {
    let first_lap = laps.keys().next().copied();
    let mut starts: Vec<LapStart> = Vec::new();
    for (&lap, r) in laps {
        if r.start.is_none() && Some(lap) != first_lap {
            continue;
        }
        if let (Some(s), Some(prev)) = (r.start, starts.last())
            && let Some(p) = prev.start
            && s < p
        {
            dirt.reject(
                Origin::Record(r.index),
                Reject::Conflict,
                format!("laps lap {lap} starts before lap {}", prev.lap),
            );
            continue;
        }
        starts.push(LapStart {
            lap,
            start: r.start,
            sectors: r.sectors,
        });
    }
    starts
}

/// Distance since the line, integrated from speed (trapezoids) the way FastF1 computes
/// its `Distance`: OpenF1 car data has none, and without it the analytics could place
/// neither a car's first line crossing nor close its last lap at the flag. Known only
/// for a lap whose start date the laps records give and whose first sample comes within
/// [`MAX_LEAD_MS`] of it; it carries from one page to the next.
#[derive(Clone, Debug, Default)]
struct Odometer {
    lap: Option<u16>,
    metres: Option<f64>,
    last: Option<(i64, f64)>,
}

impl Odometer {
    fn advance(&mut self, lap: Option<&LapStart>, t: i64, kph: f32) -> Option<f32> {
        let v = kph as f64 / 3.6;
        let number = lap.map(|l| l.lap);
        if number != self.lap || self.lap.is_none() {
            self.lap = number;
            self.metres = lap
                .and_then(|l| l.start)
                .filter(|st| (0..=MAX_LEAD_MS).contains(&(t - st)))
                .map(|st| v * (t - st) as f64 / 1000.0);
        } else if let (Some(m), Some((t0, v0))) = (self.metres, self.last) {
            self.metres = Some(m + (v0 + v) / 2.0 * (t - t0) as f64 / 1000.0);
        }
        self.last = Some((t, v));
        self.metres.filter(|m| *m <= MAX_LAP_M).map(|m| m as f32)
    }
}

/// One driver's car data, annotated page after page in time order.
#[derive(Clone, Debug)]
pub struct DriverFeed {
    pub car: u8,
    pub ctx: DriverContext,
    odometer: Odometer,
    /// Leave out car data after [`DriverContext::finish_ms`] (the cool-down lap, whose
    /// halt in the pit lane would read as a stop). Only where every laps record of the
    /// session is known: a body may carry the laps of a part of the race only.
    trim_after_finish: bool,
    /// Car data left out after the driver's finish.
    pub after_finish: u64,
}

impl DriverFeed {
    pub fn new(car: u8, ctx: DriverContext, trim_after_finish: bool) -> Self {
        DriverFeed {
            car,
            ctx,
            odometer: Odometer::default(),
            trim_after_finish,
            after_finish: 0,
        }
    }

    /// The driver's samples of one body or page, each checked with the index of its
    /// `car_data` record; records that contradict others are rejected into `dirt`.
    pub(super) fn annotate(
        &mut self,
        mut d: Driver,
        session: &CompactString,
        dirt: &mut Dirt,
    ) -> Vec<(Origin, Sample)> {
        d.car_data.sort_by_key(|(_, s)| s.timestamp_ms);
        d.locations.sort_by_key(|l| l.0);
        let samples = one_per_instant(std::mem::take(&mut d.car_data), dirt);
        let mut out = Vec::with_capacity(samples.len());
        for (index, s) in samples {
            if self.trim_after_finish && self.ctx.finish_ms.is_some_and(|f| s.timestamp_ms > f) {
                self.after_finish += 1;
                continue;
            }
            let at = Origin::Record(index);
            match self.sample(s, &d.locations, session, at, dirt) {
                Ok(s) => out.push((at, s)),
                Err(e) => dirt.reject(
                    at,
                    Reject::Required,
                    format!("car_data, with what the other records add: {e}"),
                ),
            }
        }
        out
    }

    /// One sample with everything the records say about its instant, cleaned.
    fn sample(
        &mut self,
        mut s: Sample,
        locations: &[(i64, f32, f32, f32)],
        session: &CompactString,
        at: Origin,
        dirt: &mut Dirt,
    ) -> Result<Sample, crate::model::ValidationError> {
        let ctx = &self.ctx;
        let t = s.timestamp_ms;
        s.session = session.clone();
        s.driver = ctx.driver.clone();
        s.team = ctx.team.clone();
        let lap = ctx.lap_at(t);
        if let Some(l) = lap {
            s.lap = Some(l.lap);
            if let (Some(start), [Some(s1), Some(s2), _]) = (l.start, l.sectors) {
                s.sector = Some(match t - start {
                    e if e < s1 => 1,
                    e if e < s1 + s2 => 2,
                    _ => 3,
                });
            }
        }
        s.lap_distance_m = self.odometer.advance(lap, t, s.speed_kph);
        if let Some(lap) = s.lap
            && let Some(st) = ctx
                .stints
                .iter()
                .find(|st| st.first <= lap && st.last.is_none_or(|l| lap <= l))
        {
            s.tyre_compound = st.compound;
            s.tyre_age_laps = st.age.map(|a| a.saturating_add(lap - st.first));
        }
        if let Some((x, y, z)) = locate(locations, t) {
            (s.x, s.y, s.z) = (Some(x), Some(y), Some(z));
        }
        if !ctx.pits.is_empty() {
            let in_lane = ctx.pits.iter().any(|(a, b)| (*a..=*b).contains(&t));
            s.pit_status = Some(if in_lane {
                PitStatus::PitLane
            } else {
                PitStatus::None
            });
        }
        let i = ctx.positions.partition_point(|p| p.0 <= t);
        if i > 0 {
            s.position = Some(ctx.positions[i - 1].1);
        }
        clean(&mut s, |c, e| {
            dirt.unknown(
                at,
                c,
                Unknown::of(&e),
                format!("car_data, with what the other records add: {e}"),
            )
        })?;
        Ok(s)
    }
}

/// One sample per instant: identical repeats (paging overlaps) are dropped, different
/// ones refused. `car_data` in time order.
fn one_per_instant(car_data: Vec<(usize, Sample)>, dirt: &mut Dirt) -> Vec<(usize, Sample)> {
    let mut samples: Vec<(usize, Sample)> = Vec::with_capacity(car_data.len());
    for (index, s) in car_data {
        match samples.last() {
            Some((_, prev)) if prev.timestamp_ms == s.timestamp_ms => {
                if *prev != s {
                    dirt.reject(
                        Origin::Record(index),
                        Reject::Conflict,
                        "car_data at the same time as another record of the driver, with other values",
                    );
                }
            }
            _ => samples.push((index, s)),
        }
    }
    samples
}

/// Position at `t`, interpolated between the location records around it.
fn locate(locations: &[(i64, f32, f32, f32)], t: i64) -> Option<(f32, f32, f32)> {
    let i = locations.partition_point(|l| l.0 <= t);
    let before = i.checked_sub(1).map(|j| locations[j]);
    let after = locations.get(i).copied();
    match (before, after) {
        (Some(a), Some(b)) if b.0 - a.0 <= 2 * LOCATION_WINDOW_MS && b.0 > a.0 => {
            let f = (t - a.0) as f32 / (b.0 - a.0) as f32;
            let lerp = |p: f32, q: f32| p + f * (q - p);
            Some((lerp(a.1, b.1), lerp(a.2, b.2), lerp(a.3, b.3)))
        }
        (Some(a), _) if t - a.0 <= LOCATION_WINDOW_MS => Some((a.1, a.2, a.3)),
        (_, Some(b)) if b.0 - t <= LOCATION_WINDOW_MS => Some((b.1, b.2, b.3)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lap(lap: u16, start: Option<i64>) -> LapStart {
        LapStart {
            lap,
            start,
            sectors: [None; 3],
        }
    }

    /// The distance starts at the lap's start date (the speed times the lead of the
    /// first sample), sums trapezoids, restarts with each lap, and is unknown for a lap
    /// whose start is unknown or too far before its first sample.
    #[test]
    fn odometer_integrates_speed_per_lap() {
        let mut o = Odometer::default();
        let l1 = lap(1, Some(10_000));
        // 36 km/h is 10 m/s: 0.5 s after the line, 5 m.
        assert_eq!(o.advance(Some(&l1), 10_500, 36.0), Some(5.0));
        // 10 m/s to 20 m/s over 1 s: 15 m more.
        assert_eq!(o.advance(Some(&l1), 11_500, 72.0), Some(20.0));
        let l2 = lap(2, Some(11_600));
        assert_eq!(o.advance(Some(&l2), 11_600, 72.0), Some(0.0));
        let l3 = lap(3, Some(20_000));
        assert_eq!(o.advance(Some(&l3), 22_001, 72.0), None);
        assert_eq!(o.advance(Some(&l3), 23_000, 72.0), None);
        assert_eq!(o.advance(Some(&lap(4, None)), 24_000, 72.0), None);
        assert_eq!(o.advance(None, 25_000, 72.0), None);
    }

    /// A driver's finish is the end of its last lap when that lap has a duration; the
    /// feed that trims leaves out what comes after it.
    #[test]
    fn finish_is_the_end_of_the_last_timed_lap() {
        let mut d = Driver::default();
        let record = |index, start, duration| LapRecord {
            index,
            start: Some(start),
            duration,
            sectors: [None; 3],
        };
        d.laps.insert(1, record(0, 1_000, Some(90_000)));
        d.laps.insert(2, record(1, 91_000, Some(89_000)));
        let mut dirt = Dirt::default();
        let ctx = DriverContext::new(1, &mut d.clone(), &FeedOptions::default(), &mut dirt);
        assert_eq!(ctx.finish_ms, Some(180_000));
        d.laps.insert(3, record(2, 180_000, None));
        let ctx = DriverContext::new(1, &mut d, &FeedOptions::default(), &mut dirt);
        assert_eq!(ctx.finish_ms, None);
        assert!(dirt.is_clean());
    }
}
