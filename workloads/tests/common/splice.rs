//! Real Dutch GP traces edited to show what two 2025 races we do not have showed, where
//! it happened there: a standstill split by one reading above the creep speed, a car
//! beached off the track before its pit stop, and OpenF1 `pit` windows that disagree
//! with the car data. Everything else in the trace stays as FastF1 recorded it.

use pitstop_workloads::model::{PitStatus, Sample};

/// The FastF1 traces' interval (~7.5 samples/s), for the samples put in.
const DT_MS: i64 = 133;
/// Deceleration off the track, km/h per second (about 1.6 g, in a gravel trap).
const GRAVEL_DECEL_KPH_S: f64 = 55.0;
/// How far off the racing line the car comes to rest, metres.
const OFF_LINE_M: f64 = 25.0;

/// The reading in the middle of the standstill (≤ 0.5 km/h) of car `car`'s stop within
/// `from_ms..=to_ms`, and how long the car stood either side of it, ms (first to last
/// standstill sample); `None` if fewer than three samples stood.
pub fn middle_of_standstill(
    samples: &[Sample],
    car: u8,
    from_ms: i64,
    to_ms: i64,
) -> Option<(usize, i64, i64)> {
    let still: Vec<usize> = (0..samples.len())
        .filter(|&i| {
            let s = &samples[i];
            s.car == car && (from_ms..=to_ms).contains(&s.timestamp_ms) && s.speed_kph <= 0.5
        })
        .collect();
    if still.len() < 3 {
        return None;
    }
    let t = |i: usize| samples[i].timestamp_ms;
    let (first, last) = (still[0], still[still.len() - 1]);
    let middle = (t(first) + t(last)) / 2;
    let (k, &m) = still
        .iter()
        .enumerate()
        .skip(1)
        .take(still.len() - 2)
        .min_by_key(|(_, i)| (t(**i) - middle).abs())?;
    Some((m, t(still[k - 1]) - t(first), t(last) - t(still[k + 1])))
}

/// OpenF1's way: once a car has a `pit` record, every sample of it says whether it lies
/// in one of the car's windows (entry, entry + duration), ms.
pub fn pit_windows(samples: &mut [Sample], car: u8, windows: &[(i64, i64)]) {
    for s in samples.iter_mut().filter(|s| s.car == car) {
        let t = s.timestamp_ms;
        s.pit_status = Some(if windows.iter().any(|(a, b)| (*a..=*b).contains(&t)) {
            PitStatus::PitLane
        } else {
            PitStatus::None
        });
    }
}

/// Where a beached car goes once it has crawled back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejoin {
    /// Back onto the track, steady at 55 km/h for 1.5 s while it looks for a gap, then
    /// accelerating until it runs as it did on the real lap, into its pit stop.
    Track,
    /// On at crawling speed into the pit entry and up to the limiter.
    PitEntry,
}

/// A beaching spliced into a car's trace.
#[derive(Clone, Debug)]
pub struct Beached {
    pub samples: Vec<Sample>,
    /// Where the car stood, metres.
    pub at: (f32, f32),
}

/// The in-lap as a path: lap distance → position and speed.
struct Path<'a>(Vec<&'a Sample>);

impl Path<'_> {
    fn d(s: &Sample) -> f64 {
        s.lap_distance_m.expect("FastF1 has Distance") as f64
    }

    /// Position (x, y) and speed at lap distance `d`, interpolated.
    fn at(&self, d: f64) -> (f64, f64, f64) {
        let i = self
            .0
            .partition_point(|s| Self::d(s) < d)
            .clamp(1, self.0.len() - 1);
        let (a, b) = (self.0[i - 1], self.0[i]);
        let span = Self::d(b) - Self::d(a);
        let f = if span > 0.0 {
            ((d - Self::d(a)) / span).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let mix = |p: f32, q: f32| p as f64 + (q as f64 - p as f64) * f;
        (
            mix(a.x.unwrap(), b.x.unwrap()),
            mix(a.y.unwrap(), b.y.unwrap()),
            mix(a.speed_kph, b.speed_kph),
        )
    }

    /// Position at `d`, `off` metres to the right of the racing line.
    fn off_line(&self, d: f64, off: f64) -> (f32, f32) {
        let (x, y, _) = self.at(d);
        let (x0, y0, _) = self.at(d - 5.0);
        let (x1, y1, _) = self.at(d + 5.0);
        let (hx, hy) = (x1 - x0, y1 - y0);
        let n = (hx * hx + hy * hy).sqrt().max(1e-6);
        ((x + off * hy / n) as f32, (y - off * hx / n) as f32)
    }
}

/// One car's trace with a beaching spliced into the in-lap whose pit entry motion found
/// at `entry_ms`: the car leaves the track where, braking in the gravel, it comes to
/// rest 500 m before that entry (`Rejoin::Track`) or 80 m before the point it reaches
/// the limiter (`Rejoin::PitEntry`), 25 m off the racing line; it stands 9 s, crawls
/// back at 5–30 km/h over 6 s, then rejoins. The rest of the trace follows, shifted in
/// time; samples are renumbered.
pub fn beach(car: &[Sample], entry_ms: i64, rejoin: Rejoin) -> Beached {
    let e = car.iter().position(|s| s.timestamp_ms >= entry_ms).unwrap();
    let lap = car[e].lap.unwrap();
    let path = Path(car.iter().filter(|s| s.lap == Some(lap)).collect());
    let join = match rejoin {
        Rejoin::Track => None,
        Rejoin::PitEntry => {
            let j = (e..car.len()).find(|&j| car[j].speed_kph <= 82.0).unwrap();
            assert_eq!(
                car[j].lap,
                Some(lap),
                "the limiter is reached on the in-lap"
            );
            Some(j)
        }
    };
    let rest_d = match join {
        None => Path::d(&car[e]) - 500.0,
        Some(j) => Path::d(&car[j]) - 80.0,
    };
    // Leave the track where braking in the gravel ends at `rest_d`.
    let stopping = |v_kph: f64| (v_kph / 3.6).powi(2) / (2.0 * GRAVEL_DECEL_KPH_S / 3.6);
    let off = (1..e)
        .find(|&i| {
            car[i].lap == Some(lap)
                && Path::d(&car[i]) + stopping(car[i].speed_kph as f64) >= rest_d
        })
        .unwrap();
    let mut out: Vec<Sample> = car[..off].to_vec();
    let template = car[off - 1].clone();
    let (mut t, mut d, mut v) = (
        template.timestamp_ms,
        Path::d(&template),
        template.speed_kph as f64,
    );
    let off_d = d;
    let push = |out: &mut Vec<Sample>, t: i64, v: f64, d: f64, off: f64| {
        let (x, y) = path.off_line(d, off);
        out.push(Sample {
            timestamp_ms: t,
            speed_kph: v as f32,
            lap_distance_m: Some(d as f32),
            x: Some(x),
            y: Some(y),
            throttle: Some(0.0),
            ..template.clone()
        });
    };
    let step = |t: &mut i64, d: &mut f64, v0: f64, v1: f64| {
        *t += DT_MS;
        *d += (v0 + v1) / 2.0 / 3.6 * DT_MS as f64 / 1000.0;
    };
    // Off the track, braking to a halt.
    while v > 0.0 {
        let v1 = (v - GRAVEL_DECEL_KPH_S * DT_MS as f64 / 1000.0).max(0.0);
        step(&mut t, &mut d, v, v1);
        v = v1;
        let drift = OFF_LINE_M * ((d - off_d) / (rest_d - off_d)).clamp(0.0, 1.0);
        push(&mut out, t, v, d, drift);
    }
    let rest = path.off_line(d, OFF_LINE_M);
    // Beached.
    for _ in 0..(9_000 / DT_MS) {
        t += DT_MS;
        push(&mut out, t, 0.0, d, OFF_LINE_M);
    }
    // The crawl back to the racing line.
    let n = 6_000 / DT_MS;
    for k in 1..=n {
        let v1 = 5.0 + 25.0 * k as f64 / n as f64;
        step(&mut t, &mut d, v, v1);
        v = v1;
        push(&mut out, t, v, d, OFF_LINE_M * (1.0 - k as f64 / n as f64));
    }
    let k = match join {
        None => {
            // Steady while it looks for a gap, then on as fast as the real lap went.
            for i in 0..(1_500 / DT_MS) {
                let v1 = 55.0 + if i % 2 == 0 { 0.5 } else { -0.5 };
                step(&mut t, &mut d, v, v1);
                v = v1;
                push(&mut out, t, v, d, 0.0);
            }
            while v < path.at(d).2 {
                let v1 = v + 20.0 * DT_MS as f64 / 1000.0;
                step(&mut t, &mut d, v, v1);
                v = v1;
                push(&mut out, t, v, d, 0.0);
                assert!(
                    d < Path::d(&car[e]),
                    "rejoined the real lap before its pit entry"
                );
            }
            (off..e).find(|&i| Path::d(&car[i]) > d).unwrap()
        }
        Some(j) => {
            // Up to the limiter at constant acceleration over the distance left.
            let (d0, v0, dj) = (d, v, Path::d(&car[j]));
            let vj = car[j].speed_kph as f64;
            while d < dj {
                let f = ((d - d0) / (dj - d0)).clamp(0.0, 1.0);
                let v1 = (v0 * v0 + (vj * vj - v0 * v0) * f).sqrt().max(v0);
                step(&mut t, &mut d, v, v1);
                v = v1;
                push(&mut out, t, v, d.min(dj), 0.0);
            }
            j + 1
        }
    };
    let shift = t + DT_MS - car[k].timestamp_ms;
    out.extend(car[k..].iter().map(|s| Sample {
        timestamp_ms: s.timestamp_ms + shift,
        ..s.clone()
    }));
    for (i, s) in out.iter_mut().enumerate() {
        s.seq = i as u32;
    }
    Beached {
        samples: out,
        at: rest,
    }
}
