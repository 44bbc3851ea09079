//! `pitstop game-race`: plays a race as the F1 24 game would send it, over UDP, to a
//! gateway (on a laptop or behind a `source: game` race's Service), so `source: game`
//! can be tried without the game; and `pitstop ingest --replay FILE --to ADDR`, which
//! plays a recording the same way.

use super::record::Recording;
use super::synth;
use super::synth_race::{RaceSpec, race};
use anyhow::Context;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// A synthesized race: `cars` cars (2..=22) on a lap of `lap_m` metres, `laps` laps at
/// `hz`, a pit stop for every third car, as a recording starting now.
pub fn synthesized(cars: usize, laps: u8, lap_m: f32, hz: f32) -> Recording {
    let uid = crate::util::now_us() as u64;
    // A stop's box lies past the line: it needs a lap after its entry lap.
    let stops = (0..cars)
        .step_by(3)
        .filter(|_| laps >= 2)
        .map(|i| {
            (
                i,
                1 + ((i / 3) % (laps as usize - 1)) as u8,
                2.2 + 0.3 * (i % 4) as f32,
            )
        })
        .collect();
    let spec = RaceSpec {
        uid,
        t0_s: 1.0,
        frame0: 20,
        cars,
        laps,
        hz,
        lap_m,
        stops,
    };
    let grid: Vec<(String, u8, u8)> = (0..cars)
        .map(|i| {
            (
                format!("DRIVER {:02}", i + 1),
                (i / 2 % 10) as u8,
                i as u8 + 2,
            )
        })
        .collect();
    let names: Vec<(&str, u8, u8)> = grid.iter().map(|(n, t, c)| (n.as_str(), *t, *c)).collect();
    // Names and the event first, then again every 5 s as the game repeats them.
    let start = [
        synth::participants(uid, 0.5, 1, &names),
        synth::session(uid, 0.5, 1, 11, laps, 0),
    ];
    let mut datagrams: Vec<(u64, Vec<u8>)> = start.iter().map(|d| (0, d.clone())).collect();
    for (at, d) in race(&spec).0 {
        if at % 5_000_000 < (1e6 / hz as f64) as u64 && at > 0 {
            datagrams.extend(start.iter().map(|s| (at, s.clone())));
        }
        datagrams.push((at + 500_000, d));
    }
    Recording {
        start_ms: crate::util::now_ms(),
        datagrams,
    }
}

/// Sends `rec` to `to` at `speed`× its pace (`None`: flat out, which a real network and
/// the receiver's socket buffer may not take: datagrams can be lost).
pub async fn send(rec: &Recording, to: SocketAddr, speed: Option<f64>) -> anyhow::Result<()> {
    let bind: SocketAddr = if to.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        "[::]:0".parse()?
    };
    let socket = tokio::net::UdpSocket::bind(bind)
        .await
        .context("a UDP socket")?;
    let t0 = Instant::now();
    for (at_us, d) in &rec.datagrams {
        if let Some(speed) = speed {
            let due = Duration::from_secs_f64(*at_us as f64 / 1e6 / speed);
            if let Some(wait) = due.checked_sub(t0.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
        socket
            .send_to(d, to)
            .await
            .with_context(|| format!("sending to {to}"))?;
    }
    Ok(())
}
