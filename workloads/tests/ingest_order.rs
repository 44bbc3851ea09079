//! De-duplication at ingest is exact per (session, car, key), not a high-water mark:
//! late, reordered and parallel samples are taken; a poisoned seq or a far-future time
//! is refused alone and costs no other sample, at ingest or in the analytics.

mod common;

use common::ingest::{finish, laps_and_stops, post_samples, race_samples, start_api};
use common::{Env, accounting};
use pitstop_workloads::model::Sample;
use pitstop_workloads::processor::api::FINISHED_KEYS_KEPT;
use pitstop_workloads::processor::queries::wait_finished;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;

fn at(session: &str, car: u8, t: i64) -> Sample {
    Sample {
        session: session.into(),
        car,
        seq: 0,
        timestamp_ms: 1_725_800_000_000 + t,
        speed_kph: 200.0,
        ..Sample::default()
    }
}

fn counts(v: &Value) -> (u64, u64, usize) {
    (
        v["accepted"].as_u64().unwrap(),
        v["duplicates"].as_u64().unwrap(),
        v["rejected"].as_array().map_or(0, Vec::len),
    )
}

/// Later samples of a car are new however its earlier ones arrived: older ones sent
/// after newer ones are taken, a resend is a duplicate, and only what was there is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_and_resent_samples_are_told_apart() {
    let env = Env::new("ingest_late").await;
    let (p, base) = start_api(&env, "late").await;
    let c = reqwest::Client::new();
    let window = |from: i64, to: i64| -> Vec<Sample> {
        (from..to).map(|i| at("late", 7, i * 100)).collect()
    };
    let (code, v) = post_samples(&c, &base, &window(100, 200), false).await;
    assert_eq!((code, counts(&v)), (StatusCode::ACCEPTED, (100, 0, 0)));
    let (code, v) = post_samples(&c, &base, &window(0, 100), false).await;
    assert_eq!(
        (code, counts(&v)),
        (StatusCode::ACCEPTED, (100, 0, 0)),
        "older samples sent later are new: {v}"
    );
    let (code, v) = post_samples(&c, &base, &window(50, 250), false).await;
    assert_eq!(
        (code, counts(&v)),
        (StatusCode::ACCEPTED, (50, 150, 0)),
        "exactly the 150 already there are duplicates: {v}"
    );
    let (code, v) = post_samples(&c, &base, &window(0, 250), false).await;
    assert_eq!((code, counts(&v)), (StatusCode::OK, (0, 250, 0)));
    // Each key ingest remembers, with its time to live (ms; -1: none).
    let seen = || async {
        let mut con = env
            .redis()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let mut ttls = Vec::new();
        for p in 0..env.keys.partitions {
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{}*", env.keys.seen_prefix("late", p)))
                .query_async(&mut con)
                .await
                .unwrap();
            for key in keys {
                let ttl: i64 = redis::cmd("PTTL")
                    .arg(&key)
                    .query_async(&mut con)
                    .await
                    .unwrap();
                ttls.push(ttl);
            }
        }
        ttls
    };
    let before = seen().await;
    assert!(
        !before.is_empty() && before.iter().all(|&t| t == -1),
        "ingest remembers the car's keys: {before:?}"
    );
    finish(&c, &base, "late").await;
    let kept = FINISHED_KEYS_KEPT.as_millis() as i64;
    let after = seen().await;
    assert!(
        after.len() == before.len() && after.iter().all(|&t| t > 0 && t <= kept),
        "and forgets them within {kept} ms of the flag: {after:?}"
    );
    let db = env.db().await;
    wait_finished(&db, "late", Duration::from_secs(30))
        .await
        .unwrap();
    let acc = accounting(&db, "late").await;
    assert_eq!(acc, [(7, 250, 250 * 249 / 2, 249)], "each sample once");
    // The hundred older samples came after their successors were analysed: counted and
    // archived, and said to be too late for the analytics.
    let cars = common::contract::get(format!("{base}/api/v1/sessions/late/cars"))
        .await
        .json;
    assert_eq!(
        (&cars[0]["samples"], &cars[0]["late"]),
        (&250.into(), &100.into()),
        "{cars}"
    );
    p.shutdown().await;
    env.cleanup().await;
}

/// One car ingest numbers, under two sessions: bodies carrying both sessions' samples of
/// it interleaved, then bodies of one session each. Each session holds all 100 of its
/// samples once; numbered across both sessions in one body, each session's stream got
/// every other seq of a range its next body filled again, and 25 of 100 were dropped
/// as seqs the car had, after replies that said all were taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_car_under_two_sessions_in_one_body_counts_each_once() {
    let env = Env::new("ingest_two_sessions").await;
    let (p, base) = start_api(&env, "two").await;
    let c = reqwest::Client::new();
    let window = |session: &str, from: i64| -> Vec<Sample> {
        (from..from + 10).map(|i| at(session, 7, i * 50)).collect()
    };
    for round in 0..5 {
        let k = round * 20;
        let both: Vec<Sample> = window("two-a", k)
            .into_iter()
            .zip(window("two-b", k))
            .flat_map(|(a, b)| [a, b])
            .collect();
        for body in [both, window("two-a", k + 10), window("two-b", k + 10)] {
            let (code, v) = post_samples(&c, &base, &body, false).await;
            assert_eq!(
                (code, counts(&v)),
                (StatusCode::ACCEPTED, (body.len() as u64, 0, 0))
            );
        }
    }
    let db = env.db().await;
    for session in ["two-a", "two-b"] {
        finish(&c, &base, session).await;
        wait_finished(&db, session, Duration::from_secs(30))
            .await
            .unwrap();
        assert_eq!(
            accounting(&db, session).await,
            [(7, 100, 100 * 99 / 2, 99)],
            "{session}: each sample once"
        );
    }
    p.shutdown().await;
    env.cleanup().await;
}

/// 200 requests for one car at once, each with its own later time window: every one
/// is answered 202 with its 5 samples taken (a high-water mark stored 5 of 1,000).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_windows_of_one_car_are_all_taken() {
    let env = Env::new("ingest_parallel").await;
    let (p, base) = start_api(&env, "parallel").await;
    let c = reqwest::Client::new();
    let tasks: Vec<_> = (0..200)
        .map(|w| {
            let (c, base) = (c.clone(), base.clone());
            tokio::spawn(async move {
                let body: Vec<Sample> = (0..5).map(|i| at("par", 3, (w * 5 + i) * 50)).collect();
                post_samples(&c, &base, &body, false).await
            })
        })
        .collect();
    for t in tasks {
        let (code, v) = t.await.unwrap();
        assert_eq!((code, counts(&v)), (StatusCode::ACCEPTED, (5, 0, 0)), "{v}");
    }
    finish(&c, &base, "par").await;
    let db = env.db().await;
    wait_finished(&db, "par", Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(
        accounting(&db, "par").await,
        [(3, 1000, 1000 * 999 / 2, 999)]
    );
    p.shutdown().await;
    env.cleanup().await;
}

/// A simulated race fed through the API with one `seq: 4000000000`, one sample dated
/// 2099 and one a day ahead injected for car 4: the first two are refused alone (named,
/// counted), the third is taken, and car 4 keeps every lap and stop of the truth —
/// a high-water mark made it drop 3,722 of its 5,322 samples, with 0 laps and 0 stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poisoned_seq_or_time_costs_only_itself() {
    let env = Env::new("ingest_poison").await;
    let (p, base) = start_api(&env, "poison").await;
    let c = reqwest::Client::new();
    let (samples, truth) = race_samples("poison", 3, 4, 21);
    let n4 = truth.published[&4];
    let mut bodies: Vec<Vec<Sample>> = samples.chunks(400).map(|c| c.to_vec()).collect();
    let middle = bodies.len() / 2;
    let real = bodies[middle].iter().find(|s| s.car == 4).unwrap().clone();
    let poisoned_seq = Sample {
        seq: 4_000_000_000,
        ..real.clone()
    };
    let in_2099 = Sample {
        seq: n4 as u32 + 10,
        timestamp_ms: 4_070_000_000_000,
        ..real.clone()
    };
    let day_ahead = Sample {
        seq: n4 as u32 + 11,
        timestamp_ms: pitstop_workloads::util::now_ms() + 23 * 3_600_000,
        ..real
    };
    bodies[middle].extend([poisoned_seq, in_2099, day_ahead]);
    let mut refused = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        let (code, v) = post_samples(&c, &base, body, true).await;
        assert_eq!(code, StatusCode::ACCEPTED, "body {i}: {v}");
        let (accepted, duplicates, rejected) = counts(&v);
        assert_eq!(accepted as usize + rejected, body.len(), "body {i}: {v}");
        assert_eq!(duplicates, 0, "nothing was there: {v}");
        for r in v["rejected"].as_array().into_iter().flatten() {
            refused.push((
                r["reason"].as_str().unwrap().to_owned(),
                r["sample"].as_u64().unwrap(),
            ));
        }
    }
    let len = bodies[middle].len() as u64;
    assert_eq!(
        refused,
        [
            ("seq_jump".to_owned(), len - 3),
            ("future".to_owned(), len - 2)
        ],
        "exactly the two poisoned samples, by position"
    );
    finish(&c, &base, "poison").await;
    let db = env.db().await;
    wait_finished(&db, "poison", Duration::from_secs(60))
        .await
        .unwrap();
    let acc = accounting(&db, "poison").await;
    for (car, samples, _, _) in &acc {
        let extra = (*car == 4) as i64;
        assert_eq!(*samples, truth.published[car] as i64 + extra, "car {car}");
    }
    for (car, laps, stops) in laps_and_stops(&db, "poison").await {
        let want = truth.pit_stops.iter().filter(|s| s.car == car).count() as i64;
        assert_eq!((laps, stops), (3, want), "car {car}: laps and stops");
    }
    p.shutdown().await;
    env.cleanup().await;
}

/// A session the simulator publishes into the stream takes no API samples: two
/// producers numbering one car would collide (409, saying why).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_session_takes_no_api_samples() {
    use pitstop_workloads::metrics::SimulatorMetrics;
    use pitstop_workloads::sim::publisher::{Progress, PublishConfig};
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    let env = Env::new("ingest_sim").await;
    let (p, base) = start_api(&env, "sim").await;
    let stop = Arc::new(AtomicBool::new(false));
    let publishing = tokio::spawn(pitstop_workloads::sim::service::run_race(
        common::race("simulated", 2, 2, 3, 0.0),
        env.keys.clone(),
        env.target(),
        PublishConfig::default(),
        SimulatorMetrics::new(),
        Arc::new(Progress::default()),
        stop.clone(),
    ));
    let mut con = env
        .redis()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let progress = env.keys.progress("simulated", 0);
    common::wait_until(Duration::from_secs(10), "the simulator started", || {
        let mut con = con.clone();
        let key = progress.clone();
        async move {
            redis::cmd("EXISTS")
                .arg(key)
                .query_async::<bool>(&mut con)
                .await
                .unwrap()
        }
    })
    .await;
    let c = reqwest::Client::new();
    let (code, v) = post_samples(&c, &base, &[at("simulated", 1, 0)], true).await;
    assert_eq!(code, StatusCode::CONFLICT, "{v}");
    assert!(v["error"].as_str().unwrap().contains("simulator"), "{v}");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = publishing.await;
    let _: () = redis::cmd("PING").query_async(&mut con).await.unwrap();
    p.shutdown().await;
    env.cleanup().await;
}

/// Ingest remembers a bounded part of each car: past 128 pages (65.5 s of race time
/// each) the least recently written is forgotten, and a sample that falls into it is
/// refused as too late — it might be a resend, so it is neither taken nor called a
/// duplicate — while everything newer is still told apart exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_what_ingest_remembers_is_too_late() {
    let env = Env::new("ingest_too_late").await;
    let (p, base) = start_api(&env, "too-late").await;
    let c = reqwest::Client::new();
    let page = 65_536;
    let spread: Vec<Sample> = (0..130).map(|i| at("old", 2, i * page)).collect();
    for chunk in spread.chunks(10) {
        let (code, v) = post_samples(&c, &base, chunk, false).await;
        assert_eq!(
            (code, counts(&v)),
            (StatusCode::ACCEPTED, (10, 0, 0)),
            "{v}"
        );
    }
    let (code, v) = post_samples(
        &c,
        &base,
        &[at("old", 2, 5), at("old", 2, 129 * page)],
        false,
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{v}");
    assert_eq!(counts(&v), (0, 1, 1), "{v}");
    assert_eq!(v["rejected"][0]["sample"], 0);
    assert_eq!(v["rejected"][0]["reason"], "too_late");
    assert!(
        v["rejected"][0]["error"]
            .as_str()
            .unwrap()
            .contains("older than what ingest still remembers of the car"),
        "{v}"
    );
    let (code, v) = post_samples(&c, &base, &[at("old", 2, 129 * page + 1)], false).await;
    assert_eq!((code, counts(&v)), (StatusCode::ACCEPTED, (1, 0, 0)), "{v}");
    p.shutdown().await;
    env.cleanup().await;
}
