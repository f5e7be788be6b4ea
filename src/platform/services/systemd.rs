//! systemd units: their state from `systemctl show`, and the systemctl verbs that change them.

use crate::error::{Error, Result};
use crate::platform::command::{CommandEnv, CommandLine, CommandSpec};

/// What `systemctl show -p UnitFileState -p ActiveState` says about a unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitState {
    /// `enabled`, `disabled`, `static`, `masked`, `indirect`, `bad`, ...
    pub unit_file_state: String,
    /// `active`, `inactive`, `activating`, `failed`, ...
    pub active_state: String,
}

impl UnitState {
    /// A state from its two properties.
    pub fn new(unit_file_state: &str, active_state: &str) -> Self {
        Self {
            unit_file_state: unit_file_state.to_string(),
            active_state: active_state.to_string(),
        }
    }

    /// Parses `Key=value` lines; both keys must be there, as Chef requires.
    pub fn parse(unit: &str, text: &str) -> Result<Self> {
        let mut file_state = None;
        let mut active = None;
        for line in text.lines() {
            match line.trim().split_once('=') {
                Some(("UnitFileState", v)) => file_state = Some(v.to_string()),
                Some(("ActiveState", v)) => active = Some(v.to_string()),
                _ => {}
            }
        }
        match (file_state, active) {
            (Some(unit_file_state), Some(active_state)) => Ok(Self {
                unit_file_state,
                active_state,
            }),
            _ => Err(Error::resource(
                "Chef::Exceptions::Service",
                format!("'systemctl show' not reporting status for {unit}!"),
            )),
        }
    }

    /// Running: `ActiveState=active` (`activating` is not active).
    pub fn is_active(&self) -> bool {
        self.active_state == "active"
    }

    /// Enabled as Chef counts it; `None` for `bad` (sysv compatibility), where Chef asks
    /// `systemctl is-enabled`.
    pub fn is_enabled(&self) -> Option<bool> {
        match self.unit_file_state.as_str() {
            "bad" => None,
            "enabled" | "static" | "generated" | "alias" | "indirect" => Some(true),
            _ => Some(false),
        }
    }

    /// Static, masked and indirect units are never enabled or disabled; Chef leaves them be.
    pub fn is_enableable(&self) -> bool {
        !matches!(
            self.unit_file_state.as_str(),
            "static" | "masked" | "indirect"
        )
    }
}

fn systemctl(args: &[&str]) -> CommandSpec {
    let mut argv = vec!["systemctl".to_string(), "--system".to_string()];
    argv.extend(args.iter().map(|a| a.to_string()));
    CommandSpec::new(CommandLine::Argv(argv))
}

/// Asks systemctl for a unit's state.
pub fn show(unit: &str, env: &CommandEnv) -> Result<UnitState> {
    let out = systemctl(&["show", "-p", "UnitFileState", "-p", "ActiveState", unit]).run(env)?;
    if !out.success() {
        return Err(Error::resource(
            "Chef::Exceptions::Service",
            format!(
                "systemctl show {unit} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    UnitState::parse(unit, &String::from_utf8_lossy(&out.stdout))
}

/// `systemctl is-enabled --quiet unit` exits 0.
pub fn is_enabled(unit: &str, env: &CommandEnv) -> Result<bool> {
    Ok(systemctl(&["is-enabled", unit, "--quiet"])
        .run(env)?
        .success())
}

/// Runs `systemctl --system <verb> <unit>` (start, stop, restart, reload, enable, disable).
pub fn run_verb(verb: &str, unit: &str, env: &CommandEnv) -> Result<()> {
    let spec = systemctl(&[verb, unit]);
    let out = spec.run(env)?;
    if out.success() {
        return Ok(());
    }
    Err(Error::resource(
        "Mixlib::ShellOut::ShellCommandFailed",
        format!(
            "Expected process to exit with [0], but received '{}'\n---- Begin output of {} ----\nSTDOUT: {}\nSTDERR: {}\n---- End output ----",
            out.code(),
            spec.command.display(),
            String::from_utf8_lossy(&out.stdout).trim_end(),
            String::from_utf8_lossy(&out.stderr).trim_end()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_show_output_in_any_order() {
        let s = UnitState::parse("nginx", "ActiveState=active\nUnitFileState=enabled\n").unwrap();
        assert_eq!(s, UnitState::new("enabled", "active"));
        assert!(s.is_active());
        assert_eq!(s.is_enabled(), Some(true));
    }

    #[test]
    fn missing_keys_are_chefs_service_error() {
        let err = UnitState::parse("nginx", "ActiveState=active\n").unwrap_err();
        assert_eq!(err.class(), "Chef::Exceptions::Service");
        assert!(err.to_string().contains("not reporting status for nginx"));
    }

    #[test]
    fn enabled_states_and_enableable_units_as_chef() {
        for state in ["enabled", "static", "generated", "alias", "indirect"] {
            assert_eq!(UnitState::new(state, "inactive").is_enabled(), Some(true));
        }
        for state in ["disabled", "masked", "enabled-runtime", "masked-runtime"] {
            assert_eq!(UnitState::new(state, "inactive").is_enabled(), Some(false));
        }
        assert_eq!(UnitState::new("bad", "inactive").is_enabled(), None);
        assert!(!UnitState::new("static", "active").is_enableable());
        assert!(!UnitState::new("masked", "active").is_enableable());
        assert!(UnitState::new("disabled", "active").is_enableable());
        assert!(!UnitState::new("enabled", "activating").is_active());
    }
}
