//! A whole OpenF1 session fetched by its key (`pitstop replay --openf1-session`): first
//! what is small and annotates the rest — the session, drivers, laps, stints, pit visits,
//! positions and race control, one page each — then the large `car_data` and `location`
//! per driver and time window, annotated as they come ([`LiveSession::window`]). One
//! window of every driver is in memory at a time, never the whole race.
//!
//! The same records give the same samples on every run (same times, annotations and
//! order), so a run again after a failure resends what the processor already has and it
//! is recognised as such (`POST /telemetry` de-duplicates by car and time).

use super::dirt::Dirt;
use super::openf1::{collect, session_of};
use super::openf1_annotate::{Driver, DriverContext, DriverFeed};
use super::openf1_events::{SessionEvent, from_race_control};
use super::openf1_fetch::{FetchError, Fetcher, Page};
use super::options::FeedOptions;
use super::time;
use crate::model::{Sample, UNKNOWN_TEAM, validate_session};
use crate::stream::{CarInfo, SessionInfo};
use compact_str::CompactString;
use serde_json::Value;
use std::collections::BTreeMap;

/// Car data and locations per request: ten minutes of one driver (about 2,200 records at
/// OpenF1's 3.7 Hz; a page of the whole field would be twenty times that).
pub const DEFAULT_WINDOW_MS: i64 = 10 * 60_000;

/// Locations fetched on either side of a window, so that samples at its edges are
/// placed as within it (a location is used up to 1 s from a sample).
const LOCATION_MARGIN_MS: i64 = 1_000;

/// The endpoints fetched once per session, before the car data.
const SMALL: [&str; 5] = ["drivers", "laps", "stints", "pit", "position"];

/// What a live replay is asked for.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    pub session_key: i64,
    /// Session id and grid (`--session`, `--grid`); the id defaults to `openf1-<key>`.
    pub feed: FeedOptions,
    /// Circuit of the start marker (default: the session's `circuit_short_name`).
    pub circuit: Option<String>,
    pub window_ms: i64,
}

/// A session being fetched: what its start marker says, its events, and each driver's
/// annotation state.
pub struct LiveSession {
    pub info: SessionInfo,
    pub events: Vec<SessionEvent>,
    /// Where the car data is fetched, `[from, to)`.
    pub span: (i64, i64),
    session_key: i64,
    session: CompactString,
    window_ms: i64,
    feeds: BTreeMap<u8, DriverFeed>,
}

/// The session record: its span and circuit.
struct SessionRecord {
    start_ms: i64,
    end_ms: i64,
    circuit: Option<String>,
}

fn session_record(records: &[Value], key: i64) -> anyhow::Result<SessionRecord> {
    let Some(r) = records.first() else {
        anyhow::bail!("OpenF1 has no session {key} (/v1/sessions?session_key={key} is empty)");
    };
    let date = |field: &str| -> anyhow::Result<i64> {
        let text = r.get(field).and_then(Value::as_str).ok_or_else(|| {
            anyhow::anyhow!("OpenF1 session {key}: {field} is missing or not a string")
        })?;
        time::date_ms(text).map_err(|e| anyhow::anyhow!("OpenF1 session {key}: {field}: {e}"))
    };
    Ok(SessionRecord {
        start_ms: date("date_start")?,
        end_ms: date("date_end")?,
        circuit: r
            .get("circuit_short_name")
            .and_then(Value::as_str)
            .map(circuit_id),
    })
}

/// A circuit name as an id (`Zandvoort` → `zandvoort`, `Yas Marina Circuit` →
/// `yas-marina-circuit`).
fn circuit_id(name: &str) -> String {
    let mut id = String::new();
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() {
            id.push(c.to_ascii_lowercase());
        } else if !id.ends_with('-') && !id.is_empty() {
            id.push('-');
        }
    }
    id.trim_end_matches('-').to_owned()
}

/// What the laps records say of the whole session: its distance (the highest lap),
/// lights out (the earliest lap-1 start) and the end of its last lap.
struct LapSpan {
    laps: u16,
    lights_out: Option<i64>,
    last_end: Option<i64>,
}

fn lap_span(drivers: &BTreeMap<u8, Driver>) -> LapSpan {
    let all = || drivers.values().flat_map(|d| d.laps.iter());
    LapSpan {
        laps: all().map(|(n, _)| *n).max().unwrap_or(1).clamp(1, 200),
        lights_out: all()
            .filter(|(n, _)| **n == 1)
            .filter_map(|(_, l)| l.start)
            .min(),
        last_end: all()
            .filter_map(|(_, l)| Some(l.start? + l.duration.unwrap_or(0)))
            .max(),
    }
}

impl LiveSession {
    /// Fetches the session and everything small about it. What cannot be taken of the
    /// records goes into `dirt`.
    pub async fn open(
        fetcher: &Fetcher,
        opts: &LiveOptions,
        dirt: &mut Dirt,
    ) -> anyhow::Result<LiveSession> {
        let key = opts.session_key;
        let page = |endpoint| Page {
            endpoint,
            session_key: key,
            driver: None,
            window: None,
        };
        let record = session_record(&fetcher.fetch(&page("sessions")).await?, key)?;
        let mut small = Vec::new();
        for endpoint in SMALL {
            small.extend(fetcher.fetch(&page(endpoint)).await?);
        }
        let events = from_race_control(&fetcher.fetch(&page("race_control")).await?);
        let (_, mut drivers) = collect(&small, dirt);
        let span = lap_span(&drivers);
        let mut feeds = BTreeMap::new();
        for (car, d) in &mut drivers {
            let ctx = DriverContext::new(*car, d, &opts.feed, dirt);
            feeds.insert(*car, DriverFeed::new(*car, ctx, true));
        }
        let circuit = opts
            .circuit
            .clone()
            .or(record.circuit)
            .unwrap_or_else(|| "openf1".into());
        validate_session(&circuit).map_err(|e| anyhow::anyhow!("circuit {circuit:?}: {e}"))?;
        let session = session_of(&opts.feed, Some(key))?;
        let info = SessionInfo {
            session: session.to_string(),
            circuit,
            laps: span.laps,
            partitions: 0,
            // Lights out, the origin of race times; else the session's start.
            started_at_ms: span.lights_out.unwrap_or(record.start_ms),
            cars: feeds.values().map(car_info).collect(),
        };
        // A race overrunning its scheduled end (a red flag) is fetched to its last lap.
        let end_ms = record.end_ms.max(span.last_end.map_or(0, |e| e + 60_000));
        Ok(LiveSession {
            info,
            events,
            span: (record.start_ms, end_ms),
            session_key: key,
            session,
            window_ms: opts.window_ms.max(1_000),
            feeds,
        })
    }

    /// The windows of car data, in time order.
    pub fn windows(&self) -> Vec<(i64, i64)> {
        let (mut from, end) = self.span;
        let mut out = Vec::new();
        while from < end {
            let to = (from + self.window_ms).min(end);
            out.push((from, to));
            from = to;
        }
        out
    }

    /// Pages the whole session takes: the small ones, then two per driver and window.
    pub fn pages(&self) -> u64 {
        (SMALL.len() as u64 + 2) + 2 * self.feeds.len() as u64 * self.windows().len() as u64
    }

    /// Car data left out after the drivers' finishes (their cool-down laps).
    pub fn after_finish(&self) -> u64 {
        self.feeds.values().map(|f| f.after_finish).sum()
    }

    /// Every driver's samples of one window, in time order, and what could not be taken
    /// of each driver's pages (named by driver and window; the records by their index in
    /// the car data page followed by the location page).
    pub async fn window(
        &mut self,
        fetcher: &Fetcher,
        (from, to): (i64, i64),
    ) -> Result<(Vec<Sample>, Vec<(String, Dirt)>), FetchError> {
        let (mut out, mut dirty) = (Vec::new(), Vec::new());
        for (car, feed) in &mut self.feeds {
            let page = |endpoint, window| Page {
                endpoint,
                session_key: self.session_key,
                driver: Some(*car),
                window: Some(window),
            };
            let car_data = page("car_data", (from, to));
            let mut records = fetcher.fetch(&car_data).await?;
            let margin = (from - LOCATION_MARGIN_MS, to + LOCATION_MARGIN_MS);
            records.extend(fetcher.fetch(&page("location", margin)).await?);
            let mut dirt = Dirt::default();
            let (_, mut drivers) = collect(&records, &mut dirt);
            // A page holds the driver asked for; anything else is not this feed's.
            if let Some(d) = drivers.remove(car) {
                let taken = feed.annotate(d, &self.session, &mut dirt);
                out.extend(taken.into_iter().map(|(_, s)| s));
            }
            if !dirt.is_clean() {
                dirty.push((format!("{car_data} (and its location)"), dirt));
            }
        }
        out.sort_by_key(|s| (s.timestamp_ms, s.car));
        Ok((out, dirty))
    }
}

/// A car of the start marker, named as its samples are.
fn car_info(f: &DriverFeed) -> CarInfo {
    CarInfo {
        car: f.car,
        driver: f
            .ctx
            .driver
            .clone()
            .unwrap_or_else(|| compact_str::format_compact!("{}", f.car)),
        team: f
            .ctx
            .team
            .clone()
            .unwrap_or(CompactString::const_new(UNKNOWN_TEAM)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn circuit_names_become_ids() {
        assert_eq!(circuit_id("Zandvoort"), "zandvoort");
        assert_eq!(circuit_id(" Yas Marina Circuit "), "yas-marina-circuit");
        assert_eq!(circuit_id("Spa-Francorchamps"), "spa-francorchamps");
    }
}
