//! What a feed parser is given besides the body ([`FeedOptions`]), and how it refuses
//! one ([`FeedError`]).

use crate::codec::json::JsonError;
use crate::sim::grid::Entrant;

/// What a feed needs that it does not carry.
#[derive(Clone, Debug, Default)]
pub struct FeedOptions {
    /// Session id for feeds that do not carry ours (OpenF1 has a numeric `session_key`,
    /// FastF1 none).
    pub session: Option<String>,
    /// Time origin of feeds with relative times (FastF1 `Time`/`SessionTime` without
    /// `Date`), ms since the Unix epoch.
    pub start_ms: Option<i64>,
    /// Car number and team per driver code (FastF1 names drivers by code only); the
    /// 2025 grid when empty.
    pub grid: Vec<Entrant>,
    /// The car of a FastF1 CSV without a `Driver` column.
    pub car: Option<u8>,
}

/// A rejected feed: where and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FeedError {
    #[error(transparent)]
    Json(#[from] JsonError),
    /// A CSV data row, counted from 1 after the header, and its line in the file.
    #[error("row {row} (line {line}): {message}")]
    Row {
        row: usize,
        line: u64,
        message: String,
    },
    /// A JSON record, counted from 0 (as arrays are indexed).
    #[error("record {index}: {message}")]
    Record { index: usize, message: String },
    #[error("{0}")]
    Body(String),
}
