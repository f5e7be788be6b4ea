//! Config-style Ruby files (metadata.rb, solo.rb, roles/*.rb): the list of top-level calls.
//!
//! Each call without a receiver that is not a Ruby built-in (`depends 'apt', '>= 2.0'`,
//! `cookbook_path [...]`) is recorded with its evaluated arguments as JSON; the caller decides
//! what the names mean. Local variables, interpolation, conditionals and the `File`/`IO`/`ENV`
//! helpers work as in Ruby.

use super::interp::{CallInfo, Fault, Host, Interp, Reply};
use super::value::Value;
use super::{fault_to_error, parse_file};
use crate::error::SourceLocation;
use std::path::{Path, PathBuf};

/// A top-level method call of a config-style file (metadata.rb, solo.rb): `depends 'apt', '>= 2.0'`,
/// `cookbook_path ['/a', '/b']`, `supports 'debian'`; keyword/hash arguments become one object Value.
#[derive(Debug, Clone, PartialEq)]
pub struct DslCall {
    /// The method name (`depends`).
    pub method: String,
    /// The evaluated arguments; a trailing `key: value` list is one object.
    pub args: Vec<serde_json::Value>,
    /// Where the call is.
    pub location: SourceLocation,
}

/// Evaluates a file made of such calls (with local variables, string interpolation, `File.join`,
/// `File.dirname(__FILE__)`, `File.expand_path`, `__dir__`, `IO.read`/`File.read` of a file relative to it, `ENV['X']`, if/unless).
pub fn eval_dsl_calls(path: &Path, source: &str) -> crate::Result<Vec<DslCall>> {
    let program = parse_file(path, source)?;
    let mut host = DslHost {
        file: path.to_path_buf(),
        calls: Vec::new(),
    };
    let mut interp = Interp::new(path, &mut host);
    let result = interp.run(&program);
    drop(interp);
    result.map_err(|f| fault_to_error(path, f))?;
    Ok(host.calls)
}

struct DslHost {
    file: PathBuf,
    calls: Vec<DslCall>,
}

impl<'a> Host<'a> for DslHost {
    fn call(
        &mut self,
        receiver: Option<&Value<'a>>,
        name: &str,
        args: &[Value<'a>],
        info: CallInfo,
    ) -> Result<Reply<'a>, Fault> {
        if receiver.is_some() || info.variable_call {
            return Ok(Reply::NotFound);
        }
        if info.has_block {
            return Err(Fault::new(
                "NotImplementedError",
                format!("unsupported Ruby: a block passed to `{name}`"),
            ));
        }
        let args = args
            .iter()
            .map(Value::to_json)
            .collect::<Result<Vec<_>, _>>()
            .map_err(Fault::type_error)?;
        self.calls.push(DslCall {
            method: name.to_string(),
            args,
            location: SourceLocation::new(&self.file, info.span.line, info.span.column),
        });
        Ok(Reply::Value(Value::Nil))
    }
}
