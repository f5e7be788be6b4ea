//! Partials: `<%= render "other.erb", variables: {...}, cookbook: "x", local: true, source: ... %>`.
//!
//! As in Chef's template context, a partial is found like a template's `source` (by file
//! specificity, in the resource's cookbook unless `cookbook:` names another; `local: true` takes
//! `source`, or the name, as a path on the host), and is rendered with the caller's instance
//! variables unless `variables:` is given. Partials named by literal strings are found and
//! compiled before converge ([`TemplateFinder::check`]); others when they are rendered. Rendering
//! stops at [`MAX_DEPTH`] nested partials, so a partial that renders itself fails instead of
//! running forever.

use super::{Env, ErbTemplate};
use crate::error::{Error, Result, SourceLocation};
use crate::repo::specificity::{self, HostFacts};
use crate::ruby::ast::{Arg, Expr, HashItem, Node, Span};
use crate::ruby::interp::Fault;
use crate::ruby::lower::Program;
use crate::ruby::value::{HashKey, Value};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// How many partials may be rendered inside one another.
pub const MAX_DEPTH: usize = 32;

/// A partial named with literal strings: `render "x.erb"` (with a literal `cookbook:`/`source:`).
#[derive(Debug, Clone)]
pub(crate) struct PartialRef {
    source: String,
    cookbook: Option<String>,
    span: Span,
}

/// The partials `program` renders by literal name, cookbook and source (not the `local` ones,
/// which are files on the host read when rendered).
pub(super) fn literal_partials(program: &Program) -> Vec<PartialRef> {
    let mut found = Vec::new();
    let _ = crate::ruby::scan::each_call(&program.body, &mut |call, span| {
        if call.receiver.is_some() || call.name.as_ref() != "render" {
            return Ok(());
        }
        let (name, options) = match call.args.as_slice() {
            [Arg::Plain(name)] => (name, None),
            [Arg::Plain(name), Arg::Plain(options)] => (name, Some(options)),
            _ => return Ok(()),
        };
        let Expr::Str(name) = &name.expr else {
            return Ok(());
        };
        let mut source = name.to_string();
        let mut cookbook = None;
        if let Some(options) = options {
            let Expr::Hash(items) = &options.expr else {
                return Ok(());
            };
            for item in items {
                let HashItem::Pair(key, value) = item else {
                    return Ok(());
                };
                let key = match &key.expr {
                    Expr::Sym(k) | Expr::Str(k) => k.as_ref(),
                    _ => return Ok(()),
                };
                match (key, literal(value)) {
                    ("local", Some(LiteralOption::False)) | ("variables", _) => {}
                    ("source", Some(LiteralOption::Text(s))) => source = s,
                    ("cookbook", Some(LiteralOption::Text(c))) => cookbook = Some(c),
                    _ => return Ok(()),
                }
            }
        }
        found.push(PartialRef {
            source,
            cookbook,
            span,
        });
        Ok(())
    });
    found
}

enum LiteralOption {
    Text(String),
    False,
}

fn literal(node: &Node) -> Option<LiteralOption> {
    match &node.expr {
        Expr::Str(s) | Expr::Sym(s) => Some(LiteralOption::Text(s.to_string())),
        Expr::False | Expr::Nil => Some(LiteralOption::False),
        _ => None,
    }
}

/// The cookbooks' templates and files, found by specificity for this host; templates are
/// compiled once. Owned, so it can be kept for converge time (partials found when rendered,
/// resources with `lazy` properties built again).
pub struct TemplateFinder {
    /// Each cookbook's root directory.
    roots: HashMap<String, PathBuf>,
    host: HostFacts,
    compiled: Mutex<HashMap<PathBuf, Arc<ErbTemplate>>>,
}

impl std::fmt::Debug for TemplateFinder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemplateFinder")
            .field("cookbooks", &self.roots.keys())
            .finish_non_exhaustive()
    }
}

impl TemplateFinder {
    /// A finder over these cookbooks (`name` → its root directory) for a host with these facts.
    pub fn new(cookbooks: impl IntoIterator<Item = (String, PathBuf)>, host: HostFacts) -> Self {
        Self {
            roots: cookbooks.into_iter().collect(),
            host,
            compiled: Mutex::new(HashMap::new()),
        }
    }

    /// The file for `source` in `cookbook`'s `segment` (`templates` or `files`); Err says
    /// what was searched.
    pub fn find_in(
        &self,
        cookbook: &str,
        segment: &str,
        source: &str,
    ) -> std::result::Result<PathBuf, String> {
        let Some(root) = self.roots.get(cookbook) else {
            return Err(format!(
                "cookbook `{cookbook}` not found for source `{source}`"
            ));
        };
        specificity::find(&root.join(segment), source, &self.host).map_err(|searched| {
            let list: Vec<String> = searched
                .iter()
                .map(|p| format!("  {}", p.display()))
                .collect();
            let what = if segment == "files" {
                "file"
            } else {
                "template"
            };
            format!(
                "cookbook `{cookbook}` has no {what} `{source}`; searched:\n{}",
                list.join("\n")
            )
        })
    }

    fn find(&self, cookbook: &str, source: &str) -> std::result::Result<PathBuf, String> {
        self.find_in(cookbook, "templates", source)
    }

    /// The compiled ERB template at `path` (compiled at most once).
    pub fn load(&self, path: &Path) -> Result<Arc<ErbTemplate>> {
        let cached = self
            .compiled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(path)
            .cloned();
        if let Some(found) = cached {
            return Ok(found);
        }
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let template = Arc::new(ErbTemplate::compile(path, &text)?);
        self.compiled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path.to_path_buf(), template.clone());
        Ok(template)
    }

    /// Finds and compiles every partial `template` (and the partials those render) names with
    /// literal strings; a missing one is an error at the `render` call.
    pub fn check(&self, template: &ErbTemplate, cookbook: &str) -> Result<()> {
        let mut seen: HashSet<PathBuf> = HashSet::new();
        seen.insert(template.path.clone());
        let mut pending: Vec<Arc<ErbTemplate>> = Vec::new();
        let mut visit = |t: &ErbTemplate, pending: &mut Vec<Arc<ErbTemplate>>| -> Result<()> {
            for partial in &t.literal_partials {
                let location = SourceLocation::new(&t.path, partial.span.line, partial.span.column);
                let in_cookbook = partial.cookbook.as_deref().unwrap_or(cookbook);
                let path = self.find(in_cookbook, &partial.source).map_err(|message| {
                    Error::compile_as("Chef::Exceptions::FileNotFound", location.clone(), message)
                })?;
                if seen.insert(path.clone()) {
                    pending.push(self.load(&path)?);
                }
            }
            Ok(())
        };
        visit(template, &mut pending)?;
        while let Some(next) = pending.pop() {
            visit(&next, &mut pending)?;
        }
        Ok(())
    }
}

/// `render name, options`: the partial's output.
pub(super) fn render<'a>(
    env: Env<'a>,
    args: &[Value<'a>],
    ivars: &HashMap<Arc<str>, Value<'a>>,
) -> std::result::Result<Value<'a>, Fault> {
    let (name, options) = match args {
        [name] => (name, None),
        [name, options] => (name, Some(options.clone().materialize())),
        _ => {
            return Err(Fault::argument(format!(
                "wrong number of arguments (given {}, expected 1..2) for `render`",
                args.len()
            )))
        }
    };
    let Value::Str(name) = name else {
        return Err(Fault::type_error(format!(
            "`render` takes a template name (a String), got {}",
            name.class_name()
        )));
    };
    let option = |key: &str| match &options {
        Some(Value::Hash(h)) => {
            let map = h.map.borrow();
            map.get(&HashKey::Sym(Arc::from(key)))
                .or_else(|| map.get(&HashKey::Str(Arc::from(key))))
                .cloned()
        }
        _ => None,
    };
    if options
        .as_ref()
        .is_some_and(|o| !matches!(o, Value::Hash(_)))
    {
        return Err(Fault::type_error(
            "`render` options must be a Hash (`variables: {...}, cookbook: \"x\"`)",
        ));
    }
    if env.depth >= MAX_DEPTH {
        return Err(Fault::new(
            "RuntimeError",
            format!(
                "partials nested more than {MAX_DEPTH} deep at `render \"{name}\"`: a partial renders itself, directly or not"
            ),
        ));
    }
    let Some(partials) = env.partials else {
        return Err(Fault::new(
            "RuntimeError",
            "You cannot render partials in this context",
        ));
    };
    let text_option = |key: &str| -> std::result::Result<Option<String>, Fault> {
        match option(key) {
            None | Some(Value::Nil) => Ok(None),
            Some(Value::Str(s) | Value::Sym(s)) => Ok(Some(s.to_string())),
            Some(other) => Err(Fault::type_error(format!(
                "`render` option `{key}` must be a String, got {}",
                other.class_name()
            ))),
        }
    };
    let source = text_option("source")?.unwrap_or_else(|| name.to_string());
    let local = option("local").is_some_and(|v| v.truthy());
    let template = if local {
        let path = PathBuf::from(&source);
        if !path.is_absolute() {
            return Err(Fault::argument(format!(
                "a `local` partial needs an absolute path, got \"{source}\""
            )));
        }
        let on_host = env.root.join(path.strip_prefix("/").unwrap_or(&path));
        let text = std::fs::read_to_string(&on_host).map_err(|e| {
            Fault::new(
                "Chef::Exceptions::FileNotFound",
                format!("partial {} cannot be read: {e}", on_host.display()),
            )
        })?;
        Arc::new(ErbTemplate::compile(&path, &text).map_err(error_fault)?)
    } else {
        let cookbook = text_option("cookbook")?.unwrap_or_else(|| env.cookbook.to_string());
        let path = partials
            .find(&cookbook, &source)
            .map_err(|m| Fault::new("Chef::Exceptions::FileNotFound", m))?;
        partials.load(&path).map_err(error_fault)?
    };
    let ivars = match option("variables").map(Value::materialize) {
        None | Some(Value::Nil) => ivars.clone(),
        Some(Value::Hash(h)) => h
            .map
            .borrow()
            .iter()
            .map(|(k, v)| (Arc::from(format!("@{}", k.to_value().to_s())), v.clone()))
            .collect(),
        Some(other) => {
            return Err(Fault::type_error(format!(
                "`render` option `variables` must be a Hash, got {}",
                other.class_name()
            )))
        }
    };
    let inner = Env {
        depth: env.depth + 1,
        ..env
    };
    let out = template.run(inner, ivars).map_err(|fault| {
        let span = fault.span.unwrap_or_default();
        Fault::new(
            fault.class,
            format!(
                "in partial {}:{}:{}: {}",
                template.path.display(),
                span.line,
                span.column,
                fault.message
            ),
        )
    })?;
    Ok(Value::str(out))
}

/// A compile error of a partial found while rendering, as a Ruby error.
fn error_fault(error: Error) -> Fault {
    Fault::new("Chef::Mixin::Template::TemplateError", error.to_string())
}
