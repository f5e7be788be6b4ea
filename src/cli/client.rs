//! `skillet client` (and `chef-client`): converge this host from a Chef server.
//!
//! Order of a run, as chef-client's: config, run lock, registration (with the validator's key
//! when this client has none), the node from the server (created when new), `-E`, `-j`, run
//! list expansion against the server's roles and environment, cookbook solving and download
//! into `file_cache_path/cookbooks`, then the same compile and converge as `solo`, and the node
//! saved back, after a failed converge too.

use super::prepare::{expand_node, finish, load_server_config, NodeOptions, NodeSource};
use super::solo::{compile_and_converge, early_failure, sinks, warn, RunFrame};
use super::ClientArgs;
use crate::error::{Error, Result};
use crate::node::{Environment, Node, Role, RoleSource};
use crate::platform::fs::{stage_and_rename, staging_path, Mode, Ownership};
use crate::repo::{Config, Repository};
use crate::report::Events;
use crate::server::api::{Api, ServerDataBags, ServerSearch};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Runs `client` and returns the exit code.
pub fn run(args: &ClientArgs) -> i32 {
    let started = Instant::now();
    super::signals::install();
    if args.run.legacy_mode {
        return early_failure(&Error::input(
            "Chef::Exceptions::ConfigurationError",
            "--legacy-mode belongs to chef-solo; a client always reads the Chef server",
        ));
    }
    let mut warnings = Vec::new();
    let config = match load_server_config(args.run.config.as_deref(), &mut warnings) {
        Ok(c) => c,
        Err(e) => return early_failure(&e),
    };
    let mut events = match sinks(&args.run, &config) {
        Ok(e) => e,
        Err(e) => return early_failure(&e),
    };
    let why_run = args.run.why_run || config.why_run;
    let run = RunFrame {
        args: &args.run,
        config: &config,
        why_run,
        warnings: &warnings,
        started,
    };
    run.report(events.as_mut(), |events| {
        client_run(args, &config, why_run, events)
    })
}

/// The client run itself, under the lock: registration, node, cookbooks, compile, converge,
/// node save.
fn client_run(
    args: &ClientArgs,
    config: &Config,
    why_run: bool,
    events: &mut dyn Events,
) -> Result<()> {
    let (api, mut prepared, repo) =
        sync_and_prepare(args, config).inspect_err(|e| events.compile_failed(e))?;
    let log_level = args
        .run
        .log_level
        .as_deref()
        .or(config.log_level.as_deref());
    let result = compile_and_converge(&repo, &mut prepared, config, why_run, log_level, events);
    // chef-client saves the node after a failed run too, so the server sees what was tried.
    if prepared.overridden {
        warn("Skipping final node save because override_runlist was given");
        return result;
    }
    let saved = api.save_node(&prepared.node.name, &prepared.node.to_json());
    result.and(saved)
}

/// Everything before compiling: registration, the node, expansion, the cookbook cache.
fn sync_and_prepare(
    args: &ClientArgs,
    config: &Config,
) -> Result<(Arc<Api>, super::prepare::Prepared, Repository)> {
    let url = crate::server::server_url(args.server_url.as_deref(), &config.server)?;
    let automatic = crate::ohai::Collector::new().collect_minimal();
    let name = super::prepare::node_name(config, args.run.node_name.as_deref(), &automatic)?;
    let client_key = args
        .client_key
        .clone()
        .or_else(|| config.server.client_key.clone())
        .unwrap_or_else(|| PathBuf::from("/etc/chef/client.pem"));
    if !client_key.exists() {
        register(args, config, &url, &name, &client_key)?;
    }
    let api = Arc::new(crate::server::connect(
        &url,
        &name,
        &client_key,
        &config.server,
    )?);
    let source = ServerNodes { api: &api };
    let opts = NodeOptions {
        node_name: Some(&name),
        environment: args.run.environment.as_deref(),
        json_attributes: args.run.json_attributes.as_deref(),
        override_runlist: args.run.override_runlist.as_deref(),
        legacy_mode: false,
        minimal_ohai: args.run.minimal_ohai,
    };
    let expanded = expand_node(config, &source, &opts)?;
    let run_list: Vec<String> = expanded
        .expansion
        .recipes
        .iter()
        .map(|r| r.fully_qualified())
        .collect();
    let manifests = api.solve(&expanded.node.chef_environment, &run_list)?;
    let cache = config.file_cache_path.join("cookbooks");
    crate::server::sync::synchronize(&api, &manifests, &cache)?;

    let mut local = config.clone();
    local.cookbook_path = vec![cache];
    let mut repo = Repository::open(&local)?;
    repo.data_bags = Arc::new(ServerDataBags(api.clone()));
    repo.search = Some(Arc::new(ServerSearch(api.clone())));
    let prepared = finish(expanded, &local, &repo, &opts)?;
    Ok((api, prepared, repo))
}

/// Creates this client on the server, signed as the validator, and writes its key (0600).
fn register(args: &ClientArgs, config: &Config, url: &str, name: &str, key: &Path) -> Result<()> {
    let validation_key = args
        .validation_key
        .clone()
        .or_else(|| config.server.validation_key.clone())
        .unwrap_or_else(|| PathBuf::from("/etc/chef/validation.pem"));
    if !validation_key.exists() {
        return Err(Error::input(
            "Chef::Exceptions::PrivateKeyMissing",
            format!(
                "no client key at {} and no validation key at {} to register with: give -k or -K",
                key.display(),
                validation_key.display()
            ),
        ));
    }
    let validator = config
        .server
        .validation_client_name
        .clone()
        .unwrap_or_else(|| "chef-validator".to_string());
    let api = crate::server::connect(url, &validator, &validation_key, &config.server)?;
    let pem = api.create_client(name)?;
    if let Some(dir) = key.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let ownership = Ownership {
        mode: Some(Mode::new(0o600)),
        ..Ownership::default()
    };
    stage_and_rename(key, &staging_path(key), pem.as_bytes(), ownership, &|_| {
        Ok(())
    })
}

/// The Chef server as a node source; a node the server does not know is created there first,
/// as chef-client does.
struct ServerNodes<'a> {
    api: &'a Api,
}

impl NodeSource for ServerNodes<'_> {
    fn load_node(&self, name: &str) -> Result<Option<Node>> {
        let url = self.api.http.url(&format!("/nodes/{name}"));
        match self.api.node(name)? {
            Some(value) => {
                Node::from_saved_json(&value.to_string(), Path::new(&url), name).map(Some)
            }
            None => {
                let fresh = Node::new(name);
                self.api
                    .http
                    .json("POST", "/nodes", Some(&fresh.to_json()))?;
                Ok(None)
            }
        }
    }

    fn environment(&self, name: &str) -> Result<Environment> {
        if name == "_default" {
            return Ok(Environment::default_env());
        }
        self.api.environment(name)
    }

    fn roles(&self) -> &dyn RoleSource {
        self
    }
}

impl RoleSource for ServerNodes<'_> {
    fn role(&self, name: &str) -> Result<Option<Role>> {
        self.api.role(name)
    }
}
