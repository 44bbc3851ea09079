//! The whole 2025 Dutch Grand Prix with glitches injected at random into 1% of the rows of
//! every channel — an impossible value, out of range or unreadable, as real feeds have
//! them — read under the dirty-data policy: every glitch counted (an optional channel's as
//! an unknown value, a time's, speed's or driver's as its row left out), every stop still
//! found, and the figures within 0.02 s of the clean run. Needs `../shared/data/f1/`.

mod common;

use common::dutch;
use pitstop_workloads::feeds::{self, Dirt, FeedOptions, Reject, Unknown};
use pitstop_workloads::model::{Channel, Sample};
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;

/// A FastF1 column, the glitch it gets, and how the policy must count it.
struct Glitch {
    column: &'static str,
    value: fn(&mut SmallRng) -> String,
    counted: Counted,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Counted {
    Unknown(Channel, Unknown),
    Rejected(Reject),
}

const GLITCHES: &[Glitch] = &[
    Glitch {
        column: "Driver",
        value: |_| "XXX".into(),
        counted: Counted::Rejected(Reject::Required),
    },
    Glitch {
        column: "LapNumber",
        value: |r| ["0", "999"][r.random_range(0..2)].into(),
        counted: Counted::Unknown(Channel::Lap, Unknown::OutOfRange),
    },
    Glitch {
        column: "Time",
        value: |_| "-30.000".into(),
        counted: Counted::Rejected(Reject::Required),
    },
    Glitch {
        column: "Speed",
        value: |r| ["-3.0", "912.0", "fast"][r.random_range(0..3)].into(),
        counted: Counted::Rejected(Reject::Required),
    },
    Glitch {
        column: "RPM",
        value: |_| "99999".into(),
        counted: Counted::Unknown(Channel::Rpm, Unknown::OutOfRange),
    },
    Glitch {
        column: "nGear",
        value: |r| r.random_range(10..=17).to_string(),
        counted: Counted::Unknown(Channel::Gear, Unknown::OutOfRange),
    },
    Glitch {
        column: "Throttle",
        value: |_| "140.0".into(),
        counted: Counted::Unknown(Channel::Throttle, Unknown::OutOfRange),
    },
    Glitch {
        column: "Brake",
        value: |_| "maybe".into(),
        counted: Counted::Unknown(Channel::Brake, Unknown::Unparsable),
    },
    Glitch {
        column: "DRS",
        value: |_| "99".into(),
        counted: Counted::Unknown(Channel::Drs, Unknown::OutOfRange),
    },
    Glitch {
        column: "Distance",
        value: |_| "-40.0".into(),
        counted: Counted::Unknown(Channel::LapDistance, Unknown::OutOfRange),
    },
    Glitch {
        column: "X",
        value: |_| "#REF!".into(),
        counted: Counted::Unknown(Channel::X, Unknown::Unparsable),
    },
    Glitch {
        column: "Y",
        value: |_| "9e12".into(),
        counted: Counted::Unknown(Channel::Y, Unknown::OutOfRange),
    },
    Glitch {
        column: "Z",
        value: |_| "#REF!".into(),
        counted: Counted::Unknown(Channel::Z, Unknown::Unparsable),
    },
];

/// `body` with 1% of its data rows glitched per column, each glitched row in one column
/// only (so that each glitch has one place to be counted); the glitches by how they count.
fn inject(body: &[u8], rng: &mut SmallRng) -> (Vec<u8>, BTreeMap<Counted, u64>) {
    let text = std::str::from_utf8(body).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let header: Vec<String> = lines[0].split(',').map(str::to_owned).collect();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let mut rows: Vec<usize> = (1..lines.len()).collect();
    rows.shuffle(rng);
    let per_channel = (lines.len() - 1) / 100;
    let mut injected = BTreeMap::new();
    for (g, chosen) in GLITCHES.iter().zip(rows.chunks(per_channel)) {
        let c = column(g.column);
        for &row in chosen {
            let mut cells: Vec<String> = lines[row].split(',').map(str::to_owned).collect();
            cells[c] = (g.value)(rng);
            lines[row] = cells.join(",");
            *injected.entry(g.counted).or_default() += 1;
        }
    }
    (lines.join("\n").into_bytes(), injected)
}

/// What the policy counted, in the same terms.
fn counted(dirt: &Dirt) -> BTreeMap<Counted, u64> {
    let mut out: BTreeMap<Counted, u64> = dirt
        .unknown
        .iter()
        .map(|(&(c, why), &n)| (Counted::Unknown(c, why), n))
        .collect();
    for (_, why) in &dirt.rejected {
        *out.entry(Counted::Rejected(*why)).or_default() += 1;
    }
    out
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// Stationary |error| against DHL: median, p90, max, over the stops both runs found.
fn figures(found: &[dutch::Found], dhl: &BTreeMap<(String, u16), f64>) -> [f64; 3] {
    let mut errors: Vec<f64> = found
        .iter()
        .filter_map(|f| Some((f.stationary_s - dhl.get(&(f.driver.clone(), f.lap))?).abs()))
        .collect();
    errors.sort_by(f64::total_cmp);
    [
        quantile(&errors, 0.5),
        quantile(&errors, 0.9),
        errors[errors.len() - 1],
    ]
}

#[test]
fn glitches_in_every_channel_cost_only_themselves() {
    let Some(dir) = dutch::dir() else { return };
    let opts = FeedOptions {
        session: Some("dutch-dirty".into()),
        start_ms: Some(dutch::START_MS),
        ..FeedOptions::default()
    };
    let mut rng = SmallRng::seed_from_u64(2025);
    let (mut clean, mut dirty): (Vec<Sample>, Vec<Sample>) = (Vec::new(), Vec::new());
    let (mut injected, mut seen) = (BTreeMap::new(), BTreeMap::new());
    for file in dutch::files(&dir) {
        let (_, body) = feeds::read_file(&file).unwrap();
        clean.extend(feeds::fastf1::parse(&body, &opts).unwrap());
        let (glitched, n) = inject(&body, &mut rng);
        let mut dirt = Dirt::default();
        let rows = feeds::fastf1::parse_lenient(&glitched, &opts, &mut dirt).unwrap();
        dirty.extend(rows.into_iter().map(|(_, s)| s));
        for (k, v) in n {
            *injected.entry(k).or_insert(0u64) += v;
        }
        for (k, v) in counted(&dirt) {
            *seen.entry(k).or_insert(0u64) += v;
        }
    }
    let total: u64 = injected.values().sum();
    eprintln!("{total} glitches in {} rows: {injected:?}", clean.len());
    assert_eq!(
        seen, injected,
        "every glitch counted, once, where it belongs"
    );
    // Numbered per car as ingest and replay number what they take.
    feeds::number(&mut dirty);
    for s in [&mut clean, &mut dirty] {
        s.sort_by_key(|x| x.timestamp_ms);
    }
    let (ev_clean, ev_dirty) = (dutch::analyse(&clean), dutch::analyse(&dirty));
    let (found_clean, found_dirty) = (dutch::found(&ev_clean), dutch::found(&ev_dirty));
    // Every observable stop, and nothing else, with the outliers docs/analytics.md explains.
    dutch::check_stops(&dir, &found_dirty);
    let dhl = dutch::dhl(&dir);
    let (a, b) = (figures(&found_clean, &dhl), figures(&found_dirty, &dhl));
    eprintln!("stationary |error| median / p90 / max: clean {a:.3?}, dirty {b:.3?}");
    for (x, y) in a.iter().zip(&b) {
        assert!(
            (x - y).abs() <= 0.02,
            "figures moved: clean {a:?}, dirty {b:?}"
        );
    }
    // Per stop: a row left out next to a boundary moves it by a fraction of a sample
    // interval at most (~130 ms here); the stationary phases did not move at all.
    let mut moved = Vec::new();
    for c in &found_clean {
        let d = found_dirty
            .iter()
            .find(|d| d.driver == c.driver && d.lap == c.lap)
            .expect("found in both");
        let (ds, dl) = (d.stationary_s - c.stationary_s, d.pit_lane_s - c.pit_lane_s);
        if ds.abs() > 0.02 || dl.abs() > 0.02 {
            moved.push(format!(
                "{} lap {}: stationary {ds:+.3} s, pit lane {dl:+.3} s",
                c.driver, c.lap
            ));
        }
        assert!(ds.abs() <= 0.02 && dl.abs() <= 0.1, "{moved:?}");
    }
    eprintln!("stops that moved by more than 0.02 s: {moved:#?}");
    assert_eq!(ev_dirty.drive_throughs.len(), 0);
    assert!(
        ev_dirty.anomalies.is_empty(),
        "{:?}",
        &ev_dirty.anomalies[..ev_dirty.anomalies.len().min(3)]
    );
}
