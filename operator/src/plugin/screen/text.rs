//! Text helpers of the screen: aligned tables, counts, times, durations.

use k8s_openapi::jiff::Timestamp;

/// Rows under a header, columns padded to their widest cell (in characters), indented by
/// two spaces.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> Vec<String> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut l = String::from(" ");
        for (i, c) in cells.iter().enumerate() {
            l.push(' ');
            l.push_str(c);
            if i + 1 < cells.len() {
                let pad = widths[i] - c.chars().count() + 1;
                l.extend(std::iter::repeat_n(' ', pad));
            }
        }
        l.trim_end().to_string()
    };
    let mut out = vec![line(header.to_vec())];
    out.extend(
        rows.iter()
            .map(|r| line(r.iter().map(String::as_str).collect())),
    );
    out
}

/// `n` and its noun, singular for exactly one: `1 anomaly`, `3 pit stops`. (The
/// workloads' summaries follow the same rule, `pitstop_workloads::wording::count`; the
/// plugin does not link the workloads crate for four lines.)
pub fn count(n: impl std::fmt::Display, one: &str, many: &str) -> String {
    // Compared as text so that every integer type works the same.
    let n = n.to_string();
    let noun = if n == "1" { one } else { many };
    format!("{n} {noun}")
}

/// A stationary time in seconds with two decimals, the precision the processor measures
/// it with (samples 50 ms apart): `2.41 s`.
pub fn stationary(seconds: f64) -> String {
    format!("{seconds:.2} s")
}

/// Milliseconds as seconds with one decimal: `1.2 s`.
pub fn secs(ms: f64) -> String {
    format!("{:.1} s", ms / 1000.0)
}

/// `s` cut to `max` characters, with `…` when cut.
pub fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// How long ago an RFC 3339 time was, as kubectl's AGE column writes it (`45s`, `3m12s`,
/// `2h5m`, `3d`); the text itself when it does not parse.
pub fn age(at: &str, now: Timestamp) -> String {
    let Ok(t) = at.parse::<Timestamp>() else {
        return at.to_string();
    };
    let s = (now.as_second() - t.as_second()).max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{}s", s / 60, s % 60),
        3600..86400 => format!("{}h{}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d", s / 86400),
    }
}
