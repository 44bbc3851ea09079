//! Tyre degradation per stint with its 95% interval, fitted by the strategy's own
//! estimator; a stint it will not fit is listed with the reason, never drawn.

use super::chart::Chart;
use super::data::{Car, Report, Stint};
use crate::analytics::strategy::degradation::{Fit, StintLap, fit};
use crate::analytics::strategy::fuel_ms_per_lap;
use crate::jobs::svg::{
    Anchor, Scale, Svg, TICK_PX, WIDTH, compound_colors, compound_keys, esc, legend, no_data,
    text_width, x_axis,
};
use crate::wording::count;
use std::fmt::Write;

const TITLE: &str = "Tyre degradation per stint";
/// Vertical distance between the stints of one driver.
const SUB_ROW: f64 = 8.0;

/// A stint and what the estimator made of it.
pub struct StintFit<'a> {
    pub car: &'a Car,
    pub stint: &'a Stint,
    pub fit: Result<Fit, String>,
}

/// Fits every stint of every classified car from its green laps.
pub fn fits(r: &Report) -> Vec<StintFit<'_>> {
    let fuel = fuel_ms_per_lap(r.session.total_laps.and_then(|n| u16::try_from(n).ok()));
    let mut out = Vec::new();
    for car in &r.cars {
        for stint in r.stints.iter().filter(|s| s.car == car.car) {
            let laps: Vec<StintLap> = r
                .laps
                .iter()
                .filter(|l| {
                    l.car == car.car
                        && l.green
                        && (stint.first_lap..=stint.last_lap).contains(&l.lap)
                })
                .map(|l| StintLap {
                    tyre_age: f64::from(l.tyre_age.unwrap_or(l.lap - stint.first_lap)),
                    lap: u16::try_from(l.lap).unwrap_or(0),
                    lap_time_ms: f64::from(l.lap_time_ms),
                })
                .collect();
            out.push(StintFit {
                car,
                stint,
                fit: fit(&laps, fuel),
            });
        }
    }
    out
}

/// A driver's fitted stints, in stint order.
type Row<'a> = (&'a Car, Vec<(&'a StintFit<'a>, &'a Fit)>);

pub fn chart(r: &Report) -> Chart {
    let all = fits(r);
    let hidden = hidden_list(&all);
    let rows: Vec<Row> = r
        .cars
        .iter()
        .map(|car| {
            let fitted = all.iter().filter(|s| s.car.car == car.car);
            (
                car,
                fitted
                    .filter_map(|s| Some((s, s.fit.as_ref().ok()?)))
                    .collect::<Vec<_>>(),
            )
        })
        .filter(|(_, fits)| !fits.is_empty())
        .collect();
    let shown: Vec<&Fit> = rows
        .iter()
        .flat_map(|(_, f)| f.iter().map(|(_, f)| *f))
        .collect();
    if shown.is_empty() {
        let svg = no_data(TITLE, "no stint has enough green laps for a fit");
        return Chart::new(TITLE, svg, String::new()).with_after(hidden);
    }
    let lo = shown
        .iter()
        .map(|f| f.ms_per_lap - f.ci95_ms_per_lap)
        .fold(0.0, f64::min);
    let hi = shown
        .iter()
        .map(|f| f.ms_per_lap + f.ci95_ms_per_lap)
        .fold(0.0, f64::max);
    let pad = (hi - lo) * 0.05;
    let widest = |texts: Vec<String>| {
        texts
            .iter()
            .map(|t| text_width(t, TICK_PX))
            .fold(0.0, f64::max)
    };
    let label_w = widest(rows.iter().map(|(c, _)| label(c)).collect());
    let summary_w = widest(rows.iter().map(|(_, f)| summary(f)).collect());
    let mut svg = Svg::new(TITLE);
    let used = |c: &str| all.iter().any(|s| s.fit.is_ok() && s.stint.compound == c);
    let top = legend(
        &mut svg,
        16.0 + label_w + 12.0,
        18.0,
        WIDTH - 16.0,
        &compound_keys(used),
    );
    let x = Scale::new(
        (lo - pad, hi + pad),
        (16.0 + label_w + 12.0, WIDTH - 16.0 - summary_w - 16.0),
    );
    let mut y = top;
    for (car, fits) in &rows {
        let h = (fits.len() as f64 * SUB_ROW + 10.0).max(22.0);
        driver_row(&mut svg, car, fits, &x, y, h);
        y += h;
    }
    svg.line((x.at(0.0), top), (x.at(0.0), y), "#888888");
    let axis = "lap-time increase per lap of tyre age, fuel-corrected (ms)";
    x_axis(&mut svg, &x, y, axis, Some(top));
    let caption = format!(
        "Each stint's degradation fitted on its green laps (traffic laps dropped) after taking out {:.0} ms a lap of fuel burn: \
         dot the estimate, bar its 95% interval, coloured by compound, one row per driver in classification order. \
         Left out: {} without a trustworthy fit{}.",
        fuel_ms_per_lap(r.session.total_laps.and_then(|n| u16::try_from(n).ok())),
        count(all.len() - shown.len(), "stint", "stints"),
        if hidden.is_empty() {
            ""
        } else {
            " (listed below)"
        }
    );
    Chart::new(TITLE, svg.finish(y + 44.0), caption).with_after(hidden)
}

fn label(car: &Car) -> String {
    format!("{} {}", car.position, car.driver)
}

/// The figures of a driver's stints, for the right-hand column.
fn summary(fits: &[(&StintFit, &Fit)]) -> String {
    let each = fits.iter().map(|(s, f)| {
        format!(
            "S{} {:+.0} ± {:.0}",
            s.stint.stint, f.ms_per_lap, f.ci95_ms_per_lap
        )
    });
    each.collect::<Vec<_>>().join(" · ")
}

fn driver_row(svg: &mut Svg, car: &Car, fits: &[(&StintFit, &Fit)], x: &Scale, y: f64, h: f64) {
    let cy = y + h / 2.0;
    svg.text(x.r0 - 12.0, cy + 4.0, Anchor::End, "tick", &label(car));
    svg.line((x.r0, y + h), (x.r1, y + h), "#f2f2f2");
    for (i, (s, f)) in fits.iter().enumerate() {
        let sy = cy + (i as f64 - (fits.len() as f64 - 1.0) / 2.0) * SUB_ROW;
        let (fill, stroke) = compound_colors(&s.stint.compound);
        let (a, b) = (
            x.at(f.ms_per_lap - f.ci95_ms_per_lap),
            x.at(f.ms_per_lap + f.ci95_ms_per_lap),
        );
        let tip = format!(
            "{} stint {} ({}, laps {}–{}): {:+.0} ± {:.0} ms per lap on {}, {} dropped",
            car.driver,
            s.stint.stint,
            s.stint.compound,
            s.stint.first_lap,
            s.stint.last_lap,
            f.ms_per_lap,
            f.ci95_ms_per_lap,
            count(f.green_laps, "green lap", "green laps"),
            f.dropped_laps
        );
        svg.raw(&format!(
            r#"<line x1="{a:.1}" y1="{sy:.1}" x2="{b:.1}" y2="{sy:.1}" stroke="{stroke}" stroke-width="2"/><circle cx="{:.1}" cy="{sy:.1}" r="3.5" fill="{fill}" stroke="{stroke}"><title>{}</title></circle>"#,
            x.at(f.ms_per_lap),
            esc(&tip)
        ));
    }
    svg.text(WIDTH - 16.0, cy + 4.0, Anchor::End, "tick", &summary(fits));
}

/// The stints not drawn and why.
fn hidden_list(all: &[StintFit]) -> String {
    let mut html = String::new();
    for s in all {
        if let Err(why) = &s.fit {
            let _ = write!(
                html,
                "<li>{} stint {} ({}, laps {}–{}): {}</li>",
                esc(&s.car.driver),
                s.stint.stint,
                esc(&s.stint.compound),
                s.stint.first_lap,
                s.stint.last_lap,
                esc(why)
            );
        }
    }
    if html.is_empty() {
        return html;
    }
    format!(
        "<p class=\"note\">Not drawn: no trustworthy fit.</p><ul class=\"hidden-fits\">{html}</ul>"
    )
}
