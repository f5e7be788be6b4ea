//! `skillet ohai` against the real `ohai` on the same machine: the attribute paths of
//! tests/common/ohai_paths.rs must hold equal values, except those that change between two
//! reads, which must exist in both with the same JSON type. Skipped (with the reason printed)
//! when `ohai` is not installed.

mod common;

use common::ohai_paths::{compare, ohai_installed, run_json, EQUAL, OHAI_CONFIG, SAME_TYPE};
use std::process::Command;

#[test]
fn skillet_ohai_matches_ohai() {
    if !ohai_installed() {
        eprintln!("skipped: `ohai` is not installed (scripts/setup installs Debian's ohai)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ohai.rb");
    std::fs::write(&config, OHAI_CONFIG).unwrap();
    let ohai = run_json(
        Command::new("ohai")
            .arg("-c")
            .arg(&config)
            .args(["-l", "fatal"]),
    );
    let skillet = run_json(Command::new(env!("CARGO_BIN_EXE_skillet")).arg("ohai"));

    let (compared, failures) = compare(&ohai, &skillet);
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
