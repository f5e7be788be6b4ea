//! A resource whose answers are scripted, for tests of the runner and the formatters.
//!
//! It follows the contract like any resource: `check` has no side effects besides recording
//! the call, `apply` records that it ran. The journal lists `name:action` per check (with
//! `(why-run)` in why-run) and `apply name:action` per apply.

use crate::error::{Error, Result, SourceLocation};
use crate::resource::{
    Action, Change, Common, Context, Guard, GuardCommand, GuardKind, GuardOptions, Notification,
    Plan, Resource, ResourceCollection, ResourceId, Subscription, Timing,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The calls made to scripted resources, shared between them.
#[derive(Debug, Clone, Default)]
pub struct Journal(Arc<Mutex<Vec<String>>>);

impl Journal {
    /// An empty journal.
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&self, entry: String) {
        self.0.lock().unwrap().push(entry);
    }

    /// Every entry so far.
    pub fn entries(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// Only the check entries (`name:action`).
    pub fn checks(&self) -> Vec<String> {
        self.entries()
            .into_iter()
            .filter(|e| !e.starts_with("apply "))
            .collect()
    }
}

/// A resource with scripted check results.
#[derive(Debug)]
pub struct Scripted {
    id: ResourceId,
    display_kind: String,
    common: Common,
    journal: Journal,
    changes: HashMap<Action, Vec<Change>>,
    fails_on: Vec<Action>,
    /// Attempts that fail before the action starts succeeding (for retries).
    failures_left: Mutex<u32>,
    counts_as_update: bool,
    /// Resources an action converges instead of its own check (as a custom resource's).
    nested: Vec<(Action, ResourceCollection)>,
}

impl Scripted {
    /// A resource keyed `kind[name]` running `actions`, up to date for everything.
    pub fn new(kind: &str, name: &str, actions: &[Action], journal: &Journal) -> Self {
        let mut common = Common::new(Action::Nothing, SourceLocation::file("recipe.yml"));
        common.actions = actions.to_vec();
        common.cookbook = "cb".into();
        common.recipe = "default".into();
        Self {
            id: ResourceId::new(kind, name),
            display_kind: kind.to_string(),
            common,
            journal: journal.clone(),
            changes: HashMap::new(),
            fails_on: Vec::new(),
            failures_left: Mutex::new(0),
            counts_as_update: true,
            nested: Vec::new(),
        }
    }

    /// `action` converges `resources`, as a custom resource's action does.
    pub fn with_nested(mut self, action: Action, resources: Vec<Scripted>) -> Self {
        let mut collection = ResourceCollection::new();
        for r in resources {
            collection.push(Box::new(r));
        }
        self.nested.push((action, collection));
        self
    }

    /// Prints as another type than its key.
    pub fn displayed_as(mut self, kind: &str) -> Self {
        self.display_kind = kind.to_string();
        self
    }

    /// `action` reports these changes.
    pub fn updates(mut self, action: Action, changes: Vec<Change>) -> Self {
        self.changes.insert(action, changes);
        self
    }

    /// `action` reports one change with this description.
    pub fn updates_on(self, action: Action) -> Self {
        let description = format!("{} {}", action, self.id.name);
        self.updates(action, vec![Change::new(description)])
    }

    /// `action` raises a `RuntimeError`.
    pub fn fails_on(mut self, action: Action) -> Self {
        self.fails_on.push(action);
        *self.failures_left.get_mut().unwrap() = u32::MAX;
        self
    }

    /// Every action fails `times` times, then works.
    pub fn fails_first(mut self, times: u32, action: Action) -> Self {
        self.fails_on.push(action);
        *self.failures_left.get_mut().unwrap() = times;
        self
    }

    /// `notifies action, target, timing`.
    pub fn notifies(mut self, action: Action, target: ResourceId, timing: Timing) -> Self {
        self.common.notifies.push(Notification {
            action,
            target,
            timing,
            location: SourceLocation::new("recipe.yml", 3, 5),
        });
        self
    }

    /// `subscribes action, source, timing`.
    pub fn subscribes(mut self, action: Action, source: ResourceId, timing: Timing) -> Self {
        self.common.subscribes.push(Subscription {
            action,
            source,
            timing,
            location: SourceLocation::new("recipe.yml", 3, 5),
        });
        self
    }

    /// Adds a shell guard.
    pub fn guard(mut self, kind: GuardKind, command: &str) -> Self {
        self.common.guards.push(Guard {
            kind,
            command: GuardCommand::Shell(command.to_string()),
            options: GuardOptions::default(),
            location: SourceLocation::file("recipe.yml"),
        });
        self
    }

    /// Changes the common properties.
    pub fn with_common(mut self, edit: impl FnOnce(&mut Common)) -> Self {
        edit(&mut self.common);
        self
    }

    /// Never counts as updated, like `log`.
    pub fn never_counts(mut self) -> Self {
        self.counts_as_update = false;
        self
    }
}

impl Resource for Scripted {
    fn id(&self) -> &ResourceId {
        &self.id
    }

    fn display_kind(&self) -> &str {
        &self.display_kind
    }

    fn common(&self) -> &Common {
        &self.common
    }

    fn check(&self, action: Action, cx: &mut Context) -> Result<Plan> {
        let suffix = if cx.why_run { "(why-run)" } else { "" };
        self.journal
            .push(format!("{}:{}{}", self.id.name, action, suffix));
        if self.fails_on.contains(&action) {
            let mut left = self.failures_left.lock().unwrap();
            if *left > 0 {
                *left -= 1;
                return Err(Error::resource(
                    "RuntimeError",
                    format!("{} failed to {}", self.id.name, action),
                ));
            }
        }
        let mut plan = Plan::up_to_date();
        for change in self.changes.get(&action).into_iter().flatten() {
            plan.push(change.clone());
        }
        Ok(plan)
    }

    fn apply(&self, action: Action, _plan: Plan, _cx: &mut Context) -> Result<()> {
        self.journal
            .push(format!("apply {}:{}", self.id.name, action));
        Ok(())
    }

    fn counts_as_update(&self) -> bool {
        self.counts_as_update
    }

    fn nested(&self, action: Action) -> Option<&ResourceCollection> {
        self.nested
            .iter()
            .find(|(a, _)| *a == action)
            .map(|(_, c)| c)
    }
}
