//! A processor's API as the operator reads it, scripted: `GET /api/v1/sessions/<id>`
//! answers whatever the test last set (404 until it sets something), so a reconcile
//! scenario can move a race along without running one; `GET /ready` answers 200 (both
//! datastores fine) until the test names a datastore problem, and counts its calls.

use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub struct ProcessorStub {
    /// The base URL to hand to the reconcile context (`processor_base`).
    pub base: String,
    session: Arc<Mutex<Option<Value>>>,
    /// `/ready`'s problems (empty: 200).
    problems: Arc<Mutex<Vec<Value>>>,
    ready_calls: Arc<AtomicUsize>,
}

impl ProcessorStub {
    pub async fn start() -> ProcessorStub {
        let session: Arc<Mutex<Option<Value>>> = Arc::default();
        let shown = session.clone();
        let problems: Arc<Mutex<Vec<Value>>> = Arc::default();
        let ready_calls: Arc<AtomicUsize> = Arc::default();
        let (named, calls) = (problems.clone(), ready_calls.clone());
        let app = axum::Router::new()
            .route(
                "/api/v1/sessions/{id}",
                axum::routing::get(move || {
                    let shown = shown.clone();
                    async move {
                        match shown.lock().unwrap().clone() {
                            Some(v) => (http::StatusCode::OK, axum::Json(v)),
                            None => (http::StatusCode::NOT_FOUND, axum::Json(Value::Null)),
                        }
                    }
                }),
            )
            .route(
                "/ready",
                axum::routing::get(move || {
                    let (named, calls) = (named.clone(), calls.clone());
                    async move {
                        calls.fetch_add(1, Ordering::Relaxed);
                        let problems = named.lock().unwrap().clone();
                        let down = |d: &str| problems.iter().any(|p| p["datastore"] == d);
                        let body = serde_json::json!({
                            "redis": !down("redis"), "postgres": !down("postgres"),
                            "problems": problems,
                        });
                        let code = if problems.is_empty() {
                            http::StatusCode::OK
                        } else {
                            http::StatusCode::SERVICE_UNAVAILABLE
                        };
                        (code, axum::Json(body))
                    }
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        ProcessorStub {
            base: format!("http://{addr}"),
            session,
            problems,
            ready_calls,
        }
    }

    /// What `GET /ready` answers from now on: 503 naming this problem of `datastore`
    /// (`redis` or `postgres`), or with `None` 200.
    pub fn set_problem(&self, problem: Option<(&str, &str, &str)>) {
        *self.problems.lock().unwrap() = problem
            .map(|(datastore, reason, message)| {
                serde_json::json!({"datastore": datastore, "reason": reason, "message": message})
            })
            .into_iter()
            .collect();
    }

    /// How many times `/ready` was asked.
    pub fn ready_calls(&self) -> usize {
        self.ready_calls.load(Ordering::Relaxed)
    }

    /// What `GET /api/v1/sessions/<id>` answers from now on: the session's fields the
    /// operator reads (lap, total laps, finished, counts, start in ms since the epoch).
    pub fn set(&self, lap: i32, finished: bool, started_at_ms: i64) {
        *self.session.lock().unwrap() = Some(serde_json::json!({
            "session_id": "monza", "circuit": "monza", "total_laps": 10, "lap": lap,
            "finished": finished, "samples_processed": 1000 * lap, "started_at_ms": started_at_ms,
            "leader": {"driver": "LEC", "team": "Ferrari"}, "pit_stops": 0, "anomalies": 0,
        }));
    }
}
