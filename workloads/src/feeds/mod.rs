//! Telemetry as real clients have it, turned into native [`Sample`]s: OpenF1 records
//! ([`openf1`]), FastF1 telemetry CSV ([`fastf1`]) and the native JSON shape
//! ([`crate::codec::json`]). `POST /telemetry` and `pitstop replay` both read through
//! here, so a file replayed and the same file posted give the same samples.
//!
//! Unit conversions are explicit and documented per feed (percent pedals to 0–1, DRS
//! codes to open/closed, on/off brakes to 0/1, decimetre positions to metres). What
//! cannot be taken follows the dirty-data policy ([`dirt`]): an impossible value becomes
//! unknown, a sample without a usable session, car, time or speed is rejected alone,
//! each with the row or record and the reason; a strict parse refuses the whole body at
//! the first.

pub mod dirt;
pub mod fastf1;
pub mod grid;
mod native;
pub mod openf1;
pub mod openf1_annotate;
pub mod openf1_events;
pub mod openf1_fetch;
pub mod openf1_live;
mod options;
mod seq;
pub mod time;

pub use dirt::{Dirt, Origin, Reject, Unknown};
pub use options::{FeedError, FeedOptions};
pub use seq::{Numbering, number};

use crate::codec::json::{JsonError, parse_samples_seq, validate_all};
use crate::model::Sample;
use std::io::Read;
use std::path::Path;

/// The shape of a body or file (serialized as [`Format::as_str`] names it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
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

    /// From a `Content-Type` (`text/csv` is FastF1, a JSON type is native or OpenF1)
    /// or else from the body: CSV with a `Speed` column is FastF1, JSON records with
    /// `driver_number` are OpenF1. A declared type is honoured: CSV sent as JSON fails
    /// as JSON rather than being guessed into something else.
    pub fn detect(content_type: Option<&str>, body: &[u8]) -> Format {
        let essence = content_type
            .and_then(|c| c.split(';').next())
            .map(|c| c.trim().to_ascii_lowercase());
        // Enough for OpenF1's first record or a CSV header however wide, bounded so a
        // large body is not scanned twice.
        let head = &body[..body.len().min(64 * 1024)];
        let json = || {
            if find(head, b"\"driver_number\"") {
                Format::OpenF1
            } else {
                Format::Native
            }
        };
        match essence.as_deref() {
            Some("text/csv") => return Format::FastF1,
            Some(_) => return json(),
            None => {}
        }
        match head.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') | Some(b'[') => json(),
            Some(_) if find(head, b"Speed") => Format::FastF1,
            _ => Format::Native,
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A body under the dirty-data policy: the samples taken, where each came from, who
/// numbers them, and what was not taken.
#[derive(Debug)]
pub struct Parsed {
    /// In body order for native samples, in time order per car for the feeds; not
    /// numbered when ingest numbers them (`seq` 0).
    pub samples: Vec<Sample>,
    /// Where each sample came from (a refusal later in ingest names it so).
    pub origins: Vec<Origin>,
    pub numbering: Numbering,
    pub dirt: Dirt,
}

/// Parses a body under the dirty-data policy (at most `max` samples taken). Errors are
/// the body's own: empty, not the format at all, too many samples, an unusable header.
pub fn parse_body(
    format: Format,
    body: &[u8],
    opts: &FeedOptions,
    max: usize,
) -> Result<Parsed, FeedError> {
    let mut dirt = Dirt::default();
    let (taken, numbering) = match format {
        Format::Native => {
            let (taken, given) = native::parse(body, max, &mut dirt)?;
            let numbering = if given {
                Numbering::Client
            } else {
                Numbering::Server
            };
            (taken, numbering)
        }
        Format::OpenF1 => (
            openf1::parse_lenient(&openf1::read_records(body)?, opts, &mut dirt)?,
            Numbering::Server,
        ),
        Format::FastF1 => (
            fastf1::parse_lenient(body, opts, &mut dirt)?,
            Numbering::Server,
        ),
    };
    if taken.len() > max {
        return Err(JsonError::TooMany {
            count: taken.len(),
            max,
        }
        .into());
    }
    let (origins, samples) = taken.into_iter().unzip();
    Ok(Parsed {
        samples,
        origins,
        numbering,
        dirt,
    })
}

/// Parses a body in `format` into validated samples (at most `max`), all or nothing.
pub fn parse(
    format: Format,
    body: &[u8],
    opts: &FeedOptions,
    max: usize,
) -> Result<Vec<Sample>, FeedError> {
    parse_numbered(format, body, opts, max).map(|(samples, _)| samples)
}

/// [`parse`], and who numbers the samples.
pub fn parse_numbered(
    format: Format,
    body: &[u8],
    opts: &FeedOptions,
    max: usize,
) -> Result<(Vec<Sample>, Numbering), FeedError> {
    let samples = match format {
        Format::Native => {
            let (mut samples, given) = parse_samples_seq(body, max)?;
            if given {
                return Ok((samples, Numbering::Client));
            }
            number(&mut samples);
            return Ok((samples, Numbering::Server));
        }
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
    Ok((samples, Numbering::Server))
}

/// Reads a recording, decompressing `.gz`, and tells its format: `.csv` (or `.csv.gz`)
/// is FastF1, anything else by its content. Read chunk by chunk, and given up at the
/// first sign that it is not telemetry ([`read_text`]): `/dev/zero` or a binary file is
/// refused after 64 KiB, not after filling the memory.
pub fn read_file(path: &Path) -> std::io::Result<(Format, Vec<u8>)> {
    use std::io::BufRead;
    let mut raw = std::io::BufReader::new(std::fs::File::open(path)?);
    let name = path.to_string_lossy().to_ascii_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name).to_owned();
    // By the gzip magic rather than the name: a `.gz` that is not gzip is read as it
    // is, a gzip without the suffix is still unpacked; concatenated members (as
    // `cat a.gz b.gz` or parallel gzip write them) are all read.
    let body = if raw.fill_buf()?.starts_with(&[0x1f, 0x8b]) {
        read_text(flate2::bufread::MultiGzDecoder::new(raw))?
    } else {
        read_text(raw)?
    };
    let format = if name.ends_with(".csv") {
        Format::FastF1
    } else {
        Format::detect(None, &body)
    };
    Ok((format, body))
}

/// Longest line of a recording that is not one JSON array (a FastF1 row or an NDJSON
/// sample is well under a kilobyte; OpenF1's API answers one array on one line).
pub const MAX_LINE_BYTES: usize = 4 << 20;

/// Reads text in 64 KiB chunks: a NUL byte in the first chunk, or a line longer than
/// [`MAX_LINE_BYTES`] outside a JSON array, stops the read with the reason.
fn read_text(mut input: impl Read) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, ErrorKind};
    let mut body = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let (mut line, mut lines, mut array) = (0usize, 1u64, None::<bool>);
    loop {
        let n = match input.read(&mut chunk) {
            Ok(0) => return Ok(body),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let new = &chunk[..n];
        if body.len() < chunk.len() && new.contains(&0) {
            return Err(Error::new(
                ErrorKind::InvalidData,
                "not a text recording (a NUL byte near its start)",
            ));
        }
        if array.is_none() {
            array = new
                .iter()
                .find(|b| !b.is_ascii_whitespace())
                .map(|b| *b == b'[');
        }
        if array != Some(true) {
            for &b in new {
                if b == b'\n' {
                    (line, lines) = (0, lines + 1);
                } else {
                    line += 1;
                }
            }
            if line > MAX_LINE_BYTES {
                return Err(Error::new(
                    ErrorKind::InvalidData,
                    format!(
                        "line {lines} is longer than {} MiB: not a telemetry recording",
                        MAX_LINE_BYTES >> 20
                    ),
                ));
            }
        }
        body.extend_from_slice(new);
    }
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
        // A declared JSON type is honoured: CSV sent as JSON is not guessed into FastF1.
        assert_eq!(
            Format::detect(Some("application/json"), b"Driver,Time,Speed\nVER,0.0,0"),
            Format::Native
        );
    }

    #[test]
    fn reads_gzip_by_its_magic_and_all_members() {
        use flate2::{Compression, write::GzEncoder};
        use std::io::Write;
        let gz = |text: &[u8]| {
            let mut e = GzEncoder::new(Vec::new(), Compression::fast());
            e.write_all(text).unwrap();
            e.finish().unwrap()
        };
        let dir = std::env::temp_dir().join(format!("pitstop-read-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut two = gz(b"Driver,Time,Speed\n");
        two.extend(gz(b"VER,0.0,0\n"));
        let p = dir.join("lap.csv.gz");
        std::fs::write(&p, &two).unwrap();
        let (format, body) = read_file(&p).unwrap();
        assert_eq!(format, Format::FastF1);
        assert_eq!(body, b"Driver,Time,Speed\nVER,0.0,0\n");
        // Not telemetry: refused early, with the reason.
        let p = dir.join("zeros");
        std::fs::write(&p, vec![0u8; 200_000]).unwrap();
        let err = read_file(&p).unwrap_err().to_string();
        assert!(err.contains("NUL"), "{err}");
        let p = dir.join("long.ndjson");
        std::fs::write(&p, vec![b'x'; MAX_LINE_BYTES + 70_000]).unwrap();
        let err = read_file(&p).unwrap_err().to_string();
        assert_eq!(
            err,
            "line 1 is longer than 4 MiB: not a telemetry recording"
        );
        // Named .gz but plain text: read as it is.
        let p = dir.join("plain.json.gz");
        std::fs::write(&p, b"{}").unwrap();
        assert_eq!(read_file(&p).unwrap().1, b"{}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
