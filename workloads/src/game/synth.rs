//! F1 24 packets written byte for byte as the game's specification lays them out (format
//! 2024), for tests and benchmarks: what the game would send for a race we choose. The
//! tests read every kind back through `f1-game-packet-parser`, so a wrong offset fails
//! there, not in a race.

use super::decode::{CarLap, CarTelemetry};

pub const FORMAT: u16 = 2024;
/// Car slots in every per-car packet.
pub const SLOTS: usize = 22;

/// The 29-byte header.
pub fn header(kind: u8, uid: u64, time_s: f32, frame: u32) -> Vec<u8> {
    let mut b = Vec::with_capacity(1400);
    b.extend_from_slice(&FORMAT.to_le_bytes());
    b.extend_from_slice(&[24, 1, 0, 1, kind]);
    b.extend_from_slice(&uid.to_le_bytes());
    b.extend_from_slice(&time_s.to_le_bytes());
    b.extend_from_slice(&frame.to_le_bytes());
    b.extend_from_slice(&frame.to_le_bytes());
    b.extend_from_slice(&[0, 255]);
    b
}

/// Lap Data (57 bytes per car), slots past `cars` empty.
pub fn laps(uid: u64, time_s: f32, frame: u32, cars: &[CarLap]) -> Vec<u8> {
    let mut b = header(2, uid, time_s, frame);
    for i in 0..SLOTS {
        let l = cars.get(i).copied().unwrap_or_default();
        let mut c = [0u8; 57];
        c[20..24].copy_from_slice(&l.lap_distance_m.to_le_bytes());
        c[32] = l.position;
        c[33] = l.lap;
        c[34] = l.pit_status;
        c[35] = l.num_pit_stops;
        c[36] = l.sector.saturating_sub(1);
        c[43] = l.position;
        c[44] = if l.pit_status != 0 { 0 } else { 4 };
        // resultStatus: 2 active, 3 finished; an empty slot is 0 (invalid).
        c[45] = match (l.racing, l.lap) {
            (true, _) => 2,
            (false, 0) => 0,
            (false, _) => 3,
        };
        c[46] = (l.pit_status != 0) as u8;
        c[49..51].copy_from_slice(&l.pit_stop_timer_ms.to_le_bytes());
        b.extend_from_slice(&c);
    }
    b.extend_from_slice(&[255, 255]);
    b
}

/// Car Telemetry (60 bytes per car), wheels given in our order (FL, FR, RL, RR).
pub fn telemetry(uid: u64, time_s: f32, frame: u32, cars: &[CarTelemetry]) -> Vec<u8> {
    let game = |w: [usize; 4]| [w[2], w[3], w[0], w[1]];
    let mut b = header(6, uid, time_s, frame);
    for i in 0..SLOTS {
        let t = cars.get(i).copied().unwrap_or_default();
        let mut c = [0u8; 60];
        c[0..2].copy_from_slice(&t.speed_kph.to_le_bytes());
        c[2..6].copy_from_slice(&t.throttle.to_le_bytes());
        c[10..14].copy_from_slice(&t.brake.to_le_bytes());
        c[15] = t.gear as u8;
        c[16..18].copy_from_slice(&t.rpm.to_le_bytes());
        c[18] = t.drs as u8;
        for (k, w) in game([0, 1, 2, 3]).into_iter().enumerate() {
            c[22 + 2 * k..24 + 2 * k].copy_from_slice(&t.brake_temp_c[w].to_le_bytes());
            c[30 + k] = t.tyre_surface_temp_c[w];
            c[34 + k] = t.tyre_inner_temp_c[w];
            c[40 + 4 * k..44 + 4 * k].copy_from_slice(&t.tyre_pressure_psi[w].to_le_bytes());
        }
        c[38..40].copy_from_slice(&t.engine_temp_c.to_le_bytes());
        b.extend_from_slice(&c);
    }
    b.extend_from_slice(&[255, 255, 0]);
    b
}

/// An event without details (`CHQF`, `SSTA`, `SEND`), 45 bytes.
pub fn event(uid: u64, time_s: f32, frame: u32, code: &[u8; 4]) -> Vec<u8> {
    let mut b = header(3, uid, time_s, frame);
    b.extend_from_slice(code);
    b.resize(45, 0);
    b
}

/// Session (753 bytes): the track, the race distance and the safety car; the rest zero.
pub fn session(
    uid: u64,
    time_s: f32,
    frame: u32,
    track_id: i8,
    laps: u8,
    safety_car: u8,
) -> Vec<u8> {
    let mut b = header(1, uid, time_s, frame);
    b.resize(753, 0);
    b[32] = laps;
    b[33..35].copy_from_slice(&5_412u16.to_le_bytes());
    b[35] = 15; // a race
    b[36] = track_id as u8;
    // 0 none, 1 full, 2 virtual, 3 formation lap.
    b[153] = safety_car;
    b
}

/// Participants (60 bytes per car): name, team id, race number.
pub fn participants(uid: u64, time_s: f32, frame: u32, cars: &[(&str, u8, u8)]) -> Vec<u8> {
    let mut b = header(4, uid, time_s, frame);
    b.push(cars.len() as u8);
    for i in 0..SLOTS {
        let mut c = [0u8; 60];
        if let Some((name, team, number)) = cars.get(i) {
            c[0] = 1;
            c[3] = *team;
            c[5] = *number;
            let n = name.len().min(47);
            c[7..7 + n].copy_from_slice(&name.as_bytes()[..n]);
        }
        c[59] = 255;
        b.extend_from_slice(&c);
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::decode::{GameEvent, Payload, SessionInfo, decode};

    /// Every packet kind written here reads back through the crate as written.
    #[test]
    fn written_packets_read_back_through_the_parser() {
        let lap = CarLap {
            lap: 3,
            lap_distance_m: 1234.5,
            position: 7,
            sector: 2,
            pit_status: 2,
            num_pit_stops: 1,
            pit_stop_timer_ms: 2450,
            racing: true,
        };
        let p = decode(&laps(9, 12.5, 300, &[lap])).unwrap();
        assert_eq!((p.header.session_uid, p.header.frame), (9, 300));
        assert_eq!(p.header.session_time_s, 12.5);
        let Payload::Laps(l) = p.payload else {
            panic!("{:?}", p.payload)
        };
        assert_eq!(l.len(), SLOTS);
        assert_eq!(l[0], lap);
        assert!(!l[1].racing);
        let tel = CarTelemetry {
            speed_kph: 287,
            throttle: 0.75,
            brake: 0.25,
            gear: 7,
            rpm: 11_650,
            drs: true,
            brake_temp_c: [501, 502, 503, 504],
            tyre_surface_temp_c: [101, 102, 103, 104],
            tyre_inner_temp_c: [91, 92, 93, 94],
            engine_temp_c: 109,
            tyre_pressure_psi: [24.5, 24.6, 21.5, 21.6],
        };
        let Payload::Telemetry(t) = decode(&telemetry(9, 1.0, 1, &[tel])).unwrap().payload else {
            panic!()
        };
        assert_eq!(t[0], tel);
        let Payload::Session(s) = decode(&session(9, 1.0, 1, 26, 72, 2)).unwrap().payload else {
            panic!()
        };
        assert_eq!(
            s,
            SessionInfo {
                track_id: 26,
                total_laps: 72,
                safety_car: 2
            }
        );
        let Payload::Participants(ps) = decode(&participants(
            9,
            1.0,
            1,
            &[("NORRIS", 8, 4), ("PIASTRI", 8, 81)],
        ))
        .unwrap()
        .payload
        else {
            panic!()
        };
        assert_eq!(ps.len(), 2);
        assert_eq!(
            (ps[1].name.as_str(), ps[1].team_id, ps[1].race_number),
            ("PIASTRI", 8, 81)
        );
        let ev = decode(&event(9, 1.0, 1, b"CHQF")).unwrap().payload;
        assert_eq!(ev, Payload::Event(GameEvent::ChequeredFlag));
    }
}
