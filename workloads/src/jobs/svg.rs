//! Small SVG charts for the HTML report: no dependencies, no scripts, readable axes.

use std::fmt::Write;

/// Escapes text for HTML and SVG.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A team's colour (2024 liveries), grey for anyone else.
pub fn team_color(team: &str) -> &'static str {
    match team {
        "Ferrari" => "#dc0000",
        "Red Bull Racing" => "#3671c6",
        "Mercedes" => "#27f4d2",
        "McLaren" => "#ff8000",
        "Aston Martin" => "#229971",
        "Alpine" => "#ff87bc",
        "Williams" => "#64c4ff",
        "RB" => "#6692ff",
        "Kick Sauber" => "#52e252",
        "Haas F1 Team" => "#b6babd",
        _ => "#888888",
    }
}

/// Round tick step for a range (1, 2 or 5 × 10^k).
fn tick_step(span: f64, ticks: f64) -> f64 {
    let raw = (span / ticks).max(f64::MIN_POSITIVE);
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let step = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    step * mag
}

fn fmt_tick(v: f64, step: f64) -> String {
    if step >= 1.0 {
        format!("{v:.0}")
    } else if step >= 0.1 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

const W: f64 = 860.0;
const H: f64 = 320.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 56.0;

struct Frame {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
}

impl Frame {
    fn x(&self, v: f64) -> f64 {
        LEFT + (v - self.x0) / (self.x1 - self.x0).max(1e-9) * (W - LEFT - RIGHT)
    }
    fn y(&self, v: f64) -> f64 {
        H - BOTTOM - (v - self.y0) / (self.y1 - self.y0).max(1e-9) * (H - TOP - BOTTOM)
    }
}

fn axes(out: &mut String, f: &Frame, x_label: &str, y_label: &str, x_ticks: bool) {
    let step = tick_step(f.y1 - f.y0, 5.0);
    let mut v = (f.y0 / step).ceil() * step;
    while v <= f.y1 + 1e-9 {
        let y = f.y(v);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e3e3e3"/><text x="{:.1}" y="{:.1}" text-anchor="end" class="tick">{}</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            fmt_tick(v, step)
        );
        v += step;
    }
    if x_ticks {
        let step = tick_step(f.x1 - f.x0, 10.0).max(1.0);
        let mut v = (f.x0 / step).ceil() * step;
        while v <= f.x1 + 1e-9 {
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="tick">{}</text>"#,
                f.x(v),
                H - BOTTOM + 16.0,
                fmt_tick(v, step)
            );
            v += step;
        }
    }
    let _ = write!(
        out,
        r##"<line x1="{LEFT}" y1="{b:.1}" x2="{r:.1}" y2="{b:.1}" stroke="#555"/><line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{b:.1}" stroke="#555"/><text x="{cx:.1}" y="{ly:.1}" text-anchor="middle" class="label">{}</text><text transform="translate(14 {cy:.1}) rotate(-90)" text-anchor="middle" class="label">{}</text>"##,
        esc(x_label),
        esc(y_label),
        b = H - BOTTOM,
        r = W - RIGHT,
        cx = (LEFT + W - RIGHT) / 2.0,
        ly = H - 12.0,
        cy = (TOP + H - BOTTOM) / 2.0,
    );
}

fn svg_open(title: &str) -> String {
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img" aria-label="{}">"#,
        esc(title)
    )
}

/// A line: label, colour, points.
pub type Series = (String, String, Vec<(f64, f64)>);

/// One line per series.
pub fn lines(title: &str, series: &[Series], x_label: &str, y_label: &str) -> String {
    let pts = series.iter().flat_map(|s| s.2.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        return format!(
            "{}<text x=\"20\" y=\"40\">no data</text></svg>",
            svg_open(title)
        );
    }
    let pad = ((y1 - y0) * 0.05).max(0.1);
    let f = Frame {
        x0,
        x1: x1.max(x0 + 1.0),
        y0: y0 - pad,
        y1: y1 + pad,
    };
    let mut out = svg_open(title);
    axes(&mut out, &f, x_label, y_label, true);
    for (i, (label, color, points)) in series.iter().enumerate() {
        let path: Vec<String> = points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", f.x(x), f.y(y)))
            .collect();
        let _ = write!(
            out,
            r#"<polyline fill="none" stroke="{color}" stroke-width="1.6" points="{}"><title>{}</title></polyline>"#,
            path.join(" "),
            esc(label)
        );
        // Legend: two columns when crowded.
        let (col, row) = (i / 20, i % 20);
        let lx = W - RIGHT + 12.0 + col as f64 * 80.0;
        let ly = TOP + 4.0 + row as f64 * 13.0;
        let _ = write!(
            out,
            r#"<rect x="{lx:.1}" y="{ly:.1}" width="10" height="3" fill="{color}"/><text x="{:.1}" y="{:.1}" class="legend">{}</text>"#,
            lx + 14.0,
            ly + 4.0,
            esc(label)
        );
    }
    out.push_str("</svg>");
    out
}

/// Vertical bars; bars are (label, value, colour).
pub fn bars(title: &str, bars: &[(String, f64, String)], y_label: &str) -> String {
    if bars.is_empty() {
        return format!(
            "{}<text x=\"20\" y=\"40\">no data</text></svg>",
            svg_open(title)
        );
    }
    let lo = bars.iter().map(|b| b.1).fold(0.0, f64::min);
    let hi = bars.iter().map(|b| b.1).fold(0.0, f64::max);
    let f = Frame {
        x0: 0.0,
        x1: bars.len() as f64,
        y0: lo * 1.1,
        y1: if hi > 0.0 { hi * 1.1 } else { 1.0 },
    };
    let mut out = svg_open(title);
    axes(&mut out, &f, "", y_label, false);
    let slot = (W - LEFT - RIGHT) / bars.len() as f64;
    for (i, (label, v, color)) in bars.iter().enumerate() {
        let x = LEFT + i as f64 * slot + slot * 0.15;
        let (ya, yb) = (f.y(v.max(0.0)), f.y(v.min(0.0)));
        let _ = write!(
            out,
            r#"<rect x="{x:.1}" y="{ya:.1}" width="{:.1}" height="{:.1}" fill="{color}"><title>{}: {v:.2}</title></rect>"#,
            slot * 0.7,
            (yb - ya).max(0.5),
            esc(label)
        );
        if bars.len() <= 40 {
            let _ = write!(
                out,
                r#"<text transform="translate({:.1} {:.1}) rotate(-45)" text-anchor="end" class="tick">{}</text>"#,
                x + slot * 0.35,
                H - BOTTOM + 12.0,
                esc(label)
            );
        }
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        assert_eq!(tick_step(10.0, 5.0), 2.0);
        assert_eq!(tick_step(0.7, 5.0), 0.2);
        assert_eq!(tick_step(4200.0, 5.0), 1000.0);
    }

    /// Labels are escaped and every series is drawn.
    #[test]
    fn charts_escape_and_draw() {
        let s = lines(
            "t",
            &[
                ("A<b>".into(), "#f00".into(), vec![(1.0, 80.0), (2.0, 81.0)]),
                ("C".into(), "#00f".into(), vec![(1.0, 82.0)]),
            ],
            "lap",
            "s",
        );
        assert!(s.contains("A&lt;b&gt;") && !s.contains("A<b>"));
        assert_eq!(s.matches("<polyline").count(), 2);
        let b = bars("b", &[("x".into(), 2.5, "#0f0".into())], "s");
        assert_eq!(b.matches("<rect x").count(), 1);
    }
}
