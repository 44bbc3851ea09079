//! The processor API's OpenAPI document: the checked-in copy is current, and the check
//! every API test applies to its answers (`common::contract`) refuses what the document
//! does not allow. No servers needed.

mod common;

use common::contract::{Contract, Got};
use pitstop_workloads::processor::api::{OPENAPI_PATH, document, document_json};
use serde_json::{Value, json};

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn contract() -> Contract {
    Contract::new(serde_json::to_value(document()).unwrap())
}

fn json_answer(status: u16, body: &Value) -> (u16, Vec<u8>) {
    (status, serde_json::to_vec(body).unwrap())
}

/// Checks a JSON answer of `method` on `path`.
fn check(c: &Contract, method: &str, path: &str, status: u16, body: &Value) -> Result<(), String> {
    let (status, bytes) = json_answer(status, body);
    c.check(
        method,
        path,
        Got {
            status,
            content_type: Some("application/json"),
            body: &bytes,
        },
    )
}

/// `docs/openapi.json` is generated from the handlers' types: a stale copy fails here.
#[test]
fn checked_in_document_is_current() {
    let on_disk = std::fs::read_to_string(root().join("docs/openapi.json")).unwrap_or_default();
    assert!(
        on_disk == document_json(),
        "docs/openapi.json is stale: run `make docs`"
    );
}

/// OpenAPI 3.1, with the routes the router serves (the document itself included) and
/// the key schemes the writes name.
#[test]
fn document_is_openapi_3_1_with_every_route() {
    let doc = serde_json::to_value(document()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for want in [
        "/telemetry",
        "/api/v1/sessions",
        "/api/v1/sessions/{id}",
        "/api/v1/sessions/{id}/strategy",
        "/api/v1/sessions/{id}/events",
        OPENAPI_PATH,
        "/health",
        "/ready",
        "/metrics",
    ] {
        assert!(paths.contains(&want), "{want} missing from {paths:?}");
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["api_key"]["name"], "X-API-Key");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
}

/// A body that matches its response's schema passes; a wrong field type, a missing
/// field or an extra field in an error body is refused.
#[test]
fn bodies_are_checked_against_the_schema() {
    let c = contract();
    let session = json!({"session_id": "a", "circuit": null, "total_laps": null, "lap": 3,
        "finished": false, "samples_processed": 10, "started_at_ms": null});
    check(&c, "GET", "/api/v1/sessions", 200, &json!([session])).unwrap();
    let mut wrong = session.clone();
    wrong["lap"] = json!("3");
    let e = check(&c, "GET", "/api/v1/sessions", 200, &json!([wrong])).unwrap_err();
    assert!(e.contains("/0/lap"), "{e}");
    let mut missing = session.clone();
    missing.as_object_mut().unwrap().remove("finished");
    assert!(check(&c, "GET", "/api/v1/sessions", 200, &json!([missing])).is_err());
    // A field that may be null is still always there: a client can rely on the key.
    let mut no_circuit = session.clone();
    no_circuit.as_object_mut().unwrap().remove("circuit");
    let e = check(&c, "GET", "/api/v1/sessions", 200, &json!([no_circuit])).unwrap_err();
    assert!(e.contains("circuit"), "{e}");
    // An error body is `{"error": ...}` and nothing else.
    let path = "/api/v1/sessions/zandvoort-2025";
    check(&c, "GET", path, 404, &json!({"error": "no session"})).unwrap();
    assert!(check(&c, "GET", path, 404, &json!({"error": "x", "hint": 1})).is_err());
    assert!(check(&c, "GET", path, 404, &json!({"message": "x"})).is_err());
    // Ingest's 400: the plain error, or the whole answer when every sample was refused.
    check(
        &c,
        "POST",
        "/telemetry",
        400,
        &json!({"error": "invalid JSON"}),
    )
    .unwrap();
    let refused = json!({"accepted": 0, "duplicates": 0, "format": "native", "unknown": {},
        "rejected": [{"sample": 0, "reason": "future", "error": "ahead"}], "error": "no sample was taken"});
    check(&c, "POST", "/telemetry", 400, &refused).unwrap();
    let mut bad_format = refused.clone();
    bad_format["format"] = json!("xml");
    assert!(check(&c, "POST", "/telemetry", 400, &bad_format).is_err());
    // A 409 of a start: the stored start travels with the error.
    let path = "/api/v1/sessions/s/start";
    check(
        &c,
        "POST",
        path,
        409,
        &json!({"error": "differs", "started": null}),
    )
    .unwrap();
    check(&c, "POST", path, 409, &json!({"error": "finished"})).unwrap();
    assert!(check(&c, "POST", path, 409, &json!({"error": "x", "started": 3})).is_err());
}

/// Statuses, paths, methods and content types the document does not have are refused.
#[test]
fn undocumented_answers_are_refused() {
    let c = contract();
    let e = check(&c, "GET", "/health", 418, &json!({"status": "ok"})).unwrap_err();
    assert!(e.contains("status 418 is not documented"), "{e}");
    let accepted =
        json!({"accepted": 1, "duplicates": 0, "rejected": [], "unknown": {}, "format": "native"});
    check(&c, "POST", "/telemetry", 202, &accepted).unwrap();
    assert!(check(&c, "POST", "/telemetry", 201, &accepted).is_err());
    let e = check(&c, "GET", "/api/v1/nothing", 404, &json!({"error": "x"})).unwrap_err();
    assert!(e.contains("no documented path"), "{e}");
    let e = check(&c, "DELETE", "/telemetry", 405, &json!({"error": "x"})).unwrap_err();
    assert!(e.contains("not documented"), "{e}");
    // An empty path segment is no session id.
    assert!(check(&c, "GET", "/api/v1/sessions//laps", 200, &json!([])).is_err());
    // JSON where the document says HTML.
    assert!(
        check(
            &c,
            "GET",
            "/api/v1/sessions/s/report",
            200,
            &json!("<html>")
        )
        .is_err()
    );
    let html = Got {
        status: 200,
        content_type: Some("text/html; charset=utf-8"),
        body: b"<html></html>",
    };
    c.check("GET", "/api/v1/sessions/s/report", html).unwrap();
    // The fallback: only for routes the document lacks, with the error body.
    let (status, body) = json_answer(404, &json!({"error": "no such endpoint"}));
    let got = Got {
        status,
        content_type: Some("application/json"),
        body: &body,
    };
    c.check_unrouted("GET", "/api/v1/nothing", got).unwrap();
    assert!(c.check_unrouted("GET", "/health", got).is_err());
    assert!(
        c.check_unrouted("DELETE", "/telemetry", got).is_err(),
        "a 405, not a 404"
    );
}
