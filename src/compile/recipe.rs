//! Chef's YAML and JSON recipe format.
//!
//! ```yaml
//! resources:
//!   - type: template
//!     name: /etc/app.conf
//!     source: app.conf.erb
//!     notifies: [{action: restart, resource: "service[app]", timing: delayed}]
//! include_recipes:
//!   - base::users
//! ```
//! All `resources` are declared first, then `include_recipes` are evaluated, whatever the order
//! of the keys in the file (Chef's rule).

use super::decl::{PropValue, ResourceDecl};
use crate::error::{Error, Result, SourceLocation};
use crate::repo::yaml::{from_json, from_yaml, location_of};
use indexmap::IndexMap;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::path::Path;

/// One step of a recipe, in evaluation order.
#[derive(Debug, Clone)]
pub enum RecipeStep {
    /// Declare a resource.
    Declare(ResourceDecl),
    /// `include_recipe`: evaluate that recipe here, unless it was already loaded.
    Include {
        recipe: String,
        location: SourceLocation,
    },
}

/// A resource's keys with the place of each value.
type SpannedFields = IndexMap<String, Spanned<serde_json::Value>>;

#[derive(Deserialize)]
struct RecipeDoc {
    resources: Option<Vec<Spanned<SpannedFields>>>,
    include_recipes: Option<Vec<Spanned<String>>>,
}

/// Reads a YAML (`json == false`) or JSON recipe of `cookbook::recipe` into its steps.
pub fn parse(
    text: &str,
    path: &Path,
    json: bool,
    cookbook: &str,
    recipe: &str,
) -> Result<Vec<RecipeStep>> {
    if json {
        // Proper JSON diagnostics first; the YAML reader then supplies locations.
        from_json::<serde::de::IgnoredAny>(text, path)?;
    } else {
        reject_multiple_documents(text, path)?;
    }
    let doc: Option<RecipeDoc> = from_yaml(text, path).ok();
    let Some(doc) = doc.filter(|d| d.resources.is_some() || d.include_recipes.is_some()) else {
        // Either the shape is wrong or a value inside is: tell which.
        let top: serde_json::Value = from_yaml(text, path)?;
        if top.is_object()
            && (top.get("resources").is_some() || top.get("include_recipes").is_some())
        {
            from_yaml::<RecipeDoc>(text, path)?;
        }
        return Err(Error::compile_as(
            "ArgumentError",
            SourceLocation::new(path, 1, 1),
            format!(
                "{} recipe '{}' must contain a top-level 'resources' or 'include_recipes' hash (YAML sequence), i.e. 'resources:'",
                if json { "JSON" } else { "YAML" },
                path.display()
            ),
        ));
    };
    let mut steps = Vec::new();
    for entry in doc.resources.unwrap_or_default() {
        let at = location_of(&entry.referenced, path);
        steps.push(RecipeStep::Declare(declaration(
            entry.value,
            at,
            path,
            cookbook,
            recipe,
        )?));
    }
    for include in doc.include_recipes.unwrap_or_default() {
        steps.push(RecipeStep::Include {
            recipe: include.value,
            location: location_of(&include.referenced, path),
        });
    }
    Ok(steps)
}

fn declaration(
    map: SpannedFields,
    at: SourceLocation,
    path: &Path,
    cookbook: &str,
    recipe: &str,
) -> Result<ResourceDecl> {
    let mut kind = None;
    let mut name = None;
    let mut properties = IndexMap::new();
    for (key, spanned) in map {
        let location = location_of(&spanned.referenced, path);
        match key.as_str() {
            "type" => kind = Some(string_field("type", spanned.value, location)?),
            "name" => name = Some(string_field("name", spanned.value, location)?),
            _ => {
                properties.insert(
                    key,
                    PropValue {
                        value: spanned.value,
                        location,
                    },
                );
            }
        }
    }
    let Some(kind) = kind else {
        return Err(Error::compile(
            at,
            "expected a resource to have a `type` (like `type: file`)",
        ));
    };
    let Some(name) = name else {
        return Err(Error::compile(
            at,
            format!("expected the {kind} resource to have a `name`"),
        ));
    };
    Ok(ResourceDecl {
        kind,
        name,
        properties,
        location: at,
        cookbook: cookbook.to_string(),
        recipe: recipe.to_string(),
    })
}

fn string_field(key: &str, value: serde_json::Value, at: SourceLocation) -> Result<String> {
    match value {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        other => Err(Error::compile(
            at,
            format!(
                "expected `{key}` to be a string, got {}",
                crate::repo::config::kind_of(&other)
            ),
        )),
    }
}

fn reject_multiple_documents(text: &str, path: &Path) -> Result<()> {
    let markers: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| *l == "---" || l.starts_with("--- "))
        .map(|(i, _)| i + 1)
        .collect();
    if markers.len() > 1 {
        return Err(Error::compile_as(
            "ArgumentError",
            SourceLocation::new(path, u32::try_from(markers[1]).unwrap_or(0), 1),
            format!(
                "YAML recipe '{}' contains multiple documents, only one is supported",
                path.display()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_yaml(text: &str) -> Result<Vec<RecipeStep>> {
        parse(
            text,
            Path::new("cb/recipes/default.yml"),
            false,
            "cb",
            "default",
        )
    }

    #[test]
    fn resources_come_before_includes_whatever_the_key_order() {
        let steps = parse_yaml(
            "include_recipes:\n  - other\nresources:\n  - type: file\n    name: /tmp/x\n    mode: 0644\n",
        )
        .unwrap();
        let RecipeStep::Declare(d) = &steps[0] else {
            panic!("expected a declaration first");
        };
        assert_eq!((d.kind.as_str(), d.name.as_str()), ("file", "/tmp/x"));
        assert_eq!(d.properties["mode"].value, 420);
        assert_eq!(d.properties["mode"].location.line, 6);
        assert_eq!(d.location.line, 4);
        assert!(matches!(&steps[1], RecipeStep::Include { recipe, .. } if recipe == "other"));
    }

    #[test]
    fn top_level_must_hold_resources_or_include_recipes() {
        let err = parse_yaml("- type: file\n  name: x\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("must contain a top-level 'resources'"),
            "{err}"
        );
        assert_eq!(err.class(), "ArgumentError");
    }

    #[test]
    fn multiple_documents_are_refused() {
        let err = parse_yaml("---\nresources: []\n---\nresources: []\n").unwrap_err();
        assert!(err.to_string().contains("multiple documents"), "{err}");
        assert!(err.to_string().contains(":3:1"), "{err}");
    }

    #[test]
    fn a_resource_without_type_is_located() {
        let err = parse_yaml("resources:\n  - name: x\n").unwrap_err();
        assert!(err.to_string().contains("default.yml:2"), "{err}");
        assert!(err.to_string().contains("`type`"), "{err}");
    }

    #[test]
    fn json_recipes_read_the_same_shape() {
        let steps = parse(
            r#"{"resources": [{"type": "log", "name": "hi"}]}"#,
            Path::new("r.json"),
            true,
            "cb",
            "r",
        )
        .unwrap();
        assert_eq!(steps.len(), 1);
        let err = parse("{\"resources\": [}", Path::new("r.json"), true, "cb", "r").unwrap_err();
        assert!(err.to_string().starts_with("r.json:1:"), "{err}");
    }
}
