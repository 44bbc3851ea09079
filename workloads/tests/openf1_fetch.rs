//! Fetching OpenF1 pages from a fake API of the test's own (`openf1_fake`, never the
//! internet): the filters of a page, a 429 waiting what `Retry-After` says or a default,
//! a 500 and a truncated page retried, a page that stays broken failing with a message
//! that names the endpoint, driver and window, a refusal failing at once.

mod openf1_fake;

use openf1_fake::{FakeOpenF1, Fault, SESSION_KEY, Script, synthetic};
use pitstop_workloads::feeds::openf1_fetch::{FetchError, Fetcher, Page, RetryPolicy};
use std::collections::HashMap;
use std::time::Duration;

/// 2025-08-31T13:00:00Z.
const T0: i64 = 1_756_645_200_000;

fn policy() -> RetryPolicy {
    RetryPolicy {
        attempts: 4,
        backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(400),
        retry_after_default: Duration::from_millis(300),
        retry_after_max: Duration::from_secs(5),
        timeout: Duration::from_secs(10),
    }
}

async fn fake(script: Script) -> FakeOpenF1 {
    let race = synthetic(
        T0,
        &[(1, "VER", "Red Bull Racing"), (4, "NOR", "McLaren")],
        3,
        vec![],
    );
    FakeOpenF1::start(race, script).await
}

fn page(window: (i64, i64)) -> Page {
    Page {
        endpoint: "car_data",
        session_key: SESSION_KEY,
        driver: Some(4),
        window: Some(window),
    }
}

/// Waits between consecutive requests, in the order they came.
fn gaps(f: &FakeOpenF1) -> Vec<(u16, Duration)> {
    f.seen(|s| {
        s.log
            .windows(2)
            .map(|w| (w[0].3, w[1].4 - w[0].4))
            .collect()
    })
}

/// A page holds the driver's records of its window only, `[from, to)`, as the API's
/// `date>=` and `date<` filters give them.
#[tokio::test]
async fn a_page_is_one_driver_and_window() {
    let f = fake(Script::default()).await;
    let fetcher = Fetcher::new(&f.url, policy()).unwrap();
    let w = (T0 + 30_000, T0 + 60_000);
    let got = fetcher.fetch(&page(w)).await.unwrap();
    let want: Vec<_> = f
        .records("car_data")
        .iter()
        .filter(|r| r["driver_number"] == 4)
        .filter(|r| {
            let t = pitstop_workloads::feeds::time::date_ms(r["date"].as_str().unwrap()).unwrap();
            (w.0..w.1).contains(&t)
        })
        .cloned()
        .collect();
    assert!(want.len() > 100, "{}", want.len());
    assert_eq!(got, want);
    // Nothing there: the API's 404 "No results found." is an empty page.
    let empty = fetcher
        .fetch(&page((T0 - 120_000, T0 - 60_000)))
        .await
        .unwrap();
    assert!(empty.is_empty());
}

/// A 429 waits its `Retry-After`, a 500 and a truncated page the backoff, and the page
/// then comes whole.
#[tokio::test]
async fn rate_limits_errors_and_cut_pages_are_retried() {
    let faults = HashMap::from([
        (1, Fault::RateLimited(Some(1))),
        (2, Fault::ServerError),
        (3, Fault::Truncated),
        (4, Fault::RateLimited(None)),
    ]);
    let f = fake(Script {
        faults,
        ..Script::default()
    })
    .await;
    let mut p = policy();
    p.attempts = 5;
    let fetcher = Fetcher::new(&f.url, p).unwrap();
    let w = (T0, T0 + 60_000);
    let got = fetcher.fetch(&page(w)).await.unwrap();
    assert_eq!(got.len(), 240, "a minute at 4 Hz");
    let g = gaps(&f);
    let statuses: Vec<u16> = g.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses, [429, 500, 200, 429], "{g:?}");
    assert!(g[0].1 >= Duration::from_secs(1), "Retry-After: 1 → {g:?}");
    // After the 500, the second backoff (doubled), after the cut page the third.
    assert!(g[1].1 >= Duration::from_millis(200), "{g:?}");
    assert!(g[2].1 >= Duration::from_millis(400), "{g:?}");
    // No Retry-After: the default (300 ms), not the backoff of a fourth try (capped 400).
    assert!(
        (Duration::from_millis(300)..Duration::from_millis(390)).contains(&g[3].1),
        "{g:?}"
    );
    assert_eq!(fetcher.pages.load(std::sync::atomic::Ordering::Relaxed), 1);
}

/// A page that stays cut fails after the attempts, naming endpoint, driver and window
/// and why; a refusal (404 without "no results") fails at the first answer.
#[tokio::test]
async fn a_page_that_stays_broken_is_a_clear_error() {
    let f = fake(Script {
        always_truncated: Some("car_data"),
        ..Script::default()
    })
    .await;
    let fetcher = Fetcher::new(&f.url, policy()).unwrap();
    let err = fetcher.fetch(&page((T0, T0 + 60_000))).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, FetchError::Exhausted { attempts: 4, .. }),
        "{msg}"
    );
    assert!(
        msg.starts_with(
            "OpenF1 car_data of session 9912, driver 4, 2025-08-31T13:00:00.000 to 2025-08-31T13:01:00.000 UTC: still failing after 4 attempts (last: the page is not whole JSON"
        ),
        "{msg}"
    );
    assert_eq!(f.seen(|s| s.requests), 4);

    f.script(|s| {
        s.faults.insert(5, Fault::Status(404));
        s.faults.insert(6, Fault::Status(422));
    });
    let pages = Fetcher::new(&f.url, policy()).unwrap();
    let laps = Page {
        endpoint: "laps",
        ..page((T0, T0 + 60_000))
    };
    for status in [404, 422] {
        let err = pages.fetch(&laps).await.unwrap_err();
        assert!(
            matches!(&err, FetchError::Refused { status: s, message, .. } if *s == status && message.contains("refused by the test")),
            "{err}"
        );
    }
    assert_eq!(f.seen(|s| s.requests), 6, "a refusal is not retried");
}
