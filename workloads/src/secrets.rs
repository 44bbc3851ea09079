//! Secrets as the binaries receive them: the ingest API key's rules and loading (from a
//! file or `STREAM_PROCESSOR_API_KEY`), and connection URLs with their passwords hidden
//! so that a URL can appear in a message.
//!
//! Nothing here ever puts a secret into an error: errors say which source and what is
//! wrong with it (length, a bad byte's position), never the value.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

/// The environment variable holding the processor's ingest key.
pub const API_KEY_ENV: &str = pitstop_contract::env::API_KEY;

/// Fewest bytes an API key may have after trimming. The operator generates 32; 16
/// printable bytes are still far beyond guessing through an HTTP endpoint, while an
/// empty or placeholder key (`changeme`) is refused.
pub const API_KEY_MIN_LEN: usize = 16;

/// Most bytes an API key may have: it travels in a header, and proxies refuse headers
/// of several KiB.
pub const API_KEY_MAX_LEN: usize = 1024;

/// What is wrong with an API key (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeyError {
    #[error("is empty (or only whitespace)")]
    Empty,
    #[error(
        "is {len} bytes long; at least {API_KEY_MIN_LEN} are required (e.g. `openssl rand -hex 24`)"
    )]
    TooShort { len: usize },
    #[error("is {len} bytes long; at most {API_KEY_MAX_LEN} are allowed")]
    TooLong { len: usize },
    #[error(
        "has whitespace at byte {at} (only surrounding whitespace is trimmed; a key is one word)"
    )]
    Whitespace { at: usize },
    #[error("has a byte at {at} that is not printable ASCII (a key is ASCII 0x21..=0x7e)")]
    NotPrintable { at: usize },
}

/// Checks an API key and returns it without surrounding whitespace (the trailing newline
/// of a key file or a Secret created from one). A usable key is
/// [`API_KEY_MIN_LEN`]..=[`API_KEY_MAX_LEN`] bytes of printable ASCII without
/// whitespace, so every key can be sent as an `X-API-Key` header and none is empty.
pub fn validate_api_key(raw: &str) -> Result<&str, ApiKeyError> {
    let key = raw.trim();
    if key.is_empty() {
        return Err(ApiKeyError::Empty);
    }
    if let Some(at) = key.bytes().position(|b| !b.is_ascii_graphic()) {
        return Err(if key.as_bytes()[at].is_ascii_whitespace() {
            ApiKeyError::Whitespace { at }
        } else {
            ApiKeyError::NotPrintable { at }
        });
    }
    match key.len() {
        len if len < API_KEY_MIN_LEN => Err(ApiKeyError::TooShort { len }),
        len if len > API_KEY_MAX_LEN => Err(ApiKeyError::TooLong { len }),
        _ => Ok(key),
    }
}

/// Where a key came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    File(PathBuf),
    Env(&'static str),
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::File(path) => write!(f, "--api-key-file {}", path.display()),
            KeySource::Env(name) => write!(f, "{name}"),
        }
    }
}

/// Why no key could be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ApiKeyLoadError {
    #[error("cannot read {from}: {error}")]
    Read {
        from: KeySource,
        error: std::io::Error,
    },
    #[error("the API key in {from} {problem}")]
    Invalid {
        from: KeySource,
        problem: ApiKeyError,
    },
}

/// The ingest key from `file` when given, else from `env_value` (the value of
/// [`API_KEY_ENV`], `None` when unset). `Ok(None)` means no key is configured at all;
/// a source that is given but empty, short or malformed is an error, never "no key".
pub fn load_api_key(
    file: Option<&Path>,
    env_value: Option<OsString>,
) -> Result<Option<String>, ApiKeyLoadError> {
    let (from, raw) = match (file, env_value) {
        (Some(path), _) => {
            let from = KeySource::File(path.to_owned());
            match std::fs::read(path) {
                Ok(bytes) => (from, bytes),
                Err(error) => return Err(ApiKeyLoadError::Read { from, error }),
            }
        }
        (None, Some(value)) => (KeySource::Env(API_KEY_ENV), value.into_encoded_bytes()),
        (None, None) => return Ok(None),
    };
    let invalid = |problem| ApiKeyLoadError::Invalid {
        from: from.clone(),
        problem,
    };
    let text = std::str::from_utf8(&raw).map_err(|e| {
        invalid(ApiKeyError::NotPrintable {
            at: e.valid_up_to(),
        })
    })?;
    let key = validate_api_key(text).map_err(invalid)?;
    Ok(Some(key.to_owned()))
}

/// Hides what can authenticate in a connection string so it can be logged or shown in
/// an error: the password of `scheme://user:password@host/…`, and the value of any
/// `password`-like parameter, in a URL's query or a libpq `key=value` string. The rest
/// (scheme, user, host, port, database) stays, since that is what someone debugging a
/// connection needs.
pub fn redact_url(url: &str) -> String {
    const HIDDEN: &str = "***";
    let Some(scheme_end) = url.find("://") else {
        return redact_key_values(url, HIDDEN);
    };
    let (scheme, rest) = url.split_at(scheme_end + 3);
    // The query starts at the first `?`; a password may hold `/` or `@` unescaped, so
    // the user info ends at the last `@` before it.
    let (authority_and_path, query) = match rest.find('?') {
        Some(q) => rest.split_at(q),
        None => (rest, ""),
    };
    let mut out = String::with_capacity(url.len());
    out.push_str(scheme);
    match authority_and_path.rfind('@') {
        Some(at) => {
            let (user_info, host_and_path) = authority_and_path.split_at(at);
            match user_info.split_once(':') {
                Some((user, _password)) => {
                    out.push_str(user);
                    out.push(':');
                    out.push_str(HIDDEN);
                }
                None => out.push_str(user_info),
            }
            out.push_str(host_and_path);
        }
        None => out.push_str(authority_and_path),
    }
    if let Some(params) = query.strip_prefix('?') {
        out.push('?');
        let parts: Vec<String> = params
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _)) if is_secret_key(k) => format!("{k}={HIDDEN}"),
                _ => p.to_owned(),
            })
            .collect();
        out.push_str(&parts.join("&"));
    }
    out
}

fn is_secret_key(key: &str) -> bool {
    let k = key.trim().to_ascii_lowercase();
    k.contains("pass") || k.contains("secret") || k.contains("token")
}

/// libpq's `host=h user=u password='…'`: the value of each secret key hidden, quoted
/// values (which may hold spaces) included.
fn redact_key_values(s: &str, hidden: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(eq) = rest.find('=') {
        let before = rest[..eq].trim_end();
        let key = &before[before.rfind(char::is_whitespace).map_or(0, |i| i + 1)..];
        out.push_str(&rest[..=eq]);
        let value = rest[eq + 1..].trim_start();
        out.push_str(&rest[eq + 1..rest.len() - value.len()]);
        let value_len = quoted_or_word_len(value);
        if is_secret_key(key) {
            out.push_str(hidden);
        } else {
            out.push_str(&value[..value_len]);
        }
        rest = &value[value_len..];
    }
    out.push_str(rest);
    out
}

/// Length of a libpq value at the start of `s`: a single-quoted string (with `\'`
/// escapes) or a run of non-whitespace.
fn quoted_or_word_len(s: &str) -> usize {
    if let Some(body) = s.strip_prefix('\'') {
        let mut escaped = false;
        for (i, c) in body.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '\'' => return i + 2,
                _ => {}
            }
        }
        return s.len();
    }
    s.find(char::is_whitespace).unwrap_or(s.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const GOOD: &str = "0123456789abcdef";

    /// Empty and whitespace-only keys, the auth bypass of an empty `X-API-Key:`, are refused.
    #[test]
    fn empty_keys_are_refused() {
        for raw in ["", "\n", " \r\n\t "] {
            assert_eq!(validate_api_key(raw), Err(ApiKeyError::Empty), "{raw:?}");
        }
    }

    /// A key file's newline is trimmed; length, inner whitespace and non-ASCII are checked.
    #[test]
    fn key_rules() {
        assert_eq!(validate_api_key(&format!("  {GOOD}\n")), Ok(GOOD));
        assert_eq!(
            validate_api_key("changeme"),
            Err(ApiKeyError::TooShort { len: 8 })
        );
        assert_eq!(
            validate_api_key(&"k".repeat(API_KEY_MAX_LEN + 1)),
            Err(ApiKeyError::TooLong {
                len: API_KEY_MAX_LEN + 1
            })
        );
        assert_eq!(
            validate_api_key("0123456789 abcdef"),
            Err(ApiKeyError::Whitespace { at: 10 })
        );
        assert_eq!(
            validate_api_key("0123456789abcdef\nsecond-line-key"),
            Err(ApiKeyError::Whitespace { at: 16 })
        );
        assert_eq!(
            validate_api_key("0123456789abcdéf"),
            Err(ApiKeyError::NotPrintable { at: 14 })
        );
        assert_eq!(
            validate_api_key("0123456789abcd\u{7f}ef"),
            Err(ApiKeyError::NotPrintable { at: 14 })
        );
        assert!(validate_api_key(&"k".repeat(API_KEY_MAX_LEN)).is_ok());
    }

    /// The file wins over the variable; neither means no key; a bad source is an error
    /// that names the source and never contains the key.
    #[test]
    fn loading_names_the_source_not_the_key() {
        let dir = std::env::temp_dir().join(format!("pitstop-secrets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("key");
        let mut f = std::fs::File::create(&file).unwrap();
        writeln!(f, "{GOOD}").unwrap();
        assert_eq!(
            load_api_key(Some(&file), Some("ignored-because-file".into())).unwrap(),
            Some(GOOD.to_owned())
        );
        assert_eq!(load_api_key(None, None).unwrap(), None);
        assert_eq!(
            load_api_key(None, Some(format!("{GOOD}\n").into())).unwrap(),
            Some(GOOD.to_owned())
        );

        let short = "shortsecret";
        let err = load_api_key(None, Some(short.into())).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(API_KEY_ENV) && msg.contains("11 bytes"),
            "{msg}"
        );
        assert!(!msg.contains(short), "{msg}");
        assert!(
            load_api_key(None, Some("".into()))
                .unwrap_err()
                .to_string()
                .contains("is empty")
        );

        std::fs::write(&file, "\n").unwrap();
        let msg = load_api_key(Some(&file), None).unwrap_err().to_string();
        assert!(
            msg.contains(&file.display().to_string()) && msg.contains("is empty"),
            "{msg}"
        );
        std::fs::write(&file, b"0123456789abcdef\xff").unwrap();
        let msg = load_api_key(Some(&file), None).unwrap_err().to_string();
        assert!(msg.contains("byte at 16"), "{msg}");
        let missing = dir.join("missing");
        let msg = load_api_key(Some(&missing), None).unwrap_err().to_string();
        assert!(msg.starts_with("cannot read --api-key-file"), "{msg}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Passwords vanish from every spelling of a connection string; hosts and users stay.
    #[test]
    fn urls_are_redacted() {
        let cases = [
            (
                "postgres://u:s3cr3t@db.example:5432/app",
                "postgres://u:***@db.example:5432/app",
            ),
            ("redis://:s3cr3t@cache:6379/0", "redis://:***@cache:6379/0"),
            (
                "postgres://u:p@ss/w:rd@h/db?sslmode=require",
                "postgres://u:***@h/db?sslmode=require",
            ),
            (
                "postgresql://u@h/db?password=s3cr3t&sslmode=disable",
                "postgresql://u@h/db?password=***&sslmode=disable",
            ),
            (
                "host=h user=u password=s3cr3t dbname=db",
                "host=h user=u password=*** dbname=db",
            ),
            (
                "host=h password = 'with space s3cr3t' port=5432",
                "host=h password = *** port=5432",
            ),
            (
                "postgres://postgres@127.0.0.1:5432/postgres",
                "postgres://postgres@127.0.0.1:5432/postgres",
            ),
            ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
            ("not a url", "not a url"),
            ("", ""),
        ];
        for (url, want) in cases {
            assert_eq!(redact_url(url), want, "{url}");
            assert!(!redact_url(url).contains("s3cr3t"));
        }
    }
}
