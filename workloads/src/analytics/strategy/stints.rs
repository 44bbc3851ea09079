//! A car's laps as the strategy reads them: which are in-laps, out-laps or neutralised,
//! which are green, and how they split into stints. The same rules as the database's
//! `lap_status` and `stints` views, computed here so that the strategy is a pure
//! function of laps and stops.

use super::degradation::{self, Fit, StintLap, median};
use super::input::{Lap, Stop};
use crate::model::Compound;
use std::collections::BTreeSet;

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

    /// The stint's degradation from its green laps, or why there is none.
    pub fn fit(&self, fuel_ms_per_lap: f64) -> Result<Fit, String> {
        let laps: Vec<StintLap> = self
            .laps
            .iter()
            .filter(|j| j.green())
            .map(|j| StintLap {
                tyre_age: j
                    .lap
                    .tyre_age
                    .map_or_else(|| (j.lap.lap + 1 - self.first_lap) as f64, f64::from),
                lap: j.lap.lap,
                lap_time_ms: j.lap.lap_time_ms as f64,
            })
            .collect();
        degradation::fit(&laps, fuel_ms_per_lap)
    }
}

/// The race laps whose field median is more than 10% slower than the race's median lap
/// (in- and out-laps left out of both).
pub fn neutralised_laps(laps: &[Lap], stops: &[Stop]) -> BTreeSet<u16> {
    let pit = pit_laps(laps, stops);
    let racing: Vec<&Lap> = laps
        .iter()
        .filter(|l| l.lap > 1 && !pit.contains(&(l.car, l.lap)))
        .collect();
    let reference = median(
        &mut racing
            .iter()
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

/// (car, lap) of every lap in which a car entered or left the pit lane.
fn pit_laps(laps: &[Lap], stops: &[Stop]) -> BTreeSet<(u8, u16)> {
    let mut pit: BTreeSet<(u8, u16)> = stops
        .iter()
        .filter_map(|s| Some((s.car, in_lap_of(s, laps)?)))
        .collect();
    for l in laps {
        let start = l.crossed_at_ms - l.lap_time_ms;
        if stops
            .iter()
            .any(|s| s.car == l.car && s.exit_ms() >= start && s.exit_ms() < l.crossed_at_ms)
        {
            pit.insert((l.car, l.lap));
        }
    }
    pit
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

/// A car's laps (in lap order) judged and split into stints: a new stint starts after
/// each stop's in-lap and wherever the compound changes.
pub fn stints<'a>(
    laps: &[&'a Lap],
    stops: &[&Stop],
    all: &[Lap],
    neutral: &BTreeSet<u16>,
    periods: &[(i64, i64)],
) -> Vec<StintLaps<'a>> {
    let in_laps: BTreeSet<u16> = stops.iter().filter_map(|s| in_lap_of(s, all)).collect();
    let mut out: Vec<StintLaps<'a>> = Vec::new();
    let mut after_stop = true;
    for l in laps {
        let start = l.crossed_at_ms - l.lap_time_ms;
        let judged = Judged {
            lap: l,
            in_lap: in_laps.contains(&l.lap),
            out_lap: stops
                .iter()
                .any(|s| s.exit_ms() >= start && s.exit_ms() < l.crossed_at_ms),
            neutralised: l.neutralised
                || neutral.contains(&l.lap)
                || periods.iter().any(|p| p.0 < l.crossed_at_ms && start < p.1),
        };
        let changed = match (out.last().and_then(|s| s.compound), l.compound) {
            (Some(a), Some(b)) => a != b,
            _ => false,
        };
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
        after_stop = judged.in_lap;
    }
    out
}
