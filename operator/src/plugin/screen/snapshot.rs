//! What the status screen shows, as read: the RaceSession and the processor's answers.

use crate::api::RaceSession;
use crate::plugin::processor::{Anomaly, ClassifiedCar, Session, Stop};
use crate::plugin::strategy::Strategy;
use k8s_openapi::jiff::Timestamp;

/// Everything the screen shows, as read at `now`.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub race: RaceSession,
    pub live: Live,
    pub now: Timestamp,
}

/// What the processor said, or why it could not be asked.
#[derive(Clone, Debug)]
pub enum Live {
    Unavailable(String),
    Available(Box<LiveData>),
}

/// The processor's answers; a section that failed holds why.
#[derive(Clone, Debug)]
pub struct LiveData {
    pub session: Session,
    pub classification: Result<Vec<ClassifiedCar>, String>,
    pub stops: Result<Vec<Stop>, String>,
    pub anomalies: Result<Vec<Anomaly>, String>,
    /// `Ok(None)`: this processor does not serve `/strategy` (404).
    pub strategy: Result<Option<Strategy>, String>,
}

/// Pit stops and anomalies shown: the latest ones.
pub const LATEST: usize = 5;
