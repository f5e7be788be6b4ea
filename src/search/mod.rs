//! Chef's search over JSON documents: the query language (`query`), how documents are indexed
//! and matched (`index`), and what a search returns (rows, `start`, `filter_result`).
//!
//! Everything here is a pure function over JSON, so the same queries can later be sent to a
//! Chef server by a client; `local` reads the documents of chef-solo's local mode from the
//! repository (nodes from `node_path`, roles, environments and data bags from their paths).

pub mod index;
pub mod local;
pub mod query;

pub use index::{Fields, Matcher};
pub use query::{parse, ParseError, Query};

use serde_json::{Map, Value};

/// One searchable object: its id, what a search returns for it, and what is indexed.
#[derive(Debug, Clone)]
pub struct Document {
    /// The node, role or environment name, or the data bag item id; results are in id order.
    pub id: String,
    /// The object a search returns (a node's attributes with its name, a role, an item).
    pub value: Value,
    /// The object as indexed (for nodes: merged attributes plus name, environment, run list).
    pub indexed: Value,
}

/// Where a run's `search` is answered when not from the repository's own files: a Chef
/// server, in client mode, which runs the query itself (only the matches travel).
pub trait SearchSource: Send + Sync + std::fmt::Debug {
    /// The results of `query` over `index` (`node`, `role`, `environment`, `client` or a data
    /// bag), paged and filtered as `page` asks, shaped as [`search`] returns them.
    fn search(&self, index: &str, query: &str, page: &Page) -> crate::Result<Vec<Value>>;
}

/// What to return of the matching documents.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// How many matches to skip.
    pub start: usize,
    /// How many to return at most; None for all.
    pub rows: Option<usize>,
    /// `filter_result`: each result becomes a Hash of these keys, each read at its path in the
    /// indexed object (`{"ip" => ["ipaddress"]}`).
    pub filter: Option<Vec<(String, Vec<String>)>>,
}

/// The documents matching `query`, in id order, paged and filtered as asked.
pub fn search(mut documents: Vec<Document>, query: &Query, page: &Page) -> Vec<Value> {
    documents.sort_by(|a, b| a.id.cmp(&b.id));
    let matcher = Matcher::new(query);
    let matching = documents
        .into_iter()
        .filter(|d| matcher.matches(&Fields::of(&d.indexed, &d.id)))
        .skip(page.start)
        .take(page.rows.unwrap_or(usize::MAX));
    matching
        .map(|d| match &page.filter {
            None => d.value,
            Some(keys) => Value::Object(
                keys.iter()
                    .map(|(key, path)| (key.clone(), dig(&d.indexed, path)))
                    .collect(),
            ),
        })
        .collect()
}

/// The value at `path` (nil when any step is missing or the path is empty).
fn dig(value: &Value, path: &[String]) -> Value {
    if path.is_empty() {
        return Value::Null;
    }
    let mut at = value;
    for key in path {
        at = match at {
            Value::Object(map) => match map.get(key) {
                Some(v) => v,
                None => return Value::Null,
            },
            Value::Array(items) => match key.parse::<usize>().ok().and_then(|i| items.get(i)) {
                Some(v) => v,
                None => return Value::Null,
            },
            _ => return Value::Null,
        };
    }
    at.clone()
}

/// A node as the index sees it, from a node object as Chef saves it (`nodes/<name>.json`):
/// the four attribute levels merged (automatic wins, then override, normal, default), `recipe`
/// and `role` from the run list, and the node's own keys (`name`, `chef_environment`,
/// `run_list`, ...). The same object is what a search returns (`n['ipaddress']`, `n.name`).
pub fn node_document(name: &str, node: &Value) -> Document {
    let empty = Map::new();
    let object = node.as_object().unwrap_or(&empty);
    let mut merged = Map::new();
    for level in ["default", "normal", "override", "automatic"] {
        if let Some(Value::Object(attrs)) = object.get(level) {
            deep_merge(&mut merged, attrs);
        }
    }
    let run_list: Vec<String> = object
        .get("run_list")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(|item| {
                    if item.contains('[') {
                        item.to_string()
                    } else {
                        format!("recipe[{item}]")
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let mut recipes = Vec::new();
    let mut roles = Vec::new();
    for item in &run_list {
        if let Some(inner) = item
            .strip_prefix("recipe[")
            .and_then(|r| r.strip_suffix(']'))
        {
            recipes.push(Value::from(inner));
        } else if let Some(inner) = item.strip_prefix("role[").and_then(|r| r.strip_suffix(']')) {
            roles.push(Value::from(inner));
        }
    }
    merged.insert("recipe".into(), Value::Array(recipes));
    merged.insert("role".into(), Value::Array(roles));
    for (key, value) in object {
        if !matches!(
            key.as_str(),
            "default" | "normal" | "override" | "automatic"
        ) {
            merged.insert(key.clone(), value.clone());
        }
    }
    merged.insert("name".into(), Value::from(name));
    merged
        .entry("chef_environment")
        .or_insert_with(|| Value::from("_default"));
    merged.insert(
        "run_list".into(),
        Value::Array(run_list.into_iter().map(Value::from).collect()),
    );
    merged
        .entry("chef_type")
        .or_insert_with(|| Value::from("node"));
    let value = Value::Object(merged);
    Document {
        id: name.to_string(),
        indexed: value.clone(),
        value,
    }
}

/// Merges `from` into `into`: objects key by key, anything else replaced.
fn deep_merge(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (key, value) in from {
        match (into.get_mut(key), value) {
            (Some(Value::Object(existing)), Value::Object(incoming)) => {
                deep_merge(existing, incoming)
            }
            _ => {
                into.insert(key.clone(), value.clone());
            }
        }
    }
}

/// A data bag item: returned and indexed as it is (it has its `id`).
pub fn item_document(id: &str, item: Value) -> Document {
    Document {
        id: id.to_string(),
        indexed: item.clone(),
        value: item,
    }
}

#[cfg(test)]
mod tests;
