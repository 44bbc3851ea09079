//! The datastores' part of the status, completing [`super::status::compute`]: when the
//! processor names a datastore problem (`/ready`, [`super::datastore_health`]),
//! `StorageReady` carries it as `<Datastore><Reason>` with its message, and a problem
//! only the user can fix (TLS trust, hostname, expiry, TLS not offered or required, TLS
//! settings, credentials) also makes the race `Stalled`; a CloudNativePG Cluster still starting says how far it is.
//! Pure: it takes what was read and `now`.

use super::datastore_health::{Problem, ReadyReport};
use super::status::{Time, condition, merge};
use crate::api::RaceSession;
use crate::api::RaceSessionStatus;
use crate::api::conditions::{ConditionType, reason};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

/// Longest message taken from the processor (a condition message may be 32768 bytes; a
/// status is no log).
const MAX_MESSAGE: usize = 1024;

/// The reasons the processor may give (`pitstop_workloads::datastore_problem`), and
/// whether only the user can fix them (the server's certificate, its name, the CA given,
/// TLS on the server or in the URL, the credentials). A server that is down, closes the
/// connection or is not migrated yet may come back on its own.
const REASONS: [(&str, bool); 11] = [
    ("TlsUntrustedCertificate", true),
    ("TlsHostnameMismatch", true),
    ("TlsCertificateExpired", true),
    ("TlsNotOffered", true),
    ("TlsRequired", true),
    ("TlsSettingsInvalid", true),
    ("AuthenticationFailed", true),
    ("ConnectionClosed", false),
    ("Unreachable", false),
    ("SchemaNotMigrated", false),
    ("Other", false),
];

/// A problem as a condition: `(reason, user must fix)`. Unknown values become `Other`,
/// so the reason stays a valid, bounded condition reason whatever the processor sends.
pub fn problem_reason(p: &Problem) -> (String, bool) {
    let datastore = match p.datastore.as_str() {
        "redis" => "Redis",
        "postgres" => "Postgres",
        _ => "Datastore",
    };
    let (why, user) = REASONS
        .iter()
        .find(|(r, _)| *r == p.reason)
        .copied()
        .unwrap_or(("Other", false));
    (format!("{datastore}{why}"), user)
}

/// `scheme://user:password@host` → `scheme://***@host`: a processor message that quotes
/// a URL must not put its credentials into the status.
pub fn redact(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || c == '/' || c == '"' || c == '\'')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str("***");
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    if out.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

fn message(problems: &[Problem]) -> String {
    redact(
        &problems
            .iter()
            .map(|p| format!("{}: {}", p.datastore, p.message))
            .collect::<Vec<_>>()
            .join("; "),
    )
}

/// Replaces the condition of `c`'s type, keeping its transition time unless its status
/// changed since the last status.
fn set(status: &mut RaceSessionStatus, old: &[Condition], c: Condition) {
    let c = merge(old, vec![c]).remove(0);
    match status.conditions.iter_mut().find(|x| x.type_ == c.type_) {
        Some(slot) => *slot = c,
        None => status.conditions.push(c),
    }
}

/// Completes `status` with what the processor said of the datastores and, for a
/// CloudNativePG Cluster not ready yet, what it says of itself.
pub fn fill(
    status: &mut RaceSessionStatus,
    race: &RaceSession,
    report: Option<&ReadyReport>,
    cluster_note: Option<&str>,
    now: &Time,
) {
    let old = race
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default();
    let g = status.observed_generation;
    if let Some(first) = report.and_then(|r| r.problems.first()) {
        let problems = &report.expect("a problem comes with its report").problems;
        let (why, user) = problem_reason(first);
        let msg = message(problems);
        set(
            status,
            &old,
            condition(ConditionType::StorageReady, false, &why, &msg, g, now),
        );
        set(
            status,
            &old,
            condition(ConditionType::Ready, false, &why, &msg, g, now),
        );
        if user {
            set(
                status,
                &old,
                condition(ConditionType::Stalled, true, &why, &msg, g, now),
            );
            set(
                status,
                &old,
                condition(
                    ConditionType::Reconciling,
                    false,
                    &why,
                    "waiting for the datastore problem to be fixed (see StorageReady)",
                    g,
                    now,
                ),
            );
        }
        return;
    }
    let Some(note) = cluster_note else { return };
    let Some(storage) = status
        .conditions
        .iter()
        .find(|c| c.type_ == ConditionType::StorageReady.as_str() && c.status == "False")
        .cloned()
    else {
        return;
    };
    let msg = if storage.message.is_empty() {
        note.to_string()
    } else {
        format!("{}: {note}", storage.message)
    };
    set(
        status,
        &old,
        condition(
            ConditionType::StorageReady,
            false,
            reason::PROGRESSING,
            &msg,
            g,
            now,
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(datastore: &str, reason: &str, message: &str) -> Problem {
        Problem {
            datastore: datastore.into(),
            reason: reason.into(),
            message: message.into(),
        }
    }

    /// Reasons are `<Datastore><Reason>`; TLS and credentials are the user's to fix, an
    /// unreachable server is not; anything unknown is `Other`.
    #[test]
    fn reasons() {
        assert_eq!(
            problem_reason(&p("postgres", "TlsUntrustedCertificate", "")),
            ("PostgresTlsUntrustedCertificate".into(), true)
        );
        assert_eq!(
            problem_reason(&p("redis", "TlsHostnameMismatch", "")),
            ("RedisTlsHostnameMismatch".into(), true)
        );
        assert_eq!(
            problem_reason(&p("redis", "AuthenticationFailed", "")),
            ("RedisAuthenticationFailed".into(), true)
        );
        assert_eq!(
            problem_reason(&p("postgres", "Unreachable", "")),
            ("PostgresUnreachable".into(), false)
        );
        assert_eq!(
            problem_reason(&p("redis", "TlsRequired", "")),
            ("RedisTlsRequired".into(), true)
        );
        assert_eq!(
            problem_reason(&p("postgres", "SchemaNotMigrated", "")),
            ("PostgresSchemaNotMigrated".into(), false)
        );
        assert_eq!(
            problem_reason(&p("postgres", "made up; DROP", "")),
            ("PostgresOther".into(), false)
        );
        assert_eq!(
            problem_reason(&p("mongo", "Unreachable", "")),
            ("DatastoreUnreachable".into(), false)
        );
    }

    /// Credentials in a quoted URL never reach the status; long messages are cut.
    #[test]
    fn messages_are_redacted_and_bounded() {
        assert_eq!(
            redact("connect to rediss://default:s3cret@redis.example:6380/0 failed"),
            "connect to rediss://***@redis.example:6380/0 failed"
        );
        assert_eq!(
            redact("postgres://db.example:5432 refused"),
            "postgres://db.example:5432 refused"
        );
        let long = "x".repeat(5000);
        assert!(redact(&long).chars().count() <= MAX_MESSAGE + 1);
    }
}
