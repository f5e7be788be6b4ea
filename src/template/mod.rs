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

    /// Renders with everything a `template` resource offers: partials from its cookbook and
    /// its helpers. Engines without partials or helpers render with the variables and node.
    fn render_in(&self, scope: &RenderScope<'_>) -> Result<String> {
        self.render(scope.variables, scope.node)
    }

    /// Checks, at compile time, the partials the template names with literal strings: each is
    /// found by `partials` in `cookbook` and compiled, so a missing one stops the run.
    fn check_partials(
        &self,
        _partials: &crate::ruby::erb::TemplateFinder,
        _cookbook: &str,
    ) -> Result<()> {
        Ok(())
    }
}

/// What a template is rendered with, beyond its variables and the node.
#[derive(Clone, Copy)]
pub struct RenderScope<'r> {
    /// The resource's `variables` (already computed when they were `lazy`).
    pub variables: &'r Map<String, Value>,
    /// The node's merged attributes.
    pub node: &'r Value,
    /// The cookbook partials are looked up in when `render` names none.
    pub cookbook: &'r str,
    /// Where partials are found and compiled; None when the run has no cookbooks to look in.
    pub partials: Option<&'r crate::ruby::erb::TemplateFinder>,
    /// The host's root, for `render "/abs/x.erb", local: true`.
    pub root: &'r std::path::Path,
    /// Methods the resource adds to the template (`helper(:name) { ... }`).
    pub helpers: &'r [crate::ruby::erb::TemplateHelper],
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
