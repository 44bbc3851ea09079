-- The stints view as in v3, grouped by car alone: grouped also by the driver and team
-- text, a car whose name changed mid-session (a feed correcting a driver code or a team
-- name) had each stint split in two there, while the strategy's stints (by car) were
-- not. A stint carries the names of its latest lap. Same columns, same order.
CREATE OR REPLACE VIEW stints AS
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
SELECT session_id, car,
       (array_agg(driver ORDER BY lap DESC))[1] AS driver,
       (array_agg(team ORDER BY lap DESC))[1] AS team,
       stint,
       COALESCE(mode() WITHIN GROUP (ORDER BY compound), 'unknown') AS compound,
       min(lap) AS first_lap, max(lap) AS last_lap, count(*) AS laps,
       avg(lap_time_ms) FILTER (WHERE green)::float8 AS mean_lap_ms,
       -- lap-time increase per lap of tyre age on green laps (least squares), ms
       regr_slope(lap_time_ms, tyre_age) FILTER (WHERE green) AS degradation_ms_per_lap
  FROM numbered
 GROUP BY session_id, car, stint;
