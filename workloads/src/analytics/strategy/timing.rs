//! The timing board as of a moment: every running car's line crossings, its position and
//! its gap to any other car, as race time at the same point of the track.

use super::input::Lap;
use std::collections::BTreeMap;

/// A stop made or under way, with what it costs in race time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PricedStop {
    pub car: u8,
    pub entry_ms: i64,
    /// `i64::MAX` for a car still in the pit lane.
    pub exit_ms: i64,
    pub cost_ms: f64,
}

/// One car's line crossings, in lap order.
#[derive(Clone, Debug)]
pub struct Timing {
    pub car: u8,
    /// (lap, crossed at ms), ascending.
    crossings: Vec<(u16, i64)>,
    /// Stops known so far: (entry, exit) ms and what the stop cost, ms.
    stops: Vec<(i64, i64, f64)>,
}

impl Timing {
    pub fn laps(&self) -> u16 {
        self.crossings.last().map_or(0, |c| c.0)
    }
    pub fn last_crossed_ms(&self) -> i64 {
        self.crossings.last().map_or(i64::MIN, |c| c.1)
    }
    /// In the pit lane now (a visit under way).
    fn in_the_lane(&self) -> bool {
        self.stops.iter().any(|s| s.1 == i64::MAX)
    }

    /// Out of the pit lane since `since_ms` with no line crossed after: on its out-lap,
    /// however long it waited in the lane.
    fn out_of_the_lane_since(&self, since_ms: i64) -> bool {
        let last = self.last_crossed_ms();
        self.stops
            .iter()
            .any(|s| s.1 != i64::MAX && s.1 > last && s.1 >= since_ms)
    }

    pub fn crossed(&self, lap: u16) -> Option<i64> {
        self.crossings
            .binary_search_by_key(&lap, |c| c.0)
            .ok()
            .map(|i| self.crossings[i].1)
    }
    /// How much stop loss a gap measured at the crossing `at_ms` lacks, ms: the whole
    /// loss of each stop begun after it, and for a stop the car was in the middle of when
    /// it crossed (a pit lane that straddles the line) what its in-lap did not already
    /// lose against the lap before it.
    fn pending_ms(&self, at_ms: i64) -> f64 {
        self.stops
            .iter()
            .map(|&(entry, exit, loss_ms)| {
                if entry > at_ms {
                    loss_ms
                } else if exit > at_ms {
                    self.in_lap_excess_ms(at_ms).map_or(loss_ms / 2.0, |lost| {
                        (loss_ms - lost).clamp(0.0, loss_ms.max(0.0))
                    })
                } else {
                    0.0
                }
            })
            .sum()
    }

    /// How much slower the lap that ended at `at_ms` was than the one before it, ms.
    fn in_lap_excess_ms(&self, at_ms: i64) -> Option<f64> {
        let i = self.crossings.iter().position(|c| c.1 == at_ms)?;
        let t = |k: usize| self.crossings.get(k).map(|c| c.1);
        let this = at_ms - t(i.checked_sub(1)?)?;
        let before = t(i - 1)? - t(i.checked_sub(2)?)?;
        Some((this - before) as f64)
    }
}

/// The running cars in position order.
#[derive(Clone, Debug, Default)]
pub struct Board {
    pub order: Vec<Timing>,
}

impl Board {
    /// The board at `now_ms` from the laps known then and `stops`, the stops known made
    /// or under way (the caller's choice: live, one that began after the last line
    /// crossing counts in full). A car that has not crossed the line for two of the
    /// leader's laps has stopped racing and is left out, unless it left the pit lane
    /// since, or waits in it having crossed within two laps of the field's last
    /// crossing: a red flag's wait, however long (a car retired into its garage stays
    /// in the lane, its last crossing falling behind the field's).
    pub fn new(laps: &[Lap], stops: &[PricedStop], now_ms: i64) -> Board {
        let mut cars: BTreeMap<u8, Timing> = BTreeMap::new();
        for l in laps.iter().filter(|l| l.crossed_at_ms <= now_ms) {
            cars.entry(l.car)
                .or_insert_with(|| Timing {
                    car: l.car,
                    crossings: Vec::new(),
                    stops: Vec::new(),
                })
                .crossings
                .push((l.lap, l.crossed_at_ms));
        }
        for s in stops {
            if let Some(t) = cars.get_mut(&s.car) {
                t.stops.push((s.entry_ms, s.exit_ms, s.cost_ms));
            }
        }
        let mut order: Vec<Timing> = cars.into_values().collect();
        for t in &mut order {
            t.crossings.sort_unstable();
            t.crossings.dedup_by_key(|c| c.0);
        }
        let lap_ms = typical_lap_ms(laps);
        let field_last = order.iter().map(Timing::last_crossed_ms).max();
        let field_last = field_last.unwrap_or(now_ms);
        order.retain(|t| {
            now_ms - t.last_crossed_ms() <= 2 * lap_ms
                || t.out_of_the_lane_since(now_ms - 2 * lap_ms)
                || (t.in_the_lane() && field_last - t.last_crossed_ms() <= 2 * lap_ms)
        });
        order.sort_by_key(|t| (std::cmp::Reverse(t.laps()), t.last_crossed_ms()));
        Board { order }
    }

    pub fn get(&self, car: u8) -> Option<&Timing> {
        self.order.iter().find(|t| t.car == car)
    }

    /// 1 for the leader.
    pub fn position(&self, car: u8) -> Option<usize> {
        self.order.iter().position(|t| t.car == car).map(|i| i + 1)
    }

    /// How far `a` runs behind `b`, ms of race time (negative: ahead), at the last line
    /// both crossed, with the loss of each stop either made since that crossing added,
    /// and the rest of it for a stop either was in the middle of at that crossing (a stop
    /// is wholly in the gap only once the car has crossed the line after leaving the pit
    /// lane).
    pub fn gap_ms(a: &Timing, b: &Timing) -> Option<f64> {
        let lap = a.laps().min(b.laps());
        let (ta, tb) = (a.crossed(lap)?, b.crossed(lap)?);
        Some((ta - tb) as f64 + a.pending_ms(ta) - b.pending_ms(tb))
    }
}

/// The median lap of the race so far, ms (90 s when nothing is known).
pub fn typical_lap_ms(laps: &[Lap]) -> i64 {
    let mut v: Vec<f64> = laps
        .iter()
        .filter(|l| l.lap > 1)
        .map(|l| l.lap_time_ms as f64)
        .collect();
    if v.is_empty() {
        return 90_000;
    }
    super::degradation::median(&mut v) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOSS: f64 = 20_000.0;

    /// A car crossing the line every 90 s from lap 1, the given lap `extra` ms slower
    /// (an in-lap), with one stop (entry, exit).
    fn timing(slow_lap: u16, extra: i64, stop: (i64, i64)) -> Timing {
        let stop = (stop.0, stop.1, LOSS);
        let mut at = 0;
        let crossings = (1..=5u16)
            .map(|lap| {
                at += 90_000 + if lap == slow_lap { extra } else { 0 };
                (lap, at)
            })
            .collect();
        Timing {
            car: 1,
            crossings,
            stops: vec![stop],
        }
    }

    /// What a gap measured at a crossing lacks of a stop's loss: all of it for a stop
    /// begun after, none for one left before, and for one the car was in the middle of
    /// (a pit lane across the line) what its in-lap had not lost yet.
    #[test]
    fn pending_loss_by_where_the_stop_was_at_the_crossing() {
        // In-lap 3 ends at 278 s, 8 s slow; the car leaves the pit lane at 290 s.
        let t = timing(3, 8_000, (270_000, 290_000));
        let lap3 = t.crossed(3).unwrap();
        assert_eq!(lap3, 278_000);
        assert_eq!(t.pending_ms(lap3), 12_000.0);
        assert_eq!(t.pending_ms(t.crossed(2).unwrap()), LOSS);
        assert_eq!(t.pending_ms(t.crossed(4).unwrap()), 0.0);
        // An in-lap that lost more than the whole loss leaves nothing pending.
        let t = timing(3, 25_000, (270_000, 300_000));
        assert_eq!(t.pending_ms(t.crossed(3).unwrap()), 0.0);
        // Without a lap before it to compare with: half.
        let t = timing(1, 8_000, (90_000, 110_000));
        assert_eq!(t.pending_ms(t.crossed(1).unwrap()), LOSS / 2.0);
    }

    /// Car 2 ran 5 s behind car 1 and crossed lap 3's line in the pit lane, its in-lap
    /// 8 s slow: the gap at that line is 13 s, 25 s with the rest of the loss to come.
    #[test]
    fn a_gap_holds_the_rest_of_a_stop_straddling_the_line() {
        let a = timing(0, 0, (0, 0));
        let mut b = timing(3, 8_000, (270_000, 290_000));
        for c in &mut b.crossings {
            c.1 += 5_000;
        }
        b.stops = vec![(275_000, 295_000, LOSS)];
        b.car = 2;
        // It has not crossed the line since (its out-lap is under way).
        b.crossings.truncate(3);
        assert_eq!(Board::gap_ms(&b, &a), Some(25_000.0));
    }

    /// Cars 1 to 3 run 10 laps of 90 s, car 4 retired into its garage after lap 3.
    /// `in_lane` are in the pit lane from just before their last line; `out` left it at
    /// `out_ms` with no line crossed since.
    fn board_at(now_ms: i64, in_lane: &[u8], out: Option<(u8, i64)>) -> Vec<u8> {
        let laps: Vec<Lap> = crate::analytics::strategy::fixtures::steady_laps(4, 10)
            .into_iter()
            .filter(|l| l.car != 4 || l.lap <= 3)
            .collect();
        let last = |car: u8| {
            laps.iter()
                .filter(|l| l.car == car)
                .map(|l| l.crossed_at_ms)
                .max()
        };
        let stop = |car: u8, exit_ms: i64| PricedStop {
            car,
            entry_ms: last(car).unwrap() - 5_000,
            exit_ms,
            cost_ms: LOSS,
        };
        let stops: Vec<PricedStop> = in_lane
            .iter()
            .map(|&c| stop(c, i64::MAX))
            .chain(out.map(|(c, at)| stop(c, at)))
            .collect();
        let board = Board::new(&laps, &stops, now_ms);
        board.order.iter().map(|t| t.car).collect()
    }

    /// A red flag's wait keeps its cars on the board however long it lasts, and a car
    /// out of the lane stays until it crosses the line; a car retired into its garage
    /// laps before, in the lane for good, does not come back.
    #[test]
    fn waiting_cars_stay_on_the_board_retired_ones_do_not() {
        let (lap10, wait) = (10 * 90_000, 1_500_000);
        assert_eq!(board_at(lap10 + 60_000, &[], None), [1, 2, 3]);
        assert_eq!(board_at(lap10 + wait, &[], None), Vec::<u8>::new());
        assert_eq!(board_at(lap10 + wait, &[1, 2, 3, 4], None), [1, 2, 3]);
        // At the restart: car 1 out of the lane, cars 2 and 3 still in it.
        let restart = lap10 + wait;
        assert_eq!(
            board_at(restart + 20_000, &[2, 3, 4], Some((1, restart))),
            [1, 2, 3]
        );
        // Out of the lane three laps ago and no line crossed since: gone.
        assert_eq!(
            board_at(restart + 300_000, &[], Some((1, restart))),
            Vec::<u8>::new()
        );
    }
}
