//! Reading a request: the session id of the path, the query string, the body within
//! its size and time limits, and the API key that ingest requires.

use super::state::{ApiError, ApiState};
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

/// A session id from the path, checked by the sample rule before it reaches a query
/// (a NUL byte or bad percent-encoding is the client's error, not the database's).
#[derive(utoipa::IntoParams)]
#[into_params(names("id"), parameter_in = Path)]
pub(super) struct SessionId(
    /// The session: 1–63 characters of `[A-Za-z0-9 ._-]`, starting with a letter or digit
    /// (anything else is a 400).
    #[param(min_length = 1, max_length = 63, example = "zandvoort-2025")]
    pub(super) String,
);

impl<S: Send + Sync> FromRequestParts<S> for SessionId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request(format!("path: {}", e.body_text())))?;
        crate::model::validate_session(&id)
            .map_err(|e| ApiError::bad_request(format!("session id: {}", e.message)))?;
        Ok(SessionId(id))
    }
}

/// A query string parsed into `T`, its errors in our JSON shape.
pub(super) struct QueryOf<T>(pub(super) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryOf<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        serde_urlencoded::from_str(parts.uri.query().unwrap_or(""))
            .map(QueryOf)
            .map_err(|e| ApiError::bad_request(format!("query: {e}")))
    }
}

/// Reads a request body up to `limit` bytes within the server's body timeout.
pub(super) async fn read_body(st: &ApiState, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let timeout = st.shared.cfg.http.body_read_timeout;
    match tokio::time::timeout(timeout, to_bytes(body, limit)).await {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(e)) => {
            let e = e.into_inner();
            if over_limit(&*e) {
                return Err(ApiError(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("request body exceeds the limit of {limit} bytes"),
                ));
            }
            // Cut short (a connection closed before the promised Content-Length) or
            // unreadable: nothing is stored, and the whole body sent again is.
            Err(ApiError::bad_request(format!(
                "request body could not be read whole ({e}): nothing was stored, send it again"
            )))
        }
        Err(_) => Err(ApiError(
            StatusCode::REQUEST_TIMEOUT,
            format!("request body not received within {} s", timeout.as_secs()),
        )),
    }
}

/// Whether reading a body failed on the size limit (anywhere in the error's chain).
fn over_limit(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// The key from `X-API-Key` or `Authorization: Bearer`.
fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(k) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(k.trim());
    }
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

/// Constant-time comparison (the length may leak; the content does not). An empty
/// expected key never matches: a processor without a usable key takes no samples.
fn key_matches(expected: &str, given: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// Checks the API key from `X-API-Key` or `Authorization: Bearer`.
pub(super) fn authorize(st: &ApiState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = st.shared.cfg.api_key.as_deref() else {
        return Err(ApiError(
            StatusCode::UNAUTHORIZED,
            "ingest is disabled: the processor has no API key configured".into(),
        ));
    };
    match presented_key(headers) {
        Some(k) if key_matches(expected, k) => Ok(()),
        Some(_) => Err(ApiError(StatusCode::UNAUTHORIZED, "invalid API key".into())),
        None => Err(ApiError(
            StatusCode::UNAUTHORIZED,
            "missing API key (X-API-Key or Authorization: Bearer)".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both header forms are read; other schemes are not; an empty key matches nothing.
    #[test]
    fn key_from_headers() {
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer s3cret".parse().unwrap());
        assert_eq!(presented_key(&h), Some("s3cret"));
        h.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(presented_key(&h), None);
        h.insert("x-api-key", "k".parse().unwrap());
        assert_eq!(presented_key(&h), Some("k"));
        assert!(
            key_matches("abc", "abc") && !key_matches("abc", "abd") && !key_matches("abc", "ab")
        );
        assert!(!key_matches("", ""));
    }
}
