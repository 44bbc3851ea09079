//! An in-memory Kubernetes API server for reconcile tests, served to a real
//! `kube::Client`. It stores objects by path, treats server-side apply as a recursive
//! merge into the stored object (fields a patch omits are kept, like fields owned by
//! another manager), lists by label selector, and logs every request.
#![allow(dead_code)]

use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: Option<Value>,
}

#[derive(Default)]
pub struct FakeApi {
    objects: Mutex<BTreeMap<String, Value>>,
    log: Mutex<Vec<Logged>>,
    next_uid: Mutex<u64>,
}

fn status(code: StatusCode, reason: &str, message: &str) -> Response<kube::client::Body> {
    let body = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "message": message, "code": code.as_u16()});
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).unwrap().into())
        .unwrap()
}

fn ok(code: StatusCode, v: &Value) -> Response<kube::client::Body> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(v).unwrap().into())
        .unwrap()
}

/// Recursive merge: objects merge key by key, everything else is replaced.
fn merge(into: &mut Value, patch: &Value) {
    match (into, patch) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

fn labels_match(obj: &Value, selector: &str) -> bool {
    selector.split(',').filter(|s| !s.is_empty()).all(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        obj["metadata"]["labels"][k].as_str() == Some(v)
    })
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| {
            v.replace("%3D", "=")
                .replace("%2C", ",")
                .replace("%2F", "/")
        })
    })
}

/// `/api/v1/namespaces/<ns>/<plural>` or `/apis/<group>/<version>/namespaces/<ns>/<plural>`.
fn is_collection(path: &str) -> bool {
    let segments = path.trim_start_matches('/').split('/').count();
    (path.starts_with("/api/") && segments == 5) || (path.starts_with("/apis/") && segments == 6)
}

impl FakeApi {
    pub fn new() -> Arc<Self> {
        Arc::new(FakeApi::default())
    }

    pub fn client(self: &Arc<Self>) -> kube::Client {
        let me = self.clone();
        let svc = tower::service_fn(move |req: Request<kube::client::Body>| {
            let me = me.clone();
            async move { Ok::<_, Infallible>(me.handle(req).await) }
        });
        kube::Client::new(svc, "default")
    }

    /// Stores an object at its path (as a user's `kubectl apply` would).
    pub fn put(&self, path: &str, obj: Value) {
        self.objects.lock().unwrap().insert(path.to_string(), obj);
    }

    pub fn get(&self, path: &str) -> Option<Value> {
        self.objects.lock().unwrap().get(path).cloned()
    }

    pub fn edit(&self, path: &str, f: impl FnOnce(&mut Value)) {
        f(self
            .objects
            .lock()
            .unwrap()
            .get_mut(path)
            .expect("object exists"));
    }

    pub fn delete(&self, path: &str) {
        self.objects.lock().unwrap().remove(path);
    }

    pub fn paths(&self) -> Vec<String> {
        self.objects.lock().unwrap().keys().cloned().collect()
    }

    pub fn log(&self) -> Vec<Logged> {
        self.log.lock().unwrap().clone()
    }

    pub fn clear_log(&self) {
        self.log.lock().unwrap().clear();
    }

    async fn handle(&self, req: Request<kube::client::Body>) -> Response<kube::client::Body> {
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let query = req.uri().query().unwrap_or("").to_string();
        let bytes = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let body: Option<Value> = if bytes.is_empty() {
            None
        } else {
            serde_json::from_slice(&bytes).ok()
        };
        self.log.lock().unwrap().push(Logged {
            method: method.to_string(),
            path: path.clone(),
            query: query.clone(),
            body: body.clone(),
        });

        let mut objects = self.objects.lock().unwrap();
        let (base, sub) = match path.strip_suffix("/status") {
            Some(b) => (b.to_string(), true),
            None => (path.clone(), false),
        };
        match method {
            Method::GET => {
                if let Some(o) = objects.get(&base) {
                    return ok(StatusCode::OK, o);
                }
                // A collection: every object directly under this path.
                let prefix = format!("{base}/");
                let selector = query_param(&query, "labelSelector").unwrap_or_default();
                let items: Vec<Value> = objects
                    .iter()
                    .filter(|(k, _)| k.starts_with(&prefix) && !k[prefix.len()..].contains('/'))
                    .filter(|(_, v)| labels_match(v, &selector))
                    .map(|(_, v)| v.clone())
                    .collect();
                if items.is_empty() && !is_collection(&base) {
                    return status(
                        StatusCode::NOT_FOUND,
                        "NotFound",
                        &format!("{base} not found"),
                    );
                }
                ok(
                    StatusCode::OK,
                    &json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "1"}, "items": items}),
                )
            }
            Method::PATCH => {
                let patch = body.unwrap_or(Value::Null);
                if sub {
                    let Some(o) = objects.get_mut(&base) else {
                        return status(
                            StatusCode::NOT_FOUND,
                            "NotFound",
                            &format!("{base} not found"),
                        );
                    };
                    merge(&mut o["status"], &patch["status"]);
                    return ok(StatusCode::OK, o);
                }
                let created = !objects.contains_key(&base);
                let mut uid = self.next_uid.lock().unwrap();
                let o = objects.entry(base.clone()).or_insert_with(|| {
                    *uid += 1;
                    json!({"metadata": {"uid": format!("uid-{}", *uid), "creationTimestamp": "2026-11-28T00:00:00Z"}})
                });
                merge(o, &patch);
                ok(
                    if created {
                        StatusCode::CREATED
                    } else {
                        StatusCode::OK
                    },
                    o,
                )
            }
            Method::POST => {
                let mut obj = body.unwrap_or(Value::Null);
                let name = obj["metadata"]["name"]
                    .as_str()
                    .unwrap_or("generated")
                    .to_string();
                let key = format!("{base}/{name}");
                if objects.contains_key(&key) {
                    return status(
                        StatusCode::CONFLICT,
                        "AlreadyExists",
                        &format!("{key} exists"),
                    );
                }
                let mut uid = self.next_uid.lock().unwrap();
                *uid += 1;
                obj["metadata"]["uid"] = json!(format!("uid-{}", *uid));
                objects.insert(key, obj.clone());
                ok(StatusCode::CREATED, &obj)
            }
            Method::DELETE => match objects.remove(&base) {
                Some(o) => ok(StatusCode::OK, &o),
                None => status(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    &format!("{base} not found"),
                ),
            },
            _ => status(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "unsupported",
            ),
        }
    }
}
