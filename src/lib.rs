//! skillet: a Chef-compatible convergence agent.
//!
//! The pipeline: [`repo`] reads the chef-repo, [`node`] computes attributes and expands the run
//! list, [`compile`] turns recipes into a [`resource::ResourceCollection`], [`converge`] walks it
//! with the check/apply contract, and [`report`] prints what happened.

pub mod bootstrap;
pub mod cli;
pub mod compile;
pub mod converge;
pub mod error;
pub mod kitchen;
pub mod node;
pub mod ohai;
pub mod platform;
pub mod repo;
pub mod report;
pub mod resource;
pub mod ruby;
pub mod search;
pub mod server;
pub mod template;

pub use error::{Error, Result, SourceLocation};
