//! Reading YAML and JSON files into typed data with file:line:col errors.
//!
//! YAML is read the way Ruby's Psych reads it (YAML 1.1: `0644` is octal, `yes`/`no` are
//! booleans), so a recipe written for Chef means the same here. JSON files go through the same
//! reader (JSON is YAML) when their values need locations.

use crate::error::{Error, Result, SourceLocation};
use serde::de::DeserializeOwned;
use std::path::Path;

/// Parses YAML (or JSON) text from `path` into `T`.
pub fn from_yaml<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T> {
    let options = serde_saphyr::options! {
        legacy_octal_numbers: true,
        with_snippet: false,
    };
    serde_saphyr::from_str_with_options(text, options).map_err(|e| {
        let location = match e.location() {
            Some(loc) => SourceLocation::new(path, to_u32(loc.line()), to_u32(loc.column())),
            None => SourceLocation::file(path),
        };
        let message = first_line(&e.to_string());
        Error::compile_as(
            "Chef::Exceptions::InvalidYAML",
            location,
            format!("invalid YAML: {message}"),
        )
    })
}

/// Parses JSON text from `path` into `T`, with serde_json's line and column on error.
pub fn from_json<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T> {
    serde_json::from_str(text).map_err(|e| json_error(&e, path))
}

/// A serde_json error as a compile error at its line and column.
pub fn json_error(e: &serde_json::Error, path: &Path) -> Error {
    let location = SourceLocation::new(path, to_u32(e.line() as u64), to_u32(e.column() as u64));
    let message = e.to_string();
    // serde_json appends " at line L column C"; the location already says it.
    let message = match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message,
    };
    Error::compile_as(
        "JSON::ParserError",
        location,
        format!("invalid JSON: {message}"),
    )
}

/// Converts a saphyr location to ours.
pub fn location_of(loc: &serde_saphyr::Location, path: &Path) -> SourceLocation {
    SourceLocation::new(path, to_u32(loc.line()), to_u32(loc.column()))
}

fn to_u32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn leading_zero_is_octal_as_in_ruby_yaml() {
        let v: Value = from_yaml("mode: 0644\n", Path::new("r.yml")).unwrap();
        assert_eq!(v["mode"], 420);
    }

    #[test]
    fn yes_is_true_as_in_ruby_yaml() {
        let v: Value = from_yaml("a: yes\n", Path::new("r.yml")).unwrap();
        assert_eq!(v["a"], true);
    }

    #[test]
    fn errors_carry_line_and_column() {
        let err = from_yaml::<Value>("a: [1,\nb: }\n", Path::new("r.yml")).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("r.yml:"), "{text}");
        assert!(text.contains("invalid YAML"), "{text}");
    }

    #[test]
    fn json_errors_carry_line_and_column() {
        let err = from_json::<Value>("{\n  \"a\": 1,\n}\n", Path::new("x.json")).unwrap_err();
        assert!(err.to_string().starts_with("x.json:3:1"), "{err}");
    }
}
