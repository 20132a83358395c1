//! The k3rs scheduler (`default-scheduler`).
//!
//! A pure core — [`model`] (pods and nodes digested once; the snapshot updated
//! incrementally), [`filter`] and [`score`] (upstream's default plugins), [`schedule`] (one
//! cycle: filter with percentageOfNodesToScore sampling, score, select; preemption) and
//! [`queue`] (priority queue with back-off) — takes values and returns decisions, no IO.
//! [`run`] is the loop that feeds it from watches and writes the decisions through the API.

pub mod filter;
pub mod model;
pub mod queue;
pub mod resources;
pub mod run;
pub mod schedule;
pub mod score;

#[cfg(test)]
pub(crate) mod testutil;

pub use model::{NodeInfo, PodInfo, Snapshot};
pub use queue::SchedulingQueue;
pub use schedule::{FitError, Outcome, Scheduler};
