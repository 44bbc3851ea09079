-- The stints view as in v3, grouped by car alone: grouped also by the driver and team
-- text of each lap, a car whose names changed mid-session (laps stored under the car
-- number and 'unknown' before a feed's driver list arrived, a corrected code) had its
-- stints split there, while the strategy's stints (by car) were not. Every stint of a car
-- now carries the car's names as car_accounting knows them (a placeholder never replaces
-- a known name there), else those of the car's latest lap. Same columns, same order.
CREATE OR REPLACE VIEW stints AS
WITH marked AS (
    SELECT s.*,
           COALESCE(lag(s.stop_in) OVER w, false) AS after_stop,
           lag(s.compound) OVER w AS prev_compound,
           first_value(s.driver) OVER latest AS latest_driver,
           first_value(s.team) OVER latest AS latest_team
      FROM lap_status s
    WINDOW w AS (PARTITION BY s.session_id, s.car ORDER BY s.lap),
           latest AS (PARTITION BY s.session_id, s.car ORDER BY s.lap DESC
                      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)),
numbered AS (
    SELECT *, 1 + sum(CASE WHEN after_stop OR compound <> prev_compound THEN 1 ELSE 0 END)
                  OVER (PARTITION BY session_id, car ORDER BY lap ROWS UNBOUNDED PRECEDING) AS stint
      FROM marked)
SELECT n.session_id, n.car,
       COALESCE(a.driver, min(n.latest_driver)) AS driver,
       COALESCE(a.team, min(n.latest_team)) AS team,
       n.stint,
       COALESCE(mode() WITHIN GROUP (ORDER BY n.compound), 'unknown') AS compound,
       min(n.lap) AS first_lap, max(n.lap) AS last_lap, count(*) AS laps,
       avg(n.lap_time_ms) FILTER (WHERE n.green)::float8 AS mean_lap_ms,
       -- lap-time increase per lap of tyre age on green laps (least squares), ms
       regr_slope(n.lap_time_ms, n.tyre_age) FILTER (WHERE n.green) AS degradation_ms_per_lap
  FROM numbered n
  LEFT JOIN car_accounting a ON a.session_id = n.session_id AND a.car = n.car
 GROUP BY n.session_id, n.car, n.stint, a.driver, a.team;
