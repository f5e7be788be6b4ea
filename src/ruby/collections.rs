//! Methods of Array, Hash and Range, and the Enumerable methods they share.

use super::ast::{BlockArg, Span};
use super::interp::{arity, check_mutable, Fault, Flow, Interp};
use super::value::{compare, equal, HashKey, RArray, RHash, Value};
use indexmap::IndexMap;
use std::cmp::Ordering;
use std::rc::Rc;

type Found<'a> = Result<Option<Value<'a>>, Flow<'a>>;

/// The most elements a range may expand to.
const RANGE_LIMIT: i64 = 1_000_000;

/// Elements for a splat (`*x`): arrays, hash pairs, range members; nil is empty.
pub(crate) fn splat_items(value: Value<'_>) -> Vec<Value<'_>> {
    match value.materialize() {
        Value::Array(a) => a.items.borrow().clone(),
        Value::Hash(h) => pairs(&h),
        Value::Range(r) => range_items(&r).unwrap_or_default(),
        Value::Nil => Vec::new(),
        other => vec![other],
    }
}

/// Elements for destructuring (`|a, b|`, `a, b = x`): only arrays spread.
pub(crate) fn to_array(value: Value<'_>) -> Vec<Value<'_>> {
    match value.materialize() {
        Value::Array(a) => a.items.borrow().clone(),
        other => vec![other],
    }
}

fn pairs<'a>(h: &RHash<'a>) -> Vec<Value<'a>> {
    h.map
        .borrow()
        .iter()
        .map(|(k, v)| Value::array(vec![k.to_value(), v.clone()]))
        .collect()
}

fn range_items<'a>(r: &(Value<'a>, Value<'a>, bool)) -> Result<Vec<Value<'a>>, Fault> {
    match (&r.0, &r.1) {
        (Value::Int(low), Value::Int(high)) => {
            let high = if r.2 { high.saturating_sub(1) } else { *high };
            if high.saturating_sub(*low) > RANGE_LIMIT {
                return Err(Fault::new("RangeError", "range too large to expand"));
            }
            Ok((*low..=high).map(Value::Int).collect())
        }
        (Value::Str(low), Value::Str(high)) => {
            let mut items = Vec::new();
            let mut current = low.to_string();
            let limit = high.chars().count();
            while current.chars().count() <= limit && items.len() < 100_000 {
                let last = current == high.as_ref();
                if !(last && r.2) {
                    items.push(Value::str(&current));
                }
                if last {
                    break;
                }
                current = match Value::str(&current) {
                    Value::Str(s) => next_string(&s),
                    _ => break,
                };
            }
            Ok(items)
        }
        _ => Err(Fault::type_error(format!(
            "can't iterate from {}",
            r.0.class_name()
        ))),
    }
}

fn next_string(s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    let mut i = chars.len();
    while i > 0 {
        i -= 1;
        match chars[i] {
            'z' => chars[i] = 'a',
            'Z' => chars[i] = 'A',
            '9' => chars[i] = '0',
            c => {
                chars[i] = char::from_u32(c as u32 + 1).unwrap_or(c);
                return chars.into_iter().collect();
            }
        }
    }
    let first = match s.chars().next() {
        Some('9') => '1',
        Some(c) if c.is_uppercase() => 'A',
        _ => 'a',
    };
    std::iter::once(first).chain(chars).collect()
}

/// A block-less enumerator call (`each_with_index`, `map`), approximated by the array it would
/// yield, so chains like `each_with_index.map { |x, i| }` and `map.with_index(1) { }` work.
fn enumerator<'a>(name: &str, items: Vec<Value<'a>>, args: &[Value<'a>]) -> Option<Value<'a>> {
    match name {
        "each" | "map" | "collect" | "flat_map" | "select" | "filter" | "reject" | "filter_map"
        | "each_entry" | "sort_by" | "min_by" | "max_by" | "group_by" | "find" | "detect"
        | "each_value" | "each_pair" | "reverse_each" => {
            Some(Value::array(if name == "reverse_each" {
                items.into_iter().rev().collect()
            } else {
                items
            }))
        }
        "each_with_index" | "with_index" => {
            let offset = match args.first() {
                Some(Value::Int(o)) => *o,
                _ => 0,
            };
            Some(Value::array(
                items
                    .into_iter()
                    .zip(offset..)
                    .map(|(item, i)| Value::array(vec![item, Value::Int(i)]))
                    .collect(),
            ))
        }
        _ => None,
    }
}

fn key_string(key: &Value<'_>) -> Option<String> {
    match key {
        Value::Str(s) | Value::Sym(s) => Some(s.to_string()),
        _ => None,
    }
}

/// `[]`, `dig`, `fetch`, `key?` on borrowed JSON without copying it.
pub(crate) fn json_fast_path<'a>(
    json: &'a serde_json::Value,
    name: &str,
    args: &[Value<'a>],
) -> Option<Value<'a>> {
    match (name, json, args) {
        ("[]", serde_json::Value::Object(map), [key]) => {
            let key = key_string(key)?;
            Some(map.get(&key).map_or(Value::Nil, Value::from_json))
        }
        ("[]", serde_json::Value::Array(items), [Value::Int(i)]) => {
            let len = i64::try_from(items.len()).ok()?;
            let index = if *i < 0 { len + i } else { *i };
            Some(
                usize::try_from(index)
                    .ok()
                    .and_then(|i| items.get(i))
                    .map_or(Value::Nil, Value::from_json),
            )
        }
        ("key?" | "has_key?" | "include?" | "member?", serde_json::Value::Object(map), [key]) => {
            Some(Value::Bool(map.contains_key(&key_string(key)?)))
        }
        ("dig", _, [first, rest @ ..]) => {
            let mut current = json_fast_path(json, "[]", std::slice::from_ref(first))?;
            for key in rest {
                current = match current {
                    Value::Json(inner) => json_fast_path(inner, "[]", std::slice::from_ref(key))?,
                    Value::Nil => return Some(Value::Nil),
                    _ => return None,
                };
            }
            Some(current)
        }
        ("length" | "size", serde_json::Value::Object(map), []) => {
            Some(Value::Int(i64::try_from(map.len()).ok()?))
        }
        ("length" | "size", serde_json::Value::Array(items), []) => {
            Some(Value::Int(i64::try_from(items.len()).ok()?))
        }
        ("empty?", serde_json::Value::Object(map), []) => Some(Value::Bool(map.is_empty())),
        ("empty?", serde_json::Value::Array(items), []) => Some(Value::Bool(items.is_empty())),
        _ => None,
    }
}

fn index_of(len: usize, index: i64) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let index = if index < 0 { len + index } else { index };
    usize::try_from(index).ok()
}

fn slice<'a>(items: &[Value<'a>], start: i64, length: i64) -> Value<'a> {
    let Some(start) = index_of(items.len(), start).filter(|&s| s <= items.len()) else {
        return Value::Nil;
    };
    let Ok(length) = usize::try_from(length) else {
        return Value::Nil;
    };
    let end = start.saturating_add(length).min(items.len());
    Value::array(items[start..end].to_vec())
}

fn range_bounds(len: usize, r: &(Value<'_>, Value<'_>, bool)) -> Option<(i64, i64)> {
    let low = match &r.0 {
        Value::Int(i) => *i,
        Value::Nil => 0,
        _ => return None,
    };
    let ilen = i64::try_from(len).ok()?;
    let high = match &r.1 {
        Value::Int(i) => *i,
        Value::Nil => -1,
        _ => return None,
    };
    let low = if low < 0 { ilen + low } else { low };
    let mut high = if high < 0 { ilen + high } else { high };
    if r.2 && !matches!(r.1, Value::Nil) {
        high = high.saturating_sub(1);
    }
    Some((low, high.saturating_sub(low).saturating_add(1).max(0)))
}

fn array_index<'a>(items: &[Value<'a>], args: &[Value<'a>]) -> Result<Value<'a>, Fault> {
    Ok(match args {
        [Value::Int(i)] => index_of(items.len(), *i)
            .and_then(|i| items.get(i).cloned())
            .unwrap_or(Value::Nil),
        [Value::Int(start), Value::Int(length)] => slice(items, *start, *length),
        [Value::Range(r)] => match range_bounds(items.len(), r) {
            Some((start, length)) => slice(items, start, length),
            None => Value::Nil,
        },
        [other, ..] => {
            return Err(Fault::type_error(format!(
                "no implicit conversion of {} into Integer",
                other.class_name()
            )))
        }
        [] => {
            return Err(Fault::argument(
                "wrong number of arguments (given 0, expected 1..2)",
            ))
        }
    })
}

fn flatten<'a>(items: &[Value<'a>], depth: i64, out: &mut Vec<Value<'a>>) -> Result<(), Fault> {
    flatten_at(items, depth, out, 0)
}

fn flatten_at<'a>(
    items: &[Value<'a>],
    depth: i64,
    out: &mut Vec<Value<'a>>,
    level: usize,
) -> Result<(), Fault> {
    if level > 100 {
        return Err(Fault::argument("tried to flatten recursive array"));
    }
    for item in items {
        match item.clone().materialize() {
            Value::Array(inner) if depth != 0 => {
                flatten_at(&inner.items.borrow(), depth - 1, out, level + 1)?;
            }
            _ => out.push(item.clone()),
        }
    }
    Ok(())
}

fn uniq<'a>(items: Vec<Value<'a>>) -> Vec<Value<'a>> {
    let mut out: Vec<Value<'a>> = Vec::with_capacity(items.len());
    for item in items {
        if !out.iter().any(|o| equal(o, &item)) {
            out.push(item);
        }
    }
    out
}

fn sort_values<'a>(items: &mut [Value<'a>]) -> Result<(), Fault> {
    let mut failure = None;
    items.sort_by(|a, b| {
        compare(a, b).unwrap_or_else(|| {
            failure.get_or_insert_with(|| {
                Fault::argument(format!(
                    "comparison of {} with {} failed",
                    a.class_name(),
                    b.class_name()
                ))
            });
            Ordering::Equal
        })
    });
    failure.map_or(Ok(()), Err)
}

fn sum<'a>(items: &[Value<'a>], init: Value<'a>) -> Result<Value<'a>, Fault> {
    let mut total = init;
    for item in items {
        total = match (&total, item) {
            (Value::Int(a), Value::Int(b)) => Value::Int(
                a.checked_add(*b)
                    .ok_or_else(|| Fault::new("RangeError", "integer overflow"))?,
            ),
            (Value::Int(a), Value::Float(b)) => Value::Float(*a as f64 + b),
            (Value::Float(a), Value::Int(b)) => Value::Float(a + *b as f64),
            (Value::Float(a), Value::Float(b)) => Value::Float(a + b),
            (Value::Str(a), Value::Str(b)) => Value::str(format!("{a}{b}")),
            (Value::Array(a), _) => {
                let mut items = a.items.borrow().clone();
                items.extend(to_array(item.clone()));
                Value::array(items)
            }
            _ => {
                return Err(Fault::type_error(format!(
                    "{} can't be coerced into {}",
                    item.class_name(),
                    total.class_name()
                )))
            }
        };
    }
    Ok(total)
}

fn hash_from_pairs<'a>(items: &[Value<'a>]) -> Result<Value<'a>, Fault> {
    let mut map = IndexMap::new();
    for item in items {
        let pair = to_array(item.clone());
        if pair.len() != 2 {
            return Err(Fault::type_error(format!(
                "wrong element type {} (expected array of 2 elements)",
                item.class_name()
            )));
        }
        map.insert(
            HashKey::of(&pair[0]).map_err(Fault::type_error)?,
            pair[1].clone(),
        );
    }
    Ok(Value::hash(map))
}

fn key_for(h: &RHash<'_>, key: &Value<'_>) -> Result<HashKey, Fault> {
    let k = HashKey::of(key).map_err(Fault::type_error)?;
    if h.indifferent {
        if let HashKey::Sym(s) = &k {
            return Ok(HashKey::Str(s.clone()));
        }
    }
    Ok(k)
}

impl<'a> Interp<'a, '_> {
    fn need_block<'b>(
        &self,
        block: Option<&'b BlockArg>,
        name: &str,
    ) -> Result<&'b BlockArg, Fault> {
        block.ok_or_else(|| {
            Fault::new(
                "NotImplementedError",
                format!("unsupported Ruby: `{name}` without a block (enumerators)"),
            )
        })
    }

    /// Enumerable methods over `items` (for a Hash, its `[key, value]` pairs).
    fn enumerable(
        &mut self,
        items: Vec<Value<'a>>,
        name: &str,
        args: &[Value<'a>],
        block: Option<&BlockArg>,
        span: Span,
    ) -> Found<'a> {
        match name {
            "map" | "collect" | "flat_map" | "collect_concat" | "filter_map" | "select"
            | "filter" | "reject" | "partition" | "find" | "detect" | "find_index" | "index" => {
                self.enumerable_filtering(items, name, args, block)
            }
            "any?" | "all?" | "none?" | "one?" | "count" | "include?" | "member?" => {
                self.enumerable_queries(items, name, args, block, span)
            }
            "each_with_index" | "each_with_object" | "each_slice" | "each_cons" | "inject"
            | "reduce" | "sum" => self.enumerable_folding(items, name, args, block, span),
            "sort_by" | "min_by" | "max_by" | "group_by" | "uniq_by" | "sort" | "min" | "max"
            | "minmax" | "tally" => self.enumerable_ordering(items, name, args, block),
            "to_a" | "entries" | "to_h" | "first" | "take" | "drop" | "take_while"
            | "drop_while" | "zip" | "grep" | "grep_v" => {
                self.enumerable_reshaping(items, name, args, block, span)
            }
            _ => Ok(None),
        }
    }

    /// Enumerable methods that pick or transform elements.
    fn enumerable_filtering(
        &mut self,
        items: Vec<Value<'a>>,
        name: &str,
        args: &[Value<'a>],
        block: Option<&BlockArg>,
    ) -> Found<'a> {
        Ok(Some(match name {
            "map" | "collect" | "flat_map" | "collect_concat" => {
                let block = self.need_block(block, name)?;
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let v = self.yield_block(block, vec![item])?;
                    if name.starts_with("flat") || name == "collect_concat" {
                        out.extend(to_array(v));
                    } else {
                        out.push(v);
                    }
                }
                Value::array(out)
            }
            "filter_map" => {
                let block = self.need_block(block, name)?;
                let mut out = Vec::new();
                for item in items {
                    let v = self.yield_block(block, vec![item])?;
                    if v.truthy() {
                        out.push(v);
                    }
                }
                Value::array(out)
            }
            "select" | "filter" | "reject" => {
                let block = self.need_block(block, name)?;
                let keep = name != "reject";
                let mut out = Vec::new();
                for item in items {
                    let v = self.yield_block(block, vec![item.clone()])?;
                    if self.truthy(&v)? == keep {
                        out.push(item);
                    }
                }
                Value::array(out)
            }
            "partition" => {
                let block = self.need_block(block, name)?;
                let (mut yes, mut no) = (Vec::new(), Vec::new());
                for item in items {
                    let v = self.yield_block(block, vec![item.clone()])?;
                    if self.truthy(&v)? {
                        yes.push(item);
                    } else {
                        no.push(item);
                    }
                }
                Value::array(vec![Value::array(yes), Value::array(no)])
            }
            "find" | "detect" => {
                let block = self.need_block(block, name)?;
                for item in items {
                    let v = self.yield_block(block, vec![item.clone()])?;
                    if self.truthy(&v)? {
                        return Ok(Some(item));
                    }
                }
                Value::Nil
            }
            "find_index" | "index" => {
                for (i, item) in items.into_iter().enumerate() {
                    let hit = match (block, args.first()) {
                        (_, Some(target)) => equal(&item, target),
                        (Some(block), None) => {
                            let v = self.yield_block(block, vec![item])?;
                            self.truthy(&v)?
                        }
                        (None, None) => {
                            return Err(
                                Fault::argument("`index` needs an argument or a block").into()
                            )
                        }
                    };
                    if hit {
                        return Ok(Some(Value::Int(i64::try_from(i).unwrap_or(0))));
                    }
                }
                Value::Nil
            }
            _ => return Ok(None),
        }))
    }

    /// Enumerable methods that answer a question about the elements.
    fn enumerable_queries(
        &mut self,
        items: Vec<Value<'a>>,
        name: &str,
        args: &[Value<'a>],
        block: Option<&BlockArg>,
        span: Span,
    ) -> Found<'a> {
        Ok(Some(match name {
            "any?" | "all?" | "none?" | "one?" => {
                let mut hits = 0usize;
                let total = items.len();
                for item in items {
                    let hit = match (block, args.first()) {
                        (_, Some(pattern)) => self.case_equal(pattern, &item, span)?,
                        (Some(block), None) => {
                            let v = self.yield_block(block, vec![item])?;
                            self.truthy(&v)?
                        }
                        (None, None) => self.truthy(&item)?,
                    };
                    hits += usize::from(hit);
                }
                Value::Bool(match name {
                    "any?" => hits > 0,
                    "all?" => hits == total,
                    "none?" => hits == 0,
                    _ => hits == 1,
                })
            }
            "count" => {
                let n = match (block, args.first()) {
                    (_, Some(target)) => items.iter().filter(|i| equal(i, target)).count(),
                    (Some(block), None) => {
                        let mut n = 0;
                        for item in items {
                            let v = self.yield_block(block, vec![item])?;
                            n += usize::from(self.truthy(&v)?);
                        }
                        n
                    }
                    (None, None) => items.len(),
                };
                Value::Int(i64::try_from(n).unwrap_or(0))
            }
            "include?" | "member?" => {
                arity(args, 1, 1)?;
                Value::Bool(items.iter().any(|i| equal(i, &args[0])))
            }
            _ => return Ok(None),
        }))
    }

    /// Enumerable methods that walk the elements with extra state.
    fn enumerable_folding(
        &mut self,
        items: Vec<Value<'a>>,
        name: &str,
        args: &[Value<'a>],
        block: Option<&BlockArg>,
        span: Span,
    ) -> Found<'a> {
        Ok(Some(match name {
            "each_with_index" => {
                let block = self.need_block(block, name)?;
                for (i, item) in items.into_iter().enumerate() {
                    self.yield_block(block, vec![item, Value::Int(i64::try_from(i).unwrap_or(0))])?;
                }
                return Ok(None);
            }
            "each_with_object" => {
                let block = self.need_block(block, name)?;
                arity(args, 1, 1)?;
                let memo = args[0].clone();
                for item in items {
                    self.yield_block(block, vec![item, memo.clone()])?;
                }
                memo
            }
            "each_slice" | "each_cons" => {
                let size = match args.first() {
                    Some(Value::Int(n)) if *n > 0 => usize::try_from(*n).unwrap_or(1),
                    _ => return Err(Fault::argument("invalid slice size").into()),
                };
                let groups: Vec<Value<'a>> = if name == "each_slice" {
                    items
                        .chunks(size)
                        .map(|c| Value::array(c.to_vec()))
                        .collect()
                } else {
                    items
                        .windows(size)
                        .map(|c| Value::array(c.to_vec()))
                        .collect()
                };
                match block {
                    Some(block) => {
                        for group in groups {
                            self.yield_block(block, vec![group])?;
                        }
                        Value::Nil
                    }
                    None => Value::array(groups),
                }
            }
            "inject" | "reduce" => {
                let mut iter = items.into_iter();
                let (mut memo, op) = match (args, block) {
                    ([init, Value::Sym(op)], _) => (init.clone(), Some(op.clone())),
                    ([Value::Sym(op)], None) => {
                        (iter.next().unwrap_or(Value::Nil), Some(op.clone()))
                    }
                    ([init], Some(_)) => (init.clone(), None),
                    ([], Some(_)) => (iter.next().unwrap_or(Value::Nil), None),
                    _ => return Err(Fault::argument("`inject` needs a block or a symbol").into()),
                };
                for item in iter {
                    memo = match (&op, block) {
                        (Some(op), _) => self.call_method(memo, op, vec![item], None, span)?,
                        (None, Some(block)) => self.yield_block(block, vec![memo, item])?,
                        (None, None) => memo,
                    };
                }
                memo
            }
            "sum" => {
                let init = args.first().cloned().unwrap_or(Value::Int(0));
                let items = match block {
                    Some(block) => {
                        let mut out = Vec::with_capacity(items.len());
                        for item in items {
                            out.push(self.yield_block(block, vec![item])?);
                        }
                        out
                    }
                    None => items,
                };
                sum(&items, init)?
            }
            _ => return Ok(None),
        }))
    }

    /// Enumerable methods that order, group or count elements.
    fn enumerable_ordering(
        &mut self,
        items: Vec<Value<'a>>,
        name: &str,
        args: &[Value<'a>],
        block: Option<&BlockArg>,
    ) -> Found<'a> {
        Ok(Some(match name {
            "sort_by" | "min_by" | "max_by" | "group_by" | "uniq_by" => {
                let block = self.need_block(block, name)?;
                let mut keyed = Vec::with_capacity(items.len());
                for item in items {
                    let key = self.yield_block(block, vec![item.clone()])?;
                    keyed.push((key, item));
                }
                match name {
                    "group_by" => {
                        let mut map: IndexMap<HashKey, Value<'a>> = IndexMap::new();
                        for (key, item) in keyed {
                            let k = HashKey::of(&key).map_err(Fault::type_error)?;
                            match map.get(&k) {
                                Some(Value::Array(a)) => a.items.borrow_mut().push(item),
                                _ => {
                                    map.insert(k, Value::array(vec![item]));
                                }
                            }
                        }
                        Value::hash(map)
                    }
                    _ => {
                        let mut failure = None;
                        keyed.sort_by(|a, b| {
                            compare(&a.0, &b.0).unwrap_or_else(|| {
                                failure.get_or_insert_with(|| {
                                    Fault::argument(format!(
                                        "comparison of {} with {} failed",
                                        a.0.class_name(),
                                        b.0.class_name()
                                    ))
                                });
                                Ordering::Equal
                            })
                        });
                        if let Some(f) = failure {
                            return Err(f.into());
                        }
                        match name {
                            "min_by" => keyed.into_iter().next().map_or(Value::Nil, |p| p.1),
                            "max_by" => keyed.into_iter().last().map_or(Value::Nil, |p| p.1),
                            _ => Value::array(keyed.into_iter().map(|p| p.1).collect()),
                        }
                    }
                }
            }
            "sort" => {
                let mut items = items;
                match block {
                    Some(block) => {
                        let mut failure: Option<Flow<'a>> = None;
                        let mut sorted = items.clone();
                        // A comparison block may raise; keep the first failure.
                        let mut cmp = |a: &Value<'a>, b: &Value<'a>| -> Ordering {
                            if failure.is_some() {
                                return Ordering::Equal;
                            }
                            match self.yield_block(block, vec![a.clone(), b.clone()]) {
                                Ok(Value::Int(n)) => n.cmp(&0),
                                Ok(_) => Ordering::Equal,
                                Err(e) => {
                                    failure = Some(e);
                                    Ordering::Equal
                                }
                            }
                        };
                        sorted.sort_by(&mut cmp);
                        if let Some(f) = failure {
                            return Err(f);
                        }
                        Value::array(sorted)
                    }
                    None => {
                        sort_values(&mut items)?;
                        Value::array(items)
                    }
                }
            }
            "min" | "max" => {
                let mut items = items;
                sort_values(&mut items)?;
                let n = match args.first() {
                    Some(Value::Int(n)) => Some(usize::try_from(*n).unwrap_or(0)),
                    _ => None,
                };
                if name == "max" {
                    items.reverse();
                }
                match n {
                    Some(n) => Value::array(items.into_iter().take(n).collect()),
                    None => items.into_iter().next().unwrap_or(Value::Nil),
                }
            }
            "minmax" => {
                let mut items = items;
                sort_values(&mut items)?;
                Value::array(vec![
                    items.first().cloned().unwrap_or(Value::Nil),
                    items.last().cloned().unwrap_or(Value::Nil),
                ])
            }
            "tally" => {
                let mut map: IndexMap<HashKey, Value<'a>> = IndexMap::new();
                for item in items {
                    let k = HashKey::of(&item).map_err(Fault::type_error)?;
                    let n = match map.get(&k) {
                        Some(Value::Int(n)) => n + 1,
                        _ => 1,
                    };
                    map.insert(k, Value::Int(n));
                }
                Value::hash(map)
            }
            _ => return Ok(None),
        }))
    }

    /// Enumerable methods that convert or cut the elements.
    fn enumerable_reshaping(
        &mut self,
        items: Vec<Value<'a>>,
        name: &str,
        args: &[Value<'a>],
        block: Option<&BlockArg>,
        span: Span,
    ) -> Found<'a> {
        Ok(Some(match name {
            "to_a" | "entries" => Value::array(items),
            "to_h" => match block {
                Some(block) => {
                    let mut mapped = Vec::with_capacity(items.len());
                    for item in items {
                        mapped.push(self.yield_block(block, vec![item])?);
                    }
                    hash_from_pairs(&mapped)?
                }
                None => hash_from_pairs(&items)?,
            },
            "first" => match args.first() {
                Some(Value::Int(n)) => Value::array(
                    items
                        .into_iter()
                        .take(usize::try_from(*n).unwrap_or(0))
                        .collect(),
                ),
                _ => items.into_iter().next().unwrap_or(Value::Nil),
            },
            "take" | "drop" => {
                let n = match args.first() {
                    Some(Value::Int(n)) if *n >= 0 => usize::try_from(*n).unwrap_or(0),
                    _ => {
                        return Err(
                            Fault::argument(format!("`{name}` needs a non-negative count")).into(),
                        )
                    }
                };
                if name == "take" {
                    Value::array(items.into_iter().take(n).collect())
                } else {
                    Value::array(items.into_iter().skip(n).collect())
                }
            }
            "take_while" | "drop_while" => {
                let block = self.need_block(block, name)?;
                let mut cut = items.len();
                for (i, item) in items.iter().enumerate() {
                    let v = self.yield_block(block, vec![item.clone()])?;
                    if !self.truthy(&v)? {
                        cut = i;
                        break;
                    }
                }
                if name == "take_while" {
                    Value::array(items[..cut].to_vec())
                } else {
                    Value::array(items[cut..].to_vec())
                }
            }
            "zip" => {
                let others: Vec<Vec<Value<'a>>> = args.iter().cloned().map(splat_items).collect();
                Value::array(
                    items
                        .into_iter()
                        .enumerate()
                        .map(|(i, item)| {
                            let mut row = vec![item];
                            row.extend(
                                others
                                    .iter()
                                    .map(|o| o.get(i).cloned().unwrap_or(Value::Nil)),
                            );
                            Value::array(row)
                        })
                        .collect(),
                )
            }
            "grep" | "grep_v" => {
                arity(args, 1, 1)?;
                let keep = name == "grep";
                let mut out = Vec::new();
                for item in items {
                    if self.case_equal(&args[0], &item, span)? == keep {
                        out.push(match block {
                            Some(b) => self.yield_block(b, vec![item])?,
                            None => item,
                        });
                    }
                }
                Value::array(out)
            }
            _ => return Ok(None),
        }))
    }

    pub(crate) fn array_method(
        &mut self,
        array: &Rc<RArray<'a>>,
        name: &str,
        args: &[Value<'a>],
        block: Option<&BlockArg>,
        span: Span,
    ) -> Found<'a> {
        if block.is_none() {
            if let Some(v) = enumerator(name, array.items.borrow().clone(), args) {
                return Ok(Some(v));
            }
        }
        let found = match name {
            "with_index" | "each" | "each_with_index" | "reverse_each" | "each_index" => {
                self.array_iteration(array, name, args, block, span)?
            }
            "[]" | "slice" | "at" | "dig" | "fetch" | "values_at" | "length" | "size"
            | "empty?" | "any?" | "first" | "last" => {
                self.array_access(array, name, args, block, span)?
            }
            "[]=" | "<<" | "push" | "append" | "unshift" | "prepend" | "concat" | "pop"
            | "shift" | "delete" | "delete_at" | "clear" | "map!" | "collect!" | "select!"
            | "reject!" | "filter!" | "sort!" | "uniq!" | "compact!" | "flatten!" | "reverse!"
            | "sort_by!" | "shuffle!" => self.array_mutation(array, name, args, block, span)?,
            "join" | "reverse" | "rotate" | "uniq" | "compact" | "flatten" | "to_a" | "to_ary"
            | "entries" | "+" | "-" | "difference" | "&" | "intersection" | "|" | "union" | "*"
            | "<=>" | "last_index" | "rindex" | "transpose" | "assoc" | "sample" | "shuffle"
            | "hash" => self.array_transform(array, name, args, block, span)?,
            _ => None,
        };
        match found {
            Some(v) => Ok(Some(v)),
            None => {
                let items = array.items.borrow().clone();
                self.enumerable(items, name, args, block, span)
            }
        }
    }

    /// Array methods that yield each element.
    fn array_iteration(
        &mut self,
        array: &Rc<RArray<'a>>,
        name: &str,
        args: &[Value<'a>],
        block: Option<&BlockArg>,
        span: Span,
    ) -> Found<'a> {
        let receiver = || Value::Array(array.clone());
        let items = || array.items.borrow().clone();
        let len = array.items.borrow().len();
        Ok(Some(match name {
            "with_index" => {
                let block = self.need_block(block, name)?;
                let offset = match args.first() {
                    Some(Value::Int(o)) => *o,
                    _ => 0,
                };
                let mut out = Vec::with_capacity(len);
                for (item, i) in items().into_iter().zip(offset..) {
                    out.push(self.yield_block(block, vec![item, Value::Int(i)])?);
                }
                Value::array(out)
            }
            "each" => {
                let block = self.need_block(block, name)?;
                for item in items() {
                    self.yield_block(block, vec![item])?;
                }
                receiver()
            }
            "each_with_index" => {
                self.enumerable(items(), name, args, block, span)?;
                receiver()
            }
            "reverse_each" => {
                let block = self.need_block(block, name)?;
                for item in items().into_iter().rev() {
                    self.yield_block(block, vec![item])?;
                }
                receiver()
            }
            "each_index" => {
                let block = self.need_block(block, name)?;
                for i in 0..len {
                    self.yield_block(block, vec![Value::Int(i64::try_from(i).unwrap_or(0))])?;
                }
                receiver()
            }
            _ => return Ok(None),
        }))
    }

    /// Array methods that read elements.
    fn array_access(
        &mut self,
        array: &Rc<RArray<'a>>,
        name: &str,
        args: &[Value<'a>],
        block: Option<&BlockArg>,
        span: Span,
    ) -> Found<'a> {
        let len = array.items.borrow().len();
        Ok(Some(match name {
            "[]" | "slice" => array_index(&array.items.borrow(), args)?,
            "at" => array_index(&array.items.borrow(), &args[..args.len().min(1)])?,
            "dig" => {
                let Some((first, rest)) = args.split_first() else {
                    return Err(Fault::argument(
                        "wrong number of arguments (given 0, expected 1+)",
                    )
                    .into());
                };
                let value = array_index(&array.items.borrow(), std::slice::from_ref(first))?;
                if rest.is_empty() || value.is_nil() {
                    value
                } else {
                    self.call_method(value, "dig", rest.to_vec(), None, span)?
                }
            }
            "fetch" => {
                let index = match args.first() {
                    Some(Value::Int(i)) => *i,
                    _ => return Err(Fault::argument("`fetch` needs an index").into()),
                };
                match index_of(len, index).and_then(|i| array.items.borrow().get(i).cloned()) {
                    Some(v) => v,
                    None => match (args.get(1), block) {
                        (Some(default), _) => default.clone(),
                        (None, Some(b)) => self.yield_block(b, vec![Value::Int(index)])?,
                        (None, None) => {
                            return Err(Fault::new(
                                "IndexError",
                                format!("index {index} outside of array bounds"),
                            )
                            .into())
                        }
                    },
                }
            }
            "values_at" => {
                let items = array.items.borrow();
                Value::array(
                    args.iter()
                        .map(|a| array_index(&items, std::slice::from_ref(a)))
                        .collect::<Result<_, _>>()?,
                )
            }
            "length" | "size" => Value::Int(i64::try_from(len).unwrap_or(0)),
            "empty?" => Value::Bool(len == 0),
            "any?" if args.is_empty() && block.is_none() => {
                Value::Bool(array.items.borrow().iter().any(Value::truthy))
            }
            "first" | "last" => {
                let items = array.items.borrow();
                match args.first() {
                    Some(Value::Int(n)) => {
                        let n = usize::try_from(*n).unwrap_or(0).min(items.len());
                        if name == "first" {
                            Value::array(items[..n].to_vec())
                        } else {
                            Value::array(items[items.len() - n..].to_vec())
                        }
                    }
                    _ => {
                        let item = if name == "first" {
                            items.first()
                        } else {
                            items.last()
                        };
                        item.cloned().unwrap_or(Value::Nil)
                    }
                }
            }
            _ => return Ok(None),
        }))
    }

    /// Array methods that change the array in place.
    fn array_mutation(
        &mut self,
        array: &Rc<RArray<'a>>,
        name: &str,
        args: &[Value<'a>],
        block: Option<&BlockArg>,
        span: Span,
    ) -> Found<'a> {
        let receiver = || Value::Array(array.clone());
        let mutate = |f: &mut dyn FnMut(&mut Vec<Value<'a>>)| -> Result<(), Fault> {
            check_mutable(array.mutability, "Array")?;
            f(&mut array.items.borrow_mut());
            Ok(())
        };
        let len = array.items.borrow().len();
        Ok(Some(match name {
            "[]=" => {
                arity(args, 2, 2)?;
                let index = match &args[0] {
                    Value::Int(i) => index_of(len, *i).ok_or_else(|| {
                        Fault::new("IndexError", format!("index {i} too small for array"))
                    })?,
                    other => {
                        return Err(Fault::type_error(format!(
                            "no implicit conversion of {} into Integer",
                            other.class_name()
                        ))
                        .into())
                    }
                };
                let value = args[1].clone();
                mutate(&mut |items| {
                    if index >= items.len() {
                        items.resize(index + 1, Value::Nil);
                    }
                    items[index] = value.clone();
                })?;
                args[1].clone()
            }
            "<<" | "push" | "append" => {
                mutate(&mut |items| items.extend(args.iter().cloned()))?;
                receiver()
            }
            "unshift" | "prepend" => {
                mutate(&mut |items| {
                    for (i, a) in args.iter().enumerate() {
                        items.insert(i, a.clone());
                    }
                })?;
                receiver()
            }
            "concat" => {
                let extra: Vec<Value<'a>> = args.iter().cloned().flat_map(to_array).collect();
                mutate(&mut |items| items.extend(extra.iter().cloned()))?;
                receiver()
            }
            "pop" | "shift" => {
                let mut out = Value::Nil;
                mutate(&mut |items| {
                    out = if name == "pop" {
                        items.pop().unwrap_or(Value::Nil)
                    } else if items.is_empty() {
                        Value::Nil
                    } else {
                        items.remove(0)
                    };
                })?;
                out
            }
            "delete" => {
                arity(args, 1, 1)?;
                let mut found = Value::Nil;
                mutate(&mut |items| {
                    if let Some(v) = items.iter().find(|i| equal(i, &args[0])) {
                        found = v.clone();
                    }
                    items.retain(|i| !equal(i, &args[0]));
                })?;
                found
            }
            "delete_at" => {
                let index = match args.first() {
                    Some(Value::Int(i)) => index_of(len, *i),
                    _ => None,
                };
                let mut found = Value::Nil;
                mutate(&mut |items| {
                    if let Some(i) = index.filter(|&i| i < items.len()) {
                        found = items.remove(i);
                    }
                })?;
                found
            }
            "clear" => {
                mutate(&mut |items| items.clear())?;
                receiver()
            }
            "map!" | "collect!" | "select!" | "reject!" | "filter!" | "sort!" | "uniq!"
            | "compact!" | "flatten!" | "reverse!" | "sort_by!" | "shuffle!" => {
                let base = name.trim_end_matches('!');
                let result = self.array_method(array, base, args, block, span)?;
                let new_items = match result {
                    Some(Value::Array(a)) => a.items.borrow().clone(),
                    _ => return Ok(None),
                };
                mutate(&mut |items| *items = new_items.clone())?;
                receiver()
            }
            _ => return Ok(None),
        }))
    }

    /// Array methods that build a new value from the array.
    fn array_transform(
        &mut self,
        array: &Rc<RArray<'a>>,
        name: &str,
        args: &[Value<'a>],
        block: Option<&BlockArg>,
        span: Span,
    ) -> Found<'a> {
        let receiver = || Value::Array(array.clone());
        let items = || array.items.borrow().clone();
        let len = array.items.borrow().len();
        Ok(Some(match name {
            "join" => {
                let sep = match args.first() {
                    Some(Value::Str(s)) => s.to_string(),
                    Some(Value::Nil) | None => String::new(),
                    Some(other) => {
                        return Err(Fault::type_error(format!(
                            "no implicit conversion of {} into String",
                            other.class_name()
                        ))
                        .into())
                    }
                };
                let mut flat = Vec::new();
                flatten(&items(), -1, &mut flat)?;
                let mut parts = Vec::with_capacity(flat.len());
                for item in flat {
                    parts.push(self.stringify(item, span)?);
                }
                Value::str(parts.join(&sep))
            }
            "reverse" => Value::array(items().into_iter().rev().collect()),
            "rotate" => {
                let mut items = items();
                if !items.is_empty() {
                    let n = match args.first() {
                        Some(Value::Int(n)) => *n,
                        _ => 1,
                    };
                    let l = i64::try_from(items.len()).unwrap_or(1);
                    items.rotate_left(usize::try_from(n.rem_euclid(l)).unwrap_or(0));
                }
                Value::array(items)
            }
            "uniq" => match block {
                Some(block) => {
                    let mut seen: Vec<Value<'a>> = Vec::new();
                    let mut out = Vec::new();
                    for item in items() {
                        let key = self.yield_block(block, vec![item.clone()])?;
                        if !seen.iter().any(|s| equal(s, &key)) {
                            seen.push(key);
                            out.push(item);
                        }
                    }
                    Value::array(out)
                }
                None => Value::array(uniq(items())),
            },
            "compact" => Value::array(items().into_iter().filter(|i| !i.is_nil()).collect()),
            "flatten" => {
                let depth = match args.first() {
                    Some(Value::Int(d)) => *d,
                    _ => -1,
                };
                let mut out = Vec::new();
                flatten(&items(), depth, &mut out)?;
                Value::array(out)
            }
            "to_a" | "to_ary" | "entries" => receiver(),
            "+" => match args.first().cloned().map(Value::materialize) {
                Some(Value::Array(other)) => {
                    let mut out = items();
                    out.extend(other.items.borrow().iter().cloned());
                    Value::array(out)
                }
                other => {
                    return Err(Fault::type_error(format!(
                        "no implicit conversion of {} into Array",
                        other.map_or("nil", |o| o.class_name())
                    ))
                    .into())
                }
            },
            "-" | "difference" => {
                let other = args.first().cloned().map(to_array).unwrap_or_default();
                Value::array(
                    items()
                        .into_iter()
                        .filter(|i| !other.iter().any(|o| equal(o, i)))
                        .collect(),
                )
            }
            "&" | "intersection" => {
                let other = args.first().cloned().map(to_array).unwrap_or_default();
                Value::array(uniq(
                    items()
                        .into_iter()
                        .filter(|i| other.iter().any(|o| equal(o, i)))
                        .collect(),
                ))
            }
            "|" | "union" => {
                let mut all = items();
                all.extend(args.iter().cloned().flat_map(to_array));
                Value::array(uniq(all))
            }
            "*" => match args.first() {
                Some(Value::Int(n)) => {
                    let n =
                        usize::try_from(*n).map_err(|_| Fault::argument("negative argument"))?;
                    let items = items();
                    let total = items.len().saturating_mul(n);
                    if total > super::builtins::MAX_SIZE {
                        return Err(Fault::argument("argument too big").into());
                    }
                    Value::array(items.iter().cycle().take(total).cloned().collect())
                }
                Some(Value::Str(_)) => return self.array_method(array, "join", args, block, span),
                _ => return Err(Fault::type_error("Array#* needs an Integer or a String").into()),
            },
            "<=>" => match args.first().and_then(|o| compare(&receiver(), o)) {
                Some(o) => Value::Int(o as i64),
                None => Value::Nil,
            },
            "last_index" | "rindex" => {
                let target = args.first().cloned().unwrap_or(Value::Nil);
                match items().iter().rposition(|i| equal(i, &target)) {
                    Some(i) => Value::Int(i64::try_from(i).unwrap_or(0)),
                    None => Value::Nil,
                }
            }
            "transpose" => {
                let rows: Vec<Vec<Value<'a>>> = items().into_iter().map(to_array).collect();
                let width = rows.first().map_or(0, Vec::len);
                if rows.iter().any(|r| r.len() != width) {
                    return Err(Fault::new("IndexError", "element size differs").into());
                }
                Value::array(
                    (0..width)
                        .map(|c| Value::array(rows.iter().map(|r| r[c].clone()).collect()))
                        .collect(),
                )
            }
            "assoc" => {
                let target = args.first().cloned().unwrap_or(Value::Nil);
                items()
                    .into_iter()
                    .find(|i| {
                        to_array(i.clone())
                            .first()
                            .is_some_and(|k| equal(k, &target))
                    })
                    .unwrap_or(Value::Nil)
            }
            "sample" | "shuffle" => {
                return Err(Fault::new(
                    "NotImplementedError",
                    format!("unsupported Ruby: `{name}` (randomness makes a run unrepeatable)"),
                )
                .into())
            }
            "hash" => Value::Int(i64::try_from(len).unwrap_or(0)),
            _ => return Ok(None),
        }))
    }

    pub(crate) fn hash_method(
        &mut self,
        hash: &Rc<RHash<'a>>,
        name: &str,
        args: &[Value<'a>],
        block: Option<&BlockArg>,
        span: Span,
    ) -> Found<'a> {
        if block.is_none() && name != "select" && name != "reject" && name != "filter" {
            let items = if name == "each_value" {
                hash.map.borrow().values().cloned().collect()
            } else {
                pairs(hash)
            };
            if let Some(v) = enumerator(name, items, args) {
                return Ok(Some(v));
            }
        }
        let found = match name {
            "[]" | "fetch" | "dig" | "key?" | "has_key?" | "include?" | "member?" | "value?"
            | "has_value?" | "key" | "keys" | "values" | "values_at" | "fetch_values"
            | "length" | "size" | "count" | "empty?" | "any?" => {
                self.hash_access(hash, name, args, block, span)?
            }
            "each" | "each_pair" | "each_key" | "each_value" | "each_with_index" | "select"
            | "filter" | "reject" => self.hash_iteration(hash, name, args, block, span)?,
            "[]=" | "store" | "merge" | "update" | "merge!" | "delete" | "to_h" | "to_hash"
            | "to_a" | "transform_values" | "transform_keys" | "invert" | "compact" | "slice"
            | "except" | "sort" | "hash" => self.hash_changes(hash, name, args, block)?,
            _ => None,
        };
        match found {
            Some(v) => Ok(Some(v)),
            None => self.enumerable(pairs(hash), name, args, block, span),
        }
    }

    /// Hash methods that read entries.
    fn hash_access(
        &mut self,
        hash: &Rc<RHash<'a>>,
        name: &str,
        args: &[Value<'a>],
        block: Option<&BlockArg>,
        span: Span,
    ) -> Found<'a> {
        let len = hash.map.borrow().len();
        Ok(Some(match name {
            "[]" => {
                arity(args, 1, 1)?;
                hash.get(&args[0])
                    .or_else(|| hash.default.clone())
                    .unwrap_or(Value::Nil)
            }
            "fetch" => {
                arity(args, 1, 2)?;
                match hash.get(&args[0]) {
                    Some(v) => v,
                    None => match (args.get(1), block) {
                        (Some(default), _) => default.clone(),
                        (None, Some(b)) => self.yield_block(b, vec![args[0].clone()])?,
                        (None, None) => {
                            return Err(Fault::new(
                                "KeyError",
                                format!("key not found: {}", args[0].inspect()),
                            )
                            .into())
                        }
                    },
                }
            }
            "dig" => {
                let Some((first, rest)) = args.split_first() else {
                    return Err(Fault::argument(
                        "wrong number of arguments (given 0, expected 1+)",
                    )
                    .into());
                };
                let value = hash.get(first).unwrap_or(Value::Nil);
                if rest.is_empty() || value.is_nil() {
                    value
                } else {
                    self.call_method(value, "dig", rest.to_vec(), None, span)?
                }
            }
            "key?" | "has_key?" | "include?" | "member?" => {
                arity(args, 1, 1)?;
                Value::Bool(hash.get(&args[0]).is_some())
            }
            "value?" | "has_value?" => {
                arity(args, 1, 1)?;
                Value::Bool(hash.map.borrow().values().any(|v| equal(v, &args[0])))
            }
            "key" => {
                arity(args, 1, 1)?;
                hash.map
                    .borrow()
                    .iter()
                    .find(|(_, v)| equal(v, &args[0]))
                    .map_or(Value::Nil, |(k, _)| k.to_value())
            }
            "keys" => Value::array(hash.map.borrow().keys().map(HashKey::to_value).collect()),
            "values" => Value::array(hash.map.borrow().values().cloned().collect()),
            "values_at" => Value::array(
                args.iter()
                    .map(|k| hash.get(k).unwrap_or(Value::Nil))
                    .collect(),
            ),
            "fetch_values" => {
                let mut out = Vec::new();
                for k in args {
                    out.push(hash.get(k).ok_or_else(|| {
                        Fault::new("KeyError", format!("key not found: {}", k.inspect()))
                    })?);
                }
                Value::array(out)
            }
            "length" | "size" | "count" if args.is_empty() && block.is_none() => {
                Value::Int(i64::try_from(len).unwrap_or(0))
            }
            "empty?" => Value::Bool(len == 0),
            "any?" if args.is_empty() && block.is_none() => Value::Bool(len > 0),
            _ => return Ok(None),
        }))
    }

    /// Hash methods that yield each entry.
    fn hash_iteration(
        &mut self,
        hash: &Rc<RHash<'a>>,
        name: &str,
        args: &[Value<'a>],
        block: Option<&BlockArg>,
        span: Span,
    ) -> Found<'a> {
        let receiver = || Value::Hash(hash.clone());
        Ok(Some(match name {
            "each" | "each_pair" => {
                let block = self.need_block(block, name)?;
                for pair in pairs(hash) {
                    self.yield_block(block, vec![pair])?;
                }
                receiver()
            }
            "each_key" | "each_value" => {
                let block = self.need_block(block, name)?;
                let items: Vec<Value<'a>> = if name == "each_key" {
                    hash.map.borrow().keys().map(HashKey::to_value).collect()
                } else {
                    hash.map.borrow().values().cloned().collect()
                };
                for item in items {
                    self.yield_block(block, vec![item])?;
                }
                receiver()
            }
            "each_with_index" => {
                self.enumerable(pairs(hash), name, args, block, span)?;
                receiver()
            }
            "select" | "filter" | "reject" => {
                let block = self.need_block(block, name)?;
                let keep = name != "reject";
                let mut map = IndexMap::new();
                let entries: Vec<(HashKey, Value<'a>)> = hash
                    .map
                    .borrow()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                for (k, v) in entries {
                    let hit = self.yield_block(block, vec![k.to_value(), v.clone()])?;
                    if self.truthy(&hit)? == keep {
                        map.insert(k, v);
                    }
                }
                Value::hash(map)
            }
            _ => return Ok(None),
        }))
    }

    /// Hash methods that change the hash or build a changed copy.
    fn hash_changes(
        &mut self,
        hash: &Rc<RHash<'a>>,
        name: &str,
        args: &[Value<'a>],
        block: Option<&BlockArg>,
    ) -> Found<'a> {
        let receiver = || Value::Hash(hash.clone());
        let len = hash.map.borrow().len();
        let mutate = |f: &mut dyn FnMut(&mut IndexMap<HashKey, Value<'a>>)| -> Result<(), Fault> {
            check_mutable(hash.mutability, "Hash")?;
            f(&mut hash.map.borrow_mut());
            Ok(())
        };
        Ok(Some(match name {
            "[]=" | "store" => {
                arity(args, 2, 2)?;
                let key = key_for(hash, &args[0])?;
                let value = args[1].clone();
                mutate(&mut |map| {
                    map.insert(key.clone(), value.clone());
                })?;
                args[1].clone()
            }
            "merge" | "update" | "merge!" => {
                let mut map = hash.map.borrow().clone();
                for other in args {
                    let Value::Hash(other) = other.clone().materialize() else {
                        return Err(Fault::type_error(format!(
                            "no implicit conversion of {} into Hash",
                            other.class_name()
                        ))
                        .into());
                    };
                    let entries: Vec<(HashKey, Value<'a>)> = other
                        .map
                        .borrow()
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    for (k, v) in entries {
                        let v = match (map.get(&k), block) {
                            (Some(old), Some(b)) => {
                                self.yield_block(b, vec![k.to_value(), old.clone(), v])?
                            }
                            _ => v,
                        };
                        map.insert(k, v);
                    }
                }
                if name == "merge" {
                    Value::Hash(Rc::new(RHash {
                        map: std::cell::RefCell::new(map),
                        mutability: super::value::Mutability::Mutable,
                        indifferent: hash.indifferent,
                        default: hash.default.clone(),
                    }))
                } else {
                    mutate(&mut |m| *m = map.clone())?;
                    receiver()
                }
            }
            "delete" => {
                arity(args, 1, 1)?;
                let key = key_for(hash, &args[0])?;
                let mut removed = Value::Nil;
                mutate(&mut |map| {
                    removed = map.shift_remove(&key).unwrap_or(Value::Nil);
                })?;
                removed
            }
            "to_h" | "to_hash" if block.is_none() => receiver(),
            "to_a" => Value::array(pairs(hash)),
            "transform_values" | "transform_keys" => {
                let mut map = IndexMap::new();
                let entries: Vec<(HashKey, Value<'a>)> = hash
                    .map
                    .borrow()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                for (k, v) in entries {
                    if name == "transform_values" {
                        let block = self.need_block(block, name)?;
                        map.insert(k, self.yield_block(block, vec![v])?);
                    } else {
                        let new_key = match (block, args.first()) {
                            (_, Some(Value::Hash(mapping))) => {
                                mapping.get(&k.to_value()).unwrap_or_else(|| k.to_value())
                            }
                            (Some(block), _) => self.yield_block(block, vec![k.to_value()])?,
                            _ => {
                                return Err(Fault::argument("`transform_keys` needs a block").into())
                            }
                        };
                        map.insert(HashKey::of(&new_key).map_err(Fault::type_error)?, v);
                    }
                }
                Value::hash(map)
            }
            "invert" => {
                let mut map = IndexMap::new();
                for (k, v) in hash.map.borrow().iter() {
                    map.insert(HashKey::of(v).map_err(Fault::type_error)?, k.to_value());
                }
                Value::hash(map)
            }
            "compact" => {
                let map = hash
                    .map
                    .borrow()
                    .iter()
                    .filter(|(_, v)| !v.is_nil())
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                Value::hash(map)
            }
            "slice" | "except" => {
                let keys: Vec<HashKey> = args
                    .iter()
                    .map(|a| key_for(hash, a))
                    .collect::<Result<_, _>>()?;
                let map = hash
                    .map
                    .borrow()
                    .iter()
                    .filter(|(k, _)| keys.contains(k) == (name == "slice"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                Value::hash(map)
            }
            "sort" if block.is_none() => {
                let mut items = pairs(hash);
                sort_values(&mut items)?;
                Value::array(items)
            }
            "hash" => Value::Int(i64::try_from(len).unwrap_or(0)),
            _ => return Ok(None),
        }))
    }

    pub(crate) fn range_method(
        &mut self,
        range: &Rc<(Value<'a>, Value<'a>, bool)>,
        name: &str,
        args: &[Value<'a>],
        block: Option<&BlockArg>,
        span: Span,
    ) -> Found<'a> {
        let (low, high, exclusive) = (&range.0, &range.1, range.2);
        if block.is_none() && name != "find" && name != "detect" {
            if let Some(v) = enumerator(name, range_items(range)?, args) {
                return Ok(Some(v));
            }
        }
        Ok(Some(match name {
            "include?" | "member?" | "cover?" | "===" => {
                arity(args, 1, 1)?;
                let v = &args[0];
                let above = low.is_nil() || compare(low, v).is_some_and(|o| o != Ordering::Greater);
                let below = high.is_nil()
                    || compare(v, high).is_some_and(|o| {
                        o == Ordering::Less || (!exclusive && o == Ordering::Equal)
                    });
                Value::Bool(above && below)
            }
            "first" | "begin" | "min" if args.is_empty() => low.clone(),
            "last" | "end" if args.is_empty() => high.clone(),
            "max" if args.is_empty() => match (exclusive, high) {
                (true, Value::Int(h)) => Value::Int(h - 1),
                _ => high.clone(),
            },
            "exclude_end?" => Value::Bool(exclusive),
            "each" => {
                let block = self.need_block(block, name)?;
                for item in range_items(range)? {
                    self.yield_block(block, vec![item])?;
                }
                Value::Range(range.clone())
            }
            "step" => {
                let step = match args.first() {
                    Some(Value::Int(s)) if *s > 0 => usize::try_from(*s).unwrap_or(1),
                    _ => return Err(Fault::argument("step must be a positive Integer").into()),
                };
                let items: Vec<Value<'a>> = range_items(range)?.into_iter().step_by(step).collect();
                match block {
                    Some(block) => {
                        for item in items {
                            self.yield_block(block, vec![item])?;
                        }
                        Value::Range(range.clone())
                    }
                    None => Value::array(items),
                }
            }
            "size" | "count" | "length" if args.is_empty() && block.is_none() => {
                Value::Int(i64::try_from(range_items(range)?.len()).unwrap_or(0))
            }
            "to_s" => Value::str(format!(
                "{}{}{}",
                low.to_s(),
                if exclusive { "..." } else { ".." },
                high.to_s()
            )),
            _ => return self.enumerable(range_items(range)?, name, args, block, span),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_fast_path_reads_without_copying() {
        let json = serde_json::json!({"a": {"b": [1, 2]}});
        let v = json_fast_path(
            &json,
            "dig",
            &[Value::str("a"), Value::Sym("b".into()), Value::Int(-1)],
        );
        assert!(matches!(v, Some(Value::Int(2))));
        let missing = json_fast_path(&json, "[]", &[Value::str("x")]);
        assert!(matches!(missing, Some(Value::Nil)));
    }

    #[test]
    fn string_ranges_expand_with_succ() {
        let items = range_items(&(Value::str("a"), Value::str("e"), false)).unwrap();
        let joined: Vec<String> = items.iter().map(Value::to_s).collect();
        assert_eq!(joined, ["a", "b", "c", "d", "e"]);
    }
}
