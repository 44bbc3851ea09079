//! JSON input of `POST /telemetry` in the native shape: one sample object, an array of
//! samples, or newline-delimited JSON (one object per line). Field names are those of
//! [`crate::model::Sample`]; unknown fields are rejected so typos do not pass silently.
//! OpenF1 and FastF1 shapes are translated by [`crate::feeds`].

use crate::model::{SEQ_ABSENT, Sample, validate};
use serde::de::{DeserializeSeed, Error as _, SeqAccess, Visitor};
use std::cell::Cell;
use std::fmt;

/// A rejected payload: which sample (0-based, in body order) and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JsonError {
    #[error("body is empty")]
    Empty,
    #[error("sample {index}: {message}")]
    Sample { index: usize, message: String },
    #[error("too many samples: {count} > {max}")]
    TooMany { count: usize, max: usize },
}

/// Parses and validates a body. All-or-nothing: any invalid sample rejects the request,
/// so a client never has to work out which half of its batch was stored. Samples
/// without `seq` get 0 (see [`parse_samples_seq`] to tell).
pub fn parse_samples(body: &[u8], max_samples: usize) -> Result<Vec<Sample>, JsonError> {
    parse_samples_seq(body, max_samples).map(|(s, _)| s)
}

/// [`parse_samples`], and whether the samples give their `seq`: all of them (`true`) or
/// none (`false`, each then 0 for ingest to number). Some but not all is an error: the
/// two ways of recognising a resend cannot be mixed in one body.
pub fn parse_samples_seq(
    body: &[u8],
    max_samples: usize,
) -> Result<(Vec<Sample>, bool), JsonError> {
    let mut samples = parse_unvalidated(body, max_samples)?;
    let given = samples.first().is_some_and(|s| s.seq != SEQ_ABSENT);
    if let Some(index) = samples.iter().position(|s| (s.seq != SEQ_ABSENT) != given) {
        return Err(JsonError::Sample {
            index,
            message: format!(
                "seq is {} here but {} in sample 0: give it in every sample (resends are then recognised by it) or in none (ingest numbers them)",
                if given { "missing" } else { "given" },
                if given { "given" } else { "missing" },
            ),
        });
    }
    if !given {
        for s in &mut samples {
            s.seq = 0;
        }
    }
    validate_all(&samples)?;
    Ok((samples, given))
}

/// Parses a body without checking ranges or `seq` consistency (the feeds layer applies
/// its own policy to what comes out).
pub fn parse_unvalidated(body: &[u8], max_samples: usize) -> Result<Vec<Sample>, JsonError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let samples = match first {
        None => return Err(JsonError::Empty),
        Some(b'[') => parse_array(body, max_samples)?,
        Some(_) => {
            // One object, or NDJSON: serde_json reads a whitespace-separated sequence.
            let mut out = Vec::new();
            for (index, item) in serde_json::Deserializer::from_slice(body)
                .into_iter::<Sample>()
                .enumerate()
            {
                let sample = item.map_err(|e| JsonError::Sample {
                    index,
                    message: format!("invalid JSON: {e}"),
                })?;
                out.push(sample);
                if out.len() > max_samples {
                    break;
                }
            }
            out
        }
    };
    if samples.len() > max_samples {
        return Err(JsonError::TooMany {
            count: samples.len(),
            max: max_samples,
        });
    }
    Ok(samples)
}

/// Validates every sample, naming the first bad one.
pub fn validate_all(samples: &[Sample]) -> Result<(), JsonError> {
    for (index, s) in samples.iter().enumerate() {
        validate(s).map_err(|e| JsonError::Sample {
            index,
            message: e.to_string(),
        })?;
    }
    Ok(())
}

/// A JSON array of samples, parsed element by element so that an error names the element
/// it is in (not the array), and so that an oversized array stops early.
fn parse_array(body: &[u8], max: usize) -> Result<Vec<Sample>, JsonError> {
    let index = Cell::new(0);
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = ArraySeed { max, index: &index }
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    parsed.map_err(|e| {
        let message = e.to_string();
        match message.strip_prefix(TOO_MANY) {
            Some(_) => JsonError::TooMany {
                count: max + 1,
                max,
            },
            None => JsonError::Sample {
                index: index.get(),
                message: format!("invalid JSON: {message}"),
            },
        }
    })
}

const TOO_MANY: &str = "too many samples";

struct ArraySeed<'a> {
    max: usize,
    index: &'a Cell<usize>,
}

impl<'de> DeserializeSeed<'de> for ArraySeed<'_> {
    type Value = Vec<Sample>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ArraySeed<'_> {
    type Value = Vec<Sample>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of samples")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(self.max));
        while let Some(s) = seq.next_element::<Sample>()? {
            out.push(s);
            self.index.set(out.len());
            if out.len() > self.max {
                return Err(A::Error::custom(TOO_MANY));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(seq: u32) -> String {
        let s = Sample {
            session: "api".into(),
            car: 16,
            seq,
            timestamp_ms: 1_725_800_000_000,
            ..Sample::example()
        };
        serde_json::to_string(&s).unwrap()
    }

    /// The three accepted shapes all parse to the same samples.
    #[test]
    fn object_array_and_ndjson() {
        assert_eq!(parse_samples(one(0).as_bytes(), 10).unwrap().len(), 1);
        let array = format!("[{},{}]", one(0), one(1));
        assert_eq!(parse_samples(array.as_bytes(), 10).unwrap().len(), 2);
        let nd = format!("{}\n{}\n{}\n", one(0), one(1), one(2));
        let parsed = parse_samples(nd.as_bytes(), 10).unwrap();
        assert_eq!(parsed.iter().map(|s| s.seq).collect::<Vec<_>>(), [0, 1, 2]);
    }

    /// Only session, car, time and speed are required; absent channels stay unknown.
    #[test]
    fn minimal_sample() {
        let body = br#"{"session":"s","car":4,"timestamp_ms":1725800000000,"speed_kph":80}"#;
        let s = &parse_samples(body, 10).unwrap()[0];
        assert_eq!(s.speed_kph, 80.0);
        assert_eq!((s.rpm, s.engine_temp_c, s.lap), (None, None, None));
        let err = parse_samples(
            br#"{"session":"s","car":4,"timestamp_ms":1725800000000}"#,
            10,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("missing field `speed_kph`"), "{err}");
    }

    /// Real-world spellings: a fractional RPM is rounded, compounds in capitals are read,
    /// position comes as x/y/z.
    #[test]
    fn real_world_spellings() {
        let body = br#"{"session":"s","car":1,"timestamp_ms":1725800000000,"speed_kph":288,
            "rpm":10051.6,"tyre_compound":"MEDIUM","x":56.4,"y":391.5,"z":53.7,"lap_distance_m":-2.8e-6}"#;
        let s = &parse_samples(body, 10).unwrap()[0];
        assert_eq!(s.rpm, Some(10_052));
        assert_eq!(s.tyre_compound, Some(crate::model::Compound::Medium));
        assert_eq!((s.x, s.y, s.z), (Some(56.4), Some(391.5), Some(53.7)));
    }

    /// Errors point at the sample and the field.
    #[test]
    fn errors_are_precise() {
        let bad = one(1).replace("\"throttle\":1.0", "\"throttle\":2.0");
        let nd = format!("{}\n{}", one(0), bad);
        let err = parse_samples(nd.as_bytes(), 10).unwrap_err();
        assert_eq!(err.to_string(), "sample 1: throttle: 2 is outside 0..=1");

        let typo = one(0).replace("\"rpm\"", "\"rmp\"");
        let err = parse_samples(typo.as_bytes(), 10).unwrap_err().to_string();
        assert!(err.contains("unknown field `rmp`"), "{err}");

        assert_eq!(parse_samples(b"  \n", 10), Err(JsonError::Empty));
        assert!(matches!(
            parse_samples(b"{\"car\": ", 10),
            Err(JsonError::Sample { index: 0, .. })
        ));
        let compound = one(0).replace("\"medium\"", "\"slicks\"");
        let err = parse_samples(compound.as_bytes(), 10)
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"slicks\" is not a compound"), "{err}");
    }

    /// A malformed element of an array is reported by its index, not as "sample 0".
    #[test]
    fn array_errors_name_the_element() {
        let typo = one(2).replace("\"rpm\"", "\"rmp\"");
        let array = format!("[{},{},{}]", one(0), one(1), typo);
        match parse_samples(array.as_bytes(), 10).unwrap_err() {
            JsonError::Sample { index, message } => {
                assert_eq!(index, 2, "{message}");
                assert!(message.contains("unknown field `rmp`"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    /// A batch larger than the limit is refused, not truncated.
    #[test]
    fn sample_limit() {
        let nd = format!("{}\n{}\n{}", one(0), one(1), one(2));
        assert_eq!(
            parse_samples(nd.as_bytes(), 2),
            Err(JsonError::TooMany { count: 3, max: 2 })
        );
        let array = format!("[{},{},{}]", one(0), one(1), one(2));
        assert_eq!(
            parse_samples(array.as_bytes(), 2),
            Err(JsonError::TooMany { count: 3, max: 2 })
        );
    }
}
