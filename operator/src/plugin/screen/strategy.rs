//! The strategy section: each car's stint, tyre degradation, pit window and where a stop
//! now would rejoin, then the undercuts that matter (a car that can jump the one ahead,
//! a car threatened by the one behind).

use super::text::{count, cut, secs, table};
use crate::plugin::strategy::{Call, CarStrategy, Duel, Strategy};
use std::collections::BTreeSet;

/// Longest reason shown for a hidden value.
const REASON: usize = 32;

fn hidden(reason: &Option<String>) -> String {
    match reason {
        Some(r) => format!("- ({})", cut(r, REASON)),
        None => "-".into(),
    }
}

fn row(c: &CarStrategy) -> Vec<String> {
    let stint = c.stint.as_ref().map_or("-".into(), |s| match &s.compound {
        // No lap stored at all.
        None if s.number == 0 => "-".into(),
        // Just stopped: its new stint has no lap, its compound is not stored yet.
        None if s.laps == 0 => format!("{} new", s.number),
        compound => format!(
            "{} {} {}L",
            s.number,
            compound.as_deref().unwrap_or("?"),
            s.laps
        ),
    });
    let degradation = match &c.degradation {
        Some(d) => match d.ci95_ms_per_lap {
            Some(ci) => format!("{:.1} ± {:.1}", d.ms_per_lap, ci),
            None => format!("{:.1}", d.ms_per_lap),
        },
        None => hidden(&c.degradation_hidden),
    };
    // A window is served only where a stop pays off or is owed (a second compound), so
    // it is shown whether or not the rules require the stop.
    let window = match &c.window {
        Some(w) => format!("L{}-{}, best {}", w.first_lap, w.last_lap, w.optimal_lap),
        None => hidden(&c.window_hidden),
    };
    let rejoin = match &c.rejoin {
        Some(r) => {
            let mut parts = Vec::new();
            if let Some(a) = &r.ahead {
                parts.push(format!("{} {} ahead", a.driver, secs(a.gap_ms)));
            }
            if let Some(b) = &r.behind {
                parts.push(format!("{} {} behind", b.driver, secs(b.gap_ms)));
            }
            // Under a safety car: to the position if the field stays out instead.
            let at = match r.position_if_field_stays_out {
                Some(worst) if worst > r.position => format!("P{}-P{worst}", r.position),
                _ => format!("P{}", r.position),
            };
            // In the pit lane: where it comes out of the stop it is making.
            let at = if c.in_pit_lane {
                format!("in pit, out {at}")
            } else {
                at
            };
            if parts.is_empty() {
                at
            } else {
                format!("{at} ({})", parts.join(", "))
            }
        }
        // Not on the timing board (no lap yet, or stopped racing): nothing to place.
        None => "-".into(),
    };
    vec![
        c.position.map_or("-".into(), |p| format!("P{p}")),
        c.car.to_string(),
        c.driver.clone(),
        stint,
        degradation,
        window,
        rejoin,
    ]
}

/// The race time the car that stops must make up on its rival: behind it, or already
/// ahead where a stop under way has swapped them.
fn to_make_up(gap_ms: f64) -> String {
    if gap_ms < 0.0 {
        format!("{} ahead already", secs(-gap_ms))
    } else {
        format!("{} behind", secs(gap_ms))
    }
}

/// The undercut lines of one car: a jump on the car ahead, a threat from the one behind
/// (left out when the car behind's own line names the same pair as a jump).
fn duels(c: &CarStrategy, jumps: &BTreeSet<(i32, i32)>) -> Vec<String> {
    let Some(u) = &c.undercut else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    if let Some(Duel {
        car,
        driver,
        gap_ms,
        call: Call::Jump,
        margin_ms,
    }) = &u.ahead
    {
        lines.push(format!(
            "  {} ({}) can undercut {driver} ({car}): {}, margin {}",
            c.driver,
            c.car,
            to_make_up(*gap_ms),
            secs(*margin_ms)
        ));
    }
    if let Some(Duel {
        car,
        driver,
        gap_ms,
        call: Call::Threat,
        margin_ms,
    }) = &u.behind
        && !jumps.contains(&(*car, c.car))
    {
        lines.push(format!(
            "  {driver} ({car}) threatens {} ({}) with an undercut: {}, margin {}",
            c.driver,
            c.car,
            to_make_up(*gap_ms),
            secs(*margin_ms)
        ));
    }
    lines
}

fn title(s: &Strategy) -> String {
    let laps = s.total_laps.map_or(format!("lap {}", s.as_of_lap), |t| {
        format!("lap {} of {t}", s.as_of_lap)
    });
    match &s.pit_loss {
        Some(p) => {
            let pm = p
                .uncertainty_ms
                .map_or(String::new(), |u| format!(" ± {}", secs(u)));
            let from = p.stops.map_or(String::new(), |n| {
                format!(" from {}", count(n, "stop", "stops"))
            });
            format!(
                "Strategy (as of {laps}; pit loss {}{pm}, {}{from})",
                secs(p.ms),
                p.source
            )
        }
        None => format!("Strategy (as of {laps})"),
    }
}

pub fn section(strategy: &Result<Option<Strategy>, String>) -> Vec<String> {
    let s = match strategy {
        Err(why) => return vec![format!("Strategy: not available: {why}")],
        Ok(None) => return vec!["Strategy: not available from this processor".into()],
        Ok(Some(s)) => s,
    };
    let mut lines = vec![title(s)];
    if s.cars.is_empty() {
        lines.push("  no car on track yet".into());
        return lines;
    }
    let rows: Vec<Vec<String>> = s.cars.iter().map(row).collect();
    lines.extend(table(
        &[
            "POS",
            "CAR",
            "DRIVER",
            "STINT",
            "DEG MS/LAP",
            "WINDOW",
            "REJOIN IF STOPPING NOW",
        ],
        &rows,
    ));
    // Each pair once: a jump of the car behind is the threat to the car ahead.
    let jumps: BTreeSet<(i32, i32)> = s
        .cars
        .iter()
        .filter_map(|c| {
            let d = c.undercut.as_ref()?.ahead.as_ref()?;
            (d.call == Call::Jump).then_some((c.car, d.car))
        })
        .collect();
    let undercuts: Vec<String> = s.cars.iter().flat_map(|c| duels(c, &jumps)).collect();
    if undercuts.is_empty() {
        lines.push("Undercuts: no car can jump another, no threat".into());
    } else {
        lines.push("Undercuts".into());
        lines.extend(undercuts);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::strategy::{Neighbour, Rejoin};

    /// The rejoin cell: one position when green; under a safety car the range to the
    /// position if the field stays out, then the neighbours.
    #[test]
    fn rejoin_shows_the_safety_car_range() {
        let car = |worst: Option<i32>| CarStrategy {
            car: 1,
            driver: "VER".into(),
            rejoin: Some(Rejoin {
                position: 3,
                position_if_field_stays_out: worst,
                ahead: Some(Neighbour {
                    car: 4,
                    driver: "NOR".into(),
                    gap_ms: 1_200.0,
                }),
                behind: None,
            }),
            ..CarStrategy::default()
        };
        let cell = |c: &CarStrategy| row(c).last().cloned().unwrap();
        assert!(
            cell(&car(None)).starts_with("P3 (NOR"),
            "{}",
            cell(&car(None))
        );
        assert!(cell(&car(Some(3))).starts_with("P3 (NOR"));
        assert!(
            cell(&car(Some(8))).starts_with("P3-P8 (NOR"),
            "{}",
            cell(&car(Some(8)))
        );
        let stopping = CarStrategy {
            in_pit_lane: true,
            ..car(None)
        };
        assert!(cell(&stopping).starts_with("in pit, out P3 (NOR"));
    }

    /// A served window is shown as laps whether or not the stop is owed: the processor
    /// serves one only where a stop pays off or is owed (it once read "no stop needed"
    /// for a stop worth minutes that no rule required).
    #[test]
    fn a_window_that_pays_off_is_shown_when_no_rule_requires_it() {
        let c: CarStrategy = serde_json::from_value(serde_json::json!({
            "car": 18, "driver": "STR",
            "window": {"optimal_lap": 40, "first_lap": 38, "last_lap": 42,
                       "stop_required": false, "gain_ms": 187_326.8}
        }))
        .unwrap();
        assert_eq!(row(&c)[5], "L38-42, best 40");
    }

    /// One undercut pair is one line: the jump of the car behind, not also the threat to
    /// the car ahead; a gap a stop under way has turned negative reads as ahead.
    #[test]
    fn each_undercut_pair_is_told_once() {
        let s: Strategy = serde_json::from_value(serde_json::json!({
            "as_of_lap": 20,
            "cars": [
                {"car": 6, "driver": "HAD", "undercut": {"behind":
                    {"car": 16, "driver": "LEC", "gap_ms": 1200.0, "call": "threat", "margin_ms": 800.0}}},
                {"car": 16, "driver": "LEC", "undercut": {"ahead":
                    {"car": 6, "driver": "HAD", "gap_ms": 1200.0, "call": "jump", "margin_ms": 800.0},
                    "behind": {"car": 77, "driver": "BOT", "gap_ms": -200.0, "call": "threat", "margin_ms": 300.0}}}
            ]
        }))
        .unwrap();
        let lines = section(&Ok(Some(s)));
        let pair: Vec<&String> = lines.iter().filter(|l| l.contains("HAD (6)")).collect();
        assert_eq!(pair.len(), 1, "{lines:#?}");
        assert!(
            pair[0].contains("LEC (16) can undercut HAD (6): 1.2 s behind"),
            "{lines:#?}"
        );
        let bot = lines.iter().find(|l| l.contains("BOT (77)")).unwrap();
        assert!(bot.contains("0.2 s ahead already"), "{bot}");
    }

    /// The stint cell as the processor serves it: a car just stopped is on its next
    /// stint with no lap and no compound yet (null, which must not fail the answer), a
    /// stint whose compound no source named shows `?`.
    #[test]
    fn stint_shows_new_tyres_and_unknown_compounds() {
        let cell = |stint: serde_json::Value| {
            let c: CarStrategy = serde_json::from_value(serde_json::json!({
                "car": 1, "driver": "VER", "stint": stint
            }))
            .unwrap();
            row(&c)[3].clone()
        };
        let just_stopped =
            serde_json::json!({"number": 2, "compound": null, "laps": 0, "tyre_age": 0.0});
        assert_eq!(cell(just_stopped), "2 new");
        let unnamed =
            serde_json::json!({"number": 1, "compound": null, "laps": 12, "tyre_age": 12.0});
        assert_eq!(cell(unnamed), "1 ? 12L");
        let hard =
            serde_json::json!({"number": 2, "compound": "hard", "laps": 12, "tyre_age": 12.0});
        assert_eq!(cell(hard), "2 hard 12L");
        let none = serde_json::json!({"number": 0, "compound": null, "laps": 0, "tyre_age": 0.0});
        assert_eq!(cell(none), "-");
    }
}
