//! Children: pure functions from a validated [`Model`](crate::model::Model) to the typed
//! objects a race becomes, one file per child, [`all::build`] assembling them.
//!
//! Layers, each importing only those below it (checked by `tests/module_cycles.rs`):
//! - [`meta`] (names, labels, owner reference), [`hash`], [`ports`]: import nothing here;
//! - [`pod`] (pod-level pieces and the Deployment shapes), [`service`], [`secrets`]
//!   (generated Secrets), [`network`] (NetworkPolicies);
//! - one builder per child: [`simulator`], [`gateway`] (the F1 game's ingest gateway and
//!   its UDP Service), [`replay`] (the OpenF1 replay Job), [`processor`] (Deployment, HPA),
//!   [`datastore`] (Redis, PostgreSQL), [`cnpg`] (a CloudNativePG Cluster),
//!   [`connection`] (how the workloads reach the datastores, TLS included), [`monitoring`] (by `monitoring.mode`: the race's
//!   Prometheus and Grafana, or PodMonitors, a PrometheusRule and dashboard ConfigMaps
//!   for the cluster's; the prometheus-adapter rule), [`keda`] (its query and address
//!   from [`monitoring`]), [`post_race_jobs`] (pipeline Jobs, season report);
//! - [`all`]: every child of a race.
//!
//! Nothing here imports `reconcile`: builders never touch the cluster.

pub mod all;
pub mod cnpg;
pub mod connection;
pub mod datastore;
pub mod gateway;
pub mod hash;
pub mod keda;
pub mod meta;
pub mod monitoring;
pub mod network;
pub mod pod;
pub mod ports;
pub mod post_race_jobs;
pub mod processor;
pub mod replay;
pub mod secrets;
pub mod service;
pub mod simulator;

pub use all::{Children, build};

#[cfg(test)]
pub mod fixtures;
pub use meta::{APP, Component, MANAGED_BY};
