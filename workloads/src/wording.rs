//! Numbers as people read them in the demo's summary, the post-race jobs' one-line
//! summaries, the notification and the HTML report: a count with its noun in the right
//! number, and a stationary time at the resolution the data has. JSON keeps its numbers.

/// `n` followed by `one` when `n` is exactly 1 and by `many` otherwise: `1 anomaly`,
/// `0 anomalies`, `3 pit stops`. Both forms are given because English plurals are not
/// all an added `s` (anomaly, entry, summary).
pub fn count(n: impl std::fmt::Display, one: &str, many: &str) -> String {
    // Compared as text so that every integer type (usize, i64, u64) works the same.
    let n = n.to_string();
    let noun = if n == "1" { one } else { many };
    format!("{n} {noun}")
}

/// Seconds with two decimals, the precision a stationary time has: the processor times
/// a stop from samples 50 ms apart (the default 20 Hz), so a third decimal would be
/// noise. `2.41`.
pub fn stationary(seconds: f64) -> String {
    format!("{seconds:.2}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exactly one takes the singular, whatever the integer type; zero and many the plural.
    #[test]
    fn counts_agree_with_their_noun() {
        assert_eq!(count(1usize, "anomaly", "anomalies"), "1 anomaly");
        assert_eq!(count(1i64, "pit stop", "pit stops"), "1 pit stop");
        assert_eq!(count(0u64, "anomaly", "anomalies"), "0 anomalies");
        assert_eq!(count(2u16, "lap", "laps"), "2 laps");
        assert_eq!(count(11, "lap", "laps"), "11 laps");
        assert_eq!(count(21, "lap", "laps"), "21 laps");
    }

    /// Two decimals, rounded, never three or one: 2.456 s is 2.46, 2.4 s is 2.40.
    #[test]
    fn stationary_times_have_two_decimals() {
        assert_eq!(stationary(2.41), "2.41");
        assert_eq!(stationary(2.4), "2.40");
        assert_eq!(stationary(2.456), "2.46");
        assert_eq!(stationary(10.0), "10.00");
    }
}
