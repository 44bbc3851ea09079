//! Every port a race's objects name, in one place. The workloads' own come from the
//! contract crate the `pitstop` binary is built with.

use pitstop_contract::ports;

pub const SIMULATOR: i32 = ports::SIMULATOR as i32;
pub const PROCESSOR: i32 = ports::PROCESSOR as i32;
pub const OPERATOR: i32 = ports::OPERATOR as i32;
pub const GATEWAY: i32 = ports::GATEWAY as i32;
/// The gateway's UDP port for the game's datagrams (container side; the Service's port
/// is the spec's).
pub const GAME_UDP: i32 = ports::GAME_UDP as i32;
pub const REDIS: i32 = 6379;
pub const POSTGRES: i32 = 5432;
pub const PROMETHEUS: i32 = 9090;
pub const GRAFANA: i32 = 3000;
