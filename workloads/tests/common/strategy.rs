//! Laps and stops the analytics found, as the strategy takes them, and the neutralised
//! periods of a recording without a race-control feed.

use pitstop_workloads::analytics::Events;
use pitstop_workloads::analytics::strategy::undercut::{Fresh, Wear, gain_ms};
use pitstop_workloads::analytics::strategy::{
    Race, Stop, Strategy, board, compute, review, suspension, timing,
};
use std::collections::BTreeMap;

/// The strategy's input from what the analytics emitted for a whole race.
pub fn race(ev: &Events, circuit: &str, total_laps: u16) -> Race {
    Race::from_events(ev, Some(circuit), Some(total_laps))
}

/// The periods in which the field ran slower than 65% of its race median speed for at
/// least 30 s (safety car, virtual safety car, red flag): what a race-control feed
/// reports, derived here from the cars' speed because the recording has no such feed.
pub fn neutral_periods(samples: &[pitstop_workloads::model::Sample]) -> Vec<(i64, i64)> {
    const BUCKET_MS: i64 = 5_000;
    let mut buckets: BTreeMap<i64, Vec<f32>> = BTreeMap::new();
    for s in samples {
        buckets
            .entry(s.timestamp_ms / BUCKET_MS)
            .or_default()
            .push(s.speed_kph);
    }
    let med = |v: &mut Vec<f32>| {
        v.sort_by(f32::total_cmp);
        v[v.len() / 2]
    };
    let mut all: Vec<f32> = buckets
        .values()
        .filter(|v| v.len() >= 20)
        .map(|v| med(&mut v.clone()))
        .collect();
    let race = med(&mut all);
    let mut periods: Vec<(i64, i64)> = Vec::new();
    for (b, v) in &buckets {
        if v.len() < 20 || med(&mut v.clone()) >= 0.65 * race {
            continue;
        }
        let (start, end) = (b * BUCKET_MS, (b + 1) * BUCKET_MS);
        match periods.last_mut() {
            Some(p) if p.1 + 24 * BUCKET_MS >= start => p.1 = end,
            _ => periods.push((start, end)),
        }
    }
    periods.retain(|p| p.1 - p.0 >= 30_000);
    periods
}

/// Each car's progress round the race from its own telemetry (lap number and distance
/// along the lap, as the check asks for), where the stored line crossings give
/// only a linear guess within the lap.
pub struct Distance {
    /// Per car: (time ms, laps completed + the share of the current lap), in time order.
    cars: BTreeMap<u8, Vec<(i64, f64)>>,
}

impl Distance {
    pub fn new(samples: &[pitstop_workloads::model::Sample]) -> Distance {
        // The lap's length: the median of every car's longest distance in each lap.
        let mut longest: BTreeMap<(u8, u16), f32> = BTreeMap::new();
        for s in samples {
            if let (Some(lap), Some(d)) = (s.lap, s.lap_distance_m) {
                let m = longest.entry((s.car, lap)).or_insert(0.0);
                *m = m.max(d);
            }
        }
        let mut lengths: Vec<f32> = longest.into_values().collect();
        lengths.sort_by(f32::total_cmp);
        let length = f64::from(lengths[lengths.len() / 2]);
        let mut cars: BTreeMap<u8, Vec<(i64, f64)>> = BTreeMap::new();
        for s in samples {
            if let (Some(lap), Some(d)) = (s.lap, s.lap_distance_m) {
                let share = (f64::from(d) / length).clamp(0.0, 1.0);
                cars.entry(s.car)
                    .or_default()
                    .push((s.timestamp_ms, f64::from(lap.saturating_sub(1)) + share));
            }
        }
        for v in cars.values_mut() {
            v.sort_by_key(|p| p.0);
        }
        Distance { cars }
    }

    /// How far round the race `car` was at `t_ms`, interpolated between the samples
    /// either side (cars in a safety car's queue run a few metres apart); None without a
    /// sample on each side within 5 s (it retired, or its data ends).
    pub fn progress(&self, car: u8, t_ms: i64) -> Option<f64> {
        let v = self.cars.get(&car)?;
        let i = v.partition_point(|p| p.0 <= t_ms);
        let ((t0, p0), (t1, p1)) = (v[i.checked_sub(1)?], *v.get(i)?);
        if t_ms - t0 > 5_000 || t1 - t_ms > 5_000 {
            return None;
        }
        Some(p0 + (p1 - p0) * (t_ms - t0) as f64 / (t1 - t0).max(1) as f64)
    }
}

/// The rejoin check's figures on one race.
pub struct RejoinFigures {
    pub n: usize,
    pub exact: usize,
    pub near: usize,
    /// Within the range predicted (a safety car leaves it to the others' choice).
    pub in_range: usize,
    /// Misses wholly explained by cars that stopped after the prediction.
    pub later: usize,
    /// Stops whose prediction every margin right would have made exact (see
    /// `RejoinCheck::right_with_true_margins`).
    pub margin_bound: usize,
    /// Stops every margin right would have put within one place
    /// (`RejoinCheck::off_with_true_margins` at most 1).
    pub near_bound: usize,
    /// Every miss names the cars it misplaced.
    pub misses_named: bool,
    /// The same check by the stored line crossings alone (what the HTML report has).
    pub crossings_n: usize,
    pub crossings_exact: usize,
    /// How far the predicted margins were from the real ones, green (see
    /// [`margin_errors`]): the median of their size, ms, and how many.
    pub margin_error_ms: f64,
    pub margin_pairs: usize,
}

/// For every stop of `race`, the rejoin predicted at pit entry against the position
/// really held one lap after pit exit (from `progress`: a recording's distance, or the
/// line crossings); prints the table of docs/strategy.md and returns its figures.
pub fn rejoin_check(race: &Race, progress: review::Progress) -> RejoinFigures {
    let rows = review::rejoin_checks_by(race, progress);
    println!("| driver | in-lap | pit loss used (s) | predicted | actual | why missed |");
    println!("|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {:.1} | {} | P{} | {} |",
            r.driver,
            r.lap.unwrap_or(0),
            r.loss_ms / 1000.0,
            r.predicted_text(),
            r.actual,
            r.why()
        );
    }
    let exact = rows.iter().filter(|r| r.predicted == r.actual).count();
    let near = rows
        .iter()
        .filter(|r| r.predicted.abs_diff(r.actual) <= 1)
        .count();
    let n = rows.len();
    let later = rows.iter().filter(|r| r.missed_for_later_stops()).count();
    let in_range = rows.iter().filter(|r| r.in_range()).count();
    let margin_bound = rows.iter().filter(|r| r.right_with_true_margins()).count();
    println!(
        "exact {exact}/{n}, within one place {near}/{n}; {later} of the {} misses only for \
         cars that stopped after the prediction",
        n - exact
    );
    println!(
        "within the predicted range (under a safety car: from the field stopping too to it \
         staying out) {in_range}/{n}"
    );
    let near_bound = rows
        .iter()
        .filter(|r| r.off_with_true_margins() <= 1)
        .count();
    let fixable = rows
        .iter()
        .filter(|r| r.predicted != r.actual && r.right_with_true_margins())
        .count();
    println!(
        "with every margin right, at most {margin_bound}/{n} exact (the rest put a car on the \
         wrong side for a call made after the prediction); {fixable} misses only margins \
         explain; at most {near_bound}/{n} within one place"
    );
    let errors = margin_errors(race, progress);
    let margin_error_ms = median_abs(&errors);
    println!(
        "margin to each car that did not stop, green, predicted against real: median \
         error {:.2} s over {} pairs",
        margin_error_ms / 1000.0,
        errors.len()
    );
    let crossings = review::rejoin_checks(race);
    let crossings_exact = crossings.iter().filter(|r| r.predicted == r.actual).count();
    println!(
        "by line crossings instead of distance: exact {crossings_exact}/{}",
        crossings.len()
    );
    RejoinFigures {
        n,
        exact,
        near,
        in_range,
        later,
        margin_bound,
        near_bound,
        misses_named: rows
            .iter()
            .all(|r| r.predicted == r.actual || !r.misplaced.is_empty()),
        crossings_n: crossings.len(),
        crossings_exact,
        margin_error_ms,
        margin_pairs: errors.len(),
    }
}

/// For every stop made with no neutralisation from pit entry to the check, and every car
/// within 8 s of it at the check that made no stop (nor drive-through) in between: the
/// real margin one lap
/// after pit exit (from `progress`, in typical laps) minus the margin predicted at pit
/// entry, ms. Finer than positions: a margin 2 s out shows whether or not a car was near.
pub fn margin_errors(race: &Race, progress: review::Progress) -> Vec<f64> {
    let lap_ms = timing::typical_lap_ms(&race.laps);
    let mut out = Vec::new();
    for stop in &race.stops {
        let t = stop.exit_ms() + lap_ms;
        let neutral = race
            .neutral_periods
            .iter()
            .any(|p| p.0 < t && stop.entry_ms < p.1);
        let s = compute(&race.as_of(stop.entry_ms));
        let rejoin = s
            .cars
            .iter()
            .find(|c| c.car == stop.car)
            .and_then(|c| c.rejoin.as_ref());
        let (Some(r), Some(me), false) = (rejoin, progress(stop.car, t), neutral) else {
            continue;
        };
        let stopped = |car: u8| {
            (race.stops.iter().chain(&race.drive_throughs))
                .any(|x| x.car == car && x.exit_ms() > stop.entry_ms && x.entry_ms < t)
        };
        for &(car, predicted) in &r.margins {
            let Some(theirs) = progress(car, t).filter(|_| !stopped(car)) else {
                continue;
            };
            let real = (theirs - me) * lap_ms as f64;
            if real.abs() < 8_000.0 {
                out.push(real - predicted);
            }
        }
    }
    out
}

fn median_abs(v: &[f64]) -> f64 {
    let mut a: Vec<f64> = v.iter().map(|e| e.abs()).collect();
    a.sort_by(f64::total_cmp);
    a.get(a.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The undercut check's figures on one race.
pub struct UndercutFigures {
    pub pairs: usize,
    /// Each pair's first car to stop, its in-lap, and the rival, in the order checked.
    pub keys: Vec<(u8, u16, u8)>,
    pub right: usize,
    /// Pairs with neither stop under a neutralisation, and the calls right among them.
    pub green: usize,
    pub green_right: usize,
}

/// A car's tyres at a moment, as the strategy saw them.
fn wear(s: &Strategy, car: u8) -> Option<Wear> {
    let c = s.cars.iter().find(|c| c.car == car)?;
    Some(Wear {
        age: c.stint.tyre_age,
        deg_ms: c.degradation.map_or(0.0, |d| d.ms_per_lap.max(0.0)),
    })
}

/// Every pair of cars within 3 s where one stopped one to three laps before the other:
/// the undercut call made at the first stop against the outcome one lap after the
/// second (from `progress`). Prints the table of docs/strategy.md and returns its
/// figures.
pub fn undercut_check(race: &Race, progress: review::Progress) -> UndercutFigures {
    let periods = &race.neutral_periods;
    let lap_ms = timing::typical_lap_ms(&race.laps);
    let under_sc = |t: i64| periods.iter().any(|p| p.0 <= t && t < p.1 + lap_ms);
    let driver = |car: u8| {
        race.entrants
            .iter()
            .find(|e| e.car == car)
            .map_or_else(|| format!("#{car}"), |e| e.driver.clone())
    };
    println!(
        "| first to stop | in-lap | rival | laps later | gap before (s) | neutralised | predicted | outcome |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut f = UndercutFigures {
        pairs: 0,
        keys: Vec::new(),
        right: 0,
        green: 0,
        green_right: 0,
    };
    // Neither stop held up by a red flag, nor one between them (see
    // `review::judged_stops`): the wait would decide the outcome.
    let (chosen, _) = review::judged_stops(race);
    let suspended = suspension::suspensions(race);
    let between = |a: &Stop, b: &Stop| Stop {
        pit_lane_ms: b.exit_ms() - a.entry_ms,
        ..a.clone()
    };
    for a in &chosen {
        for b in &chosen {
            let (Some(la), Some(lb)) = (a.lap, b.lap) else {
                continue;
            };
            if a.car == b.car || !(1..=3).contains(&(lb.saturating_sub(la))) || lb <= la {
                continue;
            }
            if suspension::held_up(&between(a, b), lap_ms, &suspended) {
                continue;
            }
            // A stop under a safety car costs less: the outcome says little of an undercut.
            let neutral = under_sc(a.entry_ms) || under_sc(b.entry_ms);
            let now = race.as_of(a.entry_ms);
            let s = compute(&now);
            let board = board(&now, a.entry_ms);
            let (Some(ta), Some(tb)) = (board.get(a.car), board.get(b.car)) else {
                continue;
            };
            let Some(gap) = timing::Board::gap_ms(ta, tb) else {
                continue;
            };
            if gap.abs() > 3_000.0 {
                continue;
            }
            let (Some(rival), Some(mine)) = (wear(&s, b.car), wear(&s, a.car)) else {
                continue;
            };
            // As the strategy calls it: the race's shortfall where tyres race (green,
            // both cars' degradation known).
            let fitted = |car: u8| {
                s.cars
                    .iter()
                    .any(|c| c.car == car && c.degradation.is_some())
            };
            let tyres_race =
                now.neutralised_at(a.entry_ms).is_none() && fitted(a.car) && fitted(b.car);
            let fresh = Fresh {
                deg_ms: mine.deg_ms,
                shortfall_ms: if tyres_race {
                    s.new_tyre_shortfall_ms
                } else {
                    0.0
                },
            };
            let gain = gain_ms(rival, fresh, lb - la);
            // After both stops, positive: the first to stop is behind.
            let predicted_behind = gap - gain > 0.0;
            let t = b.exit_ms() + lap_ms;
            let (Some(pa), Some(pb)) = (progress(a.car, t), progress(b.car, t)) else {
                continue;
            };
            let actual_behind = pa < pb;
            let was_behind = gap > 0.0;
            let word = |behind: bool| {
                if behind == was_behind {
                    "no jump"
                } else {
                    "jump"
                }
            };
            let hit = predicted_behind == actual_behind;
            f.pairs += 1;
            f.keys.push((a.car, la, b.car));
            f.right += usize::from(hit);
            if !neutral {
                f.green += 1;
                f.green_right += usize::from(hit);
            }
            println!(
                "| {} | {la} | {} | {} | {:+.1} | {} | {} | {}{} |",
                driver(a.car),
                driver(b.car),
                lb - la,
                gap / 1000.0,
                if neutral { "yes" } else { "" },
                word(predicted_behind),
                word(actual_behind),
                if hit { "" } else { " ✗" }
            );
        }
    }
    println!(
        "undercut calls right: {}/{} ({}/{} green)",
        f.right, f.pairs, f.green_right, f.green
    );
    f
}

/// When the red flag of [`with_red_flag`] comes: 20 s after the leader's line `lap`.
pub fn red_flag_ms(race: &Race, lap: u16) -> i64 {
    let leader = race.laps.iter().filter(|l| l.lap == lap);
    leader
        .map(|l| l.crossed_at_ms)
        .min()
        .expect("a car ran that lap")
        + 20_000
}

/// `race` with a red flag at [`red_flag_ms`]: every car running then enters the pit lane
/// 8 s before the end of the lap it is on (at the flag at the earliest), leaves it
/// `wait_ms` after that line plus 6 s, and goes on as it did, every later line crossing
/// and stop of its `wait_ms` later (the out-lap holds the wait); race control's red flag
/// from the flag to a minute after the last car left the lane.
pub fn with_red_flag(race: &Race, lap: u16, wait_ms: i64) -> Race {
    let flag = red_flag_ms(race, lap);
    let mut red = race.clone();
    let mut last_exit = flag;
    for e in &race.entrants {
        let Some(on) = race
            .laps
            .iter()
            .filter(|l| l.car == e.car && l.crossed_at_ms > flag)
            .min_by_key(|l| l.lap)
        else {
            continue;
        };
        let line = on.crossed_at_ms;
        for l in red
            .laps
            .iter_mut()
            .filter(|l| l.car == e.car && l.lap > on.lap)
        {
            l.crossed_at_ms += wait_ms;
            if l.lap == on.lap + 1 {
                l.lap_time_ms += wait_ms;
            }
        }
        for s in red
            .stops
            .iter_mut()
            .filter(|s| s.car == e.car && s.entry_ms > line)
        {
            s.entry_ms += wait_ms;
            s.stationary_start_ms = s.stationary_start_ms.map(|t| t + wait_ms);
        }
        let (entry, exit) = ((line - 8_000).max(flag), line + wait_ms + 6_000);
        last_exit = last_exit.max(exit);
        red.stops.push(Stop {
            car: e.car,
            lap: Some(on.lap),
            entry_ms: entry,
            pit_lane_ms: exit - entry,
            stationary_start_ms: Some(entry + 4_000),
        });
    }
    red.neutral_periods.push((flag, last_exit + 60_000));
    red
}
