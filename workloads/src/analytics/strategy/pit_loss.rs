//! What a stop costs at this circuit: measured from this race's stops (the in-lap and
//! out-lap against the car's own racing laps around them — pit-lane time minus the time
//! the same distance takes at racing speed), else a default from Ergast's pit-lane times.
//! Under a safety car the racing speed is lower, so the same pit lane costs less.

use super::degradation::median;
use super::pit_lane_times::PIT_LANE_MS;
use super::stints::Judged;
use serde::Serialize;

/// Where a pit loss comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PitLossSource {
    /// From this race's green stops.
    Measured,
    /// From Ergast's pit-lane times of this circuit.
    Default,
    /// Neither: a typical circuit's.
    Assumed,
}

/// The pit loss the strategy uses now.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PitLoss {
    pub ms: f64,
    /// One stop's spread around `ms` (robust standard deviation), ms.
    pub uncertainty_ms: f64,
    pub source: PitLossSource,
    /// Green stops measured so far.
    pub stops: usize,
    /// The loss is reduced for a neutralised lap (a safety car's lower speed).
    pub neutralised: bool,
}

/// Share of the pit-lane time (entry to exit) that is lost against racing: the rest is
/// the time the same stretch takes at racing speed. Measured on the 2025 Dutch GP's green
/// stops (median loss 17.2 s against Ergast's median pit-lane time of 19.9 s); used only
/// until this race has measured stops of its own.
pub const LOSS_SHARE: f64 = 0.86;
/// A typical pit-lane time (the median of every circuit in Ergast's table), ms.
const TYPICAL_PIT_LANE_MS: f64 = 23_000.0;
/// Fewest green stops a measured loss needs.
const MIN_STOPS: usize = 3;
/// The spread assumed for a default loss, ms.
const DEFAULT_UNCERTAINTY_MS: f64 = 2_000.0;

/// The median pit-lane time of a circuit in Ergast's table, by our ids or Ergast's.
pub fn pit_lane_ms(circuit: &str) -> Option<f64> {
    let key = match circuit {
        "melbourne" => "albert_park",
        "singapore" => "marina_bay",
        "spielberg" | "austria" => "red_bull_ring",
        "montreal" => "villeneuve",
        "austin" | "cota" => "americas",
        "mexico" => "rodriguez",
        "las_vegas" => "vegas",
        "abu_dhabi" => "yas_marina",
        "barcelona" => "catalunya",
        "qatar" | "lusail" => "losail",
        other => other,
    };
    PIT_LANE_MS
        .iter()
        .find(|(id, ..)| *id == key)
        .map(|(_, _, ms)| f64::from(*ms))
}

/// The loss of one stop from its car's laps (in lap order), or None when a lap it needs is
/// missing, neutralised, or the car has too few racing laps around it. A stop whose
/// out-lap has not ended yet is not measured: its in-lap alone holds only part of the
/// loss (about half, where the pit lane straddles the line).
pub fn stop_loss(laps: &[Judged], in_lap: u16) -> Option<f64> {
    let i = laps.iter().position(|j| j.lap.lap == in_lap)?;
    laps.get(i + 1).filter(|j| j.lap.lap == in_lap + 1)?;
    let pit: Vec<&Judged> = laps[i..]
        .iter()
        .take_while(|j| j.in_lap || j.out_lap)
        .collect();
    if pit.is_empty() || pit.len() > 2 || pit.iter().any(|j| j.neutralised) {
        return None;
    }
    let out = in_lap + pit.len() as u16 - 1;
    let mut around: Vec<f64> = laps
        .iter()
        .filter(|j| j.green() && j.lap.lap + 5 >= in_lap && j.lap.lap <= out + 5)
        .map(|j| j.lap.lap_time_ms as f64)
        .collect();
    if around.len() < 3 {
        return None;
    }
    let reference = median(&mut around);
    let spent: f64 = pit.iter().map(|j| j.lap.lap_time_ms as f64).sum();
    Some(spent - reference * pit.len() as f64)
}

/// Pit-lane times within this of the fastest are a normal stop's, ms: a tyre change
/// takes 2 to 4 s, so a stop 3 s slower than the quickest had a problem (a slow wheel, a
/// new front wing, a car queued behind its team-mate).
const NORMAL_LANE_SPREAD_MS: i64 = 3_000;
/// Stops whose pit-lane times make a normal one to compare one with.
const MIN_LANES: usize = 3;

/// Below this share of the circuit's usual pit-lane time (Ergast's median) a stop's
/// time is a timing glitch: the speed limit allows no such lane.
const GLITCH_SHARE: f64 = 0.8;

/// The pit-lane time of a normal stop in this race at `circuit`: the median of the stops
/// within [`NORMAL_LANE_SPREAD_MS`] of the quickest (a time below [`GLITCH_SHARE`] of
/// the circuit's usual one left out); None under [`MIN_LANES`] stops. Not the median of
/// all: the first stops of a race are often the troubled ones (at Monza 2024 two of the
/// first three took 33 and 39 s where a normal stop took 24 s).
pub fn normal_lane_ms(lanes: &[i64], circuit: Option<&str>) -> Option<f64> {
    let floor = circuit
        .and_then(pit_lane_ms)
        .map_or(0.0, |l| l * GLITCH_SHARE);
    let timed: Vec<i64> = lanes
        .iter()
        .copied()
        .filter(|l| *l > 0 && *l as f64 >= floor)
        .collect();
    let fastest = *timed.iter().min()?;
    let mut normal: Vec<f64> = timed
        .iter()
        .filter(|l| **l <= fastest + NORMAL_LANE_SPREAD_MS)
        .map(|l| *l as f64)
        .collect();
    (timed.len() >= MIN_LANES).then(|| median(&mut normal))
}

/// How much faster than a normal stop's a stop's pit lane can make it, ms (a quick stop
/// saves a second or two; more is a timing glitch).
pub const FASTER_LANE_MS: f64 = 3_000.0;

/// What a stop's pit lane took beyond a normal stop's `normal_lane` (a slow tyre
/// change), at most [`FASTER_LANE_MS`] less; nothing without a normal stop to compare
/// with or a lane time (a visit under way).
pub fn beyond_normal_ms(lane_ms: i64, normal_lane: Option<f64>) -> f64 {
    normal_lane
        .filter(|_| lane_ms > 0)
        .map_or(0.0, |n| (lane_ms as f64 - n).max(-FASTER_LANE_MS))
}

/// Each measured stop's loss (loss, its pit-lane time ms) as if its pit lane had taken
/// the normal time `normal_lane` (a slow tyre change is that stop's bad luck, not the
/// circuit's price): what [`pit_loss`] takes the median of.
pub fn normal_losses(measured: &[(f64, i64)], normal_lane: Option<f64>) -> Vec<f64> {
    measured
        .iter()
        .map(|&(loss, lane)| loss - beyond_normal_ms(lane, normal_lane))
        .collect()
}

/// The pit loss from the measured stops' losses, the circuit, and how much slower than
/// racing the field runs now (`slow_ratio`: 1 when green, 1.45 under a safety car).
pub fn pit_loss(measured: &[f64], circuit: Option<&str>, slow_ratio: f64) -> PitLoss {
    let lane = circuit.and_then(pit_lane_ms);
    let (mut ms, uncertainty_ms, source) = if measured.len() >= MIN_STOPS {
        let mut v = measured.to_vec();
        let m = median(&mut v);
        let mut dev: Vec<f64> = measured.iter().map(|x| (x - m).abs()).collect();
        let spread = (1.4826 * median(&mut dev)).max(300.0);
        (m, spread, PitLossSource::Measured)
    } else if let Some(lane) = lane {
        (
            lane * LOSS_SHARE,
            DEFAULT_UNCERTAINTY_MS,
            PitLossSource::Default,
        )
    } else {
        (
            TYPICAL_PIT_LANE_MS * LOSS_SHARE,
            DEFAULT_UNCERTAINTY_MS,
            PitLossSource::Assumed,
        )
    };
    let neutralised = slow_ratio > 1.10;
    if neutralised {
        // The stretch the pit lane bypasses takes longer at the field's lower speed.
        let bypass = lane.unwrap_or(TYPICAL_PIT_LANE_MS) - ms;
        ms = (ms - bypass.max(0.0) * (slow_ratio - 1.0)).max(0.0);
    }
    PitLoss {
        ms,
        uncertainty_ms,
        source,
        stops: measured.len(),
        neutralised,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::strategy::input::Lap;

    /// Laps 1..=`last` of 90 s, the in-lap 6 8 s and the out-lap 7 11 s slower (a stop
    /// losing 19 s).
    fn laps(last: u16) -> Vec<Lap> {
        (1..=last)
            .map(|lap| Lap {
                car: 1,
                lap,
                lap_time_ms: 90_000
                    + match lap {
                        6 => 8_000,
                        7 => 11_000,
                        _ => 0,
                    },
                crossed_at_ms: i64::from(lap) * 90_000,
                compound: None,
                tyre_age: None,
                neutralised: false,
            })
            .collect()
    }

    fn judged(laps: &[Lap]) -> Vec<Judged<'_>> {
        laps.iter()
            .map(|lap| Judged {
                lap,
                in_lap: lap.lap == 6,
                out_lap: lap.lap == 7,
                neutralised: false,
            })
            .collect()
    }

    #[test]
    fn a_stop_costs_its_in_and_out_laps_over_racing_ones() {
        let laps = laps(10);
        assert_eq!(stop_loss(&judged(&laps), 6), Some(19_000.0));
    }

    #[test]
    fn a_stop_whose_out_lap_has_not_ended_is_not_measured() {
        // As of the in-lap's end (four racing laps before it): its 8 s are not the loss.
        let laps = laps(6);
        assert_eq!(stop_loss(&judged(&laps), 6), None);
    }

    /// Monza 2024's first stops (pit lane 38.8, 24.4, 32.7 and 30.4 s; losses 40.7,
    /// 25.9, 34.8 and 32.5 s): priced as a normal 24.4 s stop, the loss is Monza's 26 s,
    /// not the 33 s the troubled stops' median says.
    #[test]
    fn a_troubled_stop_is_measured_as_a_normal_one() {
        let lanes = [38_800, 24_400, 32_700, 30_400];
        assert_eq!(normal_lane_ms(&lanes, Some("monza")), Some(24_400.0));
        let measured = [(40_700.0, 38_800), (25_900.0, 24_400), (34_800.0, 32_700)];
        let losses = normal_losses(&measured, normal_lane_ms(&lanes, Some("monza")));
        let l = pit_loss(&losses, Some("monza"), 1.0);
        assert!((26_000.0..26_600.0).contains(&l.ms), "{l:?}");
        let raw: Vec<f64> = measured.iter().map(|m| m.0).collect();
        assert_eq!(pit_loss(&raw, Some("monza"), 1.0).ms, 34_800.0);
    }

    #[test]
    fn a_normal_stop_is_the_median_of_those_near_the_quickest() {
        // Within 3 s of the quickest (24.0): 24.0, 24.5, 26.9; the 30 s one had a problem.
        let lanes = [24_500, 30_000, 24_000, 26_900];
        assert_eq!(normal_lane_ms(&lanes, None), Some(24_500.0));
        // Too few to say; a visit under way (no lane time yet) is no stop to compare.
        assert_eq!(normal_lane_ms(&[24_000, 25_000], None), None);
        assert_eq!(normal_lane_ms(&[24_000, 25_000, 0], None), None);
        assert_eq!(normal_lane_ms(&[], None), None);
        assert_eq!(beyond_normal_ms(0, Some(24_000.0)), 0.0);
        assert_eq!(beyond_normal_ms(25_000, None), 0.0);
        assert_eq!(
            normal_losses(&[(20_000.0, 0), (20_000.0, 25_000)], None),
            vec![20_000.0, 20_000.0]
        );
        // A time no car can drive Monza's pit lane in (Ergast's median 24.6 s) is a
        // glitch: it sets no normal, and its own loss moves at most 3 s.
        let glitch = [19_000, 24_000, 24_500, 25_000];
        assert_eq!(normal_lane_ms(&glitch, Some("monza")), Some(24_500.0));
        assert_eq!(normal_lane_ms(&glitch, None), Some(19_000.0));
        assert_eq!(
            normal_losses(&[(20_000.0, 19_000)], Some(24_500.0)),
            vec![23_000.0]
        );
    }

    #[test]
    fn the_measured_loss_is_the_median_and_a_default_stands_in_until_three() {
        let l = pit_loss(&[19_000.0, 20_000.0, 30_000.0], Some("zandvoort"), 1.0);
        assert_eq!((l.ms, l.source), (20_000.0, PitLossSource::Measured));
        let l = pit_loss(&[19_000.0, 20_000.0], Some("zandvoort"), 1.0);
        assert_eq!(l.source, PitLossSource::Default);
        let l = pit_loss(&[], None, 1.0);
        assert_eq!(l.source, PitLossSource::Assumed);
    }
}
