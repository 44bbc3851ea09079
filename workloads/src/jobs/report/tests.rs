//! The charts' decisions on a small race: four cars of two teams over 16 laps, one stop
//! each on lap 8, the second team's cars stopping again on lap 15 (a last stint of one
//! out-lap: nothing to fit).

use super::data::{Anomalies, Car, Lap, Report, Session, Stint, Stop};
use super::{degradation, html, laps};

fn race() -> Report {
    let mut r = Report {
        session_id: "t".into(),
        session: Session {
            circuit: "monza".into(),
            total_laps: Some(16),
            cars: Some(4),
        },
        cars: Vec::new(),
        laps: Vec::new(),
        stints: Vec::new(),
        stops: Vec::new(),
        drive_throughs: 0,
        anomalies: Vec::new(),
        teams: Vec::new(),
        strategy: Default::default(),
    };
    for (i, (driver, team)) in [
        ("AAA", "Ferrari"),
        ("BBB", "McLaren"),
        ("CCC", "Ferrari"),
        ("DDD", "McLaren"),
    ]
    .into_iter()
    .enumerate()
    {
        let car = i as i32 + 1;
        r.cars.push(Car {
            position: i as i64 + 1,
            car,
            driver: driver.into(),
            team: team.into(),
            laps: 16,
            best_lap_ms: Some(80_000),
            race_time_ms: Some(1_000_000),
        });
        let stops: &[i32] = if team == "McLaren" { &[8, 15] } else { &[8] };
        let mut first = 1;
        for (n, last) in stops.iter().copied().chain([16]).enumerate() {
            r.stints.push(Stint {
                car,
                stint: n as i64 + 1,
                compound: "medium".into(),
                first_lap: first,
                last_lap: last,
            });
            first = last + 1;
        }
        for &lap in stops {
            r.stops.push(Stop {
                car,
                lap: Some(lap),
                stationary_ms: 2_400,
            });
        }
        for lap in 1..=16 {
            let pit = stops.contains(&lap) || stops.contains(&(lap - 1));
            let wobble = [0, 90, -60, 40, -20][lap as usize % 5];
            r.laps.push(Lap {
                car,
                lap,
                lap_time_ms: if pit {
                    100_000
                } else {
                    80_000 + 50 * lap + wobble + 30 * car
                },
                tyre_age: None,
                green: lap > 1 && !pit,
                neutralised: false,
            });
        }
    }
    r
}

/// The numbers of a chart's tick labels.
fn ticks(svg: &str) -> Vec<f64> {
    svg.split(r#"class="tick">"#)
        .skip(1)
        .filter_map(|s| s.split('<').next()?.parse().ok())
        .collect()
}

/// Pit laps (20 s slower) neither set the lap-time range nor appear in the lines.
#[test]
fn pit_laps_do_not_set_the_lap_time_range() {
    let chart = laps::chart(&race());
    let t = ticks(&chart.svg);
    assert!(t.iter().any(|v| (80.0..=81.0).contains(v)), "{t:?}");
    // Lap numbers and lap times alike stay below the 100 s pit laps.
    assert!(t.iter().all(|v| *v < 90.0), "{t:?}");
    assert!(chart.caption.contains("in- and out-laps"));
}

/// Teammates share a colour: the better classified solid, the other dashed.
#[test]
fn teammates_are_told_apart() {
    let svg = laps::chart(&race()).svg;
    let path = |driver: &str| {
        let end = svg
            .find(&format!("<title>{driver}</title></path>"))
            .unwrap();
        svg[svg[..end].rfind("<path").unwrap()..end].to_string()
    };
    assert!(!path("AAA").contains("dasharray"));
    assert!(path("CCC").contains("dasharray"));
    assert!(path("AAA").contains("#dc0000") && path("CCC").contains("#dc0000"));
}

/// A stint with too few green laps is listed with the reason and not drawn.
#[test]
fn short_stints_are_listed_not_drawn() {
    let r = race();
    let fits = degradation::fits(&r);
    assert_eq!(fits.len(), 10);
    let short: Vec<_> = fits.iter().filter(|f| f.fit.is_err()).collect();
    assert!(
        short.iter().all(|f| f.stint.stint == 3),
        "only the two-lap stints"
    );
    let chart = degradation::chart(&r);
    assert!(chart.after.contains("BBB stint 3") && chart.after.contains("needed"));
    assert!(!chart.svg.contains("BBB stint 3"), "not drawn");
    assert!(chart.svg.contains("AAA stint 2"));
}

/// Six charts and the live strategy calls, each with a caption; no script, no external
/// asset.
#[test]
fn every_chart_has_a_caption() {
    let page = html(&race());
    assert_eq!(page.matches("<svg").count(), 6);
    assert_eq!(page.matches(r#"<p class="caption">"#).count(), 7);
    assert!(!page.contains("<script") && !page.contains("src=") && !page.contains("href="));
}

/// Counts of one read in the singular (header, captions, tooltips) and stationary times
/// have two decimals, the data's resolution, in the stops table as in the tooltips.
/// Would break on "1 anomalies" or a time shown as 2.4 or 2.410.
#[test]
fn counts_of_one_and_stationary_times_read_right() {
    let mut r = race();
    r.session.cars = Some(1);
    r.drive_throughs = 1;
    r.stops.push(Stop {
        car: 1,
        lap: None,
        stationary_ms: 2_410,
    });
    r.anomalies = vec![
        Anomalies {
            lap: Some(3),
            critical: false,
            count: 2,
        },
        Anomalies {
            lap: None,
            critical: true,
            count: 1,
        },
    ];
    let page = html(&r);
    for want in [
        "monza · 16 laps · 1 car · winner",
        "Left out: 1 drive-through (no stationary time).",
        "Left out: 1 stop with no known lap.",
        "Left out: 1 anomaly with no known lap.",
        "BBB stint 3: medium, laps 16–16 (1 lap)",
        "BBB stint 2: medium, laps 9–15 (7 laps)",
        "<td>2.41</td>",
        "<td>2.40</td>",
        "AAA stop at the end of lap 8: 2.40 s stationary",
        "mean 2.40 s · 3 stops",
    ] {
        assert!(page.contains(want), "no {want:?} in the page");
    }
    for wrong in [
        "2.400",
        "2.410",
        "1 anomalies",
        "1 stops",
        "1 drive-throughs",
    ] {
        assert!(!page.contains(wrong), "{wrong:?} in the page");
    }
}

/// A red flag: three of six cars wait 20 minutes in the pit lane together. Those visits
/// are stored as stops but nobody chose them: the live strategy calls say how many were
/// left out instead of judging them (fails with the suspension rule removed: three rows).
#[test]
fn a_red_flags_waits_are_named_not_judged() {
    use crate::analytics::strategy::{Race, Stop as Visit};
    let wait = |car: u8| Visit {
        car,
        lap: Some(10),
        entry_ms: 905_000 + i64::from(car) * 1_000,
        pit_lane_ms: 1_200_000,
        stationary_start_ms: None,
    };
    let mut r = race();
    r.strategy = Race {
        laps: crate::analytics::strategy::fixtures::steady_laps(6, 12)
            .into_iter()
            .map(|mut l| {
                if l.lap > 10 {
                    l.crossed_at_ms += 1_200_000;
                }
                l
            })
            .collect(),
        stops: (1..=3).map(wait).collect(),
        ..Race::default()
    };
    let page = html(&r);
    let want = "Not judged: 3 stops held up by a red flag";
    assert!(page.contains(want), "{page}");
    assert!(page.contains("No stop with a lap after it to check."));
}

/// Neutralised laps with no race-control period: the report says the live calls took
/// them as green; with a period reported, or with no neutralised lap, it says nothing.
#[test]
fn calls_made_without_a_race_control_feed_say_so() {
    let mut r = race();
    assert_eq!(super::no_race_control(&r), "");
    for l in r.laps.iter_mut().filter(|l| (5..=6).contains(&l.lap)) {
        l.neutralised = true;
        l.green = false;
    }
    let note = super::no_race_control(&r);
    assert!(note.contains("yet 2 laps ran neutralised"), "{note}");
    assert!(note.contains("took them as green"), "{note}");
    assert!(!note.contains("  "), "one space between words: {note}");
    r.strategy.neutral_periods = vec![(400_000, 480_000)];
    assert_eq!(super::no_race_control(&r), "");
}
