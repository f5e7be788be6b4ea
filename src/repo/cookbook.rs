//! A cookbook on disk: its metadata and where its attribute files, recipes, templates and
//! files are.

use crate::error::{Error, Result, SourceLocation};
use crate::node::json_source::JsonSource;
use crate::repo::config::kind_of;
use crate::repo::version::{Constraint, Version};
use indexmap::IndexMap;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A cookbook's metadata (`metadata.json` wins over `metadata.rb`).
#[derive(Debug, Clone)]
pub struct Metadata {
    pub name: String,
    pub version: Version,
    pub description: String,
    /// `depends` in declaration order: name → constraint.
    pub dependencies: IndexMap<String, Constraint>,
    /// Where each dependency was declared, for errors about it.
    pub dependency_locations: IndexMap<String, SourceLocation>,
    /// The metadata file itself.
    pub file: PathBuf,
}

/// A cookbook found in a cookbook path.
#[derive(Debug, Clone)]
pub struct Cookbook {
    pub metadata: Metadata,
    pub root: PathBuf,
}

/// Where a recipe's source is and which front-end reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipeFile {
    Ruby(PathBuf),
    Yaml(PathBuf),
    Json(PathBuf),
}

impl RecipeFile {
    /// The file's path.
    pub fn path(&self) -> &Path {
        match self {
            RecipeFile::Ruby(p) | RecipeFile::Yaml(p) | RecipeFile::Json(p) => p,
        }
    }
}

impl Cookbook {
    /// Loads the cookbook in `root`; `Ok(None)` if the directory has no metadata at all.
    pub fn load(root: &Path) -> Result<Option<Cookbook>> {
        let json = root.join("metadata.json");
        let rb = root.join("metadata.rb");
        let metadata = if json.is_file() {
            Metadata::from_json_file(&json)?
        } else if rb.is_file() {
            Metadata::from_rb_file(&rb)?
        } else {
            return Ok(None);
        };
        if metadata.dependencies.contains_key(&metadata.name) {
            let loc = metadata.dependency_locations[&metadata.name].clone();
            return Err(Error::compile_as(
                "Chef::Exceptions::CookbookDependsOnSelf",
                loc,
                format!("cookbook `{}` depends on itself", metadata.name),
            ));
        }
        Ok(Some(Cookbook {
            metadata,
            root: root.to_path_buf(),
        }))
    }

    /// The cookbook's name.
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// Attribute files in Chef's load order: `attributes/default.rb` (or a root
    /// `attributes.rb`, which wins) first, then every other `attributes/*.rb` sorted by path.
    pub fn attribute_files(&self) -> Result<Vec<PathBuf>> {
        let dir = self.root.join("attributes");
        let mut others = rb_files_sorted(&dir)?;
        let mut ordered = Vec::new();
        let root_file = self.root.join("attributes.rb");
        let default = dir.join("default.rb");
        if root_file.is_file() {
            ordered.push(root_file);
            others.retain(|p| p != &default);
        } else if let Some(i) = others.iter().position(|p| p == &default) {
            ordered.push(others.remove(i));
        }
        ordered.extend(others);
        Ok(ordered)
    }

    /// The `.rb` files of one of the cookbook's directories (`definitions`, `resources`,
    /// `providers`), sorted by path; none when the directory is missing.
    pub fn ruby_files(&self, dir: &str) -> Result<Vec<PathBuf>> {
        rb_files_sorted(&self.root.join(dir))
    }

    /// The attribute file named `name` (`include_attribute "cb::name"`).
    pub fn attribute_file(&self, name: &str) -> Option<PathBuf> {
        let p = self.root.join("attributes").join(format!("{name}.rb"));
        if p.is_file() {
            return Some(p);
        }
        let root_file = self.root.join("attributes.rb");
        (name == "default" && root_file.is_file()).then_some(root_file)
    }

    /// The file for recipe `name`: `recipes/<name>.rb`, else `.yml`/`.yaml` (both present is an
    /// error), else `.json`; for `default`, also the root aliases `recipe.rb|yml|yaml|json`.
    pub fn recipe_file(&self, name: &str) -> Result<Option<RecipeFile>> {
        let dir = self.root.join("recipes");
        if let Some(found) = find_recipe_in(&dir, name)? {
            return Ok(Some(found));
        }
        if name == "default" {
            return find_recipe_in(&self.root, "recipe");
        }
        Ok(None)
    }

    /// Names of every recipe the cookbook has, sorted.
    pub fn recipe_names(&self) -> Result<Vec<String>> {
        let dir = self.root.join("recipes");
        let mut names = Vec::new();
        for entry in read_dir_sorted(&dir)? {
            let (Some(stem), Some(ext)) = (entry.file_stem(), entry.extension()) else {
                continue;
            };
            if matches!(ext.to_str(), Some("rb" | "yml" | "yaml" | "json")) {
                let stem = stem.to_string_lossy().into_owned();
                if !names.contains(&stem) {
                    names.push(stem);
                }
            }
        }
        Ok(names)
    }
}

fn find_recipe_in(dir: &Path, name: &str) -> Result<Option<RecipeFile>> {
    let rb = dir.join(format!("{name}.rb"));
    if rb.is_file() {
        return Ok(Some(RecipeFile::Ruby(rb)));
    }
    let yml = dir.join(format!("{name}.yml"));
    let yaml = dir.join(format!("{name}.yaml"));
    match (yml.is_file(), yaml.is_file()) {
        (true, true) => {
            return Err(Error::compile_as(
                "Chef::Exceptions::AmbiguousYAMLFile",
                SourceLocation::file(&yml),
                format!(
                    "found both {name}.yml and {name}.yaml in {}: keep one",
                    dir.display()
                ),
            ))
        }
        (true, false) => return Ok(Some(RecipeFile::Yaml(yml))),
        (false, true) => return Ok(Some(RecipeFile::Yaml(yaml))),
        (false, false) => {}
    }
    let json = dir.join(format!("{name}.json"));
    Ok(json.is_file().then_some(RecipeFile::Json(json)))
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut paths = Vec::new();
    for entry in entries {
        paths.push(entry.map_err(|e| Error::io(dir, e))?.path());
    }
    paths.sort();
    Ok(paths)
}

fn rb_files_sorted(dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(read_dir_sorted(dir)?
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rb") && p.is_file())
        .collect())
}

impl Metadata {
    fn empty(file: &Path) -> Metadata {
        Metadata {
            name: String::new(),
            version: Version::zero(),
            description: String::new(),
            dependencies: IndexMap::new(),
            dependency_locations: IndexMap::new(),
            file: file.to_path_buf(),
        }
    }

    /// Reads `metadata.json`; an error names the line of the field it is about.
    pub fn from_json_file(path: &Path) -> Result<Metadata> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let source = JsonSource::parse(&text, path)?;
        let at = SourceLocation::file(path);
        let Value::Object(map) = &source.value else {
            return Err(Error::compile(
                at,
                "expected metadata.json to hold an object",
            ));
        };
        let mut m = Metadata::empty(path);
        for (key, value) in map {
            let field = |m: &mut Metadata| -> Result<()> {
                match key.as_str() {
                    "name" => m.name = expect_string(value, key, &at)?,
                    "version" => m.version = parse_version(value, key, &at)?,
                    "description" => m.description = expect_string(value, key, &at)?,
                    "dependencies" => {
                        let Value::Object(deps) = value else {
                            return Err(wrong(&at, key, "an object of name → constraint", value));
                        };
                        for (name, constraint) in deps {
                            expect_string(constraint, key, &at)
                                .and_then(|text| m.add_dependency(name, &text, &at))
                                .map_err(|e| e.at(source.location(&[key, name])))?;
                        }
                    }
                    _ => {}
                }
                Ok(())
            };
            field(&mut m).map_err(|e| match e {
                Error::Compile { ref location, .. } if location.line == 0 => {
                    e.at(source.location(&[key]))
                }
                other => other,
            })?;
        }
        m.require_name()?;
        Ok(m)
    }

    /// Reads `metadata.rb` with the Ruby evaluator.
    pub fn from_rb_file(path: &Path) -> Result<Metadata> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut m = Metadata::empty(path);
        for call in crate::ruby::eval_dsl_calls(path, &text)? {
            let at = &call.location;
            let arg = |i: usize| call.args.get(i);
            match call.method.as_str() {
                "name" => m.name = expect_string(need(arg(0), "name", at)?, "name", at)?,
                "version" => {
                    m.version = parse_version(need(arg(0), "version", at)?, "version", at)?
                }
                "description" => {
                    m.description =
                        expect_string(need(arg(0), "description", at)?, "description", at)?
                }
                "depends" => {
                    let name = expect_string(need(arg(0), "depends", at)?, "depends", at)?;
                    let constraint = match arg(1) {
                        Some(v) => expect_string(v, "depends", at)?,
                        None => ">= 0.0.0".to_string(),
                    };
                    m.add_dependency(&name, &constraint, at)?;
                }
                "long_description"
                | "maintainer"
                | "maintainer_email"
                | "license"
                | "supports"
                | "provides"
                | "chef_version"
                | "ohai_version"
                | "gem"
                | "source_url"
                | "issues_url"
                | "privacy"
                | "eager_load_libraries"
                | "recipe"
                | "attribute"
                | "grouping"
                | "replaces"
                | "conflicts"
                | "suggests"
                | "recommends" => {}
                other => {
                    return Err(Error::compile_as(
                        "NoMethodError",
                        at.clone(),
                        format!("undefined method `{other}` in cookbook metadata"),
                    ))
                }
            }
        }
        m.require_name()?;
        Ok(m)
    }

    fn add_dependency(&mut self, name: &str, constraint: &str, at: &SourceLocation) -> Result<()> {
        let parsed = Constraint::parse(constraint).map_err(|why| {
            Error::compile_as(
                "Chef::Exceptions::InvalidVersionConstraint",
                at.clone(),
                format!("dependency `{name}`: {why}"),
            )
        })?;
        self.dependencies.insert(name.to_string(), parsed);
        self.dependency_locations
            .insert(name.to_string(), at.clone());
        Ok(())
    }

    fn require_name(&self) -> Result<()> {
        if self.name.is_empty() {
            return Err(Error::compile_as(
                "Chef::Exceptions::MetadataNotValid",
                SourceLocation::file(&self.file),
                "cookbook metadata must set `name`",
            ));
        }
        Ok(())
    }
}

fn need<'a>(v: Option<&'a Value>, key: &str, at: &SourceLocation) -> Result<&'a Value> {
    v.ok_or_else(|| Error::compile(at.clone(), format!("`{key}` needs an argument")))
}

fn expect_string(v: &Value, key: &str, at: &SourceLocation) -> Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(wrong(at, key, "a string", other)),
    }
}

fn parse_version(v: &Value, key: &str, at: &SourceLocation) -> Result<Version> {
    let text = expect_string(v, key, at)?;
    Version::parse(&text).map_err(|why| Error::compile(at.clone(), format!("`{key}`: {why}")))
}

fn wrong(at: &SourceLocation, key: &str, what: &str, got: &Value) -> Error {
    Error::compile(
        at.clone(),
        format!("expected `{key}` to be {what}, got {}", kind_of(got)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookbook(files: &[(&str, &str)]) -> (tempfile::TempDir, Cookbook) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let p = dir.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let cb = Cookbook::load(dir.path()).unwrap().unwrap();
        (dir, cb)
    }

    #[test]
    fn attribute_files_default_first_then_sorted() {
        let (_d, cb) = cookbook(&[
            ("metadata.json", r#"{"name":"nd"}"#),
            ("attributes/server.rb", ""),
            ("attributes/client.rb", ""),
            ("attributes/default.rb", ""),
        ]);
        let names: Vec<String> = cb
            .attribute_files()
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["default.rb", "client.rb", "server.rb"]);
    }

    #[test]
    fn root_attributes_rb_wins_over_default() {
        let (_d, cb) = cookbook(&[
            ("metadata.json", r#"{"name":"x"}"#),
            ("attributes.rb", ""),
            ("attributes/default.rb", ""),
            ("attributes/b.rb", ""),
        ]);
        let files = cb.attribute_files().unwrap();
        assert_eq!(files.len(), 2);
        assert!(files[0].ends_with("attributes.rb"));
        assert!(files[1].ends_with("attributes/b.rb"));
    }

    #[test]
    fn rb_recipe_wins_and_yml_yaml_is_ambiguous() {
        let (_d, cb) = cookbook(&[
            ("metadata.json", r#"{"name":"x"}"#),
            ("recipes/a.rb", ""),
            ("recipes/a.yml", ""),
            ("recipes/b.yml", ""),
            ("recipes/b.yaml", ""),
            ("recipes/c.json", ""),
        ]);
        assert!(matches!(
            cb.recipe_file("a").unwrap(),
            Some(RecipeFile::Ruby(_))
        ));
        assert_eq!(
            cb.recipe_file("b").unwrap_err().class(),
            "Chef::Exceptions::AmbiguousYAMLFile"
        );
        assert!(matches!(
            cb.recipe_file("c").unwrap(),
            Some(RecipeFile::Json(_))
        ));
        assert_eq!(cb.recipe_file("nope").unwrap(), None);
    }

    #[test]
    fn root_recipe_alias_is_the_default_recipe() {
        let (_d, cb) = cookbook(&[("metadata.json", r#"{"name":"x"}"#), ("recipe.yml", "")]);
        assert!(matches!(
            cb.recipe_file("default").unwrap(),
            Some(RecipeFile::Yaml(_))
        ));
    }

    #[test]
    fn metadata_json_dependencies_and_missing_name() {
        let (_d, cb) = cookbook(&[(
            "metadata.json",
            r#"{"name":"app","version":"1.2.3","dependencies":{"base":">= 1.0","apt":"~> 2.0"}}"#,
        )]);
        assert_eq!(cb.name(), "app");
        assert_eq!(cb.metadata.version.to_string(), "1.2.3");
        assert_eq!(
            cb.metadata.dependencies.keys().collect::<Vec<_>>(),
            ["base", "apt"]
        );

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("metadata.json"), r#"{"version":"1.0.0"}"#).unwrap();
        let err = Cookbook::load(dir.path()).unwrap_err();
        assert!(err.to_string().contains("must set `name`"), "{err}");
    }

    #[test]
    fn metadata_json_errors_name_the_line_of_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let write = |text: &str| std::fs::write(dir.path().join("metadata.json"), text).unwrap();
        write("{\n  \"name\": \"x\",\n  \"version\": 5\n}\n");
        let err = Cookbook::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("metadata.json:3:14"), "{err}");
        write("{\n  \"name\": \"x\",\n  \"dependencies\": {\n    \"a\": \">= 1.0\",\n    \"b\": 2\n  }\n}\n");
        let err = Cookbook::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("metadata.json:5:10"), "{err}");
        write("{\"name\": \"x\", \"dependencies\": {\"a\": \"bogus\"}}");
        let err = Cookbook::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("metadata.json:1:37"), "{err}");
    }

    #[test]
    fn depending_on_itself_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("metadata.json"),
            r#"{"name":"a","dependencies":{"a":">= 0.0.0"}}"#,
        )
        .unwrap();
        assert!(Cookbook::load(dir.path()).is_err());
    }
}
