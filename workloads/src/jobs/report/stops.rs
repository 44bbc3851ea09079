//! Pit-stop stationary times: a dot per stop on one row per team, so that forty stops
//! need ten labels, not forty; every stop's figures in a table below.

use super::chart::Chart;
use super::data::Report;
use crate::jobs::svg::{
    Anchor, Key, Mark, ROW_PX, Scale, Svg, TICK_PX, WIDTH, esc, legend, no_data, team_color,
    text_width, x_axis,
};
use crate::wording::{count, stationary};
use std::fmt::Write;

const TITLE: &str = "Pit-stop stationary times by team";
const ROW: f64 = 24.0;

pub fn chart(r: &Report) -> Chart {
    let times: Vec<f64> = r
        .stops
        .iter()
        .map(|s| s.stationary_ms as f64 / 1000.0)
        .collect();
    if times.is_empty() {
        return Chart::new(TITLE, no_data(TITLE, "no pit stops"), String::new());
    }
    let lo = times.iter().copied().fold(f64::MAX, f64::min);
    let hi = times.iter().copied().fold(0.0, f64::max);
    let teams = r.team_order();
    let label_w = teams
        .iter()
        .map(|t| text_width(t, TICK_PX))
        .fold(0.0, f64::max);
    let summary_w = text_width("mean 10.00 s · 10 stops", TICK_PX);
    let mut svg = Svg::new(TITLE);
    let top = legend(
        &mut svg,
        16.0 + label_w + 12.0,
        18.0,
        WIDTH - 16.0,
        &[
            (
                Key::Line("#888888", Mark::First),
                "better classified car".into(),
            ),
            (Key::Line("#888888", Mark::Second), "teammate".into()),
        ],
    );
    let x = Scale::new(
        ((lo - 0.3).floor().max(0.0), hi.ceil()),
        (16.0 + label_w + 12.0, WIDTH - 16.0 - summary_w - 16.0),
    );
    let bottom = top + ROW * teams.len() as f64;
    x_axis(&mut svg, &x, bottom, "stationary time (s)", Some(top));
    for (i, team) in teams.iter().enumerate() {
        team_row(&mut svg, r, team, &x, top + ROW * (i as f64 + 0.5));
    }
    let caption = format!(
        "Each stop's stationary time, one row per team in classification order; the black tick is the team's mean. \
         Left out: {} (no stationary time).",
        count(r.drive_throughs, "drive-through", "drive-throughs")
    );
    Chart::new(TITLE, svg.finish(bottom + 44.0), caption).with_after(table(r))
}

fn team_row(svg: &mut Svg, r: &Report, team: &str, x: &Scale, cy: f64) {
    svg.text(x.r0 - 12.0, cy + 4.0, Anchor::End, "tick", team);
    let mut times = Vec::new();
    for s in &r.stops {
        let Some(car) = r.car(s.car).filter(|c| c.team == team) else {
            continue;
        };
        let t = s.stationary_ms as f64 / 1000.0;
        let lap = s.lap.map_or_else(|| "lap ?".into(), |l| format!("lap {l}"));
        let mark = r.mark(car);
        let dy = if mark == Mark::First { -4.0 } else { 4.0 };
        let tip = format!("{} {lap}: {} s", car.driver, stationary(t));
        mark.draw(svg, x.at(t), cy + dy, 3.5, team_color(team), &tip);
        times.push(t);
    }
    let summary = if times.is_empty() {
        "no stops".to_string()
    } else {
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        svg.line(
            (x.at(mean), cy - ROW_PX / 2.0),
            (x.at(mean), cy + ROW_PX / 2.0),
            "#111111",
        );
        format!(
            "mean {} s · {}",
            stationary(mean),
            count(times.len(), "stop", "stops")
        )
    };
    svg.text(WIDTH - 16.0, cy + 4.0, Anchor::End, "tick", &summary);
}

/// Every stop, fastest first, folded away (no script needed to open it).
fn table(r: &Report) -> String {
    let mut rows: Vec<(f64, String)> = r
        .stops
        .iter()
        .filter_map(|s| {
            let c = r.car(s.car)?;
            let t = s.stationary_ms as f64 / 1000.0;
            let lap = s.lap.map_or_else(|| "–".into(), |l| l.to_string());
            let row = format!(
                "<tr><td>{}</td><td>{}</td><td>{lap}</td><td>{}</td></tr>",
                esc(&c.driver),
                esc(&c.team),
                stationary(t)
            );
            Some((t, row))
        })
        .collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut html = format!(
        "<details><summary>Every stop ({})</summary><table><tr><th>Driver</th><th>Team</th><th>Lap</th><th>Stationary (s)</th></tr>",
        rows.len()
    );
    for (_, row) in rows {
        let _ = write!(html, "{row}");
    }
    html.push_str("</table></details>");
    html
}
