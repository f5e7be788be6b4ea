//! Roles: `roles/<name>.json`, parsed the way Chef's `Role.from_hash` reads them in local mode.
//!
//! Missing fields default (name from the file name, empty lists and attributes); `recipes` is
//! the old spelling of `run_list`; an `env_run_lists` entry named `_default` replaces the plain
//! run list. The Ruby DSL form (`roles/<name>.rb`) belongs to the recipe front-end.

use super::attributes::Map;
use super::json_source::JsonSource;
use super::run_list::{RunList, RunListItem};
use crate::error::{Error, Result, SourceLocation};
use indexmap::IndexMap;
use serde_json::Value;
use std::path::Path;

/// The environment whose run list is a role's plain `run_list`.
pub const DEFAULT_ENVIRONMENT: &str = "_default";

/// A role: a run list plus default and override attributes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Role {
    /// The name, equal to the file's base name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// The run list used in every environment without its own entry (`_default`).
    pub run_list: RunList,
    /// Per-environment run lists that replace `run_list` there (never holds `_default`).
    pub env_run_lists: IndexMap<String, RunList>,
    /// Merged into the node's `role_default` during expansion.
    pub default_attributes: Map,
    /// Merged into the node's `role_override` during expansion.
    pub override_attributes: Map,
}

impl Role {
    /// Parses a role JSON file; every error names file:line:col and what was expected.
    pub fn from_json(text: &str, path: &Path) -> Result<Role> {
        let src = JsonSource::parse(text, path)?;
        src.object("the role")?;
        let name = checked_name(&src, "role")?;
        let description = src.optional_string("description")?.unwrap_or_default();
        // `run_list` wins over the legacy `recipes` when both are given, as in Chef.
        let list_key = if src.value.get("run_list").is_some() {
            "run_list"
        } else {
            "recipes"
        };
        let mut run_list = run_list_at(&src, &[list_key])?.unwrap_or_default();
        let mut env_run_lists = env_run_lists(&src)?;
        if let Some(default_list) = env_run_lists.shift_remove(DEFAULT_ENVIRONMENT) {
            run_list = default_list;
        }
        Ok(Role {
            name,
            description,
            run_list,
            env_run_lists,
            default_attributes: src.optional_object("default_attributes")?,
            override_attributes: src.optional_object("override_attributes")?,
        })
    }

    /// Maps where each run-list item was written through `f` (a role read from generated or
    /// re-serialised text, pointed back at what the user can look at).
    pub fn relocate(&mut self, f: &dyn Fn(&SourceLocation) -> SourceLocation) {
        self.run_list.relocate(f);
        for list in self.env_run_lists.values_mut() {
            list.relocate(f);
        }
    }

    /// Chef's `run_list_for(environment)`: that environment's own list if it has one (even an
    /// empty one), else the plain run list.
    pub fn run_list_for(&self, environment: &str) -> &RunList {
        self.env_run_lists
            .get(environment)
            .unwrap_or(&self.run_list)
    }
}

/// Whether a role or environment name matches Chef's `^[-[:alnum:]_]+$`.
pub(crate) fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
}

/// The `name` field: defaults to the file's base name, must match the name rule and equal the
/// base name.
pub(crate) fn checked_name(src: &JsonSource<'_>, kind: &str) -> Result<String> {
    let stem = src
        .path()
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = src.optional_string("name")?.unwrap_or_else(|| stem.clone());
    if !is_valid_name(&name) {
        return Err(src.error(
            &["name"],
            format!(
                "expected the {kind} name {name:?} to match ^[-[:alnum:]_]+$ (letters, digits, \
                 `-` and `_`)"
            ),
        ));
    }
    if name != stem {
        return Err(src.error(
            &["name"],
            format!(
                "expected `name` to be {stem:?}, the file's base name, but it is {name:?}; \
                 rename the file or the {kind}"
            ),
        ));
    }
    Ok(name)
}

/// A run list at `keys`: None when absent or null; an array of valid item strings otherwise.
pub(crate) fn run_list_at(src: &JsonSource<'_>, keys: &[&str]) -> Result<Option<RunList>> {
    let value = keys
        .iter()
        .try_fold(&src.value, |value, key| value.get(*key));
    let shown = keys.join(".");
    let items = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(src.error(
                keys,
                format!("expected `{shown}` to be an array of strings"),
            ))
        }
    };
    let mut list = RunList::default();
    for (index, item) in items.iter().enumerate() {
        let index = index.to_string();
        let mut item_keys = keys.to_vec();
        item_keys.push(&index);
        let Some(text) = item.as_str() else {
            return Err(src.error(
                &item_keys,
                format!("expected `{shown}` to be an array of strings"),
            ));
        };
        let location = src.location(&item_keys);
        let parsed = RunListItem::parse(text)
            .map_err(|err| Error::compile_as("ArgumentError", location.clone(), err.to_string()))?;
        list.push_at(parsed, Some(location));
    }
    Ok(Some(list))
}

fn env_run_lists(src: &JsonSource<'_>) -> Result<IndexMap<String, RunList>> {
    let entries = match src.value.get("env_run_lists") {
        None | Some(Value::Null) => return Ok(IndexMap::new()),
        Some(Value::Object(entries)) => entries,
        Some(_) => {
            return Err(src.error(
                &["env_run_lists"],
                "expected `env_run_lists` to be an object of environment name => run list",
            ))
        }
    };
    let mut lists = IndexMap::new();
    for env in entries.keys() {
        let list = run_list_at(src, &["env_run_lists", env])?.unwrap_or_default();
        lists.insert(env.clone(), list);
    }
    Ok(lists)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str, file: &str) -> Result<Role> {
        Role::from_json(text, Path::new(file))
    }

    #[test]
    fn k_full_role() {
        let role = parse(
            r#"{ "name": "web", "description": "d", "json_class": "Chef::Role",
                 "chef_type": "role", "run_list": ["role[base]", "recipe[nginx]"],
                 "env_run_lists": { "prod": ["recipe[nginx::prod]"] },
                 "default_attributes": {"a": 1}, "override_attributes": {"b": [2]} }"#,
            "roles/web.json",
        )
        .unwrap();
        assert_eq!(role.name, "web");
        assert_eq!(role.description, "d");
        assert_eq!(role.run_list.to_strings(), ["role[base]", "recipe[nginx]"]);
        assert_eq!(
            role.run_list_for("prod").to_strings(),
            ["recipe[nginx::prod]"]
        );
        assert_eq!(Value::Object(role.default_attributes), json!({"a": 1}));
        assert_eq!(Value::Object(role.override_attributes), json!({"b": [2]}));
    }

    #[test]
    fn k_missing_fields_default_and_name_comes_from_the_file() {
        let role = parse("{}", "roles/base.json").unwrap();
        assert_eq!(role.name, "base");
        assert!(role.run_list.is_empty());
        assert!(role.env_run_lists.is_empty());
        assert!(role.default_attributes.is_empty());
    }

    #[test]
    fn k_recipes_is_an_alias_of_run_list_and_run_list_wins() {
        let role = parse(r#"{"recipes": ["a"]}"#, "roles/r.json").unwrap();
        assert_eq!(role.run_list.to_strings(), ["recipe[a]"]);
        let role = parse(r#"{"recipes": ["a"], "run_list": ["b"]}"#, "roles/r.json").unwrap();
        assert_eq!(role.run_list.to_strings(), ["recipe[b]"]);
    }

    #[test]
    fn k_env_run_lists_default_replaces_run_list() {
        let role = parse(
            r#"{"run_list": ["a"], "env_run_lists": {"_default": ["b"], "prod": []}}"#,
            "roles/r.json",
        )
        .unwrap();
        assert_eq!(role.run_list.to_strings(), ["recipe[b]"]);
        assert_eq!(role.run_list_for("staging").to_strings(), ["recipe[b]"]);
        assert!(role.run_list_for("prod").is_empty());
        assert!(!role.env_run_lists.contains_key("_default"));
    }

    #[test]
    fn k_name_must_equal_the_file_basename() {
        let err = parse("{\n  \"name\": \"other\"\n}", "roles/web.json").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("roles/web.json:2:11: expected `name` to be \"web\""),
            "{err}"
        );
    }

    #[test]
    fn k_name_must_match_the_name_rule() {
        let err = parse(r#"{"name": "a b"}"#, "roles/a b.json").unwrap_err();
        assert!(err.to_string().contains("^[-[:alnum:]_]+$"), "{err}");
        assert!(is_valid_name("web-01_x"));
        assert!(!is_valid_name("web.01"));
    }

    #[test]
    fn k_shape_errors_point_at_the_field() {
        let err = parse("{\n  \"run_list\": \"recipe[a]\"\n}", "roles/r.json").unwrap_err();
        assert_eq!(
            err.to_string(),
            "roles/r.json:2:15: expected `run_list` to be an array of strings"
        );
        let err = parse("{\"run_list\": [\"a\", 3]}", "roles/r.json").unwrap_err();
        assert_eq!(
            err.to_string(),
            "roles/r.json:1:20: expected `run_list` to be an array of strings"
        );
        let err = parse("{\"default_attributes\": []}", "roles/r.json").unwrap_err();
        assert_eq!(
            err.to_string(),
            "roles/r.json:1:24: expected `default_attributes` to be an object"
        );
        let err = parse("{\"env_run_lists\": {\"p\": 1}}", "roles/r.json").unwrap_err();
        assert_eq!(
            err.to_string(),
            "roles/r.json:1:25: expected `env_run_lists.p` to be an array of strings"
        );
    }

    #[test]
    fn k_bad_run_list_items_are_argument_errors_with_location() {
        let err = parse("{\"run_list\": [\"role[x\"]}", "roles/r.json").unwrap_err();
        assert_eq!(err.class(), "ArgumentError");
        assert!(err
            .to_string()
            .starts_with("roles/r.json:1:15: Unable to create"));
    }

    #[test]
    fn k_invalid_json_is_a_compile_error_with_position() {
        let err = parse("{\"run_list\": [}", "roles/r.json").unwrap_err();
        assert!(matches!(err, Error::Compile { .. }));
        assert!(err.to_string().starts_with("roles/r.json:1:"), "{err}");
        let err = parse("[1]", "roles/r.json").unwrap_err();
        assert_eq!(
            err.to_string(),
            "roles/r.json:1:1: expected the role to be a JSON object"
        );
    }
}
