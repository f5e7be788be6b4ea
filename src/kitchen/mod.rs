//! `skillet kitchen`: Test Kitchen's loop (create, converge, verify, destroy) on throwaway
//! hosts made from Linux namespaces.
//!
//! [`config`] reads kitchen.yml into instances, [`state`] keeps each instance's state between
//! commands, [`driver`] makes hosts (namespaces around an overlay root) on the [`lab`] network,
//! [`provision`] converges a host with skillet itself (with `chef_server`, against a Chef
//! server [`server`] starts in the lab), [`verify`] runs the suite's checks, and
//! [`actions`] chains them as Test Kitchen's commands do; [`report`] writes `test`'s results.
//! [`cache`] is the lab's package cache for hosts with `apt_network: cache`.

pub mod actions;
pub mod cache;
pub mod config;
pub mod driver;
pub mod lab;
pub mod located;
pub mod provision;
pub mod report;
pub mod server;
pub mod state;
pub mod stream;
pub mod verify;

pub use actions::{DestroyPolicy, InstanceOutcome, Kitchen};
pub use config::{Instance, KitchenConfig};
