//! Resources: what a recipe declares, and the check/apply contract every type follows.
//!
//! A resource answers one question without side effects (`check`: what would this action
//! change?), then acts on the answer (`apply`). why-run prints the plan and stops; a real run
//! prints and applies the same plan, so a dry run never lies. One file per resource type; the
//! platform details (how a file is written atomically, how a command is spawned) live in
//! `crate::platform`.

mod action;
pub mod apt_update;
pub mod build;
pub mod collection;
pub mod common;
pub mod context;
pub mod cookbook_file;
pub mod cron;
pub mod cron_d;
pub mod custom;
pub mod directory;
pub mod dpkg_package;
pub mod execute;
pub mod file;
pub mod group;
pub mod guard;
pub mod lazy;
pub mod link;
pub mod log;
pub mod package;
pub mod plan;
pub mod properties;
pub mod service;
pub mod sysctl;
pub mod template;
#[cfg(test)]
mod testing;
pub mod user;

pub use action::{Action, UnknownAction};
pub use collection::ResourceCollection;
pub use common::{Common, IgnoreFailure, Notification, Subscription, Timing};
pub use context::Context;
pub use guard::{Guard, GuardCommand, GuardKind, GuardOptions};
pub use plan::{Change, Plan};

use crate::error::Result;
use std::fmt;

/// The identity of a resource: its declared type and name, `service[nginx]`.
///
/// Notifications address resources by this key; on Debian a `package` prints as `apt_package`
/// but is still found as `package[x]` (see [`Resource::display_kind`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceId {
    pub kind: String,
    pub name: String,
}

impl ResourceId {
    /// A resource id from its type and name.
    pub fn new(kind: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            name: name.into(),
        }
    }

    /// Parses Chef's `type[name]` reference syntax; `None` if it is not of that shape.
    pub fn parse(reference: &str) -> Option<Self> {
        let open = reference.find('[')?;
        let inner = reference[open + 1..].strip_suffix(']')?;
        let kind = reference[..open].trim();
        if kind.is_empty() || !kind.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return None;
        }
        Some(Self::new(kind, inner))
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.kind, self.name)
    }
}

/// A resource in the collection.
///
/// Implementors are plain data built at compile time plus these functions. `check` must not
/// change the host; `apply` is never called in why-run; after a successful `apply`, `check`
/// for the same action must return an empty plan (idempotence).
pub trait Resource: fmt::Debug + Send {
    /// Declared type and name, the key notifications use.
    fn id(&self) -> &ResourceId;

    /// The type as printed in output (`apt_package` for a `package` on Debian).
    fn display_kind(&self) -> &str {
        &self.id().kind
    }

    /// The properties every resource has: actions, guards, notifications, retries...
    fn common(&self) -> &Common;

    /// What `action` would change on this host; an empty plan means up to date.
    fn check(&self, action: Action, cx: &mut Context) -> Result<Plan>;

    /// Carries out a non-empty plan made by `check` for the same action. Not called in why-run
    /// unless [`Resource::whyrun_safe`].
    fn apply(&self, action: Action, plan: Plan, cx: &mut Context) -> Result<()>;

    /// Whether an applied change counts as "updated" (fires notifications, counts in N/M).
    /// `log` says no, as Chef does by default.
    fn counts_as_update(&self) -> bool {
        true
    }

    /// Whether `apply` also runs in why-run because it changes nothing on the host (`log`
    /// prints its message either way, as Chef's does).
    fn whyrun_safe(&self) -> bool {
        false
    }

    /// Options that string guards of this resource inherit (execute passes its cwd,
    /// environment, user, group and umask to its guards).
    fn guard_defaults(&self) -> GuardOptions {
        GuardOptions::default()
    }

    /// The resources an action converges instead of `check`/`apply` (a custom resource's
    /// action, compiled from its body).
    fn nested(&self, _action: Action) -> Option<&ResourceCollection> {
        None
    }

    /// This resource as a custom resource, if it is one.
    fn custom(&self) -> Option<&custom::CustomResource> {
        None
    }

    /// This resource as a custom resource, to attach its compiled actions.
    fn custom_mut(&mut self) -> Option<&mut custom::CustomResource> {
        None
    }
}
