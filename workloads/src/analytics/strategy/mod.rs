//! Live strategy per car: tyre degradation with its uncertainty, the circuit's pit loss,
//! where a car would rejoin if it stopped now, its pit window, and undercut and overcut
//! calls against the cars around it. Pure functions of the laps and stops the processor
//! has stored, as of a moment: the API, the metrics and the report compute it from the
//! same input, and the real-race checks replay a race moment by moment.

mod compute;
pub mod degradation;
pub mod fresh_tyres;
mod input;
mod pit_lane_times;
pub mod pit_loss;
pub mod rejoin;
pub mod review;
pub mod stints;
pub mod suspension;
pub mod timing;
pub mod undercut;
pub mod window;

pub use compute::{CarStrategy, Neighbour, Stint, Strategy, board, compute};
#[cfg(test)]
pub(crate) use input::fixtures;
pub use input::{Entrant, FUEL_MS_PER_KG, Lap, PitEntry, Race, Stop, fuel_ms_per_lap};
pub use pit_loss::{PitLoss, PitLossSource};
