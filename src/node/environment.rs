//! Environments: `environments/<name>.json`, with Chef's built-in `_default`.
//!
//! An environment contributes `env_default` / `env_override` attributes and cookbook version
//! constraints. The environment named `_default` never contributes attributes, even when a file
//! defines some.

use super::attributes::Map;
use super::json_source::JsonSource;
use super::role::{checked_name, DEFAULT_ENVIRONMENT};
use crate::error::Result;
use indexmap::IndexMap;
use serde_json::Value;
use std::path::Path;

/// Chef's version-constraint operators.
const CONSTRAINT_OPERATORS: [&str; 6] = ["~>", ">=", "<=", "=", ">", "<"];

/// An environment: attributes plus cookbook version constraints.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Environment {
    /// The name (`_default` for the built-in one).
    pub name: String,
    /// Free text.
    pub description: String,
    /// Cookbook name → constraint (`"~> 2.0"`).
    pub cookbook_versions: IndexMap<String, String>,
    /// Becomes the node's `env_default`.
    pub default_attributes: Map,
    /// Becomes the node's `env_override`.
    pub override_attributes: Map,
}

impl Environment {
    /// Parses an environment JSON file; every error names file:line:col and what was expected.
    pub fn from_json(text: &str, path: &Path) -> Result<Environment> {
        let src = JsonSource::parse(text, path)?;
        src.object("the environment")?;
        Ok(Environment {
            name: checked_name(&src, "environment")?,
            description: src.optional_string("description")?.unwrap_or_default(),
            cookbook_versions: cookbook_versions(&src)?,
            default_attributes: src.optional_object("default_attributes")?,
            override_attributes: src.optional_object("override_attributes")?,
        })
    }

    /// `_default`, always empty.
    pub fn default_env() -> Environment {
        Environment {
            name: DEFAULT_ENVIRONMENT.to_string(),
            description: "The default Chef environment".to_string(),
            ..Environment::default()
        }
    }

    /// Whether this is the built-in `_default` environment.
    pub fn is_default(&self) -> bool {
        self.name == DEFAULT_ENVIRONMENT
    }
}

fn cookbook_versions(src: &JsonSource<'_>) -> Result<IndexMap<String, String>> {
    let entries = match src.value.get("cookbook_versions") {
        None | Some(Value::Null) => return Ok(IndexMap::new()),
        Some(Value::Object(entries)) => entries,
        Some(_) => {
            return Err(src.error(
                &["cookbook_versions"],
                "expected `cookbook_versions` to be an object of cookbook name => constraint",
            ))
        }
    };
    let mut versions = IndexMap::new();
    for (cookbook, constraint) in entries {
        match constraint.as_str() {
            Some(text) if is_version_constraint(text) => {
                versions.insert(cookbook.clone(), text.to_string());
            }
            _ => {
                return Err(src.error(
                    &["cookbook_versions", cookbook],
                    format!(
                        "expected `cookbook_versions.{cookbook}` to be a version constraint \
                         such as \"~> 2.0\" or \"= 1.2.3\" (operators =, >, >=, <, <=, ~>)"
                    ),
                ))
            }
        }
    }
    Ok(versions)
}

/// `[op ]X[.Y[.Z]]` with one of Chef's operators (none means `=`).
pub(crate) fn is_version_constraint(text: &str) -> bool {
    let text = text.trim();
    let version = CONSTRAINT_OPERATORS
        .iter()
        .find_map(|op| text.strip_prefix(op))
        .map_or(text, str::trim_start);
    let parts: Vec<&str> = version.split('.').collect();
    parts.len() <= 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn k_full_environment() {
        let env = Environment::from_json(
            r#"{ "name": "prod", "description": "", "json_class": "Chef::Environment",
                 "chef_type": "environment", "cookbook_versions": { "nginx": "~> 2.0" },
                 "default_attributes": {"a": 1}, "override_attributes": {"b": 2} }"#,
            Path::new("environments/prod.json"),
        )
        .unwrap();
        assert_eq!(env.name, "prod");
        assert_eq!(env.cookbook_versions["nginx"], "~> 2.0");
        assert_eq!(Value::Object(env.default_attributes), json!({"a": 1}));
        assert_eq!(Value::Object(env.override_attributes), json!({"b": 2}));
        assert!(!Environment::default_env().name.is_empty());
    }

    #[test]
    fn k_missing_fields_default_and_name_must_match_the_file() {
        let env = Environment::from_json("{}", Path::new("environments/stage.json")).unwrap();
        assert_eq!(env.name, "stage");
        assert!(env.cookbook_versions.is_empty());
        let err = Environment::from_json(r#"{"name": "x"}"#, Path::new("environments/y.json"))
            .unwrap_err();
        assert!(
            err.to_string().contains("expected `name` to be \"y\""),
            "{err}"
        );
    }

    #[test]
    fn k_constraints_use_chefs_operators() {
        for ok in ["~> 2.0", "= 1.2.3", ">= 1.0", "< 3", "1.0.0", ">1.0"] {
            assert!(is_version_constraint(ok), "{ok}");
        }
        for bad in ["~ 2.0", "latest", "1.2.3.4", "", ">= "] {
            assert!(!is_version_constraint(bad), "{bad}");
        }
        let err = Environment::from_json(
            "{\"cookbook_versions\": {\"nginx\": \"latest\"}}",
            Path::new("environments/e.json"),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("environments/e.json:1:33: expected `cookbook_versions.nginx`"),
            "{err}"
        );
    }

    #[test]
    fn a6_default_environment_is_built_in_and_empty() {
        let env = Environment::default_env();
        assert!(env.is_default());
        assert!(env.default_attributes.is_empty() && env.override_attributes.is_empty());
    }
}
