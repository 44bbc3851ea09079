//! TLS to PostgreSQL with libpq's settings: `sslmode` and `sslrootcert` from the URL,
//! else `PGSSLMODE` / `PGSSLROOTCERT` from the environment.
//!
//! tokio-postgres parses only `disable`, `prefer` and `require` and knows no
//! `sslrootcert`, so [`plan`] takes both out of the URL and decides what to check; the
//! rustls configuration that checks it comes from [`client_config`]. What each mode checks
//! (libpq's rules):
//!
//! | mode          | TLS                         | certificate checked                 |
//! |---------------|-----------------------------|-------------------------------------|
//! | `disable`     | never                       | -                                   |
//! | `prefer`      | if the server offers it     | no                                  |
//! | `require`     | yes                         | no; with a CA file as `verify-ca`   |
//! | `verify-ca`   | yes                         | chains to the CA file               |
//! | `verify-full` | yes                         | chains to the CA file, and names the host |
//!
//! Verification needs a CA file: there is no default (libpq's `~/.postgresql/root.crt`
//! does not exist in a container), so `verify-*` without one is refused at start.

use pitstop_contract::env::{PG_SSLMODE, PG_SSLROOTCERT};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// libpq's `sslmode`, without `allow` (plaintext first: nothing managed wants it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    const ALL: [SslMode; 5] = [
        SslMode::Disable,
        SslMode::Prefer,
        SslMode::Require,
        SslMode::VerifyCa,
        SslMode::VerifyFull,
    ];

    fn parse(s: &str) -> Option<SslMode> {
        SslMode::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// The name as in a URL (`verify-full`).
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// What a connection does about TLS: the effective mode (`require` with a CA file is
/// already `VerifyCa` here) and the CA file the server's chain must reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPlan {
    pub mode: SslMode,
    /// Only for the verifying modes: `disable` and `prefer` never read it (libpq's rule).
    pub root_cert: Option<PathBuf>,
}

/// TLS settings that cannot work. Names the setting and the file, never the URL.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(
        "invalid database URL: invalid value for option `sslmode` (expected disable, prefer, require, verify-ca or verify-full)"
    )]
    UrlMode,
    #[error(
        "invalid {PG_SSLMODE} `{0}` (expected disable, prefer, require, verify-ca or verify-full)"
    )]
    EnvMode(String),
    #[error(
        "sslrootcert=system is not supported: give the CA file (PEM) the server's certificate chains to"
    )]
    SystemRoots,
    #[error(
        "sslmode={} needs sslrootcert or {PG_SSLROOTCERT}: the CA file (PEM) the server's certificate chains to",
        .0.as_str()
    )]
    NoRootCert(SslMode),
    #[error("CA file {}: cannot read it: {source}", path.display())]
    ReadRootCert {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("CA file {}: holds no PEM certificate", path.display())]
    NoCertificate { path: PathBuf },
    #[error("CA file {}: not a usable CA certificate: {reason}", path.display())]
    BadCertificate { path: PathBuf, reason: String },
    #[error("TLS setup: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The URL without `sslmode` and `sslrootcert` (for tokio-postgres' parser), and the
/// plan. `env` looks up an environment variable (injected so tests need not touch the
/// process's); the URL's own settings win over `PGSSLMODE` / `PGSSLROOTCERT`. Accepts
/// both URL (`postgres://...?sslmode=...`) and `key=value` forms; a string neither
/// recognises is returned as it is, for the parser to reject.
pub fn plan(
    url: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(String, TlsPlan), TlsError> {
    let (rest, mode, root) = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        strip_url(url)
    } else {
        strip_key_values(url)
    };
    let mode = match mode {
        Some(m) => SslMode::parse(&m).ok_or(TlsError::UrlMode)?,
        None => match env(PG_SSLMODE).filter(|m| !m.is_empty()) {
            Some(m) => SslMode::parse(&m).ok_or(TlsError::EnvMode(m))?,
            None => SslMode::Prefer,
        },
    };
    let root = root
        .or_else(|| env(PG_SSLROOTCERT))
        .filter(|r| !r.is_empty());
    if root.as_deref() == Some("system") {
        return Err(TlsError::SystemRoots);
    }
    let plan = match (mode, root) {
        (SslMode::Disable | SslMode::Prefer, _) => TlsPlan {
            mode,
            root_cert: None,
        },
        (SslMode::Require, None) => TlsPlan {
            mode,
            root_cert: None,
        },
        // libpq: `require` with a CA file verifies the chain, as `verify-ca`.
        (SslMode::Require, Some(r)) => TlsPlan {
            mode: SslMode::VerifyCa,
            root_cert: Some(r.into()),
        },
        (SslMode::VerifyCa | SslMode::VerifyFull, None) => return Err(TlsError::NoRootCert(mode)),
        (SslMode::VerifyCa | SslMode::VerifyFull, Some(r)) => TlsPlan {
            mode,
            root_cert: Some(r.into()),
        },
    };
    Ok((rest, plan))
}

/// Takes `sslmode` and `sslrootcert` out of a URL's query string (the last of each
/// wins, as in tokio-postgres' parser); values are percent-decoded.
fn strip_url(url: &str) -> (String, Option<String>, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), None, None);
    };
    let (mut mode, mut root) = (None, None);
    let mut kept = Vec::new();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => mode = Some(percent_decode(value)),
            "sslrootcert" => root = Some(percent_decode(value)),
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (rest, mode, root)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Takes `sslmode` and `sslrootcert` out of a `key=value` string (libpq's syntax:
/// spaces around `=` allowed, values quoted with `'`, `\` escapes).
fn strip_key_values(s: &str) -> (String, Option<String>, Option<String>) {
    let (mut mode, mut root) = (None, None);
    let mut rest = String::new();
    let mut chars = s.char_indices().peekable();
    let skip_ws = |chars: &mut std::iter::Peekable<std::str::CharIndices>| {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
    };
    loop {
        skip_ws(&mut chars);
        let Some(&(start, _)) = chars.peek() else {
            break;
        };
        let mut key = String::new();
        while let Some((_, c)) = chars.next_if(|(_, c)| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        skip_ws(&mut chars);
        if chars.next_if(|(_, c)| *c == '=').is_none() {
            // Not key=value: leave the whole string to the parser and its error.
            return (s.to_owned(), None, None);
        }
        skip_ws(&mut chars);
        let mut value = String::new();
        if chars.next_if(|(_, c)| *c == '\'').is_some() {
            loop {
                match chars.next() {
                    Some((_, '\'')) => break,
                    Some((_, '\\')) => value.extend(chars.next().map(|(_, c)| c)),
                    Some((_, c)) => value.push(c),
                    None => return (s.to_owned(), None, None),
                }
            }
        } else {
            while let Some((_, c)) = chars.next_if(|(_, c)| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next().map(|(_, c)| c));
                } else {
                    value.push(c);
                }
            }
        }
        let end = chars.peek().map_or(s.len(), |&(i, _)| i);
        match key.as_str() {
            "sslmode" => mode = Some(value),
            "sslrootcert" => root = Some(value),
            _ => {
                rest.push_str(s[start..end].trim_end());
                rest.push(' ');
            }
        }
    }
    (rest.trim_end().to_owned(), mode, root)
}

/// The CA file's certificates: it must be readable and hold at least one.
pub fn load_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let pem = std::fs::read(path).map_err(|source| TlsError::ReadRootCert {
        path: path.to_owned(),
        source,
    })?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| TlsError::BadCertificate {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        roots.add(cert).map_err(|e| TlsError::BadCertificate {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    }
    if roots.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(roots)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The rustls configuration that checks what the plan says (reads the CA file, so a
/// missing or empty one fails here). `None` for `disable`: no TLS at all.
pub fn client_config(plan: &TlsPlan) -> Result<Option<ClientConfig>, TlsError> {
    let provider = provider();
    let verifier: Arc<dyn ServerCertVerifier> = match (plan.mode, &plan.root_cert) {
        (SslMode::Disable, _) => return Ok(None),
        (SslMode::VerifyCa | SslMode::VerifyFull, None) => {
            return Err(TlsError::NoRootCert(plan.mode));
        }
        (SslMode::Prefer | SslMode::Require, _) => Arc::new(AnyCertificate {
            algorithms: provider.signature_verification_algorithms,
        }),
        (mode @ (SslMode::VerifyCa | SslMode::VerifyFull), Some(path)) => {
            let webpki = WebPkiServerVerifier::builder_with_provider(
                Arc::new(load_roots(path)?),
                provider.clone(),
            )
            .build()
            .map_err(|e| TlsError::BadCertificate {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            if mode == SslMode::VerifyFull {
                webpki
            } else {
                Arc::new(AnyName(webpki))
            }
        }
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Some(config))
}

/// `verify-ca`: the chain must reach the CA; the name in the certificate is not checked
/// (webpki checks the chain before the name, so a name error means the chain passed).
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `prefer` and `require` without a CA file: any certificate (libpq's rule: encryption
/// against a passive listener, no proof of who answers), but the handshake signatures
/// are still checked, so the session's keys belong to the certificate presented.
#[derive(Debug)]
struct AnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn plan_of(url: &str, vars: &[(&str, &str)]) -> (String, SslMode, Option<String>) {
        let (rest, p) = plan(url, env(vars)).unwrap();
        let root = p.root_cert.map(|r| r.display().to_string());
        (rest, p.mode, root)
    }

    /// URL query, environment, the query left for the parser, the mode and CA file.
    type Case<'a> = (
        &'a str,
        &'a [(&'a str, &'a str)],
        &'a str,
        SslMode,
        Option<&'a str>,
    );

    /// The URL's settings and the environment combine as in libpq: the URL wins, `prefer`
    /// is the default, `require` with a CA file verifies the chain, and the settings leave
    /// the string tokio-postgres parses.
    #[test]
    fn mode_and_root_cert_from_url_then_env() {
        use SslMode::*;
        let base = "postgres://u:pw@db:5432/app";
        let cases: &[Case] = &[
            ("", &[], "", Prefer, None),
            ("?sslmode=disable", &[], "", Disable, None),
            ("?sslmode=require", &[], "", Require, None),
            (
                "?sslmode=require&sslrootcert=/ca.pem",
                &[],
                "",
                VerifyCa,
                Some("/ca.pem"),
            ),
            (
                "?sslmode=verify-ca&sslrootcert=/ca.pem",
                &[],
                "",
                VerifyCa,
                Some("/ca.pem"),
            ),
            (
                "?application_name=x&sslmode=verify-full&sslrootcert=%2Fetc%2Fca%20x.pem&connect_timeout=3",
                &[],
                "?application_name=x&connect_timeout=3",
                VerifyFull,
                Some("/etc/ca x.pem"),
            ),
            // The environment fills what the URL leaves out.
            (
                "",
                &[("PGSSLMODE", "verify-full"), ("PGSSLROOTCERT", "/e.pem")],
                "",
                VerifyFull,
                Some("/e.pem"),
            ),
            (
                "?sslmode=disable",
                &[("PGSSLMODE", "verify-full")],
                "",
                Disable,
                None,
            ),
            (
                "?sslrootcert=/u.pem",
                &[("PGSSLMODE", "verify-ca"), ("PGSSLROOTCERT", "/e.pem")],
                "",
                VerifyCa,
                Some("/u.pem"),
            ),
            (
                "?sslmode=require",
                &[("PGSSLROOTCERT", "/e.pem")],
                "",
                VerifyCa,
                Some("/e.pem"),
            ),
            // `prefer` never reads a CA file; an empty variable is unset.
            ("", &[("PGSSLROOTCERT", "/e.pem")], "", Prefer, None),
            ("", &[("PGSSLMODE", "")], "", Prefer, None),
        ];
        for (query, vars, rest_query, mode, root) in cases {
            let got = plan_of(&format!("{base}{query}"), vars);
            let want = (
                format!("{base}{rest_query}"),
                *mode,
                root.map(str::to_owned),
            );
            assert_eq!(got, want, "{query} {vars:?}");
        }
    }

    /// The `key=value` form: the settings are taken out, quoting and the other keys kept.
    #[test]
    fn key_value_strings() {
        let (rest, mode, root) = plan_of(
            "host=db user=u password='a b\\'c' sslmode = verify-full sslrootcert='/ca dir/ca.pem' dbname=app",
            &[],
        );
        assert_eq!(rest, "host=db user=u password='a b\\'c' dbname=app");
        assert_eq!(mode, SslMode::VerifyFull);
        assert_eq!(root.as_deref(), Some("/ca dir/ca.pem"));
        let (rest, mode, _) = plan_of("host=db sslmode=disable", &[]);
        assert_eq!((rest.as_str(), mode), ("host=db", SslMode::Disable));
        // Not key=value: passed on untouched for the parser's own error.
        assert_eq!(plan_of("u:pw@db", &[]).0, "u:pw@db");
    }

    /// Settings that cannot work are refused with the setting at fault, never the URL.
    #[test]
    fn unusable_settings_are_refused() {
        let err = |url: &str, vars: &[(&str, &str)]| plan(url, env(vars)).unwrap_err().to_string();
        let url = "postgres://u:s3cr3t@db/app";
        assert_eq!(
            err(&format!("{url}?sslmode=verify-full"), &[]),
            "sslmode=verify-full needs sslrootcert or PGSSLROOTCERT: the CA file (PEM) the server's certificate chains to"
        );
        assert!(err(url, &[("PGSSLMODE", "verify-ca")]).starts_with("sslmode=verify-ca needs"));
        assert_eq!(
            err(&format!("{url}?sslmode=allow"), &[]),
            "invalid database URL: invalid value for option `sslmode` (expected disable, prefer, require, verify-ca or verify-full)"
        );
        assert!(err(url, &[("PGSSLMODE", "on")]).starts_with("invalid PGSSLMODE `on`"));
        assert!(
            err(
                &format!("{url}?sslmode=verify-full&sslrootcert=system"),
                &[]
            )
            .starts_with("sslrootcert=system")
        );
        for e in [
            err(&format!("{url}?sslmode=verify-full"), &[]),
            err(&format!("{url}?sslmode=bad"), &[]),
        ] {
            assert!(!e.contains("s3cr3t"), "{e}");
        }
    }

    /// A CA file that is missing, empty or not PEM stops the connection with its path.
    #[test]
    fn unusable_ca_files_are_refused() {
        let dir = std::env::temp_dir().join(format!("pitstop-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        let missing = dir.join("missing.pem");
        for (path, want) in [
            (&missing, "cannot read it"),
            (&empty, "holds no PEM certificate"),
        ] {
            let plan = TlsPlan {
                mode: SslMode::VerifyFull,
                root_cert: Some(path.clone()),
            };
            let e = client_config(&plan).unwrap_err().to_string();
            assert!(e.starts_with(&format!("CA file {}", path.display())), "{e}");
            assert!(e.contains(want), "{e}");
        }
        // Modes that do not verify read no file.
        for mode in [SslMode::Disable, SslMode::Prefer, SslMode::Require] {
            let plan = TlsPlan {
                mode,
                root_cert: None,
            };
            assert_eq!(
                client_config(&plan).unwrap().is_some(),
                mode != SslMode::Disable
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
