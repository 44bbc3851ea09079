//! Tyre strategy: per driver, in classification order, a timeline of stints coloured by
//! compound with each stop marked at its in-lap.

use super::chart::Chart;
use super::data::{Car, Report};
use crate::jobs::svg::{
    Anchor, Key, Scale, Svg, TICK_PX, WIDTH, compound_colors, compound_keys, legend, no_data,
    text_width, x_axis,
};
use crate::wording::{count, stationary};

const TITLE: &str = "Tyre strategy";
const ROW: f64 = 20.0;

pub fn chart(r: &Report) -> Chart {
    if r.stints.is_empty() {
        return Chart::new(TITLE, no_data(TITLE, "no laps yet"), String::new());
    }
    let max_lap = r.stints.iter().map(|s| s.last_lap).max().unwrap_or(1);
    let total = r.session.total_laps.unwrap_or(max_lap).max(max_lap);
    let label_w = r
        .cars
        .iter()
        .map(|c| text_width(&format!("{} {}", c.position, c.driver), TICK_PX))
        .fold(0.0, f64::max);
    let mut svg = Svg::new(TITLE);
    let mut keys = compound_keys(|c| r.stints.iter().any(|s| s.compound == c));
    keys.push((Key::Fill("#111111", "#111111"), "pit stop".into()));
    let x = Scale::new(
        (0.0, f64::from(total)),
        (16.0 + label_w + 12.0, WIDTH - 16.0),
    )
    .whole();
    let top = legend(&mut svg, x.r0, 18.0, x.r1, &keys);
    let bottom = top + ROW * r.cars.len() as f64;
    x_axis(&mut svg, &x, bottom, "lap", Some(top));
    for (i, car) in r.cars.iter().enumerate() {
        driver_row(&mut svg, r, car, &x, top + ROW * i as f64);
    }
    let unplaced = r.stops.iter().filter(|s| s.lap.is_none()).count();
    let caption = format!(
        "Each driver's stints from the lap they began to the lap they ended, coloured by compound (grey: unknown), \
         with a black tick at the end of each stop's in-lap; drivers in classification order. \
         Left out: {} with no known lap.",
        count(unplaced, "stop", "stops")
    );
    Chart::new(TITLE, svg.finish(bottom + 44.0), caption)
}

fn driver_row(svg: &mut Svg, r: &Report, car: &Car, x: &Scale, y: f64) {
    let cy = y + ROW / 2.0;
    svg.text(
        x.r0 - 12.0,
        cy + 4.0,
        Anchor::End,
        "tick",
        &format!("{} {}", car.position, car.driver),
    );
    for s in r.stints.iter().filter(|s| s.car == car.car) {
        let (fill, stroke) = compound_colors(&s.compound);
        // Lap n is run between n − 1 and n on the axis.
        let (a, b) = (
            x.at(f64::from(s.first_lap - 1)),
            x.at(f64::from(s.last_lap)),
        );
        let tip = format!(
            "{} stint {}: {}, laps {}–{} ({})",
            car.driver,
            s.stint,
            s.compound,
            s.first_lap,
            s.last_lap,
            count(s.last_lap - s.first_lap + 1, "lap", "laps")
        );
        svg.rect((a, cy - 6.0, b - a, 12.0), fill, stroke, &tip);
    }
    for s in r.stops.iter().filter(|s| s.car == car.car) {
        let Some(lap) = s.lap else { continue };
        let tip = format!(
            "{} stop at the end of lap {lap}: {} s stationary",
            car.driver,
            stationary(s.stationary_ms as f64 / 1000.0)
        );
        svg.rect(
            (x.at(f64::from(lap)) - 1.5, cy - 9.0, 3.0, 18.0),
            "#111111",
            "#111111",
            &tip,
        );
    }
}
