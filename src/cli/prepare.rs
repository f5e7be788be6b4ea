//! What `solo` and `check` share: finding the config, building the node, expanding the run list.

use crate::error::{Error, Result};
use crate::node::{expand, Environment, Expansion, Node, RoleSource, RunList};
use crate::repo::specificity::HostFacts;
use crate::repo::{Config, Repository};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The config file to use: the one given, else `./solo.json`, `./solo.rb`, `/etc/chef/solo.rb`.
/// A given file that does not exist is only a warning, as in chef-solo.
pub fn load_config(given: Option<&Path>, warnings: &mut Vec<String>) -> Result<Config> {
    let chosen = choose_config(
        given,
        &["solo.json", "solo.rb", "/etc/chef/solo.rb"],
        warnings,
    );
    with_ignored_keys(Config::load(chosen.as_deref())?, warnings)
}

/// The config for a run against a Chef server: the one given, else `/etc/chef/client.rb`, then
/// `/etc/chef/client.json`.
pub fn load_server_config(given: Option<&Path>, warnings: &mut Vec<String>) -> Result<Config> {
    let defaults = ["/etc/chef/client.rb", "/etc/chef/client.json"];
    let chosen = choose_config(given, &defaults, warnings);
    with_ignored_keys(Config::load_for_server(chosen.as_deref())?, warnings)
}

/// The given config file if it exists (a missing one is a warning), else the first default
/// that does.
fn choose_config(
    given: Option<&Path>,
    defaults: &[&str],
    warnings: &mut Vec<String>,
) -> Option<PathBuf> {
    match given {
        Some(p) if p.is_file() => Some(p.to_path_buf()),
        Some(p) => {
            warnings.push(format!(
                "Did not find config file: {}. Using command line options instead.",
                p.display()
            ));
            None
        }
        None => defaults.iter().map(PathBuf::from).find(|p| p.is_file()),
    }
}

/// The config, after warning about each key it ignored.
fn with_ignored_keys(config: Config, warnings: &mut Vec<String>) -> Result<Config> {
    for (key, at) in &config.ignored_keys {
        warnings.push(format!("{at}: unknown configuration key `{key}` ignored"));
    }
    Ok(config)
}

/// Automatic attributes: Chef's minimal set, or every group (what `check` compiles against).
pub fn automatic_attributes(minimal: bool) -> crate::node::Map {
    let collector = crate::ohai::Collector::new();
    if minimal {
        collector.collect_minimal()
    } else {
        collector.collect_all()
    }
}

/// The node, its environment and the expansion of the run list for this run.
#[derive(Debug)]
pub struct Prepared {
    pub node: Node,
    pub environment: Environment,
    pub expansion: Expansion,
    /// The run list this run converges (the override when `-o` was given).
    pub run_list: RunList,
    /// `-o` was given: the node is not saved.
    pub overridden: bool,
    pub host: HostFacts,
    /// Where the node is saved after a successful run.
    pub node_file: PathBuf,
    /// Cookbooks in load order.
    pub cookbook_order: Vec<String>,
}

/// Options that shape the node.
#[derive(Debug, Default)]
pub struct NodeOptions<'a> {
    pub node_name: Option<&'a str>,
    pub environment: Option<&'a str>,
    pub json_attributes: Option<&'a Path>,
    pub override_runlist: Option<&'a str>,
    /// Legacy mode neither loads nor saves the node.
    pub legacy_mode: bool,
    /// Gather only Chef's minimal automatic attributes (`--minimal-ohai`).
    pub minimal_ohai: bool,
}

/// Where a run finds the saved node, environments and roles: the chef-repo for `solo`, the
/// Chef server for `client`.
pub trait NodeSource {
    /// The node saved by an earlier run, if any.
    fn load_node(&self, name: &str) -> Result<Option<Node>>;
    /// Environment `name`.
    fn environment(&self, name: &str) -> Result<Environment>;
    /// Roles for run-list expansion.
    fn roles(&self) -> &dyn RoleSource;
}

/// The chef-repo as a node source: `node_path/<name>.json` (none in legacy mode).
struct RepoNodes<'a> {
    config: &'a Config,
    repo: &'a Repository,
    legacy_mode: bool,
}

impl NodeSource for RepoNodes<'_> {
    fn load_node(&self, name: &str) -> Result<Option<Node>> {
        if self.legacy_mode {
            return Ok(None);
        }
        Node::load(&self.config.node_path.join(format!("{name}.json")))
    }

    fn environment(&self, name: &str) -> Result<Environment> {
        self.repo.environment(name)
    }

    fn roles(&self) -> &dyn RoleSource {
        self.repo
    }
}

/// The node with its run list expanded, before cookbooks are ordered (a client first
/// downloads the cookbooks the expansion names).
#[derive(Debug)]
pub struct Expanded {
    pub node: Node,
    pub environment: Environment,
    pub expansion: Expansion,
    pub run_list: RunList,
    pub overridden: bool,
    pub host: HostFacts,
    pub node_file: PathBuf,
    automatic: crate::node::Map,
}

/// Builds the node in Chef's order: the saved node, `-E`, then `-j` (whose `chef_environment`
/// wins), then the run list expanded against roles and the environment.
pub fn prepare(config: &Config, repo: &Repository, opts: &NodeOptions<'_>) -> Result<Prepared> {
    let source = RepoNodes {
        config,
        repo,
        legacy_mode: opts.legacy_mode,
    };
    let expanded = expand_node(config, &source, opts)?;
    finish(expanded, config, repo, opts)
}

/// The node's name: `-N`, else `node_name`, else the host's fqdn, machinename or hostname.
pub fn node_name(
    config: &Config,
    given: Option<&str>,
    automatic: &crate::node::Map,
) -> Result<String> {
    let text = |key: &str| automatic.get(key).and_then(Value::as_str).unwrap_or("");
    let name = given
        .map(str::to_string)
        .or_else(|| config.node_name.clone())
        .or_else(|| {
            [text("fqdn"), text("machinename"), text("hostname")]
                .into_iter()
                .find(|s| !s.is_empty())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "localhost".to_string());
    check_node_name(&name)?;
    Ok(name)
}

/// The node loaded from `source` with `-E`, `-j` and the expanded run list applied.
pub fn expand_node(
    config: &Config,
    source: &dyn NodeSource,
    opts: &NodeOptions<'_>,
) -> Result<Expanded> {
    // The minimal set names the node and picks template files; the groups the run's cookbooks
    // read are added once the run list is expanded.
    let automatic = crate::ohai::Collector::new().collect_minimal();
    let text = |key: &str| automatic.get(key).and_then(Value::as_str).unwrap_or("");
    let host = HostFacts {
        fqdn: text("fqdn").to_string(),
        platform: text("platform").to_string(),
        platform_version: text("platform_version").to_string(),
    };
    let name = node_name(config, opts.node_name, &automatic)?;
    let node_file = config.node_path.join(format!("{name}.json"));
    let mut node = source.load_node(&name)?.unwrap_or_else(|| Node::new(&name));
    node.name = name;
    if let Some(env) = opts.environment.or(config.environment.as_deref()) {
        node.chef_environment = env.to_string();
    }
    let json_path = opts
        .json_attributes
        .map(Path::to_path_buf)
        .or_else(|| config.json_attribs.clone());
    if let Some(path) = json_path {
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        node.consume_json_text(&text, &path)?;
    }
    let (run_list, overridden) = match opts.override_runlist {
        Some(items) => (RunList::parse_comma(items)?, true),
        None => (node.run_list.clone(), false),
    };
    let environment = source.environment(&node.chef_environment)?;
    let expansion = expand(&run_list, &node.chef_environment, source.roles())?;
    node.apply_environment(&environment);
    node.apply_expansion(&expansion);
    Ok(Expanded {
        node,
        environment,
        expansion,
        run_list,
        overridden,
        host,
        node_file,
        automatic,
    })
}

/// Orders the expansion's cookbooks from `repo` and gathers the automatic attributes they read.
pub fn finish(
    expanded: Expanded,
    config: &Config,
    repo: &Repository,
    opts: &NodeOptions<'_>,
) -> Result<Prepared> {
    let Expanded {
        mut node,
        environment,
        expansion,
        run_list,
        overridden,
        host,
        node_file,
        automatic,
    } = expanded;
    let cookbook_order = crate::compile::order::cookbook_order(repo, &expansion.recipes)?;
    let automatic = if opts.minimal_ohai || config.minimal_ohai {
        automatic
    } else {
        let roots = cookbook_order
            .iter()
            .filter_map(|name| repo.cookbook(name))
            .map(|cb| cb.root.as_path());
        crate::ohai::Collector::new().collect(&crate::ohai::demand::groups_read_by(roots))
    };
    node.set_automatic(automatic);
    Ok(Prepared {
        node,
        environment,
        expansion,
        run_list,
        overridden,
        host,
        node_file,
        cookbook_order,
    })
}

/// Chef's node name rule (`^[-[:alnum:]_.:]+$`); it also keeps the saved node inside
/// `node_path`.
fn check_node_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if valid {
        Ok(())
    } else {
        Err(Error::input(
            "Chef::Exceptions::ValidationFailed",
            format!("node name `{name}` is not valid: use letters, digits, `-`, `_`, `.` and `:`"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::check_node_name;

    #[test]
    fn node_names_follow_chefs_rule() {
        assert!(check_node_name("web1.example.com").is_ok());
        assert!(check_node_name("db:1_a-b").is_ok());
        for bad in ["", "..", "../../escaped", "a/b", "a b"] {
            assert!(check_node_name(bad).is_err(), "{bad}");
        }
    }
}
