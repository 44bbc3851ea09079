-- pitstop schema v7: the cars in the pit lane now. A visit is stored in pit_stops or
-- drive_throughs when the car leaves the pit lane; until then the strategy could not see
-- it, and placed a car that was stopping where it entered instead of where it would come
-- out. The processor writes a row when the car stands still in its box after the limiter
-- (a limiter speed held on track is no visit) and deletes it in the commit that stores
-- the stop, both with the partition's checkpoint: after a restart the replayed samples
-- write the same; a car's analytics begun afresh and a session's end delete its row.
CREATE TABLE pit_lane_now (
    session_id  text NOT NULL REFERENCES sessions ON DELETE CASCADE,
    car         integer NOT NULL,
    lap         integer,
    entry_ms    bigint NOT NULL,
    PRIMARY KEY (session_id, car)
);
