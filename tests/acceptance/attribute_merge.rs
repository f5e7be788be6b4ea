//! Runner for the `attribute_merge` acceptance group.
//!
//! Each case is played through the library the way a local-mode run builds its node: the saved
//! node file (persisted normal attributes) is loaded, `-E` applied, the `-j` file consumed, the
//! run list expanded against role files, environment and expansion applied, Ohai data set, then
//! the attribute-file and recipe writes run in order and the merged view is read.

use super::Outcome;
use serde_json::{json, Value};
use skillet::node::{expand, Environment, Level, Node, Role, RunList, DEFAULT_ENVIRONMENT};
use skillet::Error;
use std::collections::HashMap;
use std::path::Path;

pub fn run_case(case: &Value) -> Outcome {
    let input = &case["input"];
    let expected = &case["expected"];
    let Ok(repo) = tempfile::tempdir() else {
        return Outcome::Fail("cannot create a temp dir".into());
    };
    match build_node(input, repo.path()) {
        Ok(node) => compare_node(&node, input, expected),
        Err(err) => compare_error(&err, expected),
    }
}

fn build_node(input: &Value, repo: &Path) -> Result<Node, Error> {
    let mut node = load_persisted(input, repo)?;
    if let Some(env) = input["cli_environment"].as_str() {
        node.chef_environment = env.to_string();
    }
    if let Some(json) = input.get("node_json") {
        let path = write_file(repo, "node.json", json)?;
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let parsed: Value =
            serde_json::from_str(&text).map_err(|e| Error::io(&path, std::io::Error::other(e)))?;
        node.consume_json(&parsed, &path)?;
    }
    let run_list = match input.get("run_list") {
        Some(list) => RunList::from_strings(&strings(list))?,
        None => node.run_list.clone(),
    };
    let roles = load_roles(input, repo)?;
    let expansion = expand(&run_list, &node.chef_environment, &roles)?;
    let environment = load_environment(input, repo, &node.chef_environment)?;
    node.apply_environment(&environment);
    node.apply_expansion(&expansion);
    let ohai = input["automatic"].as_object().cloned().unwrap_or_default();
    node.set_automatic(ohai);
    for write in input["writes"].as_array().into_iter().flatten() {
        apply_write(&mut node, write)?;
    }
    Ok(node)
}

/// The node file a previous run saved, holding the persisted normal attributes.
fn load_persisted(input: &Value, repo: &Path) -> Result<Node, Error> {
    let path = repo.join("nodes/test-node.json");
    if let Some(normal) = input.get("persisted_normal") {
        let mut saved = Node::new("test-node");
        *saved.attributes.component_mut(Level::Normal) =
            normal.as_object().cloned().unwrap_or_default();
        saved.save(&path)?;
    }
    Ok(Node::load(&path)?.unwrap_or_else(|| Node::new("test-node")))
}

fn load_roles(input: &Value, repo: &Path) -> Result<HashMap<String, Role>, Error> {
    let mut roles = HashMap::new();
    for (name, body) in input["roles"].as_object().into_iter().flatten() {
        let path = write_file(repo, &format!("roles/{name}.json"), body)?;
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        roles.insert(name.clone(), Role::from_json(&text, &path)?);
    }
    Ok(roles)
}

fn load_environment(input: &Value, repo: &Path, name: &str) -> Result<Environment, Error> {
    if name == DEFAULT_ENVIRONMENT {
        return Ok(Environment::default_env());
    }
    let Some(body) = input["environments"].get(name) else {
        return Err(Error::input(
            "Chef::Exceptions::EnvironmentNotFound",
            format!("environment {name} not found"),
        ));
    };
    let path = write_file(repo, &format!("environments/{name}.json"), body)?;
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    Environment::from_json(&text, &path)
}

/// One `{level, op, path, value}` write, named as in Chef (`set`, `default!`, `rm_default`, …).
fn apply_write(node: &mut Node, write: &Value) -> Result<(), Error> {
    let op = write["op"].as_str().unwrap_or("set");
    let path = strings(&write["path"]);
    let value = write.get("value").cloned().unwrap_or(Value::Null);
    let level_named = |name: &str| {
        Level::parse(name).ok_or_else(|| Error::input("ArgumentError", format!("no level {name}")))
    };
    let attrs = &mut node.attributes;
    let failed = |message: String| Error::input("Chef::Exceptions::AttributeError", message);
    match op {
        "set" => {
            let level = level_named(write["level"].as_str().unwrap_or("default"))?;
            attrs.set(level, &path, value).map_err(failed)
        }
        "rm" | "rm_default" | "rm_normal" | "rm_override" => {
            let _previous = match op {
                "rm_default" => attrs.rm_default(&path),
                "rm_normal" => attrs.rm_normal(&path),
                "rm_override" => attrs.rm_override(&path),
                _ => attrs.rm(&path),
            };
            Ok(())
        }
        _ if op.ends_with("_unless") => {
            let level = level_named(op.trim_end_matches("_unless"))?;
            attrs
                .set_unless(level, &path, value)
                .map(drop)
                .map_err(failed)
        }
        _ if op.starts_with("force_") && op.ends_with('!') => {
            let level = level_named(op.trim_end_matches('!'))?;
            attrs.force_replace(level, &path, value).map_err(failed)
        }
        _ if op.ends_with('!') => {
            let level = level_named(op.trim_end_matches('!'))?;
            attrs.replace(level, &path, value).map_err(failed)
        }
        other => Err(Error::input(
            "NoMethodError",
            format!("unknown write op {other}"),
        )),
    }
}

fn compare_node(node: &Node, input: &Value, expected: &Value) -> Outcome {
    if let Some(class) = expected.get("error") {
        return Outcome::Fail(format!("expected error {class}, but the node built"));
    }
    let mut problems = Vec::new();
    let values = expected["values"].as_object().cloned().unwrap_or_default();
    let mut checked = Vec::new();
    for path in input["read"].as_array().into_iter().flatten() {
        let path = strings(path);
        let key = path.join(".");
        let want = values.get(&key).cloned().unwrap_or(Value::Null);
        let got = node.attributes.read(&path).unwrap_or(Value::Null);
        if got != want {
            problems.push(format!("{key}: expected {want}, got {got}"));
        }
        checked.push(key);
    }
    for key in values.keys().filter(|k| !checked.contains(k)) {
        problems.push(format!("{key}: expected but not in the case's read list"));
    }
    if let Some(env) = expected["chef_environment"].as_str() {
        if node.chef_environment != env {
            problems.push(format!(
                "chef_environment: expected {env}, got {}",
                node.chef_environment
            ));
        }
    }
    if let Some(list) = expected.get("run_list") {
        match RunList::from_strings(&strings(list)) {
            Ok(want) if want == node.run_list => {}
            _ => problems.push(format!(
                "run_list: expected {list}, got {}",
                json!(node.run_list.to_strings())
            )),
        }
    }
    if problems.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Fail(problems.join("; "))
    }
}

fn compare_error(err: &Error, expected: &Value) -> Outcome {
    match expected["error"].as_str() {
        Some(class) if class == err.class() => Outcome::Pass,
        Some(class) => Outcome::Fail(format!("expected {class}, got {}: {err}", err.class())),
        None => Outcome::Fail(format!("unexpected error {}: {err}", err.class())),
    }
}

fn write_file(repo: &Path, relative: &str, body: &Value) -> Result<std::path::PathBuf, Error> {
    let path = repo.join(relative);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    std::fs::write(&path, body.to_string()).map_err(|e| Error::io(&path, e))?;
    Ok(path)
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
        .collect()
}
