//! `--record FILE` and `--replay FILE`: datagrams with their arrival times.
//!
//! Format: the magic line `pitstop-udp 1\n`, the recording's start as Unix ms (i64 LE),
//! then per datagram its arrival in µs after the start (u64 LE), its length (u16 LE) and
//! its bytes. A recording cut short by a crash reads up to its last whole datagram.

use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

const MAGIC: &[u8] = b"pitstop-udp 1\n";

/// Appends datagrams to a recording; flushed at least once a second, so a killed gateway
/// loses at most the last second of its recording.
pub struct Recorder {
    out: BufWriter<std::fs::File>,
    started: Instant,
    flushed: Instant,
}

impl Recorder {
    pub fn create(path: &Path, start_ms: i64) -> std::io::Result<Self> {
        let mut out = BufWriter::new(std::fs::File::create(path)?);
        out.write_all(MAGIC)?;
        out.write_all(&start_ms.to_le_bytes())?;
        out.flush()?;
        let now = Instant::now();
        Ok(Recorder {
            out,
            started: now,
            flushed: now,
        })
    }

    pub fn write(&mut self, datagram: &[u8], arrived: Instant) -> std::io::Result<()> {
        let at = arrived.saturating_duration_since(self.started).as_micros() as u64;
        let len = u16::try_from(datagram.len()).unwrap_or(u16::MAX);
        self.out.write_all(&at.to_le_bytes())?;
        self.out.write_all(&len.to_le_bytes())?;
        self.out.write_all(&datagram[..len as usize])?;
        if arrived.saturating_duration_since(self.flushed) >= Duration::from_secs(1) {
            self.out.flush()?;
            self.flushed = arrived;
        }
        Ok(())
    }

    pub fn finish(mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// A recording read back.
#[derive(Clone, Debug, PartialEq)]
pub struct Recording {
    pub start_ms: i64,
    /// (µs after the start, datagram)
    pub datagrams: Vec<(u64, Vec<u8>)>,
}

impl Recording {
    pub fn read(path: &Path) -> Result<Recording, String> {
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(bytes: &[u8]) -> Result<Recording, String> {
        let rest = bytes
            .strip_prefix(MAGIC)
            .ok_or("not a pitstop UDP recording (made by `pitstop ingest --record`)")?;
        let start = rest.get(..8).ok_or("cut off before its start time")?;
        let start_ms = i64::from_le_bytes(start.try_into().expect("8 bytes"));
        let mut rest = &rest[8..];
        let mut datagrams = Vec::new();
        while rest.len() >= 10 {
            let at = u64::from_le_bytes(rest[..8].try_into().expect("8 bytes"));
            let len = u16::from_le_bytes([rest[8], rest[9]]) as usize;
            let Some(d) = rest.get(10..10 + len) else {
                break;
            };
            datagrams.push((at, d.to_vec()));
            rest = &rest[10 + len..];
        }
        Ok(Recording {
            start_ms,
            datagrams,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recording_reads_back_and_survives_a_cut() {
        let dir = std::env::temp_dir().join(format!("pitstop-rec-{}", std::process::id()));
        let path = dir.with_extension("udp");
        let mut r = Recorder::create(&path, 1_764_900_000_000).unwrap();
        let t0 = Instant::now();
        r.write(b"abc", t0 + Duration::from_millis(5)).unwrap();
        r.write(&[7u8; 1350], t0 + Duration::from_millis(17))
            .unwrap();
        r.finish().unwrap();
        let rec = Recording::read(&path).unwrap();
        assert_eq!(rec.start_ms, 1_764_900_000_000);
        assert_eq!(rec.datagrams.len(), 2);
        assert_eq!(rec.datagrams[0].1, b"abc");
        assert_eq!(rec.datagrams[1].0 - rec.datagrams[0].0, 12_000);
        let bytes = std::fs::read(&path).unwrap();
        let cut = Recording::parse(&bytes[..bytes.len() - 3]).unwrap();
        assert_eq!(cut.datagrams.len(), 1, "the whole datagrams before the cut");
        assert!(Recording::parse(b"GIF89a").is_err());
        std::fs::remove_file(path).unwrap();
    }
}
