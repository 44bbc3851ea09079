//! A frame's halves as they arrive, and the frames lately sent (so a late half is known
//! for what it is).

use crate::game::decode::{CarLap, CarTelemetry};

/// Frames remembered as sent: several seconds of a 60 Hz game.
const RECENT_FRAMES: usize = 512;

/// The half-frames received of one frame.
#[derive(Default)]
pub(super) struct Frame {
    pub time_s: f32,
    pub laps: Option<Vec<CarLap>>,
    pub telemetry: Option<Vec<CarTelemetry>>,
}

/// A frame's half as received.
pub(super) enum Half {
    Laps(Vec<CarLap>),
    Telemetry(Vec<CarTelemetry>),
}

/// The last [`RECENT_FRAMES`] frames sent.
#[derive(Default)]
pub(super) struct RecentFrames {
    set: std::collections::HashSet<u32>,
    order: std::collections::VecDeque<u32>,
}

impl RecentFrames {
    pub fn contains(&self, frame: u32) -> bool {
        self.set.contains(&frame)
    }

    pub fn insert(&mut self, frame: u32) {
        if self.set.insert(frame) {
            self.order.push_back(frame);
            if self.order.len() > RECENT_FRAMES
                && let Some(old) = self.order.pop_front()
            {
                self.set.remove(&old);
            }
        }
    }
}
