//! JSON input of `POST /telemetry`: one sample object, an array of samples, or
//! newline-delimited JSON (one object per line). Field names are those of
//! [`crate::model::Sample`]; unknown fields are rejected so typos do not pass silently.

use crate::model::{Sample, validate};

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
/// so a client never has to work out which half of its batch was stored.
pub fn parse_samples(body: &[u8], max_samples: usize) -> Result<Vec<Sample>, JsonError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let samples = match first {
        None => return Err(JsonError::Empty),
        Some(b'[') => {
            serde_json::from_slice::<Vec<Sample>>(body).map_err(|e| JsonError::Sample {
                index: 0,
                message: format!("invalid JSON array: {e}"),
            })?
        }
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
    for (index, s) in samples.iter().enumerate() {
        validate(s).map_err(|e| JsonError::Sample {
            index,
            message: e.to_string(),
        })?;
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(seq: u32) -> String {
        let s = Sample {
            session: "api".into(),
            car: 16,
            driver: "LEC".into(),
            team: "Ferrari".into(),
            seq,
            timestamp_ms: 1_725_800_000_000,
            ..Sample::default()
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

    /// Errors point at the sample and the field.
    #[test]
    fn errors_are_precise() {
        let bad = one(1).replace("\"throttle\":0.0", "\"throttle\":2.0");
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
    }

    /// A batch larger than the limit is refused, not truncated.
    #[test]
    fn sample_limit() {
        let nd = format!("{}\n{}\n{}", one(0), one(1), one(2));
        assert_eq!(
            parse_samples(nd.as_bytes(), 2),
            Err(JsonError::TooMany { count: 3, max: 2 })
        );
    }
}
