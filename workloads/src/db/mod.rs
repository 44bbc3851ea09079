//! PostgreSQL connection helpers and versioned schema migrations.

use tokio_postgres::{Client, NoTls};

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
];

/// Arbitrary constant key for the advisory lock that serializes concurrent migrators.
const MIGRATION_LOCK: i64 = 0x0070_6974_7374_6f70;

/// Connects and drives the connection on a background task.
pub async fn connect(url: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "postgres connection closed");
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
