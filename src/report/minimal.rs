//! `-F min`: Chef's minimal formatter.
//!
//! One character per action while converging (`.` up to date, `U` updated, `S` skipped, `F`
//! failed), then the updated resources with their changes, then the final line.

use super::{final_line, inspect_list, resource_label, Events, RunEnd, RunStart};
use crate::converge::{RunSummary, SkipReason};
use crate::error::Error;
use crate::resource::{Action, Change, IgnoreFailure, Resource};
use std::io::Write;

/// Chef's `minimal` formatter writing to any output.
pub struct MinimalFormatter {
    out: Box<dyn Write>,
    why_run: bool,
    /// Updated resources in the order they first updated, with every change line.
    updated_resources: Vec<(String, Vec<String>)>,
    failures: Vec<String>,
    updated: usize,
    total: usize,
}

impl MinimalFormatter {
    /// A formatter writing to `out`.
    pub fn new(out: Box<dyn Write>) -> Self {
        Self {
            out,
            why_run: false,
            updated_resources: Vec::new(),
            failures: Vec::new(),
            updated: 0,
            total: 0,
        }
    }

    // Output errors (a closed pipe) must not stop a converge, so writes are best effort.
    fn write(&mut self, text: &str) {
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
    }

    fn progress(&mut self, mark: &str) {
        self.write(mark);
    }

    fn converge_done(&mut self, failed: bool) {
        let mut text = String::from("\n");
        text.push_str(if failed {
            "System converge failed.\n"
        } else {
            "System converged.\n"
        });
        if self.updated_resources.is_empty() {
            text.push_str("\nno resources updated\n");
        } else {
            text.push_str("\nresources updated this run:\n");
            for (label, lines) in &self.updated_resources {
                text.push_str(&format!("* {label}\n"));
                for line in lines {
                    text.push_str(&format!("  - {line}\n"));
                }
            }
        }
        for failure in &self.failures {
            text.push_str(failure);
        }
        self.write(&text);
    }
}

impl Events for MinimalFormatter {
    fn run_started(&mut self, run: &RunStart) {
        self.why_run = run.why_run;
        self.write(&format!("Skillet, version {}\n", run.version));
    }

    fn run_list_resolved(&mut self, items: &[String]) {
        self.write(&format!(
            "Resolving cookbooks for run list: {}\n",
            inspect_list(items)
        ));
    }

    fn cookbooks_synchronized(&mut self, cookbooks: &[(String, String)]) {
        let dots = ".".repeat(cookbooks.len());
        self.write(&format!("Synchronizing cookbooks\n{dots}\ndone.\n"));
    }

    fn compile_started(&mut self) {
        self.write("Compiling cookbooks...\n");
    }

    fn compile_failed(&mut self, error: &Error) {
        self.write(&format!("{}: {error}\n", error.class()));
    }

    fn converge_started(&mut self, resource_count: usize) {
        self.write(&format!("Converging {resource_count} resources\n"));
    }

    fn action_skipped(&mut self, _resource: &dyn Resource, _action: Action, _reason: SkipReason) {
        self.total += 1;
        self.progress("S");
    }

    fn action_up_to_date(&mut self, _resource: &dyn Resource, _action: Action) {
        self.total += 1;
        self.progress(".");
    }

    fn action_updated(
        &mut self,
        resource: &dyn Resource,
        _action: Action,
        changes: &[Change],
        why_run: bool,
    ) {
        self.total += 1;
        self.updated += 1;
        self.progress("U");
        let prefix = if why_run { "Would " } else { "" };
        let label = resource_label(resource);
        let lines = changes.iter().map(|c| format!("{prefix}{}", c.description));
        match self.updated_resources.iter_mut().find(|(l, _)| *l == label) {
            Some((_, existing)) => existing.extend(lines),
            None => self.updated_resources.push((label, lines.collect())),
        }
    }

    fn action_failed(
        &mut self,
        resource: &dyn Resource,
        action: Action,
        error: &Error,
        ignored: IgnoreFailure,
    ) {
        self.progress("F");
        if ignored == IgnoreFailure::Quiet {
            return;
        }
        let mut text = format!(
            "\n* {} action {action} failed: {}\n",
            resource_label(resource),
            error.class()
        );
        for line in error.to_string().lines() {
            text.push_str(&format!("  {line}\n"));
        }
        self.failures.push(text);
    }

    fn converge_completed(&mut self, _summary: &RunSummary) {
        self.converge_done(false);
    }

    fn converge_failed(&mut self, _summary: &RunSummary, _error: &Error) {
        self.converge_done(true);
    }

    fn run_completed(&mut self, end: &RunEnd<'_>) {
        let text = final_line(
            self.updated,
            self.total,
            self.why_run,
            end.error.is_some(),
            end.elapsed,
        );
        self.write(&format!("\n{text}\n"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::converge::converge;
    use crate::converge::scripted::{Journal, Scripted};
    use crate::report::SharedBuffer;
    use crate::resource::{Context, GuardKind, ResourceCollection};
    use std::time::Duration;

    #[test]
    fn one_character_per_action_then_the_updated_resources() {
        let journal = Journal::new();
        let out = SharedBuffer::new();
        let mut min = MinimalFormatter::new(Box::new(out.clone()));
        min.run_started(&RunStart {
            version: "0.1.0".into(),
            why_run: false,
            system_info: Vec::new(),
        });
        min.compile_started();
        let mut collection = ResourceCollection::new();
        collection.push(Box::new(Scripted::new(
            "execute",
            "make",
            &[Action::Run],
            &journal,
        )));
        collection.push(Box::new(
            Scripted::new("file", "/x", &[Action::Create, Action::Touch], &journal)
                .updates(Action::Create, vec![Change::new("create new file /x")])
                .updates(Action::Touch, vec![Change::new("update utime on file /x")]),
        ));
        collection.push(Box::new(
            Scripted::new("execute", "skip", &[Action::Run], &journal)
                .guard(GuardKind::OnlyIf, "false"),
        ));
        let dir = tempfile::tempdir().unwrap();
        let mut cx = Context::new(dir.path());
        let (_, result) = converge(&collection, &mut cx, &mut min);
        min.run_completed(&RunEnd {
            elapsed: Duration::from_secs(4),
            exit_code: 0,
            error: result.as_ref().err(),
        });
        let expected = "\
Skillet, version 0.1.0
Compiling cookbooks...
Converging 3 resources
.UUS
System converged.

resources updated this run:
* file[/x]
  - create new file /x
  - update utime on file /x

Infra Phase complete, 2/4 resources updated in 04 seconds
";
        assert_eq!(out.contents(), expected);
    }
}
