-- pitstop schema v1: what the live processor derives from telemetry.
CREATE TABLE sessions (
    session_id     text PRIMARY KEY,
    circuit        text,
    total_laps     integer,
    partitions     integer,
    cars           integer,
    started_at_ms  bigint,
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- One row per partition that saw the chequered flag, with its cars' published counts.
-- A session is finished when every partition has one (derived at read time: partitions
-- commit concurrently, so no single transaction can see them all).
CREATE TABLE session_partition_ends (
    session_id  text NOT NULL REFERENCES sessions ON DELETE CASCADE,
    partition   text NOT NULL,
    partitions  integer NOT NULL,
    published   jsonb NOT NULL,
    PRIMARY KEY (session_id, partition)
);

-- Per-car sample accounting: count and sum of sequence numbers prove exactly-once.
CREATE TABLE car_accounting (
    session_id  text NOT NULL REFERENCES sessions ON DELETE CASCADE,
    car         integer NOT NULL,
    driver      text NOT NULL,
    team        text NOT NULL,
    samples     bigint NOT NULL,
    seq_sum     bigint NOT NULL,
    max_seq     bigint NOT NULL,
    last_lap    integer NOT NULL,
    last_ts_ms  bigint NOT NULL,
    PRIMARY KEY (session_id, car)
);

CREATE TABLE laps (
    session_id     text NOT NULL REFERENCES sessions ON DELETE CASCADE,
    car            integer NOT NULL,
    driver         text NOT NULL,
    team           text NOT NULL,
    lap            integer NOT NULL,
    lap_time_ms    integer NOT NULL,
    s1_ms          integer,
    s2_ms          integer,
    s3_ms          integer,
    compound       text NOT NULL,
    tyre_age       integer NOT NULL,
    pit_in         boolean NOT NULL,
    pit_out        boolean NOT NULL,
    top_speed_kph  real NOT NULL,
    crossed_at_ms  bigint NOT NULL,
    position       integer NOT NULL,
    PRIMARY KEY (session_id, car, lap)
);

CREATE TABLE pit_stops (
    session_id           text NOT NULL REFERENCES sessions ON DELETE CASCADE,
    car                  integer NOT NULL,
    driver               text NOT NULL,
    team                 text NOT NULL,
    lap                  integer NOT NULL,
    entry_ms             bigint NOT NULL,
    stationary_start_ms  bigint NOT NULL,
    stationary_ms        bigint NOT NULL,
    pit_lane_ms          bigint NOT NULL,
    compound_in          text NOT NULL,
    compound_out         text NOT NULL,
    PRIMARY KEY (session_id, car, entry_ms)
);

CREATE TABLE anomalies (
    session_id      text NOT NULL REFERENCES sessions ON DELETE CASCADE,
    car             integer NOT NULL,
    driver          text NOT NULL,
    team            text NOT NULL,
    lap             integer NOT NULL,
    kind            text NOT NULL,
    severity        text NOT NULL,
    detector        text NOT NULL,
    channel         text NOT NULL,
    value           real NOT NULL,
    expected_low    real NOT NULL,
    expected_high   real NOT NULL,
    detected_at_ms  bigint NOT NULL,
    PRIMARY KEY (session_id, car, kind, detected_at_ms)
);

-- Position of each stream partition and the analytics state at that position, written in
-- the same transaction as the effects above (exactly-once across crashes).
CREATE TABLE stream_checkpoints (
    stream      text PRIMARY KEY,
    last_ms     bigint NOT NULL,
    last_seq    bigint NOT NULL,
    state       bytea,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
-- The state is rewritten by every commit and read only when a partition changes hands:
-- compressing it (pglz) was the largest PostgreSQL cost in profiles, so store it as is.
ALTER TABLE stream_checkpoints ALTER COLUMN state SET STORAGE EXTERNAL;

-- Derived views over the persisted laps (one source of truth, queryable from SQL, Grafana
-- and the post-race pipeline). A stint starts on the lap after each pit entry.
CREATE VIEW stints AS
WITH numbered AS (
    SELECT *, COALESCE(sum(pit_in::int) OVER (PARTITION BY session_id, car ORDER BY lap
                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) + 1 AS stint
      FROM laps)
SELECT session_id, car, driver, team, stint,
       min(compound) AS compound, min(lap) AS first_lap, max(lap) AS last_lap, count(*) AS laps,
       avg(lap_time_ms) FILTER (WHERE lap > 1 AND NOT pit_in AND NOT pit_out)::float8 AS mean_lap_ms,
       -- lap-time increase per lap of tyre age on green laps (least squares), ms
       regr_slope(lap_time_ms, tyre_age) FILTER (WHERE lap > 1 AND NOT pit_in AND NOT pit_out) AS degradation_ms_per_lap
  FROM numbered
 GROUP BY session_id, car, driver, team, stint;

-- Most laps first, then the earliest crossing of the last completed lap.
CREATE VIEW classification AS
SELECT a.session_id, a.car, a.driver, a.team, COALESCE(l.laps, 0) AS laps, l.best_lap_ms,
       l.last_crossed_at_ms - s.started_at_ms AS race_time_ms,
       row_number() OVER (PARTITION BY a.session_id
                          ORDER BY COALESCE(l.laps, 0) DESC, l.last_crossed_at_ms ASC NULLS LAST, a.car) AS position
  FROM car_accounting a
  JOIN sessions s ON s.session_id = a.session_id
  LEFT JOIN (SELECT session_id, car, count(*) AS laps, min(lap_time_ms) AS best_lap_ms, max(crossed_at_ms) AS last_crossed_at_ms
               FROM laps GROUP BY session_id, car) l ON l.session_id = a.session_id AND l.car = a.car;
