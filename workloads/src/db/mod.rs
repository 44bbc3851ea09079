//! PostgreSQL connection helpers and versioned schema migrations.

pub mod reports;
pub mod tls;

use crate::errors::chain;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::config::{Config, Host, SslMode};
use tokio_postgres::{Client, Connection, NoTls, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

/// Migrations in order; each runs once, recorded in `schema_migrations`.
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "init", include_str!("../../migrations/0001_init.sql")),
    (
        2,
        "post_race",
        include_str!("../../migrations/0002_post_race.sql"),
    ),
    (
        3,
        "real_feeds",
        include_str!("../../migrations/0003_real_feeds.sql"),
    ),
    (
        4,
        "late_samples",
        include_str!("../../migrations/0004_late_samples.sql"),
    ),
    (
        5,
        "session_events",
        include_str!("../../migrations/0005_session_events.sql"),
    ),
    (
        6,
        "stints_by_car",
        include_str!("../../migrations/0006_stints_by_car.sql"),
    ),
    (
        7,
        "pit_lane_now",
        include_str!("../../migrations/0007_pit_lane_now.sql"),
    ),
];

/// Arbitrary constant key for the advisory lock that serializes concurrent migrators.
const MIGRATION_LOCK: i64 = 0x0070_6974_7374_6f70;

/// Time to establish a connection, TCP and startup handshake together: a server that
/// accepts and never answers fails here instead of hanging its caller.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection that could not be made, naming the server (never the password).
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The reason names the option at fault (`invalid value for option `port``).
    #[error("invalid database URL: {}", url_reason(.0))]
    Url(tokio_postgres::Error),
    /// `sslmode` / `sslrootcert` (or `PGSSLMODE` / `PGSSLROOTCERT`) that cannot work: an
    /// unknown mode, a verifying mode without a CA file, a CA file unreadable or empty.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("postgres at {endpoint}: {source}")]
    Postgres {
        endpoint: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("postgres at {endpoint}: no answer within {} s", CONNECT_TIMEOUT.as_secs())]
    Timeout { endpoint: String },
}

/// What is wrong with a URL: the parser's cause (`invalid value for option `port``,
/// `unknown option `x``), which names options, not their values.
fn url_reason(e: &tokio_postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(cause) => cause.to_string(),
        None => e.to_string(),
    }
}

/// `host:port` of a connection config (the first host; never the password).
pub fn endpoint(cfg: &Config) -> String {
    let host = match cfg.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = cfg.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}")
}

/// A database URL (or `key=value` string) parsed, or why it is not one. The reason
/// names the part at fault, never the URL: it may carry a password. A process checks
/// its URL with this at start, so a typo stops it at once instead of being retried as
/// if the server were away. The TLS settings are checked too (see [`tls`]): an unknown
/// `sslmode`, `verify-full` without a CA file, or a CA file that cannot be read.
pub fn config(url: &str) -> Result<Config, ConnectError> {
    prepare(url).map(|(cfg, _)| cfg)
}

/// The parsed config with tokio-postgres' `sslmode` set from the plan, and the rustls
/// configuration (`None`: `disable`, no TLS).
fn prepare(url: &str) -> Result<(Config, Option<rustls::ClientConfig>), ConnectError> {
    let (rest, plan) = tls::plan(url, |k| std::env::var(k).ok())?;
    let mut cfg: Config = rest.parse().map_err(ConnectError::Url)?;
    cfg.ssl_mode(match plan.mode {
        tls::SslMode::Disable => SslMode::Disable,
        tls::SslMode::Prefer => SslMode::Prefer,
        tls::SslMode::Require | tls::SslMode::VerifyCa | tls::SslMode::VerifyFull => {
            SslMode::Require
        }
    });
    let tls = tls::client_config(&plan)?;
    Ok((cfg, tls))
}

/// Connects and drives the connection on a background task. Bounded in time; TCP
/// keepalives find a server that vanished without closing; notices (`relation already
/// exists, skipping` on every start) stay out of the logs. TLS as the URL's `sslmode`
/// (default `prefer`) says; never over a Unix socket (PostgreSQL offers none there).
pub async fn connect(url: &str) -> Result<Client, ConnectError> {
    let (mut cfg, tls) = prepare(url)?;
    let endpoint = endpoint(&cfg);
    cfg.connect_timeout(CONNECT_TIMEOUT)
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(30));
    let options = match cfg.get_options() {
        Some(o) if !o.is_empty() => format!("{o} -c client_min_messages=warning"),
        _ => "-c client_min_messages=warning".to_owned(),
    };
    cfg.options(&options);
    if cfg.get_application_name().is_none() {
        cfg.application_name("pitstop");
    }
    let only_hostaddr = cfg.get_hosts().is_empty() && !cfg.get_hostaddrs().is_empty();
    let tcp = only_hostaddr || cfg.get_hosts().iter().any(|h| matches!(h, Host::Tcp(_)));
    match tls.filter(|_| tcp) {
        Some(tls) => {
            if only_hostaddr {
                // The TLS handshake needs a name; without `host`, the address is it.
                for addr in cfg.get_hostaddrs().to_vec() {
                    cfg.host(addr.to_string());
                }
            }
            establish(cfg.connect(MakeRustlsConnect::new(tls)), endpoint).await
        }
        None => {
            cfg.ssl_mode(SslMode::Disable);
            establish(cfg.connect(NoTls), endpoint).await
        }
    }
}

/// Waits for the connection (bounded by [`CONNECT_TIMEOUT`]) and drives it on its own task.
async fn establish<T>(
    connecting: impl Future<Output = Result<(Client, Connection<Socket, T>), tokio_postgres::Error>>,
    endpoint: String,
) -> Result<Client, ConnectError>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (client, connection) = match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok(pair)) => pair,
        Ok(Err(source)) => return Err(ConnectError::Postgres { endpoint, source }),
        Err(_) => return Err(ConnectError::Timeout { endpoint }),
    };
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(postgres = %endpoint, error = %chain(&e), "postgres connection closed");
        }
    });
    Ok(client)
}

/// Applies pending migrations. Safe when several replicas start at once: a
/// transaction-scoped advisory lock makes them take turns, and the second finds
/// nothing left to do. Returns the versions applied by this call.
pub async fn migrate(client: &mut Client) -> Result<Vec<i32>, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .await?;
    let applied: Vec<i32> = tx
        .query("SELECT version FROM schema_migrations", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut done = Vec::new();
    for (version, name, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[version, name],
        )
        .await?;
        done.push(*version);
    }
    tx.commit().await?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An unparsable URL is refused with the part at fault and without the password it
    /// carries (the message reaches logs and the terminal).
    #[test]
    fn bad_urls_are_refused_without_their_password() {
        for url in [
            "postgres://u:s3cr3t@127.0.0.1:notaport/db",
            "postgres://u:s3cr3t@127.0.0.1:5432/db?sslmode=sometimes",
            "postgres://u:s3cr3t@127.0.0.1:5432/db?nosuchoption=1",
            "mysql://u:s3cr3t@127.0.0.1/db",
            "u:s3cr3t@127.0.0.1",
        ] {
            let e = config(url).unwrap_err().to_string();
            assert!(e.starts_with("invalid database URL: "), "{url}: {e}");
            assert!(!e.contains("s3cr3t"), "{url}: {e}");
        }
        assert_eq!(
            config("postgres://u:s3cr3t@127.0.0.1:notaport/db")
                .unwrap_err()
                .to_string(),
            "invalid database URL: invalid value for option `port`"
        );
        assert!(config("postgres://u:s3cr3t@127.0.0.1:5432/db").is_ok());
    }
}
