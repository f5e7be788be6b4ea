//! The chef-repo on disk: cookbooks (from several cookbook paths), roles, environments and data
//! bags, found and read the way chef-solo's local mode does.

pub mod config;
pub mod cookbook;
pub mod data_bag;
pub mod specificity;
pub mod version;
pub mod yaml;

pub use config::Config;
pub use cookbook::{Cookbook, RecipeFile};

use crate::error::{Error, Result, SourceLocation};
use crate::node::{Environment, Role};
use indexmap::IndexMap;
use std::path::{Path, PathBuf};

/// Everything a run can read from the repository.
#[derive(Debug)]
pub struct Repository {
    cookbooks: IndexMap<String, Cookbook>,
    /// Same-named cookbooks found later in the cookbook path, shadowed by the first.
    pub shadowed: Vec<PathBuf>,
    pub role_path: PathBuf,
    pub environment_path: PathBuf,
    /// Where recipes' `data_bag` calls read (the repository's files unless replaced).
    pub data_bags: std::sync::Arc<dyn data_bag::DataBagSource>,
    /// Where saved nodes are (`nodes/<name>.json`), which `search(:node, ...)` reads.
    pub node_path: PathBuf,
    /// Where `search` is answered when not from this repository's files (a Chef server).
    pub search: Option<std::sync::Arc<dyn crate::search::SearchSource>>,
}

impl Repository {
    /// The repository without its cookbooks: roles, environments, data bags, saved nodes and
    /// the search source, for blocks that run at converge time.
    pub fn data_view(&self) -> Repository {
        Repository {
            cookbooks: IndexMap::new(),
            shadowed: Vec::new(),
            role_path: self.role_path.clone(),
            environment_path: self.environment_path.clone(),
            data_bags: self.data_bags.clone(),
            node_path: self.node_path.clone(),
            search: self.search.clone(),
        }
    }

    /// Scans the configured paths. Cookbook metadata is read now (it is small and every run
    /// needs the dependency graph); roles, environments and data bags are read when asked for.
    pub fn open(config: &Config) -> Result<Repository> {
        let mut cookbooks = IndexMap::new();
        let mut shadowed = Vec::new();
        for dir in &config.cookbook_path {
            let entries = match std::fs::read_dir(dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(dir, e)),
            };
            let mut roots: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_dir())
                .collect();
            roots.sort();
            for root in roots {
                if let Some(cb) = Cookbook::load(&root)? {
                    if cookbooks.contains_key(cb.name()) {
                        shadowed.push(root);
                    } else {
                        cookbooks.insert(cb.name().to_string(), cb);
                    }
                }
            }
        }
        Ok(Repository {
            cookbooks,
            shadowed,
            role_path: config.role_path.clone(),
            environment_path: config.environment_path.clone(),
            data_bags: std::sync::Arc::new(data_bag::DataBags::new(&config.data_bag_path)),
            node_path: config.node_path.clone(),
            search: None,
        })
    }

    /// The cookbook named `name`.
    pub fn cookbook(&self, name: &str) -> Option<&Cookbook> {
        self.cookbooks.get(name)
    }

    /// Every cookbook, by name.
    pub fn cookbooks(&self) -> impl Iterator<Item = &Cookbook> {
        self.cookbooks.values()
    }

    /// Loads environment `name` (`_default` is built in and empty).
    pub fn environment(&self, name: &str) -> Result<Environment> {
        if name == "_default" {
            return Ok(Environment::default_env());
        }
        match find_named(&self.environment_path, name)? {
            Some(NamedFile::Json(path)) => {
                let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
                Environment::from_json(&text, &path)
            }
            Some(NamedFile::Ruby(path)) => {
                let dsl = DslJson::read(&path, "environment", ENVIRONMENT_METHODS)?;
                Environment::from_json(&dsl.text, &path).map_err(|e| dsl.relocate(e))
            }
            None => Err(Error::input(
                "Chef::Exceptions::EnvironmentNotFound",
                format!(
                    "environment `{name}` not found: no {name}.json or {name}.rb in {}",
                    self.environment_path.display()
                ),
            )),
        }
    }

    /// The file defining role `name` (`.json` or `.rb`), if there is one.
    pub fn role_file(&self, name: &str) -> Result<Option<PathBuf>> {
        Ok(find_named(&self.role_path, name)?.map(NamedFile::into_path))
    }

    /// The file defining environment `name`, if there is one (`_default` has none).
    pub fn environment_file(&self, name: &str) -> Result<Option<PathBuf>> {
        Ok(find_named(&self.environment_path, name)?.map(NamedFile::into_path))
    }

    /// Names of every role file in the role path, sorted.
    pub fn role_names(&self) -> Result<Vec<String>> {
        names_in(&self.role_path)
    }

    /// Names of every environment file, sorted.
    pub fn environment_names(&self) -> Result<Vec<String>> {
        names_in(&self.environment_path)
    }
}

impl crate::node::RoleSource for Repository {
    fn role(&self, name: &str) -> Result<Option<Role>> {
        match find_named(&self.role_path, name)? {
            Some(NamedFile::Json(path)) => {
                let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
                Role::from_json(&text, &path).map(Some)
            }
            Some(NamedFile::Ruby(path)) => {
                let dsl = DslJson::read(&path, "role", ROLE_METHODS)?;
                let mut role = Role::from_json(&dsl.text, &path).map_err(|e| dsl.relocate(e))?;
                role.relocate(&|at: &SourceLocation| dsl.call_of(at).unwrap_or_else(|| at.clone()));
                Ok(Some(role))
            }
            None => Ok(None),
        }
    }
}

enum NamedFile {
    Json(PathBuf),
    Ruby(PathBuf),
}

impl NamedFile {
    fn into_path(self) -> PathBuf {
        match self {
            NamedFile::Json(p) | NamedFile::Ruby(p) => p,
        }
    }
}

/// `<dir>/<name>.json` (preferred) or `.rb`, else the same anywhere below `dir`; two matches
/// below `dir` are ambiguous.
fn find_named(dir: &Path, name: &str) -> Result<Option<NamedFile>> {
    if name.is_empty() || name.contains('/') || name.contains("..") {
        return Ok(None);
    }
    let json = dir.join(format!("{name}.json"));
    if json.is_file() {
        return Ok(Some(NamedFile::Json(json)));
    }
    let rb = dir.join(format!("{name}.rb"));
    if rb.is_file() {
        return Ok(Some(NamedFile::Ruby(rb)));
    }
    let mut found = Vec::new();
    collect_named(dir, name, &mut found, 0);
    match found.len() {
        0 => Ok(None),
        1 => {
            let p = found.remove(0);
            Ok(Some(if p.extension().is_some_and(|e| e == "rb") {
                NamedFile::Ruby(p)
            } else {
                NamedFile::Json(p)
            }))
        }
        _ => Err(Error::compile_as(
            "Chef::Exceptions::DuplicateRole",
            SourceLocation::file(&found[1]),
            format!(
                "`{name}` is defined twice: {} and {}",
                found[0].display(),
                found[1].display()
            ),
        )),
    }
}

fn collect_named(dir: &Path, name: &str, found: &mut Vec<PathBuf>, depth: usize) {
    if depth > 8 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            collect_named(&p, name, found, depth + 1);
        } else if depth > 0
            && p.file_stem().is_some_and(|s| s == name)
            && p.extension().is_some_and(|e| e == "json" || e == "rb")
        {
            found.push(p);
        }
    }
}

fn names_in(dir: &Path) -> Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json" || e == "rb"))
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// The methods of Chef's role DSL.
const ROLE_METHODS: &[&str] = &[
    "name",
    "description",
    "run_list",
    "env_run_lists",
    "default_attributes",
    "override_attributes",
];
/// The methods of Chef's environment DSL.
const ENVIRONMENT_METHODS: &[&str] = &[
    "name",
    "description",
    "cookbook_versions",
    "cookbook",
    "default_attributes",
    "override_attributes",
];

/// A role or environment written in Ruby's DSL (`name`, `run_list "a", "b"`,
/// `default_attributes(...)`) as the JSON its reader takes, so one reader checks both. Each
/// top-level key is on its own line, so a complaint about a place in the JSON is turned into
/// one about the call that set that key.
struct DslJson {
    text: String,
    /// The call that set each key, in the order of the lines after the opening `{`.
    calls: Vec<SourceLocation>,
}

impl DslJson {
    fn read(path: &Path, kind: &str, methods: &[&str]) -> Result<DslJson> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut object = serde_json::Map::new();
        let mut set_by: IndexMap<String, SourceLocation> = IndexMap::new();
        for call in crate::ruby::eval_dsl_calls(path, &text)? {
            if !methods.contains(&call.method.as_str()) {
                return Err(Error::compile(
                    call.location,
                    format!(
                        "undefined method `{}` in a {kind} file (expected one of: {})",
                        call.method,
                        methods.join(", ")
                    ),
                ));
            }
            let (key, value) = match call.method.as_str() {
                "run_list" => (
                    "run_list".to_string(),
                    serde_json::Value::Array(flatten_args(call.args)),
                ),
                "cookbook" => {
                    let mut args = call.args.into_iter();
                    let (Some(name), constraint) = (args.next(), args.next()) else {
                        return Err(Error::compile(call.location, "`cookbook` needs a name"));
                    };
                    let name = name.as_str().unwrap_or_default().to_string();
                    let mut versions = match object.remove("cookbook_versions") {
                        Some(serde_json::Value::Object(map)) => map,
                        _ => serde_json::Map::new(),
                    };
                    versions.insert(
                        name,
                        constraint.unwrap_or(serde_json::Value::String(">= 0.0.0".into())),
                    );
                    (
                        "cookbook_versions".to_string(),
                        serde_json::Value::Object(versions),
                    )
                }
                _ => match <[serde_json::Value; 1]>::try_from(call.args) {
                    Ok([one]) => (call.method, one),
                    Err(args) => (call.method, serde_json::Value::Array(args)),
                },
            };
            set_by.shift_remove(&key);
            set_by.insert(key.clone(), call.location);
            object.remove(&key);
            object.insert(key, value);
        }
        let mut text = String::from("{\n");
        let count = set_by.len();
        let mut calls = Vec::with_capacity(count);
        for (i, (key, location)) in set_by.into_iter().enumerate() {
            let value = object.remove(&key).unwrap_or_default();
            let comma = if i + 1 < count { "," } else { "" };
            text.push_str(&format!(
                "{}: {value}{comma}\n",
                serde_json::Value::String(key)
            ));
            calls.push(location);
        }
        text.push('}');
        Ok(DslJson { text, calls })
    }

    /// An error about the generated JSON, pointed at the call that set the key it is about.
    fn relocate(&self, error: Error) -> Error {
        let Error::Compile { location, .. } = &error else {
            return error;
        };
        match self.call_of(location) {
            Some(call) => error.at(call),
            None => error,
        }
    }

    /// The call that set the key at `location` of the generated JSON.
    fn call_of(&self, location: &SourceLocation) -> Option<SourceLocation> {
        (location.line as usize)
            .checked_sub(2)
            .and_then(|i| self.calls.get(i))
            .or(self.calls.first())
            .cloned()
    }
}

/// A role or environment file in Ruby's DSL as JSON text, for readers that take either (its
/// keys are checked by the role or environment reader later).
pub fn dsl_file_as_json(path: &Path) -> Result<String> {
    let either: Vec<&str> = ROLE_METHODS
        .iter()
        .chain(ENVIRONMENT_METHODS)
        .copied()
        .collect();
    Ok(DslJson::read(path, "role or environment", &either)?.text)
}

fn flatten_args(args: Vec<serde_json::Value>) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for a in args {
        match a {
            serde_json::Value::Array(items) => out.extend(items),
            other => out.push(other),
        }
    }
    out
}
