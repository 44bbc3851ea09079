//! Real feeds are dirty; one bad value must not cost the rest. What a parser could not
//! take is collected here ([`Dirt`]) instead of failing the body:
//!
//! - an impossible value of an optional channel (a gear code of 10, a throttle of 130 %,
//!   `"abc"` for an RPM) becomes *unknown* for that sample, counted per channel and
//!   reason ([`Unknown`]);
//! - a sample (row, record) whose required channel — session, car, time, speed — is
//!   unusable, or that cannot be read at all, is rejected alone, with where it is and
//!   why ([`Reject`]).
//!
//! Strict parsing (`?strict=true`, `pitstop replay --strict`) turns the first of either
//! into the error of the whole body, as every parse did before.

use super::options::FeedError;
use crate::codec::json::JsonError;
use crate::model::{Channel, ValidationError};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// Where in a body a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    /// A native sample: an array's index, or an NDJSON object's, from 0.
    Sample(usize),
    /// A CSV data row, from 1 after the header, and its line in the file.
    Row { row: usize, line: u64 },
    /// A JSON record, from 0.
    Record(usize),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Sample(i) => write!(f, "sample {i}"),
            Origin::Row { row, line } => write!(f, "row {row} (line {line})"),
            Origin::Record(i) => write!(f, "record {i}"),
        }
    }
}

impl Origin {
    /// The fields an answer names it by: `sample`, `row` and `line`, or `record`.
    pub fn fields(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        match *self {
            Origin::Sample(i) => {
                m.insert("sample".into(), i.into());
            }
            Origin::Row { row, line } => {
                m.insert("row".into(), row.into());
                m.insert("line".into(), line.into());
            }
            Origin::Record(i) => {
                m.insert("record".into(), i.into());
            }
        }
        m
    }

    /// The whole-body error strict parsing gives for a problem here.
    pub fn error(self, message: String) -> FeedError {
        match self {
            Origin::Sample(index) => JsonError::Sample { index, message }.into(),
            Origin::Row { row, line } => FeedError::Row { row, line, message },
            Origin::Record(index) => FeedError::Record { index, message },
        }
    }
}

/// Why a sample, row or record was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reject {
    /// It cannot be read: bad JSON, a wrong type, an unknown field, a broken CSV row.
    Malformed,
    /// Session, car, time or speed is missing or impossible.
    Required,
    /// It contradicts what comes before it: a lap or time going back within a driver's
    /// rows, a stint overlapping another, two different records at one instant.
    Conflict,
    /// It gives `seq` where the body's first sample does not, or the other way round.
    Numbering,
}

impl Reject {
    pub const ALL: [Reject; 4] = [
        Reject::Malformed,
        Reject::Required,
        Reject::Conflict,
        Reject::Numbering,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reject::Malformed => "malformed",
            Reject::Required => "required",
            Reject::Conflict => "conflict",
            Reject::Numbering => "numbering",
        }
    }
}

/// Why a value was made unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unknown {
    /// A number outside what the channel can be (or not finite).
    OutOfRange,
    /// Not a number, flag, date or name where one is needed.
    Unparsable,
}

impl Unknown {
    pub const ALL: [Unknown; 2] = [Unknown::OutOfRange, Unknown::Unparsable];

    pub fn as_str(self) -> &'static str {
        match self {
            Unknown::OutOfRange => "out_of_range",
            Unknown::Unparsable => "unparsable",
        }
    }

    /// The reason of a range check's error (text rules are names that cannot be).
    pub fn of(e: &ValidationError) -> Unknown {
        Unknown::of_message(&e.message)
    }

    /// The reason of a conversion's error message: every range check says "is outside";
    /// serde says "invalid value: integer" for one its type cannot hold (`gear` 200).
    pub fn of_message(message: &str) -> Unknown {
        if message.contains(" is outside ") || message.contains("invalid value: integer") {
            Unknown::OutOfRange
        } else {
            Unknown::Unparsable
        }
    }
}

/// A problem and where it is.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub at: Origin,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

/// What one parse could not take.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dirt {
    /// Samples, rows and records not taken, in the order they were met.
    pub rejected: Vec<(Problem, Reject)>,
    /// Values made unknown, by channel and reason.
    pub unknown: BTreeMap<(Channel, Unknown), u64>,
    /// Each value made unknown, where (so that only what is stored gets counted).
    pub faults: Vec<(Origin, Channel, Unknown)>,
    /// The first value made unknown of each channel, to show what it looked like.
    pub examples: BTreeMap<Channel, Problem>,
    /// The first problem of either kind (the error of a strict parse).
    pub first: Option<Problem>,
}

impl Dirt {
    pub fn reject(&mut self, at: Origin, why: Reject, message: impl Into<String>) {
        let p = Problem {
            at,
            message: message.into(),
        };
        self.first.get_or_insert_with(|| p.clone());
        self.rejected.push((p, why));
    }

    pub fn unknown(&mut self, at: Origin, c: Channel, why: Unknown, message: impl Into<String>) {
        *self.unknown.entry((c, why)).or_default() += 1;
        self.faults.push((at, c, why));
        if self.first.is_none() || !self.examples.contains_key(&c) {
            let p = Problem {
                at,
                message: message.into(),
            };
            self.first.get_or_insert_with(|| p.clone());
            self.examples.entry(c).or_insert(p);
        }
    }

    /// [`Dirt::unknown`] for a range check's error.
    pub fn invalid(&mut self, at: Origin, c: Channel, e: &ValidationError) {
        self.unknown(at, c, Unknown::of(e), e.to_string());
    }

    /// An optional value: itself when it could be read, else unknown (and recorded).
    pub fn keep<T>(
        &mut self,
        at: Origin,
        c: Channel,
        value: Result<Option<T>, String>,
    ) -> Option<T> {
        match value {
            Ok(v) => v,
            Err(message) => {
                self.unknown(at, c, Unknown::of_message(&message), message);
                None
            }
        }
    }

    pub fn is_clean(&self) -> bool {
        self.first.is_none()
    }

    /// Values made unknown in all.
    pub fn unknown_total(&self) -> u64 {
        self.unknown.values().sum()
    }

    /// Adds what another parse found (files read one after another).
    pub fn merge(&mut self, other: Dirt) {
        if self.first.is_none() {
            self.first = other.first;
        }
        self.rejected.extend(other.rejected);
        self.faults.extend(other.faults);
        for (k, n) in other.unknown {
            *self.unknown.entry(k).or_default() += n;
        }
        for (c, p) in other.examples {
            self.examples.entry(c).or_insert(p);
        }
    }

    /// The whole-body error of a strict parse, if anything was wrong.
    pub fn into_error(self) -> Option<FeedError> {
        self.first.map(|p| p.at.error(p.message))
    }

    /// Counts by channel and reason, as the API answers them:
    /// `{"gear": {"out_of_range": 570}}`.
    pub fn unknown_json(&self) -> serde_json::Value {
        let mut out = serde_json::Map::new();
        for ((c, why), n) in &self.unknown {
            let entry = out
                .entry(c.name())
                .or_insert_with(|| serde_json::Value::Object(Default::default()));
            entry[why.as_str()] = (*n).into();
        }
        out.into()
    }

    /// Rejections counted by reason.
    pub fn rejected_by_reason(&self) -> BTreeMap<&'static str, u64> {
        let mut out = BTreeMap::new();
        for (_, why) in &self.rejected {
            *out.entry(why.as_str()).or_default() += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first problem of either kind is the strict error; counts add up per channel.
    #[test]
    fn collects_and_reports() {
        let mut d = Dirt::default();
        assert!(d.is_clean());
        let row = |row: usize| Origin::Row {
            row,
            line: row as u64 + 1,
        };
        d.unknown(
            row(3),
            Channel::Gear,
            Unknown::OutOfRange,
            "nGear: 10 is outside 0..=8",
        );
        d.unknown(
            row(4),
            Channel::Gear,
            Unknown::OutOfRange,
            "nGear: 12 is outside 0..=8",
        );
        d.reject(row(5), Reject::Required, "Speed is empty or NaN");
        assert_eq!(d.unknown_total(), 2);
        assert_eq!(
            d.unknown_json(),
            serde_json::json!({"gear": {"out_of_range": 2}})
        );
        assert_eq!(
            d.examples[&Channel::Gear].to_string(),
            "row 3 (line 4): nGear: 10 is outside 0..=8"
        );
        assert_eq!(
            d.clone().into_error().unwrap().to_string(),
            "row 3 (line 4): nGear: 10 is outside 0..=8"
        );
        let kept: Option<u8> = d.keep(
            row(6),
            Channel::Rpm,
            Err("RPM: \"x\" is not a number".into()),
        );
        assert_eq!(kept, None);
        assert_eq!(d.unknown[&(Channel::Rpm, Unknown::Unparsable)], 1);
        assert_eq!(d.rejected_by_reason(), BTreeMap::from([("required", 1)]));
    }
}
