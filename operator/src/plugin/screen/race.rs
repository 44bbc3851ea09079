//! The sections the RaceSession itself holds: the header, conditions, components and
//! the post-race pipeline.

use super::snapshot::{Live, Snapshot};
use super::text::{age, count, cut, table};
use crate::api::{RaceSession, RaceSessionStatus, RunPhase};
use k8s_openapi::jiff::Timestamp;

/// Longest condition or task message shown.
const MESSAGE: usize = 90;

fn status(race: &RaceSession) -> RaceSessionStatus {
    race.status.clone().unwrap_or_default()
}

fn field(name: &str, value: String) -> String {
    format!("{:<10}{value}", format!("{name}:"))
}

pub fn header(s: &Snapshot) -> Vec<String> {
    let race = &s.race;
    let st = status(race);
    let ns = race.metadata.namespace.clone().unwrap_or_default();
    let name = race.metadata.name.clone().unwrap_or_default();
    let mut lines = vec![field("Race", format!("{ns}/{name}"))];
    let phase = st.phase.map_or("-".to_string(), |p| format!("{p:?}"));
    lines.push(field("Phase", phase));
    let ready = st.conditions.iter().find(|c| c.type_ == "Ready");
    lines.push(field(
        "Ready",
        ready.map_or("unknown (no status yet)".into(), |c| {
            format!("{} ({})", c.status, c.reason)
        }),
    ));
    lines.push(field("Circuit", race.spec.circuit.as_str().to_string()));
    let live = match &s.live {
        Live::Available(d) => Some(&d.session),
        Live::Unavailable(_) => None,
    };
    let progress = st.race.as_ref();
    let lap = live.map(|l| l.lap).or(progress.map(|p| p.lap));
    let total = live
        .and_then(|l| l.total_laps)
        .or(progress.map(|p| p.total_laps).filter(|t| *t > 0))
        .unwrap_or(i32::from(race.spec.laps));
    let finished = live.map(|l| l.finished).or(progress.map(|p| p.finished));
    lines.push(field(
        "Lap",
        match (lap, finished) {
            (Some(l), Some(true)) => format!("{l} / {total} (finished)"),
            (Some(l), _) => format!("{l} / {total}"),
            (None, _) => format!("- / {total} (not started)"),
        },
    ));
    let leader = live
        .and_then(|l| l.leader.as_ref())
        .map(|c| format!("{} ({})", c.driver, c.team))
        .or(progress.and_then(|p| p.leader.clone()));
    if let Some(l) = leader {
        lines.push(field("Leader", l));
    }
    if let Some(src) = &st.source {
        let mut text = src.type_.as_str().to_string();
        if let Some(e) = &src.endpoint {
            text.push_str(&format!(", endpoint {e}"));
        }
        lines.push(field("Source", text));
    }
    match (live, progress) {
        (Some(l), _) => lines.push(field(
            "Samples",
            format!(
                "{} processed, {}, {}, {}",
                l.samples_processed,
                count(l.cars, "car", "cars"),
                count(l.pit_stops, "pit stop", "pit stops"),
                count(l.anomalies, "anomaly", "anomalies")
            ),
        )),
        (None, Some(p)) => lines.push(field(
            "Samples",
            format!(
                "{} processed, {}, {} (as the operator last saw)",
                p.samples_processed,
                count(p.pit_stops, "pit stop", "pit stops"),
                count(p.anomalies, "anomaly", "anomalies")
            ),
        )),
        (None, None) => {}
    }
    lines
}

pub fn conditions(race: &RaceSession) -> Vec<String> {
    let st = status(race);
    if st.conditions.is_empty() {
        return vec!["Conditions: none yet (the operator has not written a status)".into()];
    }
    let rows: Vec<Vec<String>> = st
        .conditions
        .iter()
        .map(|c| {
            vec![
                c.type_.clone(),
                c.status.clone(),
                c.reason.clone(),
                cut(&super::super::error::one_line(&c.message), MESSAGE),
            ]
        })
        .collect();
    let mut lines = vec!["Conditions".to_string()];
    lines.extend(table(&["TYPE", "STATUS", "REASON", "MESSAGE"], &rows));
    lines
}

pub fn components(race: &RaceSession) -> Vec<String> {
    let st = status(race);
    if st.components.is_empty() {
        return vec!["Components: none reported yet".into()];
    }
    let rows: Vec<Vec<String>> = st
        .components
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                if c.ready { "yes" } else { "no" }.into(),
                format!("{}/{}", c.ready_replicas, c.replicas),
            ]
        })
        .collect();
    let mut lines = vec!["Components".to_string()];
    lines.extend(table(&["NAME", "READY", "REPLICAS"], &rows));
    lines
}

pub fn pipeline(race: &RaceSession, now: Timestamp) -> Vec<String> {
    let name = race.metadata.name.clone().unwrap_or_default();
    let Some(p) = status(race)
        .pipeline
        .filter(|p| p.run > 0 || p.request_refused.is_some())
    else {
        return vec![format!(
            "Post-race pipeline: no run yet (it starts when the race finishes, or: kubectl pitstop run-pipeline {name})"
        )];
    };
    let mut lines = Vec::new();
    if p.run > 0 {
        let mut title = format!(
            "Post-race pipeline: run {} {:?} (trigger {})",
            p.run, p.phase, p.trigger
        );
        if let Some(at) = &p.started_at {
            title.push_str(&format!(", started {} ago", age(at, now)));
        }
        if let (Some(at), true) = (&p.finished_at, p.phase != RunPhase::Running) {
            title.push_str(&format!(", finished {} ago", age(at, now)));
        }
        lines.push(title);
    } else {
        lines.push("Post-race pipeline: no run yet".into());
    }
    if let Some(why) = &p.request_refused {
        lines.push(format!("  last request refused: {why}"));
    }
    if !p.tasks.is_empty() {
        let rows: Vec<Vec<String>> = p
            .tasks
            .iter()
            .map(|t| {
                vec![
                    t.name.clone(),
                    format!("{:?}", t.phase),
                    t.attempts.to_string(),
                    t.job.clone().unwrap_or_else(|| "-".into()),
                    cut(&super::super::error::one_line(&t.message), MESSAGE),
                ]
            })
            .collect();
        lines.extend(table(
            &["TASK", "PHASE", "ATTEMPTS", "JOB", "MESSAGE"],
            &rows,
        ));
    }
    if let Some(last) = p.history.first() {
        let failed = if last.failed_tasks.is_empty() {
            String::new()
        } else {
            format!(" ({} did not succeed)", last.failed_tasks.join(", "))
        };
        lines.push(format!(
            "  previous: run {} {:?}{failed}",
            last.run, last.phase
        ));
    }
    lines
}
