//! `notify`: posts a Slack-compatible JSON message (`{"text": …}`) to a webhook whose URL
//! comes from a Secret (env `PITSTOP_WEBHOOK_URL`). Two kinds: the race summary (winner,
//! fastest stop, pace, anomalies, where the report is) and, as the pipeline's final task,
//! its outcome (`--outcome succeeded|failed` with the failed tasks). 5xx answers and
//! connection errors are retried with backoff; other 4xx fail at once. Without a URL the
//! message is only logged (the operator records an Event).

use super::step::JobError;
use crate::wording::{count, stationary};
use std::time::Duration;
use tokio_postgres::Client;

/// What to announce.
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    Summary {
        report_url: Option<String>,
    },
    Outcome {
        succeeded: bool,
        failed_tasks: Vec<String>,
        run_id: String,
    },
}

/// The text of the race summary.
pub async fn summary_text(
    db: &Client,
    session: &str,
    report_url: Option<&str>,
) -> Result<String, JobError> {
    let winner = db
        .query_opt(
            "SELECT driver, team, laps FROM classification WHERE session_id = $1 ORDER BY position LIMIT 1",
            &[&session],
        )
        .await?
        .ok_or_else(|| JobError::NoSession(session.into()))?;
    let fastest = db
        .query_opt(
            "SELECT driver, team, stationary_ms FROM pit_stops WHERE session_id = $1 ORDER BY stationary_ms LIMIT 1",
            &[&session],
        )
        .await?;
    let ferrari = db
        .query_opt(
            "SELECT mean_pit_score, anomalies_warning + anomalies_critical FROM telemetry_team_summary
              WHERE session_id = $1 AND team = 'Ferrari'",
            &[&session],
        )
        .await?;
    let anomalies: i64 = db
        .query_one(
            "SELECT count(*) FROM anomalies WHERE session_id = $1",
            &[&session],
        )
        .await?
        .get(0);
    let mut text = format!(
        ":checkered_flag: *{session}* finished: {} ({}) wins after {}.",
        winner.get::<_, String>(0),
        winner.get::<_, String>(1),
        count(winner.get::<_, i64>(2), "lap", "laps")
    );
    if let Some(f) = fastest {
        text.push_str(&format!(
            " Fastest stop {} s by {} ({}).",
            stationary(f.get::<_, i64>(2) as f64 / 1000.0),
            f.get::<_, String>(0),
            f.get::<_, String>(1)
        ));
    }
    if let Some(score) = ferrari.and_then(|f| f.get::<_, Option<f64>>(0)) {
        text.push_str(&format!(" Ferrari mean stop score {score:.1}."));
    }
    text.push_str(&format!(
        " {} detected.",
        count(anomalies, "anomaly", "anomalies")
    ));
    if let Some(url) = report_url {
        text.push_str(&format!(" Report: {url}"));
    }
    Ok(text)
}

/// The text announcing a pipeline run's outcome.
pub fn outcome_text(session: &str, run_id: &str, succeeded: bool, failed: &[String]) -> String {
    if succeeded {
        format!(":white_check_mark: Post-race pipeline {run_id} of *{session}* succeeded.")
    } else {
        format!(
            ":x: Post-race pipeline {run_id} of *{session}* failed: {}. Retry from the failed task with `kubectl annotate race {session} pitstop.io/retry-pipeline=$(date +%s) --overwrite`.",
            if failed.is_empty() {
                "see the RaceSession status".to_string()
            } else {
                failed.join(", ")
            }
        )
    }
}

/// One POST of a JSON body; the status code, or why there was none.
async fn send(url: &str, body: &[u8]) -> Result<u16, String> {
    let client = crate::http::HttpClient::new()?;
    client
        .post(
            url,
            &[("content-type", "application/json")],
            body.to_vec(),
            Duration::from_secs(10),
        )
        .await
        .map(|a| a.status)
}

/// Posts `text` to `url`, retrying 5xx and connection errors up to `attempts` times with
/// doubling backoff from `backoff`. Returns the attempts used.
pub async fn post(
    url: &str,
    text: &str,
    attempts: u32,
    backoff: Duration,
) -> Result<u32, JobError> {
    let body = serde_json::to_vec(&serde_json::json!({ "text": text })).expect("serializes");
    let mut wait = backoff;
    let mut last = String::new();
    for attempt in 1..=attempts {
        match send(url, &body).await {
            Ok(code) if (200..300).contains(&code) => return Ok(attempt),
            Ok(code) if code >= 500 => last = format!("HTTP {code}"),
            Ok(code) => {
                return Err(JobError::Notify(format!(
                    "webhook refused the message: HTTP {code}"
                )));
            }
            Err(e) => last = e,
        }
        tracing::warn!(attempt, error = %last, "webhook delivery failed");
        if attempt < attempts {
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
    }
    Err(JobError::Notify(format!(
        "webhook unreachable after {attempts} attempts ({last})"
    )))
}

/// Runs the step: builds the message and delivers it (or only logs it without a URL).
pub async fn run(
    db: &Client,
    session: &str,
    message: &Message,
    webhook: Option<&str>,
) -> Result<String, JobError> {
    let text = match message {
        Message::Summary { report_url } => summary_text(db, session, report_url.as_deref()).await?,
        Message::Outcome {
            succeeded,
            failed_tasks,
            run_id,
        } => outcome_text(session, run_id, *succeeded, failed_tasks),
    };
    match webhook.filter(|u| !u.is_empty()) {
        Some(url) => {
            let n = post(url, &text, 4, Duration::from_millis(500)).await?;
            tracing::info!(attempts = n, "notification delivered");
        }
        None => tracing::info!(%text, "no webhook configured; notification logged only"),
    }
    Ok(text)
}
