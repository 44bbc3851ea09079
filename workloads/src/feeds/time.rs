//! Times as feeds write them: RFC 3339 dates (OpenF1 `2023-09-16T13:08:19.923000+00:00`),
//! datetimes without an offset (FastF1 `Date`, `2024-05-05 20:03:23.810`, UTC), and
//! durations (FastF1 `Time`/`SessionTime`: pandas `0 days 00:01:23.456000`, or seconds).

use std::str::FromStr;

/// Milliseconds since the Unix epoch of a date with or without an offset (UTC if none).
pub fn date_ms(text: &str) -> Result<i64, String> {
    let t = text.trim();
    if let Ok(ts) = jiff::Timestamp::from_str(t) {
        return Ok(ts.as_millisecond());
    }
    jiff::civil::DateTime::from_str(t)
        .ok()
        .and_then(|dt| dt.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|z| z.timestamp().as_millisecond())
        .ok_or_else(|| format!("{t:?} is not a date (RFC 3339, or YYYY-MM-DD HH:MM:SS.fff in UTC)"))
}

/// A session start as users write it (`?start=`, `--start`): ms since the epoch or an
/// RFC 3339 date, within the range sample times are accepted in.
pub fn start_ms(text: &str) -> Result<i64, String> {
    let ms = match text.parse::<i64>() {
        Ok(ms) => ms,
        Err(_) => date_ms(text)?,
    };
    if crate::model::TIMESTAMPS_MS.contains(&ms) {
        Ok(ms)
    } else {
        Err(format!(
            "{text:?} is not a time between 2000 and 2100 (ms since the epoch or RFC 3339)"
        ))
    }
}

/// Milliseconds of a duration: `0 days 00:01:23.456000`, `00:01:23.456`, or seconds.
pub fn duration_ms(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let bad = || format!("{t:?} is not a duration (seconds, or D days HH:MM:SS.ffffff)");
    let (days, clock) = match t.split_once(" days ").or_else(|| t.split_once(" day ")) {
        Some((d, rest)) => (d.trim().parse::<i64>().map_err(|_| bad())?, rest.trim()),
        None => (0, t),
    };
    let parts: Vec<&str> = clock.split(':').collect();
    let seconds = match parts.as_slice() {
        [s] => s.parse::<f64>().map_err(|_| bad())?,
        [h, m, s] => {
            let (h, m, s) = (
                h.parse::<f64>().map_err(|_| bad())?,
                m.parse::<f64>().map_err(|_| bad())?,
                s.parse::<f64>().map_err(|_| bad())?,
            );
            if !(0.0..60.0).contains(&m) || !(0.0..60.0).contains(&s) {
                return Err(bad());
            }
            h * 3600.0 + m * 60.0 + s
        }
        _ => return Err(bad()),
    };
    let ms = days as f64 * 86_400_000.0 + seconds * 1000.0;
    if ms.is_finite() && ms.abs() < 1e12 {
        Ok(ms.round() as i64)
    } else {
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spellings OpenF1 and pandas use.
    /// Starts in ms or RFC 3339; a seconds value (the common mistake) is refused.
    #[test]
    fn parses_session_starts() {
        assert_eq!(start_ms("1694869699923"), Ok(1_694_869_699_923));
        assert_eq!(start_ms("2023-09-16T13:08:19.923Z"), Ok(1_694_869_699_923));
        assert!(
            start_ms("1694869699")
                .unwrap_err()
                .contains("between 2000 and 2100")
        );
        assert!(start_ms("soon").is_err());
    }

    #[test]
    fn parses_feed_times() {
        assert_eq!(
            date_ms("2023-09-16T13:08:19.923000+00:00"),
            Ok(1_694_869_699_923)
        );
        assert_eq!(
            date_ms("2023-09-16T15:08:19.923+02:00"),
            Ok(1_694_869_699_923)
        );
        assert_eq!(date_ms("2024-05-05 20:03:23.810"), Ok(1_714_939_403_810));
        assert!(date_ms("yesterday").is_err());
        assert_eq!(duration_ms("0 days 00:00:00.014000"), Ok(14));
        assert_eq!(duration_ms("0 days 00:55:43.042000"), Ok(3_343_042));
        assert_eq!(duration_ms("83.456"), Ok(83_456));
        assert_eq!(
            duration_ms("01:23.5"),
            Err("\"01:23.5\" is not a duration (seconds, or D days HH:MM:SS.ffffff)".into())
        );
        assert!(duration_ms("NaT").is_err());
    }
}
