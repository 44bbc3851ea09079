//! Who may read `/cadvisor/{namespace}`. The operator reads container metrics of every
//! node through its `nodes/proxy` rights, so it hands a namespace's share only to a caller
//! the API server vouches for, as kube-rbac-proxy does: the bearer token must pass a
//! TokenReview for [`AUDIENCE`], and its user must pass a SubjectAccessReview for
//! [`CADVISOR_PERMISSION`] in that namespace. Decisions are cached briefly
//! ([`cache::CachePolicy`]).
//!
//! The permission is `get` on the `pods/metrics` subresource of the namespace: the
//! namespaced counterpart of the kubelet's own check for its cAdvisor page
//! (`get nodes/metrics`). No such endpoint exists on the API server and no built-in role
//! (view, edit, admin) grants it, so only an explicit grant — the Role the operator
//! builds for a race's Prometheus — or a cluster admin's wildcard passes.

pub mod cache;
mod decision;
mod review;

pub use decision::{CADVISOR_PERMISSION, Decision, Permission};

use cache::{CachePolicy, DecisionCache, Key};
use http::HeaderValue;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The audience of the tokens races' Prometheus present. A token minted for it is useless
/// against the API server itself, so a token seen on the (plain HTTP) wire to :8002 cannot
/// be replayed there; and the default service-account token is never sent to the operator.
pub const AUDIENCE: &str = "pitstop-operator";

/// Longest bearer token accepted; longer ones are refused without asking the API server
/// (service-account tokens are about 1 KiB).
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The API server could not be asked; nothing is cached, the caller is told to retry.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("TokenReview: {0}")]
    TokenReview(kube::Error),
    #[error("SubjectAccessReview: {0}")]
    SubjectAccessReview(kube::Error),
}

/// Checks callers against the API server, with a cache shared by all requests.
#[derive(Clone)]
pub struct Access {
    client: kube::Client,
    cache: Arc<Mutex<DecisionCache>>,
}

impl Access {
    pub fn new(client: kube::Client) -> Access {
        Access::with_policy(client, CachePolicy::default())
    }

    pub fn with_policy(client: kube::Client, policy: CachePolicy) -> Access {
        Access {
            client,
            cache: Arc::new(Mutex::new(DecisionCache::new(policy))),
        }
    }

    /// Whether the holder of `token` may read `namespace`'s container metrics.
    pub async fn decide(&self, token: &str, namespace: &str) -> Result<Decision, Error> {
        let key = Key::new(token, namespace);
        if let Some(d) = self.cache().get(&key, Instant::now()) {
            return Ok(d);
        }
        let user = review::authenticate(&self.client, token, AUDIENCE)
            .await
            .map_err(Error::TokenReview)?;
        let decision = match user {
            None => Decision::Unauthenticated,
            Some(user) => {
                let allowed =
                    review::authorize(&self.client, &user, &CADVISOR_PERMISSION, namespace)
                        .await
                        .map_err(Error::SubjectAccessReview)?;
                let user = user.username.unwrap_or_default();
                if allowed {
                    Decision::Allowed { user }
                } else {
                    Decision::Forbidden { user }
                }
            }
        };
        self.cache().insert(key, decision.clone(), Instant::now());
        Ok(decision)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, DecisionCache> {
        // A panic while holding the lock leaves a consistent map (every operation is a
        // single insert or remove), so a poisoned lock is still usable.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive, as
/// RFC 9110 says), or `None` when there is none, it is malformed or it is too long.
pub fn bearer_token(header: Option<&HeaderValue>) -> Option<&str> {
    let value = header?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim_start_matches(' ');
    let well_formed = scheme.eq_ignore_ascii_case("bearer")
        && !token.is_empty()
        && token.len() <= MAX_TOKEN_BYTES
        && !token.contains(' ');
    well_formed.then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(v: &str) -> Option<String> {
        bearer_token(Some(&HeaderValue::from_str(v).unwrap())).map(String::from)
    }

    /// Only a well-formed bearer header yields a token.
    #[test]
    fn bearer_header_parsing() {
        assert_eq!(token("Bearer abc.def"), Some("abc.def".into()));
        assert_eq!(token("bearer abc"), Some("abc".into()));
        assert_eq!(token("Bearer   abc"), Some("abc".into()));
        assert_eq!(token("Basic dXNlcjpwYXNz"), None);
        assert_eq!(token("Bearer "), None);
        assert_eq!(token("Bearer"), None);
        assert_eq!(token("Bearer a b"), None);
        assert_eq!(
            token(&format!("Bearer {}", "x".repeat(MAX_TOKEN_BYTES + 1))),
            None
        );
        assert_eq!(bearer_token(None), None);
    }

    /// The RBAC spelling of the permission is what the Prometheus Role grants.
    #[test]
    fn permission_in_rbac_terms() {
        assert_eq!(CADVISOR_PERMISSION.rbac_resource(), "pods/metrics");
    }
}
