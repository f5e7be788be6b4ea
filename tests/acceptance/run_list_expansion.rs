//! Runner for the `run_list_expansion` acceptance group.
//!
//! Expansion cases parse the run list, write each role to `roles/<name>.json` in a temp repo and
//! expand against those files. Compile cases (with `cookbooks`) write each cookbook's metadata and
//! attribute files to a temp repo and run the real compiler; the recipes' steps (declare a
//! resource, include a recipe) come through the compiler's `RecipeLoader` interface, because
//! YAML recipes cannot interleave includes with declarations.

use super::Outcome;
use serde_json::{json, Value};
use skillet::compile::decl::ResourceDecl;
use skillet::compile::{compile, Compiled, RecipeHost, RecipeLoader, RecipeStep, RepoSources};
use skillet::node::{expand, Environment, Expansion, Node, RecipeEntry, Role, RoleSource, RunList};
use skillet::repo::specificity::HostFacts;
use skillet::repo::{Config, Cookbook, Repository};
use skillet::{Error, SourceLocation};
use std::path::{Path, PathBuf};

pub fn run_case(case: &Value) -> Outcome {
    let input = &case["input"];
    let Ok(repo) = tempfile::tempdir() else {
        return Outcome::Fail("cannot create a temp dir".into());
    };
    if input.get("cookbooks").is_some() {
        return match run_compile(input, repo.path()) {
            Ok(compiled) => compare_compile(&compiled, &case["expected"]),
            Err(err) => compare_error(&err, &case["expected"]),
        };
    }
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
    expand(&run_list, environment, &RoleDir(dir))
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
    compare_fields(&got, expected)
}

fn compare_error(err: &Error, expected: &Value) -> Outcome {
    let Some(class) = expected["error"].as_str() else {
        return Outcome::Fail(format!("unexpected error {}: {err}", err.class()));
    };
    if class != err.class() {
        return Outcome::Fail(format!("expected {class}, got {}: {err}", err.class()));
    }
    match expected["error_message"].as_str() {
        Some(message) if message != err.bare_message() => Outcome::Fail(format!(
            "expected message {message:?}, got {:?}",
            err.bare_message()
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

/// Recipe steps taken from the case: `{resource: label}` declares a `log` resource named
/// `label`, `{include_recipe: name}` includes a recipe.
struct CaseRecipes(Value);

impl RecipeLoader for CaseRecipes {
    fn load(
        &self,
        cookbook: &Cookbook,
        recipe: &str,
        _host: &mut dyn RecipeHost,
    ) -> skillet::Result<Option<Vec<RecipeStep>>> {
        let Some(steps) = self.0[cookbook.name()]["recipes"][recipe].as_array() else {
            return Ok(None);
        };
        let at = SourceLocation::file(cookbook.root.join("recipes").join(recipe));
        let steps = steps
            .iter()
            .map(
                |step| match (step["resource"].as_str(), step["include_recipe"].as_str()) {
                    (Some(label), _) => RecipeStep::Declare(ResourceDecl {
                        kind: "log".into(),
                        name: label.into(),
                        properties: Default::default(),
                        location: at.clone(),
                        cookbook: cookbook.name().into(),
                        recipe: recipe.into(),
                    }),
                    (None, Some(name)) => RecipeStep::Include {
                        recipe: name.into(),
                        location: at.clone(),
                    },
                    (None, None) => RecipeStep::Include {
                        recipe: String::new(),
                        location: at.clone(),
                    },
                },
            )
            .collect();
        Ok(Some(steps))
    }
}

fn run_compile(input: &Value, repo: &Path) -> Result<Compiled, Error> {
    let cookbooks = &input["cookbooks"];
    for (name, body) in cookbooks.as_object().into_iter().flatten() {
        let dir = repo.join("cookbooks").join(name);
        let deps: serde_json::Map<String, Value> = strings(&body["depends"])
            .into_iter()
            .map(|d| (d, json!(">= 0.0.0")))
            .collect();
        let metadata = json!({"name": name, "version": "1.0.0", "dependencies": deps});
        write(&dir.join("metadata.json"), &metadata.to_string())?;
        for file in strings(&body["attribute_files"]) {
            write(&dir.join("attributes").join(file), "")?;
        }
    }
    let config = Config::load(None).map(|mut c| {
        c.cookbook_path = vec![repo.join("cookbooks")];
        c.role_path = repo.join("roles");
        c
    })?;
    let repository = Repository::open(&config)?;
    let run_list = RunList::from_strings(&strings(&input["run_list"]))?;
    let expansion = expand(&run_list, "_default", &repository)?;
    let mut node = Node::new("acceptance");
    node.apply_expansion(&expansion);
    let sources = RepoSources::new(&repository, HostFacts::default());
    compile(
        &repository,
        &mut node,
        &expansion,
        &Environment::default_env(),
        &CaseRecipes(cookbooks.clone()),
        &sources,
    )
}

fn write(path: &Path, text: &str) -> Result<(), Error> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

fn compare_compile(compiled: &Compiled, expected: &Value) -> Outcome {
    if let Some(class) = expected.get("error") {
        return Outcome::Fail(format!("expected error {class}, but compile succeeded"));
    }
    let resources: Vec<String> = compiled
        .collection
        .iter()
        .map(|r| r.id().name.clone())
        .collect();
    let got = [
        ("cookbook_order", json!(compiled.cookbook_order)),
        ("attribute_file_order", json!(compiled.attribute_files)),
        ("resource_order", json!(resources)),
    ];
    compare_fields(&got, expected)
}

/// Passes when every expected key present in `expected` equals what was computed.
fn compare_fields(got: &[(&str, Value)], expected: &Value) -> Outcome {
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
