//! What travels to a target in solo mode: the running binary, the part of the chef-repo the
//! run list needs, the target's config and first-boot JSON, as one tar stream.
//!
//! The repo subset is found the way a run finds it: the run list (`-r`, else the `-j` file's)
//! is expanded against the local roles and environment, and the cookbooks are the dependency
//! closure of the expanded recipes. Roles used, the environment and every data bag go too (a
//! recipe may read any bag). Everything is read and checked here, before any connection, so a
//! bad repo never half-installs a host.

use super::server;
use crate::error::{Error, Result};
use crate::node::{expand, Node, RunList};
use crate::repo::Repository;
use serde_json::{json, Map, Value};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where skillet lives on the target, and the files the install writes.
#[derive(Debug, Clone)]
pub struct Layout {
    /// `--install-dir` (default `/opt/skillet`): `bin/skillet`, `repo` (a link into `repos/`),
    /// the node, cache and backups.
    pub install_dir: String,
    /// Server mode: the target runs `skillet client` with `client.rb`.
    pub server: bool,
}

/// Where the target's config and first-boot JSON go.
pub const CONFIG_DIR: &str = "/etc/skillet";
/// The cron.d file `--daemonize-interval` writes.
pub const CRON_FILE: &str = "/etc/cron.d/skillet";

impl Layout {
    /// The installed binary.
    pub fn binary(&self) -> String {
        format!("{}/bin/skillet", self.install_dir)
    }

    /// The installed config: `solo.json`, or `client.rb` in server mode.
    pub fn config(&self) -> String {
        if self.server {
            format!("{CONFIG_DIR}/client.rb")
        } else {
            format!("{CONFIG_DIR}/solo.json")
        }
    }

    /// The command the installed config is run with: `solo`, or `client`.
    pub fn command(&self) -> &'static str {
        if self.server {
            "client"
        } else {
            "solo"
        }
    }

    /// The installed first-boot JSON.
    pub fn first_boot(&self) -> String {
        format!("{CONFIG_DIR}/first-boot.json")
    }
}

/// What the user asked to run on the targets.
#[derive(Debug, Default)]
pub struct BundleRequest<'a> {
    /// The local chef-repo's config (default `./solo.json`, then `./solo.rb`).
    pub solo_config: Option<&'a Path>,
    /// `-r`: the run list, comma-separated.
    pub run_list: Option<&'a str>,
    /// `-E`.
    pub environment: Option<&'a str>,
    /// `-j`: extra first-boot attributes.
    pub json_attributes: Option<&'a Path>,
    /// `-N`.
    pub node_name: Option<&'a str>,
    /// `--daemonize-interval`, in minutes.
    pub daemonize_interval: Option<u32>,
    /// Server mode (`-S`): no repo travels, only the client's config and the validator's key.
    pub server: Option<server::ServerRequest<'a>>,
}

/// Everything that goes to every target, read and checked.
#[derive(Debug)]
pub struct Bundle {
    /// Local directories and files, with their path in the archive.
    entries: Vec<(PathBuf, String)>,
    first_boot: Value,
    node_name: Option<String>,
    environment: Option<String>,
    cron_minutes: Option<u32>,
    /// Cookbooks shipped, in load order.
    pub cookbooks: Vec<String>,
    /// Roles shipped.
    pub roles: Vec<String>,
    /// Bytes of the repo files shipped (for the free-space check).
    pub repo_bytes: u64,
    /// Server mode's `client.rb` and validator key.
    server: Option<server::ClientFiles>,
}

impl Bundle {
    /// Reads the local repo and computes what the run list needs; in server mode (`-S`)
    /// reads only the first-boot JSON and the validator's key.
    pub fn prepare(request: &BundleRequest<'_>) -> Result<Bundle> {
        if let Some(minutes) = request.daemonize_interval {
            cron_schedule(minutes)?;
        }
        if let Some(server) = &request.server {
            let (first_boot, _, environment) = first_boot(request, None)?;
            let files = server::ClientFiles::prepare(server, request.node_name)?;
            return Ok(Bundle {
                repo_bytes: files.bytes(),
                entries: Vec::new(),
                first_boot: Value::Object(first_boot),
                node_name: request.node_name.map(str::to_string),
                environment,
                cron_minutes: request.daemonize_interval,
                cookbooks: Vec::new(),
                roles: Vec::new(),
                server: Some(files),
            });
        }
        let mut warnings = Vec::new();
        let config = crate::cli::load_solo_config(request.solo_config, &mut warnings)?;
        for warning in warnings {
            eprintln!("WARN: {warning}");
        }
        let repo = Repository::open(&config)?;
        let (first_boot, run_list, environment) =
            first_boot(request, config.environment.as_deref())?;
        let env_name = environment.as_deref().unwrap_or("_default");
        // Loading the environment checks it exists and parses before anything travels.
        repo.environment(env_name)?;
        let expansion = expand(&run_list, env_name, &repo)?;
        let cookbooks = crate::compile::order::cookbook_order(&repo, &expansion.recipes)?;
        let mut entries = Vec::new();
        for name in &cookbooks {
            let Some(cookbook) = repo.cookbook(name) else {
                continue;
            };
            if name.contains('/') || name.starts_with('.') {
                return Err(Error::input(
                    "Chef::Exceptions::InvalidCookbookName",
                    format!("cookbook name `{name}` cannot be a directory name"),
                ));
            }
            entries.push((cookbook.root.clone(), format!("repo/cookbooks/{name}")));
        }
        for role in &expansion.roles {
            if let Some(path) = repo.role_file(role)? {
                let archive = named_entry("roles", role, &path)?;
                entries.push((path, archive));
            }
        }
        if env_name != "_default" {
            if let Some(path) = repo.environment_file(env_name)? {
                let archive = named_entry("environments", env_name, &path)?;
                entries.push((path, archive));
            }
        }
        if config.data_bag_path.is_dir() {
            entries.push((config.data_bag_path.clone(), "repo/data_bags".into()));
        }
        let repo_bytes = entries.iter().map(|(path, _)| bytes_below(path, 0)).sum();
        Ok(Bundle {
            repo_bytes,
            entries,
            first_boot: Value::Object(first_boot),
            node_name: request.node_name.map(str::to_string),
            environment,
            cron_minutes: request.daemonize_interval,
            cookbooks,
            roles: expansion.roles,
            server: None,
        })
    }

    /// Whether this bundle bootstraps a client of a Chef server (`-S`).
    pub fn is_server_mode(&self) -> bool {
        self.server.is_some()
    }

    /// The target's `solo.json`: the installed repo, the node and cache under the install
    /// dir, the first-boot JSON as `json_attribs`.
    pub fn solo_json(&self, layout: &Layout) -> Value {
        let dir = &layout.install_dir;
        self.config_with(
            &format!("{dir}/repo"),
            &format!("{dir}/cache"),
            &layout.first_boot(),
            dir,
        )
    }

    /// The config for a why-run from the upload directory: the uploaded repo and first-boot
    /// JSON (paths relative to the config, which sits beside them), the installed node read
    /// but never saved, a cache inside the upload directory.
    pub fn why_run_json(&self, layout: &Layout) -> Value {
        self.config_with("repo", "cache", "first-boot.json", &layout.install_dir)
    }

    fn config_with(&self, repo: &str, cache: &str, first_boot: &str, install_dir: &str) -> Value {
        let mut config = json!({
            "cookbook_path": [format!("{repo}/cookbooks")],
            "role_path": format!("{repo}/roles"),
            "environment_path": format!("{repo}/environments"),
            "data_bag_path": format!("{repo}/data_bags"),
            "node_path": format!("{install_dir}/nodes"),
            "file_cache_path": cache,
            "file_backup_path": format!("{install_dir}/backup"),
            "json_attribs": first_boot,
        });
        if let Value::Object(map) = &mut config {
            if let Some(name) = &self.node_name {
                map.insert("node_name".into(), json!(name));
            }
            if let Some(env) = &self.environment {
                map.insert("environment".into(), json!(env));
            }
        }
        config
    }

    /// The cron.d entry `--daemonize-interval` asks for.
    pub fn cron_entry(&self, layout: &Layout) -> Option<String> {
        let schedule = cron_schedule(self.cron_minutes?).ok()?;
        Some(format!(
            "# Written by skillet bootstrap: converge every {} minutes.\n\
             PATH=/usr/sbin:/usr/bin:/sbin:/bin\n\
             {schedule} root {} {} -c {} --no-color -L /var/log/skillet.log\n",
            self.cron_minutes?,
            layout.binary(),
            layout.command(),
            layout.config()
        ))
    }

    /// Writes the tar stream: `skillet` (the running binary, unless `None`: the target has
    /// it), `repo/`, `solo.json`, `why-run.json`, `first-boot.json` and, when asked, `cron`.
    pub fn write_tar(
        &self,
        binary: Option<&Path>,
        layout: &Layout,
        out: &mut dyn Write,
    ) -> Result<()> {
        let mut tar = tar::Builder::new(out);
        tar.mode(tar::HeaderMode::Deterministic);
        fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
            move |e| Error::io(path, e)
        }
        if let Some(binary) = binary {
            tar.append_path_with_name(binary, "skillet")
                .map_err(io(binary))?;
        }
        for (local, archive) in &self.entries {
            if local.is_dir() {
                append_tree(&mut tar, local, archive, 0)?;
            } else {
                tar.append_path_with_name(local, archive)
                    .map_err(io(local))?;
            }
        }
        let mut documents = match &self.server {
            Some(files) => {
                let key = files.validation_key();
                let mut header = tar::Header::new_gnu();
                header.set_size(key.len() as u64);
                header.set_mode(0o600);
                header.set_cksum();
                tar.append_data(&mut header, server::VALIDATION_KEY, key)
                    .map_err(io(Path::new(server::VALIDATION_KEY)))?;
                vec![
                    (
                        "client.rb",
                        files.client_rb(layout, self.environment.as_deref()),
                    ),
                    ("why-run.rb", files.why_run_rb(self.environment.as_deref())),
                ]
            }
            None => vec![
                ("solo.json", pretty(&self.solo_json(layout))),
                ("why-run.json", pretty(&self.why_run_json(layout))),
            ],
        };
        documents.push(("first-boot.json", pretty(&self.first_boot)));
        if let Some(cron) = self.cron_entry(layout) {
            documents.push(("cron", cron));
        }
        for (name, text) in documents {
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, name, text.as_bytes())
                .map_err(io(Path::new(name)))?;
        }
        tar.finish().map_err(io(Path::new("tar stream")))?;
        Ok(())
    }
}

/// The first-boot JSON (the `-j` file with the run list from `-r`, else its own), the run
/// list, and the environment (`-E`, else the `-j` file's, else `configured`). The `-j` file
/// is read as the target's run will read it, so its mistakes are reported here with their
/// line and column.
fn first_boot(
    request: &BundleRequest<'_>,
    configured: Option<&str>,
) -> Result<(Map<String, Value>, RunList, Option<String>)> {
    let mut from_json = Node::new("bootstrap");
    let mut first_boot = Map::new();
    if let Some(path) = request.json_attributes {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        from_json.consume_json_text(&text, path)?;
        if let Value::Object(map) = crate::repo::yaml::from_json::<Value>(&text, path)? {
            first_boot = map;
        }
    }
    let run_list = match request.run_list {
        Some(items) => RunList::parse_comma(items)?,
        None => from_json.run_list.clone(),
    };
    first_boot.shift_remove("recipes");
    first_boot.insert("run_list".into(), json!(run_list.to_strings()));
    let environment = request
        .environment
        .map(str::to_string)
        .or_else(|| {
            first_boot
                .contains_key("chef_environment")
                .then(|| from_json.chef_environment.clone())
        })
        .or_else(|| configured.map(str::to_string));
    Ok((first_boot, run_list, environment))
}

/// Directories never shipped: version control and kitchen state.
const SKIPPED: &[&str] = &[".git", ".kitchen", ".svn", ".hg"];

fn append_tree(
    tar: &mut tar::Builder<&mut dyn Write>,
    dir: &Path,
    archive: &str,
    depth: usize,
) -> Result<()> {
    if depth > 32 {
        return Err(Error::input(
            "Chef::Exceptions::FileNotFound",
            format!("{}: directories nested too deep", dir.display()),
        ));
    }
    tar.append_dir(archive, dir)
        .map_err(|e| Error::io(dir, e))?;
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        if SKIPPED.contains(&name.as_str()) {
            continue;
        }
        let inner = format!("{archive}/{name}");
        if path.is_dir() {
            append_tree(tar, &path, &inner, depth + 1)?;
        } else if path.is_file() {
            tar.append_path_with_name(&path, &inner)
                .map_err(|e| Error::io(&path, e))?;
        }
    }
    Ok(())
}

fn bytes_below(path: &Path, depth: usize) -> u64 {
    let Ok(meta) = std::fs::metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    if depth > 32 {
        return 0;
    }
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| bytes_below(&e.path(), depth + 1))
                .sum()
        })
        .unwrap_or(0)
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    text.push('\n');
    text
}

/// `repo/<dir>/<name>.<ext>`: a role or environment keeps its file's kind (`web.rb` stays
/// Ruby) but is found by its name, wherever it sat below the local path.
fn named_entry(dir: &str, name: &str, local: &Path) -> Result<String> {
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return Err(Error::input(
            "Chef::Exceptions::InvalidName",
            format!("`{name}` in {dir} cannot be a file name"),
        ));
    }
    let ext = local
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_else(|| "json".into());
    Ok(format!("repo/{dir}/{name}.{ext}"))
}

/// A cron schedule for "every `minutes` minutes": 1–59 as `*/N` minutes, whole hours up to a
/// day as `0 */H`.
pub fn cron_schedule(minutes: u32) -> Result<String> {
    match minutes {
        1..=59 => Ok(format!("*/{minutes} * * * *")),
        m if m % 60 == 0 && (60..=1440).contains(&m) => {
            let hours = m / 60;
            if hours == 24 {
                Ok("0 0 * * *".into())
            } else {
                Ok(format!("0 */{hours} * * *"))
            }
        }
        _ => Err(Error::input(
            "Chef::Exceptions::ConfigurationError",
            format!(
                "--daemonize-interval {minutes}: expected minutes from 1 to 59, or whole hours \
                 (60, 120, ... 1440)"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_become_cron_schedules() {
        assert_eq!(cron_schedule(15).unwrap(), "*/15 * * * *");
        assert_eq!(cron_schedule(120).unwrap(), "0 */2 * * *");
        assert_eq!(cron_schedule(1440).unwrap(), "0 0 * * *");
        assert!(cron_schedule(0).is_err());
        assert!(cron_schedule(90).is_err());
    }

    fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn the_bundle_holds_the_dependency_closure_and_the_roles_used() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(d, "solo.json", r#"{"cookbook_path": ["cookbooks"]}"#);
        write(
            d,
            "cookbooks/web/metadata.json",
            r#"{"name": "web", "version": "1.0.0", "dependencies": {"base": ">= 0.0.0"}}"#,
        );
        write(d, "cookbooks/web/recipes/default.yml", "resources: []\n");
        write(
            d,
            "cookbooks/base/metadata.json",
            r#"{"name": "base", "version": "1.0.0"}"#,
        );
        write(
            d,
            "cookbooks/unused/metadata.json",
            r#"{"name": "unused", "version": "1.0.0"}"#,
        );
        write(
            d,
            "roles/web.json",
            r#"{"name": "web", "run_list": ["recipe[web]"]}"#,
        );
        write(
            d,
            "roles/other.json",
            r#"{"name": "other", "run_list": []}"#,
        );
        write(d, "data_bags/users/alice.json", r#"{"id": "alice"}"#);
        let config = d.join("solo.json");
        let bundle = Bundle::prepare(&BundleRequest {
            solo_config: Some(&config),
            run_list: Some("role[web]"),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(bundle.cookbooks, vec!["base", "web"]);
        assert_eq!(bundle.roles, vec!["web"]);
        let archived: Vec<&str> = bundle.entries.iter().map(|(_, a)| a.as_str()).collect();
        assert_eq!(
            archived,
            vec![
                "repo/cookbooks/base",
                "repo/cookbooks/web",
                "repo/roles/web.json",
                "repo/data_bags"
            ]
        );
        assert_eq!(bundle.first_boot["run_list"], json!(["role[web]"]));
        let mut stream = Vec::new();
        let binary = d.join("solo.json");
        let layout = Layout {
            install_dir: "/opt/skillet".into(),
            server: false,
        };
        bundle
            .write_tar(Some(&binary), &layout, &mut stream)
            .unwrap();
        let mut archive = tar::Archive::new(stream.as_slice());
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert!(names.contains(&"repo/cookbooks/web/recipes/default.yml".to_string()));
        assert!(!names
            .iter()
            .any(|n| n.contains("unused") || n.contains("other")));
        assert!(names.contains(&"first-boot.json".to_string()));
    }

    #[test]
    fn the_target_config_points_into_the_install_dir_and_the_why_run_one_beside_the_upload() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "solo.json", "{}");
        write(dir.path(), "environments/prod.json", r#"{"name": "prod"}"#);
        let config = dir.path().join("solo.json");
        let bundle = Bundle::prepare(&BundleRequest {
            solo_config: Some(&config),
            environment: Some("prod"),
            node_name: Some("web-1"),
            daemonize_interval: Some(15),
            ..Default::default()
        })
        .unwrap();
        let layout = Layout {
            install_dir: "/srv/sk".into(),
            server: false,
        };
        let solo = bundle.solo_json(&layout);
        assert_eq!(solo["cookbook_path"], json!(["/srv/sk/repo/cookbooks"]));
        assert_eq!(solo["node_path"], "/srv/sk/nodes");
        assert_eq!(solo["json_attribs"], "/etc/skillet/first-boot.json");
        assert_eq!(solo["node_name"], "web-1");
        assert_eq!(solo["environment"], "prod");
        let why = bundle.why_run_json(&layout);
        assert_eq!(why["cookbook_path"], json!(["repo/cookbooks"]));
        assert_eq!(why["file_cache_path"], "cache");
        assert_eq!(why["node_path"], "/srv/sk/nodes");
        let cron = bundle.cron_entry(&layout).unwrap();
        assert!(
            cron.contains("*/15 * * * * root /srv/sk/bin/skillet solo -c /etc/skillet/solo.json"),
            "{cron}"
        );
        let archived: Vec<&str> = bundle.entries.iter().map(|(_, a)| a.as_str()).collect();
        assert_eq!(archived, vec!["repo/environments/prod.json"]);
    }

    #[test]
    fn a_bad_json_attributes_file_is_reported_at_its_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "solo.json", "{}");
        write(dir.path(), "extra.json", "{\n  \"run_list\": 3\n}\n");
        let config = dir.path().join("solo.json");
        let extra = dir.path().join("extra.json");
        let err = Bundle::prepare(&BundleRequest {
            solo_config: Some(&config),
            json_attributes: Some(&extra),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("extra.json:2:15"), "{err}");
    }

    #[test]
    fn a_missing_role_stops_before_anything_travels() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "solo.json", "{}");
        let config = dir.path().join("solo.json");
        let err = Bundle::prepare(&BundleRequest {
            solo_config: Some(&config),
            run_list: Some("role[nope]"),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("nope"), "{err}");
    }
}
