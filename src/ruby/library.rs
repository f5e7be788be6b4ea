//! Cookbook libraries (`libraries/*.rb`), read only for what templates use: modules of plain
//! `def` methods given to a template's `helpers(Module)`.
//!
//! A library file is evaluated with a host that records every `module ... end` and the
//! methods defined in it; `extend self`, `module_function`, `include` and visibility calls are
//! accepted and change nothing. Any other code (classes, monkey patches of Chef, calls made when
//! the library loads) is refused with its place, when a template asks for a module.

use super::ast::Block;
use super::interp::{CallInfo, Fault, Host, Interp, Reply};
use super::value::Value;
use super::{fault_to_error, parse_file};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// A module of a library: its methods, each a body run as a template helper.
#[derive(Debug, Clone)]
pub struct LibraryModule {
    /// The full name (`MyCookbook::Helpers`).
    pub name: String,
    /// The library file.
    pub file: Arc<Path>,
    pub(crate) methods: Vec<(String, Arc<Block>)>,
}

impl LibraryModule {
    /// The names of the methods it defines.
    pub fn method_names(&self) -> Vec<&str> {
        self.methods.iter().map(|(n, _)| n.as_str()).collect()
    }
}

/// The modules a library file defines; an error names the construct skillet does not read.
pub fn library_modules(path: &Path, source: &str) -> crate::Result<Vec<LibraryModule>> {
    let program = parse_file(path, source)?;
    let mut host = LibraryHost {
        open: Vec::new(),
        modules: HashMap::new(),
        order: Vec::new(),
    };
    let mut interp = Interp::new(path, &mut host);
    let result = interp.run(&program);
    drop(interp);
    result.map_err(|fault| fault_to_error(path, fault))?;
    let file: Arc<Path> = Arc::from(path);
    Ok(host
        .order
        .into_iter()
        .map(|name| LibraryModule {
            methods: host.modules.remove(&name).unwrap_or_default(),
            name,
            file: file.clone(),
        })
        .collect())
}

/// Finds module `name` in the libraries of these cookbooks (their roots, in cookbook order),
/// reading them now. A file skillet cannot read is reported only when no readable file
/// defines the module (it may be the one that does).
pub fn find_library_module<'p>(
    cookbook_roots: impl Iterator<Item = &'p Path>,
    name: &str,
) -> crate::Result<Option<LibraryModule>> {
    let mut unreadable = None;
    for root in cookbook_roots {
        let dir = root.join("libraries");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "rb"))
            .collect();
        files.sort();
        for file in files {
            let text =
                std::fs::read_to_string(&file).map_err(|e| crate::error::Error::io(&file, e))?;
            match library_modules(&file, &text) {
                Ok(modules) => {
                    if let Some(found) = modules.into_iter().find(|m| m.name == name) {
                        return Ok(Some(found));
                    }
                }
                Err(e) => {
                    unreadable.get_or_insert(e);
                }
            }
        }
    }
    match unreadable {
        Some(e) => Err(e),
        None => Ok(None),
    }
}

/// Records modules and their methods.
struct LibraryHost {
    /// The modules being defined, outermost first.
    open: Vec<String>,
    modules: HashMap<String, Vec<(String, Arc<Block>)>>,
    /// Module names in the order first seen.
    order: Vec<String>,
}

impl<'a> Host<'a> for LibraryHost {
    fn call(
        &mut self,
        receiver: Option<&Value<'a>>,
        name: &str,
        _args: &[Value<'a>],
        _info: CallInfo,
    ) -> Result<Reply<'a>, Fault> {
        if receiver.is_none()
            && !self.open.is_empty()
            && matches!(
                name,
                "extend" | "module_function" | "include" | "private" | "public" | "protected"
            )
        {
            return Ok(Reply::Value(Value::Nil));
        }
        Err(Fault::new(
            "NotImplementedError",
            format!(
                "`{name}` in a library: skillet reads libraries only for modules of `def` methods used as template helpers (`helpers(MyModule)`); other library code is not run"
            ),
        ))
    }

    fn open_module(&mut self, name: &str) -> Result<(), Fault> {
        let name = name.strip_prefix("::").unwrap_or(name);
        let full = match self.open.last() {
            Some(outer) => format!("{outer}::{name}"),
            None => name.to_string(),
        };
        if !self.modules.contains_key(&full) {
            self.modules.insert(full.clone(), Vec::new());
            self.order.push(full.clone());
        }
        self.open.push(full);
        Ok(())
    }

    fn close_module(&mut self) {
        self.open.pop();
    }

    fn define(&mut self, name: &str, body: Arc<Block>) -> Result<bool, Fault> {
        let Some(module) = self.open.last() else {
            return Err(Fault::new(
                "NotImplementedError",
                format!("`def {name}` outside a module in a library is not supported"),
            ));
        };
        let methods = self.modules.entry(module.clone()).or_default();
        methods.retain(|(n, _)| n != name);
        methods.push((name.to_string(), body));
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_nest_and_keep_their_methods() {
        let source = "module Site\n  module Helpers\n    extend self\n    def port_line(p)\n      \"listen #{p}\"\n    end\n  end\n  def top; 1; end\nend\n";
        let modules = library_modules(Path::new("/cb/libraries/h.rb"), source).unwrap();
        let names: Vec<(&str, Vec<&str>)> = modules
            .iter()
            .map(|m| (m.name.as_str(), m.method_names()))
            .collect();
        assert_eq!(
            names,
            [("Site", vec!["top"]), ("Site::Helpers", vec!["port_line"])]
        );
    }

    #[test]
    fn other_library_code_is_refused_with_its_place() {
        for (source, wanted) in [
            ("class Foo\nend\n", "1:1"),
            ("module A\nend\nChef::Recipe.send(:include, A)\n", "3:1"),
            ("module A\n  puts_helper 1\nend\n", "2:3"),
        ] {
            let e = library_modules(Path::new("/cb/libraries/h.rb"), source)
                .unwrap_err()
                .to_string();
            assert!(e.contains(&format!("h.rb:{wanted}")), "{source}: {e}");
        }
    }
}
