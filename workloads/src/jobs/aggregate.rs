//! `aggregate`: fills `telemetry_team_summary` (one row per session and team) and
//! `telemetry_driver_summary` (one per car) from the session's laps, stints, pit stops and
//! anomalies, replacing an earlier attempt's rows in one transaction. Green laps (the
//! `lap_status` view: not lap 1, not in- or out-laps, not under a safety car) give best and
//! median lap; the pace delta is the team's median green lap minus Ferrari's; pit-stop
//! scores use the processor's formula.

use super::step::JobError;
use crate::analytics::scoring;
use crate::processor::strategy_input::stint_fits;
use serde_json::json;
use std::collections::BTreeMap;
use tokio_postgres::Client;

/// One team's summary as written.
#[derive(Clone, Debug, PartialEq)]
pub struct TeamSummary {
    pub team: String,
    pub laps: i32,
    pub best_lap_ms: Option<i32>,
    pub median_lap_ms: Option<f64>,
    pub pace_delta_to_ferrari_ms: Option<f64>,
    pub pit_stops: i32,
    pub mean_stationary_s: Option<f64>,
    pub best_stationary_s: Option<f64>,
    pub mean_pit_score: Option<f64>,
    pub anomalies_warning: i32,
    pub anomalies_critical: i32,
    pub top_speed_kph: Option<f32>,
    pub tyre_degradation: serde_json::Value,
}

fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

pub async fn compute(db: &Client, session: &str) -> Result<Vec<TeamSummary>, JobError> {
    let teams = db
        .query(
            "WITH green AS (SELECT * FROM lap_status WHERE session_id = $1 AND green)
             SELECT a.team,
                    (SELECT count(*) FROM laps l WHERE l.session_id = $1 AND l.team = a.team)::int,
                    (SELECT min(lap_time_ms) FROM green g WHERE g.team = a.team),
                    (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lap_time_ms) FROM green g WHERE g.team = a.team),
                    (SELECT count(*) FROM anomalies x WHERE x.session_id = $1 AND x.team = a.team AND x.severity = 'warning')::int,
                    (SELECT count(*) FROM anomalies x WHERE x.session_id = $1 AND x.team = a.team AND x.severity = 'critical')::int,
                    (SELECT max(top_speed_kph) FROM laps l WHERE l.session_id = $1 AND l.team = a.team)
               FROM (SELECT DISTINCT team FROM car_accounting WHERE session_id = $1) a ORDER BY a.team",
            &[&session],
        )
        .await?;
    if teams.is_empty() {
        return Err(JobError::NoSession(session.into()));
    }
    // Pit stops scored against the field's and the team's best, as the processor's API does.
    let stops = db
        .query(
            "SELECT team, stationary_ms, min(stationary_ms) OVER (), min(stationary_ms) OVER (PARTITION BY team)
               FROM pit_stops WHERE session_id = $1",
            &[&session],
        )
        .await?;
    let mut by_team: BTreeMap<String, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for r in &stops {
        let t = r.get::<_, i64>(1) as f64 / 1000.0;
        let score = scoring::score(
            t,
            r.get::<_, i64>(2) as f64 / 1000.0,
            r.get::<_, i64>(3) as f64 / 1000.0,
        );
        let e = by_team.entry(r.get(0)).or_default();
        e.0.push(t);
        e.1.push(score);
    }
    let stints = db
        .query(
            "SELECT team, car, driver, stint, compound, laps, first_lap, last_lap FROM stints
              WHERE session_id = $1 ORDER BY car, stint",
            &[&session],
        )
        .await?;
    let fits = stint_fits(db, session).await?;
    let ferrari_median: Option<f64> = teams
        .iter()
        .find(|r| r.get::<_, String>(0) == "Ferrari")
        .and_then(|r| r.get(3));
    Ok(teams
        .iter()
        .map(|r| {
            let team: String = r.get(0);
            let (times, scores) = by_team.remove(&team).unwrap_or_default();
            let median: Option<f64> = r.get(3);
            TeamSummary {
                laps: r.get(1),
                best_lap_ms: r.get(2),
                median_lap_ms: median,
                pace_delta_to_ferrari_ms: ferrari_median.zip(median).map(|(f, m)| m - f),
                pit_stops: times.len() as i32,
                mean_stationary_s: mean(&times),
                best_stationary_s: times.iter().copied().reduce(f64::min),
                mean_pit_score: mean(&scores),
                anomalies_warning: r.get(4),
                anomalies_critical: r.get(5),
                top_speed_kph: r.get(6),
                tyre_degradation: json!(
                    stints
                        .iter()
                        .filter(|s| s.get::<_, String>(0) == team)
                        .map(|s| {
                            let fit = fits.get(s.get(1), s.get(6), s.get(7));
                            let fitted = fit.ok();
                            json!({
                                "car": s.get::<_, i32>(1),
                                "driver": s.get::<_, String>(2),
                                "stint": s.get::<_, i64>(3),
                                "compound": s.get::<_, String>(4),
                                "laps": s.get::<_, i64>(5),
                                "degradation_ms_per_lap": fitted.map(|f| f.ms_per_lap),
                                "degradation_ci95_ms_per_lap": fitted.map(|f| f.ci95_ms_per_lap),
                                "degradation_hidden": fit.err(),
                            })
                        })
                        .collect::<Vec<_>>()
                ),
                team,
            }
        })
        .collect())
}

/// Computes and stores both summaries; returns the team rows.
pub async fn run(db: &mut Client, session: &str) -> Result<Vec<TeamSummary>, JobError> {
    let summary = compute(db, session).await?;
    let tx = db.transaction().await?;
    tx.execute(
        "DELETE FROM telemetry_team_summary WHERE session_id = $1",
        &[&session],
    )
    .await?;
    for t in &summary {
        tx.execute(
            "INSERT INTO telemetry_team_summary (session_id, team, laps, best_lap_ms, median_lap_ms, pace_delta_to_ferrari_ms,
                 pit_stops, mean_stationary_s, best_stationary_s, mean_pit_score, anomalies_warning, anomalies_critical,
                 top_speed_kph, tyre_degradation)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            &[
                &session,
                &t.team,
                &t.laps,
                &t.best_lap_ms,
                &t.median_lap_ms,
                &t.pace_delta_to_ferrari_ms,
                &t.pit_stops,
                &t.mean_stationary_s,
                &t.best_stationary_s,
                &t.mean_pit_score,
                &t.anomalies_warning,
                &t.anomalies_critical,
                &t.top_speed_kph,
                &t.tyre_degradation,
            ],
        )
        .await?;
    }
    tx.execute(
        "DELETE FROM telemetry_driver_summary WHERE session_id = $1",
        &[&session],
    )
    .await?;
    tx.execute(
        "INSERT INTO telemetry_driver_summary (session_id, car, driver, team, position, laps, best_lap_ms, median_lap_ms,
             pit_stops, best_stationary_s, anomalies, top_speed_kph)
         SELECT c.session_id, c.car, c.driver, c.team, c.position::int, c.laps::int, c.best_lap_ms,
                (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lap_time_ms) FROM lap_status l
                  WHERE l.session_id = c.session_id AND l.car = c.car AND l.green),
                (SELECT count(*) FROM pit_stops p WHERE p.session_id = c.session_id AND p.car = c.car)::int,
                (SELECT min(stationary_ms)::float8 / 1000 FROM pit_stops p WHERE p.session_id = c.session_id AND p.car = c.car),
                (SELECT count(*) FROM anomalies a WHERE a.session_id = c.session_id AND a.car = c.car)::int,
                (SELECT max(top_speed_kph) FROM laps l WHERE l.session_id = c.session_id AND l.car = c.car)
           FROM classification c WHERE c.session_id = $1",
        &[&session],
    )
    .await?;
    tx.commit().await?;
    Ok(summary)
}
