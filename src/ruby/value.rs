//! Ruby values as the evaluator sees them, with Ruby's printing, equality and ordering.
//!
//! Containers are shared (`Rc`), as Ruby objects are references. JSON that comes from the caller
//! (the node, template variables) is borrowed as [`Value::Json`] and converted one level at a time
//! when a method needs it, so reading `node['a']['b']` never copies the whole node.

use super::regexp::RubyRegex;
use super::{WriteLevel, WriteOp};
use indexmap::IndexMap;
use std::cell::RefCell;
use std::cmp::Ordering;
use std::fmt::Write as _;
use std::rc::Rc;
use std::sync::Arc;

/// How deep values may nest before printing, comparing or converting them stops (cycles).
const MAX_DEPTH: usize = 100;

/// A Ruby value.
#[derive(Debug, Clone)]
pub enum Value<'a> {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Arc<str>),
    Sym(Arc<str>),
    Array(Rc<RArray<'a>>),
    Hash(Rc<RHash<'a>>),
    Range(Rc<(Value<'a>, Value<'a>, bool)>),
    /// An array or object borrowed from the caller's JSON.
    Json(&'a serde_json::Value),
    /// A regular expression.
    Regex(Arc<RubyRegex>),
    /// A built-in class or module (`File`, `ENV`, `String`).
    Module(&'static str),
    /// The node object of a file evaluated against node attributes.
    Node,
    /// A path into one precedence level (`default['a']['b']`), not read yet.
    Attr(Rc<AttrRef>),
}

/// A path into one precedence level and how writes through it behave.
#[derive(Debug, Clone)]
pub struct AttrRef {
    pub level: WriteLevel,
    pub op: WriteOp,
    pub path: Vec<String>,
}

/// Who may change a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    Mutable,
    /// A copy of the merged node attributes: writes must name a precedence level.
    NodeView,
}

/// A Ruby Array.
#[derive(Debug)]
pub struct RArray<'a> {
    pub items: RefCell<Vec<Value<'a>>>,
    pub mutability: Mutability,
}

/// A Ruby Hash; `indifferent` hashes (node attributes) find string keys by symbols too.
#[derive(Debug)]
pub struct RHash<'a> {
    pub map: RefCell<IndexMap<HashKey, Value<'a>>>,
    pub mutability: Mutability,
    pub indifferent: bool,
    /// What `[]` answers for a missing key (`Hash.new(0)`).
    pub default: Option<Value<'a>>,
}

/// A hashable Ruby value, as used for hash keys (`eql?` semantics: 1 and 1.0 differ).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HashKey {
    Nil,
    Bool(bool),
    Int(i64),
    Float(u64),
    Str(Arc<str>),
    Sym(Arc<str>),
    Array(Vec<HashKey>),
}

impl<'a> Value<'a> {
    /// A new mutable array.
    pub fn array(items: Vec<Value<'a>>) -> Self {
        Value::Array(Rc::new(RArray {
            items: RefCell::new(items),
            mutability: Mutability::Mutable,
        }))
    }

    /// A new mutable hash.
    pub fn hash(map: IndexMap<HashKey, Value<'a>>) -> Self {
        Value::Hash(Rc::new(RHash {
            map: RefCell::new(map),
            mutability: Mutability::Mutable,
            indifferent: false,
            default: None,
        }))
    }

    /// A string value.
    pub fn str(s: impl AsRef<str>) -> Self {
        Value::Str(Arc::from(s.as_ref()))
    }

    /// Ruby truthiness: only nil and false are false.
    pub fn truthy(&self) -> bool {
        !matches!(self, Value::Nil | Value::Bool(false))
            && !matches!(self, Value::Json(serde_json::Value::Null))
    }

    /// Whether this is nil.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// The class name Ruby would report (`nil` for nil, as in NoMethodError messages).
    pub fn class_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(true) => "true",
            Value::Bool(false) => "false",
            Value::Int(_) => "Integer",
            Value::Float(_) => "Float",
            Value::Str(_) => "String",
            Value::Sym(_) => "Symbol",
            Value::Array(_) | Value::Json(serde_json::Value::Array(_)) => "Array",
            Value::Hash(_) | Value::Json(_) => "Hash",
            Value::Range(_) => "Range",
            Value::Regex(_) => "Regexp",
            Value::Module(name) => name,
            Value::Node => "Chef::Node",
            Value::Attr(_) => "Chef::Node::VividMash",
        }
    }

    /// The Ruby class for `.class` / `is_a?`.
    pub fn ruby_class(&self) -> &'static str {
        match self {
            Value::Nil => "NilClass",
            Value::Bool(true) => "TrueClass",
            Value::Bool(false) => "FalseClass",
            Value::Module(_) => "Module",
            other => other.class_name(),
        }
    }

    /// Converts borrowed JSON one level: scalars become values, containers stay borrowed.
    pub fn from_json(json: &'a serde_json::Value) -> Self {
        match json {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => number(n),
            serde_json::Value::String(s) => Value::str(s),
            serde_json::Value::Array(_) | serde_json::Value::Object(_) => Value::Json(json),
        }
    }

    /// Converts owned JSON fully; containers get `mutability` and indifferent keys.
    pub fn from_owned_json(json: &serde_json::Value, mutability: Mutability) -> Self {
        match json {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => number(n),
            serde_json::Value::String(s) => Value::str(s),
            serde_json::Value::Array(items) => Value::Array(Rc::new(RArray {
                items: RefCell::new(
                    items
                        .iter()
                        .map(|i| Value::from_owned_json(i, mutability))
                        .collect(),
                ),
                mutability,
            })),
            serde_json::Value::Object(map) => Value::Hash(Rc::new(RHash {
                map: RefCell::new(
                    map.iter()
                        .map(|(k, v)| {
                            (
                                HashKey::Str(Arc::from(k.as_str())),
                                Value::from_owned_json(v, mutability),
                            )
                        })
                        .collect(),
                ),
                mutability,
                indifferent: true,
                default: None,
            })),
        }
    }

    /// Turns borrowed JSON containers into an owned Array/Hash (one level); other values as is.
    pub fn materialize(self) -> Self {
        match self {
            Value::Json(serde_json::Value::Array(items)) => {
                Value::array(items.iter().map(Value::from_json).collect())
            }
            Value::Json(serde_json::Value::Object(map)) => Value::Hash(Rc::new(RHash {
                map: RefCell::new(
                    map.iter()
                        .map(|(k, v)| (HashKey::Str(Arc::from(k.as_str())), Value::from_json(v)))
                        .collect(),
                ),
                mutability: Mutability::Mutable,
                indifferent: true,
                default: None,
            })),
            Value::Json(other) => Value::from_json(other),
            other => other,
        }
    }

    /// The value as JSON (symbols become strings, hash keys their `to_s`).
    pub fn to_json(&self) -> Result<serde_json::Value, String> {
        self.to_json_at(0)
    }

    fn to_json_at(&self, depth: usize) -> Result<serde_json::Value, String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "value nested more than {MAX_DEPTH} deep (a container that contains itself?)"
            ));
        }
        Ok(match self {
            Value::Nil => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .ok_or_else(|| format!("cannot store {} as an attribute value", float_to_s(*f)))?,
            Value::Str(s) | Value::Sym(s) => serde_json::Value::String(s.to_string()),
            Value::Array(a) => serde_json::Value::Array(
                a.items
                    .borrow()
                    .iter()
                    .map(|v| v.to_json_at(depth + 1))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Hash(h) => {
                let mut map = serde_json::Map::new();
                for (k, v) in h.map.borrow().iter() {
                    map.insert(k.to_value().to_s(), v.to_json_at(depth + 1)?);
                }
                serde_json::Value::Object(map)
            }
            Value::Range(r) => match (&r.0, &r.1) {
                (Value::Int(low), Value::Int(high)) => {
                    let high = if r.2 { high.saturating_sub(1) } else { *high };
                    if high.saturating_sub(*low) > 1_000_000 {
                        return Err("range too large to store".to_string());
                    }
                    serde_json::Value::Array((*low..=high).map(serde_json::Value::from).collect())
                }
                _ => serde_json::Value::String(self.to_s()),
            },
            Value::Json(j) => (*j).clone(),
            Value::Module(name) => serde_json::Value::String((*name).to_string()),
            Value::Regex(r) => serde_json::Value::String(r.inspect()),
            Value::Node | Value::Attr(_) => {
                return Err(format!("cannot store a {} as a value", self.class_name()))
            }
        })
    }

    /// Ruby's `to_s`.
    pub fn to_s(&self) -> String {
        match self {
            Value::Nil => String::new(),
            Value::Str(s) | Value::Sym(s) => s.to_string(),
            Value::Module(name) => (*name).to_string(),
            Value::Regex(r) => {
                let off: String = "mix".chars().filter(|c| !r.flags.contains(*c)).collect();
                let dash = if off.is_empty() { "" } else { "-" };
                format!("(?{}{dash}{off}:{})", r.flags, r.source)
            }
            other => other.inspect(),
        }
    }

    /// Ruby 3.4's `inspect`.
    pub fn inspect(&self) -> String {
        let mut out = String::new();
        self.write_inspect(&mut out, 0);
        out
    }

    fn write_inspect(&self, out: &mut String, depth: usize) {
        if depth > MAX_DEPTH {
            out.push_str(match self {
                Value::Hash(_) | Value::Json(serde_json::Value::Object(_)) => "{...}",
                _ => "[...]",
            });
            return;
        }
        match self {
            Value::Nil => out.push_str("nil"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Float(f) => out.push_str(&float_to_s(*f)),
            Value::Str(s) => inspect_str(s, out),
            Value::Sym(s) => inspect_sym(s, out),
            Value::Array(a) => {
                out.push('[');
                for (i, item) in a.items.borrow().iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write_inspect(out, depth + 1);
                }
                out.push(']');
            }
            Value::Hash(h) => {
                let map = h.map.borrow();
                inspect_pairs(
                    map.iter().map(|(k, v)| (k.to_value(), v.clone())),
                    out,
                    depth,
                );
            }
            Value::Range(r) => {
                r.0.write_inspect(out, depth + 1);
                out.push_str(if r.2 { "..." } else { ".." });
                r.1.write_inspect(out, depth + 1);
            }
            Value::Json(serde_json::Value::Array(items)) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    Value::from_json(item).write_inspect(out, depth + 1);
                }
                out.push(']');
            }
            Value::Json(serde_json::Value::Object(map)) => inspect_pairs(
                map.iter()
                    .map(|(k, v)| (Value::str(k), Value::from_json(v))),
                out,
                depth,
            ),
            Value::Json(other) => Value::from_json(other).write_inspect(out, depth + 1),
            Value::Module(name) => out.push_str(name),
            Value::Regex(r) => out.push_str(&r.inspect()),
            Value::Node => out.push_str("#<Chef::Node>"),
            Value::Attr(a) => {
                let _ = write!(out, "#<Chef::Node::VividMash {}>", a.path.join("."));
            }
        }
    }
}

fn number<'a>(n: &serde_json::Number) -> Value<'a> {
    match n.as_i64() {
        Some(i) => Value::Int(i),
        None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
    }
}

fn inspect_pairs<'a>(
    pairs: impl Iterator<Item = (Value<'a>, Value<'a>)>,
    out: &mut String,
    depth: usize,
) {
    out.push('{');
    for (i, (k, v)) in pairs.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        match &k {
            Value::Sym(s) if is_simple_symbol(s, false) => {
                out.push_str(s);
                out.push_str(": ");
            }
            Value::Sym(s) => {
                inspect_str(s, out);
                out.push_str(": ");
            }
            _ => {
                k.write_inspect(out, depth + 1);
                out.push_str(" => ");
            }
        }
        v.write_inspect(out, depth + 1);
    }
    out.push('}');
}

/// Whether a symbol prints without quotes (`:foo`, `:foo?`; as a hash key `foo:`).
fn is_simple_symbol(s: &str, allow_operator: bool) -> bool {
    const OPERATORS: [&str; 24] = [
        "+", "-", "*", "/", "%", "**", "==", "===", "!=", "<", ">", "<=", ">=", "<=>", "<<", ">>",
        "!", "[]", "[]=", "=~", "&", "|", "^", "~",
    ];
    if allow_operator && OPERATORS.contains(&s) {
        return true;
    }
    let mut chars = s.chars().peekable();
    match chars.next() {
        Some(c) if c.is_alphabetic() || c == '_' || !c.is_ascii() => {}
        _ => return false,
    }
    let body: String = s.chars().skip(1).collect();
    let trimmed = body
        .strip_suffix(['?', '!'])
        .or_else(|| {
            if allow_operator {
                body.strip_suffix('=')
            } else {
                None
            }
        })
        .unwrap_or(&body);
    trimmed
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || !c.is_ascii())
}

fn inspect_sym(s: &str, out: &mut String) {
    out.push(':');
    if is_simple_symbol(s, true) {
        out.push_str(s);
    } else {
        inspect_str(s, out);
    }
}

/// Ruby's `String#inspect`.
pub fn inspect_str(s: &str, out: &mut String) {
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            '#' if matches!(chars.peek(), Some('{' | '$' | '@')) => out.push_str("\\#"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Ruby's `Float#to_s`: shortest round-trip digits, fixed notation for exponents -4..16.
pub fn float_to_s(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.to_string();
    }
    let sci = format!("{:e}", f.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let decpt = exponent + 1;
    let sign = if f < 0.0 { "-" } else { "" };
    let len = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    if (-3..=16).contains(&decpt) {
        if decpt <= 0 {
            let zeros = "0".repeat(usize::try_from(-decpt).unwrap_or(0));
            format!("{sign}0.{zeros}{digits}")
        } else if decpt >= len {
            let zeros = "0".repeat(usize::try_from(decpt - len).unwrap_or(0));
            format!("{sign}{digits}{zeros}.0")
        } else {
            let (int, frac) = digits.split_at(usize::try_from(decpt).unwrap_or(0));
            format!("{sign}{int}.{frac}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { "0" } else { rest };
        let e = decpt - 1;
        let esign = if e < 0 { '-' } else { '+' };
        format!("{sign}{first}.{rest}e{esign}{:02}", e.abs())
    }
}

impl HashKey {
    /// The key of a value; Err names the unsupported key type.
    pub fn of(value: &Value<'_>) -> Result<HashKey, String> {
        HashKey::of_at(value, 0)
    }

    fn of_at(value: &Value<'_>, depth: usize) -> Result<HashKey, String> {
        if depth > MAX_DEPTH {
            return Err("hash key nested too deep".to_string());
        }
        Ok(match value {
            Value::Nil => HashKey::Nil,
            Value::Bool(b) => HashKey::Bool(*b),
            Value::Int(i) => HashKey::Int(*i),
            Value::Float(f) => HashKey::Float(f.to_bits()),
            Value::Str(s) => HashKey::Str(s.clone()),
            Value::Sym(s) => HashKey::Sym(s.clone()),
            Value::Array(a) => HashKey::Array(
                a.items
                    .borrow()
                    .iter()
                    .map(|v| HashKey::of_at(v, depth + 1))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Json(serde_json::Value::Array(items)) => HashKey::Array(
                items
                    .iter()
                    .map(|i| HashKey::of_at(&Value::from_json(i), depth + 1))
                    .collect::<Result<_, _>>()?,
            ),
            other => return Err(format!("a {} cannot be a hash key", other.class_name())),
        })
    }

    /// The value this key stands for.
    pub fn to_value<'a>(&self) -> Value<'a> {
        match self {
            HashKey::Nil => Value::Nil,
            HashKey::Bool(b) => Value::Bool(*b),
            HashKey::Int(i) => Value::Int(*i),
            HashKey::Float(bits) => Value::Float(f64::from_bits(*bits)),
            HashKey::Str(s) => Value::Str(s.clone()),
            HashKey::Sym(s) => Value::Sym(s.clone()),
            HashKey::Array(items) => Value::array(items.iter().map(HashKey::to_value).collect()),
        }
    }
}

impl<'a> RHash<'a> {
    /// Looks a key up, finding string keys by symbol in indifferent hashes.
    pub fn get(&self, key: &Value<'a>) -> Option<Value<'a>> {
        let map = self.map.borrow();
        let k = HashKey::of(key).ok()?;
        if let Some(v) = map.get(&k) {
            return Some(v.clone());
        }
        match (self.indifferent, key) {
            (true, Value::Sym(s)) => map.get(&HashKey::Str(s.clone())).cloned(),
            _ => None,
        }
    }
}

/// Whether two containers are the same object.
fn same<T, U>(x: *const T, y: *const U) -> bool {
    std::ptr::eq(x.cast::<()>(), y.cast::<()>())
}

/// Ruby `==`.
pub fn equal(a: &Value<'_>, b: &Value<'_>) -> bool {
    equal_at(a, b, 0)
}

fn equal_at(a: &Value<'_>, b: &Value<'_>, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    let equal = |x: &Value<'_>, y: &Value<'_>| equal_at(x, y, depth + 1);
    match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Int(x), Value::Float(y)) | (Value::Float(y), Value::Int(x)) => (*x as f64) == *y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) | (Value::Sym(x), Value::Sym(y)) => x == y,
        (Value::Module(x), Value::Module(y)) => x == y,
        (Value::Regex(x), Value::Regex(y)) => x.source == y.source && x.flags == y.flags,
        (Value::Json(x), Value::Json(y)) => x == y,
        (Value::Json(_), _) => equal(&a.clone().materialize(), b),
        (_, Value::Json(_)) => equal(a, &b.clone().materialize()),
        (Value::Array(x), Value::Array(y)) if same(Rc::as_ptr(x), Rc::as_ptr(y)) => true,
        (Value::Hash(x), Value::Hash(y)) if same(Rc::as_ptr(x), Rc::as_ptr(y)) => true,
        (Value::Array(x), Value::Array(y)) => {
            let (x, y) = (x.items.borrow(), y.items.borrow());
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| equal(p, q))
        }
        (Value::Hash(x), Value::Hash(y)) => {
            let (x, y) = (x.map.borrow(), y.map.borrow());
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        (Value::Range(x), Value::Range(y)) => x.2 == y.2 && equal(&x.0, &y.0) && equal(&x.1, &y.1),
        (Value::Node, Value::Node) => true,
        _ => false,
    }
}

/// Ruby `<=>`; None when the values do not compare.
pub fn compare(a: &Value<'_>, b: &Value<'_>) -> Option<Ordering> {
    compare_at(a, b, 0)
}

fn compare_at(a: &Value<'_>, b: &Value<'_>, depth: usize) -> Option<Ordering> {
    if depth > MAX_DEPTH {
        return None;
    }
    let compare = |x: &Value<'_>, y: &Value<'_>| compare_at(x, y, depth + 1);
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Int(x), Value::Float(y)) => (*x as f64).partial_cmp(y),
        (Value::Float(x), Value::Int(y)) => x.partial_cmp(&(*y as f64)),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y),
        (Value::Str(x), Value::Str(y)) | (Value::Sym(x), Value::Sym(y)) => Some(x.cmp(y)),
        (Value::Json(_), _) | (_, Value::Json(_)) => {
            compare(&a.clone().materialize(), &b.clone().materialize())
        }
        (Value::Array(x), Value::Array(y)) => {
            let (x, y) = (x.items.borrow(), y.items.borrow());
            for (p, q) in x.iter().zip(y.iter()) {
                match compare(p, q)? {
                    Ordering::Equal => continue,
                    other => return Some(other),
                }
            }
            Some(x.len().cmp(&y.len()))
        }
        (Value::Nil, Value::Nil) => Some(Ordering::Equal),
        (Value::Bool(x), Value::Bool(y)) if x == y => Some(Ordering::Equal),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_to_s_matches_ruby() {
        assert_eq!(float_to_s(1.0), "1.0");
        assert_eq!(float_to_s(1.5), "1.5");
        assert_eq!(float_to_s(-0.25), "-0.25");
        assert_eq!(float_to_s(100.0), "100.0");
        assert_eq!(float_to_s(0.0001), "0.0001");
        assert_eq!(float_to_s(0.00001), "1.0e-05");
        assert_eq!(float_to_s(1e16), "1.0e+16");
        assert_eq!(float_to_s(1e15), "1000000000000000.0");
        assert_eq!(float_to_s(1.23e20), "1.23e+20");
        assert_eq!(float_to_s(0.1 + 0.2), "0.30000000000000004");
    }

    #[test]
    fn inspect_matches_ruby_3_4() {
        let mut map = IndexMap::new();
        map.insert(HashKey::Str(Arc::from("a")), Value::Int(1));
        map.insert(HashKey::Sym(Arc::from("b")), Value::Nil);
        map.insert(HashKey::Sym(Arc::from("c-d")), Value::Bool(true));
        let hash = Value::hash(map);
        assert_eq!(hash.inspect(), r#"{"a" => 1, b: nil, "c-d": true}"#);
        let array = Value::array(vec![Value::str("a"), Value::Int(1), Value::Float(2.0)]);
        assert_eq!(array.to_s(), r#"["a", 1, 2.0]"#);
        assert_eq!(Value::str("q\"\n#{").inspect(), r#""q\"\n\#{""#);
        assert_eq!(Value::Sym(Arc::from("ok?")).inspect(), ":ok?");
        assert_eq!(Value::Sym(Arc::from("a b")).inspect(), r#":"a b""#);
        assert_eq!(Value::Nil.to_s(), "");
        assert_eq!(Value::hash(IndexMap::new()).inspect(), "{}");
    }

    #[test]
    fn json_values_print_like_hashes() {
        let json = serde_json::json!({"a": [1, "x"], "b": {"c": 1.0}});
        assert_eq!(
            Value::from_json(&json).to_s(),
            r#"{"a" => [1, "x"], "b" => {"c" => 1.0}}"#
        );
    }
}
