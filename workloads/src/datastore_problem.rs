//! Why a datastore connection failed, in words an operator can act on: [`classify`]
//! reads a PostgreSQL or Redis error (and every cause under it) and names the problem
//! ([`Problem`]), with a stable reason for a condition and a message that says the fix.
//!
//! The errors come from several crates that wrap each other: tokio-postgres keeps the
//! rustls error inside an `io::Error` (whose `source()` skips it), the redis crate keeps
//! it behind an `Arc` (where it cannot be downcast). So each cause is looked at both by
//! type and, as a fallback, by the text rustls gives it.

use std::error::Error;
use std::io;

/// What went wrong, most specific first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The server's certificate does not chain to the configured CA.
    TlsUntrustedCertificate,
    /// The certificate chains to the CA but does not name the host connected to.
    TlsHostnameMismatch,
    /// The certificate (or one in its chain) is expired or not yet valid.
    TlsCertificateExpired,
    /// TLS was required and the server does not offer it.
    TlsNotOffered,
    /// The server refuses a connection without TLS.
    TlsRequired,
    /// The TLS settings cannot be used (unknown mode, no CA file, unreadable CA file).
    TlsSettingsInvalid,
    /// Wrong user or password, or no access rule for this client.
    AuthenticationFailed,
    /// The connection was closed during setup with no reason given.
    ConnectionClosed,
    /// Nothing answers (refused, timed out, no such host).
    Unreachable,
    /// The database answers but the schema is not migrated yet.
    SchemaNotMigrated,
    Other,
}

impl Problem {
    pub const ALL: [Problem; 11] = [
        Problem::TlsUntrustedCertificate,
        Problem::TlsHostnameMismatch,
        Problem::TlsCertificateExpired,
        Problem::TlsNotOffered,
        Problem::TlsRequired,
        Problem::TlsSettingsInvalid,
        Problem::AuthenticationFailed,
        Problem::ConnectionClosed,
        Problem::Unreachable,
        Problem::SchemaNotMigrated,
        Problem::Other,
    ];

    /// The stable CamelCase reason (a condition's `reason`; never changes meaning).
    pub fn reason(self) -> &'static str {
        match self {
            Problem::TlsUntrustedCertificate => "TlsUntrustedCertificate",
            Problem::TlsHostnameMismatch => "TlsHostnameMismatch",
            Problem::TlsCertificateExpired => "TlsCertificateExpired",
            Problem::TlsNotOffered => "TlsNotOffered",
            Problem::TlsRequired => "TlsRequired",
            Problem::TlsSettingsInvalid => "TlsSettingsInvalid",
            Problem::AuthenticationFailed => "AuthenticationFailed",
            Problem::ConnectionClosed => "ConnectionClosed",
            Problem::Unreachable => "Unreachable",
            Problem::SchemaNotMigrated => "SchemaNotMigrated",
            Problem::Other => "Other",
        }
    }

    /// One sentence naming the fix. Carries nothing from the error, so no secret.
    pub fn message(self) -> &'static str {
        match self {
            Problem::TlsUntrustedCertificate => {
                "the server's certificate is not signed by the configured CA: give the CA that issued it (sslrootcert / PGSSLROOTCERT for PostgreSQL, the Redis CA file for Redis)"
            }
            Problem::TlsHostnameMismatch => {
                "the server's certificate does not name the host connected to: connect by a name the certificate lists, or use sslmode=verify-ca to check the CA only"
            }
            Problem::TlsCertificateExpired => {
                "the server's certificate has expired or is not valid yet: renew it on the server (or check the clocks)"
            }
            Problem::TlsNotOffered => {
                "TLS is required but the server does not offer it: enable TLS on the server, or lower sslmode to prefer or disable"
            }
            Problem::TlsRequired => {
                "the server accepts only TLS connections: use sslmode=prefer or stronger for PostgreSQL, a rediss:// URL for Redis"
            }
            Problem::TlsSettingsInvalid => {
                "the TLS settings cannot be used: check sslmode and that the CA file is mounted, readable and holds a PEM certificate"
            }
            Problem::AuthenticationFailed => {
                "the server rejected the credentials: check the user and password in the connection Secret and the server's access rules"
            }
            Problem::ConnectionClosed => {
                "the server closed the connection during setup: if it accepts only TLS, use a rediss:// URL or sslmode=require; otherwise it may be restarting"
            }
            Problem::Unreachable => {
                "the server cannot be reached: check the host and port in the URL, that the server runs, and network policies"
            }
            Problem::SchemaNotMigrated => {
                "the database answers but the schema is not migrated yet: the processor migrates on its next attempt, see its log if this persists"
            }
            Problem::Other => "the connection failed: see the process log for the error",
        }
    }

    /// How sure a finding is: a TLS or authentication cause beats a generic io one met
    /// on the way (a rustls error is also an `InvalidData` io error).
    fn rank(self) -> u8 {
        match self {
            Problem::Other => 0,
            Problem::ConnectionClosed => 1,
            Problem::Unreachable => 2,
            _ => 3,
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.reason())
    }
}

/// Which datastore a problem is about, as the readiness JSON names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Datastore {
    Postgres,
    Redis,
}

/// One entry of `/ready`'s `problems`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Finding {
    pub datastore: Datastore,
    /// The stable CamelCase reason (`TlsUntrustedCertificate`, `Unreachable`, ...).
    pub reason: &'static str,
    /// What the operator can do about it.
    pub message: &'static str,
}

/// One entry of `/ready`'s `problems`: `{"datastore", "reason", "message"}`.
pub fn finding(datastore: Datastore, problem: Problem) -> Finding {
    Finding {
        datastore,
        reason: problem.reason(),
        message: problem.message(),
    }
}

/// The problem behind a connection or query error: walks `err` and its causes (looking
/// inside `io::Error`s, whose `source()` skips their payload) and keeps the most
/// specific finding.
pub fn classify(err: &(dyn Error + 'static)) -> Problem {
    let mut best = Problem::Other;
    let mut pending: Vec<&(dyn Error + 'static)> = vec![err];
    while let Some(e) = pending.pop() {
        let found = one(e);
        if found.rank() > best.rank() {
            best = found;
        }
        if best.rank() == 3 {
            break;
        }
        if let Some(inner) = e.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
            pending.push(inner);
        }
        if let Some(source) = e.source() {
            pending.push(source);
        }
    }
    best
}

/// What one error in the chain says by itself.
fn one(e: &(dyn Error + 'static)) -> Problem {
    if let Some(r) = e.downcast_ref::<rustls::Error>() {
        return rustls_problem(r);
    }
    if let Some(c) = e.downcast_ref::<crate::db::ConnectError>() {
        match c {
            crate::db::ConnectError::Tls(_) => return Problem::TlsSettingsInvalid,
            crate::db::ConnectError::Timeout { .. } => return Problem::Unreachable,
            _ => {}
        }
    }
    if let Some(pg) = e.downcast_ref::<tokio_postgres::Error>() {
        if let Some(db) = pg.as_db_error() {
            let code = db.code().code();
            // PostgreSQL's hba refusal names the missing encryption (`..., no encryption`).
            if code == "28000" && db.message().ends_with("no encryption") {
                return Problem::TlsRequired;
            }
            if code == "28P01" || code == "28000" {
                return Problem::AuthenticationFailed;
            }
        }
        if pg.to_string() == "timeout waiting for server" {
            return Problem::Unreachable;
        }
    }
    if let Some(r) = e.downcast_ref::<redis::RedisError>() {
        if r.kind() == redis::ErrorKind::AuthenticationFailed
            || matches!(r.code(), Some("WRONGPASS" | "NOAUTH"))
        {
            return Problem::AuthenticationFailed;
        }
        if r.is_connection_refusal() || r.is_timeout() {
            return Problem::Unreachable;
        }
        // Checked after the TLS texts: a failed handshake is an io error too.
        let by_text = by_text(&r.to_string());
        if by_text != Problem::Other {
            return by_text;
        }
        if r.is_connection_dropped() {
            return Problem::ConnectionClosed;
        }
    }
    if let Some(io) = e.downcast_ref::<io::Error>() {
        use io::ErrorKind::*;
        match io.kind() {
            ConnectionRefused | TimedOut | HostUnreachable | NetworkUnreachable
            | AddrNotAvailable => return Problem::Unreachable,
            ConnectionReset | ConnectionAborted | UnexpectedEof | BrokenPipe => {
                return Problem::ConnectionClosed;
            }
            _ => {}
        }
    }
    by_text(&e.to_string())
}

fn rustls_problem(e: &rustls::Error) -> Problem {
    use rustls::CertificateError::*;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            UnknownIssuer | BadSignature | BadEncoding | UnhandledCriticalExtension => {
                Problem::TlsUntrustedCertificate
            }
            NotValidForName | NotValidForNameContext { .. } => Problem::TlsHostnameMismatch,
            Expired | ExpiredContext { .. } | NotValidYet | NotValidYetContext { .. } => {
                Problem::TlsCertificateExpired
            }
            _ => by_text(&e.to_string()),
        },
        _ => by_text(&e.to_string()),
    }
}

/// The fallback for a cause that cannot be downcast: rustls' and tokio-postgres' texts.
fn by_text(text: &str) -> Problem {
    const CERT: &str = "invalid peer certificate: ";
    if let Some(at) = text.find(CERT) {
        let what = &text[at + CERT.len()..];
        for (prefix, problem) in [
            ("UnknownIssuer", Problem::TlsUntrustedCertificate),
            ("BadSignature", Problem::TlsUntrustedCertificate),
            ("NotValidForName", Problem::TlsHostnameMismatch),
            (
                "certificate not valid for name",
                Problem::TlsHostnameMismatch,
            ),
            ("Expired", Problem::TlsCertificateExpired),
            ("certificate expired", Problem::TlsCertificateExpired),
            ("NotValidYet", Problem::TlsCertificateExpired),
            ("certificate not valid yet", Problem::TlsCertificateExpired),
        ] {
            if what.starts_with(prefix) {
                return problem;
            }
        }
    }
    if text.contains("server does not support TLS") {
        return Problem::TlsNotOffered;
    }
    // A host name that does not resolve (getaddrinfo's text, which io kinds leave vague).
    if text.contains("failed to lookup address information") {
        return Problem::Unreachable;
    }
    Problem::Other
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::CertificateError;

    fn tls_io(c: CertificateError) -> io::Error {
        // As tokio-rustls reports a failed handshake.
        io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(c),
        )
    }

    /// Reasons are stable API (the operator sets them as condition reasons): a rename
    /// breaks this table, not a cluster.
    #[test]
    fn reasons_are_stable_camel_case() {
        let reasons: Vec<_> = Problem::ALL.iter().map(|p| p.reason()).collect();
        assert_eq!(
            reasons,
            [
                "TlsUntrustedCertificate",
                "TlsHostnameMismatch",
                "TlsCertificateExpired",
                "TlsNotOffered",
                "TlsRequired",
                "TlsSettingsInvalid",
                "AuthenticationFailed",
                "ConnectionClosed",
                "Unreachable",
                "SchemaNotMigrated",
                "Other",
            ]
        );
        for p in Problem::ALL {
            assert!(
                p.message()
                    .ends_with(|c: char| c.is_alphanumeric() || c == ')')
            );
            assert!(!p.message().contains('\n'));
        }
    }

    /// rustls' certificate errors are found inside the `io::Error` tokio-rustls wraps them
    /// in, under tokio-postgres-like wrappers whose `source()` skips the payload.
    #[test]
    fn rustls_errors_inside_io_errors() {
        for (cert, want) in [
            (
                CertificateError::UnknownIssuer,
                Problem::TlsUntrustedCertificate,
            ),
            (
                CertificateError::BadSignature,
                Problem::TlsUntrustedCertificate,
            ),
            (
                CertificateError::NotValidForName,
                Problem::TlsHostnameMismatch,
            ),
            (CertificateError::Expired, Problem::TlsCertificateExpired),
            (
                CertificateError::NotValidYet,
                Problem::TlsCertificateExpired,
            ),
        ] {
            #[derive(Debug, thiserror::Error)]
            #[error("error performing TLS handshake")]
            struct Wrapper(#[source] io::Error);
            assert_eq!(classify(&Wrapper(tls_io(cert.clone()))), want, "{cert:?}");
        }
    }

    /// The redis crate keeps the io error behind an `Arc` (no downcast): its text is
    /// enough.
    #[test]
    fn redis_errors_by_type_and_by_text() {
        for (cert, want) in [
            (
                CertificateError::UnknownIssuer,
                Problem::TlsUntrustedCertificate,
            ),
            (
                CertificateError::NotValidForName,
                Problem::TlsHostnameMismatch,
            ),
            (CertificateError::Expired, Problem::TlsCertificateExpired),
        ] {
            let e = redis::RedisError::from(tls_io(cert));
            assert_eq!(classify(&e), want, "{e}");
        }
        let refused = redis::RedisError::from(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert_eq!(classify(&refused), Problem::Unreachable);
        let reset = redis::RedisError::from(io::Error::from(io::ErrorKind::ConnectionReset));
        assert_eq!(classify(&reset), Problem::ConnectionClosed);
        let auth = redis::RedisError::from((
            redis::ErrorKind::AuthenticationFailed,
            "Password authentication failed",
        ));
        assert_eq!(classify(&auth), Problem::AuthenticationFailed);
    }

    /// Text fallbacks, for errors that reach us as strings.
    #[test]
    fn texts() {
        for (text, want) in [
            (
                "invalid peer certificate: UnknownIssuer",
                Problem::TlsUntrustedCertificate,
            ),
            (
                "x: invalid peer certificate: certificate not valid for name \"db\"; certificate is only valid for a",
                Problem::TlsHostnameMismatch,
            ),
            (
                "invalid peer certificate: certificate expired: verification time 2 (UNIX), but certificate is not valid after 1 (1 seconds ago)",
                Problem::TlsCertificateExpired,
            ),
            (
                "error performing TLS handshake: server does not support TLS",
                Problem::TlsNotOffered,
            ),
            (
                "failed to lookup address information: Name or service not known",
                Problem::Unreachable,
            ),
            ("something else", Problem::Other),
        ] {
            assert_eq!(by_text(text), want, "{text}");
        }
    }

    /// The readiness entry carries the datastore, the reason and the message.
    #[test]
    fn finding_json() {
        assert_eq!(
            serde_json::to_value(finding(
                Datastore::Postgres,
                Problem::TlsUntrustedCertificate
            ))
            .unwrap(),
            serde_json::json!({
                "datastore": "postgres",
                "reason": "TlsUntrustedCertificate",
                "message": Problem::TlsUntrustedCertificate.message(),
            })
        );
        assert_eq!(
            finding(Datastore::Redis, Problem::Unreachable).datastore,
            Datastore::Redis
        );
    }
}
