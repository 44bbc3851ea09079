//! A crowded race built in memory, for the report's layout where a simulated race is too
//! tidy: 20 cars over 40 laps, 44 stops (two per car, a third for four of them two laps
//! from the end, so those last stints are too short to fit), a 9.8 s stop, a three-lap
//! safety car, a car with no compound or tyre age, long names, anomalies without a lap,
//! and no team summary yet.

use pitstop_workloads::jobs::report::data::{Anomalies, Car, Lap, Report, Session, Stint, Stop};

const LAPS: i32 = 40;
const SAFETY_CAR: std::ops::RangeInclusive<i32> = 30..=32;
const TEAMS: [&str; 10] = [
    "McLaren",
    "Ferrari",
    "Red Bull Racing",
    "Mercedes",
    "Aston Martin",
    "Alpine",
    "Williams",
    "Visa Cash App Racing Bulls F1 Team",
    "Kick Sauber",
    "Haas F1 Team",
];
const DRIVERS: [&str; 20] = [
    "NOR",
    "PIA",
    "LEC",
    "SAI",
    "VER",
    "PER",
    "HAM",
    "RUS",
    "ALO",
    "STR",
    "GAS",
    "OCO",
    "ALB",
    "SAR",
    "TSU",
    "Hülkenberg-Lawson",
    "BOT",
    "ZHO",
    "MAG",
    "Antonelli",
];

/// A deterministic scatter in -1..1 (no RNG crate needed).
fn noise(seed: i32) -> f64 {
    let x = (seed as u64)
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((x >> 33) % 2001) as f64 / 1000.0 - 1.0
}

/// In-laps of car `i`.
fn stop_laps(i: i32) -> Vec<i32> {
    let mut laps = vec![11 + i % 5, 22 + i % 6];
    if i % 5 == 0 {
        laps.push(LAPS - 2);
    }
    laps
}

fn compound(i: i32, stint: usize) -> Option<&'static str> {
    (i != 19).then(|| ["medium", "hard", "soft", "intermediate"][stint.min(3)])
}

pub fn report() -> Report {
    let mut r = Report {
        session_id: "crowded".into(),
        session: Session {
            circuit: "zandvoort".into(),
            total_laps: Some(LAPS),
            cars: Some(20),
        },
        cars: Vec::new(),
        laps: Vec::new(),
        stints: Vec::new(),
        stops: Vec::new(),
        drive_throughs: 1,
        anomalies: Vec::new(),
        teams: Vec::new(),
        strategy: Default::default(),
    };
    for i in 0..20 {
        car(&mut r, i);
    }
    for lap in 1..=LAPS {
        r.anomalies.push(Anomalies {
            lap: Some(lap),
            critical: lap % 3 == 0,
            count: i64::from(lap % 4 + 1),
        });
    }
    r.anomalies.push(Anomalies {
        lap: None,
        critical: true,
        count: 2,
    });
    r
}

fn car(r: &mut Report, i: i32) {
    let number = [
        4, 81, 16, 55, 1, 11, 44, 63, 14, 18, 10, 31, 23, 2, 22, 27, 77, 24, 20, 12,
    ][i as usize];
    let last = if i == 19 { LAPS - 3 } else { LAPS };
    r.cars.push(Car {
        position: i64::from(i + 1),
        car: number,
        driver: DRIVERS[i as usize].into(),
        team: TEAMS[i as usize / 2].into(),
        laps: i64::from(last),
        best_lap_ms: Some(71_000 + i * 60),
        race_time_ms: Some(i64::from(LAPS * 73_000 + i * 4_000)),
    });
    let stops = stop_laps(i);
    let mut first = 1;
    for (n, end) in stops.iter().copied().chain([last]).enumerate() {
        r.stints.push(Stint {
            car: number,
            stint: n as i64 + 1,
            compound: compound(i, n).unwrap_or("unknown").into(),
            first_lap: first,
            last_lap: end,
        });
        for lap in first..=end {
            let age = lap - first;
            let pit = stops.contains(&lap) || stops.contains(&(lap - 1));
            let neutralised = SAFETY_CAR.contains(&lap);
            let mut ms =
                72_000.0 + f64::from(i) * 70.0 + f64::from(age) * 60.0 - f64::from(lap) * 90.0;
            ms += 350.0 * noise(i * 100 + lap);
            if pit {
                ms += 19_000.0;
            } else if neutralised {
                ms *= 1.35;
            }
            r.laps.push(Lap {
                car: number,
                lap,
                lap_time_ms: ms as i32,
                tyre_age: (i != 19).then_some(age),
                green: lap > 1 && !pit && !neutralised,
                neutralised,
            });
        }
        first = end + 1;
    }
    for (n, lap) in stops.iter().enumerate() {
        let slow = i == 7 && n == 0;
        r.stops.push(Stop {
            car: number,
            lap: Some(*lap),
            stationary_ms: if slow {
                9_800
            } else {
                2_000 + i64::from((i * 7 + n as i32 * 3) % 17) * 110
            },
        });
    }
}
