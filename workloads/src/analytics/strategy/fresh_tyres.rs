//! What new tyres really gained in the first lap after a stop, against what the old
//! stint's degradation said they would: a harder compound's slower pace, a cold set and
//! the traffic a car rejoins in all take part of the modelled gain away. Measured on this
//! race's stops, as the pit loss is, so that the rejoin does not count a gain the race
//! has not shown (at Bahrain 2022 the rejoin modelled about 3 s of first-lap gain
//! against 15-lap-old softs where the new hards gave less). Measured on the first lap
//! after the out-lap, the first one whose time holds no pit lane; the rejoin applies it
//! to the lap after the pit exit, which where the lane straddles the line is mostly the
//! out-lap itself, on colder tyres still: the nearest lap that can be measured.

use super::degradation::median;
use super::stints::StintLaps;
use std::collections::BTreeSet;

/// Fewest stops the shortfall needs before it is used: fewer leave one car's traffic for
/// the race's.
const MIN_STOPS: usize = 3;

/// For each stop in one car's `stints` (`stop_in_laps`: the in-laps of its stops, not
/// of its drive-throughs): the gain its old stint's fit modelled from the last green lap
/// on the old tyres to the first lap after the out-lap on the new ones, less the gain
/// those two laps show (fuel burnt in between taken off), ms. Positive: the model
/// promised more than the new tyres gave. Measured only when the old stint has a fit and
/// both laps are green. One lap's time each side: traffic there is what the median over
/// the race's stops is for.
pub fn shortfalls(
    stints: &[StintLaps],
    stop_in_laps: &BTreeSet<u16>,
    fuel_ms_per_lap: f64,
) -> Vec<f64> {
    stints
        .windows(2)
        .filter_map(|pair| {
            let (old, new) = (&pair[0], &pair[1]);
            // A stint ended by a stop (not by a compound read differently on track).
            old.laps
                .last()
                .filter(|j| stop_in_laps.contains(&j.lap.lap))?;
            let deg = old.fit(fuel_ms_per_lap).ok()?.ms_per_lap.max(0.0);
            let before = old.laps.iter().rev().find(|j| j.green())?;
            // The out-lap begins the new stint where the pit lane straddles the line, else
            // it is the old stint's in-lap as well.
            let after = new
                .laps
                .iter()
                .take(2)
                .find(|j| !j.out_lap)
                .filter(|j| j.green())?;
            let fuel = fuel_ms_per_lap * f64::from(after.lap.lap - before.lap.lap);
            let shown = (before.lap.lap_time_ms - after.lap.lap_time_ms) as f64 - fuel;
            let modelled = deg * (old.age_of(before) - new.age_of(after));
            Some(modelled - shown)
        })
        .collect()
}

/// The race's shortfall from every car's (see [`shortfalls`]): their median, none under
/// [`MIN_STOPS`] measured.
pub fn race_shortfall_ms(measured: &[f64]) -> f64 {
    if measured.len() < MIN_STOPS {
        return 0.0;
    }
    median(&mut measured.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::strategy::fixtures;
    use crate::analytics::strategy::input::{Lap, Stop};
    use crate::analytics::strategy::stints::{Visits, stints};
    use crate::model::Compound;

    const FUEL_MS: f64 = 60.0;

    /// Car 1's laps 1..=14 of [`fixtures::one_stop_times`], 60 ms a lap of fuel.
    fn laps(late_ms: i64) -> Vec<Lap> {
        fixtures::timed_laps(1, 0, fixtures::one_stop_times(14, 60, late_ms))
    }

    /// The stop: into the pit lane 5 s before the end of lap 8, `lane_ms` in it.
    fn shortfalls_of(laps: &[Lap], lane_ms: i64, periods: &[(i64, i64)]) -> Vec<f64> {
        let stop = Stop {
            car: 1,
            lap: Some(8),
            entry_ms: laps[7].crossed_at_ms - 5_000,
            pit_lane_ms: lane_ms,
            stationary_start_ms: None,
        };
        let refs: Vec<&Lap> = laps.iter().collect();
        let visits = Visits {
            stops: &[&stop],
            drive_throughs: &[],
        };
        let st = stints(&refs, visits, laps, &BTreeSet::new(), periods);
        shortfalls(&st, &BTreeSet::from([8]), FUEL_MS)
    }

    #[test]
    fn new_tyres_that_gain_what_the_fit_says_fall_short_by_nothing() {
        // Lap 7 on tyres 7 laps old against lap 10 on tyres 2 laps old: 500 ms, fuel
        // burnt in the three laps between taken off.
        let got = shortfalls_of(&laps(0), 20_000, &[]);
        assert_eq!(got.len(), 1);
        assert!(got[0].abs() < 1e-6, "{got:?}");
    }

    #[test]
    fn a_first_lap_slower_than_the_fit_says_is_a_shortfall() {
        let got = shortfalls_of(&laps(400), 20_000, &[]);
        assert_eq!(got.len(), 1);
        assert!((got[0] - 400.0).abs() < 1e-6, "{got:?}");
        // Faster than modelled (a softer compound): a negative shortfall.
        let got = shortfalls_of(&laps(-300), 20_000, &[]);
        assert!((got[0] + 300.0).abs() < 1e-6, "{got:?}");
    }

    /// A feed's tyre ages (0 on a new set) read the same as the laps of the stint.
    #[test]
    fn a_feeds_tyre_ages_read_as_the_stints_laps() {
        let mut laps = laps(400);
        for l in &mut laps {
            l.tyre_age = Some(if l.lap <= 8 { l.lap - 1 } else { l.lap - 9 });
        }
        let got = shortfalls_of(&laps, 20_000, &[]);
        assert_eq!(got.len(), 1);
        assert!((got[0] - 400.0).abs() < 1e-6, "{got:?}");
    }

    #[test]
    fn a_pit_lane_left_before_the_line_has_its_out_lap_in_the_old_stint() {
        // 3 s in the lane: left in lap 8, so lap 9 is the first lap after the out-lap.
        // Lap 9 (12 s slow in the fixture, which has the lane straddle the line) is
        // then the lap measured: all of its 12 s a shortfall.
        let got = shortfalls_of(&laps(0), 3_000, &[]);
        assert_eq!(got.len(), 1);
        assert!((got[0] - 12_000.0).abs() < 1e-6, "{got:?}");
    }

    #[test]
    fn a_compound_that_changes_without_a_stop_is_not_new_tyres() {
        let mut laps = laps(0);
        for l in &mut laps {
            l.compound = Some(if l.lap <= 8 {
                Compound::Medium
            } else {
                Compound::Hard
            });
        }
        let refs: Vec<&Lap> = laps.iter().collect();
        let st = stints(&refs, Visits::default(), &laps, &BTreeSet::new(), &[]);
        assert_eq!(st.len(), 2);
        assert!(shortfalls(&st, &BTreeSet::new(), FUEL_MS).is_empty());
    }

    #[test]
    fn a_neutralised_first_lap_says_nothing_of_the_tyres() {
        let laps = laps(0);
        let lap_10 = (laps[8].crossed_at_ms + 1_000, laps[9].crossed_at_ms - 1_000);
        assert!(shortfalls_of(&laps, 20_000, &[lap_10]).is_empty());
    }

    #[test]
    fn the_race_takes_the_median_from_three_stops() {
        assert_eq!(race_shortfall_ms(&[]), 0.0);
        assert_eq!(race_shortfall_ms(&[900.0, 100.0]), 0.0);
        assert_eq!(race_shortfall_ms(&[900.0, 100.0, 300.0]), 300.0);
    }
}
