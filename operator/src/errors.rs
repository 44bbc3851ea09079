//! Errors as the operator's logs show them: the error and each of its causes, once.
//!
//! Many errors show only their own part and keep the rest in `source()` (a transport
//! failure of the API client says `HyperError: client error (Connect)` and keeps `tcp
//! connect error: Connection refused` below it). Every log line that carries an error
//! goes through [`chain`] (the workloads have the same helper; the crates share no code
//! but the contract's names).

use std::error::Error;
use std::fmt;

/// An error and its causes on one line (`error: cause: cause`), see [`chain`].
pub struct Chain<'a>(&'a (dyn Error + 'static));

/// `e` and every cause under it, leaving out a cause whose text is already shown (an
/// error that quotes its source, `kubernetes API: ApiError: …`, is not followed by it
/// again). For a log field: `error = %chain(&e)`.
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
    #[error("HyperError: client error (Connect)")]
    struct Transport(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("kubernetes API: {0}")]
    struct Reconcile(#[source] Transport);

    /// The cause under an opaque transport error reaches the text; a cause the error
    /// already quotes is not repeated.
    #[test]
    fn every_cause_once() {
        let refused =
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let e = Reconcile(Transport(refused));
        assert_eq!(
            e.to_string(),
            "kubernetes API: HyperError: client error (Connect)"
        );
        assert_eq!(
            chain(&e).to_string(),
            "kubernetes API: HyperError: client error (Connect): Connection refused"
        );
    }
}
