//! Where a car's pit lane lies, learned from its own visits that the speed trace makes
//! certain (the limiter held before the stop), so that position can judge the stops the
//! speed trace leaves ambiguous: a halt with no limiter before it, which may be a queue
//! in the pit lane or a car beached off the track. Per car, so that the result does not
//! depend on which cars share a partition; bounded, because it is checkpointed on every
//! commit. Positions are only used to arbitrate, never to time a visit (entry and exit
//! points learned from earlier stops timed the pit lane worse than the limiter does).

use crate::model::Sample;
use serde::{Deserialize, Serialize};

/// Spacing of the learned points: a pit lane of 400 m is 16 of them.
const PATH_STEP_M: i64 = 25;
/// At most this many points are kept (a visit and the learned lane alike).
const PATH_POINTS: usize = 32;
/// A stop this close to a learned point is on the pit lane: half a step along it, plus
/// the box beside the fast lane, plus the position's error.
const ON_PATH_M: i64 = 30;

/// A position in whole metres (the circuit's frame), compact in the checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pos {
    x: i32,
    y: i32,
}

impl Pos {
    /// Where the sample was, if its feed says.
    pub fn of(s: &Sample) -> Option<Pos> {
        let (x, y) = (s.x?, s.y?);
        // `as` saturates: a feed with a far-away origin degrades to "no position".
        Some(Pos {
            x: x.round() as i32,
            y: y.round() as i32,
        })
    }

    /// Whether `other` lies within `m` metres.
    pub fn within(self, other: Pos, m: i64) -> bool {
        let (dx, dy) = ((self.x - other.x) as i64, (self.y - other.y) as i64);
        dx * dx + dy * dy <= m * m
    }
}

/// Whether two stops, where both positions are known, lie more than `m` metres apart.
pub fn apart(a: Option<Pos>, b: Option<Pos>, m: i64) -> bool {
    matches!((a, b), (Some(a), Some(b)) if !a.within(b, m))
}

/// The pit lane as this car drove it on certain visits, and the visit in progress.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PitLane {
    learned: Vec<Pos>,
    visit: Vec<Pos>,
}

impl PitLane {
    /// Whether a certain visit has taught where the lane is.
    pub fn known(&self) -> bool {
        !self.learned.is_empty()
    }

    /// Whether a stop at `at` lies on the learned lane.
    pub fn on_path(&self, at: Pos) -> bool {
        self.learned.iter().any(|p| p.within(at, ON_PATH_M))
    }

    /// Whether a stop seen before the limiter may be taken for the visit's stop now:
    /// off a learned lane it may not; without a position or a learned lane nothing
    /// says otherwise (the caller decides later, once a certain visit has taught it).
    pub fn admits(&self, at: Option<Pos>) -> bool {
        match at {
            Some(at) if self.known() => self.on_path(at),
            _ => true,
        }
    }

    /// A new visit begins: what the last one collected is forgotten.
    pub fn begin(&mut self) {
        self.visit.clear();
    }

    /// The car is in a visit at `at`: keep a point every [`PATH_STEP_M`].
    pub fn pass(&mut self, at: Pos) {
        if self.visit.len() < PATH_POINTS
            && self.visit.last().is_none_or(|p| !p.within(at, PATH_STEP_M))
        {
            self.visit.push(at);
        }
    }

    /// The visit was certain: its points join the learned lane (those not already
    /// covered, up to the bound).
    pub fn learn(&mut self) {
        for at in std::mem::take(&mut self.visit) {
            if self.learned.len() < PATH_POINTS
                && !self.learned.iter().any(|p| p.within(at, PATH_STEP_M))
            {
                self.learned.push(at);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(x: i32, y: i32) -> Pos {
        Pos { x, y }
    }

    /// A lane learned from one visit accepts a stop beside it and refuses one 100 m off;
    /// before any visit, or without a position, nothing is refused.
    #[test]
    fn learns_the_lane_from_a_visit() {
        let mut lane = PitLane::default();
        assert!(lane.admits(Some(at(500, 500))) && lane.admits(None));
        lane.begin();
        for y in (0..=400).step_by(5) {
            lane.pass(at(0, y));
        }
        lane.learn();
        assert!(lane.known());
        assert!(lane.admits(Some(at(9, 213))), "a box beside the fast lane");
        assert!(!lane.admits(Some(at(100, 200))), "100 m off the lane");
        assert!(!lane.admits(Some(at(0, 480))), "80 m beyond its end");
        assert!(lane.admits(None));
    }

    /// However many visits, the state stays bounded: a second visit along the same lane
    /// adds nothing, and no visit adds more than the bound.
    #[test]
    fn stays_bounded() {
        let mut lane = PitLane::default();
        let mut sizes = Vec::new();
        for x in 0..3 {
            lane.begin();
            for y in (x..=400).step_by(3) {
                lane.pass(at(x, y));
            }
            lane.learn();
            sizes.push(lane.learned.len());
        }
        assert!(sizes[0] <= 400 / PATH_STEP_M as usize + 1, "{sizes:?}");
        assert!(sizes.iter().all(|&n| n == sizes[0]), "{sizes:?}");
        lane.begin();
        for y in (0..100_000).step_by(30) {
            lane.pass(at(0, y));
        }
        assert_eq!(lane.visit.len(), PATH_POINTS);
        lane.learn();
        assert!(lane.learned.len() <= PATH_POINTS);
    }
}
