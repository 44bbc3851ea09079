//! Where a car would come out if it stopped now: the race-time gap to every other running
//! car grows by the pit loss; the cars still ahead after that are ahead on the road.

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
}

/// The rejoin of `car` if it stopped now with `loss_ms` of pit loss, the cars of
/// `also_stopping` stopping in the same lap (under a safety car: the field takes the
/// cheap stop).
pub fn rejoin(
    board: &Board,
    car: u8,
    loss_ms: f64,
    also_stopping: &BTreeSet<u8>,
) -> Option<Rejoin> {
    let me = board.get(car)?;
    // After the stop: positive = the other car is ahead by that much.
    let mut margins: Vec<(u8, f64)> = board
        .order
        .iter()
        .filter(|t| t.car != car)
        .filter_map(|t| {
            let theirs = if also_stopping.contains(&t.car) {
                loss_ms
            } else {
                0.0
            };
            Some((t.car, Board::gap_ms(me, t, loss_ms)? + loss_ms - theirs))
        })
        .collect();
    margins.sort_by(|a, b| b.1.total_cmp(&a.1));
    let ahead_count = margins.iter().filter(|m| m.1 > 0.0).count();
    Some(Rejoin {
        position: ahead_count + 1,
        ahead: ahead_count
            .checked_sub(1)
            .map(|i| (margins[i].0, margins[i].1)),
        behind: margins.get(ahead_count).map(|m| (m.0, -m.1)),
        margins,
    })
}
