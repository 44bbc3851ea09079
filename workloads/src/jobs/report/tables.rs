//! The classification and team tables.

use super::data::Report;
use crate::jobs::svg::{esc, team_color};
use crate::wording::stationary;
use std::fmt::Write;

/// m:ss.fff, h:mm:ss.fff from an hour on (a race time), or a dash.
pub fn ms(v: Option<f64>) -> String {
    v.map(|m| {
        let s = m / 1000.0;
        let minutes = (s / 60.0).floor() as i64;
        if minutes >= 60 {
            format!("{}:{:02}:{:06.3}", minutes / 60, minutes % 60, s % 60.0)
        } else {
            format!("{minutes}:{:06.3}", s % 60.0)
        }
    })
    .unwrap_or_else(|| "–".into())
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}"))
        .unwrap_or_else(|| "–".into())
}

pub fn classification(html: &mut String, r: &Report) {
    html.push_str("<section><h2>Classification</h2><table><tr><th>Pos</th><th>Driver</th><th>Team</th><th>Laps</th><th>Best lap</th><th>Race time</th></tr>");
    for c in &r.cars {
        let _ = write!(
            html,
            r#"<tr><td>{}</td><td>{} <small>#{}</small></td><td><span class="swatch" style="background:{}"></span>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            c.position,
            esc(&c.driver),
            c.car,
            team_color(&c.team),
            esc(&c.team),
            c.laps,
            ms(c.best_lap_ms.map(f64::from)),
            ms(c.race_time_ms.map(|v| v as f64)),
        );
    }
    html.push_str("</table></section>");
}

pub fn teams(html: &mut String, r: &Report) {
    html.push_str("<section><h2>Teams</h2><table><tr><th>Team</th><th>Laps</th><th>Best lap</th><th>Median lap</th><th>Δ Ferrari (s)</th><th>Stops</th><th>Mean stop (s)</th><th>Best stop (s)</th><th>Stop score</th><th>Anomalies (warn/crit)</th><th>Top speed</th></tr>");
    for t in &r.teams {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}/{}</td><td>{}</td></tr>",
            esc(&t.team),
            t.laps,
            ms(t.best_lap_ms.map(f64::from)),
            ms(t.median_lap_ms),
            opt(t.delta_to_ferrari_ms.map(|d| d / 1000.0), 3),
            t.pit_stops,
            t.mean_stationary_s.map_or_else(|| "–".into(), stationary),
            t.best_stationary_s.map_or_else(|| "–".into(), stationary),
            opt(t.mean_pit_score, 1),
            t.anomalies.0,
            t.anomalies.1,
            opt(t.top_speed_kph.map(f64::from), 1),
        );
    }
    if r.teams.is_empty() {
        html.push_str("<tr><td colspan=\"11\">run the aggregate step for team figures</td></tr>");
    }
    html.push_str("</table></section>");
}

#[cfg(test)]
mod tests {
    /// A lap reads m:ss.fff; a race time past the hour h:mm:ss.fff (it read 98:30.099).
    #[test]
    fn times_read_as_a_timing_screen_writes_them() {
        assert_eq!(super::ms(Some(81_432.0)), "1:21.432");
        assert_eq!(super::ms(Some(5_910_099.0)), "1:38:30.099");
        assert_eq!(super::ms(Some(3_600_000.0)), "1:00:00.000");
        assert_eq!(super::ms(None), "–");
    }
}
