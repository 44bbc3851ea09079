//! Binary batch format (little-endian, no padding). Version 2 is written; version 1
//! entries (written before channels became optional) still decode.
//!
//! ```text
//! header    : "PT" | version u8 | flags u8 = 0 | created_us i64 | session (u8 len + utf-8) | count u16
//! sample v2 : car u8 | seq u32 | timestamp_ms i64 | speed_kph f32 | present u32
//!             then each channel whose bit is set in `present`, in bit order (model::Channel):
//!             driver str | team str | lap u16 | sector u8 | lap_distance_m f32 | rpm u16 | gear i8
//!             | throttle f32 | brake f32 | drs u8 | tyre_surface_temp_c 4×f32 | tyre_inner_temp_c 4×f32
//!             | tyre_pressure_psi 4×f32 | brake_temp_c 4×f32 | compound u8 | tyre_age_laps u16
//!             | tyre_wear_pct 4×f32 | fuel_kg f32 | ers_store_mj f32 | engine_temp_c f32
//!             | pit_status u8 | position u8 | x f32 | y f32 | z f32
//! sample v1 : car u8 | seq u32 | driver str | team str | lap u16 | sector u8
//!             | lap_distance_m f32 | timestamp_ms i64 | speed_kph f32 | rpm u16 | gear i8
//!             | throttle f32 | brake f32 | drs u8 | tyre_surface_temp_c 4×f32 | tyre_inner_temp_c 4×f32
//!             | tyre_pressure_psi 4×f32 | brake_temp_c 4×f32 | compound u8 | tyre_age_laps u16
//!             | tyre_wear_pct 4×f32 | fuel_kg f32 | ers_store_mj f32 | engine_temp_c f32
//!             | pit_status u8 | position u8            (every channel present)
//! ```
//!
//! `created_us` is the wall-clock time the batch was assembled; the processor measures
//! detection and durable latency from it. A presence bit no [`Channel`] uses is refused
//! (a newer writer must bump the version). Decoding never panics: every read is
//! bounds-checked.

use super::DecodeError;
use crate::model::{
    Channel, Channels, Compound, PitStatus, Sample, validate_except_session, validate_session,
};
use compact_str::CompactString;

pub const MAGIC: [u8; 2] = *b"PT";
/// The version this build writes.
pub const VERSION: u8 = 2;
/// The first version, all channels required; still read.
pub const VERSION_1: u8 = 1;

/// The fewest bytes a sample takes: car, seq, timestamp, speed and the presence word of
/// a version-2 sample without channels (version-1 samples are longer).
const MIN_SAMPLE_BYTES: usize = 1 + 4 + 8 + 4 + 4;

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
        Self::with_version(session, created_us, VERSION)
    }

    fn with_version(session: &str, created_us: i64, version: u8) -> Self {
        // A flat-out batch of 256 samples is ~40 KB: start near it, not through four reallocs.
        let mut buf = Vec::with_capacity(32 * 1024);
        buf.extend_from_slice(&MAGIC);
        buf.push(version);
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
        b.extend_from_slice(&s.timestamp_ms.to_le_bytes());
        b.extend_from_slice(&s.speed_kph.to_le_bytes());
        b.extend_from_slice(&s.channels().0.to_le_bytes());
        if let Some(v) = &s.driver {
            put_str(b, v);
        }
        if let Some(v) = &s.team {
            put_str(b, v);
        }
        if let Some(v) = s.lap {
            b.extend_from_slice(&v.to_le_bytes());
        }
        if let Some(v) = s.sector {
            b.push(v);
        }
        put_f32(b, s.lap_distance_m);
        if let Some(v) = s.rpm {
            b.extend_from_slice(&v.to_le_bytes());
        }
        if let Some(v) = s.gear {
            b.push(v as u8);
        }
        put_f32(b, s.throttle);
        put_f32(b, s.brake);
        if let Some(v) = s.drs {
            b.push(v as u8);
        }
        for a in [
            &s.tyre_surface_temp_c,
            &s.tyre_inner_temp_c,
            &s.tyre_pressure_psi,
            &s.brake_temp_c,
        ]
        .into_iter()
        .flatten()
        {
            put_f32x4(b, a);
        }
        if let Some(v) = s.tyre_compound {
            b.push(v.code());
        }
        if let Some(v) = s.tyre_age_laps {
            b.extend_from_slice(&v.to_le_bytes());
        }
        if let Some(a) = &s.tyre_wear_pct {
            put_f32x4(b, a);
        }
        put_f32(b, s.fuel_kg);
        put_f32(b, s.ers_store_mj);
        put_f32(b, s.engine_temp_c);
        if let Some(v) = s.pit_status {
            b.push(v.code());
        }
        if let Some(v) = s.position {
            b.push(v);
        }
        put_f32(b, s.x);
        put_f32(b, s.y);
        put_f32(b, s.z);
        self.count += 1;
    }

    /// Appends a sample in the version-1 layout (tests of backward compatibility only:
    /// version 1 cannot say "unknown", so absent channels become zeros).
    #[doc(hidden)]
    pub fn push_v1(&mut self, s: &Sample) {
        let b = &mut self.buf;
        b.push(s.car);
        b.extend_from_slice(&s.seq.to_le_bytes());
        put_str(b, s.driver.as_deref().unwrap_or("X"));
        put_str(b, s.team.as_deref().unwrap_or("X"));
        b.extend_from_slice(&s.lap.unwrap_or(1).to_le_bytes());
        b.push(s.sector.unwrap_or(1));
        b.extend_from_slice(&s.lap_distance_m.unwrap_or(0.0).to_le_bytes());
        b.extend_from_slice(&s.timestamp_ms.to_le_bytes());
        b.extend_from_slice(&s.speed_kph.to_le_bytes());
        b.extend_from_slice(&s.rpm.unwrap_or(0).to_le_bytes());
        b.push(s.gear.unwrap_or(0) as u8);
        b.extend_from_slice(&s.throttle.unwrap_or(0.0).to_le_bytes());
        b.extend_from_slice(&s.brake.unwrap_or(0.0).to_le_bytes());
        b.push(s.drs.unwrap_or(false) as u8);
        for arr in [
            s.tyre_surface_temp_c,
            s.tyre_inner_temp_c,
            s.tyre_pressure_psi,
            s.brake_temp_c,
        ] {
            put_f32x4(b, &arr.unwrap_or([0.0; 4]));
        }
        b.push(s.tyre_compound.unwrap_or(Compound::Medium).code());
        b.extend_from_slice(&s.tyre_age_laps.unwrap_or(0).to_le_bytes());
        put_f32x4(b, &s.tyre_wear_pct.unwrap_or([0.0; 4]));
        for v in [s.fuel_kg, s.ers_store_mj, s.engine_temp_c] {
            b.extend_from_slice(&v.unwrap_or(0.0).to_le_bytes());
        }
        b.push(s.pit_status.unwrap_or_default().code());
        b.push(s.position.unwrap_or(1));
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

fn put_f32(buf: &mut Vec<u8>, v: Option<f32>) {
    if let Some(v) = v {
        buf.extend_from_slice(&v.to_le_bytes());
    }
}

fn put_f32x4(buf: &mut Vec<u8>, arr: &[f32; 4]) {
    for v in arr {
        buf.extend_from_slice(&v.to_le_bytes());
    }
}

/// Decodes a data entry: its batch (`d`) and, when present, its sequence bases (`b`).
pub fn decode_entry(
    data: &[u8],
    bases: Option<&[u8]>,
    out: &mut Vec<Sample>,
) -> Result<BatchHeader, DecodeError> {
    let header = decode_batch(data, out)?;
    if let Some(b) = bases
        && let Err(e) = apply_seq_bases(b, out)
    {
        out.clear();
        return Err(e);
    }
    Ok(header)
}

/// Moves each car's sequence numbers on by its base from a data entry's `b` field
/// (`car:base,…`; [`crate::stream::FIELD_SEQ_BASE`]).
pub fn apply_seq_bases(bases: &[u8], samples: &mut [Sample]) -> Result<(), DecodeError> {
    let bad =
        || DecodeError::BadSeqBase(String::from_utf8_lossy(&bases[..bases.len().min(64)]).into());
    let text = std::str::from_utf8(bases).map_err(|_| bad())?;
    let mut table: Vec<(u8, u32)> = Vec::new();
    for item in text.split(',').filter(|s| !s.is_empty()) {
        let (car, base) = item.split_once(':').ok_or_else(bad)?;
        table.push((
            car.parse().map_err(|_| bad())?,
            base.parse().map_err(|_| bad())?,
        ));
    }
    for s in samples {
        if let Some((_, base)) = table.iter().find(|(car, _)| *car == s.car) {
            s.seq = s.seq.checked_add(*base).ok_or_else(bad)?;
        }
    }
    Ok(())
}

/// Encodes one batch in a single call (tests, HTTP ingest).
pub fn encode_batch(session: &str, created_us: i64, samples: &[Sample]) -> Vec<u8> {
    let mut enc = BatchEncoder::new(session, created_us);
    for s in samples {
        enc.push(s);
    }
    enc.finish()
}

/// Encodes a version-1 batch (backward-compatibility tests).
#[doc(hidden)]
pub fn encode_batch_v1(session: &str, created_us: i64, samples: &[Sample]) -> Vec<u8> {
    let mut enc = BatchEncoder::with_version(session, created_us, VERSION_1);
    for s in samples {
        enc.push_v1(s);
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
    fn compound(&mut self) -> Result<Compound, DecodeError> {
        let code = self.u8()?;
        Compound::from_code(code).ok_or(DecodeError::InvalidEnum {
            field: "tyre_compound",
            code,
        })
    }
    fn pit_status(&mut self) -> Result<PitStatus, DecodeError> {
        let code = self.u8()?;
        PitStatus::from_code(code).ok_or(DecodeError::InvalidEnum {
            field: "pit_status",
            code,
        })
    }
}

/// Decodes a batch, appending its samples to `out` (cleared first; reuse it to avoid
/// allocation on the hot path). Every sample is range-checked; one bad sample rejects
/// the whole entry, which is then dead-lettered as a unit (and `out` is left empty).
pub fn decode_batch(buf: &[u8], out: &mut Vec<Sample>) -> Result<BatchHeader, DecodeError> {
    out.clear();
    let decoded = decode_into(buf, out);
    if decoded.is_err() {
        out.clear();
    }
    decoded
}

fn decode_into(buf: &[u8], out: &mut Vec<Sample>) -> Result<BatchHeader, DecodeError> {
    let mut r = Reader { buf, at: 0 };
    let magic: [u8; 2] = r.take()?;
    if magic != MAGIC {
        return Err(DecodeError::BadMagic(magic));
    }
    let version = r.u8()?;
    if version != VERSION && version != VERSION_1 {
        return Err(DecodeError::UnsupportedVersion(version));
    }
    let _flags = r.u8()?;
    let created_us = r.i64()?;
    let session = r.str("session")?;
    let count = r.u16()? as usize;
    if count > 0 {
        validate_session(&session).map_err(|source| DecodeError::Invalid { index: 0, source })?;
    }
    // Room for as many samples as the bytes left can hold, not for the declared count:
    // a 19-byte entry declaring 65,535 samples must not reserve 19 MB.
    out.reserve(count.min((buf.len() - r.at) / MIN_SAMPLE_BYTES));
    for index in 0..count {
        // Read straight into the output slot: a sample is a few hundred bytes to move.
        out.push(Sample {
            session: session.clone(),
            ..Sample::default()
        });
        let s = out.last_mut().expect("just pushed");
        if version == VERSION {
            sample_v2(&mut r, s)?
        } else {
            sample_v1(&mut r, s)?
        }
        validate_except_session(s).map_err(|source| DecodeError::Invalid { index, source })?;
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

fn sample_v2(r: &mut Reader<'_>, s: &mut Sample) -> Result<(), DecodeError> {
    s.car = r.u8()?;
    s.seq = r.u32()?;
    s.timestamp_ms = r.i64()?;
    s.speed_kph = r.f32()?;
    let present = r.u32()?;
    if present & !Channels::KNOWN != 0 {
        return Err(DecodeError::UnknownChannels(present & !Channels::KNOWN));
    }
    let has = |c: Channel| present & c.bit() != 0;
    // In bit order, as the encoder writes them.
    if has(Channel::Driver) {
        s.driver = Some(r.str("driver")?);
    }
    if has(Channel::Team) {
        s.team = Some(r.str("team")?);
    }
    if has(Channel::Lap) {
        s.lap = Some(r.u16()?);
    }
    if has(Channel::Sector) {
        s.sector = Some(r.u8()?);
    }
    if has(Channel::LapDistance) {
        s.lap_distance_m = Some(r.f32()?);
    }
    if has(Channel::Rpm) {
        s.rpm = Some(r.u16()?);
    }
    if has(Channel::Gear) {
        s.gear = Some(r.u8()? as i8);
    }
    if has(Channel::Throttle) {
        s.throttle = Some(r.f32()?);
    }
    if has(Channel::Brake) {
        s.brake = Some(r.f32()?);
    }
    if has(Channel::Drs) {
        s.drs = Some(r.u8()? != 0);
    }
    if has(Channel::TyreSurfaceTemp) {
        s.tyre_surface_temp_c = Some(r.f32x4()?);
    }
    if has(Channel::TyreInnerTemp) {
        s.tyre_inner_temp_c = Some(r.f32x4()?);
    }
    if has(Channel::TyrePressure) {
        s.tyre_pressure_psi = Some(r.f32x4()?);
    }
    if has(Channel::BrakeTemp) {
        s.brake_temp_c = Some(r.f32x4()?);
    }
    if has(Channel::Compound) {
        s.tyre_compound = Some(r.compound()?);
    }
    if has(Channel::TyreAge) {
        s.tyre_age_laps = Some(r.u16()?);
    }
    if has(Channel::TyreWear) {
        s.tyre_wear_pct = Some(r.f32x4()?);
    }
    if has(Channel::Fuel) {
        s.fuel_kg = Some(r.f32()?);
    }
    if has(Channel::Ers) {
        s.ers_store_mj = Some(r.f32()?);
    }
    if has(Channel::EngineTemp) {
        s.engine_temp_c = Some(r.f32()?);
    }
    if has(Channel::PitStatus) {
        s.pit_status = Some(r.pit_status()?);
    }
    if has(Channel::Position) {
        s.position = Some(r.u8()?);
    }
    if has(Channel::X) {
        s.x = Some(r.f32()?);
    }
    if has(Channel::Y) {
        s.y = Some(r.f32()?);
    }
    if has(Channel::Z) {
        s.z = Some(r.f32()?);
    }
    Ok(())
}

fn sample_v1(r: &mut Reader<'_>, s: &mut Sample) -> Result<(), DecodeError> {
    *s = Sample {
        session: std::mem::take(&mut s.session),
        car: r.u8()?,
        seq: r.u32()?,
        driver: Some(r.str("driver")?),
        team: Some(r.str("team")?),
        lap: Some(r.u16()?),
        sector: Some(r.u8()?),
        lap_distance_m: Some(r.f32()?),
        timestamp_ms: r.i64()?,
        speed_kph: r.f32()?,
        rpm: Some(r.u16()?),
        gear: Some(r.u8()? as i8),
        throttle: Some(r.f32()?),
        brake: Some(r.f32()?),
        drs: Some(r.u8()? != 0),
        tyre_surface_temp_c: Some(r.f32x4()?),
        tyre_inner_temp_c: Some(r.f32x4()?),
        tyre_pressure_psi: Some(r.f32x4()?),
        brake_temp_c: Some(r.f32x4()?),
        tyre_compound: Some(r.compound()?),
        tyre_age_laps: Some(r.u16()?),
        tyre_wear_pct: Some(r.f32x4()?),
        fuel_kg: Some(r.f32()?),
        ers_store_mj: Some(r.f32()?),
        engine_temp_c: Some(r.f32()?),
        pit_status: Some(r.pit_status()?),
        position: Some(r.u8()?),
        x: None,
        y: None,
        z: None,
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn sample(car: u8, seq: u32) -> Sample {
        Sample {
            session: "monza-test".into(),
            car,
            seq,
            lap: Some(3),
            sector: Some(2),
            lap_distance_m: Some(2345.5),
            timestamp_ms: 1_725_800_000_123,
            speed_kph: 312.4,
            rpm: Some(11_800),
            gear: Some(8),
            drs: Some(true),
            tyre_compound: Some(Compound::Hard),
            pit_status: Some(PitStatus::PitLane),
            position: Some(4),
            ..Sample::example()
        }
    }

    /// What live timing sends: speed, RPM, gear, pedals, DRS and position, nothing else.
    fn partial(car: u8, seq: u32) -> Sample {
        Sample {
            session: "monza-test".into(),
            car,
            seq,
            timestamp_ms: 1_725_800_000_123 + seq as i64 * 250,
            speed_kph: 80.0,
            rpm: Some(7_012),
            gear: Some(2),
            throttle: Some(0.36),
            brake: Some(0.0),
            drs: Some(false),
            x: Some(49.0),
            y: Some(341.3),
            z: Some(-1.2),
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

    /// Absent channels stay absent (not zero) through the stream, and cost no bytes.
    #[test]
    fn partial_channels_round_trip() {
        let samples: Vec<_> = (0..20)
            .map(|i| {
                if i % 2 == 0 {
                    partial(44, i)
                } else {
                    sample(16, i)
                }
            })
            .collect();
        let bytes = encode_batch("monza-test", 7, &samples);
        let mut out = Vec::new();
        decode_batch(&bytes, &mut out).unwrap();
        assert_eq!(out, samples);
        assert_eq!(out[0].engine_temp_c, None);
        let bare = Sample {
            session: "monza-test".into(),
            car: 1,
            timestamp_ms: 1_725_800_000_000,
            ..Sample::default()
        };
        let one = encode_batch("monza-test", 7, std::slice::from_ref(&bare));
        let empty = encode_batch("monza-test", 7, &[]);
        // car, seq, timestamp, speed and the presence word.
        assert_eq!(one.len() - empty.len(), 1 + 4 + 8 + 4 + 4);
    }

    /// Entries written before channels became optional still decode, every channel present.
    #[test]
    fn version_1_entries_still_decode() {
        let samples: Vec<_> = (0..5)
            .map(|i| Sample {
                x: None,
                y: None,
                z: None,
                ..sample(16, i)
            })
            .collect();
        let bytes = encode_batch_v1("monza-test", 9, &samples);
        assert_eq!(bytes[2], 1);
        let mut out = Vec::new();
        let header = decode_batch(&bytes, &mut out).unwrap();
        assert_eq!(header.count, 5);
        assert_eq!(out, samples);
    }

    /// A presence bit this version does not know is refused, not skipped over.
    #[test]
    fn unknown_channel_bits_are_refused() {
        let mut bytes = encode_batch("s", 1, &[partial(1, 0)]);
        // The presence word follows car, seq, timestamp and speed of the first sample.
        let at = 2 + 1 + 1 + 8 + (1 + 1) + 2 + (1 + 4 + 8 + 4);
        bytes[at + 3] |= 0x80;
        let err = decode_batch(&bytes, &mut Vec::new()).unwrap_err();
        assert!(matches!(err, DecodeError::UnknownChannels(_)), "{err}");
        assert_eq!(err.category(), "unknown_channels");
    }

    /// Every truncation point yields an error, never a panic or a short batch.
    #[test]
    fn every_truncation_is_an_error() {
        let bytes = encode_batch("s", 1, &[sample(1, 0), partial(2, 0)]);
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
        let good = encode_batch("s", 1, &[sample(1, 0), partial(2, 1)]);
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

    /// A declared count reserves only what the entry's bytes can hold (a header of 19
    /// bytes declaring 65,535 samples reserved 19 MB before).
    #[test]
    fn declared_count_does_not_drive_allocation() {
        for version in [VERSION, VERSION_1] {
            let mut bytes = BatchEncoder::with_version("s", 1, version).finish();
            let at = bytes.len() - 2;
            bytes[at..].copy_from_slice(&u16::MAX.to_le_bytes());
            let mut out = Vec::new();
            assert!(matches!(
                decode_batch(&bytes, &mut out),
                Err(DecodeError::Truncated { .. })
            ));
            // The first sample's slot is pushed before its bytes are read.
            assert!(out.capacity() <= 4, "version {version}: {}", out.capacity());
            bytes.extend(encode_batch("s", 1, &[partial(1, 0)])[bytes.len()..].iter());
            assert!(decode_batch(&bytes, &mut out).is_err());
            assert!(out.capacity() <= 4, "version {version}: {}", out.capacity());
        }
    }

    /// Out-of-range values inside a well-formed batch are rejected with the sample index.
    #[test]
    fn invalid_sample_is_rejected() {
        let mut bad = sample(1, 0);
        bad.throttle = Some(7.0);
        let bytes = encode_batch("s", 1, &[sample(1, 0), bad]);
        let mut out = vec![sample(9, 9)];
        let err = decode_batch(&bytes, &mut out).unwrap_err();
        assert!(out.is_empty(), "nothing half-decoded is left behind");
        assert!(
            matches!(err, DecodeError::Invalid { index: 1, .. }),
            "{err}"
        );
        assert_eq!(err.category(), "out_of_range");
    }

    /// Sequence bases move each car's numbers on; a malformed table is refused.
    #[test]
    fn seq_bases_move_numbers_on() {
        let mut s = vec![partial(4, 0), partial(4, 1), partial(9, 0)];
        apply_seq_bases(b"4:100,9:7", &mut s).unwrap();
        assert_eq!(s.iter().map(|x| x.seq).collect::<Vec<_>>(), [100, 101, 7]);
        for bad in [&b"4-100"[..], b"x:1", b"4:-1", b"4:4294967295"] {
            let err = apply_seq_bases(bad, &mut s).unwrap_err();
            assert_eq!(err.category(), "bad_seq_base", "{bad:?}");
        }
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
