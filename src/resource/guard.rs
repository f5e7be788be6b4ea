//! `only_if` / `not_if` guards: a command (shell string or argv list) or, from Ruby recipes,
//! a block evaluated when the guard runs.

use super::Context;
use crate::error::{Result, SourceLocation};
use crate::platform::command::{CommandLine, CommandSpec};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How long a guard command may run when no `timeout` is given (mixlib-shellout's default).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// Which way a guard decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardKind {
    /// Run the action only when the command succeeds.
    OnlyIf,
    /// Run the action only when the command fails.
    NotIf,
}

impl GuardKind {
    /// `only_if` or `not_if`, as printed in `(skipped due to only_if)`.
    pub fn as_str(self) -> &'static str {
        match self {
            GuardKind::OnlyIf => "only_if",
            GuardKind::NotIf => "not_if",
        }
    }
}

/// What a guard tests: a shell string, an argv list, or a block of code.
#[derive(Debug, Clone, PartialEq)]
pub enum GuardCommand {
    /// `not_if 'test -f /x'`: run by the shell; success means true.
    Shell(String),
    /// `not_if ['test', '-f', '/x']`: run directly.
    Argv(Vec<String>),
    /// `not_if { ::File.exist?('/x') }`: evaluated at converge time; its truthiness decides.
    Block(GuardBlock),
}

impl From<CommandLine> for GuardCommand {
    fn from(command: CommandLine) -> Self {
        match command {
            CommandLine::Shell(s) => GuardCommand::Shell(s),
            CommandLine::Argv(argv) => GuardCommand::Argv(argv),
        }
    }
}

impl PartialEq<CommandLine> for GuardCommand {
    fn eq(&self, other: &CommandLine) -> bool {
        match (self, other) {
            (GuardCommand::Shell(a), CommandLine::Shell(b)) => a == b,
            (GuardCommand::Argv(a), CommandLine::Argv(b)) => a == b,
            _ => false,
        }
    }
}

/// The test a block guard runs: true when the block's value is truthy.
pub type GuardTest = dyn Fn(&Context) -> Result<bool> + Send + Sync;

/// A guard written as code, compiled when the recipe was compiled and run each time the guard
/// is evaluated (so it sees the host as it is at that moment, as Chef's block guards do).
#[derive(Clone)]
pub struct GuardBlock {
    /// The block's source text, for messages.
    pub source: String,
    test: Arc<GuardTest>,
}

impl GuardBlock {
    /// A block guard with its source text and the test that evaluates it.
    pub fn new(source: impl Into<String>, test: Arc<GuardTest>) -> Self {
        Self {
            source: source.into(),
            test,
        }
    }

    /// Evaluates the block against `cx`.
    pub fn test(&self, cx: &Context) -> Result<bool> {
        (self.test)(cx)
    }
}

impl fmt::Debug for GuardBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("GuardBlock").field(&self.source).finish()
    }
}

impl PartialEq for GuardBlock {
    /// The same compiled block (blocks are code, compared by identity).
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.test, &other.test)
    }
}

/// Process options of a guard (`not_if 'x', cwd: '/tmp'`), also inherited from `execute`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GuardOptions {
    pub cwd: Option<PathBuf>,
    pub environment: Vec<(String, String)>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub umask: Option<u32>,
    pub timeout: Option<Duration>,
}

impl GuardOptions {
    /// These options with unset fields taken from `defaults`.
    pub fn or(&self, defaults: &GuardOptions) -> GuardOptions {
        let mut environment = defaults.environment.clone();
        for (k, v) in &self.environment {
            environment.retain(|(dk, _)| dk != k);
            environment.push((k.clone(), v.clone()));
        }
        GuardOptions {
            cwd: self.cwd.clone().or_else(|| defaults.cwd.clone()),
            environment,
            user: self.user.clone().or_else(|| defaults.user.clone()),
            group: self.group.clone().or_else(|| defaults.group.clone()),
            umask: self.umask.or(defaults.umask),
            timeout: self.timeout.or(defaults.timeout),
        }
    }
}

/// A guard as declared.
#[derive(Debug, Clone, PartialEq)]
pub struct Guard {
    pub kind: GuardKind,
    pub command: GuardCommand,
    pub options: GuardOptions,
    pub location: SourceLocation,
}

impl Guard {
    /// Runs the guard's command (or evaluates its block); true when the action should go ahead.
    ///
    /// A command that times out counts as failed, as in Chef (its shell-out default timeout is
    /// 600 s); one that cannot be started at all (a missing `cwd`, an unknown `user`) and an
    /// error raised by a block are errors of the resource, not a silent "no".
    pub fn allows(&self, inherited: &GuardOptions, cx: &mut Context) -> Result<bool> {
        let passed = match &self.command {
            GuardCommand::Shell(s) => {
                self.succeeds(CommandLine::Shell(s.clone()), inherited, cx)?
            }
            GuardCommand::Argv(argv) => {
                self.succeeds(CommandLine::Argv(argv.clone()), inherited, cx)?
            }
            GuardCommand::Block(block) => block.test(cx)?,
        };
        Ok(match self.kind {
            GuardKind::OnlyIf => passed,
            GuardKind::NotIf => !passed,
        })
    }

    /// Whether `command` runs and exits 0 with this guard's options over `inherited`.
    fn succeeds(
        &self,
        command: CommandLine,
        inherited: &GuardOptions,
        cx: &Context,
    ) -> Result<bool> {
        let opts = self.options.or(inherited);
        let spec = CommandSpec {
            command,
            cwd: opts.cwd,
            environment: opts.environment,
            user: opts.user,
            group: opts.group,
            umask: opts.umask,
            timeout: Some(opts.timeout.unwrap_or(DEFAULT_TIMEOUT)),
            input: None,
            network_namespace: None,
        };
        Ok(spec.run(&cx.command_env())?.success())
    }
}
