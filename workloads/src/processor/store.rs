//! The processor's writes: one transaction per partition batch holding every effect of
//! the batch plus the partition checkpoint (position and analytics state). The
//! checkpoint update is fenced on the previous position, so if two replicas ever
//! believe they own a partition, only one commit wins and the other restarts.

use super::batch::Batch;
use super::entry::EntryId;
use tokio_postgres::{Client, Statement};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("checkpoint of {0} moved under us (another replica committed); restarting partition")]
    Fenced(String),
}

/// A partition's committed position and analytics state.
pub struct Checkpoint {
    pub id: EntryId,
    pub state: Option<Vec<u8>>,
}

/// One partition's connection with its prepared statements.
pub struct PartitionStore {
    client: Client,
    fence: Statement,
    sessions: Statement,
    session_ensure: Statement,
    ends: Statement,
    cars: Statement,
    laps: Statement,
    stops: Statement,
    anomalies: Statement,
}

impl PartitionStore {
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let client = crate::db::connect(url).await?;
        let fence = client
            .prepare("UPDATE stream_checkpoints SET last_ms = $2, last_seq = $3, state = $4, updated_at = now() WHERE stream = $1 AND last_ms = $5 AND last_seq = $6")
            .await?;
        let sessions = client
            .prepare(
                "INSERT INTO sessions (session_id, circuit, total_laps, partitions, cars, started_at_ms) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (session_id) DO UPDATE SET circuit = EXCLUDED.circuit, total_laps = EXCLUDED.total_laps,
                   partitions = EXCLUDED.partitions, cars = EXCLUDED.cars, started_at_ms = EXCLUDED.started_at_ms",
            )
            .await?;
        let session_ensure = client
            .prepare("INSERT INTO sessions (session_id) SELECT DISTINCT unnest($1::text[]) ON CONFLICT DO NOTHING")
            .await?;
        let ends = client
            .prepare("INSERT INTO session_partition_ends (session_id, partition, partitions, published) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
            .await?;
        let cars = client
            .prepare(
                "INSERT INTO car_accounting (session_id, car, driver, team, samples, seq_sum, max_seq, last_lap, last_ts_ms)
                 SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::int[], $9::bigint[])
                 ON CONFLICT (session_id, car) DO UPDATE SET
                   samples = car_accounting.samples + EXCLUDED.samples,
                   seq_sum = car_accounting.seq_sum + EXCLUDED.seq_sum,
                   max_seq = greatest(car_accounting.max_seq, EXCLUDED.max_seq),
                   last_lap = greatest(car_accounting.last_lap, EXCLUDED.last_lap),
                   last_ts_ms = greatest(car_accounting.last_ts_ms, EXCLUDED.last_ts_ms),
                   driver = EXCLUDED.driver, team = EXCLUDED.team",
            )
            .await?;
        let laps = client
            .prepare(
                "INSERT INTO laps SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::int[], $6::int[], $7::int[], $8::int[], $9::int[],
                   $10::text[], $11::int[], $12::bool[], $13::bool[], $14::real[], $15::bigint[], $16::int[]) ON CONFLICT DO NOTHING",
            )
            .await?;
        let stops = client
            .prepare(
                "INSERT INTO pit_stops SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::int[], $6::bigint[], $7::bigint[], $8::bigint[],
                   $9::bigint[], $10::text[], $11::text[]) ON CONFLICT DO NOTHING",
            )
            .await?;
        let anomalies = client
            .prepare(
                "INSERT INTO anomalies SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[], $8::text[],
                   $9::text[], $10::real[], $11::real[], $12::real[], $13::bigint[]) ON CONFLICT DO NOTHING",
            )
            .await?;
        Ok(PartitionStore {
            client,
            fence,
            sessions,
            session_ensure,
            ends,
            cars,
            laps,
            stops,
            anomalies,
        })
    }

    /// Reads (creating if absent) the checkpoint of a partition stream.
    pub async fn load_checkpoint(&self, stream: &str) -> Result<Checkpoint, StoreError> {
        self.client
            .execute("INSERT INTO stream_checkpoints (stream, last_ms, last_seq) VALUES ($1, 0, 0) ON CONFLICT DO NOTHING", &[&stream])
            .await?;
        let row = self
            .client
            .query_one(
                "SELECT last_ms, last_seq, state FROM stream_checkpoints WHERE stream = $1",
                &[&stream],
            )
            .await?;
        Ok(Checkpoint {
            id: EntryId {
                ms: row.get(0),
                seq: row.get(1),
            },
            state: row.get(2),
        })
    }

    /// Commits a batch's effects and moves the checkpoint from `prev` to the batch's last id.
    pub async fn commit(
        &mut self,
        stream: &str,
        prev: EntryId,
        state: &[u8],
        b: &Batch,
    ) -> Result<(), StoreError> {
        let last = b.last_id.expect("commit is only called with effects");
        let tx = self.client.transaction().await?;
        let moved = tx
            .execute(
                &self.fence,
                &[&stream, &last.ms, &last.seq, &state, &prev.ms, &prev.seq],
            )
            .await?;
        if moved != 1 {
            return Err(StoreError::Fenced(stream.to_owned()));
        }
        for s in &b.sessions {
            tx.execute(
                &self.sessions,
                &[
                    &s.session,
                    &s.circuit,
                    &(s.laps as i32),
                    &(s.partitions as i32),
                    &(s.cars.len() as i32),
                    &s.started_at_ms,
                ],
            )
            .await?;
        }
        if !b.cars.is_empty() {
            let c = &b.cars;
            let sessions: Vec<&str> = c.iter().map(|c| c.session.as_str()).collect();
            tx.execute(&self.session_ensure, &[&sessions]).await?;
            let car: Vec<i32> = c.iter().map(|c| c.car as i32).collect();
            let driver: Vec<&str> = c.iter().map(|c| c.driver.as_str()).collect();
            let team: Vec<&str> = c.iter().map(|c| c.team.as_str()).collect();
            let samples: Vec<i64> = c.iter().map(|c| c.samples).collect();
            let seq_sum: Vec<i64> = c.iter().map(|c| c.seq_sum).collect();
            let max_seq: Vec<i64> = c.iter().map(|c| c.max_seq).collect();
            let last_lap: Vec<i32> = c.iter().map(|c| c.last_lap).collect();
            let last_ts: Vec<i64> = c.iter().map(|c| c.last_ts_ms).collect();
            tx.execute(
                &self.cars,
                &[
                    &sessions, &car, &driver, &team, &samples, &seq_sum, &max_seq, &last_lap,
                    &last_ts,
                ],
            )
            .await?;
        }
        let ev = &b.events;
        if !ev.laps.is_empty() {
            let l = &ev.laps;
            let session: Vec<&str> = l.iter().map(|x| x.id.session.as_str()).collect();
            let car: Vec<i32> = l.iter().map(|x| x.id.car as i32).collect();
            let driver: Vec<&str> = l.iter().map(|x| x.id.driver.as_str()).collect();
            let team: Vec<&str> = l.iter().map(|x| x.id.team.as_str()).collect();
            let lap: Vec<i32> = l.iter().map(|x| x.lap as i32).collect();
            let time: Vec<i32> = l.iter().map(|x| x.lap_time_ms).collect();
            let s1: Vec<Option<i32>> = l.iter().map(|x| x.sectors_ms[0]).collect();
            let s2: Vec<Option<i32>> = l.iter().map(|x| x.sectors_ms[1]).collect();
            let s3: Vec<Option<i32>> = l.iter().map(|x| x.sectors_ms[2]).collect();
            let compound: Vec<&str> = l.iter().map(|x| x.compound.as_str()).collect();
            let age: Vec<i32> = l.iter().map(|x| x.tyre_age as i32).collect();
            let pin: Vec<bool> = l.iter().map(|x| x.pit_in).collect();
            let pout: Vec<bool> = l.iter().map(|x| x.pit_out).collect();
            let top: Vec<f32> = l.iter().map(|x| x.top_speed_kph).collect();
            let crossed: Vec<i64> = l.iter().map(|x| x.crossed_at_ms).collect();
            let pos: Vec<i32> = l.iter().map(|x| x.position as i32).collect();
            tx.execute(
                &self.laps,
                &[
                    &session, &car, &driver, &team, &lap, &time, &s1, &s2, &s3, &compound, &age,
                    &pin, &pout, &top, &crossed, &pos,
                ],
            )
            .await?;
        }
        if !ev.pit_stops.is_empty() {
            let p = &ev.pit_stops;
            let session: Vec<&str> = p.iter().map(|x| x.id.session.as_str()).collect();
            let car: Vec<i32> = p.iter().map(|x| x.id.car as i32).collect();
            let driver: Vec<&str> = p.iter().map(|x| x.id.driver.as_str()).collect();
            let team: Vec<&str> = p.iter().map(|x| x.id.team.as_str()).collect();
            let lap: Vec<i32> = p.iter().map(|x| x.lap as i32).collect();
            let entry: Vec<i64> = p.iter().map(|x| x.entry_ms).collect();
            let start: Vec<i64> = p.iter().map(|x| x.stationary_start_ms).collect();
            let stat: Vec<i64> = p.iter().map(|x| x.stationary_ms).collect();
            let lane: Vec<i64> = p.iter().map(|x| x.pit_lane_ms).collect();
            let cin: Vec<&str> = p.iter().map(|x| x.compound_in.as_str()).collect();
            let cout: Vec<&str> = p.iter().map(|x| x.compound_out.as_str()).collect();
            tx.execute(
                &self.stops,
                &[
                    &session, &car, &driver, &team, &lap, &entry, &start, &stat, &lane, &cin, &cout,
                ],
            )
            .await?;
        }
        if !ev.anomalies.is_empty() {
            let a = &ev.anomalies;
            let session: Vec<&str> = a.iter().map(|x| x.id.session.as_str()).collect();
            let car: Vec<i32> = a.iter().map(|x| x.id.car as i32).collect();
            let driver: Vec<&str> = a.iter().map(|x| x.id.driver.as_str()).collect();
            let team: Vec<&str> = a.iter().map(|x| x.id.team.as_str()).collect();
            let lap: Vec<i32> = a.iter().map(|x| x.lap as i32).collect();
            let kind: Vec<&str> = a.iter().map(|x| x.kind.as_str()).collect();
            let sev: Vec<&str> = a.iter().map(|x| x.severity.as_str()).collect();
            let det: Vec<&str> = a.iter().map(|x| x.detector.as_str()).collect();
            let chan: Vec<&str> = a.iter().map(|x| x.channel).collect();
            let val: Vec<f32> = a.iter().map(|x| x.value).collect();
            let lo: Vec<f32> = a.iter().map(|x| x.expected_low).collect();
            let hi: Vec<f32> = a.iter().map(|x| x.expected_high).collect();
            let at: Vec<i64> = a.iter().map(|x| x.detected_at_ms).collect();
            tx.execute(
                &self.anomalies,
                &[
                    &session, &car, &driver, &team, &lap, &kind, &sev, &det, &chan, &val, &lo, &hi,
                    &at,
                ],
            )
            .await?;
        }
        for e in &b.ends {
            // Keep a session row even when no sample of it reached this partition.
            tx.execute(&self.session_ensure, &[&vec![e.session.as_str()]])
                .await?;
            let published = serde_json::to_value(&e.published).expect("counts serialize");
            tx.execute(
                &self.ends,
                &[&e.session, &stream, &(e.partitions as i32), &published],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
