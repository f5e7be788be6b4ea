//! Values kept beyond the evaluation that made them.
//!
//! A block guard (`not_if { ::File.exist?(path) }`) is compiled with the recipe but runs at
//! converge time, when the recipe's evaluator is gone; it still sees the local variables of the
//! code around it. [`FrozenValue`] is a `Send + Sync` copy of those variables; a later
//! evaluator thaws them into its own frames. Each captured variable is copied once, so later
//! changes to it in the recipe are not seen by the block (rare in guards).

use super::ast::Block;
use super::regexp::RubyRegex;
use super::value::{AttrRef, HashKey, Mutability, RArray, RHash, Value};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

/// Containers nested deeper than this are cut (a container that contains itself).
const MAX_DEPTH: usize = 100;

/// An owned, thread-safe copy of a [`Value`].
#[derive(Debug, Clone)]
pub(crate) enum FrozenValue {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Arc<str>),
    Sym(Arc<str>),
    Array(Vec<FrozenValue>, Mutability),
    Hash(FrozenHash),
    Range(Box<(FrozenValue, FrozenValue, bool)>),
    Json(serde_json::Value),
    Regex(Arc<RubyRegex>),
    Module(&'static str),
    Node,
    Attr(AttrRef),
}

/// A frozen Hash with its flags.
#[derive(Debug, Clone)]
pub(crate) struct FrozenHash {
    items: Vec<(HashKey, FrozenValue)>,
    mutability: Mutability,
    indifferent: bool,
    default: Option<Box<FrozenValue>>,
}

impl FrozenValue {
    /// Copies `value` (and everything it contains).
    pub(crate) fn freeze(value: &Value<'_>) -> Self {
        Self::freeze_at(value, 0)
    }

    fn freeze_at(value: &Value<'_>, depth: usize) -> Self {
        if depth > MAX_DEPTH {
            return FrozenValue::Nil;
        }
        match value {
            Value::Nil => FrozenValue::Nil,
            Value::Bool(b) => FrozenValue::Bool(*b),
            Value::Int(i) => FrozenValue::Int(*i),
            Value::Float(f) => FrozenValue::Float(*f),
            Value::Str(s) => FrozenValue::Str(s.clone()),
            Value::Sym(s) => FrozenValue::Sym(s.clone()),
            Value::Array(a) => FrozenValue::Array(
                a.items
                    .borrow()
                    .iter()
                    .map(|v| Self::freeze_at(v, depth + 1))
                    .collect(),
                a.mutability,
            ),
            Value::Hash(h) => FrozenValue::Hash(FrozenHash {
                items: h
                    .map
                    .borrow()
                    .iter()
                    .map(|(k, v)| (k.clone(), Self::freeze_at(v, depth + 1)))
                    .collect(),
                mutability: h.mutability,
                indifferent: h.indifferent,
                default: h
                    .default
                    .as_ref()
                    .map(|d| Box::new(Self::freeze_at(d, depth + 1))),
            }),
            Value::Range(r) => FrozenValue::Range(Box::new((
                Self::freeze_at(&r.0, depth + 1),
                Self::freeze_at(&r.1, depth + 1),
                r.2,
            ))),
            Value::Json(j) => FrozenValue::Json((*j).clone()),
            Value::Regex(r) => FrozenValue::Regex(r.clone()),
            Value::Module(m) => FrozenValue::Module(m),
            Value::Node => FrozenValue::Node,
            Value::Attr(a) => FrozenValue::Attr((**a).clone()),
        }
    }

    /// A live value for an evaluator; JSON is borrowed from `self`, not copied.
    pub(crate) fn thaw(&self) -> Value<'_> {
        match self {
            FrozenValue::Nil => Value::Nil,
            FrozenValue::Bool(b) => Value::Bool(*b),
            FrozenValue::Int(i) => Value::Int(*i),
            FrozenValue::Float(f) => Value::Float(*f),
            FrozenValue::Str(s) => Value::Str(s.clone()),
            FrozenValue::Sym(s) => Value::Sym(s.clone()),
            FrozenValue::Array(items, mutability) => Value::Array(Rc::new(RArray {
                items: RefCell::new(items.iter().map(FrozenValue::thaw).collect()),
                mutability: *mutability,
            })),
            FrozenValue::Hash(h) => Value::Hash(Rc::new(RHash {
                map: RefCell::new(h.items.iter().map(|(k, v)| (k.clone(), v.thaw())).collect()),
                mutability: h.mutability,
                indifferent: h.indifferent,
                default: h.default.as_ref().map(|d| d.thaw()),
            })),
            FrozenValue::Range(r) => Value::Range(Rc::new((r.0.thaw(), r.1.thaw(), r.2))),
            FrozenValue::Json(j) => Value::from_json(j),
            FrozenValue::Regex(r) => Value::Regex(r.clone()),
            FrozenValue::Module(m) => Value::Module(m),
            FrozenValue::Node => Value::Node,
            FrozenValue::Attr(a) => Value::Attr(Rc::new(a.clone())),
        }
    }
}

/// A block taken out of the code around it, with a copy of the variables it can see.
#[derive(Debug, Clone)]
pub(crate) struct CapturedBlock {
    pub block: Arc<Block>,
    /// The local variable frames around the block, outermost first.
    pub frames: Vec<Vec<FrozenValue>>,
    pub ivars: Vec<(Arc<str>, FrozenValue)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn frozen_values_cross_threads_and_thaw_equal() {
        assert_send_sync::<FrozenValue>();
        let json = serde_json::json!({"a": [1, 2]});
        let mut map = indexmap::IndexMap::new();
        map.insert(HashKey::Sym(Arc::from("k")), Value::Sym(Arc::from("v")));
        let original = Value::array(vec![
            Value::Int(1),
            Value::hash(map),
            Value::Json(&json),
            Value::str("s"),
        ]);
        let frozen = FrozenValue::freeze(&original);
        let thawed = frozen.thaw();
        assert!(super::super::value::equal(&original, &thawed));
        assert_eq!(thawed.inspect(), r#"[1, {k: :v}, {"a" => [1, 2]}, "s"]"#);
    }
}
