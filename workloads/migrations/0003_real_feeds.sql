-- pitstop schema v3: real feeds carry only some channels, and pit stops are found from
-- motion. Absent channels are NULL (unknown), never a fake zero; in-laps, out-laps and
-- neutralised laps are derived from every car's laps and pit visits (lap_status), not
-- from a pit flag in the telemetry.

DROP VIEW stints;

ALTER TABLE laps DROP COLUMN pit_in, DROP COLUMN pit_out,
    ALTER COLUMN compound DROP NOT NULL,
    ALTER COLUMN tyre_age DROP NOT NULL,
    ALTER COLUMN position DROP NOT NULL;
ALTER TABLE team_laps DROP COLUMN pit_in, DROP COLUMN pit_out,
    ALTER COLUMN compound DROP NOT NULL,
    ALTER COLUMN tyre_age DROP NOT NULL,
    ALTER COLUMN position DROP NOT NULL;

ALTER TABLE pit_stops ALTER COLUMN lap DROP NOT NULL,
    ALTER COLUMN compound_in DROP NOT NULL,
    ALTER COLUMN compound_out DROP NOT NULL;
ALTER TABLE team_pit_stops ALTER COLUMN lap DROP NOT NULL,
    ALTER COLUMN compound_in DROP NOT NULL,
    ALTER COLUMN compound_out DROP NOT NULL;

ALTER TABLE anomalies ALTER COLUMN lap DROP NOT NULL;
ALTER TABLE team_anomalies ALTER COLUMN lap DROP NOT NULL;

-- Pit-lane visits without a stop (a drive-through penalty).
CREATE TABLE drive_throughs (
    session_id   text NOT NULL REFERENCES sessions ON DELETE CASCADE,
    car          integer NOT NULL,
    driver       text NOT NULL,
    team         text NOT NULL,
    lap          integer,
    entry_ms     bigint NOT NULL,
    pit_lane_ms  bigint NOT NULL,
    PRIMARY KEY (session_id, car, entry_ms)
);

-- The channels each car's feed has sent (bit per channel, docs/wire-format.md).
ALTER TABLE car_accounting ADD COLUMN channels integer NOT NULL DEFAULT 0;

ALTER TABLE telemetry_raw
    ALTER COLUMN lap DROP NOT NULL,
    ALTER COLUMN sector DROP NOT NULL,
    ALTER COLUMN tyre_surface_c DROP NOT NULL,
    ALTER COLUMN tyre_pressure_psi DROP NOT NULL,
    ALTER COLUMN brake_temp_c DROP NOT NULL,
    ALTER COLUMN tyre_wear_pct DROP NOT NULL,
    ALTER COLUMN compound DROP NOT NULL,
    ALTER COLUMN tyre_age_laps DROP NOT NULL,
    ALTER COLUMN pit_status DROP NOT NULL,
    ALTER COLUMN position DROP NOT NULL,
    ADD COLUMN drs boolean,
    ADD COLUMN x real,
    ADD COLUMN y real,
    ADD COLUMN z real;

-- Every lap with what it was: an in-lap (the car entered the pit lane on it: the lap a
-- stop belongs to), an out-lap (it left the pit lane on it), neutralised (the field's
-- median on that lap is more than 10% slower than the session's median racing lap: a
-- safety car or a virtual one), and green: none of those and not lap 1.
CREATE VIEW lap_status AS
WITH visits AS (
    SELECT session_id, car, lap, entry_ms, entry_ms + pit_lane_ms AS exit_ms, true AS stopped FROM pit_stops
    UNION ALL
    SELECT session_id, car, lap, entry_ms, entry_ms + pit_lane_ms, false FROM drive_throughs),
flagged AS (
    SELECT l.*,
           l.crossed_at_ms - l.lap_time_ms AS started_at_ms,
           EXISTS (SELECT 1 FROM visits v WHERE v.session_id = l.session_id AND v.car = l.car AND v.lap = l.lap) AS pit_in,
           EXISTS (SELECT 1 FROM visits v WHERE v.session_id = l.session_id AND v.car = l.car
                     AND v.exit_ms >= l.crossed_at_ms - l.lap_time_ms AND v.exit_ms < l.crossed_at_ms) AS pit_out,
           EXISTS (SELECT 1 FROM visits v WHERE v.stopped AND v.session_id = l.session_id AND v.car = l.car AND v.lap = l.lap) AS stop_in
      FROM laps l),
reference AS (
    SELECT session_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY lap_time_ms) AS ref_ms
      FROM flagged WHERE lap > 1 AND NOT pit_in AND NOT pit_out GROUP BY session_id),
field AS (
    SELECT session_id, lap, percentile_cont(0.5) WITHIN GROUP (ORDER BY lap_time_ms) AS field_ms
      FROM flagged WHERE NOT pit_in AND NOT pit_out GROUP BY session_id, lap),
judged AS (
    SELECT f.*, COALESCE(fl.field_ms > 1.10 * r.ref_ms, false) AS neutralised
      FROM flagged f
      LEFT JOIN reference r ON r.session_id = f.session_id
      LEFT JOIN field fl ON fl.session_id = f.session_id AND fl.lap = f.lap)
SELECT *, lap > 1 AND NOT pit_in AND NOT pit_out AND NOT neutralised AS green FROM judged;

-- Stints: a new one starts on the lap after each stop's in-lap and wherever the compound
-- changes; labelled with the compound of most of its laps, 'unknown' when no source says.
CREATE VIEW stints AS
WITH marked AS (
    SELECT s.*,
           COALESCE(lag(s.stop_in) OVER w, false) AS after_stop,
           lag(s.compound) OVER w AS prev_compound
      FROM lap_status s
    WINDOW w AS (PARTITION BY s.session_id, s.car ORDER BY s.lap)),
numbered AS (
    SELECT *, 1 + sum(CASE WHEN after_stop OR compound <> prev_compound THEN 1 ELSE 0 END)
                  OVER (PARTITION BY session_id, car ORDER BY lap ROWS UNBOUNDED PRECEDING) AS stint
      FROM marked)
SELECT session_id, car, driver, team, stint,
       COALESCE(mode() WITHIN GROUP (ORDER BY compound), 'unknown') AS compound,
       min(lap) AS first_lap, max(lap) AS last_lap, count(*) AS laps,
       avg(lap_time_ms) FILTER (WHERE green)::float8 AS mean_lap_ms,
       -- lap-time increase per lap of tyre age on green laps (least squares), ms
       regr_slope(lap_time_ms, tyre_age) FILTER (WHERE green) AS degradation_ms_per_lap
  FROM numbered
 GROUP BY session_id, car, driver, team, stint;
