//! Pages of the OpenF1 API (`GET /v1/<endpoint>?session_key=…&driver_number=…&date>=…&date<…`),
//! fetched the way a public, rate-limited API needs: a 429 waits what `Retry-After`
//! says (bounded, with a default when it says nothing), a 5xx, a connection error, a
//! timeout or a page that is not a whole JSON array is retried with bounded exponential
//! backoff, and a page still failing after [`RetryPolicy::attempts`] is an error that
//! names the endpoint, the driver and the window. Any other refusal (400, 401, a 404
//! other than "no results") fails at once with the API's reason.

use crate::http::HttpClient;
use serde_json::Value;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The public API, when `--openf1-url` does not name another.
pub const DEFAULT_URL: &str = "https://api.openf1.org";

/// What one page asks for.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    /// `car_data`, `location`, `laps`, … (the path after `/v1/`).
    pub endpoint: &'static str,
    pub session_key: i64,
    pub driver: Option<u8>,
    /// `[from, to)` on the records' `date`, ms since the epoch.
    pub window: Option<(i64, i64)>,
}

/// A date as the API's filters take it: UTC without an offset (a `+` in a query reads as
/// a space), to the millisecond.
pub fn query_date(ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t.strftime("%Y-%m-%dT%H:%M:%S%.3f").to_string(),
        Err(_) => ms.to_string(),
    }
}

impl Page {
    /// The query string; `>` and `<` percent-encoded, which the API decodes.
    pub fn query(&self) -> String {
        let mut q = format!("session_key={}", self.session_key);
        if let Some(d) = self.driver {
            q.push_str(&format!("&driver_number={d}"));
        }
        if let Some((from, to)) = self.window {
            q.push_str(&format!(
                "&date%3E={}&date%3C{}",
                query_date(from),
                query_date(to)
            ));
        }
        q
    }
}

impl fmt::Display for Page {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} of session {}", self.endpoint, self.session_key)?;
        if let Some(d) = self.driver {
            write!(f, ", driver {d}")?;
        }
        if let Some((from, to)) = self.window {
            write!(f, ", {} to {} UTC", query_date(from), query_date(to))?;
        }
        Ok(())
    }
}

/// How hard a page is tried.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Tries per page, the first included.
    pub attempts: u32,
    /// Wait after the first 5xx, connection error, timeout or broken page; doubled
    /// after each further one up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// Wait after a 429 without a `Retry-After` in seconds.
    pub retry_after_default: Duration,
    /// Longest wait a `Retry-After` is followed for.
    pub retry_after_max: Duration,
    /// Bound on one request, answer included.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 8,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            retry_after_default: Duration::from_secs(5),
            retry_after_max: Duration::from_secs(60),
            timeout: Duration::from_secs(60),
        }
    }
}

/// A page that could not be had.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The API refused it for good (4xx other than 429).
    #[error("OpenF1 {page}: HTTP {status}: {message}")]
    Refused {
        page: String,
        status: u16,
        message: String,
    },
    /// It kept failing.
    #[error("OpenF1 {page}: still failing after {attempts} attempts (last: {last})")]
    Exhausted {
        page: String,
        attempts: u32,
        last: String,
    },
}

/// What to do after one try.
#[derive(Debug, PartialEq)]
enum Outcome {
    Records(Vec<Value>),
    Retry { wait: Duration, why: String },
    Refused { status: u16, message: String },
}

/// Judges one answer (or its absence) on the `attempt`-th try.
fn judge(
    answer: Result<crate::http::Answer, String>,
    attempt: u32,
    policy: &RetryPolicy,
) -> Outcome {
    let backoff = || {
        let doubled = policy.backoff.saturating_mul(1u32 << (attempt - 1).min(16));
        doubled.min(policy.max_backoff)
    };
    let a = match answer {
        Ok(a) => a,
        Err(why) => {
            return Outcome::Retry {
                wait: backoff(),
                why,
            };
        }
    };
    let text = || String::from_utf8_lossy(&a.body[..a.body.len().min(300)]).into_owned();
    match a.status {
        200..=299 => match serde_json::from_slice::<Value>(&a.body) {
            Ok(Value::Array(records)) => Outcome::Records(records),
            Ok(_) => Outcome::Retry {
                wait: backoff(),
                why: "the page is not a JSON array".into(),
            },
            Err(e) => Outcome::Retry {
                wait: backoff(),
                why: format!("the page is not whole JSON ({e})"),
            },
        },
        // The API answers a query that matches nothing with 404 "No results found".
        404 if text().to_ascii_lowercase().contains("no results") => Outcome::Records(Vec::new()),
        429 => Outcome::Retry {
            wait: a
                .retry_after
                .unwrap_or(policy.retry_after_default)
                .min(policy.retry_after_max),
            why: "HTTP 429 (rate limited)".into(),
        },
        500..=599 => Outcome::Retry {
            wait: backoff(),
            why: format!("HTTP {}", a.status),
        },
        status => Outcome::Refused {
            status,
            message: text(),
        },
    }
}

/// Fetches pages from one OpenF1 API, counting those it got.
#[derive(Clone)]
pub struct Fetcher {
    http: HttpClient,
    base: String,
    pub policy: RetryPolicy,
    /// Pages fetched so far (for progress).
    pub pages: Arc<AtomicU64>,
}

impl Fetcher {
    pub fn new(base: &str, policy: RetryPolicy) -> Result<Self, String> {
        Ok(Fetcher {
            http: HttpClient::new()?,
            base: base.trim_end_matches('/').to_owned(),
            policy,
            pages: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The records of one page.
    pub async fn fetch(&self, page: &Page) -> Result<Vec<Value>, FetchError> {
        let url = format!("{}/v1/{}?{}", self.base, page.endpoint, page.query());
        let headers = [("accept", "application/json")];
        let mut last = String::new();
        for attempt in 1..=self.policy.attempts {
            let answer = self.http.get(&url, &headers, self.policy.timeout).await;
            match judge(answer, attempt, &self.policy) {
                Outcome::Records(r) => {
                    self.pages.fetch_add(1, Ordering::Relaxed);
                    return Ok(r);
                }
                Outcome::Refused { status, message } => {
                    return Err(FetchError::Refused {
                        page: page.to_string(),
                        status,
                        message,
                    });
                }
                Outcome::Retry { wait, why } => {
                    if attempt < self.policy.attempts {
                        tracing::warn!(page = %page, attempt, wait_ms = wait.as_millis() as u64, "{why}; retrying");
                        tokio::time::sleep(wait).await;
                    }
                    last = why;
                }
            }
        }
        Err(FetchError::Exhausted {
            page: page.to_string(),
            attempts: self.policy.attempts,
            last,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Answer;

    fn answer(status: u16, body: &str, retry_after: Option<u64>) -> Result<Answer, String> {
        Ok(Answer {
            status,
            body: bytes::Bytes::from(body.to_owned()),
            retry_after: retry_after.map(Duration::from_secs),
        })
    }

    /// Each answer is taken, retried after the right wait, or refused.
    #[test]
    fn answers_are_judged() {
        let p = RetryPolicy::default();
        let retry = |wait_ms: u64, why: &str| Outcome::Retry {
            wait: Duration::from_millis(wait_ms),
            why: why.into(),
        };
        assert_eq!(
            judge(answer(200, "[{\"a\":1}]", None), 1, &p),
            Outcome::Records(vec![serde_json::json!({"a": 1})])
        );
        assert_eq!(
            judge(
                answer(404, "{\"detail\":\"No results found.\"}", None),
                1,
                &p
            ),
            Outcome::Records(Vec::new())
        );
        assert_eq!(
            judge(answer(429, "", Some(7)), 1, &p),
            retry(7_000, "HTTP 429 (rate limited)")
        );
        assert_eq!(
            judge(answer(429, "", Some(3600)), 1, &p),
            retry(60_000, "HTTP 429 (rate limited)")
        );
        assert_eq!(
            judge(answer(429, "", None), 1, &p),
            retry(5_000, "HTTP 429 (rate limited)")
        );
        assert_eq!(judge(answer(503, "", None), 1, &p), retry(500, "HTTP 503"));
        assert_eq!(
            judge(answer(502, "", None), 3, &p),
            retry(2_000, "HTTP 502")
        );
        assert_eq!(
            judge(answer(500, "", None), 30, &p),
            retry(8_000, "HTTP 500")
        );
        assert_eq!(
            judge(Err("connection failed".into()), 2, &p),
            retry(1_000, "connection failed")
        );
        let Outcome::Retry { why, .. } = judge(answer(200, "[{\"a\":1},{\"b\"", None), 1, &p)
        else {
            panic!("a cut page is retried")
        };
        assert!(why.starts_with("the page is not whole JSON"), "{why}");
        assert_eq!(
            judge(answer(200, "{\"detail\":\"x\"}", None), 1, &p),
            retry(500, "the page is not a JSON array")
        );
        assert_eq!(
            judge(answer(404, "{\"detail\":\"Not Found\"}", None), 1, &p),
            Outcome::Refused {
                status: 404,
                message: "{\"detail\":\"Not Found\"}".into()
            }
        );
    }

    /// The query the API reads, and the page as errors name it.
    #[test]
    fn pages_are_named() {
        let page = Page {
            endpoint: "car_data",
            session_key: 9912,
            driver: Some(81),
            window: Some((1_756_645_200_000, 1_756_645_800_000)),
        };
        assert_eq!(
            page.query(),
            "session_key=9912&driver_number=81&date%3E=2025-08-31T13:00:00.000&date%3C2025-08-31T13:10:00.000"
        );
        assert_eq!(
            page.to_string(),
            "car_data of session 9912, driver 81, 2025-08-31T13:00:00.000 to 2025-08-31T13:10:00.000 UTC"
        );
        assert!(
            "http://127.0.0.1:1/v1/car_data?date%3E=x"
                .parse::<http::Uri>()
                .is_ok()
        );
    }
}
