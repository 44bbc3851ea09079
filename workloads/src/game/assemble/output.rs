//! What the assembler hands the sender, and what it counts instead of sending.

use crate::model::Sample;
use crate::stream::CarInfo;
use compact_str::CompactString;

/// Why a datagram (or a frame) was not turned into samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dropped {
    /// Its frame had left the window already (reordered too far, or delayed).
    Late,
    /// The same half of a frame twice.
    Duplicate,
    /// Game time rewound by a flashback: history the processor already has.
    Flashback,
    /// `--session` binds this gateway to another game session.
    OtherSession,
    /// Its session has finished.
    Finished,
    /// A frame that left the window without its Car Telemetry (no speed).
    IncompleteFrame,
    /// Held too long for a session whose participants never came.
    NoParticipants,
}

impl Dropped {
    pub const ALL: [Dropped; 7] = [
        Dropped::Late,
        Dropped::Duplicate,
        Dropped::Flashback,
        Dropped::OtherSession,
        Dropped::Finished,
        Dropped::IncompleteFrame,
        Dropped::NoParticipants,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dropped::Late => "late",
            Dropped::Duplicate => "duplicate",
            Dropped::Flashback => "flashback",
            Dropped::OtherSession => "other_session",
            Dropped::Finished => "finished",
            Dropped::IncompleteFrame => "incomplete_frame",
            Dropped::NoParticipants => "no_participants",
        }
    }
}

/// What the gateway sends the processor, in order per session.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// The session's start marker (once, before its first samples).
    Start(Start),
    Samples(CompactString, Vec<Sample>),
    /// A stop as the game timed it (`pitStopTimerInMS`), when the car left the pit lane.
    GameStop(GameStop),
    /// Race control, in the vocabulary of the processor's session events:
    /// `safety_car`, `virtual_safety_car`, `red_flag`, `green`, `chequered`.
    RaceControl(CompactString, i64, &'static str),
    /// Every car took the chequered flag (or the session ended).
    Finish(CompactString),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Start {
    pub session: CompactString,
    pub circuit: String,
    pub laps: u16,
    pub started_at_ms: i64,
    pub cars: Vec<CarInfo>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct GameStop {
    pub session: CompactString,
    pub car: u8,
    /// The lap of the pit entry.
    pub lap: u8,
    /// When the car left the pit lane.
    pub at_ms: i64,
    pub stationary_ms: u32,
}
