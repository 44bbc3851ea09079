//! TokenReview and SubjectAccessReview answers of the in-memory API server, as a real
//! one gives them: tokens are valid only for the audiences they were minted for, and a
//! user holds a permission only in the namespaces granted here.

use super::FakeApi;
use http::StatusCode;
use pitstop_operator::access::CADVISOR_PERMISSION;
use serde_json::{Value, json};

pub const TOKEN_REVIEWS: &str = "/apis/authentication.k8s.io/v1/tokenreviews";
pub const ACCESS_REVIEWS: &str = "/apis/authorization.k8s.io/v1/subjectaccessreviews";

/// A token the fake API server knows.
pub struct Token {
    pub token: &'static str,
    pub user: &'static str,
    /// Audiences the token was minted for.
    pub audiences: &'static [&'static str],
}

/// Serves the review APIs: `tokens` authenticate, and a user may `get pods/metrics` in a
/// namespace when `(user, namespace)` is in `grants`. A review asking anything else
/// (another verb, resource or subresource) is denied, so a wrong question fails tests.
pub fn serve_reviews(api: &FakeApi, tokens: Vec<Token>, grants: Vec<(&'static str, &'static str)>) {
    api.on_create(TOKEN_REVIEWS, move |body| {
        let token = body["spec"]["token"].as_str().unwrap_or("");
        // Without spec.audiences a real server checks for its own audience.
        let asked: Vec<&str> = body["spec"]["audiences"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_else(|| vec!["https://kubernetes.default.svc"]);
        let status = match tokens.iter().find(|t| t.token == token) {
            Some(t) if asked.iter().any(|a| t.audiences.contains(a)) => json!({
                "authenticated": true,
                "audiences": asked.iter().filter(|a| t.audiences.contains(a)).collect::<Vec<_>>(),
                "user": {
                    "username": t.user,
                    "uid": format!("uid-of-{}", t.user),
                    "groups": ["system:serviceaccounts", "system:authenticated"],
                },
            }),
            Some(_) => json!({"authenticated": false, "error": "token audiences is invalid for the target audiences"}),
            None => json!({"authenticated": false, "error": "invalid bearer token"}),
        };
        (
            StatusCode::CREATED,
            json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "metadata": {}, "spec": body["spec"], "status": status}),
        )
    });
    api.on_create(ACCESS_REVIEWS, move |body| {
        let spec = &body["spec"];
        let attrs = &spec["resourceAttributes"];
        let p = CADVISOR_PERMISSION;
        let asks_for_permission = attrs["verb"] == p.verb
            && attrs["group"].as_str().unwrap_or("") == p.group
            && attrs["resource"] == p.resource
            && attrs["subresource"] == p.subresource;
        let granted = grants.iter().any(|(user, ns)| {
            spec["user"] == *user && attrs["namespace"] == *ns
        });
        let allowed = asks_for_permission && granted;
        (
            StatusCode::CREATED,
            json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "metadata": {}, "spec": spec,
                "status": {"allowed": allowed, "reason": if allowed { "RBAC: allowed by RoleBinding" } else { "" }}}),
        )
    });
}

/// How many requests went to `path` so far.
pub fn calls(api: &FakeApi, path: &str) -> usize {
    api.log().iter().filter(|l| l.path == path).count()
}
