//! Typed readers for declared property values.
//!
//! Each reader takes a property by name from a [`ResourceDecl`], checks its JSON type and turns
//! it into the Rust type the resource stores. A wrong type is a compile error at the property's
//! location: "expected `mode` to be an octal string like "0644" or an integer, got array".

use crate::compile::decl::{PropValue, ResourceDecl};
use crate::error::{Error, Result, SourceLocation};
use crate::platform::access::Principal;
use crate::platform::command::CommandLine;
use crate::platform::fs::Mode;
use serde_json::{Map, Value};
use std::time::Duration;

/// The properties of one declaration, read by name.
#[derive(Debug, Clone, Copy)]
pub struct Properties<'a> {
    decl: &'a ResourceDecl,
}

/// Chef-ish name of a JSON value's type, for error messages.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "nil",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "map",
    }
}

/// "expected `name` to be EXPECTED, got TYPE" at the value's location.
pub fn type_error(name: &str, expected: &str, value: &PropValue) -> Error {
    Error::compile(
        value.location.clone(),
        format!(
            "expected `{name}` to be {expected}, got {}",
            shown(&value.value)
        ),
    )
}

/// A value as an error shows it: scalars as written, containers by their kind.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Number(_) | Value::Bool(_) => value.to_string(),
        other => type_name(other).to_string(),
    }
}

impl<'a> Properties<'a> {
    /// Readers over `decl`'s properties.
    pub fn new(decl: &'a ResourceDecl) -> Self {
        Self { decl }
    }

    /// The declaration being read.
    pub fn decl(&self) -> &'a ResourceDecl {
        self.decl
    }

    /// The raw value of `name`; an explicit `null` counts as not set.
    pub fn get(&self, name: &str) -> Option<&'a PropValue> {
        self.decl
            .properties
            .get(name)
            .filter(|p| !p.value.is_null())
    }

    /// Where `name` was written, or where the declaration starts.
    pub fn location(&self, name: &str) -> SourceLocation {
        self.decl
            .properties
            .get(name)
            .map(|p| p.location.clone())
            .unwrap_or_else(|| self.decl.location.clone())
    }

    /// A string property.
    pub fn string(&self, name: &str) -> Result<Option<String>> {
        self.read(name, "a string", |v| v.as_str().map(str::to_string))
    }

    /// A boolean property.
    pub fn bool(&self, name: &str) -> Result<Option<bool>> {
        self.read(name, "true or false", Value::as_bool)
    }

    /// A non-negative integer (an integer or a string of digits).
    pub fn u32(&self, name: &str) -> Result<Option<u32>> {
        self.read(name, "a non-negative integer", value_u32)
    }

    /// A number of seconds (integer or float).
    pub fn seconds(&self, name: &str) -> Result<Option<Duration>> {
        self.read(name, "a number of seconds", |v| {
            v.as_f64().and_then(|s| Duration::try_from_secs_f64(s).ok())
        })
    }

    /// `mode`: a string is octal (`"644"` ≡ `"0644"`), an integer is taken literally.
    pub fn mode(&self, name: &str) -> Result<Option<Mode>> {
        self.read(
            name,
            "an octal string like \"0644\" or an integer",
            value_mode,
        )
    }

    /// A user or group: a name, or a numeric id (integer or digits).
    pub fn principal(&self, name: &str) -> Result<Option<Principal>> {
        self.read(name, "a user or group name or a numeric id", |v| match v {
            Value::String(s) if !s.is_empty() => Some(Principal::from_text(s)),
            Value::Number(_) => value_u32(v).map(Principal::Id),
            _ => None,
        })
    }

    /// A command: a string for the shell, or a list of strings run directly.
    pub fn command(&self, name: &str) -> Result<Option<CommandLine>> {
        self.read(name, "a string or array of strings", value_command)
    }

    /// A map of string keys to scalar values (`environment`), values stringified.
    pub fn string_map(&self, name: &str) -> Result<Option<Vec<(String, String)>>> {
        self.read(name, "a map of strings", value_string_map)
    }

    /// A map, kept as JSON (`variables`).
    pub fn object(&self, name: &str) -> Result<Option<Map<String, Value>>> {
        self.read(name, "a map", |v| v.as_object().cloned())
    }

    /// An integer or a list of integers (`returns`).
    pub fn int_list(&self, name: &str) -> Result<Option<Vec<i32>>> {
        self.read(name, "an integer or array of integers", |v| match v {
            Value::Array(items) => items.iter().map(value_i32).collect(),
            other => value_i32(other).map(|i| vec![i]),
        })
    }

    /// A symbol-like string from a fixed set (`level`, `link_type`); colons are allowed.
    pub fn choice(&self, name: &str, allowed: &[&'static str]) -> Result<Option<&'static str>> {
        let Some(prop) = self.get(name) else {
            return Ok(None);
        };
        let text = prop
            .value
            .as_str()
            .map(|s| s.strip_prefix(':').unwrap_or(s));
        match text.and_then(|t| allowed.iter().find(|a| **a == t)) {
            Some(found) => Ok(Some(*found)),
            None => Err(Error::compile(
                prop.location.clone(),
                format!(
                    "expected `{name}` to be one of {}, got {}",
                    allowed.join(", "),
                    prop.value
                ),
            )),
        }
    }

    fn read<T>(
        &self,
        name: &str,
        expected: &str,
        convert: impl FnOnce(&'a Value) -> Option<T>,
    ) -> Result<Option<T>> {
        match self.get(name) {
            None => Ok(None),
            Some(prop) => convert(&prop.value)
                .map(Some)
                .ok_or_else(|| type_error(name, expected, prop)),
        }
    }
}

/// An integer or a string of digits as u32.
pub fn value_u32(v: &Value) -> Option<u32> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn value_i32(v: &Value) -> Option<i32> {
    match v {
        Value::Number(n) => n.as_i64().and_then(|n| i32::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A mode value: octal string or literal integer.
pub fn value_mode(v: &Value) -> Option<Mode> {
    match v {
        Value::String(s) => Mode::parse_octal(s),
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Mode::new),
        _ => None,
    }
}

/// A command value: shell string or non-empty argv of strings.
pub fn value_command(v: &Value) -> Option<CommandLine> {
    match v {
        Value::String(s) => Some(CommandLine::Shell(s.clone())),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .map(CommandLine::Argv),
        _ => None,
    }
}

/// A map of scalars, stringified as Ruby's `to_s` would (numbers, booleans).
pub fn value_string_map(v: &Value) -> Option<Vec<(String, String)>> {
    v.as_object()?
        .iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            Some((k.clone(), text))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decl(props: Value) -> ResourceDecl {
        let mut properties = indexmap::IndexMap::new();
        if let Value::Object(map) = props {
            for (k, v) in map {
                properties.insert(
                    k,
                    PropValue {
                        value: v,
                        location: SourceLocation::new("recipes/default.yml", 3, 5),
                    },
                );
            }
        }
        ResourceDecl {
            kind: "file".into(),
            name: "/x".into(),
            properties,
            location: SourceLocation::new("recipes/default.yml", 1, 3),
            cookbook: "cb".into(),
            recipe: "default".into(),
        }
    }

    #[test]
    fn mode_string_is_octal_integer_is_literal() {
        let d = decl(json!({"a": "644", "b": 420, "c": 644}));
        let p = Properties::new(&d);
        assert_eq!(p.mode("a").unwrap(), Some(Mode::new(0o644)));
        assert_eq!(p.mode("b").unwrap(), Some(Mode::new(0o644)));
        assert_eq!(p.mode("c").unwrap(), Some(Mode::new(0o1204)));
    }

    #[test]
    fn wrong_type_names_property_expected_and_got_with_location() {
        let d = decl(json!({"mode": [1]}));
        let err = Properties::new(&d).mode("mode").unwrap_err();
        assert_eq!(
            err.to_string(),
            "recipes/default.yml:3:5: expected `mode` to be an octal string like \"0644\" or an integer, got array"
        );
    }

    #[test]
    fn commands_environment_and_returns() {
        let d = decl(json!({
            "s": "echo hi", "a": ["/bin/echo", "x"], "bad": [1],
            "env": {"A": "1", "B": 2}, "r1": 3, "r2": [0, 2]
        }));
        let p = Properties::new(&d);
        assert_eq!(
            p.command("s").unwrap(),
            Some(CommandLine::Shell("echo hi".into()))
        );
        assert_eq!(
            p.command("a").unwrap(),
            Some(CommandLine::Argv(vec!["/bin/echo".into(), "x".into()]))
        );
        assert!(p.command("bad").is_err());
        assert_eq!(
            p.string_map("env").unwrap(),
            Some(vec![("A".into(), "1".into()), ("B".into(), "2".into())])
        );
        assert_eq!(p.int_list("r1").unwrap(), Some(vec![3]));
        assert_eq!(p.int_list("r2").unwrap(), Some(vec![0, 2]));
        assert_eq!(p.int_list("missing").unwrap(), None);
    }

    #[test]
    fn choice_accepts_symbol_spelling() {
        let d = decl(json!({"level": ":warn", "bad": "loud"}));
        let p = Properties::new(&d);
        assert_eq!(p.choice("level", &["info", "warn"]).unwrap(), Some("warn"));
        assert!(p.choice("bad", &["info", "warn"]).is_err());
    }
}
