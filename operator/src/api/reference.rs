//! The RaceSession reference in `docs/racesession.md`, generated from the CRD's field
//! descriptions (`make docs`; a test fails when the page's copy is stale), so that the documentation
//! is the schema the API server enforces.

use super::RaceSession;
use kube::CustomResourceExt;
use serde_json::Value;

/// Fields whose schema is a Kubernetes type: named, not expanded. A dotted key is one
/// field's path (`source.game.allowedClients` is a list of CIDRs, no NetworkPolicyPeer);
/// a plain one is a field name anywhere.
const KUBERNETES_TYPES: &[(&str, &str)] = &[
    (
        "resources",
        "[ResourceRequirements](https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#resources)",
    ),
    (
        "processor.allowedClients",
        "[NetworkPolicyPeer](https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1/#NetworkPolicySpec) list",
    ),
    (
        "monitoring.prometheusOperator.prometheusPeers",
        "[NetworkPolicyPeer](https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1/#NetworkPolicySpec) list",
    ),
];

/// The Kubernetes type of the field at `path` (named `name`), if it is one.
fn kubernetes_type(path: &str, name: &str) -> Option<&'static str> {
    KUBERNETES_TYPES
        .iter()
        .find(|(key, _)| *key == path || (!key.contains('.') && *key == name))
        .map(|(_, t)| *t)
}

pub const BEGIN: &str = "<!-- racesession-reference:begin (make docs) -->";
pub const END: &str = "<!-- racesession-reference:end -->";

fn cell(s: &str) -> String {
    s.split("\n\n")
        .next()
        .unwrap_or_default()
        .replace('\n', " ")
        .replace('|', "\\|")
}

fn type_of(schema: &Value) -> String {
    match schema["type"].as_str() {
        Some("array") => format!("[]{}", type_of(&schema["items"])),
        Some(t) => t.to_string(),
        None if schema["x-kubernetes-int-or-string"] == true => "integer or string".into(),
        None if schema["x-kubernetes-preserve-unknown-fields"] == true => "object".into(),
        None => "any".into(),
    }
}

fn constraints(schema: &Value) -> Vec<String> {
    let mut c = Vec::new();
    if let Some(values) = schema["enum"].as_array() {
        let v: Vec<String> = values
            .iter()
            .map(|v| format!("`{}`", v.as_str().unwrap_or_default()))
            .collect();
        c.push(format!("one of {}", v.join(", ")));
    }
    // schemars writes integer bounds as floats; 1.0 reads better as 1.
    let num = |v: &Value| match v.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        _ => v.to_string(),
    };
    match (schema.get("minimum"), schema.get("maximum")) {
        (Some(a), Some(b)) => c.push(format!("{}–{}", num(a), num(b))),
        (Some(a), None) => c.push(format!("≥ {}", num(a))),
        (None, Some(b)) => c.push(format!("≤ {}", num(b))),
        _ => {}
    }
    if let Some(n) = schema["maxItems"].as_u64() {
        c.push(format!("at most {n} items"));
    }
    if let Some(p) = schema["pattern"].as_str() {
        c.push(format!("pattern `{p}`"));
    }
    for rule in schema["x-kubernetes-validations"]
        .as_array()
        .into_iter()
        .flatten()
    {
        c.push(format!(
            "rule: {}",
            rule["message"].as_str().unwrap_or_default()
        ));
    }
    c
}

fn walk(path: &str, schema: &Value, rows: &mut Vec<String>) {
    let Some(props) = schema["properties"].as_object() else {
        return;
    };
    let required: Vec<&str> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str())
        .collect();
    for (name, field) in props {
        let p = if path.is_empty() {
            name.clone()
        } else {
            format!("{path}.{name}")
        };
        let k8s = kubernetes_type(&p, name);
        let ty = match k8s {
            Some(t) => t.to_string(),
            None => type_of(field),
        };
        let default = match &field["default"] {
            Value::Null if required.contains(&name.as_str()) => "required".to_string(),
            Value::Null => "–".to_string(),
            Value::Object(_) => "see fields".to_string(),
            v => format!("`{v}`"),
        };
        let mut text = cell(field["description"].as_str().unwrap_or_default());
        let c = constraints(field);
        if !c.is_empty() {
            let c = c.join("; ").replace('|', "\\|");
            text = format!("{text} ({c})").trim().to_string();
        }
        rows.push(format!("| `{p}` | {ty} | {default} | {text} |"));
        if k8s.is_none() {
            walk(&p, field, rows);
            if field["type"] == "array" {
                walk(&format!("{p}[]"), &field["items"], rows);
            }
        }
    }
}

/// The reference table of `spec`, one row per field.
pub fn markdown() -> String {
    let crd = serde_json::to_value(RaceSession::crd()).expect("CRD serializes");
    let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    let mut rows = vec![
        "| field (`spec.`) | type | default | meaning |".to_string(),
        "|---|---|---|---|".to_string(),
    ];
    walk("", spec, &mut rows);
    rows.join("\n") + "\n"
}

/// `page` with the text between the markers replaced by the current reference.
pub fn splice(page: &str) -> Option<String> {
    let start = page.find(BEGIN)? + BEGIN.len();
    let end = page.find(END)?;
    Some(format!(
        "{}\n{}{}",
        &page[..start],
        markdown(),
        &page[end..]
    ))
}

#[cfg(test)]
mod tests {
    /// Every field of the spec has a row, nested ones by their dotted path, with the
    /// CRD's constraints.
    #[test]
    fn rows_follow_the_schema() {
        let md = super::markdown();
        for row in [
            "| `circuit` | string | `\"monza\"` |",
            "| `processor.autoscaling.engine` | string | `\"hpa\"` |",
            "| `redis.external.urlSecretRef.name` | string | required |",
            "| `grid[].car` | integer | required |",
            "| `simulator.resources` | [ResourceRequirements]",
        ] {
            assert!(md.contains(row), "{row}\n{md}");
        }
        assert!(md.contains("rule: minReplicas must not exceed maxReplicas"));
        assert!(
            !md.contains("allowedClients[].ipBlock") && !md.contains("prometheusPeers[].ipBlock"),
            "Kubernetes types are not expanded"
        );
        assert!(md.contains("| `monitoring.mode` | string | – |"));
        assert!(md.contains("| `source.game.allowedClients` | []string | – |"));
        assert!(md.contains("| `source.openf1.speed` | integer or string | – |"));
        assert!(md.contains("| `source.game.resources` | [ResourceRequirements]"));
        assert!(md.contains("(one of `owned`, `prometheusOperator`, `none`)"));
    }
}
