//! Drivers: how a throwaway host is made, entered and destroyed.
//!
//! skillet has one, `namespace`: a host is Linux namespaces around an overlay root, made in
//! about a tenth of a second with no image and no daemon. The hidden modes `__init` (the host's
//! PID 1) and `__enter` (a command inside a host) are the skillet binary run again, because
//! `setns` and `fork` are only safe in a single-threaded process.

pub mod host_enter;
pub mod host_init;
pub mod layer;
pub mod namespace;
mod terminal;

pub use namespace::{require_root, NamespaceDriver};
