//! The post-race pipeline, pure: the DAG ([`dag`]: validated, with the grand-prix
//! default), the scheduler ([`scheduler`]: from the DAG, the recorded task states and the
//! observed Jobs to the Jobs to launch and the states to report) and the step's planner
//! ([`plan`]: the run and retry requests, then the scheduler's answer as Jobs, patches,
//! Events and metrics to carry out). The cluster side (`reconcile::post_race`) only reads
//! Jobs, creates and patches them and publishes what the planner says: nothing waits on a
//! Job.

pub mod dag;
pub mod plan;
pub mod scheduler;

pub use dag::{Dag, DagError, Task};
