//! The attribute paths `skillet ohai` is compared on against the real `ohai`, and the
//! comparison itself, shared by the test on the machine and the one inside a kitchen host.
//!
//! A `*` in a path stands for every key `ohai` has at that level.

use serde_json::Value;
use std::process::Command;

/// Paths whose values must be equal.
pub const EQUAL: &[&str] = &[
    "platform",
    "platform_family",
    "platform_version",
    "os",
    "os_version",
    "hostname",
    "machinename",
    "fqdn",
    "domain",
    "ipaddress",
    "ip6address",
    "macaddress",
    "kernel/name",
    "kernel/release",
    "kernel/version",
    "kernel/machine",
    "kernel/processor",
    "kernel/os",
    "kernel/modules",
    "memory/total",
    "memory/swap/total",
    "memory/hugepage_size",
    "memory/hugepages/total",
    "memory/commit_limit",
    "memory/vmalloc_total",
    "cpu/total",
    "cpu/real",
    "cpu/cores",
    "cpu/*/vendor_id",
    "cpu/*/family",
    "cpu/*/model",
    "cpu/*/model_name",
    "cpu/*/stepping",
    "cpu/*/cache_size",
    "cpu/*/physical_id",
    "cpu/*/core_id",
    "cpu/*/cores",
    "cpu/*/flags",
    "network/default_interface",
    "network/default_gateway",
    "network/default_inet6_interface",
    "network/default_inet6_gateway",
    "network/interfaces/*/type",
    "network/interfaces/*/number",
    "network/interfaces/*/mtu",
    "network/interfaces/*/flags",
    "network/interfaces/*/encapsulation",
    "network/interfaces/*/addresses",
    "network/interfaces/*/state",
    "network/interfaces/*/routes",
    "filesystem/by_mountpoint/*/fs_type",
    "filesystem/by_mountpoint/*/mount_options",
    "filesystem/by_mountpoint/*/devices",
    "filesystem/by_mountpoint/*/kb_size",
    "filesystem/by_mountpoint/*/total_inodes",
    "filesystem/by_device/*/fs_type",
    "filesystem/by_device/*/mounts",
    "filesystem/by_device/*/uuid",
    "filesystem/by_device/*/label",
    "filesystem/by_pair/*/device",
    "filesystem/by_pair/*/mount",
    "block_device",
    "lsb/id",
    "lsb/release",
    "lsb/codename",
    "lsb/description",
    "init_package",
    "root_group",
    "current_user",
    "shells",
    "etc/passwd",
    "etc/group",
    "virtualization/system",
    "virtualization/role",
    "virtualization/systems",
    "time/timezone",
    "os_release",
    "machine_id",
    "fips",
];

/// Paths whose values change between reads: same JSON type only.
pub const SAME_TYPE: &[&str] = &[
    "memory/free",
    "memory/available",
    "memory/buffers",
    "memory/cached",
    "memory/swap/free",
    "cpu/*/mhz",
    "uptime",
    "uptime_seconds",
    "idletime",
    "idletime_seconds",
    "ohai_time",
    "languages",
    "network/interfaces/*/arp",
    "counters/network/interfaces/*/rx/bytes",
    "counters/network/interfaces/*/tx/packets",
    "filesystem/by_mountpoint/*/kb_used",
    "filesystem/by_mountpoint/*/kb_available",
    "filesystem/by_mountpoint/*/percent_used",
    "filesystem/by_mountpoint/*/inodes_used",
];

pub fn run_json(cmd: &mut Command) -> Value {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

pub fn ohai_installed() -> bool {
    Command::new("ohai")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

pub fn at<'a>(tree: &'a Value, parts: &[&str]) -> Option<&'a Value> {
    parts.iter().try_fold(tree, |node, part| node.get(*part))
}

/// Expands `*` against the keys `ohai` has, giving concrete paths.
pub fn expand(tree: &Value, path: &str) -> Vec<Vec<String>> {
    let mut paths: Vec<Vec<String>> = vec![Vec::new()];
    for part in path.split('/') {
        let mut next = Vec::new();
        for prefix in paths {
            if part == "*" {
                let refs: Vec<&str> = prefix.iter().map(String::as_str).collect();
                if let Some(Value::Object(map)) = at(tree, &refs) {
                    for key in map.keys() {
                        let mut p = prefix.clone();
                        p.push(key.clone());
                        next.push(p);
                    }
                }
            } else {
                let mut p = prefix;
                p.push(part.to_string());
                next.push(p);
            }
        }
        paths = next;
    }
    paths
}

pub fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The ohai.rb that makes `ohai` run what Chef runs: Passwd (etc, current_user) is optional in
/// Ohai 16.
pub const OHAI_CONFIG: &str = "ohai.optional_plugins = [:Passwd]\n";

/// Compares `skillet` with `ohai` on every path of `EQUAL` (equal values) and `SAME_TYPE`
/// (same JSON type), `*` expanded against `ohai`'s keys. Returns how many concrete paths were
/// compared and one line per difference.
pub fn compare(ohai: &Value, skillet: &Value) -> (usize, Vec<String>) {
    let mut failures = Vec::new();
    let mut compared = 0;
    for (paths, equal) in [(EQUAL, true), (SAME_TYPE, false)] {
        for pattern in paths {
            for path in expand(ohai, pattern) {
                let parts: Vec<&str> = path.iter().map(String::as_str).collect();
                compared += 1;
                if let Some(failure) = differ(&parts, at(ohai, &parts), at(skillet, &parts), equal)
                {
                    failures.push(failure);
                }
            }
        }
    }
    (compared, failures)
}

/// How `ohai`'s value at `parts` (`theirs`) differs from skillet's (`ours`), if it does.
pub fn differ(
    parts: &[&str],
    theirs: Option<&Value>,
    ours: Option<&Value>,
    equal: bool,
) -> Option<String> {
    let shown = parts.join("/");
    match (theirs, ours) {
        (None, None) => None,
        (Some(t), Some(o)) if equal && t != o => Some(format!("{shown}: ohai {t} != skillet {o}")),
        (Some(t), Some(o)) if type_of(t) != type_of(o) => Some(format!(
            "{shown}: ohai has a {}, skillet a {}",
            type_of(t),
            type_of(o)
        )),
        (Some(_), Some(_)) => None,
        (t, o) => Some(format!("{shown}: ohai {t:?}, skillet {o:?}")),
    }
}
