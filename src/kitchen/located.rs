//! A YAML document as a tree whose every node knows its file:line:col.
//!
//! kitchen.yml is merged with `.kitchen.local.yml` before it is interpreted, so locations must
//! survive the merge: each node carries its own, and a value from the local file keeps pointing
//! at the local file.

use crate::error::{Error, Result, SourceLocation};
use crate::repo::yaml::{from_yaml, location_of};
use indexmap::IndexMap;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_saphyr::Spanned;
use std::fmt;
use std::path::Path;

/// One node of the tree with the place it was written.
#[derive(Debug, Clone)]
pub struct Located {
    /// The node's value.
    pub tree: Tree,
    /// Where the value was written.
    pub location: SourceLocation,
}

/// A YAML value whose children are located.
#[derive(Debug, Clone)]
pub enum Tree {
    /// A scalar (null, boolean, number or string).
    Scalar(Value),
    /// A sequence.
    Seq(Vec<Located>),
    /// A mapping with string keys, in file order.
    Map(IndexMap<String, Located>),
}

/// The tree as read, before locations are attached.
struct RawNode(Spanned<RawTree>);

enum RawTree {
    Scalar(Value),
    Seq(Vec<RawNode>),
    Map(Vec<(String, RawNode)>),
}

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Spanned::<RawTree>::deserialize(d).map(RawNode)
    }
}

impl<'de> Deserialize<'de> for RawTree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = RawTree;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<RawTree, E> {
        Ok(RawTree::Scalar(Value::Null))
    }
    fn visit_none<E: de::Error>(self) -> std::result::Result<RawTree, E> {
        Ok(RawTree::Scalar(Value::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> std::result::Result<RawTree, D::Error> {
        RawTree::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<RawTree, E> {
        Ok(RawTree::Scalar(Value::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<RawTree, E> {
        Ok(RawTree::Scalar(Value::from(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<RawTree, E> {
        Ok(RawTree::Scalar(Value::from(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<RawTree, E> {
        Ok(RawTree::Scalar(Value::from(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<RawTree, E> {
        Ok(RawTree::Scalar(Value::String(v.to_string())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> std::result::Result<RawTree, E> {
        Ok(RawTree::Scalar(Value::String(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<RawTree, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<RawNode>()? {
            items.push(item);
        }
        Ok(RawTree::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<RawTree, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Value>()? {
            let key = match key {
                Value::String(s) => s,
                other => other.to_string(),
            };
            entries.push((key, map.next_value::<RawNode>()?));
        }
        Ok(RawTree::Map(entries))
    }
}

impl Located {
    /// Reads a YAML document; an empty document is an empty mapping.
    pub fn parse(text: &str, path: &Path) -> Result<Located> {
        if text.trim().is_empty() {
            return Ok(Located {
                tree: Tree::Map(IndexMap::new()),
                location: SourceLocation::new(path, 1, 1),
            });
        }
        let raw: RawNode = from_yaml(text, path)?;
        Ok(attach(raw, path))
    }

    /// The mapping, or an error naming `what` was expected here.
    pub fn as_map(&self, what: &str) -> Result<&IndexMap<String, Located>> {
        match &self.tree {
            Tree::Map(m) => Ok(m),
            _ => Err(self.expected(what)),
        }
    }

    /// The sequence, or an error naming `what` was expected here.
    pub fn as_seq(&self, what: &str) -> Result<&[Located]> {
        match &self.tree {
            Tree::Seq(s) => Ok(s),
            _ => Err(self.expected(what)),
        }
    }

    /// A string scalar (numbers are written as text, as Test Kitchen reads `platforms: [{name: 12}]`).
    pub fn as_string(&self, what: &str) -> Result<String> {
        match &self.tree {
            Tree::Scalar(Value::String(s)) => Ok(s.clone()),
            Tree::Scalar(Value::Number(n)) => Ok(n.to_string()),
            _ => Err(self.expected(what)),
        }
    }

    /// A boolean scalar.
    pub fn as_bool(&self, what: &str) -> Result<bool> {
        match &self.tree {
            Tree::Scalar(Value::Bool(b)) => Ok(*b),
            _ => Err(self.expected(what)),
        }
    }

    /// A non-negative integer scalar.
    pub fn as_u64(&self, what: &str) -> Result<u64> {
        match &self.tree {
            Tree::Scalar(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64().unwrap_or(0)),
            _ => Err(self.expected(what)),
        }
    }

    /// A list of strings.
    pub fn as_strings(&self, what: &str) -> Result<Vec<String>> {
        self.as_seq(what)?
            .iter()
            .map(|item| item.as_string(what))
            .collect()
    }

    /// Whether the value is YAML null (`key:` with nothing after it).
    pub fn is_null(&self) -> bool {
        matches!(self.tree, Tree::Scalar(Value::Null))
    }

    /// The value as plain JSON, locations dropped.
    pub fn to_json(&self) -> Value {
        match &self.tree {
            Tree::Scalar(v) => v.clone(),
            Tree::Seq(items) => Value::Array(items.iter().map(Located::to_json).collect()),
            Tree::Map(map) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
        }
    }

    /// An error at this node: "expected X, found Y".
    pub fn expected(&self, what: &str) -> Error {
        Error::compile(
            self.location.clone(),
            format!("expected {what}, found {}", self.kind_name()),
        )
    }

    fn kind_name(&self) -> &'static str {
        match &self.tree {
            Tree::Scalar(Value::Null) => "nothing",
            Tree::Scalar(Value::Bool(_)) => "a boolean",
            Tree::Scalar(Value::Number(_)) => "a number",
            Tree::Scalar(Value::String(_)) => "a string",
            Tree::Scalar(_) => "a value",
            Tree::Seq(_) => "a list",
            Tree::Map(_) => "a mapping",
        }
    }
}

fn attach(raw: RawNode, path: &Path) -> Located {
    let location = location_of(&raw.0.referenced, path);
    let tree = match raw.0.value {
        RawTree::Scalar(v) => Tree::Scalar(v),
        RawTree::Seq(items) => Tree::Seq(items.into_iter().map(|i| attach(i, path)).collect()),
        RawTree::Map(entries) => Tree::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k, attach(v, path)))
                .collect(),
        ),
    };
    Located { tree, location }
}

/// Test Kitchen's merge rule for `.kitchen.local.yml`: mappings merge key by key, recursively;
/// anything else in `over` replaces what `base` had.
pub fn deep_merge(base: &Located, over: &Located) -> Located {
    match (&base.tree, &over.tree) {
        (Tree::Map(b), Tree::Map(o)) => {
            let mut merged = b.clone();
            for (key, value) in o {
                let next = match b.get(key) {
                    Some(existing) => deep_merge(existing, value),
                    None => value.clone(),
                };
                merged.insert(key.clone(), next);
            }
            Located {
                tree: Tree::Map(merged),
                location: base.location.clone(),
            }
        }
        _ => over.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_knows_its_line_and_column() {
        let doc = Located::parse("a:\n  b: [1, x]\n", Path::new("k.yml")).unwrap();
        let a = &doc.as_map("m").unwrap()["a"];
        let b = &a.as_map("m").unwrap()["b"];
        let x = &b.as_seq("s").unwrap()[1];
        assert_eq!(x.location.to_string(), "k.yml:2:10");
        assert_eq!(x.as_string("s").unwrap(), "x");
    }

    #[test]
    fn local_file_merges_mappings_and_replaces_lists() {
        let base = Located::parse("d: {a: 1, b: 2}\nl: [1, 2]\n", Path::new("k.yml")).unwrap();
        let over = Located::parse("d: {b: 3}\nl: [9]\n", Path::new("l.yml")).unwrap();
        let merged = deep_merge(&base, &over).to_json();
        assert_eq!(merged, serde_json::json!({"d": {"a": 1, "b": 3}, "l": [9]}));
    }

    #[test]
    fn wrong_type_names_the_place_and_the_expectation() {
        let doc = Located::parse("a: 5\n", Path::new("k.yml")).unwrap();
        let err = doc.as_map("m").unwrap()["a"]
            .as_map("a mapping")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "k.yml:1:4: expected a mapping, found a number"
        );
    }
}
