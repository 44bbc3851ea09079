//! An in-memory Kubernetes API server for reconcile tests, served to a real
//! `kube::Client` in-process ([`FakeApi::client`]) or over TCP ([`FakeApi::serve_tcp`],
//! for the operator binary). It stores objects by path, treats server-side apply as a
//! recursive merge into the stored object (fields a patch omits are kept, like fields
//! owned by another manager), lists by label selector, holds watches open without
//! events, and logs every request.
#![allow(dead_code)]

pub mod access;
pub mod pss;
pub mod race;

/// A reconcile context on `api` with default images; `processor_base` replaces the
/// in-cluster processor address.
pub fn context(
    api: &Arc<FakeApi>,
    processor_base: Option<String>,
) -> Arc<pitstop_operator::reconcile::Context> {
    Arc::new(pitstop_operator::reconcile::Context {
        client: api.client(),
        images: pitstop_operator::model::Defaults::default(),
        reporter: kube::runtime::events::Reporter {
            controller: "pitstop-operator".into(),
            instance: None,
        },
        metrics: pitstop_operator::metrics::OperatorMetrics::new(),
        http: reqwest::Client::new(),
        processor_base,
    })
}

/// A tool the tests run: `$<env>` if set, else `.tools/bin/<name>` (installed by
/// `make test`), else `<name>` on PATH.
pub fn tool(env: &str, name: &str) -> std::path::PathBuf {
    if let Some(p) = std::env::var_os(env) {
        return p.into();
    }
    let local = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../.tools/bin")
        .join(name);
    if local.exists() {
        return local;
    }
    if std::process::Command::new(name)
        .arg("--version")
        .output()
        .is_ok()
    {
        return name.into();
    }
    panic!("{name} not found: run `make test` (it installs it into .tools/) or set {env}");
}

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

/// A plain-text endpoint (e.g. a node's cAdvisor page through the node proxy).
pub type RawHandler = Arc<dyn Fn() -> String + Send + Sync>;

/// The answer to a create request computed from its body (e.g. a TokenReview's status).
pub type CreateHandler = Arc<dyn Fn(&Value) -> (StatusCode, Value) + Send + Sync>;

#[derive(Default)]
pub struct FakeApi {
    objects: Mutex<BTreeMap<String, Value>>,
    raw: Mutex<BTreeMap<String, RawHandler>>,
    on_create: Mutex<BTreeMap<String, CreateHandler>>,
    log: Mutex<Vec<Logged>>,
    next_uid: Mutex<u64>,
}

fn failure(code: StatusCode, reason: &str, message: &str) -> (StatusCode, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "message": message, "code": code.as_u16()}),
    )
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

/// `/api/v1/namespaces/<ns>/<plural>` or `/apis/<group>/<version>/namespaces/<ns>/<plural>`,
/// or a cluster-scoped `/api/v1/<plural>` / `/apis/<group>/<version>/<plural>`.
fn is_collection(path: &str) -> bool {
    let segments = path.trim_start_matches('/').split('/').count();
    let namespaced = path.contains("/namespaces/");
    (path.starts_with("/api/") && segments == if namespaced { 5 } else { 3 })
        || (path.starts_with("/apis/") && segments == if namespaced { 6 } else { 4 })
}

fn is_watch(query: &str) -> bool {
    query
        .split('&')
        .any(|kv| kv == "watch=true" || kv == "watch=1")
}

impl FakeApi {
    pub fn new() -> Arc<Self> {
        Arc::new(FakeApi::default())
    }

    /// A client talking to this server in-process.
    pub fn client(self: &Arc<Self>) -> kube::Client {
        let me = self.clone();
        let svc = tower::service_fn(move |req: Request<kube::client::Body>| {
            let me = me.clone();
            async move {
                let (method, path, query) = (
                    req.method().clone(),
                    req.uri().path().to_string(),
                    req.uri().query().unwrap_or("").to_string(),
                );
                let raw = me.raw.lock().unwrap().get(&path).cloned();
                if let Some(f) = raw {
                    let resp: Response<kube::client::Body> = Response::builder()
                        .status(200)
                        .header("content-type", "text/plain")
                        .body(f().into_bytes().into())
                        .unwrap();
                    return Ok::<_, Infallible>(resp);
                }
                let bytes = req
                    .into_body()
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                let (code, v) = me.respond(&method, &path, &query, &bytes);
                let resp: Response<kube::client::Body> = Response::builder()
                    .status(code)
                    .header("content-type", "application/json")
                    .body(serde_json::to_vec(&v).unwrap().into())
                    .unwrap();
                Ok::<_, Infallible>(resp)
            }
        });
        kube::Client::new(svc, "default")
    }

    /// Serves this store over TCP; watch requests are held open without events.
    pub async fn serve_tcp(self: &Arc<Self>) -> std::net::SocketAddr {
        let me = self.clone();
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let me = me.clone();
            async move {
                let (method, path, query) = (
                    req.method().clone(),
                    req.uri().path().to_string(),
                    req.uri().query().unwrap_or("").to_string(),
                );
                if is_watch(&query) {
                    me.log.lock().unwrap().push(Logged {
                        method: method.to_string(),
                        path,
                        query,
                        body: None,
                    });
                    let quiet = futures_util::stream::pending::<
                        Result<axum::body::Bytes, std::io::Error>,
                    >();
                    return Response::builder()
                        .status(200)
                        .header("content-type", "application/json")
                        .body(axum::body::Body::from_stream(quiet))
                        .unwrap();
                }
                let bytes = axum::body::to_bytes(req.into_body(), 16 << 20)
                    .await
                    .unwrap_or_default();
                let (code, v) = me.respond(&method, &path, &query, &bytes);
                Response::builder()
                    .status(code)
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(serde_json::to_vec(&v).unwrap()))
                    .unwrap()
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    }

    /// Serves `f()` as text at `path` (GET, in-process client only).
    pub fn raw(&self, path: &str, f: impl Fn() -> String + Send + Sync + 'static) {
        self.raw.lock().unwrap().insert(path.into(), Arc::new(f));
    }

    /// Answers POSTs to `path` with `f(body)` instead of storing the body (review APIs,
    /// whose answer is computed and never stored).
    pub fn on_create(
        &self,
        path: &str,
        f: impl Fn(&Value) -> (StatusCode, Value) + Send + Sync + 'static,
    ) {
        self.on_create
            .lock()
            .unwrap()
            .insert(path.into(), Arc::new(f));
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

    fn uid(&self) -> String {
        let mut n = self.next_uid.lock().unwrap();
        *n += 1;
        format!("uid-{n}")
    }

    fn respond(
        &self,
        method: &Method,
        path: &str,
        query: &str,
        bytes: &[u8],
    ) -> (StatusCode, Value) {
        let body: Option<Value> = if bytes.is_empty() {
            None
        } else {
            serde_json::from_slice(bytes).ok()
        };
        self.log.lock().unwrap().push(Logged {
            method: method.to_string(),
            path: path.into(),
            query: query.into(),
            body: body.clone(),
        });
        if path == "/version" {
            let info = json!({"major": "1", "minor": "36", "gitVersion": "v1.36.0-fake", "gitCommit": "", "gitTreeState": "clean",
                "buildDate": "2026-11-28T00:00:00Z", "goVersion": "", "compiler": "", "platform": "linux/amd64"});
            return (StatusCode::OK, info);
        }
        if *method == Method::POST {
            let handler = self.on_create.lock().unwrap().get(path).cloned();
            if let Some(f) = handler {
                return f(&body.unwrap_or(Value::Null));
            }
        }
        let mut objects = self.objects.lock().unwrap();
        let (base, sub) = match path.strip_suffix("/status") {
            Some(b) => (b.to_string(), true),
            None => (path.to_string(), false),
        };
        match *method {
            Method::GET => {
                if let Some(o) = objects.get(&base) {
                    return (StatusCode::OK, o.clone());
                }
                if !is_collection(&base) {
                    return failure(
                        StatusCode::NOT_FOUND,
                        "NotFound",
                        &format!("{base} not found"),
                    );
                }
                let prefix = format!("{base}/");
                let selector = query_param(query, "labelSelector").unwrap_or_default();
                let items: Vec<Value> = objects
                    .iter()
                    .filter(|(k, _)| k.starts_with(&prefix) && !k[prefix.len()..].contains('/'))
                    .filter(|(_, v)| labels_match(v, &selector))
                    .map(|(_, v)| v.clone())
                    .collect();
                (
                    StatusCode::OK,
                    json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "1"}, "items": items}),
                )
            }
            Method::PATCH => {
                let patch = body.unwrap_or(Value::Null);
                if sub {
                    let Some(o) = objects.get_mut(&base) else {
                        return failure(
                            StatusCode::NOT_FOUND,
                            "NotFound",
                            &format!("{base} not found"),
                        );
                    };
                    merge(&mut o["status"], &patch["status"]);
                    return (StatusCode::OK, o.clone());
                }
                let created = !objects.contains_key(&base);
                if created {
                    let uid = self.uid();
                    objects.insert(base.clone(), json!({"metadata": {"uid": uid, "creationTimestamp": "2026-11-28T00:00:00Z"}}));
                }
                let o = objects.get_mut(&base).expect("inserted above");
                merge(o, &patch);
                (
                    if created {
                        StatusCode::CREATED
                    } else {
                        StatusCode::OK
                    },
                    o.clone(),
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
                    return failure(
                        StatusCode::CONFLICT,
                        "AlreadyExists",
                        &format!("{key} exists"),
                    );
                }
                obj["metadata"]["uid"] = json!(self.uid());
                obj["metadata"]["resourceVersion"] = json!("1");
                objects.insert(key, obj.clone());
                (StatusCode::CREATED, obj)
            }
            Method::PUT => {
                let Some(old) = objects.get(&base) else {
                    return failure(
                        StatusCode::NOT_FOUND,
                        "NotFound",
                        &format!("{base} not found"),
                    );
                };
                let mut obj = body.unwrap_or(Value::Null);
                obj["metadata"]["uid"] = old["metadata"]["uid"].clone();
                objects.insert(base, obj.clone());
                (StatusCode::OK, obj)
            }
            Method::DELETE => match objects.remove(&base) {
                Some(o) => (StatusCode::OK, o),
                None => failure(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    &format!("{base} not found"),
                ),
            },
            _ => failure(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "unsupported",
            ),
        }
    }
}
