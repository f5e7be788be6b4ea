//! Attribute files see the node through [`NodeAccess`]: reads of the merged view and of one
//! level, writes at a precedence level, and `include_attribute`.

use crate::error::{Error, Result};
use crate::node::{Level, Node};
use crate::repo::cookbook::Cookbook;
use crate::repo::Repository;
use crate::ruby::{AttributeWrite, NodeAccess, WriteLevel, WriteOp};
use serde_json::Value;
use std::collections::HashSet;
use std::path::Path;

/// Evaluates one attribute file unless it was already loaded (Chef loads each at most once).
pub(super) fn load_attribute_file(
    repo: &Repository,
    node: &mut Node,
    cookbook: &Cookbook,
    file: &Path,
    loaded: &mut HashSet<String>,
    order: &mut Vec<String>,
) -> Result<()> {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let key = format!("{}::{stem}", cookbook.name());
    if !loaded.insert(key.clone()) {
        return Ok(());
    }
    order.push(key);
    let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
    let mut access = AttributeFileAccess {
        repo,
        node,
        cookbook: cookbook.name().to_string(),
        loaded,
        order,
    };
    crate::ruby::eval_attribute_file(file, &text, &mut access)
}

struct AttributeFileAccess<'a> {
    repo: &'a Repository,
    node: &'a mut Node,
    cookbook: String,
    loaded: &'a mut HashSet<String>,
    order: &'a mut Vec<String>,
}

fn level_of(level: WriteLevel) -> Level {
    match level {
        WriteLevel::Default => Level::Default,
        WriteLevel::ForceDefault => Level::ForceDefault,
        WriteLevel::Normal => Level::Normal,
        WriteLevel::Override => Level::Override,
        WriteLevel::ForceOverride => Level::ForceOverride,
    }
}

/// One level's own value at `path`.
pub(super) fn read_level(node: &Node, level: WriteLevel, path: &[String]) -> Option<Value> {
    node.attributes.read_level(level_of(level), path)
}

/// Applies a write from Ruby code (an attribute file or a recipe) to the node.
pub(super) fn apply_write(
    node: &mut Node,
    write: AttributeWrite,
) -> std::result::Result<(), String> {
    let level = level_of(write.level);
    let attrs = &mut node.attributes;
    match write.op {
        WriteOp::Set => attrs.set(level, &write.path, write.value),
        WriteOp::SetUnless => attrs
            .set_unless(level, &write.path, write.value)
            .map(|_| ()),
        WriteOp::Replace => attrs.replace(level, &write.path, write.value),
        WriteOp::ForceReplace => attrs.force_replace(level, &write.path, write.value),
    }
}

impl NodeAccess for AttributeFileAccess<'_> {
    fn read(&self, path: &[String]) -> Option<Value> {
        self.node.attributes.read(path)
    }

    fn read_level(&self, level: WriteLevel, path: &[String]) -> Option<Value> {
        read_level(self.node, level, path)
    }

    fn write(&mut self, write: AttributeWrite) -> std::result::Result<(), String> {
        apply_write(self.node, write)
    }

    fn include_attribute(&mut self, name: &str) -> std::result::Result<(), String> {
        let (cb_name, file) = super::split_recipe_name(name, &self.cookbook);
        let Some(cookbook) = self.repo.cookbook(&cb_name) else {
            return Err(format!("include_attribute: cookbook `{cb_name}` not found"));
        };
        let Some(path) = cookbook.attribute_file(&file) else {
            return Err(format!(
                "include_attribute: cookbook `{cb_name}` has no attribute file `{file}`"
            ));
        };
        load_attribute_file(
            self.repo,
            self.node,
            cookbook,
            &path,
            self.loaded,
            self.order,
        )
        .map_err(|e| e.to_string())
    }
}
