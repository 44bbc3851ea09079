//! `data-quality`: checks the session's archived telemetry and derived tables against
//! thresholds, writes the report to `dq_reports` (one per run), and fails with the list
//! of violated checks when any threshold is broken.
//!
//! | check | fails when |
//! |---|---|
//! | `row_count` | laps rows < 90 % of total laps × cars, or the winner did not complete every lap |
//! | `telemetry_count` | archived samples differ from what the processor committed |
//! | `null_ratio` | more than 1 % of samples lack rpm, throttle or engine temperature although their car sends that channel (a feed without it, like live timing without temperatures, is not a dropout), or any value is NaN |
//! | `value_ranges` | a sample is physically impossible (speed outside 0–400 km/h, rpm outside 0–20 000, pedals outside 0–1, temperatures outside −30–1 500 °C) and no sensor fault was detected on that car at that moment |
//! | `monotonic_timestamps` | a car's timestamp goes backwards as its sequence number grows |
//! | `duplicates` | a car has two samples at the same timestamp, or two stops on one lap |
//! | `lap_completeness` | a car's laps are not 1, 2, … without gaps |
//! | `pit_stops_match_stints` | a car's stints are not its pit stops + 1 |

use super::step::JobError;
use crate::model::Channel;
use serde::Serialize;
use tokio_postgres::Client;

/// One check's outcome.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Check {
    pub name: &'static str,
    pub passed: bool,
    /// The measured figure (count or ratio).
    pub value: f64,
    pub threshold: f64,
    /// What was found, readable (which cars, which laps).
    pub detail: String,
}

/// The report of one run.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Report {
    pub passed: bool,
    pub checks: Vec<Check>,
}

impl Report {
    /// The violated checks, one line each (the task's failure message).
    pub fn violations(&self) -> String {
        self.checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// At most/at least `threshold`: a check passes when `value <= threshold` (or `>=` with `min`).
fn check(name: &'static str, value: f64, threshold: f64, min: bool, detail: String) -> Check {
    Check {
        name,
        passed: if min {
            value >= threshold
        } else {
            value <= threshold
        },
        value,
        threshold,
        detail,
    }
}

/// A list of findings, shortened for a message.
fn listed(items: Vec<String>) -> String {
    let n = items.len();
    let mut s = items.into_iter().take(5).collect::<Vec<_>>().join(", ");
    if n > 5 {
        s.push_str(&format!(" and {} more", n - 5));
    }
    s
}

pub async fn evaluate(db: &Client, session: &str) -> Result<Report, JobError> {
    // A session fed through the API has no start marker: its distance is the most laps
    // any car completed, its grid the cars that sent telemetry.
    let s = db
        .query_opt(
            "SELECT COALESCE(s.total_laps, (SELECT max(lap) FROM laps l WHERE l.session_id = s.session_id), 0),
                    COALESCE(s.cars, (SELECT count(*) FROM car_accounting a WHERE a.session_id = s.session_id)::int)
               FROM sessions s WHERE s.session_id = $1",
            &[&session],
        )
        .await?
        .ok_or_else(|| JobError::NoSession(session.into()))?;
    let (total_laps, cars): (i32, i32) = (s.get(0), s.get(1));
    let mut checks = Vec::new();

    // Row counts: lapped cars finish a lap or two short, the winner never does.
    let r = db
        .query_one(
            "SELECT count(*), COALESCE(max(n), 0), COALESCE(sum(n), 0)::bigint
               FROM (SELECT car, count(*) AS n FROM laps WHERE session_id = $1 GROUP BY car) c",
            &[&session],
        )
        .await?;
    let (rows, most, laps_rows): (i64, i64, i64) = (r.get(0), r.get(1), r.get(2));
    let expected = (total_laps as i64) * (cars as i64);
    let ratio = if expected > 0 {
        laps_rows as f64 / expected as f64
    } else {
        0.0
    };
    let mut c = check(
        "row_count",
        ratio,
        0.9,
        true,
        format!(
            "{laps_rows} laps of {expected} expected ({total_laps} laps × {cars} cars, {rows} cars timed); the winner completed {most}"
        ),
    );
    c.passed &= most == total_laps as i64;
    checks.push(c);

    let r = db
        .query_one(
            "SELECT COALESCE(sum(a.samples), 0)::bigint, (SELECT count(*) FROM telemetry_raw WHERE session_id = $1)
               FROM car_accounting a WHERE a.session_id = $1",
            &[&session],
        )
        .await?;
    let (committed, archived): (i64, i64) = (r.get(0), r.get(1));
    checks.push(check(
        "telemetry_count",
        (committed - archived).abs() as f64,
        0.0,
        false,
        format!("{archived} samples archived, {committed} committed by the processor"),
    ));

    let (rpm, throttle, engine) = (
        Channel::Rpm.bit() as i32,
        Channel::Throttle.bit() as i32,
        Channel::EngineTemp.bit() as i32,
    );
    let r = db
        .query_one(
            "SELECT count(*),
                    count(*) FILTER (WHERE (r.rpm IS NULL AND a.channels & $2 <> 0)
                                        OR (r.throttle IS NULL AND a.channels & $3 <> 0)
                                        OR (r.engine_temp_c IS NULL AND a.channels & $4 <> 0)),
                    count(*) FILTER (WHERE r.speed_kph = 'NaN'::real OR r.throttle = 'NaN'::real OR r.brake = 'NaN'::real OR r.engine_temp_c = 'NaN'::real)
               FROM telemetry_raw r JOIN car_accounting a ON a.session_id = r.session_id AND a.car = r.car
              WHERE r.session_id = $1",
            &[&session, &rpm, &throttle, &engine],
        )
        .await?;
    let (n, nulls, nans): (i64, i64, i64) = (r.get(0), r.get(1), r.get(2));
    let null_ratio = if n > 0 { nulls as f64 / n as f64 } else { 0.0 };
    let mut c = check(
        "null_ratio",
        null_ratio,
        0.01,
        false,
        format!("{nulls} of {n} samples lack a channel their car otherwise sends, {nans} are NaN"),
    );
    c.passed &= nans == 0;
    checks.push(c);

    // Impossible readings inside a sensor fault the processor detected (the fault's onset
    // to 2 s after) are explained glitches, reported but not failing; any other fails.
    let bad = db
        .query(
            "SELECT r.car, r.seq, r.speed_kph, r.rpm,
                    EXISTS (SELECT 1 FROM anomalies a WHERE a.session_id = r.session_id AND a.car = r.car
                              AND a.kind = 'sensor_fault' AND r.timestamp_ms BETWEEN a.detected_at_ms - 500 AND a.detected_at_ms + 2000)
               FROM telemetry_raw r
              WHERE r.session_id = $1 AND (r.speed_kph < 0 OR r.speed_kph > 400 OR r.rpm < 0 OR r.rpm > 20000
                 OR r.throttle < 0 OR r.throttle > 1 OR r.brake < 0 OR r.brake > 1
                 OR r.engine_temp_c < -30 OR r.engine_temp_c > 1500
                 OR EXISTS (SELECT 1 FROM unnest(r.tyre_surface_c || r.brake_temp_c) t WHERE t < -30 OR t > 1500))
              ORDER BY r.car, r.seq",
            &[&session],
        )
        .await?;
    let explained = bad.iter().filter(|r| r.get::<_, bool>(4)).count();
    let bad: Vec<_> = bad.into_iter().filter(|r| !r.get::<_, bool>(4)).collect();
    checks.push(check(
        "value_ranges",
        bad.len() as f64,
        0.0,
        false,
        if bad.is_empty() {
            format!(
                "every sample within physical limits ({explained} inside detected sensor faults)"
            )
        } else {
            format!(
                "{} impossible samples outside detected sensor faults: {}",
                bad.len(),
                listed(
                    bad.iter()
                        .map(|r| format!(
                            "car {} seq {} ({:.0} km/h, {} rpm)",
                            r.get::<_, i32>(0),
                            r.get::<_, i64>(1),
                            r.get::<_, Option<f32>>(2).unwrap_or(f32::NAN),
                            r.get::<_, Option<i32>>(3).unwrap_or(-1)
                        ))
                        .collect()
                )
            )
        },
    ));

    let back = db
        .query(
            "SELECT car, seq FROM (SELECT car, seq, timestamp_ms, lag(timestamp_ms) OVER (PARTITION BY car ORDER BY seq) AS prev
                                     FROM telemetry_raw WHERE session_id = $1) t
              WHERE timestamp_ms < prev ORDER BY car, seq",
            &[&session],
        )
        .await?;
    checks.push(check(
        "monotonic_timestamps",
        back.len() as f64,
        0.0,
        false,
        if back.is_empty() {
            "every car's clock moves forward".into()
        } else {
            format!(
                "time goes backwards at {}",
                listed(
                    back.iter()
                        .map(|r| format!("car {} seq {}", r.get::<_, i32>(0), r.get::<_, i64>(1)))
                        .collect()
                )
            )
        },
    ));

    let dups = db
        .query(
            "SELECT 'sample' AS what, car, timestamp_ms::text, count(*) FROM telemetry_raw WHERE session_id = $1
              GROUP BY car, timestamp_ms HAVING count(*) > 1
             UNION ALL
             SELECT 'stop', car, lap::text, count(*) FROM pit_stops WHERE session_id = $1
              GROUP BY car, lap HAVING count(*) > 1
             ORDER BY 2, 3",
            &[&session],
        )
        .await?;
    let dup_count: i64 = dups.iter().map(|r| r.get::<_, i64>(3) - 1).sum();
    checks.push(check(
        "duplicates",
        dup_count as f64,
        0.0,
        false,
        if dups.is_empty() {
            "no duplicate samples or stops".into()
        } else {
            format!(
                "{dup_count} duplicates: {}",
                listed(
                    dups.iter()
                        .map(|r| {
                            let what: String = r.get(0);
                            let at: String = r.get(2);
                            if what == "sample" {
                                format!("car {} at {at} ms", r.get::<_, i32>(1))
                            } else {
                                format!("car {} two stops on lap {at}", r.get::<_, i32>(1))
                            }
                        })
                        .collect()
                )
            )
        },
    ));

    let gaps = db
        .query(
            "SELECT car, count(*) AS have, max(lap) AS top, min(lap) AS first FROM laps WHERE session_id = $1
              GROUP BY car HAVING count(*) <> max(lap) OR min(lap) <> 1 ORDER BY car",
            &[&session],
        )
        .await?;
    checks.push(check(
        "lap_completeness",
        gaps.len() as f64,
        0.0,
        false,
        if gaps.is_empty() {
            "every car's laps are contiguous from lap 1".into()
        } else {
            format!(
                "laps missing for {}",
                listed(
                    gaps.iter()
                        .map(|r| format!(
                            "car {} ({} of laps {}–{})",
                            r.get::<_, i32>(0),
                            r.get::<_, i64>(1),
                            r.get::<_, i32>(3),
                            r.get::<_, i32>(2)
                        ))
                        .collect()
                )
            )
        },
    ));

    let mismatched = db
        .query(
            "SELECT s.car, s.stints, COALESCE(p.stops, 0) FROM
               (SELECT car, count(*) AS stints FROM stints WHERE session_id = $1 GROUP BY car) s
               LEFT JOIN (SELECT car, count(*) AS stops FROM pit_stops WHERE session_id = $1 GROUP BY car) p ON p.car = s.car
              WHERE s.stints <> COALESCE(p.stops, 0) + 1 ORDER BY s.car",
            &[&session],
        )
        .await?;
    checks.push(check(
        "pit_stops_match_stints",
        mismatched.len() as f64,
        0.0,
        false,
        if mismatched.is_empty() {
            "every car has one stint more than stops".into()
        } else {
            listed(
                mismatched
                    .iter()
                    .map(|r| {
                        format!(
                            "car {}: {} stints but {} stops",
                            r.get::<_, i32>(0),
                            r.get::<_, i64>(1),
                            r.get::<_, i64>(2)
                        )
                    })
                    .collect(),
            )
        },
    ));

    Ok(Report {
        passed: checks.iter().all(|c| c.passed),
        checks,
    })
}

/// Runs the checks, stores the report for `run_id`, and fails when a check does.
pub async fn run(db: &Client, session: &str, run_id: &str) -> Result<Report, JobError> {
    let report = evaluate(db, session).await?;
    let json = serde_json::to_value(&report.checks).expect("serializes");
    db.execute(
        "INSERT INTO dq_reports (session_id, run_id, passed, checks) VALUES ($1, $2, $3, $4)
         ON CONFLICT (session_id, run_id) DO UPDATE SET passed = EXCLUDED.passed, checks = EXCLUDED.checks, checked_at = now()",
        &[&session, &run_id, &report.passed, &json],
    )
    .await?;
    if report.passed {
        Ok(report)
    } else {
        Err(JobError::Quality(report.violations()))
    }
}
