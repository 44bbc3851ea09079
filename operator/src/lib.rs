//! The pitstop operator: the `RaceSession` API and the controller that reconciles it.

pub mod access;
pub mod api;
pub mod cadvisor;
pub mod children;
pub mod controller;
pub mod errors;
pub mod event;
pub mod leader;
pub mod metrics;
pub mod model;
pub mod plugin;
pub mod post_race;
pub mod reconcile;
pub mod server;
