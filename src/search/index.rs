//! Documents as the search index sees them, and matching a query against them.
//!
//! A document is flattened the way Chef's indexer (and chef-zero) does: every key of every
//! nested object is a field on its own (`server_id`) and joined with the keys above it by `_`
//! (`mysql_server_id`); array elements are values of the array's field. Values are compared
//! as text, case-insensitively, word by word: a term matches a value when it matches a run of
//! word characters (letters, digits and `@._':`) bounded by anything else, so `web` matches
//! `web-1` but not `web1`, and `web*` matches both.

use super::query::{Pattern, PatternPart, Query};
use regex::Regex;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The characters of a word, as the indexer splits values.
const WORD: &str = "[A-Za-z0-9@._':]";
const NON_WORD: &str = "[^A-Za-z0-9@._':]";

/// The field that holds a document's id (its name, or a data bag item's id).
pub const ID_FIELD: &str = "X_CHEF_id_CHEF_X";

/// A document's fields: name → values as text.
#[derive(Debug, Default)]
pub struct Fields {
    values: HashMap<String, Vec<String>>,
}

impl Fields {
    /// The flattened fields of `doc`, with `id` as [`ID_FIELD`].
    pub fn of(doc: &Value, id: &str) -> Fields {
        let mut fields = Fields::default();
        fields.add(ID_FIELD, id.to_string());
        if let Value::Object(map) = doc {
            fields.object(None, map, 0);
        }
        fields
    }

    fn add(&mut self, key: &str, value: String) {
        let values = self.values.entry(key.to_string()).or_default();
        if !values.contains(&value) {
            values.push(value);
        }
    }

    fn object(&mut self, prefix: Option<&str>, map: &Map<String, Value>, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        for (key, value) in map {
            let full = match prefix {
                Some(p) => format!("{p}_{key}"),
                None => key.clone(),
            };
            self.value(key, &full, value, depth);
        }
    }

    /// A value under its own key (`short`) and its joined key (`full`).
    fn value(&mut self, short: &str, full: &str, value: &Value, depth: usize) {
        match value {
            Value::Object(map) => self.object(Some(full), map, depth + 1),
            Value::Array(items) => {
                for item in items {
                    self.value(short, full, item, depth + 1);
                }
            }
            scalar => {
                let text = scalar_text(scalar);
                if short != full {
                    self.add(short, text.clone());
                }
                self.add(full, text);
            }
        }
    }

    /// The values of the fields `field` names (several when it has wildcards).
    fn lookup(&self, field: &Compiled) -> Vec<&str> {
        match field {
            Compiled::Name(name) => self
                .values
                .get(name)
                .map(|v| v.iter().map(String::as_str).collect())
                .unwrap_or_default(),
            Compiled::Names(re) => self
                .values
                .iter()
                .filter(|(k, _)| re.is_match(k))
                .flat_map(|(_, v)| v.iter().map(String::as_str))
                .collect(),
        }
    }

    fn all(&self) -> Vec<&str> {
        self.values
            .iter()
            .filter(|(k, _)| k.as_str() != ID_FIELD)
            .flat_map(|(_, v)| v.iter().map(String::as_str))
            .collect()
    }
}

/// How deep documents are flattened.
const MAX_DEPTH: usize = 100;

/// A scalar as Ruby's `to_s` writes it (nil is empty).
fn scalar_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) if f.is_finite() && f.fract() == 0.0 => format!("{f:.1}"),
            (None, Some(f)) => f.to_string(),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// A field name: exact, or a pattern over names.
enum Compiled {
    Name(String),
    Names(Regex),
}

/// A query made ready to match many documents (its patterns compiled once).
pub struct Matcher {
    root: Node,
}

enum Node {
    /// Matches nothing (a pattern too large for the regex engine).
    Never,
    /// Any value of the selected values matches the regex.
    Values(Regex),
    Range {
        low: Option<String>,
        high: Option<String>,
        low_inclusive: bool,
        high_inclusive: bool,
    },
    Field(Compiled, Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
}

/// The regex text of a pattern's parts.
fn pattern_regex(pattern: &Pattern) -> String {
    let mut out = String::new();
    for part in &pattern.parts {
        match part {
            PatternPart::Literal(s) => out.push_str(&regex::escape(s)),
            PatternPart::Any => {
                out.push_str(WORD);
                out.push('*');
            }
            PatternPart::One => out.push_str(WORD),
        }
    }
    out
}

/// A value regex: the words, bounded by non-word characters or the ends.
fn bounded(inner: &str) -> Option<Regex> {
    Regex::new(&format!("(?i)(?:^|{NON_WORD}){inner}(?:$|{NON_WORD})")).ok()
}

impl Matcher {
    /// Compiles `query`.
    pub fn new(query: &Query) -> Matcher {
        Matcher {
            root: Self::node(query),
        }
    }

    fn node(query: &Query) -> Node {
        let never = || Node::Never;
        match query {
            Query::Term(p) => bounded(&pattern_regex(p)).map_or_else(never, Node::Values),
            Query::Phrase(words) => {
                let joined: Vec<String> = words.iter().map(pattern_regex).collect();
                bounded(&joined.join(&format!("{NON_WORD}+"))).map_or_else(never, Node::Values)
            }
            Query::Range {
                low,
                high,
                low_inclusive,
                high_inclusive,
            } => Node::Range {
                low: low.clone(),
                high: high.clone(),
                low_inclusive: *low_inclusive,
                high_inclusive: *high_inclusive,
            },
            Query::Field(field, value) => {
                let field = match field.literal() {
                    Some(name) => Compiled::Name(name),
                    None => match Regex::new(&format!("^{}$", pattern_regex(field))) {
                        Ok(re) => Compiled::Names(re),
                        Err(_) => return never(),
                    },
                };
                Node::Field(field, Box::new(Self::node(value)))
            }
            Query::And(a, b) => Node::And(Box::new(Self::node(a)), Box::new(Self::node(b))),
            Query::Or(a, b) => Node::Or(Box::new(Self::node(a)), Box::new(Self::node(b))),
            Query::Not(a) => Node::Not(Box::new(Self::node(a))),
        }
    }

    /// Whether the document with these fields matches.
    pub fn matches(&self, fields: &Fields) -> bool {
        doc_matches(&self.root, fields)
    }
}

fn doc_matches(node: &Node, fields: &Fields) -> bool {
    match node {
        Node::Field(field, value) => values_match(value, &fields.lookup(field)),
        Node::And(a, b) => doc_matches(a, fields) && doc_matches(b, fields),
        Node::Or(a, b) => doc_matches(a, fields) || doc_matches(b, fields),
        Node::Not(a) => !doc_matches(a, fields),
        Node::Never => false,
        // A bare term or phrase searches every field.
        Node::Values(_) | Node::Range { .. } => values_match(node, &fields.all()),
    }
}

fn values_match(node: &Node, values: &[&str]) -> bool {
    match node {
        Node::Values(re) => values.iter().any(|v| re.is_match(v)),
        Node::Range {
            low,
            high,
            low_inclusive,
            high_inclusive,
        } => values.iter().any(|v| {
            let above = low.as_deref().is_none_or(|l| match compare(l, v) {
                std::cmp::Ordering::Less => true,
                std::cmp::Ordering::Equal => *low_inclusive,
                std::cmp::Ordering::Greater => false,
            });
            let below = high.as_deref().is_none_or(|h| match compare(v, h) {
                std::cmp::Ordering::Less => true,
                std::cmp::Ordering::Equal => *high_inclusive,
                std::cmp::Ordering::Greater => false,
            });
            above && below
        }),
        Node::And(a, b) => values_match(a, values) && values_match(b, values),
        Node::Or(a, b) => values_match(a, values) || values_match(b, values),
        Node::Not(a) => !values_match(a, values),
        // `a:(b:c)` is not a query Chef accepts; nothing matches it.
        Node::Field(..) | Node::Never => false,
    }
}

/// Numbers compare as numbers, anything else as text.
fn compare(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
        _ => a.cmp(b),
    }
}
