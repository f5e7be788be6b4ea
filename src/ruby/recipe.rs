//! Recipes written in Ruby (recipes/*.rb): Chef's recipe DSL over the evaluator.
//!
//! A call without a receiver that is not a helper declares a resource of that type, as Chef's
//! `method_missing` does: `template '/etc/x' do ... end`. Inside the block, every call sets a
//! property (`mode '0644'`; symbols become strings, hashes and arrays JSON), except Chef's
//! common ones: `action`, `notifies`/`subscribes` (into the list-of-maps shape the resource
//! builder reads), and `only_if`/`not_if`, whose command strings become data and whose blocks
//! are kept, with a copy of the variables they see, to be evaluated at converge time.
//!
//! Each declaration and `include_recipe` goes to the compiler as soon as it is evaluated, so
//! included recipes run in place. A call to a definition (`definitions/*.rb`) collects its
//! block's settings like a resource's, then runs the definition's body in place with `params`.
//! The same DSL evaluates a custom resource's action body ([`eval_custom_action`]), where
//! `new_resource` and bare names read the declared resource's properties. Node reads and
//! precedence-level writes (`node.default[...]`) go through the same [`AttributeHost`] as
//! attribute files. Constructs skillet cannot run (`ruby_block`, commands at compile time) are
//! refused with their reason. `search` reads the repository's documents through the host and
//! matches them with `crate::search`.
//! Block guards and `lazy { ... }` values are in `guard_block`: a lazy value stands in the
//! properties as a marker until the resource block ends, then goes to the compiler as code.
//! `helper(:name) { ... }` in a `template` block becomes a method of the template, and so does
//! a `def` in its `helpers do ... end`; a `def` anywhere else is a method of the recipe.

use super::ast::Block;
use super::attribute_file::AttributeHost;
use super::custom_resource::ResourceType;
use super::definition::Definition;
use super::erb::TemplateHelper;
use super::frozen::CapturedBlock;
use super::guard_block::{block_guard, check_guard_call, lazy_value, GuardScope};
use super::interp::{CallInfo, Fault, Host, Interp, Reply, HOST_FAILURE, NEW_RESOURCE};
use super::value::{AttrRef, Mutability, Value};
use super::{fault_to_error, parse_file, NodeAccess};
use crate::compile::decl::{DeclCode, PropValue, ResourceDecl};
use crate::compile::{RecipeHost, RepoData};
use crate::error::{Error, SourceLocation};
use crate::resource::lazy::LazyValue;
use crate::resource::{Guard, GuardCommand, GuardKind, GuardOptions};
use indexmap::IndexMap;
use serde_json::{json, Value as Json};
use std::path::Path;
use std::sync::Arc;

/// Evaluates the Ruby recipe `cookbook::recipe` at `path`, handing each declaration and
/// `include_recipe` to `host` as it happens. Errors name the file, line and column.
pub fn eval_recipe(
    path: &Path,
    source: &str,
    cookbook: &str,
    recipe: &str,
    host: &mut dyn RecipeHost,
) -> crate::Result<()> {
    let program = parse_file(path, source)?;
    let mut dsl = RecipeDsl::new(host, Arc::from(path), Arc::from(source), cookbook, recipe);
    let mut interp = Interp::new(path, &mut dsl);
    let result = interp.run(&program).map(drop);
    drop(interp);
    dsl.outcome(result)
}

/// The resource whose action is being compiled, as `new_resource` shows it.
#[derive(Debug)]
pub struct NewResource {
    /// The declared type (`mycb_site`).
    pub kind: String,
    pub name: String,
    /// Every property of its type, with its value.
    pub properties: IndexMap<String, Json>,
    /// The cookbook and recipe that declared it.
    pub cookbook: String,
    pub recipe: String,
    /// The properties its declaration set (`property_is_set?`).
    pub set: Vec<String>,
}

/// Evaluates the body of `action` of a cookbook's resource type for one declared resource,
/// handing the resources it declares to `host`. Errors name the resource (or provider) file.
pub fn eval_custom_action(
    resource_type: &ResourceType,
    action: &str,
    resource: NewResource,
    host: &mut dyn RecipeHost,
) -> crate::Result<()> {
    let Some(body) = resource_type.actions.get(action) else {
        return Ok(());
    };
    // As in Chef, the action's resources belong to the recipe that declared the resource, so
    // templates and cookbook files are looked up in that recipe's cookbook.
    let (cookbook, recipe) = (resource.cookbook.clone(), resource.recipe.clone());
    let mut dsl = RecipeDsl::new(
        host,
        body.file.clone(),
        body.source.clone(),
        &cookbook,
        &recipe,
    );
    dsl.new_resource = Some(Arc::new(resource));
    let mut interp = Interp::new(&body.file, &mut dsl);
    interp.methods.extend(resource_type.helpers.iter().cloned());
    let result = interp.run_captured(&body.body).map(drop);
    drop(interp);
    dsl.outcome(result)
}

/// A method of `new_resource`: its name, type and property values (read only).
pub(crate) fn new_resource_method<'a>(
    resource: &NewResource,
    name: &str,
    args: &[Value<'a>],
) -> Result<Value<'a>, Fault> {
    if name == "property_is_set?" {
        let [property] = args else {
            return Err(Fault::argument(
                "`property_is_set?` takes one property name",
            ));
        };
        let property = match property {
            Value::Sym(p) | Value::Str(p) => p.to_string(),
            other => {
                return Err(Fault::type_error(format!(
                    "`property_is_set?` takes a Symbol, got {}",
                    other.class_name()
                )))
            }
        };
        return Ok(Value::Bool(resource.set.contains(&property)));
    }
    if matches!(
        name,
        "updated_by_last_action" | "updated_by_last_action?" | "updated?"
    ) {
        return Err(Fault::new(
            "NotImplementedError",
            format!("`new_resource.{name}` depends on what happened at converge time, which skillet does not run Ruby for; the resource is updated when one of its action's resources is"),
        ));
    }
    if !args.is_empty() {
        return Err(Fault::new(
            "NotImplementedError",
            format!(
                "setting `new_resource.{name}` in an action is not supported; use a local variable"
            ),
        ));
    }
    Ok(match name {
        "name" => Value::str(&resource.name),
        "resource_name" | "declared_type" => Value::Sym(Arc::from(resource.kind.as_str())),
        "to_s" => Value::str(format!("{}[{}]", resource.kind, resource.name)),
        _ => match resource.properties.get(name) {
            Some(value) => Value::from_owned_json(value, Mutability::Mutable),
            None => {
                return Err(Fault::new(
                    "NoMethodError",
                    format!(
                    "undefined method `{name}' for {}[{}]: the resource type has no such property",
                    resource.kind, resource.name
                ),
                ))
            }
        },
    })
}

/// Why a construct is refused, by the name it is called with.
pub(crate) fn refusal(name: &str) -> Option<&'static str> {
    Some(match name {
        "ruby_block" | "whyrun_safe_ruby_block" => {
            "runs arbitrary Ruby at converge time, which skillet does not execute"
        }
        "partial_search" => {
            "(the partial_search cookbook's helper) is not supported; use `search` with `filter_result:`"
        }
        "shell_out" | "shell_out!" | "shell_out_compacted" | "shell_out_compacted!" | "system"
        | "exec" | "spawn" => {
            "runs a command while the recipe compiles, which skillet does not do; use an `execute` resource or a guard"
        }
        "define" => "belongs in a cookbook's definitions/ directory, not in a recipe",
        "declare_resource" | "edit_resource" | "edit_resource!" | "find_resource"
        | "find_resource!" | "delete_resource" | "delete_resource!" | "with_run_context"
        | "resources_by_type" => "(changing the resource collection from code) is not supported yet",
        "chef_gem" | "gem_package" => {
            "installs Ruby gems into Chef's own Ruby, which skillet does not have"
        }
        "encrypted_data_bag_item" | "data_bag_item_secret" => {
            "(encrypted data bags) is not supported yet"
        }
        _ => return None,
    })
}

/// A resource whose block is being evaluated.
struct OpenResource {
    kind: String,
    name: String,
    location: SourceLocation,
    properties: IndexMap<String, PropValue>,
    block_guards: Vec<Guard>,
    helpers: Vec<TemplateHelper>,
    /// Set when the call is to a definition, whose body runs when the block is done.
    definition: Option<Arc<Definition>>,
}

/// What a block handed over with [`Reply::TakeBlock`] is for.
enum Pending {
    Guard(GuardKind),
    Lazy,
    Helper(String),
}

/// Stands for the value of a `lazy { ... }` block until the resource's properties are read:
/// a string no recipe writes (it holds NUL characters) with the block's index.
fn lazy_marker(index: usize) -> String {
    format!("\0skillet-lazy:{index}\0")
}

/// The index of the lazy block `text` stands for, if it is a marker.
fn lazy_index(text: &str) -> Option<usize> {
    text.strip_prefix("\0skillet-lazy:")?
        .strip_suffix('\0')?
        .parse()
        .ok()
}

/// Finds the lazy markers in a property value, replacing each with null: `(keys below the
/// property, block index)`. Err when a marker was used inside another value (`"#{lazy {...}}"`,
/// an Array element), where it cannot be computed later.
fn take_lazy_markers(
    value: &mut Json,
    path: &mut Vec<String>,
    found: &mut Vec<(Vec<String>, usize)>,
) -> Result<(), ()> {
    match value {
        Json::String(text) => {
            if let Some(index) = lazy_index(text) {
                found.push((path.clone(), index));
                *value = Json::Null;
            } else if text.contains("\0skillet-lazy:") {
                return Err(());
            }
        }
        Json::Object(map) => {
            for (key, item) in map.iter_mut() {
                path.push(key.clone());
                let result = take_lazy_markers(item, path, found);
                path.pop();
                result?;
            }
        }
        Json::Array(items) => {
            let mut inner = Vec::new();
            for item in items.iter_mut() {
                take_lazy_markers(item, path, &mut inner)?;
            }
            if !inner.is_empty() {
                return Err(());
            }
        }
        _ => {}
    }
    Ok(())
}

/// The methods a recipe calls without a receiver, and the state of its resource blocks.
struct RecipeDsl<'h> {
    host: &'h mut dyn RecipeHost,
    file: Arc<Path>,
    /// The text of `file` (a definition's file while its body runs).
    source: Arc<str>,
    cookbook: &'h str,
    recipe: &'h str,
    /// Resource blocks being evaluated, innermost last.
    open: Vec<OpenResource>,
    /// What the block asked for is for.
    pending: Option<Pending>,
    /// A template's `helpers do ... end` block is being evaluated: its `def`s are helpers.
    defining_helpers: bool,
    /// `lazy { ... }` blocks taken so far, with their places; markers hold their index.
    lazies: Vec<(CapturedBlock, SourceLocation, GuardScope)>,
    /// An error from the compiler (a bad property, an included recipe's error), reported as is.
    failure: Option<Error>,
    /// Byte offsets of the source's lines, computed when a guard block first needs them.
    line_starts: Option<Vec<usize>>,
    /// `params` of the definition whose body is running.
    params: Option<Json>,
    /// The resource whose action body is running (`new_resource`).
    new_resource: Option<Arc<NewResource>>,
    /// Definitions being expanded, one inside the other.
    expanding: usize,
}

/// A definition that calls itself would expand forever; Chef dies with `SystemStackError`.
const MAX_DEFINITION_DEPTH: usize = 50;

/// Ruby's name of a value's type, for messages.
fn kind_of(value: &Value<'_>) -> &'static str {
    value.class_name()
}

/// A symbol or string argument as text.
fn word(value: &Value<'_>) -> Option<String> {
    match value {
        Value::Str(s) | Value::Sym(s) => Some(s.to_string()),
        _ => None,
    }
}

impl<'h> RecipeDsl<'h> {
    fn new(
        host: &'h mut dyn RecipeHost,
        file: Arc<Path>,
        source: Arc<str>,
        cookbook: &'h str,
        recipe: &'h str,
    ) -> Self {
        RecipeDsl {
            host,
            file,
            source,
            cookbook,
            recipe,
            open: Vec::new(),
            pending: None,
            defining_helpers: false,
            lazies: Vec::new(),
            failure: None,
            line_starts: None,
            params: None,
            new_resource: None,
            expanding: 0,
        }
    }

    /// The evaluation's result as an error naming its place: the compiler's own error when
    /// one stopped it, else the fault in this file.
    fn outcome(&mut self, result: Result<(), Fault>) -> crate::Result<()> {
        result.map_err(|fault| {
            self.failure
                .take()
                .unwrap_or_else(|| fault_to_error(&self.file, fault))
        })
    }
}

impl RecipeDsl<'_> {
    /// Where a call is, in this file.
    fn location(&self, info: CallInfo) -> SourceLocation {
        SourceLocation::new(&*self.file, info.span.line, info.span.column)
    }

    /// Keeps a compiler error to report as is and stops the evaluation.
    fn fail(&mut self, error: Error) -> Fault {
        let fault = Fault::new(HOST_FAILURE, error.to_string());
        self.failure = Some(error);
        fault
    }

    /// The node methods shared with attribute files (without bare `default[...]`).
    fn node(&mut self) -> AttributeHost<'_> {
        let node: &mut dyn NodeAccess = &mut *self.host;
        AttributeHost::new(node, false)
    }

    /// A value as property JSON; precedence-level paths are read.
    fn property_json(&mut self, value: &Value<'_>) -> Result<Json, Fault> {
        match value {
            Value::Attr(attr) => Ok(self
                .node()
                .resolve_json(attr)
                .unwrap_or_else(|| Json::Object(serde_json::Map::new()))),
            other => other.to_json().map_err(Fault::type_error),
        }
    }

    /// A call at the recipe's top level (or a helper inside a block): helpers, then a
    /// resource declaration.
    fn recipe_call<'a>(
        &mut self,
        name: &str,
        args: &[Value<'a>],
        info: CallInfo,
    ) -> Result<Reply<'a>, Fault> {
        if let Some(why) = refusal(name) {
            return Err(Fault::new("NotImplementedError", format!("`{name}` {why}")));
        }
        if let Some(resource) = &self.new_resource {
            if name == "new_resource" {
                return Ok(Reply::Value(Value::Module(NEW_RESOURCE)));
            }
            if name == "property_is_set?" {
                return new_resource_method(resource, name, args).map(Reply::Value);
            }
            if args.is_empty() && !info.has_block {
                if let Some(value) = resource.properties.get(name) {
                    return Ok(Reply::Value(Value::from_owned_json(
                        value,
                        Mutability::Mutable,
                    )));
                }
            }
            if name == "include_recipe" {
                return Err(Fault::new(
                    "NotImplementedError",
                    "`include_recipe` inside a resource's action is not supported; include the recipe from a recipe",
                ));
            }
        }
        match self.node().self_call(name, args)? {
            Reply::NotFound => {}
            reply => return Ok(reply),
        }
        if matches!(
            name,
            "notifies" | "subscribes" | "only_if" | "not_if" | "action"
        ) {
            return Err(Fault::new(
                "NoMethodError",
                format!("`{name}` is a resource property: use it inside a resource's `do ... end` block"),
            ));
        }
        Ok(Reply::Value(match name {
            "include_recipe" => self.include_recipes(args, info)?,
            "data_bag" => self.data_bag(args)?,
            "data_bag_item" => self.data_bag_item(args)?,
            "search" => return self.search(args, info),
            "resources" => Value::str(resource_reference(args)?),
            "cookbook_name" => Value::str(self.cookbook),
            "lazy" => {
                if !info.has_block || !args.is_empty() {
                    return Err(Fault::argument("`lazy` takes a block: `lazy { ... }`"));
                }
                self.pending = Some(Pending::Lazy);
                return Ok(Reply::TakeBlock);
            }
            "recipe_name" => Value::str(self.recipe),
            "params" if self.params.is_some() => self.params.as_ref().map_or(Value::Nil, |p| {
                Value::from_owned_json(p, Mutability::Mutable)
            }),
            _ if self.host.definition(name).is_some() => return self.declare(name, args, info),
            _ if declares_resource(name, args, info) => return self.declare(name, args, info),
            _ => return Ok(Reply::NotFound),
        }))
    }

    /// `include_recipe 'a', 'b::c'`: each is evaluated now, in order.
    fn include_recipes<'a>(
        &mut self,
        args: &[Value<'a>],
        info: CallInfo,
    ) -> Result<Value<'a>, Fault> {
        let location = self.location(info);
        for arg in args {
            let Value::Str(recipe) = arg else {
                return Err(Fault::type_error(format!(
                    "include_recipe takes recipe names (Strings), got {}",
                    kind_of(arg)
                )));
            };
            if let Err(e) = self.host.include_recipe(recipe, &location) {
                return Err(self.fail(e));
            }
        }
        Ok(Value::Nil)
    }

    /// Where data bags and search are answered; an error when nothing is.
    fn data(&self, what: &str) -> Result<Arc<dyn RepoData>, Fault> {
        self.host.repo_data().ok_or_else(|| {
            Fault::new(
                "NotImplementedError",
                format!("`{what}` is not available here"),
            )
        })
    }

    /// `data_bag('users')`: the bag's item ids.
    fn data_bag<'a>(&mut self, args: &[Value<'a>]) -> Result<Value<'a>, Fault> {
        let bag = data_bag_args(args)?;
        match self.data("data_bag")?.data_bag(&bag) {
            Ok(ids) => Ok(ids_value(ids)),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// `data_bag_item('users', 'bob')`: the item as a Hash.
    fn data_bag_item<'a>(&mut self, args: &[Value<'a>]) -> Result<Value<'a>, Fault> {
        let (bag, id) = data_bag_item_args(args)?;
        match self.data("data_bag_item")?.data_bag_item(&bag, &id) {
            Ok(item) => Ok(Value::from_owned_json(&item, Mutability::Mutable)),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// `search(:node, 'role:web', ...)`: see [`SearchCall`]; with a block, each result is
    /// yielded.
    fn search<'a>(&mut self, args: &[Value<'a>], info: CallInfo) -> Result<Reply<'a>, Fault> {
        let call = SearchCall::parse(args)?;
        let rows =
            match self
                .data("search")?
                .search(&call.index, &call.query, &call.parsed, &call.page)
            {
                Ok(rows) => rows,
                Err(Error::Input { class, message }) => {
                    let at = self.location(info);
                    return Err(self.fail(Error::compile_as(class, at, message)));
                }
                Err(e) => return Err(self.fail(e)),
            };
        Ok(Reply::Iterate(rows_value(&rows)))
    }

    /// `type 'name'` or `type 'name' do ... end`.
    fn declare<'a>(
        &mut self,
        kind: &str,
        args: &[Value<'a>],
        info: CallInfo,
    ) -> Result<Reply<'a>, Fault> {
        // Chef 16+ gives a resource declared without a name the name "".
        let name = match args {
            [] => String::new(),
            [name] => resource_name(kind, name)?,
            _ => {
                return Err(Fault::argument(format!(
                    "`{kind}` declares a resource: expected one name, got {} arguments",
                    args.len()
                )))
            }
        };
        let location = self.location(info);
        let mut properties = IndexMap::new();
        // As Chef's package resources do, `package %w(a b)` keeps the list itself as the
        // package names; only the printed name is joined.
        let listed = match args {
            [one] if kind.ends_with("package") => {
                matches!(one.clone().materialize(), Value::Array(_))
            }
            _ => false,
        };
        if listed {
            let names = self.property_json(&args[0])?;
            properties.insert(
                "package_name".to_string(),
                PropValue {
                    value: names,
                    location: location.clone(),
                },
            );
        }
        let resource = OpenResource {
            kind: kind.to_string(),
            name,
            location,
            properties,
            block_guards: Vec::new(),
            helpers: Vec::new(),
            definition: self.host.definition(kind),
        };
        if info.has_block {
            self.open.push(resource);
            return Ok(Reply::RunBlock);
        }
        self.finish(resource)?;
        Ok(Reply::Value(Value::Nil))
    }

    /// Hands a fully evaluated declaration to the compiler (or runs a definition's body).
    fn finish(&mut self, resource: OpenResource) -> Result<(), Fault> {
        if let Some(definition) = resource.definition.clone() {
            return self.expand_definition(&definition, resource);
        }
        let mut properties = resource.properties;
        let mut lazy = Vec::new();
        for (name, prop) in properties.iter_mut() {
            let mut found = Vec::new();
            if take_lazy_markers(&mut prop.value, &mut Vec::new(), &mut found).is_err() {
                return Err(self.fail(Error::compile_as(
                    "ArgumentError",
                    prop.location.clone(),
                    format!("`{name}`: a `lazy` value can be a property's value or a value in a Hash given to one, not part of another value (it is computed only when the resource runs)"),
                )));
            }
            for (path, index) in found {
                let Some((block, location, scope)) = self.lazies.get(index).cloned() else {
                    continue;
                };
                lazy.push(LazyValue {
                    property: name.clone(),
                    path,
                    compute: lazy_value(self.file.clone(), location.clone(), block, scope),
                    location,
                });
            }
        }
        let decl = ResourceDecl {
            kind: resource.kind,
            name: resource.name,
            properties,
            location: resource.location,
            cookbook: self.cookbook.to_string(),
            recipe: self.recipe.to_string(),
        };
        let code = DeclCode {
            guards: resource.block_guards,
            helpers: resource.helpers,
            lazy,
        };
        self.host.declare_code(decl, code).map_err(|e| self.fail(e))
    }

    /// `helpers(MyHelpers)`: every method of the library module becomes a template helper.
    fn helper_module(&mut self, module: &Value<'_>) -> Result<(), Fault> {
        let Value::Module(name) = module else {
            return Err(Fault::type_error(format!(
                "`helpers` takes a module defined in the cookbook's libraries/, got {}",
                module.inspect()
            )));
        };
        let found = match self.host.library_module(name) {
            Ok(Some(found)) => found,
            Ok(None) => {
                return Err(Fault::new(
                    "NameError",
                    format!("`{name}` is not a module of the cookbooks' libraries/"),
                ))
            }
            Err(e) => return Err(self.fail(e)),
        };
        let helpers: Vec<TemplateHelper> = found
            .methods
            .iter()
            .map(|(method, body)| {
                TemplateHelper::new(method.clone(), found.file.clone(), method_block(body))
            })
            .collect();
        if let Some(open) = self.open.last_mut() {
            open.helpers.extend(helpers);
        }
        Ok(())
    }

    /// `helper(:name) { |args| ... }` in a `template` block; `helpers` with a module or `def`s
    /// is refused.
    fn helper<'a>(
        &mut self,
        name: &str,
        args: &[Value<'a>],
        info: CallInfo,
    ) -> Result<Reply<'a>, Fault> {
        if name == "helpers" {
            return match (args, info.has_block) {
                ([], true) => {
                    self.defining_helpers = true;
                    Ok(Reply::RunBlock)
                }
                (modules, false) if !modules.is_empty() => {
                    for module in modules {
                        self.helper_module(module)?;
                    }
                    Ok(Reply::Value(Value::Nil))
                }
                _ => Err(Fault::argument(
                    "`helpers` takes library modules (`helpers(MyHelpers)`) or a block of `def`s (`helpers do ... end`)",
                )),
            };
        }
        let [method] = args else {
            return Err(Fault::argument(
                "`helper` takes the method's name and a block: `helper(:name) { |args| ... }`",
            ));
        };
        let Some(method) = word(method) else {
            return Err(Fault::type_error(format!(
                "`helper` takes the method's name (a Symbol), got {}",
                kind_of(method)
            )));
        };
        if !info.has_block {
            return Err(Fault::argument(format!(
                "`helper(:{method})` needs a block with the method's body"
            )));
        }
        self.pending = Some(Pending::Helper(method));
        Ok(Reply::TakeBlock)
    }

    /// Runs a definition's body in place, as Chef does: its resources are declared now, with
    /// `params` = the defaults, then what the caller's block set, and `:name`.
    fn expand_definition(
        &mut self,
        definition: &Definition,
        call: OpenResource,
    ) -> Result<(), Fault> {
        if self.expanding >= MAX_DEFINITION_DEPTH {
            return Err(Fault::new(
                "SystemStackError",
                format!(
                    "definitions expand more than {MAX_DEFINITION_DEPTH} deep: `{}` expands itself",
                    definition.name
                ),
            ));
        }
        let mut params = definition.defaults.clone();
        for (key, prop) in call.properties {
            params.insert(key, prop.value);
        }
        params.insert("name".to_string(), Json::String(call.name));
        let saved = (
            std::mem::replace(&mut self.file, definition.file.clone()),
            std::mem::replace(&mut self.source, definition.source.clone()),
            self.line_starts.take(),
            self.params.replace(Json::Object(params)),
        );
        self.expanding += 1;
        let mut interp = Interp::new(&definition.file, &mut *self);
        let result = interp.run_captured(&definition.body);
        drop(interp);
        self.expanding -= 1;
        (self.file, self.source, self.line_starts, self.params) = saved;
        match result {
            Ok(_) => Ok(()),
            Err(_) if self.failure.is_some() => Err(Fault::new(HOST_FAILURE, "definition failed")),
            Err(fault) => {
                let error = fault_to_error(&definition.file, fault);
                Err(self.fail(error))
            }
        }
    }

    /// `new_resource.port`, `new_resource.name`.
    fn new_resource_call<'a>(
        &mut self,
        name: &str,
        args: &[Value<'a>],
    ) -> Result<Reply<'a>, Fault> {
        let Some(resource) = &self.new_resource else {
            return Err(Fault::new(
                "NoMethodError",
                "`new_resource` is only available in a resource's action",
            ));
        };
        new_resource_method(resource, name, args).map(Reply::Value)
    }

    /// A call inside a resource block.
    fn resource_call<'a>(
        &mut self,
        name: &str,
        args: &[Value<'a>],
        info: CallInfo,
    ) -> Result<Reply<'a>, Fault> {
        match name {
            "notifies" => self.notifies(args, info)?,
            "subscribes" => self.subscribes(args, info)?,
            "only_if" => return self.guard(GuardKind::OnlyIf, args, info),
            "not_if" => return self.guard(GuardKind::NotIf, args, info),
            "helper" | "helpers" if self.open.last().is_some_and(|r| r.kind == "template") => {
                return self.helper(name, args, info)
            }
            "name" if args.is_empty() => {
                let name = self.open.last().map(|r| r.name.clone()).unwrap_or_default();
                return Ok(Reply::Value(Value::str(name)));
            }
            _ => {
                // `system` and friends are also property names (`user 'x' do system true end`).
                let property_too = matches!(name, "system" | "exec" | "spawn" | "define");
                if refusal(name).is_some() && !property_too {
                    return self.recipe_call(name, args, info);
                }
                match self.node().self_call(name, args)? {
                    Reply::NotFound => {}
                    reply => return Ok(reply),
                }
                if matches!(
                    name,
                    "include_recipe"
                        | "data_bag"
                        | "data_bag_item"
                        | "resources"
                        | "cookbook_name"
                        | "recipe_name"
                        | "lazy"
                        | "search"
                ) || (name == "params" && self.params.is_some())
                    || (matches!(name, "new_resource" | "property_is_set?")
                        && self.new_resource.is_some())
                {
                    return self.recipe_call(name, args, info);
                }
                return self.property(name, args, info);
            }
        }
        Ok(Reply::Value(Value::Nil))
    }

    /// `mode '0644'` sets a property; `mode` alone reads it back.
    fn property<'a>(
        &mut self,
        name: &str,
        args: &[Value<'a>],
        info: CallInfo,
    ) -> Result<Reply<'a>, Fault> {
        if info.has_block {
            return Err(Fault::new(
                "NotImplementedError",
                format!(
                    "a block given to `{name}` is Ruby run at converge time, which skillet does not execute"
                ),
            ));
        }
        if args.is_empty() {
            let current = self
                .open
                .last()
                .and_then(|r| r.properties.get(name))
                .map(|p| p.value.clone())
                .or_else(|| {
                    // A property of the resource whose action this is, read bare inside a
                    // sub-resource's block (Chef forwards it to the action's provider).
                    self.new_resource
                        .as_ref()
                        .and_then(|r| r.properties.get(name).cloned())
                });
            return Ok(Reply::Value(match current {
                Some(json) => Value::from_owned_json(&json, Mutability::Mutable),
                None => Value::Nil,
            }));
        }
        let value = match args {
            [one] => self.property_json(one)?,
            many => Json::Array(
                many.iter()
                    .map(|v| self.property_json(v))
                    .collect::<Result<_, _>>()?,
            ),
        };
        let location = self.location(info);
        if let Some(open) = self.open.last_mut() {
            open.properties
                .insert(name.to_string(), PropValue { value, location });
        }
        Ok(Reply::Value(args[0].clone()))
    }

    /// Appends one entry to a list-valued property (`notifies`, `only_if`), keeping the place
    /// of the first.
    fn push_entry(&mut self, property: &str, entry: Json, info: CallInfo) {
        let location = self.location(info);
        let Some(open) = self.open.last_mut() else {
            return;
        };
        let prop = open
            .properties
            .entry(property.to_string())
            .or_insert_with(|| PropValue {
                value: Json::Array(Vec::new()),
                location,
            });
        if let Json::Array(items) = &mut prop.value {
            items.push(entry);
        }
    }

    /// `notifies :restart, 'service[nginx]', :immediately`.
    fn notifies(&mut self, args: &[Value<'_>], info: CallInfo) -> Result<(), Fault> {
        let (action, target, timing) = notification_args("notifies", args)?;
        let target = word(target)
            .ok_or_else(|| {
                Fault::type_error(format!(
                    "`notifies` names its target as \"type[name]\", got {}",
                    kind_of(target)
                ))
            })
            .and_then(|t| checked_reference("notifies", t))?;
        self.push_entry(
            "notifies",
            json!({"action": action, "resource": target, "timing": timing}),
            info,
        );
        Ok(())
    }

    /// `subscribes :restart, 'template[/x]'` (or a list of resources).
    fn subscribes(&mut self, args: &[Value<'_>], info: CallInfo) -> Result<(), Fault> {
        let (action, sources, timing) = notification_args("subscribes", args)?;
        let sources = match sources.clone().materialize() {
            Value::Array(items) => items.items.borrow().clone(),
            one => vec![one],
        };
        for source in &sources {
            let source = word(source)
                .ok_or_else(|| {
                    Fault::type_error(format!(
                        "`subscribes` names resources as \"type[name]\", got {}",
                        kind_of(source)
                    ))
                })
                .and_then(|s| checked_reference("subscribes", s))?;
            self.push_entry(
                "subscribes",
                json!({"action": action, "resource": source, "timing": timing}),
                info,
            );
        }
        Ok(())
    }

    /// `only_if 'cmd'`, `not_if 'cmd', cwd: '/x'`, `not_if ['test', '-f', x]`, `only_if { ... }`.
    fn guard<'a>(
        &mut self,
        kind: GuardKind,
        args: &[Value<'a>],
        info: CallInfo,
    ) -> Result<Reply<'a>, Fault> {
        let name = kind.as_str();
        if info.has_block {
            if !args.is_empty() {
                return Err(Fault::argument(format!(
                    "`{name}` takes a command or a block, not both"
                )));
            }
            self.pending = Some(Pending::Guard(kind));
            return Ok(Reply::TakeBlock);
        }
        let (command, options) = match args {
            [command] => (command, None),
            [command, options] => (command, Some(options)),
            _ => {
                return Err(Fault::argument(format!(
                    "`{name}` takes a command (and options) or a block, got {} arguments",
                    args.len()
                )))
            }
        };
        if !matches!(command, Value::Str(_) | Value::Array(_) | Value::Json(_)) {
            return Err(Fault::type_error(format!(
                "`{name}` takes a command String, an Array of arguments, or a block; got {}",
                kind_of(command)
            )));
        }
        let mut entry = serde_json::Map::new();
        entry.insert("command".to_string(), self.property_json(command)?);
        if let Some(options) = options {
            match self.property_json(options)? {
                Json::Object(map) => entry.extend(map),
                _ => {
                    return Err(Fault::type_error(format!(
                        "`{name}` options must be a Hash (`cwd: '/tmp'`), got {}",
                        kind_of(options)
                    )))
                }
            }
        }
        self.push_entry(name, Json::Object(entry), info);
        Ok(Reply::Value(Value::Nil))
    }

    /// The first line of the guard block's source, for messages.
    fn block_text(&mut self, info: CallInfo) -> String {
        let source = &*self.source;
        let starts = self.line_starts.get_or_insert_with(|| {
            std::iter::once(0)
                .chain(source.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        });
        let line = starts
            .get(info.span.line.saturating_sub(1) as usize)
            .and_then(|&start| source.get(start..))
            .and_then(|rest| rest.lines().next())
            .unwrap_or_default();
        let start = line
            .char_indices()
            .nth(info.span.column.saturating_sub(1) as usize)
            .map_or(0, |(i, _)| i);
        line[start..].trim_end().to_string()
    }
}

/// A helper may call the template's other helpers, so only refused names are checked when
/// the recipe compiles; anything else unknown fails when the template is rendered.
fn check_refused_calls(body: &super::ast::Node) -> Result<(), Fault> {
    super::scan::each_call(body, &mut |call, span| match refusal(&call.name) {
        Some(why) if call.receiver.is_none() => {
            Err(Fault::new("NotImplementedError", format!("`{}` {why}", call.name)).at(span))
        }
        _ => Ok(()),
    })
}

/// A method body as a block run on its own (a method sees no outer variables).
fn method_block(body: &Arc<Block>) -> CapturedBlock {
    CapturedBlock {
        block: body.clone(),
        frames: Vec::new(),
        ivars: Vec::new(),
    }
}

/// A library module's name as the evaluator's module values hold it (one copy per name).
fn interned(name: &str) -> &'static str {
    static NAMES: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(found) = names.iter().find(|n| **n == name) {
        return found;
    }
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.push(leaked);
    leaked
}

/// Refuses, when the recipe compiles, what a block run at converge time (a guard, a `lazy`
/// value) could not call.
fn check_converge_block(block: &CapturedBlock, scope: &GuardScope) -> Result<(), Fault> {
    match &block.block.body {
        Some(body) => super::scan::each_call(body, &mut |call, span| {
            check_guard_call(call, scope).map_err(|f| f.at(span))
        }),
        None => Ok(()),
    }
}

/// Whether a call without a receiver declares a resource: a plain lowercase name with a
/// resource name or a block (`apt_update do ... end`), or alone when it is a known resource type
/// (`apt_update`; other bare words stay undefined names, as typos usually are).
fn declares_resource(name: &str, args: &[Value<'_>], info: CallInfo) -> bool {
    let plain = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !plain {
        return false;
    }
    if info.variable_call {
        return crate::resource::build::known_types().contains(&name);
    }
    !args.is_empty() || info.has_block
}

/// The resource name Chef derives from the declaration's argument.
fn resource_name(kind: &str, name: &Value<'_>) -> Result<String, Fault> {
    Ok(match name.clone().materialize() {
        Value::Str(s) | Value::Sym(s) => s.to_string(),
        Value::Int(_) | Value::Float(_) => name.to_s(),
        Value::Array(items) => items
            .items
            .borrow()
            .iter()
            .map(Value::to_s)
            .collect::<Vec<_>>()
            .join(", "),
        other => {
            return Err(Fault::type_error(format!(
                "`{kind}` expects a name (a String), got {}",
                kind_of(&other)
            )))
        }
    })
}

/// The page a search asks for: `rows:`, `start:`, `sort:` (results are always in name
/// order) and `filter_result:`, or the positional `sort, start, rows`.
/// The bag `data_bag(bag)` names.
pub(crate) fn data_bag_args(args: &[Value<'_>]) -> Result<String, Fault> {
    let [bag] = args else {
        return Err(Fault::argument("data_bag takes one bag name"));
    };
    word(bag).ok_or_else(|| Fault::type_error("data_bag takes a name"))
}

/// The bag and item `data_bag_item(bag, id)` names.
pub(crate) fn data_bag_item_args(args: &[Value<'_>]) -> Result<(String, String), Fault> {
    let (bag, id) = match args {
        [bag, id] => (word(bag), word(id)),
        [_, _, _] => {
            return Err(Fault::new(
                "NotImplementedError",
                "`data_bag_item` with a secret (encrypted data bags) is not supported yet",
            ))
        }
        _ => return Err(Fault::argument("data_bag_item takes a bag and an item id")),
    };
    match (bag, id) {
        (Some(bag), Some(id)) => Ok((bag, id)),
        _ => Err(Fault::type_error("data_bag_item takes names (Strings)")),
    }
}

/// A bag's item ids as a Ruby Array.
pub(crate) fn ids_value<'a>(ids: Vec<String>) -> Value<'a> {
    Value::array(ids.into_iter().map(Value::str).collect())
}

/// Search results as a Ruby Array.
pub(crate) fn rows_value<'a>(rows: &[Json]) -> Value<'a> {
    Value::array(
        rows.iter()
            .map(|r| Value::from_owned_json(r, Mutability::Mutable))
            .collect(),
    )
}

/// `search(:node, 'role:web', rows: 10, start: 0, filter_result: {...})`, or the old
/// positional form `search(index, query, sort, start, rows)`, read and checked.
pub(crate) struct SearchCall {
    pub index: String,
    pub query: String,
    pub parsed: crate::search::Query,
    pub page: crate::search::Page,
}

impl SearchCall {
    pub(crate) fn parse(args: &[Value<'_>]) -> Result<SearchCall, Fault> {
        let Some((index, rest)) = args.split_first() else {
            return Err(Fault::argument(
                "`search` takes an index and a query: search(:node, 'role:web')",
            ));
        };
        let index = word(index).ok_or_else(|| {
            Fault::type_error(format!(
                "`search` takes an index (:node, :role, :environment or a data bag name), got {}",
                kind_of(index)
            ))
        })?;
        let (query, rest) = match rest.split_first() {
            None => ("*:*".to_string(), &[][..]),
            Some((Value::Nil, rest)) => ("*:*".to_string(), rest),
            Some((Value::Str(q), rest)) => (q.to_string(), rest),
            Some((other, _)) => {
                return Err(Fault::type_error(format!(
                    "`search` takes its query as a String, got {}",
                    kind_of(other)
                )))
            }
        };
        let page = search_page(args.len(), rest)?;
        let parsed = crate::search::parse(&query)
            .map_err(|e| Fault::argument(format!("invalid search query: '{query}': {e}")))?;
        Ok(SearchCall {
            index,
            query,
            parsed,
            page,
        })
    }
}

fn search_page(given: usize, rest: &[Value<'_>]) -> Result<crate::search::Page, Fault> {
    let mut page = crate::search::Page::default();
    let count = |v: &Value<'_>, what: &str| match v {
        Value::Int(i) => usize::try_from(*i)
            .map_err(|_| Fault::argument(format!("`search` {what} must not be negative, got {i}"))),
        Value::Nil => Ok(0),
        other => Err(Fault::type_error(format!(
            "`search` {what} must be an Integer, got {}",
            other.inspect()
        ))),
    };
    match rest {
        [] => {}
        [options] if matches!(options.clone().materialize(), Value::Hash(_)) => {
            let Value::Hash(options) = options.clone().materialize() else {
                return Err(Fault::type_error("`search` options must be a Hash"));
            };
            for (key, value) in options.map.borrow().iter() {
                match key.to_value().to_s().as_str() {
                    "rows" if !value.is_nil() => page.rows = Some(count(value, "rows")?),
                    "rows" | "sort" => {}
                    "start" => page.start = count(value, "start")?,
                    "filter_result" => page.filter = Some(filter_result(value)?),
                    other => {
                        return Err(Fault::argument(format!(
                            "`search` has no option `{other}`; it takes rows:, start:, sort: and filter_result:"
                        )))
                    }
                }
            }
        }
        [_sort, positional @ ..] if positional.len() <= 2 => {
            if let Some(start) = positional.first() {
                page.start = count(start, "start")?;
            }
            if let Some(rows) = positional.get(1).filter(|r| !r.is_nil()) {
                page.rows = Some(count(rows, "rows")?);
            }
        }
        _ => {
            return Err(Fault::argument(format!(
                "wrong number of arguments (given {given}, expected 1..5) for `search`"
            )))
        }
    }
    Ok(page)
}

/// `filter_result: { 'ip' => ['ipaddress'], name: ['name'] }` as (key, path) pairs.
fn filter_result(value: &Value<'_>) -> Result<Vec<(String, Vec<String>)>, Fault> {
    let bad = || {
        Fault::type_error(
            "`filter_result` maps each result key to a path of attribute names: { 'ip' => ['ipaddress'] }",
        )
    };
    let Value::Hash(map) = value.clone().materialize() else {
        return Err(bad());
    };
    let map = map.map.borrow();
    map.iter()
        .map(|(key, path)| {
            let path = match path.clone().materialize() {
                Value::Array(items) => items
                    .items
                    .borrow()
                    .iter()
                    .map(|p| word(p).ok_or_else(bad))
                    .collect::<Result<Vec<_>, _>>()?,
                _ => return Err(bad()),
            };
            Ok((key.to_value().to_s(), path))
        })
        .collect()
}

/// The old `resources(service: 'nginx')` form of a notification target → `service[nginx]`.
fn resource_reference(args: &[Value<'_>]) -> Result<String, Fault> {
    let bad = || {
        Fault::argument("resources takes one `type: 'name'` pair, like resources(service: 'nginx')")
    };
    let [Value::Hash(hash)] = args else {
        return match args {
            [Value::Str(s)] => Ok(s.to_string()),
            _ => Err(bad()),
        };
    };
    let map = hash.map.borrow();
    let mut pairs = map.iter();
    match (pairs.next(), pairs.next()) {
        (Some((kind, name)), None) => Ok(format!("{}[{}]", kind.to_value().to_s(), name.to_s())),
        _ => Err(bad()),
    }
}

/// A target reference must look like `type[name]`.
fn checked_reference(method: &str, reference: String) -> Result<String, Fault> {
    if crate::resource::ResourceId::parse(&reference).is_none() {
        return Err(Fault::argument(format!(
            "`{method}` expects a resource like \"service[nginx]\", got \"{reference}\""
        )));
    }
    Ok(reference)
}

/// `(action, target, timing)` of `notifies`/`subscribes`, timing checked as Chef does.
fn notification_args<'v, 'a>(
    method: &str,
    args: &'v [Value<'a>],
) -> Result<(String, &'v Value<'a>, &'static str), Fault> {
    let (action, target, timing) = match args {
        [action, target] => (action, target, None),
        [action, target, timing] => (action, target, Some(timing)),
        _ => {
            return Err(Fault::argument(format!(
                "wrong number of arguments (given {}, expected 2..3) for `{method}`",
                args.len()
            )))
        }
    };
    let action = word(action).ok_or_else(|| {
        Fault::type_error(format!(
            "`{method}` expects an action like :restart, got {}",
            kind_of(action)
        ))
    })?;
    let timing = match timing {
        None => "delayed",
        Some(t) => match word(t).as_deref() {
            Some("delayed") => "delayed",
            Some("immediately") => "immediately",
            Some("immediate") => "immediate",
            Some("before") => "before",
            _ => {
                return Err(Fault::argument(format!(
                "`{method}`: timing must be :delayed, :immediately, :immediate or :before, got {}",
                t.inspect()
            )))
            }
        },
    };
    Ok((action, target, timing))
}

impl<'a> Host<'a> for RecipeDsl<'_> {
    fn call(
        &mut self,
        receiver: Option<&Value<'a>>,
        name: &str,
        args: &[Value<'a>],
        info: CallInfo,
    ) -> Result<Reply<'a>, Fault> {
        if let Some(Value::Module(NEW_RESOURCE)) = receiver {
            return self.new_resource_call(name, args);
        }
        if receiver.is_some() {
            return self.node().call(receiver, name, args, info);
        }
        if self.open.is_empty() {
            self.recipe_call(name, args, info)
        } else {
            self.resource_call(name, args, info)
        }
    }

    fn resolve(&mut self, attr: &AttrRef) -> Result<Option<Value<'a>>, Fault> {
        Ok(self
            .node()
            .resolve_json(attr)
            .map(|j| Value::from_owned_json(&j, Mutability::Mutable)))
    }

    fn block_done(&mut self, completed: bool, _info: CallInfo) -> Result<Value<'a>, Fault> {
        if std::mem::take(&mut self.defining_helpers) {
            return Ok(Value::Nil);
        }
        let Some(resource) = self.open.pop() else {
            return Ok(Value::Nil);
        };
        if completed {
            self.finish(resource)?;
        }
        Ok(Value::Nil)
    }

    fn constant(&mut self, name: &str) -> Result<Option<Value<'a>>, Fault> {
        match self.host.library_module(name) {
            Ok(Some(found)) => Ok(Some(Value::Module(interned(&found.name)))),
            Ok(None) => Ok(None),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// A `def` in a template's `helpers do ... end` is a helper of the template; anywhere else
    /// it is left to the evaluator, as a method of the recipe.
    fn define(&mut self, name: &str, body: Arc<Block>) -> Result<bool, Fault> {
        if !self.defining_helpers {
            return Ok(false);
        }
        if let Some(body) = &body.body {
            check_refused_calls(body)?;
        }
        let helper = TemplateHelper::new(name.to_string(), self.file.clone(), method_block(&body));
        if let Some(open) = self.open.last_mut() {
            open.helpers.push(helper);
        }
        Ok(true)
    }

    fn take_block(&mut self, block: CapturedBlock, info: CallInfo) -> Result<Value<'a>, Fault> {
        let scope = GuardScope {
            new_resource: self.new_resource.clone(),
            params: self.params.clone().map(Arc::new),
            data: self.host.repo_data(),
        };
        let kind = match self.pending.take() {
            None => return Ok(Value::Nil),
            Some(Pending::Guard(kind)) => kind,
            Some(Pending::Lazy) => {
                check_converge_block(&block, &scope)?;
                self.lazies.push((block, self.location(info), scope));
                return Ok(Value::str(lazy_marker(self.lazies.len() - 1)));
            }
            Some(Pending::Helper(name)) => {
                if let Some(body) = &block.block.body {
                    check_refused_calls(body)?;
                }
                let helper = TemplateHelper::new(name, self.file.clone(), block);
                if let Some(open) = self.open.last_mut() {
                    open.helpers.push(helper);
                }
                return Ok(Value::Nil);
            }
        };
        check_converge_block(&block, &scope)?;
        let guard = Guard {
            kind,
            command: GuardCommand::Block(block_guard(
                self.file.clone(),
                self.block_text(info),
                block,
                scope,
            )),
            options: GuardOptions::default(),
            location: self.location(info),
        };
        if let Some(open) = self.open.last_mut() {
            open.block_guards.push(guard);
        }
        Ok(Value::Nil)
    }
}
