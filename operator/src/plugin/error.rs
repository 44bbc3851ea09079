//! What can go wrong in `kubectl pitstop`: each error is one line that says what to do,
//! and maps to an exit code scripts can test (documented in docs/kubectl-plugin.md).

/// Exit codes besides 0 (done) and 2 (bad arguments, clap's).
pub mod exit {
    /// Anything else: kubeconfig, the API server unreachable, a file not written.
    pub const OTHER: i32 = 1;
    pub const NOT_FOUND: i32 = 3;
    pub const FORBIDDEN: i32 = 4;
    /// The race has no processor to ask (not ready, no session yet).
    pub const NOT_RUNNING: i32 = 5;
    /// The operator refused a run or retry request.
    pub const REFUSED: i32 = 6;
    /// The operator did not act on a request within `--wait`.
    pub const NO_ANSWER: i32 = 7;
}

/// A request the RBAC of the user must allow: verb, resource (`racesessions.pitstop.io`,
/// `services/proxy`, `pods/log`) and namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access<'a> {
    pub verb: &'a str,
    pub resource: &'a str,
    pub namespace: &'a str,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PluginError {
    /// The kubeconfig cannot be read or names no usable context.
    #[error("kubeconfig: {0}")]
    Kubeconfig(String),
    #[error("cannot reach the API server at {server}: {cause}")]
    Unreachable { server: String, cause: String },
    #[error(
        "the API server at {server} did not accept your credentials (401): log in again or check the kubeconfig's user"
    )]
    Unauthorized { server: String },
    #[error(
        "you cannot {verb} {resource} in namespace {namespace:?} (RBAC): ask for a Role granting {verb} on {resource} there (docs/kubectl-plugin.md#rbac)"
    )]
    Forbidden {
        verb: String,
        resource: String,
        namespace: String,
    },
    #[error("racesession {name:?} not found in namespace {namespace:?}")]
    RaceNotFound { name: String, namespace: String },
    /// Something else that does not exist (a task, a Job's pod, a report).
    #[error("{0}")]
    NotFound(String),
    /// The race has no processor to ask, and why.
    #[error("race {name:?} is not running: {why}")]
    NotRunning { name: String, why: String },
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    NoAnswer(String),
    /// The API server or the processor answered something the plugin cannot use.
    #[error("{0}")]
    Other(String),
    /// The reader of the output went away (`| head`): the command ends there, quietly
    /// and successfully, as other command-line tools do.
    #[error("the output was closed")]
    OutputClosed,
}

impl PluginError {
    pub fn exit_code(&self) -> i32 {
        match self {
            PluginError::RaceNotFound { .. } | PluginError::NotFound(_) => exit::NOT_FOUND,
            PluginError::Forbidden { .. } => exit::FORBIDDEN,
            PluginError::NotRunning { .. } => exit::NOT_RUNNING,
            PluginError::Refused(_) => exit::REFUSED,
            PluginError::NoAnswer(_) => exit::NO_ANSWER,
            PluginError::OutputClosed => 0,
            PluginError::Kubeconfig(_)
            | PluginError::Unreachable { .. }
            | PluginError::Unauthorized { .. }
            | PluginError::Other(_) => exit::OTHER,
        }
    }

    /// The output could not be written (a full disk), or its reader has gone (`| head`).
    pub fn write(e: std::io::Error) -> PluginError {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return PluginError::OutputClosed;
        }
        PluginError::Other(format!("cannot write the output: {e}"))
    }

    /// The API server refused `access` (403).
    pub fn forbidden(access: Access<'_>) -> PluginError {
        PluginError::Forbidden {
            verb: access.verb.into(),
            resource: access.resource.into(),
            namespace: access.namespace.into(),
        }
    }

    /// A kube error of a request for `access`, in words: 403 names the verb and
    /// resource, 401 the credentials, a transport failure the server; `None` for a 404,
    /// which only the caller can name.
    pub fn from_kube(e: &kube::Error, access: Access<'_>, server: &str) -> Option<PluginError> {
        match e {
            kube::Error::Api(s) if s.code == 404 => None,
            kube::Error::Api(s) if s.code == 403 => Some(PluginError::forbidden(access)),
            kube::Error::Api(s) if s.code == 401 => Some(PluginError::Unauthorized {
                server: server.into(),
            }),
            kube::Error::Api(s) => Some(PluginError::Other(format!(
                "{} {} in namespace {:?}: the API server answered {} {}: {}",
                access.verb,
                access.resource,
                access.namespace,
                s.code,
                s.reason,
                one_line(&s.message)
            ))),
            other => Some(PluginError::Unreachable {
                server: server.into(),
                cause: root_cause(other),
            }),
        }
    }
}

/// The innermost cause of an error chain ("Connection refused (os error 111)"), which is
/// what a user can act on; the outer layers only say "client error (Connect)".
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    one_line(&cur.to_string())
}

/// `s` on one line (messages of the API server may hold newlines).
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Error, ErrorKind};

    /// A reader gone (`| head`) ends the command quietly with 0; a file that cannot be
    /// written is an error.
    #[test]
    fn a_closed_output_is_no_error_a_full_disk_is() {
        let closed = PluginError::write(Error::from(ErrorKind::BrokenPipe));
        assert_eq!(closed.exit_code(), 0);
        assert_eq!(closed, PluginError::OutputClosed);
        let full = PluginError::write(Error::from(ErrorKind::StorageFull));
        assert_eq!(full.exit_code(), exit::OTHER);
        assert!(full.to_string().starts_with("cannot write the output: "));
    }
}
