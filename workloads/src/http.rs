//! A small HTTP(S) client for what the workloads send out and fetch: the notify step's
//! webhook, `pitstop replay --api-url`, and the OpenF1 API (`pitstop replay
//! --openf1-session`). rustls with ring and the system's roots, the TLS stack the
//! operator's client uses too. Errors never echo the URL (a webhook URL is a secret).

use crate::errors::chain;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// A client that keeps its connections open between requests.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

/// An answer: status code, body, and how long a rate-limited server asks to wait.
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
    /// `Retry-After` in seconds, when the server sent it in that form (an HTTP date is
    /// not read: the caller's default applies).
    pub retry_after: Option<Duration>,
}

impl HttpClient {
    pub fn new() -> Result<Self, String> {
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider)
            .map_err(|_| "no TLS roots on this system".to_string())?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(HttpClient {
            client: Client::builder(TokioExecutor::new()).build(https),
        })
    }

    /// One POST; the answer, or why there was none (`timeout`, `connection failed`, …).
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Answer, String> {
        self.send(http::Request::post(url), headers, body, timeout)
            .await
    }

    /// One GET; the answer, or why there was none. A body cut off before its end is
    /// `answer cut off`.
    pub async fn get(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<Answer, String> {
        self.send(http::Request::get(url), headers, Vec::new(), timeout)
            .await
    }

    async fn send(
        &self,
        mut req: http::request::Builder,
        headers: &[(&str, &str)],
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Answer, String> {
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|_| "invalid URL or header".to_string())?;
        let exchange = async {
            let resp = self.client.request(req).await.map_err(|e| {
                // The causes (`tcp connect error: Connection refused`, `dns error: …`)
                // name no URL; the client error's own text adds nothing.
                let cause = std::error::Error::source(&e)
                    .map(|c| format!(": {}", chain(c)))
                    .unwrap_or_default();
                if e.is_connect() {
                    format!("connection failed{cause}")
                } else {
                    format!("request failed{cause}")
                }
            })?;
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|_| "answer cut off".to_string())?
                .to_bytes();
            Ok(Answer {
                status,
                body,
                retry_after,
            })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| "timeout".to_string())?
    }
}
