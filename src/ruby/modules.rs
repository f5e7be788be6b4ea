//! Built-in constants config files use: `File`, `IO`, `ENV`, `JSON`, `Chef::Log`, and class names
//! for `is_a?` and `case … when String`.
//!
//! Relative paths given to `File.read`/`IO.read`/`File.exist?` are taken relative to the file
//! being evaluated, so `IO.read('README.md')` in metadata.rb works from any working directory.

use super::ast::BlockArg;
use super::interp::{arity, Fault, Flow, Interp};
use super::value::Value;
use std::path::{Component, Path, PathBuf};

const CLASSES: [&str; 17] = [
    "String",
    "Symbol",
    "Integer",
    "Float",
    "Numeric",
    "Array",
    "Hash",
    "Range",
    "NilClass",
    "TrueClass",
    "FalseClass",
    "Object",
    "BasicObject",
    "Comparable",
    "Enumerable",
    "Module",
    "Class",
];

const MODULES: [&str; 11] = [
    "File",
    "IO",
    "ENV",
    "JSON",
    "Dir",
    "Chef::Log",
    "Math",
    "STDOUT",
    "STDERR",
    "Regexp",
    "Kernel",
];

/// The value of a constant; NameError for unknown ones.
pub(crate) fn constant<'a>(name: &str) -> Result<Value<'a>, Fault> {
    let name = name.strip_prefix("::").unwrap_or(name);
    if let Some(found) = CLASSES.iter().chain(MODULES.iter()).find(|c| **c == name) {
        return Ok(Value::Module(found));
    }
    match name {
        "Fixnum" | "Bignum" => Ok(Value::Module("Integer")),
        "StandardError" | "RuntimeError" | "ArgumentError" => Ok(Value::Module("StandardError")),
        "Math::PI" => Ok(Value::Float(std::f64::consts::PI)),
        "Chef::Config" => Err(Fault::new(
            "NotImplementedError",
            "`Chef::Config` (the client's configuration) is not available to cookbook code yet",
        )),
        _ => Err(Fault::new(
            "NameError",
            format!("uninitialized constant {name}"),
        )),
    }
}

/// `value.is_a?(class)`.
pub(crate) fn is_a(value: &Value<'_>, class: &str) -> bool {
    let own = value.ruby_class();
    match class {
        "Object" | "BasicObject" => true,
        "Numeric" | "Comparable" if matches!(value, Value::Int(_) | Value::Float(_)) => true,
        "Comparable" => matches!(value, Value::Str(_)),
        "Enumerable" => matches!(own, "Array" | "Hash" | "Range"),
        "Hash" => {
            matches!(value, Value::Hash(_) | Value::Attr(_))
                || matches!(value, Value::Json(serde_json::Value::Object(_)))
        }
        other => own == other,
    }
}

/// `File.expand_path`: lexical normalisation against `base` (default: the working directory).
pub(crate) fn expand_path(path: &str, base: Option<&str>) -> PathBuf {
    let home = std::env::var("HOME").unwrap_or_default();
    let expand_home = |p: &str| -> String {
        match p.strip_prefix('~') {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => format!("{home}{rest}"),
            _ => p.to_string(),
        }
    };
    let path = expand_home(path);
    let joined = if Path::new(&path).is_absolute() {
        PathBuf::from(&path)
    } else {
        let base = match base {
            Some(b) => expand_path(b, None),
            None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
        };
        base.join(&path)
    };
    let mut out = PathBuf::from("/");
    for component in joined.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(part) => out.push(part),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

fn str_args<'v>(args: &'v [Value<'_>], method: &str) -> Result<Vec<&'v str>, Fault> {
    args.iter()
        .map(|a| match a {
            Value::Str(s) => Ok(s.as_ref()),
            other => Err(Fault::type_error(format!(
                "no implicit conversion of {} into String (in `{method}`)",
                other.class_name()
            ))),
        })
        .collect()
}

fn join_paths(parts: &[&str]) -> String {
    let mut out = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            out.push_str(part);
            continue;
        }
        match (out.ends_with('/'), part.starts_with('/')) {
            (true, true) => out.push_str(&part[1..]),
            (false, false) => {
                out.push('/');
                out.push_str(part);
            }
            _ => out.push_str(part),
        }
    }
    out
}

fn dirname(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return if path.starts_with('/') { "/" } else { "." }.to_string();
    }
    match trimmed.rfind('/') {
        Some(0) => "/".to_string(),
        Some(i) => trimmed[..i].trim_end_matches('/').to_string(),
        None => ".".to_string(),
    }
}

fn basename(path: &str, suffix: Option<&str>) -> String {
    let trimmed = path.trim_end_matches('/');
    let base = trimmed.rsplit('/').next().unwrap_or(trimmed);
    match suffix {
        Some(".*") => match base.rfind('.') {
            Some(i) if i > 0 => base[..i].to_string(),
            _ => base.to_string(),
        },
        Some(s) if base != s => base.strip_suffix(s).unwrap_or(base).to_string(),
        _ => base.to_string(),
    }
}

fn extname(path: &str) -> String {
    let base = basename(path, None);
    match base.rfind('.') {
        Some(i) if i > 0 && i + 1 < base.len() => base[i..].to_string(),
        _ => String::new(),
    }
}

impl<'a> Interp<'a, '_> {
    fn relative_to_file(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        if p.is_absolute() {
            return p.to_path_buf();
        }
        match self.file.parent() {
            Some(dir) => dir.join(p),
            None => p.to_path_buf(),
        }
    }

    fn read_file(&self, path: &str) -> Result<Value<'a>, Fault> {
        let full = self.relative_to_file(path);
        std::fs::read_to_string(&full).map(Value::str).map_err(|e| {
            Fault::new(
                "Errno::ENOENT",
                format!("cannot read {}: {e}", full.display()),
            )
        })
    }

    /// Methods of the built-in modules.
    pub(crate) fn module_method(
        &mut self,
        module: &str,
        name: &str,
        args: &[Value<'a>],
        block: Option<&BlockArg>,
    ) -> Result<Option<Value<'a>>, Flow<'a>> {
        if let Some(value) = self.constructor(module, name, args, block)? {
            return Ok(Some(value));
        }
        Ok(self.module_function(module, name, args)?)
    }

    /// `Hash.new`, `Array.new`, `String.new`.
    fn constructor(
        &mut self,
        module: &str,
        name: &str,
        args: &[Value<'a>],
        block: Option<&BlockArg>,
    ) -> Result<Option<Value<'a>>, Flow<'a>> {
        Ok(Some(match (module, name) {
            ("Hash", "new") => {
                arity(args, 0, 1)?;
                Value::Hash(std::rc::Rc::new(super::value::RHash {
                    map: std::cell::RefCell::new(indexmap::IndexMap::new()),
                    mutability: super::value::Mutability::Mutable,
                    indifferent: false,
                    default: args.first().cloned(),
                }))
            }
            ("Array", "new") => {
                arity(args, 0, 2)?;
                let size = match args.first() {
                    Some(Value::Int(n)) if (0..=1_000_000).contains(n) => {
                        usize::try_from(*n).unwrap_or(0)
                    }
                    None => 0,
                    Some(_) => {
                        return Err(
                            Fault::argument("Array.new needs a size from 0 to 1000000").into()
                        )
                    }
                };
                let mut items = Vec::with_capacity(size);
                for i in 0..size {
                    items.push(match block {
                        Some(b) => {
                            self.yield_block(b, vec![Value::Int(i64::try_from(i).unwrap_or(0))])?
                        }
                        None => args.get(1).cloned().unwrap_or(Value::Nil),
                    });
                }
                Value::array(items)
            }
            ("String", "new") => {
                arity(args, 0, 1)?;
                match args.first() {
                    Some(Value::Str(s)) => Value::Str(s.clone()),
                    _ => Value::str(""),
                }
            }
            _ => return Ok(None),
        }))
    }

    /// Functions of the built-in modules (`File.join`, `ENV[]`, `JSON.generate`).
    fn module_function(
        &mut self,
        module: &str,
        name: &str,
        args: &[Value<'a>],
    ) -> Result<Option<Value<'a>>, Fault> {
        Ok(Some(match (module, name) {
            ("File", "join") => {
                let flat: Vec<Value<'a>> = args
                    .iter()
                    .cloned()
                    .flat_map(super::collections::to_array)
                    .collect();
                Value::str(join_paths(&str_args(&flat, name)?))
            }
            ("File", "dirname") => {
                arity(args, 1, 2)?;
                Value::str(dirname(str_args(&args[..1], name)?[0]))
            }
            ("File", "basename") => {
                arity(args, 1, 2)?;
                let parts = str_args(args, name)?;
                Value::str(basename(parts[0], parts.get(1).copied()))
            }
            ("File", "extname") => {
                arity(args, 1, 1)?;
                Value::str(extname(str_args(args, name)?[0]))
            }
            ("File", "expand_path" | "absolute_path") => {
                arity(args, 1, 2)?;
                let parts = str_args(args, name)?;
                Value::str(expand_path(parts[0], parts.get(1).copied()).to_string_lossy())
            }
            ("File" | "IO", "read") => {
                arity(args, 1, 1)?;
                self.read_file(str_args(args, name)?[0])?
            }
            ("File" | "IO", "readlines") => {
                arity(args, 1, 1)?;
                let text = self.read_file(str_args(args, name)?[0])?.to_s();
                Value::array(text.split_inclusive('\n').map(Value::str).collect())
            }
            ("File", "exist?" | "exists?" | "file?" | "directory?" | "readable?") => {
                arity(args, 1, 1)?;
                let path = self.relative_to_file(str_args(args, name)?[0]);
                Value::Bool(match name {
                    "file?" => path.is_file(),
                    "directory?" => path.is_dir(),
                    _ => path.exists(),
                })
            }
            ("Dir", "exist?") => {
                arity(args, 1, 1)?;
                Value::Bool(self.relative_to_file(str_args(args, name)?[0]).is_dir())
            }
            ("Dir", "pwd") => Value::str(
                std::env::current_dir()
                    .map(|d| d.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
            ("ENV", "[]") => {
                arity(args, 1, 1)?;
                std::env::var(str_args(args, name)?[0]).map_or(Value::Nil, Value::str)
            }
            ("ENV", "fetch") => {
                arity(args, 1, 2)?;
                let key = str_args(&args[..1], name)?[0];
                match std::env::var(key) {
                    Ok(v) => Value::str(v),
                    Err(_) => match args.get(1) {
                        Some(default) => default.clone(),
                        None => {
                            return Err(Fault::new("KeyError", format!("key not found: \"{key}\"")))
                        }
                    },
                }
            }
            ("ENV", "key?" | "has_key?" | "include?") => {
                arity(args, 1, 1)?;
                Value::Bool(std::env::var_os(str_args(args, name)?[0]).is_some())
            }
            ("JSON", "generate" | "dump") => {
                arity(args, 1, 2)?;
                let json = args[0].to_json().map_err(Fault::type_error)?;
                Value::str(serde_json::to_string(&json).unwrap_or_default())
            }
            ("JSON", "pretty_generate") => {
                arity(args, 1, 2)?;
                let json = args[0].to_json().map_err(Fault::type_error)?;
                Value::str(serde_json::to_string_pretty(&json).unwrap_or_default())
            }
            ("JSON", "parse") => {
                arity(args, 1, 2)?;
                let text = str_args(&args[..1], name)?[0];
                let json: serde_json::Value = serde_json::from_str(text)
                    .map_err(|e| Fault::new("JSON::ParserError", e.to_string()))?;
                Value::from_owned_json(&json, super::value::Mutability::Mutable)
            }
            ("Regexp", "escape" | "quote") => {
                arity(args, 1, 1)?;
                Value::str(super::regexp::escape(str_args(args, name)?[0]))
            }
            ("Regexp", "new" | "compile") => {
                arity(args, 1, 2)?;
                let source = match &args[0] {
                    Value::Regex(r) => r.source.to_string(),
                    other => str_args(std::slice::from_ref(other), name)?[0].to_string(),
                };
                let flags = super::regexp::RegexFlags {
                    ignore_case: match args.get(1) {
                        Some(Value::Int(bits)) => bits & 1 != 0,
                        Some(other) => other.truthy(),
                        None => false,
                    },
                    extended: matches!(args.get(1), Some(Value::Int(bits)) if bits & 2 != 0),
                    multiline: matches!(args.get(1), Some(Value::Int(bits)) if bits & 4 != 0),
                };
                let regex = super::regexp::RubyRegex::compile(&source, flags)
                    .map_err(|m| Fault::new("RegexpError", m))?;
                Value::Regex(std::sync::Arc::new(regex))
            }
            ("Regexp", "union") => {
                let items: Vec<Value<'a>> = args
                    .iter()
                    .cloned()
                    .flat_map(super::collections::to_array)
                    .collect();
                let parts: Vec<String> = items
                    .iter()
                    .map(|v| match v {
                        Value::Regex(r) => r.source.to_string(),
                        other => super::regexp::escape(&other.to_s()),
                    })
                    .collect();
                let regex = super::regexp::RubyRegex::compile(&parts.join("|"), Default::default())
                    .map_err(|m| Fault::new("RegexpError", m))?;
                Value::Regex(std::sync::Arc::new(regex))
            }
            ("Chef::Log", "debug" | "info" | "trace") => Value::Nil,
            ("Chef::Log", "warn" | "error" | "fatal") => {
                eprintln!(
                    "{}: {}",
                    name.to_uppercase(),
                    args.first().map(Value::to_s).unwrap_or_default()
                );
                Value::Nil
            }
            ("Math", "sqrt") => match args.first() {
                Some(Value::Int(i)) => Value::Float((*i as f64).sqrt()),
                Some(Value::Float(f)) => Value::Float(f.sqrt()),
                _ => return Err(Fault::type_error("Math.sqrt needs a number")),
            },
            (
                "Integer" | "Float" | "String" | "Array" | "Hash" | "Symbol" | "NilClass",
                "name" | "to_s",
            ) => Value::str(module),
            (_, "==") => {
                Value::Bool(matches!(args.first(), Some(Value::Module(m)) if *m == module))
            }
            (_, "===") => Value::Bool(args.first().is_some_and(|v| is_a(v, module))),
            _ => return Ok(None),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_path_helpers_match_ruby() {
        assert_eq!(join_paths(&["/a/", "/b", "c"]), "/a/b/c");
        assert_eq!(join_paths(&["a", "b"]), "a/b");
        assert_eq!(dirname("/a/b/c.rb"), "/a/b");
        assert_eq!(dirname("c.rb"), ".");
        assert_eq!(dirname("/c.rb"), "/");
        assert_eq!(basename("/a/b.rb", Some(".rb")), "b");
        assert_eq!(basename("/a/b.tar.gz", Some(".*")), "b.tar");
        assert_eq!(extname("x/y.erb"), ".erb");
        assert_eq!(
            expand_path("../cookbooks", Some("/repo/sub")),
            PathBuf::from("/repo/cookbooks")
        );
        assert_eq!(expand_path("/a/./b/../c", None), PathBuf::from("/a/c"));
    }
}
