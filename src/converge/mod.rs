//! The converge phase: walking the resource collection with the check/apply contract.
//!
//! [`runner`] runs each resource's actions in order with guards, notifications (immediately,
//! delayed, before), retries, `ignore_failure` and why-run, reporting every step to a
//! [`crate::report::Events`] sink. [`lock`] keeps one run per host at a time, and
//! [`exit_code`] turns the outcome of a run into Chef's process exit codes. Printing is not
//! done here: that is [`crate::report`].

pub mod exit_code;
pub mod lock;
pub mod runner;
#[cfg(test)]
#[cfg(test)]
pub(crate) mod scripted;

pub use lock::RunLock;
pub use runner::{converge, ActionRecord, ActionStatus, NotifiedBy, RunSummary, SkipReason};
