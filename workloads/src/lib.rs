//! pitstop workloads: the telemetry model and codecs, the sensor simulator, the stream
//! processor (ingest, analytics, store, HTTP API) and the tooling around them.

pub mod analytics;
pub mod bench;
pub mod codec;
pub mod datastore_problem;
pub mod db;
pub mod demo;
pub mod errors;
pub mod evaluate;
pub mod feeds;
pub mod game;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod model;
pub mod processor;
pub mod redis_conn;
pub mod replay;
pub mod secrets;
pub mod sim;
pub mod stream;
pub mod util;
pub mod wording;
