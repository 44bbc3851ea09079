//! Wire-level range checks. These bound what a sensor can *report* (so a payload with
//! `rpm: 90000` or `throttle: 3` is rejected), which is wider than what a healthy car
//! *does*: a reading above 15,000 RPM passes validation and is then flagged by the
//! anomaly detector as a sensor fault.

use super::channel::{Channel, Channels};
use super::sample::Sample;

/// Why a sample was rejected; `field` names the offending channel.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: &'static str,
    pub message: String,
}

#[inline]
fn range(field: &'static str, value: f32, lo: f32, hi: f32) -> Result<(), ValidationError> {
    // The bounds are finite, so this also refuses NaN and infinities.
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(outside(field, value, lo, hi))
    }
}

/// The error, built only when there is one (keeps the checks small enough to inline).
#[cold]
fn outside(field: &'static str, value: f32, lo: f32, hi: f32) -> ValidationError {
    ValidationError {
        field,
        message: format!("{value} is outside {lo}..={hi}"),
    }
}

fn range4(field: &'static str, values: &[f32; 4], lo: f32, hi: f32) -> Result<(), ValidationError> {
    values.iter().try_for_each(|v| range(field, *v, lo, hi))
}

fn opt(field: &'static str, value: Option<f32>, lo: f32, hi: f32) -> Result<(), ValidationError> {
    match value {
        Some(v) => range(field, v, lo, hi),
        None => Ok(()),
    }
}

fn opt4(
    field: &'static str,
    values: &Option<[f32; 4]>,
    lo: f32,
    hi: f32,
) -> Result<(), ValidationError> {
    match values {
        Some(v) => range4(field, v, lo, hi),
        None => Ok(()),
    }
}

fn text(field: &'static str, value: &str, max: usize) -> Result<(), ValidationError> {
    let ok = !value.is_empty()
        && value.len() <= max
        && value
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b' ' | b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(ValidationError {
            field,
            message: format!("must be 1..={max} characters of [A-Za-z0-9 ._-]"),
        })
    }
}

#[inline]
fn int(field: &'static str, value: i64, lo: i64, hi: i64) -> Result<(), ValidationError> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(int_outside(field, value, lo, hi))
    }
}

#[cold]
fn int_outside(field: &'static str, value: i64, lo: i64, hi: i64) -> ValidationError {
    ValidationError {
        field,
        message: format!("{value} is outside {lo}..={hi}"),
    }
}

/// Checks the required fields and every channel the sample carries against the
/// documented wire ranges. Absent channels are not checked: absent means unknown.
pub fn validate(s: &Sample) -> Result<(), ValidationError> {
    validate_session(&s.session)?;
    validate_except_session(s)
}

/// The session id's rule (a batch of one session checks it once): the text rule, and a
/// letter or digit first, so `.`, `..` and a blank are not ids (they end up in paths,
/// file names and Kubernetes names).
pub fn validate_session(session: &str) -> Result<(), ValidationError> {
    let first = session
        .bytes()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    match text("session", session, 63) {
        Ok(()) if first => Ok(()),
        _ => Err(ValidationError {
            field: "session",
            message:
                "must be 1..=63 characters of [A-Za-z0-9 ._-], starting with a letter or digit"
                    .into(),
        }),
    }
}

/// Sample times accepted, ms since the epoch: 2000-01-01 .. 2100-01-01, which rejects
/// seconds-instead-of-milliseconds mistakes.
pub const TIMESTAMPS_MS: std::ops::RangeInclusive<i64> = 946_684_800_000..=4_102_444_800_000;

/// A driver name or code's rule (samples and grids share it).
pub fn validate_driver(driver: &str) -> Result<(), ValidationError> {
    text("driver", driver, 16)
}

/// A team name's rule (samples and grids share it).
pub fn validate_team(team: &str) -> Result<(), ValidationError> {
    text("team", team, 32)
}

/// Everything [`validate`] checks but the session id.
pub fn validate_except_session(s: &Sample) -> Result<(), ValidationError> {
    required_except_session(s)?;
    let mut first = None;
    optional_faults(s, |_, e| {
        first.get_or_insert(e);
    });
    first.map_or(Ok(()), Err)
}

/// The dirty-data policy for one sample: a required channel (session, car, time,
/// speed) that is unusable rejects it; an optional channel whose value is impossible
/// becomes unknown (absent), and `unknown` hears which and why.
pub fn clean(
    s: &mut Sample,
    mut unknown: impl FnMut(Channel, ValidationError),
) -> Result<(), ValidationError> {
    validate_session(&s.session)?;
    required_except_session(s)?;
    let mut bad = Channels::default();
    optional_faults(s, |c, e| {
        bad.insert(c);
        unknown(c, e);
    });
    if bad != Channels::default() {
        for c in Channel::ALL.into_iter().filter(|c| bad.contains(*c)) {
            s.forget(c);
        }
    }
    Ok(())
}

/// Car, time and speed: without them a sample means nothing.
fn required_except_session(s: &Sample) -> Result<(), ValidationError> {
    int("car", s.car as i64, 1, 99)?;
    if !TIMESTAMPS_MS.contains(&s.timestamp_ms) {
        return Err(ValidationError {
            field: "timestamp_ms",
            message: format!("{} is not a Unix time in milliseconds", s.timestamp_ms),
        });
    }
    range("speed_kph", s.speed_kph, 0.0, 500.0)
}

/// Calls `bad` for each optional channel whose value is outside its wire range, in
/// channel order. One check per present channel, on the decode path of every sample: no
/// arrays of copies, just the fields.
fn optional_faults(s: &Sample, mut bad: impl FnMut(Channel, ValidationError)) {
    let mut check = |c: Channel, r: Result<(), ValidationError>| {
        if let Err(e) = r {
            bad(c, e);
        }
    };
    if let Some(d) = &s.driver {
        check(Channel::Driver, validate_driver(d));
    }
    if let Some(t) = &s.team {
        check(Channel::Team, validate_team(t));
    }
    if let Some(lap) = s.lap {
        check(Channel::Lap, int("lap", lap as i64, 1, 200));
    }
    if let Some(sector) = s.sector {
        check(Channel::Sector, int("sector", sector as i64, 1, 3));
    }
    // Real feeds integrate distance from the line and start a hair below zero.
    if let Some(d) = s.lap_distance_m {
        check(
            Channel::LapDistance,
            range("lap_distance_m", d, -5.0, 10_000.0),
        );
    }
    if let Some(rpm) = s.rpm {
        check(Channel::Rpm, int("rpm", rpm as i64, 0, 25_000));
    }
    if let Some(gear) = s.gear {
        check(Channel::Gear, int("gear", gear as i64, -1, 8));
    }
    check(Channel::Throttle, opt("throttle", s.throttle, 0.0, 1.0));
    check(Channel::Brake, opt("brake", s.brake, 0.0, 1.0));
    check(
        Channel::TyreSurfaceTemp,
        opt4("tyre_surface_temp_c", &s.tyre_surface_temp_c, -20.0, 300.0),
    );
    check(
        Channel::TyreInnerTemp,
        opt4("tyre_inner_temp_c", &s.tyre_inner_temp_c, -20.0, 300.0),
    );
    check(
        Channel::TyrePressure,
        opt4("tyre_pressure_psi", &s.tyre_pressure_psi, 0.0, 50.0),
    );
    check(
        Channel::BrakeTemp,
        opt4("brake_temp_c", &s.brake_temp_c, -20.0, 2_000.0),
    );
    check(
        Channel::TyreWear,
        opt4("tyre_wear_pct", &s.tyre_wear_pct, 0.0, 100.0),
    );
    if let Some(age) = s.tyre_age_laps {
        check(Channel::TyreAge, int("tyre_age_laps", age as i64, 0, 200));
    }
    check(Channel::Fuel, opt("fuel_kg", s.fuel_kg, 0.0, 150.0));
    check(Channel::Ers, opt("ers_store_mj", s.ers_store_mj, 0.0, 5.0));
    check(
        Channel::EngineTemp,
        opt("engine_temp_c", s.engine_temp_c, -20.0, 250.0),
    );
    // Position in the circuit's frame: within 100 km of its origin.
    check(Channel::X, opt("x", s.x, -100_000.0, 100_000.0));
    check(Channel::Y, opt("y", s.y, -100_000.0, 100_000.0));
    check(Channel::Z, opt("z", s.z, -100_000.0, 100_000.0));
    if let Some(p) = s.position {
        check(Channel::Position, int("position", p as i64, 1, 99));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Sample {
        Sample {
            session: "t".into(),
            car: 16,
            timestamp_ms: 1_725_800_000_000,
            driver: Some("LEC".into()),
            team: Some("Ferrari".into()),
            ..Sample::example()
        }
    }

    /// A default sample with identity fields set is valid; otherwise every rejection test is vacuous.
    #[test]
    fn plausible_sample_passes() {
        assert_eq!(validate(&good()), Ok(()));
    }

    /// Each out-of-range channel is named in the error so a 400 can tell the client what to fix.
    #[test]
    fn out_of_range_names_the_field() {
        type Mutation = Box<dyn Fn(&mut Sample)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("throttle", Box::new(|s| s.throttle = Some(1.5))),
            ("speed_kph", Box::new(|s| s.speed_kph = f32::NAN)),
            ("rpm", Box::new(|s| s.rpm = Some(30_000))),
            (
                "tyre_pressure_psi",
                Box::new(|s| s.tyre_pressure_psi = Some([24.0, 24.0, 21.0, -1.0])),
            ),
            ("timestamp_ms", Box::new(|s| s.timestamp_ms = 1_725_800_000)),
            ("team", Box::new(|s| s.team = Some("".into()))),
            ("car", Box::new(|s| s.car = 0)),
            (
                "lap_distance_m",
                Box::new(|s| s.lap_distance_m = Some(-6.0)),
            ),
            ("x", Box::new(|s| s.x = Some(f32::INFINITY))),
        ];
        for (field, mutate) in cases {
            let mut s = good();
            mutate(&mut s);
            assert_eq!(validate(&s).unwrap_err().field, field);
        }
    }

    /// A session id starts with a letter or digit: `.`, `..` and a blank would be accepted
    /// by the text rule alone and name a directory or nothing.
    #[test]
    fn session_ids_start_with_a_letter_or_digit() {
        for bad in [".", "..", " ", "-x", "_x", " x", ".hidden", "", "a/b"] {
            let e = validate_session(bad).unwrap_err();
            assert_eq!(e.field, "session", "{bad:?}");
            assert!(
                e.message.starts_with("must be 1..=63 characters"),
                "{bad:?}: {e}"
            );
        }
        for good in ["fp1", "2025-dutch-gp", "Zandvoort 2025", "a.b_c-d", "x"] {
            assert_eq!(validate_session(good), Ok(()), "{good:?}");
        }
    }

    /// An impossible-but-representable RPM passes validation: the anomaly detector flags it.
    #[test]
    fn sensor_fault_values_are_not_rejected() {
        let mut s = good();
        s.rpm = Some(21_000);
        assert_eq!(validate(&s), Ok(()));
    }

    /// Only session, car, time and speed are required: a bare sample is valid, and a
    /// first distance a hair below zero (real feeds integrate from the line) passes.
    #[test]
    fn only_the_core_is_required() {
        let bare = Sample {
            session: "t".into(),
            car: 1,
            timestamp_ms: 1_725_800_000_000,
            speed_kph: 0.0,
            lap_distance_m: Some(-2.8e-6),
            ..Sample::default()
        };
        assert_eq!(validate(&bare), Ok(()));
    }
}
