//! Race progress for the status, read from the processor's API
//! (`GET /api/v1/sessions/<race>`). Best effort: an unreachable processor leaves the
//! last known progress in place.

use crate::api::RaceProgress;
use crate::model::Model;
use serde::Deserialize;
use std::time::Duration;

#[derive(Deserialize)]
struct Leader {
    driver: String,
    team: String,
}

#[derive(Deserialize)]
struct Session {
    lap: i32,
    total_laps: Option<i32>,
    finished: bool,
    samples_processed: i64,
    pit_stops: i64,
    anomalies: i64,
    leader: Option<Leader>,
    /// Absent from processors older than this operator.
    #[serde(default)]
    started_at_ms: Option<i64>,
}

/// The processor's in-cluster address, unless `base` overrides it (tests, out-of-cluster runs).
pub fn url(m: &Model, base: Option<&str>) -> String {
    let base = base
        .map(str::to_owned)
        .unwrap_or_else(|| format!("http://{}-processor.{}.svc:8001", m.name, m.namespace));
    format!("{}/api/v1/sessions/{}", base.trim_end_matches('/'), m.name)
}

/// A workload's JSON answer within 2 s, or nothing (not up yet, restarting, busy: the
/// status keeps what it last saw).
pub async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
) -> Option<T> {
    let resp = http
        .get(url)
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?;
    if !resp.status().is_success() {
        return None;
    }
    resp.json().await.ok()
}

pub async fn fetch(http: &reqwest::Client, url: &str) -> Option<RaceProgress> {
    let s: Session = get_json(http, url).await?;
    Some(RaceProgress {
        lap: s.lap,
        total_laps: s.total_laps.unwrap_or_default(),
        leader: s.leader.map(|l| format!("{} ({})", l.driver, l.team)),
        pit_stops: s.pit_stops,
        anomalies: s.anomalies,
        samples_processed: s.samples_processed,
        finished: s.finished,
        started_at: s
            .started_at_ms
            .and_then(|ms| k8s_openapi::jiff::Timestamp::from_millisecond(ms).ok())
            .map(|t| t.to_string()),
    })
}
