//! Runner for the `run_list_expansion` acceptance group.
//!
//! Expansion cases parse the run list, write each role to `roles/<name>.json` in a temp repo and
//! expand against those files. Compile cases (with `cookbooks`) need the cookbook compiler.

use super::Outcome;
use serde_json::{json, Value};
use skillet::node::{expand, Expansion, RecipeEntry, Role, RoleSource, RunList};
use skillet::Error;
use std::path::{Path, PathBuf};

pub fn run_case(case: &Value) -> Outcome {
    let input = &case["input"];
    if input.get("cookbooks").is_some() {
        return Outcome::Skip("compile case: needs the cookbook compiler".into());
    }
    let Ok(repo) = tempfile::tempdir() else {
        return Outcome::Fail("cannot create a temp dir".into());
    };
    match run_expansion(input, repo.path()) {
        Ok(expansion) => compare_expansion(&expansion, &case["expected"]),
        Err(err) => compare_error(&err, &case["expected"]),
    }
}

/// Roles read from `<dir>/<name>.json` when expansion asks for them.
struct RoleDir(PathBuf);

impl RoleSource for RoleDir {
    fn role(&self, name: &str) -> skillet::Result<Option<Role>> {
        let path = self.0.join(format!("{name}.json"));
        match std::fs::read_to_string(&path) {
            Ok(text) => Role::from_json(&text, &path).map(Some),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(Error::io(&path, err)),
        }
    }
}

fn run_expansion(input: &Value, repo: &Path) -> Result<Expansion, Error> {
    let dir = repo.join("roles");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    for (name, body) in input["roles"].as_object().into_iter().flatten() {
        let path = dir.join(format!("{name}.json"));
        std::fs::write(&path, body.to_string()).map_err(|e| Error::io(&path, e))?;
    }
    let run_list = RunList::from_strings(&strings(&input["run_list"]))?;
    let environment = input["environment"].as_str().unwrap_or("_default");
    expand(run_list.items(), environment, &RoleDir(dir))
}

fn compare_expansion(expansion: &Expansion, expected: &Value) -> Outcome {
    if let Some(class) = expected.get("error") {
        return Outcome::Fail(format!("expected error {class}, but expansion succeeded"));
    }
    let recipes: Vec<String> = expansion.recipes.iter().map(|r| r.name.clone()).collect();
    let qualified: Vec<String> = expansion
        .recipes
        .iter()
        .map(RecipeEntry::fully_qualified)
        .collect();
    let got = [
        ("recipes", json!(recipes)),
        ("fully_qualified", json!(qualified)),
        ("roles_applied", json!(expansion.roles)),
    ];
    let problems: Vec<String> = got
        .iter()
        .filter_map(|(key, value)| {
            let want = expected.get(*key)?;
            (want != value).then(|| format!("{key}: expected {want}, got {value}"))
        })
        .collect();
    if problems.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Fail(problems.join("; "))
    }
}

fn compare_error(err: &Error, expected: &Value) -> Outcome {
    let Some(class) = expected["error"].as_str() else {
        return Outcome::Fail(format!("unexpected error {}: {err}", err.class()));
    };
    if class != err.class() {
        return Outcome::Fail(format!("expected {class}, got {}: {err}", err.class()));
    }
    match expected["error_message"].as_str() {
        Some(message) if message != err.to_string() => Outcome::Fail(format!(
            "expected message {message:?}, got {:?}",
            err.to_string()
        )),
        _ => Outcome::Pass,
    }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
        .collect()
}
