//! One UDP datagram of the F1 game into a [`Packet`]: the header and, for the packet kinds
//! the gateway uses, the fields it uses, in our units and wheel order. Parsing is
//! `f1-game-packet-parser`'s (formats 2022, 2023, 2024); this module only chooses what to
//! parse and names why a datagram was refused ([`Refused`]). Any byte string is answered
//! (fuzzed in the tests): a datagram never panics the gateway.

use crate::model::Compound;
use f1_game_packet_parser::constants::{PitStatus as GamePit, ResultStatus, VisualTyreCompound};
use f1_game_packet_parser::packets::event::EventDetails;
use f1_game_packet_parser::packets::{
    F1PacketCarStatus, F1PacketCarTelemetry, F1PacketLaps, F1PacketParticipants, F1PacketSession,
};

/// Formats this gateway decodes (the game's telemetry setting "UDP Format").
pub const FORMATS: std::ops::RangeInclusive<u16> = 2022..=2024;

/// Why a datagram was refused; the label of `pitstop_gateway_dropped_total{reason}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Refused {
    /// Shorter than its header or its packet.
    Truncated,
    /// A `packetFormat` outside [`FORMATS`] (2025's, an older game, or not the game).
    UnsupportedFormat,
    /// A packet id no format defines.
    UnknownPacket,
    /// The bytes do not read as the packet they say they are (a bad enum value, ...).
    Malformed,
}

impl Refused {
    pub const ALL: [Refused; 4] = [
        Refused::Truncated,
        Refused::UnsupportedFormat,
        Refused::UnknownPacket,
        Refused::Malformed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Refused::Truncated => "truncated",
            Refused::UnsupportedFormat => "unsupported_format",
            Refused::UnknownPacket => "unknown_packet",
            Refused::Malformed => "malformed",
        }
    }
}

/// The game's packet ids (the header's `packetId`), by name for metrics.
pub const PACKET_KINDS: [&str; 15] = [
    "motion",
    "session",
    "lap_data",
    "event",
    "participants",
    "car_setups",
    "car_telemetry",
    "car_status",
    "final_classification",
    "lobby_info",
    "car_damage",
    "session_history",
    "tyre_sets",
    "motion_ex",
    "time_trial",
];

/// What every packet says about itself.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Header {
    pub format: u16,
    /// Index into [`PACKET_KINDS`].
    pub kind: u8,
    pub session_uid: u64,
    /// Seconds since the game session began (goes back after a flashback).
    pub session_time_s: f32,
    /// The frame: `overallFrameIdentifier` from 2023 (it never goes back, not even after
    /// a flashback), `frameIdentifier` in 2022.
    pub frame: u32,
}

/// One car's Lap Data.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct CarLap {
    pub lap: u8,
    /// Metres from the line; negative before the car first crosses it.
    pub lap_distance_m: f32,
    pub position: u8,
    /// 1..=3.
    pub sector: u8,
    /// 0 none, 1 in the pit lane, 2 in the pit area (the box).
    pub pit_status: u8,
    pub num_pit_stops: u8,
    /// The game's own stationary timer of the current stop.
    pub pit_stop_timer_ms: u16,
    /// Racing (`resultStatus` active): not an empty slot, not finished, not retired.
    pub racing: bool,
}

/// One car's Car Telemetry, wheels in our order (FL, FR, RL, RR).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct CarTelemetry {
    pub speed_kph: u16,
    pub throttle: f32,
    pub brake: f32,
    pub gear: i8,
    pub rpm: u16,
    pub drs: bool,
    pub brake_temp_c: [u16; 4],
    pub tyre_surface_temp_c: [u8; 4],
    pub tyre_inner_temp_c: [u8; 4],
    pub engine_temp_c: u16,
    pub tyre_pressure_psi: [f32; 4],
}

/// One car's Car Status (what changes slowly).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct CarStatus {
    pub compound: Option<Compound>,
    pub tyre_age_laps: u8,
    pub fuel_kg: f32,
    pub ers_store_mj: f32,
}

/// One entry of Participants.
#[derive(Clone, Debug, PartialEq)]
pub struct Participant {
    pub name: String,
    pub team_id: u8,
    pub race_number: u8,
}

/// What the Session packet says about the event.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SessionInfo {
    pub track_id: i8,
    pub total_laps: u8,
    /// 0 none, 1 full, 2 virtual, 3 formation lap.
    pub safety_car: u8,
}

/// The events the gateway acts on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum GameEvent {
    SessionStarted,
    SessionEnded,
    ChequeredFlag,
    /// F1 24 on.
    RedFlag,
    /// The start lights go out (the start, and a standing restart after a red flag).
    LightsOut,
    Retirement {
        car_index: usize,
    },
    Flashback {
        session_time_s: f32,
    },
    /// Any other code (penalties, fastest lap, buttons, ...): counted, not used.
    Other,
}

/// The body of the packet kinds the gateway uses.
#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    Laps(Vec<CarLap>),
    Telemetry(Vec<CarTelemetry>),
    Status(Vec<CarStatus>),
    /// Tyre wear per car, percent, our wheel order.
    Damage(Vec<[f32; 4]>),
    Participants(Vec<Participant>),
    Session(SessionInfo),
    Event(GameEvent),
    /// A kind the gateway counts but does not read (motion, setups, history, ...).
    Unused,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Packet {
    pub header: Header,
    pub payload: Payload,
}

/// Bytes of each packet kind the gateway reads, per format (the game's specification; the
/// crate reads a short Participants packet without complaint, so the length is checked
/// here). Longer datagrams are read (a patch may append fields); events vary in length.
fn packet_len(format: u16, kind: u8) -> Option<usize> {
    let by_kind: [usize; 7] = match format {
        2022 => [632, 972, 0, 1257, 1347, 1058, 948],
        2023 => [644, 1131, 0, 1306, 1352, 1239, 953],
        _ => [753, 1285, 0, 1350, 1352, 1239, 953],
    };
    let i = match kind {
        1 => 0,
        2 => 1,
        4 => 3,
        6 => 4,
        7 => 5,
        10 => 6,
        _ => return None,
    };
    Some(by_kind[i])
}

/// Header bytes of a format: 24 in 2022 (no game year, no overall frame), 29 after.
fn header_len(format: u16) -> usize {
    if format >= 2023 { 29 } else { 24 }
}

/// Reads a datagram. Packet kinds the gateway does not use are only checked as far as
/// their header, which keeps a busy gateway's work to what it sends on. The header is read
/// at the specification's offsets (the crate reads the same bytes again for the kinds it
/// parses).
pub fn decode(datagram: &[u8]) -> Result<Packet, Refused> {
    let Some(format) = datagram.get(..2).map(|b| u16::from_le_bytes([b[0], b[1]])) else {
        return Err(Refused::Truncated);
    };
    if !FORMATS.contains(&format) {
        return Err(Refused::UnsupportedFormat);
    }
    if datagram.len() < header_len(format) {
        return Err(Refused::Truncated);
    }
    let kind = datagram[if format >= 2023 { 6 } else { 5 }];
    if kind as usize >= PACKET_KINDS.len() || (format < 2024 && kind == 14) {
        return Err(Refused::UnknownPacket);
    }
    if packet_len(format, kind).is_some_and(|len| datagram.len() < len) {
        return Err(Refused::Truncated);
    }
    let header = raw_header(datagram, format, kind);
    // Game time is seconds since the session began: anything else (NaN, negative, a
    // year) is not the game's, and would throw the session's clock off.
    if !(0.0..=1e7).contains(&header.session_time_s) {
        return Err(Refused::Malformed);
    }
    if !matches!(kind, 1 | 2 | 3 | 4 | 6 | 7 | 10) {
        return Ok(Packet {
            header,
            payload: Payload::Unused,
        });
    }
    let p = f1_game_packet_parser::parse(datagram).map_err(|e| {
        if e.is_eof() {
            Refused::Truncated
        } else {
            Refused::Malformed
        }
    })?;
    let payload = if let Some(l) = &p.laps {
        Payload::Laps(laps(l))
    } else if let Some(t) = &p.car_telemetry {
        Payload::Telemetry(telemetry(t))
    } else if let Some(s) = &p.car_status {
        Payload::Status(status(s))
    } else if let Some(d) = &p.car_damage {
        Payload::Damage(d.data.iter().map(|c| wheels(c.tyres_wear)).collect())
    } else if let Some(ps) = &p.participants {
        Payload::Participants(participants(ps))
    } else if let Some(s) = &p.session {
        Payload::Session(session(s))
    } else if let Some(e) = &p.event {
        Payload::Event(event(&e.details))
    } else {
        return Err(Refused::Malformed);
    };
    Ok(Packet { header, payload })
}

/// The header of a packet kind not parsed further (offsets of the game's specification).
fn raw_header(d: &[u8], format: u16, kind: u8) -> Header {
    let u32_at = |i: usize| u32::from_le_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]]);
    let base = if format >= 2023 { 7 } else { 6 };
    let uid = u64::from_le_bytes(d[base..base + 8].try_into().expect("8 bytes"));
    Header {
        format,
        kind,
        session_uid: uid,
        session_time_s: f32::from_bits(u32_at(base + 8)),
        frame: if format >= 2023 {
            u32_at(base + 16)
        } else {
            u32_at(base + 12)
        },
    }
}

/// The game's wheel order (RL, RR, FL, FR) into ours (FL, FR, RL, RR).
fn wheels<T: Copy>(w: [T; 4]) -> [T; 4] {
    [w[2], w[3], w[0], w[1]]
}

fn laps(p: &F1PacketLaps) -> Vec<CarLap> {
    p.data
        .iter()
        .map(|l| CarLap {
            lap: l.current_lap_num,
            lap_distance_m: l.lap_distance,
            position: l.car_position,
            sector: l.sector as u8 + 1,
            pit_status: match l.pit_status {
                GamePit::None => 0,
                GamePit::Pitting => 1,
                _ => 2,
            },
            num_pit_stops: l.num_pit_stops,
            pit_stop_timer_ms: l.pit_stop_timer_ms,
            racing: l.result_status == ResultStatus::Active,
        })
        .collect()
}

fn telemetry(p: &F1PacketCarTelemetry) -> Vec<CarTelemetry> {
    p.data
        .iter()
        .map(|t| CarTelemetry {
            speed_kph: t.speed,
            throttle: t.throttle,
            brake: t.brake,
            gear: t.gear,
            rpm: t.engine_rpm,
            drs: t.drs_enabled,
            brake_temp_c: wheels(t.brakes_temperature),
            tyre_surface_temp_c: wheels(t.tyres_surface_temperature),
            tyre_inner_temp_c: wheels(t.tyres_inner_temperature),
            engine_temp_c: t.engine_temperature,
            tyre_pressure_psi: wheels(t.tyres_pressure),
        })
        .collect()
}

fn status(p: &F1PacketCarStatus) -> Vec<CarStatus> {
    p.data
        .iter()
        .map(|s| CarStatus {
            compound: match s.visual_tyre_compound {
                VisualTyreCompound::F1Soft => Some(Compound::Soft),
                VisualTyreCompound::F1Medium => Some(Compound::Medium),
                VisualTyreCompound::F1Hard => Some(Compound::Hard),
                VisualTyreCompound::F1Inter => Some(Compound::Intermediate),
                VisualTyreCompound::F1Wet => Some(Compound::Wet),
                _ => None,
            },
            tyre_age_laps: s.tyres_age_laps,
            fuel_kg: s.fuel_in_tank,
            ers_store_mj: s.ers_store_energy / 1e6,
        })
        .collect()
}

fn participants(p: &F1PacketParticipants) -> Vec<Participant> {
    p.data
        .iter()
        .take(p.num_active_cars)
        .map(|c| Participant {
            name: c.name.clone(),
            team_id: c.team_id,
            race_number: c.race_number,
        })
        .collect()
}

fn session(s: &F1PacketSession) -> SessionInfo {
    SessionInfo {
        track_id: s.track_id as i8,
        total_laps: s.total_laps,
        // The byte as the game's specification defines it (0 none, 1 full, 2 virtual,
        // 3 formation lap); the crate's enum names 1 and 2 the other way round.
        safety_car: s.safety_car_status as u8,
    }
}

fn event(d: &EventDetails) -> GameEvent {
    match d {
        EventDetails::SessionStarted => GameEvent::SessionStarted,
        EventDetails::SessionEnded => GameEvent::SessionEnded,
        EventDetails::ChequeredFlag => GameEvent::ChequeredFlag,
        EventDetails::RedFlag => GameEvent::RedFlag,
        EventDetails::LightsOut => GameEvent::LightsOut,
        EventDetails::Retirement { vehicle_index } => GameEvent::Retirement {
            car_index: *vehicle_index,
        },
        EventDetails::Flashback {
            flashback_session_time,
            ..
        } => GameEvent::Flashback {
            session_time_s: *flashback_session_time,
        },
        _ => GameEvent::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::synth;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

        /// Any bytes are answered, never a panic.
        #[test]
        fn any_bytes_are_answered(bytes in proptest::collection::vec(any::<u8>(), 0..1_500)) {
            let _ = decode(&bytes);
        }

        /// A real-shaped packet with bytes flipped, cut or extended is answered, and a cut
        /// one is refused as truncated.
        #[test]
        fn mangled_packets_are_answered(
            kind in 0usize..4,
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..12),
            cut in any::<usize>(),
        ) {
            let mut p = match kind {
                0 => synth::laps(1, 2.0, 3, &[CarLap::default()]),
                1 => synth::telemetry(1, 2.0, 3, &[CarTelemetry::default()]),
                2 => synth::participants(1, 2.0, 3, &[("A", 1, 2)]),
                _ => synth::session(1, 2.0, 3, 11, 53, 0),
            };
            for (i, b) in flips {
                let n = p.len();
                p[7 + i % (n - 7)] = b;
            }
            let _ = decode(&p);
            let cut = cut % p.len();
            if cut >= 7 {
                prop_assert_eq!(decode(&p[..cut]), Err(Refused::Truncated));
            }
        }
    }
}
