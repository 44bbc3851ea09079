//! OpenAPI `format`s a Kubernetes API server recognizes. schemars names Rust's integer
//! widths (`uint8`, `uint16`, `uint32`, `uint64`, `int8`, …), which kube-apiserver does not
//! know: it answers every apply of the CRD with one `unrecognized format` warning per
//! name. [`kubernetes_formats`] rewrites them to the nearest format it knows; the
//! `minimum: 0` schemars gives unsigned types stays, so the range is still enforced.

use schemars::Schema;

/// Integer formats kube-apiserver recognizes (apiextensions-apiserver's formats.go).
const INTEGER: [&str; 2] = ["int32", "int64"];
/// Number formats kube-apiserver recognizes.
const NUMBER: [&str; 2] = ["float", "double"];

/// Rewrites one schema's `format` (not its subschemas: apply it with
/// `schemars::transform::RecursiveTransform`): Rust integer widths that fit in 32 signed
/// bits become `int32`, wider ones `int64` (what the API server stores every integer as);
/// unknown number formats are dropped. An unsigned type without a lower bound gets
/// `minimum: 0`.
pub fn kubernetes_formats(schema: &mut Schema) {
    let Some(format) = schema
        .get("format")
        .and_then(|f| f.as_str())
        .map(String::from)
    else {
        return;
    };
    // `type` is a string in the OpenAPI 3 dialect CRDs use; a JSON Schema type list
    // (`["integer", "null"]`) counts by its non-null member.
    let type_ = match schema.get("type") {
        Some(serde_json::Value::String(t)) => t.clone(),
        Some(serde_json::Value::Array(ts)) => ts
            .iter()
            .filter_map(|t| t.as_str())
            .find(|t| *t != "null")
            .unwrap_or_default()
            .to_string(),
        _ => String::new(),
    };
    match type_.as_str() {
        "integer" if !INTEGER.contains(&format.as_str()) => {
            let fits_int32 = matches!(format.as_str(), "int8" | "int16" | "uint8" | "uint16");
            let known = if fits_int32 { "int32" } else { "int64" };
            schema.insert("format".into(), known.into());
            if format.starts_with("uint") && schema.get("minimum").is_none() {
                schema.insert("minimum".into(), 0.into());
            }
        }
        "number" if !NUMBER.contains(&format.as_str()) => {
            schema.remove("format");
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemars::json_schema;

    /// Every Rust integer width maps to a format the API server knows; ranges survive.
    #[test]
    fn integer_widths_become_int32_or_int64() {
        for (rust, expected) in [
            ("uint8", "int32"),
            ("uint16", "int32"),
            ("int8", "int32"),
            ("int16", "int32"),
            ("uint32", "int64"),
            ("uint64", "int64"),
            ("uint", "int64"),
            ("int32", "int32"),
            ("int64", "int64"),
        ] {
            let mut s =
                json_schema!({"type": "integer", "format": rust, "minimum": 1, "maximum": 9});
            kubernetes_formats(&mut s);
            assert_eq!(s.get("format").unwrap(), expected, "{rust}");
            assert_eq!(s.get("minimum").unwrap(), 1, "{rust}");
            assert_eq!(s.get("maximum").unwrap(), 9, "{rust}");
        }
    }

    /// An unsigned type keeps (or gains) its lower bound of zero.
    #[test]
    fn unsigned_keeps_minimum_zero() {
        let mut s = json_schema!({"type": "integer", "format": "uint32"});
        kubernetes_formats(&mut s);
        assert_eq!(s.get("minimum").unwrap(), 0);
        let mut signed = json_schema!({"type": "integer", "format": "int8"});
        kubernetes_formats(&mut signed);
        assert!(signed.get("minimum").is_none());
    }

    /// Known formats and string formats are left alone; unknown number formats go.
    #[test]
    fn other_formats() {
        let mut s = json_schema!({"type": "string", "format": "date-time"});
        kubernetes_formats(&mut s);
        assert_eq!(s.get("format").unwrap(), "date-time");
        let mut n = json_schema!({"type": "number", "format": "decimal"});
        kubernetes_formats(&mut n);
        assert!(n.get("format").is_none());
        let mut d = json_schema!({"type": "number", "format": "double"});
        kubernetes_formats(&mut d);
        assert_eq!(d.get("format").unwrap(), "double");
    }
}
