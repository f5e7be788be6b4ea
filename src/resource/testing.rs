//! Test scaffolding for resource tests: a temp dir standing in for `/`, declarations from JSON,
//! and sources over the temp dir. Compiled only for tests.

use super::build::{self, Segment, Sources};
use super::{Action, Context, Resource};
use crate::compile::decl::{PropValue, ResourceDecl};
use crate::error::{Error, Result, SourceLocation};
use crate::template::handlebars::HandlebarsTemplate;
use crate::template::TemplateEngine;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The location test declarations claim to come from.
pub fn location() -> SourceLocation {
    SourceLocation::new("cookbooks/cb/recipes/default.yml", 4, 3)
}

/// A declaration of `kind[name]` with `props` (a JSON object).
pub fn decl(kind: &str, name: &str, props: Value) -> ResourceDecl {
    let mut properties = indexmap::IndexMap::new();
    if let Value::Object(map) = props {
        for (k, v) in map {
            properties.insert(
                k,
                PropValue {
                    value: v,
                    location: location(),
                },
            );
        }
    }
    ResourceDecl {
        kind: kind.into(),
        name: name.into(),
        properties,
        location: location(),
        cookbook: "cb".into(),
        recipe: "default".into(),
    }
}

/// A fake host: `root/` is `/`, `cache/` is the file cache.
pub struct Host {
    dir: tempfile::TempDir,
    pub cx: Context,
}

impl Host {
    /// An empty host with `/etc` present.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        let mut cx = Context::new(&dir.path().join("cache"));
        cx.root = root;
        Host { dir, cx }
    }

    /// The real location of a logical path.
    pub fn path(&self, logical: &str) -> PathBuf {
        self.cx.host_path(Path::new(logical))
    }

    /// Writes a file at a logical path, creating parents.
    pub fn write(&self, logical: &str, content: &str) {
        let p = self.path(logical);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    /// Reads a file at a logical path.
    pub fn read(&self, logical: &str) -> String {
        std::fs::read_to_string(self.path(logical)).unwrap()
    }

    /// Builds a resource with sources over this host's `cookbooks/cb/{templates,files}/`.
    pub fn build(&self, kind: &str, name: &str, props: Value) -> Result<Box<dyn Resource>> {
        build::build(&decl(kind, name, props), self)
    }

    /// The descriptions `check` gives for `action`.
    pub fn check(&mut self, r: &dyn Resource, action: Action) -> Vec<String> {
        let plan = r.check(action, &mut self.cx).unwrap();
        plan.changes.into_iter().map(|c| c.description).collect()
    }

    /// Checks and applies `action`; returns the descriptions of what was done.
    pub fn converge(&mut self, r: &dyn Resource, action: Action) -> Result<Vec<String>> {
        let plan = r.check(action, &mut self.cx)?;
        let lines = plan.changes.iter().map(|c| c.description.clone()).collect();
        if !plan.is_empty() {
            r.apply(action, plan, &mut self.cx)?;
        }
        Ok(lines)
    }

    /// The cookbook directory of this host.
    pub fn cookbook_dir(&self) -> PathBuf {
        self.dir.path().join("cookbooks/cb")
    }
}

impl Sources for Host {
    fn cookbook_file(
        &self,
        _cookbook: &str,
        segment: Segment,
        source: &str,
        location: &SourceLocation,
    ) -> Result<PathBuf> {
        let sub = match segment {
            Segment::Templates => "templates",
            Segment::Files => "files",
        };
        let path = self.cookbook_dir().join(sub).join(source);
        if path.is_file() {
            Ok(path)
        } else {
            Err(Error::compile_as(
                "Chef::Exceptions::FileNotFound",
                location.clone(),
                format!("no {sub}/{source} in cookbook cb"),
            ))
        }
    }

    fn template(&self, path: &Path, location: &SourceLocation) -> Result<Arc<dyn TemplateEngine>> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::compile(location.clone(), format!("{}: {e}", path.display())))?;
        Ok(Arc::new(HandlebarsTemplate::compile(path, &text)?))
    }
}
