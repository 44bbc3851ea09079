//! Wire formats. The Redis path carries compact binary batches ([`binary`]); the public
//! `POST /telemetry` takes JSON ([`json`]). Both are documented in `docs/wire-format.md`.

pub mod binary;
pub mod json;

/// Why a stream entry could not be decoded. `category` is a static label for metrics and
/// dead-letter records; the `Display` text carries the detail.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("payload truncated at byte {at} (needed {needed} more)")]
    Truncated { at: usize, needed: usize },
    #[error("bad magic bytes {0:02x?}, expected \"PT\"")]
    BadMagic([u8; 2]),
    #[error("unsupported wire version {0}")]
    UnsupportedVersion(u8),
    #[error("invalid utf-8 in {0}")]
    InvalidText(&'static str),
    #[error("invalid enum code {code} for {field}")]
    InvalidEnum { field: &'static str, code: u8 },
    #[error("{0} trailing bytes after the last sample")]
    TrailingBytes(usize),
    #[error("sample {index}: {source}")]
    Invalid {
        index: usize,
        source: crate::model::ValidationError,
    },
    #[error("stream entry has no payload field")]
    MissingPayload,
    #[error("marker is not valid JSON: {0}")]
    BadMarker(String),
    #[error("presence bits {0:#x} name no channel this version knows")]
    UnknownChannels(u32),
    #[error("sequence bases {0:?} are not car:base,…")]
    BadSeqBase(String),
}

impl DecodeError {
    /// Bounded label for metrics (never a formatted message).
    /// Every value [`DecodeError::category`] returns (metrics start them at zero).
    pub const CATEGORIES: [&'static str; 11] = [
        "truncated",
        "bad_magic",
        "unsupported_version",
        "invalid_text",
        "invalid_enum",
        "trailing_bytes",
        "out_of_range",
        "missing_payload",
        "bad_marker",
        "unknown_channels",
        "bad_seq_base",
    ];

    pub fn category(&self) -> &'static str {
        match self {
            DecodeError::Truncated { .. } => "truncated",
            DecodeError::BadMagic(_) => "bad_magic",
            DecodeError::UnsupportedVersion(_) => "unsupported_version",
            DecodeError::InvalidText(_) => "invalid_text",
            DecodeError::InvalidEnum { .. } => "invalid_enum",
            DecodeError::TrailingBytes(_) => "trailing_bytes",
            DecodeError::Invalid { .. } => "out_of_range",
            DecodeError::MissingPayload => "missing_payload",
            DecodeError::BadMarker(_) => "bad_marker",
            DecodeError::UnknownChannels(_) => "unknown_channels",
            DecodeError::BadSeqBase(_) => "bad_seq_base",
        }
    }
}
