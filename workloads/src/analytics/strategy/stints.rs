//! A car's laps as the strategy reads them: which are in-laps, out-laps or neutralised,
//! which are green, and how they split into stints. The same rules as the database's
//! `lap_status` and `stints` views, computed here so that the strategy is a pure
//! function of laps and stops: a pit-lane visit (a stop or a drive-through) makes its in-
//! and out-lap non-racing laps; only a stop starts a new stint.

use super::degradation::{self, Fit, StintLap, median};
use super::input::{Lap, Race, Stop, fuel_ms_per_lap};
use crate::model::Compound;
use std::collections::{BTreeMap, BTreeSet};

/// A field slower than this share of the race's median lap is neutralised (a safety car
/// nobody reported), as in the `lap_status` view.
const NEUTRALISED_SHARE: f64 = 1.10;

/// One lap with what it was.
#[derive(Clone, Copy, Debug)]
pub struct Judged<'a> {
    pub lap: &'a Lap,
    pub in_lap: bool,
    pub out_lap: bool,
    pub neutralised: bool,
}

impl Judged<'_> {
    /// The laps pace and degradation are computed from.
    pub fn green(&self) -> bool {
        self.lap.lap > 1 && !self.in_lap && !self.out_lap && !self.neutralised
    }
}

/// A car's run on one set of tyres.
#[derive(Clone, Debug)]
pub struct StintLaps<'a> {
    /// 1 for the first stint.
    pub number: usize,
    pub compound: Option<Compound>,
    pub first_lap: u16,
    pub laps: Vec<Judged<'a>>,
}

impl StintLaps<'_> {
    /// Laps the tyres have done at the end of the stint's last lap: the feed's tyre age
    /// (the age the lap was driven on, 0 on a new set) plus that lap, else the laps of
    /// the stint.
    pub fn tyre_age(&self) -> f64 {
        match self.laps.last() {
            Some(j) => j.lap.tyre_age.map_or_else(
                || f64::from(j.lap.lap + 1 - self.first_lap),
                |a| f64::from(a) + 1.0,
            ),
            None => 0.0,
        }
    }

    /// The tyre age one of the stint's laps was driven on: the feed's, else the laps
    /// since the stint began (the fits take differences of it, so either origin does).
    pub fn age_of(&self, j: &Judged) -> f64 {
        j.lap
            .tyre_age
            .map_or_else(|| f64::from(j.lap.lap + 1 - self.first_lap), f64::from)
    }

    /// The stint's degradation from its green laps, or why there is none.
    pub fn fit(&self, fuel_ms_per_lap: f64) -> Result<Fit, String> {
        let laps: Vec<StintLap> = self
            .laps
            .iter()
            .filter(|j| j.green())
            .map(|j| StintLap {
                tyre_age: self.age_of(j),
                lap: j.lap.lap,
                lap_time_ms: j.lap.lap_time_ms as f64,
            })
            .collect();
        degradation::fit(&laps, fuel_ms_per_lap)
    }
}

/// The race laps whose field median is more than 10% slower than the race's median lap,
/// as the `lap_status` view judges them: in- and out-laps of every pit-lane visit (stops
/// and drive-throughs) left out of both, and laps overlapping a neutralised period
/// (`periods`) left out of the race's median too.
pub fn neutralised_laps(laps: &[Lap], visits: &[&Stop], periods: &[(i64, i64)]) -> BTreeSet<u16> {
    let pit = pit_laps(laps, visits);
    let racing: Vec<&Lap> = laps
        .iter()
        .filter(|l| l.lap > 1 && !pit.contains(&(l.car, l.lap)))
        .collect();
    let reference = median(
        &mut racing
            .iter()
            .filter(|l| !in_period(l, periods))
            .map(|l| l.lap_time_ms as f64)
            .collect::<Vec<_>>(),
    );
    let mut by_lap: std::collections::BTreeMap<u16, Vec<f64>> = Default::default();
    for l in &racing {
        by_lap.entry(l.lap).or_default().push(l.lap_time_ms as f64);
    }
    by_lap
        .into_iter()
        .filter(|(_, v)| median(&mut v.clone()) > NEUTRALISED_SHARE * reference)
        .map(|(lap, _)| lap)
        .collect()
}

/// Whether lap `l` (from its start to its line crossing) overlaps one of `periods`.
fn in_period(l: &Lap, periods: &[(i64, i64)]) -> bool {
    let start = l.crossed_at_ms - l.lap_time_ms;
    periods.iter().any(|p| p.0 < l.crossed_at_ms && start < p.1)
}

/// (car, lap) of every lap in which a car entered or left the pit lane.
fn pit_laps(laps: &[Lap], visits: &[&Stop]) -> BTreeSet<(u8, u16)> {
    let mut pit: BTreeSet<(u8, u16)> = visits
        .iter()
        .filter_map(|s| Some((s.car, in_lap_of(s, laps)?)))
        .collect();
    for l in laps {
        if visits.iter().any(|s| s.car == l.car && left_in(s, l)) {
            pit.insert((l.car, l.lap));
        }
    }
    pit
}

/// Whether `visit` left the pit lane during lap `l` (its out-lap).
fn left_in(visit: &Stop, l: &Lap) -> bool {
    let start = l.crossed_at_ms - l.lap_time_ms;
    visit.exit_ms() >= start && visit.exit_ms() < l.crossed_at_ms
}

/// The lap on which a stop began: the stop's own, else the lap whose end came first
/// after the pit entry.
pub fn in_lap_of(stop: &Stop, laps: &[Lap]) -> Option<u16> {
    stop.lap.or_else(|| {
        laps.iter()
            .filter(|l| l.car == stop.car && l.crossed_at_ms >= stop.entry_ms)
            .map(|l| l.lap)
            .min()
    })
}

/// A car's pit-lane visits: the stops (new tyres) and the drive-throughs (same tyres).
#[derive(Clone, Copy, Debug, Default)]
pub struct Visits<'s> {
    pub stops: &'s [&'s Stop],
    pub drive_throughs: &'s [&'s Stop],
}

/// One car's laps (in lap order), stops and drive-throughs.
#[derive(Debug, Default)]
pub struct CarInput<'a> {
    pub laps: Vec<&'a Lap>,
    pub stops: Vec<&'a Stop>,
    pub drive_throughs: Vec<&'a Stop>,
}

impl CarInput<'_> {
    pub fn visits(&self) -> Visits<'_> {
        Visits {
            stops: &self.stops,
            drive_throughs: &self.drive_throughs,
        }
    }
}

/// The race's laps, stops and drive-throughs by car.
pub fn by_car(race: &Race) -> BTreeMap<u8, CarInput<'_>> {
    let mut cars: BTreeMap<u8, CarInput> = BTreeMap::new();
    for l in &race.laps {
        cars.entry(l.car).or_default().laps.push(l);
    }
    for s in &race.stops {
        cars.entry(s.car).or_default().stops.push(s);
    }
    for d in &race.drive_throughs {
        cars.entry(d.car).or_default().drive_throughs.push(d);
    }
    for c in cars.values_mut() {
        c.laps.sort_by_key(|l| l.lap);
    }
    cars
}

/// The laps of the race no car raced at racing pace (see [`neutralised_laps`]), every
/// pit-lane visit's laps left out.
pub fn race_neutralised_laps(race: &Race) -> BTreeSet<u16> {
    let visits: Vec<&Stop> = race.stops.iter().chain(&race.drive_throughs).collect();
    neutralised_laps(&race.laps, &visits, &race.neutral_periods)
}

/// One stint's degradation, or why there is none.
#[derive(Clone, Debug, PartialEq)]
pub struct StintFit {
    pub car: u8,
    pub first_lap: u16,
    pub last_lap: u16,
    pub fit: Result<Fit, String>,
}

/// Every stint's degradation, fitted as the live strategy fits a car's current stint
/// (fuel-corrected, robust to traffic, hidden with a reason when it says nothing): what
/// `/stints`, `/teams`, the race summary and the team tables serve.
pub fn stint_fits(race: &Race) -> Vec<StintFit> {
    let neutral = race_neutralised_laps(race);
    let fuel = fuel_ms_per_lap(race.total_laps);
    let mut out = Vec::new();
    for (car, c) in by_car(race) {
        for s in stints(
            &c.laps,
            c.visits(),
            &race.laps,
            &neutral,
            &race.neutral_periods,
        ) {
            out.push(StintFit {
                car,
                first_lap: s.first_lap,
                last_lap: s.laps.last().map_or(s.first_lap, |j| j.lap.lap),
                fit: s.fit(fuel),
            });
        }
    }
    out
}

/// A car's laps (in lap order) judged and split into stints: a new stint starts after
/// each stop's in-lap and wherever the compound changes; a drive-through's in- and
/// out-lap are not green but stay in the stint.
pub fn stints<'a>(
    laps: &[&'a Lap],
    visits: Visits,
    all: &[Lap],
    neutral: &BTreeSet<u16>,
    periods: &[(i64, i64)],
) -> Vec<StintLaps<'a>> {
    let every = || visits.stops.iter().chain(visits.drive_throughs);
    let stop_in_laps: BTreeSet<u16> = visits
        .stops
        .iter()
        .filter_map(|s| in_lap_of(s, all))
        .collect();
    let in_laps: BTreeSet<u16> = every().filter_map(|s| in_lap_of(s, all)).collect();
    let mut out: Vec<StintLaps<'a>> = Vec::new();
    let mut after_stop = true;
    let mut previous: Option<Compound> = None;
    for l in laps {
        let judged = Judged {
            lap: l,
            in_lap: in_laps.contains(&l.lap),
            out_lap: every().any(|s| left_in(s, l)),
            neutralised: l.neutralised || neutral.contains(&l.lap) || in_period(l, periods),
        };
        // As the view: against the previous lap's compound, both known.
        let changed = matches!((previous, l.compound), (Some(a), Some(b)) if a != b);
        previous = l.compound;
        if after_stop || changed {
            out.push(StintLaps {
                number: out.len() + 1,
                compound: l.compound,
                first_lap: l.lap,
                laps: Vec::new(),
            });
        }
        let stint = out.last_mut().expect("pushed above");
        stint.compound = stint.compound.or(l.compound);
        stint.laps.push(judged);
        after_stop = stop_in_laps.contains(&l.lap);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::strategy::fixtures;

    const LAP: i64 = 90_000;

    /// Car 1's laps 1..=12 at 90 s plus 50 ms a lap of tyre age, with a pit-lane visit
    /// entered in lap 6 and left in lap 7 (each of those laps 10 s slower).
    fn laps() -> Vec<Lap> {
        let times = (1..=12i64).map(|lap| {
            let slow = if lap == 6 || lap == 7 { 10_000 } else { 0 };
            LAP + 50 * lap + slow
        });
        fixtures::timed_laps(1, 0, times)
    }

    /// The visit: entered 5 s before the end of lap 6, 20 s in the pit lane.
    fn visit(laps: &[Lap]) -> Stop {
        Stop {
            car: 1,
            lap: Some(6),
            entry_ms: laps[5].crossed_at_ms - 5_000,
            pit_lane_ms: 20_000,
            stationary_start_ms: None,
        }
    }

    fn judge<'a>(laps: &'a [Lap], visits: Visits) -> Vec<StintLaps<'a>> {
        let refs: Vec<&Lap> = laps.iter().collect();
        stints(&refs, visits, laps, &BTreeSet::new(), &[])
    }

    fn green_laps(s: &StintLaps) -> Vec<u16> {
        s.laps
            .iter()
            .filter(|j| j.green())
            .map(|j| j.lap.lap)
            .collect()
    }

    /// A drive-through keeps the tyres: one stint, its in- and out-lap not green, so
    /// the fit rests on the racing laps and drops nothing as traffic.
    #[test]
    fn a_drive_through_is_not_racing_and_not_a_new_stint() {
        let laps = laps();
        let dt = visit(&laps);
        let st = judge(
            &laps,
            Visits {
                stops: &[],
                drive_throughs: &[&dt],
            },
        );
        assert_eq!(st.len(), 1);
        assert_eq!(green_laps(&st[0]), [2, 3, 4, 5, 8, 9, 10, 11, 12]);
        let fit = st[0].fit(0.0).unwrap();
        assert_eq!((fit.green_laps, fit.dropped_laps), (9, 0));
        assert!((fit.ms_per_lap - 50.0).abs() < 1.0, "{fit:?}");
        assert_eq!(st[0].tyre_age(), 12.0);
    }

    /// The same visit as a stop starts a new stint after its in-lap.
    #[test]
    fn a_stop_starts_a_new_stint() {
        let laps = laps();
        let stop = visit(&laps);
        let st = judge(
            &laps,
            Visits {
                stops: &[&stop],
                drive_throughs: &[],
            },
        );
        assert_eq!(st.len(), 2);
        assert_eq!(green_laps(&st[0]), [2, 3, 4, 5]);
        assert_eq!(green_laps(&st[1]), [8, 9, 10, 11, 12]);
        assert_eq!(st[1].tyre_age(), 6.0);
    }

    /// A drive-through's laps are left out of the field's pace like a stop's: alone on
    /// track, its slow laps do not make a lap neutralised.
    #[test]
    fn drive_through_laps_do_not_neutralise_the_field() {
        let laps = laps();
        let dt = visit(&laps);
        assert!(neutralised_laps(&laps, &[&dt], &[]).is_empty());
        assert_eq!(
            neutralised_laps(&laps, &[], &[])
                .into_iter()
                .collect::<Vec<_>>(),
            [6, 7]
        );
    }

    /// A compound change splits a stint only against the previous lap's compound, both
    /// known (the `stints` view's rule): medium, unknown, hard is one stint.
    #[test]
    fn a_compound_change_is_judged_against_the_previous_lap() {
        let first_laps = |compounds: &[Option<Compound>]| -> Vec<u16> {
            let mut laps = laps();
            laps.truncate(compounds.len());
            for (l, c) in laps.iter_mut().zip(compounds) {
                l.compound = *c;
            }
            judge(&laps, Visits::default())
                .iter()
                .map(|s| s.first_lap)
                .collect()
        };
        let (m, h) = (Some(Compound::Medium), Some(Compound::Hard));
        assert_eq!(first_laps(&[m, m, h, h]), [1, 3]);
        assert_eq!(first_laps(&[m, None, h, h]), [1]);
        assert_eq!(first_laps(&[None, h, m, m]), [1, 3]);
    }
}
