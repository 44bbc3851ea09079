//! A processor's API as the operator reads it, scripted: `GET /api/v1/sessions/<id>`
//! answers whatever the test last set (404 until it sets something), so a reconcile
//! scenario can move a race along without running one.

use serde_json::Value;
use std::sync::{Arc, Mutex};

pub struct ProcessorStub {
    /// The base URL to hand to the reconcile context (`processor_base`).
    pub base: String,
    session: Arc<Mutex<Option<Value>>>,
}

impl ProcessorStub {
    pub async fn start() -> ProcessorStub {
        let session: Arc<Mutex<Option<Value>>> = Arc::default();
        let shown = session.clone();
        let app = axum::Router::new().route(
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
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        ProcessorStub {
            base: format!("http://{addr}"),
            session,
        }
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
