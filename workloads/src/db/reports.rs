//! The `reports` table: the HTML report of a session, written by the post-race `report`
//! step and served by the processor's API. Here, below both, so that the API needs
//! nothing of the pipeline steps to read it.

use tokio_postgres::Client;

/// Stores (or replaces) the report of `session`.
pub async fn store(db: &Client, session: &str, html: &str) -> Result<(), tokio_postgres::Error> {
    db.execute(
        "INSERT INTO reports (session_id, html) VALUES ($1, $2)
         ON CONFLICT (session_id) DO UPDATE SET html = EXCLUDED.html, created_at = now()",
        &[&session, &html],
    )
    .await?;
    Ok(())
}

/// The stored report of a session.
pub async fn stored(db: &Client, session: &str) -> Result<Option<String>, tokio_postgres::Error> {
    Ok(db
        .query_opt(
            "SELECT html FROM reports WHERE session_id = $1",
            &[&session],
        )
        .await?
        .map(|r| r.get(0)))
}
