//! The strategy judged after the fact: for every stop of a race, the rejoin predicted at
//! pit entry (from what was known then) against the position the car really held one lap
//! after pit exit. The HTML report shows it; the real-race tests hold it to account.

use super::compute::compute;
use super::input::{Lap, Race, Stop};
use super::rejoin::stays_ahead;
use super::suspension::{held_up, suspensions};
use super::timing::typical_lap_ms;
use std::collections::BTreeSet;

/// One stop's rejoin, predicted and real.
#[derive(Clone, Debug, PartialEq)]
pub struct RejoinCheck {
    pub car: u8,
    pub driver: String,
    pub lap: Option<u16>,
    pub predicted: usize,
    /// Under a safety car, the position if the cars expected to stop stayed out (the
    /// range's other end); `predicted` when green.
    pub if_field_stays_out: usize,
    pub actual: usize,
    /// The pit loss the prediction used, ms.
    pub loss_ms: f64,
    /// The cars the prediction put on the wrong side of this one, in margin order.
    pub misplaced: Vec<Misplaced>,
}

/// A car predicted ahead that was behind at the check, or the other way round.
#[derive(Clone, Debug, PartialEq)]
pub struct Misplaced {
    pub car: u8,
    pub driver: String,
    pub reason: MissReason,
}

/// Why a car was put on the wrong side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissReason {
    /// Predicted ahead, it entered the pit lane after the prediction and before the
    /// check: a stop no prediction at pit entry can see.
    StoppedAfter,
    /// Predicted ahead, it was in the pit lane when the prediction was made, not yet
    /// standing in its box (from then on the processor knows it is in the lane).
    InPitLane,
    /// Predicted behind because it was expected to stop under the safety car too; it
    /// stayed out.
    StayedOut,
    /// Neither: the gap or the pit loss was wrong.
    Misjudged,
}

impl MissReason {
    fn words(self) -> &'static str {
        match self {
            MissReason::StoppedAfter => "stopped after",
            MissReason::InPitLane => "in the pit lane",
            MissReason::StayedOut => "stayed out",
            MissReason::Misjudged => "misjudged",
        }
    }
}

impl RejoinCheck {
    /// A miss wholly explained by cars that stopped after the prediction was made: each
    /// misplaced car did, and they account for the whole difference.
    pub fn missed_for_later_stops(&self) -> bool {
        self.predicted != self.actual
            && self.misplaced.len() == self.predicted.abs_diff(self.actual)
            && self
                .misplaced
                .iter()
                .all(|m| m.reason == MissReason::StoppedAfter)
    }

    /// Whether the prediction would have held with every margin right: no car landed on
    /// the wrong side for a call made after it (a stop begun, a car that stayed out under
    /// a safety car) or for a stop the processor did not know of yet. What margins alone
    /// could ever get exact: the bound of any pit-entry prediction that does not foresee
    /// the other teams' calls.
    pub fn right_with_true_margins(&self) -> bool {
        self.misplaced
            .iter()
            .all(|m| m.reason == MissReason::Misjudged)
    }

    /// How many places the prediction would have been out with every margin right: the
    /// cars placed wrong for a call made after it, less those it placed wrong the other
    /// way (a car that stopped after it, or was in the pit lane unseen, was predicted
    /// ahead and ends behind; one that stayed out under a safety car, the reverse).
    pub fn off_with_true_margins(&self) -> usize {
        let (mut up, mut down) = (0usize, 0usize);
        for m in &self.misplaced {
            match m.reason {
                MissReason::StoppedAfter | MissReason::InPitLane => up += 1,
                MissReason::StayedOut => down += 1,
                MissReason::Misjudged => {}
            }
        }
        up.abs_diff(down)
    }

    /// Whether the position held lies within the predicted range (under a safety car:
    /// from every expected car stopping as well to all of them staying out).
    pub fn in_range(&self) -> bool {
        (self.predicted..=self.if_field_stays_out).contains(&self.actual)
    }

    /// The mark of the real position beside the prediction: none when exact, `(in range)`
    /// when a safety car's range held it, `✗` otherwise.
    pub fn mark(&self) -> &'static str {
        if self.predicted == self.actual {
            ""
        } else if self.in_range() {
            " (in range)"
        } else {
            " ✗"
        }
    }

    /// The prediction as shown: `P9`, or `P9–P12` when a safety car left it to the
    /// others' choice.
    pub fn predicted_text(&self) -> String {
        if self.if_field_stays_out > self.predicted {
            format!("P{}–P{}", self.predicted, self.if_field_stays_out)
        } else {
            format!("P{}", self.predicted)
        }
    }

    /// Why a miss missed, in a few words for tables ("" when the prediction held).
    pub fn why(&self) -> String {
        if self.predicted == self.actual {
            return String::new();
        }
        if self.misplaced.is_empty() {
            return "cars not on the timing board then".into();
        }
        let reasons = [
            MissReason::StoppedAfter,
            MissReason::InPitLane,
            MissReason::StayedOut,
            MissReason::Misjudged,
        ];
        reasons
            .into_iter()
            .filter_map(|r| {
                let who: Vec<&str> = self
                    .misplaced
                    .iter()
                    .filter(|m| m.reason == r)
                    .map(|m| m.driver.as_str())
                    .collect();
                (!who.is_empty()).then(|| format!("{} {}", who.join(", "), r.words()))
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// How far round the race `car` was at `t_ms`, in laps (from its line crossings,
/// linear within a lap); None after its last crossing (it stopped racing, or its data
/// ends).
pub fn progress(race: &Race, car: u8, t_ms: i64) -> Option<f64> {
    let mut laps: Vec<&Lap> = race.laps.iter().filter(|l| l.car == car).collect();
    laps.sort_by_key(|l| l.lap);
    let l = laps.iter().find(|l| l.crossed_at_ms >= t_ms)?;
    let start = l.crossed_at_ms - l.lap_time_ms;
    let lap_ms = l.lap_time_ms.max(1) as f64;
    Some(f64::from(l.lap.saturating_sub(1)) + (t_ms - start) as f64 / lap_ms)
}

/// How far round the race a car was at a moment, in laps (None: not racing then).
pub type Progress<'a> = &'a dyn Fn(u8, i64) -> Option<f64>;

/// The position `car` really held at `t_ms`: 1 + the cars further round the race.
pub fn position_at(race: &Race, car: u8, t_ms: i64) -> Option<usize> {
    position_by(race, &|c, t| progress(race, c, t), car, t_ms)
}

fn position_by(race: &Race, progress: Progress, car: u8, t_ms: i64) -> Option<usize> {
    let me = progress(car, t_ms)?;
    let ahead = race
        .entrants
        .iter()
        .filter(|e| e.car != car)
        .filter_map(|e| progress(e.car, t_ms))
        .filter(|p| *p > me)
        .count();
    Some(ahead + 1)
}

/// Every stop's rejoin check, in the order of the stops. A stop whose car did not run a
/// lap after it is left out, as are those a suspension held up (a red flag: the wait,
/// not the stop, decides where the car comes out; see [`judged_stops`]); a car that
/// retired before the check is ahead of nobody, so the prediction is judged against the
/// cars still racing then.
pub fn rejoin_checks(race: &Race) -> Vec<RejoinCheck> {
    rejoin_checks_by(race, &|car, t| progress(race, car, t))
}

/// `race`'s stops the checks judge, in entry order, and how many they leave out: those
/// a suspension held up (a red flag; see [`held_up`]).
pub fn judged_stops(race: &Race) -> (Vec<Stop>, usize) {
    let lap_ms = typical_lap_ms(&race.laps);
    let suspended = suspensions(race);
    let (held, judged): (Vec<&Stop>, Vec<&Stop>) = race
        .stops
        .iter()
        .partition(|s| held_up(s, lap_ms, &suspended));
    let mut judged: Vec<Stop> = judged.into_iter().cloned().collect();
    judged.sort_by_key(|s| s.entry_ms);
    (judged, held.len())
}

/// [`rejoin_checks`] with the real positions from `progress` (a recording's own distance
/// along the lap, say, where the stored line crossings are all there is otherwise).
pub fn rejoin_checks_by(race: &Race, progress: Progress) -> Vec<RejoinCheck> {
    let lap_ms = typical_lap_ms(&race.laps);
    let (stops, _) = judged_stops(race);
    let mut out = Vec::new();
    for stop in &stops {
        let s = compute(&race.as_of(stop.entry_ms));
        let Some(c) = s.cars.iter().find(|c| c.car == stop.car) else {
            continue;
        };
        let Some(r) = &c.rejoin else { continue };
        let t = stop.exit_ms() + lap_ms;
        let Some(actual) = position_by(race, progress, stop.car, t) else {
            continue;
        };
        let running = |car: u8| progress(car, t).is_some();
        let ahead = r.margins.iter().filter(|m| m.1 > 0.0 && running(m.0));
        let ahead_if_out = r
            .margins
            .iter()
            .filter(|m| running(m.0) && stays_ahead(m, s.pit_loss.ms, &s.expected_to_stop));
        out.push(RejoinCheck {
            car: stop.car,
            driver: c.driver.clone(),
            lap: stop.lap,
            predicted: 1 + ahead.count(),
            if_field_stays_out: 1 + ahead_if_out.count(),
            actual,
            loss_ms: s.pit_loss.ms,
            misplaced: misplaced(race, progress, stop, (&r.margins, &s.expected_to_stop), t),
        });
    }
    out
}

/// The cars whose side of `stop`'s car the margins got wrong at `t_ms`.
fn misplaced(
    race: &Race,
    progress: Progress,
    stop: &Stop,
    (margins, expected_to_stop): (&[(u8, f64)], &BTreeSet<u8>),
    t_ms: i64,
) -> Vec<Misplaced> {
    let Some(me) = progress(stop.car, t_ms) else {
        return Vec::new();
    };
    let driver = |car: u8| {
        race.entrants
            .iter()
            .find(|e| e.car == car)
            .map_or_else(|| format!("#{car}"), |e| e.driver.clone())
    };
    margins
        .iter()
        .filter_map(|&(car, margin)| {
            let ahead = progress(car, t_ms)? > me;
            let predicted_ahead = margin > 0.0;
            (ahead != predicted_ahead).then(|| Misplaced {
                car,
                driver: driver(car),
                reason: reason(race, stop, car, (predicted_ahead, expected_to_stop), t_ms),
            })
        })
        .collect()
}

/// Why `car` (predicted ahead or not) landed on the other side of `stop`'s car.
fn reason(
    race: &Race,
    stop: &Stop,
    car: u8,
    (predicted_ahead, expected_to_stop): (bool, &BTreeSet<u8>),
    t_ms: i64,
) -> MissReason {
    // Stops the prediction could not know: not over when it was made, begun by the check,
    // and not known as under way either (its car stood in its box by then).
    let known_in_lane = |s: &Stop| s.stationary_start_ms.is_some_and(|t| t <= stop.entry_ms);
    // A drive-through or stop-and-go served then moves a car as a stop does.
    let unseen = race
        .stops
        .iter()
        .chain(&race.drive_throughs)
        .filter(|s| s.car == car && s.exit_ms() > stop.entry_ms && s.entry_ms < t_ms)
        .filter(|s| !known_in_lane(s))
        .map(|s| s.entry_ms)
        .min();
    match (predicted_ahead, unseen) {
        (true, Some(entry)) if entry > stop.entry_ms => MissReason::StoppedAfter,
        (true, Some(_)) => MissReason::InPitLane,
        (false, None) if expected_to_stop.contains(&car) => MissReason::StayedOut,
        _ => MissReason::Misjudged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::strategy::fixtures;

    const LAP: i64 = 90_000;

    /// Car `car`'s laps 1..=6, `behind` ms after the leader's line, `lost` ms more from
    /// lap 4 on (a stop in lap 4).
    fn laps(car: u8, behind: i64, lost: i64) -> Vec<Lap> {
        (1..=6u16)
            .map(|lap| {
                let extra = if lap >= 4 { lost } else { 0 };
                Lap {
                    car,
                    lap,
                    lap_time_ms: LAP + if lap == 4 { lost } else { 0 },
                    crossed_at_ms: i64::from(lap) * LAP + behind + extra,
                    compound: None,
                    tyre_age: None,
                    neutralised: false,
                }
            })
            .collect()
    }

    /// Car 1 leads car 2 by 5 s and car 3 by 30 s and stops in lap 4 (pit entry at
    /// 355 s); the pit loss (about 20 s, no circuit known) puts it behind car 2 and ahead
    /// of car 3 — unless car 2 stops too, entering the pit lane at `car2_entry`, which no
    /// prediction at car 1's entry sees.
    fn race(car2_entry: Option<i64>) -> Race {
        let stop = |car, entry_ms| Stop {
            car,
            lap: Some(4),
            entry_ms,
            pit_lane_ms: 20_000,
            stationary_start_ms: Some(entry_ms + 8_000),
        };
        let mut stops = vec![stop(1, 355_000)];
        let mut laps_ = laps(1, 0, 18_000);
        laps_.extend(laps(
            2,
            5_000,
            if car2_entry.is_some() { 18_000 } else { 0 },
        ));
        laps_.extend(laps(3, 30_000, 0));
        stops.extend(car2_entry.map(|at| stop(2, at)));
        Race {
            entrants: fixtures::entrants(3),
            laps: laps_,
            stops,
            ..Race::default()
        }
    }

    #[test]
    fn a_prediction_that_holds_has_nothing_misplaced() {
        let checks = rejoin_checks(&race(None));
        let c = &checks[0];
        assert_eq!((c.car, c.predicted, c.actual), (1, 2, 2));
        assert!(c.misplaced.is_empty());
        assert!(c.right_with_true_margins());
        assert_eq!(c.why(), "");
    }

    #[test]
    fn a_car_that_stops_after_the_prediction_explains_the_miss() {
        let checks = rejoin_checks(&race(Some(358_000)));
        let c = checks.iter().find(|c| c.car == 1).unwrap();
        assert_eq!((c.predicted, c.actual), (2, 1));
        assert_eq!(c.misplaced.len(), 1);
        assert_eq!(c.misplaced[0].reason, MissReason::StoppedAfter);
        assert!(c.missed_for_later_stops());
        assert!(!c.right_with_true_margins());
        assert_eq!(c.why(), "D2 stopped after");
    }

    #[test]
    fn a_car_already_in_the_pit_lane_is_named_so() {
        let checks = rejoin_checks(&race(Some(354_000)));
        let c = checks.iter().find(|c| c.car == 1).unwrap();
        assert_eq!((c.predicted, c.actual), (2, 1));
        assert_eq!(c.misplaced[0].reason, MissReason::InPitLane);
        assert!(!c.missed_for_later_stops());
        assert_eq!(c.why(), "D2 in the pit lane");
    }

    /// Car 2 put on the wrong side of car 1 for `reason`.
    fn wrong(reason: MissReason) -> Misplaced {
        Misplaced {
            car: 2,
            driver: "D2".into(),
            reason,
        }
    }

    /// A miss only misjudged margins explain would have held with them right; one a car
    /// that stayed out explains would not.
    #[test]
    fn true_margins_fix_only_misjudged_misses() {
        let mut c = rejoin_checks(&race(None)).remove(0);
        c.actual = 1;
        c.misplaced = vec![wrong(MissReason::Misjudged)];
        assert!(c.right_with_true_margins());
        c.misplaced.push(wrong(MissReason::StayedOut));
        assert!(!c.right_with_true_margins());
    }

    /// With every margin right, a miss is out by the later calls alone, and two that
    /// went opposite ways cancel.
    #[test]
    fn later_calls_alone_set_how_far_out_true_margins_leave_a_prediction() {
        let mut c = rejoin_checks(&race(None)).remove(0);
        assert_eq!(c.off_with_true_margins(), 0);
        c.misplaced = vec![
            wrong(MissReason::Misjudged),
            wrong(MissReason::StoppedAfter),
        ];
        assert_eq!(c.off_with_true_margins(), 1);
        c.misplaced.push(wrong(MissReason::InPitLane));
        assert_eq!(c.off_with_true_margins(), 2);
        c.misplaced.push(wrong(MissReason::StayedOut));
        assert_eq!(c.off_with_true_margins(), 1);
    }

    /// Car 2 stood in its box before car 1's entry: the processor knew it was in the
    /// pit lane (`pit_lane_now`), and the prediction places it where it comes out.
    #[test]
    fn a_car_known_in_the_pit_lane_is_placed_where_it_comes_out() {
        let checks = rejoin_checks(&race(Some(345_000)));
        let c = checks.iter().find(|c| c.car == 1).unwrap();
        assert_eq!((c.predicted, c.actual), (1, 1), "{c:?}");
        assert!(c.misplaced.is_empty());
    }
}
