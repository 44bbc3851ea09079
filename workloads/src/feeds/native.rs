//! Native samples (an object, an array, NDJSON) under the dirty-data policy: a sample
//! that cannot be read, or lacks a usable session, car, time or speed, is rejected
//! alone; an impossible optional value becomes unknown. The JSON shape itself is
//! [`crate::codec::json`]'s.

use super::dirt::{Dirt, Origin, Reject};
use super::options::FeedError;
use crate::codec::json::{JsonError, parse_unvalidated};
use crate::model::{Channel, SEQ_ABSENT, Sample, clean};
use serde::Deserialize;
use serde_json::Value;

/// The body's samples that can be taken, with their index, and whether they give
/// `seq`. Body-level problems (empty, too many, not JSON at all) are errors.
pub fn parse(
    body: &[u8],
    max: usize,
    dirt: &mut Dirt,
) -> Result<(Vec<(Origin, Sample)>, bool), FeedError> {
    // Every sample readable is the common case: one pass, as a strict parse does.
    let read: Vec<Result<Read, String>> = match parse_unvalidated(body, max) {
        Ok(samples) => samples.into_iter().map(|s| Ok((s, Vec::new()))).collect(),
        Err(JsonError::Sample { .. }) => one_by_one(body, max)?
            .into_iter()
            .map(|v| v.and_then(salvage))
            .collect(),
        Err(e) => return Err(e.into()),
    };
    let given = read
        .iter()
        .find_map(|r| r.as_ref().ok())
        .is_some_and(|(s, _)| s.seq != SEQ_ABSENT);
    let mut out = Vec::with_capacity(read.len());
    for (i, r) in read.into_iter().enumerate() {
        let at = Origin::Sample(i);
        let mut s = match r {
            Ok((s, unreadable)) => {
                for (c, message) in unreadable {
                    dirt.keep::<()>(at, c, Err(message));
                }
                s
            }
            Err(e) => {
                // A missing session, car, time or speed is the required-channel case.
                let why = if e.starts_with("missing field") {
                    Reject::Required
                } else {
                    Reject::Malformed
                };
                dirt.reject(at, why, format!("invalid JSON: {e}"));
                continue;
            }
        };
        if (s.seq != SEQ_ABSENT) != given {
            dirt.reject(
                at,
                Reject::Numbering,
                format!(
                    "seq is {} here but {} in the first sample: give it in every sample (resends are then recognised by it) or in none (ingest numbers them)",
                    if given { "missing" } else { "given" },
                    if given { "given" } else { "missing" },
                ),
            );
            continue;
        }
        if !given {
            s.seq = 0;
        }
        match clean(&mut s, |c, e| dirt.invalid(at, c, &e)) {
            Ok(()) => out.push((at, s)),
            Err(e) => dirt.reject(at, Reject::Required, e.to_string()),
        }
    }
    Ok((out, given))
}

/// A sample read, with the optional channels that could not be read (made unknown).
type Read = (Sample, Vec<(Channel, String)>);

/// A sample that did not read as a whole: each optional channel whose value cannot be
/// that channel (a string for a number, a lap past 65,535) is left out, to be made
/// unknown, and the rest is read again; what still fails is the sample's own error.
fn salvage(mut v: Value) -> Result<Read, String> {
    let whole = match Sample::deserialize(&v) {
        Ok(s) => return Ok((s, Vec::new())),
        Err(e) => e.to_string(),
    };
    let Some(fields) = v.as_object_mut() else {
        return Err(whole);
    };
    let mut unreadable = Vec::new();
    for c in Channel::ALL {
        if let Some(value) = fields.get(c.name())
            && let Err(e) = alone(c, value)
        {
            unreadable.push((c, format!("{}: {e}", c.name())));
            fields.remove(c.name());
        }
    }
    if unreadable.is_empty() {
        return Err(whole);
    }
    Sample::deserialize(&v)
        .map(|s| (s, unreadable))
        .map_err(|e| e.to_string())
}

/// Whether `value` reads as channel `c`, in a sample with nothing else optional.
fn alone(c: Channel, value: &Value) -> Result<(), serde_json::Error> {
    let mut probe =
        serde_json::json!({"session": "s", "car": 1, "timestamp_ms": 0, "speed_kph": 0.0});
    probe[c.name()] = value.clone();
    Sample::deserialize(probe).map(|_| ())
}

/// Each element (array) or line (NDJSON) read on its own, so that one bad sample does
/// not hide the others. A body that is not JSON as a whole is an error.
fn one_by_one(body: &[u8], max: usize) -> Result<Vec<Result<Value, String>>, FeedError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let items: Vec<Result<Value, String>> = if first == Some(&b'[') {
        let all: Vec<Value> = serde_json::from_slice(body)
            .map_err(|e| FeedError::Body(format!("invalid JSON: {e}")))?;
        all.into_iter().map(Ok).collect()
    } else {
        body.split(|b| *b == b'\n')
            .filter(|line| line.iter().any(|b| !b.is_ascii_whitespace()))
            .map(|line| serde_json::from_slice(line).map_err(|e| e.to_string()))
            .collect()
    };
    if items.len() > max {
        return Err(JsonError::TooMany {
            count: items.len(),
            max,
        }
        .into());
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(seq: u32) -> String {
        serde_json::to_string(&Sample {
            session: "api".into(),
            car: 16,
            seq,
            timestamp_ms: 1_725_800_000_000 + seq as i64,
            ..Sample::example()
        })
        .unwrap()
    }

    /// One malformed sample, one without speed, one impossible gear: the rest are taken,
    /// the gear becomes unknown, and each problem is named by its index.
    #[test]
    fn a_bad_sample_costs_only_itself() {
        let typo = one(1).replace("\"rpm\"", "\"rmp\"");
        let no_speed = one(2).replace("\"speed_kph\":287.1,", "");
        let gear = one(3).replace("\"gear\":7", "\"gear\":12");
        for body in [
            format!("[{},{typo},{no_speed},{gear},{}]", one(0), one(4)),
            format!("{}\n{typo}\n{no_speed}\n{gear}\n{}\n", one(0), one(4)),
        ] {
            let mut dirt = Dirt::default();
            let (taken, given) = parse(body.as_bytes(), 100, &mut dirt).unwrap();
            assert!(given);
            let seqs: Vec<u32> = taken.iter().map(|(_, s)| s.seq).collect();
            assert_eq!(seqs, [0, 3, 4]);
            assert_eq!(taken[1].1.gear, None, "the impossible gear is unknown");
            assert_eq!(
                taken[1].1.rpm,
                Some(11_650),
                "the rest of that sample stays"
            );
            let rejected: Vec<(String, &str)> = dirt
                .rejected
                .iter()
                .map(|(p, why)| (p.at.to_string(), why.as_str()))
                .collect();
            assert_eq!(
                rejected,
                [
                    ("sample 1".to_owned(), "malformed"),
                    ("sample 2".to_owned(), "required")
                ]
            );
            assert!(dirt.rejected[0].0.message.contains("unknown field `rmp`"));
            assert!(dirt.rejected[1].0.message.contains("speed_kph"));
            assert_eq!(dirt.unknown_total(), 1);
            assert_eq!(
                dirt.examples[&Channel::Gear].to_string(),
                "sample 3: gear: 12 is outside -1..=8"
            );
        }
    }

    /// An optional value of the wrong type (text for a number, a lap past u16, three
    /// tyres of four) is unknown, as an impossible one is: the sample stays. One that
    /// is rejected anyway (no speed) counts no unknown value.
    #[test]
    fn an_optional_value_of_the_wrong_type_is_unknown_not_the_sample() {
        let rpm = one(1).replace("\"rpm\":11650", "\"rpm\":\"high\"");
        let lap = one(2).replace("\"lap\":1,", "\"lap\":70000,");
        let tyres = one(3).replace("[104.0,106.0,99.0,100.0]", "[90,91,92]");
        let both = one(4)
            .replace("\"rpm\":11650", "\"rpm\":\"high\"")
            .replace("\"speed_kph\":287.1,", "");
        assert!(rpm.contains("\"high\"") && lap.contains("70000") && tyres.contains("[90,"));
        assert!(both.contains("high") && !both.contains("speed"));
        let body = format!("{}\n{rpm}\n{lap}\n{tyres}\n{both}\n{}", one(0), one(5));
        let mut dirt = Dirt::default();
        let (taken, _) = parse(body.as_bytes(), 100, &mut dirt).unwrap();
        let seqs: Vec<u32> = taken.iter().map(|(_, s)| s.seq).collect();
        assert_eq!(seqs, [0, 1, 2, 3, 5]);
        assert_eq!((taken[1].1.rpm, taken[1].1.gear), (None, Some(7)));
        assert_eq!((taken[2].1.lap, taken[2].1.rpm), (None, Some(11_650)));
        assert_eq!(taken[3].1.tyre_surface_temp_c, None);
        assert_eq!(dirt.unknown_total(), 3);
        for (c, says) in [
            (Channel::Rpm, "sample 1: rpm: invalid type: string \"high\""),
            (
                Channel::Lap,
                "sample 2: lap: invalid value: integer `70000`",
            ),
            (
                Channel::TyreSurfaceTemp,
                "sample 3: tyre_surface_temp_c: invalid length 3",
            ),
        ] {
            let example = dirt.examples[&c].to_string();
            assert!(example.starts_with(says), "{example}");
        }
        let rejected: Vec<(String, &str)> = dirt
            .rejected
            .iter()
            .map(|(p, why)| (p.at.to_string(), why.as_str()))
            .collect();
        assert_eq!(rejected, [("sample 4".to_owned(), "required")]);
    }

    /// An out-of-range required value rejects the sample (not the body); the strict
    /// error is the first problem, as the all-or-nothing parse gave it.
    #[test]
    fn required_values_reject_the_sample() {
        let fast = one(1).replace("\"speed_kph\":287.1", "\"speed_kph\":900");
        let body = format!("{}\n{fast}\n{}", one(0), one(2));
        let mut dirt = Dirt::default();
        let (taken, _) = parse(body.as_bytes(), 100, &mut dirt).unwrap();
        assert_eq!(taken.len(), 2);
        assert_eq!(
            dirt.into_error().unwrap().to_string(),
            "sample 1: speed_kph: 900 is outside 0..=500"
        );
    }

    /// Not JSON at all, or too many samples: the body is refused.
    #[test]
    fn body_level_problems_stay_errors() {
        let mut dirt = Dirt::default();
        assert!(parse(b"[{\"car\": ", 10, &mut dirt).is_err());
        let body = format!("{}\n{}\n{}", one(0), one(1), one(2));
        assert!(matches!(
            parse(body.as_bytes(), 2, &mut dirt),
            Err(FeedError::Json(JsonError::TooMany { .. }))
        ));
    }
}
