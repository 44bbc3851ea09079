//! The one place that publishes Events: the [`crate::event::Event`]s the steps decided,
//! on the race being reconciled. A failed publish is logged, never an error: an Event is
//! a courtesy, the status is the record.

use super::context::Context;
use crate::api::RaceSession;
use crate::errors::chain;
use crate::event::{Event, EventType};
use kube::Resource;
use kube::runtime::events::{self as kube_events, Recorder};

/// Publishes `events` on `race`, in order.
pub async fn publish(ctx: &Context, race: &RaceSession, events: &[Event]) {
    let reference = race.object_ref(&());
    for e in events {
        // A fresh recorder per Event: a shared one's cache would fold a repeated Event
        // into the first one's series (a PATCH) instead of posting it.
        let recorder = Recorder::new(ctx.client.clone(), ctx.reporter.clone());
        let event = kube_events::Event {
            type_: match e.type_ {
                EventType::Normal => kube_events::EventType::Normal,
                EventType::Warning => kube_events::EventType::Warning,
            },
            reason: e.reason.into(),
            note: Some(e.note.clone()),
            action: e.action.into(),
            secondary: None,
        };
        if let Err(err) = recorder.publish(&event, &reference).await {
            tracing::warn!(error = %chain(&err), "could not publish event");
        }
    }
}
