//! What the report is drawn from, read once from PostgreSQL: the classification, every
//! lap with its flags (`lap_status`), the stints, stops, anomalies and team summary.
//! Public so that a test can draw a report of any race without a database.

use super::super::step::JobError;
use super::super::svg::Mark;
use tokio_postgres::Client;

/// The session's header.
pub struct Session {
    pub circuit: String,
    pub total_laps: Option<i32>,
    pub cars: Option<i32>,
}

/// A classified car, in finishing order.
pub struct Car {
    pub position: i64,
    pub car: i32,
    pub driver: String,
    pub team: String,
    pub laps: i64,
    pub best_lap_ms: Option<i32>,
    pub race_time_ms: Option<i64>,
}

/// A completed lap and how it counts (`lap_status`).
pub struct Lap {
    pub car: i32,
    pub lap: i32,
    pub lap_time_ms: i32,
    pub tyre_age: Option<i32>,
    /// Neither lap 1, an in- or out-lap, nor neutralised.
    pub green: bool,
    pub neutralised: bool,
}

pub struct Stint {
    pub car: i32,
    pub stint: i64,
    pub compound: String,
    pub first_lap: i32,
    pub last_lap: i32,
}

pub struct Stop {
    pub car: i32,
    pub lap: Option<i32>,
    pub stationary_ms: i64,
}

/// Anomalies of one severity on one lap (`None`: no lap known).
pub struct Anomalies {
    pub lap: Option<i32>,
    pub critical: bool,
    pub count: i64,
}

/// A row of `telemetry_team_summary` (written by the `aggregate` step).
pub struct TeamSummary {
    pub team: String,
    pub laps: i32,
    pub best_lap_ms: Option<i32>,
    pub median_lap_ms: Option<f64>,
    pub delta_to_ferrari_ms: Option<f64>,
    pub pit_stops: i32,
    pub mean_stationary_s: Option<f64>,
    pub best_stationary_s: Option<f64>,
    pub mean_pit_score: Option<f64>,
    pub anomalies: (i32, i32),
    pub top_speed_kph: Option<f32>,
}

pub struct Report {
    pub session_id: String,
    pub session: Session,
    pub cars: Vec<Car>,
    pub laps: Vec<Lap>,
    pub stints: Vec<Stint>,
    pub stops: Vec<Stop>,
    pub drive_throughs: i64,
    pub anomalies: Vec<Anomalies>,
    pub teams: Vec<TeamSummary>,
    /// The laps, stops and neutralisations the live strategy is computed from.
    pub strategy: crate::analytics::strategy::Race,
}

impl Report {
    /// The classified car with this number.
    pub fn car(&self, car: i32) -> Option<&Car> {
        self.cars.iter().find(|c| c.car == car)
    }

    /// Solid or dashed: the team's better classified car, or another.
    pub(crate) fn mark(&self, car: &Car) -> Mark {
        match self.cars.iter().find(|c| c.team == car.team) {
            Some(first) if first.car != car.car => Mark::Second,
            _ => Mark::First,
        }
    }

    /// Teams in the order of their best classified car.
    pub fn team_order(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for c in &self.cars {
            if !out.contains(&c.team.as_str()) {
                out.push(&c.team);
            }
        }
        out
    }
}

pub async fn load(db: &Client, session: &str) -> Result<Report, JobError> {
    let s = db
        .query_opt(
            "SELECT circuit, total_laps, cars FROM sessions WHERE session_id = $1",
            &[&session],
        )
        .await?
        .ok_or_else(|| JobError::NoSession(session.into()))?;
    // A session fed through the API has no start marker: no circuit, distance or grid size.
    let header = Session {
        circuit: s.get::<_, Option<String>>(0).unwrap_or_default(),
        total_laps: s.get(1),
        cars: s.get(2),
    };
    Ok(Report {
        session_id: session.into(),
        session: header,
        cars: cars(db, session).await?,
        laps: laps(db, session).await?,
        stints: stints(db, session).await?,
        stops: stops(db, session).await?,
        drive_throughs: db
            .query_one(
                "SELECT count(*) FROM drive_throughs WHERE session_id = $1",
                &[&session],
            )
            .await?
            .get(0),
        anomalies: anomalies(db, session).await?,
        teams: teams(db, session).await?,
        strategy: crate::processor::strategy_input::race(db, session)
            .await?
            .unwrap_or_default(),
    })
}

async fn cars(db: &Client, session: &str) -> Result<Vec<Car>, JobError> {
    let rows = db
        .query(
            "SELECT position, car, driver, team, laps, best_lap_ms, race_time_ms FROM classification
              WHERE session_id = $1 ORDER BY position",
            &[&session],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Car {
            position: r.get(0),
            car: r.get(1),
            driver: r.get(2),
            team: r.get(3),
            laps: r.get(4),
            best_lap_ms: r.get(5),
            race_time_ms: r.get(6),
        })
        .collect())
}

async fn laps(db: &Client, session: &str) -> Result<Vec<Lap>, JobError> {
    let rows = db
        .query(
            "SELECT car, lap, lap_time_ms, tyre_age, green, neutralised FROM lap_status
              WHERE session_id = $1 ORDER BY car, lap",
            &[&session],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Lap {
            car: r.get(0),
            lap: r.get(1),
            lap_time_ms: r.get(2),
            tyre_age: r.get(3),
            green: r.get(4),
            neutralised: r.get(5),
        })
        .collect())
}

async fn stints(db: &Client, session: &str) -> Result<Vec<Stint>, JobError> {
    let rows = db
        .query(
            "SELECT car, stint, compound, first_lap, last_lap FROM stints
              WHERE session_id = $1 ORDER BY car, stint",
            &[&session],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Stint {
            car: r.get(0),
            stint: r.get(1),
            compound: r.get(2),
            first_lap: r.get(3),
            last_lap: r.get(4),
        })
        .collect())
}

async fn stops(db: &Client, session: &str) -> Result<Vec<Stop>, JobError> {
    let rows = db
        .query(
            "SELECT car, lap, stationary_ms FROM pit_stops WHERE session_id = $1 ORDER BY car, entry_ms",
            &[&session],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Stop {
            car: r.get(0),
            lap: r.get(1),
            stationary_ms: r.get(2),
        })
        .collect())
}

async fn anomalies(db: &Client, session: &str) -> Result<Vec<Anomalies>, JobError> {
    let rows = db
        .query(
            "SELECT lap, severity = 'critical', count(*) FROM anomalies WHERE session_id = $1
              GROUP BY 1, 2 ORDER BY 1, 2",
            &[&session],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Anomalies {
            lap: r.get(0),
            critical: r.get(1),
            count: r.get(2),
        })
        .collect())
}

async fn teams(db: &Client, session: &str) -> Result<Vec<TeamSummary>, JobError> {
    let rows = db
        .query(
            "SELECT team, laps, best_lap_ms, median_lap_ms, pace_delta_to_ferrari_ms, pit_stops, mean_stationary_s,
                    best_stationary_s, mean_pit_score, anomalies_warning, anomalies_critical, top_speed_kph
               FROM telemetry_team_summary WHERE session_id = $1 ORDER BY median_lap_ms NULLS LAST",
            &[&session],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| TeamSummary {
            team: r.get(0),
            laps: r.get(1),
            best_lap_ms: r.get(2),
            median_lap_ms: r.get(3),
            delta_to_ferrari_ms: r.get(4),
            pit_stops: r.get(5),
            mean_stationary_s: r.get(6),
            best_stationary_s: r.get(7),
            mean_pit_score: r.get(8),
            anomalies: (r.get(9), r.get(10)),
            top_speed_kph: r.get(11),
        })
        .collect())
}
