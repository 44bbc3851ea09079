-- pitstop schema v4: samples that reach a car's analytics too late (older than what was
-- already analysed, after the reorder hold) are counted and archived like the rest, and
-- counted here as well, so a session says how many of each car's samples its analytics
-- could not use.
ALTER TABLE car_accounting ADD COLUMN late bigint NOT NULL DEFAULT 0;
