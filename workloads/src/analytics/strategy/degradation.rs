//! Tyre degradation of one stint: lap time against tyre age on green laps, corrected for
//! fuel burn, robust to traffic and outliers, with its uncertainty — or a reason why the
//! stint says nothing yet (never a fit presented as fact).
//!
//! Method: fuel-corrected lap times (each lap made as slow as if it carried the fuel of
//! the stint's first lap), a Theil–Sen line (median of pairwise slopes: a lap stuck behind
//! a slower car moves it little), laps further than 3 robust deviations from that line
//! dropped as traffic, then least squares on the rest for the slope and its standard
//! error. The 95% interval is ±t·SE with Student's t for the laps left.

use serde::Serialize;

/// One green lap of a stint.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StintLap {
    /// Laps the tyres had done when the lap began (any origin: only differences count).
    pub tyre_age: f64,
    /// The race lap (for the fuel correction).
    pub lap: u16,
    pub lap_time_ms: f64,
}

/// A stint's degradation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Fit {
    /// Lap-time increase per lap of tyre age, fuel-corrected, ms.
    pub ms_per_lap: f64,
    /// Half-width of the 95% interval of `ms_per_lap`.
    pub ci95_ms_per_lap: f64,
    /// Fuel-corrected lap time at tyre age 0 on this stint, ms.
    #[serde(skip)]
    pub intercept_ms: f64,
    /// Laps the fit rests on (green, not dropped as traffic).
    pub green_laps: usize,
    /// Green laps dropped as traffic or outliers.
    pub dropped_laps: usize,
}

impl Fit {
    /// The fitted (fuel-corrected) lap time at `tyre_age`.
    pub fn at(&self, tyre_age: f64) -> f64 {
        self.intercept_ms + self.ms_per_lap * tyre_age
    }
}

/// Fewest laps a fit is shown on: below it a slope is noise.
pub const MIN_LAPS: usize = 5;
/// An interval wider than this (ms per lap, half-width) says nothing about a stint.
pub const MAX_CI_MS: f64 = 150.0;
/// The smallest robust spread assumed, ms: timing resolution and a driver's lap-to-lap
/// scatter, so that five identical laps do not make every other lap an outlier.
const MIN_SPREAD_MS: f64 = 120.0;

/// Fits a stint, or says why not. `fuel_ms_per_lap` is how much faster a car gets per
/// lap from burning fuel.
pub fn fit(laps: &[StintLap], fuel_ms_per_lap: f64) -> Result<Fit, String> {
    if laps.len() < MIN_LAPS {
        return Err(format!(
            "{} green {} in this stint; {MIN_LAPS} needed",
            laps.len(),
            if laps.len() == 1 { "lap" } else { "laps" }
        ));
    }
    let first = laps.iter().map(|l| l.lap).min().unwrap_or(0);
    let pts: Vec<(f64, f64)> = laps
        .iter()
        .map(|l| {
            let corrected = l.lap_time_ms + fuel_ms_per_lap * f64::from(l.lap - first);
            (l.tyre_age, corrected)
        })
        .collect();
    let (slope, intercept) = theil_sen(&pts).ok_or("every green lap at the same tyre age")?;
    let resid: Vec<f64> = pts.iter().map(|(x, y)| y - intercept - slope * x).collect();
    let spread = (1.4826 * median(&mut resid.iter().map(|r| r.abs()).collect::<Vec<_>>()))
        .max(MIN_SPREAD_MS);
    let kept: Vec<(f64, f64)> = pts
        .iter()
        .zip(&resid)
        .filter(|(_, r)| r.abs() <= 3.0 * spread)
        .map(|(p, _)| *p)
        .collect();
    if kept.len() < MIN_LAPS {
        return Err(format!(
            "{} of {} green laps look like traffic; {MIN_LAPS} clean laps needed",
            pts.len() - kept.len(),
            pts.len()
        ));
    }
    let (b, a, se) = least_squares(&kept).ok_or("every clean lap at the same tyre age")?;
    let ci = t95(kept.len() - 2) * se;
    if ci > MAX_CI_MS {
        return Err(format!(
            "too scattered to say: {b:+.0} ± {ci:.0} ms per lap on {} laps",
            kept.len()
        ));
    }
    Ok(Fit {
        ms_per_lap: b,
        ci95_ms_per_lap: ci,
        intercept_ms: a,
        green_laps: kept.len(),
        dropped_laps: pts.len() - kept.len(),
    })
}

/// Fewest fits the field's spread of degradation is measured from.
const MIN_FIELD_FITS: usize = 5;

/// The field's degradation, to read one car's fit against the others' (empirical
/// Bayes): the median slope, and how much the cars' slopes really differ beyond the
/// noise of their fits, ms per lap, squared.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FieldWear {
    pub median_ms: f64,
    pub spread_var: f64,
}

/// The field's degradation from its cars' fits (robust: medians), None under
/// [`MIN_FIELD_FITS`] fits.
pub fn field_wear(fits: &[&Fit]) -> Option<FieldWear> {
    if fits.len() < MIN_FIELD_FITS {
        return None;
    }
    let median_ms = median(&mut fits.iter().map(|f| f.ms_per_lap).collect::<Vec<_>>());
    let mut dev: Vec<f64> = fits
        .iter()
        .map(|f| (f.ms_per_lap - median_ms).abs())
        .collect();
    let observed = (1.4826 * median(&mut dev)).powi(2);
    let mut noise: Vec<f64> = fits.iter().map(|f| noise_var(f)).collect();
    // Never nothing: cars do differ, and a spread read as none would pull even the
    // most precise fit all the way to the median. The most precise fit's own noise is
    // the least difference the field can show.
    let floor = noise.iter().copied().fold(f64::INFINITY, f64::min);
    let noise = median(&mut noise);
    Some(FieldWear {
        median_ms,
        spread_var: (observed - noise).max(floor),
    })
}

/// A fit's slope variance, ms² (per lap²): its 95% half-width is Student's t for its
/// laps times the standard error.
fn noise_var(f: &Fit) -> f64 {
    (f.ci95_ms_per_lap / t95(f.green_laps.saturating_sub(2))).powi(2)
}

impl FieldWear {
    /// `fit`'s slope read with the field's: pulled toward the field's median as far as
    /// its own noise outweighs how much cars really differ (a short, scattered stint's
    /// steep slope is mostly noise; a long, clean one stands).
    pub fn shrink(&self, fit: &Fit) -> f64 {
        let w = self.spread_var / (self.spread_var + noise_var(fit).max(1.0));
        self.median_ms + w * (fit.ms_per_lap - self.median_ms)
    }
}

/// Median of pairwise slopes and the median intercept for it.
fn theil_sen(pts: &[(f64, f64)]) -> Option<(f64, f64)> {
    let mut slopes = Vec::with_capacity(pts.len() * pts.len() / 2);
    for (i, (x1, y1)) in pts.iter().enumerate() {
        for (x2, y2) in &pts[i + 1..] {
            if (x2 - x1).abs() > f64::EPSILON {
                slopes.push((y2 - y1) / (x2 - x1));
            }
        }
    }
    if slopes.is_empty() {
        return None;
    }
    let slope = median(&mut slopes);
    let intercept = median(&mut pts.iter().map(|(x, y)| y - slope * x).collect::<Vec<_>>());
    Some((slope, intercept))
}

/// Slope, intercept and the slope's standard error.
fn least_squares(pts: &[(f64, f64)]) -> Option<(f64, f64, f64)> {
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx <= f64::EPSILON || pts.len() < 3 {
        return None;
    }
    let b = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>() / sxx;
    let a = my - b * mx;
    let sse: f64 = pts.iter().map(|p| (p.1 - a - b * p.0).powi(2)).sum();
    let se = (sse / (n - 2.0) / sxx).sqrt();
    Some((b, a, se))
}

/// The median (the mean of the middle two for an even count); sorts `v`.
pub(crate) fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Student's t for a two-sided 95% interval with `df` degrees of freedom.
fn t95(df: usize) -> f64 {
    const T: [f64; 10] = [12.71, 4.30, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23];
    match df {
        0 => f64::INFINITY,
        1..=10 => T[df - 1],
        11..=20 => 2.2 - 0.0125 * (df - 10) as f64,
        21..=30 => 2.08 - 0.004 * (df - 20) as f64,
        _ => 1.96 + 2.4 / df as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stint(times: &[f64], first_lap: u16) -> Vec<StintLap> {
        times
            .iter()
            .enumerate()
            .map(|(i, t)| StintLap {
                tyre_age: i as f64 + 1.0,
                lap: first_lap + i as u16,
                lap_time_ms: *t,
            })
            .collect()
    }

    fn slope(ms_per_lap: f64, ci95_ms_per_lap: f64) -> Fit {
        Fit {
            ms_per_lap,
            ci95_ms_per_lap,
            intercept_ms: 80_000.0,
            green_laps: 10,
            dropped_laps: 0,
        }
    }

    /// Cars whose slopes differ no more than their fits' noise share one wear: a steep,
    /// scattered fit among them is pulled near the field's, a precise one is not; cars
    /// that really differ (precise fits far apart) keep their own; under five fits
    /// nothing is pooled.
    #[test]
    fn a_fit_is_read_against_the_fields() {
        let alike: Vec<Fit> = [90.0, 100.0, 110.0, 95.0, 105.0]
            .map(|m| slope(m, 60.0))
            .to_vec();
        let field = field_wear(&alike.iter().collect::<Vec<_>>()).unwrap();
        assert_eq!(field.median_ms, 100.0);
        let noisy = field.shrink(&slope(420.0, 140.0));
        assert!(noisy > 100.0 && noisy < 150.0, "{noisy}");
        // A precise fit among them keeps most of its own slope however alike the rest.
        let precise = field.shrink(&slope(130.0, 2.0));
        assert!(precise > 129.0, "{precise}");

        let apart: Vec<Fit> = [20.0, 100.0, 180.0, 260.0, 340.0]
            .map(|m| slope(m, 10.0))
            .to_vec();
        let field = field_wear(&apart.iter().collect::<Vec<_>>()).unwrap();
        let own = field.shrink(&slope(300.0, 10.0));
        assert!((own - 300.0).abs() < 1.0, "{own}");
        let noisy = field.shrink(&slope(420.0, 140.0));
        assert!(noisy > 180.0 && noisy < 420.0, "{noisy}");

        assert_eq!(field_wear(&apart.iter().take(4).collect::<Vec<_>>()), None);
    }

    #[test]
    fn table() {
        // (lap times, fuel ms/lap, expected slope or the start of the reason)
        let linear: Vec<f64> = (0..12).map(|i| 80_000.0 + 60.0 * i as f64).collect();
        let fuelled: Vec<f64> = (0..12)
            .map(|i| 80_000.0 + (60.0 - 50.0) * i as f64)
            .collect();
        let mut traffic = linear.clone();
        traffic[4] += 2_500.0;
        traffic[9] += 1_800.0;
        let noisy: Vec<f64> = (0..20)
            .map(|i| 80_000.0 + 40.0 * i as f64 + if i % 2 == 0 { 90.0 } else { -90.0 })
            .collect();
        let wild: Vec<f64> = (0..6)
            .map(|i| 80_000.0 + if i % 2 == 0 { 900.0 } else { -900.0 })
            .collect();
        type Case = (&'static str, Vec<f64>, f64, Result<f64, &'static str>);
        let cases: Vec<Case> = vec![
            ("a clean linear stint", linear.clone(), 0.0, Ok(60.0)),
            ("fuel burn hides wear", fuelled, 50.0, Ok(60.0)),
            ("two laps in traffic", traffic, 0.0, Ok(60.0)),
            ("alternating scatter", noisy, 0.0, Ok(40.0)),
            (
                "four laps",
                linear[..4].to_vec(),
                0.0,
                Err("4 green laps in this stint"),
            ),
            (
                "one lap",
                linear[..1].to_vec(),
                0.0,
                Err("1 green lap in this stint"),
            ),
            ("noise only", wild, 0.0, Err("too scattered")),
        ];
        for (what, times, fuel, want) in cases {
            match (fit(&stint(&times, 10), fuel), want) {
                (Ok(f), Ok(slope)) => {
                    assert!((f.ms_per_lap - slope).abs() < 5.0, "{what}: {f:?}");
                    assert!(f.ci95_ms_per_lap < 40.0, "{what}: {f:?}");
                }
                (Err(e), Err(start)) => assert!(e.starts_with(start), "{what}: {e}"),
                (got, want) => panic!("{what}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn traffic_laps_are_dropped_and_counted() {
        let mut times: Vec<f64> = (0..10).map(|i| 90_000.0 + 50.0 * i as f64).collect();
        times[3] += 3_000.0;
        let f = fit(&stint(&times, 1), 0.0).unwrap();
        assert_eq!((f.green_laps, f.dropped_laps), (9, 1));
        assert!((f.at(1.0) - 90_000.0).abs() < 30.0, "{f:?}");
    }

    #[test]
    fn the_interval_covers_the_truth_and_narrows_with_laps() {
        // Deterministic scatter of ±150 ms around 70 ms/lap.
        let scatter = |n: usize| -> Vec<f64> {
            (0..n)
                .map(|i| 85_000.0 + 70.0 * i as f64 + 150.0 * ((i * 7919 % 13) as f64 / 6.0 - 1.0))
                .collect()
        };
        let short = fit(&stint(&scatter(8), 1), 0.0).unwrap();
        let long = fit(&stint(&scatter(25), 1), 0.0).unwrap();
        for f in [short, long] {
            assert!((f.ms_per_lap - 70.0).abs() <= f.ci95_ms_per_lap, "{f:?}");
        }
        assert!(
            long.ci95_ms_per_lap < short.ci95_ms_per_lap / 2.0,
            "{short:?} {long:?}"
        );
    }
}
