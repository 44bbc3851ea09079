//! What the assembler produces, sent to a processor's HTTP API: the start marker, the
//! samples (`POST /telemetry`, NDJSON), the game's safety-car periods and its own stop
//! timings (`POST /api/v1/sessions/{id}/events`), the finish. A request that fails for a
//! reason that can pass (the processor restarting, Redis unavailable) is retried until
//! it lands: the processor de-duplicates by (session, car, seq) and a sample's seq is its
//! game frame, so a resent batch is never counted twice. Meanwhile the queue in front of
//! this task fills, and the receiving loop drops what does not fit (counted), rather
//! than block on a socket the game will not wait for.

use super::agree::{Agreement, Pairing};
use super::assemble::{Output, Start};
use super::metrics::GatewayMetrics;
use crate::http::HttpClient;
use compact_str::CompactString;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Samples and bytes per request (a processor takes 5,000 and 1 MiB by default; a game
/// sample is about 700 bytes of JSON).
const MAX_SAMPLES: usize = 2_000;
const MAX_BODY: usize = 512 * 1024;
/// Outputs taken from the queue at once: one frame of 22 cars is one output.
const DRAIN: usize = 256;

/// Where and how to send.
pub struct Target {
    pub api_url: String,
    pub api_key: String,
}

/// What the sender tells the rest of the gateway.
#[derive(Default)]
pub struct SendState {
    /// A session has been finished at the processor (with `--session`, the race's).
    pub finished: AtomicBool,
    /// Exact arrival → stored latencies (µs, one per sample), when someone asks
    /// (`pitstop bench`); the metric's buckets are too coarse for a p99.
    pub lag_us: std::sync::Mutex<Option<hdrhistogram::Histogram<u64>>>,
}

/// One queued output with the arrival time of the datagram that completed it.
pub type Queued = (Instant, Output);

#[derive(Default)]
struct Session {
    /// The processor holds another game session's start under this id.
    refused: bool,
    /// Added to every time of the session: the start stored by an earlier run of the
    /// gateway minus ours (a restarted gateway anchors game time a few ms differently).
    shift_ms: i64,
}

/// The stored start's `started_at_ms` when it is ours but for the clock (a gateway that
/// restarted re-anchors game time within milliseconds), else `None`.
fn adoptable(ours: &Value, stored: &Value) -> Option<i64> {
    let same = ["circuit", "laps", "cars"]
        .iter()
        .all(|k| ours[*k] == stored[*k]);
    let at = stored["started_at_ms"].as_i64()?;
    let near = (at - ours["started_at_ms"].as_i64()?).abs() < 60_000;
    (same && near).then_some(at)
}

/// Sends until the queue closes.
pub async fn run(
    mut rx: mpsc::Receiver<Queued>,
    target: Target,
    metrics: GatewayMetrics,
    state: Arc<SendState>,
) {
    let client = match HttpClient::new() {
        Ok(c) => c,
        Err(why) => return tracing::error!(error = %why, "no HTTP client"),
    };
    let s = Sender {
        client,
        base: target.api_url.trim_end_matches('/').to_string(),
        key: target.api_key,
        metrics,
        state,
        sessions: HashMap::new(),
        agreement: Agreement::default(),
        pairings: Vec::new(),
    };
    s.run(&mut rx).await
}

struct Sender {
    client: HttpClient,
    base: String,
    key: String,
    metrics: GatewayMetrics,
    state: Arc<SendState>,
    sessions: HashMap<CompactString, Session>,
    agreement: Agreement,
    pairings: Vec<Pairing>,
}

impl Sender {
    async fn run(mut self, rx: &mut mpsc::Receiver<Queued>) {
        let mut batch = Vec::with_capacity(DRAIN);
        while rx.recv_many(&mut batch, DRAIN).await > 0 {
            let mut body: Option<(CompactString, Vec<u8>, usize, Instant)> = None;
            for (arrived, out) in batch.drain(..) {
                if let Output::Samples(id, samples) = &out {
                    if body.as_ref().is_some_and(|(b, bytes, n, _)| {
                        b != id || *n >= MAX_SAMPLES || bytes.len() >= MAX_BODY
                    }) {
                        let (id, bytes, n, t) = body.take().expect("checked");
                        self.telemetry(&id, bytes, n, t).await;
                    }
                    let shift = self.session(id).shift_ms;
                    let (_, bytes, n, _) =
                        body.get_or_insert_with(|| (id.clone(), Vec::new(), 0, arrived));
                    for s in samples {
                        self.agreement.sample(s, &mut self.pairings);
                        let mut s = s.clone();
                        s.timestamp_ms += shift;
                        serde_json::to_writer(&mut *bytes, &s).expect("samples serialize");
                        bytes.push(b'\n');
                        *n += 1;
                    }
                    continue;
                }
                if let Some((id, bytes, n, t)) = body.take() {
                    self.telemetry(&id, bytes, n, t).await;
                }
                self.control(out).await;
            }
            if let Some((id, bytes, n, t)) = body.take() {
                self.telemetry(&id, bytes, n, t).await;
            }
        }
    }

    fn session(&mut self, id: &CompactString) -> &mut Session {
        self.sessions.entry(id.clone()).or_default()
    }

    async fn control(&mut self, out: Output) {
        match out {
            Output::Start(start) => self.start(start).await,
            Output::Finish(id) => {
                self.agreement.finish(&id, &mut self.pairings);
                self.record_pairings();
                let url = format!("{}/api/v1/sessions/{id}/finish", self.base);
                if self
                    .post_until_taken(&url, "application/json", Vec::new())
                    .await
                    .is_some()
                {
                    tracing::info!(session = %id, "chequered flag: session finished");
                    self.state.finished.store(true, Ordering::Relaxed);
                }
            }
            Output::RaceControl(id, at_ms, kind) => {
                let at_ms = at_ms + self.session(&id).shift_ms;
                let event = json!([{ "at_ms": at_ms, "kind": kind, "source": "game" }]);
                self.event(&id, event).await;
            }
            // The game's own timing of a stop is compared with the detector's here (the
            // processor's events are race control only).
            Output::GameStop(stop) => {
                tracing::info!(session = %stop.session, car = stop.car, lap = stop.lap, stationary_ms = stop.stationary_ms, "the game timed a pit stop");
                self.agreement.game_stop(stop, &mut self.pairings);
                self.record_pairings();
            }
            Output::Samples(..) => unreachable!("batched by run"),
        }
    }

    /// Detector against game timer, into the metrics.
    fn record_pairings(&mut self) {
        for p in self.pairings.drain(..) {
            match p {
                Pairing::Matched { car, delta_s } => {
                    self.metrics.stop_agreement.observe(delta_s.abs());
                    self.metrics
                        .game_stops
                        .with_label_values(&["matched"])
                        .inc();
                    tracing::info!(
                        car,
                        delta_s,
                        "pit stop: motion and the game's timer compared"
                    );
                }
                Pairing::Unmatched { car } => {
                    self.metrics
                        .game_stops
                        .with_label_values(&["unmatched"])
                        .inc();
                    tracing::warn!(car, "the game timed a stop the detector did not find");
                }
            }
        }
    }

    /// The start marker; a start an earlier run of the gateway stored with another
    /// anchor is adopted (its times shift ours), any other conflict is logged.
    async fn start(&mut self, start: Start) {
        let url = format!("{}/api/v1/sessions/{}/start", self.base, start.session);
        let mut cars = start.cars.clone();
        cars.sort_by_key(|c| c.car);
        let mut body = json!({
            "circuit": start.circuit, "laps": start.laps,
            "started_at_ms": start.started_at_ms, "cars": cars,
        });
        for _ in 0..2 {
            let bytes = serde_json::to_vec(&body).expect("serializes");
            let Some((status, answer)) =
                self.post_until_taken(&url, "application/json", bytes).await
            else {
                return;
            };
            if status != 409 {
                tracing::info!(session = %start.session, circuit = %start.circuit, cars = cars.len(), "game session started");
                return;
            }
            match adoptable(&body, &answer["started"]) {
                Some(stored) => {
                    self.session(&start.session).shift_ms = stored - start.started_at_ms;
                    body["started_at_ms"] = json!(stored);
                }
                None => break,
            }
        }
        // Another game's session under this name (the game restarted its race while the
        // gateway was away, say): its frames would collide with the stored ones'.
        tracing::error!(session = %start.session, answer = %body, "the processor has another start for this session: its samples are refused; give the race a new session");
        self.session(&start.session).refused = true;
    }

    async fn event(&mut self, id: &str, events: Value) {
        let url = format!("{}/api/v1/sessions/{id}/events", self.base);
        let bytes = serde_json::to_vec(&events).expect("serializes");
        self.post_until_taken(&url, "application/json", bytes).await;
    }

    async fn telemetry(&mut self, id: &str, body: Vec<u8>, n: usize, arrived: Instant) {
        let refused =
            |m: &GatewayMetrics| m.samples.with_label_values(&["refused"]).inc_by(n as u64);
        if self.sessions.get(id).is_some_and(|s| s.refused) {
            return refused(&self.metrics);
        }
        let url = format!("{}/telemetry", self.base);
        let Some((status, answer)) = self
            .post_until_taken(&url, "application/x-ndjson", body)
            .await
        else {
            return refused(&self.metrics);
        };
        if status == 409 {
            // The session is finished, or fed by the simulator: nothing of it is taken.
            tracing::warn!(session = id, answer = %answer, "the processor refused the session's samples");
            return refused(&self.metrics);
        }
        let lag = arrived.elapsed();
        self.metrics.lag.observe(lag.as_secs_f64());
        if let Some(h) = self.state.lag_us.lock().expect("not poisoned").as_mut() {
            let _ = h.record_n(lag.as_micros() as u64, n as u64);
        }
        let stored = answer["accepted"].as_u64().unwrap_or(0);
        let duplicates = answer["duplicates"].as_u64().unwrap_or(0);
        let refused = answer["rejected"].as_array().map_or(0, |r| r.len() as u64);
        if refused > 0 {
            tracing::warn!(session = id, status, refused, first = %answer["rejected"][0], "the processor refused samples");
        }
        let m = &self.metrics.samples;
        m.with_label_values(&["stored"]).inc_by(stored);
        m.with_label_values(&["duplicate"]).inc_by(duplicates);
        m.with_label_values(&["refused"]).inc_by(refused);
    }

    /// POSTs until the processor answers something other than "try again" (408, 429, 502,
    /// 503, 504, a timeout, no connection): its status and JSON body, or `None` for a refusal that
    /// resending cannot change (logged).
    async fn post_until_taken(
        &self,
        url: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Option<(u16, Value)> {
        let headers = [
            ("x-api-key", self.key.as_str()),
            ("content-type", content_type),
        ];
        let mut wait = Duration::from_millis(100);
        loop {
            match self
                .client
                .post(url, &headers, body.clone(), Duration::from_secs(30))
                .await
            {
                Ok(a) if (200..300).contains(&a.status) || a.status == 409 => {
                    return Some((
                        a.status,
                        serde_json::from_slice(&a.body).unwrap_or_default(),
                    ));
                }
                Ok(a) if !matches!(a.status, 408 | 429 | 502 | 503 | 504) => {
                    let path = url.strip_prefix(&self.base).unwrap_or(url);
                    tracing::error!(path, status = a.status, answer = %String::from_utf8_lossy(&a.body), "the processor refused a request");
                    return None;
                }
                Ok(a) => tracing::warn!(status = a.status, "processor busy; retrying"),
                Err(why) => tracing::warn!(error = %why, "processor unreachable; retrying"),
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored start is adopted when it is this race but for the clock, never another's.
    #[test]
    fn only_our_own_start_is_adopted() {
        let ours = json!({"circuit": "monza", "laps": 5, "started_at_ms": 1_000_000,
            "cars": [{"car": 16, "driver": "LECLERC", "team": "Ferrari"}]});
        let mut stored = ours.clone();
        stored["started_at_ms"] = json!(1_000_037);
        assert_eq!(adoptable(&ours, &stored), Some(1_000_037));
        let mut other_race = stored.clone();
        other_race["laps"] = json!(7);
        assert_eq!(adoptable(&ours, &other_race), None);
        let mut hours_apart = stored.clone();
        hours_apart["started_at_ms"] = json!(1_000_000 + 3_600_000);
        assert_eq!(adoptable(&ours, &hours_apart), None);
        assert_eq!(adoptable(&ours, &Value::Null), None);
    }
}
