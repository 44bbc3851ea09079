//! The tyre compound a car runs on, as every feed and the binary codec name it.

use serde::{Deserialize, Serialize};

/// Tyre compound fitted to the car.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compound {
    Soft,
    Medium,
    Hard,
    Intermediate,
    Wet,
}

impl Compound {
    pub const ALL: [Compound; 5] = [
        Compound::Soft,
        Compound::Medium,
        Compound::Hard,
        Compound::Intermediate,
        Compound::Wet,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Compound::Soft => "soft",
            Compound::Medium => "medium",
            Compound::Hard => "hard",
            Compound::Intermediate => "intermediate",
            Compound::Wet => "wet",
        }
    }

    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(code as usize).copied()
    }

    /// Parses a compound name in any case (`medium`, `MEDIUM` as OpenF1 and FastF1 write
    /// it, `Medium`). `Ok(None)` for the names feeds use for "not known"
    /// (`UNKNOWN`, `TEST_UNKNOWN`, `nan`, empty).
    pub fn parse(name: &str) -> Result<Option<Self>, String> {
        let lower = name.trim().to_ascii_lowercase();
        match lower.as_str() {
            "soft" => Ok(Some(Compound::Soft)),
            "medium" => Ok(Some(Compound::Medium)),
            "hard" => Ok(Some(Compound::Hard)),
            "intermediate" | "inter" => Ok(Some(Compound::Intermediate)),
            "wet" => Ok(Some(Compound::Wet)),
            "" | "unknown" | "test_unknown" | "nan" | "none" => Ok(None),
            _ => Err(format!(
                "{name:?} is not a compound (soft, medium, hard, intermediate, wet)"
            )),
        }
    }
}
