//! Certificates made for a test (rcgen) and a PostgreSQL of the test's own that serves
//! TLS with them: a [`servers::Postgres`] switched to `ssl = on` by `ALTER SYSTEM` and a
//! reload, so no second way of starting a server exists.

use super::servers::{self, free_port};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose,
    date_time_ymd,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A CA of the test's own, whose certificate is written to `ca.pem` in `dir`.
pub struct Ca {
    pub cert_file: PathBuf,
    cert: Certificate,
    key: KeyPair,
}

/// A server certificate and key, written as PEM files the server can read.
pub struct ServerCert {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// A directory removed on drop, readable by the `postgres` user.
pub struct Dir(pub PathBuf);

impl Dir {
    pub fn new(name: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!(
            "pitstop-{name}-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Ca {
    pub fn new(dir: &Path, name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("pitstop test CA {name}"));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).unwrap();
        let cert_file = dir.join(format!("{name}-ca.pem"));
        std::fs::write(&cert_file, cert.pem()).unwrap();
        Ca {
            cert_file,
            cert,
            key,
        }
    }

    /// A server certificate for `names` (DNS names or IP addresses); `expired` makes one
    /// whose validity ended in 2001.
    pub fn server_cert(&self, dir: &Path, names: &[&str], expired: bool) -> ServerCert {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "pitstop test server");
        if expired {
            params.not_before = date_time_ymd(2000, 1, 1);
            params.not_after = date_time_ymd(2001, 1, 1);
        }
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        let stem = if expired { "expired" } else { "server" };
        let cert_file = dir.join(format!("{stem}.crt"));
        let key_file = dir.join(format!("{stem}.key"));
        std::fs::write(&cert_file, cert.pem()).unwrap();
        std::fs::write(&key_file, key.serialize_pem()).unwrap();
        // PostgreSQL refuses a key others can read, and runs as `postgres` under root.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        if is_root() {
            for f in [&cert_file, &key_file] {
                let ok = Command::new("chown")
                    .args(["postgres", f.to_str().unwrap()])
                    .status()
                    .unwrap()
                    .success();
                assert!(ok, "chown postgres {}", f.display());
            }
        }
        ServerCert {
            cert_file,
            key_file,
        }
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `url` with `?query` appended.
pub fn with_query(url: &str, query: &str) -> String {
    format!("{url}?{query}")
}

/// A PostgreSQL of the test's own serving TLS with `cert`. With `tls_only`, its hba
/// accepts only TLS connections from TCP clients (`hostssl`).
pub async fn tls_postgres(cert: &ServerCert, tls_only: bool) -> servers::Postgres {
    let pg = servers::Postgres::start();
    let plain = with_query(&pg.url(), "sslmode=disable");
    let admin = pitstop_workloads::db::connect(&plain).await.unwrap();
    for (name, value) in [
        ("ssl_cert_file", cert.cert_file.display().to_string()),
        ("ssl_key_file", cert.key_file.display().to_string()),
        ("ssl", "on".into()),
    ] {
        admin
            .batch_execute(&format!("ALTER SYSTEM SET {name} = '{value}'"))
            .await
            .unwrap();
    }
    if tls_only {
        let hba: String = admin.query_one("SHOW hba_file", &[]).await.unwrap().get(0);
        std::fs::write(
            &hba,
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
        )
        .unwrap();
    }
    admin
        .batch_execute("SELECT pg_reload_conf()")
        .await
        .unwrap();
    // The reload is asynchronous: wait until a new connection gets TLS.
    let tls = with_query(&pg.url(), "sslmode=require");
    let deadline = Instant::now() + Duration::from_secs(20);
    while pitstop_workloads::db::connect(&tls).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "PostgreSQL did not turn TLS on (is the key readable by the server only?)"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    pg
}

/// Whether the session runs over TLS, as the server sees it.
pub async fn is_tls(db: &tokio_postgres::Client) -> bool {
    db.query_one(
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}
