//! Test Kitchen's actions on one instance: create, converge, verify, destroy, and `test`, which
//! chains them; each records its outcome in the instance's state file.
//!
//! Actions bring an instance forward as Test Kitchen does: `converge` creates the host first if
//! needed, `verify` converges first if it never was.

use super::config::{Instance, KitchenConfig};
use super::driver::namespace::is_running;
use super::driver::NamespaceDriver;
use super::state::{HostState, InstanceState, StateDir};
use super::stream::progress;
use super::{provision, verify};
use crate::error::{Error, Result};
use std::path::Path;
use std::time::{Duration, Instant};

/// A project's instances with their state and driver.
#[derive(Debug, Clone)]
pub struct Kitchen {
    /// kitchen.yml as read.
    pub config: KitchenConfig,
    /// `.kitchen/`.
    pub states: StateDir,
    driver: NamespaceDriver,
}

/// When `test` destroys its instance at the end (Test Kitchen's `--destroy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestroyPolicy {
    /// Only when every phase passed (the default): a failed host stays for `login`.
    Passing,
    /// Whatever happened.
    Always,
    /// Never.
    Never,
}

/// One phase of one instance and how long it took.
#[derive(Debug, Clone)]
pub struct PhaseOutcome {
    /// create, converge, verify or destroy.
    pub phase: &'static str,
    /// Whether it passed.
    pub passed: bool,
    /// Its wall time.
    pub elapsed: Duration,
}

/// What happened to one instance during a command.
#[derive(Debug, Clone)]
pub struct InstanceOutcome {
    /// The instance's name.
    pub instance: String,
    /// Its phases, in order.
    pub phases: Vec<PhaseOutcome>,
    /// The error that stopped it, if any.
    pub error: Option<String>,
}

impl Kitchen {
    /// Reads the kitchen configuration of the project in `dir`.
    pub fn load(dir: &Path) -> Result<Kitchen> {
        let config = KitchenConfig::load(dir)?;
        let states = StateDir::new(&config.project_dir);
        let driver = NamespaceDriver::new(&config.project_dir, states.path());
        Ok(Kitchen {
            config,
            states,
            driver,
        })
    }

    /// The driver the instances use.
    pub fn driver(&self) -> &NamespaceDriver {
        &self.driver
    }

    /// Creates the host unless it is running; returns it.
    pub fn create(&self, instance: &Instance) -> Result<HostState> {
        let mut state = self.states.load(&instance.name)?;
        if let Some(host) = state.host.as_ref().filter(|h| is_running(h)) {
            return Ok(host.clone());
        }
        if let Some(stale) = state.host.take() {
            // The host died (a reboot, a kill): clear what is left of it before a new one.
            self.driver.destroy(&stale)?;
        }
        progress(&format!("Creating <{}>", instance.name));
        let made = self.driver.create(instance, &self.config.instances);
        let host = self.record(&mut state, "create", made)?;
        state.host = Some(host.clone());
        self.states.save(&state)?;
        Ok(host)
    }

    /// Creates if needed, then converges `converges` times (the gate applies when `enforce`).
    pub fn converge_with(&self, instance: &Instance, converges: u32, enforce: bool) -> Result<()> {
        let host = self.create(instance)?;
        progress(&format!("Converging <{}>", instance.name));
        let mut state = self.states.load(&instance.name)?;
        let result = provision::converge(
            &self.driver,
            &host,
            instance,
            &self.config.project_dir,
            converges,
            enforce,
        );
        self.record(&mut state, "converge", result)
    }

    /// Converges as kitchen.yml says (`multiple_converge`, `enforce_idempotency`).
    pub fn converge(&self, instance: &Instance) -> Result<()> {
        let p = &instance.provisioner;
        self.converge_with(instance, p.multiple_converge, p.enforce_idempotency)
    }

    /// Converges first if the instance never was, then verifies.
    pub fn verify(&self, instance: &Instance) -> Result<()> {
        let state = self.states.load(&instance.name)?;
        let converged = matches!(state.last_action.as_deref(), Some("converge" | "verify"));
        let running = state.host.as_ref().is_some_and(is_running);
        if !converged || !running {
            self.converge(instance)?;
        }
        let host = self.running_host(&instance.name)?;
        progress(&format!("Verifying <{}>", instance.name));
        let mut state = self.states.load(&instance.name)?;
        let result = verify::verify(&self.driver, &host, instance, &self.config.project_dir);
        self.record(&mut state, "verify", result)
    }

    /// Destroys the instance's host (if any) and forgets its state.
    pub fn destroy(&self, name: &str) -> Result<()> {
        let state = self.states.load(name)?;
        if let Some(host) = &state.host {
            progress(&format!("Destroying <{name}>"));
            self.driver.destroy(host)?;
        }
        self.states.remove(name)
    }

    /// The running host of an instance, or an error saying to create it.
    pub fn running_host(&self, name: &str) -> Result<HostState> {
        let state = self.states.load(name)?;
        match state.host {
            Some(host) if is_running(&host) => Ok(host),
            Some(_) => Err(Error::input(
                "Kitchen::UserError",
                format!("the host of {name} is not running any more: run `skillet kitchen create {name}`"),
            )),
            None => Err(Error::input(
                "Kitchen::UserError",
                format!("{name} is not created: run `skillet kitchen create {name}`"),
            )),
        }
    }

    /// Test Kitchen's `test`: destroy, create, converge (twice, with the idempotency gate),
    /// verify, then destroy as `policy` says.
    pub fn test(&self, instance: &Instance, policy: DestroyPolicy) -> InstanceOutcome {
        let mut outcome = InstanceOutcome {
            instance: instance.name.clone(),
            phases: Vec::new(),
            error: None,
        };
        let converges = instance.provisioner.multiple_converge.max(2);
        let steps: [(&'static str, &dyn Fn() -> Result<()>); 4] = [
            ("destroy", &|| self.destroy(&instance.name)),
            ("create", &|| self.create(instance).map(|_| ())),
            ("converge", &|| {
                self.converge_with(instance, converges, true)
            }),
            ("verify", &|| self.verify(instance)),
        ];
        for (phase, step) in steps {
            if let Err(e) = timed(&mut outcome, phase, step) {
                outcome.error = Some(e.to_string());
                break;
            }
        }
        let destroy = match policy {
            DestroyPolicy::Always => true,
            DestroyPolicy::Passing => outcome.error.is_none(),
            DestroyPolicy::Never => false,
        };
        if destroy {
            if let Err(e) = timed(&mut outcome, "destroy", &|| self.destroy(&instance.name)) {
                outcome.error.get_or_insert(e.to_string());
            }
        }
        outcome
    }

    /// Records an action's outcome in the state file and passes the result on.
    fn record<T>(&self, state: &mut InstanceState, action: &str, result: Result<T>) -> Result<T> {
        match &result {
            Ok(_) => {
                state.last_action = Some(action.to_string());
                state.last_error = None;
            }
            Err(e) => state.last_error = Some(e.to_string()),
        }
        self.states.save(state)?;
        result
    }
}

fn timed(
    outcome: &mut InstanceOutcome,
    phase: &'static str,
    step: &dyn Fn() -> Result<()>,
) -> Result<()> {
    let started = Instant::now();
    let result = step();
    outcome.phases.push(PhaseOutcome {
        phase,
        passed: result.is_ok(),
        elapsed: started.elapsed(),
    });
    result
}
