//! Pit-stop score, 0–100, documented in docs/analytics.md:
//!
//! ```text
//! score = 100 × (0.60 × absolute + 0.25 × vs_field + 0.15 × vs_team)
//! absolute = clamp((5.0 − t) / (5.0 − 2.0), 0, 1)   2.0 s or faster earns it all, 5.0 s nothing
//! vs_field = clamp(1 − (t − field_best) / 1.5, 0, 1)  1.5 s off the session's best stop → 0
//! vs_team  = clamp(1 − (t − team_best) / 1.0, 0, 1)   1.0 s off the team's own best → 0
//! ```
//! where `t` is the stationary time in seconds. A stop is *slow* above 4.0 s (about 17%
//! of real stops 2018–2026 are, per DHL's data).

/// Reference stationary time that earns the full absolute component.
pub const REFERENCE_S: f64 = 2.0;
/// Stationary time that earns no absolute points.
pub const ZERO_POINTS_S: f64 = 5.0;
/// Stops longer than this are flagged as slow.
pub const SLOW_STOP_S: f64 = 4.0;

fn unit(x: f64) -> f64 {
    x.clamp(0.0, 1.0)
}

/// Scores one stop against the session's and the team's best stationary times.
pub fn score(stationary_s: f64, field_best_s: f64, team_best_s: f64) -> f64 {
    let absolute = unit((ZERO_POINTS_S - stationary_s) / (ZERO_POINTS_S - REFERENCE_S));
    let vs_field = unit(1.0 - (stationary_s - field_best_s) / 1.5);
    let vs_team = unit(1.0 - (stationary_s - team_best_s) / 1.0);
    let s = 100.0 * (0.60 * absolute + 0.25 * vs_field + 0.15 * vs_team);
    (s * 10.0).round() / 10.0
}

/// Whether a stop is slow.
pub fn is_slow(stationary_s: f64) -> bool {
    stationary_s > SLOW_STOP_S
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The formula's anchor points: a record stop, a typical one, a disaster.
    #[test]
    fn anchors() {
        assert_eq!(score(1.8, 1.8, 1.8), 100.0);
        assert_eq!(score(2.0, 2.0, 2.0), 100.0);
        // 2.9 s when the field's best is 2.1 and the team's is 2.5:
        // 60·0.7 + 25·(1 − 0.8/1.5) + 15·0.6 = 62.7
        assert_eq!(score(2.9, 2.1, 2.5), 62.7);
        assert_eq!(score(12.0, 2.0, 2.0), 0.0);
    }

    /// Faster is never worse, and being the team's best helps.
    #[test]
    fn monotone() {
        let mut last = f64::INFINITY;
        for t in (18..120).map(|x| x as f64 / 10.0) {
            let s = score(t, 2.0, 2.3);
            assert!(s <= last, "{t}");
            last = s;
        }
        assert!(score(3.0, 2.0, 3.0) > score(3.0, 2.0, 2.0));
        assert!(is_slow(4.1) && !is_slow(3.9));
    }
}
