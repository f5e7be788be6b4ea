//! Chef's doc formatter (the default output of `chef-solo`), current wording.
//!
//! One line per action (`  * file[/x] action create`), completed by ` (up to date)` or
//! ` (skipped due to ...)`, or followed by its change lines (`    - create new file /x`,
//! `    - Would ...` in why-run) and diff lines. A `Recipe: cb::r` header is printed whenever the
//! recipe changes. A failure prints Chef's error box under the resource. The run ends with
//! `Running handlers:` and the `Infra Phase complete, N/M resources updated in SS seconds`
//! line, where N/M count action executions as Chef counts them.

use super::{final_line, inspect_list, resource_label, Events, RunEnd, RunStart};
use crate::converge::{NotifiedBy, RunSummary, SkipReason};
use crate::error::Error;
use crate::resource::{Action, Change, IgnoreFailure, Resource};
use std::io::Write;
use std::path::Path;

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const RESET: &str = "\x1b[0m";

/// Resource lines sit under a `Recipe:` header, change lines under their resource; each level
/// of nesting (a custom resource's own resources) adds one more.
const INDENT: &str = "  ";

/// Chef's `doc` formatter writing to any output.
pub struct DocFormatter {
    out: Box<dyn Write>,
    color: bool,
    version: String,
    why_run: bool,
    system_info: Vec<(String, String)>,
    current_recipe: Option<String>,
    /// A resource line was started and not yet ended (Chef appends the outcome to it).
    line_open: bool,
    /// The actions started and not yet ended, outermost first; true once a nested resource
    /// printed under it (its outcome then goes on a line of its own, as Chef's does).
    open_actions: Vec<bool>,
    updated: usize,
    up_to_date: usize,
    skipped: usize,
}

impl DocFormatter {
    /// A formatter writing plain text to `out`.
    pub fn new(out: Box<dyn Write>) -> Self {
        Self {
            out,
            color: false,
            version: String::new(),
            why_run: false,
            system_info: Vec::new(),
            current_recipe: None,
            line_open: false,
            open_actions: Vec::new(),
            updated: 0,
            up_to_date: 0,
            skipped: 0,
        }
    }

    /// Turns ANSI colour on or off (`--color`); off by default.
    pub fn with_color(mut self, color: bool) -> Self {
        self.color = color;
        self
    }

    // Output errors (a closed pipe) must not stop a converge, so writes are best effort.
    fn write(&mut self, text: &str) {
        let _ = self.out.write_all(text.as_bytes());
    }

    fn painted(&self, text: &str, color: Option<&str>) -> String {
        match color {
            Some(code) if self.color => {
                // The indent stays uncoloured, as Chef's outputter prints it apart.
                let body = text.trim_start_matches(' ');
                let indent = &text[..text.len() - body.len()];
                format!("{indent}{code}{body}{RESET}")
            }
            _ => text.to_string(),
        }
    }

    /// Starts a new line, ending an open one first.
    fn start_line(&mut self, text: &str, color: Option<&str>) {
        self.end_line("");
        let text = self.painted(text, color);
        self.write(&text);
        self.line_open = true;
        let _ = self.out.flush();
    }

    /// Appends `suffix` to the open line and ends it; does nothing when no line is open.
    fn end_line(&mut self, suffix: &str) {
        if self.line_open {
            let text = format!("{suffix}\n");
            self.write(&text);
            self.line_open = false;
        }
    }

    fn line(&mut self, text: &str) {
        self.start_line(text, None);
        self.end_line("");
    }

    fn blank(&mut self) {
        self.end_line("");
        self.write("\n");
    }

    /// Prints box lines with an indent; blank lines stay empty.
    fn print_box(&mut self, lines: &[BoxLine], indent: &str) {
        self.end_line("");
        for line in lines {
            let text = if line.text.is_empty() {
                "\n".to_string()
            } else {
                format!("{indent}{}\n", self.painted(&line.text, line.color))
            };
            self.write(&text);
        }
        let _ = self.out.flush();
    }

    /// The indent of a resource line `level` deep (0: under the recipe header).
    fn resource_indent(level: usize) -> String {
        INDENT.repeat(level + 1)
    }

    /// Ends the innermost open action: its level and whether nested resources printed under it.
    fn close_action(&mut self) -> (usize, bool) {
        let interrupted = self.open_actions.pop().unwrap_or(false);
        (self.open_actions.len(), interrupted)
    }

    /// The outcome suffix of an action: on its own line when nested resources printed under it.
    fn end_action(&mut self, suffix: &str) {
        let (level, interrupted) = self.close_action();
        if interrupted {
            let text = format!("{}{suffix}", Self::resource_indent(level + 1));
            self.line(&text);
        } else {
            self.end_line(suffix);
        }
    }

    fn system_info_lines(&self) -> Vec<String> {
        let mut lines = vec![format!("skillet_version={}", self.version)];
        lines.extend(self.system_info.iter().map(|(k, v)| format!("{k}={v}")));
        lines
    }
}

/// A line of an error box, with its colour.
struct BoxLine {
    text: String,
    color: Option<&'static str>,
}

impl BoxLine {
    fn plain(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            color: None,
        }
    }
}

/// Chef's `ErrorDescription#display`: a title between rules of `=`, then sections, each a
/// heading underlined with `-`, its text and a blank line.
fn error_box(title: &str, sections: &[(String, Vec<String>)]) -> Vec<BoxLine> {
    let rule = "=".repeat(80);
    let mut lines = vec![
        BoxLine::plain(""),
        BoxLine::plain(rule.clone()),
        BoxLine {
            text: title.to_string(),
            color: Some(RED),
        },
        BoxLine::plain(rule),
        BoxLine::plain(""),
    ];
    for (heading, text) in sections {
        lines.push(BoxLine::plain(heading.clone()));
        lines.push(BoxLine::plain("-".repeat(heading.chars().count())));
        lines.extend(text.iter().map(|l| BoxLine::plain(l.clone())));
        lines.push(BoxLine::plain(""));
    }
    lines
}

fn message_lines(error: &Error) -> Vec<String> {
    error.to_string().lines().map(str::to_string).collect()
}

/// Chef's `recipe_snippet`: the declaration line and the lines that belong to it (a Ruby
/// block up to its `end`, or the more indented lines of a YAML/JSON entry), numbered.
fn declaration_snippet(file: &Path, line: u32) -> Option<Vec<String>> {
    if line == 0 {
        return None;
    }
    let text = std::fs::read_to_string(file).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    let first = usize::try_from(line).ok()? - 1;
    let declaration = *lines.get(first)?;
    let indent_of = |l: &str| l.len() - l.trim_start().len();
    let base = indent_of(declaration);
    let ruby_block = declaration.trim_end().ends_with(" do") || declaration.contains(" do |");
    let mut last = first;
    for (i, l) in lines.iter().enumerate().skip(first + 1).take(50) {
        if ruby_block {
            last = i;
            if l.trim() == "end" && indent_of(l) == base {
                break;
            }
        } else if !l.trim().is_empty() && indent_of(l) > base {
            last = i;
        } else {
            break;
        }
    }
    let mut out = vec![format!("# In {}", file.display()), String::new()];
    out.extend((first..=last).map(|i| format!("{:>3}: {}", i + 1, lines[i])));
    Some(out)
}

/// Chef's `Relevant File Content:` section: two lines either side, the failing one marked.
fn relevant_file_content(file: &Path, line: u32) -> Option<Vec<String>> {
    if line == 0 {
        return None;
    }
    let text = std::fs::read_to_string(file).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    let at = usize::try_from(line).ok()?;
    if at > lines.len() {
        return None;
    }
    let mut out = vec![format!("{}:", file.display()), String::new()];
    for n in at.saturating_sub(2).max(1)..=(at + 2).min(lines.len()) {
        let marker = if n == at { ">> " } else { ":  " };
        out.push(format!("{n:>3}{marker}{}", lines[n - 1]));
    }
    Some(out)
}

/// Chef's `Compiled Resource:` section, from the properties every resource has.
fn compiled_resource(resource: &dyn Resource) -> Vec<String> {
    let common = resource.common();
    if common.sensitive {
        return vec!["suppressed sensitive resource output".to_string()];
    }
    let actions: Vec<String> = common.actions.iter().map(|a| format!(":{a}")).collect();
    let mut out = vec![
        format!("# Declared in {}", common.location),
        String::new(),
        format!(
            "{}({:?}) do",
            resource.display_kind(),
            resource.id().name.as_str()
        ),
        format!("  action [{}]", actions.join(", ")),
    ];
    if common.retries > 0 {
        out.push(format!("  retries {}", common.retries));
        out.push(format!("  retry_delay {}", common.retry_delay.as_secs()));
    }
    match common.ignore_failure {
        IgnoreFailure::No => {}
        IgnoreFailure::Yes => out.push("  ignore_failure true".to_string()),
        IgnoreFailure::Quiet => out.push("  ignore_failure :quiet".to_string()),
    }
    if !common.cookbook.is_empty() {
        out.push(format!("  cookbook_name {:?}", common.cookbook));
        out.push(format!("  recipe_name {:?}", common.recipe));
    }
    out.push("end".to_string());
    out
}

fn recipe_header(resource: &dyn Resource) -> String {
    let common = resource.common();
    if common.cookbook.is_empty() {
        "<Dynamically Defined Resource>".to_string()
    } else {
        common.recipe_label()
    }
}

impl Events for DocFormatter {
    fn run_started(&mut self, run: &RunStart) {
        self.version = run.version.clone();
        self.why_run = run.why_run;
        self.system_info = run.system_info.clone();
        self.line(&format!("Skillet, version {}", run.version));
        self.line("Infra Phase starting");
    }

    fn run_list_resolved(&mut self, items: &[String]) {
        self.line(&format!(
            "Resolving cookbooks for run list: {}",
            inspect_list(items)
        ));
    }

    fn cookbooks_synchronized(&mut self, cookbooks: &[(String, String)]) {
        self.line("Synchronizing cookbooks:");
        for (name, version) in cookbooks {
            self.line(&format!("  - {name} ({version})"));
        }
    }

    fn compile_started(&mut self) {
        self.line("Compiling cookbooks...");
    }

    fn compile_failed(&mut self, error: &Error) {
        let (title, content) = match error {
            Error::Compile { location, .. } if !location.file.as_os_str().is_empty() => (
                format!("Recipe Compile Error in {}", location.file.display()),
                relevant_file_content(&location.file, location.line),
            ),
            _ => ("Recipe Compile Error".to_string(), None),
        };
        let mut sections = vec![(error.class().to_string(), message_lines(error))];
        if let Some(content) = content {
            sections.push(("Relevant File Content:".to_string(), content));
        }
        sections.push(("System Info:".to_string(), self.system_info_lines()));
        self.print_box(&error_box(&title, &sections), "");
    }

    fn converge_started(&mut self, resource_count: usize) {
        self.line(&format!("Converging {resource_count} resources"));
    }

    fn action_started(
        &mut self,
        resource: &dyn Resource,
        action: Action,
        _notified_by: Option<&NotifiedBy>,
    ) {
        // Nested resources print under their parent, with no recipe header.
        if let Some(parent) = self.open_actions.last_mut() {
            *parent = true;
        } else {
            let recipe = recipe_header(resource);
            if self.current_recipe.as_deref() != Some(recipe.as_str()) {
                self.line(&format!("Recipe: {recipe}"));
                self.current_recipe = Some(recipe);
            }
        }
        let text = format!(
            "{}* {} action {action}",
            Self::resource_indent(self.open_actions.len()),
            resource_label(resource)
        );
        self.open_actions.push(false);
        self.start_line(&text, None);
    }

    fn action_skipped(&mut self, _resource: &dyn Resource, _action: Action, reason: SkipReason) {
        self.skipped += 1;
        self.end_action(&format!(" (skipped due to {})", reason.as_str()));
    }

    fn action_up_to_date(&mut self, resource: &dyn Resource, _action: Action) {
        self.up_to_date += 1;
        // Chef's log resource suppresses the suffix; it is the one that never counts as updated.
        if resource.counts_as_update() {
            self.end_action(" (up to date)");
        } else {
            self.end_action("");
        }
    }

    fn action_updated(
        &mut self,
        resource: &dyn Resource,
        _action: Action,
        changes: &[Change],
        why_run: bool,
    ) {
        self.updated += 1;
        let (level, interrupted) = self.close_action();
        let detail = Self::resource_indent(level + 1);
        let prefix = if why_run { "Would " } else { "" };
        let sensitive = resource.common().sensitive;
        for change in changes {
            let text = format!("{detail}- {prefix}{}", change.description);
            self.start_line(&text, Some(GREEN));
            if sensitive {
                continue;
            }
            for diff in &change.diff {
                self.start_line(&format!("{detail}{diff}"), None);
            }
        }
        if interrupted && changes.is_empty() {
            // Chef's formatter ends an updated resource with a newline; after nested
            // resources no line is open, so it prints an indented empty line.
            self.line(&Self::resource_indent(level));
        } else {
            self.end_line("");
        }
    }

    fn action_failed(
        &mut self,
        resource: &dyn Resource,
        action: Action,
        error: &Error,
        ignored: IgnoreFailure,
    ) {
        self.end_line("");
        let (level, _) = self.close_action();
        if ignored == IgnoreFailure::Quiet {
            return;
        }
        let title = format!(
            "Error executing action `{action}` on resource '{}'",
            resource_label(resource)
        );
        let mut sections = vec![(error.class().to_string(), message_lines(error))];
        let location = &resource.common().location;
        if let Some(snippet) = declaration_snippet(&location.file, location.line) {
            sections.push(("Resource Declaration:".to_string(), snippet));
        }
        sections.push((
            "Compiled Resource:".to_string(),
            compiled_resource(resource),
        ));
        sections.push(("System Info:".to_string(), self.system_info_lines()));
        self.print_box(
            &error_box(&title, &sections),
            &Self::resource_indent(level + 1),
        );
    }

    fn converge_completed(&mut self, _summary: &RunSummary) {
        self.end_line("");
    }

    fn converge_failed(&mut self, _summary: &RunSummary, _error: &Error) {
        self.end_line("");
    }

    fn run_completed(&mut self, end: &RunEnd<'_>) {
        self.blank();
        self.line("Running handlers:");
        self.line("Running handlers complete");
        let text = final_line(
            self.updated,
            self.updated + self.up_to_date + self.skipped,
            self.why_run,
            end.error.is_some(),
            end.elapsed,
        );
        self.line(&text);
        let _ = self.out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::converge::converge;
    use crate::converge::scripted::{Journal, Scripted};
    use crate::report::SharedBuffer;
    use crate::resource::{Context, GuardKind, ResourceCollection, ResourceId, Timing};
    use crate::SourceLocation;
    use std::time::Duration;

    fn start(doc: &mut DocFormatter, why_run: bool) {
        doc.run_started(&RunStart {
            version: "0.1.0".into(),
            why_run,
            system_info: vec![("platform".into(), "debian".into())],
        });
    }

    /// Converges `resources` through the real runner into a doc formatter; returns the text.
    fn converge_into(
        doc: &mut DocFormatter,
        resources: Vec<Scripted>,
        why_run: bool,
        elapsed: Duration,
    ) {
        let mut collection = ResourceCollection::new();
        for r in resources {
            collection.push(Box::new(r));
        }
        let dir = tempfile::tempdir().unwrap();
        let mut cx = Context::new(dir.path());
        cx.why_run = why_run;
        let (_, result) = converge(&collection, &mut cx, doc);
        doc.run_completed(&RunEnd {
            elapsed,
            exit_code: i32::from(result.is_err()),
            error: result.as_ref().err(),
        });
    }

    fn file_with_diff(journal: &Journal) -> Scripted {
        Scripted::new("file", "/etc/app.conf", &[Action::Create], journal)
            .updates(
                Action::Create,
                vec![
                    Change::new("create new file /etc/app.conf"),
                    Change::with_diff(
                        "update content in file /etc/app.conf from none to 5891b5",
                        vec![
                            "--- /etc/app.conf\t2024-01-01 00:00:00.000000000 +0000".into(),
                            "+++ /etc/.chef-app.conf\t2024-01-01 00:00:00.000000000 +0000".into(),
                            "@@ -1 +1,2 @@".into(),
                            "+hello".into(),
                        ],
                    ),
                    Change::new("change mode from '' to '0644'"),
                ],
            )
            .notifies(
                Action::Restart,
                ResourceId::new("service", "nginx"),
                Timing::Delayed,
            )
    }

    #[test]
    fn a_real_run_prints_chefs_doc_output() {
        let journal = Journal::new();
        let out = SharedBuffer::new();
        let mut doc = DocFormatter::new(Box::new(out.clone()));
        start(&mut doc, false);
        doc.run_list_resolved(&["cb".to_string()]);
        doc.cookbooks_synchronized(&[("cb".to_string(), "0.1.0".to_string())]);
        doc.compile_started();
        let resources = vec![
            Scripted::new("service", "nginx", &[Action::Nothing], &journal).updates(
                Action::Restart,
                vec![Change::new("restart service service[nginx]")],
            ),
            file_with_diff(&journal),
            Scripted::new("execute", "make", &[Action::Run], &journal),
            Scripted::new("execute", "skip", &[Action::Run], &journal)
                .guard(GuardKind::OnlyIf, "false"),
            Scripted::new("log", "hello", &[Action::Write], &journal)
                .updates_on(Action::Write)
                .never_counts(),
            Scripted::new("directory", "/srv", &[Action::Create], &journal)
                .with_common(|c| c.recipe = "other".into()),
        ];
        converge_into(&mut doc, resources, false, Duration::from_secs(3));
        let expected = "\
Skillet, version 0.1.0
Infra Phase starting
Resolving cookbooks for run list: [\"cb\"]
Synchronizing cookbooks:
  - cb (0.1.0)
Compiling cookbooks...
Converging 6 resources
Recipe: cb::default
  * service[nginx] action nothing (skipped due to action :nothing)
  * file[/etc/app.conf] action create
    - create new file /etc/app.conf
    - update content in file /etc/app.conf from none to 5891b5
    --- /etc/app.conf\t2024-01-01 00:00:00.000000000 +0000
    +++ /etc/.chef-app.conf\t2024-01-01 00:00:00.000000000 +0000
    @@ -1 +1,2 @@
    +hello
    - change mode from '' to '0644'
  * execute[make] action run (up to date)
  * execute[skip] action run (skipped due to only_if)
  * log[hello] action write
Recipe: cb::other
  * directory[/srv] action create (up to date)
Recipe: cb::default
  * service[nginx] action restart
    - restart service service[nginx]

Running handlers:
Running handlers complete
Infra Phase complete, 2/7 resources updated in 03 seconds
";
        assert_eq!(out.contents(), expected);
    }

    #[test]
    fn why_run_prefixes_changes_with_would_and_says_would_have_been_updated() {
        let journal = Journal::new();
        let out = SharedBuffer::new();
        let mut doc = DocFormatter::new(Box::new(out.clone()));
        start(&mut doc, true);
        let resources = vec![
            Scripted::new("service", "nginx", &[Action::Nothing], &journal).updates(
                Action::Restart,
                vec![Change::new("restart service service[nginx]")],
            ),
            Scripted::new("file", "/x", &[Action::Create], &journal)
                .updates(Action::Create, vec![Change::new("create new file /x")])
                .notifies(
                    Action::Restart,
                    ResourceId::new("service", "nginx"),
                    Timing::Immediately,
                ),
        ];
        converge_into(&mut doc, resources, true, Duration::from_secs(75));
        let expected = "\
Skillet, version 0.1.0
Infra Phase starting
Converging 2 resources
Recipe: cb::default
  * service[nginx] action nothing (skipped due to action :nothing)
  * file[/x] action create
    - Would create new file /x
  * service[nginx] action restart
    - Would restart service service[nginx]

Running handlers:
Running handlers complete
Infra Phase complete, 2/3 resources would have been updated
";
        assert_eq!(out.contents(), expected);
    }

    #[test]
    fn a_before_probe_prints_would_lines_in_a_real_run() {
        let journal = Journal::new();
        let out = SharedBuffer::new();
        let mut doc = DocFormatter::new(Box::new(out.clone()));
        let resources = vec![
            Scripted::new("execute", "stop", &[Action::Nothing], &journal)
                .updates(Action::Run, vec![Change::new("execute stop")]),
            Scripted::new("file", "/x", &[Action::Create], &journal)
                .updates(Action::Create, vec![Change::new("create new file /x")])
                .notifies(
                    Action::Run,
                    ResourceId::new("execute", "stop"),
                    Timing::Before,
                ),
        ];
        converge_into(&mut doc, resources, false, Duration::from_secs(3723));
        let text = out.contents();
        let body: Vec<&str> = text.lines().skip(2).take(7).collect();
        assert_eq!(
            body,
            [
                "  * execute[stop] action nothing (skipped due to action :nothing)",
                "  * file[/x] action create",
                "    - Would create new file /x",
                "  * execute[stop] action run",
                "    - execute stop",
                "  * file[/x] action create",
                "    - create new file /x",
            ]
        );
        assert!(text.ends_with(
            "Infra Phase complete, 3/4 resources updated in 01 hours 02 minutes 03 seconds\n"
        ));
    }

    #[test]
    fn a_failure_prints_chefs_error_box_and_the_failed_line() {
        let dir = tempfile::tempdir().unwrap();
        let recipe = dir.path().join("default.yml");
        std::fs::write(
            &recipe,
            "resources:\n  - type: execute\n    name: \"false\"\n    only_if: \"true\"\n  - type: file\n    name: /x\n",
        )
        .unwrap();
        let journal = Journal::new();
        let out = SharedBuffer::new();
        let mut doc = DocFormatter::new(Box::new(out.clone()));
        start(&mut doc, false);
        let location = SourceLocation::new(&recipe, 2, 5);
        let resources = vec![
            Scripted::new("execute", "false", &[Action::Run], &journal)
                .fails_on(Action::Run)
                .with_common(|c| c.location = location.clone()),
            Scripted::new("file", "/x", &[Action::Create], &journal),
        ];
        converge_into(&mut doc, resources, false, Duration::from_secs(1));
        let path = recipe.display();
        let rule = "=".repeat(80);
        let expected = format!(
            "\
Skillet, version 0.1.0
Infra Phase starting
Converging 2 resources
Recipe: cb::default
  * execute[false] action run

    {rule}
    Error executing action `run` on resource 'execute[false]'
    {rule}

    RuntimeError
    ------------
    false failed to run

    Resource Declaration:
    ---------------------
    # In {path}

      2:   - type: execute
      3:     name: \"false\"
      4:     only_if: \"true\"

    Compiled Resource:
    ------------------
    # Declared in {path}:2:5

    execute(\"false\") do
      action [:run]
      cookbook_name \"cb\"
      recipe_name \"default\"
    end

    System Info:
    ------------
    skillet_version=0.1.0
    platform=debian


Running handlers:
Running handlers complete
Infra Phase failed. 0 resources updated in 01 seconds
"
        );
        assert_eq!(out.contents(), expected);
    }

    #[test]
    fn sensitive_resources_print_no_diff_and_no_compiled_resource() {
        let journal = Journal::new();
        let out = SharedBuffer::new();
        let mut doc = DocFormatter::new(Box::new(out.clone()));
        let resources = vec![
            Scripted::new("file", "/secret", &[Action::Create], &journal)
                .updates(
                    Action::Create,
                    vec![Change::with_diff(
                        "update content in file /secret from 1a2b3c to 4d5e6f",
                        vec!["+hunter2".into()],
                    )],
                )
                .with_common(|c| c.sensitive = true),
            Scripted::new(
                "execute",
                "secret-cmd --password hunter2",
                &[Action::Run],
                &journal,
            )
            .fails_on(Action::Run)
            .with_common(|c| {
                c.sensitive = true;
                c.ignore_failure = IgnoreFailure::Yes;
            }),
            Scripted::new("execute", "quiet", &[Action::Run], &journal)
                .fails_on(Action::Run)
                .with_common(|c| c.ignore_failure = IgnoreFailure::Quiet),
        ];
        converge_into(&mut doc, resources, false, Duration::from_secs(2));
        let text = out.contents();
        assert!(!text.contains("+hunter2"), "{text}");
        assert!(text.contains("    suppressed sensitive resource output\n"));
        assert!(!text.contains("action [:run]"));
        assert!(text.contains("  * execute[quiet] action run\n\nRunning handlers:"));
        assert!(text.ends_with("Infra Phase complete, 1/1 resources updated in 02 seconds\n"));
    }

    #[test]
    fn colour_only_when_asked() {
        let journal = Journal::new();
        let plain = SharedBuffer::new();
        let coloured = SharedBuffer::new();
        let file = |j: &Journal| {
            vec![Scripted::new("file", "/x", &[Action::Create], j)
                .updates(Action::Create, vec![Change::new("create new file /x")])]
        };
        let mut doc = DocFormatter::new(Box::new(plain.clone()));
        converge_into(&mut doc, file(&journal), false, Duration::ZERO);
        let mut doc = DocFormatter::new(Box::new(coloured.clone())).with_color(true);
        converge_into(&mut doc, file(&journal), false, Duration::ZERO);
        assert!(!plain.contents().contains('\x1b'));
        assert!(coloured
            .contents()
            .contains("    \x1b[32m- create new file /x\x1b[0m\n"));
    }

    #[test]
    fn compile_errors_show_the_relevant_file_content() {
        let dir = tempfile::tempdir().unwrap();
        let recipe = dir.path().join("default.yml");
        std::fs::write(
            &recipe,
            "resources:\n  - type: file\n    mode: [\n    name: /x\n",
        )
        .unwrap();
        let out = SharedBuffer::new();
        let mut doc = DocFormatter::new(Box::new(out.clone()));
        start(&mut doc, false);
        doc.compile_started();
        let error = Error::compile(SourceLocation::new(&recipe, 3, 11), "expected a string");
        doc.compile_failed(&error);
        doc.run_completed(&RunEnd {
            elapsed: Duration::from_secs(1),
            exit_code: 1,
            error: Some(&error),
        });
        let text = out.contents();
        let path = recipe.display();
        assert!(
            text.contains(&format!("Recipe Compile Error in {path}\n")),
            "{text}"
        );
        assert!(text.contains(&format!(
            "Relevant File Content:\n----------------------\n{path}:\n\n  1:  resources:\n  2:    - type: file\n  3>>     mode: [\n  4:      name: /x\n"
        )), "{text}");
        assert!(text.ends_with("Infra Phase failed. 0 resources updated in 01 seconds\n"));
    }

    #[test]
    fn nested_resources_print_one_level_deeper_without_a_recipe_header() {
        let journal = Journal::new();
        let out = SharedBuffer::new();
        let mut doc = DocFormatter::new(Box::new(out.clone()));
        start(&mut doc, false);
        let nested_in = |recipe: &str| {
            vec![
                Scripted::new("directory", "/srv/a", &[Action::Create], &journal)
                    .with_common(|c| c.recipe = recipe.into()),
                Scripted::new("file", "/srv/a/x", &[Action::Create], &journal).updates(
                    Action::Create,
                    vec![Change::new("create new file /srv/a/x")],
                ),
            ]
        };
        let resources = vec![
            Scripted::new("web_site", "a", &[Action::Create], &journal)
                .with_nested(Action::Create, nested_in("site")),
            Scripted::new("web_site", "b", &[Action::Create], &journal).with_nested(
                Action::Create,
                vec![Scripted::new(
                    "directory",
                    "/srv/b",
                    &[Action::Create],
                    &journal,
                )],
            ),
            Scripted::new("log", "done", &[Action::Write], &journal),
        ];
        converge_into(&mut doc, resources, false, Duration::from_secs(1));
        let text = out.contents();
        let body = &text[text.find("Converging").unwrap()..];
        assert_eq!(
            body,
            "\
Converging 3 resources
Recipe: cb::default
  * web_site[a] action create
    * directory[/srv/a] action create (up to date)
    * file[/srv/a/x] action create
      - create new file /srv/a/x
  
  * web_site[b] action create
    * directory[/srv/b] action create (up to date)
     (up to date)
  * log[done] action write (up to date)

Running handlers:
Running handlers complete
Infra Phase complete, 2/6 resources updated in 01 seconds
"
        );
    }
}
