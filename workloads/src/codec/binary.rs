//! Binary batch format, version 1 (little-endian, no padding):
//!
//! ```text
//! header : "PT" | version u8 = 1 | flags u8 = 0 | created_us i64 | session (u8 len + utf-8) | count u16
//! sample : car u8 | seq u32 | driver (u8 len + utf-8) | team (u8 len + utf-8) | lap u16 | sector u8
//!          | lap_distance_m f32 | timestamp_ms i64 | speed_kph f32 | rpm u16 | gear i8
//!          | throttle f32 | brake f32 | drs u8 | tyre_surface_temp_c 4×f32 | tyre_inner_temp_c 4×f32
//!          | tyre_pressure_psi 4×f32 | brake_temp_c 4×f32 | compound u8 | tyre_age_laps u16
//!          | tyre_wear_pct 4×f32 | fuel_kg f32 | ers_store_mj f32 | engine_temp_c f32
//!          | pit_status u8 | position u8
//! ```
//!
//! `created_us` is the wall-clock time the batch was assembled; the processor measures
//! detection and durable latency from it. Decoding never panics: every read is bounds-checked.

use super::DecodeError;
use crate::model::{Compound, PitStatus, Sample, validate};
use compact_str::CompactString;

pub const MAGIC: [u8; 2] = *b"PT";
pub const VERSION: u8 = 1;

/// Header of a decoded batch.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchHeader {
    pub created_us: i64,
    pub session: CompactString,
    pub count: usize,
}

/// Appends samples to a batch under construction. All samples must share `session`.
pub struct BatchEncoder {
    buf: Vec<u8>,
    count: u16,
    count_at: usize,
}

impl BatchEncoder {
    pub fn new(session: &str, created_us: i64) -> Self {
        let mut buf = Vec::with_capacity(4096);
        buf.extend_from_slice(&MAGIC);
        buf.push(VERSION);
        buf.push(0);
        buf.extend_from_slice(&created_us.to_le_bytes());
        put_str(&mut buf, session);
        let count_at = buf.len();
        buf.extend_from_slice(&0u16.to_le_bytes());
        BatchEncoder {
            buf,
            count: 0,
            count_at,
        }
    }

    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Overwrites the creation time (the publisher stamps it just before sending).
    pub fn set_created_us(&mut self, created_us: i64) {
        self.buf[4..12].copy_from_slice(&created_us.to_le_bytes());
    }

    pub fn push(&mut self, s: &Sample) {
        assert!(self.count < u16::MAX, "batch full");
        let b = &mut self.buf;
        b.push(s.car);
        b.extend_from_slice(&s.seq.to_le_bytes());
        put_str(b, &s.driver);
        put_str(b, &s.team);
        b.extend_from_slice(&s.lap.to_le_bytes());
        b.push(s.sector);
        b.extend_from_slice(&s.lap_distance_m.to_le_bytes());
        b.extend_from_slice(&s.timestamp_ms.to_le_bytes());
        b.extend_from_slice(&s.speed_kph.to_le_bytes());
        b.extend_from_slice(&s.rpm.to_le_bytes());
        b.push(s.gear as u8);
        b.extend_from_slice(&s.throttle.to_le_bytes());
        b.extend_from_slice(&s.brake.to_le_bytes());
        b.push(s.drs as u8);
        for arr in [
            &s.tyre_surface_temp_c,
            &s.tyre_inner_temp_c,
            &s.tyre_pressure_psi,
            &s.brake_temp_c,
        ] {
            put_f32x4(b, arr);
        }
        b.push(s.tyre_compound.code());
        b.extend_from_slice(&s.tyre_age_laps.to_le_bytes());
        put_f32x4(b, &s.tyre_wear_pct);
        b.extend_from_slice(&s.fuel_kg.to_le_bytes());
        b.extend_from_slice(&s.ers_store_mj.to_le_bytes());
        b.extend_from_slice(&s.engine_temp_c.to_le_bytes());
        b.push(s.pit_status.code());
        b.push(s.position);
        self.count += 1;
    }

    /// Finishes the batch and returns its bytes.
    pub fn finish(mut self) -> Vec<u8> {
        let at = self.count_at;
        self.buf[at..at + 2].copy_from_slice(&self.count.to_le_bytes());
        self.buf
    }
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    // Identity strings are validated to ≤ 63 bytes; truncate defensively rather than panic.
    let bytes = &s.as_bytes()[..s.len().min(255)];
    buf.push(bytes.len() as u8);
    buf.extend_from_slice(bytes);
}

fn put_f32x4(buf: &mut Vec<u8>, arr: &[f32; 4]) {
    for v in arr {
        buf.extend_from_slice(&v.to_le_bytes());
    }
}

/// Encodes one batch in a single call (tests, HTTP ingest).
pub fn encode_batch(session: &str, created_us: i64, samples: &[Sample]) -> Vec<u8> {
    let mut enc = BatchEncoder::new(session, created_us);
    for s in samples {
        enc.push(s);
    }
    enc.finish()
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let end = self.at + N;
        let bytes = self
            .buf
            .get(self.at..end)
            .ok_or_else(|| DecodeError::Truncated {
                at: self.at,
                needed: end.saturating_sub(self.buf.len()),
            })?;
        self.at = end;
        Ok(bytes.try_into().expect("slice has length N"))
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.take()?))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.take()?))
    }
    fn f32(&mut self) -> Result<f32, DecodeError> {
        Ok(f32::from_le_bytes(self.take()?))
    }
    fn f32x4(&mut self) -> Result<[f32; 4], DecodeError> {
        Ok([self.f32()?, self.f32()?, self.f32()?, self.f32()?])
    }
    fn str(&mut self, field: &'static str) -> Result<CompactString, DecodeError> {
        let len = self.u8()? as usize;
        let end = self.at + len;
        let bytes = self
            .buf
            .get(self.at..end)
            .ok_or_else(|| DecodeError::Truncated {
                at: self.at,
                needed: end.saturating_sub(self.buf.len()),
            })?;
        self.at = end;
        CompactString::from_utf8(bytes).map_err(|_| DecodeError::InvalidText(field))
    }
}

/// Decodes a batch, appending its samples to `out` (cleared first; reuse it to avoid
/// allocation on the hot path). Every sample is range-checked; one bad sample rejects
/// the whole entry, which is then dead-lettered as a unit.
pub fn decode_batch(buf: &[u8], out: &mut Vec<Sample>) -> Result<BatchHeader, DecodeError> {
    out.clear();
    let mut r = Reader { buf, at: 0 };
    let magic: [u8; 2] = r.take()?;
    if magic != MAGIC {
        return Err(DecodeError::BadMagic(magic));
    }
    let version = r.u8()?;
    if version != VERSION {
        return Err(DecodeError::UnsupportedVersion(version));
    }
    let _flags = r.u8()?;
    let created_us = r.i64()?;
    let session = r.str("session")?;
    let count = r.u16()? as usize;
    out.reserve(count);
    for index in 0..count {
        let s = Sample {
            session: session.clone(),
            car: r.u8()?,
            seq: r.u32()?,
            driver: r.str("driver")?,
            team: r.str("team")?,
            lap: r.u16()?,
            sector: r.u8()?,
            lap_distance_m: r.f32()?,
            timestamp_ms: r.i64()?,
            speed_kph: r.f32()?,
            rpm: r.u16()?,
            gear: r.u8()? as i8,
            throttle: r.f32()?,
            brake: r.f32()?,
            drs: r.u8()? != 0,
            tyre_surface_temp_c: r.f32x4()?,
            tyre_inner_temp_c: r.f32x4()?,
            tyre_pressure_psi: r.f32x4()?,
            brake_temp_c: r.f32x4()?,
            tyre_compound: {
                let code = r.u8()?;
                Compound::from_code(code).ok_or(DecodeError::InvalidEnum {
                    field: "tyre_compound",
                    code,
                })?
            },
            tyre_age_laps: r.u16()?,
            tyre_wear_pct: r.f32x4()?,
            fuel_kg: r.f32()?,
            ers_store_mj: r.f32()?,
            engine_temp_c: r.f32()?,
            pit_status: {
                let code = r.u8()?;
                PitStatus::from_code(code).ok_or(DecodeError::InvalidEnum {
                    field: "pit_status",
                    code,
                })?
            },
            position: r.u8()?,
        };
        validate(&s).map_err(|source| DecodeError::Invalid { index, source })?;
        out.push(s);
    }
    if r.at != buf.len() {
        return Err(DecodeError::TrailingBytes(buf.len() - r.at));
    }
    Ok(BatchHeader {
        created_us,
        session,
        count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn sample(car: u8, seq: u32) -> Sample {
        Sample {
            session: "monza-test".into(),
            car,
            driver: "LEC".into(),
            team: "Ferrari".into(),
            seq,
            lap: 3,
            sector: 2,
            lap_distance_m: 2345.5,
            timestamp_ms: 1_725_800_000_123,
            speed_kph: 312.4,
            rpm: 11_800,
            gear: 8,
            throttle: 1.0,
            drs: true,
            tyre_compound: Compound::Hard,
            pit_status: PitStatus::PitLane,
            position: 4,
            ..Sample::default()
        }
    }

    /// Every channel survives a round trip bit for bit.
    #[test]
    fn round_trip() {
        let samples: Vec<_> = (0..50).map(|i| sample(16, i)).collect();
        let bytes = encode_batch("monza-test", 42, &samples);
        let mut out = Vec::new();
        let header = decode_batch(&bytes, &mut out).unwrap();
        assert_eq!(header.created_us, 42);
        assert_eq!(header.count, 50);
        assert_eq!(out, samples);
    }

    /// Every truncation point yields an error, never a panic or a short batch.
    #[test]
    fn every_truncation_is_an_error() {
        let bytes = encode_batch("s", 1, &[sample(1, 0), sample(2, 0)]);
        let mut out = Vec::new();
        for len in 0..bytes.len() {
            assert!(decode_batch(&bytes[..len], &mut out).is_err(), "len {len}");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(
            decode_batch(&long, &mut out),
            Err(DecodeError::TrailingBytes(1))
        );
    }

    /// Random garbage and random bit flips never panic (a cheap, deterministic fuzz).
    #[test]
    fn garbage_never_panics() {
        let good = encode_batch("s", 1, &[sample(1, 0), sample(2, 1)]);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut out = Vec::new();
        for _ in 0..20_000 {
            let mut bytes = good.clone();
            for _ in 0..rng.random_range(1..6) {
                let i = rng.random_range(0..bytes.len());
                bytes[i] = rng.random();
            }
            let _ = decode_batch(&bytes, &mut out);
            let len = rng.random_range(0..64);
            let noise: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            let _ = decode_batch(&noise, &mut out);
        }
    }

    /// Out-of-range values inside a well-formed batch are rejected with the sample index.
    #[test]
    fn invalid_sample_is_rejected() {
        let mut bad = sample(1, 0);
        bad.throttle = 7.0;
        let bytes = encode_batch("s", 1, &[sample(1, 0), bad]);
        let err = decode_batch(&bytes, &mut Vec::new()).unwrap_err();
        assert!(
            matches!(err, DecodeError::Invalid { index: 1, .. }),
            "{err}"
        );
        assert_eq!(err.category(), "out_of_range");
    }

    /// A future version is refused explicitly instead of misread.
    #[test]
    fn unknown_version_is_refused() {
        let mut bytes = encode_batch("s", 1, &[sample(1, 0)]);
        bytes[2] = 9;
        assert_eq!(
            decode_batch(&bytes, &mut Vec::new()),
            Err(DecodeError::UnsupportedVersion(9))
        );
    }
}
