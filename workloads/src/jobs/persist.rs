//! `persist-teams --team <team>`: copies one team's laps, stints, pit stops and anomalies
//! of the session into that team's list partitions (`team_laps_<team>` …), replacing
//! what an earlier attempt wrote in one transaction. The default DAG fans out one task
//! per team of the race's grid; a team with no car in the session succeeds with nothing
//! to write.

use super::sql::{ident_suffix, literal};
use super::step::JobError;
use crate::processor::strategy_input::stint_fits;
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

/// Rows written per table.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Persisted {
    /// The team has no car in the session: nothing was written.
    pub absent: bool,
    pub laps: u64,
    pub stints: u64,
    pub pit_stops: u64,
    pub anomalies: u64,
}

const TABLES: [&str; 4] = [
    "team_laps",
    "team_stints",
    "team_pit_stops",
    "team_anomalies",
];

async fn ensure_partitions(db: &Client, team: &str) -> Result<(), JobError> {
    for table in TABLES {
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {table}_{} PARTITION OF {table} FOR VALUES IN ({})",
            ident_suffix(team),
            literal(team)
        );
        match db.batch_execute(&sql).await {
            Ok(()) => {}
            Err(e) if e.code() == Some(&SqlState::DUPLICATE_TABLE) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

pub async fn run(db: &mut Client, session: &str, team: &str) -> Result<Persisted, JobError> {
    let known: i64 = db
        .query_one(
            "SELECT count(*) FROM car_accounting WHERE session_id = $1 AND team = $2",
            &[&session, &team],
        )
        .await?
        .get(0);
    if known == 0 {
        // A team of the race's grid that sent nothing (a league team that did not show
        // up, a game or OpenF1 session with other teams): nothing to copy, and no reason
        // to fail the steps after this one.
        return Ok(Persisted {
            absent: true,
            ..Persisted::default()
        });
    }
    ensure_partitions(db, team).await?;
    // The view's stints with the strategy's degradation (fuel-corrected, robust, null
    // when the stint says nothing), as /stints serves them.
    let fits = stint_fits(db, session).await?;
    let tx = db.transaction().await?;
    for table in TABLES {
        tx.execute(
            &format!("DELETE FROM {table} WHERE session_id = $1 AND team = $2"),
            &[&session, &team],
        )
        .await?;
    }
    let p = Persisted {
        absent: false,
        laps: tx
            .execute(
                "INSERT INTO team_laps SELECT * FROM laps WHERE session_id = $1 AND team = $2",
                &[&session, &team],
            )
            .await?,
        stints: tx
            .execute(
                "INSERT INTO team_stints (session_id, car, driver, team, stint, compound, first_lap, last_lap, laps, mean_lap_ms, degradation_ms_per_lap)
                 SELECT session_id, car, driver, team, stint, compound, first_lap, last_lap, laps, mean_lap_ms, NULL
                   FROM stints WHERE session_id = $1 AND team = $2",
                &[&session, &team],
            )
            .await?,
        pit_stops: tx
            .execute(
                "INSERT INTO team_pit_stops SELECT * FROM pit_stops WHERE session_id = $1 AND team = $2",
                &[&session, &team],
            )
            .await?,
        anomalies: tx
            .execute(
                "INSERT INTO team_anomalies SELECT * FROM anomalies WHERE session_id = $1 AND team = $2",
                &[&session, &team],
            )
            .await?,
    };
    // One statement for every fitted stint; a stint the strategy split elsewhere (same
    // first lap, another last lap) keeps its NULL.
    let mut fitted: (Vec<i32>, Vec<i32>, Vec<i32>, Vec<f64>) = Default::default();
    for (&(car, first), (last, fit)) in &fits.0 {
        if let Ok(f) = fit {
            fitted.0.push(car);
            fitted.1.push(first);
            fitted.2.push(*last);
            fitted.3.push(f.ms_per_lap);
        }
    }
    tx.execute(
        "UPDATE team_stints t SET degradation_ms_per_lap = f.slope
           FROM unnest($3::int[], $4::int[], $5::int[], $6::float8[]) AS f(car, first_lap, last_lap, slope)
          WHERE t.session_id = $1 AND t.team = $2
            AND t.car = f.car AND t.first_lap = f.first_lap AND t.last_lap = f.last_lap",
        &[&session, &team, &fitted.0, &fitted.1, &fitted.2, &fitted.3],
    )
    .await?;
    tx.commit().await?;
    Ok(p)
}
