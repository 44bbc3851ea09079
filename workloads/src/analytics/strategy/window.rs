//! The pit window: the laps where stopping minimises the car's remaining race time, from
//! its tyres' degradation, the pit loss, the laps left and whether a stop is still owed
//! (two dry compounds). One more stop at most is weighed; the new tyres are taken to wear
//! like the ones on the car unless the field has shown otherwise.
//!
//! Remaining time, leaving out what no choice changes (fuel, track, the car's pace): for a
//! stop at the end of lap `k`, `deg · Σ age` over the laps left on the old tyres, plus the
//! loss, plus `deg_new · Σ age` over the laps on the new ones.

use serde::Serialize;

/// Laps within this much of the best stop belong to the window, ms.
pub const TOLERANCE_MS: f64 = 1_000.0;
/// The least wear assumed, ms per lap of age.
const MIN_DEG_MS: f64 = 1.0;
/// Remaining times this close are equal, ms (rounding of sums of ages).
const TIE_MS: f64 = 0.001;

/// When to stop.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Window {
    /// The best lap to stop on (the in-lap), with the central degradation.
    pub optimal_lap: u16,
    /// First and last lap within a second of the best, over the degradation's interval.
    pub first_lap: u16,
    pub last_lap: u16,
    /// A stop is still owed (a second dry compound).
    pub stop_required: bool,
    /// Remaining time saved against not stopping, ms (negative: the stop is owed, not
    /// worth it).
    pub gain_ms: f64,
}

/// What the window is computed from.
#[derive(Clone, Copy, Debug)]
pub struct Tyres {
    /// Laps completed by the car.
    pub lap: u16,
    pub total_laps: u16,
    /// Laps on the current tyres.
    pub age: f64,
    /// Degradation of the current tyres and its 95% half-width, ms per lap.
    pub deg_ms: f64,
    pub ci_ms: f64,
    /// Degradation of the next tyres, when known.
    pub next_deg_ms: Option<f64>,
    pub loss_ms: f64,
    pub stop_required: bool,
}

/// Σ of ages `from+1 ..= from+n`.
fn ages(from: f64, n: u16) -> f64 {
    let n = f64::from(n);
    n * from + n * (n + 1.0) / 2.0
}

/// Remaining time of a stop at the end of lap `k` (None: no stop), ms.
fn remaining(t: &Tyres, deg: f64, next: f64, k: Option<u16>) -> f64 {
    match k {
        None => deg * ages(t.age, t.total_laps - t.lap),
        Some(k) => deg * ages(t.age, k - t.lap) + t.loss_ms + next * ages(0.0, t.total_laps - k),
    }
}

/// The window, or why there is none.
pub fn window(t: &Tyres) -> Result<Window, String> {
    if t.lap + 2 > t.total_laps {
        return Err("too few laps left for a stop to pay off".into());
    }
    let candidates = t.lap + 1..t.total_laps;
    // Negative slopes (track and fuel outpacing wear) mean tyres do not measurably slow
    // the car: the limit of a vanishing wear is taken (1 ms a lap), whose best stop
    // balances the laps on old and new tyres and whose window is wide: both true.
    let degs = [t.deg_ms, t.deg_ms - t.ci_ms, t.deg_ms + t.ci_ms].map(|d| d.max(MIN_DEG_MS));
    let best = |deg: f64| {
        let next = t.next_deg_ms.unwrap_or(deg).max(MIN_DEG_MS);
        let cost = |k: u16| remaining(t, deg, next, Some(k));
        let floor = candidates.clone().map(cost).fold(f64::INFINITY, f64::min);
        // The earliest of equal stops (a balance of tyre ages falls between two laps,
        // and rounding alone would pick either): stopping first guards the undercut.
        let k = candidates
            .clone()
            .find(|k| cost(*k) <= floor + TIE_MS)
            .expect("at least one lap");
        (k, cost(k))
    };
    let (optimal_lap, best_ms) = best(degs[0]);
    let stay_ms = remaining(t, degs[0], 0.0, None);
    let gain_ms = stay_ms - best_ms;
    if !t.stop_required && gain_ms <= 0.0 {
        return Err(format!(
            "no stop pays off: the best (lap {optimal_lap}) costs {:.1} s more than staying out",
            -gain_ms / 1000.0
        ));
    }
    let (mut first_lap, mut last_lap) = (optimal_lap, optimal_lap);
    for deg in degs {
        let next = t.next_deg_ms.unwrap_or(deg).max(MIN_DEG_MS);
        let (_, floor) = best(deg);
        for k in candidates.clone() {
            if remaining(t, deg, next, Some(k)) <= floor + TOLERANCE_MS {
                first_lap = first_lap.min(k);
                last_lap = last_lap.max(k);
            }
        }
    }
    Ok(Window {
        optimal_lap,
        first_lap,
        last_lap,
        stop_required: t.stop_required,
        gain_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tyres(lap: u16, age: f64, deg: f64, ci: f64, required: bool) -> Tyres {
        Tyres {
            lap,
            total_laps: 50,
            age,
            deg_ms: deg,
            ci_ms: ci,
            next_deg_ms: None,
            loss_ms: 20_000.0,
            stop_required: required,
        }
    }

    #[test]
    fn table() {
        // (tyres, optimal lap, or the start of the reason there is none)
        let cases: Vec<(Tyres, Result<u16, &str>)> = vec![
            // Fresh at lap 10 with 40 to go: balance the ages, stop after lap 30.
            (tyres(10, 0.0, 60.0, 10.0, true), Ok(30)),
            // 20 laps old at lap 20: 30 to go, 50 laps of tyre in all: lap 25.
            (tyres(20, 20.0, 60.0, 10.0, true), Ok(25)),
            // Wear too small to pay back 20 s and no stop owed: stay out.
            (tyres(20, 20.0, 10.0, 5.0, false), Err("no stop pays off")),
            // Heavy wear pays for a stop nobody owes.
            (tyres(10, 10.0, 200.0, 20.0, false), Ok(25)),
            // No measurable wear, stop owed: the balance point, in a wide window.
            (tyres(10, 10.0, -30.0, 20.0, true), Ok(25)),
            (tyres(49, 30.0, 60.0, 10.0, true), Err("too few laps left")),
        ];
        for (t, want) in cases {
            match (window(&t), want) {
                (Ok(w), Ok(lap)) => {
                    assert!(w.optimal_lap.abs_diff(lap) <= 1, "{t:?}: {w:?}");
                    assert!(w.first_lap <= w.optimal_lap && w.optimal_lap <= w.last_lap);
                }
                (Err(e), Err(start)) => assert!(e.starts_with(start), "{t:?}: {e}"),
                (got, want) => panic!("{t:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    /// Tyres 9 laps old at lap 10 of 50: stopping after lap 25 or 26 costs the same
    /// (ages 10..=24 and 1..=25, or 10..=25 and 1..=24); the earlier is taken, whatever
    /// the rounding of the wear makes of the sums.
    #[test]
    fn of_two_equal_stops_the_earlier_is_taken() {
        for deg in (0..500).map(|i| 5.0 + f64::from(i) * 0.731) {
            let w = window(&tyres(10, 9.0, deg, 5.0, true)).unwrap();
            assert_eq!(w.optimal_lap, 25, "{deg} ms per lap: {w:?}");
        }
    }

    #[test]
    fn the_window_widens_with_the_uncertainty_and_narrows_with_wear() {
        let width = |deg, ci| {
            let w = window(&tyres(10, 0.0, deg, ci, true)).unwrap();
            w.last_lap - w.first_lap
        };
        assert!(width(60.0, 40.0) > width(60.0, 5.0));
        assert!(width(20.0, 5.0) > width(120.0, 5.0));
    }
}
