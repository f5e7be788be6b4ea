//! chef-solo's local mode: the documents of each index, read from the repository as
//! chef-zero serves them. Nodes are the saved `node_path/<name>.json` files (a node appears
//! once a run has saved it), roles and environments come from their paths (`.json` or `.rb`;
//! `_default` always exists), any other index is a data bag.

use super::{item_document, node_document, Document};
use crate::error::{Error, Result};
use crate::node::{Environment, Role, RoleSource};
use crate::repo::Repository;
use serde_json::{json, Value};

/// The documents of `index` (`node`, `role`, `environment`, `client` or a data bag's name).
pub fn documents(repo: &Repository, index: &str) -> Result<Vec<Document>> {
    match index {
        "node" => nodes(repo),
        "role" => {
            let mut out = Vec::new();
            for name in repo.role_names()? {
                if let Some(role) = repo.role(&name)? {
                    let value = role_json(&role);
                    out.push(item_document(&name, value));
                }
            }
            Ok(out)
        }
        "environment" => {
            let mut names = repo.environment_names()?;
            if !names.iter().any(|n| n == "_default") {
                names.push("_default".to_string());
            }
            names
                .iter()
                .map(|name| {
                    let env = repo.environment(name)?;
                    Ok(item_document(name, environment_json(&env)))
                })
                .collect()
        }
        // Local mode registers no API clients.
        "client" => Ok(Vec::new()),
        bag => {
            if !repo.data_bags.bags()?.iter().any(|b| b == bag) {
                return Err(Error::input(
                    "Net::HTTPClientException",
                    format!(
                        "404 \"Object Not Found\": no index `{bag}`: it is not node, role, environment or client, and there is no data bag `{bag}`"
                    ),
                ));
            }
            repo.data_bags
                .items(bag)?
                .into_iter()
                .map(|id| Ok(item_document(&id, repo.data_bags.item(bag, &id)?)))
                .collect()
        }
    }
}

/// Every saved node in `node_path`.
fn nodes(repo: &Repository) -> Result<Vec<Document>> {
    let dir = &repo.node_path;
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json") && p.is_file())
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let node: Value = crate::repo::yaml::from_json(&text, &path)?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = node
            .get("name")
            .and_then(Value::as_str)
            .map_or(stem, str::to_string);
        out.push(node_document(&name, &node));
    }
    Ok(out)
}

/// A role as Chef's API returns it.
fn role_json(role: &Role) -> Value {
    let run_list: Vec<String> = role
        .run_list
        .items()
        .iter()
        .map(|i| i.to_string())
        .collect();
    let env_run_lists: serde_json::Map<String, Value> = role
        .env_run_lists
        .iter()
        .map(|(env, list)| {
            let items: Vec<String> = list.items().iter().map(|i| i.to_string()).collect();
            (env.clone(), json!(items))
        })
        .collect();
    json!({
        "name": role.name,
        "description": role.description,
        "json_class": "Chef::Role",
        "chef_type": "role",
        "default_attributes": role.default_attributes,
        "override_attributes": role.override_attributes,
        "run_list": run_list,
        "env_run_lists": env_run_lists,
    })
}

/// An environment as Chef's API returns it.
fn environment_json(env: &Environment) -> Value {
    json!({
        "name": env.name,
        "description": env.description,
        "json_class": "Chef::Environment",
        "chef_type": "environment",
        "cookbook_versions": env.cookbook_versions,
        "default_attributes": env.default_attributes,
        "override_attributes": env.override_attributes,
    })
}
