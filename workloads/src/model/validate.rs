//! Wire-level range checks. These bound what a sensor can *report* (so a payload with
//! `rpm: 90000` or `throttle: 3` is rejected), which is wider than what a healthy car
//! *does*: a reading above 15,000 RPM passes validation and is then flagged by the
//! anomaly detector as a sensor fault.

use super::Sample;

/// Why a sample was rejected; `field` names the offending channel.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: &'static str,
    pub message: String,
}

fn range(field: &'static str, value: f32, lo: f32, hi: f32) -> Result<(), ValidationError> {
    if value.is_finite() && (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(ValidationError {
            field,
            message: format!("{value} is outside {lo}..={hi}"),
        })
    }
}

fn range4(field: &'static str, values: &[f32; 4], lo: f32, hi: f32) -> Result<(), ValidationError> {
    values.iter().try_for_each(|v| range(field, *v, lo, hi))
}

fn text(field: &'static str, value: &str, max: usize) -> Result<(), ValidationError> {
    let ok = !value.is_empty()
        && value.len() <= max
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ValidationError {
            field,
            message: format!("must be 1..={max} characters of [A-Za-z0-9 ._-]"),
        })
    }
}

/// Checks every channel of a sample against the documented wire ranges.
pub fn validate(s: &Sample) -> Result<(), ValidationError> {
    text("session", &s.session, 63)?;
    text("driver", &s.driver, 16)?;
    text("team", &s.team, 32)?;
    if s.car == 0 || s.car > 99 {
        return Err(ValidationError {
            field: "car",
            message: format!("{} is outside 1..=99", s.car),
        });
    }
    if s.lap == 0 || s.lap > 200 {
        return Err(ValidationError {
            field: "lap",
            message: format!("{} is outside 1..=200", s.lap),
        });
    }
    if !(1..=3).contains(&s.sector) {
        return Err(ValidationError {
            field: "sector",
            message: format!("{} is outside 1..=3", s.sector),
        });
    }
    // 2000-01-01 .. 2100-01-01: rejects seconds-instead-of-milliseconds mistakes.
    if !(946_684_800_000..=4_102_444_800_000).contains(&s.timestamp_ms) {
        return Err(ValidationError {
            field: "timestamp_ms",
            message: format!("{} is not a Unix time in milliseconds", s.timestamp_ms),
        });
    }
    range("lap_distance_m", s.lap_distance_m, 0.0, 10_000.0)?;
    range("speed_kph", s.speed_kph, 0.0, 500.0)?;
    if s.rpm > 25_000 {
        return Err(ValidationError {
            field: "rpm",
            message: format!("{} is outside 0..=25000", s.rpm),
        });
    }
    if !(-1..=8).contains(&s.gear) {
        return Err(ValidationError {
            field: "gear",
            message: format!("{} is outside -1..=8", s.gear),
        });
    }
    range("throttle", s.throttle, 0.0, 1.0)?;
    range("brake", s.brake, 0.0, 1.0)?;
    range4("tyre_surface_temp_c", &s.tyre_surface_temp_c, -20.0, 300.0)?;
    range4("tyre_inner_temp_c", &s.tyre_inner_temp_c, -20.0, 300.0)?;
    range4("tyre_pressure_psi", &s.tyre_pressure_psi, 0.0, 50.0)?;
    range4("brake_temp_c", &s.brake_temp_c, -20.0, 2_000.0)?;
    range4("tyre_wear_pct", &s.tyre_wear_pct, 0.0, 100.0)?;
    if s.tyre_age_laps > 200 {
        return Err(ValidationError {
            field: "tyre_age_laps",
            message: format!("{} is outside 0..=200", s.tyre_age_laps),
        });
    }
    range("fuel_kg", s.fuel_kg, 0.0, 150.0)?;
    range("ers_store_mj", s.ers_store_mj, 0.0, 5.0)?;
    range("engine_temp_c", s.engine_temp_c, -20.0, 250.0)?;
    if s.position == 0 || s.position > 99 {
        return Err(ValidationError {
            field: "position",
            message: format!("{} is outside 1..=99", s.position),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Sample {
        Sample {
            session: "t".into(),
            car: 16,
            driver: "LEC".into(),
            team: "Ferrari".into(),
            timestamp_ms: 1_725_800_000_000,
            ..Sample::default()
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
            ("throttle", Box::new(|s| s.throttle = 1.5)),
            ("speed_kph", Box::new(|s| s.speed_kph = f32::NAN)),
            ("rpm", Box::new(|s| s.rpm = 30_000)),
            (
                "tyre_pressure_psi",
                Box::new(|s| s.tyre_pressure_psi[3] = -1.0),
            ),
            ("timestamp_ms", Box::new(|s| s.timestamp_ms = 1_725_800_000)),
            ("team", Box::new(|s| s.team = "".into())),
            ("car", Box::new(|s| s.car = 0)),
        ];
        for (field, mutate) in cases {
            let mut s = good();
            mutate(&mut s);
            assert_eq!(validate(&s).unwrap_err().field, field);
        }
    }

    /// An impossible-but-representable RPM passes validation: the anomaly detector flags it.
    #[test]
    fn sensor_fault_values_are_not_rejected() {
        let mut s = good();
        s.rpm = 21_000;
        assert_eq!(validate(&s), Ok(()));
    }
}
