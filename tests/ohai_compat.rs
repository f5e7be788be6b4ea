//! `skillet ohai` against the real `ohai` on the same machine: the attribute paths below must
//! hold equal values, except those that change between two reads, which must exist in both
//! with the same JSON type. Skipped (with the reason printed) when `ohai` is not installed.
//!
//! A `*` in a path stands for every key `ohai` has at that level.

use serde_json::Value;
use std::process::Command;

/// Paths whose values must be equal.
const EQUAL: &[&str] = &[
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
const SAME_TYPE: &[&str] = &[
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

fn run_json(cmd: &mut Command) -> Value {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn ohai_installed() -> bool {
    Command::new("ohai")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn at<'a>(tree: &'a Value, parts: &[&str]) -> Option<&'a Value> {
    parts.iter().try_fold(tree, |node, part| node.get(*part))
}

/// Expands `*` against the keys `ohai` has, giving concrete paths.
fn expand(tree: &Value, path: &str) -> Vec<Vec<String>> {
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

fn type_of(v: &Value) -> &'static str {
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

#[test]
fn skillet_ohai_matches_ohai() {
    if !ohai_installed() {
        eprintln!("skipped: `ohai` is not installed (scripts/setup installs Debian's ohai)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ohai.rb");
    // Passwd (etc, current_user) is optional in Ohai 16; Chef runs it.
    std::fs::write(&config, "ohai.optional_plugins = [:Passwd]\n").unwrap();
    let ohai = run_json(
        Command::new("ohai")
            .arg("-c")
            .arg(&config)
            .args(["-l", "fatal"]),
    );
    let skillet = run_json(Command::new(env!("CARGO_BIN_EXE_skillet")).arg("ohai"));

    let mut failures = Vec::new();
    let mut compared = 0;
    for (paths, equal) in [(EQUAL, true), (SAME_TYPE, false)] {
        for pattern in paths {
            for path in expand(&ohai, pattern) {
                let parts: Vec<&str> = path.iter().map(String::as_str).collect();
                let shown = parts.join("/");
                let (theirs, ours) = (at(&ohai, &parts), at(&skillet, &parts));
                compared += 1;
                match (theirs, ours) {
                    (None, None) => {}
                    (Some(t), Some(o)) if equal && t != o => {
                        failures.push(format!("{shown}: ohai {t} != skillet {o}"))
                    }
                    (Some(t), Some(o)) if type_of(t) != type_of(o) => failures.push(format!(
                        "{shown}: ohai has a {}, skillet a {}",
                        type_of(t),
                        type_of(o)
                    )),
                    (Some(_), Some(_)) => {}
                    (t, o) => failures.push(format!("{shown}: ohai {t:?}, skillet {o:?}")),
                }
            }
        }
    }
    eprintln!("compared {compared} attribute paths");
    assert!(EQUAL.len() + SAME_TYPE.len() >= 60);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn paths_print_values_in_arrays_as_ohai_does() {
    let out = Command::new(env!("CARGO_BIN_EXE_skillet"))
        .args(["ohai", "os", "kernel/name"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text, "[\n  \"linux\"\n]\n[\n  \"Linux\"\n]\n");
}

#[test]
fn a_missing_path_fails() {
    let out = Command::new(env!("CARGO_BIN_EXE_skillet"))
        .args(["ohai", "no/such/attribute"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no/such/attribute"));
}

#[test]
fn minimal_set_is_chefs() {
    let tree = run_json(Command::new(env!("CARGO_BIN_EXE_skillet")).args(["ohai", "-m"]));
    let mut keys: Vec<&str> = tree
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        vec![
            "domain",
            "fqdn",
            "hostname",
            "init_package",
            "machinename",
            "ohai_time",
            "os",
            "os_version",
            "platform",
            "platform_family",
            "platform_version"
        ]
    );
}
