//! Run-list expansion: roles inlined depth first into the ordered recipe list, with role
//! attributes accumulated as Chef's `RunListExpansion` does.
//!
//! A role is entered at most once (a repeated or cyclic role is skipped silently); its nested
//! run list is expanded before its own attributes are merged on top, so outer and later roles
//! win. Missing roles are collected and reported together at the end.

use super::attributes::{deep_merge_union, Map};
use super::role::Role;
use super::run_list::{is_version, RunList, RunListItem};
use crate::error::{Error, Result, SourceLocation};
use serde_json::Value;
use std::collections::HashMap;

/// Where expansion finds roles by name.
pub trait RoleSource {
    /// The role named `name`, Ok(None) when there is none, Err when it exists but cannot load.
    fn role(&self, name: &str) -> Result<Option<Role>>;
}

impl RoleSource for HashMap<String, Role> {
    fn role(&self, name: &str) -> Result<Option<Role>> {
        Ok(self.get(name).cloned())
    }
}

/// One recipe of the expanded run list.
#[derive(Debug, Clone)]
pub struct RecipeEntry {
    /// The name as written in the run list (`"cb"` or `"cb::r"`).
    pub name: String,
    /// The exact cookbook version pinned for this name, if any.
    pub version: Option<String>,
    /// Where the run list (the node's, or a role's) names it first, when that is a file.
    pub origin: Option<SourceLocation>,
}

/// Entries are equal when they name the same recipe and pin; where they were written does
/// not count.
impl PartialEq for RecipeEntry {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.version == other.version
    }
}

impl RecipeEntry {
    /// The cookbook part of the name.
    pub fn cookbook(&self) -> &str {
        self.name
            .split_once("::")
            .map_or(self.name.as_str(), |(cookbook, _)| cookbook)
    }

    /// The recipe part of the name; "default" when none.
    pub fn recipe(&self) -> &str {
        self.name
            .split_once("::")
            .map_or("default", |(_, recipe)| recipe)
    }

    /// `cb::recipe`, with `@version` when pinned (Chef's `expanded_run_list` spelling).
    pub fn fully_qualified(&self) -> String {
        let base = format!("{}::{}", self.cookbook(), self.recipe());
        match &self.version {
            Some(version) => format!("{base}@{version}"),
            None => base,
        }
    }
}

/// The result of expanding a run list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Expansion {
    /// Recipes in run order, each literal name once.
    pub recipes: Vec<RecipeEntry>,
    /// Roles applied, in first-entered order (outer before inner).
    pub roles: Vec<String>,
    /// The merged `default_attributes` of all applied roles (becomes `role_default`).
    pub default_attributes: Map,
    /// The merged `override_attributes` of all applied roles (becomes `role_override`).
    pub override_attributes: Map,
}

/// Expands `items` for `environment`, loading roles from `roles`.
pub fn expand(items: &RunList, environment: &str, roles: &dyn RoleSource) -> Result<Expansion> {
    let mut expander = Expander {
        environment,
        roles,
        expansion: Expansion::default(),
        defaults: Value::Object(Map::new()),
        overrides: Value::Object(Map::new()),
        missing: Vec::new(),
    };
    expander.expand_items(items)?;
    expander.finish()
}

struct Expander<'a> {
    environment: &'a str,
    roles: &'a dyn RoleSource,
    expansion: Expansion,
    defaults: Value,
    overrides: Value,
    /// Missing roles, each with where it was named first.
    missing: Vec<(String, Option<SourceLocation>)>,
}

impl Expander<'_> {
    fn expand_items(&mut self, list: &RunList) -> Result<()> {
        for (item, at) in list.located() {
            match item {
                RunListItem::Recipe { name, version } => {
                    self.add_recipe(name, version.as_deref(), at)?
                }
                RunListItem::Role(name) => self.enter_role(name, at)?,
            }
        }
        Ok(())
    }

    /// Chef's `VersionedRecipeList#add_recipe`: the literal name once, its pin checked.
    fn add_recipe(
        &mut self,
        name: &str,
        version: Option<&str>,
        at: Option<&SourceLocation>,
    ) -> Result<()> {
        let existing = self.expansion.recipes.iter_mut().find(|r| r.name == name);
        match existing {
            Some(entry) => {
                if let Some(version) = version {
                    if let Some(recorded) = &entry.version {
                        if !same_version(recorded, version) {
                            return Err(Error::located(
                                "Chef::Exceptions::CookbookVersionConflict",
                                at,
                                format!(
                                    "Run list requires {name} at versions {recorded} and {version}"
                                ),
                            ));
                        }
                    }
                    entry.version = Some(version.to_string());
                }
            }
            None => self.expansion.recipes.push(RecipeEntry {
                name: name.to_string(),
                version: version.map(str::to_string),
                origin: at.cloned(),
            }),
        }
        Ok(())
    }

    fn enter_role(&mut self, name: &str, at: Option<&SourceLocation>) -> Result<()> {
        // Marked before loading, so cycles and repeats (and repeated missing roles) stop here.
        if self.expansion.roles.iter().any(|r| r == name) {
            return Ok(());
        }
        self.expansion.roles.push(name.to_string());
        let Some(role) = self.roles.role(name)? else {
            self.missing.push((name.to_string(), at.cloned()));
            return Ok(());
        };
        self.expand_items(role.run_list_for(self.environment))?;
        deep_merge_union(&mut self.defaults, &Value::Object(role.default_attributes));
        deep_merge_union(
            &mut self.overrides,
            &Value::Object(role.override_attributes),
        );
        Ok(())
    }

    fn finish(mut self) -> Result<Expansion> {
        if let Some((_, first)) = self.missing.first() {
            let names: Vec<&str> = self.missing.iter().map(|(n, _)| n.as_str()).collect();
            return Err(Error::located(
                "Chef::Exceptions::MissingRole",
                first.as_ref(),
                format!(
                    "The expanded run list includes nonexistent roles: {}",
                    names.join(", ")
                ),
            ));
        }
        self.expansion.default_attributes = into_map(self.defaults);
        self.expansion.override_attributes = into_map(self.overrides);
        Ok(self.expansion)
    }
}

fn into_map(value: Value) -> Map {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Chef::Version equality: missing parts are zero (`1.0` equals `1.0.0`).
fn same_version(a: &str, b: &str) -> bool {
    match (version_parts(a), version_parts(b)) {
        (Some(a), Some(b)) => a == b,
        _ => a == b,
    }
}

fn version_parts(version: &str) -> Option<[u64; 3]> {
    if !is_version(version) {
        return None;
    }
    let mut parts = [0u64; 3];
    for (slot, part) in parts.iter_mut().zip(version.split('.')) {
        *slot = part.parse().ok()?;
    }
    Some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::run_list::RunList;
    use serde_json::json;
    use std::path::Path;

    fn roles(defs: &[(&str, Value)]) -> HashMap<String, Role> {
        defs.iter()
            .map(|(name, body)| {
                let path = format!("roles/{name}.json");
                let role = Role::from_json(&body.to_string(), Path::new(&path)).unwrap();
                (name.to_string(), role)
            })
            .collect()
    }

    fn run(list: &[&str], env: &str, roles: &HashMap<String, Role>) -> Result<Expansion> {
        let list = RunList::from_strings(list).unwrap();
        expand(&list, env, roles)
    }

    fn names(expansion: &Expansion) -> Vec<String> {
        expansion.recipes.iter().map(|r| r.name.clone()).collect()
    }

    fn qualified(expansion: &Expansion) -> Vec<String> {
        expansion
            .recipes
            .iter()
            .map(RecipeEntry::fully_qualified)
            .collect()
    }

    #[test]
    fn b2_recipes_keep_literal_names_and_first_position() {
        let roles = roles(&[(
            "r",
            json!({"run_list": ["recipe[b]", "recipe[a]", "recipe[c]"]}),
        )]);
        let e = run(
            &["recipe[a]", "role[r]", "recipe[b]", "recipe[a::default]"],
            "_default",
            &roles,
        )
        .unwrap();
        assert_eq!(names(&e), ["a", "b", "c", "a::default"]);
        assert_eq!(
            qualified(&e),
            ["a::default", "b::default", "c::default", "a::default"]
        );
        assert_eq!(e.roles, ["r"]);
    }

    #[test]
    fn b2_fully_qualified_names_carry_pins() {
        let e = run(
            &["recipe[a@1.2.3]", "b@2.0", "a::b@1.2.3"],
            "_default",
            &HashMap::new(),
        )
        .unwrap();
        assert_eq!(
            qualified(&e),
            ["a::default@1.2.3", "b::default@2.0", "a::b@1.2.3"]
        );
        assert_eq!(e.recipes[2].cookbook(), "a");
        assert_eq!(e.recipes[2].recipe(), "b");
    }

    #[test]
    fn b2_conflicting_pins_are_an_error_equal_pins_are_fine() {
        let err = run(
            &["recipe[a@1.0.0]", "recipe[a@2.0.0]"],
            "_default",
            &HashMap::new(),
        )
        .unwrap_err();
        assert_eq!(err.class(), "Chef::Exceptions::CookbookVersionConflict");
        assert_eq!(
            err.to_string(),
            "Run list requires a at versions 1.0.0 and 2.0.0"
        );
        let e = run(
            &["recipe[a@1.0]", "recipe[a@1.0.0]"],
            "_default",
            &HashMap::new(),
        )
        .unwrap();
        assert_eq!(e.recipes.len(), 1);
        let e = run(&["recipe[a]", "recipe[a@1.0]"], "_default", &HashMap::new()).unwrap();
        assert_eq!(qualified(&e), ["a::default@1.0"]);
    }

    #[test]
    fn b2_role_cycles_and_repeats_are_skipped_silently() {
        let roles = roles(&[
            ("a", json!({"run_list": ["recipe[x]", "role[b]"]})),
            ("b", json!({"run_list": ["recipe[y]", "role[a]"]})),
        ]);
        let e = run(&["role[a]", "role[b]", "role[a]"], "_default", &roles).unwrap();
        assert_eq!(names(&e), ["x", "y"]);
        assert_eq!(e.roles, ["a", "b"]);
    }

    #[test]
    fn b2_env_run_lists_replace_the_role_run_list() {
        let roles = roles(&[(
            "web",
            json!({"run_list": ["recipe[default_only]"], "env_run_lists": {"prod": []}}),
        )]);
        let e = run(&["recipe[a]", "role[web]", "recipe[z]"], "prod", &roles).unwrap();
        assert_eq!(names(&e), ["a", "z"]);
        assert_eq!(e.roles, ["web"]);
        let e = run(&["role[web]"], "staging", &roles).unwrap();
        assert_eq!(names(&e), ["default_only"]);
    }

    #[test]
    fn b2_all_missing_roles_are_listed_in_encounter_order() {
        let roles = roles(&[(
            "web",
            json!({"run_list": ["role[ghost1]", "recipe[a]", "role[ghost1]"]}),
        )]);
        let err = run(&["role[web]", "role[ghost2]"], "_default", &roles).unwrap_err();
        assert_eq!(err.class(), "Chef::Exceptions::MissingRole");
        assert_eq!(
            err.to_string(),
            "roles/web.json:1:14: The expanded run list includes nonexistent roles: ghost1, ghost2"
        );
    }

    #[test]
    fn a6_outer_and_later_roles_win_and_arrays_union() {
        let roles = roles(&[
            (
                "web",
                json!({"run_list": ["role[base]"], "default_attributes": {"x": "web", "l": [2]},
                           "override_attributes": {"o": "web"}}),
            ),
            (
                "base",
                json!({"default_attributes": {"x": "base", "port": 80, "l": [1]},
                            "override_attributes": {"o": "base"}}),
            ),
            (
                "later",
                json!({"default_attributes": {"port": 81, "n": null}}),
            ),
        ]);
        let e = run(&["role[web]", "role[later]"], "_default", &roles).unwrap();
        assert_eq!(
            Value::Object(e.default_attributes),
            json!({"x": "web", "port": 81, "l": [1, 2], "n": null})
        );
        assert_eq!(Value::Object(e.override_attributes), json!({"o": "web"}));
        assert_eq!(e.roles, ["web", "base", "later"]);
    }

    #[test]
    fn each_recipe_remembers_where_the_run_list_named_it_first() {
        let roles = roles(&[("web", json!({"run_list": ["recipe[a]", "recipe[b]"]}))]);
        let e = run(&["role[web]", "recipe[a]"], "_default", &roles).unwrap();
        let places: Vec<String> = e
            .recipes
            .iter()
            .map(|r| {
                r.origin
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(places, ["roles/web.json:1:14", "roles/web.json:1:26"]);
        let missing = run(&["role[web]", "role[gone]"], "_default", &roles).unwrap_err();
        assert!(!missing.to_string().contains(".json:"), "{missing}");
        let roles = self::roles(&[("web", json!({"run_list": ["role[gone]"]}))]);
        let missing = run(&["role[web]"], "_default", &roles).unwrap_err();
        assert!(
            missing.to_string().contains("roles/web.json:1:14"),
            "{missing}"
        );
    }

    #[test]
    fn a6_a_repeated_role_is_applied_only_at_its_first_occurrence() {
        let roles = roles(&[
            ("a", json!({"default_attributes": {"x": "a"}})),
            ("b", json!({"default_attributes": {"x": "b"}})),
        ]);
        let list = RunList::new(vec![
            RunListItem::Role("a".into()),
            RunListItem::Role("b".into()),
            RunListItem::Role("a".into()),
        ]);
        let e = expand(&list, "_default", &roles).unwrap();
        assert_eq!(Value::Object(e.default_attributes), json!({"x": "b"}));
    }

    struct FailingSource;

    impl RoleSource for FailingSource {
        fn role(&self, name: &str) -> Result<Option<Role>> {
            Err(Error::input(
                "Chef::Exceptions::JSON::ParseError",
                format!("bad {name}"),
            ))
        }
    }

    #[test]
    fn b2_role_load_errors_pass_through() {
        let err = expand(
            &RunList::new(vec![RunListItem::Role("r".into())]),
            "_default",
            &FailingSource,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "bad r");
    }
}
