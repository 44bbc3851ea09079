//! `kubectl pitstop status RACE [--watch]`: the RaceSession and the processor's answers
//! into a [`Snapshot`], drawn by [`screen::render`].

use crate::api::RaceSession;
use crate::plugin::cluster::Cluster;
use crate::plugin::error::PluginError;
use crate::plugin::processor::{Session, paths};
use crate::plugin::proxy::Answer;
use crate::plugin::screen::{self, Live, LiveData, Snapshot};
use k8s_openapi::jiff::Timestamp;
use serde::de::DeserializeOwned;
use std::io::Write;
use std::time::Duration;

/// ANSI: cursor home, clear the screen (what `watch` does between two screens).
const CLEAR: &str = "\x1b[H\x1b[2J";

/// A JSON answer of the processor, or why there is none.
async fn read<T: DeserializeOwned>(
    c: &Cluster,
    race: &str,
    sub: &str,
) -> Result<Result<T, String>, PluginError> {
    Ok(match c.processor(race, &paths::session(race, sub)).await? {
        Answer::Ok(body) => serde_json::from_slice(&body)
            .map_err(|e| format!("the processor's answer does not parse: {e}")),
        other => Err(other.why_not(race).unwrap_or_default()),
    })
}

/// Why the processor cannot be asked, with what the operator says of it.
fn not_running(race: &RaceSession, why: String) -> String {
    let cond = race
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "ProcessorReady"))
        .filter(|c| c.status != "True");
    match cond {
        Some(c) => format!(
            "{why} (ProcessorReady={}, {}: {})",
            c.status,
            c.reason,
            crate::plugin::error::one_line(&c.message)
        ),
        None => why,
    }
}

async fn live(c: &Cluster, race: &RaceSession, name: &str) -> Result<Live, PluginError> {
    let session: Session = match read(c, name, "").await? {
        Ok(s) => s,
        Err(why) => return Ok(Live::Unavailable(not_running(race, why))),
    };
    let (classification, stops, anomalies, strategy) = tokio::join!(
        read(c, name, paths::CLASSIFICATION),
        read(c, name, paths::PITSTOPS),
        read(c, name, paths::ANOMALIES),
        strategy(c, name),
    );
    Ok(Live::Available(Box::new(LiveData {
        session,
        classification: classification?,
        stops: stops?,
        anomalies: anomalies?,
        strategy: strategy?,
    })))
}

/// `/strategy`, `None` when this processor does not serve it (404).
async fn strategy(
    c: &Cluster,
    name: &str,
) -> Result<Result<Option<crate::plugin::strategy::Strategy>, String>, PluginError> {
    Ok(
        match c
            .processor(name, &paths::session(name, paths::STRATEGY))
            .await?
        {
            Answer::Ok(body) => serde_json::from_slice(&body)
                .map(Some)
                .map_err(|e| format!("the processor's answer does not parse: {e}")),
            Answer::NotFound(_) => Ok(None),
            other => Err(other.why_not(name).unwrap_or_default()),
        },
    )
}

/// Everything the screen shows, read now.
pub async fn snapshot(c: &Cluster, name: &str) -> Result<Snapshot, PluginError> {
    let race = c.race(name).await?;
    let live = live(c, &race, name).await?;
    Ok(Snapshot {
        race,
        live,
        now: Timestamp::now(),
    })
}

/// One screen. Without the processor's answers the screen still shows the RaceSession,
/// and the command fails with why (exit code 5).
pub async fn once(c: &Cluster, name: &str, out: &mut dyn Write) -> Result<(), PluginError> {
    let snap = snapshot(c, name).await?;
    out.write_all(screen::render(&snap).as_bytes())
        .and_then(|()| out.flush())
        .map_err(PluginError::write)?;
    match snap.live {
        Live::Unavailable(why) => Err(PluginError::NotRunning {
            name: name.into(),
            why,
        }),
        Live::Available(_) => Ok(()),
    }
}

/// A screen every `interval` until Ctrl-C: redrawn in place on a terminal, else one after
/// another separated by a blank line. An API server away for a moment is a line on the
/// screen, not the end; a race deleted or a permission lost is.
pub async fn watch(
    c: &Cluster,
    name: &str,
    interval: Duration,
    tty: bool,
    out: &mut dyn Write,
) -> Result<(), PluginError> {
    let mut stop = std::pin::pin!(tokio::signal::ctrl_c());
    let mut first = true;
    loop {
        let text = tokio::select! {
            _ = &mut stop => return Ok(()),
            s = snapshot(c, name) => match s {
                Ok(s) => screen::render(&s),
                Err(e @ PluginError::Unreachable { .. }) => format!("{e}\n"),
                Err(e) => return Err(e),
            },
        };
        let framed = match (tty, first) {
            (true, _) => format!(
                "{CLEAR}{text}\nEvery {:?}: kubectl pitstop status {name} (Ctrl-C to stop)\n",
                interval
            ),
            (false, true) => text,
            (false, false) => format!("\n{text}"),
        };
        first = false;
        out.write_all(framed.as_bytes())
            .and_then(|()| out.flush())
            .map_err(PluginError::write)?;
        tokio::select! {
            _ = &mut stop => return Ok(()),
            _ = tokio::time::sleep(interval) => {}
        }
    }
}
