//! Automatic attributes with Ohai's names, nesting and value formats, read from /proc, /sys,
//! /etc and rtnetlink: no process is spawned.
//!
//! Collection is by [`Group`]: a caller asks for the groups (or the top-level keys) it needs and
//! only those are gathered; [`demand`] finds the groups a run's cookbooks read. [`MINIMAL`] is Chef's `--minimal-ohai` set. This module gathers facts
//! about the host; turning them into the node's automatic attributes belongs to `crate::node`.

mod accounts;
mod block_device;
mod cpu;
pub mod demand;
mod filesystem;
mod host;
mod kernel;
mod memory;
mod netlink;
mod network;
mod platform;
mod release;
mod system;

pub use host::Host;

use serde_json::{Map as JsonMap, Value};

/// A JSON object of attributes, as the node's automatic component holds them.
pub type Map = JsonMap<String, Value>;

/// A set of top-level keys gathered together, as an Ohai plugin provides them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    /// hostname, machinename, fqdn, domain.
    Hostname,
    /// platform, platform_family, platform_version, os, os_version.
    Platform,
    /// lsb (id, release, codename, description), as `lsb_release -a` reports it.
    Lsb,
    /// os_release (every os-release field) and machine_id.
    OsRelease,
    /// kernel (name, release, version, machine, processor, os, modules).
    Kernel,
    /// memory, from /proc/meminfo.
    Memory,
    /// cpu, from /proc/cpuinfo.
    Cpu,
    /// network, counters, ipaddress, ip6address, macaddress.
    Network,
    /// filesystem (by_device, by_mountpoint, by_pair).
    Filesystem,
    /// block_device, from /sys/block.
    BlockDevice,
    /// etc (passwd, group) and current_user.
    Passwd,
    /// root_group.
    RootGroup,
    /// shells, from /etc/shells.
    Shells,
    /// uptime, uptime_seconds, idletime, idletime_seconds.
    Uptime,
    /// init_package, the name of process 1.
    InitPackage,
    /// virtualization (system, role, systems).
    Virtualization,
    /// time (timezone).
    Time,
    /// ohai_time, the time of collection.
    OhaiTime,
    /// chef_packages, with skillet's own version under `skillet`.
    ChefPackages,
    /// languages: empty, since every language plugin spawns an interpreter.
    Languages,
    /// fips (kernel.enabled).
    Fips,
}

/// Chef's `--minimal-ohai` set: fqdn, machinename, hostname, platform, platform_version,
/// ohai_time, os, os_version, init_package.
pub const MINIMAL: &[Group] = &[
    Group::Hostname,
    Group::Platform,
    Group::OhaiTime,
    Group::InitPackage,
];

impl Group {
    /// Every group, in the order their keys appear in the collected tree.
    pub const ALL: &'static [Group] = &[
        Group::Kernel,
        Group::Memory,
        Group::Network,
        Group::Lsb,
        Group::Platform,
        Group::Uptime,
        Group::Virtualization,
        Group::Languages,
        Group::ChefPackages,
        Group::Hostname,
        Group::Cpu,
        Group::Filesystem,
        Group::Fips,
        Group::InitPackage,
        Group::BlockDevice,
        Group::OsRelease,
        Group::OhaiTime,
        Group::Passwd,
        Group::RootGroup,
        Group::Shells,
        Group::Time,
    ];

    /// The top-level keys this group sets.
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            Group::Hostname => &["hostname", "machinename", "fqdn", "domain"],
            Group::Platform => &[
                "platform",
                "platform_family",
                "platform_version",
                "os",
                "os_version",
            ],
            Group::Lsb => &["lsb"],
            Group::OsRelease => &["os_release", "machine_id"],
            Group::Kernel => &["kernel"],
            Group::Memory => &["memory"],
            Group::Cpu => &["cpu"],
            Group::Network => &[
                "network",
                "counters",
                "ipaddress",
                "ip6address",
                "macaddress",
            ],
            Group::Filesystem => &["filesystem"],
            Group::BlockDevice => &["block_device"],
            Group::Passwd => &["etc", "current_user"],
            Group::RootGroup => &["root_group"],
            Group::Shells => &["shells"],
            Group::Uptime => &["uptime", "uptime_seconds", "idletime", "idletime_seconds"],
            Group::InitPackage => &["init_package"],
            Group::Virtualization => &["virtualization"],
            Group::Time => &["time"],
            Group::OhaiTime => &["ohai_time"],
            Group::ChefPackages => &["chef_packages"],
            Group::Languages => &["languages"],
            Group::Fips => &["fips"],
        }
    }

    /// The group that sets a top-level key.
    pub fn for_key(key: &str) -> Option<Group> {
        Group::ALL
            .iter()
            .copied()
            .find(|group| group.keys().contains(&key))
    }

    /// The groups that set these top-level keys (unknown keys are ignored), without repeats.
    pub fn for_keys<'a>(keys: impl IntoIterator<Item = &'a str>) -> Vec<Group> {
        let mut groups = Vec::new();
        for group in keys.into_iter().filter_map(Group::for_key) {
            if !groups.contains(&group) {
                groups.push(group);
            }
        }
        groups
    }
}

/// Gathers groups of automatic attributes from a [`Host`].
#[derive(Debug, Clone)]
pub struct Collector {
    host: Host,
}

impl Default for Collector {
    fn default() -> Self {
        Collector::new()
    }
}

impl Collector {
    /// A collector for this machine.
    pub fn new() -> Self {
        Collector {
            host: Host::local(),
        }
    }

    /// A collector for the host whose files are below `host`.
    pub fn for_host(host: Host) -> Self {
        Collector { host }
    }

    /// The given groups, in [`Group::ALL`] order; nothing else is read.
    pub fn collect(&self, groups: &[Group]) -> Map {
        let mut out = Map::new();
        for group in Group::ALL.iter().filter(|g| groups.contains(g)) {
            self.collect_group(*group, &mut out);
        }
        out
    }

    /// Every group.
    pub fn collect_all(&self) -> Map {
        self.collect(Group::ALL)
    }

    /// Chef's minimal set.
    pub fn collect_minimal(&self) -> Map {
        self.collect(MINIMAL)
    }

    /// One group's keys, added to `out`.
    pub fn collect_group(&self, group: Group, out: &mut Map) {
        let host = &self.host;
        match group {
            Group::Hostname => platform::hostname(host, out),
            Group::Platform => platform::platform(host, out),
            Group::Lsb => platform::lsb(host, out),
            Group::OsRelease => platform::os_release(host, out),
            Group::Kernel => kernel::collect(host, out),
            Group::Memory => memory::collect(host, out),
            Group::Cpu => cpu::collect(host, out),
            Group::Network => network::collect(host, out),
            Group::Filesystem => filesystem::collect(host, out),
            Group::BlockDevice => block_device::collect(host, out),
            Group::Passwd => accounts::passwd(host, out),
            Group::RootGroup => accounts::root_group(host, out),
            Group::Shells => accounts::shells(host, out),
            Group::Uptime => system::uptime(host, out),
            Group::InitPackage => system::init_package(host, out),
            Group::Virtualization => system::virtualization(host, out),
            Group::Time => system::time(out),
            Group::OhaiTime => system::ohai_time(out),
            Group::ChefPackages => system::chef_packages(out),
            Group::Languages => {
                out.insert("languages".into(), Value::Object(Map::new()));
            }
            Group::Fips => system::fips(host, out),
        }
    }
}

/// Every automatic attribute of this machine.
pub fn collect_all() -> Map {
    Collector::new().collect_all()
}

/// Chef's minimal set for this machine.
pub fn collect_minimal() -> Map {
    Collector::new().collect_minimal()
}

/// The value at an attribute path: `platform`, `network/interfaces/eth0/mtu`, `cpu/0/flags/2`
/// (a number indexes an array).
pub fn value_at<'a>(tree: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('/')
        .filter(|part| !part.is_empty())
        .try_fold(tree, |node, part| match node {
            Value::Object(map) => map.get(part),
            Value::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_group_is_in_all_and_keys_map_back() {
        for group in Group::ALL {
            for key in group.keys() {
                assert_eq!(Group::for_key(key), Some(*group), "{key}");
            }
        }
        assert_eq!(Group::ALL.len(), 21);
    }

    #[test]
    fn keys_select_groups_once() {
        let groups = Group::for_keys(["ipaddress", "network", "platform", "nope"]);
        assert_eq!(groups, vec![Group::Network, Group::Platform]);
    }

    #[test]
    fn attribute_paths_walk_maps_and_arrays() {
        let tree = json!({"a": {"b": [1, {"c": "x"}]}});
        assert_eq!(value_at(&tree, "a/b/1/c"), Some(&json!("x")));
        assert_eq!(value_at(&tree, "a/b/0"), Some(&json!(1)));
        assert_eq!(value_at(&tree, "/a/"), Some(&json!({"b": [1, {"c": "x"}]})));
        assert_eq!(value_at(&tree, "a/z"), None);
    }

    #[test]
    fn minimal_set_has_chefs_keys_only() {
        let auto = collect_minimal();
        for key in [
            "fqdn",
            "machinename",
            "hostname",
            "platform",
            "platform_version",
            "ohai_time",
            "os",
            "os_version",
            "init_package",
        ] {
            assert!(auto.contains_key(key), "{key}");
        }
        assert!(!auto.contains_key("network"));
        assert!(!auto.contains_key("memory"));
    }
}
