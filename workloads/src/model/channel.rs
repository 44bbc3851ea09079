//! The optional channels of a [`Sample`](super::Sample) as bits: the binary codec's
//! presence bits, and the per-car record of what a feed sends (`channels` in the API), so
//! an analytic that needs a channel can say that it skipped a car for lack of it.

use serde::{Serialize, Serializer};

/// One optional channel. The discriminant is its bit in [`Channels`] and in the binary
/// codec's presence word: never renumber, only append.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Channel {
    Driver = 0,
    Team = 1,
    Lap = 2,
    Sector = 3,
    LapDistance = 4,
    Rpm = 5,
    Gear = 6,
    Throttle = 7,
    Brake = 8,
    Drs = 9,
    TyreSurfaceTemp = 10,
    TyreInnerTemp = 11,
    TyrePressure = 12,
    BrakeTemp = 13,
    Compound = 14,
    TyreAge = 15,
    TyreWear = 16,
    Fuel = 17,
    Ers = 18,
    EngineTemp = 19,
    PitStatus = 20,
    Position = 21,
    X = 22,
    Y = 23,
    Z = 24,
}

impl Channel {
    pub const ALL: [Channel; 25] = [
        Channel::Driver,
        Channel::Team,
        Channel::Lap,
        Channel::Sector,
        Channel::LapDistance,
        Channel::Rpm,
        Channel::Gear,
        Channel::Throttle,
        Channel::Brake,
        Channel::Drs,
        Channel::TyreSurfaceTemp,
        Channel::TyreInnerTemp,
        Channel::TyrePressure,
        Channel::BrakeTemp,
        Channel::Compound,
        Channel::TyreAge,
        Channel::TyreWear,
        Channel::Fuel,
        Channel::Ers,
        Channel::EngineTemp,
        Channel::PitStatus,
        Channel::Position,
        Channel::X,
        Channel::Y,
        Channel::Z,
    ];

    /// The JSON field name.
    pub fn name(self) -> &'static str {
        match self {
            Channel::Driver => "driver",
            Channel::Team => "team",
            Channel::Lap => "lap",
            Channel::Sector => "sector",
            Channel::LapDistance => "lap_distance_m",
            Channel::Rpm => "rpm",
            Channel::Gear => "gear",
            Channel::Throttle => "throttle",
            Channel::Brake => "brake",
            Channel::Drs => "drs",
            Channel::TyreSurfaceTemp => "tyre_surface_temp_c",
            Channel::TyreInnerTemp => "tyre_inner_temp_c",
            Channel::TyrePressure => "tyre_pressure_psi",
            Channel::BrakeTemp => "brake_temp_c",
            Channel::Compound => "tyre_compound",
            Channel::TyreAge => "tyre_age_laps",
            Channel::TyreWear => "tyre_wear_pct",
            Channel::Fuel => "fuel_kg",
            Channel::Ers => "ers_store_mj",
            Channel::EngineTemp => "engine_temp_c",
            Channel::PitStatus => "pit_status",
            Channel::Position => "position",
            Channel::X => "x",
            Channel::Y => "y",
            Channel::Z => "z",
        }
    }

    pub fn bit(self) -> u32 {
        1 << self as u8
    }
}

/// A set of channels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Channels(pub u32);

impl Channels {
    /// Every bit a [`Channel`] uses; the codec refuses any other.
    pub const KNOWN: u32 = (1 << Channel::ALL.len()) - 1;

    pub fn insert(&mut self, c: Channel) {
        self.0 |= c.bit();
    }

    pub fn contains(self, c: Channel) -> bool {
        self.0 & c.bit() != 0
    }

    pub fn union(self, other: Channels) -> Channels {
        Channels(self.0 | other.0)
    }

    /// Channel names in bit order.
    pub fn names(self) -> Vec<&'static str> {
        Channel::ALL
            .iter()
            .filter(|c| self.contains(**c))
            .map(|c| c.name())
            .collect()
    }
}

impl Serialize for Channels {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.names().serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bits are the discriminants, dense from 0: the codec's presence word depends on it.
    #[test]
    fn bits_are_dense_and_stable() {
        for (i, c) in Channel::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i, "{c:?}");
        }
        assert_eq!(Channels::KNOWN, 0x01ff_ffff);
        let mut set = Channels::default();
        set.insert(Channel::Rpm);
        set.insert(Channel::X);
        assert_eq!(set.names(), ["rpm", "x"]);
    }
}
