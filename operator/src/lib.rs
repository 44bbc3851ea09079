//! The pitstop operator: the `RaceSession` API and the controller that reconciles it.

pub mod api;
pub mod build;
pub mod model;
