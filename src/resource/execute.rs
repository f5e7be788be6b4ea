//! `execute`: runs a command (Chef's `Chef::Provider::Execute`).
//!
//! Always "updated" when it runs; up to date only when its `creates` path exists. Its string
//! guards inherit its cwd, environment, user, group and umask ([`Resource::guard_defaults`]).
//! A non-matching exit status fails with Mixlib::ShellOut's message and the captured output.

use super::build::Sources;
use super::properties::Properties;
use super::{Action, Change, Common, Context, GuardOptions, Plan, Resource, ResourceId};
use crate::compile::decl::ResourceDecl;
use crate::error::{Error, Result};
use crate::platform::command::{CommandLine, CommandOutput, CommandSpec};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Properties of `execute`.
pub const PROPERTIES: &[&str] = &[
    "command",
    "cwd",
    "environment",
    "user",
    "group",
    "umask",
    "returns",
    "timeout",
    "creates",
    "live_stream",
    "input",
];

/// Actions of `execute`.
pub const ACTIONS: &[Action] = &[Action::Run];

/// Chef's default `timeout`: one hour.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3600);

/// `execute "make install"`.
#[derive(Debug)]
pub struct ExecuteResource {
    id: ResourceId,
    common: Common,
    command: CommandLine,
    cwd: Option<PathBuf>,
    environment: Vec<(String, String)>,
    user: Option<String>,
    group: Option<String>,
    umask: Option<u32>,
    returns: Vec<i32>,
    timeout: Duration,
    creates: Option<PathBuf>,
    live_stream: bool,
    input: Option<String>,
}

/// Builds an `execute`; `command` defaults to the resource name.
pub fn build(
    decl: &ResourceDecl,
    common: Common,
    _sources: &dyn Sources,
) -> Result<Box<dyn Resource>> {
    let props = Properties::new(decl);
    let command = props
        .command("command")?
        .unwrap_or_else(|| CommandLine::Shell(decl.name.clone()));
    let cwd = props.string("cwd")?.map(PathBuf::from);
    let creates = props.string("creates")?.map(PathBuf::from);
    if let Some(path) = &creates {
        if path.is_relative() && cwd.is_none() {
            return Err(Error::compile(
                props.location("creates"),
                format!(
                    "a relative `creates` (\"{}\") needs `cwd` to be set",
                    path.display()
                ),
            ));
        }
    }
    let principal =
        |name: &str| -> Result<Option<String>> { Ok(props.principal(name)?.map(|p| p.display())) };
    Ok(Box::new(ExecuteResource {
        id: ResourceId::new("execute", &decl.name),
        common,
        command,
        cwd,
        environment: props.string_map("environment")?.unwrap_or_default(),
        user: principal("user")?,
        group: principal("group")?,
        umask: props.mode("umask")?.map(|m| m.bits()),
        returns: props.int_list("returns")?.unwrap_or_else(|| vec![0]),
        timeout: props.seconds("timeout")?.unwrap_or(DEFAULT_TIMEOUT),
        creates,
        live_stream: props.bool("live_stream")?.unwrap_or(false),
        input: props.string("input")?,
    }))
}

impl ExecuteResource {
    /// `creates` on this host (relative ones are under `cwd`).
    fn creates_path(&self, cx: &Context) -> Option<PathBuf> {
        let creates = self.creates.as_ref()?;
        let logical = match &self.cwd {
            Some(cwd) if creates.is_relative() => cwd.join(creates),
            _ => creates.clone(),
        };
        Some(cx.host_path(&logical))
    }

    fn description(&self) -> String {
        if self.common.sensitive {
            "execute sensitive resource".to_string()
        } else {
            format!("execute {}", self.command.display())
        }
    }

    fn spec(&self) -> CommandSpec {
        CommandSpec {
            command: self.command.clone(),
            cwd: self.cwd.clone(),
            environment: self.environment.clone(),
            user: self.user.clone(),
            group: self.group.clone(),
            umask: self.umask,
            timeout: Some(self.timeout),
            input: self.input.as_ref().map(|i| i.clone().into_bytes()),
            network_namespace: None,
        }
    }

    /// Mixlib::ShellOut's failure text, with output unless the resource is sensitive.
    fn failure(&self, out: &CommandOutput) -> Error {
        let shown = self.command.display();
        let output = if self.common.sensitive {
            "STDOUT/STDERR suppressed for sensitive resource".to_string()
        } else {
            format!(
                "---- Begin output of {shown} ----\nSTDOUT: {}\nSTDERR: {}\n---- End output of {shown} ----\nRan {shown} returned {}",
                String::from_utf8_lossy(&out.stdout).trim_end(),
                String::from_utf8_lossy(&out.stderr).trim_end(),
                out.code()
            )
        };
        if out.timed_out {
            return Error::resource(
                "Mixlib::ShellOut::CommandTimeout",
                format!(
                    "Command timed out after {}s:\n{output}",
                    self.timeout.as_secs()
                ),
            );
        }
        let expected: Vec<String> = self.returns.iter().map(i32::to_string).collect();
        Error::resource(
            "Mixlib::ShellOut::ShellCommandFailed",
            format!(
                "Expected process to exit with [{}], but received '{}'\n{output}",
                expected.join(", "),
                out.code()
            ),
        )
    }
}

impl Resource for ExecuteResource {
    fn id(&self) -> &ResourceId {
        &self.id
    }

    fn common(&self) -> &Common {
        &self.common
    }

    fn check(&self, action: Action, cx: &mut Context) -> Result<Plan> {
        if action != Action::Run {
            return Ok(Plan::up_to_date());
        }
        if let Some(path) = self.creates_path(cx) {
            if Path::new(&path).exists() {
                return Ok(Plan::up_to_date());
            }
        }
        let mut plan = Plan::up_to_date();
        plan.push(Change::new(self.description()));
        Ok(plan)
    }

    fn apply(&self, _action: Action, _plan: Plan, cx: &mut Context) -> Result<()> {
        let mut env = cx.command_env();
        env.live_output = (env.live_output || self.live_stream) && !self.common.sensitive;
        let out = self.spec().run(&env)?;
        if !out.timed_out && self.returns.contains(&out.code()) {
            return Ok(());
        }
        Err(self.failure(&out))
    }

    fn guard_defaults(&self) -> GuardOptions {
        GuardOptions {
            cwd: self.cwd.clone(),
            environment: self.environment.clone(),
            user: self.user.clone(),
            group: self.group.clone(),
            umask: self.umask,
            timeout: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::testing::Host;
    use serde_json::json;

    #[test]
    fn runs_and_describes_the_command() {
        let mut host = Host::new();
        let marker = host.path("/etc/ran");
        let r = host
            .build(
                "execute",
                "touch it",
                json!({"command": format!("touch {}", marker.display())}),
            )
            .unwrap();
        let done = host.converge(r.as_ref(), Action::Run).unwrap();
        assert_eq!(done, [format!("execute touch {}", marker.display())]);
        assert!(marker.exists());
    }

    #[test]
    fn check_never_runs_the_command() {
        let mut host = Host::new();
        let marker = host.path("/etc/ran");
        let r = host
            .build(
                "execute",
                "x",
                json!({"command": format!("touch {}", marker.display())}),
            )
            .unwrap();
        assert_eq!(host.check(r.as_ref(), Action::Run).len(), 1);
        assert!(!marker.exists());
    }

    #[test]
    fn creates_makes_it_up_to_date() {
        let mut host = Host::new();
        host.write("/opt/app/bin/app", "bin");
        let r = host
            .build(
                "execute",
                "make install",
                json!({"creates": "/opt/app/bin/app"}),
            )
            .unwrap();
        assert!(host.check(r.as_ref(), Action::Run).is_empty());
        let rel = host
            .build(
                "execute",
                "x",
                json!({"creates": "bin/app", "cwd": "/opt/app"}),
            )
            .unwrap();
        assert!(host.check(rel.as_ref(), Action::Run).is_empty());
        let err = host
            .build("execute", "x", json!({"creates": "bin/app"}))
            .unwrap_err();
        assert!(err.to_string().contains("needs `cwd`"), "{err}");
    }

    #[test]
    fn unexpected_exit_is_shell_command_failed_with_output() {
        let mut host = Host::new();
        let r = host
            .build("execute", "echo out; echo err >&2; exit 1", json!({}))
            .unwrap();
        let err = host.converge(r.as_ref(), Action::Run).unwrap_err();
        assert_eq!(err.class(), "Mixlib::ShellOut::ShellCommandFailed");
        let text = err.to_string();
        assert!(
            text.starts_with("Expected process to exit with [0], but received '1'"),
            "{text}"
        );
        assert!(text.contains("STDOUT: out"), "{text}");
        assert!(text.contains("STDERR: err"), "{text}");
    }

    #[test]
    fn returns_accepts_a_list() {
        let mut host = Host::new();
        let r = host
            .build("execute", "exit 3", json!({"returns": [0, 3]}))
            .unwrap();
        host.converge(r.as_ref(), Action::Run).unwrap();
    }

    #[test]
    fn sensitive_hides_command_and_output() {
        let mut host = Host::new();
        let r = host
            .build("execute", "echo secret; exit 2", json!({"sensitive": true}))
            .unwrap();
        assert_eq!(
            host.check(r.as_ref(), Action::Run),
            ["execute sensitive resource"]
        );
        let err = host.converge(r.as_ref(), Action::Run).unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    #[test]
    fn argv_command_prints_as_an_inspected_list() {
        let mut host = Host::new();
        let r = host
            .build("execute", "x", json!({"command": ["/bin/echo", "a b"]}))
            .unwrap();
        assert_eq!(
            host.check(r.as_ref(), Action::Run),
            [r#"execute ["/bin/echo", "a b"]"#]
        );
    }

    #[test]
    fn timeout_is_command_timeout() {
        let mut host = Host::new();
        let r = host
            .build("execute", "sleep 5", json!({"timeout": 0.1}))
            .unwrap();
        let err = host.converge(r.as_ref(), Action::Run).unwrap_err();
        assert_eq!(err.class(), "Mixlib::ShellOut::CommandTimeout");
    }

    #[test]
    fn guards_inherit_cwd_environment_and_umask() {
        let host = Host::new();
        let r = host
            .build(
                "execute",
                "x",
                json!({"cwd": "/tmp", "environment": {"A": "1"}, "umask": "027", "user": "nobody"}),
            )
            .unwrap();
        let d = r.guard_defaults();
        assert_eq!(d.cwd, Some(PathBuf::from("/tmp")));
        assert_eq!(d.environment, [("A".to_string(), "1".to_string())]);
        assert_eq!(d.umask, Some(0o027));
        assert_eq!(d.user.as_deref(), Some("nobody"));
    }

    #[test]
    fn environment_and_input_reach_the_command() {
        let mut host = Host::new();
        let out = host.path("/etc/out");
        let r = host
            .build(
                "execute",
                "x",
                json!({
                    "command": format!("cat > {}; echo $GREETING >> {}", out.display(), out.display()),
                    "environment": {"GREETING": "hi"},
                    "input": "fed\n"
                }),
            )
            .unwrap();
        host.converge(r.as_ref(), Action::Run).unwrap();
        assert_eq!(std::fs::read_to_string(out).unwrap(), "fed\nhi\n");
    }
}
