//! `season-report` (the CronJob of `spec.postRace.schedule`): the historical ETL over every
//! session aggregated so far — per team: races, mean pace delta to Ferrari, mean and best
//! stationary time, anomalies — stored as one row of `season_reports`.

use super::step::JobError;
use serde_json::json;
use tokio_postgres::Client;

pub async fn run(db: &Client) -> Result<serde_json::Value, JobError> {
    let rows = db
        .query(
            "SELECT team, count(DISTINCT session_id)::int, avg(pace_delta_to_ferrari_ms), avg(mean_stationary_s),
                    min(best_stationary_s), sum(anomalies_warning + anomalies_critical)::int
               FROM telemetry_team_summary GROUP BY team ORDER BY 3 NULLS LAST",
            &[],
        )
        .await?;
    let sessions: i64 = db
        .query_one(
            "SELECT count(DISTINCT session_id) FROM telemetry_team_summary",
            &[],
        )
        .await?
        .get(0);
    let summary = json!(
        rows.iter()
            .map(|r| json!({
                "team": r.get::<_, String>(0),
                "races": r.get::<_, i32>(1),
                "mean_pace_delta_to_ferrari_ms": r.get::<_, Option<f64>>(2),
                "mean_stationary_s": r.get::<_, Option<f64>>(3),
                "best_stationary_s": r.get::<_, Option<f64>>(4),
                "anomalies": r.get::<_, i32>(5),
            }))
            .collect::<Vec<_>>()
    );
    db.execute(
        "INSERT INTO season_reports (sessions, summary) VALUES ($1, $2)",
        &[&(sessions as i32), &summary],
    )
    .await?;
    Ok(summary)
}
