//! Template engines behind the `template` resource: ERB (Chef's) and Handlebars.
//!
//! A template is compiled once at compile time (so a syntax error stops the run before the host
//! is touched) and rendered at converge time with the final node attributes.

pub mod handlebars;

use crate::error::Result;
use serde_json::{Map, Value};
use std::fmt;

/// A compiled template, ready to render.
pub trait TemplateEngine: fmt::Debug + Send + Sync {
    /// Renders with the resource's `variables` (`@name` in ERB, `{{name}}` in Handlebars) and
    /// the node's merged attributes (`node['a']` in ERB, `{{node.a}}` in Handlebars).
    fn render(&self, variables: &Map<String, Value>, node: &Value) -> Result<String>;
}

/// Compiles template text by the file's extension: `.hbs` is Handlebars, anything else ERB
/// (Chef treats every template as ERB). `path` names the file in errors.
pub fn compile_source(
    path: &std::path::Path,
    text: &str,
) -> Result<std::sync::Arc<dyn TemplateEngine>> {
    if path.extension().is_some_and(|e| e == "hbs") {
        Ok(std::sync::Arc::new(
            handlebars::HandlebarsTemplate::compile(path, text)?,
        ))
    } else {
        Ok(std::sync::Arc::new(crate::ruby::erb::ErbTemplate::compile(
            path, text,
        )?))
    }
}
