//! The post-race pipeline: the DAG (validated, with the grand-prix default) and the
//! scheduler, a pure function from the DAG, the recorded task states and the observed
//! Jobs to the Jobs to create and the states to report. The reconciler
//! (`reconcile::pipeline`) only reads Jobs, creates them and writes status: nothing
//! waits on a Job.

pub mod dag;
pub mod scheduler;

pub use dag::{Dag, DagError, Task};
