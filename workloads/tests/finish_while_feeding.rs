//! A finish that lands while a client is still posting: each partition's end marker
//! carries exactly what ingest had taken of its cars when it was written, a sample after
//! it is refused (`finished`, or the whole request a 409 when it stored nothing), and
//! every reply is true: what the replies say was accepted is what the database counts
//! and what the chequered flag published.

mod common;

use common::Env;
use common::ingest::{post, post_samples, race_samples, start_api, start_session};
use pitstop_workloads::processor::queries::wait_finished;
use reqwest::StatusCode;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finish_during_a_feed_counts_exactly_what_it_took() {
    let env = Env::new("finish_feed").await;
    let (p, base) = start_api(&env, "finish").await;
    let http = reqwest::Client::new();
    let (samples, _) = race_samples("late-flag", 2, 20, 4);
    let (code, body) = start_session(&http, &base, "late-flag", 2, &samples).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{body}");

    // The feed goes on in the background; the finish comes a third of the way in.
    let chunks: Vec<Vec<_>> = samples.chunks(250).map(|c| c.to_vec()).collect();
    let third = chunks.len() / 3;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
    let feeder = {
        let (http, base) = (http.clone(), base.clone());
        tokio::spawn(async move {
            let (mut accepted, mut refused_finished, mut conflicts) = (0u64, 0u64, 0u64);
            for (n, chunk) in chunks.iter().enumerate() {
                if n == third {
                    let _ = tx.send(()).await;
                }
                let (code, body) = post_samples(&http, &base, chunk, true).await;
                match code {
                    StatusCode::ACCEPTED | StatusCode::OK => {
                        accepted += body["accepted"].as_u64().unwrap();
                        let rejected = body["rejected"].as_array().unwrap();
                        assert!(rejected.iter().all(|r| r["reason"] == "finished"), "{body}");
                        refused_finished += rejected.len() as u64;
                    }
                    StatusCode::CONFLICT => conflicts += 1,
                    other => panic!("{other}: {body}"),
                }
            }
            (accepted, refused_finished, conflicts)
        })
    };
    rx.recv().await.unwrap();
    let (code, body) = post(
        &http,
        &format!("{base}/api/v1/sessions/late-flag/finish"),
        String::new(),
    )
    .await;
    assert_eq!(code, StatusCode::ACCEPTED, "{body}");
    let published = body["published"].as_u64().unwrap();
    let (accepted, refused_finished, conflicts) = feeder.await.unwrap();
    assert!(conflicts > 0, "requests after the flag are refused");
    assert_eq!(
        accepted, published,
        "what the replies accepted is what the flag published"
    );
    assert!(published < samples.len() as u64);

    let db = env.db().await;
    wait_finished(&db, "late-flag", Duration::from_secs(60))
        .await
        .unwrap();
    let committed: i64 = db
        .query_one(
            "SELECT coalesce(sum(samples), 0)::bigint FROM car_accounting WHERE session_id = 'late-flag'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(committed as u64, published, "committed = published");
    let detail = pitstop_workloads::processor::queries::session(&db, "late-flag")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detail.samples_published, Some(published as i64));
    eprintln!(
        "finish during a feed: {published} of {} samples taken, {refused_finished} refused as finished in partly stored requests, {conflicts} requests refused whole",
        samples.len()
    );
    p.shutdown().await;
    env.cleanup().await;
}
