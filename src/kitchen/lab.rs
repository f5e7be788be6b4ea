//! The lab: one network namespace per project holding a bridge that every host is plugged into.
//!
//! Hosts get fixed addresses from their position in kitchen.yml (the first instance is
//! 10.200.0.10), so concurrent creates never race for one, and every host's /etc/hosts can name
//! all the others before they exist. Hosts have no default route: nothing leaves the lab. The
//! network pieces are made with iproute2's `ip`, which is what an operator would use to look at
//! them.

use crate::error::{Error, Result};
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::path::Path;
use std::process::Command;

/// The lab bridge's subnet prefix; hosts are `.10` and up, the bridge is `.1`.
const SUBNET: &str = "10.200.0";
/// The bridge inside the lab namespace.
const BRIDGE: &str = "br0";
/// Where `ip netns` keeps its namespaces.
const NETNS_DIR: &str = "/run/netns";
/// The lock that serializes lab set-up and tear-down between threads (`test -c N`) and
/// between skillet processes. Not the namespace directory: `ip netns add` locks that itself.
const LAB_LOCK: &str = "/run/lock/skillet-kitchen-lab.lock";

/// The lab network of one project.
#[derive(Debug, Clone, PartialEq)]
pub struct Lab {
    /// The lab's network namespace name (also the prefix of its hosts' names).
    pub name: String,
}

/// Where one host plugs into the lab.
#[derive(Debug, Clone, PartialEq)]
pub struct HostLink {
    /// The host's network namespace.
    pub netns: String,
    /// The lab end of the host's veth (the host end is `eth0`).
    pub veth: String,
    /// The host's address.
    pub address: String,
}

impl Lab {
    /// The lab of the project in `project_dir`: named after a digest of its path, so two
    /// projects on one machine have separate labs.
    pub fn for_project(project_dir: &Path) -> Lab {
        let digest = crate::platform::fs::sha256_hex(project_dir.as_os_str().as_encoded_bytes());
        Lab {
            name: format!("sk{}", &digest[..8]),
        }
    }

    /// The link of the host at `index` (its instance's position in kitchen.yml).
    pub fn link(&self, index: usize) -> HostLink {
        HostLink {
            netns: format!("{}-{index}", self.name),
            veth: format!("{}v{index}", self.name),
            address: host_address(index),
        }
    }

    /// Makes the lab (unless it exists) and plugs the host into it, under one lock so a
    /// concurrent destroy never removes the lab in between; on failure, removes what it made.
    pub fn attach(&self, link: &HostLink) -> Result<()> {
        let _guard = lock_labs()?;
        if !netns_exists(&self.name) {
            if let Err(e) = self.build() {
                let _ = ip(&["netns", "del", &self.name]);
                return Err(e);
            }
        }
        // A veth can outlive its namespace for a while: clear leftovers of an earlier host.
        self.detach(link);
        let made = self.plug(link);
        if made.is_err() {
            self.detach(link);
        }
        made
    }

    fn build(&self) -> Result<()> {
        let ns = self.name.as_str();
        ip(&["netns", "add", ns])?;
        ip(&["-n", ns, "link", "set", "lo", "up"])?;
        ip(&["-n", ns, "link", "add", BRIDGE, "type", "bridge"])?;
        let gateway = format!("{SUBNET}.1/24");
        ip(&["-n", ns, "addr", "add", &gateway, "dev", BRIDGE])?;
        ip(&["-n", ns, "link", "set", BRIDGE, "up"])?;
        // Stray traffic fails at once instead of waiting for a timeout.
        ip(&["-n", ns, "route", "add", "unreachable", "default"])
    }

    fn plug(&self, link: &HostLink) -> Result<()> {
        let (lab, host) = (self.name.as_str(), link.netns.as_str());
        ip(&["netns", "add", host])?;
        ip(&[
            "-n", lab, "link", "add", &link.veth, "type", "veth", "peer", "name", "eth0", "netns",
            host,
        ])?;
        ip(&["-n", lab, "link", "set", &link.veth, "master", BRIDGE, "up"])?;
        ip(&["-n", host, "link", "set", "lo", "up"])?;
        let address = format!("{}/24", link.address);
        ip(&["-n", host, "addr", "add", &address, "dev", "eth0"])?;
        ip(&["-n", host, "link", "set", "eth0", "up"])
    }

    /// Removes the host's veth and network namespace; missing pieces are not an error.
    pub fn detach(&self, link: &HostLink) {
        if netns_exists(&self.name) {
            let _ = ip(&["-n", &self.name, "link", "del", &link.veth]);
        }
        if netns_exists(&link.netns) {
            let _ = ip(&["netns", "del", &link.netns]);
        }
    }

    /// Removes the lab if no host of it is left.
    pub fn remove_if_unused(&self) -> Result<()> {
        let _guard = lock_labs()?;
        if !netns_exists(&self.name) || !self.host_namespaces().is_empty() {
            return Ok(());
        }
        ip(&["netns", "del", &self.name])
    }

    /// The network namespaces of this lab's hosts that exist now.
    pub fn host_namespaces(&self) -> Vec<String> {
        let prefix = format!("{}-", self.name);
        std::fs::read_dir(NETNS_DIR)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(&prefix))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// An exclusive lock on [`LAB_LOCK`] (a flock: each open file conflicts with every other, in
/// this process or another), released when dropped.
fn lock_labs() -> Result<Flock<File>> {
    let path = Path::new(LAB_LOCK);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    Flock::lock(file, FlockArg::LockExclusive)
        .map_err(|(_, errno)| Error::io(path, std::io::Error::from_raw_os_error(errno as i32)))
}

/// The lab address of the host at `index`.
pub fn host_address(index: usize) -> String {
    format!("{SUBNET}.{}", 10 + index)
}

/// Whether a named network namespace exists.
pub fn netns_exists(name: &str) -> bool {
    Path::new(NETNS_DIR).join(name).exists()
}

/// Runs `ip ARGS`; a failure says which command and what `ip` answered.
fn ip(args: &[&str]) -> Result<()> {
    let output = Command::new("ip").args(args).output().map_err(|e| {
        Error::input(
            "Kitchen::ActionFailed",
            format!("cannot run `ip` ({e}): install iproute2"),
        )
    })?;
    if output.status.success() {
        return Ok(());
    }
    Err(Error::input(
        "Kitchen::ActionFailed",
        format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_the_kernels_interface_name_limit() {
        let lab = Lab::for_project(Path::new("/some/project"));
        let link = lab.link(239);
        assert!(link.veth.len() <= 15, "{}", link.veth);
        assert_eq!(link.address, "10.200.0.249");
    }

    #[test]
    fn two_projects_get_two_labs() {
        let a = Lab::for_project(Path::new("/a"));
        let b = Lab::for_project(Path::new("/b"));
        assert_ne!(a.name, b.name);
    }
}
