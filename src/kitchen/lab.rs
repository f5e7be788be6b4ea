//! The lab: one network namespace per project holding a bridge that every host is plugged into.
//!
//! Hosts get fixed addresses from their position in kitchen.yml (the first instance is
//! 10.200.0.10), so concurrent creates never race for one, and every host's /etc/hosts can name
//! all the others before they exist. The hosts of a multi-host suite get a bridge and a /24 of
//! their own instead (instance N: `hbN`, 10.201.N.0/24), so they see only each other and never
//! clash with another instance's hosts. Hosts have no default route: nothing leaves the lab.
//! IPv6 duplicate address detection is off in every namespace the lab makes, so addresses are
//! usable the moment a link is up. The network pieces are made with iproute2's `ip`, which is
//! what an operator would use to look at them.

use crate::error::{Error, Result};
use crate::kitchen::cache::PackageCache;
use nix::fcntl::{Flock, FlockArg};
use nix::sched::{setns, CloneFlags};
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The lab bridge's subnet prefix; hosts are `.10` and up, the bridge is `.1`.
const SUBNET: &str = "10.200.0";
/// The bridge inside the lab namespace.
pub const BRIDGE: &str = "br0";
/// Where `ip netns` keeps its namespaces.
const NETNS_DIR: &str = "/run/netns";
/// Where each lab's lock file lives while the lab does. Not the namespace directory: `ip netns
/// add` locks that itself.
const LOCK_DIR: &str = "/run/lock";

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
    /// The bridge the host is plugged into.
    pub bridge: String,
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
            bridge: BRIDGE.to_string(),
        }
    }

    /// The link of host number `position` (from 0, in declared order) of the multi-host
    /// instance at `index`: on the instance's own bridge and subnet.
    pub fn suite_link(&self, index: usize, position: usize) -> HostLink {
        // Interface names have at most 15 characters: 9 of the lab's name, then the numbers.
        let short: String = self.name.chars().take(9).collect();
        HostLink {
            netns: format!("{}-{index}-{position}", self.name),
            veth: format!("{short}{index}h{position}"),
            address: suite_address(index, position),
            bridge: suite_bridge(index),
        }
    }

    /// Makes the lab (unless it exists) and plugs the host into it, under one lock so a
    /// concurrent destroy never removes the lab in between; on failure, removes what it made.
    pub fn attach(&self, link: &HostLink) -> Result<()> {
        let _guard = self.lock()?;
        if !netns_exists(&self.name) {
            if let Err(e) = self.build() {
                let _ = ip(&["netns", "del", &self.name]);
                return Err(e);
            }
        }
        if link.bridge != BRIDGE && !self.has_link(&link.bridge) {
            self.add_bridge(&link.bridge, &gateway_of(&link.address))?;
        }
        // A veth can outlive its namespace for a while: clear leftovers of an earlier host.
        self.unplug(link);
        let made = self.plug(link);
        if made.is_err() {
            self.unplug(link);
        }
        made
    }

    fn build(&self) -> Result<()> {
        let ns = self.name.as_str();
        ip(&["netns", "add", ns])?;
        disable_dad(ns)?;
        ip(&["-n", ns, "link", "set", "lo", "up"])?;
        self.add_bridge(BRIDGE, &format!("{SUBNET}.1"))?;
        // Stray traffic fails at once instead of waiting for a timeout.
        ip(&["-n", ns, "route", "add", "unreachable", "default"])
    }

    fn add_bridge(&self, bridge: &str, gateway: &str) -> Result<()> {
        let ns = self.name.as_str();
        ip(&["-n", ns, "link", "add", bridge, "type", "bridge"])?;
        let cidr = format!("{gateway}/24");
        ip(&["-n", ns, "addr", "add", &cidr, "dev", bridge])?;
        ip(&["-n", ns, "link", "set", bridge, "up"])
    }

    fn has_link(&self, name: &str) -> bool {
        Command::new("ip")
            .args(["-n", &self.name, "link", "show", name])
            .output()
            .is_ok_and(|o| o.status.success())
    }

    fn plug(&self, link: &HostLink) -> Result<()> {
        let (lab, host) = (self.name.as_str(), link.netns.as_str());
        ip(&["netns", "add", host])?;
        // Before eth0 exists, so it is made with detection off.
        disable_dad(host)?;
        ip(&[
            "-n", lab, "link", "add", &link.veth, "type", "veth", "peer", "name", "eth0", "netns",
            host,
        ])?;
        ip(&[
            "-n",
            lab,
            "link",
            "set",
            &link.veth,
            "master",
            &link.bridge,
            "up",
        ])?;
        ip(&["-n", host, "link", "set", "lo", "up"])?;
        let address = format!("{}/24", link.address);
        ip(&["-n", host, "addr", "add", &address, "dev", "eth0"])?;
        ip(&["-n", host, "link", "set", "eth0", "up"])
    }

    /// Removes the host's veth and network namespace, and its instance's own bridge once no
    /// host is plugged into it; missing pieces are not an error.
    pub fn detach(&self, link: &HostLink) {
        self.unplug(link);
        if link.bridge == BRIDGE || !netns_exists(&self.name) {
            return;
        }
        // Under the lock, so a sibling host being plugged in keeps its bridge.
        let Ok(_guard) = self.lock() else {
            return;
        };
        if self.has_link(&link.bridge) && self.ports(&link.bridge).is_empty() {
            let _ = ip(&["-n", &self.name, "link", "del", &link.bridge]);
        }
    }

    fn unplug(&self, link: &HostLink) {
        if netns_exists(&self.name) {
            let _ = ip(&["-n", &self.name, "link", "del", &link.veth]);
        }
        if netns_exists(&link.netns) {
            let _ = ip(&["netns", "del", &link.netns]);
        }
    }

    /// The interfaces plugged into `bridge`.
    fn ports(&self, bridge: &str) -> Vec<String> {
        self.links(&["master", bridge])
    }

    /// The names of the lab's links that `ip link show ARGS` lists.
    fn links(&self, args: &[&str]) -> Vec<String> {
        let Ok(out) = Command::new("ip")
            .args(["-n", &self.name, "-o", "link", "show"])
            .args(args)
            .output()
        else {
            return Vec::new();
        };
        // "7: name@if2: <FLAGS> ..."
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap_or(n).to_string())
            .collect()
    }

    /// Deletes the lab's veths that none of `keep` names (left when a host's namespace was
    /// removed by a sweep).
    pub fn remove_veths_except(&self, keep: &[String]) {
        if !netns_exists(&self.name) {
            return;
        }
        for veth in self.links(&["type", "veth"]) {
            if !keep.contains(&veth) {
                let _ = ip(&["-n", &self.name, "link", "del", &veth]);
            }
        }
    }

    /// Starts the lab's package cache (`apt_network: cache`) unless it runs; the lab must
    /// exist. Under the lab's lock, so concurrent creates start one cache.
    pub fn ensure_cache(&self) -> Result<()> {
        let _guard = self.lock()?;
        PackageCache::of_lab(&self.name).ensure(&Path::new(NETNS_DIR).join(&self.name))
    }

    /// Removes the lab if no host of it is left, with its package cache.
    pub fn remove_if_unused(&self) -> Result<()> {
        let guard = self.lock()?;
        if !self.host_namespaces().is_empty() {
            return Ok(());
        }
        // Even without the namespace: a crash may have left the cache's processes behind.
        PackageCache::of_lab(&self.name).stop();
        if netns_exists(&self.name) {
            ip(&["netns", "del", &self.name])?;
        }
        // The lock file goes with the lab; whoever waits on it sees that and takes a new one.
        let _ = std::fs::remove_file(self.lock_path());
        drop(guard);
        Ok(())
    }

    /// The lab's address as its hosts at `address` see it (`.1` of their subnet).
    pub fn gateway(address: &str) -> String {
        gateway_of(address)
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

impl Lab {
    fn lock_path(&self) -> PathBuf {
        Path::new(LOCK_DIR).join(format!("skillet-{}.lock", self.name))
    }

    /// An exclusive lock on the lab's lock file (a flock: each open file conflicts with every
    /// other, in this process or another), released when dropped. The file lives as long as
    /// the lab: when the holder removed it, the lock it held is stale and a new one is taken.
    fn lock(&self) -> Result<Flock<File>> {
        let path = self.lock_path();
        std::fs::create_dir_all(LOCK_DIR).map_err(|e| Error::io(LOCK_DIR, e))?;
        loop {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|e| Error::io(&path, e))?;
            let locked = Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| {
                Error::io(&path, std::io::Error::from_raw_os_error(errno as i32))
            })?;
            let held = locked.metadata().map_err(|e| Error::io(&path, e))?;
            match std::fs::metadata(&path) {
                Ok(now) if now.ino() == held.ino() && now.dev() == held.dev() => return Ok(locked),
                _ => continue,
            }
        }
    }
}

/// Turns IPv6 duplicate address detection off in network namespace `netns` (for interfaces
/// made in it from now on): a lab is private, so no address can clash, and without it an
/// address is tentative, hence unusable, for a second or more after its link comes up.
fn disable_dad(netns: &str) -> Result<()> {
    let path = Path::new(NETNS_DIR).join(netns);
    let ns = File::open(&path).map_err(|e| Error::io(&path, e))?;
    // /proc/sys/net shows the network namespace of the thread that opens it: a short-lived
    // thread joins the namespace, so this process stays where it is.
    std::thread::scope(|s| {
        s.spawn(|| -> Result<()> {
            setns(&ns, CloneFlags::CLONE_NEWNET).map_err(|e| {
                Error::input(
                    "Kitchen::ActionFailed",
                    format!("setns({}) failed: {}", path.display(), e.desc()),
                )
            })?;
            for conf in ["all", "default"] {
                let knob = format!("/proc/sys/net/ipv6/conf/{conf}/accept_dad");
                match std::fs::write(&knob, "0") {
                    // A kernel without IPv6 has no detection to turn off.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    other => other.map_err(|e| Error::io(&knob, e))?,
                }
            }
            Ok(())
        })
        .join()
        .unwrap_or_else(|_| {
            Err(Error::input(
                "Kitchen::ActionFailed",
                "turning off duplicate address detection failed",
            ))
        })
    })
}

/// The lab address of the host at `index`.
pub fn host_address(index: usize) -> String {
    format!("{SUBNET}.{}", 10 + index)
}

/// The address of host `position` of the multi-host instance at `index`.
pub fn suite_address(index: usize, position: usize) -> String {
    format!("10.201.{index}.{}", 10 + position)
}

/// The bridge of the multi-host instance at `index`.
pub fn suite_bridge(index: usize) -> String {
    format!("hb{index}")
}

/// `.1` of the /24 that `address` is in.
fn gateway_of(address: &str) -> String {
    match address.rsplit_once('.') {
        Some((net, _)) => format!("{net}.1"),
        None => format!("{SUBNET}.1"),
    }
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
        let link = lab.suite_link(239, 49);
        assert!(link.veth.len() <= 15, "{}", link.veth);
        assert_eq!(link.address, "10.201.239.59");
        assert_eq!(link.bridge, "hb239");
        assert!(link.netns.starts_with(&format!("{}-", lab.name)));
        assert_eq!(Lab::gateway(&link.address), "10.201.239.1");
    }

    #[test]
    fn two_projects_get_two_labs() {
        let a = Lab::for_project(Path::new("/a"));
        let b = Lab::for_project(Path::new("/b"));
        assert_ne!(a.name, b.name);
    }
}
