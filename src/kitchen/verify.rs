//! The `shell` verifier: the suite's scripts (Test Kitchen's `test/integration/<suite>/`), or
//! the verifier's `command`, run inside the host; a non-zero exit fails the instance.
//!
//! Scripts see `KITCHEN_INSTANCE`, `KITCHEN_SUITE`, `KITCHEN_PLATFORM` and `KITCHEN_HOSTNAME`,
//! as with Test Kitchen's shell verifier.

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
    let commands = match &instance.verifier.command {
        Some(command) => vec![(command.clone(), shell(command))],
        None => copy_scripts(host, instance, project_dir)?,
    };
    if commands.is_empty() {
        progress(&format!(
            "{}: no verify scripts in test/integration/{}/; nothing to verify",
            instance.name, instance.suite
        ));
    }
    for (label, argv) in commands {
        progress(&format!("Verifying {}: {label}", instance.name));
        let spec = EnterSpec {
            pid: host.pid,
            skillet: false,
            env: kitchen_env(instance, host),
            timeout: Some(instance.verifier.timeout),
            argv,
        };
        let result = run_streamed(driver.command(host, &spec)?, &instance.name)?;
        if result.code == TIMED_OUT {
            return Err(failed(format!(
                "verify of {}: `{label}` did not finish within {}s (raise `verifier: {{timeout: N}}`)",
                instance.name,
                instance.verifier.timeout.as_secs()
            )));
        }
        if result.code != 0 {
            return Err(failed(format!(
                "verify of {} failed: `{label}` exited {}:\n{}",
                instance.name,
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
    let dir = project_dir.join("test/integration").join(&instance.suite);
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
            // An executable script runs with its own interpreter (its `#!` line); a plain
            // `.sh` file runs with /bin/sh.
            let executable = std::fs::metadata(dir.join(&name))
                .map(|m| m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false);
            let argv = if executable {
                vec![path]
            } else {
                vec!["/bin/sh".to_string(), path]
            };
            (name, argv)
        })
        .collect())
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
}
