//! `report`: an HTML performance report of the session with SVG charts (lap-time traces,
//! pit-stop stationary times by team, tyre degradation per stint, anomalies per lap) and
//! the classification and team tables, stored in `reports` and served by the processor at
//! `/api/v1/sessions/{id}/report`. Self-contained: no scripts, no external assets.

use super::step::JobError;
use super::svg::{bars, esc, lines, team_color};
use std::collections::BTreeMap;
use std::fmt::Write;
use tokio_postgres::Client;

fn ms(v: Option<f64>) -> String {
    v.map(|m| {
        let s = m / 1000.0;
        format!("{}:{:06.3}", (s / 60.0).floor() as i64, s % 60.0)
    })
    .unwrap_or_else(|| "–".into())
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}"))
        .unwrap_or_else(|| "–".into())
}

/// Renders the report from what the processor and the `aggregate` step stored.
pub async fn render(db: &Client, session: &str) -> Result<String, JobError> {
    let s = db
        .query_opt(
            "SELECT circuit, total_laps, cars FROM sessions WHERE session_id = $1",
            &[&session],
        )
        .await?
        .ok_or_else(|| JobError::NoSession(session.into()))?;
    // A session fed through the API has no start marker: no circuit, distance or grid size.
    let (circuit, total_laps, cars): (Option<String>, Option<i32>, Option<i32>) =
        (s.get(0), s.get(1), s.get(2));
    let circuit = circuit.unwrap_or_default();
    let total_laps = total_laps.map_or_else(|| "?".into(), |l| l.to_string());
    let cars = cars.map_or_else(|| "?".into(), |c| c.to_string());

    let classification = db
        .query(
            "SELECT position, car, driver, team, laps, best_lap_ms, race_time_ms FROM classification
              WHERE session_id = $1 ORDER BY position",
            &[&session],
        )
        .await?;
    let laps = db
        .query(
            "SELECT driver, team, lap, lap_time_ms FROM laps WHERE session_id = $1 AND lap > 1 ORDER BY car, lap",
            &[&session],
        )
        .await?;
    let stops = db
        .query(
            "SELECT driver, team, COALESCE(lap, 0), stationary_ms FROM pit_stops WHERE session_id = $1 ORDER BY team, entry_ms",
            &[&session],
        )
        .await?;
    let stints = db
        .query(
            "SELECT driver, team, stint, compound, degradation_ms_per_lap FROM stints
              WHERE session_id = $1 AND degradation_ms_per_lap IS NOT NULL ORDER BY team, car, stint",
            &[&session],
        )
        .await?;
    let anomalies = db
        .query(
            "SELECT COALESCE(lap, 0), count(*) FROM anomalies WHERE session_id = $1 GROUP BY 1 ORDER BY 1",
            &[&session],
        )
        .await?;
    let summary = db
        .query(
            "SELECT team, laps, best_lap_ms, median_lap_ms, pace_delta_to_ferrari_ms, pit_stops, mean_stationary_s,
                    best_stationary_s, mean_pit_score, anomalies_warning, anomalies_critical, top_speed_kph
               FROM telemetry_team_summary WHERE session_id = $1 ORDER BY median_lap_ms NULLS LAST",
            &[&session],
        )
        .await?;

    // Lap-time traces, one line per driver in team colours (pit laps included: they show
    // as spikes, which is where the strategy is).
    let mut traces: BTreeMap<(String, String), Vec<(f64, f64)>> = BTreeMap::new();
    for r in &laps {
        traces.entry((r.get(1), r.get(0))).or_default().push((
            r.get::<_, i32>(2) as f64,
            r.get::<_, i32>(3) as f64 / 1000.0,
        ));
    }
    let lap_chart = lines(
        "Lap times",
        &traces
            .into_iter()
            .map(|((team, driver), pts)| (driver, team_color(&team).to_string(), pts))
            .collect::<Vec<_>>(),
        "lap",
        "lap time (s)",
    );
    let stop_chart = bars(
        "Pit-stop stationary times by team",
        &stops
            .iter()
            .map(|r| {
                let team: String = r.get(1);
                (
                    format!("{} L{}", r.get::<_, String>(0), r.get::<_, i32>(2)),
                    r.get::<_, i64>(3) as f64 / 1000.0,
                    team_color(&team).to_string(),
                )
            })
            .collect::<Vec<_>>(),
        "stationary (s)",
    );
    let deg_chart = bars(
        "Tyre degradation per stint",
        &stints
            .iter()
            .map(|r| {
                let team: String = r.get(1);
                (
                    format!(
                        "{} S{} {}",
                        r.get::<_, String>(0),
                        r.get::<_, i64>(2),
                        r.get::<_, String>(3)
                    ),
                    r.get::<_, f64>(4),
                    team_color(&team).to_string(),
                )
            })
            .collect::<Vec<_>>(),
        "ms per lap of tyre age",
    );
    let anomaly_chart = bars(
        "Anomalies per lap",
        &anomalies
            .iter()
            .map(|r| {
                (
                    format!("L{}", r.get::<_, i32>(0)),
                    r.get::<_, i64>(1) as f64,
                    "#b00020".to_string(),
                )
            })
            .collect::<Vec<_>>(),
        "anomalies",
    );

    let mut html = String::new();
    let winner = classification
        .first()
        .map(|r| format!("{} ({})", r.get::<_, String>(2), r.get::<_, String>(3)))
        .unwrap_or_else(|| "–".into());
    let _ = write!(
        html,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body{{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}}
header{{background:#dc0000;color:#fff;padding:20px 32px}} header h1{{margin:0;font-size:24px}} header p{{margin:4px 0 0;opacity:.9}}
main{{padding:8px 32px 40px;max-width:1100px}} section{{background:#fff;border:1px solid #e5e5e5;border-radius:8px;padding:12px 16px;margin:16px 0}}
h2{{font-size:17px;margin:4px 0 8px}} table{{border-collapse:collapse;width:100%}} th,td{{padding:4px 8px;border-bottom:1px solid #eee;text-align:right}}
th:nth-child(-n+3),td:nth-child(-n+3){{text-align:left}} .tick{{font-size:10px;fill:#555}} .label{{font-size:11px;fill:#333}} .legend{{font-size:10px;fill:#333}}
.swatch{{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px}}
</style></head><body>
<header><h1>{title}</h1><p>{circuit} · {total_laps} laps · {cars} cars · winner {winner}</p></header><main>"#,
        title = esc(&format!("Race report — {session}")),
        circuit = esc(&circuit),
        winner = esc(&winner),
    );
    html.push_str("<section><h2>Classification</h2><table><tr><th>Pos</th><th>Driver</th><th>Team</th><th>Laps</th><th>Best lap</th><th>Race time</th></tr>");
    for r in &classification {
        let team: String = r.get(3);
        let _ = write!(
            html,
            r#"<tr><td>{}</td><td>{} <small>#{}</small></td><td><span class="swatch" style="background:{}"></span>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            r.get::<_, i64>(0),
            esc(&r.get::<_, String>(2)),
            r.get::<_, i32>(1),
            team_color(&team),
            esc(&team),
            r.get::<_, i64>(4),
            ms(r.get::<_, Option<i32>>(5).map(f64::from)),
            ms(r.get::<_, Option<i64>>(6).map(|v| v as f64)),
        );
    }
    html.push_str("</table></section>");
    html.push_str("<section><h2>Teams</h2><table><tr><th>Team</th><th>Laps</th><th>Best lap</th><th>Median lap</th><th>Δ Ferrari (s)</th><th>Stops</th><th>Mean stop (s)</th><th>Best stop (s)</th><th>Stop score</th><th>Anomalies (warn/crit)</th><th>Top speed</th></tr>");
    for r in &summary {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}/{}</td><td>{}</td></tr>",
            esc(&r.get::<_, String>(0)),
            r.get::<_, i32>(1),
            ms(r.get::<_, Option<i32>>(2).map(f64::from)),
            ms(r.get(3)),
            opt(r.get::<_, Option<f64>>(4).map(|d| d / 1000.0), 3),
            r.get::<_, i32>(5),
            opt(r.get(6), 2),
            opt(r.get(7), 2),
            opt(r.get(8), 1),
            r.get::<_, i32>(9),
            r.get::<_, i32>(10),
            opt(r.get::<_, Option<f32>>(11).map(f64::from), 1),
        );
    }
    if summary.is_empty() {
        html.push_str("<tr><td colspan=\"11\">run the aggregate step for team figures</td></tr>");
    }
    html.push_str("</table></section>");
    for (title, chart) in [
        ("Lap times", lap_chart),
        ("Pit-stop stationary times by team", stop_chart),
        ("Tyre degradation per stint", deg_chart),
        ("Anomalies per lap", anomaly_chart),
    ] {
        let _ = write!(html, "<section><h2>{}</h2>{chart}</section>", esc(title));
    }
    html.push_str("</main></body></html>\n");
    Ok(html)
}

/// Renders and stores the report; returns its size in bytes.
pub async fn run(db: &Client, session: &str) -> Result<usize, JobError> {
    let html = render(db, session).await?;
    crate::db::reports::store(db, session, &html).await?;
    Ok(html.len())
}
