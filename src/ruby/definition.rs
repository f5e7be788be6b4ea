//! Definitions (`definitions/*.rb`): `define :name, key: default do ... end`.
//!
//! A definition is a compile-time macro, as in Chef: a recipe that calls `name 'x' do key v end`
//! evaluates the body in place, its resources going into the collection at that point, with
//! `params` holding the defaults overridden by the calls in the block and `params[:name]` set to
//! the name given. The body is kept with a frozen copy of the variables it sees, like a block
//! guard; it is run by the recipe DSL (`recipe.rs`), which knows where declarations go.

use super::frozen::CapturedBlock;
use super::interp::{CallInfo, Fault, Host, Interp, Reply};
use super::value::Value;
use super::{fault_to_error, parse_file};
use crate::error::SourceLocation;
use std::path::Path;
use std::sync::Arc;

/// One `define`: its name, default parameters and body.
#[derive(Debug)]
pub struct Definition {
    /// The name recipes call it by.
    pub name: String,
    /// `define :x, key: default`: the parameters before the caller's block sets any.
    pub defaults: serde_json::Map<String, serde_json::Value>,
    /// Where the `define` is.
    pub location: SourceLocation,
    pub(crate) body: CapturedBlock,
    pub(crate) file: Arc<Path>,
    pub(crate) source: Arc<str>,
}

/// Evaluates a definitions file: every `define` in it, in order. Anything else it calls
/// without a receiver is an error at its line.
pub fn load_definitions(path: &Path, source: &str) -> crate::Result<Vec<Definition>> {
    let program = parse_file(path, source)?;
    let mut host = DefinitionFile {
        file: Arc::from(path),
        source: Arc::from(source),
        pending: None,
        found: Vec::new(),
    };
    let mut interp = Interp::new(path, &mut host);
    let result = interp.run(&program);
    drop(interp);
    result.map_err(|f| fault_to_error(path, f))?;
    Ok(host.found)
}

/// A `define` whose block is about to be taken.
struct Pending {
    name: String,
    defaults: serde_json::Map<String, serde_json::Value>,
    location: SourceLocation,
}

struct DefinitionFile {
    file: Arc<Path>,
    source: Arc<str>,
    pending: Option<Pending>,
    found: Vec<Definition>,
}

impl DefinitionFile {
    fn define(&mut self, args: &[Value<'_>], info: CallInfo) -> Result<(), Fault> {
        let (name, defaults) = match args {
            [name] => (name, None),
            [name, defaults] => (name, Some(defaults)),
            _ => {
                return Err(Fault::argument(
                    "`define` takes a name and optional default parameters: define :name, key: 'default' do ... end",
                ))
            }
        };
        let name = match name {
            Value::Sym(s) | Value::Str(s) => s.to_string(),
            other => {
                return Err(Fault::type_error(format!(
                    "`define` names a definition with a Symbol, got {}",
                    other.class_name()
                )))
            }
        };
        let defaults = match defaults.map(Value::to_json).transpose() {
            Ok(None) => serde_json::Map::new(),
            Ok(Some(serde_json::Value::Object(map))) => map,
            Ok(Some(_)) => {
                return Err(Fault::type_error(
                    "`define` takes its default parameters as a Hash (`key: 'value'`)",
                ))
            }
            Err(why) => return Err(Fault::type_error(why)),
        };
        if !info.has_block {
            return Err(Fault::argument(format!(
                "`define :{name}` needs a block: define :{name} do ... end"
            )));
        }
        self.pending = Some(Pending {
            name,
            defaults,
            location: SourceLocation::new(&*self.file, info.span.line, info.span.column),
        });
        Ok(())
    }
}

impl<'a> Host<'a> for DefinitionFile {
    fn call(
        &mut self,
        receiver: Option<&Value<'a>>,
        name: &str,
        args: &[Value<'a>],
        info: CallInfo,
    ) -> Result<Reply<'a>, Fault> {
        if receiver.is_some() || name != "define" {
            return Ok(Reply::NotFound);
        }
        self.define(args, info)?;
        Ok(Reply::TakeBlock)
    }

    fn take_block(&mut self, block: CapturedBlock, _info: CallInfo) -> Result<Value<'a>, Fault> {
        if let Some(pending) = self.pending.take() {
            self.found.push(Definition {
                name: pending.name,
                defaults: pending.defaults,
                location: pending.location,
                body: block,
                file: self.file.clone(),
                source: self.source.clone(),
            });
        }
        Ok(Value::Nil)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defines_are_read_with_defaults_and_bodies() {
        let defs = load_definitions(
            Path::new("definitions/site.rb"),
            "port = 80\ndefine :site, port: port, root: '/srv' do\n  file params[:name]\nend\n",
        )
        .unwrap();
        assert_eq!(defs.len(), 1);
        assert_eq!(defs[0].name, "site");
        assert_eq!(
            serde_json::Value::Object(defs[0].defaults.clone()),
            serde_json::json!({"port": 80, "root": "/srv"})
        );
        assert_eq!(defs[0].location.to_string(), "definitions/site.rb:2:1");
    }

    #[test]
    fn other_calls_and_bad_defines_are_errors_at_their_line() {
        let err = load_definitions(Path::new("d.rb"), "\nfrobnicate 1\n").unwrap_err();
        assert!(err.to_string().starts_with("d.rb:2:1: "), "{err}");
        let err = load_definitions(Path::new("d.rb"), "define :x, 3 do\nend\n").unwrap_err();
        assert!(err.to_string().contains("as a Hash"), "{err}");
        let err = load_definitions(Path::new("d.rb"), "define :x\n").unwrap_err();
        assert!(err.to_string().contains("needs a block"), "{err}");
    }
}
