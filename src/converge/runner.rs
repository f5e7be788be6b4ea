//! The runner: Chef's converge loop.
//!
//! Notification targets are resolved first (a `notifies` naming a missing resource stops the
//! run before anything changes; a `subscribes` to a missing source is ignored). Then every
//! resource runs its actions in order. Per action: `:nothing` is skipped without evaluating
//! guards; all `only_if` guards run before all `not_if` guards and the first that says no
//! skips the action; otherwise `check` makes a plan, and a non-empty plan is applied (not in
//! why-run, where it is only reported). An action that updated fires its immediate
//! notifications at once and queues its delayed ones; `:before` notifications fire when a
//! forced why-run probe of the action says it would update. The delayed queue runs at the end,
//! also after a failure, as Chef's runner does.

use crate::error::{Error, Result};
use crate::report::{resource_label, Events};
use crate::resource::{
    Action, Change, Context, GuardKind, IgnoreFailure, Resource, ResourceCollection, ResourceId,
    Timing,
};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Immediate notifications nest; a cycle of resources that always update would recurse
/// forever (Chef dies with `SystemStackError`), so the depth is bounded.
const MAX_NOTIFICATION_DEPTH: usize = 100;

/// Why an action did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// The action was `:nothing`.
    ActionNothing,
    /// An `only_if` guard failed.
    OnlyIf,
    /// A `not_if` guard succeeded.
    NotIf,
}

impl SkipReason {
    /// The words after `skipped due to` in the doc formatter.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::ActionNothing => "action :nothing",
            SkipReason::OnlyIf => "only_if",
            SkipReason::NotIf => "not_if",
        }
    }
}

/// The resource whose notification made an action run, and how it was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifiedBy {
    /// The notifying resource, by its declared `type[name]`.
    pub resource: ResourceId,
    /// `:delayed`, `:immediately` or `:before`.
    pub timing: Timing,
}

/// How one action execution ended.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionStatus {
    /// The action changed something (in why-run: would have).
    Updated {
        /// The changes in Chef's words; diffs are dropped for sensitive resources.
        changes: Vec<Change>,
    },
    /// Nothing to change.
    UpToDate,
    /// Not run, because of `:nothing` or a guard.
    Skipped(SkipReason),
    /// The action raised an error.
    Failed {
        /// The Chef exception class.
        class: &'static str,
        /// The error text.
        message: String,
        /// Whether `ignore_failure` let the run continue.
        ignored: IgnoreFailure,
    },
}

/// One execution of one action of one resource.
#[derive(Debug, Clone)]
pub struct ActionRecord {
    /// The declared `type[name]`.
    pub resource: ResourceId,
    /// The type as printed (`apt_package` for a `package`).
    pub display_kind: String,
    /// The action that ran.
    pub action: Action,
    /// How it ended.
    pub status: ActionStatus,
    /// True when the action ran in why-run (a why-run run, or a `:before` probe).
    pub why_run: bool,
    /// The resource hides content, diffs and commands.
    pub sensitive: bool,
    /// Wall time of the action, guards and retries included.
    pub duration: Duration,
    /// Set when a notification made the action run.
    pub notified_by: Option<NotifiedBy>,
}

/// What a converge did.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    /// Action executions that updated (would update, in why-run).
    pub updated: usize,
    /// Action executions that updated, were up to date or were skipped (Chef's N/M "M").
    pub total: usize,
    /// Wall time of the converge phase.
    pub elapsed: Duration,
    /// The run was a why-run.
    pub why_run: bool,
    /// Every action execution in order.
    pub records: Vec<ActionRecord>,
}

impl RunSummary {
    fn from_records(records: Vec<ActionRecord>, elapsed: Duration, why_run: bool) -> Self {
        let updated = records
            .iter()
            .filter(|r| matches!(r.status, ActionStatus::Updated { .. }))
            .count();
        let total = records
            .iter()
            .filter(|r| !matches!(r.status, ActionStatus::Failed { .. }))
            .count();
        Self {
            updated,
            total,
            elapsed,
            why_run,
            records,
        }
    }
}

/// Converges the collection, reporting every step to `events`.
///
/// why-run is taken from `cx.why_run`. Emits `converge_started` first and
/// `converge_completed` or `converge_failed` last. The summary is complete even when the
/// run failed. One failure is returned as it is; several (a failure and failures of
/// delayed notifications) as [`Error::Multiple`].
pub fn converge(
    collection: &ResourceCollection,
    cx: &mut Context,
    events: &mut dyn Events,
) -> (RunSummary, Result<()>) {
    let started = Instant::now();
    let why_run = cx.why_run;
    events.converge_started(collection.len());
    let mut runner = Runner {
        collection,
        cx,
        events: &mut *events,
        table: HashMap::new(),
        delayed: Vec::new(),
        records: Vec::new(),
        depth: 0,
        ancestors: Vec::new(),
    };
    let mut failures = Vec::new();
    if let Err(error) = runner.walk() {
        failures.push(error);
    }
    runner.run_delayed(&mut failures);
    let records = std::mem::take(&mut runner.records);
    drop(runner);
    let summary = RunSummary::from_records(records, started.elapsed(), why_run);
    let result = combine(failures);
    match &result {
        Ok(()) => events.converge_completed(&summary),
        Err(error) => events.converge_failed(&summary, error),
    }
    (summary, result)
}

/// Chef's `MultipleFailures#raise!`: nothing, the one failure as is, or all of them.
fn combine(mut failures: Vec<Error>) -> Result<()> {
    match failures.len() {
        0 => Ok(()),
        1 => Err(failures.remove(0)),
        _ => Err(Error::Multiple(failures)),
    }
}

/// A notification with its target found in the collection.
#[derive(Debug, Clone, Copy)]
struct Resolved<'a> {
    target: &'a dyn Resource,
    action: Action,
    timing: Timing,
}

/// A delayed notification waiting for the end of the run.
#[derive(Debug, Clone)]
struct Queued<'a> {
    target: &'a dyn Resource,
    action: Action,
    notifier: ResourceId,
}

/// Notifications by notifying resource id. Chef keys them by `type[name]`, so two
/// resources declared with the same id share their notifications.
type NotificationTable<'a> = HashMap<ResourceId, Vec<Resolved<'a>>>;

/// Builds the notification table in compile order: a resource's `notifies` and the
/// `subscribes` naming it are queued in the order they were declared. A target not in
/// `collection` is looked up in `ancestors`, nearest first (a custom resource's sub-resources
/// may notify the resources around it, as Chef's child run contexts do).
fn resolve_notifications<'a>(
    collection: &'a ResourceCollection,
    ancestors: &[&'a ResourceCollection],
) -> Result<NotificationTable<'a>> {
    let mut table = NotificationTable::new();
    for (index, resource) in collection.iter().enumerate() {
        let common = resource.common();
        for notification in &common.notifies {
            let target = std::iter::once(collection)
                .chain(ancestors.iter().copied())
                .find_map(|c| c.find(&notification.target).and_then(|i| c.get(i)))
                .ok_or_else(|| missing_target(resource, notification))?;
            table
                .entry(resource.id().clone())
                .or_default()
                .push(Resolved {
                    target,
                    action: notification.action,
                    timing: notification.timing,
                });
        }
        for subscription in &common.subscribes {
            // Chef ignores a subscription to a resource that was never declared.
            if collection.find(&subscription.source).is_some() {
                let Some(target) = collection.get(index) else {
                    continue;
                };
                table
                    .entry(subscription.source.clone())
                    .or_default()
                    .push(Resolved {
                        target,
                        action: subscription.action,
                        timing: subscription.timing,
                    });
            }
        }
    }
    Ok(table)
}

fn missing_target(resource: &dyn Resource, notification: &crate::resource::Notification) -> Error {
    let notifier = resource_label(resource);
    let target = &notification.target;
    Error::compile_as(
        "Chef::Exceptions::ResourceNotFound",
        notification.location.clone(),
        format!(
            "resource {notifier} is configured to notify resource {target} with action {}, \
             but {target} cannot be found in the resource collection. {notifier} is defined in {}",
            notification.action,
            resource.common().location
        ),
    )
}

/// What one attempt at an action found.
enum Outcome {
    Skipped(SkipReason),
    UpToDate,
    Updated(Vec<Change>),
}

struct Runner<'a, 'c> {
    collection: &'a ResourceCollection,
    cx: &'c mut Context,
    events: &'c mut dyn Events,
    table: NotificationTable<'a>,
    delayed: Vec<Queued<'a>>,
    records: Vec<ActionRecord>,
    depth: usize,
    /// The collections around this one, nearest first (empty for the run's own collection).
    ancestors: Vec<&'a ResourceCollection>,
}

impl<'a> Runner<'a, '_> {
    /// Resolves notifications, then runs every action of every resource in order; stops at
    /// the first failure.
    fn walk(&mut self) -> Result<()> {
        self.table = resolve_notifications(self.collection, &self.ancestors)?;
        let collection = self.collection;
        for resource in collection.iter() {
            for &action in &resource.common().actions {
                self.run_action(resource, action, None)?;
            }
        }
        Ok(())
    }

    /// Runs the delayed queue to its end, including entries added while it runs; a failure
    /// does not stop the entries after it.
    fn run_delayed(&mut self, failures: &mut Vec<Error>) {
        if self.delayed.is_empty() {
            return;
        }
        self.events
            .delayed_notifications_started(self.delayed.len());
        let mut next = 0;
        while let Some(queued) = self.delayed.get(next).cloned() {
            next += 1;
            let notified_by = NotifiedBy {
                resource: queued.notifier,
                timing: Timing::Delayed,
            };
            if let Err(error) = self.run_action(queued.target, queued.action, Some(notified_by)) {
                failures.push(error);
            }
        }
    }

    /// Chef's `Runner#run_action`: the `:before` probe, the action, then its notifications.
    fn run_action(
        &mut self,
        resource: &'a dyn Resource,
        action: Action,
        notified_by: Option<NotifiedBy>,
    ) -> Result<()> {
        if self.depth >= MAX_NOTIFICATION_DEPTH {
            return Err(Error::resource(
                "SystemStackError",
                format!(
                    "stack level too deep: immediate notifications loop through {}",
                    resource_label(resource)
                ),
            ));
        }
        self.depth += 1;
        let result = self.run_action_with_notifications(resource, action, notified_by);
        self.depth -= 1;
        result
    }

    fn run_action_with_notifications(
        &mut self,
        resource: &'a dyn Resource,
        action: Action,
        notified_by: Option<NotifiedBy>,
    ) -> Result<()> {
        let notifications = self.table.get(resource.id()).cloned().unwrap_or_default();
        let sent_by = |timing| NotifiedBy {
            resource: resource.id().clone(),
            timing,
        };
        let before: Vec<&Resolved> = notifications
            .iter()
            .filter(|n| n.timing == Timing::Before)
            .collect();
        if !before.is_empty() && self.probe(resource, action, notified_by.clone())? {
            for n in before {
                self.run_action(n.target, n.action, Some(sent_by(Timing::Before)))?;
            }
        }
        if !self.execute(resource, action, notified_by)? {
            return Ok(());
        }
        for n in notifications
            .iter()
            .filter(|n| n.timing == Timing::Immediately)
        {
            self.run_action(n.target, n.action, Some(sent_by(Timing::Immediately)))?;
        }
        for n in notifications.iter().filter(|n| n.timing == Timing::Delayed) {
            self.enqueue(n, resource.id());
        }
        Ok(())
    }

    /// Queues a delayed notification unless the same target and action were queued before
    /// (entries that already ran still count).
    fn enqueue(&mut self, notification: &Resolved<'a>, notifier: &ResourceId) {
        let duplicate = self.delayed.iter().any(|q| {
            std::ptr::addr_eq(q.target, notification.target) && q.action == notification.action
        });
        if !duplicate {
            self.delayed.push(Queued {
                target: notification.target,
                action: notification.action,
                notifier: notifier.clone(),
            });
        }
    }

    /// Runs the action in forced why-run; true when it would update.
    fn probe(
        &mut self,
        resource: &'a dyn Resource,
        action: Action,
        notified_by: Option<NotifiedBy>,
    ) -> Result<bool> {
        let saved = self.cx.why_run;
        self.cx.why_run = true;
        let result = self.execute(resource, action, notified_by);
        self.cx.why_run = saved;
        result
    }

    /// Chef's `Resource#run_action`: one action with retries and `ignore_failure`, reported
    /// to the events sink and recorded. True when the resource was updated.
    fn execute(
        &mut self,
        resource: &'a dyn Resource,
        action: Action,
        notified_by: Option<NotifiedBy>,
    ) -> Result<bool> {
        self.events
            .action_started(resource, action, notified_by.as_ref());
        let started = Instant::now();
        let outcome = self.attempt_with_retries(resource, action);
        let common = resource.common();
        let why_run = self.cx.why_run;
        let (status, result) = match outcome {
            Ok(Outcome::Skipped(reason)) => {
                self.events.action_skipped(resource, action, reason);
                (ActionStatus::Skipped(reason), Ok(false))
            }
            Ok(Outcome::UpToDate) => {
                self.events.action_up_to_date(resource, action);
                (ActionStatus::UpToDate, Ok(false))
            }
            Ok(Outcome::Updated(changes)) => {
                self.events
                    .action_updated(resource, action, &changes, why_run);
                let changes = if common.sensitive {
                    changes.into_iter().map(without_diff).collect()
                } else {
                    changes
                };
                (ActionStatus::Updated { changes }, Ok(true))
            }
            Err(error) => {
                let ignored = common.ignore_failure;
                self.events.action_failed(resource, action, &error, ignored);
                let status = ActionStatus::Failed {
                    class: error.class(),
                    message: error.to_string(),
                    ignored,
                };
                match ignored {
                    IgnoreFailure::No => (status, Err(in_context(resource, &error))),
                    IgnoreFailure::Yes | IgnoreFailure::Quiet => (status, Ok(false)),
                }
            }
        };
        self.records.push(ActionRecord {
            resource: resource.id().clone(),
            display_kind: resource.display_kind().to_string(),
            action,
            status,
            why_run,
            sensitive: common.sensitive,
            duration: started.elapsed(),
            notified_by,
        });
        result
    }

    /// Up to `retries + 1` attempts, `retry_delay` apart; `ignore_failure` disables retries
    /// (Chef checks it first).
    fn attempt_with_retries(
        &mut self,
        resource: &'a dyn Resource,
        action: Action,
    ) -> Result<Outcome> {
        let common = resource.common();
        let mut retries_left = match common.ignore_failure {
            IgnoreFailure::No => common.retries,
            IgnoreFailure::Yes | IgnoreFailure::Quiet => 0,
        };
        loop {
            match self.attempt(resource, action) {
                Err(error) if retries_left > 0 => {
                    self.events
                        .action_retrying(resource, action, retries_left, &error);
                    retries_left -= 1;
                    std::thread::sleep(common.retry_delay);
                }
                other => return other,
            }
        }
    }

    /// One attempt: `:nothing`, guards, check, apply.
    fn attempt(&mut self, resource: &'a dyn Resource, action: Action) -> Result<Outcome> {
        if action == Action::Nothing {
            return Ok(Outcome::Skipped(SkipReason::ActionNothing));
        }
        if let Some(reason) = self.deciding_guard(resource)? {
            return Ok(Outcome::Skipped(reason));
        }
        if let Some(nested) = resource.nested(action) {
            return self.converge_nested(nested);
        }
        let plan = resource.check(action, self.cx)?;
        if plan.is_empty() {
            return Ok(Outcome::UpToDate);
        }
        let changes = plan.changes.clone();
        if !self.cx.why_run || resource.whyrun_safe() {
            resource.apply(action, plan, self.cx)?;
        }
        if resource.counts_as_update() {
            Ok(Outcome::Updated(changes))
        } else {
            Ok(Outcome::UpToDate)
        }
    }

    /// A custom resource's action: its own collection converges as a run of its own (its
    /// notifications stay inside it and its delayed ones run at its end, as in Chef's
    /// sub-run-context); the resource is updated when one of its resources was.
    fn converge_nested(&mut self, nested: &'a ResourceCollection) -> Result<Outcome> {
        let mut ancestors = vec![self.collection];
        ancestors.extend(self.ancestors.iter().copied());
        let mut sub = Runner {
            collection: nested,
            cx: &mut *self.cx,
            events: &mut *self.events,
            table: HashMap::new(),
            delayed: Vec::new(),
            records: Vec::new(),
            depth: self.depth,
            ancestors,
        };
        let mut failures = Vec::new();
        if let Err(error) = sub.walk() {
            failures.push(error);
        }
        sub.run_delayed(&mut failures);
        let records = std::mem::take(&mut sub.records);
        drop(sub);
        let updated = records
            .iter()
            .any(|r| matches!(r.status, ActionStatus::Updated { .. }));
        self.records.extend(records);
        combine(failures)?;
        Ok(if updated {
            Outcome::Updated(Vec::new())
        } else {
            Outcome::UpToDate
        })
    }

    /// The reason to skip, from the first guard that says no: every `only_if` in
    /// declaration order, then every `not_if`.
    fn deciding_guard(&mut self, resource: &dyn Resource) -> Result<Option<SkipReason>> {
        let guards = &resource.common().guards;
        if guards.is_empty() {
            return Ok(None);
        }
        let inherited = resource.guard_defaults();
        let only_ifs = guards.iter().filter(|g| g.kind == GuardKind::OnlyIf);
        let not_ifs = guards.iter().filter(|g| g.kind == GuardKind::NotIf);
        for guard in only_ifs.chain(not_ifs) {
            if !guard.allows(&inherited, self.cx)? {
                return Ok(Some(match guard.kind {
                    GuardKind::OnlyIf => SkipReason::OnlyIf,
                    GuardKind::NotIf => SkipReason::NotIf,
                }));
            }
        }
        Ok(None)
    }
}

/// Chef's `customize_exception`: the error re-raised from a resource names the resource and
/// where it was declared, keeping its class, so the final `FATAL` line reads
/// `RuntimeError: execute[x] (cb::default line 3) had an error: RuntimeError: ...`.
fn in_context(resource: &dyn Resource, error: &Error) -> Error {
    let common = resource.common();
    let location = &common.location;
    let defined_at = if !common.cookbook.is_empty() && location.line > 0 {
        format!("{} line {}", common.recipe_label(), location.line)
    } else if !location.file.as_os_str().is_empty() {
        match location.line {
            0 => location.file.display().to_string(),
            line => format!("{} line {line}", location.file.display()),
        }
    } else {
        "dynamically defined".to_string()
    };
    Error::resource(
        error.class(),
        format!(
            "{} ({defined_at}) had an error: {}: {error}",
            resource_label(resource),
            error.class()
        ),
    )
}

fn without_diff(change: Change) -> Change {
    Change::new(change.description)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::converge::scripted::{Journal, Scripted};
    use crate::report::NullEvents;
    use crate::resource::Change;

    fn id(name: &str) -> ResourceId {
        ResourceId::new("stub", name)
    }

    fn stub(name: &str, actions: &[Action], journal: &Journal) -> Scripted {
        Scripted::new("stub", name, actions, journal)
    }

    fn run(resources: Vec<Scripted>, why_run: bool) -> (RunSummary, Result<()>) {
        let mut collection = ResourceCollection::new();
        for r in resources {
            collection.push(Box::new(r));
        }
        let dir = tempfile::tempdir().unwrap();
        let mut cx = Context::new(dir.path());
        cx.why_run = why_run;
        converge(&collection, &mut cx, &mut NullEvents)
    }

    fn statuses(summary: &RunSummary) -> Vec<String> {
        summary
            .records
            .iter()
            .map(|r| {
                let status = match &r.status {
                    ActionStatus::Updated { .. } => "updated".to_string(),
                    ActionStatus::UpToDate => "up_to_date".to_string(),
                    ActionStatus::Skipped(reason) => format!("skipped({})", reason.as_str()),
                    ActionStatus::Failed { class, .. } => format!("failed({class})"),
                };
                format!("{}:{} {status}", r.resource.name, r.action)
            })
            .collect()
    }

    #[test]
    fn nothing_is_skipped_without_evaluating_guards() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("guard-ran");
        let journal = Journal::new();
        let svc = stub("svc", &[Action::Nothing], &journal)
            .guard(GuardKind::OnlyIf, &format!("touch {}", marker.display()));
        let (summary, result) = run(vec![svc], false);
        result.unwrap();
        assert!(!marker.exists(), "guards of :nothing must not run");
        assert_eq!(statuses(&summary), ["svc:nothing skipped(action :nothing)"]);
        assert!(journal.entries().is_empty());
    }

    #[test]
    fn only_if_guards_run_before_not_if_guards_and_the_first_no_decides() {
        let dir = tempfile::tempdir().unwrap();
        let order = dir.path().join("order");
        let log = |word: &str| format!("echo {word} >> {}", order.display());
        let journal = Journal::new();
        let a = stub("a", &[Action::Create], &journal)
            .guard(GuardKind::NotIf, &format!("{}; false", log("not_if")))
            .guard(GuardKind::OnlyIf, &format!("{}; true", log("only_if")));
        let b = stub("b", &[Action::Create], &journal)
            .guard(GuardKind::NotIf, "true")
            .guard(GuardKind::OnlyIf, "false");
        let c = stub("c", &[Action::Create], &journal).guard(GuardKind::NotIf, "true");
        let (summary, result) = run(vec![a, b, c], false);
        result.unwrap();
        assert_eq!(
            std::fs::read_to_string(&order).unwrap(),
            "only_if\nnot_if\n"
        );
        assert_eq!(
            statuses(&summary),
            [
                "a:create up_to_date",
                "b:create skipped(only_if)",
                "c:create skipped(not_if)"
            ]
        );
    }

    #[test]
    fn why_run_reports_the_plan_and_never_applies_it() {
        let journal = Journal::new();
        let file = stub("f", &[Action::Create], &journal).updates_on(Action::Create);
        let (summary, result) = run(vec![file], true);
        result.unwrap();
        assert_eq!(journal.entries(), ["f:create(why-run)"]);
        assert_eq!((summary.updated, summary.total), (1, 1));
        assert!(summary.why_run && summary.records[0].why_run);
    }

    #[test]
    fn a_real_run_applies_a_non_empty_plan_only() {
        let journal = Journal::new();
        let changed = stub("changed", &[Action::Create], &journal).updates_on(Action::Create);
        let same = stub("same", &[Action::Create], &journal);
        run(vec![changed, same], false).1.unwrap();
        assert_eq!(
            journal.entries(),
            ["changed:create", "apply changed:create", "same:create"]
        );
    }

    #[test]
    fn notifies_to_a_missing_resource_fails_before_anything_runs() {
        let journal = Journal::new();
        let first = stub("first", &[Action::Create], &journal).updates_on(Action::Create);
        let notifier = stub("n", &[Action::Create], &journal).notifies(
            Action::Restart,
            id("ghost"),
            Timing::Delayed,
        );
        let (summary, result) = run(vec![first, notifier], false);
        let error = result.unwrap_err();
        assert_eq!(error.class(), "Chef::Exceptions::ResourceNotFound");
        assert!(error.to_string().starts_with("recipe.yml:3:5: resource stub[n] is configured to notify resource stub[ghost] with action restart, but stub[ghost] cannot be found"), "{error}");
        assert!(journal.entries().is_empty());
        assert!(summary.records.is_empty());
    }

    #[test]
    fn logs_never_count_as_updated_and_never_notify() {
        let journal = Journal::new();
        let svc = stub("svc", &[Action::Nothing], &journal).updates_on(Action::Restart);
        let log = stub("hello", &[Action::Write], &journal)
            .updates_on(Action::Write)
            .never_counts()
            .notifies(Action::Restart, id("svc"), Timing::Immediately);
        let (summary, result) = run(vec![svc, log], false);
        result.unwrap();
        assert_eq!(journal.checks(), ["hello:write"]);
        assert_eq!(
            statuses(&summary),
            [
                "svc:nothing skipped(action :nothing)",
                "hello:write up_to_date"
            ]
        );
        assert_eq!((summary.updated, summary.total), (0, 2));
    }

    #[test]
    fn before_probe_is_counted_like_chef_three_of_four() {
        // SEMANTICS d: a file with a :before notification to an execute prints three blocks
        // and reports 3/4 with the target's own :nothing line.
        let journal = Journal::new();
        let exec = stub("x", &[Action::Nothing], &journal).updates_on(Action::Run);
        let file = stub("f", &[Action::Create], &journal)
            .updates_on(Action::Create)
            .notifies(Action::Run, id("x"), Timing::Before);
        let (summary, result) = run(vec![exec, file], false);
        result.unwrap();
        assert_eq!((summary.updated, summary.total), (3, 4));
        assert_eq!(
            journal.entries(),
            [
                "f:create(why-run)",
                "x:run",
                "apply x:run",
                "f:create",
                "apply f:create"
            ]
        );
        let probe = &summary.records[1];
        assert!(probe.why_run);
        let notified = summary.records[2].notified_by.as_ref().unwrap();
        assert_eq!(
            (notified.resource.clone(), notified.timing),
            (id("f"), Timing::Before)
        );
    }

    #[test]
    fn the_probe_does_not_leave_why_run_on() {
        let journal = Journal::new();
        let exec = stub("x", &[Action::Nothing], &journal);
        let file =
            stub("f", &[Action::Create], &journal).notifies(Action::Run, id("x"), Timing::Before);
        let later = stub("later", &[Action::Create], &journal);
        run(vec![exec, file, later], false).1.unwrap();
        assert_eq!(
            journal.entries(),
            ["f:create(why-run)", "f:create", "later:create"]
        );
    }

    #[test]
    fn several_failures_become_multiple_failures() {
        let journal = Journal::new();
        let broken = stub("broken", &[Action::Nothing], &journal).fails_on(Action::Run);
        let first = stub("first", &[Action::Create], &journal)
            .updates_on(Action::Create)
            .notifies(Action::Run, id("broken"), Timing::Delayed);
        let failing = stub("failing", &[Action::Run], &journal).fails_on(Action::Run);
        let (_, result) = run(vec![broken, first, failing], false);
        match result.unwrap_err() {
            Error::Multiple(errors) => {
                let messages: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                assert_eq!(
                    messages,
                    [
                        "stub[failing] (recipe.yml) had an error: RuntimeError: failing failed to run",
                        "stub[broken] (recipe.yml) had an error: RuntimeError: broken failed to run"
                    ]
                );
            }
            other => panic!("expected MultipleFailures, got {other:?}"),
        }
    }

    #[test]
    fn a_resource_error_is_re_raised_naming_the_resource_and_its_recipe_line() {
        let journal = Journal::new();
        let failing = stub("make", &[Action::Run], &journal)
            .displayed_as("execute")
            .fails_on(Action::Run)
            .with_common(|c| c.location = crate::SourceLocation::new("recipes/default.rb", 3, 1));
        let error = run(vec![failing], false).1.unwrap_err();
        assert_eq!(error.class(), "RuntimeError");
        assert_eq!(
            error.to_string(),
            "execute[make] (cb::default line 3) had an error: RuntimeError: make failed to run"
        );
    }

    #[test]
    fn a_failing_delayed_notification_does_not_stop_the_others() {
        let journal = Journal::new();
        let broken = stub("broken", &[Action::Nothing], &journal).fails_on(Action::Run);
        let fine = stub("fine", &[Action::Nothing], &journal).updates_on(Action::Run);
        let first = stub("first", &[Action::Create], &journal)
            .updates_on(Action::Create)
            .notifies(Action::Run, id("broken"), Timing::Delayed)
            .notifies(Action::Run, id("fine"), Timing::Delayed);
        let (_, result) = run(vec![broken, fine, first], false);
        assert_eq!(result.unwrap_err().class(), "RuntimeError");
        assert_eq!(journal.checks(), ["first:create", "broken:run", "fine:run"]);
    }

    #[test]
    fn retries_until_an_attempt_works() {
        let journal = Journal::new();
        let flaky = stub("flaky", &[Action::Run], &journal)
            .updates_on(Action::Run)
            .fails_first(2, Action::Run)
            .with_common(|c| {
                c.retries = 3;
                c.retry_delay = Duration::ZERO;
            });
        let (summary, result) = run(vec![flaky], false);
        result.unwrap();
        assert_eq!(journal.checks(), ["flaky:run", "flaky:run", "flaky:run"]);
        assert_eq!(statuses(&summary), ["flaky:run updated"]);
    }

    #[test]
    fn ignore_failure_disables_retries_and_continues() {
        let journal = Journal::new();
        let flaky = stub("flaky", &[Action::Run], &journal)
            .fails_on(Action::Run)
            .with_common(|c| {
                c.retries = 3;
                c.retry_delay = Duration::ZERO;
                c.ignore_failure = IgnoreFailure::Yes;
            });
        let next = stub("next", &[Action::Create], &journal);
        let (summary, result) = run(vec![flaky, next], false);
        result.unwrap();
        assert_eq!(journal.checks(), ["flaky:run", "next:create"]);
        assert_eq!(
            statuses(&summary),
            ["flaky:run failed(RuntimeError)", "next:create up_to_date"]
        );
        assert_eq!(summary.total, 1, "a failed action is not counted in N/M");
    }

    #[test]
    fn an_immediate_notification_loop_is_an_error_not_a_crash() {
        let journal = Journal::new();
        let a = stub("a", &[Action::Run], &journal)
            .updates_on(Action::Run)
            .notifies(Action::Run, id("b"), Timing::Immediately);
        let b = stub("b", &[Action::Nothing], &journal)
            .updates_on(Action::Run)
            .notifies(Action::Run, id("a"), Timing::Immediately);
        let (_, result) = run(vec![a, b], false);
        assert_eq!(result.unwrap_err().class(), "SystemStackError");
    }

    #[test]
    fn duplicate_ids_share_notifications_and_lookups_find_the_later_one() {
        let journal = Journal::new();
        let svc_first = stub("svc", &[Action::Nothing], &journal);
        let svc_second = stub("svc", &[Action::Nothing], &journal)
            .displayed_as("service")
            .updates_on(Action::Restart);
        let file = stub("f", &[Action::Create], &journal)
            .updates_on(Action::Create)
            .notifies(Action::Restart, id("svc"), Timing::Delayed);
        let (summary, result) = run(vec![svc_first, svc_second, file], false);
        result.unwrap();
        let last = summary.records.last().unwrap();
        assert_eq!(
            (last.display_kind.as_str(), last.action),
            ("service", Action::Restart)
        );
    }

    #[test]
    fn sensitive_resources_keep_no_diff_in_records() {
        let journal = Journal::new();
        let secret = stub("secret", &[Action::Create], &journal)
            .updates(
                Action::Create,
                vec![Change::with_diff(
                    "update content",
                    vec!["+password".into()],
                )],
            )
            .with_common(|c| c.sensitive = true);
        let (summary, _) = run(vec![secret], false);
        match &summary.records[0].status {
            ActionStatus::Updated { changes } => assert!(changes[0].diff.is_empty()),
            other => panic!("{other:?}"),
        }
        assert!(summary.records[0].sensitive);
    }

    #[test]
    fn subscriptions_queue_in_declaration_order_and_missing_sources_are_ignored() {
        let journal = Journal::new();
        let early = stub("early", &[Action::Nothing], &journal)
            .updates_on(Action::Run)
            .subscribes(Action::Run, id("f"), Timing::Delayed)
            .subscribes(Action::Run, id("ghost"), Timing::Delayed);
        let f = stub("f", &[Action::Create], &journal)
            .updates_on(Action::Create)
            .notifies(Action::Run, id("middle"), Timing::Delayed);
        let middle = stub("middle", &[Action::Nothing], &journal).updates_on(Action::Run);
        let late = stub("late", &[Action::Nothing], &journal)
            .updates_on(Action::Run)
            .subscribes(Action::Run, id("f"), Timing::Delayed);
        let (summary, result) = run(vec![early, f, middle, late], false);
        result.unwrap();
        assert_eq!(
            journal.checks(),
            ["f:create", "early:run", "middle:run", "late:run"]
        );
        let by = summary.records.last().unwrap().notified_by.clone().unwrap();
        assert_eq!((by.resource, by.timing), (id("f"), Timing::Delayed));
    }

    #[test]
    fn a_nested_collection_runs_with_its_own_delayed_queue_and_updates_its_parent() {
        let journal = Journal::new();
        let inner = vec![
            stub("conf", &[Action::Create], &journal)
                .updates_on(Action::Create)
                .notifies(Action::Restart, id("svc"), Timing::Delayed),
            stub("svc", &[Action::Nothing], &journal).updates_on(Action::Restart),
        ];
        let parent = stub("site", &[Action::Create], &journal)
            .with_nested(Action::Create, inner)
            .notifies(Action::Run, id("after"), Timing::Immediately);
        let after = stub("after", &[Action::Nothing], &journal).updates_on(Action::Run);
        let last = stub("last", &[Action::Create], &journal);
        let (summary, result) = run(vec![parent, after, last], false);
        result.unwrap();
        // The nested delayed restart runs at the end of the parent's action, before the
        // parent's own immediate notification; the parent counts as updated.
        assert_eq!(
            statuses(&summary),
            [
                "conf:create updated",
                "svc:nothing skipped(action :nothing)",
                "svc:restart updated",
                "site:create updated",
                "after:run updated",
                "after:nothing skipped(action :nothing)",
                "last:create up_to_date",
            ]
        );
        assert_eq!((summary.updated, summary.total), (4, 7));
    }

    #[test]
    fn a_nested_collection_with_nothing_to_do_leaves_its_parent_up_to_date() {
        let journal = Journal::new();
        let parent = stub("site", &[Action::Create], &journal)
            .with_nested(
                Action::Create,
                vec![stub("conf", &[Action::Create], &journal)],
            )
            .notifies(Action::Run, id("after"), Timing::Immediately)
            .guard(GuardKind::OnlyIf, "true");
        let after = stub("after", &[Action::Nothing], &journal).updates_on(Action::Run);
        let (summary, result) = run(vec![parent, after], false);
        result.unwrap();
        assert_eq!(
            statuses(&summary),
            [
                "conf:create up_to_date",
                "site:create up_to_date",
                "after:nothing skipped(action :nothing)",
            ]
        );
        // The parent's own check is never asked: its action is its collection.
        assert_eq!(journal.entries(), ["conf:create"]);
    }
}
