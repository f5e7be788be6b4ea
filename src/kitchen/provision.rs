//! Converging a host: the repository copied in, `skillet solo` run inside, and the
//! idempotency gate.
//!
//! The sandbox is `/tmp/kitchen` inside the host (a tmpfs of the host's own): cookbooks,
//! roles, environments and data bags from the project, a `solo.json` pointing at them and a
//! `dna.json` with the instance's run list and attributes. The skillet binary itself is not
//! copied: the host runs the very binary the user ran (see `__enter --skillet`).

use super::config::{Instance, ProvisionerConfig};
use super::driver::host_enter::EnterSpec;
use super::driver::host_init::APT_NETNS;
use super::driver::namespace::host_path;
use super::driver::NamespaceDriver;
use super::state::HostState;
use super::stream::{progress, run_streamed};
use crate::error::{Error, IoContext, Result};
use crate::platform::packages::apt::APT_NETNS_VAR;
use serde_json::{json, Value};
use std::path::Path;

/// The sandbox inside the host.
pub const SANDBOX: &str = "/tmp/kitchen";
/// Repository directories copied into the sandbox, when the project has them.
const REPO_DIRS: &[&str] = &["roles", "environments", "data_bags"];
/// Directories holding cookbooks.
const COOKBOOK_DIRS: &[&str] = &["cookbooks", "site-cookbooks"];
/// Never copied when the project itself is a cookbook.
const NOT_COOKBOOK: &[&str] = &[
    ".kitchen",
    ".git",
    "test",
    "spec",
    "cookbooks",
    "site-cookbooks",
];

/// Copies the repository into the host and converges it as configured; `converges` is how
/// many runs (the idempotency gate applies from the second one when `enforce` is set). The
/// nodes its `peers` (the other hosts of a multi-host suite) saved when they converged are in
/// its node path, so `search(:node, ...)` finds them as it would on a Chef server.
pub fn converge(
    driver: &NamespaceDriver,
    host: &HostState,
    peers: &[&HostState],
    instance: &Instance,
    project_dir: &Path,
    converges: u32,
    enforce: bool,
) -> Result<()> {
    prepare_sandbox(host, instance, project_dir)?;
    share_saved_nodes(host, peers)?;
    for run in 1..=converges {
        if converges > 1 {
            progress(&format!(
                "Converging {} (run {run} of {converges})",
                instance.name
            ));
        }
        let report = format!("{SANDBOX}/report-{run}.json");
        let spec = EnterSpec {
            pid: host.pid,
            skillet: true,
            env: solo_env(instance),
            timeout: None,
            argv: solo_argv(&report),
        };
        let result = run_streamed(driver.command(host, &spec)?, &instance.name)?;
        if result.code != 0 {
            let fatal: Vec<&String> = result
                .tail
                .iter()
                .filter(|l| l.starts_with("FATAL") || l.contains("ERROR"))
                .collect();
            let why = fatal.iter().map(|l| format!("\n  {l}")).collect::<String>();
            return Err(failed(format!(
                "converge of {} failed (skillet solo exited {}){why}",
                instance.name, result.code
            )));
        }
        if run > 1 && enforce {
            check_idempotent(host, &report, &instance.name)?;
        }
    }
    Ok(())
}

/// With `apt_network: machine`, the run learns where the machine's network namespace is; its
/// apt commands, and nothing else, enter it.
fn solo_env(instance: &Instance) -> Vec<(String, String)> {
    if !instance.driver.apt_network_machine {
        return Vec::new();
    }
    vec![(APT_NETNS_VAR.to_string(), APT_NETNS.to_string())]
}

fn solo_argv(report: &str) -> Vec<String> {
    [
        "skillet",
        "solo",
        "-c",
        &format!("{SANDBOX}/solo.json"),
        "-j",
        &format!("{SANDBOX}/dna.json"),
        "--report-file",
        report,
        "--no-color",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The idempotency gate: a later converge must update nothing; the error names every resource
/// that did and the changes it made.
fn check_idempotent(host: &HostState, report: &str, instance: &str) -> Result<()> {
    let path = host_path(host, report);
    let text = std::fs::read_to_string(&path).with_path(&path)?;
    let doc: Value = crate::repo::yaml::from_json(&text, &path)?;
    let updated: Vec<String> = doc["actions"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|a| a["status"] == "updated")
        .map(describe_update)
        .collect();
    if updated.is_empty() {
        return Ok(());
    }
    Err(failed(format!(
        "{instance} is not idempotent: the second converge updated {} resource(s):\n{}",
        updated.len(),
        updated.join("\n")
    )))
}

fn describe_update(action: &Value) -> String {
    let mut text = format!(
        "  * {} action {}",
        action["resource"].as_str().unwrap_or("?"),
        action["action"].as_str().unwrap_or("?")
    );
    for change in action["changes"].as_array().into_iter().flatten() {
        text.push_str(&format!("\n    - {}", change.as_str().unwrap_or("")));
    }
    text
}

fn prepare_sandbox(host: &HostState, instance: &Instance, project_dir: &Path) -> Result<()> {
    let sandbox = host_path(host, SANDBOX);
    if sandbox.exists() {
        std::fs::remove_dir_all(&sandbox).with_path(&sandbox)?;
    }
    std::fs::create_dir_all(&sandbox).with_path(&sandbox)?;
    let mut cookbook_paths = Vec::new();
    for dir in COOKBOOK_DIRS {
        let from = project_dir.join(dir);
        if from.is_dir() {
            copy_tree(&from, &sandbox.join(dir), &[])?;
            cookbook_paths.push(format!("{SANDBOX}/{dir}"));
        }
    }
    if let Some(name) = project_cookbook_name(project_dir) {
        let into = sandbox.join("project-cookbook").join(&name);
        copy_tree(project_dir, &into, NOT_COOKBOOK)?;
        cookbook_paths.push(format!("{SANDBOX}/project-cookbook"));
    }
    for dir in REPO_DIRS {
        let from = project_dir.join(dir);
        if from.is_dir() {
            copy_tree(&from, &sandbox.join(dir), &[])?;
        }
    }
    write_json(
        &sandbox.join("solo.json"),
        &solo_json(instance, host, &cookbook_paths),
    )?;
    write_json(&sandbox.join("dna.json"), &dna_json(&instance.provisioner))
}

/// Copies each peer's saved node (`nodes/<hostname>.json` in its sandbox) into the host's node
/// path; a peer that has not converged yet has none.
fn share_saved_nodes(host: &HostState, peers: &[&HostState]) -> Result<()> {
    let nodes = host_path(host, &format!("{SANDBOX}/nodes"));
    for peer in peers {
        let file = format!("{}.json", peer.hostname);
        let saved = host_path(peer, &format!("{SANDBOX}/nodes/{file}"));
        if !saved.is_file() {
            continue;
        }
        std::fs::create_dir_all(&nodes).with_path(&nodes)?;
        std::fs::copy(&saved, nodes.join(&file)).with_path(&saved)?;
    }
    Ok(())
}

/// solo.json; the node is named after the host (the instance, or a multi-host suite's host).
fn solo_json(instance: &Instance, host: &HostState, cookbook_paths: &[String]) -> Value {
    let mut solo = json!({
        "cookbook_path": cookbook_paths,
        "role_path": format!("{SANDBOX}/roles"),
        "environment_path": format!("{SANDBOX}/environments"),
        "data_bag_path": format!("{SANDBOX}/data_bags"),
        "node_path": format!("{SANDBOX}/nodes"),
        "file_cache_path": format!("{SANDBOX}/cache"),
        "file_backup_path": format!("{SANDBOX}/backup"),
        "node_name": host.hostname,
    });
    if let Some(env) = &instance.provisioner.environment {
        solo["environment"] = json!(env);
    }
    solo
}

/// The node JSON (`-j`): the attributes with the run list beside them, as chef-solo reads it.
fn dna_json(provisioner: &ProvisionerConfig) -> Value {
    let mut dna = match &provisioner.attributes {
        Value::Object(map) => Value::Object(map.clone()),
        _ => json!({}),
    };
    dna["run_list"] = json!(provisioner.run_list);
    dna
}

/// The name of the cookbook the project itself is (Test Kitchen converges it when the
/// project root has metadata), from metadata.json or metadata.rb's `name` line.
fn project_cookbook_name(project_dir: &Path) -> Option<String> {
    if let Ok(text) = std::fs::read_to_string(project_dir.join("metadata.json")) {
        let doc: Value = serde_json::from_str(&text).ok()?;
        return doc["name"].as_str().map(str::to_string);
    }
    let text = std::fs::read_to_string(project_dir.join("metadata.rb")).ok()?;
    let re = regex::Regex::new(r#"(?m)^\s*name\s*\(?\s*['"]([^'"]+)['"]"#).ok()?;
    re.captures(&text).map(|c| c[1].to_string())
}

fn write_json(path: &Path, value: &Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::io(path, std::io::Error::other(e)))?;
    std::fs::write(path, text).with_path(path)
}

/// Copies a directory tree (files, directories, symlinks), leaving out top-level `skip` names.
pub fn copy_tree(from: &Path, to: &Path, skip: &[&str]) -> Result<()> {
    std::fs::create_dir_all(to).with_path(to)?;
    for entry in std::fs::read_dir(from).with_path(from)? {
        let entry = entry.with_path(from)?;
        let name = entry.file_name();
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        let kind = entry.file_type().with_path(&src)?;
        if kind.is_dir() {
            copy_tree(&src, &dst, &[])?;
        } else if kind.is_symlink() {
            let target = std::fs::read_link(&src).with_path(&src)?;
            std::os::unix::fs::symlink(target, &dst).with_path(&dst)?;
        } else {
            std::fs::copy(&src, &dst).with_path(&src)?;
        }
    }
    Ok(())
}

fn failed(message: String) -> Error {
    Error::input("Kitchen::ActionFailed", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dna_holds_attributes_and_the_run_list() {
        let p = ProvisionerConfig {
            name: "skillet".into(),
            run_list: vec!["recipe[app]".into()],
            attributes: json!({"app": {"port": 80}}),
            multiple_converge: 1,
            enforce_idempotency: false,
            environment: None,
        };
        assert_eq!(
            dna_json(&p),
            json!({"app": {"port": 80}, "run_list": ["recipe[app]"]})
        );
    }

    #[test]
    fn project_cookbook_name_comes_from_metadata_rb() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("metadata.rb"),
            "name 'web'\nversion '1.0.0'\n",
        )
        .unwrap();
        assert_eq!(project_cookbook_name(dir.path()).as_deref(), Some("web"));
    }

    #[test]
    fn copy_tree_skips_the_named_top_level_entries() {
        let from = tempfile::tempdir().unwrap();
        let to = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(from.path().join("recipes")).unwrap();
        std::fs::write(from.path().join("recipes/default.yml"), "resources: []").unwrap();
        std::fs::create_dir_all(from.path().join(".kitchen")).unwrap();
        copy_tree(from.path(), to.path(), NOT_COOKBOOK).unwrap();
        assert!(to.path().join("recipes/default.yml").is_file());
        assert!(!to.path().join(".kitchen").exists());
    }

    #[test]
    fn idempotency_report_names_resources_and_changes() {
        let action =
            json!({"resource": "file[/x]", "action": "create", "changes": ["update content"]});
        assert_eq!(
            describe_update(&action),
            "  * file[/x] action create\n    - update content"
        );
    }
}
