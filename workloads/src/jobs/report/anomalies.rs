//! Anomalies per lap, stacked by severity, on a numeric lap axis (no label per bar).

use super::chart::Chart;
use super::data::Report;
use crate::jobs::svg::{Key, Scale, Svg, WIDTH, legend, no_data, x_axis, y_axis};
use crate::wording::count;
use std::collections::BTreeMap;

const TITLE: &str = "Anomalies per lap";
const LEFT: f64 = 72.0;
const PLOT_H: f64 = 180.0;
const WARNING: &str = "#f2a900";
const CRITICAL: &str = "#b00020";

pub fn chart(r: &Report) -> Chart {
    // Per lap: (warnings, criticals).
    let mut per_lap: BTreeMap<i32, (i64, i64)> = BTreeMap::new();
    let mut no_lap = 0;
    for a in &r.anomalies {
        let Some(lap) = a.lap else {
            no_lap += a.count;
            continue;
        };
        let e = per_lap.entry(lap).or_default();
        if a.critical {
            e.1 += a.count
        } else {
            e.0 += a.count
        }
    }
    if per_lap.is_empty() {
        return Chart::new(
            TITLE,
            no_data(TITLE, "no anomalies on any lap"),
            String::new(),
        );
    }
    let max_lap = r
        .laps
        .iter()
        .map(|l| l.lap)
        .chain(per_lap.keys().copied())
        .max()
        .unwrap_or(1);
    let hi = per_lap.values().map(|(w, c)| w + c).max().unwrap_or(1);
    let mut svg = Svg::new(TITLE);
    let top = legend(
        &mut svg,
        LEFT,
        18.0,
        WIDTH - 16.0,
        &[
            (Key::Fill(WARNING, WARNING), "warning".into()),
            (Key::Fill(CRITICAL, CRITICAL), "critical".into()),
        ],
    ) + 4.0;
    let x = Scale::new((0.5, f64::from(max_lap) + 0.5), (LEFT, WIDTH - 16.0)).whole();
    let y = Scale::new((0.0, (hi as f64 * 1.1).max(5.0)), (top + PLOT_H, top)).whole();
    y_axis(&mut svg, &y, LEFT, WIDTH - 16.0, "anomalies", 40.0);
    let slot = x.at(1.5) - x.at(0.5);
    for (lap, (warn, crit)) in &per_lap {
        let x0 = x.at(f64::from(*lap)) - slot * 0.35;
        let tip = format!("lap {lap}: {warn} warning, {crit} critical");
        let (w, c) = (*warn as f64, *crit as f64);
        if c > 0.0 {
            svg.rect(
                (x0, y.at(c), slot * 0.7, y.at(0.0) - y.at(c)),
                CRITICAL,
                "none",
                &tip,
            );
        }
        if w > 0.0 {
            svg.rect(
                (x0, y.at(c + w), slot * 0.7, y.at(c) - y.at(c + w)),
                WARNING,
                "none",
                &tip,
            );
        }
    }
    x_axis(&mut svg, &x, top + PLOT_H, "lap", None);
    let caption = format!(
        "Anomalies the detectors raised on each lap, critical below warning. Left out: {} with no known lap.",
        count(no_lap, "anomaly", "anomalies")
    );
    Chart::new(TITLE, svg.finish(top + PLOT_H + 44.0), caption)
}
