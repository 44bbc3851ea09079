//! The F1 game's UDP telemetry: `pitstop ingest`, a gateway that decodes the game's
//! datagrams ([`decode`]), assembles them into samples per game session ([`assemble`])
//! and feeds them through a processor's HTTP API ([`send`]); [`gateway`] ties them to the
//! socket or a recording ([`record`]), [`synth`] writes packets for tests and benchmarks.

pub mod agree;
pub mod assemble;
pub mod bench;
mod cli;
pub mod decode;
pub mod gateway;
pub mod metrics;
pub mod names;
pub mod play;
pub mod record;
pub mod send;
pub mod socket;
pub mod synth;
pub mod synth_race;

pub use cli::{GameRaceArgs, IngestArgs, game_race, run};
