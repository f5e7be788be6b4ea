//! `skillet ohai` against the real `ohai` inside a kitchen host: the same attribute paths as on
//! the machine (tests/common/ohai_paths.rs), plus the facts a host does not share with the
//! machine: its own hostname, its two interfaces (lo, and eth0 with the lab address), no
//! default route, the host's PID 1 as init, and its virtualization. Needs root and `ohai`;
//! without either it says so and passes.

mod common;

use common::ohai_paths::{compare, differ, ohai_installed, run_json, OHAI_CONFIG};
use common::Repo;
use serde_json::Value;
use std::process::Command;

const INSTANCE: &str = "default-debian-12";

/// A running host of a one-suite project; destroyed when dropped, so a failing assertion
/// leaves nothing behind either.
struct Host {
    repo: Repo,
    pid: i32,
    address: String,
    netns: String,
}

impl Host {
    fn create() -> Host {
        let repo = Repo::new();
        repo.write(
            "kitchen.yml",
            "driver: namespace\nprovisioner: chef_zero\nplatforms:\n  - name: debian-12\nsuites:\n  - name: default\n",
        );
        let run = repo.run(&["kitchen", "create"]);
        // Read the state before checking the run, so the guard exists whatever happened.
        let state = std::fs::read_to_string(repo.path().join(format!(".kitchen/{INSTANCE}.json")))
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            .unwrap_or(Value::Null);
        let host = Host {
            pid: state["hosts"][0]["pid"].as_i64().unwrap_or(0) as i32,
            address: state["hosts"][0]["address"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            netns: state["hosts"][0]["netns"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            repo,
        };
        run.ok();
        // No wait for IPv6 duplicate address detection: the lab turns it off, so eth0's
        // link-local address is never "tentative" and both reads see the same.
        assert!(host.pid > 0, "no host in the state: {state}");
        host
    }

    /// `ohai` inside the host, run as a user would with `skillet kitchen exec`.
    fn ohai(&self) -> Value {
        std::fs::write(format!("/proc/{}/root/tmp/ohai.rb", self.pid), OHAI_CONFIG).unwrap();
        let run = self.repo.run(&[
            "kitchen",
            "exec",
            "default",
            "-c",
            "ohai -c /tmp/ohai.rb -l fatal",
        ]);
        run.ok();
        let stdout = run.stdout();
        // The document follows the "-----> Execute command on ..." line.
        let start = stdout.find("\n{").map_or(0, |i| i + 1);
        serde_json::from_str(&stdout[start..]).unwrap()
    }

    /// `skillet ohai` inside the host: the binary enters it as converge does (`--skillet`).
    fn skillet_ohai(&self) -> Value {
        run_json(Command::new(env!("CARGO_BIN_EXE_skillet")).args([
            "kitchen",
            "__enter",
            "--pid",
            &self.pid.to_string(),
            "--skillet",
            "--",
            "skillet",
            "ohai",
        ]))
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let run = self.repo.run(&["kitchen", "destroy"]);
        if std::thread::panicking() {
            return;
        }
        run.ok();
        assert!(
            !std::path::Path::new("/run/netns")
                .join(&self.netns)
                .exists(),
            "the host's network namespace is left"
        );
        // Its parent may not have reaped it yet: a zombie is gone enough.
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap_or_default();
        let state = stat
            .rsplit(") ")
            .next()
            .and_then(|rest| rest.chars().next());
        assert!(
            matches!(state, None | Some('Z')),
            "the host's PID 1 is left: {stat}"
        );
    }
}

/// Asserts `path` holds `expected` in both trees.
fn both_hold(ohai: &Value, skillet: &Value, path: &str, expected: &Value) {
    let parts: Vec<&str> = path.split('/').collect();
    for (who, tree) in [("ohai", ohai), ("skillet", skillet)] {
        let found = common::ohai_paths::at(tree, &parts);
        assert_eq!(found, Some(expected), "{who}: {path}");
    }
}

/// Asserts `path` is the same in both trees, present or not; returns ohai's value.
fn agree<'a>(ohai: &'a Value, skillet: &Value, path: &str) -> Option<&'a Value> {
    let parts: Vec<&str> = path.split('/').collect();
    let theirs = common::ohai_paths::at(ohai, &parts);
    let ours = common::ohai_paths::at(skillet, &parts);
    if let Some(failure) = differ(&parts, theirs, ours, true) {
        panic!("{failure}");
    }
    theirs
}

#[test]
fn skillet_ohai_matches_ohai_inside_a_kitchen_host() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: kitchen hosts need root");
        return;
    }
    if !ohai_installed() {
        eprintln!("skipped: `ohai` is not installed (scripts/setup installs Debian's ohai)");
        return;
    }
    let host = Host::create();
    let ohai = host.ohai();
    let skillet = host.skillet_ohai();

    let (compared, failures) = compare(&ohai, &skillet);
    eprintln!("compared {compared} attribute paths inside {INSTANCE}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The host's own names, not the machine's.
    let name = Value::from(INSTANCE);
    for path in ["hostname", "machinename", "fqdn"] {
        both_hold(&ohai, &skillet, path, &name);
    }
    both_hold(
        &ohai,
        &skillet,
        "ipaddress",
        &Value::from(host.address.clone()),
    );

    // Exactly lo and eth0, eth0 on the lab network.
    let mut interfaces: Vec<&String> = ohai["network"]["interfaces"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    interfaces.sort_unstable();
    assert_eq!(interfaces, ["eth0", "lo"]);
    both_hold(
        &ohai,
        &skillet,
        "network/interfaces/eth0/mtu",
        &"1500".into(),
    );
    both_hold(
        &ohai,
        &skillet,
        "network/interfaces/lo/mtu",
        &"65536".into(),
    );
    let address = format!("network/interfaces/eth0/addresses/{}", host.address);
    both_hold(
        &ohai,
        &skillet,
        &format!("{address}/prefixlen"),
        &"24".into(),
    );
    both_hold(
        &ohai,
        &skillet,
        &format!("{address}/family"),
        &"inet".into(),
    );
    let flags = agree(&ohai, &skillet, "network/interfaces/eth0/flags").unwrap();
    assert!(flags.as_array().unwrap().contains(&"UP".into()), "{flags}");

    // No default route in a host: whatever ohai says about it, skillet says too.
    for path in [
        "network/default_gateway",
        "network/default_interface",
        "network/default_inet6_gateway",
        "network/default_inet6_interface",
    ] {
        agree(&ohai, &skillet, path);
    }
    assert_eq!(agree(&ohai, &skillet, "network/default_gateway"), None);

    // Init is the host's PID 1, whatever its name.
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", host.pid)).unwrap();
    both_hold(&ohai, &skillet, "init_package", &comm.trim().into());
    agree(&ohai, &skillet, "virtualization");
}
