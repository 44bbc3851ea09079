//! Read side of the API: race progress, classification, laps, stints, pit stops with
//! scores, anomalies and team performance, computed from what the processor committed.

use crate::analytics::scoring;
use crate::model::{Channel, Channels};
use crate::processor::strategy_input::{StintFits, stint_fits};
use serde::Serialize;
use tokio_postgres::Client;

type Result<T> = std::result::Result<T, tokio_postgres::Error>;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionSummary {
    pub session_id: String,
    #[schema(required = true)]
    pub circuit: Option<String>,
    #[schema(required = true)]
    pub total_laps: Option<i32>,
    pub lap: i32,
    pub finished: bool,
    pub samples_processed: i64,
    /// The race clock's origin, ms since the epoch (null for a session not yet started).
    #[schema(required = true)]
    pub started_at_ms: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionDetail {
    #[serde(flatten)]
    pub summary: SessionSummary,
    #[schema(required = true)]
    pub leader: Option<ClassifiedCar>,
    pub cars: i64,
    /// Samples the producer reported at the chequered flag (null until then).
    #[schema(required = true)]
    pub samples_published: Option<i64>,
    pub pit_stops: i64,
    pub anomalies: i64,
    pub laps_recorded: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ClassifiedCar {
    pub position: usize,
    pub car: i32,
    pub driver: String,
    pub team: String,
    pub laps: i64,
    #[schema(required = true)]
    pub best_lap_ms: Option<i32>,
    /// Race time at the last line crossing, ms.
    #[schema(required = true)]
    pub race_time_ms: Option<i64>,
    /// "+12.345 s", "+1 lap", "DNF" for a car that stopped before the flag, or "" for
    /// the leader.
    pub gap: String,
    /// Did not finish: see [`did_not_finish`].
    pub dnf: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScoredStop {
    pub car: i32,
    pub driver: String,
    pub team: String,
    /// The in-lap: the lap on which the car entered the pit lane.
    #[schema(required = true)]
    pub lap: Option<i32>,
    pub stationary_s: f64,
    pub pit_lane_s: f64,
    /// Null when no source says which compound was fitted.
    #[schema(required = true)]
    pub compound_in: Option<String>,
    #[schema(required = true)]
    pub compound_out: Option<String>,
    pub score: f64,
    pub slow: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AnomalyRow {
    pub car: i32,
    pub driver: String,
    pub team: String,
    #[schema(required = true)]
    pub lap: Option<i32>,
    pub kind: String,
    pub severity: String,
    pub detector: String,
    pub channel: String,
    pub value: f32,
    pub expected_low: f32,
    pub expected_high: f32,
    pub detected_at_ms: i64,
}

/// A car's run on one set of tyres (the `stints` view): a new stint starts after each
/// stop's in-lap and wherever the compound changes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = StintRow)]
pub struct Stint {
    pub car: i32,
    pub driver: String,
    pub team: String,
    /// 1 for the first stint of the car.
    pub stint: i64,
    /// The compound of most of its laps, `unknown` when no source says.
    pub compound: String,
    pub first_lap: i32,
    pub last_lap: i32,
    pub laps: i64,
    /// Mean green lap of the stint, ms.
    #[schema(required = true)]
    pub mean_lap_ms: Option<f64>,
    /// Lap-time increase per lap of tyre age, fuel-corrected, from the stint's green laps
    /// (robust to traffic: the live strategy's fit, docs/strategy.md), ms; null when the
    /// stint says nothing (`degradation_hidden` says why).
    #[schema(required = true)]
    pub degradation_ms_per_lap: Option<f64>,
    /// Half-width of the 95% interval of `degradation_ms_per_lap`, ms.
    #[schema(required = true)]
    pub degradation_ci95_ms_per_lap: Option<f64>,
    /// Why there is no degradation: too few green laps, too scattered.
    #[schema(required = true)]
    pub degradation_hidden: Option<String>,
}

impl Stint {
    /// Takes the degradation from the strategy's fit of this stint.
    fn fitted(mut self, fits: &StintFits) -> Stint {
        let fit = fits.get(self.car, self.first_lap, self.last_lap);
        self.degradation_ms_per_lap = fit.ok().map(|f| f.ms_per_lap);
        self.degradation_ci95_ms_per_lap = fit.ok().map(|f| f.ci95_ms_per_lap);
        self.degradation_hidden = fit.err().map(str::to_string);
        self
    }
}

/// One lap of one car (the `lap_status` view).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LapRow {
    pub car: i32,
    pub driver: String,
    pub team: String,
    pub lap: i32,
    pub lap_time_ms: i32,
    /// Null where the feed has no sector channel.
    pub sectors_ms: [Option<i32>; 3],
    /// The compound of most of the lap, null when no source says.
    #[schema(required = true)]
    pub compound: Option<String>,
    #[schema(required = true)]
    pub tyre_age: Option<i32>,
    /// Position at the end of the lap, null when no source says.
    #[schema(required = true)]
    pub position: Option<i32>,
    /// When the lap ended (the line crossing), ms since the epoch.
    pub crossed_at_ms: i64,
    /// A pit visit began on it (the lap a stop belongs to).
    pub in_lap: bool,
    /// A pit visit ended on it.
    pub out_lap: bool,
    /// The lap overlaps a safety-car, virtual-safety-car or red-flag period of the
    /// session's events (`POST /api/v1/sessions/{id}/events`), or the field's median on
    /// this lap is more than 10% slower than the session's median racing lap (a
    /// neutralisation no event reported).
    pub neutralised: bool,
    /// None of the above and not lap 1: the laps pace and degradation are computed from.
    pub green: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TeamPerformance {
    pub team: String,
    pub laps: i64,
    #[schema(required = true)]
    pub best_lap_ms: Option<i32>,
    #[schema(required = true)]
    pub median_lap_ms: Option<f64>,
    pub best_sectors_ms: [Option<i32>; 3],
    #[schema(required = true)]
    pub top_speed_kph: Option<f32>,
    /// Median green lap minus Ferrari's, ms (negative = faster than Ferrari).
    #[schema(required = true)]
    pub gap_to_ferrari_ms: Option<f64>,
    pub pit_stops: i64,
    #[schema(required = true)]
    pub mean_stationary_s: Option<f64>,
    #[schema(required = true)]
    pub best_stationary_s: Option<f64>,
    pub anomalies: i64,
    pub stints: Vec<Stint>,
}

fn summary(r: &tokio_postgres::Row) -> SessionSummary {
    SessionSummary {
        session_id: r.get(0),
        circuit: r.get(1),
        total_laps: r.get(2),
        finished: r.get(3),
        samples_processed: r.get(4),
        lap: r.get(5),
        started_at_ms: r.get(6),
    }
}

/// One definition of a session's summary for the list and for the session itself. The
/// lap is the leader's, at most the race distance: the sample that closes the last lap
/// belongs to the lap after it (a leader on lap 11 of 10 has finished lap 10).
const SUMMARY: &str = "SELECT s.session_id, s.circuit, s.total_laps,
       COALESCE((SELECT count(*) >= max(e.partitions) FROM session_partition_ends e WHERE e.session_id = s.session_id), false),
       COALESCE((SELECT sum(samples) FROM car_accounting a WHERE a.session_id = s.session_id), 0)::bigint,
       LEAST(COALESCE((SELECT max(last_lap) FROM car_accounting a WHERE a.session_id = s.session_id), 0), s.total_laps)::int,
       s.started_at_ms
  FROM sessions s";

pub async fn sessions(db: &Client) -> Result<Vec<SessionSummary>> {
    let rows = db
        .query(
            &format!("{SUMMARY} ORDER BY s.created_at DESC LIMIT 200"),
            &[],
        )
        .await?;
    Ok(rows.iter().map(summary).collect())
}

/// Waits until the session is finished (every partition committed its chequered flag),
/// polling the same definition the API reports.
pub async fn wait_finished(
    db: &Client,
    id: &str,
    timeout: std::time::Duration,
) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if session(db, id).await?.is_some_and(|s| s.summary.finished) {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            anyhow::bail!("session {id} not finished after {timeout:?}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

pub async fn session(db: &Client, id: &str) -> Result<Option<SessionDetail>> {
    let Some(row) = db
        .query_opt(&format!("{SUMMARY} WHERE s.session_id = $1"), &[&id])
        .await?
    else {
        return Ok(None);
    };
    let counts = db
        .query_one(
            "SELECT (SELECT count(*) FROM car_accounting WHERE session_id = $1),
                    (SELECT sum((c->>'samples')::bigint) FROM session_partition_ends e, jsonb_array_elements(e.published) c WHERE e.session_id = $1)::bigint,
                    (SELECT count(*) FROM pit_stops WHERE session_id = $1),
                    (SELECT count(*) FROM anomalies WHERE session_id = $1),
                    (SELECT count(*) FROM laps WHERE session_id = $1)",
            &[&id],
        )
        .await?;
    let leader = classification(db, id).await?.into_iter().next();
    Ok(Some(SessionDetail {
        summary: summary(&row),
        leader,
        cars: counts.get(0),
        samples_published: counts.get(1),
        pit_stops: counts.get(2),
        anomalies: counts.get(3),
        laps_recorded: counts.get(4),
    }))
}

/// How long before the winner's finish a car's data must end for it to count as
/// stopped. A lapped car still running is on track when the winner takes the flag (it
/// takes its own at its next crossing), so its data reaches that instant; the margin
/// is more than any feed's gap between samples (the analytics break a car's data at 2 s)
/// and far less than a lap.
pub const DNF_MARGIN_MS: i64 = 5_000;

/// A car did not finish when the session is finished, it completed fewer laps than the
/// winner, and its data ends more than [`DNF_MARGIN_MS`] before the winner crossed the
/// line for the last time: it stopped before the flag (a retirement, a crash, a car
/// withdrawn) instead of running on to take it a lap or more down. Undecided, so `false`,
/// while the session runs or when the winner has no timed lap (a feed without laps).
pub fn did_not_finish(
    finished: bool,
    winner_laps: i64,
    winner_finish_ms: Option<i64>,
    laps: i64,
    last_sample_ms: i64,
) -> bool {
    match winner_finish_ms {
        Some(flag) if finished && winner_laps > 0 => {
            laps < winner_laps && last_sample_ms < flag - DNF_MARGIN_MS
        }
        _ => false,
    }
}

/// Order: most laps first, then earliest crossing of the last completed lap. Gaps to the
/// leader in seconds or laps; a car that did not finish ([`did_not_finish`]) keeps its
/// place by laps and says `DNF`.
pub async fn classification(db: &Client, id: &str) -> Result<Vec<ClassifiedCar>> {
    let rows = db
        .query(
            "SELECT c.car, c.driver, c.team, c.laps, c.best_lap_ms, c.race_time_ms, a.last_ts_ms,
                    (SELECT max(crossed_at_ms) FROM laps l WHERE l.session_id = c.session_id AND l.car = c.car),
                    COALESCE((SELECT count(*) >= max(e.partitions) FROM session_partition_ends e WHERE e.session_id = c.session_id), false)
               FROM classification c
               JOIN car_accounting a ON a.session_id = c.session_id AND a.car = c.car
              WHERE c.session_id = $1 ORDER BY c.position",
            &[&id],
        )
        .await?;
    let finished = rows.first().is_some_and(|r| r.get::<_, bool>(8));
    let winner: Option<(i64, Option<i64>)> = rows.first().map(|r| (r.get(3), r.get(7)));
    let leader = match rows.first() {
        Some(r) => leader_crossings(db, id, r.get(0)).await?,
        None => Vec::new(),
    };
    let mut out: Vec<ClassifiedCar> = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let laps: i64 = r.get(3);
        let time: Option<i64> = r.get(5);
        let dnf = winner.is_some_and(|(winner_laps, flag)| {
            did_not_finish(finished, winner_laps, flag, laps, r.get(6))
        });
        let gap = match out.first() {
            None => String::new(),
            _ if dnf => "DNF".into(),
            Some(_) => gap_to_leader(&leader, laps, time),
        };
        out.push(ClassifiedCar {
            position: i + 1,
            car: r.get(0),
            driver: r.get(1),
            team: r.get(2),
            laps,
            best_lap_ms: r.get(4),
            race_time_ms: time,
            gap,
            dnf,
        });
    }
    Ok(out)
}

/// The leader's line crossings in race time (ms from the race clock's origin), in order:
/// its n-th is when it completed n laps.
async fn leader_crossings(db: &Client, id: &str, car: i32) -> Result<Vec<i64>> {
    let rows = db
        .query(
            "SELECT l.crossed_at_ms - s.started_at_ms FROM laps l
               JOIN sessions s ON s.session_id = l.session_id
              WHERE l.session_id = $1 AND l.car = $2 AND s.started_at_ms IS NOT NULL
              ORDER BY l.crossed_at_ms",
            &[&id, &car],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// A car's gap to the leader, as timing screens give it: against the leader's crossing
/// of the same lap, in seconds; in laps only when the leader had completed more laps than
/// the car by the time the car crossed (lapped). Counting laps alone would call every car
/// a lap down from the leader's crossing until its own, a few seconds later.
fn gap_to_leader(leader: &[i64], laps: i64, race_time_ms: Option<i64>) -> String {
    let ahead_then = match race_time_ms {
        Some(t) => leader.partition_point(|&c| c < t),
        None => leader.len(),
    };
    let down = ahead_then as i64 - laps;
    if down >= 1 {
        return format!("+{down} lap{}", if down == 1 { "" } else { "s" });
    }
    let same_lap = usize::try_from(laps - 1).ok().and_then(|i| leader.get(i));
    match (same_lap, race_time_ms) {
        (Some(a), Some(b)) => format!("+{:.3} s", (b - a) as f64 / 1000.0),
        _ => String::new(),
    }
}

/// Every lap of the session (or of one car), in car and lap order, with what it was.
pub async fn laps(db: &Client, id: &str, car: Option<i32>) -> Result<Vec<LapRow>> {
    let rows = db
        .query(
            "SELECT car, driver, team, lap, lap_time_ms, s1_ms, s2_ms, s3_ms, compound, tyre_age, position,
                    crossed_at_ms, pit_in, pit_out, neutralised, green
               FROM lap_status WHERE session_id = $1 AND ($2::int IS NULL OR car = $2)
              ORDER BY car, lap",
            &[&id, &car],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| LapRow {
            car: r.get(0),
            driver: r.get(1),
            team: r.get(2),
            lap: r.get(3),
            lap_time_ms: r.get(4),
            sectors_ms: [r.get(5), r.get(6), r.get(7)],
            compound: r.get(8),
            tyre_age: r.get(9),
            position: r.get(10),
            crossed_at_ms: r.get(11),
            in_lap: r.get(12),
            out_lap: r.get(13),
            neutralised: r.get(14),
            green: r.get(15),
        })
        .collect())
}

/// Every stint of the session (or of one car), in car and stint order.
pub async fn stints(db: &Client, id: &str, car: Option<i32>) -> Result<Vec<Stint>> {
    let rows = db
        .query(
            "SELECT car, driver, team, stint, compound, first_lap, last_lap, laps, mean_lap_ms
               FROM stints WHERE session_id = $1 AND ($2::int IS NULL OR car = $2)
              ORDER BY car, stint",
            &[&id, &car],
        )
        .await?;
    let fits = stint_fits(db, id).await?;
    Ok(rows
        .iter()
        .map(|r| {
            Stint {
                car: r.get(0),
                driver: r.get(1),
                team: r.get(2),
                stint: r.get(3),
                compound: r.get(4),
                first_lap: r.get(5),
                last_lap: r.get(6),
                laps: r.get(7),
                mean_lap_ms: r.get(8),
                degradation_ms_per_lap: None,
                degradation_ci95_ms_per_lap: None,
                degradation_hidden: None,
            }
            .fitted(&fits)
        })
        .collect())
}

/// Every stop of the session, scored against the session's and the team's best stop.
pub async fn pit_stops(db: &Client, id: &str) -> Result<Vec<ScoredStop>> {
    let rows = db
        .query(
            "SELECT car, driver, team, lap, stationary_ms, pit_lane_ms, compound_in, compound_out,
                    min(stationary_ms) OVER (), min(stationary_ms) OVER (PARTITION BY team)
               FROM pit_stops WHERE session_id = $1 ORDER BY entry_ms",
            &[&id],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let t = r.get::<_, i64>(4) as f64 / 1000.0;
            let field = r.get::<_, i64>(8) as f64 / 1000.0;
            let team = r.get::<_, i64>(9) as f64 / 1000.0;
            ScoredStop {
                car: r.get(0),
                driver: r.get(1),
                team: r.get(2),
                lap: r.get(3),
                stationary_s: t,
                pit_lane_s: r.get::<_, i64>(5) as f64 / 1000.0,
                compound_in: r.get(6),
                compound_out: r.get(7),
                score: scoring::score(t, field, team),
                slow: scoring::is_slow(t),
            }
        })
        .collect())
}

pub async fn anomalies(
    db: &Client,
    id: &str,
    car: Option<i32>,
    kind: Option<&str>,
) -> Result<Vec<AnomalyRow>> {
    let rows = db
        .query(
            "SELECT car, driver, team, lap, kind, severity, detector, channel, value, expected_low, expected_high, detected_at_ms
               FROM anomalies WHERE session_id = $1 AND ($2::int IS NULL OR car = $2) AND ($3::text IS NULL OR kind = $3)
              ORDER BY detected_at_ms LIMIT 5000",
            &[&id, &car, &kind],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| AnomalyRow {
            car: r.get(0),
            driver: r.get(1),
            team: r.get(2),
            lap: r.get(3),
            kind: r.get(4),
            severity: r.get(5),
            detector: r.get(6),
            channel: r.get(7),
            value: r.get(8),
            expected_low: r.get(9),
            expected_high: r.get(10),
            detected_at_ms: r.get(11),
        })
        .collect())
}

/// Per-team lap statistics, best sectors, stints with degradation, gap to Ferrari, for
/// every team that sent telemetry (a feed without laps still has its stops and anomalies).
/// Green laps (the `lap_status` view) exclude lap 1, in-laps, out-laps and laps under a
/// safety car.
pub async fn teams(db: &Client, id: &str) -> Result<Vec<TeamPerformance>> {
    let rows = db
        .query(
            "WITH green AS (SELECT * FROM lap_status WHERE session_id = $1 AND green)
             SELECT t.team, t.laps,
                    (SELECT min(lap_time_ms) FROM green g WHERE g.team = t.team),
                    (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lap_time_ms) FROM green g WHERE g.team = t.team),
                    (SELECT min(s1_ms) FROM green g WHERE g.team = t.team),
                    (SELECT min(s2_ms) FROM green g WHERE g.team = t.team),
                    (SELECT min(s3_ms) FROM green g WHERE g.team = t.team),
                    t.top,
                    (SELECT count(*) FROM pit_stops p WHERE p.session_id = $1 AND p.team = t.team),
                    (SELECT avg(stationary_ms)::float8 / 1000 FROM pit_stops p WHERE p.session_id = $1 AND p.team = t.team),
                    (SELECT min(stationary_ms)::float8 / 1000 FROM pit_stops p WHERE p.session_id = $1 AND p.team = t.team),
                    (SELECT count(*) FROM anomalies a WHERE a.session_id = $1 AND a.team = t.team)
               FROM (SELECT a.team, COALESCE(l.laps, 0) AS laps, l.top
                       FROM (SELECT DISTINCT team FROM car_accounting WHERE session_id = $1) a
                       LEFT JOIN (SELECT team, count(*) AS laps, max(top_speed_kph) AS top FROM laps
                                   WHERE session_id = $1 GROUP BY team) l ON l.team = a.team) t
              ORDER BY 4 NULLS LAST, 1",
            &[&id],
        )
        .await?;
    let mut stints = stints(db, id, None).await?;
    let mut out: Vec<TeamPerformance> = rows
        .iter()
        .map(|r| TeamPerformance {
            team: r.get(0),
            laps: r.get(1),
            best_lap_ms: r.get(2),
            median_lap_ms: r.get(3),
            best_sectors_ms: [r.get(4), r.get(5), r.get(6)],
            top_speed_kph: r.get(7),
            gap_to_ferrari_ms: None,
            pit_stops: r.get(8),
            mean_stationary_s: r.get(9),
            best_stationary_s: r.get(10),
            anomalies: r.get(11),
            stints: Vec::new(),
        })
        .collect();
    let ferrari = out
        .iter()
        .find(|t| t.team == "Ferrari")
        .and_then(|t| t.median_lap_ms);
    for t in &mut out {
        t.gap_to_ferrari_ms = ferrari.zip(t.median_lap_ms).map(|(f, m)| (m - f).round());
        let (theirs, rest) = stints.into_iter().partition(|s| s.team == t.team);
        t.stints = theirs;
        stints = rest;
    }
    Ok(out)
}

/// An analytic a car is skipped by, and the channel it lacks.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Skipped {
    #[schema(value_type = String)]
    pub analytic: &'static str,
    #[schema(value_type = String)]
    pub needs: &'static str,
}

/// What one car's feed carries and what that gives.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CarFeed {
    pub car: i32,
    pub driver: String,
    pub team: String,
    pub samples: i64,
    /// Of them, samples that reached the car's analytics too late to be analysed
    /// (older than what was analysed, after the reorder hold): counted and archived.
    pub late: i64,
    /// Values ingest made unknown because they were impossible, by channel and reason
    /// (`{"gear": {"out_of_range": 570}}`); `null` when Redis could not say.
    #[schema(value_type = Option<HashMap<String, HashMap<String, u64>>>)]
    #[schema(required = true)]
    pub unknown: Option<serde_json::Value>,
    /// Optional channels the feed has sent (speed, time, car and session always).
    #[schema(value_type = Vec<String>)]
    pub channels: Channels,
    /// `pit_status` when the feed sends it, `motion` otherwise.
    #[schema(value_type = String)]
    pub pit_stops_from: &'static str,
    pub skipped: Vec<Skipped>,
}

/// Every car of the session with its channels and the analytics they leave out.
pub async fn cars(db: &Client, id: &str) -> Result<Vec<CarFeed>> {
    let rows = db
        .query(
            "SELECT car, driver, team, samples, channels, late FROM car_accounting WHERE session_id = $1 ORDER BY car",
            &[&id],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let channels = Channels(r.get::<_, i32>(4) as u32);
            CarFeed {
                car: r.get(0),
                driver: r.get(1),
                team: r.get(2),
                samples: r.get(3),
                late: r.get(5),
                unknown: None,
                channels,
                pit_stops_from: if channels.contains(Channel::PitStatus) {
                    "pit_status"
                } else {
                    "motion"
                },
                skipped: crate::analytics::skipped(channels)
                    .into_iter()
                    .map(|(analytic, needs)| Skipped { analytic, needs })
                    .collect(),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLAG: i64 = 1_756_651_000_000;

    /// The leader has crossed its 3rd line at 300 s: a car with 2 laps that crossed at
    /// 201.5 s is 1.5 s behind on the lead lap, not a lap down; one that crossed its 2nd
    /// line after the leader's 3rd (301 s) is; two laps down after its 4th; a car with
    /// no lap is as many laps down as the leader has run.
    #[test]
    fn a_car_is_a_lap_down_only_once_the_leader_has_lapped_it() {
        let leader = [100_000, 200_000, 300_000, 400_000];
        assert_eq!(gap_to_leader(&leader[..3], 2, Some(201_500)), "+1.500 s");
        assert_eq!(gap_to_leader(&leader[..3], 3, Some(300_250)), "+0.250 s");
        assert_eq!(gap_to_leader(&leader[..3], 2, Some(301_000)), "+1 lap");
        assert_eq!(gap_to_leader(&leader, 2, Some(401_000)), "+2 laps");
        assert_eq!(gap_to_leader(&leader[..3], 0, None), "+3 laps");
        assert_eq!(gap_to_leader(&[], 0, None), "");
    }

    /// A car that stopped well before the winner's flag is out; a lapped car still
    /// running at the flag, a car on the winner's lap and any car of a running session
    /// are not (a rule that looked at laps alone called every lapped finisher a DNF).
    #[test]
    fn did_not_finish_is_stopping_before_the_flag() {
        let dnf = |finished, laps, last| did_not_finish(finished, 72, Some(FLAG), laps, last);
        assert!(dnf(true, 64, FLAG - 600_000), "retired 8 laps down");
        assert!(
            dnf(true, 71, FLAG - DNF_MARGIN_MS - 1),
            "stopped on the last lap"
        );
        assert!(!dnf(true, 70, FLAG + 40_000), "lapped twice, took the flag");
        assert!(
            !dnf(true, 71, FLAG - DNF_MARGIN_MS),
            "data up to the flag within the margin"
        );
        assert!(
            !dnf(true, 72, FLAG - 90_000),
            "on the winner's lap: finished"
        );
        assert!(!dnf(false, 64, FLAG - 600_000), "the race is still on");
        assert!(
            !did_not_finish(true, 0, None, 0, FLAG),
            "a feed without laps"
        );
        assert!(!did_not_finish(true, 72, None, 10, FLAG), "no timed finish");
    }
}
