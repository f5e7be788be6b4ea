//! Handlebars templates (`.hbs`), for cookbooks that prefer logic-less templates to ERB.
//!
//! The template sees the resource's `variables` at the top level and the node as `node`
//! (`{{port}}`, `{{node.fqdn}}`). Strict mode is off, so a missing value renders as empty, and
//! nothing is HTML-escaped: these are configuration files, not web pages.

use super::TemplateEngine;
use crate::error::{Error, Result, SourceLocation};
use handlebars::Handlebars;
use serde_json::{Map, Value};
use std::fmt;
use std::path::{Path, PathBuf};

/// The registry holds exactly one template, under this name.
const NAME: &str = "template";

/// A compiled Handlebars template.
pub struct HandlebarsTemplate {
    path: PathBuf,
    registry: Handlebars<'static>,
}

impl fmt::Debug for HandlebarsTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlebarsTemplate")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl HandlebarsTemplate {
    /// Compiles `source` (the text of the file at `path`); a syntax error is a compile error
    /// at `path:line:col`.
    pub fn compile(path: &Path, source: &str) -> Result<Self> {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(false);
        registry.register_escape_fn(handlebars::no_escape);
        registry
            .register_template_string(NAME, source)
            .map_err(|e| {
                let (line, column) = e.pos().unwrap_or((0, 0));
                let reason = e.reason().to_string();
                let first = reason.lines().next().unwrap_or("invalid template").trim();
                Error::compile_as(
                    "Chef::Exceptions::TemplateError",
                    SourceLocation::new(path, line as u32, column as u32),
                    format!("Handlebars syntax error: {first}"),
                )
            })?;
        Ok(Self {
            path: path.to_path_buf(),
            registry,
        })
    }
}

impl TemplateEngine for HandlebarsTemplate {
    fn render(&self, variables: &Map<String, Value>, node: &Value) -> Result<String> {
        let mut data = variables.clone();
        data.insert("node".to_string(), node.clone());
        self.registry
            .render(NAME, &Value::Object(data))
            .map_err(|e| {
                let location = SourceLocation::new(
                    &self.path,
                    e.line_no.unwrap_or(0) as u32,
                    e.column_no.unwrap_or(0) as u32,
                );
                Error::resource(
                    "Chef::Mixin::Template::TemplateError",
                    format!("{location}: {}", e.reason()),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_variables_and_node_without_escaping() {
        let t = HandlebarsTemplate::compile(
            Path::new("t.hbs"),
            "port={{port}}\nhost={{node.fqdn}}\nurl={{url}}\nmissing=[{{nope}}]\n",
        )
        .unwrap();
        let vars = json!({"port": 80, "url": "http://a/?x=1&y=<2>"});
        let out = t
            .render(vars.as_object().unwrap(), &json!({"fqdn": "host.example"}))
            .unwrap();
        assert_eq!(
            out,
            "port=80\nhost=host.example\nurl=http://a/?x=1&y=<2>\nmissing=[]\n"
        );
    }

    #[test]
    fn syntax_error_names_file_line_and_column() {
        let err = HandlebarsTemplate::compile(Path::new("templates/x.hbs"), "a\n{{#if x}}\nb\n")
            .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("templates/x.hbs:"), "{text}");
        assert!(matches!(err, Error::Compile { .. }));
    }
}
