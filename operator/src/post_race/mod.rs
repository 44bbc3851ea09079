//! The post-race pipeline, pure: the DAG ([`dag`]: validated, with the grand-prix default)
//! and the scheduler ([`scheduler`]: from the DAG, the recorded task states and the
//! observed Jobs to the Jobs to create and the states to report). The cluster side
//! (`reconcile::post_race`) only reads Jobs, creates them and writes status: nothing
//! waits on a Job.

pub mod dag;
pub mod scheduler;

pub use dag::{Dag, DagError, Task};
