//! An in-memory Kubernetes API server for reconcile tests, served to a real
//! `kube::Client` in-process ([`FakeApi::client`]) or over TCP ([`FakeApi::serve_tcp`],
//! for the operator binary). It stores objects by path ([`store`]: resourceVersions,
//! managedFields, the history watches replay), treats server-side apply as a recursive
//! merge into the stored object (fields a patch omits are kept, like fields owned by
//! another manager), lists by label selector (one namespace or all), answers
//! `Accept: …;as=PartialObjectMetadata(List)` with `meta.k8s.io/v1` metadata-only objects
//! as a real server does, streams watch events over TCP, and logs every request.
#![allow(dead_code)]

pub mod access;
pub mod gateway;
pub mod operator;
pub mod processor;
pub mod pss;
pub mod race;
pub mod store;

/// A reconcile context on `api` with default images; `processor_base` replaces the
/// in-cluster processor address.
pub fn context(
    api: &Arc<FakeApi>,
    processor_base: Option<String>,
) -> Arc<pitstop_operator::reconcile::Context> {
    context_with_gateway(api, processor_base, None)
}

/// [`context`] whose F1-game gateways are reached at `gateway_base`.
pub fn context_with_gateway(
    api: &Arc<FakeApi>,
    processor_base: Option<String>,
    gateway_base: Option<String>,
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
        gateway_base,
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
use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use store::{Expired, Store, record_apply};

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub query: String,
    /// The `Accept` header (e.g. `application/json;as=PartialObjectMetadataList;…` from a
    /// metadata-only list or watch).
    pub accept: String,
    pub body: Option<Value>,
}

impl Logged {
    /// Whether the client asked for metadata only (`PartialObjectMetadata(List)`).
    pub fn metadata_only(&self) -> bool {
        self.accept.contains("as=PartialObjectMetadata")
    }
}

/// A plain-text endpoint (e.g. a node's cAdvisor page through the node proxy).
pub type RawHandler = Arc<dyn Fn() -> String + Send + Sync>;

/// The answer to a create request computed from its body (e.g. a TokenReview's status).
pub type CreateHandler = Arc<dyn Fn(&Value) -> (StatusCode, Value) + Send + Sync>;

#[derive(Default)]
pub struct FakeApi {
    store: Mutex<Store>,
    raw: Mutex<BTreeMap<String, RawHandler>>,
    on_create: Mutex<BTreeMap<String, CreateHandler>>,
    log: Mutex<Vec<Logged>>,
    forget_bodies: AtomicBool,
    expired: AtomicUsize,
    next_uid: Mutex<u64>,
}

/// What [`FakeApi::respond`] looks at in a request.
struct Req<'a> {
    method: &'a Method,
    path: &'a str,
    query: &'a str,
    accept: &'a str,
    content_type: &'a str,
    body: &'a [u8],
}

fn header(headers: &http::HeaderMap, name: http::header::HeaderName) -> &str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
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
pub fn is_collection(path: &str) -> bool {
    let segments = path.trim_start_matches('/').split('/').count();
    let namespaced = path.contains("/namespaces/");
    (path.starts_with("/api/") && segments == if namespaced { 5 } else { 3 })
        || (path.starts_with("/apis/") && segments == if namespaced { 6 } else { 4 })
}

/// Whether `collection` lists the object at `path`: its own collection, or for a list
/// across namespaces (`/apis/apps/v1/deployments`) the same kind in any namespace.
fn in_collection(collection: &str, path: &str) -> bool {
    let Some((parent, _name)) = path.rsplit_once('/') else {
        return false;
    };
    if parent == collection {
        return true;
    }
    if collection.contains("/namespaces/") {
        return false;
    }
    let Some((group, plural)) = collection.rsplit_once('/') else {
        return false;
    };
    parent
        .strip_prefix(group)
        .and_then(|r| r.strip_prefix("/namespaces/"))
        .and_then(|r| r.split_once('/'))
        .is_some_and(|(ns, p)| !ns.contains('/') && p == plural)
}

fn is_watch(query: &str) -> bool {
    query
        .split('&')
        .any(|kv| kv == "watch=true" || kv == "watch=1")
}

/// An object as `PartialObjectMetadata`: its metadata only, never its spec, data or status.
fn metadata_of(obj: &Value) -> Value {
    json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": obj["metadata"]})
}

/// One line of a watch response.
fn watch_line(type_: &str, object: &Value) -> axum::body::Bytes {
    let mut line = serde_json::to_vec(&json!({"type": type_, "object": object})).unwrap();
    line.push(b'\n');
    line.into()
}

/// What a real server sends a watch from before its kept history.
fn gone() -> axum::body::Bytes {
    watch_line(
        "ERROR",
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "too old resource version", "reason": "Expired", "code": 410}),
    )
}

/// A watch in progress over TCP.
struct Watch {
    api: Arc<FakeApi>,
    collection: String,
    selector: String,
    metadata: bool,
    rx: tokio::sync::watch::Receiver<u64>,
    cursor: u64,
    pending: VecDeque<axum::body::Bytes>,
    done: bool,
}

impl Watch {
    fn wants(&self, path: &str, obj: &Value) -> bool {
        in_collection(&self.collection, path) && labels_match(obj, &self.selector)
    }

    fn line(&self, type_: &str, obj: &Value) -> axum::body::Bytes {
        if self.metadata {
            watch_line(type_, &metadata_of(obj))
        } else {
            watch_line(type_, obj)
        }
    }

    /// The next event: a kept change after the cursor, else the next write.
    async fn next(mut self) -> Option<(Result<axum::body::Bytes, std::io::Error>, Watch)> {
        loop {
            if let Some(line) = self.pending.pop_front() {
                return Some((Ok(line), self));
            }
            if self.done {
                return None;
            }
            let changes = self.api.store.lock().unwrap().since(self.cursor);
            match changes {
                Err(Expired) => {
                    self.api.expired.fetch_add(1, Ordering::Relaxed);
                    self.pending.push_back(gone());
                    self.done = true;
                }
                Ok(changes) if changes.is_empty() => self.rx.changed().await.ok()?,
                Ok(changes) => {
                    for c in changes {
                        self.cursor = c.rv;
                        if self.wants(&c.path, &c.object) {
                            let line = self.line(c.type_, &c.object);
                            self.pending.push_back(line);
                        }
                    }
                }
            }
        }
    }
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
                let accept = header(req.headers(), http::header::ACCEPT).to_string();
                let content_type = header(req.headers(), http::header::CONTENT_TYPE).to_string();
                let raw = me.raw.lock().unwrap().get(&path).cloned();
                if let Some(f) = raw {
                    me.log.lock().unwrap().push(Logged {
                        method: method.to_string(),
                        path,
                        query,
                        accept,
                        body: None,
                    });
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
                let (code, v) = me.respond(Req {
                    method: &method,
                    path: &path,
                    query: &query,
                    accept: &accept,
                    content_type: &content_type,
                    body: &bytes,
                });
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

    /// Serves this store over TCP. A watch streams the changes after its
    /// `resourceVersion` (without one, first the existing objects as ADDED), and 410 Gone
    /// when that version is older than the kept history.
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
                let accept = header(req.headers(), http::header::ACCEPT).to_string();
                let content_type = header(req.headers(), http::header::CONTENT_TYPE).to_string();
                if is_watch(&query) {
                    let events = me.watch(&path, &query, &accept);
                    me.log.lock().unwrap().push(Logged {
                        method: method.to_string(),
                        path,
                        query,
                        accept,
                        body: None,
                    });
                    return Response::builder()
                        .status(200)
                        .header("content-type", "application/json")
                        .body(axum::body::Body::from_stream(events))
                        .unwrap();
                }
                let bytes = axum::body::to_bytes(req.into_body(), 16 << 20)
                    .await
                    .unwrap_or_default();
                let (code, v) = me.respond(Req {
                    method: &method,
                    path: &path,
                    query: &query,
                    accept: &accept,
                    content_type: &content_type,
                    body: &bytes,
                });
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

    /// The events of a watch on `collection` (see [`FakeApi::serve_tcp`]).
    fn watch(
        self: &Arc<Self>,
        collection: &str,
        query: &str,
        accept: &str,
    ) -> impl futures_util::Stream<Item = Result<axum::body::Bytes, std::io::Error>> + Send + use<>
    {
        let from = query_param(query, "resourceVersion")
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|rv| *rv > 0);
        let store = self.store.lock().unwrap();
        let mut w = Watch {
            api: self.clone(),
            collection: collection.to_string(),
            selector: query_param(query, "labelSelector").unwrap_or_default(),
            metadata: accept.contains("as=PartialObjectMetadata"),
            rx: store.subscribe(),
            cursor: from.unwrap_or(store.rv()),
            pending: VecDeque::new(),
            done: false,
        };
        if from.is_none() {
            for (path, obj) in store.objects() {
                if w.wants(path, obj) {
                    let line = w.line("ADDED", obj);
                    w.pending.push_back(line);
                }
            }
        }
        drop(store);
        futures_util::stream::unfold(w, Watch::next)
    }

    /// Serves `f()` as text at `path` (GET, in-process client only; logged).
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
        self.store.lock().unwrap().write(path, obj);
    }

    pub fn get(&self, path: &str) -> Option<Value> {
        self.store.lock().unwrap().get(path).cloned()
    }

    /// Changes a stored object (a new version, seen by watches).
    pub fn edit(&self, path: &str, f: impl FnOnce(&mut Value)) {
        self.store
            .lock()
            .unwrap()
            .update(path, f)
            .expect("object exists");
    }

    pub fn delete(&self, path: &str) {
        self.store.lock().unwrap().remove(path);
    }

    pub fn paths(&self) -> Vec<String> {
        self.store
            .lock()
            .unwrap()
            .objects()
            .keys()
            .cloned()
            .collect()
    }

    /// How many objects stored at paths starting with `prefix` satisfy `f` (without
    /// copying them).
    pub fn count_where(&self, prefix: &str, f: impl Fn(&Value) -> bool) -> usize {
        let store = self.store.lock().unwrap();
        store
            .objects()
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(|(_, v)| f(v))
            .count()
    }

    /// Stops keeping request bodies in the log (a long benchmark's patches add up).
    pub fn forget_bodies(&self) {
        self.forget_bodies.store(true, Ordering::Relaxed);
    }

    /// Watches answered 410 Gone (they asked for changes no longer kept).
    pub fn expired_watches(&self) -> usize {
        self.expired.load(Ordering::Relaxed)
    }

    pub fn log(&self) -> Vec<Logged> {
        self.log.lock().unwrap().clone()
    }

    /// How many requests were logged (without copying the log).
    pub fn requests(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    pub fn clear_log(&self) {
        self.log.lock().unwrap().clear();
    }

    fn uid(&self) -> String {
        let mut n = self.next_uid.lock().unwrap();
        *n += 1;
        format!("uid-{n}")
    }

    fn respond(&self, req: Req<'_>) -> (StatusCode, Value) {
        let Req {
            method,
            path,
            query,
            accept,
            content_type,
            body: bytes,
        } = req;
        let body: Option<Value> = if bytes.is_empty() {
            None
        } else {
            serde_json::from_slice(bytes).ok()
        };
        self.log.lock().unwrap().push(Logged {
            method: method.to_string(),
            path: path.into(),
            query: query.into(),
            accept: accept.into(),
            body: if self.forget_bodies.load(Ordering::Relaxed) {
                None
            } else {
                body.clone()
            },
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
        let metadata = accept.contains("as=PartialObjectMetadata");
        self.respond_stored(method, path, query, content_type, body, metadata)
    }

    fn respond_stored(
        &self,
        method: &Method,
        path: &str,
        query: &str,
        content_type: &str,
        body: Option<Value>,
        metadata: bool,
    ) -> (StatusCode, Value) {
        let mut store = self.store.lock().unwrap();
        let (base, sub) = match path.strip_suffix("/status") {
            Some(b) => (b.to_string(), true),
            None => (path.to_string(), false),
        };
        // What a metadata-only request gets of an object.
        let shown = |v: Value| if metadata { metadata_of(&v) } else { v };
        let not_found = || {
            failure(
                StatusCode::NOT_FOUND,
                "NotFound",
                &format!("{base} not found"),
            )
        };
        match *method {
            Method::GET => {
                if let Some(o) = store.get(&base) {
                    return (StatusCode::OK, shown(o.clone()));
                }
                if !is_collection(&base) {
                    return not_found();
                }
                let selector = query_param(query, "labelSelector").unwrap_or_default();
                // One namespace's collection is a range of paths; across namespaces, all.
                let prefix = if base.contains("/namespaces/") {
                    format!("{base}/")
                } else {
                    String::new()
                };
                let items: Vec<Value> = store
                    .objects()
                    .range(prefix.clone()..)
                    .take_while(|(k, _)| k.starts_with(&prefix))
                    .filter(|(k, v)| in_collection(&base, k) && labels_match(v, &selector))
                    .map(|(_, v)| if metadata { metadata_of(v) } else { v.clone() })
                    .collect();
                let (api_version, kind) = if metadata {
                    ("meta.k8s.io/v1", "PartialObjectMetadataList")
                } else {
                    ("v1", "List")
                };
                (
                    StatusCode::OK,
                    json!({"apiVersion": api_version, "kind": kind,
                        "metadata": {"resourceVersion": store.rv().to_string()},
                        "items": items}),
                )
            }
            Method::PATCH => {
                let patch = body.unwrap_or(Value::Null);
                let apply = content_type.starts_with("application/apply-patch");
                let manager = query_param(query, "fieldManager");
                if sub {
                    let Some(mut o) = store.get(&base).cloned() else {
                        return not_found();
                    };
                    merge(&mut o["status"], &patch["status"]);
                    if let (true, Some(m)) = (apply, &manager) {
                        record_apply(&mut o, &patch, m, Some("status"));
                    }
                    return (StatusCode::OK, shown(store.write(&base, o)));
                }
                let created = store.get(&base).is_none();
                let mut o = match store.get(&base) {
                    Some(o) => o.clone(),
                    None => {
                        json!({"metadata": {"uid": self.uid(), "creationTimestamp": "2026-11-28T00:00:00Z"}})
                    }
                };
                merge(&mut o, &patch);
                if let (true, Some(m)) = (apply, &manager) {
                    record_apply(&mut o, &patch, m, None);
                }
                let stored = shown(store.write(&base, o));
                (
                    if created {
                        StatusCode::CREATED
                    } else {
                        StatusCode::OK
                    },
                    stored,
                )
            }
            Method::POST => {
                let mut obj = body.unwrap_or(Value::Null);
                let name = obj["metadata"]["name"]
                    .as_str()
                    .unwrap_or("generated")
                    .to_string();
                let key = format!("{base}/{name}");
                if store.get(&key).is_some() {
                    return failure(
                        StatusCode::CONFLICT,
                        "AlreadyExists",
                        &format!("{key} exists"),
                    );
                }
                obj["metadata"]["uid"] = json!(self.uid());
                (StatusCode::CREATED, shown(store.write(&key, obj)))
            }
            Method::PUT => {
                let Some(old) = store.get(&base) else {
                    return not_found();
                };
                let mut obj = body.unwrap_or(Value::Null);
                obj["metadata"]["uid"] = old["metadata"]["uid"].clone();
                (StatusCode::OK, shown(store.write(&base, obj)))
            }
            Method::DELETE => match store.remove(&base) {
                Some(o) => (StatusCode::OK, shown(o)),
                None => not_found(),
            },
            _ => failure(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "unsupported",
            ),
        }
    }
}
