-- pitstop schema v2: what the post-race pipeline (`pitstop job <step>`) writes.

-- collect-telemetry: every raw sample of a session, archived from the Redis stream before
-- it is deleted. Partitioned by session (list) so a season's archive can be detached or
-- dropped race by race; one row per (car, seq), so re-running the step adds nothing.
CREATE TABLE telemetry_raw (
    session_id      text NOT NULL,
    car             integer NOT NULL,
    seq             bigint NOT NULL,
    driver          text NOT NULL,
    team            text NOT NULL,
    lap             integer NOT NULL,
    sector          integer NOT NULL,
    lap_distance_m  real,
    timestamp_ms    bigint NOT NULL,
    speed_kph       real,
    rpm             integer,
    gear            integer,
    throttle        real,
    brake           real,
    tyre_surface_c  real[] NOT NULL,
    tyre_pressure_psi real[] NOT NULL,
    brake_temp_c    real[] NOT NULL,
    tyre_wear_pct   real[] NOT NULL,
    compound        text NOT NULL,
    tyre_age_laps   integer NOT NULL,
    fuel_kg         real,
    engine_temp_c   real,
    pit_status      text NOT NULL,
    position        integer NOT NULL,
    PRIMARY KEY (session_id, car, seq)
) PARTITION BY LIST (session_id);
CREATE TABLE telemetry_raw_default PARTITION OF telemetry_raw DEFAULT;

-- persist-teams: each team's laps, stints, pit stops and anomalies of a session, in one
-- list partition per team (what a team's analysts query, and what is handed over to them).
CREATE TABLE team_laps (LIKE laps) PARTITION BY LIST (team);
CREATE TABLE team_stints (
    session_id text NOT NULL, car integer NOT NULL, driver text NOT NULL, team text NOT NULL,
    stint bigint NOT NULL, compound text NOT NULL, first_lap integer NOT NULL,
    last_lap integer NOT NULL, laps bigint NOT NULL, mean_lap_ms float8,
    degradation_ms_per_lap float8
) PARTITION BY LIST (team);
CREATE TABLE team_pit_stops (LIKE pit_stops) PARTITION BY LIST (team);
CREATE TABLE team_anomalies (LIKE anomalies) PARTITION BY LIST (team);

-- data-quality: one report per session and run, with every check's outcome.
CREATE TABLE dq_reports (
    session_id  text NOT NULL,
    run_id      text NOT NULL,
    passed      boolean NOT NULL,
    checks      jsonb NOT NULL,
    checked_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, run_id)
);

-- aggregate: one row per session and team (ARCHITECTURE.md), and per driver.
CREATE TABLE telemetry_team_summary (
    session_id              text NOT NULL,
    team                    text NOT NULL,
    laps                    integer NOT NULL,
    best_lap_ms             integer,
    median_lap_ms           float8,
    pace_delta_to_ferrari_ms float8,
    pit_stops               integer NOT NULL,
    mean_stationary_s       float8,
    best_stationary_s       float8,
    mean_pit_score          float8,
    anomalies_warning       integer NOT NULL,
    anomalies_critical      integer NOT NULL,
    top_speed_kph           real,
    tyre_degradation        jsonb NOT NULL,
    computed_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, team)
);
CREATE TABLE telemetry_driver_summary (
    session_id          text NOT NULL,
    car                 integer NOT NULL,
    driver              text NOT NULL,
    team                text NOT NULL,
    position            integer,
    laps                integer NOT NULL,
    best_lap_ms         integer,
    median_lap_ms       float8,
    pit_stops           integer NOT NULL,
    best_stationary_s   float8,
    anomalies           integer NOT NULL,
    top_speed_kph       real,
    PRIMARY KEY (session_id, car)
);

-- report: the HTML performance report of a session (served at /api/v1/sessions/{id}/report).
CREATE TABLE reports (
    session_id  text PRIMARY KEY,
    html        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Every task attempt of every pipeline run, written by the steps themselves.
CREATE TABLE pipeline_task_runs (
    session_id  text NOT NULL,
    run_id      text NOT NULL,
    task        text NOT NULL,
    attempt     integer NOT NULL,
    step        text NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    outcome     text,
    message     text,
    PRIMARY KEY (session_id, run_id, task, attempt)
);

-- season-report (the CronJob): one row per run over every archived session.
CREATE TABLE season_reports (
    created_at  timestamptz PRIMARY KEY DEFAULT now(),
    sessions    integer NOT NULL,
    summary     jsonb NOT NULL
);
