//! `report`: an HTML performance report of the session, stored in `reports` and served by
//! the processor at `/api/v1/sessions/{id}/report`. Self-contained: no scripts, no
//! external assets. The tables, then SVG charts, each with a caption saying what it shows
//! and what it leaves out: the team comparison, the tyre strategy, lap-time traces,
//! stationary times by team, tyre degradation per stint with its 95% interval, and
//! anomalies per lap.
//!
//! Read everything (`data`) → draw each section (one module per chart) → one page.

mod anomalies;
mod chart;
pub mod data;
mod degradation;
mod laps;
mod stops;
mod tables;
mod teams;
#[cfg(test)]
mod tests;
mod tyres;

use super::step::JobError;
use super::svg::esc;
use crate::analytics::strategy::review;
use crate::wording::count;
use data::Report;
use std::fmt::Write;
use tokio_postgres::Client;

/// Renders the report from what the processor and the `aggregate` step stored.
pub async fn render(db: &Client, session: &str) -> Result<String, JobError> {
    Ok(html(&data::load(db, session).await?))
}

/// The report of a race, however it was read.
pub fn html(r: &Report) -> String {
    let mut html = String::new();
    head(&mut html, r);
    tables::classification(&mut html, r);
    tables::teams(&mut html, r);
    teams::chart(r).write(&mut html);
    tyres::chart(r).write(&mut html);
    live_strategy_calls(&mut html, r);
    laps::chart(r).write(&mut html);
    stops::chart(r).write(&mut html);
    degradation::chart(r).write(&mut html);
    anomalies::chart(r).write(&mut html);
    html.push_str("</main></body></html>\n");
    html
}

/// The live strategy judged after the race: for every stop, the rejoin predicted at
/// pit entry from what was known then, against the position one lap after pit exit
/// (`analytics::strategy::review`).
fn live_strategy_calls(html: &mut String, r: &Report) {
    let checks = review::rejoin_checks(&r.strategy);
    html.push_str("<section><h2>Live strategy calls</h2>");
    let suspended = match review::judged_stops(&r.strategy).1 {
        0 => String::new(),
        n => format!(
            " Not judged: {} held up by a red flag (the field waiting in the pit lane decided \
             where {} came out).",
            count(n, "stop", "stops"),
            if n == 1 { "it" } else { "they" }
        ),
    };
    if checks.is_empty() {
        let _ = write!(
            html,
            "<p class=\"caption\">No stop with a lap after it to check.{suspended}</p></section>"
        );
        return;
    }
    let exact = checks.iter().filter(|c| c.predicted == c.actual).count();
    let near = checks
        .iter()
        .filter(|c| c.predicted.abs_diff(c.actual) <= 1)
        .count();
    let _ = write!(
        html,
        "<p class=\"caption\">Where each car was predicted to rejoin when it entered the pit lane \
         (gaps at the line, the pit loss in use, a safety car's cheap stop for the field), against \
         the position it held one lap after pit exit: {exact} of {n} exact, {near} within one place, \
         {in_range} within the predicted range (a single place when green; under a safety car \
         from the field stopping too to it staying out, as the others' choice is not known). {later} of the misses only because other cars stopped \
         after the prediction, which no prediction at pit entry can see.{suspended}{feed}</p><table><tr><th>Driver</th><th>In-lap</th><th>Pit loss \
         used</th><th>Predicted</th><th>Actual</th><th>Why missed</th></tr>",
        n = checks.len(),
        in_range = checks.iter().filter(|c| c.in_range()).count(),
        later = checks.iter().filter(|c| c.missed_for_later_stops()).count(),
        feed = no_race_control(r)
    );
    for c in &checks {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{:.1} s</td><td>{}</td><td>P{}{}</td><td>{}</td></tr>",
            esc(&c.driver),
            c.lap.map_or_else(|| "–".into(), |l| l.to_string()),
            c.loss_ms / 1000.0,
            c.predicted_text(),
            c.actual,
            c.mark(),
            esc(&c.why())
        );
    }
    html.push_str("</table></section>");
}

/// What the calls lacked when no race-control feed reported a safety car although laps
/// ran neutralised (a replay of timing data alone): the strategy took them as green, so
/// its calls there priced a full stop and expected nobody else to stop.
fn no_race_control(r: &Report) -> String {
    let slow = laps::neutralised_laps(r);
    if !r.strategy.neutral_periods.is_empty() || slow.is_empty() {
        return String::new();
    }
    format!(
        " No race-control feed reported a safety car, virtual safety car or red flag \
         (<code>POST /api/v1/sessions/{{id}}/events</code>), yet {} ran neutralised: the \
         live strategy took {} as green, so its calls there are green calls \
         (docs/strategy.md).",
        count(slow.len(), "lap", "laps"),
        if slow.len() == 1 { "it" } else { "them" }
    )
}

fn head(html: &mut String, r: &Report) {
    let winner = r
        .cars
        .first()
        .map(|c| format!("{} ({})", c.driver, c.team))
        .unwrap_or_else(|| "–".into());
    let total_laps = r
        .session
        .total_laps
        .map_or_else(|| "? laps".into(), |l| count(l, "lap", "laps"));
    let cars = r
        .session
        .cars
        .map_or_else(|| "? cars".into(), |c| count(c, "car", "cars"));
    let _ = write!(
        html,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body{{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}}
header{{background:#dc0000;color:#fff;padding:20px 32px}} header h1{{margin:0;font-size:24px}} header p{{margin:4px 0 0;opacity:.9}}
main{{padding:8px 32px 40px;max-width:1100px}} section{{background:#fff;border:1px solid #e5e5e5;border-radius:8px;padding:12px 16px;margin:16px 0}}
h2{{font-size:17px;margin:4px 0 8px}} table{{border-collapse:collapse;width:100%}} th,td{{padding:4px 8px;border-bottom:1px solid #eee;text-align:right}}
th:nth-child(-n+3),td:nth-child(-n+3){{text-align:left}} svg{{display:block;width:100%;max-width:1040px;height:auto}}
.tick{{font-size:11px;fill:#444}} .label{{font-size:12px;fill:#222}} .legend{{font-size:11px;fill:#333}}
.caption{{color:#555;font-size:13px;margin:6px 0 0}} .note{{margin:8px 0 2px;font-size:13px}}
.hidden-fits{{columns:2;font-size:12px;color:#555;margin:0;padding-left:18px}} details{{margin-top:8px;font-size:13px}}
.swatch{{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px}}
</style></head><body>
<header><h1>{title}</h1><p>{circuit} · {total_laps} · {cars} · winner {winner}</p></header><main>"#,
        title = esc(&format!("Race report — {}", r.session_id)),
        circuit = esc(&r.session.circuit),
        winner = esc(&winner),
    );
}

/// Renders and stores the report; returns its size in bytes.
pub async fn run(db: &Client, session: &str) -> Result<usize, JobError> {
    let html = render(db, session).await?;
    crate::db::reports::store(db, session, &html).await?;
    Ok(html.len())
}
