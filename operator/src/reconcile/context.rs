//! What every reconcile step shares: the [`Context`], the transient [`Error`], and the one
//! field manager of every write. A leaf: the steps import it, it imports none of them.

use crate::model::Defaults;
use kube::Client;
use kube::api::PatchParams;
use kube::runtime::events::Reporter;

/// The one field manager of every write this operator makes.
pub const FIELD_MANAGER: &str = "pitstop-operator";

/// Shared by every reconcile.
pub struct Context {
    pub client: Client,
    pub images: Defaults,
    pub reporter: Reporter,
    pub metrics: crate::metrics::OperatorMetrics,
    pub http: reqwest::Client,
    /// Base URL of processor APIs instead of the in-cluster Service address (for tests
    /// and for an operator running outside the cluster).
    pub processor_base: Option<String>,
    /// Base URL of F1-game gateways' `/status` instead of their in-cluster Service address
    /// (likewise).
    pub gateway_base: Option<String>,
}

/// A failed reconcile. Spec problems are not errors (they become a Stalled condition);
/// these are the transient kind, retried with backoff.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("object has no namespace")]
    NoNamespace,
}

impl Error {
    /// Static category for metric labels.
    pub fn category(&self) -> &'static str {
        match self {
            Error::Kube(kube::Error::Api(s)) if s.code == 409 => "conflict",
            Error::Kube(kube::Error::Api(s)) if s.code == 403 => "forbidden",
            Error::Kube(kube::Error::Api(_)) => "api",
            Error::Kube(_) => "transport",
            Error::NoNamespace => "invalid_object",
        }
    }
}

/// Server-side apply with the one field manager, taking over fields others set.
pub fn apply_params() -> PatchParams {
    PatchParams::apply(FIELD_MANAGER).force()
}
