//! `-F json` and `--report-file`: the whole run as one JSON document.
//!
//! Written once, when the run ends:
//! `{"run": {version, start, end, elapsed, why_run, status, updated, total, exit_code, error},
//!   "actions": [{resource, type, name, action, status, why_run, changes, skip_reason, error,
//!   duration_ms, notified_by}, ...]}`. `status` of an action is `up_to_date`, `updated`,
//! `skipped` or `failed`; `changes` holds the change descriptions only, never diffs, so file
//! content never appears.

use super::{Events, RunEnd, RunStart};
use crate::converge::{ActionRecord, ActionStatus, RunSummary};
use crate::error::Error;
use crate::resource::{IgnoreFailure, Timing};
use serde_json::{json, Value};
use std::io::Write;
use std::time::{Duration, SystemTime};

/// Collects the run and writes the JSON report to `out` when the run ends.
pub struct JsonReport {
    out: Box<dyn Write>,
    version: String,
    why_run: bool,
    started_at: Option<SystemTime>,
    summary: Option<RunSummary>,
}

impl JsonReport {
    /// A report that will be written to `out`.
    pub fn new(out: Box<dyn Write>) -> Self {
        Self {
            out,
            version: String::new(),
            why_run: false,
            started_at: None,
            summary: None,
        }
    }

    /// The document for a finished run.
    fn document(&self, end: &RunEnd<'_>, ended_at: SystemTime) -> Value {
        let started_at = self
            .started_at
            .unwrap_or_else(|| ended_at.checked_sub(end.elapsed).unwrap_or(ended_at));
        let (updated, total, records) = match &self.summary {
            Some(s) => (s.updated, s.total, s.records.as_slice()),
            None => (0, 0, &[][..]),
        };
        json!({
            "run": {
                "version": self.version,
                "start": rfc3339(started_at),
                "end": rfc3339(ended_at),
                "elapsed": seconds(end.elapsed),
                "why_run": self.why_run,
                "status": if end.error.is_some() { "failure" } else { "success" },
                "updated": updated,
                "total": total,
                "exit_code": end.exit_code,
                "error": end.error.map(error_json),
            },
            "actions": records.iter().map(record_json).collect::<Vec<_>>(),
        })
    }
}

fn error_json(error: &Error) -> Value {
    json!({ "class": error.class(), "message": error.to_string() })
}

fn timing_name(timing: Timing) -> &'static str {
    match timing {
        Timing::Delayed => "delayed",
        Timing::Immediately => "immediately",
        Timing::Before => "before",
    }
}

fn ignored_json(ignored: IgnoreFailure) -> Value {
    match ignored {
        IgnoreFailure::No => json!(false),
        IgnoreFailure::Yes => json!(true),
        IgnoreFailure::Quiet => json!("quiet"),
    }
}

/// One action record; descriptions only, so no content or diff can leak.
pub fn record_json(record: &ActionRecord) -> Value {
    let (status, changes, skip_reason, error) = match &record.status {
        ActionStatus::Updated { changes } => (
            "updated",
            changes.iter().map(|c| c.description.clone()).collect(),
            Value::Null,
            Value::Null,
        ),
        ActionStatus::UpToDate => ("up_to_date", Vec::new(), Value::Null, Value::Null),
        ActionStatus::Skipped(reason) => {
            ("skipped", Vec::new(), json!(reason.as_str()), Value::Null)
        }
        ActionStatus::Failed {
            class,
            message,
            ignored,
        } => (
            "failed",
            Vec::new(),
            Value::Null,
            json!({ "class": class, "message": message, "ignored": ignored_json(*ignored) }),
        ),
    };
    json!({
        "resource": format!("{}[{}]", record.display_kind, record.resource.name),
        "type": record.display_kind,
        "name": record.resource.name,
        "action": record.action.as_str(),
        "status": status,
        "why_run": record.why_run,
        "changes": changes,
        "skip_reason": skip_reason,
        "error": error,
        "duration_ms": (record.duration.as_secs_f64() * 1_000_000.0).round() / 1000.0,
        "notified_by": record.notified_by.as_ref().map(|n| json!({
            "resource": n.resource.to_string(),
            "timing": timing_name(n.timing),
        })),
    })
}

fn seconds(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

/// `2024-01-01T00:00:00.123Z` (UTC, milliseconds).
fn rfc3339(t: SystemTime) -> String {
    let u = crate::platform::clock::LocalTime::utc(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        u.year,
        u.month,
        u.day,
        u.hour,
        u.minute,
        u.second,
        u.nanos / 1_000_000
    )
}

impl Events for JsonReport {
    fn run_started(&mut self, run: &RunStart) {
        self.version = run.version.clone();
        self.why_run = run.why_run;
        self.started_at = Some(SystemTime::now());
    }

    fn converge_completed(&mut self, summary: &RunSummary) {
        self.summary = Some(summary.clone());
    }

    fn converge_failed(&mut self, summary: &RunSummary, _error: &Error) {
        self.summary = Some(summary.clone());
    }

    fn run_completed(&mut self, end: &RunEnd<'_>) {
        let doc = self.document(end, SystemTime::now());
        // Output errors must not turn a converged run into a failed one; best effort.
        if let Ok(text) = serde_json::to_string_pretty(&doc) {
            let _ = writeln!(self.out, "{text}");
        }
        let _ = self.out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::converge::converge;
    use crate::converge::scripted::{Journal, Scripted};
    use crate::report::SharedBuffer;
    use crate::resource::{Action, Change, Context, GuardKind, ResourceCollection, ResourceId};
    use std::time::UNIX_EPOCH;

    fn report(resources: Vec<Scripted>) -> Value {
        let out = SharedBuffer::new();
        let mut sink = JsonReport::new(Box::new(out.clone()));
        sink.run_started(&RunStart {
            version: "0.1.0".into(),
            why_run: false,
            system_info: Vec::new(),
        });
        let mut collection = ResourceCollection::new();
        for r in resources {
            collection.push(Box::new(r));
        }
        let dir = tempfile::tempdir().unwrap();
        let mut cx = Context::new(dir.path());
        let (_, result) = converge(&collection, &mut cx, &mut sink);
        sink.run_completed(&RunEnd {
            elapsed: Duration::from_millis(1500),
            exit_code: crate::converge::exit_code::for_result(&result),
            error: result.as_ref().err(),
        });
        serde_json::from_str(&out.contents()).unwrap()
    }

    #[test]
    fn the_report_has_the_run_and_every_action() {
        let journal = Journal::new();
        let doc = report(vec![
            Scripted::new("service", "nginx", &[Action::Nothing], &journal).updates(
                Action::Restart,
                vec![Change::new("restart service service[nginx]")],
            ),
            Scripted::new("template", "/etc/nginx.conf", &[Action::Create], &journal)
                .updates(
                    Action::Create,
                    vec![Change::with_diff(
                        "update content in file /etc/nginx.conf from 1a2b3c to 4d5e6f",
                        vec!["+secret line".into()],
                    )],
                )
                .notifies(
                    Action::Restart,
                    ResourceId::new("service", "nginx"),
                    Timing::Delayed,
                ),
            Scripted::new("execute", "skip", &[Action::Run], &journal)
                .guard(GuardKind::NotIf, "true"),
            Scripted::new("execute", "boom", &[Action::Run], &journal).fails_on(Action::Run),
        ]);
        let run = &doc["run"];
        assert_eq!(run["status"], "failure");
        assert_eq!(run["exit_code"], 1);
        assert_eq!(
            (run["updated"].clone(), run["total"].clone()),
            (json!(2), json!(4))
        );
        assert_eq!(run["elapsed"], 1.5);
        assert_eq!(run["why_run"], false);
        assert_eq!(run["error"]["class"], "RuntimeError");
        assert!(run["start"].as_str().unwrap().ends_with('Z'));
        let actions = doc["actions"].as_array().unwrap();
        let summary: Vec<(String, String)> = actions
            .iter()
            .map(|a| {
                (
                    a["resource"].as_str().unwrap().to_string(),
                    a["status"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("service[nginx]".to_string(), "skipped".to_string()),
                ("template[/etc/nginx.conf]".into(), "updated".into()),
                ("execute[skip]".into(), "skipped".into()),
                ("execute[boom]".into(), "failed".into()),
                ("service[nginx]".into(), "updated".into()),
            ]
        );
        assert_eq!(actions[0]["skip_reason"], "action :nothing");
        assert_eq!(actions[2]["skip_reason"], "not_if");
        assert_eq!(
            actions[1]["changes"],
            json!(["update content in file /etc/nginx.conf from 1a2b3c to 4d5e6f"])
        );
        assert_eq!(actions[3]["error"]["class"], "RuntimeError");
        assert_eq!(actions[3]["error"]["ignored"], false);
        assert_eq!(
            actions[4]["notified_by"],
            json!({"resource": "template[/etc/nginx.conf]", "timing": "delayed"})
        );
        assert_eq!(actions[1]["type"], "template");
        assert_eq!(actions[1]["name"], "/etc/nginx.conf");
        assert_eq!(actions[1]["action"], "create");
        assert!(actions[1]["duration_ms"].is_number());
        assert!(
            !doc.to_string().contains("secret line"),
            "diffs never appear"
        );
    }

    #[test]
    fn a_run_that_failed_to_compile_has_no_actions() {
        let out = SharedBuffer::new();
        let mut sink = JsonReport::new(Box::new(out.clone()));
        let error = Error::input(
            "Chef::Exceptions::MissingRole",
            "The expanded run list includes nonexistent roles: web",
        );
        sink.run_completed(&RunEnd {
            elapsed: Duration::ZERO,
            exit_code: 1,
            error: Some(&error),
        });
        let doc: Value = serde_json::from_str(&out.contents()).unwrap();
        assert_eq!(doc["actions"], json!([]));
        assert_eq!(
            doc["run"]["error"]["class"],
            "Chef::Exceptions::MissingRole"
        );
    }

    #[test]
    fn timestamps_are_utc_rfc3339() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_709_210_096_789);
        assert_eq!(rfc3339(t), "2024-02-29T12:34:56.789Z");
    }
}
