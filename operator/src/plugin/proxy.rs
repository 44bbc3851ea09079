//! The processor's API through the API server's service proxy
//! (`/api/v1/namespaces/{ns}/services/{name}:{port}/proxy/...`): no port-forward, no
//! direct pod access, only the user's `get services/proxy`. Both the API server and the
//! processor answer on that path; [`classify`] tells them apart and says what an answer
//! means.

use crate::children::meta::Component;
use crate::children::ports;
use serde::Deserialize;

/// The processor's Service of a race: `<race>-processor` (what `children::meta::name`
/// gives the processor's objects).
pub fn processor_service(race: &str) -> String {
    format!("{race}-{}", Component::Processor.as_str())
}

/// The API server's path that proxies `api_path` (from `/`) to the race's processor
/// Service on its port (8001).
pub fn processor_path(namespace: &str, race: &str, api_path: &str) -> String {
    format!(
        "/api/v1/namespaces/{namespace}/services/{}:{}/proxy{api_path}",
        processor_service(race),
        ports::PROCESSOR
    )
}

/// What an answer on the proxy path means.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// 2xx from the processor: its body.
    Ok(Vec<u8>),
    /// The API server refused the user `get services/proxy` (403).
    Forbidden,
    /// The API server has no such Service, or no Endpoints object for it (it says
    /// "services ... not found" for both).
    NoService,
    /// The Service has no ready endpoint (no processor pod ready).
    NoEndpoints,
    /// The API server could not connect to the processor: its words.
    Unreachable(String),
    /// The processor answered 404: its `error` (no session, no report, no endpoint).
    NotFound(String),
    /// The processor answered 503 (a datastore away): its `error`.
    Unavailable(String),
    /// Any other answer: the status and what it said.
    Other(u16, String),
}

/// The API server's `Status` (what it answers itself).
#[derive(Deserialize)]
struct Status {
    kind: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    reason: String,
}

/// The processor's error body: `{"error": "..."}`.
#[derive(Deserialize)]
struct ProcessorError {
    error: String,
}

/// An answer's meaning from its status code and body.
pub fn classify(code: u16, body: &[u8]) -> Answer {
    if (200..300).contains(&code) {
        return Answer::Ok(body.to_vec());
    }
    if let Ok(s) = serde_json::from_slice::<Status>(body)
        && s.kind == "Status"
    {
        let message = super::error::one_line(&s.message);
        return match (code, s.reason.as_str()) {
            (403, _) => Answer::Forbidden,
            // Also what the API server says of a Service without an Endpoints object.
            (404, _) => Answer::NoService,
            (503, _) if message.starts_with("no endpoints available") => Answer::NoEndpoints,
            // "error trying to reach service: dial tcp ...: connection refused"
            (502..=504, _) => Answer::Unreachable(message),
            _ => Answer::Other(code, message),
        };
    }
    let said = serde_json::from_slice::<ProcessorError>(body)
        .map(|e| super::error::one_line(&e.error))
        .unwrap_or_else(|_| super::error::one_line(&String::from_utf8_lossy(body)));
    match code {
        404 => Answer::NotFound(said),
        503 => Answer::Unavailable(said),
        // The proxy's own transport errors come as plain text.
        502 | 504 => Answer::Unreachable(said),
        _ => Answer::Other(code, said),
    }
}

impl Answer {
    /// Why the processor cannot be asked, for a user (`None` for an answer).
    pub fn why_not(&self, race: &str) -> Option<String> {
        let service = processor_service(race);
        Some(match self {
            Answer::Ok(_) => return None,
            Answer::Forbidden => "forbidden".into(),
            Answer::NoService => {
                format!("it has no processor Service {service:?} (or no Endpoints for it) yet")
            }
            Answer::NoEndpoints => format!("no processor pod is ready behind Service {service:?}"),
            Answer::Unreachable(m) => format!("its processor cannot be reached: {m}"),
            Answer::NotFound(m) => format!("the processor has no session for it yet ({m})"),
            Answer::Unavailable(m) => format!("the processor is not ready: {m}"),
            Answer::Other(code, m) => format!("the processor answered {code}: {m}"),
        })
    }
}
