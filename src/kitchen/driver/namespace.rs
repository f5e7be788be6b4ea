//! The `namespace` driver, as seen from the machine: create, find, enter and destroy hosts.
//!
//! A host is its PID 1 (see [`super::host_init`]) plus its network pieces in the lab. Its
//! mounts live only in its own mount namespace, so killing PID 1 takes them away; destroy then
//! removes the veth and the network namespace, and the lab once no host is left in it.

use super::host_enter::EnterSpec;
use super::layer;
use crate::error::{Error, IoContext, Result};
use crate::kitchen::config::{AptNetwork, DriverConfig, Instance};
use crate::kitchen::lab::{host_address, HostLink, Lab};
use crate::kitchen::state::HostState;
use crate::kitchen::stream::progress;
use crate::platform::procfs;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Hosts per lab: addresses .10 to .249 of the lab subnet.
const MAX_HOSTS: usize = 240;

/// Makes and removes the hosts of one project.
#[derive(Debug, Clone)]
pub struct NamespaceDriver {
    lab: Lab,
    hosts_dir: PathBuf,
}

/// Fails unless running as root, which namespaces and mounts need.
pub fn require_root() -> Result<()> {
    if nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    Err(Error::input(
        "Kitchen::UserError",
        "kitchen needs root (the namespace driver makes namespaces and mounts): run as root",
    ))
}

impl NamespaceDriver {
    /// The driver for the project in `project_dir`; scratch directories go in `state_dir`.
    pub fn new(project_dir: &Path, state_dir: &Path) -> NamespaceDriver {
        NamespaceDriver {
            lab: Lab::for_project(project_dir),
            hosts_dir: state_dir.join("hosts"),
        }
    }

    /// Creates the host of `instance`; `all` names every host in its /etc/hosts. Whatever was
    /// made is removed again when a step fails.
    pub fn create(&self, instance: &Instance, all: &[Instance]) -> Result<HostState> {
        require_root()?;
        check_index(instance)?;
        let name = hostname(&instance.name);
        let made = Made {
            label: instance.name.clone(),
            name: name.clone(),
            hostname: name,
            link: self.lab.link(instance.index),
            scratch: self.hosts_dir.join(&instance.name),
            hosts: hosts_file(all),
        };
        self.make(&made, &instance.driver)
    }

    /// Creates every host of a multi-host instance, together, each with its own hostname on
    /// the instance's own bridge and an /etc/hosts naming all of them. When one fails, the
    /// others are destroyed again.
    pub fn create_suite(&self, instance: &Instance) -> Result<Vec<HostState>> {
        require_root()?;
        check_index(instance)?;
        let links: Vec<HostLink> = (0..instance.hosts.len())
            .map(|position| self.lab.suite_link(instance.index, position))
            .collect();
        let hosts = suite_hosts_file(instance, &links);
        let plans: Vec<Made> = instance
            .hosts
            .iter()
            .zip(&links)
            .map(|(host, link)| Made {
                label: format!("{}/{}", instance.name, host.name),
                name: host.name.clone(),
                hostname: host.name.clone(),
                link: link.clone(),
                scratch: self
                    .hosts_dir
                    .join(format!("{}--{}", instance.name, host.name)),
                hosts: hosts.clone(),
            })
            .collect();
        let results: Vec<Result<HostState>> = std::thread::scope(|s| {
            let workers: Vec<_> = plans
                .iter()
                .zip(&instance.hosts)
                .map(|(plan, host)| s.spawn(move || self.make(plan, &host.driver)))
                .collect();
            workers
                .into_iter()
                .map(|w| {
                    w.join().unwrap_or_else(|_| {
                        Err(Error::input(
                            "Kitchen::ActionFailed",
                            "a host's create panicked",
                        ))
                    })
                })
                .collect()
        });
        let mut made = Vec::new();
        let mut failure = None;
        for result in results {
            match result {
                Ok(host) => made.push(host),
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        if let Some(e) = failure {
            for host in &made {
                let _ = self.destroy(host);
            }
            return Err(e);
        }
        Ok(made)
    }

    fn make(&self, plan: &Made, driver: &DriverConfig) -> Result<HostState> {
        let lower = &driver.base_root;
        if !lower.is_dir() {
            return Err(Error::input(
                "Kitchen::UserError",
                format!(
                    "base_root {} of {} is not a directory: make it (e.g. with debootstrap) or remove `base_root`",
                    lower.display(),
                    plan.label
                ),
            ));
        }
        // Before anything is made: a failed build leaves nothing to undo.
        let layer = if driver.preinstall.is_empty() {
            None
        } else {
            Some(layer::ensure(lower, &driver.preinstall, &|text| {
                progress(text)
            })?)
        };
        let link = &plan.link;
        let attached = self.lab.attach(link).and_then(|()| {
            if driver.apt_network == AptNetwork::Cache {
                self.lab.ensure_cache()
            } else {
                Ok(())
            }
        });
        if let Err(e) = attached {
            self.lab.detach(link);
            let _ = self.lab.remove_if_unused();
            return Err(e);
        }
        let scratch = &plan.scratch;
        let started = std::fs::create_dir_all(scratch)
            .with_path(scratch)
            .and_then(|()| start_pid1(plan, driver, layer.as_deref()));
        match started {
            Ok(pid) => Ok(HostState {
                name: plan.name.clone(),
                pid,
                start_time: start_time(pid).unwrap_or(0),
                netns: link.netns.clone(),
                veth: link.veth.clone(),
                lab: self.lab.name.clone(),
                address: link.address.clone(),
                bridge: link.bridge.clone(),
                hostname: plan.hostname.clone(),
                scratch: scratch.clone(),
            }),
            Err(e) => {
                self.lab.detach(link);
                let _ = std::fs::remove_dir(scratch);
                let _ = std::fs::remove_dir(&self.hosts_dir);
                let _ = self.lab.remove_if_unused();
                Err(e)
            }
        }
    }

    /// Kills every process of the host, then removes its network pieces and scratch directory.
    pub fn destroy(&self, host: &HostState) -> Result<()> {
        require_root()?;
        if is_running(host) {
            let _ = kill(Pid::from_raw(host.pid), Signal::SIGKILL);
            wait_gone(host)?;
        }
        let lab = Lab {
            name: host.lab.clone(),
        };
        lab.detach(&HostLink {
            netns: host.netns.clone(),
            veth: host.veth.clone(),
            address: host.address.clone(),
            bridge: host.bridge.clone(),
        });
        match std::fs::remove_dir(&host.scratch) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::io(&host.scratch, e))
            }
            _ => {}
        }
        let _ = std::fs::remove_dir(&self.hosts_dir);
        lab.remove_if_unused()
    }

    /// Takes down hosts of this lab that no state file names (left by a crash or a Ctrl-C in
    /// the middle of a create): kills every process in their network namespaces, removes the
    /// network pieces, the empty scratch directories and, when nothing is left, the lab.
    pub fn sweep_orphans(&self, known: &[HostState]) -> Result<Vec<String>> {
        require_root()?;
        let mut swept = Vec::new();
        for netns in self.lab.host_namespaces() {
            if known.iter().any(|h| h.netns == netns) {
                continue;
            }
            kill_namespace_processes(&netns);
            let _ = ip_netns_del(&netns);
            swept.push(netns);
        }
        // Their veths, found in the lab itself: what no known host uses.
        let keep: Vec<String> = known.iter().map(|h| h.veth.clone()).collect();
        self.lab.remove_veths_except(&keep);
        if let Ok(entries) = std::fs::read_dir(&self.hosts_dir) {
            for entry in entries.flatten() {
                let _ = std::fs::remove_dir(entry.path());
            }
        }
        let _ = std::fs::remove_dir(&self.hosts_dir);
        self.lab.remove_if_unused()?;
        Ok(swept)
    }

    /// A command that runs `argv` inside the host (through the hidden `__enter` mode).
    pub fn command(&self, host: &HostState, spec: &EnterSpec) -> Result<Command> {
        enter_command(host.pid, spec, &[])
    }

    /// A command that runs `argv` inside the host on a terminal of the host's own when
    /// standard input is a terminal (`login`), so an interactive shell has job control.
    pub fn terminal_command(&self, host: &HostState, spec: &EnterSpec) -> Result<Command> {
        enter_command(host.pid, spec, &["--tty"])
    }

    /// A command that runs `argv` on the machine in the lab's network namespace: it reaches
    /// every host by address, as a client would.
    pub fn lab_command(&self, spec: &EnterSpec) -> Result<Command> {
        let netns = Path::new("/run/netns").join(&self.lab.name);
        let netns = netns.to_string_lossy();
        enter_command(0, spec, &["--lab-netns", &netns])
    }

    /// The lab the driver's hosts are plugged into.
    pub fn lab(&self) -> &Lab {
        &self.lab
    }
}

fn enter_command(pid: i32, spec: &EnterSpec, flags: &[&str]) -> Result<Command> {
    let mut cmd = Command::new(self_exe()?);
    cmd.args(["kitchen", "__enter", "--pid", &pid.to_string()]);
    cmd.args(flags);
    if spec.skillet {
        cmd.arg("--skillet");
    }
    for (k, v) in &spec.env {
        cmd.arg("--env").arg(format!("{k}={v}"));
    }
    if let Some(t) = spec.timeout {
        cmd.arg("--timeout").arg(t.as_secs().max(1).to_string());
    }
    cmd.arg("--").args(&spec.argv);
    Ok(cmd)
}

/// A path inside the host, reachable from the machine through its PID 1's root.
pub fn host_path(host: &HostState, path: &str) -> PathBuf {
    PathBuf::from(format!("/proc/{}/root", host.pid)).join(path.trim_start_matches('/'))
}

/// Whether the host's PID 1 is still the process the state names, and not a zombie.
pub fn is_running(host: &HostState) -> bool {
    match procfs::stat(host.pid) {
        Some((state, started)) => state != 'Z' && started == host.start_time,
        None => false,
    }
}

/// SIGKILLs every process whose network namespace is `/run/netns/<netns>`, and waits a
/// little for them to go.
fn kill_namespace_processes(netns: &str) {
    use std::os::unix::fs::MetadataExt;
    let Ok(target) = std::fs::metadata(Path::new("/run/netns").join(netns)) else {
        return;
    };
    let members = || -> Vec<i32> {
        procfs::pids()
            .into_iter()
            .filter(|pid| {
                std::fs::metadata(format!("/proc/{pid}/ns/net"))
                    .is_ok_and(|m| m.dev() == target.dev() && m.ino() == target.ino())
            })
            .filter(|pid| procfs::stat(*pid).is_some_and(|(state, _)| state != 'Z'))
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let pids = members();
        if pids.is_empty() || Instant::now() > deadline {
            return;
        }
        for pid in pids {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn wait_gone(host: &HostState) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while is_running(host) {
        if Instant::now() > deadline {
            return Err(Error::input(
                "Kitchen::ActionFailed",
                format!(
                    "the host's PID 1 ({}) did not die after SIGKILL: look at `ps -p {}`",
                    host.pid, host.pid
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

/// One host to make: where it plugs in, what it is called, what its /etc/hosts says.
struct Made {
    /// How errors name it (`<instance>` or `<instance>/<host>`).
    label: String,
    name: String,
    hostname: String,
    link: HostLink,
    scratch: PathBuf,
    hosts: String,
}

fn check_index(instance: &Instance) -> Result<()> {
    if instance.index >= MAX_HOSTS {
        return Err(Error::input(
            "Kitchen::UserError",
            format!("a lab holds at most {MAX_HOSTS} instances: split kitchen.yml"),
        ));
    }
    Ok(())
}

fn ip_netns_del(netns: &str) -> Result<()> {
    let status = Command::new("ip")
        .args(["netns", "del", netns])
        .status()
        .map_err(|e| Error::io("ip", e))?;
    if status.success() {
        return Ok(());
    }
    Err(Error::input(
        "Kitchen::ActionFailed",
        format!("`ip netns del {netns}` failed"),
    ))
}

fn start_pid1(plan: &Made, driver: &DriverConfig, layer: Option<&Path>) -> Result<i32> {
    let mut command = Command::new(self_exe()?);
    command
        .args(["kitchen", "__init", "--netns"])
        .arg(Path::new("/run/netns").join(&plan.link.netns))
        .arg("--lower")
        .arg(&driver.base_root)
        .arg("--scratch")
        .arg(&plan.scratch)
        .args(["--hostname", &plan.hostname]);
    if driver.apt_network == AptNetwork::Machine {
        command.arg("--apt-netns");
    }
    if let Some(image) = layer {
        command.arg("--layer").arg(image);
    }
    if driver.apt_network == AptNetwork::Cache {
        let gateway = Lab::gateway(&plan.link.address);
        command
            .arg("--apt-proxy")
            .arg(crate::kitchen::cache::proxy_url(&gateway));
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::io("skillet kitchen __init", e))?;
    // /etc/hosts goes through stdin, to keep the host's `ps` readable.
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(plan.hosts.as_bytes());
    }
    let output = child
        .wait_with_output()
        .map_err(|e| Error::io("skillet kitchen __init", e))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    match stdout.trim().parse::<i32>() {
        Ok(pid) if output.status.success() => Ok(pid),
        _ => Err(Error::input(
            "Kitchen::ActionFailed",
            format!(
                "cannot create the host of {}: {}",
                plan.label,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        )),
    }
}

/// The host's name: the instance name, cut to the 63 characters a hostname may have.
pub fn hostname(instance: &str) -> String {
    instance.chars().take(63).collect()
}

/// /etc/hosts of every host of the lab: each instance by name, the gateway as `lab`.
pub fn hosts_file(all: &[Instance]) -> String {
    let mut text = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.200.0.1\tlab\n",
    );
    for instance in all {
        text.push_str(&format!(
            "{}\t{}\n",
            host_address(instance.index),
            hostname(&instance.name)
        ));
    }
    text
}

/// /etc/hosts of every host of a multi-host instance: each host by its name, the instance's
/// gateway as `lab`.
pub fn suite_hosts_file(instance: &Instance, links: &[HostLink]) -> String {
    let gateway = links
        .first()
        .map(|l| Lab::gateway(&l.address))
        .unwrap_or_default();
    let mut text = format!(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n{gateway}\tlab\n"
    );
    for (host, link) in instance.hosts.iter().zip(links) {
        text.push_str(&format!("{}\t{}\n", link.address, host.name));
    }
    text
}

fn self_exe() -> Result<PathBuf> {
    std::env::current_exe().map_err(|e| Error::io("/proc/self/exe", e))
}

/// Reads a process's state letter and start time (field 22) from /proc/PID/stat.
fn start_time(pid: i32) -> Option<u64> {
    procfs::stat(pid).map(|(_, t)| t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suites_hosts_file_names_its_hosts_and_its_gateway() {
        let doc = crate::kitchen::located::Located::parse(
            "platforms: [{name: p}]\nsuites:\n  - name: s\n  - name: m\n    hosts: [{name: db1}, {name: lb1}]\n",
            Path::new("kitchen.yml"),
        )
        .unwrap();
        let config = crate::kitchen::config::from_document(&doc).unwrap();
        let multi = &config.instances[1];
        let lab = Lab::for_project(Path::new("/p"));
        let links: Vec<HostLink> = (0..2).map(|n| lab.suite_link(multi.index, n)).collect();
        let text = suite_hosts_file(multi, &links);
        assert!(text.contains("10.201.1.1\tlab\n"), "{text}");
        assert!(
            text.contains("10.201.1.10\tdb1\n10.201.1.11\tlb1\n"),
            "{text}"
        );
        assert!(!text.contains("s-p"), "{text}");
    }

    #[test]
    fn hostnames_are_at_most_63_characters() {
        assert_eq!(hostname(&"a".repeat(80)).len(), 63);
    }
}
