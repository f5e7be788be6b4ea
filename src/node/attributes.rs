//! Node attributes: Chef's ten precedence components and the merged view computed from them.
//!
//! Each component is a plain JSON tree. Reading never changes a component; the merged view is
//! computed on demand per top-level key, the way Chef's `Node::Attribute` does: the four default
//! components are folded with an array-unioning deep merge, so are the four override components,
//! and then default group, `normal`, override group and `automatic` are folded with a hash-only
//! deep merge (arrays replace).

use serde_json::Value;

/// One attribute tree (a JSON object).
pub type Map = serde_json::Map<String, Value>;

/// One of the ten precedence components, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    /// `default[...]` from attribute files and recipes.
    Default,
    /// The environment's `default_attributes`.
    EnvDefault,
    /// The merged `default_attributes` of the expanded roles.
    RoleDefault,
    /// `force_default[...]` from attribute files and recipes.
    ForceDefault,
    /// `normal[...]`, `-j` JSON and the persisted node.
    Normal,
    /// `override[...]` from attribute files and recipes.
    Override,
    /// The merged `override_attributes` of the expanded roles.
    RoleOverride,
    /// The environment's `override_attributes`.
    EnvOverride,
    /// `force_override[...]` from attribute files and recipes.
    ForceOverride,
    /// Ohai data and the keys Chef sets itself.
    Automatic,
}

/// The default group, in merge order (environment before role: role defaults win).
const DEFAULT_GROUP: [Level; 4] = [
    Level::Default,
    Level::EnvDefault,
    Level::RoleDefault,
    Level::ForceDefault,
];

/// The override group, in merge order (role before environment: environment overrides win).
const OVERRIDE_GROUP: [Level; 4] = [
    Level::Override,
    Level::RoleOverride,
    Level::EnvOverride,
    Level::ForceOverride,
];

impl Level {
    /// Every level, lowest precedence first.
    pub const ALL: [Level; 10] = [
        Level::Default,
        Level::EnvDefault,
        Level::RoleDefault,
        Level::ForceDefault,
        Level::Normal,
        Level::Override,
        Level::RoleOverride,
        Level::EnvOverride,
        Level::ForceOverride,
        Level::Automatic,
    ];

    /// The level named as in Chef (`"force_default"`), or `None`.
    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|level| level.as_str() == s)
    }

    /// Chef's name of the level (`"role_override"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Default => "default",
            Level::EnvDefault => "env_default",
            Level::RoleDefault => "role_default",
            Level::ForceDefault => "force_default",
            Level::Normal => "normal",
            Level::Override => "override",
            Level::RoleOverride => "role_override",
            Level::EnvOverride => "env_override",
            Level::ForceOverride => "force_override",
            Level::Automatic => "automatic",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The ten attribute components of a node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attributes {
    components: [Map; 10],
}

impl Attributes {
    /// The component of one level.
    pub fn component(&self, level: Level) -> &Map {
        &self.components[level.index()]
    }

    /// The component of one level, for writing.
    pub fn component_mut(&mut self, level: Level) -> &mut Map {
        &mut self.components[level.index()]
    }

    /// node.<level>[path] = value, autovivifying intermediate maps. Err (message) when an
    /// intermediate is not a map.
    pub fn set<S: AsRef<str>>(
        &mut self,
        level: Level,
        path: &[S],
        value: Value,
    ) -> Result<(), String> {
        write_path(self.component_mut(level), level, path, value)
    }

    /// default_unless / normal_unless / override_unless: writes only if that same level has no
    /// value (nil) there; returns whether it wrote.
    pub fn set_unless<S: AsRef<str>>(
        &mut self,
        level: Level,
        path: &[S],
        value: Value,
    ) -> Result<bool, String> {
        // Chef looks only at the same component: other levels holding a value do not matter.
        match self.read_level(level, path) {
            Some(existing) if !existing.is_null() => Ok(false),
            _ => self.set(level, path, value).map(|()| true),
        }
    }

    /// default! / normal! / override!: replace that level's subtree.
    pub fn replace<S: AsRef<str>>(
        &mut self,
        level: Level,
        path: &[S],
        value: Value,
    ) -> Result<(), String> {
        // Assignment already replaces the subtree of one component; the other components keep
        // merging in, exactly as with `default!`.
        self.set(level, path, value)
    }

    /// force_default! / force_override!: clear the path from the whole default (override)
    /// group, then write the force level.
    pub fn force_replace<S: AsRef<str>>(
        &mut self,
        level: Level,
        path: &[S],
        value: Value,
    ) -> Result<(), String> {
        match level {
            Level::ForceDefault => {
                self.rm_default(path);
            }
            Level::ForceOverride => {
                self.rm_override(path);
            }
            other => {
                return Err(format!(
                    "{}! does not exist: only force_default! and force_override! clear a group",
                    other.as_str()
                ))
            }
        }
        self.set(level, path, value)
    }

    /// rm: deletes the path from the default group, normal and the override group (not
    /// automatic); returns the merged value it had.
    pub fn rm<S: AsRef<str>>(&mut self, path: &[S]) -> Option<Value> {
        let before = self.read(path);
        self.rm_default(path);
        self.rm_normal(path);
        self.rm_override(path);
        before
    }

    /// rm_default: deletes the path from the four default components; returns their combined
    /// value.
    pub fn rm_default<S: AsRef<str>>(&mut self, path: &[S]) -> Option<Value> {
        self.rm_group(&DEFAULT_GROUP, path)
    }

    /// rm_normal: deletes the path from normal; returns the value it had.
    pub fn rm_normal<S: AsRef<str>>(&mut self, path: &[S]) -> Option<Value> {
        unlink_path(self.component_mut(Level::Normal), path)
    }

    /// rm_override: deletes the path from the four override components; returns their combined
    /// value.
    pub fn rm_override<S: AsRef<str>>(&mut self, path: &[S]) -> Option<Value> {
        self.rm_group(&OVERRIDE_GROUP, path)
    }

    /// The merged view at path: None when absent, Some(Value::Null) when explicitly null.
    pub fn read<S: AsRef<str>>(&self, path: &[S]) -> Option<Value> {
        let Some((first, rest)) = path.split_first() else {
            return Some(self.merged());
        };
        let top = self.merged_key(first.as_ref())?;
        descend(&top, rest).cloned()
    }

    /// A level's own value at path (what `default['a']` reads in an attribute file).
    pub fn read_level<S: AsRef<str>>(&self, level: Level, path: &[S]) -> Option<Value> {
        lookup(self.component(level), path).cloned()
    }

    /// A level's value at path as `node.default['a']['b']` reads it in Ruby: each missing key
    /// on the way is created as an empty map (Chef's autovivification side effect); a non-map
    /// on the way stops the walk with None.
    pub fn read_level_autovivify<S: AsRef<str>>(
        &mut self,
        level: Level,
        path: &[S],
    ) -> Option<Value> {
        let Some((last, parents)) = path.split_last() else {
            return Some(Value::Object(self.component(level).clone()));
        };
        let mut current = self.component_mut(level);
        for key in parents {
            current = current
                .entry(key.as_ref())
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()?;
        }
        Some(
            current
                .entry(last.as_ref())
                .or_insert_with(|| Value::Object(Map::new()))
                .clone(),
        )
    }

    /// The whole merged tree (an object), what templates see as `node`.
    pub fn merged(&self) -> Value {
        let mut out = Value::Object(Map::new());
        for key in self.top_level_keys() {
            if let (Some(value), Value::Object(map)) = (self.merged_key(&key), &mut out) {
                map.insert(key, value);
            }
        }
        out
    }

    /// The four default components merged (what a saved node lists as `default`).
    pub fn combined_default(&self) -> Map {
        self.combined_group(&DEFAULT_GROUP)
    }

    /// The four override components merged (what a saved node lists as `override`).
    pub fn combined_override(&self) -> Map {
        self.combined_group(&OVERRIDE_GROUP)
    }

    fn combined_group(&self, group: &[Level]) -> Map {
        let mut out = Value::Object(Map::new());
        for level in group {
            deep_merge_union(&mut out, &Value::Object(self.component(*level).clone()));
        }
        match out {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    /// Keys in the order the merged view lists them: default group, normal, override group,
    /// automatic, each key at its first appearance.
    fn top_level_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = Vec::new();
        for level in Level::ALL {
            for key in self.component(level).keys() {
                if !keys.contains(key) {
                    keys.push(key.clone());
                }
            }
        }
        keys
    }

    /// The merged value of one top-level key, or None when no component has it.
    fn merged_key(&self, key: &str) -> Option<Value> {
        let defaults = self.fold_group(&DEFAULT_GROUP, key);
        let overrides = self.fold_group(&OVERRIDE_GROUP, key);
        let layers = [
            defaults,
            self.component(Level::Normal).get(key).cloned(),
            overrides,
            self.component(Level::Automatic).get(key).cloned(),
        ];
        fold(layers.iter().flatten(), false)
    }

    fn fold_group(&self, group: &[Level], key: &str) -> Option<Value> {
        fold(
            group
                .iter()
                .filter_map(|level| self.component(*level).get(key)),
            true,
        )
    }

    fn read_group<S: AsRef<str>>(&self, group: &[Level], path: &[S]) -> Option<Value> {
        let (first, rest) = path.split_first()?;
        let top = self.fold_group(group, first.as_ref())?;
        descend(&top, rest).cloned()
    }

    fn rm_group<S: AsRef<str>>(&mut self, group: &[Level], path: &[S]) -> Option<Value> {
        let before = self.read_group(group, path);
        for level in group {
            unlink_path(self.component_mut(*level), path);
        }
        before
    }
}

/// The role-style deep merge (maps merged, arrays unioned, scalars replaced, null replaces)
/// used for -j into normal and for accumulating role attributes.
pub fn deep_merge_union(onto: &mut Value, with: &Value) {
    merge_into(onto, with, true);
}

/// The hash-only deep merge used between the default group, normal, the override group and
/// automatic: maps merged, everything else (arrays too) replaced.
pub fn deep_merge_hash_only(onto: &mut Value, with: &Value) {
    merge_into(onto, with, false);
}

/// Folds values low to high; None when there is nothing to fold (the path is absent).
fn fold<'a>(values: impl Iterator<Item = &'a Value>, union_arrays: bool) -> Option<Value> {
    let mut acc: Option<Value> = None;
    for value in values {
        match acc.as_mut() {
            None => acc = Some(value.clone()),
            Some(onto) => merge_into(onto, value, union_arrays),
        }
    }
    acc
}

fn merge_into(onto: &mut Value, with: &Value, union_arrays: bool) {
    match (onto, with) {
        (Value::Object(onto_map), Value::Object(with_map)) => {
            for (key, with_value) in with_map {
                match onto_map.get_mut(key) {
                    Some(onto_value) => merge_into(onto_value, with_value, union_arrays),
                    None => {
                        onto_map.insert(key.clone(), with_value.clone());
                    }
                }
            }
        }
        (Value::Array(onto_items), Value::Array(with_items)) if union_arrays => {
            *onto_items = array_union(onto_items, with_items);
        }
        (onto, with) => *onto = with.clone(),
    }
}

/// Ruby's `Array#|`: the elements of both, first occurrence kept, duplicates from either side
/// dropped.
fn array_union(onto: &[Value], with: &[Value]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(onto.len() + with.len());
    for item in onto.iter().chain(with) {
        if !out.contains(item) {
            out.push(item.clone());
        }
    }
    out
}

/// Walks down maps; None when a key is missing or an intermediate is not a map.
fn descend<'a, S: AsRef<str>>(value: &'a Value, path: &[S]) -> Option<&'a Value> {
    path.iter()
        .try_fold(value, |current, key| current.as_object()?.get(key.as_ref()))
}

fn lookup<'a, S: AsRef<str>>(map: &'a Map, path: &[S]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    descend(map.get(first.as_ref())?, rest)
}

fn write_path<S: AsRef<str>>(
    map: &mut Map,
    level: Level,
    path: &[S],
    value: Value,
) -> Result<(), String> {
    let Some((last, parents)) = path.split_last() else {
        return match value {
            Value::Object(new_map) => {
                *map = new_map;
                Ok(())
            }
            other => Err(format!(
                "node.{} can only be replaced by a Hash, not {}",
                level.as_str(),
                ruby_class(&other)
            )),
        };
    };
    let mut current = map;
    for (depth, key) in parents.iter().enumerate() {
        let entry = current
            .entry(key.as_ref())
            .or_insert_with(|| Value::Object(Map::new()));
        match entry {
            Value::Object(next) => current = next,
            other => {
                return Err(format!(
                    "cannot set {}: {} is {}, not a Hash",
                    render_path(level, path),
                    render_path(level, &path[..=depth]),
                    ruby_class(other)
                ))
            }
        }
    }
    current.insert(last.as_ref().to_string(), value);
    Ok(())
}

/// Removes the last key of path; parent maps stay, even when left empty (as in Chef).
fn unlink_path<S: AsRef<str>>(map: &mut Map, path: &[S]) -> Option<Value> {
    let (last, parents) = path.split_last()?;
    let mut current = map;
    for key in parents {
        current = current.get_mut(key.as_ref())?.as_object_mut()?;
    }
    current.shift_remove(last.as_ref())
}

/// `node.default['a']['b']`, for messages.
fn render_path<S: AsRef<str>>(level: Level, path: &[S]) -> String {
    let keys: String = path
        .iter()
        .map(|key| format!("['{}']", key.as_ref()))
        .collect();
    format!("node.{}{keys}", level.as_str())
}

/// The Ruby class a Chef user would see for this value.
fn ruby_class(value: &Value) -> &'static str {
    match value {
        Value::Null => "nil",
        Value::Bool(true) => "true",
        Value::Bool(false) => "false",
        Value::Number(n) if n.is_f64() => "a Float",
        Value::Number(_) => "an Integer",
        Value::String(_) => "a String",
        Value::Array(_) => "an Array",
        Value::Object(_) => "a Hash",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs_with(writes: &[(Level, &[&str], Value)]) -> Attributes {
        let mut attrs = Attributes::default();
        for (level, path, value) in writes {
            attrs.set(*level, path, value.clone()).unwrap();
        }
        attrs
    }

    #[test]
    fn level_names_round_trip() {
        for level in Level::ALL {
            assert_eq!(Level::parse(level.as_str()), Some(level));
        }
        assert_eq!(Level::parse("forced_default"), None);
    }

    #[test]
    fn a1_default_sub_order_cookbook_env_role_force() {
        let mut attrs = attrs_with(&[
            (Level::Default, &["a"], json!("cookbook")),
            (Level::EnvDefault, &["a"], json!("env")),
        ]);
        assert_eq!(attrs.read(&["a"]), Some(json!("env")));
        attrs
            .set(Level::RoleDefault, &["a"], json!("role"))
            .unwrap();
        assert_eq!(attrs.read(&["a"]), Some(json!("role")));
        attrs
            .set(Level::ForceDefault, &["a"], json!("force"))
            .unwrap();
        assert_eq!(attrs.read(&["a"]), Some(json!("force")));
    }

    #[test]
    fn a1_override_sub_order_cookbook_role_env_force() {
        let mut attrs = attrs_with(&[
            (Level::Override, &["o"], json!("cookbook")),
            (Level::EnvOverride, &["o"], json!("env")),
            (Level::RoleOverride, &["o"], json!("role")),
        ]);
        assert_eq!(attrs.read(&["o"]), Some(json!("env")));
        attrs
            .set(Level::ForceOverride, &["o"], json!("force"))
            .unwrap();
        assert_eq!(attrs.read(&["o"]), Some(json!("force")));
    }

    #[test]
    fn a1_groups_order_default_normal_override_automatic() {
        let mut attrs = attrs_with(&[
            (Level::ForceDefault, &["k"], json!(1)),
            (Level::Normal, &["k"], json!(2)),
        ]);
        assert_eq!(attrs.read(&["k"]), Some(json!(2)));
        attrs.set(Level::Override, &["k"], json!(3)).unwrap();
        assert_eq!(attrs.read(&["k"]), Some(json!(3)));
        attrs.set(Level::Automatic, &["k"], json!(4)).unwrap();
        assert_eq!(attrs.read(&["k"]), Some(json!(4)));
    }

    #[test]
    fn a2_arrays_union_within_default_group() {
        let attrs = attrs_with(&[
            (Level::Default, &["x"], json!([1, 2, 3])),
            (Level::RoleDefault, &["x"], json!([4, 5, 6])),
            (Level::EnvDefault, &["e"], json!(["env"])),
            (Level::RoleDefault, &["e"], json!(["role"])),
        ]);
        assert_eq!(attrs.read(&["x"]), Some(json!([1, 2, 3, 4, 5, 6])));
        assert_eq!(attrs.read(&["e"]), Some(json!(["env", "role"])));
    }

    #[test]
    fn a2_arrays_union_within_override_group() {
        let attrs = attrs_with(&[
            (Level::EnvOverride, &["x"], json!(["env"])),
            (Level::RoleOverride, &["x"], json!(["role"])),
        ]);
        assert_eq!(attrs.read(&["x"]), Some(json!(["role", "env"])));
    }

    #[test]
    fn a2_arrays_replace_between_groups() {
        let attrs = attrs_with(&[
            (Level::RoleDefault, &["a"], json!(["role"])),
            (Level::Normal, &["a"], json!(["normal"])),
            (Level::Default, &["b"], json!([1, 2, 3])),
            (Level::Override, &["b"], json!([4, 5, 6])),
        ]);
        assert_eq!(attrs.read(&["a"]), Some(json!(["normal"])));
        assert_eq!(attrs.read(&["b"]), Some(json!([4, 5, 6])));
    }

    #[test]
    fn a2_duplicates_collapse_only_when_a_union_happens() {
        let attrs = attrs_with(&[
            (Level::Default, &["u"], json!([1, 1, 2])),
            (Level::RoleDefault, &["u"], json!([2, 3, 3])),
            (Level::Default, &["only"], json!([1, 1, 2])),
        ]);
        assert_eq!(attrs.read(&["u"]), Some(json!([1, 2, 3])));
        assert_eq!(attrs.read(&["only"]), Some(json!([1, 1, 2])));
    }

    #[test]
    fn a2_nested_arrays_are_union_elements_not_merged() {
        let attrs = attrs_with(&[
            (Level::Default, &["x"], json!([[1, 2]])),
            (Level::RoleDefault, &["x"], json!([[3], [1, 2]])),
        ]);
        assert_eq!(attrs.read(&["x"]), Some(json!([[1, 2], [3]])));
    }

    #[test]
    fn a2_map_replaces_array_and_array_replaces_map() {
        let attrs = attrs_with(&[
            (Level::Default, &["x"], json!([1])),
            (Level::RoleDefault, &["x"], json!({"k": 1})),
            (Level::Default, &["y"], json!({"k": 1})),
            (Level::Override, &["y"], json!([1])),
        ]);
        assert_eq!(attrs.read(&["x"]), Some(json!({"k": 1})));
        assert_eq!(attrs.read(&["y"]), Some(json!([1])));
    }

    #[test]
    fn a2_explicit_null_masks_lower_levels() {
        let attrs = attrs_with(&[
            (Level::Default, &["foo"], json!("bar")),
            (Level::Override, &["foo"], Value::Null),
            (Level::Default, &["baz"], json!("bar")),
            (Level::ForceDefault, &["baz"], Value::Null),
        ]);
        assert_eq!(attrs.read(&["foo"]), Some(Value::Null));
        assert_eq!(attrs.read(&["baz"]), Some(Value::Null));
        assert_eq!(attrs.read(&["nothing"]), None);
    }

    #[test]
    fn a2_maps_merge_across_levels_and_keep_key_order() {
        let attrs = attrs_with(&[
            (Level::Default, &["app", "b"], json!(1)),
            (Level::Default, &["app", "a"], json!(1)),
            (Level::ForceDefault, &["app", "c"], json!(3)),
            (Level::Override, &["app", "a"], json!(2)),
        ]);
        let app = attrs.read(&["app"]).unwrap();
        assert_eq!(app, json!({"b": 1, "a": 2, "c": 3}));
        let keys: Vec<&String> = app.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["b", "a", "c"]);
    }

    #[test]
    fn a2_merge_happens_per_top_level_key_before_descending() {
        // A higher level replacing `a` with a scalar hides a lower `a.b`.
        let attrs = attrs_with(&[
            (Level::Default, &["a", "b"], json!(1)),
            (Level::Normal, &["a"], json!("x")),
        ]);
        assert_eq!(attrs.read(&["a", "b"]), None);
    }

    #[test]
    fn a2_reading_missing_keys_returns_none_without_autovivifying() {
        let attrs = attrs_with(&[(Level::Default, &["a"], json!({"b": 1}))]);
        assert_eq!(attrs.read(&["a", "missing", "deeper"]), None);
        assert_eq!(attrs.read(&["a", "b", "through_scalar"]), None);
        assert_eq!(attrs.read_level(Level::Default, &["x"]), None);
        assert_eq!(attrs.component(Level::Default).len(), 1);
        assert_eq!(attrs.component(Level::Default)["a"], json!({"b": 1}));
    }

    #[test]
    fn a2_reading_a_missing_key_on_a_level_creates_an_empty_map() {
        let mut attrs = attrs_with(&[(Level::Default, &["s"], json!("x"))]);
        assert_eq!(
            attrs.read_level_autovivify(Level::Default, &["x", "y"]),
            Some(json!({}))
        );
        assert_eq!(attrs.read(&["x"]), Some(json!({"y": {}})));
        assert_eq!(
            attrs.read_level_autovivify(Level::Default, &["s", "t"]),
            None
        );
        assert_eq!(attrs.read(&["s"]), Some(json!("x")));
    }

    #[test]
    fn a2_merged_tree_lists_every_top_level_key() {
        let attrs = attrs_with(&[
            (Level::Automatic, &["os"], json!("linux")),
            (Level::Default, &["a"], json!(1)),
            (Level::Normal, &["n"], json!(2)),
        ]);
        assert_eq!(attrs.merged(), json!({"a": 1, "n": 2, "os": "linux"}));
    }

    #[test]
    fn a2_write_autovivifies_intermediate_maps() {
        let mut attrs = Attributes::default();
        attrs
            .set(Level::Default, &["a", "b", "c"], json!("v"))
            .unwrap();
        assert_eq!(attrs.read(&["a"]), Some(json!({"b": {"c": "v"}})));
    }

    #[test]
    fn a2_write_through_a_scalar_is_an_error() {
        let mut attrs = attrs_with(&[(Level::Default, &["a"], json!("x"))]);
        let err = attrs
            .set(Level::Default, &["a", "b"], json!(1))
            .unwrap_err();
        assert_eq!(
            err,
            "cannot set node.default['a']['b']: node.default['a'] is a String, not a Hash"
        );
    }

    #[test]
    fn a3_unless_checks_only_the_same_level() {
        let mut attrs = attrs_with(&[
            (Level::Default, &["a"], json!("first")),
            (Level::Normal, &["b"], json!("normal")),
            (Level::Default, &["n"], Value::Null),
        ]);
        assert!(!attrs
            .set_unless(Level::Default, &["a"], json!("second"))
            .unwrap());
        assert!(attrs
            .set_unless(Level::Default, &["b"], json!("dflt"))
            .unwrap());
        assert!(attrs.set_unless(Level::Default, &["n"], json!(1)).unwrap());
        assert_eq!(attrs.read(&["a"]), Some(json!("first")));
        assert_eq!(attrs.read(&["b"]), Some(json!("normal")));
        assert_eq!(
            attrs.read_level(Level::Default, &["b"]),
            Some(json!("dflt"))
        );
        assert_eq!(attrs.read(&["n"]), Some(json!(1)));
    }

    #[test]
    fn a3_bang_replaces_only_that_level() {
        let mut attrs = attrs_with(&[
            (
                Level::RoleDefault,
                &["mysql", "server", "port"],
                json!(1234),
            ),
            (Level::Default, &["mysql", "server", "port"], json!(2345)),
            (Level::Default, &["mysql", "server", "name"], json!("x")),
            (
                Level::ForceDefault,
                &["mysql", "server", "port"],
                json!(3456),
            ),
        ]);
        attrs
            .replace(
                Level::Default,
                &["mysql", "server"],
                json!({"data_dir": "/d"}),
            )
            .unwrap();
        assert_eq!(
            attrs.read(&["mysql", "server"]),
            Some(json!({"port": 3456, "data_dir": "/d"}))
        );
    }

    #[test]
    fn a3_force_replace_clears_the_whole_group() {
        let mut attrs = attrs_with(&[
            (Level::RoleDefault, &["m", "s", "port"], json!(1234)),
            (Level::EnvDefault, &["m", "s", "port"], json!(1)),
            (Level::Default, &["m", "s", "port"], json!(2345)),
            (Level::ForceDefault, &["m", "s", "port"], json!(3456)),
            (Level::Normal, &["m", "s", "n"], json!(5)),
        ]);
        attrs
            .force_replace(Level::ForceDefault, &["m", "s"], json!({"d": "/d"}))
            .unwrap();
        assert_eq!(attrs.read(&["m", "s"]), Some(json!({"d": "/d", "n": 5})));
        assert_eq!(
            attrs.read_level(Level::RoleDefault, &["m"]),
            Some(json!({}))
        );

        let mut attrs = attrs_with(&[
            (Level::RoleOverride, &["o"], json!([1])),
            (Level::EnvOverride, &["o"], json!([2])),
        ]);
        attrs
            .force_replace(Level::ForceOverride, &["o"], json!([3]))
            .unwrap();
        assert_eq!(attrs.read(&["o"]), Some(json!([3])));
        assert!(attrs
            .force_replace(Level::Default, &["o"], json!(1))
            .is_err());
    }

    #[test]
    fn a3_rm_default_leaves_other_groups() {
        let mut attrs = attrs_with(&[
            (Level::Default, &["p"], json!(2345)),
            (Level::ForceDefault, &["p"], json!(3456)),
            (Level::Override, &["p"], json!(9999)),
        ]);
        assert_eq!(attrs.rm_default(&["p"]), Some(json!(3456)));
        assert_eq!(attrs.read(&["p"]), Some(json!(9999)));
        assert_eq!(attrs.rm_override(&["p"]), Some(json!(9999)));
        assert_eq!(attrs.read(&["p"]), None);
    }

    #[test]
    fn a3_rm_removes_all_but_automatic_and_keeps_parents() {
        let mut attrs = attrs_with(&[
            (Level::Default, &["a", "b"], json!(1)),
            (Level::Normal, &["a", "b"], json!(2)),
            (Level::ForceOverride, &["a", "b"], json!(3)),
            (Level::Automatic, &["c"], json!(4)),
        ]);
        assert_eq!(attrs.rm(&["a", "b"]), Some(json!(3)));
        assert_eq!(attrs.read(&["a"]), Some(json!({})));
        assert_eq!(attrs.rm(&["c"]), Some(json!(4)));
        assert_eq!(attrs.read(&["c"]), Some(json!(4)));
        assert_eq!(attrs.rm_normal(&["missing", "x"]), None);
    }

    #[test]
    fn a5_role_style_merge_unions_arrays_and_null_replaces() {
        let mut onto = json!({"x": [1, 2], "h": {"a": 1}, "s": "old", "n": 1});
        deep_merge_union(
            &mut onto,
            &json!({"x": [3, 1], "h": {"b": 2}, "s": "new", "n": null}),
        );
        assert_eq!(
            onto,
            json!({"x": [1, 2, 3], "h": {"a": 1, "b": 2}, "s": "new", "n": null})
        );
    }

    #[test]
    fn a2_hash_only_merge_replaces_arrays() {
        let mut onto = json!({"x": [1, 2], "h": {"a": 1}});
        deep_merge_hash_only(&mut onto, &json!({"x": [3], "h": {"b": 2}}));
        assert_eq!(onto, json!({"x": [3], "h": {"a": 1, "b": 2}}));
    }

    #[test]
    fn a4_combined_groups_for_the_saved_node() {
        let attrs = attrs_with(&[
            (Level::Default, &["x"], json!([1])),
            (Level::RoleDefault, &["x"], json!([2])),
            (Level::Override, &["y"], json!(1)),
        ]);
        assert_eq!(
            Value::Object(attrs.combined_default()),
            json!({"x": [1, 2]})
        );
        assert_eq!(Value::Object(attrs.combined_override()), json!({"y": 1}));
    }
}
