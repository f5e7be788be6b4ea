//! ERB templates as Chef renders them: Erubis with trim mode.
//!
//! [`ErbTemplate::compile`] converts the template into Ruby the way Erubis does (text becomes
//! buffer appends, `<%= e %>` appends `e.to_s`, `<% stmt %>` is copied as code), parses that Ruby
//! once with prism and keeps the owned tree; rendering walks the tree. Erubis' trim rules:
//! a line holding only a `<% %>` or `<%# %>` tag (plus spaces/tabs) produces no output line;
//! `-%>` after an expression tag eats the following newline; `<%%` is a literal `<%`.
//!
//! `render "other.erb"` renders a partial (`partials`); `helper(:name) { ... }` adds a method
//! (`helpers`).
//!
//! Errors point into the template itself: every piece of Ruby copied from a tag remembers where
//! it came from, so a syntax error in `<% if x %>` reports that tag's line and column.

use super::ast::Span;
use super::fault_to_error;
use super::interp::{CallInfo, Fault, Host, Interp, Reply};
use super::lower::{parse_program, LineIndex, Program, SpanMap};
use super::value::Value;
use crate::error::{Error, Result, SourceLocation};
use crate::template::{RenderScope, TemplateEngine};
use serde_json::{Map, Value as Json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A compiled ERB template, ready to render many times.
pub struct ErbTemplate {
    path: PathBuf,
    program: Program,
    /// The partials `render` names with literal strings, checked before converge.
    literal_partials: Vec<PartialRef>,
}

impl std::fmt::Debug for ErbTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErbTemplate")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl ErbTemplate {
    /// Compiles ERB source; a syntax error in the embedded Ruby is a compile error at its tag.
    pub fn compile(path: &Path, source: &str) -> Result<ErbTemplate> {
        let converted = convert(source).map_err(|(offset, message)| {
            let span = LineIndex::new(source).locate(offset);
            Error::compile_as(
                "SyntaxError",
                SourceLocation::new(path, span.line, span.column),
                message,
            )
        })?;
        let spans = TemplateSpans {
            segments: &converted.segments,
            template: LineIndex::new(source),
        };
        let program = parse_program(&converted.code, &spans, Some(&converted.texts))
            .map_err(|f| fault_to_error(path, f))?;
        let literal_partials = partials::literal_partials(&program);
        Ok(ErbTemplate {
            path: path.to_path_buf(),
            program,
            literal_partials,
        })
    }

    /// The Ruby code Erubis would run for `source` (for diagnostics and tests).
    pub fn ruby_source(source: &str) -> Option<String> {
        convert(source).ok().map(|c| c.code)
    }

    /// The template file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs the template with these instance variables; faults are left for the caller to place.
    fn run<'a>(
        &self,
        env: Env<'a>,
        ivars: HashMap<Arc<str>, Value<'a>>,
    ) -> std::result::Result<String, Fault> {
        let base = env.stack_base.unwrap_or_else(super::interp::stack_position);
        let mut host = TemplateHost {
            env: Env {
                stack_base: Some(base),
                ..env
            },
        };
        let mut interp = Interp::new(&self.path, &mut host);
        interp.nested_in(base);
        interp.ivars = ivars;
        interp
            .ivars
            .entry(Arc::from("@node"))
            .or_insert(Value::Node);
        let result = interp.run(&self.program);
        let out = std::mem::take(&mut interp.out);
        drop(interp);
        result.map(|_| out)
    }
}

/// Instance variables from a template's `variables`.
fn ivars_of(variables: &Map<String, Json>) -> HashMap<Arc<str>, Value<'_>> {
    variables
        .iter()
        .map(|(name, value)| (Arc::from(format!("@{name}")), Value::from_json(value)))
        .collect()
}

impl TemplateEngine for ErbTemplate {
    fn render(&self, variables: &Map<String, Json>, node: &Json) -> Result<String> {
        let env = Env {
            node,
            cookbook: "",
            partials: None,
            root: Path::new("/"),
            helpers: &[],
            depth: 0,
            stack_base: None,
        };
        self.run(env, ivars_of(variables))
            .map_err(|f| template_error(&self.path, f))
    }

    fn render_in(&self, scope: &RenderScope<'_>) -> Result<String> {
        let env = Env {
            node: scope.node,
            cookbook: scope.cookbook,
            partials: scope.partials,
            root: scope.root,
            helpers: scope.helpers,
            depth: 0,
            stack_base: None,
        };
        self.run(env, ivars_of(scope.variables))
            .map_err(|f| template_error(&self.path, f))
    }

    fn check_partials(&self, partials: &TemplateFinder, cookbook: &str) -> Result<()> {
        partials.check(self, cookbook)
    }
}

fn template_error(path: &Path, fault: Fault) -> Error {
    let span = fault.span.unwrap_or_default();
    Error::compile_as(
        "Chef::Mixin::Template::TemplateError",
        SourceLocation::new(path, span.line, span.column),
        format!("{} ({})", fault.message, fault.class),
    )
}

/// What a template sees besides its `@vars`: the node, where partials come from, helpers.
#[derive(Clone, Copy)]
struct Env<'a> {
    node: &'a Json,
    cookbook: &'a str,
    partials: Option<&'a TemplateFinder>,
    root: &'a Path,
    helpers: &'a [TemplateHelper],
    /// How many partials deep this template is rendered.
    depth: usize,
    /// Where the outermost template's evaluation started on the stack; partials and helpers
    /// share its budget.
    stack_base: Option<usize>,
}

/// The template's context: `node` is the merged node.
struct TemplateHost<'a> {
    env: Env<'a>,
}

/// Node methods that read an attribute of the same name (`node.name`, `node.platform`).
const NODE_READERS: [&str; 8] = [
    "name",
    "chef_environment",
    "platform",
    "platform_family",
    "platform_version",
    "fqdn",
    "hostname",
    "ipaddress",
];

impl<'a> TemplateHost<'a> {
    fn attribute(&self, key: &str) -> Value<'a> {
        self.env.node.get(key).map_or(Value::Nil, Value::from_json)
    }

    fn is_one_of(&self, key: &str, args: &[Value<'a>]) -> Value<'a> {
        let current = self
            .env
            .node
            .get(key)
            .and_then(Json::as_str)
            .unwrap_or_default();
        Value::Bool(
            args.iter()
                .any(|a| matches!(a, Value::Str(s) | Value::Sym(s) if s.as_ref() == current)),
        )
    }
}

impl<'a> Host<'a> for TemplateHost<'a> {
    fn call(
        &mut self,
        receiver: Option<&Value<'a>>,
        name: &str,
        args: &[Value<'a>],
        _info: CallInfo,
    ) -> std::result::Result<Reply<'a>, Fault> {
        let node = self.env.node;
        Ok(match (receiver, name, args) {
            (None, "node", []) => Reply::Value(Value::Node),
            (None, _, _) if self.env.helpers.iter().any(|h| h.name == name) => Reply::WithIvars,
            (None, "render", _) => Reply::WithIvars,
            (_, "platform?", _) => Reply::Value(self.is_one_of("platform", args)),
            (_, "platform_family?", _) => Reply::Value(self.is_one_of("platform_family", args)),
            (Some(Value::Node), "[]=", _) => {
                return Err(super::interp::check_mutable(
                    super::value::Mutability::NodeView,
                    "Chef::Node",
                )
                .err()
                .unwrap_or_else(|| Fault::new("RuntimeError", "node is read-only")))
            }
            (Some(Value::Node), reader, []) if NODE_READERS.contains(&reader) => {
                Reply::Value(self.attribute(reader))
            }
            (Some(Value::Node), "attribute?", [Value::Str(k) | Value::Sym(k)]) => {
                Reply::Value(Value::Bool(node.get(k.as_ref()).is_some()))
            }
            (Some(Value::Node), "to_s" | "inspect", []) => Reply::Value(Value::str(format!(
                "node[{}]",
                node.get("name").and_then(Json::as_str).unwrap_or_default()
            ))),
            (Some(Value::Node), _, _) => Reply::Delegate(Value::from_json(node)),
            _ => Reply::NotFound,
        })
    }

    fn call_with_ivars(
        &mut self,
        name: &str,
        args: &[Value<'a>],
        ivars: &HashMap<Arc<str>, Value<'a>>,
        _info: CallInfo,
    ) -> std::result::Result<Value<'a>, Fault> {
        if let Some(helper) = self.env.helpers.iter().find(|h| h.name == name) {
            return helpers::call(helper, self.env, args, ivars);
        }
        partials::render(self.env, args, ivars)
    }
}

/// Ruby code copied from the template: where it sits in the generated code and in the template.
#[derive(Debug, Clone, Copy)]
struct Segment {
    generated: usize,
    template: usize,
    len: usize,
}

struct TemplateSpans<'s> {
    segments: &'s [Segment],
    template: LineIndex<'s>,
}

impl SpanMap for TemplateSpans<'_> {
    fn span(&self, offset: u32) -> Span {
        let offset = offset as usize;
        let index = self.segments.partition_point(|s| s.generated <= offset);
        let template_offset = match index.checked_sub(1).map(|i| self.segments[i]) {
            Some(s) => s.template + (offset - s.generated).min(s.len),
            None => self.segments.first().map_or(0, |s| s.template),
        };
        self.template.locate(template_offset)
    }
}

/// The Ruby program for a template: code, text chunks and the copied-code map.
struct Converted {
    code: String,
    texts: Vec<Arc<str>>,
    segments: Vec<Segment>,
}

impl Converted {
    fn text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        let index = self.texts.len();
        self.texts.push(Arc::from(text));
        self.code.push_str(&format!("__erb_text({index});"));
        for _ in text.matches('\n') {
            self.code.push('\n');
        }
    }

    fn ruby(&mut self, code: &str, template_offset: usize) {
        self.segments.push(Segment {
            generated: self.code.len(),
            template: template_offset,
            len: code.len(),
        });
        self.code.push_str(code);
    }

    fn statement(&mut self, lspace: &str, code: &str, code_offset: usize, rspace: &str) {
        self.code.push_str(lspace);
        self.ruby(code, code_offset);
        self.code.push_str(rspace);
        if !self.code.ends_with('\n') {
            self.code.push(';');
        }
    }

    fn expression(&mut self, code: &str, code_offset: usize, escape: bool) {
        self.code.push_str(if escape {
            "__erb_escape(("
        } else {
            "__erb_expr(("
        });
        self.ruby(code, code_offset);
        self.code.push_str("\n));");
    }
}

/// One `<% … %>` tag as Erubis' pattern `<%(=+|-|#|%)?(.*?)([-=])?%>([ \t]*\r?\n)?` matches it.
struct Tag<'s> {
    start: usize,
    end: usize,
    indicator: &'s str,
    code: &'s str,
    code_offset: usize,
    tail: &'s str,
    rspace: Option<&'s str>,
}

fn next_tag(source: &str, from: usize) -> std::result::Result<Option<Tag<'_>>, (usize, String)> {
    let Some(found) = source[from..].find("<%") else {
        return Ok(None);
    };
    let start = from + found;
    let after = start + 2;
    let rest = &source[after..];
    let indicator_len = if rest.starts_with('=') {
        rest.len() - rest.trim_start_matches('=').len()
    } else if rest.starts_with(['-', '#', '%']) {
        1
    } else {
        0
    };
    let code_start = after + indicator_len;
    let Some(close) = source[code_start..].find("%>") else {
        return Err((
            start,
            "unterminated ERB tag: `<%` without a closing `%>`".to_string(),
        ));
    };
    let close = code_start + close;
    let (code_end, tail) = match source[..close].chars().last() {
        Some(c @ ('-' | '=')) if close > code_start => {
            (close - 1, if c == '-' { "-" } else { "=" })
        }
        _ => (close, ""),
    };
    let mut end = close + 2;
    let after_close = &source[end..];
    let spaces = after_close.len() - after_close.trim_start_matches([' ', '\t']).len();
    let newline = &after_close[spaces..];
    let rspace = if newline.starts_with("\r\n") {
        Some(&after_close[..spaces + 2])
    } else if newline.starts_with('\n') {
        Some(&after_close[..spaces + 1])
    } else {
        None
    };
    if let Some(r) = rspace {
        end += r.len();
    }
    Ok(Some(Tag {
        start,
        end,
        indicator: &source[after..code_start],
        code: &source[code_start..code_end],
        code_offset: code_start,
        tail,
        rspace,
    }))
}

/// Erubis' `detect_spaces_at_bol`: the spaces before a tag when they start its line; they are
/// cut from `text`.
fn spaces_at_bol<'s>(text: &mut &'s str, is_bol: bool) -> Option<&'s str> {
    let t = *text;
    if t.is_empty() {
        return is_bol.then_some("");
    }
    if t.ends_with('\n') {
        return Some("");
    }
    let line_start = match t.rfind('\n') {
        Some(i) => i + 1,
        None if is_bol => 0,
        None => return None,
    };
    let last = &t[line_start..];
    if last.chars().all(|c| c == ' ' || c == '\t') {
        *text = &t[..line_start];
        Some(last)
    } else {
        None
    }
}

fn convert(source: &str) -> std::result::Result<Converted, (usize, String)> {
    let mut out = Converted {
        code: String::with_capacity(source.len() * 2),
        texts: Vec::new(),
        segments: Vec::new(),
    };
    let mut pos = 0;
    let mut is_bol = true;
    while let Some(tag) = next_tag(source, pos)? {
        let mut text = &source[pos..tag.start];
        pos = tag.end;
        let kind = tag.indicator.chars().next();
        let lspace = if kind == Some('=') {
            None
        } else {
            spaces_at_bol(&mut text, is_bol)
        };
        is_bol = tag.rspace.is_some();
        out.text(text);
        match kind {
            Some('=') => {
                let rspace = if tag.tail.is_empty() {
                    tag.rspace
                } else {
                    None
                };
                out.expression(tag.code, tag.code_offset, tag.indicator.len() > 1);
                out.text(rspace.unwrap_or(""));
            }
            Some('#') => {
                let newlines =
                    "\n".repeat(tag.code.matches('\n').count() + usize::from(tag.rspace.is_some()));
                match (lspace, tag.rspace) {
                    (Some(_), Some(_)) => out.code.push_str(&newlines),
                    (l, r) => {
                        out.text(l.unwrap_or(""));
                        out.code.push_str(&newlines);
                        out.text(r.unwrap_or(""));
                    }
                }
            }
            Some('%') => {
                let literal = format!(
                    "{}<%{}{}%>{}",
                    lspace.unwrap_or(""),
                    tag.code,
                    tag.tail,
                    tag.rspace.unwrap_or("")
                );
                out.text(&literal);
            }
            _ => match (lspace, tag.rspace) {
                (Some(l), Some(r)) => out.statement(l, tag.code, tag.code_offset, r),
                (l, r) => {
                    out.text(l.unwrap_or(""));
                    out.statement("", tag.code, tag.code_offset, "");
                    out.text(r.unwrap_or(""));
                }
            },
        }
    }
    out.text(&source[pos..]);
    Ok(out)
}

mod helpers;
mod partials;

pub use helpers::TemplateHelper;
use partials::PartialRef;
pub use partials::TemplateFinder;

#[cfg(test)]
mod partial_tests;
#[cfg(test)]
mod tests;
