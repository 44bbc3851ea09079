//! A race from the F1 24 game through the whole path: gateway (decode, assemble, send) →
//! the processor's POST /telemetry → Redis → consumer → PostgreSQL.
//!
//! The race starts with the real recorded F1 24 packets of `../shared/data/f1/` (20 cars
//! on the Bahrain grid, their names and teams, the session) and goes on with Lap Data
//! and Car Telemetry frames written for it (`game::synth_race`), with pit stops as the
//! game reports them. Without the data a synthetic start (Participants, Session) stands
//! in, and the test says so. Checked: every car's laps, each stop found from motion
//! agrees with the game's `pitStopTimerInMS` within one frame, the chequered flag
//! finishes the session; then the same with 5% of datagrams lost and 5% reordered, and a
//! recording replayed at 1× and 20× gives identical results.

mod common;

use common::ingest::{KEY, start_api};
use common::{Env, wait_until};
use pitstop_workloads::game::gateway::{self, Gateway};
use pitstop_workloads::game::metrics::GatewayMetrics;
use pitstop_workloads::game::record::Recording;
use pitstop_workloads::game::send::{self, SendState, Target};
use pitstop_workloads::game::synth;
use pitstop_workloads::game::synth_race::{RaceSpec, Truth, race};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Per car: laps, and (lap, stationary ms) of each stop.
type Results = BTreeMap<i32, (i64, Vec<(i32, i64)>)>;

/// 20 Hz: one frame is 50 ms.
const FRAME_MS: i64 = 50;

/// The recorded F1 24 start, or a synthetic one: (datagrams, session uid, game time,
/// frame, cars).
fn start() -> (Vec<Vec<u8>>, u64, f32, u32, usize) {
    let real = common::f1_data().map(|d| d.join("game-udp-packets"));
    if let Some(dir) = real.filter(|d| d.is_dir()) {
        let read = |id: &str| std::fs::read(dir.join(format!("2024-{id}.bin"))).unwrap();
        let packets: Vec<Vec<u8>> = ["04", "01", "07", "10"].iter().map(|id| read(id)).collect();
        let h = pitstop_workloads::game::decode::decode(&packets[3])
            .unwrap()
            .header;
        return (
            packets,
            h.session_uid,
            h.session_time_s + 0.05,
            h.frame + 1,
            20,
        );
    }
    eprintln!("the recorded F1 24 start is not here: a synthetic start stands in");
    let cars: Vec<(String, u8, u8)> = (0..20)
        .map(|i| (format!("DRIVER{i:02}"), (i / 2) as u8, i as u8 + 2))
        .collect();
    let named: Vec<(&str, u8, u8)> = cars.iter().map(|(n, t, c)| (n.as_str(), *t, *c)).collect();
    let uid = 0x5eed;
    (
        vec![
            synth::participants(uid, 0.0, 1, &named),
            synth::session(uid, 0.0, 1, 3, 5, 0),
        ],
        uid,
        0.05,
        2,
        20,
    )
}

/// A recording of the race: the start, then the frames, 1 ms apart where they coincide.
fn recording(spec: &RaceSpec, start: &[Vec<u8>]) -> (Recording, Truth) {
    let (frames, truth) = race(spec);
    let mut datagrams: Vec<(u64, Vec<u8>)> = start.iter().map(|d| (0, d.clone())).collect();
    datagrams.extend(frames.into_iter().map(|(at, d)| (at + 1_000, d)));
    let rec = Recording {
        start_ms: 1_764_900_000_000,
        datagrams,
    };
    (rec, truth)
}

/// Feeds `rec` through a gateway into the processor at `base`, at `speed`; the race
/// must finish.
async fn feed(rec: &Recording, base: &str, session: &str, speed: Option<f64>) -> GatewayMetrics {
    let (metrics, finished) = feed_part(rec, base, session, speed).await;
    assert!(finished, "chequered flag sent");
    metrics
}

/// Feeds `rec` through a gateway: its metrics and whether it finished the session.
async fn feed_part(
    rec: &Recording,
    base: &str,
    session: &str,
    speed: Option<f64>,
) -> (GatewayMetrics, bool) {
    let metrics = GatewayMetrics::new();
    let state = Arc::new(SendState::default());
    let (tx, rx) = tokio::sync::mpsc::channel(8_192);
    let target = Target {
        api_url: base.to_string(),
        api_key: KEY.to_string(),
    };
    let sender = tokio::spawn(send::run(rx, target, metrics.clone(), state.clone()));
    let gw = Mutex::new(Gateway::new(Some(session), metrics.clone(), tx, None));
    gateway::replay(rec, &gw, speed).await;
    gateway::close(gw.into_inner().unwrap()).await;
    tokio::time::timeout(Duration::from_secs(120), sender)
        .await
        .expect("the sender delivers everything")
        .unwrap();
    let finished = state.finished.load(std::sync::atomic::Ordering::Relaxed);
    // A recording waits for the sender: nothing is shed, however fast it is fed.
    assert_eq!(
        metrics.dropped.with_label_values(&["backlog_full"]).get(),
        0
    );
    for line in pitstop_workloads::metrics::render(&metrics.registry).lines() {
        if !line.starts_with('#') && !line.ends_with(" 0") && !line.contains("_bucket") {
            eprintln!("{session}: {line}");
        }
    }
    (metrics, finished)
}

/// Per car: laps, and (lap, stationary ms) of each stop, once the session has finished.
async fn results(env: &Env, session: &str) -> Results {
    let db = env.db();
    let db = db.await;
    wait_until(Duration::from_secs(60), "the session finished", || async {
        let n: i64 = db
            .query_one(
                "SELECT count(*) FROM session_partition_ends WHERE session_id = $1",
                &[&session],
            )
            .await
            .unwrap()
            .get(0);
        n == env.keys.partitions as i64
    })
    .await;
    let mut out: Results = BTreeMap::new();
    for r in db
        .query(
            "SELECT car, count(*) FROM laps WHERE session_id = $1 GROUP BY car",
            &[&session],
        )
        .await
        .unwrap()
    {
        out.entry(r.get(0)).or_default().0 = r.get(1);
    }
    for r in db
        .query(
            "SELECT car, lap, stationary_ms FROM pit_stops WHERE session_id = $1 ORDER BY car, entry_ms",
            &[&session],
        )
        .await
        .unwrap()
    {
        out.entry(r.get(0)).or_default().1.push((r.get(1), r.get(2)));
    }
    out
}

/// The post-race DAG's steps on a finished game session, as its Jobs run them: each
/// succeeds and the team summary has every team.
async fn post_race(env: &Env, session: &str, teams: i64) {
    use pitstop_workloads::jobs::{Step, execute};
    let mut db = env.db().await;
    let redis = env.target();
    let team_names: Vec<String> = db
        .query(
            "SELECT DISTINCT team FROM car_accounting WHERE session_id = $1",
            &[&session],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    // As the DAG runs them: collect, one persist task per team, then the rest.
    let mut tasks = vec![(Step::CollectTelemetry, None)];
    tasks.extend(
        team_names
            .iter()
            .map(|t| (Step::PersistTeams, Some(t.clone()))),
    );
    tasks.extend([Step::DataQuality, Step::Aggregate, Step::Report].map(|s| (s, None)));
    for (step, team) in tasks {
        let mut args = common::job_args(session, &format!("{step:?}-{team:?}"));
        args.team = team;
        let done = execute(step, &mut db, &redis, &env.keys, &args).await;
        assert!(done.is_ok(), "{step:?}: {done:?}");
    }
    // A team of the race's grid that the game did not have: nothing to persist, no failure.
    let mut args = common::job_args(session, "persist-absent");
    args.team = Some("Nobody Racing".into());
    let done = execute(Step::PersistTeams, &mut db, &redis, &env.keys, &args).await;
    assert!(
        done.as_ref().is_ok_and(|m| m.contains("no car")),
        "{done:?}"
    );
    let n: i64 = db
        .query_one(
            "SELECT count(*) FROM telemetry_team_summary WHERE session_id = $1",
            &[&session],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, teams, "a summary row per team");
}

/// (car, lap, lap time ms, crossed at ms) of every lap.
async fn lap_times(env: &Env, session: &str) -> Vec<(i32, i32, i32, i64)> {
    let db = env.db().await;
    db.query(
        "SELECT car, lap, lap_time_ms, crossed_at_ms FROM laps WHERE session_id = $1 ORDER BY car, lap",
        &[&session],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    .collect()
}

fn spec(uid: u64, t0_s: f32, frame0: u32, cars: usize, laps: u8, lap_m: f32) -> RaceSpec {
    RaceSpec {
        uid,
        t0_s,
        frame0,
        cars,
        laps,
        hz: 20.0,
        lap_m,
        stops: vec![(0, 2, 2.4), (5, 3, 3.15), (11, 2, 5.6), (17, 4, 2.05)],
    }
}

/// Car numbers of the grid (vehicle index → car), from the processor's start marker.
async fn car_numbers(env: &Env, session: &str) -> Vec<i32> {
    let db = env.db().await;
    let rows = db
        .query(
            "SELECT DISTINCT car FROM laps WHERE session_id = $1 ORDER BY car",
            &[&session],
        )
        .await
        .unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

fn check(truth: &Truth, got: &Results, cars: usize, laps: u8) {
    assert_eq!(got.len(), cars, "every car has laps: {got:?}");
    for (car, (n, _)) in got {
        assert_eq!(*n, laps as i64, "car {car}: laps");
    }
    let stops: Vec<(i32, i64)> = got.values().flat_map(|(_, s)| s.clone()).collect();
    assert_eq!(stops.len(), truth.stops.len(), "stops found: {got:?}");
    let mut game: Vec<(u8, u32)> = truth.stops.iter().map(|s| (s.1, s.2)).collect();
    game.sort();
    let mut found: Vec<(i32, i64)> = stops.clone();
    found.sort();
    for ((glap, gms), (lap, ms)) in game.iter().zip(&found) {
        assert_eq!(*glap as i32, *lap, "lap of the stop");
        let delta = (ms - *gms as i64).abs();
        assert!(
            delta <= FRAME_MS,
            "stationary from motion {ms} ms, game timer {gms} ms: {delta} ms apart"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_game_race_runs_through_the_pipeline_whole_and_with_loss() {
    let (start, uid, t0, frame0, cars) = start();
    let spec = spec(uid, t0, frame0, cars, 5, 5_412.0);
    let (rec, truth) = recording(&spec, &start);
    assert_eq!(truth.stops.len(), 4);
    let env = Env::new("game_race").await;
    let (p, base) = start_api(&env, "game-race").await;

    let m = feed(&rec, &base, "game-whole", None).await;
    let whole = results(&env, "game-whole").await;
    check(&truth, &whole, cars, 5);
    assert_eq!(m.game_stops.with_label_values(&["matched"]).get(), 4);
    assert_eq!(m.game_stops.with_label_values(&["unmatched"]).get(), 0);
    assert_eq!(m.stop_agreement.get_sample_count(), 4);
    assert!(m.stop_agreement.get_sample_sum() <= 4.0 * 0.05);
    // The flag reaches the session's race-control events, from the game.
    let events: serde_json::Value =
        reqwest::get(format!("{base}/api/v1/sessions/game-whole/events"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let kinds: Vec<(&str, &str)> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["source"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, [("chequered", "game")], "{events}");
    let numbers = car_numbers(&env, "game-whole").await;
    assert_eq!(numbers.len(), cars);
    post_race(&env, "game-whole", 10).await;

    // 5% lost, 5% swapped with the next: the same laps and stops.
    let mut rng = rand::rngs::SmallRng::seed_from_u64(21);
    let mut lossy = Recording {
        start_ms: rec.start_ms,
        datagrams: rec.datagrams[..start.len()].to_vec(),
    };
    let mut frames: Vec<(u64, Vec<u8>)> = rec.datagrams[start.len()..]
        .iter()
        .filter(|_| rng.random::<f64>() >= 0.05)
        .cloned()
        .collect();
    for i in 0..frames.len() - 1 {
        if rng.random::<f64>() < 0.05 {
            let (a, b) = (frames[i].1.clone(), frames[i + 1].1.clone());
            frames[i].1 = b;
            frames[i + 1].1 = a;
        }
    }
    // A few duplicated too: resent datagrams are dropped, never counted twice.
    let mut dups: Vec<(u64, Vec<u8>)> = frames.choose_multiple(&mut rng, 50).cloned().collect();
    dups.sort_by_key(|d| d.0);
    frames.extend(dups);
    frames.sort_by_key(|d| d.0);
    lossy.datagrams.extend(frames);
    let m = feed(&lossy, &base, "game-lossy", None).await;
    let lossy_results = results(&env, "game-lossy").await;
    check(&truth, &lossy_results, cars, 5);
    let dropped = |r: &str| m.dropped.with_label_values(&[r]).get();
    assert!(
        dropped("duplicate") + dropped("late") >= 50,
        "resent datagrams dropped"
    );
    eprintln!(
        "lossy: late {} duplicate {} incomplete {}",
        dropped("late"),
        dropped("duplicate"),
        dropped("incomplete_frame")
    );
    p.shutdown().await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_replayed_at_1x_and_20x_gives_the_same_results() {
    let (start, uid, t0, frame0, _) = start();
    // Three cars, three laps of 1 km (the last lap closes against a full one), one stop:
    // about 50 s at 1×.
    let mut spec = spec(uid, t0, frame0, 3, 3, 1_000.0);
    spec.stops = vec![(1, 1, 2.5)];
    let (rec, truth) = recording(&spec, &start);
    let env = Env::new("game_replay").await;
    let (p, base) = start_api(&env, "game-replay").await;
    let dir = std::env::temp_dir().join(format!("pitstop-game-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Through a file, as `pitstop ingest --replay` reads it.
    let path = dir.join("race.udp");
    let mut bytes = b"pitstop-udp 1\n".to_vec();
    bytes.extend_from_slice(&rec.start_ms.to_le_bytes());
    for (at, d) in &rec.datagrams {
        bytes.extend_from_slice(&at.to_le_bytes());
        bytes.extend_from_slice(&(d.len() as u16).to_le_bytes());
        bytes.extend_from_slice(d);
    }
    std::fs::write(&path, bytes).unwrap();
    let rec = Recording::read(&path).unwrap();
    let t = std::time::Instant::now();
    feed(&rec, &base, "replay-1x", Some(1.0)).await;
    let at_1x = t.elapsed();
    let t = std::time::Instant::now();
    feed(&rec, &base, "replay-20x", Some(20.0)).await;
    let at_20x = t.elapsed();
    let one = results(&env, "replay-1x").await;
    let twenty = results(&env, "replay-20x").await;
    check(&truth, &one, 3, 3);
    assert_eq!(one, twenty, "1× and 20× agree");
    assert!(
        at_20x * 5 < at_1x,
        "20× is faster: {at_1x:?} against {at_20x:?}"
    );
    assert_eq!(
        lap_times(&env, "replay-1x").await,
        lap_times(&env, "replay-20x").await,
        "lap times identical"
    );
    std::fs::remove_dir_all(dir).unwrap();
    p.shutdown().await;
    env.cleanup().await;
}

/// `pitstop ingest` as a user runs it: the game's datagrams over a real UDP socket at a
/// game's pace, bad datagrams among them, `/status` and `/metrics` read, `--record` on;
/// then `--replay` of that recording into another session gives the same results.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pitstop_ingest_takes_the_game_over_udp_and_replays_its_recording() {
    use common::servers::free_port;
    use std::process::{Command, Stdio};
    let (start, uid, t0, frame0, _) = start();
    let mut spec = spec(uid, t0, frame0, 3, 3, 1_000.0);
    spec.stops = vec![(2, 2, 3.0)];
    let (rec, truth) = recording(&spec, &start);
    let env = Env::new("game_udp").await;
    let (p, base) = start_api(&env, "game-udp").await;
    let dir = std::env::temp_dir().join(format!("pitstop-udp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let record = dir.join("race.udp");
    let (udp, http) = (free_port(), free_port());
    let ingest = |args: &[String]| {
        Command::new(env!("CARGO_BIN_EXE_pitstop"))
            .arg("ingest")
            .args(["--api-url", &base])
            .args(args)
            .env("STREAM_PROCESSOR_API_KEY", KEY)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap()
    };
    let mut live = ingest(&[
        "--udp".into(),
        format!("127.0.0.1:{udp}"),
        "--listen".into(),
        format!("127.0.0.1:{http}"),
        "--session".into(),
        "udp-live".into(),
        "--record".into(),
        record.display().to_string(),
    ]);
    let status_url = format!("http://127.0.0.1:{http}/status");
    wait_until(Duration::from_secs(30), "the gateway ready", || async {
        reqwest::get(format!("http://127.0.0.1:{http}/ready"))
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let to = format!("127.0.0.1:{udp}");
    // Not the game: refused and counted, the race goes on.
    let mut f1_25 = rec.datagrams[0].1.clone();
    f1_25[..2].copy_from_slice(&2025u16.to_le_bytes());
    for bad in [b"hello".to_vec(), f1_25, rec.datagrams[5].1[..100].to_vec()] {
        socket.send_to(&bad, &to).await.unwrap();
    }
    // 2,000 datagrams a second: a 22-car game at 60 Hz sends about that many.
    let t = std::time::Instant::now();
    for (i, (_, d)) in rec.datagrams.iter().enumerate() {
        socket.send_to(d, &to).await.unwrap();
        let due = Duration::from_micros(i as u64 * 500);
        if let Some(wait) = due.checked_sub(t.elapsed()) {
            tokio::time::sleep(wait).await;
        }
    }
    // The gateway's own account, shown if the flag never comes.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        let s: serde_json::Value = reqwest::get(&status_url)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if s["finished"] == true {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no chequered flag 60 s after the race: {s}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status["sessions_seen"], 1);
    assert_eq!(status["datagrams"], rec.datagrams.len() as u64);
    assert_eq!(status["dropped"], 3, "{status}");
    let metrics = reqwest::get(format!("http://127.0.0.1:{http}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        // "he" of "hello" reads as format 25960.
        "pitstop_gateway_dropped_total{reason=\"truncated\"} 1",
        "pitstop_gateway_dropped_total{reason=\"unsupported_format\"} 2",
        "pitstop_gateway_game_stops_total{outcome=\"matched\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
    Command::new("kill")
        .args(["-TERM", &live.id().to_string()])
        .status()
        .unwrap();
    assert!(live.wait().unwrap().success());
    let live_results = results(&env, "udp-live").await;
    check(&truth, &live_results, 3, 3);

    // The recording, flat out, into another session: the same laps and stops.
    let mut replay = ingest(&[
        "--replay".into(),
        record.display().to_string(),
        "--speed".into(),
        "max".into(),
        "--listen".into(),
        format!("127.0.0.1:{}", free_port()),
        "--session".into(),
        "udp-replay".into(),
    ]);
    assert!(replay.wait().unwrap().success());
    let replayed = results(&env, "udp-replay").await;
    assert_eq!(replayed, live_results);
    std::fs::remove_dir_all(dir).unwrap();
    p.shutdown().await;
    env.cleanup().await;
}

/// A gateway restarted mid-race anchors the game's clock a little differently; it adopts
/// the start the processor stored, so the race is the same as if it had never stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_gateway_adopts_the_stored_start() {
    let (start, uid, t0, frame0, _) = start();
    let mut spec = spec(uid, t0, frame0, 3, 3, 1_000.0);
    spec.stops = vec![(0, 2, 2.2)];
    let (rec, truth) = recording(&spec, &start);
    let env = Env::new("game_restart").await;
    let (p, base) = start_api(&env, "game-restart").await;
    feed(&rec, &base, "restart-whole", None).await;
    let whole = results(&env, "restart-whole").await;
    check(&truth, &whole, 3, 3);
    let half = rec.datagrams.len() / 2;
    let first = Recording {
        start_ms: rec.start_ms,
        datagrams: rec.datagrams[..half].to_vec(),
    };
    let (_, finished) = feed_part(&first, &base, "restarted", None).await;
    assert!(!finished);
    // The second run hears the game's names and session again (the game repeats them)
    // and its clock is 37 ms off the first's.
    let mut second = Recording {
        start_ms: rec.start_ms + 37,
        datagrams: start
            .iter()
            .map(|d| (rec.datagrams[half].0, d.clone()))
            .collect(),
    };
    second.datagrams.extend_from_slice(&rec.datagrams[half..]);
    feed(&second, &base, "restarted", None).await;
    assert_eq!(results(&env, "restarted").await, whole);
    assert_eq!(
        lap_times(&env, "restarted").await,
        lap_times(&env, "restart-whole").await,
        "the same times, to the millisecond"
    );
    p.shutdown().await;
    env.cleanup().await;
}
