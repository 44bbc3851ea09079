//! The assembler on packets written as the game writes them.
use super::*;
use crate::game::decode::decode;
use crate::game::synth;

const T0: i64 = 1_764_900_000_000;

fn lap(lap: u8, d: f32) -> CarLap {
    CarLap {
        lap,
        lap_distance_m: d,
        position: 1,
        sector: 1,
        racing: true,
        ..CarLap::default()
    }
}

fn tel(kph: u16) -> CarTelemetry {
    CarTelemetry {
        speed_kph: kph,
        ..CarTelemetry::default()
    }
}

/// A started session of one car: Participants and Session pushed.
fn started(asm: &mut Assembler, uid: u64, out: &mut Vec<Output>) {
    let p = synth::participants(uid, 0.0, 1, &[("NORRIS", 8, 4)]);
    asm.push(decode(&p).unwrap(), T0, out);
    asm.push(
        decode(&synth::session(uid, 0.0, 1, 26, 3, 0)).unwrap(),
        T0,
        out,
    );
}

fn frame(asm: &mut Assembler, uid: u64, f: u32, out: &mut Vec<Output>) {
    let t = f as f32 / 20.0;
    asm.push(
        decode(&synth::laps(uid, t, f, &[lap(1, f as f32)])).unwrap(),
        T0,
        out,
    );
    asm.push(
        decode(&synth::telemetry(uid, t, f, &[tel(100)])).unwrap(),
        T0,
        out,
    );
}

fn seqs(out: &[Output]) -> Vec<u32> {
    out.iter()
        .filter_map(|o| match o {
            Output::Samples(_, s) => Some(s.iter().map(|s| s.seq)),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn frames_wait_for_the_session_then_leave_in_order_once() {
    let (mut asm, mut out) = (Assembler::new(None), Vec::new());
    frame(&mut asm, 1, 2, &mut out);
    assert!(out.is_empty(), "no names yet: held");
    started(&mut asm, 1, &mut out);
    assert!(matches!(&out[0], Output::Start(s) if s.circuit == "zandvoort" && s.laps == 3));
    frame(&mut asm, 1, 4, &mut out);
    frame(&mut asm, 1, 3, &mut out); // reordered within the window
    frame(&mut asm, 1, 4, &mut out); // resent
    for f in 5..20 {
        frame(&mut asm, 1, f, &mut out);
    }
    frame(&mut asm, 1, 3, &mut out); // again, long after
    let mut got = seqs(&out);
    assert_eq!(
        got[..3],
        [2, 4, 3],
        "frame 3 overtaken by 4 leaves after it"
    );
    got.sort();
    assert_eq!(got, (2..20).collect::<Vec<_>>(), "every frame once");
    // Frame 4 resent after it left, and frame 3 again: both halves each, too late.
    assert_eq!(asm.dropped.get(&Dropped::Duplicate), None);
    assert_eq!(asm.dropped[&Dropped::Late], 4);
}

#[test]
fn a_lost_half_frame_leaves_after_the_window_and_a_frame_without_speed_is_counted() {
    let (mut asm, mut out) = (Assembler::new(None), Vec::new());
    started(&mut asm, 1, &mut out);
    // Frame 2: telemetry lost; frame 3: lap data lost.
    asm.push(
        decode(&synth::laps(1, 0.1, 2, &[lap(1, 2.0)])).unwrap(),
        T0,
        &mut out,
    );
    asm.push(
        decode(&synth::telemetry(1, 0.15, 3, &[tel(90)])).unwrap(),
        T0,
        &mut out,
    );
    for f in 4..20 {
        frame(&mut asm, 1, f, &mut out);
    }
    let s: Vec<_> = seqs(&out);
    assert_eq!(s[0], 3, "frame 3 sent with its speed, without lap data");
    assert_eq!(asm.dropped[&Dropped::IncompleteFrame], 1);
    let first = out.iter().find_map(|o| match o {
        Output::Samples(_, s) => Some(s[0].clone()),
        _ => None,
    });
    assert_eq!(first.unwrap().lap, None);
}

#[test]
fn one_session_per_game_session_unless_bound() {
    let (mut asm, mut out) = (Assembler::new(None), Vec::new());
    started(&mut asm, 0xabc, &mut out);
    started(&mut asm, 0xdef, &mut out);
    let ids: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Output::Start(s) => Some(s.session.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(ids, ["game-0000000000000abc", "game-0000000000000def"]);
    let (mut bound, mut out) = (Assembler::new(Some("league-r1")), Vec::new());
    started(&mut bound, 0xabc, &mut out);
    started(&mut bound, 0xdef, &mut out);
    assert_eq!(bound.sessions(), 1);
    assert_eq!(bound.dropped[&Dropped::OtherSession], 2);
}

#[test]
fn race_control_flashback_and_the_flag() {
    let (mut asm, mut out) = (Assembler::new(None), Vec::new());
    started(&mut asm, 1, &mut out);
    for f in 1..40 {
        frame(&mut asm, 1, f, &mut out);
    }
    asm.push(
        decode(&synth::session(1, 2.0, 40, 26, 3, 1)).unwrap(),
        T0,
        &mut out,
    );
    asm.push(
        decode(&synth::session(1, 2.5, 50, 26, 3, 0)).unwrap(),
        T0,
        &mut out,
    );
    // A flashback to 1.0 s: frames up to what was sent are dropped.
    let mut flbk = synth::event(1, 2.0, 41, b"FLBK");
    flbk[33..37].copy_from_slice(&20u32.to_le_bytes());
    flbk[37..41].copy_from_slice(&1.0f32.to_le_bytes());
    asm.push(decode(&flbk).unwrap(), T0, &mut out);
    let sent_before = seqs(&out).len();
    for f in 20..30 {
        let t = f as f32 / 20.0;
        asm.push(
            decode(&synth::laps(1, t, f + 100, &[lap(1, 1.0)])).unwrap(),
            T0,
            &mut out,
        );
    }
    assert_eq!(seqs(&out).len(), sent_before);
    assert_eq!(asm.dropped[&Dropped::Flashback], 10);
    // A red flag, then the standing restart: its period closes.
    for (t, f, code) in [(2.6, 55, b"RDFL"), (2.8, 58, b"LGOT"), (3.0, 60, b"CHQF")] {
        asm.push(decode(&synth::event(1, t, f, code)).unwrap(), T0, &mut out);
    }
    let control: Vec<&str> = out
        .iter()
        .filter_map(|o| match o {
            Output::RaceControl(_, _, k) => Some(*k),
            _ => None,
        })
        .collect();
    assert_eq!(
        control,
        ["safety_car", "green", "red_flag", "green", "chequered"]
    );
}
