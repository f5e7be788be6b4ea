//! Reporting a run: the [`Events`] every phase emits, and the sinks that print them.
//!
//! The CLI emits the phases before the converge (run start, run list, cookbooks, compile);
//! [`crate::converge::converge`] emits the converge phase, one event per action; the CLI
//! closes with [`Events::run_completed`]. Sinks: [`doc::DocFormatter`] (Chef's doc formatter,
//! the default), [`minimal::MinimalFormatter`] (`-F min`), [`json::JsonReport`] (`-F json`
//! and `--report-file`), [`NullEvents`] (`-F null`), and [`Fanout`] to feed several at once.
//! Sinks never see secrets they could leak: a sensitive resource's diff is never printed.

pub mod doc;
pub mod json;
pub mod minimal;

use crate::converge::{NotifiedBy, RunSummary, SkipReason};
use crate::error::Error;
use crate::resource::{Action, Change, IgnoreFailure, Resource};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What is known when a run starts.
#[derive(Debug, Clone, Default)]
pub struct RunStart {
    /// skillet's version, printed as `Skillet, version X`.
    pub version: String,
    /// The whole run is a why-run.
    pub why_run: bool,
    /// `key=value` lines for the `System Info:` section of error boxes (platform, ...).
    pub system_info: Vec<(String, String)>,
}

/// How a run ended.
#[derive(Debug, Clone, Copy)]
pub struct RunEnd<'a> {
    /// Wall time from run start to run end.
    pub elapsed: Duration,
    /// The process exit code the run ends with.
    pub exit_code: i32,
    /// The error that ended the run, if any.
    pub error: Option<&'a Error>,
}

/// Receives every step of a run. Every method has an empty default, so a sink implements
/// only what it shows.
pub trait Events {
    /// The run starts.
    fn run_started(&mut self, _run: &RunStart) {}
    /// The run list to resolve cookbooks for, items as written (`cb`, `cb::r`, `cb@1.0.0`).
    fn run_list_resolved(&mut self, _items: &[String]) {}
    /// The cookbooks of the run, as (name, version), in load order.
    fn cookbooks_synchronized(&mut self, _cookbooks: &[(String, String)]) {}
    /// Attribute files and recipes are about to be evaluated.
    fn compile_started(&mut self) {}
    /// Compiling failed; the host was not touched.
    fn compile_failed(&mut self, _error: &Error) {}
    /// The converge phase starts with this many resources.
    fn converge_started(&mut self, _resource_count: usize) {}
    /// An action of a resource starts (guards not yet evaluated).
    fn action_started(
        &mut self,
        _resource: &dyn Resource,
        _action: Action,
        _notified_by: Option<&NotifiedBy>,
    ) {
    }
    /// The action was skipped.
    fn action_skipped(&mut self, _resource: &dyn Resource, _action: Action, _reason: SkipReason) {}
    /// The action had nothing to change (also for resources that never count as updated).
    fn action_up_to_date(&mut self, _resource: &dyn Resource, _action: Action) {}
    /// The action changed something; with `why_run` it only would have.
    fn action_updated(
        &mut self,
        _resource: &dyn Resource,
        _action: Action,
        _changes: &[Change],
        _why_run: bool,
    ) {
    }
    /// The action failed and will be tried again; `retries_left` includes the next attempt.
    fn action_retrying(
        &mut self,
        _resource: &dyn Resource,
        _action: Action,
        _retries_left: u32,
        _error: &Error,
    ) {
    }
    /// The action failed for good; `ignored` says whether `ignore_failure` lets the run go on.
    fn action_failed(
        &mut self,
        _resource: &dyn Resource,
        _action: Action,
        _error: &Error,
        _ignored: IgnoreFailure,
    ) {
    }
    /// The delayed notification queue starts running with this many entries.
    fn delayed_notifications_started(&mut self, _count: usize) {}
    /// The converge phase finished without error.
    fn converge_completed(&mut self, _summary: &RunSummary) {}
    /// The converge phase failed; the summary still has every action that ran.
    fn converge_failed(&mut self, _summary: &RunSummary, _error: &Error) {}
    /// The run is over.
    fn run_completed(&mut self, _end: &RunEnd<'_>) {}
}

/// `-F null`: shows nothing.
#[derive(Debug, Default)]
pub struct NullEvents;

impl Events for NullEvents {}

/// Sends every event to several sinks in order (doc output and a JSON report file).
#[derive(Default)]
pub struct Fanout {
    sinks: Vec<Box<dyn Events>>,
}

impl Fanout {
    /// A fan-out over these sinks.
    pub fn new(sinks: Vec<Box<dyn Events>>) -> Self {
        Self { sinks }
    }

    /// Adds a sink.
    pub fn push(&mut self, sink: Box<dyn Events>) {
        self.sinks.push(sink);
    }
}

impl Events for Fanout {
    fn run_started(&mut self, run: &RunStart) {
        self.sinks.iter_mut().for_each(|s| s.run_started(run));
    }
    fn run_list_resolved(&mut self, items: &[String]) {
        self.sinks
            .iter_mut()
            .for_each(|s| s.run_list_resolved(items));
    }
    fn cookbooks_synchronized(&mut self, cookbooks: &[(String, String)]) {
        for s in &mut self.sinks {
            s.cookbooks_synchronized(cookbooks);
        }
    }
    fn compile_started(&mut self) {
        self.sinks.iter_mut().for_each(|s| s.compile_started());
    }
    fn compile_failed(&mut self, error: &Error) {
        self.sinks.iter_mut().for_each(|s| s.compile_failed(error));
    }
    fn converge_started(&mut self, resource_count: usize) {
        for s in &mut self.sinks {
            s.converge_started(resource_count);
        }
    }
    fn action_started(
        &mut self,
        resource: &dyn Resource,
        action: Action,
        notified_by: Option<&NotifiedBy>,
    ) {
        for s in &mut self.sinks {
            s.action_started(resource, action, notified_by);
        }
    }
    fn action_skipped(&mut self, resource: &dyn Resource, action: Action, reason: SkipReason) {
        for s in &mut self.sinks {
            s.action_skipped(resource, action, reason);
        }
    }
    fn action_up_to_date(&mut self, resource: &dyn Resource, action: Action) {
        for s in &mut self.sinks {
            s.action_up_to_date(resource, action);
        }
    }
    fn action_updated(
        &mut self,
        resource: &dyn Resource,
        action: Action,
        changes: &[Change],
        why_run: bool,
    ) {
        for s in &mut self.sinks {
            s.action_updated(resource, action, changes, why_run);
        }
    }
    fn action_retrying(
        &mut self,
        resource: &dyn Resource,
        action: Action,
        retries_left: u32,
        error: &Error,
    ) {
        for s in &mut self.sinks {
            s.action_retrying(resource, action, retries_left, error);
        }
    }
    fn action_failed(
        &mut self,
        resource: &dyn Resource,
        action: Action,
        error: &Error,
        ignored: IgnoreFailure,
    ) {
        for s in &mut self.sinks {
            s.action_failed(resource, action, error, ignored);
        }
    }
    fn delayed_notifications_started(&mut self, count: usize) {
        for s in &mut self.sinks {
            s.delayed_notifications_started(count);
        }
    }
    fn converge_completed(&mut self, summary: &RunSummary) {
        for s in &mut self.sinks {
            s.converge_completed(summary);
        }
    }
    fn converge_failed(&mut self, summary: &RunSummary, error: &Error) {
        for s in &mut self.sinks {
            s.converge_failed(summary, error);
        }
    }
    fn run_completed(&mut self, end: &RunEnd<'_>) {
        self.sinks.iter_mut().for_each(|s| s.run_completed(end));
    }
}

/// An in-memory output that stays readable while a formatter owns a writer to it.
#[derive(Debug, Clone, Default)]
pub struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything written so far, as text (invalid UTF-8 replaced).
    pub fn contents(&self) -> String {
        match self.0.lock() {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(poisoned) => String::from_utf8_lossy(&poisoned.into_inner()).into_owned(),
        }
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.0.lock() {
            Ok(mut bytes) => bytes.extend_from_slice(buf),
            Err(poisoned) => poisoned.into_inner().extend_from_slice(buf),
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Chef's `pretty_elapsed_time`: `SS seconds`, `MM minutes SS seconds` or
/// `HH hours MM minutes SS seconds`, zero padded, whole seconds.
pub fn format_elapsed(elapsed: Duration) -> String {
    let secs = elapsed.as_secs();
    let (hours, minutes, seconds) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if secs < 60 {
        format!("{seconds:02} seconds")
    } else if secs < 3600 {
        format!("{minutes:02} minutes {seconds:02} seconds")
    } else {
        // strftime's %H wraps at a day; keep counting hours instead of losing them.
        format!("{hours:02} hours {minutes:02} minutes {seconds:02} seconds")
    }
}

/// A list of strings as Ruby's `Array#inspect` prints it: `["a", "b::c"]`.
pub fn inspect_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| inspect_string(s)).collect();
    format!("[{}]", quoted.join(", "))
}

fn inspect_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The final-line words of a run, shared by the doc and minimal formatters.
pub(crate) fn final_line(
    updated: usize,
    total: usize,
    why_run: bool,
    failed: bool,
    elapsed: Duration,
) -> String {
    match (failed, why_run) {
        (false, false) => format!(
            "Infra Phase complete, {updated}/{total} resources updated in {}",
            format_elapsed(elapsed)
        ),
        (false, true) => {
            format!("Infra Phase complete, {updated}/{total} resources would have been updated")
        }
        (true, false) => format!(
            "Infra Phase failed. {updated} resources updated in {}",
            format_elapsed(elapsed)
        ),
        (true, true) => format!("Infra Phase failed. {updated} resources would have been updated"),
    }
}

/// `display_kind[name]`, as output shows a resource.
pub(crate) fn resource_label(resource: &dyn Resource) -> String {
    format!("{}[{}]", resource.display_kind(), resource.id().name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_time_uses_chefs_three_shapes() {
        assert_eq!(format_elapsed(Duration::from_millis(3400)), "03 seconds");
        assert_eq!(
            format_elapsed(Duration::from_secs(61)),
            "01 minutes 01 seconds"
        );
        assert_eq!(
            format_elapsed(Duration::from_secs(3 * 3600 + 5 * 60 + 9)),
            "03 hours 05 minutes 09 seconds"
        );
    }

    #[test]
    fn run_list_is_printed_as_ruby_inspects_an_array() {
        let items = vec!["cb".to_string(), "cb::r".to_string(), "say\"hi".to_string()];
        assert_eq!(inspect_list(&items), r#"["cb", "cb::r", "say\"hi"]"#);
        assert_eq!(inspect_list(&[]), "[]");
    }

    #[test]
    fn final_line_wording_matches_chef() {
        let t = Duration::from_secs(3);
        assert_eq!(
            final_line(2, 4, false, false, t),
            "Infra Phase complete, 2/4 resources updated in 03 seconds"
        );
        assert_eq!(
            final_line(2, 4, true, false, t),
            "Infra Phase complete, 2/4 resources would have been updated"
        );
        assert_eq!(
            final_line(1, 4, false, true, t),
            "Infra Phase failed. 1 resources updated in 03 seconds"
        );
        assert_eq!(
            final_line(1, 4, true, true, t),
            "Infra Phase failed. 1 resources would have been updated"
        );
    }

    #[test]
    fn fanout_feeds_every_sink() {
        let (a, b) = (SharedBuffer::new(), SharedBuffer::new());
        let mut fan = Fanout::new(vec![
            Box::new(minimal::MinimalFormatter::new(Box::new(a.clone()))),
            Box::new(minimal::MinimalFormatter::new(Box::new(b.clone()))),
        ]);
        fan.converge_started(3);
        assert_eq!(a.contents(), "Converging 3 resources\n");
        assert_eq!(a.contents(), b.contents());
    }
}
