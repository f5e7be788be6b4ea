//! A no-op converge of host resources (issue 4): 50 installed packages, 5 running and enabled
//! services and 10 existing users, all already as the recipe says, run by `skillet solo`.
//!
//! Everything is read from this machine at bench start and nothing on it is changed:
//! - packages: the first 50 installed packages of the dpkg status database;
//! - services: five init scripts in /etc/init.d that have start links in /etc/rc?.d, so the
//!   Debian provider finds them enabled from the links. A container has no daemons of its own,
//!   so the bench starts one stand-in process per service (a `sleep` whose argv[0] is a unique
//!   marker) and gives each service that marker as its `pattern`: "running" is then read from
//!   /proc, the provider's no-spawn path. `start_command`/`stop_command` are `true`, so a run
//!   that thought a service stopped would never touch the real init script;
//! - users: the first 10 accounts of /etc/passwd with their current home and shell.
//!
//! Setup checks that a run updates nothing and, when strace is installed, that it spawns no
//! process. The stand-in processes are killed when the bench ends or panics.

#[path = "support/mod.rs"]
mod support;
use support::{bench_solo, solo};

use criterion::{criterion_group, criterion_main, Criterion};
use std::fmt::Write as _;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Output};

const STATUS: &str = "/var/lib/dpkg/status";
const PACKAGES: usize = 50;
const SERVICES: usize = 5;
const USERS: usize = 10;
const RESOURCES: usize = PACKAGES + SERVICES + USERS;
/// The run's "N/M resources updated" counts resource actions: each service has two.
const ACTIONS: usize = PACKAGES + 2 * SERVICES + USERS;

/// A plain Debian package name (optionally `:arch`-qualified); anything else is skipped.
fn plain_package_name(name: &str) -> bool {
    let (base, arch) = match name.split_once(':') {
        Some((b, a)) => (b, Some(a)),
        None => (name, None),
    };
    let base_ok = base.len() >= 2
        && base.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && base
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c));
    base_ok && arch.is_none_or(|a| a.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// The first 50 installed packages of the host, by name.
fn installed_packages() -> Vec<String> {
    let text = std::fs::read_to_string(STATUS).expect("this benchmark needs a dpkg status file");
    let status = skillet::platform::packages::dpkg_status::DpkgStatus::parse(&text);
    let mut names: Vec<String> = status
        .entries()
        .iter()
        .filter(|e| e.installed_version().is_some() && plain_package_name(&e.name))
        .map(|e| e.name.clone())
        .collect();
    names.sort();
    names.dedup();
    names.truncate(PACKAGES);
    assert_eq!(names.len(), PACKAGES, "fewer than 50 installed packages");
    names
}

/// Init scripts that have a start link in a runlevel Chef counts as enabled; `None` when the
/// machine has fewer than five.
fn enabled_init_scripts() -> Option<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir("/etc/init.d")
        .expect("this benchmark needs /etc/init.d")
        .flatten()
        .filter(|e| e.path().is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|name| has_start_link(name))
        .collect();
    names.sort();
    names.truncate(SERVICES);
    (names.len() == SERVICES).then_some(names)
}

fn has_start_link(name: &str) -> bool {
    ["1", "2", "3", "4", "5", "S"].iter().any(|level| {
        std::fs::read_dir(format!("/etc/rc{level}.d"))
            .map(|dir| {
                dir.flatten().any(|e| {
                    let file = e.file_name();
                    let file = file.to_string_lossy();
                    file.len() == name.len() + 3
                        && file.starts_with('S')
                        && file[1..3].bytes().all(|b| b.is_ascii_digit())
                        && file.ends_with(name)
                })
            })
            .unwrap_or(false)
    })
}

/// The first 10 accounts of /etc/passwd: (name, home, shell).
fn existing_users() -> Vec<(String, String, String)> {
    let passwd = std::fs::read_to_string("/etc/passwd").expect("/etc/passwd");
    let users: Vec<(String, String, String)> = passwd
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            (f.len() == 7).then(|| (f[0].to_string(), f[5].to_string(), f[6].to_string()))
        })
        .take(USERS)
        .collect();
    assert_eq!(users.len(), USERS, "fewer than 10 accounts in /etc/passwd");
    users
}

/// The stand-in processes, killed on drop (also when the bench panics).
struct Daemons(Vec<Child>);

impl Drop for Daemons {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The argv[0] that marks the stand-in for `service`: unique to this bench process.
fn marker(service: &str) -> String {
    format!("skillet-hbench-{}-{}", service, std::process::id())
}

fn start_daemons(services: &[String]) -> Daemons {
    let mut daemons = Daemons(Vec::new());
    for service in services {
        let child = Command::new("sleep")
            .arg0(marker(service))
            .arg("86400")
            .spawn()
            .expect("sleep starts");
        daemons.0.push(child);
    }
    // A child shows its argv[0] only once it has exec'd.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    for child in &daemons.0 {
        let cmdline = format!("/proc/{}/cmdline", child.id());
        while !std::fs::read(&cmdline)
            .map(|c| c.starts_with(b"skillet-hbench-"))
            .unwrap_or(false)
        {
            assert!(std::time::Instant::now() < deadline, "daemon did not start");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    daemons
}

fn recipe(packages: &[String], services: &[String], users: &[(String, String, String)]) -> String {
    let mut yaml = String::from("resources:\n");
    for name in packages {
        let _ = writeln!(yaml, "  - type: package\n    name: \"{name}\"");
    }
    for name in services {
        let _ = writeln!(
            yaml,
            "  - type: service\n    name: \"{name}\"\n    pattern: \"^{} \"\n    start_command: \"true\"\n    stop_command: \"true\"\n    supports: {{ status: false }}\n    action: [enable, start]",
            marker(name)
        );
    }
    for (name, home, shell) in users {
        let _ = writeln!(
            yaml,
            "  - type: user\n    name: \"{name}\"\n    home: \"{home}\"\n    shell: \"{shell}\""
        );
    }
    yaml
}

fn write_repo(dir: &Path, recipe: &str) {
    let write = |rel: &str, text: &str| {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    };
    write(
        "solo.json",
        r#"{"cookbook_path": ["cookbooks"], "node_path": "nodes", "file_cache_path": "cache", "node_name": "bench"}"#,
    );
    write(
        "cookbooks/bench/metadata.json",
        r#"{"name": "bench", "version": "1.0.0"}"#,
    );
    write("cookbooks/bench/recipes/default.yml", recipe);
}

const SOLO_ARGS: &[&str] = &[
    "solo",
    "-c",
    "solo.json",
    "-o",
    "bench",
    "--no-color",
    "-F",
    "min",
];

/// A no-op run of every declared resource.
fn assert_all_noop(out: &Output) {
    support::assert_noop(out, ACTIONS);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("Converging {RESOURCES} resources")),
        "{text}"
    );
}

/// Process-creating calls in an strace log, other than the exec of skillet itself: every
/// execve after the first, and every fork, vfork or clone that is not a new thread.
fn spawns_in_trace(trace: &str) -> Vec<String> {
    let mut execs = 0;
    trace
        .lines()
        .filter(|line| {
            if line.contains("execve(") {
                execs += 1;
                return execs > 1;
            }
            let clone = line.contains("clone(") || line.contains("clone3(");
            line.contains("fork(") || (clone && !line.contains("CLONE_THREAD"))
        })
        .map(str::to_string)
        .collect()
}

/// Runs skillet once under `strace -f`; `None` when strace is not installed.
fn traced_spawns(dir: &Path) -> Option<Vec<String>> {
    let log = dir.join("strace.log");
    let out = Command::new("strace")
        .args([
            "-f",
            "-qq",
            "-e",
            "trace=execve,clone,clone3,fork,vfork",
            "-o",
        ])
        .arg(&log)
        .arg(env!("CARGO_BIN_EXE_skillet"))
        .args(SOLO_ARGS)
        .current_dir(dir)
        .output()
        .ok()?;
    assert_all_noop(&out);
    let trace = std::fs::read_to_string(&log).expect("strace log");
    Some(spawns_in_trace(&trace))
}

fn bench(c: &mut Criterion) {
    let packages = installed_packages();
    let Some(services) = enabled_init_scripts() else {
        println!("skipped: this machine has fewer than 5 init scripts enabled in /etc/rc?.d");
        return;
    };
    let users = existing_users();
    let _daemons = start_daemons(&services);

    let dir = tempfile::tempdir().expect("tempdir");
    write_repo(dir.path(), &recipe(&packages, &services, &users));
    assert_all_noop(&solo(dir.path()));
    match traced_spawns(dir.path()) {
        Some(spawns) => {
            assert!(spawns.is_empty(), "a no-op run spawned: {spawns:#?}");
            println!("strace: a no-op run spawns no process");
        }
        None => println!("strace is not installed: spawn check skipped"),
    }
    println!("services (enabled by rc links, running by pattern): {services:?}");

    bench_solo(
        c,
        "solo_process_noop_50_packages_5_services_10_users",
        dir.path(),
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50);
    targets = bench
}
criterion_main!(benches);
