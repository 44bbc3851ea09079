//! The processor's writes: one transaction per partition batch holding every effect of
//! the batch plus the partition checkpoint (position and analytics state). The
//! checkpoint update is fenced on the previous position, so if two replicas ever
//! believe they own a partition, only one commit wins and the other restarts.

use super::batch::Batch;
use super::entry::EntryId;
use futures_util::future::try_join_all;
use std::future::Future;
use std::pin::Pin;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error(transparent)]
    Connect(#[from] crate::db::ConnectError),
    #[error("{what} took longer than {seconds} s")]
    Timeout { what: &'static str, seconds: u64 },
    #[error("checkpoint of {0} moved under us (another replica committed); restarting partition")]
    Fenced(String),
}

/// One pipelined statement of a commit.
type PendingQuery<'a> =
    Pin<Box<dyn Future<Output = Result<u64, tokio_postgres::Error>> + Send + 'a>>;

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
    drive_throughs: Statement,
    anomalies: Statement,
    pit_lane: Statement,
    renamed: Statement,
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
        // A batch names the driver and team only if one of its samples did: a placeholder
        // (the car number, 'unknown') never replaces a name already known.
        let cars = client
            .prepare(
                "INSERT INTO car_accounting (session_id, car, driver, team, samples, seq_sum, max_seq, last_lap, last_ts_ms, channels, late)
                 SELECT s, c, COALESCE(d, c::text), COALESCE(t, 'unknown'), n, ss, ms, ll, lt, ch, la
                   FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::int[], $9::bigint[], $10::int[], $11::bigint[])
                        AS u(s, c, d, t, n, ss, ms, ll, lt, ch, la)
                 ON CONFLICT (session_id, car) DO UPDATE SET
                   samples = car_accounting.samples + EXCLUDED.samples,
                   late = car_accounting.late + EXCLUDED.late,
                   seq_sum = car_accounting.seq_sum + EXCLUDED.seq_sum,
                   max_seq = greatest(car_accounting.max_seq, EXCLUDED.max_seq),
                   last_lap = greatest(car_accounting.last_lap, EXCLUDED.last_lap),
                   last_ts_ms = greatest(car_accounting.last_ts_ms, EXCLUDED.last_ts_ms),
                   channels = car_accounting.channels | EXCLUDED.channels,
                   driver = CASE WHEN EXCLUDED.driver = EXCLUDED.car::text THEN car_accounting.driver ELSE EXCLUDED.driver END,
                   team = CASE WHEN EXCLUDED.team = 'unknown' THEN car_accounting.team ELSE EXCLUDED.team END",
            )
            .await?;
        let laps = client
            .prepare(
                "INSERT INTO laps (session_id, car, driver, team, lap, lap_time_ms, s1_ms, s2_ms, s3_ms, compound, tyre_age, top_speed_kph, crossed_at_ms, position)
                 SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::int[], $6::int[], $7::int[], $8::int[], $9::int[],
                   $10::text[], $11::int[], $12::real[], $13::bigint[], $14::int[]) ON CONFLICT DO NOTHING",
            )
            .await?;
        let stops = client
            .prepare(
                "INSERT INTO pit_stops (session_id, car, driver, team, lap, entry_ms, stationary_start_ms, stationary_ms, pit_lane_ms, compound_in, compound_out)
                 SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::int[], $6::bigint[], $7::bigint[], $8::bigint[],
                   $9::bigint[], $10::text[], $11::text[]) ON CONFLICT DO NOTHING",
            )
            .await?;
        let drive_throughs = client
            .prepare(
                "INSERT INTO drive_throughs (session_id, car, driver, team, lap, entry_ms, pit_lane_ms)
                 SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::int[], $6::bigint[], $7::bigint[]) ON CONFLICT DO NOTHING",
            )
            .await?;
        let anomalies = client
            .prepare(
                "INSERT INTO anomalies (session_id, car, driver, team, lap, kind, severity, detector, channel, value, expected_low, expected_high, detected_at_ms)
                 SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[], $8::text[],
                   $9::text[], $10::real[], $11::real[], $12::real[], $13::bigint[]) ON CONFLICT DO NOTHING",
            )
            .await?;
        // One row per car in the pit lane: a visit begun (an entry) is upserted, one ended
        // (no entry) deleted, in the commit that stores the visit itself.
        let pit_lane = client
            .prepare(
                "WITH u AS (SELECT * FROM unnest($1::text[], $2::int[], $3::int[], $4::bigint[]) AS u(s, c, l, e)),
                      gone AS (DELETE FROM pit_lane_now p USING u
                                WHERE u.e IS NULL AND p.session_id = u.s AND p.car = u.c)
                 INSERT INTO pit_lane_now (session_id, car, lap, entry_ms)
                 SELECT s, c, l, e FROM u WHERE e IS NOT NULL
                 ON CONFLICT (session_id, car) DO UPDATE SET lap = EXCLUDED.lap, entry_ms = EXCLUDED.entry_ms",
            )
            .await?;
        let renamed = client.prepare(&rename_statement()).await?;
        Ok(PartitionStore {
            client,
            pit_lane,
            renamed,
            fence,
            sessions,
            session_ensure,
            ends,
            cars,
            laps,
            stops,
            drive_throughs,
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
    ///
    /// All statements are sent at once (tokio-postgres pipelines concurrently polled
    /// queries), so a commit costs three round trips — BEGIN, the statements, COMMIT —
    /// whatever the batch holds. They run in order on the server: the fence first, then
    /// session rows before the rows that reference them.
    pub async fn commit(
        &mut self,
        stream: &str,
        prev: EntryId,
        state: &[u8],
        b: &Batch,
    ) -> Result<(), StoreError> {
        let last = b.last_id.expect("commit is only called with effects");
        let cols = Columns::build(stream, b);
        let p = Params::new(b, &cols);
        let tx = self.client.transaction().await?;
        let fence: [&(dyn ToSql + Sync); 6] =
            [&stream, &last.ms, &last.seq, &state, &prev.ms, &prev.seq];
        let mut queries: Vec<PendingQuery<'_>> = Vec::new();
        queries.push(Box::pin(tx.execute(&self.fence, &fence)));
        for s in &p.sessions {
            queries.push(Box::pin(tx.execute(&self.sessions, s)));
        }
        if !cols.ensure.is_empty() {
            queries.push(Box::pin(tx.execute(&self.session_ensure, &p.ensure)));
        }
        if !b.cars.is_empty() {
            queries.push(Box::pin(tx.execute(&self.cars, &p.cars)));
        }
        if !b.events.laps.is_empty() {
            queries.push(Box::pin(tx.execute(&self.laps, &p.laps)));
        }
        if !b.events.pit_stops.is_empty() {
            queries.push(Box::pin(tx.execute(&self.stops, &p.stops)));
        }
        if !b.events.drive_throughs.is_empty() {
            queries.push(Box::pin(
                tx.execute(&self.drive_throughs, &p.drive_throughs),
            ));
        }
        if !b.events.anomalies.is_empty() {
            queries.push(Box::pin(tx.execute(&self.anomalies, &p.anomalies)));
        }
        if !cols.pit_lane.car.is_empty() {
            queries.push(Box::pin(tx.execute(&self.pit_lane, &p.pit_lane)));
        }
        if !cols.renamed.1.is_empty() {
            queries.push(Box::pin(tx.execute(&self.renamed, &p.renamed)));
        }
        for e in &p.ends {
            queries.push(Box::pin(tx.execute(&self.ends, e)));
        }
        let results = try_join_all(queries).await?;
        if results[0] != 1 {
            return Err(StoreError::Fenced(stream.to_owned()));
        }
        tx.commit().await?;
        Ok(())
    }
}

/// The statement that gives a renamed car's rows stored under the placeholders (the car
/// number, 'unknown') the names car_accounting knows, upserted earlier in the same
/// commit: every table then groups the car under its team. Run after the inserts, so
/// that this batch's rows are renamed too; a row is written only if a name changes.
fn rename_statement() -> String {
    let update = |alias: &str, table: &str| {
        format!(
            "{alias} AS (UPDATE {table} x
                 SET driver = CASE WHEN x.driver = x.car::text THEN u.d ELSE x.driver END,
                     team = CASE WHEN x.team = 'unknown' THEN u.t ELSE x.team END
                FROM u WHERE x.session_id = u.s AND x.car = u.c
                 AND ((x.driver = x.car::text AND u.d <> x.driver)
                      OR (x.team = 'unknown' AND u.t <> 'unknown')) RETURNING 1)"
        )
    };
    format!(
        "WITH u AS (SELECT a.session_id AS s, a.car AS c, a.driver AS d, a.team AS t
                      FROM unnest($1::text[], $2::int[]) AS k(s, c)
                      JOIN car_accounting a ON a.session_id = k.s AND a.car = k.c),
              {}, {}, {}, {}
         SELECT 1",
        update("l", "laps"),
        update("p", "pit_stops"),
        update("d", "drive_throughs"),
        update("a", "anomalies"),
    )
}

/// The batch's rows as column vectors (one array parameter per column for `unnest`).
#[derive(Default)]
struct Columns {
    stream: String,
    session_meta: Vec<(i32, i32, i32)>,
    ensure: Vec<String>,
    car: CarColumns,
    lap: LapColumns,
    stop: StopColumns,
    drive: DriveColumns,
    anomaly: AnomalyColumns,
    pit_lane: PitLaneColumns,
    /// The renamed cars, once each: (session, car).
    renamed: (Vec<String>, Vec<i32>),
    ends: Vec<(i32, serde_json::Value)>,
}

/// Each car's pit-lane state at the end of the batch (its last record): one row per car,
/// as one statement may not touch a row twice.
#[derive(Default)]
struct PitLaneColumns {
    session: Vec<String>,
    car: Vec<i32>,
    lap: Vec<Option<i32>>,
    entry: Vec<Option<i64>>,
}

#[derive(Default)]
struct CarColumns {
    session: Vec<String>,
    car: Vec<i32>,
    driver: Vec<Option<String>>,
    team: Vec<Option<String>>,
    channels: Vec<i32>,
    samples: Vec<i64>,
    late: Vec<i64>,
    seq_sum: Vec<i64>,
    max_seq: Vec<i64>,
    last_lap: Vec<i32>,
    last_ts: Vec<i64>,
}

/// The identity columns every event table starts with.
#[derive(Default)]
struct IdColumns {
    session: Vec<String>,
    car: Vec<i32>,
    driver: Vec<String>,
    team: Vec<String>,
}

impl IdColumns {
    fn push(&mut self, id: &crate::analytics::CarId) {
        self.session.push(id.session.to_string());
        self.car.push(id.car as i32);
        self.driver.push(id.driver.to_string());
        self.team.push(id.team.to_string());
    }
}

#[derive(Default)]
struct LapColumns {
    id: IdColumns,
    lap: Vec<i32>,
    time: Vec<i32>,
    s1: Vec<Option<i32>>,
    s2: Vec<Option<i32>>,
    s3: Vec<Option<i32>>,
    compound: Vec<Option<&'static str>>,
    age: Vec<Option<i32>>,
    top: Vec<f32>,
    crossed: Vec<i64>,
    position: Vec<Option<i32>>,
}

#[derive(Default)]
struct StopColumns {
    id: IdColumns,
    lap: Vec<Option<i32>>,
    entry: Vec<i64>,
    start: Vec<i64>,
    stationary: Vec<i64>,
    lane: Vec<i64>,
    compound_in: Vec<Option<&'static str>>,
    compound_out: Vec<Option<&'static str>>,
}

#[derive(Default)]
struct DriveColumns {
    id: IdColumns,
    lap: Vec<Option<i32>>,
    entry: Vec<i64>,
    lane: Vec<i64>,
}

#[derive(Default)]
struct AnomalyColumns {
    id: IdColumns,
    lap: Vec<Option<i32>>,
    kind: Vec<&'static str>,
    severity: Vec<&'static str>,
    detector: Vec<&'static str>,
    channel: Vec<&'static str>,
    value: Vec<f32>,
    low: Vec<f32>,
    high: Vec<f32>,
    at: Vec<i64>,
}

impl Columns {
    fn build(stream: &str, b: &Batch) -> Self {
        let mut c = Columns {
            stream: stream.to_owned(),
            ..Columns::default()
        };
        c.session_meta = b
            .sessions
            .iter()
            .map(|s| (s.laps as i32, s.partitions as i32, s.cars.len() as i32))
            .collect();
        let mut ensure: Vec<String> = b
            .cars
            .iter()
            .map(|x| x.session.clone())
            .chain(b.ends.iter().map(|e| e.session.clone()))
            .collect();
        ensure.sort();
        ensure.dedup();
        c.ensure = ensure;
        for x in &b.cars {
            let k = &mut c.car;
            k.session.push(x.session.clone());
            k.car.push(x.car as i32);
            k.driver.push(x.driver.clone());
            k.team.push(x.team.clone());
            k.channels.push(x.channels.0 as i32);
            k.samples.push(x.samples);
            k.late.push(x.late);
            k.seq_sum.push(x.seq_sum);
            k.max_seq.push(x.max_seq);
            k.last_lap.push(x.last_lap);
            k.last_ts.push(x.last_ts_ms);
        }
        for x in &b.events.laps {
            let k = &mut c.lap;
            k.id.push(&x.id);
            k.lap.push(x.lap as i32);
            k.time.push(x.lap_time_ms);
            k.s1.push(x.sectors_ms[0]);
            k.s2.push(x.sectors_ms[1]);
            k.s3.push(x.sectors_ms[2]);
            k.compound.push(x.compound.map(|c| c.as_str()));
            k.age.push(x.tyre_age.map(i32::from));
            k.top.push(x.top_speed_kph);
            k.crossed.push(x.crossed_at_ms);
            k.position.push(x.position.map(i32::from));
        }
        for x in &b.events.pit_stops {
            let k = &mut c.stop;
            k.id.push(&x.id);
            k.lap.push(x.lap.map(i32::from));
            k.entry.push(x.entry_ms);
            k.start.push(x.stationary_start_ms);
            k.stationary.push(x.stationary_ms);
            k.lane.push(x.pit_lane_ms);
            k.compound_in.push(x.compound_in.map(|c| c.as_str()));
            k.compound_out.push(x.compound_out.map(|c| c.as_str()));
        }
        for x in &b.events.drive_throughs {
            let k = &mut c.drive;
            k.id.push(&x.id);
            k.lap.push(x.lap.map(i32::from));
            k.entry.push(x.entry_ms);
            k.lane.push(x.pit_lane_ms);
        }
        for x in &b.events.anomalies {
            let k = &mut c.anomaly;
            k.id.push(&x.id);
            k.lap.push(x.lap.map(i32::from));
            k.kind.push(x.kind.as_str());
            k.severity.push(x.severity.as_str());
            k.detector.push(x.detector.as_str());
            k.channel.push(x.channel);
            k.value.push(x.value);
            k.low.push(x.expected_low);
            k.high.push(x.expected_high);
            k.at.push(x.detected_at_ms);
        }
        // The last record of each car is its state.
        let lane: std::collections::BTreeMap<(&str, u8), _> = b
            .events
            .pit_lane
            .iter()
            .map(|x| ((x.id.session.as_str(), x.id.car), x.entry))
            .collect();
        for ((session, car), entry) in lane {
            let k = &mut c.pit_lane;
            k.session.push(session.to_owned());
            k.car.push(i32::from(car));
            k.lap.push(entry.and_then(|e| e.1).map(i32::from));
            k.entry.push(entry.map(|e| e.0));
        }
        let renamed: std::collections::BTreeSet<(&str, u8)> = b
            .events
            .renamed
            .iter()
            .map(|x| (x.session.as_str(), x.car))
            .collect();
        for (session, car) in renamed {
            c.renamed.0.push(session.to_owned());
            c.renamed.1.push(i32::from(car));
        }
        c.ends = b
            .ends
            .iter()
            .map(|e| {
                (
                    e.partitions as i32,
                    serde_json::to_value(&e.published).expect("counts serialize"),
                )
            })
            .collect();
        c
    }
}

/// Statement parameters borrowing the batch and its columns.
struct Params<'a> {
    sessions: Vec<[&'a (dyn ToSql + Sync); 6]>,
    ensure: [&'a (dyn ToSql + Sync); 1],
    cars: [&'a (dyn ToSql + Sync); 11],
    laps: [&'a (dyn ToSql + Sync); 14],
    stops: [&'a (dyn ToSql + Sync); 11],
    drive_throughs: [&'a (dyn ToSql + Sync); 7],
    anomalies: [&'a (dyn ToSql + Sync); 13],
    pit_lane: [&'a (dyn ToSql + Sync); 4],
    renamed: [&'a (dyn ToSql + Sync); 2],
    ends: Vec<[&'a (dyn ToSql + Sync); 4]>,
}

impl<'a> Params<'a> {
    fn new(b: &'a Batch, c: &'a Columns) -> Self {
        let (k, l, st, d, a) = (&c.car, &c.lap, &c.stop, &c.drive, &c.anomaly);
        Params {
            sessions: b
                .sessions
                .iter()
                .zip(&c.session_meta)
                .map(|(s, (laps, parts, cars))| -> [&'a (dyn ToSql + Sync); 6] {
                    [&s.session, &s.circuit, laps, parts, cars, &s.started_at_ms]
                })
                .collect(),
            ensure: [&c.ensure],
            cars: [
                &k.session,
                &k.car,
                &k.driver,
                &k.team,
                &k.samples,
                &k.seq_sum,
                &k.max_seq,
                &k.last_lap,
                &k.last_ts,
                &k.channels,
                &k.late,
            ],
            laps: [
                &l.id.session,
                &l.id.car,
                &l.id.driver,
                &l.id.team,
                &l.lap,
                &l.time,
                &l.s1,
                &l.s2,
                &l.s3,
                &l.compound,
                &l.age,
                &l.top,
                &l.crossed,
                &l.position,
            ],
            stops: [
                &st.id.session,
                &st.id.car,
                &st.id.driver,
                &st.id.team,
                &st.lap,
                &st.entry,
                &st.start,
                &st.stationary,
                &st.lane,
                &st.compound_in,
                &st.compound_out,
            ],
            drive_throughs: [
                &d.id.session,
                &d.id.car,
                &d.id.driver,
                &d.id.team,
                &d.lap,
                &d.entry,
                &d.lane,
            ],
            anomalies: [
                &a.id.session,
                &a.id.car,
                &a.id.driver,
                &a.id.team,
                &a.lap,
                &a.kind,
                &a.severity,
                &a.detector,
                &a.channel,
                &a.value,
                &a.low,
                &a.high,
                &a.at,
            ],
            renamed: [&c.renamed.0, &c.renamed.1],
            pit_lane: [
                &c.pit_lane.session,
                &c.pit_lane.car,
                &c.pit_lane.lap,
                &c.pit_lane.entry,
            ],
            ends: b
                .ends
                .iter()
                .zip(&c.ends)
                .map(|(e, (parts, published))| -> [&'a (dyn ToSql + Sync); 4] {
                    [&e.session, &c.stream, parts, published]
                })
                .collect(),
        }
    }
}
