//! `log`: writes a message to the log at a level (Chef's `Chef::Provider::Log::ChefLog`).
//!
//! How a log resource meets the check/apply contract: `check` returns a plan with one change
//! whose description is the message, and a [`LogEntry`] payload (level and message). The plan
//! is never empty, so the runner hands it to `apply`, which writes the entry to standard error
//! in Chef's logger format when its level is shown. Because [`Resource::counts_as_update`] is
//! false, the runner counts the resource as up to date, fires no notifications, and (like
//! Chef's doc formatter) prints no change line and no `(up to date)` suffix for it. Chef logs
//! even in why-run: the resource is [`Resource::whyrun_safe`], so the runner calls `apply` in
//! why-run too.

use super::build::Sources;
use super::properties::Properties;
use super::{Action, Change, Common, Context, Plan, Resource, ResourceId};
use crate::compile::decl::ResourceDecl;
use crate::error::Result;
use crate::platform::clock::LocalTime;
use std::fmt;
use std::io::Write;

/// Properties of `log`.
pub const PROPERTIES: &[&str] = &["message", "level"];

/// Actions of `log`.
pub const ACTIONS: &[Action] = &[Action::Write];

/// Chef's log levels, least severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// `:debug`.
    Debug,
    /// `:info` (the default).
    Info,
    /// `:warn`.
    Warn,
    /// `:error`.
    Error,
    /// `:fatal`.
    Fatal,
}

impl LogLevel {
    /// The level's name in upper case, as the logger prints it.
    pub fn label(self) -> &'static str {
        match self {
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
            LogLevel::Fatal => "FATAL",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The message a log resource writes: the plan's payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The level it is logged at.
    pub level: LogLevel,
    /// The text.
    pub message: String,
}

impl LogEntry {
    /// `[2024-01-01T00:00:00+00:00] WARN: message`, Chef's logger line.
    pub fn line(&self) -> String {
        let t = LocalTime::now();
        let sign = if t.offset < 0 { '-' } else { '+' };
        let off = t.offset.unsigned_abs();
        format!(
            "[{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}] {}: {}",
            t.year,
            t.month,
            t.day,
            t.hour,
            t.minute,
            t.second,
            off / 3600,
            (off % 3600) / 60,
            self.level,
            self.message
        )
    }

    /// Whether the entry shows at the run's verbosity: warn and above always, info when the
    /// run shows command output (log level info), debug never here.
    pub fn is_shown(&self, cx: &Context) -> bool {
        self.level >= LogLevel::Warn || (self.level == LogLevel::Info && cx.live_output)
    }
}

/// `log "message"`.
#[derive(Debug)]
pub struct LogResource {
    id: ResourceId,
    common: Common,
    entry: LogEntry,
}

/// Builds a `log`; `message` defaults to the resource name, `level` to info.
pub fn build(
    decl: &ResourceDecl,
    common: Common,
    _sources: &dyn Sources,
) -> Result<Box<dyn Resource>> {
    let props = Properties::new(decl);
    let level = match props.choice("level", &["debug", "info", "warn", "error", "fatal"])? {
        Some("debug") => LogLevel::Debug,
        Some("warn") => LogLevel::Warn,
        Some("error") => LogLevel::Error,
        Some("fatal") => LogLevel::Fatal,
        _ => LogLevel::Info,
    };
    Ok(Box::new(LogResource {
        id: ResourceId::new("log", &decl.name),
        common,
        entry: LogEntry {
            level,
            message: props
                .string("message")?
                .unwrap_or_else(|| decl.name.clone()),
        },
    }))
}

impl LogResource {
    /// What this resource logs.
    pub fn entry(&self) -> &LogEntry {
        &self.entry
    }
}

impl Resource for LogResource {
    fn id(&self) -> &ResourceId {
        &self.id
    }

    fn common(&self) -> &Common {
        &self.common
    }

    fn check(&self, action: Action, _cx: &mut Context) -> Result<Plan> {
        let mut plan = Plan::up_to_date();
        if action == Action::Write {
            plan.push(Change::new(self.entry.message.clone()));
            plan.set_payload(self.entry.clone());
        }
        Ok(plan)
    }

    fn apply(&self, _action: Action, _plan: Plan, cx: &mut Context) -> Result<()> {
        if self.entry.is_shown(cx) {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{}", self.entry.line());
        }
        Ok(())
    }

    fn counts_as_update(&self) -> bool {
        false
    }

    fn whyrun_safe(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::testing::Host;
    use serde_json::json;

    #[test]
    fn log_plans_its_message_but_never_counts_as_updated() {
        let mut host = Host::new();
        let r = host
            .build("log", "hello", json!({"level": "warn"}))
            .unwrap();
        assert!(!r.counts_as_update());
        let mut plan = r.check(Action::Write, &mut host.cx).unwrap();
        assert_eq!(plan.changes[0].description, "hello");
        let entry = plan.take_payload::<LogEntry>().unwrap();
        assert_eq!(entry.level, LogLevel::Warn);
        assert!(entry.line().ends_with("] WARN: hello"), "{}", entry.line());
        assert!(entry.is_shown(&host.cx));
    }

    #[test]
    fn message_property_and_default_level() {
        let mut host = Host::new();
        let r = host
            .build("log", "name", json!({"message": "text"}))
            .unwrap();
        let mut plan = r.check(Action::Write, &mut host.cx).unwrap();
        let entry = plan.take_payload::<LogEntry>().unwrap();
        assert_eq!(
            entry,
            LogEntry {
                level: LogLevel::Info,
                message: "text".into()
            }
        );
        assert!(!entry.is_shown(&host.cx));
    }

    #[test]
    fn unknown_level_is_a_compile_error() {
        let host = Host::new();
        assert!(host.build("log", "x", json!({"level": "loud"})).is_err());
    }
}
