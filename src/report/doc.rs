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

/// Resource lines sit under a `Recipe:` header, change lines under their resource.
const RESOURCE_INDENT: &str = "  ";
const DETAIL_INDENT: &str = "    ";

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
            Some(code) if self.color => format!("{code}{text}{RESET}"),
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
        let recipe = recipe_header(resource);
        if self.current_recipe.as_deref() != Some(recipe.as_str()) {
            self.line(&format!("Recipe: {recipe}"));
            self.current_recipe = Some(recipe);
        }
        let text = format!(
            "{RESOURCE_INDENT}* {} action {action}",
            resource_label(resource)
        );
        self.start_line(&text, None);
    }

    fn action_skipped(&mut self, _resource: &dyn Resource, _action: Action, reason: SkipReason) {
        self.skipped += 1;
        self.end_line(&format!(" (skipped due to {})", reason.as_str()));
    }

    fn action_up_to_date(&mut self, resource: &dyn Resource, _action: Action) {
        self.up_to_date += 1;
        // Chef's log resource suppresses the suffix; it is the one that never counts as updated.
        if resource.counts_as_update() {
            self.end_line(" (up to date)");
        } else {
            self.end_line("");
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
        let prefix = if why_run { "Would " } else { "" };
        let sensitive = resource.common().sensitive;
        for change in changes {
            let text = format!("{DETAIL_INDENT}- {prefix}{}", change.description);
            self.start_line(&text, Some(GREEN));
            if sensitive {
                continue;
            }
            for diff in &change.diff {
                self.start_line(&format!("{DETAIL_INDENT}{diff}"), None);
            }
        }
        self.end_line("");
    }

    fn action_failed(
        &mut self,
        resource: &dyn Resource,
        action: Action,
        error: &Error,
        ignored: IgnoreFailure,
    ) {
        self.end_line("");
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
        sections.push(("Compiled Resource:".to_string(), compiled_resource(resource)));
        sections.push(("System Info:".to_string(), self.system_info_lines()));
        self.print_box(&error_box(&title, &sections), DETAIL_INDENT);
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
