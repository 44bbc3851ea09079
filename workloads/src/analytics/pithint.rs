//! A source's pit status (the game's `pitStatus`, the simulator's, OpenF1 `pit` windows)
//! as a hint: it may sharpen the boundaries of a visit the speed trace shows; it never
//! makes or removes a visit, moves it to another lap, or moves a boundary further from
//! motion's than the speed trace leaves in doubt. OpenF1 windows are built from a pit-entry time and a
//! duration kept apart from the car data: they may end while the car still stands in its
//! box, begin seconds after it reached the limiter, or sit a lap away from the stop.

use crate::model::PitStatus;
use serde::{Deserialize, Serialize};

/// An entry or exit hint this close to the limiter boundary motion found replaces it:
/// the limiter line and the timing loops lie a few metres apart, and where a car comes
/// onto a plateau is only known to its 3 km/h band. Further off, the hint contradicts
/// the speed trace.
const LANE_MS: i64 = 1_000;
/// A stationary hint this close to motion's crossing of the creep speed replaces it
/// (about two samples of live timing); further off it contradicts the speed trace.
const STILL_MS: i64 = 500;

/// The last transitions of the hint, each midway between the two samples around it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Hint {
    status: Option<PitStatus>,
    entered: Option<i64>,
    left: Option<i64>,
    still_from: Option<i64>,
    still_to: Option<i64>,
}

/// A visit's boundaries: entry, stationary phase (if any), exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    pub entry: i64,
    pub stop: Option<(i64, i64)>,
    pub exit: i64,
}

impl Hint {
    /// A sample's status (`None`: the sample has none, nothing changes) at `now`, the
    /// previous sample at `prev`.
    pub fn observe(&mut self, prev: Option<i64>, now: i64, status: Option<PitStatus>) {
        let Some(status) = status else { return };
        let before = self.status.replace(status).unwrap_or(PitStatus::None);
        if before == status {
            return;
        }
        let mid = prev.map_or(now, |p| (p + now) / 2);
        if before == PitStatus::None {
            self.entered = Some(mid);
        }
        if status == PitStatus::None {
            self.left = Some(mid);
        }
        if status == PitStatus::Stationary {
            self.still_from = Some(mid);
        }
        if before == PitStatus::Stationary {
            self.still_to = Some(mid);
        }
    }

    /// Whether the source says the car is in the pit lane.
    pub fn in_lane(&self) -> bool {
        matches!(
            self.status,
            Some(PitStatus::PitLane | PitStatus::Stationary)
        )
    }

    /// The boundaries motion found, each replaced by the hint's where the hint gave one
    /// close to it (by the time motion closed the visit) and the order stays entry ≤
    /// stationary ≤ exit; any other hint disagrees with the speed trace and is ignored.
    pub fn sharpen(&self, motion: Bounds) -> Bounds {
        let near = |hint: Option<i64>, at: i64, within: i64| {
            hint.filter(|h| (h - at).abs() <= within).unwrap_or(at)
        };
        let sharp = Bounds {
            entry: near(self.entered, motion.entry, LANE_MS),
            stop: motion.stop.map(|(a, b)| {
                (
                    near(self.still_from, a, STILL_MS),
                    near(self.still_to, b, STILL_MS),
                )
            }),
            exit: near(self.left, motion.exit, LANE_MS),
        };
        let ordered = |b: &Bounds| match b.stop {
            Some((a, z)) => b.entry <= a && a < z && z <= b.exit,
            None => b.entry < b.exit,
        };
        if ordered(&sharp) { sharp } else { motion }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PitStatus::{PitLane, Stationary};

    /// Outside the pit lane.
    const OUT: PitStatus = PitStatus::None;

    fn hint(changes: &[(i64, PitStatus)]) -> Hint {
        let mut h = Hint::default();
        let mut prev = None;
        for &(t, s) in changes {
            h.observe(prev, t, Some(s));
            prev = Some(t);
        }
        h
    }

    const MOTION: Bounds = Bounds {
        entry: 10_000,
        stop: Some((18_000, 21_000)),
        exit: 30_000,
    };

    /// Transitions a few hundred milliseconds from motion's replace them.
    #[test]
    fn close_hints_sharpen() {
        let h = hint(&[
            (9_000, OUT),
            (9_400, PitLane),
            (18_100, PitLane),
            (18_300, Stationary),
            (20_900, Stationary),
            (21_100, PitLane),
            (29_500, PitLane),
            (29_700, OUT),
        ]);
        assert_eq!(
            h.sharpen(MOTION),
            Bounds {
                entry: 9_200,
                stop: Some((18_200, 21_000)),
                exit: 29_600,
            }
        );
    }

    /// A window that ends in the box, starts 8 s late, or lies a lap away changes
    /// nothing.
    #[test]
    fn disagreeing_hints_lose() {
        for window in [(10_000, 19_000), (18_000, 30_000), (-70_000, -50_000)] {
            let h = hint(&[
                (window.0 - 100, OUT),
                (window.0 + 100, PitLane),
                (window.1 - 100, PitLane),
                (window.1 + 100, OUT),
            ]);
            let b = h.sharpen(MOTION);
            assert_eq!(b.stop, MOTION.stop, "{window:?}");
            assert_eq!(b.exit, MOTION.exit, "{window:?}");
            if window.0 != MOTION.entry {
                assert_eq!(b.entry, MOTION.entry, "{window:?}");
            }
        }
    }
}
