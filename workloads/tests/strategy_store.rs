//! The strategy as the API computes it, from what PostgreSQL holds: a drive-through (a
//! pit-lane visit without a stop) makes its in- and out-lap non-racing laps but keeps the
//! tyres on, the same rule as the database's own `lap_status` view, so the degradation
//! fit rests on the same laps the `stints` view calls green; and `/stints` serves that
//! fit, not a raw slope.

mod common;

use common::Env;
use pitstop_workloads::analytics::strategy::{compute, stints};
use pitstop_workloads::processor::{queries, strategy_input};

const ID: &str = "drive-through";
/// Car 1's laps: 90 s plus 50 ms a lap of tyre age; laps 6 and 7 10 s slower (the visit).
const LAPS: u16 = 12;

fn lap_time(lap: u16) -> i32 {
    90_000 + 50 * i32::from(lap) + if lap == 6 || lap == 7 { 10_000 } else { 0 }
}

async fn store(db: &tokio_postgres::Client) {
    db.execute(
        "INSERT INTO sessions (session_id, circuit, total_laps) VALUES ($1, 'zandvoort', 40)",
        &[&ID],
    )
    .await
    .unwrap();
    let mut at: i64 = 1_756_000_000_000;
    let mut lap6_end = 0;
    for lap in 1..=LAPS {
        at += i64::from(lap_time(lap));
        if lap == 6 {
            lap6_end = at;
        }
        db.execute(
            "INSERT INTO laps (session_id, car, driver, team, lap, lap_time_ms, compound,
                               tyre_age, top_speed_kph, crossed_at_ms, position)
             VALUES ($1, 1, 'VER', 'Red Bull Racing', $2, $3, 'medium', $4, 300, $5, 1)",
            &[
                &ID,
                &i32::from(lap),
                &lap_time(lap),
                &(i32::from(lap) - 1),
                &at,
            ],
        )
        .await
        .unwrap();
    }
    db.execute(
        "INSERT INTO drive_throughs (session_id, car, driver, team, lap, entry_ms, pit_lane_ms)
         VALUES ($1, 1, 'VER', 'Red Bull Racing', 6, $2, 20000)",
        &[&ID, &(lap6_end - 5_000)],
    )
    .await
    .unwrap();
}

/// A fresh database with the schema and session `id` of `total_laps` laps.
async fn session(name: &str, id: &str, total_laps: i32) -> (Env, tokio_postgres::Client) {
    let env = Env::new(name).await;
    let mut db = env.db().await;
    pitstop_workloads::db::migrate(&mut db).await.unwrap();
    db.execute(
        "INSERT INTO sessions (session_id, total_laps) VALUES ($1, $2)",
        &[&id, &total_laps],
    )
    .await
    .unwrap();
    (env, db)
}

#[tokio::test]
async fn a_drive_through_keeps_the_stint_and_leaves_its_laps_out_of_the_fit() {
    let env = Env::new("strategy_store").await;
    let mut db = env.db().await;
    pitstop_workloads::db::migrate(&mut db).await.unwrap();
    store(&db).await;

    let view: Vec<i32> = db
        .query(
            "SELECT lap FROM lap_status WHERE session_id = $1 AND car = 1 AND green ORDER BY lap",
            &[&ID],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        view,
        [2, 3, 4, 5, 8, 9, 10, 11, 12],
        "the view's green laps"
    );

    let race = strategy_input::race(&db, ID)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(race.drive_throughs.len(), 1);
    assert!(race.stops.is_empty());
    let cars = stints::by_car(&race);
    let car1 = &cars[&1];
    let neutral = stints::race_neutralised_laps(&race);
    let judged = stints::stints(
        &car1.laps,
        car1.visits(),
        &race.laps,
        &neutral,
        &race.neutral_periods,
    );
    let green: Vec<i32> = judged
        .iter()
        .flat_map(|s| s.laps.iter().filter(|j| j.green()))
        .map(|j| i32::from(j.lap.lap))
        .collect();
    assert_eq!(green, view, "the strategy's green laps are the view's");
    let s = compute(&race);
    let car = &s.cars[0];
    assert_eq!(car.stint.number, 1, "a drive-through is not a stop");
    assert_eq!(car.stint.tyre_age, f64::from(LAPS));
    let fit = car.degradation.expect("nine green laps are enough");
    assert_eq!(
        (fit.green_laps, fit.dropped_laps),
        (view.len(), 0),
        "the fit rests on the view's green laps, nothing dropped as traffic"
    );

    // `/stints` (and `/teams`, the race summary, the team tables) serve the same fit,
    // not the view's raw least-squares slope (50 ms a lap here: no fuel correction, the
    // visit's laps left out only because the view knows them).
    let served = queries::stints(&db, ID, None).await.unwrap();
    assert_eq!(served.len(), 1);
    assert_eq!(served[0].degradation_ms_per_lap, Some(fit.ms_per_lap));
    assert_eq!(
        served[0].degradation_ci95_ms_per_lap,
        Some(fit.ci95_ms_per_lap)
    );
    assert_eq!(served[0].degradation_hidden, None);
    let fuel = pitstop_workloads::analytics::strategy::fuel_ms_per_lap(Some(40));
    assert!(
        (fit.ms_per_lap - (50.0 + fuel)).abs() < 1.0,
        "the tyres' 50 ms a lap plus the fuel burnt ({fuel:.0} ms a lap): {fit:?}"
    );
    env.cleanup().await;
}

/// The strategy splits stints where the `stints` view does, compounds missing or not:
/// a compound change counts against the previous lap's compound, both known. A stop
/// stored without its lap, which the view cannot place, is the one place they differ:
/// `/stints` then says so instead of serving another stint's fit.
#[tokio::test]
async fn stints_split_where_the_view_splits_them() {
    let id = "splits";
    let (env, db) = session("strategy_splits", id, 10).await;
    let (m, h, s) = (Some("medium"), Some("hard"), Some("soft"));
    // Per car, each lap's compound (None: no source says).
    let cars: [(i32, [Option<&str>; 6]); 4] = [
        (1, [m, m, h, h, h, h]),
        (2, [m, None, h, h, None, s]),
        (3, [None, None, h, m, m, m]),
        (4, [None; 6]),
    ];
    let crossed = |lap: i32| 1_756_000_000_000 + i64::from(lap) * 90_000;
    for (car, compounds) in &cars {
        for (i, compound) in compounds.iter().enumerate() {
            let lap = i as i32 + 1;
            db.execute(
                "INSERT INTO laps (session_id, car, driver, team, lap, lap_time_ms, compound,
                                   top_speed_kph, crossed_at_ms)
                 VALUES ($1, $2, 'D', 'T', $3, 90000, $4, 300, $5)",
                &[&id, car, &lap, compound, &crossed(lap)],
            )
            .await
            .unwrap();
        }
    }
    // Car 4 stops in lap 3, stored without its lap.
    db.execute(
        "INSERT INTO pit_stops (session_id, car, driver, team, lap, entry_ms,
                                stationary_start_ms, stationary_ms, pit_lane_ms)
         VALUES ($1, 4, 'D', 'T', NULL, $2, $2, 2500, 20000)",
        &[&id, &(crossed(3) - 5_000)],
    )
    .await
    .unwrap();
    let view: Vec<(i32, i32, i32)> = db
        .query(
            "SELECT car, first_lap, last_lap FROM stints WHERE session_id = $1
              ORDER BY car, first_lap",
            &[&id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        view,
        [
            (1, 1, 2),
            (1, 3, 6),
            (2, 1, 6),
            (3, 1, 3),
            (3, 4, 6),
            (4, 1, 6)
        ]
    );
    let fits = strategy_input::stint_fits(&db, id).await.unwrap();
    let ours: Vec<(i32, i32, i32)> = fits.0.iter().map(|(k, v)| (k.0, k.1, v.0)).collect();
    assert_eq!(ours[..5], view[..5]);
    assert_eq!(
        ours[5..],
        [(4, 1, 3), (4, 4, 6)],
        "the strategy takes lap 3"
    );
    let served = queries::stints(&db, id, Some(4)).await.unwrap();
    assert_eq!(served.len(), 1);
    assert_eq!(served[0].degradation_ms_per_lap, None);
    assert!(
        served[0]
            .degradation_hidden
            .as_deref()
            .is_some_and(|r| r.contains("splits this car's laps elsewhere")),
        "{:?}",
        served[0].degradation_hidden
    );
    env.cleanup().await;
}

/// A car whose driver and team text changes mid-session (laps stored under the car number
/// and 'unknown' before a feed's driver list came) keeps its stints whole in the `stints`
/// view, every one named as the car is known: grouped by the text, the view split them
/// there and `/stints` served neither half's fit, and a stint named by placeholders fell
/// out of its team in `/teams`.
#[tokio::test]
async fn a_renamed_driver_keeps_the_stint() {
    let id = "rename";
    let (env, db) = session("strategy_rename", id, 40).await;
    let crossed = |lap: i32| 1_756_000_000_000 + i64::from(lap) * 90_000;
    for lap in 1..=20i32 {
        let (driver, team) = if lap <= 12 {
            ("1", "unknown")
        } else {
            ("VER", "Red Bull Racing")
        };
        db.execute(
            "INSERT INTO laps (session_id, car, driver, team, lap, lap_time_ms, compound,
                               tyre_age, top_speed_kph, crossed_at_ms)
             VALUES ($1, 1, $2, $3, $4, $5, 'medium', $6, 300, $7)",
            &[
                &id,
                &driver,
                &team,
                &lap,
                &(90_000 + 50 * lap),
                &(lap - 1),
                &crossed(lap),
            ],
        )
        .await
        .unwrap();
    }
    let names = |served: &[queries::Stint]| -> Vec<(String, String, i32, i32)> {
        served
            .iter()
            .map(|s| (s.driver.clone(), s.team.clone(), s.first_lap, s.last_lap))
            .collect()
    };
    // No accounting row (laps alone): one stint, named as the latest lap.
    let served = queries::stints(&db, id, None).await.unwrap();
    assert_eq!(
        names(&served),
        [("VER".into(), "Red Bull Racing".into(), 1, 20)]
    );
    assert!(
        served[0].degradation_ms_per_lap.is_some(),
        "{:?}",
        served[0].degradation_hidden
    );
    // A stop in lap 10 (the names change in the second stint) and the car's accounting,
    // which knows its names: both stints carry them, and both are the team's.
    db.execute(
        "INSERT INTO pit_stops (session_id, car, driver, team, lap, entry_ms,
                                stationary_start_ms, stationary_ms, pit_lane_ms)
         VALUES ($1, 1, 'VER', 'Red Bull Racing', 10, $2, $2, 2500, 20000)",
        &[&id, &(crossed(10) - 5_000)],
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO car_accounting (session_id, car, driver, team, samples, seq_sum, max_seq,
                                     last_lap, last_ts_ms)
         VALUES ($1, 1, 'VER', 'Red Bull Racing', 1000, 0, 999, 20, $2)",
        &[&id, &crossed(20)],
    )
    .await
    .unwrap();
    let served = queries::stints(&db, id, None).await.unwrap();
    let team = || ("VER".to_string(), "Red Bull Racing".to_string());
    assert_eq!(
        names(&served),
        [(team().0, team().1, 1, 10), (team().0, team().1, 11, 20)]
    );
    let teams = queries::teams(&db, id).await.unwrap();
    assert_eq!(teams.len(), 1);
    assert_eq!(teams[0].stints.len(), 2, "both stints are the team's");
    let race = strategy_input::race(&db, id).await.unwrap().unwrap();
    assert_eq!(race.entrants[0].driver, "VER");
    assert_eq!(compute(&race).cars[0].driver, "VER");
    env.cleanup().await;
}

/// A car in the pit lane is stored with the partition's checkpoint by the processor's
/// own commit: a visit begun is a row, one begun and ended within a batch none, and the
/// commit that stores the stop deletes the row. The strategy reads the row as a car in
/// the pit lane, placed where it comes out.
#[tokio::test]
async fn the_pit_lane_now_is_committed_with_the_checkpoint() {
    use pitstop_workloads::analytics::{CarId, PitLaneRecord, PitStopRecord};
    use pitstop_workloads::processor::batch::Batch;
    use pitstop_workloads::processor::entry::EntryId;
    use pitstop_workloads::processor::store::PartitionStore;

    const LANE: &str = "pit-lane-now";
    let (env, db) = session("strategy_store_lane", LANE, 40).await;
    for car in 1..=3i32 {
        for lap in 1..=10i32 {
            db.execute(
                "INSERT INTO laps (session_id, car, driver, team, lap, lap_time_ms,
                                   top_speed_kph, crossed_at_ms)
                 VALUES ($1, $2, $3, 'T', $4, 90000, 300, $5)",
                &[
                    &LANE,
                    &car,
                    &format!("D{car}"),
                    &lap,
                    &(i64::from(lap) * 90_000 + i64::from(car) * 1_000),
                ],
            )
            .await
            .unwrap();
        }
    }
    let id = |car: u8| CarId {
        session: LANE.into(),
        car,
        driver: format!("D{car}").into(),
        team: "T".into(),
    };
    let lane = |car, entry: Option<i64>| PitLaneRecord {
        id: id(car),
        entry: entry.map(|e| (e, Some(11))),
    };
    let mut store = PartitionStore::connect(&env.database_url).await.unwrap();
    let stream = "lane:0";
    let prev = store.load_checkpoint(stream).await.unwrap().id;
    let mut batch = Batch {
        last_id: Some(EntryId { ms: 1, seq: 0 }),
        ..Batch::default()
    };
    batch.events.pit_lane = vec![
        lane(1, Some(905_000)),
        lane(2, Some(906_000)),
        lane(2, None),
    ];
    store.commit(stream, prev, b"state", &batch).await.unwrap();
    let in_lane: Vec<(i32, i64)> = db
        .query(
            "SELECT car, entry_ms FROM pit_lane_now WHERE session_id = $1",
            &[&LANE],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(in_lane, [(1, 905_000)]);
    let mut race = strategy_input::race(&db, LANE).await.unwrap().unwrap();
    race.now_ms = Some(915_000);
    assert_eq!(race.pit_entries.len(), 1);
    let s = compute(&race);
    let one = s.cars.iter().find(|c| c.car == 1).unwrap();
    assert!(one.in_pit_lane);
    assert_eq!(one.rejoin.as_ref().map(|r| r.position), Some(3));

    let mut batch = Batch {
        last_id: Some(EntryId { ms: 2, seq: 0 }),
        ..Batch::default()
    };
    batch.events.pit_stops.push(PitStopRecord {
        id: id(1),
        lap: Some(11),
        entry_ms: 905_000,
        stationary_start_ms: 912_000,
        stationary_ms: 2_500,
        pit_lane_ms: 20_000,
        compound_in: None,
        compound_out: None,
    });
    batch.events.pit_lane.push(lane(1, None));
    store
        .commit(stream, EntryId { ms: 1, seq: 0 }, b"state", &batch)
        .await
        .unwrap();
    let race = strategy_input::race(&db, LANE).await.unwrap().unwrap();
    assert!(race.pit_entries.is_empty());
    assert_eq!(race.stops.len(), 1);
    env.cleanup().await;
}

/// A stop stored while the strategy reads the race: the car is in the pit lane, then its
/// stop is stored and its row deleted in one commit. Whatever the interleaving, each read
/// sees the car once per visit — in the lane or stopped, never in neither (a read of the
/// stops before the commit and of the lane after it would drop the car back to where it
/// entered, a whole stop too far up) nor in both (its loss counted twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_stored_during_a_read_is_seen_once() {
    const ID: &str = "stored-during-read";
    const VISITS: i64 = 150;
    let (env, db) = session("strategy_store_snapshot", ID, 40).await;
    let mut writer = env.db().await;
    let lane = "INSERT INTO pit_lane_now (session_id, car, lap, entry_ms) VALUES ($1, 1, 2, $2)";
    writer.execute(lane, &[&ID, &0i64]).await.unwrap();
    let write = tokio::spawn(async move {
        for k in 0..VISITS {
            let tx = writer.transaction().await.unwrap();
            tx.execute(
                "INSERT INTO pit_stops (session_id, car, driver, team, lap, entry_ms,
                                        stationary_start_ms, stationary_ms, pit_lane_ms)
                 VALUES ($1, 1, 'D1', 'T', 2, $2, $2, 2500, 20000)",
                &[&ID, &(k * 1_000)],
            )
            .await
            .unwrap();
            tx.execute("DELETE FROM pit_lane_now WHERE session_id = $1", &[&ID])
                .await
                .unwrap();
            tx.commit().await.unwrap();
            writer
                .execute(lane, &[&ID, &((k + 1) * 1_000)])
                .await
                .unwrap();
        }
    });
    let (mut reads, mut seen) = (0, 0usize);
    let mut states = std::collections::BTreeSet::new();
    while !write.is_finished() || reads == 0 {
        let race = strategy_input::race(&db, ID).await.unwrap().unwrap();
        // Visits so far: the stops stored, plus the one under way if the car is in the lane.
        let visits = race.stops.len() + race.pit_entries.len();
        assert!(race.pit_entries.len() <= 1);
        assert!(
            visits >= seen,
            "read {reads}: {} stops and {} in the lane after {seen} visits seen",
            race.stops.len(),
            race.pit_entries.len()
        );
        let in_both = race
            .pit_entries
            .iter()
            .any(|e| race.stops.iter().any(|s| s.entry_ms == e.entry_ms));
        assert!(
            !in_both,
            "read {reads}: a visit both stopped and in the lane"
        );
        states.insert(race.stops.len());
        (seen, reads) = (visits, reads + 1);
    }
    write.await.unwrap();
    // The reads met the writes part-way, or the test proved nothing.
    assert!(states.len() >= 10, "reads saw only {states:?} stops stored");
    println!(
        "{reads} reads while {VISITS} stops were stored, {} states seen",
        states.len()
    );
    env.cleanup().await;
}
