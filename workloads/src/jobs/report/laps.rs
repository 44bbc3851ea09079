//! Lap-time traces: each car's green laps, teammates told apart by dash and mark, the
//! y-range set by green laps so that pit laps do not flatten the racing into a band.

use super::chart::Chart;
use super::data::Report;
use crate::jobs::svg::{
    Anchor, Key, Scale, Svg, WIDTH, esc, legend, no_data, team_color, x_axis, y_axis,
};
use crate::wording::stationary;
use std::collections::BTreeMap;
use std::fmt::Write;

const TITLE: &str = "Lap times";
const LEFT: f64 = 72.0;
const RIGHT: f64 = WIDTH - 16.0;
const PLOT_H: f64 = 300.0;

pub fn chart(r: &Report) -> Chart {
    let mut green: Vec<f64> = r
        .laps
        .iter()
        .filter(|l| l.green)
        .map(|l| f64::from(l.lap_time_ms) / 1000.0)
        .collect();
    if green.is_empty() {
        return Chart::new(TITLE, no_data(TITLE, "no green laps yet"), String::new());
    }
    green.sort_by(f64::total_cmp);
    // A spin or a lap stuck in traffic would set the range for everyone else: laps slower
    // than the upper quartile plus three interquartile ranges run off the top.
    let q = |p: usize| green[(green.len() - 1) * p / 100];
    let top = (q(75) + 3.0 * (q(75) - q(25))).min(green[green.len() - 1]);
    let off_scale = green.iter().filter(|&&t| t > top).count();
    let pad = ((top - green[0]) * 0.04).max(0.05);
    let max_lap = r.laps.iter().map(|l| l.lap).max().unwrap_or(1);

    let mut svg = Svg::new(TITLE);
    let entries: Vec<(Key, String)> = r
        .team_order()
        .into_iter()
        .flat_map(|team| r.cars.iter().filter(move |c| c.team == team))
        .map(|c| (Key::Line(team_color(&c.team), r.mark(c)), c.driver.clone()))
        .collect();
    let band_y = legend(&mut svg, LEFT, 18.0, RIGHT, &entries) + 2.0;
    let plot_top = band_y + pit_band_height(r) + 10.0;
    let x = Scale::new((1.0, f64::from(max_lap)), (LEFT, RIGHT)).whole();
    let y = Scale::new((green[0] - pad, top + pad), (plot_top + PLOT_H, plot_top));
    let neutralised = neutralised_laps(r);
    for lap in &neutralised {
        let (a, b) = (
            x.at(f64::from(*lap) - 0.5).max(LEFT),
            x.at(f64::from(*lap) + 0.5).min(RIGHT),
        );
        svg.rect(
            (a, plot_top, b - a, PLOT_H),
            "#eeeeee",
            "none",
            &format!("lap {lap} neutralised"),
        );
    }
    y_axis(&mut svg, &y, LEFT, RIGHT, "lap time (s)", 52.0);
    x_axis(&mut svg, &x, plot_top + PLOT_H, "lap", None);
    pit_band(&mut svg, r, &x, band_y);
    traces(&mut svg, r, &x, &y, plot_top);
    let caption = format!(
        "Each car's green laps: teammates share their team's colour, the better classified solid with round marks, \
         the other dashed with square marks. Left out: lap 1, in- and out-laps (stops are marked on the pit band at their in-lap), \
         {} neutralised laps (grey), and {off_scale} green laps slower than {top:.1} s (above the top edge).",
        neutralised.len()
    );
    Chart::new(TITLE, svg.finish(plot_top + PLOT_H + 44.0), caption)
}

/// Laps on which most of the field ran neutralised (safety car, or far off the pace).
pub fn neutralised_laps(r: &Report) -> Vec<i32> {
    let mut per_lap: BTreeMap<i32, (usize, usize)> = BTreeMap::new();
    for l in &r.laps {
        let e = per_lap.entry(l.lap).or_default();
        e.0 += usize::from(l.neutralised);
        e.1 += 1;
    }
    per_lap
        .into_iter()
        .filter(|(_, (n, all))| 2 * n > *all)
        .map(|(lap, _)| lap)
        .collect()
}

/// Vertical distance between the stops of one lap on the pit band.
const STACK: f64 = 8.0;

fn pit_band_height(r: &Report) -> f64 {
    let mut per_lap: BTreeMap<i32, usize> = BTreeMap::new();
    for lap in r.stops.iter().filter_map(|s| s.lap) {
        *per_lap.entry(lap).or_default() += 1;
    }
    per_lap
        .values()
        .max()
        .map_or(14.0, |n| *n as f64 * STACK + 6.0)
}

/// A strip above the plot with a mark per stop at its in-lap, the stops of one lap stacked.
fn pit_band(svg: &mut Svg, r: &Report, x: &Scale, band_y: f64) {
    svg.text(LEFT - 8.0, band_y + 11.0, Anchor::End, "tick", "stops");
    let mut stacked: BTreeMap<i32, f64> = BTreeMap::new();
    for s in &r.stops {
        let (Some(lap), Some(car)) = (s.lap, r.car(s.car)) else {
            continue;
        };
        let row = stacked.entry(lap).or_default();
        let cy = band_y + 7.0 + *row * STACK;
        *row += 1.0;
        let tip = format!(
            "{} stop, lap {lap}: {} s stationary",
            car.driver,
            stationary(s.stationary_ms as f64 / 1000.0)
        );
        r.mark(car).draw(
            svg,
            x.at(f64::from(lap)),
            cy,
            3.5,
            team_color(&car.team),
            &tip,
        );
    }
}

/// One path per car through its green laps, broken where a lap is not green.
fn traces(svg: &mut Svg, r: &Report, x: &Scale, y: &Scale, plot_top: f64) {
    svg.raw(&format!(
        r#"<clipPath id="laps-plot"><rect x="{LEFT}" y="{plot_top:.1}" width="{:.1}" height="{PLOT_H}"/></clipPath>"#,
        RIGHT - LEFT
    ));
    // Worst classified first, so the leaders are drawn on top.
    for c in r.cars.iter().rev() {
        let mut d = String::new();
        let mut prev: Option<i32> = None;
        for l in r.laps.iter().filter(|l| l.car == c.car && l.green) {
            let cmd = if prev == Some(l.lap - 1) { 'L' } else { 'M' };
            let _ = write!(
                d,
                "{cmd}{:.1},{:.1}",
                x.at(f64::from(l.lap)),
                y.at(f64::from(l.lap_time_ms) / 1000.0)
            );
            prev = Some(l.lap);
        }
        svg.raw(&format!(
            r#"<path d="{d}" fill="none" stroke="{}" stroke-width="1.6"{} clip-path="url(#laps-plot)"><title>{}</title></path>"#,
            team_color(&c.team),
            r.mark(c).dash(),
            esc(&c.driver)
        ));
    }
}
