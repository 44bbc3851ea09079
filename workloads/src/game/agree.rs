//! The live check of the pit-stop detector against the game's own timer: the samples the
//! gateway sends run through the processor's detector (the same code, on the same
//! samples) and every stop it finds is paired with the stop the game timed
//! (`pitStopTimerInMS`) for that car's pit-lane visit.

use super::assemble::GameStop;
use crate::analytics::{Events, PartitionState, PitStopRecord};
use crate::model::Sample;

/// A game stop not paired within this much game time of its pit exit was not found from
/// motion (the detector holds an ambiguous stop up to 3 minutes).
const PAIR_WITHIN_MS: i64 = 240_000;

/// One comparison.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pairing {
    /// Stationary time from motion minus the game's, in seconds.
    Matched { car: u8, delta_s: f64 },
    /// The game timed a stop that motion did not find.
    Unmatched { car: u8 },
}

#[derive(Default)]
pub struct Agreement {
    detector: PartitionState,
    events: Events,
    motion: Vec<PitStopRecord>,
    game: Vec<GameStop>,
    latest_ms: i64,
}

impl Agreement {
    pub fn sample(&mut self, s: &Sample, out: &mut Vec<Pairing>) {
        self.latest_ms = self.latest_ms.max(s.timestamp_ms);
        self.detector.observe(s, &mut self.events);
        self.collect(out);
    }

    pub fn game_stop(&mut self, stop: GameStop, out: &mut Vec<Pairing>) {
        self.game.push(stop);
        self.collect(out);
    }

    /// The session ended: stops held back are decided, the rest of the game's unpaired.
    pub fn finish(&mut self, session: &str, out: &mut Vec<Pairing>) {
        self.detector.end_session(session, &mut self.events);
        self.collect(out);
        self.game.retain(|g| {
            if g.session == session {
                out.push(Pairing::Unmatched { car: g.car });
            }
            g.session != session
        });
        self.motion.retain(|m| m.id.session != session);
    }

    fn collect(&mut self, out: &mut Vec<Pairing>) {
        self.motion.append(&mut self.events.pit_stops);
        self.events.clear();
        let mut i = 0;
        while i < self.game.len() {
            let g = &self.game[i];
            let paired = self.motion.iter().position(|m| {
                m.id.session == g.session
                    && m.id.car == g.car
                    && (m.entry_ms..=m.entry_ms + m.pit_lane_ms + 10_000).contains(&g.at_ms)
            });
            if let Some(j) = paired {
                let m = self.motion.swap_remove(j);
                let delta_s = (m.stationary_ms - g.stationary_ms as i64) as f64 / 1000.0;
                out.push(Pairing::Matched {
                    car: g.car,
                    delta_s,
                });
                self.game.swap_remove(i);
            } else if self.latest_ms - g.at_ms > PAIR_WITHIN_MS {
                out.push(Pairing::Unmatched { car: g.car });
                self.game.swap_remove(i);
            } else {
                i += 1;
            }
        }
        // Motion stops the game did not time (a game that sends no timer) are not kept.
        let latest = self.latest_ms;
        self.motion
            .retain(|m| latest - m.entry_ms < 2 * PAIR_WITHIN_MS);
    }
}
