//! Errors as logs and messages show them: the error and each of its causes, once.
//!
//! Many errors show only their own part and keep the rest in `source()`: tokio-postgres'
//! `db error` hides the server's own message (`FATAL: password authentication failed for
//! user "pitstop"`). Every log line and message that carries an error goes through
//! [`chain`]. None of these errors quotes a password: connection errors name the server
//! (`host:port`), never the URL.

use std::error::Error;
use std::fmt;

/// An error and its causes on one line (`error: cause: cause`), see [`chain`].
pub struct Chain<'a>(&'a (dyn Error + 'static));

/// `e` and every cause under it, leaving out a cause whose text is already shown (an
/// error that quotes its source, `postgres at h:p: db error`, is not followed by `db
/// error` again). For a log field: `error = %chain(&e)`.
pub fn chain<'a>(e: &'a (dyn Error + 'static)) -> Chain<'a> {
    Chain(e)
}

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.0.to_string();
        let mut cause = self.0.source();
        while let Some(c) = cause {
            let text = c.to_string();
            if !text.is_empty() && !shown.contains(&text) {
                shown.push_str(": ");
                shown.push_str(&text);
            }
            cause = c.source();
        }
        f.write_str(&shown)
    }
}

#[cfg(test)]
mod tests {
    use super::chain;

    #[derive(Debug, thiserror::Error)]
    #[error("db error")]
    struct Opaque(#[source] Server);

    #[derive(Debug, thiserror::Error)]
    #[error("FATAL: password authentication failed for user \"pitstop\"")]
    struct Server;

    #[derive(Debug, thiserror::Error)]
    #[error("postgres at pg:5432: {0}")]
    struct Quoting(#[source] Opaque);

    /// The server's message under an opaque `db error` reaches the text; a cause the error
    /// already quotes is not repeated.
    #[test]
    fn every_cause_once() {
        let e = Quoting(Opaque(Server));
        assert_eq!(e.to_string(), "postgres at pg:5432: db error");
        assert_eq!(
            chain(&e).to_string(),
            "postgres at pg:5432: db error: FATAL: password authentication failed for user \"pitstop\""
        );
        let any = anyhow::Error::new(Opaque(Server)).context("database not ready");
        assert_eq!(
            chain(&*any).to_string(),
            "database not ready: db error: FATAL: password authentication failed for user \"pitstop\""
        );
    }
}
