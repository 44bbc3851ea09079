//! `kubectl pitstop`: a race at a glance and its post-race pipeline from a terminal, with
//! the user's kubeconfig and RBAC (see docs/kubectl-plugin.md).
//!
//! Layers, each importing only those below it:
//! - [`error`] (what goes wrong, one line each, with an exit code), [`cli`] (arguments);
//! - [`processor`] (the processor's JSON as the plugin reads it), [`strategy`] (its
//!   `/strategy` answer), [`proxy`] (paths through the API server's service proxy and
//!   what an answer means), [`request`] (what the operator does with a run or retry
//!   annotation), [`tasks`] (task names, a task's Job and pod);
//! - [`screen`]: the status screen, a pure function of a [`screen::Snapshot`];
//! - [`cluster`]: the client from the kubeconfig and the calls, errors named by verb and
//!   resource;
//! - [`commands`]: one module per command, the only ones that both ask the cluster and
//!   decide; [`commands::run`] dispatches.

pub mod cli;
pub mod cluster;
pub mod commands;
pub mod error;
pub mod processor;
pub mod proxy;
pub mod request;
pub mod screen;
pub mod strategy;
pub mod tasks;

pub use cli::Cli;
pub use error::PluginError;
