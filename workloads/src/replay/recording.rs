//! A recording: files read into samples, numbered per car, and replayed tick by tick as
//! the simulator's [`Source`].

use crate::feeds::{self, Dirt, FeedOptions, Format};
use crate::model::Sample;
use crate::sim::publisher::Source;
use crate::stream::{CarInfo, SessionInfo};
use anyhow::{Context, bail};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Race time per tick: samples within one tick are sent together when pacing.
pub(super) const TICK_MS: i64 = 100;

/// A recording loaded into memory, in time order.
#[derive(Clone, Debug)]
pub struct Recording {
    pub session: String,
    pub circuit: String,
    pub samples: Vec<Sample>,
    /// What each file (or the OpenF1 files together) had that could not be taken.
    pub dirt: Vec<(String, Dirt)>,
}

impl Recording {
    /// Reads and converts every file. `session` names the session (required for FastF1
    /// and OpenF1 files; it replaces the session of native files). Under the dirty-data
    /// policy an impossible value is unknown and a row without a usable time, car or
    /// speed is left out, each recorded in [`Recording::dirt`]; `strict` makes the first
    /// of them the error instead.
    pub fn load(
        files: &[PathBuf],
        opts: &FeedOptions,
        circuit: &str,
        strict: bool,
    ) -> anyhow::Result<Self> {
        let mut samples = Vec::new();
        let mut dirt = Vec::new();
        // OpenF1 downloads come one file per endpoint (car_data, location, laps, …): they
        // annotate each other, so they are read together as one body.
        let mut openf1: Vec<serde_json::Value> = Vec::new();
        let mut openf1_names = Vec::new();
        for path in files {
            let (format, body) =
                feeds::read_file(path).with_context(|| format!("reading {}", path.display()))?;
            let name = path.display().to_string();
            if format == Format::OpenF1 {
                openf1
                    .append(&mut feeds::openf1::read_records(&body).with_context(|| name.clone())?);
                openf1_names.push(name);
                continue;
            }
            let what = format!("{name} ({} format)", format.as_str());
            let parsed =
                feeds::parse_body(format, &body, opts, usize::MAX).with_context(|| what.clone())?;
            if strict && let Some(e) = parsed.dirt.clone().into_error() {
                return Err(anyhow::Error::from(e).context(what));
            }
            samples.extend(parsed.samples);
            dirt.push((name, parsed.dirt));
        }
        if !openf1.is_empty() {
            let what = format!("{} (openf1 format)", openf1_names.join(", "));
            let mut d = Dirt::default();
            let parsed = feeds::openf1::parse_lenient(&openf1, opts, &mut d);
            if strict && let Some(e) = d.clone().into_error() {
                return Err(anyhow::Error::from(e).context(what));
            }
            samples.extend(
                parsed
                    .with_context(|| what.clone())?
                    .into_iter()
                    .map(|(_, s)| s),
            );
            dirt.push((openf1_names.join(", "), d));
        }
        if let Some(s) = &opts.session {
            for x in &mut samples {
                x.session = s.as_str().into();
            }
        }
        let Some(first) = samples.first() else {
            bail!("no samples in {} file(s)", files.len());
        };
        let session = first.session.to_string();
        if let Some(other) = samples.iter().find(|s| s.session != session) {
            bail!(
                "the files hold more than one session ({session:?}, {:?}): name one with --session",
                other.session
            );
        }
        feeds::number(&mut samples);
        Ok(Recording {
            session,
            circuit: circuit.to_owned(),
            samples,
            dirt,
        })
    }

    /// What could not be taken, file by file, for the end of a replay ([`dirt_summary`]).
    pub fn dirt_summary(&self) -> Option<String> {
        dirt_summary(&self.dirt)
    }

    pub fn cars(&self) -> Vec<CarInfo> {
        let mut cars: BTreeMap<u8, CarInfo> = BTreeMap::new();
        for s in &self.samples {
            let e = cars.entry(s.car).or_insert_with(|| CarInfo {
                car: s.car,
                driver: s.driver_name(),
                team: s.team_name(),
            });
            // A name given anywhere replaces the placeholder.
            if let Some(d) = &s.driver {
                e.driver = d.clone();
            }
            if let Some(t) = &s.team {
                e.team = t.clone();
            }
        }
        cars.into_values().collect()
    }

    /// The session's start marker: circuit, distance (the highest lap), start, grid.
    pub fn info(&self, partitions: u16) -> SessionInfo {
        SessionInfo {
            session: self.session.clone(),
            circuit: self.circuit.clone(),
            laps: self.samples.iter().filter_map(|s| s.lap).max().unwrap_or(0),
            partitions,
            started_at_ms: self.start_ms(),
            cars: self.cars(),
        }
    }

    /// Samples per car.
    pub fn counts(&self) -> BTreeMap<u8, u64> {
        let mut out = BTreeMap::new();
        for s in &self.samples {
            *out.entry(s.car).or_default() += 1;
        }
        out
    }

    /// Moves the whole recording so that it starts at `start_ms`.
    pub fn shift_to(&mut self, start_ms: i64) {
        let delta = start_ms - self.start_ms();
        for s in &mut self.samples {
            s.timestamp_ms += delta;
        }
    }

    pub fn start_ms(&self) -> i64 {
        self.samples.first().map_or(0, |s| s.timestamp_ms)
    }
}

/// What could not be taken, file by file (or window by window), for the end of a replay:
/// values made unknown by channel and reason, rows or records left out by reason, and
/// the first of each. `None` when everything was clean.
pub fn dirt_summary(dirt: &[(String, Dirt)]) -> Option<String> {
    let mut out = String::new();
    for (file, d) in dirt.iter().filter(|(_, d)| !d.is_clean()) {
        out.push_str(&format!("  {file}:\n"));
        for ((c, why), n) in &d.unknown {
            out.push_str(&format!(
                "    {n} {} values {} -> unknown (first: {})\n",
                c.name(),
                why.as_str(),
                d.examples[c]
            ));
        }
        for (why, n) in d.rejected_by_reason() {
            let first = d
                .rejected
                .iter()
                .find(|(_, w)| w.as_str() == why)
                .map(|(p, _)| p.to_string())
                .unwrap_or_default();
            out.push_str(&format!("    {n} left out, {why} (first: {first})\n"));
        }
    }
    if out.is_empty() {
        return None;
    }
    let unknown: u64 = dirt.iter().map(|(_, d)| d.unknown_total()).sum();
    let rejected: usize = dirt.iter().map(|(_, d)| d.rejected.len()).sum();
    Some(format!(
        "dirty input: {unknown} values made unknown, {rejected} rows or records left out (--strict refuses them instead)\n{out}"
    ))
}

/// A recording as a [`Source`] for the stream publisher: one tick of race time per step.
pub struct Replay {
    rec: Recording,
    next: usize,
    clock_ms: i64,
    lap: u16,
}

impl Replay {
    pub fn new(rec: Recording) -> Self {
        let clock_ms = rec.start_ms();
        Replay {
            rec,
            next: 0,
            clock_ms,
            lap: 1,
        }
    }
}

impl Source for Replay {
    fn info(&self, partitions: u16) -> SessionInfo {
        SessionInfo {
            session: self.rec.session.clone(),
            circuit: self.rec.circuit.clone(),
            laps: self
                .rec
                .samples
                .iter()
                .filter_map(|s| s.lap)
                .max()
                .unwrap_or(0),
            partitions,
            started_at_ms: self.rec.start_ms(),
            cars: self.rec.cars(),
        }
    }
    fn start_ms(&self) -> i64 {
        self.rec.start_ms()
    }
    fn restart_at(&mut self, start_ms: i64) {
        self.rec.shift_to(start_ms);
        *self = Replay::new(self.rec.clone());
    }
    fn step(&mut self, out: &mut Vec<Sample>) {
        let samples = &self.rec.samples;
        // Skip stretches without data in one step: pacing sleeps through them anyway.
        if let Some(s) = samples.get(self.next)
            && s.timestamp_ms >= self.clock_ms + TICK_MS
        {
            self.clock_ms = s.timestamp_ms;
        }
        let until = self.clock_ms + TICK_MS;
        while let Some(s) = samples.get(self.next).filter(|s| s.timestamp_ms < until) {
            self.lap = self.lap.max(s.lap.unwrap_or(1));
            out.push(s.clone());
            self.next += 1;
        }
        self.clock_ms = until;
    }
    fn finished(&self) -> bool {
        self.next >= self.rec.samples.len()
    }
    fn now_ms(&self) -> i64 {
        self.clock_ms
    }
    fn lap(&self) -> u16 {
        self.lap
    }
    fn published(&self) -> BTreeMap<u8, u64> {
        self.rec.counts()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(car: u8, ts: i64, lap: u16) -> Sample {
        Sample {
            session: "r".into(),
            car,
            timestamp_ms: ts,
            speed_kph: 100.0,
            lap: Some(lap),
            ..Sample::default()
        }
    }

    /// OpenF1 downloads, one file per endpoint, are read together: the drivers file names
    /// the car of the car_data file.
    #[test]
    fn openf1_files_annotate_each_other() {
        let dir = std::env::temp_dir().join(format!("pitstop-openf1-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let car_data = dir.join("car_data.json");
        let drivers = dir.join("drivers.json");
        std::fs::write(
            &car_data,
            r#"[{"date":"2025-08-31T13:28:02.250000+00:00","driver_number":1,"session_key":9912,"speed":80,"rpm":7000,"n_gear":2,"throttle":36,"brake":0,"drs":0}]"#,
        )
        .unwrap();
        std::fs::write(
            &drivers,
            r#"[{"driver_number":1,"session_key":9912,"name_acronym":"VER","team_name":"Red Bull Racing"}]"#,
        )
        .unwrap();
        let rec = Recording::load(
            &[car_data, drivers],
            &FeedOptions::default(),
            "zandvoort",
            false,
        )
        .unwrap();
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(rec.session, "openf1-9912");
        assert_eq!(rec.samples.len(), 1);
        assert_eq!(rec.samples[0].driver.as_deref(), Some("VER"));
        assert_eq!(rec.info(4).cars[0].team, "Red Bull Racing");
    }

    /// Ticks hand out each sample once, in order; a gap is skipped in one step; a
    /// restart moves the clock and replays from the beginning.
    #[test]
    fn replay_ticks_through_a_recording() {
        let rec = Recording {
            session: "r".into(),
            circuit: "zandvoort".into(),
            samples: vec![
                sample(1, 1_000_000, 1),
                sample(4, 1_000_050, 1),
                sample(1, 1_000_120, 1),
                sample(1, 1_060_000, 2),
            ],
            dirt: Vec::new(),
        };
        let mut r = Replay::new(rec);
        let mut out = Vec::new();
        r.step(&mut out);
        assert_eq!(out.len(), 2);
        r.step(&mut out);
        assert_eq!(out.len(), 3);
        r.step(&mut out);
        assert_eq!((out.len(), r.lap(), r.finished()), (4, 2, true));
        assert_eq!(r.published(), BTreeMap::from([(1, 3), (4, 1)]));
        assert_eq!(r.info(4).laps, 2);
        r.restart_at(2_000_000);
        let mut again = Vec::new();
        while !r.finished() {
            r.step(&mut again);
        }
        assert_eq!(again[0].timestamp_ms, 2_000_000);
        assert_eq!(again[3].timestamp_ms, 2_060_000);
    }
}
