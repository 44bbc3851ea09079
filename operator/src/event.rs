//! An Event to publish about a RaceSession, as plain data: what the pure steps decide
//! (`post_race::plan`, validation's stall) and `reconcile::events` publishes. No cluster
//! types here, so pure code can describe Events without importing the cluster layer.

/// Normal or Warning, as Kubernetes Events have it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

/// One Event about the race being reconciled.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub type_: EventType,
    /// A static reason (Events are filtered and counted by it).
    pub reason: &'static str,
    pub note: String,
    /// What the operator was doing: `Validate`, `Pipeline`.
    pub action: &'static str,
}

impl Event {
    pub fn normal(reason: &'static str, note: String, action: &'static str) -> Event {
        Event {
            type_: EventType::Normal,
            reason,
            note,
            action,
        }
    }

    pub fn warning(reason: &'static str, note: String, action: &'static str) -> Event {
        Event {
            type_: EventType::Warning,
            reason,
            note,
            action,
        }
    }
}
