//! Where a car would come out if it stopped now: the race-time gap to every other running
//! car grows by the pit loss and shrinks by what its new tyres gain in the lap after;
//! the cars still ahead after that are ahead on the road.

use super::timing::Board;
use std::collections::BTreeSet;

/// A predicted rejoin.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejoin {
    /// 1 for the lead.
    pub position: usize,
    /// The car just ahead after the stop and how far ahead, ms.
    pub ahead: Option<(u8, f64)>,
    /// The car just behind after the stop and how far behind, ms.
    pub behind: Option<(u8, f64)>,
    /// Every other running car and its margin after the stop (positive: ahead), ahead
    /// first.
    pub margins: Vec<(u8, f64)>,
    /// With cars expected to stop as well (a safety car): the position if they all stay
    /// out instead, the other end of the range (their choice is not known yet).
    pub if_they_stay_out: Option<usize>,
}

/// The rejoin of `car` if it stopped now with `loss_ms` of pit loss (none for a car
/// already in the pit lane: its gaps hold it), the cars of `also_stopping` stopping in
/// the same lap at `their_loss_ms` (under a safety car: the field takes the cheap stop),
/// as it stands a lap after coming out: `first_lap_gain(other)` is what its new tyres
/// gain on `other` in that lap, ms (negative: lose).
pub fn rejoin(
    board: &Board,
    car: u8,
    (loss_ms, their_loss_ms): (f64, f64),
    also_stopping: &BTreeSet<u8>,
    first_lap_gain: &dyn Fn(u8) -> f64,
) -> Option<Rejoin> {
    let me = board.get(car)?;
    // After the stop: positive = the other car is ahead by that much.
    let mut margins: Vec<(u8, f64)> = board
        .order
        .iter()
        .filter(|t| t.car != car)
        .filter_map(|t| {
            let theirs = if also_stopping.contains(&t.car) {
                their_loss_ms
            } else {
                0.0
            };
            let margin = Board::gap_ms(me, t)? + loss_ms - theirs - first_lap_gain(t.car);
            Some((t.car, margin))
        })
        .collect();
    margins.sort_by(|a, b| b.1.total_cmp(&a.1));
    let ahead_count = margins.iter().filter(|m| m.1 > 0.0).count();
    let if_they_stay_out = (!also_stopping.is_empty()).then(|| {
        1 + margins
            .iter()
            .filter(|m| stays_ahead(m, their_loss_ms, also_stopping))
            .count()
    });
    Some(Rejoin {
        position: ahead_count + 1,
        ahead: ahead_count
            .checked_sub(1)
            .map(|i| (margins[i].0, margins[i].1)),
        behind: margins.get(ahead_count).map(|m| (m.0, -m.1)),
        margins,
        if_they_stay_out,
    })
}

/// Whether a car with this margin after our stop is ahead if it stays out although
/// expected to stop (it keeps the loss the margin took off it).
pub fn stays_ahead(&(car, margin): &(u8, f64), loss_ms: f64, also_stopping: &BTreeSet<u8>) -> bool {
    let theirs = if also_stopping.contains(&car) {
        loss_ms
    } else {
        0.0
    };
    margin + theirs > 0.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::strategy::input::Lap;

    /// Cars 1..=4 crossing lap 1's line 0, 5, 10 and 30 s apart: a 20 s stop for car 1 puts
    /// it behind 2 and 3. Under a safety car, with 2 and 3 expected to stop too, it keeps
    /// the lead, P3 if they stay out instead; car 4 is behind either way.
    #[test]
    fn a_safety_car_leaves_a_range_to_the_others_choice() {
        let laps: Vec<Lap> = [(1, 0), (2, 5_000), (3, 10_000), (4, 30_000)]
            .into_iter()
            .map(|(car, behind)| Lap {
                car,
                lap: 1,
                lap_time_ms: 90_000,
                crossed_at_ms: 90_000 + behind,
                compound: None,
                tyre_age: None,
                neutralised: false,
            })
            .collect();
        let board = Board::new(&laps, &[], 120_000);
        let green = rejoin(&board, 1, (20_000.0, 20_000.0), &BTreeSet::new(), &|_| 0.0).unwrap();
        assert_eq!((green.position, green.if_they_stay_out), (3, None));
        let sc = rejoin(
            &board,
            1,
            (20_000.0, 20_000.0),
            &BTreeSet::from([2, 3]),
            &|_| 0.0,
        )
        .unwrap();
        assert_eq!((sc.position, sc.if_they_stay_out), (1, Some(3)));
        assert_eq!(sc.behind.map(|b| b.0), Some(2));
    }
}
