//! [`Sample`], one car's telemetry at one instant, with its JSON rules (the reserved
//! `seq`, compound names in any case, fractional RPM) and the pit-lane status it carries.

use super::channel::{Channel, Channels};
use super::compound::Compound;
use compact_str::CompactString;
use serde::{Deserialize, Deserializer, Serialize};

/// Reads a compound name in any case (the JSON field; the derived impl is the
/// checkpoint's compact form).
fn compound<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Compound>, D::Error> {
    let Some(name) = Option::<std::borrow::Cow<'de, str>>::deserialize(d)? else {
        return Ok(None);
    };
    match Compound::parse(&name) {
        Ok(Some(c)) => Ok(Some(c)),
        Ok(None) => Err(serde::de::Error::custom(format!(
            "{name:?}: leave tyre_compound out when it is not known"
        ))),
        Err(e) => Err(serde::de::Error::custom(e)),
    }
}

/// `seq` of a sample whose JSON leaves it out: ingest numbers such samples itself. Never
/// the seq of a sample that leaves the JSON codec (it resolves it), and refused when a
/// client writes it.
pub const SEQ_ABSENT: u32 = u32::MAX;

fn seq_absent() -> u32 {
    SEQ_ABSENT
}

/// A given `seq`: any u32 but the reserved [`SEQ_ABSENT`].
fn seq_given<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    match u32::deserialize(d)? {
        SEQ_ABSENT => Err(serde::de::Error::custom(format!(
            "seq {SEQ_ABSENT} is reserved: sequence numbers go up to {}",
            SEQ_ABSENT - 1
        ))),
        n => Ok(n),
    }
}

/// Where the car is with respect to the pit lane (the F1 game's `pitStatus` 0/1/2). A
/// hint when a source sends it: pit stops are found from motion without it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PitStatus {
    #[default]
    None,
    PitLane,
    Stationary,
}

impl PitStatus {
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(PitStatus::None),
            1 => Some(PitStatus::PitLane),
            2 => Some(PitStatus::Stationary),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PitStatus::None => "none",
            PitStatus::PitLane => "pit_lane",
            PitStatus::Stationary => "stationary",
        }
    }
}

/// One telemetry sample of one car.
///
/// `seq` numbers the samples of a car within a session from 0, in the order they are
/// sent; the processor uses it to prove that every published sample was counted exactly
/// once, and to recognise a resent sample (at or below the car's highest seq) and drop
/// it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Sample {
    #[schema(value_type = String)]
    pub session: CompactString,
    pub car: u8,
    /// Time of the measurement (race clock), milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    pub speed_kph: f32,
    #[serde(default = "seq_absent", deserialize_with = "seq_given")]
    pub seq: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub driver: Option<CompactString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub team: Option<CompactString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lap: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sector: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lap_distance_m: Option<f32>,
    /// Engine speed; a fractional value (interpolated live-timing RPM) is rounded.
    #[serde(
        default,
        deserialize_with = "rpm",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<f64>)]
    pub rpm: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gear: Option<i8>,
    /// Throttle pedal, 0.0–1.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle: Option<f32>,
    /// Brake pedal, 0.0–1.0 (1.0 = pressed, for sources that only say on/off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brake: Option<f32>,
    /// DRS flap open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drs: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tyre_surface_temp_c: Option<[f32; 4]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tyre_inner_temp_c: Option<[f32; 4]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tyre_pressure_psi: Option<[f32; 4]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brake_temp_c: Option<[f32; 4]>,
    #[serde(
        default,
        deserialize_with = "compound",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub tyre_compound: Option<Compound>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tyre_age_laps: Option<u16>,
    /// Tread worn away, percent per corner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tyre_wear_pct: Option<[f32; 4]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuel_kg: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ers_store_mj: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_temp_c: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pit_status: Option<PitStatus>,
    /// Race position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u8>,
    /// Car position in the circuit's frame, metres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub z: Option<f32>,
}

/// Reads an RPM written as an integer or as a float (rounded); anything else is an error
/// naming the value.
fn rpm<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    let Some(v) = Option::<f64>::deserialize(d)? else {
        return Ok(None);
    };
    if v.is_finite() && (0.0..=65_535.0).contains(&v) {
        Ok(Some(v.round() as u16))
    } else {
        Err(serde::de::Error::custom(format!(
            "rpm: {v} is outside 0..=25000"
        )))
    }
}

impl Default for Sample {
    fn default() -> Self {
        Sample {
            session: CompactString::const_new(""),
            car: 0,
            timestamp_ms: 0,
            speed_kph: 0.0,
            seq: 0,
            driver: None,
            team: None,
            lap: None,
            sector: None,
            lap_distance_m: None,
            rpm: None,
            gear: None,
            throttle: None,
            brake: None,
            drs: None,
            tyre_surface_temp_c: None,
            tyre_inner_temp_c: None,
            tyre_pressure_psi: None,
            brake_temp_c: None,
            tyre_compound: None,
            tyre_age_laps: None,
            tyre_wear_pct: None,
            fuel_kg: None,
            ers_store_mj: None,
            engine_temp_c: None,
            pit_status: None,
            position: None,
            x: None,
            y: None,
            z: None,
        }
    }
}

/// Team of a car whose feed does not say.
pub const UNKNOWN_TEAM: &str = "unknown";

impl Sample {
    /// The driver, or the car number when the feed does not name one.
    pub fn driver_name(&self) -> CompactString {
        self.driver
            .clone()
            .unwrap_or_else(|| compact_str::format_compact!("{}", self.car))
    }

    /// The team, or [`UNKNOWN_TEAM`].
    pub fn team_name(&self) -> CompactString {
        self.team
            .clone()
            .unwrap_or(CompactString::const_new(UNKNOWN_TEAM))
    }

    /// The optional channels this sample carries.
    pub fn channels(&self) -> Channels {
        let mut c = Channels::default();
        let mut set = |ch: Channel, present: bool| {
            if present {
                c.insert(ch);
            }
        };
        set(Channel::Driver, self.driver.is_some());
        set(Channel::Team, self.team.is_some());
        set(Channel::Lap, self.lap.is_some());
        set(Channel::Sector, self.sector.is_some());
        set(Channel::LapDistance, self.lap_distance_m.is_some());
        set(Channel::Rpm, self.rpm.is_some());
        set(Channel::Gear, self.gear.is_some());
        set(Channel::Throttle, self.throttle.is_some());
        set(Channel::Brake, self.brake.is_some());
        set(Channel::Drs, self.drs.is_some());
        set(Channel::TyreSurfaceTemp, self.tyre_surface_temp_c.is_some());
        set(Channel::TyreInnerTemp, self.tyre_inner_temp_c.is_some());
        set(Channel::TyrePressure, self.tyre_pressure_psi.is_some());
        set(Channel::BrakeTemp, self.brake_temp_c.is_some());
        set(Channel::Compound, self.tyre_compound.is_some());
        set(Channel::TyreAge, self.tyre_age_laps.is_some());
        set(Channel::TyreWear, self.tyre_wear_pct.is_some());
        set(Channel::Fuel, self.fuel_kg.is_some());
        set(Channel::Ers, self.ers_store_mj.is_some());
        set(Channel::EngineTemp, self.engine_temp_c.is_some());
        set(Channel::PitStatus, self.pit_status.is_some());
        set(Channel::Position, self.position.is_some());
        set(Channel::X, self.x.is_some());
        set(Channel::Y, self.y.is_some());
        set(Channel::Z, self.z.is_some());
        c
    }
}

impl Sample {
    /// Makes channel `c` unknown (an impossible value, see [`super::clean`]).
    pub fn forget(&mut self, c: Channel) {
        match c {
            Channel::Driver => self.driver = None,
            Channel::Team => self.team = None,
            Channel::Lap => self.lap = None,
            Channel::Sector => self.sector = None,
            Channel::LapDistance => self.lap_distance_m = None,
            Channel::Rpm => self.rpm = None,
            Channel::Gear => self.gear = None,
            Channel::Throttle => self.throttle = None,
            Channel::Brake => self.brake = None,
            Channel::Drs => self.drs = None,
            Channel::TyreSurfaceTemp => self.tyre_surface_temp_c = None,
            Channel::TyreInnerTemp => self.tyre_inner_temp_c = None,
            Channel::TyrePressure => self.tyre_pressure_psi = None,
            Channel::BrakeTemp => self.brake_temp_c = None,
            Channel::Compound => self.tyre_compound = None,
            Channel::TyreAge => self.tyre_age_laps = None,
            Channel::TyreWear => self.tyre_wear_pct = None,
            Channel::Fuel => self.fuel_kg = None,
            Channel::Ers => self.ers_store_mj = None,
            Channel::EngineTemp => self.engine_temp_c = None,
            Channel::PitStatus => self.pit_status = None,
            Channel::Position => self.position = None,
            Channel::X => self.x = None,
            Channel::Y => self.y = None,
            Channel::Z => self.z = None,
        }
    }

    /// A plausible sample with every channel present (a car on a straight at Monza),
    /// for examples and tests; set the identity fields to use it.
    pub fn example() -> Sample {
        Sample {
            session: CompactString::const_new("example"),
            car: 16,
            timestamp_ms: 1_725_800_000_000,
            speed_kph: 287.1,
            seq: 0,
            driver: Some(CompactString::const_new("LEC")),
            team: Some(CompactString::const_new("Ferrari")),
            lap: Some(1),
            sector: Some(1),
            lap_distance_m: Some(120.5),
            rpm: Some(11_650),
            gear: Some(7),
            throttle: Some(1.0),
            brake: Some(0.0),
            drs: Some(false),
            tyre_surface_temp_c: Some([104.0, 106.0, 99.0, 100.0]),
            tyre_inner_temp_c: Some([101.0, 102.0, 98.0, 98.0]),
            tyre_pressure_psi: Some([24.6, 24.7, 21.4, 21.5]),
            brake_temp_c: Some([520.0, 530.0, 470.0, 480.0]),
            tyre_compound: Some(Compound::Medium),
            tyre_age_laps: Some(3),
            tyre_wear_pct: Some([6.0, 6.0, 5.0, 5.0]),
            fuel_kg: Some(88.2),
            ers_store_mj: Some(3.1),
            engine_temp_c: Some(109.4),
            pit_status: Some(PitStatus::None),
            position: Some(2),
            x: Some(-512.3),
            y: Some(1204.9),
            z: Some(12.0),
        }
    }
}
