//! What the in-memory API server holds, kept the way a real one keeps it: objects by
//! path, a resourceVersion clock that moves on every write (a write that changes nothing
//! is not a write), `metadata.managedFields` for server-side apply, and the recent
//! changes that watches replay. Like etcd's compacted history, only the last [`HISTORY`]
//! changes are kept: a watch from before them is answered 410 Gone and must list again.

use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// Changes kept for watches to replay.
pub const HISTORY: usize = 10_000;

/// The `time` of every managedFields entry: fixed, so an apply that changes nothing
/// leaves the object equal and is not a write.
const APPLY_TIME: &str = "2026-11-28T00:00:00Z";

/// One write, as a watch reports it.
#[derive(Clone, Debug)]
pub struct Change {
    pub rv: u64,
    /// `ADDED`, `MODIFIED` or `DELETED`.
    pub type_: &'static str,
    pub path: String,
    /// The object after the write (before it, for a deletion), with the new version.
    pub object: Arc<Value>,
}

/// The watch asked to start before the oldest kept change.
#[derive(Debug)]
pub struct Expired;

pub struct Store {
    objects: BTreeMap<String, Value>,
    rv: u64,
    history: VecDeque<Change>,
    /// The latest resourceVersion, for watches waiting on the next change.
    notify: tokio::sync::watch::Sender<u64>,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            objects: BTreeMap::new(),
            rv: 0,
            history: VecDeque::new(),
            notify: tokio::sync::watch::Sender::new(0),
        }
    }
}

fn set_rv(obj: &mut Value, rv: &Value) {
    if !obj["metadata"].is_object() {
        obj["metadata"] = json!({});
    }
    obj["metadata"]["resourceVersion"] = rv.clone();
}

impl Store {
    /// The resourceVersion of the last write (what a list reports).
    pub fn rv(&self) -> u64 {
        self.rv
    }

    pub fn get(&self, path: &str) -> Option<&Value> {
        self.objects.get(path)
    }

    pub fn objects(&self) -> &BTreeMap<String, Value> {
        &self.objects
    }

    /// Woken on every write.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.notify.subscribe()
    }

    /// Stores `obj` at `path` as a new version and returns what is stored; an object
    /// equal to the stored one (apart from its version) changes nothing.
    pub fn write(&mut self, path: &str, mut obj: Value) -> Value {
        let type_ = match self.objects.get(path) {
            Some(old) => {
                set_rv(&mut obj, &old["metadata"]["resourceVersion"]);
                if *old == obj {
                    return obj;
                }
                "MODIFIED"
            }
            None => "ADDED",
        };
        self.rv += 1;
        set_rv(&mut obj, &json!(self.rv.to_string()));
        self.objects.insert(path.to_string(), obj.clone());
        self.record(type_, path, obj.clone());
        obj
    }

    /// Changes the object at `path` in place (a no-op if `f` changes nothing).
    pub fn update(&mut self, path: &str, f: impl FnOnce(&mut Value)) -> Option<Value> {
        let mut obj = self.objects.get(path)?.clone();
        f(&mut obj);
        Some(self.write(path, obj))
    }

    pub fn remove(&mut self, path: &str) -> Option<Value> {
        let mut obj = self.objects.remove(path)?;
        self.rv += 1;
        set_rv(&mut obj, &json!(self.rv.to_string()));
        self.record("DELETED", path, obj.clone());
        Some(obj)
    }

    fn record(&mut self, type_: &'static str, path: &str, object: Value) {
        self.history.push_back(Change {
            rv: self.rv,
            type_,
            path: path.to_string(),
            object: Arc::new(object),
        });
        while self.history.len() > HISTORY {
            self.history.pop_front();
        }
        self.notify.send_replace(self.rv);
    }

    /// The changes after `rv`, oldest first; [`Expired`] when some of them are no
    /// longer kept.
    pub fn since(&self, rv: u64) -> Result<Vec<Change>, Expired> {
        if rv >= self.rv {
            return Ok(Vec::new());
        }
        match self.history.front() {
            Some(first) if first.rv <= rv + 1 => {
                let skip = (rv + 1 - first.rv) as usize;
                Ok(self.history.iter().skip(skip).cloned().collect())
            }
            _ => Err(Expired),
        }
    }
}

/// What server-side apply records of a patch: the fields it sets (`f:<name>`; list items
/// by name, `k:{"name":…}`, or by position, `i:<n>`), as `fieldsV1`. The identity fields a
/// real server leaves out (`apiVersion`, `kind`, name, namespace) are left out here too.
fn fields_of(v: &Value, top: bool) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !(top && (*k == "apiVersion" || *k == "kind")))
                .map(|(k, v)| {
                    let inner = if top && k == "metadata" {
                        let mut meta = v.clone();
                        if let Some(m) = meta.as_object_mut() {
                            m.remove("name");
                            m.remove("namespace");
                        }
                        fields_of(&meta, false)
                    } else {
                        fields_of(v, false)
                    };
                    (format!("f:{k}"), inner)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Object(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let key = match item.get("name") {
                        Some(n) => format!("k:{}", json!({ "name": n })),
                        None => format!("i:{i}"),
                    };
                    (key, fields_of(item, false))
                })
                .collect(),
        ),
        _ => Value::Object(Map::new()),
    }
}

/// Records `manager`'s apply of `patch` in `obj`'s managedFields, replacing that
/// manager's earlier entry for the same subresource.
pub fn record_apply(obj: &mut Value, patch: &Value, manager: &str, subresource: Option<&str>) {
    let mut entry = json!({
        "manager": manager,
        "operation": "Apply",
        "apiVersion": patch["apiVersion"],
        "time": APPLY_TIME,
        "fieldsType": "FieldsV1",
        "fieldsV1": fields_of(patch, true),
    });
    if let Some(s) = subresource {
        entry["subresource"] = json!(s);
    }
    let mut entries: Vec<Value> = obj["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    entries.retain(|e| {
        e["manager"] != manager
            || e["subresource"].as_str() != subresource
            || e["operation"] != "Apply"
    });
    entries.push(entry);
    obj["metadata"]["managedFields"] = Value::Array(entries);
}
