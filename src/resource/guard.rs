//! `only_if` / `not_if` guards.

use super::Context;
use crate::error::{Result, SourceLocation};
use crate::platform::command::{CommandLine, CommandSpec};
use std::path::PathBuf;
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

/// The command of a guard: a shell string or an argv list.
pub type GuardCommand = CommandLine;

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
    /// Runs the guard's command; true when the action should go ahead.
    ///
    /// A command that times out counts as failed, as in Chef (its shell-out default timeout is
    /// 600 s); one that cannot be started at all (a missing `cwd`, an unknown `user`) is an
    /// error of the resource, not a silent "no".
    pub fn allows(&self, inherited: &GuardOptions, cx: &mut Context) -> Result<bool> {
        let opts = self.options.or(inherited);
        let spec = CommandSpec {
            command: self.command.clone(),
            cwd: opts.cwd,
            environment: opts.environment,
            user: opts.user,
            group: opts.group,
            umask: opts.umask,
            timeout: Some(opts.timeout.unwrap_or(DEFAULT_TIMEOUT)),
            input: None,
        };
        let succeeded = spec.run(&cx.command_env())?.success();
        Ok(match self.kind {
            GuardKind::OnlyIf => succeeded,
            GuardKind::NotIf => !succeeded,
        })
    }
}
