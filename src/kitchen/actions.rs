//! Test Kitchen's actions on one instance: create, converge, verify, destroy, and `test`, which
//! chains them; each records its outcome in the instance's state file.
//!
//! Actions bring an instance forward as Test Kitchen does: `converge` creates the host first if
//! needed, `verify` converges first if it never was.

use super::config::{Instance, KitchenConfig, ProvisionerConfig};
use super::driver::namespace::is_running;
use super::driver::NamespaceDriver;
use super::provision::Source;
use super::state::{HostState, InstanceState, ServerState, StateDir};
use super::stream::progress;
use super::{provision, server, verify};
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

    /// Creates the instance's hosts unless they are running; returns the first (the only one
    /// of a one-host suite).
    pub fn create(&self, instance: &Instance) -> Result<HostState> {
        let hosts = self.create_hosts(instance)?;
        hosts.into_iter().next().ok_or_else(|| {
            Error::input(
                "Kitchen::ActionFailed",
                format!("{} has no host", instance.name),
            )
        })
    }

    /// Creates the instance's hosts unless they are all running; returns them in declared
    /// order. Hosts of a multi-host suite are made together.
    pub fn create_hosts(&self, instance: &Instance) -> Result<Vec<HostState>> {
        let mut state = self.states.load(&instance.name)?;
        let wanted = instance.hosts.len().max(1);
        if state.hosts.len() == wanted && state.hosts.iter().all(is_running) {
            return Ok(state.hosts);
        }
        for stale in std::mem::take(&mut state.hosts) {
            // A host died (a reboot, a kill): clear what is left before new ones.
            self.driver.destroy(&stale)?;
        }
        progress(&format!("Creating <{}>", instance.name));
        let made = if instance.is_multi_host() {
            self.driver.create_suite(instance)
        } else {
            self.driver
                .create(instance, &self.config.instances)
                .map(|h| vec![h])
        };
        let hosts = self.record(&mut state, "create", made)?;
        state.hosts = hosts.clone();
        self.states.save(&state)?;
        Ok(hosts)
    }

    /// Creates if needed, then converges `converges` times (the gate applies when `enforce`);
    /// the hosts of a multi-host suite one after the other, in declared order.
    pub fn converge_with(&self, instance: &Instance, converges: u32, enforce: bool) -> Result<()> {
        self.converge_each(instance, |_| (converges, enforce))
    }

    /// Converges as kitchen.yml says (`multiple_converge`, `enforce_idempotency`, per host).
    pub fn converge(&self, instance: &Instance) -> Result<()> {
        self.converge_each(instance, |p| (p.multiple_converge, p.enforce_idempotency))
    }

    fn converge_each(
        &self,
        instance: &Instance,
        plan: impl Fn(&ProvisionerConfig) -> (u32, bool),
    ) -> Result<()> {
        let hosts = self.create_hosts(instance)?;
        progress(&format!("Converging <{}>", instance.name));
        let mut state = self.states.load(&instance.name)?;
        let result = self
            .chef_server(instance, &hosts, &mut state)
            .and_then(|server| {
                let targets = self.targets(instance, &hosts);
                targets.iter().try_for_each(|(view, host)| {
                    let (converges, enforce) = plan(&view.provisioner);
                    let source = match (&server, view.provisioner.chef_server) {
                        (Some(server), Some(_)) => Source::Server(server),
                        _ => Source::Repository {
                            peers: targets
                                .iter()
                                .map(|(_, peer)| peer)
                                .filter(|peer| peer.hostname != host.hostname)
                                .collect(),
                        },
                    };
                    provision::converge(
                        &self.driver,
                        host,
                        &source,
                        view,
                        &self.config.project_dir,
                        converges,
                        enforce,
                    )
                })
            });
        self.record(&mut state, "converge", result)
    }

    /// With `chef_server`, the instance's server, running and holding the project's repository
    /// as it is now (started if needed and recorded in `state`); `None` without.
    fn chef_server(
        &self,
        instance: &Instance,
        hosts: &[HostState],
        state: &mut InstanceState,
    ) -> Result<Option<ServerState>> {
        if instance.chef_server().is_none() {
            return Ok(None);
        }
        let current = state.server.clone();
        let mut record = |server: Option<&ServerState>| {
            state.server = server.cloned();
            self.states.save(state)
        };
        let server = server::ensure(
            instance,
            hosts,
            current.as_ref(),
            self.states.path(),
            &mut record,
        )?;
        if current.as_ref() != Some(&server) {
            // A new server may not know the hosts' clients: they register again.
            hosts.iter().try_for_each(provision::drop_client_key)?;
        }
        let outcome = server::upload_repository(&server, &self.config.project_dir)?;
        progress(&format!(
            "Uploaded the repository to {}: {} changed, {} unchanged",
            server.url,
            outcome.changed.len(),
            outcome.unchanged
        ));
        Ok(Some(server))
    }

    /// Each host with the instance as that host sees it (its name, run list, attributes).
    fn targets(&self, instance: &Instance, hosts: &[HostState]) -> Vec<(Instance, HostState)> {
        if !instance.is_multi_host() {
            return hosts
                .iter()
                .map(|h| (instance.clone(), h.clone()))
                .collect();
        }
        instance
            .hosts
            .iter()
            .zip(hosts)
            .map(|(config, host)| (instance.for_host(config), host.clone()))
            .collect()
    }

    /// Converges first if the instance never was, then verifies.
    pub fn verify(&self, instance: &Instance) -> Result<()> {
        let state = self.states.load(&instance.name)?;
        let converged = matches!(state.last_action.as_deref(), Some("converge" | "verify"));
        let running = !state.hosts.is_empty() && state.hosts.iter().all(is_running);
        if !converged || !running {
            self.converge(instance)?;
        }
        let hosts = self.running_hosts(&instance.name)?;
        progress(&format!("Verifying <{}>", instance.name));
        let mut state = self.states.load(&instance.name)?;
        let result = if instance.is_multi_host() {
            verify::verify_suite(&self.driver, &hosts, instance, &self.config.project_dir)
        } else {
            verify::verify(&self.driver, &hosts[0], instance, &self.config.project_dir)
        };
        self.record(&mut state, "verify", result)
    }

    /// Destroys the instance's hosts (if any) and its Chef server (if it started one), and
    /// forgets its state.
    pub fn destroy(&self, name: &str) -> Result<()> {
        let state = self.states.load(name)?;
        if !state.hosts.is_empty() || state.server.is_some() {
            progress(&format!("Destroying <{name}>"));
        }
        // The server first: it lives in the lab, which goes with the last host.
        let stopped = match &state.server {
            Some(server) => server::stop(server),
            None => Ok(()),
        };
        // The hosts of a suite go down together, as they came up.
        let results: Vec<Result<()>> = std::thread::scope(|s| {
            let workers: Vec<_> = state
                .hosts
                .iter()
                .map(|host| s.spawn(move || self.driver.destroy(host)))
                .collect();
            workers
                .into_iter()
                .map(|w| {
                    w.join().unwrap_or_else(|_| {
                        Err(Error::input(
                            "Kitchen::ActionFailed",
                            format!("destroying a host of {name} panicked"),
                        ))
                    })
                })
                .collect()
        });
        match std::iter::once(stopped)
            .chain(results)
            .find_map(|r| r.err())
        {
            Some(e) => Err(e),
            None => self.states.remove(name),
        }
    }

    /// Stops the Chef servers of this project that no state names (a crash between starting
    /// one and recording it, a lost state file) and removes their data; returns their
    /// directories.
    pub fn sweep_orphan_servers(&self) -> Vec<std::path::PathBuf> {
        let known: Vec<ServerState> = self
            .states
            .names()
            .iter()
            .filter_map(|n| self.states.load(n).ok())
            .filter_map(|s| s.server)
            .collect();
        server::sweep_orphans(self.states.path(), &known)
    }

    /// The running first host of an instance (the only one of a one-host suite), or an error
    /// saying to create it.
    pub fn running_host(&self, name: &str) -> Result<HostState> {
        self.running_host_named(name, None)
    }

    /// The running host called `host` of a multi-host instance (the first when `None`).
    pub fn running_host_named(&self, name: &str, host: Option<&str>) -> Result<HostState> {
        let hosts = self.running_hosts(name)?;
        let Some(wanted) = host else {
            return Ok(hosts[0].clone());
        };
        if let Some(found) = hosts.iter().find(|h| h.name == wanted) {
            return Ok(found.clone());
        }
        let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
        Err(Error::input(
            "Kitchen::UserError",
            format!(
                "{name} has no host `{wanted}`: its hosts are {}",
                names.join(", ")
            ),
        ))
    }

    /// Every host of an instance, all running, or an error saying to create them.
    pub fn running_hosts(&self, name: &str) -> Result<Vec<HostState>> {
        let state = self.states.load(name)?;
        if state.hosts.is_empty() {
            return Err(Error::input(
                "Kitchen::UserError",
                format!("{name} is not created: run `skillet kitchen create {name}`"),
            ));
        }
        if let Some(gone) = state.hosts.iter().find(|h| !is_running(h)) {
            return Err(Error::input(
                "Kitchen::UserError",
                format!(
                    "the host {} of {name} is not running any more: run `skillet kitchen create {name}`",
                    gone.name
                ),
            ));
        }
        Ok(state.hosts)
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
