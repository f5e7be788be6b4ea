//! Runner for the `notification_order` acceptance group.
//!
//! Each case declares resources of one scripted type: `check` reports a change for the
//! actions in `updates_on`, raises a `RuntimeError` for those in `fails_on`, and records
//! `name:action` (plus `(why-run)`) in a shared journal. The collection goes through the real
//! runner; the journal and the class of the final error are compared with the case.

use super::Outcome;
use serde_json::Value;
use skillet::converge::converge;
use skillet::report::NullEvents;
use skillet::resource::{
    Action, Change, Common, Context, Guard, GuardCommand, GuardKind, GuardOptions, IgnoreFailure,
    Notification, Plan, Resource, ResourceCollection, ResourceId, Subscription, Timing,
};
use skillet::{Error, Result, SourceLocation};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Every resource of a case has this type; names are unique within a case.
const KIND: &str = "scripted";

type Journal = Arc<Mutex<Vec<String>>>;

#[derive(Debug)]
struct ScriptedResource {
    id: ResourceId,
    display_kind: String,
    common: Common,
    updates_on: Vec<Action>,
    fails_on: Vec<Action>,
    journal: Journal,
}

impl Resource for ScriptedResource {
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
            .lock()
            .unwrap()
            .push(format!("{}:{action}{suffix}", self.id.name));
        if self.fails_on.contains(&action) {
            return Err(Error::resource(
                "RuntimeError",
                format!("{} failed", self.id.name),
            ));
        }
        let mut plan = Plan::up_to_date();
        if self.updates_on.contains(&action) {
            plan.push(Change::new(format!("{action} {}", self.id.name)));
        }
        Ok(plan)
    }

    fn apply(&self, _action: Action, _plan: Plan, _cx: &mut Context) -> Result<()> {
        Ok(())
    }
}

fn actions(value: &Value) -> std::result::Result<Vec<Action>, String> {
    value
        .as_array()
        .map(|list| {
            list.iter()
                .map(|a| {
                    let name = a.as_str().ok_or("action is not a string")?;
                    name.parse::<Action>().map_err(|e| e.to_string())
                })
                .collect()
        })
        .unwrap_or(Ok(Vec::new()))
}

fn text<'a>(value: &'a Value, key: &str) -> std::result::Result<&'a str, String> {
    value[key]
        .as_str()
        .ok_or_else(|| format!("`{key}` missing in {value}"))
}

fn location() -> SourceLocation {
    SourceLocation::file("case.json")
}

fn add_notification(common: &mut Common, n: &Value) -> std::result::Result<(), String> {
    let action: Action = text(n, "action")?.parse().map_err(|e| format!("{e}"))?;
    let timing_name = n["timing"].as_str().unwrap_or("delayed");
    let timing = Timing::parse(timing_name).ok_or(format!("bad timing {timing_name}"))?;
    match text(n, "kind")? {
        "notifies" => common.notifies.push(Notification {
            action,
            target: ResourceId::new(KIND, text(n, "target")?),
            timing,
            location: location(),
        }),
        "subscribes" => common.subscribes.push(Subscription {
            action,
            source: ResourceId::new(KIND, text(n, "source")?),
            timing,
            location: location(),
        }),
        other => return Err(format!("unknown notification kind {other}")),
    }
    Ok(())
}

fn build(spec: &Value, journal: &Journal) -> std::result::Result<ScriptedResource, String> {
    let mut common = Common::new(Action::Nothing, location());
    common.actions = actions(&spec["action"])?;
    for n in spec["notifications"].as_array().into_iter().flatten() {
        add_notification(&mut common, n)?;
    }
    if let Some(allowed) = spec["only_if"].as_bool() {
        common.guards.push(Guard {
            kind: GuardKind::OnlyIf,
            command: GuardCommand::Shell(if allowed { "true" } else { "false" }.into()),
            options: GuardOptions::default(),
            location: location(),
        });
    }
    if spec["ignore_failure"].as_bool() == Some(true) {
        common.ignore_failure = IgnoreFailure::Yes;
    }
    common.retries = spec["retries"].as_u64().unwrap_or(0) as u32;
    common.retry_delay = Duration::ZERO;
    Ok(ScriptedResource {
        id: ResourceId::new(KIND, text(spec, "name")?),
        display_kind: spec["type"].as_str().unwrap_or(KIND).to_string(),
        common,
        updates_on: actions(&spec["updates_on"])?,
        fails_on: actions(&spec["fails_on"])?,
        journal: journal.clone(),
    })
}

fn run(case: &Value) -> std::result::Result<Outcome, String> {
    let input = &case["input"];
    let journal = Journal::default();
    let mut collection = ResourceCollection::new();
    for spec in input["resources"].as_array().ok_or("no resources")? {
        collection.push(Box::new(build(spec, &journal)?));
    }
    let cache = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut cx = Context::new(cache.path());
    cx.why_run = input["why_run"].as_bool().unwrap_or(false);
    let (_, result) = converge(&collection, &mut cx, &mut NullEvents);

    let executed = journal.lock().unwrap().clone();
    let error = result.err().map(|e| e.class().to_string());
    let expected = &case["expected"];
    let expected_executed: Vec<String> = expected["executed"]
        .as_array()
        .ok_or("no expected.executed")?
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect();
    let expected_error = expected["error"].as_str().map(str::to_string);
    if executed != expected_executed || error != expected_error {
        return Ok(Outcome::Fail(format!(
            "executed {executed:?}, error {error:?}; expected {expected_executed:?}, error {expected_error:?}"
        )));
    }
    Ok(Outcome::Pass)
}

pub fn run_case(case: &Value) -> Outcome {
    run(case).unwrap_or_else(Outcome::Fail)
}
