//! The strategy's real-race checks on races we have no telemetry of: FastF1's lap tables
//! under `../shared/data/f1/fastf1-laps/` (2024 Italian GP, 2022 Bahrain GP), read as the
//! processor would have stored them (laps, stops, safety-car periods). The rejoin
//! predicted at pit entry against the position held one lap after pit exit, and every
//! undercut pair's call against its outcome, positions from the line crossings. A table
//! dropped in beside them is checked with no change to the code:
//!
//! ```sh
//! cargo test --release -p pitstop-workloads --test strategy_lap_tables -- --nocapture
//! ```
//!
//! Skipped with a message without the data.

mod common;

use common::{lap_tables, strategy};
use pitstop_workloads::analytics::strategy::{Race, Strategy, compute, review, suspension};

/// Floors under what each table we have measured, (name, exact %, within one %, median
/// margin error ms, exact % with every margin right), about one stop below it: a
/// regression fails here. Measured: Bahrain 2022 33/58 exact, 51/58 within one, 40/58
/// with every margin right, margins 1.70 s out (32/58 and 52/58 before cars that drove
/// past the pit entry under its safety car were no longer expected to stop; 2.47 s
/// before the rejoin counted the first lap on new tyres, 2.19 s before it took off what
/// this race's new tyres fell short of their model, 31/58 and 1.82 s before it read
/// each fit against the field's); Monza 2024 21/30, 29/30, 25/30, 1.83 s (2.20 s,
/// 1.83 s, 1.83 s) (docs/strategy.md says why the rest miss). A table not named is
/// printed and held to what any race must give: every miss naming its cars, half its
/// green calls right (from four pairs); one with no stop to judge or no undercut pair
/// is said so.
const FLOORS: [(&str, usize, usize, f64, usize); 2] = [
    ("2022-bahrain-gp", 55, 86, 1_800.0, 67),
    ("2024-italian-gp", 66, 93, 2_000.0, 80),
];

/// Fewest green undercut pairs whose calls are held to half right.
const MIN_GREEN_PAIRS: usize = 4;

#[test]
fn every_lap_table_is_checked() {
    let Some(f1) = common::f1_data() else {
        return;
    };
    let tables = lap_tables::all(&f1);
    if tables.is_empty() {
        println!(
            "SKIPPED: no lap table in {}",
            f1.join("fastf1-laps").display()
        );
        return;
    }
    for t in &tables {
        let race = &t.race;
        println!(
            "\n## {} ({} laps, circuit {}, neutralised {:?})",
            t.name,
            race.total_laps.unwrap_or(0),
            race.circuit
                .as_deref()
                .unwrap_or("unknown: a typical pit lane assumed"),
            race.neutral_periods
        );
        let rejoin = strategy::rejoin_check(race, &|c, at| review::progress(race, c, at));
        let undercuts = strategy::undercut_check(race, &|c, at| review::progress(race, c, at));
        let floors = FLOORS.iter().find(|f| f.0 == t.name);
        // A real race may have no stop to judge (nobody stopped, or only under a red
        // flag) or no undercut pair (a small field): said, not failed.
        if rejoin.n == 0 && floors.is_none() {
            println!(
                "NOTHING TO CHECK in {}: no stop with a lap after it",
                t.name
            );
            continue;
        }
        assert!(rejoin.n > 0, "{}: no stop checked", t.name);
        assert!(rejoin.misses_named, "{}: a miss names no car", t.name);
        let n = rejoin.n;
        if let Some((_, exact, near, margin_ms, bound)) = floors {
            assert!(undercuts.green > 0, "{}: no green undercut pair", t.name);
            assert!(
                rejoin.exact * 100 >= exact * n,
                "{}: exact {}/{n}",
                t.name,
                rejoin.exact
            );
            assert!(
                rejoin.near * 100 >= near * n,
                "{}: within one {}/{n}",
                t.name,
                rejoin.near
            );
            assert!(
                rejoin.margin_bound * 100 >= bound * n,
                "{}: every margin right {}/{n}",
                t.name,
                rejoin.margin_bound
            );
            assert!(
                rejoin.margin_error_ms <= *margin_ms,
                "{}: margins {:.0} ms out over {} pairs",
                t.name,
                rejoin.margin_error_ms,
                rejoin.margin_pairs
            );
        }
        // Measured: Bahrain 8 of 8 green pairs called right, Monza 4 of 7. Held to half
        // right from four green pairs on (one call of three is no measure).
        if undercuts.pairs == 0 {
            println!("NO UNDERCUT PAIR in {}: nothing to call", t.name);
        }
        assert!(
            undercuts.green < MIN_GREEN_PAIRS || undercuts.green_right * 2 >= undercuts.green,
            "{}: {}/{} green undercut calls",
            t.name,
            undercuts.green_right,
            undercuts.green
        );
    }
}

/// The shared data's directory, its lap tables and which is Monza's 2024 race, which the
/// tests below start from; None, with a message, without them.
fn with_monza() -> Option<(std::path::PathBuf, Vec<lap_tables::LapTable>, usize)> {
    let f1 = common::f1_data()?;
    let tables = lap_tables::all(&f1);
    let Some(monza) = tables.iter().position(|t| t.name == "2024-italian-gp") else {
        println!("SKIPPED: no 2024 Italian GP lap table");
        return None;
    };
    Some((f1, tables, monza))
}

/// The tables read as a race: every car's laps and names, every stop with its exit in
/// the next lap's row, the neutralisations only where the track status had them.
#[test]
fn a_lap_table_reads_as_the_processor_stores_a_race() {
    assert_eq!(lap_tables::ms("0 days 01:17:08.772000"), Some(4_628_772));
    assert_eq!(lap_tables::ms("1 days 00:00:01.5"), Some(86_401_500));
    assert_eq!(lap_tables::ms(""), None);
    let Some((f1, tables, monza)) = with_monza() else {
        return;
    };
    let race = &tables[monza].race;
    assert_eq!(race.circuit.as_deref(), Some("monza"));
    assert_eq!(race.total_laps, Some(53));
    assert_eq!(race.entrants.len(), 20);
    let lec = race.entrants.iter().find(|e| e.driver == "LEC").unwrap();
    assert_eq!((lec.car, lec.team.as_str()), (16, "Ferrari"));
    // LEC's one stop (in lap 15, a one-stop race he won): pit lane about 24 s.
    let stops: Vec<_> = race.stops.iter().filter(|s| s.car == 16).collect();
    assert_eq!(stops.len(), 1);
    assert_eq!(stops[0].lap, Some(15));
    assert!(
        (20_000..30_000).contains(&stops[0].pit_lane_ms),
        "{:?}",
        stops[0]
    );
    // A green race throughout.
    assert!(
        race.neutral_periods.is_empty(),
        "{:?}",
        race.neutral_periods
    );
    // Written with pandas' index as its first column, the table reads the same.
    let text =
        std::fs::read_to_string(f1.join("fastf1-laps/laps_2024_italian_grand_prix.csv")).unwrap();
    let indexed: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| match i {
            0 => format!(",{l}\n"),
            _ => format!("{},{l}\n", i - 1),
        })
        .collect();
    let path = std::env::temp_dir().join(format!("pitstop-laps-{}.csv", std::process::id()));
    std::fs::write(&path, indexed).unwrap();
    let again = lap_tables::read(&path);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(again.stops, race.stops);
    assert_eq!(again.laps, race.laps);
    assert_eq!(again.entrants, race.entrants);
    assert_eq!(
        (again.total_laps, &again.neutral_periods),
        (race.total_laps, &race.neutral_periods)
    );
    if let Some(bahrain) = tables.iter().find(|t| t.name == "2022-bahrain-gp") {
        // The virtual safety car and safety car for Gasly's fire: the leader (LEC, 16)
        // crossed the line of laps 46 to 49 in one period, of laps 45 and 51 in none.
        let race = &bahrain.race;
        let crossing = |lap: u16| {
            race.laps
                .iter()
                .find(|l| l.car == 16 && l.lap == lap)
                .map(|l| l.crossed_at_ms)
                .unwrap()
        };
        let period_of = |t: i64| {
            race.neutral_periods
                .iter()
                .position(|p| p.0 <= t && t < p.1)
        };
        assert_eq!(race.neutral_periods.len(), 1, "{:?}", race.neutral_periods);
        for lap in 46..=49 {
            assert_eq!(period_of(crossing(lap)), Some(0), "lap {lap}");
        }
        assert_eq!(period_of(crossing(45)), None);
        assert_eq!(period_of(crossing(51)), None);
    }
}

/// A red flag put into Monza's real race: 20 s after the leader's lap 26 every car
/// enters the pit lane in the lap it is on and waits 25 minutes, the race going on
/// from there as it did. Those visits are stored as stops, as a lap table's pit entry
/// and exit make them; they are one suspension and none is judged as a stop, while
/// every real stop still is, those before the red flag exactly as without it, and the
/// same undercut pairs. During the wait and its restart the live strategy keeps every
/// running car, in the pit lane, in one order throughout the wait.
#[test]
fn a_red_flags_waits_are_not_judged_as_stops() {
    let Some((_, tables, monza)) = with_monza() else {
        return;
    };
    let (race, wait_ms) = (&tables[monza].race, 1_500_000);
    let red = strategy::with_red_flag(race, 26, wait_ms);
    // The 19 cars still running (ALB retired before).
    assert_eq!(red.stops.len(), race.stops.len() + 19);
    let s = suspension::suspensions(&red);
    assert_eq!(s.len(), 1, "{s:?}");
    assert!(s[0].1 - s[0].0 > wait_ms - 120_000, "{s:?}");
    assert!(suspension::suspensions(race).is_empty());

    let checks = |r: &Race| review::rejoin_checks(r);
    let (before, after) = (checks(race), checks(&red));
    assert_eq!(
        judged(&after),
        judged(&before),
        "the real stops, and nothing else"
    );
    assert_eq!(review::judged_stops(&red).1, 19);
    let flag_ms = strategy::red_flag_ms(race, 26);
    let early = |c: &&review::RejoinCheck| {
        race.stops
            .iter()
            .any(|s| s.car == c.car && s.lap == c.lap && s.exit_ms() + 120_000 < flag_ms)
    };
    let (b, a): (Vec<_>, Vec<_>) = (
        before.iter().filter(early).collect(),
        after.iter().filter(early).collect(),
    );
    assert!(!b.is_empty());
    assert_eq!(a, b);
    println!("\n## 2024-italian-gp with a red flag after lap 26: undercuts");
    let undercuts = strategy::undercut_check(&red, &|c, at| review::progress(&red, c, at));
    let real = strategy::undercut_check(race, &|c, at| review::progress(race, c, at));
    assert_eq!(undercuts.keys, real.keys);

    // The live strategy during the wait, and as the cars leave the lane.
    for at in [flag_ms + 600_000, flag_ms + wait_ms + 30_000] {
        let live = compute(&red.as_of(at));
        assert_eq!(
            live.cars.len(),
            19,
            "{} s after the flag",
            (at - flag_ms) / 1000
        );
    }
    // Every car in the lane from two minutes after the flag, the order it came in.
    let waiting = |after_ms| compute(&red.as_of(flag_ms + after_ms));
    assert!(waiting(600_000).cars.iter().all(|c| c.in_pit_lane));
    let order = |s: &Strategy| s.cars.iter().map(|c| c.car).collect::<Vec<_>>();
    assert_eq!(order(&waiting(600_000)), order(&waiting(120_000)));
}

/// A red flag 20 s after the leader's lap 23, as PER (car 11) is in the pit lane for
/// his stop: that stop is held up by it (he comes out into the wait) and not judged;
/// every stop whose check a lap after its exit came before the flag, or which began
/// after the restart, is.
#[test]
fn a_stop_caught_by_the_red_flag_is_not_judged() {
    let Some((_, tables, monza)) = with_monza() else {
        return;
    };
    let race = &tables[monza].race;
    let red = strategy::with_red_flag(race, 23, 1_500_000);
    let flag_ms = strategy::red_flag_ms(race, 23);
    let per = race.stops.iter().find(|s| s.car == 11 && s.lap == Some(23));
    let per = per.expect("PER's lap-23 stop");
    assert!(per.entry_ms < flag_ms && flag_ms < per.exit_ms(), "{per:?}");
    let restart_ms = suspension::suspensions(&red)[0].1;
    let lap_ms = pitstop_workloads::analytics::strategy::timing::typical_lap_ms(&race.laps);
    let (before, after) = (
        judged(&review::rejoin_checks(race)),
        judged(&review::rejoin_checks(&red)),
    );
    assert!(!after.contains(&(11, Some(23))));
    assert!(after.iter().all(|k| before.contains(k)));
    for s in &red.stops {
        let clear = s.exit_ms() + lap_ms < flag_ms || s.entry_ms > restart_ms;
        let checked = before.contains(&(s.car, s.lap)) || s.entry_ms > restart_ms;
        if clear && checked {
            assert!(after.contains(&(s.car, s.lap)), "{s:?}");
        }
    }
    assert_eq!(
        review::judged_stops(&red).1,
        19 + before.len() - after.len()
    );
}

/// The (car, in-lap) of every stop judged, sorted.
fn judged(checks: &[review::RejoinCheck]) -> Vec<(u8, Option<u16>)> {
    let mut k: Vec<_> = checks.iter().map(|c| (c.car, c.lap)).collect();
    k.sort_unstable();
    k
}

/// What real FastF1 tables hold, read as it is (no data needed: the table is written
/// here): car 1's lap 2 has neither `Time` nor `LapTime` and lap 4 no `LapStartTime`,
/// and it stops in lap 2 (the stint moves on); car 2 serves a drive-through in lap 2
/// (same stint) and its lap-3 visit has its exit before its entry (a timing glitch);
/// cars 3 and 4 have no stint number: car 3 changes compound and its tyre life starts
/// again (a stop), car 4's tyres go on ageing (a drive-through).
#[test]
fn a_lap_tables_gaps_drive_throughs_and_glitches_read_as_they_are() {
    let t = |s: i64| format!("0 days 00:{:02}:{:02}.000000", s / 60, s % 60);
    let mut csv = String::from(
        "Time,Driver,DriverNumber,LapTime,LapNumber,Stint,PitOutTime,PitInTime,\
         Compound,TyreLife,Team,LapStartTime,TrackStatus\n",
    );
    /// (car, lap, start s, end s, pit in s, pit out s, stint, compound, tyre life)
    type Row = (
        u8,
        u16,
        i64,
        i64,
        Option<i64>,
        Option<i64>,
        Option<u16>,
        &'static str,
        u16,
    );
    let rows: [Row; 14] = [
        (1, 1, 0, 90, None, None, Some(1), "SOFT", 1),
        (1, 2, 90, 180, Some(170), None, Some(1), "SOFT", 2),
        (1, 3, 180, 290, None, Some(200), Some(2), "SOFT", 1),
        (1, 4, 290, 380, None, None, Some(2), "SOFT", 2),
        (2, 1, 0, 92, None, None, Some(1), "SOFT", 1),
        (2, 2, 92, 182, Some(175), None, Some(1), "SOFT", 2),
        (2, 3, 182, 290, Some(285), Some(195), Some(1), "SOFT", 3),
        (2, 4, 290, 390, None, Some(280), Some(1), "SOFT", 4),
        (3, 1, 0, 94, None, None, None, "SOFT", 1),
        (3, 2, 94, 184, Some(176), None, None, "SOFT", 2),
        (3, 3, 184, 294, None, Some(206), None, "HARD", 1),
        (4, 1, 0, 96, None, None, None, "SOFT", 1),
        (4, 2, 96, 186, Some(178), None, None, "SOFT", 2),
        (4, 3, 186, 296, None, Some(198), None, "SOFT", 3),
    ];
    for (car, lap, start, end, pit_in, pit_out, stint, compound, life) in rows {
        let blank_if = |gap: bool, s: i64| if gap { String::new() } else { t(s) };
        let opt = |v: Option<i64>| v.map(t).unwrap_or_default();
        let stint = stint.map(|n| n.to_string()).unwrap_or_default();
        csv += &format!(
            "{},D{car},{car},{},{lap},{stint},{},{},{compound},{life},T,{},1\n",
            blank_if((car, lap) == (1, 2), end),
            blank_if((car, lap) == (1, 2), end - start),
            opt(pit_out),
            opt(pit_in),
            blank_if((car, lap) == (1, 4), start),
        );
    }
    let dir = std::env::temp_dir().join(format!("pitstop-lap-table-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("laps_2024_italian_grand_prix.csv");
    std::fs::write(&path, csv).unwrap();
    let race = lap_tables::read(&path);
    let _ = std::fs::remove_dir_all(&dir);
    let lap = |car: u8, lap: u16| {
        race.laps
            .iter()
            .find(|l| l.car == car && l.lap == lap)
            .map(|l| (l.crossed_at_ms % 1_000_000, l.lap_time_ms))
    };
    assert_eq!(race.laps.len(), 14, "every lap read");
    // Car 1's lap 2 crossed where lap 3 started; lap 4 started where lap 3 crossed.
    assert_eq!(lap(1, 2), Some((180_000, 90_000)));
    assert_eq!(lap(1, 4), Some((380_000, 90_000)));
    let cars = |v: &[pitstop_workloads::analytics::strategy::Stop]| {
        v.iter().map(|s| (s.car, s.lap)).collect::<Vec<_>>()
    };
    assert_eq!(
        cars(&race.stops),
        [(1, Some(2)), (3, Some(2))],
        "the stops kept with their rows' gaps"
    );
    assert_eq!(race.stops[0].pit_lane_ms, 30_000);
    assert_eq!(
        cars(&race.drive_throughs),
        [(2, Some(2)), (4, Some(2))],
        "the glitch left out"
    );
}
