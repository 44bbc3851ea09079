//! TLS to PostgreSQL against servers the tests start themselves (`ssl = on` with a CA
//! and certificates made here): what each `sslmode` accepts and refuses, how a refusal is
//! named ([`classify`]), `PGSSLMODE` / `PGSSLROOTCERT`, and the processor's `/ready`.

mod common;

use common::servers::Postgres;
use common::tls::{Ca, Dir, is_tls, tls_postgres, with_query};
use pitstop_workloads::datastore_problem::{Problem, classify};
use pitstop_workloads::db::{self, ConnectError};
use pitstop_workloads::errors::chain;
use std::path::Path;

/// A TLS server whose certificate names `localhost` and `127.0.0.1`, the CA that issued
/// it and a CA that did not.
struct Fixture {
    pg: Postgres,
    ca: Ca,
    other_ca: Ca,
    _dir: Dir,
}

async fn fixture(tls_only: bool) -> Fixture {
    let dir = Dir::new("pgtls");
    let ca = Ca::new(&dir.0, "right");
    let other_ca = Ca::new(&dir.0, "other");
    let cert = ca.server_cert(&dir.0, &["localhost", "127.0.0.1"], false);
    let pg = tls_postgres(&cert, tls_only).await;
    Fixture {
        pg,
        ca,
        other_ca,
        _dir: dir,
    }
}

fn ssl(url: &str, mode: &str, ca: Option<&Path>) -> String {
    match ca {
        Some(ca) => with_query(url, &format!("sslmode={mode}&sslrootcert={}", ca.display())),
        None => with_query(url, &format!("sslmode={mode}")),
    }
}

/// The URL of `pg` under another host name, reached at 127.0.0.1 through `hostaddr`:
/// the name the certificate is checked against is `host`.
fn as_host(pg: &Postgres, host: &str) -> String {
    format!(
        "postgres://postgres@{host}:{}/postgres?hostaddr=127.0.0.1",
        pg.port
    )
}

async fn refused(url: &str) -> (Problem, String) {
    let e: ConnectError = db::connect(url).await.expect_err(url);
    (classify(&e), chain(&e).to_string())
}

/// verify-full with the CA that issued the certificate connects, by address and by name,
/// and the session is encrypted; `require` and the default `prefer` use TLS without a CA;
/// `disable` stays plaintext against the same server. Breaks if the TLS plan is not
/// wired into `connect`.
#[tokio::test]
async fn verify_full_with_the_right_ca_is_tls() {
    let f = fixture(false).await;
    let ca = Some(f.ca.cert_file.as_path());
    for url in [
        ssl(&f.pg.url(), "verify-full", ca),
        ssl(
            &f.pg.url().replace("127.0.0.1", "localhost"),
            "verify-full",
            ca,
        ),
        ssl(&f.pg.url(), "verify-ca", ca),
        ssl(&f.pg.url(), "require", None),
        f.pg.url(),
    ] {
        let db = db::connect(&url).await.unwrap();
        assert!(is_tls(&db).await, "{url}: not TLS");
    }
    let plain = db::connect(&ssl(&f.pg.url(), "disable", None))
        .await
        .unwrap();
    assert!(!is_tls(&plain).await, "sslmode=disable used TLS");
}

/// A CA that did not issue the certificate is refused as untrusted in every verifying
/// mode, `require` with a CA file included (libpq's rule: it then verifies the chain).
#[tokio::test]
async fn a_wrong_ca_is_an_untrusted_certificate() {
    let f = fixture(false).await;
    let other = Some(f.other_ca.cert_file.as_path());
    for mode in ["verify-full", "verify-ca", "require"] {
        let (problem, text) = refused(&ssl(&f.pg.url(), mode, other)).await;
        assert_eq!(problem, Problem::TlsUntrustedCertificate, "{mode}: {text}");
        assert!(!text.contains("password"), "{text}");
    }
}

/// verify-full refuses a certificate that does not name the host connected to; verify-ca
/// checks the chain only and accepts it.
#[tokio::test]
async fn a_wrong_host_name_fails_verify_full_only() {
    let f = fixture(false).await;
    let wrong = as_host(&f.pg, "db.example");
    let (problem, text) = refused(&format!(
        "{wrong}&sslmode=verify-full&sslrootcert={}",
        f.ca.cert_file.display()
    ))
    .await;
    assert_eq!(problem, Problem::TlsHostnameMismatch, "{text}");
    let db = db::connect(&format!(
        "{wrong}&sslmode=verify-ca&sslrootcert={}",
        f.ca.cert_file.display()
    ))
    .await
    .unwrap();
    assert!(is_tls(&db).await);
    // The right name through hostaddr passes verify-full.
    let right = as_host(&f.pg, "localhost");
    let db = db::connect(&format!(
        "{right}&sslmode=verify-full&sslrootcert={}",
        f.ca.cert_file.display()
    ))
    .await
    .unwrap();
    assert!(is_tls(&db).await);
}

/// A certificate past its validity is named as expired.
#[tokio::test]
async fn an_expired_certificate_is_named() {
    let dir = Dir::new("pgtls-expired");
    let ca = Ca::new(&dir.0, "right");
    let cert = ca.server_cert(&dir.0, &["localhost", "127.0.0.1"], true);
    let pg = tls_postgres(&cert, false).await;
    let (problem, text) = refused(&ssl(&pg.url(), "verify-full", Some(&ca.cert_file))).await;
    assert_eq!(problem, Problem::TlsCertificateExpired, "{text}");
    // `require` checks nothing about the certificate, expiry included (libpq's rule).
    assert!(is_tls(&db::connect(&ssl(&pg.url(), "require", None)).await.unwrap()).await);
}

/// Against a server without TLS: `require` and the verifying modes fail as "not
/// offered"; `prefer` (the default) falls back to plaintext.
#[tokio::test]
async fn a_server_without_tls() {
    let dir = Dir::new("pgtls-plain");
    let ca = Ca::new(&dir.0, "right");
    let pg = Postgres::start();
    for mode in ["require", "verify-ca", "verify-full"] {
        let (problem, text) = refused(&ssl(&pg.url(), mode, Some(&ca.cert_file))).await;
        assert_eq!(problem, Problem::TlsNotOffered, "{mode}: {text}");
    }
    let (problem, text) = refused(&ssl(&pg.url(), "require", None)).await;
    assert_eq!(problem, Problem::TlsNotOffered, "{text}");
    for url in [ssl(&pg.url(), "prefer", None), pg.url()] {
        let db = db::connect(&url).await.unwrap();
        assert!(!is_tls(&db).await, "{url}");
    }
}

/// A server that accepts only TLS (`hostssl`) refuses `disable`, named as TLS required;
/// `prefer` gets in over TLS.
#[tokio::test]
async fn a_tls_only_server_refuses_plaintext() {
    let f = fixture(true).await;
    let (problem, text) = refused(&ssl(&f.pg.url(), "disable", None)).await;
    assert_eq!(problem, Problem::TlsRequired, "{text}");
    assert!(is_tls(&db::connect(&f.pg.url()).await.unwrap()).await);
}

/// Settings that cannot work stop at the start check, with the setting or file named:
/// no retry loop against a server that would never be accepted.
#[tokio::test]
async fn unusable_settings_fail_at_start() {
    let url = "postgres://u:s3cr3t@127.0.0.1:1/db";
    for (query, want) in [
        (
            "sslmode=verify-full",
            "sslmode=verify-full needs sslrootcert or PGSSLROOTCERT",
        ),
        (
            "sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem",
            "CA file /nonexistent/ca.pem: cannot read it",
        ),
        (
            "sslmode=verify-always",
            "invalid database URL: invalid value for option `sslmode`",
        ),
    ] {
        let e = db::config(&with_query(url, query)).unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with(want), "{query}: {text}");
        assert!(!text.contains("s3cr3t"), "{text}");
        let mut c = pitstop_workloads::processor::ProcessorConfig::new(
            "redis://127.0.0.1:1",
            &with_query(url, query),
            "pitstop:test:tls-start",
        );
        c.listen = None;
        assert!(
            pitstop_workloads::processor::Processor::start(c, None)
                .await
                .is_err(),
            "{query}: the processor started"
        );
    }
}

/// `PGSSLMODE` / `PGSSLROOTCERT` apply when the URL gives no `sslmode` / `sslrootcert`,
/// and the URL's own setting wins. The variables are process-wide, so each case runs
/// [`env_child`] in a child process of this test binary.
#[tokio::test]
async fn environment_defaults_apply_when_the_url_has_none() {
    let f = fixture(false).await;
    let right = f.ca.cert_file.display().to_string();
    let other = f.other_ca.cert_file.display().to_string();
    for (url, mode, root, expect) in [
        (f.pg.url(), "verify-full", &right, "tls"),
        (f.pg.url(), "verify-full", &other, "TlsUntrustedCertificate"),
        (f.pg.url(), "require", &other, "TlsUntrustedCertificate"),
        (
            ssl(&f.pg.url(), "disable", None),
            "verify-full",
            &other,
            "plaintext",
        ),
        (
            with_query(&f.pg.url(), &format!("sslrootcert={right}")),
            "verify-full",
            &other,
            "tls",
        ),
    ] {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "env_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("PGSSLMODE", mode)
            .env("PGSSLROOTCERT", root)
            .env("PITSTOP_TEST_TLS_URL", &url)
            .env("PITSTOP_TEST_TLS_EXPECT", expect)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "PGSSLMODE={mode} PGSSLROOTCERT={root} {url}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Run by [`environment_defaults_apply_when_the_url_has_none`] with the environment set;
/// does nothing on its own.
#[tokio::test]
#[ignore = "run by environment_defaults_apply_when_the_url_has_none"]
async fn env_child() {
    let (Ok(url), Ok(expect)) = (
        std::env::var("PITSTOP_TEST_TLS_URL"),
        std::env::var("PITSTOP_TEST_TLS_EXPECT"),
    ) else {
        return;
    };
    match expect.as_str() {
        "tls" | "plaintext" => {
            let db = db::connect(&url).await.unwrap();
            assert_eq!(is_tls(&db).await, expect == "tls");
        }
        reason => assert_eq!(refused(&url).await.0.reason(), reason),
    }
}

/// The processor's `/ready` names why PostgreSQL is not ready: with a CA that did not
/// issue the server's certificate, the reason is TlsUntrustedCertificate (what the
/// operator copies into its condition).
#[tokio::test]
async fn ready_names_an_untrusted_certificate() {
    let f = fixture(false).await;
    let url = ssl(&f.pg.url(), "verify-full", Some(&f.other_ca.cert_file));
    let stream = format!("pitstop:test:tls-ready:{}", std::process::id());
    let mut c = pitstop_workloads::processor::ProcessorConfig::new(
        &common::Env::shared_redis_url(),
        &url,
        &stream,
    );
    c.listen = Some("127.0.0.1:0".parse().unwrap());
    let p = pitstop_workloads::processor::Processor::start(c, None)
        .await
        .unwrap();
    let resp = reqwest::get(format!("http://{}/ready", p.addr.unwrap()))
        .await
        .unwrap();
    assert_eq!(resp.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["postgres"], false, "{body}");
    assert_eq!(body["redis"], true, "{body}");
    let problems = body["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{body}");
    assert_eq!(problems[0]["datastore"], "postgres");
    assert_eq!(problems[0]["reason"], "TlsUntrustedCertificate");
    assert_eq!(
        problems[0]["message"],
        Problem::TlsUntrustedCertificate.message()
    );
    p.shutdown().await;
}

/// A port nobody listens on and a host name that does not resolve are both named
/// unreachable, whatever the TLS mode.
#[tokio::test]
async fn unreachable_servers_are_named() {
    for url in [
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres",
            common::servers::free_port()
        ),
        "postgres://postgres@no-such-host.invalid:5432/postgres?sslmode=require".to_owned(),
    ] {
        let (problem, text) = refused(&url).await;
        assert_eq!(problem, Problem::Unreachable, "{url}: {text}");
    }
}
