//! Cookbook load order (CHEF_SEMANTICS b.3).
//!
//! For each expanded recipe in run-list order, its cookbook is visited depth-first, post-order,
//! over its metadata dependencies sorted alphabetically by name, skipping cookbooks already seen
//! (which also makes circular dependencies harmless). Dependencies therefore load before their
//! dependents, and top-level order follows the run list.

use crate::error::{Error, Result};
use crate::node::RecipeEntry;
use crate::repo::Repository;
use std::collections::HashSet;

/// Cookbook names in load order for the given run-list cookbooks.
///
/// Every missing cookbook is reported at once: a run-list cookbook by name, a dependency at the
/// metadata line that declares it.
pub fn cookbook_order(repo: &Repository, run_list: &[RecipeEntry]) -> Result<Vec<String>> {
    let mut order = Vec::new();
    let mut seen = HashSet::new();
    let mut missing = Vec::new();
    for entry in run_list {
        let name = entry.cookbook();
        if repo.cookbook(name).is_none() {
            if !missing
                .iter()
                .any(|e: &Error| e.to_string().contains(&format!("`{name}`")))
            {
                let class = "Chef::Exceptions::CookbookNotFound";
                let message = format!("cookbook `{name}` not found in the cookbook path");
                missing.push(Error::located(class, entry.origin.as_ref(), message));
            }
            continue;
        }
        visit(repo, name, &mut seen, &mut order, &mut missing);
    }
    match missing.len() {
        0 => Ok(order),
        1 => Err(missing.remove(0)),
        _ => Err(Error::input(
            "Chef::Exceptions::CookbookNotFound",
            missing
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
        )),
    }
}

fn visit(
    repo: &Repository,
    name: &str,
    seen: &mut HashSet<String>,
    order: &mut Vec<String>,
    missing: &mut Vec<Error>,
) {
    if !seen.insert(name.to_string()) {
        return;
    }
    let Some(cookbook) = repo.cookbook(name) else {
        return;
    };
    let mut deps: Vec<&String> = cookbook.metadata.dependencies.keys().collect();
    deps.sort();
    for dep in deps {
        if repo.cookbook(dep).is_none() {
            if seen.insert(dep.clone()) {
                let at = cookbook.metadata.dependency_locations[dep].clone();
                missing.push(Error::compile_as(
                    "Chef::Exceptions::CookbookNotFound",
                    at,
                    format!(
                        "cookbook `{name}` depends on `{dep}`, which is not in the cookbook path"
                    ),
                ));
            }
            continue;
        }
        visit(repo, dep, seen, order, missing);
    }
    order.push(name.to_string());
}
