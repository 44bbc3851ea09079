//! SVG drawing for the HTML report: no dependencies, no scripts. Text is placed here by
//! rule so that no two labels collide in a browser: rows of text lie further apart than
//! a line of their font is tall, and widths are estimated on the wide side. The report's
//! browser test (`tests/report_browser.rs`) measures the result in Chromium.

use std::fmt::Write;

/// Chart width in SVG units: the report's content width at a 1280 px window, so that text
/// is drawn at its CSS size there (and scaled down evenly on narrower windows).
pub const WIDTH: f64 = 1040.0;
/// Font size of tick labels and legends, px (the report's CSS classes `tick` and
/// `legend`; axis labels, class `label`, are 12 px).
pub const TICK_PX: f64 = 11.0;
/// Vertical distance between rows of 11–12 px text: a line's box is about 1.2 em.
pub const ROW_PX: f64 = 18.0;

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

/// Compounds in the order legends list them.
const COMPOUNDS: [&str; 6] = ["soft", "medium", "hard", "intermediate", "wet", "unknown"];

/// Fill and outline of a tyre compound in Pirelli's colours (hard is white: the outline
/// keeps it visible on a white page).
pub fn compound_colors(compound: &str) -> (&'static str, &'static str) {
    match compound {
        "soft" => ("#e10600", "#8f0000"),
        "medium" => ("#ffd12e", "#a88400"),
        "hard" => ("#ffffff", "#333333"),
        "intermediate" => ("#43b047", "#1e6b22"),
        "wet" => ("#0072c6", "#00467a"),
        _ => ("#a0a0a0", "#5a5a5a"),
    }
}

/// Legend entries for the compounds `used` says are drawn, in the usual order.
pub fn compound_keys(used: impl Fn(&str) -> bool) -> Vec<(Key<'static>, String)> {
    COMPOUNDS
        .into_iter()
        .filter(|c| used(c))
        .map(|c| {
            let (fill, stroke) = compound_colors(c);
            (Key::Fill(fill, stroke), c.to_string())
        })
        .collect()
}

/// How teammates are told apart: the better classified one is drawn solid with round
/// marks, the other dashed with square marks, both in the team's colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    First,
    Second,
}

impl Mark {
    /// The SVG `stroke-dasharray` attribute for a line, empty for solid.
    pub fn dash(self) -> &'static str {
        match self {
            Mark::First => "",
            Mark::Second => r#" stroke-dasharray="6 3""#,
        }
    }

    /// A mark centred on (x, y) of radius `r`, with a tooltip.
    pub fn draw(self, svg: &mut Svg, x: f64, y: f64, r: f64, fill: &str, tip: &str) {
        let shape = match self {
            Mark::First => format!(r#"<circle cx="{x:.1}" cy="{y:.1}" r="{r:.1}""#),
            Mark::Second => format!(
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}""#,
                x - r,
                y - r,
                2.0 * r,
                2.0 * r
            ),
        };
        svg.raw(&format!(
            r##"{shape} fill="{fill}" stroke="#333" stroke-width="0.8"><title>{}</title></{}>"##,
            esc(tip),
            if self == Mark::First {
                "circle"
            } else {
                "rect"
            }
        ));
    }
}

/// Width a text takes, estimated on the wide side (DejaVu Sans, Debian's default sans,
/// averages about 0.6 em a character).
pub fn text_width(s: &str, px: f64) -> f64 {
    s.chars().count() as f64 * px * 0.66
}

/// Text alignment relative to its x.
#[derive(Clone, Copy)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

/// An SVG document being drawn.
pub struct Svg {
    title: String,
    out: String,
}

impl Svg {
    pub fn new(title: &str) -> Svg {
        Svg {
            title: title.into(),
            out: String::new(),
        }
    }

    /// One line of text with its baseline at `y`.
    pub fn text(&mut self, x: f64, y: f64, anchor: Anchor, class: &str, s: &str) {
        let anchor = match anchor {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        };
        let _ = write!(
            self.out,
            r#"<text x="{x:.1}" y="{y:.1}" text-anchor="{anchor}" class="{class}">{}</text>"#,
            esc(s)
        );
    }

    /// Markup written as it is (the caller escapes its text).
    pub fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }

    pub fn line(&mut self, (x1, y1): (f64, f64), (x2, y2): (f64, f64), stroke: &str) {
        let _ = write!(
            self.out,
            r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{stroke}"/>"#
        );
    }

    /// A filled rectangle with a tooltip.
    pub fn rect(
        &mut self,
        (x, y, w, h): (f64, f64, f64, f64),
        fill: &str,
        stroke: &str,
        tip: &str,
    ) {
        let _ = write!(
            self.out,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{fill}" stroke="{stroke}" stroke-width="0.8"><title>{}</title></rect>"#,
            w.max(0.5),
            h.max(0.5),
            esc(tip)
        );
    }

    /// The document, `height` units tall (known once everything is placed).
    pub fn finish(self, height: f64) -> String {
        format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0}" role="img" aria-label="{}">{}</svg>"#,
            esc(&self.title),
            self.out
        )
    }
}

/// A chart that has nothing to draw says so in one line.
pub fn no_data(title: &str, why: &str) -> String {
    let mut svg = Svg::new(title);
    svg.text(16.0, 24.0, Anchor::Start, "label", why);
    svg.finish(40.0)
}

/// A linear map from data values (`d0`..`d1`) to SVG coordinates (`r0`..`r1`).
#[derive(Clone, Copy, Debug)]
pub struct Scale {
    pub d0: f64,
    pub d1: f64,
    pub r0: f64,
    pub r1: f64,
    /// The smallest tick step (1 for laps and counts).
    min_step: f64,
}

impl Scale {
    pub fn new((d0, d1): (f64, f64), (r0, r1): (f64, f64)) -> Scale {
        let d1 = if d1 - d0 > 1e-9 { d1 } else { d0 + 1.0 };
        Scale {
            d0,
            d1,
            r0,
            r1,
            min_step: 0.0,
        }
    }

    /// Ticks on whole numbers only (laps, counts).
    pub fn whole(mut self) -> Scale {
        self.min_step = 1.0;
        self
    }

    pub fn at(&self, v: f64) -> f64 {
        self.r0 + (v - self.d0) / (self.d1 - self.d0) * (self.r1 - self.r0)
    }

    /// Round tick values inside the domain, at least `min_gap` SVG units apart.
    pub fn ticks(&self, min_gap: f64) -> Vec<(f64, String)> {
        let span_px = (self.r1 - self.r0).abs();
        let wanted = (span_px / min_gap).floor().max(1.0);
        let step = tick_step(self.d1 - self.d0, wanted).max(self.min_step);
        let mut v = (self.d0 / step).ceil() * step;
        let mut out = Vec::new();
        while v <= self.d1 + step * 1e-6 {
            // -0.0 prints as "-0".
            let v0 = if v.abs() < step * 1e-6 { 0.0 } else { v };
            out.push((v0, fmt_tick(v0, step)));
            v += step;
        }
        out
    }
}

/// Round tick step for a span (1, 2 or 5 × 10^k), no more than `ticks` of them.
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

/// The x axis under a plot: baseline at `y`, tick labels 15 below it and the axis label
/// 33 below it (together 40 units of margin), ticks spaced by their widest label.
pub fn x_axis(svg: &mut Svg, x: &Scale, y: f64, label: &str, grid_to: Option<f64>) {
    let widest = [x.d0, x.d1]
        .iter()
        .map(|v| text_width(&fmt_tick(*v, 0.01), TICK_PX))
        .fold(0.0, f64::max);
    for (v, text) in x.ticks((widest + 16.0).max(40.0)) {
        let px = x.at(v);
        if let Some(top) = grid_to {
            svg.line((px, top), (px, y), "#ececec");
        }
        svg.line((px, y), (px, y + 4.0), "#555");
        svg.text(px, y + 15.0, Anchor::Middle, "tick", &text);
    }
    svg.line((x.r0, y), (x.r1, y), "#555");
    svg.text(
        (x.r0 + x.r1) / 2.0,
        y + 33.0,
        Anchor::Middle,
        "label",
        label,
    );
}

/// The y axis left of a plot at `x`, with grid lines across to `right` and the axis
/// label turned upright `label_x` units left of the axis.
pub fn y_axis(svg: &mut Svg, y: &Scale, x: f64, right: f64, label: &str, label_x: f64) {
    for (v, text) in y.ticks(ROW_PX * 2.0) {
        let py = y.at(v);
        svg.line((x, py), (right, py), "#ececec");
        svg.text(x - 6.0, py + 4.0, Anchor::End, "tick", &text);
    }
    svg.line((x, y.r0), (x, y.r1), "#555");
    let _ = write!(
        svg.out,
        r#"<text transform="translate({:.1} {:.1}) rotate(-90)" text-anchor="middle" class="label">{}</text>"#,
        x - label_x,
        (y.r0 + y.r1) / 2.0,
        esc(label)
    );
}

/// A legend entry.
pub enum Key<'a> {
    /// A line in a colour, solid or dashed, with its mark.
    Line(&'a str, Mark),
    /// A filled box (a compound, a severity).
    Fill(&'a str, &'a str),
}

/// Lays legend entries out left to right from (`x`, `y`), wrapping at `right`; returns
/// the y below the last row.
pub fn legend(svg: &mut Svg, x: f64, y: f64, right: f64, entries: &[(Key, String)]) -> f64 {
    let (mut cx, mut cy) = (x, y);
    for (key, label) in entries {
        let w = 26.0 + text_width(label, TICK_PX) + 14.0;
        if cx + w > right && cx > x {
            (cx, cy) = (x, cy + ROW_PX);
        }
        match key {
            Key::Line(color, mark) => {
                let _ = write!(
                    svg.out,
                    r#"<line x1="{cx:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{color}" stroke-width="2"{}/>"#,
                    cy - 4.0,
                    cx + 20.0,
                    cy - 4.0,
                    mark.dash()
                );
                mark.draw(svg, cx + 10.0, cy - 4.0, 3.0, color, label);
            }
            Key::Fill(fill, stroke) => {
                svg.rect((cx + 4.0, cy - 10.0, 14.0, 10.0), fill, stroke, label)
            }
        }
        svg.text(cx + 26.0, cy, Anchor::Start, "legend", label);
        cx += w;
    }
    cy + ROW_PX
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

    /// Ticks stay inside the domain and at least the asked gap apart.
    #[test]
    fn ticks_are_spaced() {
        let s = Scale::new((80.5, 84.2), (300.0, 20.0));
        let t = s.ticks(36.0);
        assert!(t.len() >= 2, "{t:?}");
        for w in t.windows(2) {
            assert!((s.at(w[0].0) - s.at(w[1].0)).abs() >= 36.0, "{t:?}");
        }
        assert!(t.iter().all(|(v, _)| (80.5..=84.2).contains(v)));
        assert_eq!(Scale::new((-1.0, 1.0), (0.0, 100.0)).ticks(40.0)[1].1, "0");
        let laps = Scale::new((0.5, 6.5), (0.0, 900.0)).whole().ticks(40.0);
        assert_eq!(
            laps.iter().map(|t| t.1.as_str()).collect::<Vec<_>>(),
            ["1", "2", "3", "4", "5", "6"]
        );
    }

    /// Legend entries wrap instead of running into each other or off the chart.
    #[test]
    fn legend_wraps() {
        let mut svg = Svg::new("t");
        let entries: Vec<(Key, String)> = (0..30)
            .map(|i| (Key::Fill("#fff", "#000"), format!("entry number {i}")))
            .collect();
        let bottom = legend(&mut svg, 0.0, 20.0, 400.0, &entries);
        assert!(bottom > 20.0 + 5.0 * ROW_PX, "{bottom}");
        let s = svg.finish(bottom);
        assert_eq!(s.matches("<text").count(), 30);
        assert!(s.starts_with("<svg") && s.ends_with("</svg>"));
    }

    #[test]
    fn text_is_escaped() {
        let mut svg = Svg::new("a<b");
        svg.text(0.0, 0.0, Anchor::Start, "tick", "A<b> & c");
        let s = svg.finish(10.0);
        assert!(s.contains("A&lt;b&gt; &amp; c") && s.contains("a&lt;b"));
    }
}
