//! Cookbook attribute files (attributes/*.rb): precedence-level writes against a [`NodeAccess`].
//!
//! `default['a']['b'] = v` evaluates `default['a']['b']` to a path into the `default` level
//! ([`Value::Attr`]) without reading it; the assignment then becomes one [`AttributeWrite`] with
//! the full path, so intermediate maps autovivify in the node. Reading the node (`node['a']`)
//! returns a read-only copy of the merged view, and writing into that copy is Chef's
//! `ImmutableAttributeModification`.

use super::interp::{CallInfo, Fault, Host, Interp, Reply};
use super::value::{AttrRef, Mutability, Value};
use super::{fault_to_error, parse_file, AttributeWrite, NodeAccess, WriteLevel, WriteOp};
use std::cmp::Ordering;
use std::path::Path;
use std::rc::Rc;

/// Evaluates a cookbook attribute file (attributes/*.rb).
pub fn eval_attribute_file(
    path: &Path,
    source: &str,
    node: &mut dyn NodeAccess,
) -> crate::Result<()> {
    let program = parse_file(path, source)?;
    let mut host = AttributeHost::new(node, true);
    let mut interp = Interp::new(path, &mut host);
    interp
        .run(&program)
        .map(|_| ())
        .map_err(|f| fault_to_error(path, f))
}

/// The level and write operation a level accessor (`default`, `override_unless`) stands for.
fn level_accessor(name: &str) -> Option<(WriteLevel, WriteOp)> {
    Some(match name {
        "default" => (WriteLevel::Default, WriteOp::Set),
        "force_default" => (WriteLevel::ForceDefault, WriteOp::Set),
        "normal" | "set" => (WriteLevel::Normal, WriteOp::Set),
        "override" => (WriteLevel::Override, WriteOp::Set),
        "force_override" => (WriteLevel::ForceOverride, WriteOp::Set),
        "default_unless" => (WriteLevel::Default, WriteOp::SetUnless),
        "normal_unless" | "set_unless" => (WriteLevel::Normal, WriteOp::SetUnless),
        "override_unless" => (WriteLevel::Override, WriteOp::SetUnless),
        "default!" => (WriteLevel::Default, WriteOp::Replace),
        "normal!" => (WriteLevel::Normal, WriteOp::Replace),
        "override!" => (WriteLevel::Override, WriteOp::Replace),
        "force_default!" => (WriteLevel::ForceDefault, WriteOp::ForceReplace),
        "force_override!" => (WriteLevel::ForceOverride, WriteOp::ForceReplace),
        _ => return None,
    })
}

/// Node attributes that Chef also offers as methods (`node.platform`).
const NODE_READERS: [&str; 14] = [
    "name",
    "platform",
    "platform_family",
    "platform_version",
    "chef_environment",
    "fqdn",
    "hostname",
    "domain",
    "ipaddress",
    "macaddress",
    "os",
    "os_version",
    "machinename",
    "roles",
];

fn attribute_key(key: &Value<'_>) -> Result<String, Fault> {
    match key {
        Value::Str(s) | Value::Sym(s) => Ok(s.to_string()),
        Value::Int(i) => Ok(i.to_string()),
        other => Err(Fault::type_error(format!(
            "attribute keys must be strings or symbols, not {}",
            other.class_name()
        ))),
    }
}

fn one_arg<'v, 'a>(name: &str, args: &'v [Value<'a>]) -> Result<&'v Value<'a>, Fault> {
    match args {
        [one] => Ok(one),
        _ => Err(Fault::argument(format!(
            "wrong number of arguments (given {}, expected 1) for `{name}`",
            args.len()
        ))),
    }
}

/// The value of a `value_for_platform`-style hash as (key, value) pairs.
fn platform_pairs<'a>(value: &Value<'a>) -> Result<Vec<(Value<'a>, Value<'a>)>, Fault> {
    match value.clone().materialize() {
        Value::Hash(h) => Ok(h
            .map
            .borrow()
            .iter()
            .map(|(k, v)| (k.to_value(), v.clone()))
            .collect()),
        other => Err(Fault::type_error(format!(
            "expected a Hash of platforms, got {}",
            other.class_name()
        ))),
    }
}

/// Whether a `value_for_platform` key (`"debian"`, `:ubuntu`, `%w(a b)`) names `wanted`.
fn key_names(key: &Value<'_>, wanted: &str) -> bool {
    match key.clone().materialize() {
        Value::Str(s) | Value::Sym(s) => s.as_ref() == wanted,
        Value::Array(a) => a.items.borrow().iter().any(|k| key_names(k, wanted)),
        _ => false,
    }
}

fn compare_versions(a: &str, b: &str) -> Ordering {
    let parse = |v: &str| -> Vec<u64> {
        v.split('.')
            .map(|p| {
                p.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
                    .parse()
                    .unwrap_or(0)
            })
            .collect()
    };
    let (a, b) = (parse(a), parse(b));
    let len = a.len().max(b.len());
    (0..len)
        .map(|i| a.get(i).unwrap_or(&0).cmp(b.get(i).unwrap_or(&0)))
        .find(|o| *o != Ordering::Equal)
        .unwrap_or(Ordering::Equal)
}

/// Chef's version constraints: `= 1.2`, `>= 12`, `~> 12.1`.
fn version_matches(constraint: &str, version: &str) -> bool {
    let constraint = constraint.trim();
    let (op, wanted) = ["~>", ">=", "<=", "=", ">", "<"]
        .iter()
        .find_map(|op| constraint.strip_prefix(op).map(|rest| (*op, rest.trim())))
        .unwrap_or(("=", constraint));
    let ordering = compare_versions(version, wanted);
    match op {
        ">=" => ordering != Ordering::Less,
        "<=" => ordering != Ordering::Greater,
        ">" => ordering == Ordering::Greater,
        "<" => ordering == Ordering::Less,
        "~>" => {
            let parts: Vec<&str> = wanted.split('.').collect();
            let prefix = parts[..parts.len().saturating_sub(1).max(1)].join(".");
            ordering != Ordering::Less
                && compare_versions(&version_prefix(version, prefix.split('.').count()), &prefix)
                    == Ordering::Equal
        }
        _ => ordering == Ordering::Equal,
    }
}

fn version_prefix(version: &str, parts: usize) -> String {
    version.split('.').take(parts).collect::<Vec<_>>().join(".")
}

/// The node as Ruby code sees it: `node[...]` reads, precedence-level writes, and the platform
/// helpers. Attribute files also reach the levels without `node.` (`default['a'] = 1`);
/// recipes and guards use it without that.
pub(crate) struct AttributeHost<'n> {
    node: &'n mut dyn NodeAccess,
    /// Whether `default[...]` (without `node.`) and `include_attribute` work: attribute files.
    attribute_file: bool,
}

impl<'n> AttributeHost<'n> {
    /// The node methods over `node`; `attribute_file` as for attributes/*.rb.
    pub(crate) fn new(node: &'n mut dyn NodeAccess, attribute_file: bool) -> Self {
        Self {
            node,
            attribute_file,
        }
    }

    fn read<'a>(&self, path: &[String]) -> Value<'a> {
        self.node.read(path).map_or(Value::Nil, |j| {
            Value::from_owned_json(&j, Mutability::NodeView)
        })
    }

    fn read_string(&self, key: &str) -> String {
        self.node
            .read(&[key.to_string()])
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    fn write<'a>(
        &mut self,
        attr: &AttrRef,
        key: &Value<'a>,
        value: &Value<'a>,
    ) -> Result<(), Fault> {
        let mut path = attr.path.clone();
        path.push(attribute_key(key)?);
        let value = match value {
            Value::Attr(inner) => self
                .resolve_json(inner)
                .unwrap_or(serde_json::Value::Object(serde_json::Map::new())),
            other => other.to_json().map_err(Fault::type_error)?,
        };
        self.node
            .write(AttributeWrite {
                level: attr.level,
                op: attr.op,
                path,
                value,
            })
            .map_err(|m| Fault::new("Chef::Exceptions::AttributeError", m))
    }

    /// Writes `value` over the whole path of `attr` (for in-place changes like `<<`).
    fn replace<'a>(
        &mut self,
        attr: &AttrRef,
        method: &str,
        value: &Value<'a>,
    ) -> Result<(), Fault> {
        let Some((last, parent)) = attr.path.split_last() else {
            return Err(Fault::no_method(
                method,
                &Value::Attr(Rc::new(attr.clone())),
            ));
        };
        let parent = AttrRef {
            level: attr.level,
            op: WriteOp::Set,
            path: parent.to_vec(),
        };
        self.write(&parent, &Value::str(last), value)
    }

    /// The value a precedence-level path holds in its level.
    pub(crate) fn resolve_json(&self, attr: &AttrRef) -> Option<serde_json::Value> {
        self.node.read_level(attr.level, &attr.path)
    }

    fn platform_check<'a>(&self, key: &str, args: &[Value<'a>]) -> Value<'a> {
        let current = self.read_string(key);
        Value::Bool(args.iter().any(|a| key_names(a, &current)))
    }

    fn value_for_platform<'a>(&self, args: &[Value<'a>]) -> Result<Value<'a>, Fault> {
        let pairs = platform_pairs(one_arg("value_for_platform", args)?)?;
        let platform = self.read_string("platform");
        let version = self.read_string("platform_version");
        let mut default = Value::Nil;
        for (key, versions) in &pairs {
            if key_names(key, "default") {
                default = versions.clone();
            }
            if !key_names(key, &platform) {
                continue;
            }
            let versions = platform_pairs(versions)?;
            let exact = versions.iter().find(|(v, _)| v.to_s() == version);
            let constrained = versions.iter().find(|(v, _)| {
                let v = v.to_s();
                v != "default" && version_matches(&v, &version)
            });
            let fallback = versions.iter().find(|(v, _)| v.to_s() == "default");
            if let Some((_, value)) = exact.or(constrained).or(fallback) {
                return Ok(value.clone());
            }
        }
        Ok(default)
    }

    fn value_for_platform_family<'a>(&self, args: &[Value<'a>]) -> Result<Value<'a>, Fault> {
        let pairs = platform_pairs(one_arg("value_for_platform_family", args)?)?;
        let family = self.read_string("platform_family");
        let found = pairs.iter().find(|(k, _)| key_names(k, &family));
        let default = pairs.iter().find(|(k, _)| key_names(k, "default"));
        Ok(found.or(default).map_or(Value::Nil, |(_, v)| v.clone()))
    }

    fn string_path(args: &[Value<'_>]) -> Result<Vec<String>, Fault> {
        args.iter().map(attribute_key).collect()
    }

    /// Calls without a receiver: `node`, the platform helpers and, in attribute files, the
    /// precedence levels and `include_attribute`.
    pub(crate) fn self_call<'a>(
        &mut self,
        name: &str,
        args: &[Value<'a>],
    ) -> Result<Reply<'a>, Fault> {
        if self.attribute_file {
            return self.helper_call(name, args);
        }
        match name {
            "include_attribute" => Ok(Reply::NotFound),
            _ if level_accessor(name).is_some() => Ok(Reply::NotFound),
            _ => self.helper_call(name, args),
        }
    }

    fn helper_call<'a>(&mut self, name: &str, args: &[Value<'a>]) -> Result<Reply<'a>, Fault> {
        if let Some((level, op)) = level_accessor(name) {
            if args.is_empty() {
                return Ok(Reply::Value(Value::Attr(Rc::new(AttrRef {
                    level,
                    op,
                    path: Vec::new(),
                }))));
            }
        }
        Ok(Reply::Value(match name {
            "node" => Value::Node,
            "include_attribute" => {
                for arg in args {
                    let Value::Str(name) = arg else {
                        return Err(Fault::type_error("include_attribute takes strings"));
                    };
                    self.node
                        .include_attribute(name)
                        .map_err(|m| Fault::new("Chef::Exceptions::AttributeNotFound", m))?;
                }
                Value::Bool(true)
            }
            "platform?" => self.platform_check("platform", args),
            "platform_family?" => self.platform_check("platform_family", args),
            "value_for_platform" => self.value_for_platform(args)?,
            "value_for_platform_family" => self.value_for_platform_family(args)?,
            "attribute?" => Value::Bool(self.node.read(&Self::string_path(args)?).is_some()),
            _ => return Ok(Reply::NotFound),
        }))
    }

    fn node_call<'a>(&mut self, name: &str, args: &[Value<'a>]) -> Result<Reply<'a>, Fault> {
        if let Some(reply) = match self.helper_call(name, args)? {
            Reply::NotFound => None,
            reply => Some(reply),
        } {
            return Ok(reply);
        }
        Ok(Reply::Value(match name {
            "[]" => self.read(&[attribute_key(one_arg(name, args)?)?]),
            "[]=" => {
                return Err(
                    super::interp::check_mutable(Mutability::NodeView, "Chef::Node")
                        .err()
                        .unwrap_or_else(|| Fault::new("RuntimeError", "node is read-only")),
                )
            }
            "dig" | "read" => self.read(&Self::string_path(args)?),
            "exist?" | "key?" | "has_key?" | "include?" | "member?" => {
                Value::Bool(self.node.read(&Self::string_path(args)?).is_some())
            }
            "fetch" => {
                let key = attribute_key(args.first().unwrap_or(&Value::Nil))?;
                match self.node.read(std::slice::from_ref(&key)) {
                    Some(j) => Value::from_owned_json(&j, Mutability::NodeView),
                    None => match args.get(1) {
                        Some(default) => default.clone(),
                        None => {
                            return Err(Fault::new("KeyError", format!("key not found: \"{key}\"")))
                        }
                    },
                }
            }
            "to_hash" | "to_h" | "merged_attributes" => self.read(&[]),
            "to_s" | "inspect" => Value::str(format!("node[{}]", self.read_string("name"))),
            other if NODE_READERS.contains(&other) && args.is_empty() => {
                self.read(&[other.to_string()])
            }
            _ => return Ok(Reply::NotFound),
        }))
    }

    fn attr_call<'a>(
        &mut self,
        attr: &AttrRef,
        name: &str,
        args: &[Value<'a>],
    ) -> Result<Reply<'a>, Fault> {
        Ok(match (name, args) {
            ("[]", [key]) => {
                let mut path = attr.path.clone();
                path.push(attribute_key(key)?);
                Reply::Value(Value::Attr(Rc::new(AttrRef {
                    level: attr.level,
                    op: attr.op,
                    path,
                })))
            }
            ("[]=", [key, value]) => {
                self.write(attr, key, value)?;
                Reply::Value(value.clone())
            }
            ("<<" | "push", _) => {
                let mut items = match self.resolve_json(attr) {
                    Some(serde_json::Value::Array(items)) => items,
                    None | Some(serde_json::Value::Null) => Vec::new(),
                    Some(other) => {
                        return Err(Fault::no_method(
                            name,
                            &Value::from_owned_json(&other, Mutability::Mutable),
                        ))
                    }
                };
                for arg in args {
                    items.push(arg.to_json().map_err(Fault::type_error)?);
                }
                let array =
                    Value::from_owned_json(&serde_json::Value::Array(items), Mutability::Mutable);
                self.replace(attr, name, &array)?;
                Reply::Value(array)
            }
            ("merge!" | "update", [other]) => {
                let mut merged = match self.resolve_json(attr) {
                    Some(serde_json::Value::Object(map)) => map,
                    _ => serde_json::Map::new(),
                };
                let serde_json::Value::Object(extra) = other.to_json().map_err(Fault::type_error)?
                else {
                    return Err(Fault::type_error(format!(
                        "no implicit conversion of {} into Hash",
                        other.class_name()
                    )));
                };
                merged.extend(extra);
                let hash =
                    Value::from_owned_json(&serde_json::Value::Object(merged), Mutability::Mutable);
                self.replace(attr, name, &hash)?;
                Reply::Value(hash)
            }
            (name, _) if super::interp::is_mutator(name) => {
                return Err(Fault::new(
                    "NotImplementedError",
                    format!(
                        "unsupported Ruby: in-place `{name}` on node attributes; assign the new value instead"
                    ),
                ))
            }
            _ => Reply::Delegate(match self.resolve_json(attr) {
                Some(j) => Value::from_owned_json(&j, Mutability::Mutable),
                None => Value::hash(indexmap::IndexMap::new()),
            }),
        })
    }
}

impl<'a> Host<'a> for AttributeHost<'_> {
    fn call(
        &mut self,
        receiver: Option<&Value<'a>>,
        name: &str,
        args: &[Value<'a>],
        _info: CallInfo,
    ) -> Result<Reply<'a>, Fault> {
        match receiver {
            None => self.self_call(name, args),
            Some(Value::Node) => self.node_call(name, args),
            Some(Value::Attr(attr)) => self.attr_call(attr, name, args),
            Some(_) => Ok(Reply::NotFound),
        }
    }

    fn resolve(&mut self, attr: &AttrRef) -> Result<Option<Value<'a>>, Fault> {
        Ok(self
            .resolve_json(attr)
            .map(|j| Value::from_owned_json(&j, Mutability::Mutable)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_constraints_follow_chef() {
        assert!(version_matches(">= 12", "12.5"));
        assert!(!version_matches("< 12", "12.5"));
        assert!(version_matches("~> 12.1", "12.4"));
        assert!(!version_matches("~> 12.1", "13.0"));
        assert!(version_matches("= 10.04", "10.04"));
    }
}
