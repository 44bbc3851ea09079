//! The 95 real datagrams of the F1 22, 23 and 24 games in `../shared/data/f1/game-udp-packets/`
//! (one packet per file, `<format>-<packetId>[-<EVENT>].bin`): each decodes as the packet
//! its name says, the F1 24 race start becomes 20 cars with their real names and teams,
//! and their samples pass the processor's validation. Skipped without the data.

mod common;

use pitstop_workloads::game::assemble::{Assembler, Output};
use pitstop_workloads::game::decode::{self, GameEvent, PACKET_KINDS, Payload, Refused};
use pitstop_workloads::model::validate;
use std::path::PathBuf;

fn packets() -> Option<Vec<(String, Vec<u8>)>> {
    let dir: PathBuf = common::f1_data()?.join("game-udp-packets");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "bin"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    Some(files)
}

#[test]
fn every_real_datagram_decodes_as_the_packet_it_is() {
    let Some(files) = packets() else { return };
    assert_eq!(files.len(), 95);
    for (name, bytes) in &files {
        let mut parts = name.split('-');
        let format: u16 = parts.next().unwrap().parse().unwrap();
        let id: usize = parts.next().unwrap().parse().unwrap();
        let event = parts.next();
        let p = decode::decode(bytes).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(p.header.format, format, "{name}");
        assert_eq!(p.header.kind as usize, id, "{name}: {}", PACKET_KINDS[id]);
        let used = match (&p.payload, id) {
            (Payload::Session(_), 1)
            | (Payload::Laps(_), 2)
            | (Payload::Event(_), 3)
            | (Payload::Participants(_), 4)
            | (Payload::Telemetry(_), 6)
            | (Payload::Status(_), 7)
            | (Payload::Damage(_), 10) => true,
            (Payload::Unused, _) => false,
            (other, _) => panic!("{name}: decoded as {other:?}"),
        };
        assert_eq!(used, matches!(id, 1 | 2 | 3 | 4 | 6 | 7 | 10), "{name}");
        if let (Payload::Event(e), Some(code)) = (&p.payload, event) {
            let expected = match code {
                "SSTA" => Some(GameEvent::SessionStarted),
                "SEND" => Some(GameEvent::SessionEnded),
                "CHQF" => Some(GameEvent::ChequeredFlag),
                "RDFL" => Some(GameEvent::RedFlag),
                _ => None,
            };
            if let Some(expected) = expected {
                assert_eq!(*e, expected, "{name}");
            }
            if code == "FLBK" {
                assert!(matches!(e, GameEvent::Flashback { .. }), "{name}: {e:?}");
            }
            if code == "RTMT" {
                assert!(matches!(e, GameEvent::Retirement { .. }), "{name}: {e:?}");
            }
        }
        // Every prefix of a used packet is refused, never misread or panicking.
        for cut in [0, 1, 5, 23, bytes.len() / 2, bytes.len() - 1] {
            if cut < bytes.len() && used && !matches!(p.payload, Payload::Event(_)) {
                assert_eq!(
                    decode::decode(&bytes[..cut]),
                    Err(Refused::Truncated),
                    "{name} cut at {cut}"
                );
            }
        }
    }
}

#[test]
fn the_f1_24_start_becomes_twenty_named_cars_with_valid_samples() {
    let Some(files) = packets() else { return };
    let mut asm = Assembler::new(None);
    let mut out = Vec::new();
    let t0 = 1_764_900_000_000;
    // Names and event first, then the race data, as a gateway that joined late sees them.
    let order = ["04", "01", "07", "10", "02", "06"];
    for id in order {
        let (_, bytes) = files
            .iter()
            .find(|(n, _)| n == &format!("2024-{id}"))
            .unwrap();
        asm.push(decode::decode(bytes).unwrap(), t0, &mut out);
    }
    asm.flush(&mut out);
    let start = out
        .iter()
        .find_map(|o| match o {
            Output::Start(s) => Some(s.clone()),
            _ => None,
        })
        .expect("a start");
    assert_eq!(start.cars.len(), 20, "{:?}", start.cars);
    assert_eq!(start.circuit, "bahrain");
    assert_eq!(start.laps, 5);
    let ver = start
        .cars
        .iter()
        .find(|c| c.driver == "VERSTAPPEN")
        .expect("Verstappen");
    // The game's own numbers (this set gives Verstappen 33).
    assert_eq!((ver.car, ver.team.as_str()), (33, "Red Bull Racing"));
    let lec = start
        .cars
        .iter()
        .find(|c| c.driver == "LECLERC")
        .expect("Leclerc");
    assert_eq!((lec.car, lec.team.as_str()), (16, "Ferrari"));
    let teams: std::collections::BTreeSet<_> = start.cars.iter().map(|c| c.team.as_str()).collect();
    assert_eq!(teams.len(), 10, "{teams:?}");
    let samples: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Output::Samples(_, s) => Some(s.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(samples.len(), 20, "one frame of 20 cars");
    for s in &samples {
        validate(s).unwrap_or_else(|e| panic!("{s:?}: {e:?}"));
        assert!(s.tyre_compound.is_some() && s.fuel_kg.is_some() && s.tyre_wear_pct.is_some());
    }
    eprintln!("{:#?}", start.cars);
    eprintln!("{:#?}", samples[0]);
}
