//! The sensor simulator: a race model ([`race`]) published to Redis Streams ([`publisher`]).

pub mod circuit;
pub mod grid;
pub mod publisher;
pub mod race;
pub mod service;
pub mod truth;
