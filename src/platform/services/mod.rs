//! Service managers beneath the `service` resource: which one runs a service, and what it says
//! about the service's state.
//!
//! Chef on Debian prefers systemd when it is PID 1, then the Debian provider for
//! `/etc/init.d` scripts (enablement through update-rc.d's rc links). skillet adds the simple
//! provider when a service has no init script but is given its own commands. State is read
//! from files where the manager keeps it in files (rc links, pid files, /proc); systemd is asked
//! once per unit with `systemctl show`, and the answer is kept in [`ServiceCache`].

pub mod debian;
pub mod simple;
pub mod systemd;

use crate::error::Result;
use crate::platform::command::CommandEnv;
use std::collections::HashMap;
use std::path::Path;

pub use systemd::UnitState;

/// The init system running as PID 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitSystem {
    /// systemd (`/proc/1/comm` says `systemd`).
    Systemd,
    /// Anything else: sysvinit, a container's own PID 1, a kitchen host's init.
    Other,
}

impl InitSystem {
    /// Chef's `systemd?` check: `/proc/1/comm` under `root` reads `systemd`.
    pub fn detect(root: &Path) -> Self {
        let comm = std::fs::read_to_string(root.join("proc/1/comm")).unwrap_or_default();
        if comm.trim_end() == "systemd" {
            InitSystem::Systemd
        } else {
            InitSystem::Other
        }
    }
}

/// Which provider runs a service, as Chef resolves it on Debian.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// `Chef::Provider::Service::Systemd`.
    Systemd,
    /// `Chef::Provider::Service::Debian`: an init script plus update-rc.d.
    Debian,
    /// `Chef::Provider::Service::Simple`: the service's own commands only.
    Simple,
}

impl ProviderKind {
    /// systemd when it is PID 1; Debian when there is an init script; Simple when the service
    /// has no script but brings its own start or stop command; otherwise Debian, whose actions
    /// then fail as Chef's do ("/etc/init.d/x does not exist!").
    pub fn choose(init: InitSystem, init_script_exists: bool, has_own_commands: bool) -> Self {
        match (init, init_script_exists, has_own_commands) {
            (InitSystem::Systemd, _, _) => ProviderKind::Systemd,
            (_, true, _) => ProviderKind::Debian,
            (_, false, true) => ProviderKind::Simple,
            (_, false, false) => ProviderKind::Debian,
        }
    }

    /// Chef's class name, for messages.
    pub fn class_name(self) -> &'static str {
        match self {
            ProviderKind::Systemd => "Chef::Provider::Service::Systemd",
            ProviderKind::Debian => "Chef::Provider::Service::Debian",
            ProviderKind::Simple => "Chef::Provider::Service::Simple",
        }
    }
}

/// What a run knows about service managers: the init system (detected once) and the systemd
/// units asked about so far. Tests and the acceptance harness fill it in beforehand.
#[derive(Debug, Clone, Default)]
pub struct ServiceCache {
    /// The init system; detected from `/proc/1/comm` on first use when `None`.
    pub init_system: Option<InitSystem>,
    /// `systemctl show` answers by unit name.
    pub units: HashMap<String, UnitState>,
}

impl ServiceCache {
    /// The init system, detected under `root` the first time.
    pub fn init_system(&mut self, root: &Path) -> InitSystem {
        *self
            .init_system
            .get_or_insert_with(|| InitSystem::detect(root))
    }

    /// The state of `unit`, asking systemctl only the first time.
    pub fn unit_state(&mut self, unit: &str, env: &CommandEnv) -> Result<UnitState> {
        if let Some(state) = self.units.get(unit) {
            return Ok(state.clone());
        }
        let state = systemd::show(unit, env)?;
        self.units.insert(unit.to_string(), state.clone());
        Ok(state)
    }

    /// Forgets a unit's state after changing it, so the next check asks again.
    pub fn forget_unit(&mut self, unit: &str) {
        self.units.remove(unit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_priority_systemd_then_init_script_then_own_commands() {
        use InitSystem::Other;
        let choose = ProviderKind::choose;
        assert_eq!(
            choose(InitSystem::Systemd, true, true),
            ProviderKind::Systemd
        );
        assert_eq!(choose(Other, true, true), ProviderKind::Debian);
        assert_eq!(choose(Other, false, true), ProviderKind::Simple);
        assert_eq!(choose(Other, false, false), ProviderKind::Debian);
    }

    #[test]
    fn systemd_is_pid_1_only_when_proc_1_comm_says_so() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(InitSystem::detect(dir.path()), InitSystem::Other);
        std::fs::create_dir_all(dir.path().join("proc/1")).unwrap();
        std::fs::write(dir.path().join("proc/1/comm"), "systemd\n").unwrap();
        assert_eq!(InitSystem::detect(dir.path()), InitSystem::Systemd);
        std::fs::write(dir.path().join("proc/1/comm"), "init\n").unwrap();
        assert_eq!(InitSystem::detect(dir.path()), InitSystem::Other);
    }

    #[test]
    fn cached_units_are_not_asked_again() {
        let mut cache = ServiceCache::default();
        cache
            .units
            .insert("nginx".into(), UnitState::new("enabled", "active"));
        let state = cache.unit_state("nginx", &CommandEnv::default()).unwrap();
        assert!(state.is_active());
        cache.forget_unit("nginx");
        assert!(cache.units.is_empty());
    }
}
