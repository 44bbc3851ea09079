//! An OpenF1 session fetched by its key and fed through the API as it is fetched.

use super::api::{Answered, Events, Feeder, Keys, ReplayProgress};
use crate::feeds::Dirt;
use crate::feeds::openf1_fetch::Fetcher;
use crate::feeds::openf1_live::LiveSession;
use std::sync::Arc;

/// What a live OpenF1 replay did.
#[derive(Debug, Default)]
pub struct LiveReport {
    pub answered: Answered,
    pub cars: usize,
    /// Session events stored now, and those the processor had already.
    pub events_stored: u64,
    pub events_duplicates: u64,
    /// Car data left out after the drivers' finishes (cool-down laps).
    pub after_finish: u64,
    /// What could not be taken, window by window (for [`dirt_summary`]).
    pub dirt: Vec<(String, Dirt)>,
}

/// Windows fetched ahead of the one being sent: fetching overlaps sending, and memory
/// holds at most this many windows besides the one in flight.
const PREFETCH: usize = 1;

/// Feeds an OpenF1 session through `POST /telemetry` window by window as it is fetched,
/// its race-control events through `POST /api/v1/sessions/{id}/events` as the race
/// clock reaches them, then finishes it. A failure stops the replay without finishing:
/// run it again and what the processor has already is recognised (by car and time for
/// samples, by time and kind for events), so nothing is stored twice.
pub async fn openf1_to_api(
    fetcher: Fetcher,
    mut live: LiveSession,
    api_url: &str,
    api_key: &str,
    speed: Option<f64>,
    progress: &Arc<ReplayProgress>,
    strict: bool,
) -> anyhow::Result<LiveReport> {
    let session = live.info.session.clone();
    let mut f = Feeder::new(api_url, api_key, &session, speed, progress, strict)?;
    f.keys = Keys::Time;
    f.start(&live.info).await?;
    let mut report = LiveReport {
        cars: live.info.cars.len(),
        ..LiveReport::default()
    };
    let mut events = Events {
        pending: std::mem::take(&mut live.events),
        ..Events::default()
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(PREFETCH);
    let producer = tokio::spawn(async move {
        for w in live.windows() {
            let r = live.window(&fetcher, w).await;
            let failed = r.is_err();
            if tx.send(r).await.is_err() || failed {
                break;
            }
        }
        live.after_finish()
    });
    let fed = async {
        while let Some(window) = rx.recv().await {
            let (samples, dirty) = window?;
            for (page, dirt) in dirty {
                if strict && let Some(e) = dirt.clone().into_error() {
                    return Err(anyhow::Error::from(e).context(page));
                }
                report.dirt.push((page, dirt));
            }
            f.feed(&samples, &mut events).await?;
        }
        Ok(())
    };
    if let Err(e) = fed.await {
        producer.abort();
        return Err(e);
    }
    report.after_finish = producer.await?;
    let rest = events.due(None).to_vec();
    f.post_events(&rest, &mut events).await?;
    f.finish().await?;
    report.answered = f.answered;
    (report.events_stored, report.events_duplicates) = (events.stored, events.duplicates);
    Ok(report)
}
