//! The sections the processor answers: classification, the latest pit stops and the
//! latest anomalies.

use super::snapshot::{LATEST, LiveData};
use super::text::{stationary, table};

/// A section that could not be read: its title and why.
fn failed(title: &str, why: &str) -> Vec<String> {
    vec![format!("{title}: not available: {why}")]
}

pub fn classification(d: &LiveData) -> Vec<String> {
    let cars = match &d.classification {
        Err(why) => return failed("Classification", why),
        Ok(c) if c.is_empty() => return vec!["Classification: no lap completed yet".into()],
        Ok(c) => c,
    };
    let rows: Vec<Vec<String>> = cars
        .iter()
        .map(|c| {
            let gap = match (c.dnf, c.gap.as_str()) {
                (true, _) => "DNF".to_string(),
                (false, "") => "leader".to_string(),
                (false, g) => g.to_string(),
            };
            vec![
                c.position.to_string(),
                c.car.to_string(),
                c.driver.clone(),
                c.team.clone(),
                c.laps.to_string(),
                gap,
            ]
        })
        .collect();
    let mut lines = vec![format!("Classification (lap {})", d.session.lap)];
    lines.extend(table(
        &["POS", "CAR", "DRIVER", "TEAM", "LAPS", "GAP"],
        &rows,
    ));
    lines
}

pub fn stops(d: &LiveData) -> Vec<String> {
    let stops = match &d.stops {
        Err(why) => return failed("Pit stops", why),
        Ok(s) if s.is_empty() => return vec!["Pit stops: none yet".into()],
        Ok(s) => s,
    };
    let rows: Vec<Vec<String>> = stops
        .iter()
        .rev()
        .take(LATEST)
        .map(|s| {
            let tyres = match (&s.compound_in, &s.compound_out) {
                (Some(a), Some(b)) => format!("{a} -> {b}"),
                (None, Some(b)) => format!("? -> {b}"),
                _ => "-".into(),
            };
            let mut score = format!("{:.0}", s.score);
            if s.slow {
                score.push_str(" slow");
            }
            vec![
                s.lap.map_or("-".into(), |l| l.to_string()),
                s.car.to_string(),
                s.driver.clone(),
                s.team.clone(),
                stationary(s.stationary_s),
                format!("{:.1} s", s.pit_lane_s),
                tyres,
                score,
            ]
        })
        .collect();
    let mut lines = vec![format!(
        "Pit stops (latest {} of {}, newest first)",
        rows.len(),
        stops.len()
    )];
    lines.extend(table(
        &[
            "LAP",
            "CAR",
            "DRIVER",
            "TEAM",
            "STATIONARY",
            "PIT LANE",
            "TYRES",
            "SCORE",
        ],
        &rows,
    ));
    lines
}

pub fn anomalies(d: &LiveData) -> Vec<String> {
    let list = match &d.anomalies {
        Err(why) => return failed("Anomalies", why),
        Ok(a) if a.is_empty() => return vec!["Anomalies: none".into()],
        Ok(a) => a,
    };
    let rows: Vec<Vec<String>> = list
        .iter()
        .rev()
        .take(LATEST)
        .map(|a| {
            vec![
                a.lap.map_or("-".into(), |l| l.to_string()),
                a.car.to_string(),
                a.driver.clone(),
                a.kind.clone(),
                a.severity.clone(),
                a.channel.clone(),
                format!("{:.1}", a.value),
                format!("{:.1}..{:.1}", a.expected_low, a.expected_high),
            ]
        })
        .collect();
    let mut lines = vec![format!(
        "Anomalies (latest {} of {}, newest first)",
        rows.len(),
        list.len()
    )];
    lines.extend(table(
        &[
            "LAP", "CAR", "DRIVER", "KIND", "SEVERITY", "CHANNEL", "VALUE", "EXPECTED",
        ],
        &rows,
    ));
    lines
}
