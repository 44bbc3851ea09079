//! Undercut and overcut: what a car that stops now gains on a rival who stays out, lap by
//! lap, from the difference between the rival's worn tyres and its own new ones.

use serde::Serialize;

/// One call against a neighbour.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Call {
    pub car: u8,
    pub driver: String,
    /// Race-time gap the car that stops must make up, ms: to the car ahead, or of the car
    /// behind to us (negative when race time already has the order the other way).
    pub gap_ms: f64,
    /// `jump` / `no_jump` against the car ahead; `threat` / `safe` from the car behind.
    pub call: &'static str,
    /// Gain minus gap, ms: how much the stop wins (positive) or misses by.
    pub margin_ms: f64,
}

/// A car's tyres as an undercut sees them.
#[derive(Clone, Copy, Debug)]
pub struct Wear {
    /// Laps on the current tyres.
    pub age: f64,
    /// Degradation, ms per lap of age (0 when unknown or negative).
    pub deg_ms: f64,
}

/// The new tyres of a car that stops now.
#[derive(Clone, Copy, Debug, Default)]
pub struct Fresh {
    /// Their degradation, ms per lap of age: the car's current fit's.
    pub deg_ms: f64,
    /// How much less than the degradation models new tyres gain in their first lap in
    /// this race (see [`fresh_tyres`](super::fresh_tyres)), ms.
    pub shortfall_ms: f64,
}

/// Time a car stopping now gains on a rival that stops `laps_later` laps later: on each
/// of those laps the rival's tyres are `age + j` laps old, the stopper's `j`, the first
/// of them short of the model by what this race's new tyres have fallen short (once:
/// it is measured on a first lap; the rival's own first lap on new tyres, after its
/// stop, is not in the gain, shortfall or not).
pub fn gain_ms(rival: Wear, fresh: Fresh, laps_later: u16) -> f64 {
    if laps_later == 0 {
        return 0.0;
    }
    let modelled: f64 = (1..=laps_later)
        .map(|j| {
            let j = f64::from(j);
            rival.deg_ms * (rival.age + j) - fresh.deg_ms * j
        })
        .sum();
    modelled - fresh.shortfall_ms
}

/// Whether stopping now jumps the car ahead (`gap_ms` in front), should it stop a lap
/// later: margin = gain − gap.
pub fn against_ahead(ahead: Wear, fresh: Fresh, gap_ms: f64) -> (bool, f64) {
    let margin = gain_ms(ahead, fresh, 1) - gap_ms;
    (margin > 0.0, margin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        // (rival age, rival deg, fresh deg, laps later, gain)
        let cases = [
            (20.0, 50.0, 50.0, 1, 50.0 * 21.0 - 50.0),
            (20.0, 50.0, 50.0, 2, 50.0 * (21.0 + 22.0) - 50.0 * 3.0),
            (0.0, 0.0, 0.0, 3, 0.0),
            (5.0, 80.0, 40.0, 1, 80.0 * 6.0 - 40.0),
            (5.0, 80.0, 40.0, 0, 0.0),
        ];
        for (age, deg, fresh, k, want) in cases {
            let fresh = Fresh {
                deg_ms: fresh,
                shortfall_ms: 0.0,
            };
            let got = gain_ms(Wear { age, deg_ms: deg }, fresh, k);
            assert!(
                (got - want).abs() < 1e-6,
                "{age} {deg} {fresh:?} {k}: {got}"
            );
            // A race whose new tyres fell 300 ms short: the first lap gains that less,
            // once however many laps later the rival stops.
            let short = Fresh {
                shortfall_ms: 300.0,
                ..fresh
            };
            let want = if k == 0 { 0.0 } else { want - 300.0 };
            assert!((gain_ms(Wear { age, deg_ms: deg }, short, k) - want).abs() < 1e-6);
        }
        let ahead = Wear {
            age: 20.0,
            deg_ms: 50.0,
        };
        let fresh = Fresh {
            deg_ms: 50.0,
            shortfall_ms: 0.0,
        };
        assert!(
            against_ahead(ahead, fresh, 900.0).0,
            "1 s gained, 0.9 s to find"
        );
        assert!(
            !against_ahead(ahead, fresh, 1100.0).0,
            "1 s gained, 1.1 s to find"
        );
        let short = Fresh {
            shortfall_ms: 200.0,
            ..fresh
        };
        assert!(
            !against_ahead(ahead, short, 900.0).0,
            "0.8 s gained in a race whose new tyres fell 0.2 s short, 0.9 s to find"
        );
    }
}
