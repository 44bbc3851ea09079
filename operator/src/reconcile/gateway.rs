//! What the F1-game gateway says of itself (`GET /status` on :8000), for the status.
//! Best effort, like [`super::progress`]: a gateway that does not answer in time leaves
//! the last known figures in place.

use super::source_seen::GatewayReport;
use crate::children::meta::{Component, name};
use crate::model::Model;
use pitstop_contract::{paths, ports};
use serde::Deserialize;

/// The fields of the gateway's `/status` the operator reads (others are ignored).
#[derive(Deserialize)]
struct Status {
    datagrams_per_second: f64,
    sessions_seen: u64,
    datagrams: u64,
    dropped: u64,
    finished: bool,
}

/// The gateway's in-cluster address, unless `base` overrides it (tests, out-of-cluster runs).
pub fn url(m: &Model, base: Option<&str>) -> String {
    let base = base.map(str::to_owned).unwrap_or_else(|| {
        format!(
            "http://{}.{}.svc:{}",
            name(m, Component::Gateway),
            m.namespace,
            ports::GATEWAY
        )
    });
    format!("{}{}", base.trim_end_matches('/'), paths::GATEWAY_STATUS)
}

pub async fn fetch(http: &reqwest::Client, url: &str) -> Option<GatewayReport> {
    let s: Status = super::progress::get_json(http, url).await?;
    // Counters past i64 (the status's integers) are not a real gateway's: saturate.
    let int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    Some(GatewayReport {
        datagrams_per_second: s.datagrams_per_second,
        sessions_seen: int(s.sessions_seen),
        datagrams: int(s.datagrams),
        dropped: int(s.dropped),
        finished: s.finished,
    })
}
