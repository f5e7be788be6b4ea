//! `skillet check`: compile everything the repository holds, report every problem, change
//! nothing on the host.

use super::prepare::load_config;
use super::CheckArgs;
use crate::compile::{compile, FileRecipeLoader, RepoSources};
use crate::error::Error;
use crate::node::{Expansion, Node, RecipeEntry, RoleSource};
use crate::repo::Repository;

/// Runs the check; exit code 0 when everything compiles, 1 otherwise.
pub fn run(args: &CheckArgs) -> i32 {
    let mut warnings = Vec::new();
    let config = match load_config(args.config.as_deref(), &mut warnings) {
        Ok(c) => c,
        Err(e) => return fail(&[e]),
    };
    for w in &warnings {
        eprintln!("WARN: {w}");
    }
    let repo = match Repository::open(&config) {
        Ok(r) => r,
        Err(e) => return fail(&[e]),
    };
    let mut errors = Vec::new();
    let mut counts = Counts::default();

    match repo.role_names() {
        Ok(names) => {
            for name in names {
                counts.roles += 1;
                if let Err(e) = repo.role(&name) {
                    errors.push(e);
                }
            }
        }
        Err(e) => errors.push(e),
    }
    match repo.environment_names() {
        Ok(names) => {
            for name in names {
                counts.environments += 1;
                if let Err(e) = repo.environment(&name) {
                    errors.push(e);
                }
            }
        }
        Err(e) => errors.push(e),
    }
    match repo.data_bags.bags() {
        Ok(bags) => {
            for bag in bags {
                match repo.data_bags.items(&bag) {
                    Ok(items) => {
                        for item in items {
                            counts.items += 1;
                            if let Err(e) = repo.data_bags.item(&bag, &item) {
                                errors.push(e);
                            }
                        }
                    }
                    Err(e) => errors.push(e),
                }
            }
        }
        Err(e) => errors.push(e),
    }

    // Every group: `check` compiles every cookbook, whatever they read.
    let automatic = super::prepare::automatic_attributes(false);
    let host = crate::repo::specificity::HostFacts {
        fqdn: text(&automatic, "fqdn"),
        platform: text(&automatic, "platform"),
        platform_version: text(&automatic, "platform_version"),
    };
    // A cookbook's recipes compile together, as a run list naming them all would: one may
    // notify a resource another declares.
    let mut failed_cookbooks = 0;
    for cookbook in repo.cookbooks() {
        counts.cookbooks += 1;
        let recipes = match cookbook.recipe_names() {
            Ok(r) => r,
            Err(e) => {
                failed_cookbooks += 1;
                errors.push(e);
                continue;
            }
        };
        counts.recipes += recipes.len();
        let expansion = Expansion {
            recipes: recipes
                .iter()
                .map(|r| RecipeEntry {
                    name: format!("{}::{r}", cookbook.name()),
                    version: None,
                    origin: None,
                })
                .collect(),
            roles: Vec::new(),
            default_attributes: Default::default(),
            override_attributes: Default::default(),
        };
        let mut node = Node::new("check");
        node.set_automatic(automatic.clone());
        node.apply_expansion(&expansion);
        let sources = RepoSources::new(&repo, host.clone());
        let environment = crate::node::Environment::default_env();
        if let Err(e) = compile(
            &repo,
            &mut node,
            &expansion,
            &environment,
            &FileRecipeLoader,
            &sources,
        ) {
            failed_cookbooks += 1;
            errors.push(e);
        }
    }

    if errors.is_empty() {
        println!(
            "ok: {} cookbooks ({} recipes), {} roles, {} environments, {} data bag items",
            counts.cookbooks, counts.recipes, counts.roles, counts.environments, counts.items
        );
        0
    } else {
        let summary = format!(
            "{} of {} cookbooks compile",
            counts.cookbooks - failed_cookbooks,
            counts.cookbooks
        );
        fail_with(&errors, Some(&summary))
    }
}

/// The problems grouped by what is wrong (the message without its place), most frequent
/// first, each with the places it was found: how far the repository is from running.
fn print_reasons(errors: &[Error]) {
    let mut reasons: Vec<(String, Vec<String>)> = Vec::new();
    for e in errors {
        let (reason, place) = match e {
            Error::Compile {
                location, message, ..
            } => (message.clone(), location.to_string()),
            other => (other.to_string(), String::new()),
        };
        match reasons.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, places)) => places.push(place),
            None => reasons.push((reason, vec![place])),
        }
    }
    reasons.sort_by_key(|(_, places)| std::cmp::Reverse(places.len()));
    eprintln!("Reasons, most frequent first:");
    for (reason, places) in reasons {
        eprintln!("  {} x {reason}", places.len());
        let places: Vec<String> = places.into_iter().filter(|p| !p.is_empty()).collect();
        if !places.is_empty() {
            eprintln!("      {}", places.join(", "));
        }
    }
}

#[derive(Default)]
struct Counts {
    cookbooks: usize,
    recipes: usize,
    roles: usize,
    environments: usize,
    items: usize,
}

fn text(map: &serde_json::Map<String, serde_json::Value>, key: &str) -> String {
    map.get(key)
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string()
}

fn fail(errors: &[Error]) -> i32 {
    fail_with(errors, None)
}

/// Every error, then (after a whole check) how much compiled and the reasons grouped, then
/// the count; exit code 1.
fn fail_with(errors: &[Error], summary: Option<&str>) -> i32 {
    for e in errors {
        eprintln!("ERROR: {e}");
    }
    if let Some(summary) = summary {
        eprintln!("{summary}");
        print_reasons(errors);
    }
    eprintln!("{} problem(s) found", errors.len());
    1
}
