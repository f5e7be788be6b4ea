//! The properties every resource has, whatever its type.

use super::{Action, Guard, ResourceId};
use crate::error::SourceLocation;
use std::time::Duration;

/// When a notification runs, relative to the notifying action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    /// After the whole collection has converged, de-duplicated by target and action.
    Delayed,
    /// Right after the notifying action, every time.
    Immediately,
    /// Before the notifying action, if a why-run probe says it would update.
    Before,
}

impl Timing {
    /// Parses Chef's timing names (`delayed`, `immediately`/`immediate`, `before`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.strip_prefix(':').unwrap_or(s) {
            "delayed" => Some(Timing::Delayed),
            "immediately" | "immediate" => Some(Timing::Immediately),
            "before" => Some(Timing::Before),
            _ => None,
        }
    }
}

/// `notifies :action, 'type[name]', :timing` on the notifying resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub action: Action,
    pub target: ResourceId,
    pub timing: Timing,
    pub location: SourceLocation,
}

/// `subscribes :action, 'type[name]', :timing` on the resource that is notified.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub action: Action,
    pub source: ResourceId,
    pub timing: Timing,
    pub location: SourceLocation,
}

/// `ignore_failure`: `true` logs the error box and continues, `:quiet` continues silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IgnoreFailure {
    #[default]
    No,
    Yes,
    Quiet,
}

/// Common properties: actions, guards, notifications, retries, sensitivity and provenance.
#[derive(Debug, Clone)]
pub struct Common {
    /// The actions to run, in order (`action [:enable, :start]`).
    pub actions: Vec<Action>,
    pub notifies: Vec<Notification>,
    pub subscribes: Vec<Subscription>,
    /// Guards in declaration order; all `only_if` are evaluated before all `not_if`.
    pub guards: Vec<Guard>,
    pub ignore_failure: IgnoreFailure,
    /// Extra attempts after an error (`retries`), `retry_delay` apart.
    pub retries: u32,
    pub retry_delay: Duration,
    /// Hides content, diffs and command text from every output.
    pub sensitive: bool,
    /// Where the resource was declared.
    pub location: SourceLocation,
    /// The cookbook and recipe that declared it, for the `Recipe: cb::r` header.
    pub cookbook: String,
    pub recipe: String,
    /// Methods a `template` block adds to its template (`helper(:name) { ... }`).
    pub template_helpers: Vec<crate::ruby::erb::TemplateHelper>,
}

impl Common {
    /// Common properties with Chef's defaults and the given default action.
    pub fn new(default_action: Action, location: SourceLocation) -> Self {
        Self {
            actions: vec![default_action],
            notifies: Vec::new(),
            subscribes: Vec::new(),
            guards: Vec::new(),
            ignore_failure: IgnoreFailure::No,
            retries: 0,
            retry_delay: Duration::from_secs(2),
            sensitive: false,
            location,
            cookbook: String::new(),
            recipe: String::new(),
            template_helpers: Vec::new(),
        }
    }

    /// `cookbook::recipe`, as the doc formatter prints it.
    pub fn recipe_label(&self) -> String {
        format!("{}::{}", self.cookbook, self.recipe)
    }
}
