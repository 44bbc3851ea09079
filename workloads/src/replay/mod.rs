//! `pitstop replay`: a recorded race — FastF1 telemetry CSV, OpenF1 records, native
//! NDJSON, each optionally gzipped — fed at N× real time, straight into the session's
//! Redis streams (as the simulator publishes, with start and end markers and a resumable
//! progress hash) or through `POST /telemetry` of a processor (then finished with
//! `POST /api/v1/sessions/{id}/finish`).
//!
//! The files are read through [`crate::feeds`], so a replayed file gives exactly the
//! samples the same file posted would. Each car's samples are numbered from 0 in time
//! order across all files, so the processor's exactly-once accounting covers the replay.
//!
//! An OpenF1 session can be fetched by its key instead ([`openf1_to_api`]): window by
//! window as it is sent, its race control posted as session events, through the API only.
//!
//! [`recording`]: files into samples, and the simulator's [`Source`](crate::sim::publisher::Source)
//! over them; [`api`]: through a processor's HTTP API; [`openf1`]: an OpenF1 session by key.

mod api;
mod openf1;
mod recording;

pub use api::{Answered, ReplayProgress, session_finished, to_api};
pub use openf1::{LiveReport, openf1_to_api};
pub use recording::{Recording, Replay, dirt_summary};
