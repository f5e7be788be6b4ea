//! Converging a host: the repository copied in, `skillet solo` run inside, and the
//! idempotency gate; or, with `chef_server`, `skillet client` run inside against the
//! instance's Chef server (see [`super::server`]).
//!
//! The sandbox is `/tmp/kitchen` inside the host (a tmpfs of the host's own): cookbooks,
//! roles, environments and data bags from the project, a `solo.json` pointing at them and a
//! `dna.json` with the instance's run list and attributes. In client mode it holds
//! `client.rb`, the validator's key and `dna.json` (the first-boot JSON) instead; the client's
//! own key is kept outside the sandbox, so it survives the sandbox being rebuilt for each
//! converge. The skillet binary itself is not copied: the host runs the very binary the user
//! ran (see `__enter --skillet`).

use super::config::{AptNetwork, Instance, ProvisionerConfig};
use super::driver::host_enter::EnterSpec;
use super::driver::host_init::APT_NETNS;
use super::driver::namespace::host_path;
use super::driver::NamespaceDriver;
use super::server::{self, VALIDATOR, VALIDATOR_KEY};
use super::state::{HostState, ServerState};
use super::stream::{progress, run_streamed};
use crate::error::{Error, IoContext, Result};
use crate::platform::fs::{stage_and_rename, staging_path, Mode, Ownership};
use crate::platform::packages::apt::APT_NETNS_VAR;
use crate::repo::config::ClientRb;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// The sandbox inside the host.
pub const SANDBOX: &str = "/tmp/kitchen";
/// The host's client key in client mode: outside the sandbox, which each converge rebuilds,
/// and on the host's own /tmp, so a new host never inherits one.
pub const CLIENT_KEY: &str = "/tmp/kitchen-client.pem";

/// Where a host's run gets its cookbooks, roles and peers' nodes.
#[derive(Debug, Clone)]
pub enum Source<'a> {
    /// `skillet solo` on a copy of the repository, with the nodes the suite's other hosts
    /// saved when they converged.
    Repository {
        /// The other hosts of a multi-host suite.
        peers: Vec<&'a HostState>,
    },
    /// `skillet client` against the instance's Chef server, which holds the repository and
    /// every host's node.
    Server(&'a ServerState),
}

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

/// Prepares the host's sandbox for `source` and converges it as configured; `converges` is
/// how many runs (the idempotency gate applies from the second one when `enforce` is set).
/// From a repository copy, the nodes the peers saved when they converged are in the host's
/// node path, so `search(:node, ...)` finds them as it would on a Chef server; from a server,
/// the server answers it.
pub fn converge(
    driver: &NamespaceDriver,
    host: &HostState,
    source: &Source<'_>,
    instance: &Instance,
    project_dir: &Path,
    converges: u32,
    enforce: bool,
) -> Result<()> {
    let command = match source {
        Source::Repository { peers } => {
            prepare_sandbox(host, instance, project_dir)?;
            share_saved_nodes(host, peers)?;
            "solo"
        }
        Source::Server(server) => {
            prepare_client_sandbox(host, instance, server)?;
            "client"
        }
    };
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
            argv: run_argv(command, &report),
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
                "converge of {} failed (skillet {command} exited {}){why}",
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
    if instance.driver.apt_network != AptNetwork::Machine {
        return Vec::new();
    }
    vec![(APT_NETNS_VAR.to_string(), APT_NETNS.to_string())]
}

/// `skillet solo` (from solo.json) or `skillet client` (from client.rb), with the node JSON.
fn run_argv(command: &str, report: &str) -> Vec<String> {
    let config = match command {
        "client" => "client.rb",
        _ => "solo.json",
    };
    [
        "skillet",
        command,
        "-c",
        &format!("{SANDBOX}/{config}"),
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

/// The directories holding the project's cookbooks, as seen from the machine: `cookbooks/`
/// and `site-cookbooks/`, and, when the project is itself a cookbook, `staged` with a fresh
/// copy of it (a cookbook path holds cookbooks, not one cookbook).
pub fn cookbook_dirs(project_dir: &Path, staged: &Path) -> Result<Vec<PathBuf>> {
    let mut dirs: Vec<PathBuf> = COOKBOOK_DIRS
        .iter()
        .map(|d| project_dir.join(d))
        .filter(|d| d.is_dir())
        .collect();
    if staged.exists() {
        std::fs::remove_dir_all(staged).with_path(staged)?;
    }
    if let Some(name) = project_cookbook_name(project_dir) {
        copy_tree(project_dir, &staged.join(name), NOT_COOKBOOK)?;
        dirs.push(staged.to_path_buf());
    }
    Ok(dirs)
}

/// The client-mode sandbox: `client.rb`, the validator's key (the first run registers the
/// host with it) and the first-boot JSON. A host with no client key yet is new to the
/// server: a client or node of its name left by an earlier host is deleted first.
fn prepare_client_sandbox(
    host: &HostState,
    instance: &Instance,
    server: &ServerState,
) -> Result<()> {
    let sandbox = host_path(host, SANDBOX);
    if sandbox.exists() {
        std::fs::remove_dir_all(&sandbox).with_path(&sandbox)?;
    }
    std::fs::create_dir_all(&sandbox).with_path(&sandbox)?;
    if !host_path(host, CLIENT_KEY).exists() {
        server::forget_client(server, &host.hostname)?;
    }
    let validator = server.dir.join(VALIDATOR_KEY);
    let key = std::fs::read(&validator).with_path(&validator)?;
    write_private(&sandbox.join("validation.pem"), &key)?;
    let client_rb = client_rb(
        &server.url,
        &host.hostname,
        instance.provisioner.environment.as_deref(),
    );
    write_private(&sandbox.join("client.rb"), client_rb.as_bytes())?;
    write_json(&sandbox.join("dna.json"), &dna_json(&instance.provisioner))
}

/// Removes the host's client key, so its next client run registers it anew.
pub fn drop_client_key(host: &HostState) -> Result<()> {
    let key = host_path(host, CLIENT_KEY);
    match std::fs::remove_file(&key) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(&key, e)),
        _ => Ok(()),
    }
}

/// client.rb for a host of the instance; the node is named after the host.
fn client_rb(url: &str, node_name: &str, environment: Option<&str>) -> String {
    ClientRb {
        written_by: "skillet kitchen",
        chef_server_url: url,
        node_name,
        validation_client_name: VALIDATOR,
        validation_key: &format!("{SANDBOX}/validation.pem"),
        client_key: CLIENT_KEY,
        file_cache_path: &format!("{SANDBOX}/cache"),
        file_backup_path: &format!("{SANDBOX}/backup"),
        environment,
        ssl_verify_none: None,
    }
    .render()
}

/// Writes a file only root may read, atomically.
fn write_private(path: &Path, content: &[u8]) -> Result<()> {
    let ownership = Ownership {
        mode: Some(Mode::new(0o600)),
        ..Ownership::default()
    };
    stage_and_rename(path, &staging_path(path), content, ownership, &|_| Ok(()))
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
            chef_server: None,
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
    fn client_rb_names_the_server_the_keys_and_the_environment() {
        let text = client_rb("http://10.201.0.1:8889", "lb", Some("it's"));
        assert!(
            text.contains("chef_server_url 'http://10.201.0.1:8889'\n"),
            "{text}"
        );
        assert!(text.contains("node_name 'lb'\n"), "{text}");
        assert!(
            text.contains("validation_client_name 'chef-validator'\n"),
            "{text}"
        );
        assert!(
            text.contains("validation_key '/tmp/kitchen/validation.pem'\n"),
            "{text}"
        );
        assert!(
            text.contains("client_key '/tmp/kitchen-client.pem'\n"),
            "{text}"
        );
        assert!(text.contains("environment 'it\\'s'\n"), "{text}");
        assert!(!client_rb("http://x:1", "a", None).contains("environment"));
    }

    #[test]
    fn cookbook_dirs_stage_a_project_that_is_a_cookbook() {
        let project = tempfile::tempdir().unwrap();
        let staged = project.path().join(".kitchen/x/server/project-cookbook");
        std::fs::create_dir_all(project.path().join("cookbooks/a")).unwrap();
        assert_eq!(
            cookbook_dirs(project.path(), &staged).unwrap(),
            [project.path().join("cookbooks")]
        );
        std::fs::write(project.path().join("metadata.rb"), "name 'web'\n").unwrap();
        let dirs = cookbook_dirs(project.path(), &staged).unwrap();
        assert_eq!(dirs.last(), Some(&staged));
        assert!(staged.join("web/metadata.rb").is_file());
        assert!(!staged.join("web/.kitchen").exists());
        assert!(!staged.join("web/cookbooks").exists());
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
