//! The node: Chef's attributes by precedence, the run list and its expansion through roles and
//! environments, `-j` JSON, and the node file that persists between local-mode runs.
//!
//! This module computes *what* the node is; reading roles and environments from the chef-repo
//! (which files, which paths) belongs to `crate::repo`.

pub mod attributes;
pub mod environment;
pub mod expand;
pub(crate) mod json_source;
pub mod role;
pub mod run_list;

pub use attributes::{deep_merge_union, Attributes, Level, Map};
pub use environment::Environment;
pub use expand::{expand, Expansion, RecipeEntry, RoleSource};
pub use role::{Role, DEFAULT_ENVIRONMENT};
pub use run_list::{RunList, RunListItem};

use crate::error::{Error, IoContext, Result, SourceLocation};
use json_source::JsonSource;
use serde_json::Value;
use std::io::Write;
use std::path::Path;

/// A node: name, environment, primary run list and attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The node name (`-N`, else the fqdn).
    pub name: String,
    /// The environment name (`_default` unless `-E` or `-j` says otherwise).
    pub chef_environment: String,
    /// The primary run list (the one saved with the node).
    pub run_list: RunList,
    /// The ten precedence components.
    pub attributes: Attributes,
    /// Automatic keys set by the last expansion (`recipes`, `expanded_run_list`, `roles`); kept
    /// when fresh Ohai data replaces the automatic component.
    pub expansion_automatic: Map,
}

impl Node {
    /// An empty node in the `_default` environment.
    pub fn new(name: &str) -> Node {
        Node {
            name: name.to_string(),
            chef_environment: DEFAULT_ENVIRONMENT.to_string(),
            run_list: RunList::default(),
            attributes: Attributes::default(),
            expansion_automatic: Map::new(),
        }
    }

    /// Loads a node saved by a previous run (Chef's node JSON: name, chef_environment,
    /// json_class, chef_type, normal, automatic, default, override, run_list); Ok(None) if the
    /// file does not exist. Only normal and run_list (and chef_environment) are kept, as Chef
    /// local mode does.
    pub fn load(path: &Path) -> Result<Option<Node>> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(Error::io(path, err)),
        };
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Node::from_saved_json(&text, path, &stem).map(Some)
    }

    /// A saved node from its JSON text (a file's, or a Chef server's answer named by `source`);
    /// `fallback_name` is used when the JSON has no `name`.
    pub fn from_saved_json(text: &str, source: &Path, fallback_name: &str) -> Result<Node> {
        let src = JsonSource::parse(text, source)?;
        src.object("the node")?;
        let mut node = Node::new(
            &src.optional_string("name")?
                .unwrap_or_else(|| fallback_name.to_string()),
        );
        if let Some(env) = src.optional_string("chef_environment")? {
            node.chef_environment = env;
        }
        node.run_list = role::run_list_at(&src, &["run_list"])?.unwrap_or_default();
        *node.attributes.component_mut(Level::Normal) = src.optional_object("normal")?;
        Ok(node)
    }

    /// Writes the node JSON atomically (temp file in the same dir, fsync, rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(dir).with_path(dir)?;
        let mut text = serde_json::to_string_pretty(&self.to_json())
            .map_err(|err| Error::io(path, std::io::Error::other(err)))?;
        text.push('\n');
        let mut temp = tempfile::Builder::new()
            .prefix(".node-")
            .tempfile_in(dir)
            .with_path(dir)?;
        temp.write_all(text.as_bytes()).with_path(temp.path())?;
        set_saved_mode(temp.as_file(), path)?;
        temp.as_file().sync_all().with_path(temp.path())?;
        temp.persist(path)
            .map_err(|err| Error::io(path, err.error))?;
        // The rename is durable only once the directory entry is.
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .with_path(dir)
    }

    /// The node as Chef serialises it (`nodes/<name>.json`).
    pub fn to_json(&self) -> Value {
        let attrs = &self.attributes;
        serde_json::json!({
            "name": self.name,
            "chef_environment": self.chef_environment,
            "json_class": "Chef::Node",
            "automatic": attrs.component(Level::Automatic),
            "normal": attrs.component(Level::Normal),
            "chef_type": "node",
            "default": attrs.combined_default(),
            "override": attrs.combined_override(),
            "run_list": self.run_list.to_strings(),
        })
    }

    /// -j: run_list or recipes replaces the run list (both → AmbiguousRunlistSpecification),
    /// chef_environment sets the environment, every other key is deep_merge_union-ed into
    /// normal.
    pub fn consume_json(&mut self, json: &Value, source: &Path) -> Result<()> {
        self.consume_located(json, &|_| SourceLocation::file(source))
    }

    /// [`Node::consume_json`] from the file's text, so errors point at the offending value.
    pub fn consume_json_text(&mut self, text: &str, source: &Path) -> Result<()> {
        let doc = json_source::JsonSource::parse(text, source)?;
        self.consume_located(&doc.value, &|keys| doc.location(keys))
    }

    fn consume_located(
        &mut self,
        json: &Value,
        locate: &dyn Fn(&[&str]) -> SourceLocation,
    ) -> Result<()> {
        let at = || locate(&[]);
        let Some(object) = json.as_object() else {
            return Err(Error::compile(
                at(),
                "expected the JSON attributes to be an object",
            ));
        };
        if object.contains_key("run_list") && object.contains_key("recipes") {
            return Err(Error::compile_as(
                "Chef::Exceptions::AmbiguousRunlistSpecification",
                at(),
                "please set the node's run list using the 'run_list' attribute only.",
            ));
        }
        let mut rest = object.clone();
        for key in ["run_list", "recipes"] {
            if let Some(list) = rest.shift_remove(key).filter(|v| !v.is_null()) {
                self.run_list = json_run_list(&list, key, locate)?;
            }
        }
        if let Some(env) = rest.shift_remove("chef_environment") {
            match env {
                Value::String(env) => self.chef_environment = env,
                _ => {
                    return Err(Error::compile(
                        locate(&["chef_environment"]),
                        "expected `chef_environment` to be a string",
                    ))
                }
            }
        }
        let normal = self.attributes.component_mut(Level::Normal);
        let mut merged = Value::Object(std::mem::take(normal));
        deep_merge_union(&mut merged, &Value::Object(rest));
        if let Value::Object(map) = merged {
            *normal = map;
        }
        self.coerce_tags();
        Ok(())
    }

    /// env_default/env_override from the environment (`_default` is empty).
    pub fn apply_environment(&mut self, env: &Environment) {
        let (defaults, overrides) = if env.is_default() {
            (Map::new(), Map::new())
        } else {
            (
                env.default_attributes.clone(),
                env.override_attributes.clone(),
            )
        };
        *self.attributes.component_mut(Level::EnvDefault) = defaults;
        *self.attributes.component_mut(Level::EnvOverride) = overrides;
    }

    /// role_default/role_override from the expansion, and the automatic `roles`, `recipes`
    /// (both `cb` and `cb::default` spellings as Chef), `expanded_run_list`.
    pub fn apply_expansion(&mut self, expansion: &Expansion) {
        *self.attributes.component_mut(Level::RoleDefault) = expansion.default_attributes.clone();
        *self.attributes.component_mut(Level::RoleOverride) = expansion.override_attributes.clone();
        let recipes: Vec<String> = expansion
            .recipes
            .iter()
            .flat_map(|r| {
                if r.name.contains("::") {
                    vec![r.name.clone()]
                } else {
                    vec![r.name.clone(), format!("{}::default", r.name)]
                }
            })
            .collect();
        let expanded: Vec<String> = expansion
            .recipes
            .iter()
            .map(RecipeEntry::fully_qualified)
            .collect();
        let mut extra = Map::new();
        extra.insert("recipes".into(), Value::from(recipes));
        extra.insert("expanded_run_list".into(), Value::from(expanded));
        extra.insert("roles".into(), Value::from(expansion.roles.clone()));
        self.expansion_automatic = extra;
        self.refresh_automatic();
    }

    /// Sets the automatic component (Ohai data) plus Chef's own keys (`name`,
    /// `chef_environment`).
    pub fn set_automatic(&mut self, ohai: Map) {
        *self.attributes.component_mut(Level::Automatic) = ohai;
        self.refresh_automatic();
    }

    /// The node's tags (`normal['tags']`).
    pub fn tags(&self) -> Vec<String> {
        self.attributes
            .read_level(Level::Normal, &["tags"])
            .and_then(|tags| serde_json::from_value(tags).ok())
            .unwrap_or_default()
    }

    /// Adds tags not already present.
    pub fn tag(&mut self, tags: &[&str]) {
        self.coerce_tags();
        let mut current = self.tags();
        for tag in tags {
            if !current.iter().any(|t| t == tag) {
                current.push(tag.to_string());
            }
        }
        self.write_tags(current);
    }

    /// Removes tags.
    pub fn untag(&mut self, tags: &[&str]) {
        self.coerce_tags();
        let current = self
            .tags()
            .into_iter()
            .filter(|t| !tags.contains(&t.as_str()))
            .collect();
        self.write_tags(current);
    }

    fn write_tags(&mut self, tags: Vec<String>) {
        self.attributes
            .component_mut(Level::Normal)
            .insert("tags".into(), Value::from(tags));
    }

    /// Chef keeps `normal['tags']` an array: absent/null → [], a scalar → [scalar].
    fn coerce_tags(&mut self) {
        let normal = self.attributes.component_mut(Level::Normal);
        let coerced = match normal.get("tags") {
            None | Some(Value::Null) => Value::Array(Vec::new()),
            Some(Value::Array(_)) => return,
            Some(Value::Object(map)) => Value::Array(
                map.iter()
                    .map(|(k, v)| Value::Array(vec![Value::from(k.as_str()), v.clone()]))
                    .collect(),
            ),
            Some(other) => Value::Array(vec![other.clone()]),
        };
        normal.insert("tags".into(), coerced);
    }

    fn refresh_automatic(&mut self) {
        let name = Value::from(self.name.as_str());
        let env = Value::from(self.chef_environment.as_str());
        let extra = self.expansion_automatic.clone();
        let automatic = self.attributes.component_mut(Level::Automatic);
        automatic.insert("name".into(), name);
        automatic.insert("chef_environment".into(), env);
        automatic.extend(extra);
    }
}

fn json_run_list(
    list: &Value,
    key: &str,
    locate: &dyn Fn(&[&str]) -> SourceLocation,
) -> Result<RunList> {
    let expected = |at: SourceLocation| {
        Error::compile(at, format!("expected `{key}` to be an array of strings"))
    };
    let items = list.as_array().ok_or_else(|| expected(locate(&[key])))?;
    let mut parsed = RunList::default();
    for (i, item) in items.iter().enumerate() {
        let index = i.to_string();
        let at = locate(&[key, &index]);
        let text = item.as_str().ok_or_else(|| expected(at.clone()))?;
        let entry = RunListItem::parse(text)
            .map_err(|err| Error::compile_as("ArgumentError", at.clone(), err.to_string()))?;
        parsed.push_at(entry, Some(at));
    }
    Ok(parsed)
}

/// A new node file gets 0644 like Chef's; an existing one keeps its mode.
fn set_saved_mode(file: &std::fs::File, path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).map_or(0o644, |m| m.permissions().mode() & 0o7777);
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .with_path(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn j(node: &mut Node, value: Value) -> Result<()> {
        node.consume_json(&value, Path::new("node.json"))
    }

    #[test]
    fn a5_json_run_list_replaces_the_run_list() {
        let mut node = Node::new("n");
        node.run_list = RunList::from_strings(&["old"]).unwrap();
        j(&mut node, json!({"run_list": ["role[a]", "b", "b"]})).unwrap();
        assert_eq!(node.run_list.to_strings(), ["role[a]", "recipe[b]"]);
        j(&mut node, json!({"recipes": ["c"]})).unwrap();
        assert_eq!(node.run_list.to_strings(), ["recipe[c]"]);
        assert_eq!(node.attributes.read(&["run_list"]), None);
    }

    #[test]
    fn a5_run_list_and_recipes_together_are_ambiguous() {
        let mut node = Node::new("n");
        let err = j(&mut node, json!({"run_list": [], "recipes": []})).unwrap_err();
        assert_eq!(
            err.class(),
            "Chef::Exceptions::AmbiguousRunlistSpecification"
        );
    }

    #[test]
    fn a5_json_chef_environment_wins_over_cli() {
        let mut node = Node::new("n");
        node.chef_environment = "staging".into();
        j(&mut node, json!({"chef_environment": "prod"})).unwrap();
        assert_eq!(node.chef_environment, "prod");
        assert_eq!(node.attributes.read(&["chef_environment"]), None);
    }

    #[test]
    fn a5_other_keys_union_into_normal_even_default_and_override() {
        let mut node = Node::new("n");
        node.attributes
            .set(Level::Normal, &["x"], json!([1, 2]))
            .unwrap();
        j(
            &mut node,
            json!({"x": [3, 1], "default": {"x": 1}, "override": {"y": 2}}),
        )
        .unwrap();
        let attrs = &node.attributes;
        assert_eq!(attrs.read(&["x"]), Some(json!([1, 2, 3])));
        assert_eq!(attrs.read(&["default"]), Some(json!({"x": 1})));
        assert_eq!(
            attrs.read_level(Level::Normal, &["override", "y"]),
            Some(json!(2))
        );
        assert!(attrs.component(Level::Default).is_empty());
        assert_eq!(attrs.read(&["tags"]), Some(json!([])));
    }

    #[test]
    fn a5_bad_json_shapes_are_errors() {
        let mut node = Node::new("n");
        assert!(j(&mut node, json!([1])).is_err());
        assert!(j(&mut node, json!({"run_list": "a"})).is_err());
        let err = j(&mut node, json!({"run_list": ["role[x"]})).unwrap_err();
        assert_eq!(err.class(), "ArgumentError");
        assert!(j(&mut node, json!({"chef_environment": 1})).is_err());
    }

    #[test]
    fn a6_default_environment_contributes_nothing() {
        let mut node = Node::new("n");
        let mut env = Environment::default_env();
        env.default_attributes.insert("a".into(), json!(1));
        node.apply_environment(&env);
        assert_eq!(node.attributes.read(&["a"]), None);
        env.name = "prod".into();
        node.apply_environment(&env);
        assert_eq!(node.attributes.read(&["a"]), Some(json!(1)));
    }

    #[test]
    fn a7_expansion_sets_role_levels_and_automatic_keys() {
        let mut node = Node::new("web1");
        let expansion = Expansion {
            recipes: vec![
                RecipeEntry {
                    name: "a".into(),
                    version: Some("1.0".into()),
                    origin: None,
                },
                RecipeEntry {
                    name: "b::x".into(),
                    version: None,
                    origin: None,
                },
            ],
            roles: vec!["web".into()],
            default_attributes: json!({"d": 1}).as_object().unwrap().clone(),
            override_attributes: json!({"o": 1}).as_object().unwrap().clone(),
        };
        node.apply_expansion(&expansion);
        node.set_automatic(json!({"os": "linux"}).as_object().unwrap().clone());
        let attrs = &node.attributes;
        assert_eq!(attrs.read_level(Level::RoleDefault, &["d"]), Some(json!(1)));
        assert_eq!(
            attrs.read_level(Level::RoleOverride, &["o"]),
            Some(json!(1))
        );
        assert_eq!(
            Value::Object(attrs.component(Level::Automatic).clone()),
            json!({"os": "linux", "name": "web1", "chef_environment": "_default",
                   "recipes": ["a", "a::default", "b::x"],
                   "expanded_run_list": ["a::default@1.0", "b::x"], "roles": ["web"]})
        );
    }

    #[test]
    fn a3_tags_are_an_array_in_normal() {
        let mut node = Node::new("n");
        node.attributes
            .set(Level::Normal, &["tags"], json!("one"))
            .unwrap();
        node.tag(&["two", "one"]);
        assert_eq!(node.tags(), ["one", "two"]);
        node.untag(&["one"]);
        assert_eq!(node.attributes.read(&["tags"]), Some(json!(["two"])));
    }

    #[test]
    fn a4_save_and_load_keep_normal_run_list_and_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nodes/web1.json");
        assert!(Node::load(&path).unwrap().is_none());
        let mut node = Node::new("web1");
        node.chef_environment = "prod".into();
        node.run_list = RunList::from_strings(&["role[web]", "cb@1.0"]).unwrap();
        node.attributes
            .set(Level::Normal, &["n"], json!({"k": [1]}))
            .unwrap();
        node.attributes
            .set(Level::Default, &["d"], json!(1))
            .unwrap();
        node.attributes
            .set(Level::Override, &["o"], json!(2))
            .unwrap();
        node.set_automatic(json!({"os": "linux"}).as_object().unwrap().clone());
        node.save(&path).unwrap();

        let saved: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let keys: Vec<&String> = saved.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "name",
                "chef_environment",
                "json_class",
                "automatic",
                "normal",
                "chef_type",
                "default",
                "override",
                "run_list"
            ]
        );
        assert_eq!(saved["default"], json!({"d": 1}));
        assert_eq!(saved["run_list"], json!(["role[web]", "recipe[cb@1.0]"]));

        let loaded = Node::load(&path).unwrap().unwrap();
        assert_eq!(loaded.name, "web1");
        assert_eq!(loaded.chef_environment, "prod");
        assert_eq!(loaded.run_list, node.run_list);
        assert_eq!(loaded.attributes.read(&["n"]), Some(json!({"k": [1]})));
        assert_eq!(loaded.attributes.read(&["d"]), None);
        assert_eq!(loaded.attributes.read(&["os"]), None);

        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        let leftovers = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(leftovers, 1);
    }

    #[test]
    fn a4_load_errors_name_the_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.json");
        std::fs::write(&path, "{\n  \"normal\": [1]\n}").unwrap();
        let err = Node::load(&path).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("n.json:2:13: expected `normal` to be an object"),
            "{err}"
        );
        std::fs::write(&path, "{\"name\": \"x\"}").unwrap();
        assert_eq!(Node::load(&path).unwrap().unwrap().name, "x");
    }
}
