//! An F1-game gateway's `GET /status` as the operator reads it, scripted: it answers what
//! the test last set (503 until it sets something).

use serde_json::Value;
use std::sync::{Arc, Mutex};

pub struct GatewayStub {
    /// The base URL to hand to the reconcile context (`gateway_base`).
    pub base: String,
    status: Arc<Mutex<Option<Value>>>,
}

impl GatewayStub {
    pub async fn start() -> GatewayStub {
        let status: Arc<Mutex<Option<Value>>> = Arc::default();
        let shown = status.clone();
        let app = axum::Router::new().route(
            pitstop_contract::paths::GATEWAY_STATUS,
            axum::routing::get(move || {
                let shown = shown.clone();
                async move {
                    match shown.lock().unwrap().clone() {
                        Some(v) => (http::StatusCode::OK, axum::Json(v)),
                        None => (
                            http::StatusCode::SERVICE_UNAVAILABLE,
                            axum::Json(Value::Null),
                        ),
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        GatewayStub {
            base: format!("http://{addr}"),
            status,
        }
    }

    /// What `GET /status` answers from now on (the fields of the contract, and one the
    /// operator does not know, which it must ignore).
    pub fn set(&self, datagrams: u64, finished: bool) {
        *self.status.lock().unwrap() = Some(serde_json::json!({
            "datagrams_per_second": 59.5, "sessions_seen": 1, "datagrams": datagrams,
            "dropped": 3, "finished": finished, "format": 2024,
        }));
    }
}
