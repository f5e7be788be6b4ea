//! `service`: starts, stops, enables and disables a daemon (Chef's `Chef::Provider::Service`
//! with its systemd, Debian and simple providers).
//!
//! `check` loads the current state through the provider ([`CurrentService`]) and hands it to
//! [`decide`], which is pure: Chef's rules for each action. `:restart` always runs, `:reload`
//! only when the service runs, static/masked/indirect systemd units are never enabled or
//! disabled. The default action is `:nothing`.

use super::build::Sources;
use super::properties::Properties;
use super::{Action, Change, Common, Context, Plan, Resource, ResourceId};
use crate::compile::decl::ResourceDecl;
use crate::error::{Error, Result};
use crate::platform::command::{CommandEnv, CommandLine};
use crate::platform::services::debian::{self, InitInfo};
use crate::platform::services::{simple, systemd, ProviderKind};
use regex::Regex;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Properties of `service`.
pub const PROPERTIES: &[&str] = &[
    "service_name",
    "pattern",
    "start_command",
    "stop_command",
    "status_command",
    "restart_command",
    "reload_command",
    "supports",
    "init_command",
    "priority",
    "timeout",
    "options",
    "parameters",
    "run_levels",
];

/// Actions of `service`.
pub const ACTIONS: &[Action] = &[
    Action::Enable,
    Action::Disable,
    Action::Start,
    Action::Stop,
    Action::Restart,
    Action::Reload,
];

/// `supports`: what the init script can do by itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Supports {
    /// `status`: the script answers `status` (exit 0 when running).
    pub status: bool,
    /// `restart`: the script answers `restart`.
    pub restart: bool,
    /// `reload`: the script answers `reload`.
    pub reload: bool,
}

/// The `*_command` properties; `false` counts as not given.
#[derive(Debug, Clone, Default)]
pub struct ServiceCommands {
    /// `start_command`.
    pub start: Option<CommandLine>,
    /// `stop_command`.
    pub stop: Option<CommandLine>,
    /// `status_command`.
    pub status: Option<CommandLine>,
    /// `restart_command`.
    pub restart: Option<CommandLine>,
    /// `reload_command`.
    pub reload: Option<CommandLine>,
}

/// What the provider found on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurrentService {
    /// The service runs.
    pub running: bool,
    /// The service starts at boot.
    pub enabled: bool,
    /// The service can be enabled or disabled at all (not a static, masked or indirect unit).
    pub enableable: bool,
}

/// `service "nginx"`.
#[derive(Debug)]
pub struct ServiceResource {
    id: ResourceId,
    common: Common,
    service_name: String,
    pattern: Regex,
    commands: ServiceCommands,
    supports: Supports,
    init_command: Option<PathBuf>,
    priority: Option<u8>,
}

/// Builds a `service`; `service_name` and `pattern` default to the resource name.
pub fn build(
    decl: &ResourceDecl,
    common: Common,
    _sources: &dyn Sources,
) -> Result<Box<dyn Resource>> {
    let props = Properties::new(decl);
    let service_name = props
        .string("service_name")?
        .unwrap_or_else(|| decl.name.clone());
    let pattern_text = props
        .string("pattern")?
        .unwrap_or_else(|| service_name.clone());
    let pattern = Regex::new(&pattern_text).map_err(|e| {
        Error::compile(
            props.location("pattern"),
            format!("expected `pattern` to be a regular expression: {e}"),
        )
    })?;
    let command = |name: &str| -> Result<Option<CommandLine>> {
        match props.get(name).map(|p| &p.value) {
            Some(Value::Bool(false)) => Ok(None),
            _ => props.command(name),
        }
    };
    let priority = props
        .u32("priority")?
        .map(|p| u8::try_from(p.min(99)).unwrap_or(99));
    Ok(Box::new(ServiceResource {
        id: ResourceId::new("service", &decl.name),
        common,
        service_name,
        pattern,
        commands: ServiceCommands {
            start: command("start_command")?,
            stop: command("stop_command")?,
            status: command("status_command")?,
            restart: command("restart_command")?,
            reload: command("reload_command")?,
        },
        supports: read_supports(&props)?,
        init_command: props.string("init_command")?.map(PathBuf::from),
        priority,
    }))
}

/// `supports` as a map (`{restart: true}`) or the older list form (`[:restart, :status]`).
fn read_supports(props: &Properties<'_>) -> Result<Supports> {
    let Some(prop) = props.get("supports") else {
        return Ok(Supports::default());
    };
    let names: Vec<String> = match &prop.value {
        Value::Object(map) => map
            .iter()
            .filter(|(_, v)| v.as_bool() == Some(true))
            .map(|(k, _)| k.clone())
            .collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(|s| s.trim_start_matches(':').to_string())
            .collect(),
        _ => {
            return Err(super::properties::type_error(
                "supports",
                "a map of booleans",
                prop,
            ))
        }
    };
    let has = |n: &str| names.iter().any(|x| x == n);
    Ok(Supports {
        status: has("status"),
        restart: has("restart"),
        reload: has("reload"),
    })
}

/// Chef's decision for `action` given the current state: the change line, or `None` when up
/// to date. `priority_given` is the Debian provider's quirk: its `:enable` compares the rc link
/// priorities (a map) with the integer `priority` and never finds them equal.
pub fn decide(
    action: Action,
    current: CurrentService,
    resource: &str,
    priority_given: bool,
) -> Option<String> {
    let line = |verb: &str| Some(format!("{verb} service {resource}"));
    match action {
        Action::Enable if !current.enableable => None,
        Action::Enable if current.enabled && !priority_given => None,
        Action::Enable => line("enable"),
        Action::Disable if current.enableable && current.enabled => line("disable"),
        Action::Start if !current.running => line("start"),
        Action::Stop if current.running => line("stop"),
        Action::Restart => line("restart"),
        Action::Reload if current.running => line("reload"),
        _ => None,
    }
}

/// What `apply` needs from `check`.
#[derive(Debug)]
struct ServicePlan {
    provider: ProviderKind,
    running: bool,
    script: PathBuf,
}

impl ServiceResource {
    /// The init script as the recipe names it (`init_command` or `/etc/init.d/<name>`).
    fn init_script(&self) -> PathBuf {
        self.init_command
            .clone()
            .unwrap_or_else(|| Path::new("/etc/init.d").join(&self.service_name))
    }

    fn provider(&self, cx: &mut Context) -> ProviderKind {
        let init = cx.services.init_system(&cx.root);
        let script_exists = cx.host_path(&self.init_script()).is_file();
        let own = self.commands.start.is_some() || self.commands.stop.is_some();
        ProviderKind::choose(init, script_exists, own)
    }

    /// Loads the current state through `provider`.
    fn load_current(&self, provider: ProviderKind, cx: &mut Context) -> Result<CurrentService> {
        match provider {
            ProviderKind::Systemd => self.load_systemd(cx),
            ProviderKind::Debian => {
                let script = cx.host_path(&self.init_script());
                let info = std::fs::read_to_string(&script)
                    .map(|t| InitInfo::parse(&t))
                    .unwrap_or_default();
                let links = debian::rc_links(&cx.root, &self.service_name, &info.levels());
                Ok(CurrentService {
                    running: self.sysv_running(cx, &script, info.pidfile.as_deref()),
                    enabled: debian::is_enabled(&links),
                    enableable: true,
                })
            }
            ProviderKind::Simple => Ok(CurrentService {
                running: self.sysv_running(cx, &cx.host_path(&self.init_script()), None),
                enabled: false,
                enableable: true,
            }),
        }
    }

    fn load_systemd(&self, cx: &mut Context) -> Result<CurrentService> {
        let env = cx.command_env();
        let unit = cx.services.unit_state(&self.service_name, &env)?;
        let running = match &self.commands.status {
            Some(cmd) => simple::status(cmd, &env),
            None => unit.is_active(),
        };
        let enabled = match unit.is_enabled() {
            Some(enabled) => enabled,
            None => systemd::is_enabled(&self.service_name, &env)?,
        };
        Ok(CurrentService {
            running,
            enabled,
            enableable: unit.is_enableable(),
        })
    }

    /// Chef's order: `status_command`, then the script's `status` when `supports status`
    /// (a live pid in the script's pid file answers first, without spawning), then the process
    /// table matched against `pattern`.
    fn sysv_running(&self, cx: &Context, script: &Path, pidfile: Option<&Path>) -> bool {
        let env = cx.command_env();
        if let Some(cmd) = &self.commands.status {
            return simple::status(cmd, &env);
        }
        if self.supports.status {
            let proc_dir = Path::new("/proc");
            if let Some(running) =
                pidfile.and_then(|p| debian::pidfile_says_running(&cx.host_path(p), proc_dir))
            {
                return running;
            }
            let status = CommandLine::Shell(format!("{} status", script.display()));
            return simple::status(&status, &env);
        }
        simple::process_table_matches(Path::new("/proc"), &self.pattern)
    }

    /// Chef's provider requirements that fail the action before anything runs.
    fn check_requirements(
        &self,
        action: Action,
        provider: ProviderKind,
        script_exists: bool,
        why_run: bool,
    ) -> Result<()> {
        let own = match action {
            Action::Start => self.commands.start.is_some(),
            Action::Stop => self.commands.stop.is_some(),
            Action::Restart => self.commands.restart.is_some(),
            Action::Reload => self.commands.reload.is_some(),
            _ => true,
        };
        match provider {
            ProviderKind::Debian if !own && !script_exists && !why_run => Err(Error::resource(
                "Chef::Exceptions::Service",
                format!("{} does not exist!", self.init_script().display()),
            )),
            ProviderKind::Simple => self.simple_requirements(action),
            _ => Ok(()),
        }
    }

    fn simple_requirements(&self, action: Action) -> Result<()> {
        let c = &self.commands;
        let missing = match action {
            Action::Start if c.start.is_none() => "requires that start_command be set",
            Action::Stop if c.stop.is_none() => "requires that stop_command be set",
            Action::Restart if c.restart.is_none() && (c.start.is_none() || c.stop.is_none()) => {
                "requires a restart_command or both start_command and stop_command be set in order to perform a restart"
            }
            Action::Reload if c.reload.is_none() => {
                return Err(Error::resource(
                    "Chef::Exceptions::UnsupportedAction",
                    format!("{} requires a reload_command be set in order to perform a reload", self.id),
                ))
            }
            _ => return Ok(()),
        };
        Err(Error::resource(
            "Chef::Exceptions::Service",
            format!("{} {missing}", self.id),
        ))
    }

    fn run_action(&self, action: Action, plan: &ServicePlan, cx: &mut Context) -> Result<()> {
        let env = cx.command_env();
        match plan.provider {
            ProviderKind::Systemd => {
                let result = self.apply_systemd(action, plan.running, &env);
                cx.services.forget_unit(&self.service_name);
                result
            }
            ProviderKind::Debian => self.apply_debian(action, plan, cx, &env),
            ProviderKind::Simple => self.apply_simple(action, &env),
        }
    }

    fn apply_systemd(&self, action: Action, running: bool, env: &CommandEnv) -> Result<()> {
        let c = &self.commands;
        let own = match action {
            Action::Start => c.start.as_ref(),
            Action::Stop => c.stop.as_ref(),
            Action::Restart => c.restart.as_ref(),
            Action::Reload => c.reload.as_ref(),
            _ => None,
        };
        if let Some(cmd) = own {
            return simple::run(cmd, env);
        }
        let verb = match action {
            Action::Reload if !running => "start",
            other => other.as_str(),
        };
        systemd::run_verb(verb, &self.service_name, env)
    }

    fn apply_debian(
        &self,
        action: Action,
        plan: &ServicePlan,
        cx: &Context,
        env: &CommandEnv,
    ) -> Result<()> {
        let c = &self.commands;
        let script = |verb: &str| CommandLine::Shell(format!("{} {verb}", plan.script.display()));
        match action {
            Action::Enable => debian::enable(
                &cx.root,
                &self.service_name,
                self.priority.unwrap_or(20),
                env,
            ),
            Action::Disable => debian::disable(&cx.root, &self.service_name, env),
            Action::Start => simple::run(c.start.as_ref().unwrap_or(&script("start")), env),
            Action::Stop => simple::run(c.stop.as_ref().unwrap_or(&script("stop")), env),
            Action::Restart => match &c.restart {
                Some(cmd) => simple::run(cmd, env),
                None if self.supports.restart => simple::run(&script("restart"), env),
                None => {
                    simple::run(c.stop.as_ref().unwrap_or(&script("stop")), env)?;
                    std::thread::sleep(std::time::Duration::from_secs(1));
                    simple::run(c.start.as_ref().unwrap_or(&script("start")), env)
                }
            },
            Action::Reload => match &c.reload {
                Some(cmd) => simple::run(cmd, env),
                None if self.supports.reload => simple::run(&script("reload"), env),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    fn apply_simple(&self, action: Action, env: &CommandEnv) -> Result<()> {
        let c = &self.commands;
        let given = |cmd: &Option<CommandLine>| {
            cmd.clone().ok_or_else(|| {
                Error::resource(
                    "Chef::Exceptions::UnsupportedAction",
                    format!(
                        "{} does not support :{action}",
                        ProviderKind::Simple.class_name()
                    ),
                )
            })
        };
        match action {
            Action::Start => simple::run(&given(&c.start)?, env),
            Action::Stop => simple::run(&given(&c.stop)?, env),
            Action::Restart => match &c.restart {
                Some(cmd) => simple::run(cmd, env),
                None => {
                    simple::run(&given(&c.stop)?, env)?;
                    std::thread::sleep(std::time::Duration::from_secs(1));
                    simple::run(&given(&c.start)?, env)
                }
            },
            Action::Reload => simple::run(&given(&c.reload)?, env),
            _ => given(&None).map(|_| ()),
        }
    }
}

impl Resource for ServiceResource {
    fn id(&self) -> &ResourceId {
        &self.id
    }

    fn common(&self) -> &Common {
        &self.common
    }

    fn check(&self, action: Action, cx: &mut Context) -> Result<Plan> {
        if !ACTIONS.contains(&action) {
            return Ok(Plan::up_to_date());
        }
        let provider = self.provider(cx);
        let script_exists = cx.host_path(&self.init_script()).is_file();
        self.check_requirements(action, provider, script_exists, cx.why_run)?;
        let current = self.load_current(provider, cx)?;
        let priority_given = provider == ProviderKind::Debian && self.priority.is_some();
        let mut plan = Plan::up_to_date();
        if let Some(line) = decide(action, current, &self.id.to_string(), priority_given) {
            plan.push(Change::new(line));
            plan.set_payload(ServicePlan {
                provider,
                running: current.running,
                script: cx.host_path(&self.init_script()),
            });
        }
        Ok(plan)
    }

    fn apply(&self, action: Action, mut plan: Plan, cx: &mut Context) -> Result<()> {
        let Some(service_plan) = plan.take_payload::<ServicePlan>() else {
            return Err(Error::resource(
                "Chef::Exceptions::Internal",
                format!("no service plan for {}", self.id),
            ));
        };
        self.run_action(action, &service_plan, cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::services::{InitSystem, UnitState};
    use crate::resource::testing::Host;
    use serde_json::json;

    fn state(running: bool, enabled: bool, enableable: bool) -> CurrentService {
        CurrentService {
            running,
            enabled,
            enableable,
        }
    }

    #[test]
    fn restart_always_runs_reload_only_when_running() {
        let r = "service[x]";
        let line = |a, s| decide(a, s, r, false);
        assert_eq!(
            line(Action::Restart, state(true, true, true)).as_deref(),
            Some("restart service service[x]")
        );
        assert_eq!(
            line(Action::Restart, state(false, false, true)).as_deref(),
            Some("restart service service[x]")
        );
        assert_eq!(line(Action::Reload, state(false, true, true)), None);
        assert_eq!(
            line(Action::Reload, state(true, true, true)).as_deref(),
            Some("reload service service[x]")
        );
    }

    #[test]
    fn start_stop_enable_disable_compare_with_current_state() {
        let r = "service[x]";
        assert_eq!(
            decide(Action::Start, state(true, false, true), r, false),
            None
        );
        assert!(decide(Action::Start, state(false, false, true), r, false).is_some());
        assert_eq!(
            decide(Action::Stop, state(false, false, true), r, false),
            None
        );
        assert!(decide(Action::Stop, state(true, false, true), r, false).is_some());
        assert_eq!(
            decide(Action::Enable, state(false, true, true), r, false),
            None
        );
        assert_eq!(
            decide(Action::Enable, state(false, false, true), r, false).as_deref(),
            Some("enable service service[x]")
        );
        assert_eq!(
            decide(Action::Disable, state(false, false, true), r, false),
            None
        );
        assert!(decide(Action::Disable, state(false, true, true), r, false).is_some());
    }

    #[test]
    fn static_and_masked_units_are_never_enabled_or_disabled() {
        let r = "service[x]";
        assert_eq!(
            decide(Action::Enable, state(false, false, false), r, false),
            None
        );
        assert_eq!(
            decide(Action::Disable, state(false, true, false), r, false),
            None
        );
    }

    #[test]
    fn debian_enable_with_a_priority_always_runs() {
        assert!(decide(Action::Enable, state(false, true, true), "service[x]", true).is_some());
    }

    fn systemd_host(unit_file_state: &str, active: &str) -> Host {
        let mut host = Host::new();
        host.cx.services.init_system = Some(InitSystem::Systemd);
        host.cx
            .services
            .units
            .insert("nginx".into(), UnitState::new(unit_file_state, active));
        host
    }

    #[test]
    fn systemd_unit_state_decides_and_masked_is_silently_up_to_date() {
        let mut host = systemd_host("masked", "inactive");
        let r = host.build("service", "nginx", json!({})).unwrap();
        assert!(host.check(r.as_ref(), Action::Enable).is_empty());
        assert!(host.check(r.as_ref(), Action::Disable).is_empty());
        assert_eq!(
            host.check(r.as_ref(), Action::Start),
            ["start service service[nginx]"]
        );
        let mut host = systemd_host("enabled", "active");
        let r = host.build("service", "nginx", json!({})).unwrap();
        assert!(host.check(r.as_ref(), Action::Start).is_empty());
        assert_eq!(
            host.check(r.as_ref(), Action::Disable),
            ["disable service service[nginx]"]
        );
    }

    #[test]
    fn systemd_status_command_decides_running() {
        let mut host = systemd_host("enabled", "active");
        let r = host
            .build("service", "nginx", json!({"status_command": "exit 3"}))
            .unwrap();
        assert_eq!(
            host.check(r.as_ref(), Action::Start),
            ["start service service[nginx]"]
        );
    }

    #[test]
    fn debian_service_without_init_script_fails_as_chef() {
        let mut host = Host::new();
        let r = host.build("service", "nosuchd", json!({})).unwrap();
        let err = r.check(Action::Start, &mut host.cx).unwrap_err();
        assert_eq!(err.class(), "Chef::Exceptions::Service");
        assert_eq!(err.to_string(), "/etc/init.d/nosuchd does not exist!");
        host.cx.why_run = true;
        assert!(r.check(Action::Start, &mut host.cx).is_ok());
    }

    #[test]
    fn simple_provider_needs_its_commands() {
        let mut host = Host::new();
        let r = host
            .build("service", "app", json!({"start_command": "true"}))
            .unwrap();
        let err = r.check(Action::Stop, &mut host.cx).unwrap_err();
        assert_eq!(
            err.to_string(),
            "service[app] requires that stop_command be set"
        );
        let err = r.check(Action::Reload, &mut host.cx).unwrap_err();
        assert_eq!(err.class(), "Chef::Exceptions::UnsupportedAction");
    }

    #[test]
    fn bad_pattern_is_a_compile_error() {
        let host = Host::new();
        let err = host
            .build("service", "x", json!({"pattern": "("}))
            .unwrap_err();
        assert!(err
            .to_string()
            .contains("expected `pattern` to be a regular expression"));
    }

    /// Kills the daemon a test started, whatever the test's outcome.
    struct Daemon(PathBuf);

    impl Drop for Daemon {
        fn drop(&mut self) {
            if let Ok(text) = std::fs::read_to_string(&self.0) {
                if let Ok(pid) = text.trim().parse::<i32>() {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
        }
    }

    /// A sysv-style script whose daemon is a shell loop recording its pid in /run/<name>.pid
    /// under the host's root.
    fn install_init_script(host: &Host, name: &str) -> Daemon {
        let root = host.cx.root.display().to_string();
        let script = format!(
            r#"#!/bin/sh
### BEGIN INIT INFO
# Provides:          {name}
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
### END INIT INFO
PIDFILE=/run/{name}.pid
P="{root}$PIDFILE"
case "$1" in
  start)
    mkdir -p "{root}/run"
    sh -c 'echo $$ > "$1"; exec sh -c "while :; do sleep 1; done" {name}-loop' x "$P" </dev/null >/dev/null 2>&1 &
    for i in 1 2 3 4 5 6 7 8 9 10; do [ -s "$P" ] && break; sleep 0.1; done ;;
  stop)
    [ -s "$P" ] && kill "$(cat "$P")"; rm -f "$P" ;;
  status)
    [ -s "$P" ] && kill -0 "$(cat "$P")" 2>/dev/null ;;
  *) exit 1 ;;
esac
"#
        );
        let logical = format!("/etc/init.d/{name}");
        host.write(&logical, &script);
        let path = host.path(&logical);
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        Daemon(host.path(&format!("/run/{name}.pid")))
    }

    #[test]
    fn debian_provider_starts_enables_and_stops_a_real_daemon_under_a_temp_root() {
        let mut host = Host::new();
        host.cx.services.init_system = Some(InitSystem::Other);
        let name = format!("tinyd{}", std::process::id());
        let _daemon = install_init_script(&host, &name);
        let r = host
            .build("service", &name, json!({"supports": {"status": true}}))
            .unwrap();
        let line = |verb: &str| vec![format!("{verb} service service[{name}]")];

        assert_eq!(
            host.converge(r.as_ref(), Action::Start).unwrap(),
            line("start")
        );
        assert!(
            host.check(r.as_ref(), Action::Start).is_empty(),
            "pid file says running"
        );

        assert_eq!(
            host.converge(r.as_ref(), Action::Enable).unwrap(),
            line("enable")
        );
        assert!(host.path(&format!("/etc/rc2.d/S20{name}")).is_symlink());
        assert!(host.check(r.as_ref(), Action::Enable).is_empty());

        assert_eq!(
            host.converge(r.as_ref(), Action::Disable).unwrap(),
            line("disable")
        );
        assert!(host.check(r.as_ref(), Action::Disable).is_empty());

        assert_eq!(
            host.converge(r.as_ref(), Action::Stop).unwrap(),
            line("stop")
        );
        assert!(host.check(r.as_ref(), Action::Stop).is_empty());
        assert_eq!(host.check(r.as_ref(), Action::Restart), line("restart"));
    }

    #[test]
    fn without_status_support_the_process_table_is_matched_by_pattern() {
        let mut host = Host::new();
        host.cx.services.init_system = Some(InitSystem::Other);
        let name = format!("loopd{}", std::process::id());
        let _daemon = install_init_script(&host, &name);
        let r = host.build("service", &name, json!({})).unwrap();
        assert_eq!(host.check(r.as_ref(), Action::Stop), Vec::<String>::new());
        host.converge(r.as_ref(), Action::Start).unwrap();
        assert_eq!(
            host.check(r.as_ref(), Action::Stop),
            [format!("stop service service[{name}]")]
        );
        host.converge(r.as_ref(), Action::Stop).unwrap();
        // The loop exits on its next `sleep 1`.
        std::thread::sleep(std::time::Duration::from_millis(1300));
        assert!(host.check(r.as_ref(), Action::Stop).is_empty());
    }

    #[test]
    fn simple_provider_runs_the_given_commands() {
        let mut host = Host::new();
        host.cx.services.init_system = Some(InitSystem::Other);
        let flag = host.path("/run/app.up");
        let f = flag.display();
        let r = host
            .build(
                "service",
                "app",
                json!({
                    "start_command": format!("mkdir -p $(dirname {f}) && touch {f}"),
                    "stop_command": format!("rm -f {f}"),
                    "status_command": format!("test -e {f}"),
                }),
            )
            .unwrap();
        assert_eq!(
            host.converge(r.as_ref(), Action::Start).unwrap(),
            ["start service service[app]"]
        );
        assert!(flag.exists());
        assert!(host.check(r.as_ref(), Action::Start).is_empty());
        let err = host.converge(r.as_ref(), Action::Enable).unwrap_err();
        assert_eq!(err.class(), "Chef::Exceptions::UnsupportedAction");
        host.converge(r.as_ref(), Action::Stop).unwrap();
        assert!(!flag.exists());
    }
}
