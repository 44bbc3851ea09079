//! Team comparison: race pace as the gap of each team's green laps to the fastest team
//! (median and interquartile range), beside its crew's mean stationary time.

use super::chart::Chart;
use super::data::Report;
use crate::jobs::svg::{
    Anchor, Scale, Svg, TICK_PX, WIDTH, esc, no_data, team_color, text_width, x_axis,
};
use crate::wording::{count, stationary};

const TITLE: &str = "Team comparison";
const ROW: f64 = 24.0;
const TOP: f64 = 12.0;

/// One team's figures, seconds.
struct Team<'a> {
    name: &'a str,
    /// 25th, 50th and 75th percentile of its green laps.
    quartiles: Option<[f64; 3]>,
    mean_stop: Option<(f64, usize)>,
}

/// The q-quantile of sorted values, interpolated as PostgreSQL's `percentile_cont`.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (i, frac) = (pos.floor() as usize, pos.fract());
    sorted[i] + (sorted[(i + 1).min(sorted.len() - 1)] - sorted[i]) * frac
}

fn team_figures(r: &Report) -> Vec<Team<'_>> {
    let mut out: Vec<Team> = r
        .team_order()
        .into_iter()
        .map(|name| {
            let of_team = |car: i32| r.car(car).is_some_and(|c| c.team == name);
            let mut laps: Vec<f64> = r
                .laps
                .iter()
                .filter(|l| l.green && of_team(l.car))
                .map(|l| f64::from(l.lap_time_ms) / 1000.0)
                .collect();
            laps.sort_by(f64::total_cmp);
            let stops: Vec<f64> = r
                .stops
                .iter()
                .filter(|s| of_team(s.car))
                .map(|s| s.stationary_ms as f64 / 1000.0)
                .collect();
            Team {
                name,
                quartiles: (!laps.is_empty())
                    .then(|| [0.25, 0.5, 0.75].map(|q| quantile(&laps, q))),
                mean_stop: (!stops.is_empty())
                    .then(|| (stops.iter().sum::<f64>() / stops.len() as f64, stops.len())),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        let m = |t: &Team| t.quartiles.map_or(f64::MAX, |q| q[1]);
        m(a).total_cmp(&m(b))
    });
    out
}

pub fn chart(r: &Report) -> Chart {
    let teams = team_figures(r);
    let Some(fastest) = teams.first().and_then(|t| t.quartiles).map(|q| q[1]) else {
        return Chart::new(TITLE, no_data(TITLE, "no green laps yet"), String::new());
    };
    let label_w = teams
        .iter()
        .map(|t| text_width(t.name, TICK_PX))
        .fold(0.0, f64::max)
        + 18.0;
    let value_w = text_width("10.00 s (10)", TICK_PX) + 8.0;
    let a0 = 16.0 + label_w + 12.0;
    let b1 = WIDTH - 16.0 - value_w;
    let a1 = a0 + (b1 - a0) * 0.62;
    let gap_hi = teams
        .iter()
        .filter_map(|t| t.quartiles)
        .map(|q| q[2] - fastest)
        .fold(0.1, f64::max);
    let gap_lo = teams
        .iter()
        .filter_map(|t| t.quartiles)
        .map(|q| q[0] - fastest)
        .fold(0.0, f64::min);
    let stop_hi = teams
        .iter()
        .filter_map(|t| t.mean_stop)
        .map(|m| m.0)
        .fold(1.0, f64::max);
    let pace = Scale::new((gap_lo, gap_hi * 1.05), (a0, a1));
    let crew = Scale::new((0.0, stop_hi * 1.05), (a1 + 70.0, b1));
    let bottom = TOP + ROW * teams.len() as f64;
    let mut svg = Svg::new(TITLE);
    x_axis(
        &mut svg,
        &pace,
        bottom,
        "gap to the fastest team's median green lap (s)",
        Some(TOP),
    );
    x_axis(
        &mut svg,
        &crew,
        bottom,
        "mean stationary time (s)",
        Some(TOP),
    );
    svg.line((pace.at(0.0), TOP), (pace.at(0.0), bottom), "#888888");
    for (i, t) in teams.iter().enumerate() {
        let cy = TOP + ROW * (i as f64 + 0.5);
        team_row(&mut svg, t, fastest, (&pace, &crew), cy);
    }
    let caption = "Race pace and pit crews per team, fastest first: the bar spans the middle half (25th–75th percentile) \
                   of the team's green laps as a gap to the fastest team's median, the dot its median; right, the mean \
                   stationary time and the number of stops. Left out: lap 1, in- and out-laps, neutralised laps.";
    Chart::new(TITLE, svg.finish(bottom + 44.0), caption.into())
}

fn team_row(svg: &mut Svg, t: &Team, fastest: f64, (pace, crew): (&Scale, &Scale), cy: f64) {
    let color = team_color(t.name);
    svg.rect((16.0, cy - 5.0, 10.0, 10.0), color, "#555555", t.name);
    svg.text(pace.r0 - 12.0, cy + 4.0, Anchor::End, "tick", t.name);
    match t.quartiles {
        Some([q1, q2, q3]) => {
            let tip = format!(
                "{}: median green lap {:+.3} s to the fastest team, middle half {:+.3} to {:+.3} s",
                t.name,
                q2 - fastest,
                q1 - fastest,
                q3 - fastest
            );
            let (a, b) = (pace.at(q1 - fastest), pace.at(q3 - fastest));
            svg.rect((a, cy - 6.0, b - a, 12.0), color, "#555555", &tip);
            svg.raw(&format!(
                r##"<circle cx="{:.1}" cy="{cy:.1}" r="3.5" fill="#111"><title>{}</title></circle>"##,
                pace.at(q2 - fastest),
                esc(&tip)
            ));
        }
        None => svg.text(
            pace.r0 + 6.0,
            cy + 4.0,
            Anchor::Start,
            "tick",
            "no green laps",
        ),
    }
    match t.mean_stop {
        Some((mean, n)) => {
            let tip = format!(
                "{}: mean stationary {} s over {}",
                t.name,
                stationary(mean),
                count(n, "stop", "stops")
            );
            svg.rect(
                (crew.r0, cy - 6.0, crew.at(mean) - crew.r0, 12.0),
                color,
                "#555555",
                &tip,
            );
            svg.text(
                crew.at(mean) + 6.0,
                cy + 4.0,
                Anchor::Start,
                "tick",
                &format!("{} s ({n})", stationary(mean)),
            );
        }
        None => svg.text(crew.r0 + 6.0, cy + 4.0, Anchor::Start, "tick", "no stops"),
    }
}

#[cfg(test)]
mod tests {
    use super::quantile;

    /// Quartiles interpolate like PostgreSQL's percentile_cont (the team table's median).
    #[test]
    fn quantiles_interpolate() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.5), 2.5);
        assert_eq!(quantile(&v, 0.25), 1.75);
        assert_eq!(quantile(&[7.0], 0.75), 7.0);
    }
}
