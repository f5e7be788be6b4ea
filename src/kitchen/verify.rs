//! The `shell` verifier: the suite's scripts (Test Kitchen's `test/integration/<suite>/`), or
//! the verifier's `command`, run inside the host; a non-zero exit fails the instance.
//!
//! Scripts see `KITCHEN_INSTANCE`, `KITCHEN_SUITE`, `KITCHEN_PLATFORM` and `KITCHEN_HOSTNAME`,
//! as with Test Kitchen's shell verifier.
//!
//! A multi-host suite is verified from two places. The scripts directly in
//! `test/integration/<suite>/` (or the verifier's `command`) run on the machine inside the
//! lab's network, as a client of the hosts would: they find each host's address in
//! `KITCHEN_HOST_<NAME>` (the name upper-cased, `-` as `_`), the names in `KITCHEN_HOSTS`, and
//! run a command inside a host with `$KITCHEN_EXEC <host> <command> [args...]`. The scripts in
//! `test/integration/<suite>/<host>/` run inside that host.
//!
//! A one-host instance whose verifier says `from: lab` is verified the same way from the lab:
//! its scripts (or `command`) run on the machine in the lab's network, with the host's address
//! in `KITCHEN_HOST` and `KITCHEN_HOSTNAME` (and the variables of a multi-host suite), so a
//! check reaches the host as a client would.

use super::config::Instance;
use super::driver::host_enter::{EnterSpec, TIMED_OUT};
use super::driver::namespace::host_path;
use super::driver::NamespaceDriver;
use super::provision::{copy_tree, SANDBOX};
use super::state::HostState;
use super::stream::{progress, run_streamed};
use crate::error::{Error, IoContext, Result};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Runs the instance's verification inside its host.
pub fn verify(
    driver: &NamespaceDriver,
    host: &HostState,
    instance: &Instance,
    project_dir: &Path,
) -> Result<()> {
    if instance.verifier.name != "shell" {
        return Err(failed(format!(
            "verifier `{}` is not available: use `verifier: {{name: shell}}` with scripts in test/integration/{}/",
            instance.verifier.name, instance.suite
        )));
    }
    if instance.verifier.from_lab {
        return verify_from_lab(driver, host, instance, project_dir);
    }
    let commands = match &instance.verifier.command {
        Some(command) => vec![(command.clone(), shell(command))],
        None => copy_scripts(host, instance, project_dir)?,
    };
    if commands.is_empty() {
        nothing_to_verify(instance);
    }
    let env = kitchen_env(instance, host);
    run_checks(instance, &instance.name, commands, |argv| {
        driver.command(host, &spec(instance, env.clone(), argv))
    })
}

/// Verifies a multi-host instance: each host's own scripts inside it, in declared order, then
/// the suite's scripts (or `command`) in the lab's network.
pub fn verify_suite(
    driver: &NamespaceDriver,
    hosts: &[HostState],
    instance: &Instance,
    project_dir: &Path,
) -> Result<()> {
    if instance.verifier.name != "shell" {
        return Err(failed(format!(
            "verifier `{}` is not available: use `verifier: {{name: shell}}` with scripts in test/integration/{}/",
            instance.verifier.name, instance.suite
        )));
    }
    let suite_dir = project_dir.join("test/integration").join(&instance.suite);
    let common = suite_env(instance, hosts);
    let mut ran = 0;
    for (config, host) in instance.hosts.iter().zip(hosts) {
        let view = instance.for_host(config);
        let commands = copy_scripts_from(host, &suite_dir.join(&config.name))?;
        ran += commands.len();
        let mut env = common.clone();
        env.push(("KITCHEN_HOSTNAME".into(), host.hostname.clone()));
        run_checks(instance, &view.name, commands, |argv| {
            driver.command(host, &spec(instance, env.clone(), argv))
        })?;
    }
    let commands = lab_commands(instance, &suite_dir)?;
    ran += commands.len();
    if ran == 0 {
        nothing_to_verify(instance);
    }
    run_in_lab(driver, hosts, instance, project_dir, common, commands)
}

/// Verifies a one-host instance from the lab (`from: lab`): its scripts run on the machine in
/// the lab's network, the host's address in `KITCHEN_HOST` and `KITCHEN_HOSTNAME`.
fn verify_from_lab(
    driver: &NamespaceDriver,
    host: &HostState,
    instance: &Instance,
    project_dir: &Path,
) -> Result<()> {
    let suite_dir = project_dir.join("test/integration").join(&instance.suite);
    let commands = lab_commands(instance, &suite_dir)?;
    if commands.is_empty() {
        nothing_to_verify(instance);
    }
    let hosts = std::slice::from_ref(host);
    let mut env = suite_env(instance, hosts);
    env.push(("KITCHEN_HOST".into(), host.address.clone()));
    env.push(("KITCHEN_HOSTNAME".into(), host.address.clone()));
    run_in_lab(driver, hosts, instance, project_dir, env, commands)
}

/// The verifier's `command`, or the scripts directly in `suite_dir`, as they run on the
/// machine.
fn lab_commands(instance: &Instance, suite_dir: &Path) -> Result<Vec<(String, Vec<String>)>> {
    Ok(match &instance.verifier.command {
        Some(command) => vec![(command.clone(), shell(command))],
        None => scripts_in(suite_dir)?
            .into_iter()
            .map(|name| {
                let path = suite_dir.join(&name).to_string_lossy().into_owned();
                (name.clone(), script_argv(&suite_dir.join(&name), path))
            })
            .collect(),
    })
}

/// Runs checks on the machine in the lab's network from the project directory, with
/// `KITCHEN_EXEC` reaching into `hosts`.
fn run_in_lab(
    driver: &NamespaceDriver,
    hosts: &[HostState],
    instance: &Instance,
    project_dir: &Path,
    mut env: Vec<(String, String)>,
    commands: Vec<(String, Vec<String>)>,
) -> Result<()> {
    env.push(("KITCHEN_EXEC".into(), exec_prefix(hosts)?));
    run_checks(instance, &instance.name, commands, |argv| {
        let mut command = driver.lab_command(&spec(instance, env.clone(), argv))?;
        command.current_dir(project_dir);
        Ok(command)
    })
}

fn nothing_to_verify(instance: &Instance) {
    progress(&format!(
        "{}: no verify scripts in test/integration/{}/; nothing to verify",
        instance.name, instance.suite
    ));
}

fn spec(instance: &Instance, env: Vec<(String, String)>, argv: Vec<String>) -> EnterSpec {
    EnterSpec {
        pid: 0,
        skillet: false,
        env,
        timeout: Some(instance.verifier.timeout),
        argv,
    }
}

/// Runs each check with the command `make` gives it; the first failure stops the verify.
fn run_checks(
    instance: &Instance,
    label_prefix: &str,
    commands: Vec<(String, Vec<String>)>,
    make: impl Fn(Vec<String>) -> Result<std::process::Command>,
) -> Result<()> {
    for (label, argv) in commands {
        progress(&format!("Verifying {label_prefix}: {label}"));
        let result = run_streamed(make(argv)?, label_prefix)?;
        if result.code == TIMED_OUT {
            return Err(failed(format!(
                "verify of {label_prefix}: `{label}` did not finish within {}s (raise `verifier: {{timeout: N}}`)",
                instance.verifier.timeout.as_secs()
            )));
        }
        if result.code != 0 {
            return Err(failed(format!(
                "verify of {label_prefix} failed: `{label}` exited {}:\n{}",
                result.code,
                result.tail.join("\n")
            )));
        }
    }
    Ok(())
}

fn shell(command: &str) -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into(), command.into()]
}

/// What every check of a multi-host instance sees: the instance, each host's address by
/// name, and the names.
fn suite_env(instance: &Instance, hosts: &[HostState]) -> Vec<(String, String)> {
    let mut env = vec![
        ("KITCHEN_INSTANCE".into(), instance.name.clone()),
        ("KITCHEN_SUITE".into(), instance.suite.clone()),
        ("KITCHEN_PLATFORM".into(), instance.platform.clone()),
    ];
    let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
    env.push(("KITCHEN_HOSTS".into(), names.join(" ")));
    for host in hosts {
        env.push((host_variable(&host.name), host.address.clone()));
    }
    env
}

/// `KITCHEN_HOST_<NAME>`: the host's name upper-cased, `-` as `_`.
pub fn host_variable(name: &str) -> String {
    let upper: String = name
        .chars()
        .map(|c| match c {
            '-' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect();
    format!("KITCHEN_HOST_{upper}")
}

/// `KITCHEN_EXEC`: this binary's hidden `__in` mode with every host's PID 1, so that
/// `$KITCHEN_EXEC db1 cmd args...` runs `cmd args...` inside host db1.
fn exec_prefix(hosts: &[HostState]) -> Result<String> {
    let exe = std::env::current_exe().map_err(|e| Error::io("/proc/self/exe", e))?;
    let map: Vec<String> = hosts
        .iter()
        .map(|h| format!("{}={}", h.name, h.pid))
        .collect();
    Ok(format!("{} kitchen __in {}", exe.display(), map.join(",")))
}

fn kitchen_env(instance: &Instance, host: &HostState) -> Vec<(String, String)> {
    vec![
        ("KITCHEN_INSTANCE".into(), instance.name.clone()),
        ("KITCHEN_SUITE".into(), instance.suite.clone()),
        ("KITCHEN_PLATFORM".into(), instance.platform.clone()),
        ("KITCHEN_HOSTNAME".into(), host.hostname.clone()),
    ]
}

/// Copies the suite's scripts into the host; returns each script's name and how to run it.
fn copy_scripts(
    host: &HostState,
    instance: &Instance,
    project_dir: &Path,
) -> Result<Vec<(String, Vec<String>)>> {
    copy_scripts_from(
        host,
        &project_dir.join("test/integration").join(&instance.suite),
    )
}

/// Copies the scripts of `dir` into the host; returns each one's name and how to run it.
fn copy_scripts_from(host: &HostState, dir: &Path) -> Result<Vec<(String, Vec<String>)>> {
    let dir = dir.to_path_buf();
    let scripts = scripts_in(&dir)?;
    if scripts.is_empty() {
        return Ok(Vec::new());
    }
    let inside = format!("{SANDBOX}/verify");
    copy_tree(&dir, &host_path(host, &inside), &[])?;
    Ok(scripts
        .into_iter()
        .map(|name| {
            let path = format!("{inside}/{name}");
            (name.clone(), script_argv(&dir.join(&name), path))
        })
        .collect())
}

/// An executable script runs itself, with the interpreter of its `#!` line; a plain `.sh`
/// file (which need not be executable) runs with /bin/sh. `local` is the script on the machine,
/// `path` where it runs.
fn script_argv(local: &Path, path: String) -> Vec<String> {
    let executable = std::fs::metadata(local).is_ok_and(|m| m.permissions().mode() & 0o111 != 0);
    if executable {
        vec![path]
    } else {
        vec!["/bin/sh".to_string(), path]
    }
}

/// The scripts of a suite: `*.sh` files and executable files, in name order.
fn scripts_in(dir: &Path) -> Result<Vec<String>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).with_path(dir)? {
        let entry = entry.with_path(dir)?;
        let path: PathBuf = entry.path();
        let meta = entry.metadata().with_path(&path)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if meta.is_file() && (name.ends_with(".sh") || meta.permissions().mode() & 0o111 != 0) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

fn failed(message: String) -> Error {
    Error::input("Kitchen::ActionFailed", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_are_sh_files_and_executables_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("b.sh"), "true").unwrap();
        std::fs::write(d.join("a_check"), "#!/bin/sh\ntrue").unwrap();
        std::fs::set_permissions(d.join("a_check"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        std::fs::write(d.join("README.md"), "notes").unwrap();
        assert_eq!(scripts_in(d).unwrap(), ["a_check", "b.sh"]);
    }

    #[test]
    fn host_variables_are_upper_case_with_underscores() {
        assert_eq!(host_variable("db1"), "KITCHEN_HOST_DB1");
        assert_eq!(host_variable("web-a"), "KITCHEN_HOST_WEB_A");
    }
}
