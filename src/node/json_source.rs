//! JSON documents of the chef-repo (roles, environments, saved nodes) read with errors that point
//! into the file.
//!
//! `serde_json::Value` keeps no positions, so when a field has the wrong shape the document text
//! is walked again to find where that field's value starts. The text has already parsed, so the
//! walker may assume it is valid JSON.

use crate::error::{Error, Result, SourceLocation};
use serde_json::Value;
use std::path::Path;

/// A parsed JSON document and the text it came from.
pub(crate) struct JsonSource<'a> {
    text: &'a str,
    path: &'a Path,
    /// The parsed document.
    pub value: Value,
}

impl<'a> JsonSource<'a> {
    /// Parses `text`; a syntax error names the file, line and column.
    pub fn parse(text: &'a str, path: &'a Path) -> Result<Self> {
        let value = serde_json::from_str(text).map_err(|err| syntax_error(&err, path))?;
        Ok(JsonSource { text, path, value })
    }

    /// Where the value at `keys` starts (object keys, or array indexes as digits).
    pub fn location(&self, keys: &[&str]) -> SourceLocation {
        match locate(self.text, keys) {
            Some(offset) => {
                let (line, column) = line_column(self.text, offset);
                SourceLocation::new(self.path, line, column)
            }
            None => SourceLocation::file(self.path),
        }
    }

    /// A validation error about the value at `keys`.
    pub fn error(&self, keys: &[&str], message: impl Into<String>) -> Error {
        Error::compile(self.location(keys), message)
    }

    /// The top-level object, or an error saying `what` must be a JSON object.
    pub fn object(&self, what: &str) -> Result<&serde_json::Map<String, Value>> {
        self.value
            .as_object()
            .ok_or_else(|| self.error(&[], format!("expected {what} to be a JSON object")))
    }

    /// An optional string field; null counts as absent.
    pub fn optional_string(&self, key: &str) -> Result<Option<String>> {
        match self.value.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.error(&[key], format!("expected `{key}` to be a string"))),
        }
    }

    /// An optional object field; null counts as absent (an empty object).
    pub fn optional_object(&self, key: &str) -> Result<serde_json::Map<String, Value>> {
        match self.value.get(key) {
            None | Some(Value::Null) => Ok(Default::default()),
            Some(Value::Object(map)) => Ok(map.clone()),
            Some(_) => Err(self.error(&[key], format!("expected `{key}` to be an object"))),
        }
    }

    /// The path of the document.
    pub fn path(&self) -> &Path {
        self.path
    }
}

fn syntax_error(err: &serde_json::Error, path: &Path) -> Error {
    let full = err.to_string();
    // serde_json appends " at line L column C"; the location already says that.
    let message = full
        .rsplit_once(" at line ")
        .map_or(full.as_str(), |(head, _)| head);
    let line = u32::try_from(err.line()).unwrap_or(0);
    let column = u32::try_from(err.column()).unwrap_or(0);
    Error::compile_as(
        "JSON::ParserError",
        SourceLocation::new(path, line, column),
        format!("expected valid JSON: {message}"),
    )
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (u32, u32) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(column).unwrap_or(u32::MAX),
    )
}

/// Byte offset of the value at `keys`, or None when the path is not in the document.
fn locate(text: &str, keys: &[&str]) -> Option<usize> {
    let mut walker = Walker {
        bytes: text.as_bytes(),
        pos: 0,
    };
    walker.skip_ws();
    for key in keys {
        match walker.peek()? {
            b'{' => walker.enter_member(key)?,
            b'[' => walker.enter_element(key.parse().ok()?)?,
            _ => return None,
        }
    }
    Some(walker.pos)
}

/// A cursor over valid JSON text.
struct Walker<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Walker<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    /// At `{`: moves to the start of the value of member `key`.
    fn enter_member(&mut self, key: &str) -> Option<()> {
        self.pos += 1;
        loop {
            self.skip_ws();
            if self.peek()? == b'}' {
                return None;
            }
            let name = self.string()?;
            self.skip_ws();
            self.pos += 1; // ':'
            self.skip_ws();
            if name == key {
                return Some(());
            }
            self.skip_value()?;
            self.skip_ws();
            if self.peek()? == b',' {
                self.pos += 1;
            }
        }
    }

    /// At `[`: moves to the start of element `index`.
    fn enter_element(&mut self, index: usize) -> Option<()> {
        self.pos += 1;
        for _ in 0..index {
            self.skip_ws();
            if self.peek()? == b']' {
                return None;
            }
            self.skip_value()?;
            self.skip_ws();
            if self.peek()? == b',' {
                self.pos += 1;
            }
        }
        self.skip_ws();
        (self.peek()? != b']').then_some(())
    }

    /// Reads a string token and decodes it.
    fn string(&mut self) -> Option<String> {
        let start = self.pos;
        self.skip_string()?;
        serde_json::from_slice(&self.bytes[start..self.pos]).ok()
    }

    fn skip_string(&mut self) -> Option<()> {
        self.pos += 1;
        loop {
            match self.peek()? {
                b'\\' => self.pos += 2,
                b'"' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => self.pos += 1,
            }
        }
    }

    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string(),
            b'{' | b'[' => self.skip_container(),
            _ => {
                while self
                    .peek()
                    .is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace())
                {
                    self.pos += 1;
                }
                Some(())
            }
        }
    }

    fn skip_container(&mut self) -> Option<()> {
        let mut depth = 0usize;
        loop {
            match self.peek()? {
                b'"' => {
                    self.skip_string()?;
                    continue;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        self.pos += 1;
                        return Some(());
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "{\n  \"name\": \"web\",\n  \"run_list\": [\"recipe[a]\", \"role[\\\"b]\"],\n  \"nested\": {\"x\": {\"y\": 1}, \"z\": [1, {\"k\": true}]}\n}\n";

    #[test]
    fn locates_members_and_elements() {
        let src = JsonSource::parse(DOC, Path::new("roles/web.json")).unwrap();
        assert_eq!(src.location(&["name"]).to_string(), "roles/web.json:2:11");
        assert_eq!(
            src.location(&["run_list", "1"]).to_string(),
            "roles/web.json:3:29"
        );
        assert_eq!(
            src.location(&["nested", "z", "1", "k"]).to_string(),
            "roles/web.json:4:44"
        );
        assert_eq!(src.location(&["missing"]).to_string(), "roles/web.json");
        assert_eq!(
            src.location(&["run_list", "9"]).to_string(),
            "roles/web.json"
        );
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let err = JsonSource::parse("{\n  \"a\": ,\n}", Path::new("x.json"))
            .err()
            .unwrap();
        assert_eq!(err.class(), "JSON::ParserError");
        assert!(
            err.to_string()
                .starts_with("x.json:2:8: expected valid JSON"),
            "{err}"
        );
    }

    #[test]
    fn typed_fields_report_what_was_expected() {
        let src = JsonSource::parse("{\"description\": 3}", Path::new("e.json")).unwrap();
        let err = src.optional_string("description").unwrap_err();
        assert_eq!(
            err.to_string(),
            "e.json:1:17: expected `description` to be a string"
        );
    }
}
