//! Guards written as Ruby blocks (`not_if { ::File.exist?(path) }`).
//!
//! The block is compiled with the recipe and taken out with a frozen copy of the variables it
//! sees; what it calls without a receiver is checked then, so a block that could not run at
//! converge time is refused before the host is touched. At converge time it is evaluated
//! against the run's merged node attributes (read-only) each time the guard is tested.

use super::ast::Call;
use super::attribute_file::AttributeHost;
use super::fault_to_error;
use super::frozen::CapturedBlock;
use super::interp::{CallInfo, Fault, Host, Interp, Reply, NEW_RESOURCE};
use super::recipe::{
    data_bag_args, data_bag_item_args, ids_value, new_resource_method, refusal, rows_value,
    NewResource, SearchCall,
};
use super::value::{AttrRef, Mutability, Value};
use super::{AttributeWrite, NodeAccess, WriteLevel};
use crate::compile::RepoData;
use crate::error::{Error, SourceLocation};
use crate::resource::guard::GuardBlock;
use crate::resource::lazy::LazyCompute;
use crate::resource::Context;
use serde_json::Value as Json;
use std::path::Path;
use std::sync::Arc;

/// What a guard block may call without a receiver: the node, the platform helpers and the
/// Kernel methods the evaluator has (locals and methods on values are always fine).
const GUARD_HELPERS: &[&str] = &[
    "node",
    "platform?",
    "platform_family?",
    "value_for_platform",
    "value_for_platform_family",
    "attribute?",
    "raise",
    "fail",
    "require",
    "require_relative",
    "puts",
    "print",
    "p",
    "pp",
    "format",
    "sprintf",
    "Integer",
    "Float",
    "String",
    "Array",
    "__dir__",
    "__method__",
];

/// What a guard block or `lazy` value declared in a custom resource's action or a
/// definition's body also sees: `new_resource` and `params`, as they were when it was declared.
#[derive(Debug, Clone, Default)]
pub(crate) struct GuardScope {
    pub new_resource: Option<Arc<NewResource>>,
    pub params: Option<Arc<Json>>,
    /// Data bags and search, as the recipe saw them.
    pub data: Option<Arc<dyn RepoData>>,
}

impl GuardScope {
    fn provides(&self, name: &str) -> bool {
        match name {
            "new_resource" => self.new_resource.is_some(),
            "params" => self.params.is_some(),
            "search" | "data_bag" | "data_bag_item" => self.data.is_some(),
            // A property of the resource whose action declared the guard, read bare.
            _ => self
                .new_resource
                .as_ref()
                .is_some_and(|r| r.properties.contains_key(name)),
        }
    }
}

/// Refuses, when the recipe compiles, a call a guard block could not make at converge time.
pub(crate) fn check_guard_call(call: &Call, scope: &GuardScope) -> Result<(), Fault> {
    if call.receiver.is_some()
        || GUARD_HELPERS.contains(&call.name.as_ref())
        || scope.provides(&call.name)
    {
        return Ok(());
    }
    let name = call.name.as_ref();
    let message = match refusal(name) {
        Some(why) => format!("`{name}` {why}"),
        None => format!(
            "`{name}` is not available in a block run at converge time (a guard or a `lazy` value): it may read `node`, call the platform helpers, `search` and read data bags, and use File, Dir, ENV and plain Ruby"
        ),
    };
    Err(Fault::new("NotImplementedError", message))
}

/// A block guard: the captured block, evaluated against the node of the run when it is tested.
pub(crate) fn block_guard(
    file: Arc<Path>,
    text: String,
    block: CapturedBlock,
    scope: GuardScope,
) -> GuardBlock {
    let block = Arc::new(block);
    GuardBlock::new(
        text,
        Arc::new(move |cx: &Context| eval_guard_block(&file, &block, &scope, &cx.node)),
    )
}

/// A `lazy { ... }` property value: the captured block, evaluated against the node of the run
/// each time the resource is checked; `location` is the block's place, for errors.
pub(crate) fn lazy_value(
    file: Arc<Path>,
    location: SourceLocation,
    block: CapturedBlock,
    scope: GuardScope,
) -> Arc<LazyCompute> {
    let block = Arc::new(block);
    Arc::new(move |cx: &Context| eval_lazy_block(&file, &location, &block, &scope, &cx.node))
}

/// Runs a captured `lazy` block; its value as property JSON.
fn eval_lazy_block(
    file: &Path,
    location: &SourceLocation,
    block: &CapturedBlock,
    scope: &GuardScope,
    node: &Json,
) -> crate::Result<Json> {
    let mut access = ConvergeNode { attributes: node };
    let mut host = GuardHost {
        node: AttributeHost::new(&mut access, false),
        scope,
    };
    let mut interp = Interp::new(file, &mut host);
    let value = interp
        .run_captured(block)
        .map_err(|fault| fault_to_error(file, fault))?;
    value.to_json().map_err(|why| {
        Error::compile_as(
            "TypeError",
            location.clone(),
            format!("the value of a `lazy` block cannot be a property value: {why}"),
        )
    })
}

/// Runs a captured guard block with `node` (the merged attributes) as `node`.
fn eval_guard_block(
    file: &Path,
    block: &CapturedBlock,
    scope: &GuardScope,
    node: &Json,
) -> crate::Result<bool> {
    let mut access = ConvergeNode { attributes: node };
    let mut host = GuardHost {
        node: AttributeHost::new(&mut access, false),
        scope,
    };
    let mut interp = Interp::new(file, &mut host);
    let truthy = interp
        .run_captured(block)
        .and_then(|value| interp.truthy(&value));
    truthy.map_err(|fault| fault_to_error(file, fault))
}

/// What a block guard may call: the node (read-only) and the platform helpers.
struct GuardHost<'n> {
    node: AttributeHost<'n>,
    scope: &'n GuardScope,
}

impl<'a> Host<'a> for GuardHost<'_> {
    fn call(
        &mut self,
        receiver: Option<&Value<'a>>,
        name: &str,
        args: &[Value<'a>],
        info: CallInfo,
    ) -> Result<Reply<'a>, Fault> {
        if let (Some(Value::Module(NEW_RESOURCE)), Some(resource)) =
            (receiver, &self.scope.new_resource)
        {
            return new_resource_method(resource, name, args).map(Reply::Value);
        }
        if receiver.is_none() {
            if let Some(why) = refusal(name) {
                return Err(Fault::new("NotImplementedError", format!("`{name}` {why}")));
            }
            if let Some(data) = &self.scope.data {
                if let Some(reply) = data_call(data.as_ref(), name, args)? {
                    return Ok(reply);
                }
            }
            match (name, &self.scope.new_resource, &self.scope.params) {
                ("new_resource", Some(_), _) => {
                    return Ok(Reply::Value(Value::Module(NEW_RESOURCE)))
                }
                ("params", _, Some(params)) => {
                    return Ok(Reply::Value(Value::from_owned_json(
                        params,
                        Mutability::Mutable,
                    )))
                }
                (_, Some(resource), _) if args.is_empty() => {
                    if let Some(value) = resource.properties.get(name) {
                        return Ok(Reply::Value(Value::from_owned_json(
                            value,
                            Mutability::Mutable,
                        )));
                    }
                }
                _ => {}
            }
        }
        self.node.call(receiver, name, args, info)
    }

    fn resolve(&mut self, attr: &AttrRef) -> Result<Option<Value<'a>>, Fault> {
        self.node.resolve(attr)
    }
}

/// `search`, `data_bag` and `data_bag_item` answered from `data`; None for other names.
fn data_call<'a>(
    data: &dyn RepoData,
    name: &str,
    args: &[Value<'a>],
) -> Result<Option<Reply<'a>>, Fault> {
    // The whole message: a data bag item's own file and line, when the error has them.
    let failed = |e: Error| Fault::new(e.class(), e.to_string());
    Ok(Some(match name {
        "search" => {
            let call = SearchCall::parse(args)?;
            let rows = data
                .search(&call.index, &call.query, &call.parsed, &call.page)
                .map_err(failed)?;
            Reply::Iterate(rows_value(&rows))
        }
        "data_bag" => {
            let ids = data.data_bag(&data_bag_args(args)?).map_err(failed)?;
            Reply::Value(ids_value(ids))
        }
        "data_bag_item" => {
            let (bag, id) = data_bag_item_args(args)?;
            let item = data.data_bag_item(&bag, &id).map_err(failed)?;
            Reply::Value(Value::from_owned_json(&item, Mutability::Mutable))
        }
        _ => return Ok(None),
    }))
}

/// The node's merged attributes at converge time, read-only.
struct ConvergeNode<'n> {
    attributes: &'n Json,
}

impl NodeAccess for ConvergeNode<'_> {
    fn read(&self, path: &[String]) -> Option<Json> {
        let mut at = self.attributes;
        for key in path {
            at = match at {
                Json::Object(map) => map.get(key)?,
                Json::Array(items) => items.get(key.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(at.clone())
    }

    fn read_level(&self, _level: WriteLevel, _path: &[String]) -> Option<Json> {
        None
    }

    fn write(&mut self, _write: AttributeWrite) -> Result<(), String> {
        Err("a guard block runs at converge time and cannot change node attributes".to_string())
    }

    fn include_attribute(&mut self, _name: &str) -> Result<(), String> {
        Err("include_attribute belongs in an attribute file".to_string())
    }
}
