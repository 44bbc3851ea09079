//! The API tests' one way to call the processor's HTTP API: every answer is checked
//! against the OpenAPI document the processor serves (`processor::api::document`). The
//! path and method must be documented, the status must be one of the operation's
//! responses, the content type one of that response's, and a JSON body must validate
//! against the response's schema (JSON Schema 2020-12, `$ref`s resolved against the
//! document's `components`). Tests that probe an unknown route or a wrong method say so
//! ([`call_unrouted`]): those answer 404 or 405 with the `ErrorBody` schema.

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

/// What the API answered, once checked.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub content_type: Option<String>,
    /// The body as JSON (`null` when it is not JSON).
    pub json: Value,
    pub text: String,
}

/// Sends `req` and checks the answer against the document; panics on a violation.
pub async fn call(req: reqwest::RequestBuilder) -> Answer {
    send(req, Route::Documented).await
}

/// Sends `req`, a path or method the API does not have, and checks the answer: a 404 or
/// 405 with the error body.
pub async fn call_unrouted(req: reqwest::RequestBuilder) -> Answer {
    send(req, Route::Unrouted).await
}

/// `GET url`, checked.
pub async fn get(url: impl AsRef<str>) -> Answer {
    call(reqwest::Client::new().get(url.as_ref())).await
}

#[derive(Clone, Copy)]
enum Route {
    Documented,
    Unrouted,
}

async fn send(req: reqwest::RequestBuilder, route: Route) -> Answer {
    let (client, req) = req.build_split();
    let req = req.expect("a request that builds");
    let (method, path) = (req.method().to_string(), req.url().path().to_owned());
    let resp = client.execute(req).await.expect("the API answers");
    let status = resp.status();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = resp.bytes().await.expect("the answer's body");
    let got = Got {
        status: status.as_u16(),
        content_type: content_type.as_deref(),
        body: &body,
    };
    let verdict = match route {
        Route::Documented => CONTRACT.check(&method, &path, got),
        Route::Unrouted => CONTRACT.check_unrouted(&method, &path, got),
    };
    if let Err(e) = verdict {
        panic!(
            "{method} {path} answered {status} against the OpenAPI document: {e}\nbody: {}",
            String::from_utf8_lossy(&body)
        );
    }
    Answer {
        status,
        content_type,
        json: serde_json::from_slice(&body).unwrap_or(Value::Null),
        text: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// The document the processor serves.
static CONTRACT: LazyLock<Contract> = LazyLock::new(|| {
    Contract::new(
        serde_json::to_value(pitstop_workloads::processor::api::document())
            .expect("the document is JSON"),
    )
});

/// One answer as received.
#[derive(Clone, Copy)]
pub struct Got<'a> {
    pub status: u16,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
}

/// An OpenAPI 3.1 document and the validators built from it so far.
pub struct Contract {
    doc: Value,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

impl Contract {
    pub fn new(doc: Value) -> Contract {
        Contract {
            doc,
            validators: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `got` is a documented answer of `method` on `path` (a URL path as sent).
    pub fn check(&self, method: &str, path: &str, got: Got) -> Result<(), String> {
        let (template, item) = self
            .route(path)
            .ok_or_else(|| format!("no documented path matches {path}"))?;
        let op = item
            .get(method.to_ascii_lowercase())
            .ok_or_else(|| format!("{method} is not documented on {template}"))?;
        let response = op["responses"].get(got.status.to_string()).ok_or_else(|| {
            let documented: Vec<&String> = op["responses"]
                .as_object()
                .map(|r| r.keys().collect())
                .unwrap_or_default();
            format!(
                "status {} is not documented for {method} {template} (documented: {documented:?})",
                got.status
            )
        })?;
        let pointer = format!(
            "/paths/{}/{}/responses/{}",
            escape(template),
            method.to_ascii_lowercase(),
            got.status
        );
        self.check_content(&pointer, response, got)
    }

    /// Whether `got` is what an unknown route (404) or a wrong method (405) answers: the
    /// route must really be missing from the document.
    pub fn check_unrouted(&self, method: &str, path: &str, got: Got) -> Result<(), String> {
        let want = match self.route(path) {
            None => 404,
            Some((_, item)) if item.get(method.to_ascii_lowercase()).is_none() => 405,
            Some((template, _)) => {
                return Err(format!("{method} {template} is documented: use `call`"));
            }
        };
        if got.status != want {
            return Err(format!("status {}, want {want}", got.status));
        }
        let error = json!({
            "description": "the fallback's error",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
        });
        self.check_content("/unrouted", &error, got)
    }

    /// The documented path matching `path` (most literal segments first) and its item.
    fn route(&self, path: &str) -> Option<(&str, &Value)> {
        let segments: Vec<&str> = path.split('/').collect();
        self.doc["paths"]
            .as_object()?
            .iter()
            .filter_map(|(template, item)| {
                let parts: Vec<&str> = template.split('/').collect();
                let literal = parts.len() == segments.len()
                    && parts.iter().zip(&segments).all(|(p, s)| {
                        (p.starts_with('{') && p.ends_with('}') && !s.is_empty()) || p == s
                    });
                literal.then(|| {
                    let fixed = parts.iter().filter(|p| !p.starts_with('{')).count();
                    (fixed, template.as_str(), item)
                })
            })
            .max_by_key(|(fixed, _, _)| *fixed)
            .map(|(_, template, item)| (template, item))
    }

    /// The body against the response object's content: a documented content type, and
    /// for JSON a body valid against its schema.
    fn check_content(&self, pointer: &str, response: &Value, got: Got) -> Result<(), String> {
        let Some(content) = response.get("content").and_then(Value::as_object) else {
            return if got.body.is_empty() {
                Ok(())
            } else {
                Err("a body where the document says none".into())
            };
        };
        let essence = got
            .content_type
            .and_then(|c| c.split(';').next())
            .map(|c| c.trim().to_ascii_lowercase())
            .ok_or("no Content-Type")?;
        let media = content.get(&essence).ok_or_else(|| {
            let documented: Vec<&String> = content.keys().collect();
            format!("Content-Type {essence} is not documented (documented: {documented:?})")
        })?;
        if essence != "application/json" {
            return Ok(());
        }
        let body: Value =
            serde_json::from_slice(got.body).map_err(|e| format!("the body is not JSON: {e}"))?;
        let Some(schema) = media.get("schema") else {
            return Ok(());
        };
        let validator = self.validator(&format!("{pointer}/{essence}"), schema)?;
        let errors: Vec<String> = validator
            .iter_errors(&body)
            .take(5)
            .map(|e| format!("at {:?}: {e}", e.instance_path().as_str()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    /// A validator for `schema`, with the document's components beside it so that its
    /// `$ref`s (`#/components/schemas/...`) resolve; built once per response.
    fn validator(&self, key: &str, schema: &Value) -> Result<Arc<jsonschema::Validator>, String> {
        let mut cache = self.validators.lock().unwrap();
        if let Some(v) = cache.get(key) {
            return Ok(v.clone());
        }
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.doc["components"],
            "allOf": [schema],
        });
        let v = Arc::new(
            jsonschema::validator_for(&root).map_err(|e| format!("the schema of {key}: {e}"))?,
        );
        cache.insert(key.to_owned(), v.clone());
        Ok(v)
    }
}

/// A JSON pointer token (`/` and `~` escaped).
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}
