//! A replay through a processor's HTTP API: samples at N×, session events as the race
//! clock reaches them, retries that never send twice.

use super::recording::{Recording, TICK_MS};
use crate::feeds::openf1_events::SessionEvent;
use crate::http::HttpClient;
use crate::model::Sample;
use crate::stream::SessionInfo;
use anyhow::bail;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Progress of a replay, readable from another thread.
#[derive(Default)]
pub struct ReplayProgress {
    pub sent: AtomicU64,
    pub lap: AtomicU64,
}

/// Largest request body a replay sends (a processor takes 1 MiB by default).
const MAX_BODY: usize = 512 * 1024;
/// Samples per request (a processor takes 5,000 by default).
const MAX_SAMPLES: usize = 2_000;

/// What the processor answered to a replay's requests, summed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Answered {
    pub sent: u64,
    pub accepted: u64,
    pub duplicates: u64,
    /// Samples the processor refused (a time more than a day ahead, …), with the first.
    pub rejected: u64,
    pub first_rejected: Option<String>,
}

impl Answered {
    fn add(&mut self, sent: usize, answer: &serde_json::Value) {
        self.sent += sent as u64;
        self.accepted += answer["accepted"].as_u64().unwrap_or(0);
        self.duplicates += answer["duplicates"].as_u64().unwrap_or(0);
        if let Some(r) = answer["rejected"].as_array().filter(|r| !r.is_empty()) {
            self.rejected += r.len() as u64;
            self.first_rejected
                .get_or_insert_with(|| r[0]["error"].as_str().unwrap_or("?").to_owned());
        }
    }
}

/// Feeds a recording through `POST /telemetry` at `speed`× real time (`None`: flat out),
/// then finishes the session. Requests answered 503 (the stream is unavailable) are
/// retried with backoff; any other refusal stops the replay with the processor's reason.
/// `strict` asks the processor for all or nothing per request.
pub async fn to_api(
    rec: &Recording,
    api_url: &str,
    api_key: &str,
    speed: Option<f64>,
    progress: &Arc<ReplayProgress>,
    strict: bool,
) -> anyhow::Result<Answered> {
    let mut f = Feeder::new(api_url, api_key, &rec.session, speed, progress, strict)?;
    f.start(&rec.info(0)).await?;
    f.feed(&rec.samples, &mut Events::default()).await?;
    f.finish().await?;
    Ok(f.answered)
}

/// How the processor recognises a resent sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Keys {
    /// By the `seq` the replay gives (a recording is numbered whole before it is sent).
    Seq,
    /// By car and time, the processor numbering: samples fetched window by window
    /// cannot be numbered whole, and a time stays the same however pages fall.
    Time,
}

/// Takes `"seq":N` out of the sample serialized at `from`: the field follows the session
/// (an id without quotes), car, time and speed, so its first match is the field.
fn unnumber(body: &mut Vec<u8>, from: usize) {
    const FIELD: &[u8] = b",\"seq\":";
    let Some(at) = body[from..].windows(FIELD.len()).position(|w| w == FIELD) else {
        return;
    };
    let start = from + at;
    let digits = body[start + FIELD.len()..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    body.drain(start..start + FIELD.len() + digits);
}

/// Session events waiting for the race clock to reach them.
#[derive(Default)]
pub(super) struct Events {
    pub(super) pending: Vec<SessionEvent>,
    pub(super) next: usize,
    pub(super) stored: u64,
    pub(super) duplicates: u64,
}

impl Events {
    /// The events due at race time `t` (all of them with `None`), taken.
    pub(super) fn due(&mut self, t: Option<i64>) -> &[SessionEvent] {
        let from = self.next;
        while self
            .pending
            .get(self.next)
            .is_some_and(|e| t.is_none_or(|t| e.at_ms <= t))
        {
            self.next += 1;
        }
        &self.pending[from..self.next]
    }
}

/// Sends samples and events to one processor, paced against the race clock.
pub(super) struct Feeder<'a> {
    pub(super) client: HttpClient,
    pub(super) base: String,
    pub(super) key: &'a str,
    pub(super) session: String,
    pub(super) telemetry: String,
    pub(super) speed: Option<f64>,
    /// The wall clock and race time the pacing starts from (the first sample sent).
    pub(super) origin: Option<(Instant, i64)>,
    pub(super) keys: Keys,
    pub(super) progress: &'a Arc<ReplayProgress>,
    pub(super) answered: Answered,
}

impl<'a> Feeder<'a> {
    /// A feeder that sends with `seq` ([`Keys::Seq`]).
    pub(super) fn new(
        api_url: &str,
        key: &'a str,
        session: &str,
        speed: Option<f64>,
        progress: &'a Arc<ReplayProgress>,
        strict: bool,
    ) -> anyhow::Result<Self> {
        let base = api_url.trim_end_matches('/').to_owned();
        Ok(Feeder {
            client: HttpClient::new().map_err(anyhow::Error::msg)?,
            telemetry: format!(
                "{base}/telemetry{}",
                if strict { "?strict=true" } else { "" }
            ),
            base,
            key,
            session: session.to_owned(),
            speed,
            origin: None,
            keys: Keys::Seq,
            progress,
            answered: Answered::default(),
        })
    }

    /// The session's metadata, as the simulator's start marker gives it.
    pub(super) async fn start(&self, info: &SessionInfo) -> anyhow::Result<()> {
        let start = serde_json::json!({
            "circuit": info.circuit,
            "laps": info.laps,
            "started_at_ms": info.started_at_ms,
            "cars": info.cars,
        });
        let url = format!("{}/api/v1/sessions/{}/start", self.base, self.session);
        self.post_once("starting the session", &url, serde_json::to_vec(&start)?)
            .await
            .map(drop)
    }

    /// The chequered flag.
    pub(super) async fn finish(&self) -> anyhow::Result<()> {
        let url = format!("{}/api/v1/sessions/{}/finish", self.base, self.session);
        self.post_once("finishing the session", &url, Vec::new())
            .await
            .map(drop)
    }

    /// One POST that must succeed; its JSON answer. A processor that is not up yet (a
    /// race's replay Job starts with it) is waited for, up to [`PROCESSOR_WAIT`].
    pub(super) async fn post_once(
        &self,
        what: &str,
        url: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<serde_json::Value> {
        let headers = [
            ("x-api-key", self.key),
            ("content-type", "application/json"),
        ];
        let answer = until_up(what, || {
            self.client
                .post(url, &headers, body.clone(), Duration::from_secs(30))
        })
        .await?;
        if !(200..300).contains(&answer.status) {
            bail!(
                "{what}: HTTP {}: {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            );
        }
        Ok(serde_json::from_slice(&answer.body).unwrap_or_default())
    }

    /// Sends `samples` (in time order) tick by tick, with whatever else is already due
    /// when the clock is ahead of the requests (at high speeds a tick is shorter than a
    /// request), or as much as fits in a request when flat out; each request preceded by
    /// the events due by its last sample.
    pub(super) async fn feed(
        &mut self,
        samples: &[Sample],
        events: &mut Events,
    ) -> anyhow::Result<()> {
        let mut body = Vec::with_capacity(MAX_BODY + 4096);
        let mut i = 0;
        while i < samples.len() {
            let until = self.due_by(samples[i].timestamp_ms + TICK_MS);
            let first = i;
            while i < samples.len()
                && until.is_none_or(|until| samples[i].timestamp_ms < until)
                && i - first < MAX_SAMPLES
                && body.len() < MAX_BODY
            {
                self.write(&mut body, &samples[i])?;
                i += 1;
            }
            let last = &samples[i - 1];
            self.pace(last.timestamp_ms).await;
            let due = events.due(Some(last.timestamp_ms)).to_vec();
            self.post_events(&due, events).await?;
            let answer = post_with_retry(
                &self.client,
                &self.telemetry,
                self.key,
                TELEMETRY,
                std::mem::take(&mut body),
            )
            .await?;
            self.answered.add(i - first, &answer);
            self.progress
                .sent
                .store(self.answered.sent, Ordering::Relaxed);
            self.progress
                .lap
                .store(last.lap.unwrap_or(0) as u64, Ordering::Relaxed);
        }
        Ok(())
    }

    /// One sample as an NDJSON line: with its `seq`, or without for the processor to
    /// number.
    pub(super) fn write(&self, body: &mut Vec<u8>, s: &Sample) -> anyhow::Result<()> {
        let from = body.len();
        serde_json::to_writer(&mut *body, s)?;
        if self.keys == Keys::Time {
            unnumber(body, from);
        }
        body.push(b'\n');
        Ok(())
    }

    /// The race time a request may reach: the end of its tick, or further if the clock
    /// is already past it; `None` when flat out.
    pub(super) fn due_by(&self, tick_end: i64) -> Option<i64> {
        let speed = self.speed?;
        let Some((wall0, race0)) = self.origin else {
            return Some(tick_end);
        };
        let now = race0 + (wall0.elapsed().as_secs_f64() * speed * 1000.0) as i64;
        Some(tick_end.max(now))
    }

    /// Waits until race time `t` is due at `speed`× (at once when flat out).
    pub(super) async fn pace(&mut self, t: i64) {
        let Some(speed) = self.speed else { return };
        let (wall0, race0) = *self.origin.get_or_insert((Instant::now(), t));
        let race_s = (t - race0) as f64 / 1000.0;
        let due = Duration::try_from_secs_f64((race_s / speed).max(0.0)).unwrap_or(Duration::MAX);
        if let Some(wait) = due.checked_sub(wall0.elapsed()) {
            tokio::time::sleep(wait).await;
        }
    }

    /// Posts session events (nothing when there are none); a resend stores nothing twice.
    pub(super) async fn post_events(
        &self,
        due: &[SessionEvent],
        events: &mut Events,
    ) -> anyhow::Result<()> {
        if due.is_empty() {
            return Ok(());
        }
        let url = format!("{}/api/v1/sessions/{}/events", self.base, self.session);
        let answer = post_with_retry(
            &self.client,
            &url,
            self.key,
            EVENTS,
            serde_json::to_vec(due)?,
        )
        .await?;
        events.stored += answer["stored"].as_u64().unwrap_or(0);
        events.duplicates += answer["duplicates"].as_u64().unwrap_or(0);
        Ok(())
    }
}

/// What is posted with retries: the endpoint as errors name it and the body's type.
#[derive(Clone, Copy)]
struct Posted {
    endpoint: &'static str,
    content_type: &'static str,
}

const TELEMETRY: Posted = Posted {
    endpoint: "POST /telemetry",
    content_type: "application/x-ndjson",
};
const EVENTS: Posted = Posted {
    endpoint: "POST /api/v1/sessions/{id}/events",
    content_type: "application/json",
};

/// Posts one batch; its JSON answer once 2xx. A 503 (the stream or the database away)
/// or no answer is retried with backoff: a resend is recognised as such.
async fn post_with_retry(
    client: &HttpClient,
    url: &str,
    key: &str,
    what: Posted,
    body: Vec<u8>,
) -> anyhow::Result<serde_json::Value> {
    let headers = [("x-api-key", key), ("content-type", what.content_type)];
    let endpoint = what.endpoint;
    let mut wait = Duration::from_millis(250);
    for attempt in 1..=10 {
        match client
            .post(url, &headers, body.clone(), Duration::from_secs(30))
            .await
        {
            Ok(a) if (200..300).contains(&a.status) => {
                return Ok(serde_json::from_slice(&a.body).unwrap_or_default());
            }
            Ok(a) if a.status != 503 => bail!(
                "{endpoint} refused a batch: HTTP {}: {}",
                a.status,
                String::from_utf8_lossy(&a.body)
            ),
            Ok(_) => tracing::warn!(attempt, endpoint, "processor answered 503; retrying"),
            Err(e) => tracing::warn!(attempt, endpoint, error = %e, "post failed; retrying"),
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(5));
    }
    bail!("{endpoint} kept failing after 10 attempts")
}

/// Whether the processor has `session` finished (a replay run again after its end, as a
/// Job's retry may be, has nothing left to send); `false` for a session it does not know.
/// How long a replay waits for a processor that does not answer yet.
const PROCESSOR_WAIT: Duration = Duration::from_secs(300);

/// `call` until the processor answers with something other than "not now" (no
/// connection, a timeout, 408, 429, 502, 503, 504), for up to [`PROCESSOR_WAIT`].
async fn until_up<F, Fut>(what: &str, mut call: F) -> anyhow::Result<crate::http::Answer>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<crate::http::Answer, String>>,
{
    let t0 = Instant::now();
    let mut wait = Duration::from_millis(500);
    loop {
        let why = match call().await {
            Ok(a) if !matches!(a.status, 408 | 429 | 502 | 503 | 504) => return Ok(a),
            Ok(a) => format!("HTTP {}", a.status),
            Err(e) => e,
        };
        if t0.elapsed() + wait > PROCESSOR_WAIT {
            bail!("{what}: {why} (for {} s)", t0.elapsed().as_secs());
        }
        tracing::warn!(what, error = %why, "the processor is not up yet; retrying");
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(10));
    }
}

pub async fn session_finished(api_url: &str, session: &str) -> anyhow::Result<bool> {
    let client = HttpClient::new().map_err(anyhow::Error::msg)?;
    let url = format!(
        "{}/api/v1/sessions/{session}",
        api_url.trim_end_matches('/')
    );
    let what = format!("asking the processor about session {session}");
    let answer = until_up(&what, || client.get(&url, &[], Duration::from_secs(30))).await?;
    match answer.status {
        404 => Ok(false),
        200 => {
            let v: serde_json::Value = serde_json::from_slice(&answer.body)?;
            Ok(v["finished"] == true)
        }
        status => bail!(
            "asking the processor about session {session}: HTTP {status}: {}",
            String::from_utf8_lossy(&answer.body)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Sample;

    /// A sample sent for the processor to number is the same sample without `seq`.
    #[test]
    fn unnumbered_samples_lose_only_their_seq() {
        let mut s = Sample {
            car: 16,
            timestamp_ms: 1_756_645_380_000,
            ..Sample::example()
        };
        s.seq = 4_000_000;
        s.driver = Some("x,\"seq\":1".into());
        let mut body = b"[".to_vec();
        unnumber(&mut body, 0);
        serde_json::to_writer(&mut body, &s).unwrap();
        unnumber(&mut body, 1);
        let back: Sample = serde_json::from_slice(&body[1..]).unwrap();
        assert_eq!(back.seq, crate::model::SEQ_ABSENT);
        assert_eq!(Sample { seq: s.seq, ..back }, s);
    }
}
