-- pitstop schema v5: session events (POST /api/v1/sessions/{id}/events) from any source —
-- OpenF1 race control, the F1 game's safety-car status — and the periods they make. A
-- lap is neutralised also when it overlaps a safety-car, virtual-safety-car or red-flag
-- period, not only when the field's pace says so.

-- One row per (session, instant, kind): a resend stores nothing twice. No reference to
-- sessions: events may come before the session's first samples are committed.
CREATE TABLE session_events (
    session_id  text NOT NULL,
    at_ms       bigint NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('safety_car', 'virtual_safety_car', 'red_flag', 'green', 'chequered')),
    source      text,
    message     text,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, at_ms, kind)
);

-- A safety car, virtual safety car or red flag begins a period (repeats of the same kind
-- continue it); it ends at the next event of another kind (green, chequered, or another
-- period's start: a red flag ending behind the safety car); end_ms NULL while none has
-- come.
CREATE VIEW session_periods AS
WITH ordered AS (
    SELECT session_id, at_ms, kind,
           lag(kind) OVER (PARTITION BY session_id ORDER BY at_ms, kind) AS before
      FROM session_events)
SELECT o.session_id, o.kind, o.at_ms AS begin_ms,
       (SELECT min(e.at_ms) FROM session_events e
         WHERE e.session_id = o.session_id AND e.at_ms > o.at_ms AND e.kind <> o.kind) AS end_ms
  FROM ordered o
 WHERE o.kind IN ('safety_car', 'virtual_safety_car', 'red_flag')
   AND o.before IS DISTINCT FROM o.kind;

-- lap_status as in v3, neutralised also by overlapping a period (the lap from its start,
-- crossed_at_ms - lap_time_ms, to its line crossing); such laps are left out of the
-- session's reference pace too. Same columns, so the stints view stands.
CREATE OR REPLACE VIEW lap_status AS
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
           EXISTS (SELECT 1 FROM visits v WHERE v.stopped AND v.session_id = l.session_id AND v.car = l.car AND v.lap = l.lap) AS stop_in,
           EXISTS (SELECT 1 FROM session_periods p WHERE p.session_id = l.session_id
                     AND p.begin_ms < l.crossed_at_ms
                     AND (p.end_ms IS NULL OR p.end_ms > l.crossed_at_ms - l.lap_time_ms)) AS in_period
      FROM laps l),
reference AS (
    SELECT session_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY lap_time_ms) AS ref_ms
      FROM flagged WHERE lap > 1 AND NOT pit_in AND NOT pit_out AND NOT in_period GROUP BY session_id),
field AS (
    SELECT session_id, lap, percentile_cont(0.5) WITHIN GROUP (ORDER BY lap_time_ms) AS field_ms
      FROM flagged WHERE NOT pit_in AND NOT pit_out GROUP BY session_id, lap),
judged AS (
    SELECT f.session_id, f.car, f.driver, f.team, f.lap, f.lap_time_ms, f.s1_ms, f.s2_ms, f.s3_ms,
           f.compound, f.tyre_age, f.top_speed_kph, f.crossed_at_ms, f.position,
           f.started_at_ms, f.pit_in, f.pit_out, f.stop_in,
           f.in_period OR COALESCE(fl.field_ms > 1.10 * r.ref_ms, false) AS neutralised
      FROM flagged f
      LEFT JOIN reference r ON r.session_id = f.session_id
      LEFT JOIN field fl ON fl.session_id = f.session_id AND fl.lap = f.lap)
SELECT *, lap > 1 AND NOT pit_in AND NOT pit_out AND NOT neutralised AS green FROM judged;
