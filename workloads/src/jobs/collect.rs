//! `collect-telemetry`: archives every raw sample of the session from its Redis stream
//! partitions into PostgreSQL (`telemetry_raw`, one list partition per session; batches
//! through COPY), then checks per car that the archive holds exactly what the processor
//! counted (samples and the sum of sequence numbers). Only then are the session's own
//! entries (its data and its markers) deleted to free Redis memory: other sessions in
//! the same stream (every processor fed by `POST /telemetry` puts all its sessions in one
//! stream) keep theirs, unread or not. Re-running adds nothing: rows are keyed by
//! (session, car, seq) and the deleted entries are gone.

use super::sql::{ident_suffix, literal};
use super::step::JobError;
use crate::codec::binary::decode_entry;
use crate::model::Sample;
use crate::processor::entry::{Entry, EntryId, parse_entries};
use crate::stream::{FIELD_DATA, FIELD_MARKER, FIELD_SEQ_BASE, Marker, StreamKeys};
use tokio_postgres::Client;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;

/// What one run of the step did.
#[derive(Clone, Debug, PartialEq)]
pub struct Collected {
    /// Samples read from the stream this time (0 when an earlier run archived them).
    pub read: u64,
    /// Samples in the archive for the session.
    pub archived: i64,
    pub cars: usize,
    /// Entries of the session (data and markers) deleted after the archive was verified.
    pub trimmed: u64,
}

const COLUMNS: &str = "session_id, car, seq, driver, team, lap, sector, lap_distance_m, timestamp_ms, speed_kph, rpm, gear, throttle, brake, tyre_surface_c, tyre_pressure_psi, brake_temp_c, tyre_wear_pct, compound, tyre_age_laps, fuel_kg, engine_temp_c, pit_status, position, drs, x, y, z";

fn types() -> Vec<Type> {
    vec![
        Type::TEXT,
        Type::INT4,
        Type::INT8,
        Type::TEXT,
        Type::TEXT,
        Type::INT4,
        Type::INT4,
        Type::FLOAT4,
        Type::INT8,
        Type::FLOAT4,
        Type::INT4,
        Type::INT4,
        Type::FLOAT4,
        Type::FLOAT4,
        Type::FLOAT4_ARRAY,
        Type::FLOAT4_ARRAY,
        Type::FLOAT4_ARRAY,
        Type::FLOAT4_ARRAY,
        Type::TEXT,
        Type::INT4,
        Type::FLOAT4,
        Type::FLOAT4,
        Type::TEXT,
        Type::INT4,
        Type::BOOL,
        Type::FLOAT4,
        Type::FLOAT4,
        Type::FLOAT4,
    ]
}

/// Creates the session's partition of `telemetry_raw` (DDL: no bind parameters).
async fn ensure_partition(db: &Client, session: &str) -> Result<(), JobError> {
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS telemetry_raw_{} PARTITION OF telemetry_raw FOR VALUES IN ({})",
        ident_suffix(session),
        literal(session)
    );
    match db.batch_execute(&sql).await {
        Ok(()) => Ok(()),
        // Two attempts racing to create it: the other one won.
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_TABLE) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Copies one batch of samples into the archive (through a temporary table, so that rows
/// already archived by an earlier attempt are skipped, not an error).
async fn archive(db: &mut Client, session: &str, samples: &[Sample]) -> Result<(), JobError> {
    let tx = db.transaction().await?;
    tx.batch_execute(
        "CREATE TEMP TABLE IF NOT EXISTS raw_batch (LIKE telemetry_raw) ON COMMIT DELETE ROWS",
    )
    .await?;
    let sink = tx
        .copy_in(&format!("COPY raw_batch ({COLUMNS}) FROM STDIN BINARY"))
        .await?;
    let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, &types()));
    for s in samples.iter().filter(|s| s.session == session) {
        // Absent channels are archived as NULL: unknown, not zero.
        let car = s.car as i32;
        let seq = s.seq as i64;
        let lap = s.lap.map(i32::from);
        let sector = s.sector.map(i32::from);
        let rpm = s.rpm.map(i32::from);
        let gear = s.gear.map(i32::from);
        let tyre_age = s.tyre_age_laps.map(i32::from);
        let position = s.position.map(i32::from);
        let (t, p, b, w) = (
            s.tyre_surface_temp_c.map(|a| a.to_vec()),
            s.tyre_pressure_psi.map(|a| a.to_vec()),
            s.brake_temp_c.map(|a| a.to_vec()),
            s.tyre_wear_pct.map(|a| a.to_vec()),
        );
        let (driver, team) = (s.driver_name(), s.team_name());
        let compound = s.tyre_compound.map(|c| c.as_str());
        let pit = s.pit_status.map(|p| p.as_str());
        writer
            .as_mut()
            .write(&[
                &session,
                &car,
                &seq,
                &driver.as_str(),
                &team.as_str(),
                &lap,
                &sector,
                &s.lap_distance_m,
                &s.timestamp_ms,
                &s.speed_kph,
                &rpm,
                &gear,
                &s.throttle,
                &s.brake,
                &t,
                &p,
                &b,
                &w,
                &compound,
                &tyre_age,
                &s.fuel_kg,
                &s.engine_temp_c,
                &pit,
                &position,
                &s.drs,
                &s.x,
                &s.y,
                &s.z,
            ])
            .await?;
    }
    writer.finish().await?;
    tx.execute(
        &format!("INSERT INTO telemetry_raw ({COLUMNS}) SELECT {COLUMNS} FROM raw_batch ON CONFLICT DO NOTHING"),
        &[],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Per car: samples and sum of sequence numbers in the archive, and what the processor
/// committed. Any difference is named.
async fn verify(db: &Client, session: &str) -> Result<(i64, usize), JobError> {
    let rows = db
        .query(
            "SELECT a.car, a.samples, a.seq_sum, COALESCE(r.n, 0), COALESCE(r.s, 0)
               FROM car_accounting a
               LEFT JOIN (SELECT car, count(*) AS n, sum(seq)::bigint AS s FROM telemetry_raw
                           WHERE session_id = $1 GROUP BY car) r ON r.car = a.car
              WHERE a.session_id = $1 ORDER BY a.car",
            &[&session],
        )
        .await?;
    if rows.is_empty() {
        return Err(JobError::NoSession(session.into()));
    }
    let mut problems = Vec::new();
    let mut total = 0;
    for r in &rows {
        let (car, want_n, want_s, got_n, got_s): (i32, i64, i64, i64, i64) =
            (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
        total += got_n;
        if (want_n, want_s) != (got_n, got_s) {
            problems.push(format!(
                "car {car}: archived {got_n} samples (seq sum {got_s}), the processor committed {want_n} (seq sum {want_s})"
            ));
        }
    }
    if problems.is_empty() {
        Ok((total, rows.len()))
    } else {
        Err(JobError::Incomplete(problems.join("; ")))
    }
}

/// Whether every partition of the session has seen the chequered flag.
pub async fn finished(db: &Client, session: &str) -> Result<bool, JobError> {
    let row = db
        .query_opt(
            // A session fed through the API without a start marker has no partitions
            // recorded: its end markers say how many there are.
            "SELECT COALESCE(s.partitions, (SELECT max(partitions) FROM session_partition_ends e WHERE e.session_id = s.session_id), 0),
                    (SELECT count(*) FROM session_partition_ends e WHERE e.session_id = s.session_id)
               FROM sessions s WHERE s.session_id = $1",
            &[&session],
        )
        .await?
        .ok_or_else(|| JobError::NoSession(session.into()))?;
    let (partitions, ends): (i32, i64) = (row.get(0), row.get(1));
    Ok(partitions > 0 && ends >= partitions as i64)
}

/// Whether `e` belongs to `session`: a data entry of its samples (decoded into `buf`) or
/// one of its markers. Undecodable entries belong to no one here (the processor
/// dead-lettered them), so they are neither archived nor removed.
fn of_session(e: &Entry, session: &str, buf: &mut Vec<Sample>) -> bool {
    if let Some(d) = e.field(FIELD_DATA) {
        // One entry holds one session's samples (every producer encodes per session).
        return matches!(decode_entry(d, e.field(FIELD_SEQ_BASE), buf), Ok(h) if h.session == session);
    }
    match e.field(FIELD_MARKER).map(serde_json::from_slice::<Marker>) {
        Some(Ok(Marker::SessionStart(info))) => info.session == session,
        Some(Ok(Marker::SessionEnd { session: s, .. })) => s == session,
        _ => false,
    }
}

/// Runs the step. `trim` deletes the session's entries once the archive is verified.
pub async fn run(
    db: &mut Client,
    redis: &crate::redis_conn::RedisTarget,
    keys: &StreamKeys,
    session: &str,
    trim: bool,
) -> Result<Collected, JobError> {
    if !finished(db, session).await? {
        return Err(JobError::NotFinished(session.into()));
    }
    ensure_partition(db, session).await?;
    let mut con = crate::redis_conn::connect_async(redis)
        .await
        .map_err(|source| JobError::RedisAt {
            endpoint: redis.endpoint().to_owned(),
            source,
        })?;
    let mut read = 0u64;
    let mut buf = Vec::new();
    let mut batch: Vec<Sample> = Vec::new();
    // Per partition, the ids of this session's entries: the only ones this step removes.
    let mut own: Vec<(String, Vec<EntryId>)> = Vec::new();
    for (_, key) in keys.all_partitions() {
        let mut ids = Vec::new();
        let mut start = "-".to_string();
        loop {
            let reply: redis::Value = redis::cmd("XRANGE")
                .arg(&key)
                .arg(&start)
                .arg("+")
                .arg("COUNT")
                .arg(500)
                .query_async(&mut con)
                .await?;
            let entries = parse_entries(reply);
            let Some(last) = entries.last().map(|e| e.id) else {
                break;
            };
            for e in &entries {
                if of_session(e, session, &mut buf) {
                    read += buf.len() as u64;
                    batch.append(&mut buf);
                    ids.push(e.id);
                }
                buf.clear();
            }
            if batch.len() >= 20_000 {
                archive(db, session, &batch).await?;
                batch.clear();
            }
            start = format!("({last}");
        }
        own.push((key, ids));
    }
    if !batch.is_empty() {
        archive(db, session, &batch).await?;
    }
    let (archived, cars) = verify(db, session).await?;
    let mut trimmed = 0u64;
    if trim {
        for (key, ids) in &own {
            for chunk in ids.chunks(1000) {
                let n: u64 = redis::cmd("XDEL")
                    .arg(key)
                    .arg(chunk.iter().map(|id| id.to_string()).collect::<Vec<_>>())
                    .query_async(&mut con)
                    .await?;
                trimmed += n;
            }
        }
    }
    Ok(Collected {
        read,
        archived,
        cars,
        trimmed,
    })
}
