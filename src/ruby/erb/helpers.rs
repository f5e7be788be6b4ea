//! Template helpers given by the resource: `helper(:name) { |args| ... }` in a `template` block.
//!
//! The block is captured when the recipe compiles, with a frozen copy of the variables it sees
//! (as block guards are), and becomes a method of the template: called with the template's
//! arguments, it sees the template's `@vars` and `node`, as Chef's `define_method` does.

use super::{Env, TemplateHost};
use crate::ruby::frozen::CapturedBlock;
use crate::ruby::interp::{Fault, Interp};
use crate::ruby::value::Value;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// A method a `template` resource adds to its template.
#[derive(Debug, Clone)]
pub struct TemplateHelper {
    pub(super) name: String,
    /// The recipe that defines it.
    file: Arc<Path>,
    block: CapturedBlock,
}

impl TemplateHelper {
    /// The helper `name`, defined by `block` in `file`.
    pub(crate) fn new(name: String, file: Arc<Path>, block: CapturedBlock) -> Self {
        Self { name, file, block }
    }

    /// The method's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Calls `helper` from a template rendered in `env`.
pub(super) fn call<'a>(
    helper: &'a TemplateHelper,
    env: Env<'a>,
    args: &[Value<'a>],
    ivars: &HashMap<Arc<str>, Value<'a>>,
) -> Result<Value<'a>, Fault> {
    let base = env
        .stack_base
        .unwrap_or_else(crate::ruby::interp::stack_position);
    let mut host = TemplateHost { env };
    let mut interp = Interp::new(&helper.file, &mut host);
    interp.nested_in(base);
    interp
        .run_captured_with(&helper.block, args.to_vec(), Some(ivars.clone()))
        .map_err(|fault| {
            let span = fault.span.unwrap_or_default();
            Fault::new(
                fault.class,
                format!(
                    "in helper `{}` ({}:{}:{}): {}",
                    helper.name,
                    helper.file.display(),
                    span.line,
                    span.column,
                    fault.message
                ),
            )
        })
}
