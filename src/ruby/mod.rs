//! Ruby as cookbooks write it: parsed with prism, evaluated by skillet's own interpreter.
//!
//! skillet embeds no Ruby. `lower` parses a file with the `ruby-prism` crate and turns prism's
//! tree into an owned `ast`; `interp` walks that tree with Ruby's values (`value`), scopes
//! and method dispatch. What the interpreter does not support is refused with a compile error
//! naming the file, line, column and construct; it never guesses.
//!
//! Entry points: [`eval_attribute_file`] (attributes/*.rb against a [`NodeAccess`]),
//! [`eval_recipe`] (recipes/*.rb: Chef's recipe DSL, declarations handed to the compiler as
//! they are evaluated, block guards kept for converge time),
//! [`eval_dsl_calls`] (metadata.rb, solo.rb, roles/*.rb: a list of top-level calls),
//! [`definition::load_definitions`] (definitions/*.rb),
//! [`custom_resource::load_resource_file`] (resources/*.rb and LWRP providers/*.rb),
//! [`eval_custom_action`] (an action body, into the declared resource's own collection),
//! [`erb::ErbTemplate`] (Chef's Erubis templates) and [`check`] (parse without running).
//!
//! The supported language: literals of every kind (strings with interpolation, heredocs, `%w`/`%i`,
//! symbols, integers, floats, arrays, both hash syntaxes, ranges, regular expressions), local and
//! instance variables, multiple and compound assignment (`||=`, `+=`, `h[k] ||= v`), `if`/`elsif`/
//! `unless`/modifiers/ternary, `case`/`when` (values, ranges, classes, regexps), `&&`/`||`/`!`,
//! `begin`/`rescue`/`ensure`, `x rescue y`, blocks with `next`/`break`, `&:sym`, top-level `return`,
//! and the everyday methods of String, Symbol, Integer, Float, Array, Hash, Range, Enumerable,
//! `File`, `IO`, `ENV`, `JSON` and `Regexp`, and methods defined with `def` (plain parameters, a
//! scope of their own). Loops other than iterators (`while`, `until`, `for`), class definitions,
//! lambdas, global variables and backticks are refused. A `def` inside a template's
//! `helpers do ... end` is a helper of that template, and module definitions are read only in
//! cookbook libraries, for `helpers(Module)` (`library`); anywhere else a `def` is a method of
//! the file being evaluated.

mod ast;
mod attribute_file;
mod builtins;
mod collections;
pub mod custom_resource;
pub mod definition;
mod dsl_calls;
pub mod erb;
mod frozen;
mod guard_block;
mod interp;
mod library;
mod lower;
mod modules;
mod recipe;
mod regexp;
mod scan;
mod value;

pub use attribute_file::eval_attribute_file;
pub use dsl_calls::{eval_dsl_calls, DslCall};
pub use library::{find_library_module, library_modules, LibraryModule};
pub use recipe::{eval_custom_action, eval_recipe, NewResource};

pub(crate) use interp::Fault;

use crate::error::{Error, SourceLocation};
use std::path::Path;

/// A precedence level an attribute file or recipe writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteLevel {
    /// `default[...]`.
    Default,
    /// `force_default[...]`.
    ForceDefault,
    /// `normal[...]` (and the deprecated `set[...]`).
    Normal,
    /// `override[...]`.
    Override,
    /// `force_override[...]`.
    ForceOverride,
}

/// How a write combines with what the level already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOp {
    /// `default['a'] = v`: set (maps below autovivify).
    Set,
    /// `default_unless['a'] = v`: set only when this level has no value there.
    SetUnless,
    /// `node.default!['a'] = v`: replace the subtree in this level.
    Replace,
    /// `node.force_default!['a'] = v`: clear the path in the whole group, then write.
    ForceReplace,
}

/// One write to node attributes: level, operation, full key path and value.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeWrite {
    /// The precedence level written to.
    pub level: WriteLevel,
    /// How the write combines with the level's current value.
    pub op: WriteOp,
    /// The full key path (`default['a']['b']` → `["a", "b"]`); symbols become strings.
    pub path: Vec<String>,
    /// The value, as JSON (symbols become strings, ranges arrays).
    pub value: serde_json::Value,
}

/// How Ruby code reaches the node; implemented over node attributes elsewhere.
pub trait NodeAccess {
    /// The merged view at path (`node['a']['b']`); None when absent.
    fn read(&self, path: &[String]) -> Option<serde_json::Value>;
    /// One level's own value at path (`default['a']` read in an attribute file).
    fn read_level(&self, level: WriteLevel, path: &[String]) -> Option<serde_json::Value>;
    /// Applies a write; Err(message) becomes a compile error at the write's location.
    fn write(&mut self, write: AttributeWrite) -> Result<(), String>;
    /// `include_attribute "cb::file"`; Err(message) likewise.
    fn include_attribute(&mut self, name: &str) -> Result<(), String>;
}

/// Parses and lowers a Ruby file without running it: syntax errors and constructs the
/// interpreter does not support are reported with their file:line:col.
pub fn check(path: &Path, source: &str) -> crate::Result<()> {
    parse_file(path, source).map(|_| ())
}

/// Turns an evaluator fault into the crate's compile error at `file`.
pub(crate) fn fault_to_error(file: &Path, fault: Fault) -> Error {
    let span = fault.span.unwrap_or_default();
    Error::compile_as(
        fault.class,
        SourceLocation::new(file, span.line, span.column),
        fault.message,
    )
}

/// Parses a whole Ruby file into a program, reporting errors at `file`.
pub(crate) fn parse_file(file: &Path, source: &str) -> crate::Result<lower::Program> {
    let index = lower::LineIndex::new(source);
    lower::parse_program(source, &index, None).map_err(|f| fault_to_error(file, f))
}

#[cfg(test)]
mod recipe_tests;
#[cfg(test)]
mod tests;
