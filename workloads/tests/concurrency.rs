//! Real inputs are concurrent, reordered, duplicated and dirty. Three sessions share one
//! stream: a simulated race is published, processed and collected while 50 uploaders
//! send 20 requests each of two API-fed races — overlapping windows, shuffled samples,
//! random batches retried, one poisoned seq and one sample dated 2099. Every reply must
//! be true and every car's accounting exact: stored = distinct samples sent, each once.

mod common;

use common::ingest::{finish, post_samples, race_samples, start_api};
use common::{Env, accounting, assert_exactly_once};
use pitstop_workloads::jobs::{JobArgs, Step, execute};
use pitstop_workloads::metrics::SimulatorMetrics;
use pitstop_workloads::model::Sample;
use pitstop_workloads::processor::queries::wait_finished;
use pitstop_workloads::sim::publisher::{Progress, PublishConfig};
use pitstop_workloads::sim::service::run_race;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::Value;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const UPLOADERS: usize = 50;
const REQUESTS: usize = 20;

/// One request an uploader sends: a session's samples, numbered or not.
#[derive(Clone)]
struct Body {
    samples: Vec<Sample>,
    numbered: bool,
    /// Positions of samples that must be refused, with the reason.
    poison: Vec<(usize, &'static str)>,
}

/// Every sample of both races at least once, then overlapping windows, all shuffled.
fn bodies(races: &[(&[Sample], bool)], rng: &mut SmallRng) -> Vec<Body> {
    let mut out = Vec::new();
    for (samples, numbered) in races {
        for chunk in samples.chunks(150) {
            out.push(Body {
                samples: chunk.to_vec(),
                numbered: *numbered,
                poison: Vec::new(),
            });
        }
    }
    while out.len() < UPLOADERS * REQUESTS - 2 {
        let (samples, numbered) = races[rng.random_range(0..races.len())];
        let from = rng.random_range(0..samples.len());
        let to = (from + rng.random_range(20..300)).min(samples.len());
        out.push(Body {
            samples: samples[from..to].to_vec(),
            numbered,
            poison: Vec::new(),
        });
    }
    // One seq of 4,000,000,000 and one sample dated 2099, each among good samples.
    for (samples, numbered) in races {
        let mut body = samples[samples.len() / 2..samples.len() / 2 + 20].to_vec();
        let mut bad = body[5].clone();
        let reason = if *numbered {
            bad.seq = 4_000_000_000;
            "seq_jump"
        } else {
            bad.timestamp_ms = 4_070_000_000_000;
            "future"
        };
        body.push(bad);
        out.push(Body {
            poison: vec![(body.len() - 1, reason)],
            samples: body,
            numbered: *numbered,
        });
    }
    for b in &mut out {
        if b.poison.is_empty() {
            b.samples.shuffle(rng);
        }
    }
    out.shuffle(rng);
    out
}

/// What the replies said, summed, and every way one of them lied.
#[derive(Default)]
struct Replies {
    accepted: u64,
    duplicates: u64,
    lies: Vec<String>,
}

impl Replies {
    fn check(&mut self, body: &Body, code: StatusCode, v: &Value) {
        let n = |k: &str| v[k].as_u64().unwrap_or(u64::MAX);
        let rejected: Vec<(usize, &str)> = v["rejected"]
            .as_array()
            .map(|r| {
                r.iter()
                    .map(|r| {
                        (
                            r["sample"].as_u64().unwrap() as usize,
                            r["reason"].as_str().unwrap(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let (accepted, duplicates) = (n("accepted"), n("duplicates"));
        let expected_code = if accepted > 0 {
            StatusCode::ACCEPTED
        } else {
            StatusCode::OK
        };
        if code != expected_code
            || accepted + duplicates + rejected.len() as u64 != body.samples.len() as u64
            || rejected != body.poison
        {
            self.lies.push(format!(
                "{code} {v} for a body of {} samples",
                body.samples.len()
            ));
        }
        self.accepted += accepted.min(1 << 32);
        self.duplicates += duplicates.min(1 << 32);
    }
}

fn args(session: &str) -> JobArgs {
    common::job_args(session, "collect-telemetry")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_reordered_retried_uploads_beside_a_collected_session() {
    let env = Env::new("concurrency").await;
    let (processor, base) = start_api(&env, "conc").await;
    let (seqd, seqd_truth) = race_samples("seqd", 2, 4, 31);
    let (timed, timed_truth) = race_samples("timed", 2, 4, 32);
    let mut rng = SmallRng::seed_from_u64(16);
    let queue = Arc::new(Mutex::new(bodies(
        &[(&seqd, true), (&timed, false)],
        &mut rng,
    )));
    let replies = Arc::new(Mutex::new(Replies::default()));
    let client = reqwest::Client::new();
    let uploaders: Vec<_> = (0..UPLOADERS)
        .map(|u| {
            let (queue, replies, client, base) =
                (queue.clone(), replies.clone(), client.clone(), base.clone());
            tokio::spawn(async move {
                let mut rng = SmallRng::seed_from_u64(u as u64);
                let mut last: Option<Body> = None;
                loop {
                    // A retry of the previous batch now and then, as after a timeout.
                    let body = match last.take().filter(|_| rng.random_bool(0.2)) {
                        Some(b) => b,
                        None => match queue.lock().unwrap().pop() {
                            Some(b) => b,
                            None => return,
                        },
                    };
                    let (code, v) =
                        post_samples(&client, &base, &body.samples, body.numbered).await;
                    replies.lock().unwrap().check(&body, code, &v);
                    last = Some(body);
                }
            })
        })
        .collect();

    // Meanwhile a simulated race in the same stream finishes and is collected.
    let sim = run_race(
        common::race("simulated", 2, 4, 33, 0.0),
        env.keys.clone(),
        env.target(),
        PublishConfig {
            time_scale: None,
            rate: None,
            batch_max: 64,
            maxlen: 1_000_000,
        },
        SimulatorMetrics::new(),
        Arc::new(Progress::default()),
        Arc::new(AtomicBool::new(false)),
    )
    .await
    .unwrap();
    let (redis, mut db) = (env.target(), env.db().await);
    wait_finished(&db, "simulated", Duration::from_secs(120))
        .await
        .unwrap();
    let collected = execute(
        Step::CollectTelemetry,
        &mut db,
        &redis,
        &env.keys,
        &args("simulated"),
    )
    .await
    .unwrap();
    let still_uploading = uploaders.iter().any(|u| !u.is_finished());
    for u in uploaders {
        u.await.unwrap();
    }
    assert!(
        collected.contains(&format!("archived {} samples", sim.published)),
        "{collected}"
    );
    eprintln!("collected the simulated race while uploads went on: {still_uploading}");

    let replies = std::mem::take(&mut *replies.lock().unwrap());
    assert!(
        replies.lies.is_empty(),
        "untrue replies: {:#?}",
        replies.lies
    );
    assert_eq!(
        replies.accepted,
        (seqd.len() + timed.len()) as u64,
        "taken = distinct samples sent"
    );
    assert!(
        replies.duplicates > replies.accepted,
        "the overlap was heavy"
    );
    for (session, truth) in [("seqd", &seqd_truth), ("timed", &timed_truth)] {
        finish(&client, &base, session).await;
        wait_finished(&db, session, Duration::from_secs(120))
            .await
            .unwrap();
        assert_exactly_once(&db, session, &truth.published).await;
        let done = execute(
            Step::CollectTelemetry,
            &mut db,
            &redis,
            &env.keys,
            &args(session),
        )
        .await
        .unwrap();
        let n: u64 = truth.published.values().sum();
        assert!(done.contains(&format!("archived {n} samples")), "{done}");
    }
    assert_exactly_once(&db, "simulated", &sim.truth.published).await;
    eprintln!(
        "{} requests: {} samples taken, {} duplicates; cars {:?}",
        UPLOADERS * REQUESTS,
        replies.accepted,
        replies.duplicates,
        accounting(&db, "timed").await
    );
    processor.shutdown().await;
    env.cleanup().await;
}
