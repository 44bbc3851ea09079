//! The telemetry model: one [`Sample`] per car per tick. Real feeds carry different
//! channels (live timing has speed, RPM, gear, pedals, DRS and position but no
//! temperatures; the F1 game has nearly everything; a phone app may send only speed), so
//! only what every source has is required — session, car, time and speed — and every
//! other channel is an `Option`: absent means *unknown*, never a fake zero. Ranges are in
//! `docs/wire-format.md`.

mod channel;
mod compound;
mod sample;
mod validate;

pub use channel::{Channel, Channels};
pub use compound::Compound;
pub use sample::{PitStatus, SEQ_ABSENT, Sample, UNKNOWN_TEAM};
pub use validate::{
    TIMESTAMPS_MS, ValidationError, clean, validate, validate_driver, validate_except_session,
    validate_session, validate_team,
};

/// Corner order used by every `[f32; 4]` channel: front-left, front-right, rear-left, rear-right.
pub const CORNERS: [&str; 4] = ["fl", "fr", "rl", "rr"];
