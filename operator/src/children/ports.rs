//! Every port a race's objects name, in one place. The workloads' own come from the
//! contract crate the `pitstop` binary is built with.

use pitstop_contract::ports;

pub const SIMULATOR: i32 = ports::SIMULATOR as i32;
pub const PROCESSOR: i32 = ports::PROCESSOR as i32;
pub const OPERATOR: i32 = ports::OPERATOR as i32;
pub const REDIS: i32 = 6379;
pub const POSTGRES: i32 = 5432;
pub const PROMETHEUS: i32 = 9090;
pub const GRAFANA: i32 = 3000;
