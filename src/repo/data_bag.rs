//! Data bags: `data_bags/<bag>/<item>.json`, each a JSON object whose `id` names it.

use crate::error::{Error, Result, SourceLocation};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Where `data_bag` and `data_bag_item` read from: the chef-repo's files, or a Chef server.
pub trait DataBagSource: std::fmt::Debug + Send + Sync {
    /// Bag names, sorted.
    fn bags(&self) -> Result<Vec<String>>;
    /// Item ids of `bag`, sorted (`data_bag("bag")`).
    fn items(&self, bag: &str) -> Result<Vec<String>>;
    /// One item (`data_bag_item("bag", "id")`).
    fn item(&self, bag: &str, id: &str) -> Result<Value>;
}

impl DataBagSource for DataBags {
    fn bags(&self) -> Result<Vec<String>> {
        DataBags::bags(self)
    }

    fn items(&self, bag: &str) -> Result<Vec<String>> {
        DataBags::items(self, bag)
    }

    fn item(&self, bag: &str, id: &str) -> Result<Value> {
        DataBags::item(self, bag, id)
    }
}

/// The data bags below one directory, read on demand.
#[derive(Debug, Clone)]
pub struct DataBags {
    root: PathBuf,
}

impl DataBags {
    /// Data bags below `root`.
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    /// Bag names, sorted.
    pub fn bags(&self) -> Result<Vec<String>> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&self.root, e)),
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Item ids of `bag`, sorted (`data_bag("bag")`).
    pub fn items(&self, bag: &str) -> Result<Vec<String>> {
        let dir = self.root.join(bag);
        let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// One item (`data_bag_item("bag", "id")`), checked: an object whose `id` is valid and
    /// equals the file's name.
    pub fn item(&self, bag: &str, id: &str) -> Result<Value> {
        let path = self.root.join(bag).join(format!("{id}.json"));
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let value: Value = crate::repo::yaml::from_json(&text, &path)?;
        let at = SourceLocation::new(&path, 1, 1);
        let Some(found) = value.get("id").and_then(Value::as_str) else {
            return Err(Error::compile_as(
                "Chef::Exceptions::InvalidDataBagItemID",
                at,
                "expected a JSON object with a string `id`",
            ));
        };
        let valid = !found.is_empty()
            && found
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !valid {
            return Err(Error::compile_as(
                "Chef::Exceptions::InvalidDataBagItemID",
                at,
                format!("`{found}` is not a valid data bag item id (letters, digits, . - _)"),
            ));
        }
        if found != id {
            return Err(Error::compile_as(
                "Chef::Exceptions::InvalidDataBagItemID",
                at,
                format!("item id `{found}` differs from its file name `{id}.json`"),
            ));
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_checked_against_their_file_names() {
        let dir = tempfile::tempdir().unwrap();
        let bag = dir.path().join("users");
        std::fs::create_dir_all(&bag).unwrap();
        std::fs::write(bag.join("alice.json"), r#"{"id":"alice","uid":1001}"#).unwrap();
        std::fs::write(bag.join("bob.json"), r#"{"id":"robert"}"#).unwrap();
        let bags = DataBags::new(dir.path());
        assert_eq!(bags.bags().unwrap(), ["users"]);
        assert_eq!(bags.items("users").unwrap(), ["alice", "bob"]);
        assert_eq!(bags.item("users", "alice").unwrap()["uid"], 1001);
        let err = bags.item("users", "bob").unwrap_err().to_string();
        assert!(err.contains("differs from its file name"), "{err}");
    }
}
