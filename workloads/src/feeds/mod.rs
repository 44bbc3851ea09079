//! Telemetry as real clients have it, turned into native [`Sample`]s: OpenF1 records
//! ([`openf1`]), FastF1 telemetry CSV ([`fastf1`]) and the native JSON shape
//! ([`crate::codec::json`]). `POST /telemetry` and `pitstop replay` both read through
//! here, so a file replayed and the same file posted give the same samples.
//!
//! Unit conversions are explicit and documented per feed (percent pedals to 0–1, DRS
//! codes to open/closed, on/off brakes to 0/1, decimetre positions to metres). A value
//! that is wrong in every unit is refused with the row or record and the reason.

pub mod fastf1;
pub mod grid;
pub mod openf1;
pub mod time;

use crate::codec::json::{JsonError, parse_samples, validate_all};
use crate::model::Sample;
use crate::sim::grid::Entrant;
use std::io::Read;
use std::path::Path;

/// The shape of a body or file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Native samples: an object, an array or NDJSON.
    Native,
    /// OpenF1 API records (`car_data`, `location`, `laps`, `stints`, `pit`, `drivers`,
    /// `position`): an array or NDJSON.
    OpenF1,
    /// FastF1 telemetry as `Lap.get_telemetry().to_csv()` writes it.
    FastF1,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Native => "native",
            Format::OpenF1 => "openf1",
            Format::FastF1 => "fastf1",
        }
    }

    /// From a `Content-Type` (`text/csv` is FastF1) or else from the body: CSV with a
    /// `Speed` column is FastF1, JSON records with `driver_number` are OpenF1.
    pub fn detect(content_type: Option<&str>, body: &[u8]) -> Format {
        let essence = content_type
            .and_then(|c| c.split(';').next())
            .map(|c| c.trim().to_ascii_lowercase());
        if essence.as_deref() == Some("text/csv") {
            return Format::FastF1;
        }
        let head = &body[..body.len().min(4096)];
        let first = head.iter().find(|b| !b.is_ascii_whitespace());
        match first {
            Some(b'{') | Some(b'[') => {
                if find(head, b"\"driver_number\"") {
                    Format::OpenF1
                } else {
                    Format::Native
                }
            }
            Some(_) if find(head, b"Speed") => Format::FastF1,
            _ => Format::Native,
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// What a feed needs that it does not carry.
#[derive(Clone, Debug, Default)]
pub struct FeedOptions {
    /// Session id for feeds that do not carry ours (OpenF1 has a numeric `session_key`,
    /// FastF1 none).
    pub session: Option<String>,
    /// Time origin of feeds with relative times (FastF1 `Time`/`SessionTime` without
    /// `Date`), ms since the Unix epoch.
    pub start_ms: Option<i64>,
    /// Car number and team per driver code (FastF1 names drivers by code only); the
    /// 2025 grid when empty.
    pub grid: Vec<Entrant>,
    /// The car of a FastF1 CSV without a `Driver` column.
    pub car: Option<u8>,
}

/// A rejected feed: where and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FeedError {
    #[error(transparent)]
    Json(#[from] JsonError),
    #[error("row {row}: {message}")]
    Row { row: usize, message: String },
    #[error("record {index}: {message}")]
    Record { index: usize, message: String },
    #[error("{0}")]
    Body(String),
}

/// Parses a body in `format` into validated samples (at most `max`).
pub fn parse(
    format: Format,
    body: &[u8],
    opts: &FeedOptions,
    max: usize,
) -> Result<Vec<Sample>, FeedError> {
    let samples = match format {
        Format::Native => return Ok(parse_samples(body, max)?),
        Format::OpenF1 => openf1::parse(body, opts)?,
        Format::FastF1 => fastf1::parse(body, opts)?,
    };
    if samples.len() > max {
        return Err(JsonError::TooMany {
            count: samples.len(),
            max,
        }
        .into());
    }
    validate_all(&samples)?;
    Ok(samples)
}

/// Reads a recording, decompressing `.gz`, and tells its format: `.csv` (or `.csv.gz`)
/// is FastF1, anything else by its content.
pub fn read_file(path: &Path) -> std::io::Result<(Format, Vec<u8>)> {
    let raw = std::fs::read(path)?;
    let name = path.to_string_lossy().to_ascii_lowercase();
    let (body, name) = match name.strip_suffix(".gz") {
        Some(stem) => {
            let mut out = Vec::with_capacity(raw.len() * 8);
            flate2::read::GzDecoder::new(raw.as_slice()).read_to_end(&mut out)?;
            (out, stem.to_owned())
        }
        None => (raw, name),
    };
    let format = if name.ends_with(".csv") {
        Format::FastF1
    } else {
        Format::detect(None, &body)
    };
    Ok((format, body))
}

/// Numbers each car's samples from 0 in time order (feeds without our `seq`).
pub(crate) fn number(samples: &mut [Sample]) {
    samples.sort_by_key(|s| (s.car, s.timestamp_ms));
    let mut next = [0u32; 256];
    for s in samples.iter_mut() {
        s.seq = next[s.car as usize];
        next[s.car as usize] += 1;
    }
    samples.sort_by_key(|s| s.timestamp_ms);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Content type first, then the body decides.
    #[test]
    fn detects_formats() {
        assert_eq!(
            Format::detect(Some("text/csv; charset=utf-8"), b"x"),
            Format::FastF1
        );
        assert_eq!(
            Format::detect(None, b"Driver,LapNumber,Time,Speed\nVER,1,0.0,0"),
            Format::FastF1
        );
        assert_eq!(
            Format::detect(
                Some("application/json"),
                br#"[{"date":"x","driver_number":1}]"#
            ),
            Format::OpenF1
        );
        assert_eq!(
            Format::detect(None, br#"{"session":"s","car":1}"#),
            Format::Native
        );
    }
}
