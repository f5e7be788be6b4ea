//! `skillet upload`: puts a chef-repo on a Chef server as knife does, idempotently.
//!
//! Cookbooks go through the sandbox flow: the server is told every file's MD5, answers which
//! it lacks, and only those are sent. A cookbook version whose files the server already holds
//! is not touched at all. Roles, environments, data bag items and nodes are written only when
//! the server's copy differs.

use super::api::{Api, SEGMENTS};
use crate::error::{Error, Result};
use crate::repo::{Cookbook, Repository};
use base64::Engine;
use md5::Digest;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// What an upload did, for the summary line.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Outcome {
    /// Objects created or changed (`cookbook app 1.0.0`, `role web`).
    pub changed: Vec<String>,
    /// Objects already as on disk.
    pub unchanged: usize,
    /// Cookbook files sent to the server.
    pub files_sent: usize,
}

/// A local file of a cookbook with its checksum.
#[derive(Debug, Clone)]
struct LocalFile {
    /// Relative to the cookbook root, `/`-separated.
    path: String,
    full: PathBuf,
    md5: String,
}

/// Uploads every cookbook of `repo`.
pub fn cookbooks(api: &Api, repo: &Repository, out: &mut Outcome) -> Result<()> {
    for cookbook in repo.cookbooks() {
        cookbook_version(api, cookbook, out)?;
    }
    Ok(())
}

fn cookbook_version(api: &Api, cookbook: &Cookbook, out: &mut Outcome) -> Result<()> {
    let name = cookbook.name();
    let version = cookbook.metadata.version.to_string();
    let files = local_files(&cookbook.root)?;
    if let Some(existing) = api.cookbook(name, &version)? {
        let mut theirs: Vec<(String, String)> = existing
            .files
            .iter()
            .map(|f| (f.path.clone(), f.checksum.clone()))
            .collect();
        let mut ours: Vec<(String, String)> = files
            .iter()
            .map(|f| (f.path.clone(), f.md5.clone()))
            .collect();
        theirs.sort();
        ours.sort();
        if theirs == ours {
            out.unchanged += 1;
            return Ok(());
        }
    }
    let mut checksums: Vec<String> = files.iter().map(|f| f.md5.clone()).collect();
    checksums.sort();
    checksums.dedup();
    let (sandbox, needed) = api.create_sandbox(&checksums)?;
    for (sum, url) in &needed {
        let Some(file) = files.iter().find(|f| &f.md5 == sum) else {
            continue;
        };
        let content = std::fs::read(&file.full).map_err(|e| Error::io(&file.full, e))?;
        let md5 = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(&content));
        api.http.upload_file(url, &content, &md5)?;
        out.files_sent += 1;
    }
    api.commit_sandbox(&sandbox)?;
    api.put_cookbook(name, &version, &manifest(cookbook, &files))?;
    out.changed.push(format!("cookbook {name} {version}"));
    Ok(())
}

/// Every file below `root` except dotfiles, sorted, with its MD5.
fn local_files(root: &Path) -> Result<Vec<LocalFile>> {
    let mut found = Vec::new();
    walk(root, root, &mut found)?;
    found.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(found)
}

fn walk(root: &Path, dir: &Path, found: &mut Vec<LocalFile>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let full = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let kind = entry.file_type().map_err(|e| Error::io(&full, e))?;
        if kind.is_dir() {
            walk(root, &full, found)?;
        } else if kind.is_file() {
            let content = std::fs::read(&full).map_err(|e| Error::io(&full, e))?;
            let relative = full
                .strip_prefix(root)
                .unwrap_or(&full)
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            found.push(LocalFile {
                path: relative,
                md5: hex(&md5::Md5::digest(&content)),
                full,
            });
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The cookbook version document in segments, as the server (API versions 0 and 1) stores it.
fn manifest(cookbook: &Cookbook, files: &[LocalFile]) -> Value {
    let meta = &cookbook.metadata;
    let name = cookbook.name();
    let version = meta.version.to_string();
    let mut document = Map::new();
    for segment in SEGMENTS {
        document.insert((*segment).to_string(), Value::Array(Vec::new()));
    }
    let mut recipes = Map::new();
    for file in files {
        let (segment, specificity, item_name) = segment_of(&file.path);
        if segment == "recipes" {
            if let Some(recipe) = item_name.rsplit_once('.').map(|(stem, _)| stem) {
                let full = if recipe == "default" {
                    name.to_string()
                } else {
                    format!("{name}::{recipe}")
                };
                recipes.insert(full, Value::String(String::new()));
            }
        }
        if let Some(Value::Array(list)) = document.get_mut(segment) {
            list.push(json!({
                "name": item_name,
                "path": file.path,
                "checksum": file.md5,
                "specificity": specificity,
            }));
        }
    }
    let dependencies: Map<String, Value> = meta
        .dependencies
        .iter()
        .map(|(dep, constraint)| (dep.clone(), Value::String(constraint.to_string())))
        .collect();
    document.insert("name".into(), json!(format!("{name}-{version}")));
    document.insert("cookbook_name".into(), json!(name));
    document.insert("version".into(), json!(version));
    document.insert("json_class".into(), json!("Chef::CookbookVersion"));
    document.insert("chef_type".into(), json!("cookbook_version"));
    document.insert("frozen?".into(), json!(false));
    document.insert(
        "metadata".into(),
        json!({
            "name": name,
            "version": version,
            "description": meta.description,
            "long_description": "",
            "maintainer": "",
            "maintainer_email": "",
            "license": "",
            "platforms": {},
            "dependencies": dependencies,
            "recommendations": {},
            "suggestions": {},
            "conflicting": {},
            "providing": {},
            "replacing": {},
            "attributes": {},
            "groupings": {},
            "recipes": recipes,
        }),
    );
    Value::Object(document)
}

/// The segment a cookbook-relative path belongs to, its specificity and its item name.
fn segment_of(path: &str) -> (&'static str, String, String) {
    let (first, rest) = match path.split_once('/') {
        Some(parts) => parts,
        None => return ("root_files", "default".into(), path.to_string()),
    };
    let segment = SEGMENTS
        .iter()
        .copied()
        .find(|s| *s == first && *s != "root_files")
        .unwrap_or("root_files");
    if segment == "root_files" {
        return (segment, "default".into(), path.to_string());
    }
    if matches!(segment, "files" | "templates") {
        if let Some((specificity, name)) = rest.split_once('/') {
            return (segment, specificity.to_string(), name.to_string());
        }
    }
    (segment, "default".into(), rest.to_string())
}

/// Uploads every role (`kind` `roles`) or environment (`environments`) file of `dir`.
pub fn named_objects(api: &Api, kind: &str, dir: &Path, out: &mut Outcome) -> Result<()> {
    let (class, chef_type) = match kind {
        "roles" => ("Chef::Role", "role"),
        "environments" => ("Chef::Environment", "environment"),
        _ => ("Chef::Node", "node"),
    };
    for path in object_files(dir)? {
        let mut object = read_object(&path)?;
        // Each is checked by the reader a run uses, so bad input stops here, not on a host.
        let text = Value::Object(object.clone()).to_string();
        let name = match kind {
            "roles" => crate::node::Role::from_json(&text, &path)?.name,
            "environments" => crate::node::Environment::from_json(&text, &path)?.name,
            // A node file may leave its name to the file's name, as chef-solo reads it.
            _ => match object.get("name") {
                Some(Value::String(name)) => name.clone(),
                _ => {
                    let stem = path
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    object.insert("name".into(), Value::String(stem.clone()));
                    stem
                }
            },
        };
        if kind == "environments" && name == "_default" {
            continue;
        }
        object.entry("json_class").or_insert(json!(class));
        object.entry("chef_type").or_insert(json!(chef_type));
        let object = Value::Object(object);
        let current = api.get_object(kind, &name)?;
        if current.as_ref().is_some_and(|c| covers(c, &object)) {
            out.unchanged += 1;
            continue;
        }
        api.put_or_post(kind, &name, &object)?;
        out.changed.push(format!("{chef_type} {name}"));
    }
    Ok(())
}

/// Uploads every data bag item below `dir` (`<bag>/<id>.json`).
pub fn data_bags(api: &Api, repo: &Repository, out: &mut Outcome) -> Result<()> {
    for bag in repo.data_bags.bags()? {
        let mut created = false;
        for id in repo.data_bags.items(&bag)? {
            let item = repo.data_bags.item(&bag, &id)?;
            let current = api.find_data_bag_item(&bag, &id)?;
            if current.as_ref().is_some_and(|c| covers(c, &item)) {
                out.unchanged += 1;
                continue;
            }
            if !created {
                api.ensure_data_bag(&bag)?;
                created = true;
            }
            api.save_data_bag_item(&bag, &id, &item)?;
            out.changed.push(format!("data bag item {bag}/{id}"));
        }
    }
    Ok(())
}

/// Whether the server's `current` already holds every key of `ours` with the same value.
fn covers(current: &Value, ours: &Value) -> bool {
    match (current, ours) {
        (Value::Object(theirs), Value::Object(mine)) => mine
            .iter()
            .all(|(k, v)| theirs.get(k).is_some_and(|t| covers(t, v))),
        (a, b) => a == b,
    }
}

fn object_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json" || e == "rb"))
        .collect();
    files.sort();
    Ok(files)
}

/// A role, environment or node file as a JSON object (Ruby DSL files converted).
fn read_object(path: &Path) -> Result<Map<String, Value>> {
    let text = if path.extension().is_some_and(|e| e == "rb") {
        crate::repo::dsl_file_as_json(path)?
    } else {
        std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?
    };
    match crate::repo::yaml::from_json(&text, path)? {
        Value::Object(map) => Ok(map),
        _ => Err(Error::compile(
            crate::SourceLocation::new(path, 1, 1),
            "expected a JSON object",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_fall_into_chefs_segments() {
        assert_eq!(
            segment_of("recipes/default.rb"),
            ("recipes", "default".into(), "default.rb".into())
        );
        assert_eq!(
            segment_of("templates/debian/app.conf.erb"),
            ("templates", "debian".into(), "app.conf.erb".into())
        );
        assert_eq!(
            segment_of("metadata.rb"),
            ("root_files", "default".into(), "metadata.rb".into())
        );
        assert_eq!(
            segment_of("test/integration/x.rb"),
            (
                "root_files",
                "default".into(),
                "test/integration/x.rb".into()
            )
        );
    }

    #[test]
    fn an_object_is_unchanged_when_the_server_holds_all_of_it() {
        let server = json!({"name": "web", "description": "", "run_list": ["recipe[a]"], "env_run_lists": {}});
        assert!(covers(
            &server,
            &json!({"name": "web", "run_list": ["recipe[a]"]})
        ));
        assert!(!covers(
            &server,
            &json!({"name": "web", "run_list": ["recipe[b]"]})
        ));
    }
}
