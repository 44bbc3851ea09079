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
