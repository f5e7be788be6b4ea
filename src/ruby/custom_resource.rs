//! Custom resources (`resources/*.rb`) and LWRPs (`resources/*.rb` with `providers/*.rb`).
//!
//! A resource file declares a resource type: `property :port, Integer, default: 80` (or, in an
//! LWRP, `attribute :port, kind_of: Integer`), `default_action`, `actions`, and the actions
//! themselves (`action :create do ... end`, in the resource file or its provider). The type is
//! named `<cookbook>_<file>` unless `resource_name`/`provides` says otherwise.
//!
//! Action bodies are kept, like block guards, with a frozen copy of the variables they see. They
//! are evaluated while compiling, once the declared resource's properties are known, by the
//! recipe DSL (`recipe.rs`: `new_resource.x` and bare property reads), into a collection of
//! resources that the resource owns; the converge runs that collection for the action. What
//! needs Ruby at converge time (`load_current_value`, `converge_by`, `current_value`,
//! `converge_if_changed`) is refused when the file is loaded.

use super::ast::{Block, Expr, Node, Span};
use super::frozen::CapturedBlock;
use super::interp::{CallInfo, Fault, Host, Interp, PlainHost, Reply};
use super::regexp::RubyRegex;
use super::value::{Mutability, Value};
use super::{fault_to_error, parse_file};
use crate::error::SourceLocation;
use crate::resource::Action;
use indexmap::IndexMap;
use serde_json::Value as Json;
use std::path::Path;
use std::sync::Arc;

/// What one value of a property may be: an instance of a class, or one exact value
/// (`[true, false]`, `nil`).
#[derive(Debug, Clone, PartialEq)]
pub enum Accepted {
    /// `String`, `Integer`, `Array`, ...
    Class(&'static str),
    /// `true`, `false`, `nil`, or a literal.
    Exactly(Json),
}

/// `property :name, Type, options` (or an LWRP's `attribute`).
#[derive(Debug, Clone)]
pub struct Property {
    pub name: String,
    /// Empty: any value.
    pub accepted: Vec<Accepted>,
    pub default: Option<Json>,
    /// Takes the resource's name when not set (`name_property: true`, `name_attribute: true`).
    pub name_property: bool,
    pub required: bool,
    /// `equal_to: [...]`: the only values allowed.
    pub equal_to: Option<Vec<Json>>,
    /// `regex: /.../` (or several): a String value must match one.
    pub regex: Vec<Arc<RubyRegex>>,
    /// `coerce: proc { |v| ... }`: turns a given value (and the default) into the stored one,
    /// before it is checked.
    pub(crate) coerce: Option<Arc<CapturedBlock>>,
    /// `callbacks: { 'message' => proc { |v| ... } }`: each must answer true for the value.
    pub(crate) callbacks: Vec<(String, Arc<CapturedBlock>)>,
    pub location: SourceLocation,
}

/// One `action :name do ... end`.
#[derive(Debug)]
pub struct ActionBody {
    pub location: SourceLocation,
    pub(crate) body: CapturedBlock,
    pub(crate) file: Arc<Path>,
    pub(crate) source: Arc<str>,
}

/// A resource type a cookbook declares.
#[derive(Debug)]
pub struct ResourceType {
    /// The type recipes declare (`mycb_site`).
    pub name: String,
    /// The cookbook that declares it.
    pub cookbook: String,
    /// The resource file (for messages).
    pub file: Arc<Path>,
    pub properties: IndexMap<String, Property>,
    /// Actions with bodies, in the order they are defined.
    pub actions: IndexMap<String, ActionBody>,
    /// An LWRP's `actions :a, :b` (bodies come from its provider).
    pub declared_actions: Vec<String>,
    pub default_action: Option<Vec<String>>,
    /// Methods its actions may call: `action_class do def x ... end end` and `def` at the top
    /// of the resource or provider file.
    pub(crate) helpers: Vec<(Arc<str>, Arc<Block>)>,
    /// Other names it is declared by (a second `provides`).
    pub aliases: Vec<String>,
    /// `resource_name` or `provides` replaced the automatic name.
    named: bool,
}

impl ResourceType {
    /// The actions a declaration may name, `:nothing` aside: declared ones, then defined ones.
    pub fn allowed_actions(&self) -> Vec<Action> {
        let mut names: Vec<&str> = self.declared_actions.iter().map(String::as_str).collect();
        for name in self.actions.keys() {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
        names.into_iter().filter_map(Action::named).collect()
    }

    /// `default_action`, else the first action declared or defined, else `:nothing`.
    pub fn default_actions(&self) -> Vec<Action> {
        match &self.default_action {
            Some(names) => names.iter().filter_map(|n| Action::named(n)).collect(),
            None => vec![self
                .allowed_actions()
                .first()
                .copied()
                .unwrap_or(Action::Nothing)],
        }
    }

    /// Checks a property value as Chef's validators do (`Type`, `equal_to`).
    pub fn check_value(&self, property: &Property, value: &Json) -> Result<(), String> {
        if value.is_null() {
            return Ok(());
        }
        if !property.accepted.is_empty() && !property.accepted.iter().any(|a| accepts(a, value)) {
            let names: Vec<String> = property.accepted.iter().map(accepted_name).collect();
            return Err(format!(
                "Property {} must be one of: {}!  You passed {}.",
                property.name,
                names.join(", "),
                inspect(value)
            ));
        }
        if let (Json::String(text), false) = (value, property.regex.is_empty()) {
            if !property.regex.iter().any(|r| r.regex.is_match(text)) {
                let patterns: Vec<String> = property.regex.iter().map(|r| r.inspect()).collect();
                return Err(format!(
                    "Option {}'s value {} does not match regular expression {}",
                    property.name,
                    inspect(value),
                    patterns.join(", ")
                ));
            }
        }
        for (message, callback) in &property.callbacks {
            if !self.run_proc(callback, value)?.truthy {
                return Err(format!(
                    "Option {}'s value {} {message}!",
                    property.name,
                    Value::from_owned_json(value, Mutability::Mutable).to_s()
                ));
            }
        }
        if let Some(allowed) = &property.equal_to {
            if !allowed.contains(value) {
                let names: Vec<String> = allowed.iter().map(inspect).collect();
                return Err(format!(
                    "Option {} must be equal to one of: {}!  You passed {}.",
                    property.name,
                    names.join(", "),
                    inspect(value)
                ));
            }
        }
        Ok(())
    }
}

impl ResourceType {
    /// The value `coerce:` makes of `value` (unchanged without one; nil is not coerced).
    pub fn coerce(&self, property: &Property, value: &Json) -> Result<Json, String> {
        match &property.coerce {
            Some(block) if !value.is_null() => self.run_proc(block, value)?.json,
            _ => Ok(value.clone()),
        }
    }

    /// Runs a kept `proc` with `value` as its argument, in plain Ruby (no node, no resources).
    fn run_proc(&self, block: &CapturedBlock, value: &Json) -> Result<ProcAnswer, String> {
        // Plain Ruby: the proc sees its argument, not the resource.
        let mut host = PlainHost;
        let mut interp = Interp::new(&self.file, &mut host);
        let argument = Value::from_owned_json(value, Mutability::Mutable);
        let answer = interp
            .run_captured_with(block, vec![argument], None)
            .map_err(|fault| fault_to_error(&self.file, fault).to_string())?;
        Ok(ProcAnswer {
            truthy: answer.truthy(),
            json: answer.to_json().map_err(|why| {
                format!("the value a `coerce:` proc returns cannot be a property value: {why}")
            }),
        })
    }
}

/// What a kept proc answered: whether it is true (for `callbacks:`) and its value as JSON
/// (for `coerce:`; an error when it has none).
struct ProcAnswer {
    truthy: bool,
    json: Result<Json, String>,
}

/// Whether `value` (a property value as JSON) is acceptable as `accepted`. Symbols arrive as
/// strings, so `Symbol` accepts strings.
fn accepts(accepted: &Accepted, value: &Json) -> bool {
    match accepted {
        Accepted::Exactly(exact) => exact == value,
        Accepted::Class(class) => match *class {
            "String" | "Symbol" => value.is_string(),
            "Integer" => value.is_i64() || value.is_u64(),
            "Float" => value.is_f64(),
            "Numeric" => value.is_number(),
            "Array" => value.is_array(),
            "Hash" => value.is_object(),
            "TrueClass" => value == &Json::Bool(true),
            "FalseClass" => value == &Json::Bool(false),
            "NilClass" => value.is_null(),
            _ => true,
        },
    }
}

fn accepted_name(accepted: &Accepted) -> String {
    match accepted {
        Accepted::Class(class) => class.to_string(),
        Accepted::Exactly(value) => inspect(value),
    }
}

/// A JSON value as Ruby's `inspect` would show it.
fn inspect(value: &Json) -> String {
    match value {
        Json::Null => "nil".to_string(),
        Json::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

/// Calls that need Ruby at converge time, refused in action bodies with the reason.
fn converge_time_refusal(name: &str) -> Option<&'static str> {
    Some(match name {
        "converge_by" => {
            "runs a block of Ruby at converge time, which skillet does not execute; declare resources in the action instead"
        }
        "converge_if_changed" | "current_value" | "current_resource" | "load_current_value" => {
            "compares with the current state loaded by Ruby at converge time, which skillet does not execute; declare resources in the action instead (they converge only what differs)"
        }
        _ => return None,
    })
}

/// Loads a resource file (`resources/<file>.rb`) of `cookbook`.
pub fn load_resource_file(
    path: &Path,
    source: &str,
    cookbook: &str,
) -> crate::Result<ResourceType> {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut rtype = ResourceType {
        name: format!("{cookbook}_{stem}"),
        cookbook: cookbook.to_string(),
        file: Arc::from(path),
        properties: IndexMap::new(),
        actions: IndexMap::new(),
        declared_actions: Vec::new(),
        default_action: None,
        helpers: Vec::new(),
        aliases: Vec::new(),
        named: false,
    };
    eval_type_file(path, source, &mut rtype, FileRole::Resource)?;
    Ok(rtype)
}

/// Adds the actions of an LWRP provider file (`providers/<file>.rb`) to its resource type.
pub fn load_provider_file(
    path: &Path,
    source: &str,
    rtype: &mut ResourceType,
) -> crate::Result<()> {
    eval_type_file(path, source, rtype, FileRole::Provider)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileRole {
    Resource,
    Provider,
}

fn eval_type_file(
    path: &Path,
    source: &str,
    rtype: &mut ResourceType,
    role: FileRole,
) -> crate::Result<()> {
    let program = parse_file(path, source)?;
    let mut host = TypeFile {
        file: Arc::from(path),
        source: Arc::from(source),
        rtype,
        role,
        pending: None,
        procs: Vec::new(),
    };
    let mut interp = Interp::new(path, &mut host);
    let result = interp.run(&program);
    let methods = std::mem::take(&mut interp.methods);
    drop(interp);
    result.map_err(|fault| fault_to_error(path, fault))?;
    host.rtype.helpers.extend(methods);
    Ok(())
}

/// What a block handed to the file's host is for.
enum PendingBlock {
    Action(String, SourceLocation),
    /// `proc { }` / `lambda { }` / `->(v) { }`: kept as a value for `coerce:` or `callbacks:`.
    Proc,
    /// `action_class do ... end`: its methods become helpers of the actions.
    ActionClass,
}

/// The methods a resource or provider file calls at its top level.
struct TypeFile<'t> {
    file: Arc<Path>,
    source: Arc<str>,
    rtype: &'t mut ResourceType,
    role: FileRole,
    pending: Option<PendingBlock>,
    /// The procs the file made, in order; a proc value is its index here.
    procs: Vec<Arc<CapturedBlock>>,
}

/// A Symbol or String argument as text.
fn word(value: &Value<'_>) -> Option<String> {
    match value {
        Value::Sym(s) | Value::Str(s) => Some(s.to_string()),
        _ => None,
    }
}

fn words(method: &str, args: &[Value<'_>]) -> Result<Vec<String>, Fault> {
    let mut out = Vec::new();
    for arg in args {
        match arg.clone().materialize() {
            Value::Array(items) => {
                for item in items.items.borrow().iter() {
                    out.push(word(item).ok_or_else(|| {
                        Fault::type_error(format!(
                            "`{method}` takes Symbols, got {}",
                            item.class_name()
                        ))
                    })?);
                }
            }
            other => out.push(word(&other).ok_or_else(|| {
                Fault::type_error(format!(
                    "`{method}` takes Symbols, got {}",
                    other.class_name()
                ))
            })?),
        }
    }
    Ok(out)
}

impl TypeFile<'_> {
    /// `resource_name :x` names the type; the first `provides :x` replaces the automatic
    /// `<cookbook>_<file>` name and later ones add names.
    fn rename(&mut self, method: &str, type_name: String) {
        let rtype = &mut *self.rtype;
        if method == "resource_name" || !rtype.named {
            rtype.name = type_name;
            rtype.named = true;
        } else if rtype.name != type_name && !rtype.aliases.contains(&type_name) {
            rtype.aliases.push(type_name);
        }
    }

    fn location(&self, span: Span) -> SourceLocation {
        SourceLocation::new(&*self.file, span.line, span.column)
    }

    /// The proc `value` stands for (`option:` names the property option, for the error).
    fn kept_proc(&self, value: &Value<'_>, option: &str) -> Result<Arc<CapturedBlock>, Fault> {
        proc_index(value)
            .and_then(|i| self.procs.get(i).cloned())
            .ok_or_else(|| {
                Fault::type_error(format!(
                    "`{option}:` takes a proc (`proc {{ |value| ... }}` or `->(value) {{ ... }}`), got {}",
                    value.class_name()
                ))
            })
    }

    /// `callbacks: { 'message' => proc { |v| ... } }`.
    fn callbacks(&self, value: &Value<'_>) -> Result<Vec<(String, Arc<CapturedBlock>)>, Fault> {
        let Value::Hash(hash) = value else {
            return Err(Fault::type_error(
                "`callbacks:` takes a Hash of message => proc",
            ));
        };
        hash.map
            .borrow()
            .iter()
            .map(|(message, check)| {
                Ok((
                    message.to_value().to_s(),
                    self.kept_proc(check, "callbacks")?,
                ))
            })
            .collect()
    }

    /// `property :name, Type, key: value` / `attribute :name, kind_of: Type, ...`.
    fn property(&mut self, method: &str, args: &[Value<'_>], info: CallInfo) -> Result<(), Fault> {
        let Some(name) = args.first().and_then(word) else {
            return Err(Fault::argument(format!(
                "`{method}` takes a name first: {method} :port, Integer"
            )));
        };
        let (types, options) = match &args[1..] {
            [] => (None, None),
            [Value::Hash(_)] => (None, Some(&args[1])),
            [types] => (Some(types), None),
            [types, options] => (Some(types), Some(options)),
            _ => {
                return Err(Fault::argument(format!(
                    "too many arguments to `{method} :{name}`"
                )))
            }
        };
        if let Some(types) = types {
            refuse_stray_proc(types, &format!("the types of `{name}`"))?;
        }
        let mut property = Property {
            name: name.clone(),
            accepted: types.map(accepted_list).transpose()?.unwrap_or_default(),
            default: None,
            name_property: false,
            required: false,
            equal_to: None,
            regex: Vec::new(),
            coerce: None,
            callbacks: Vec::new(),
            location: self.location(info.span),
        };
        if let Some(options) = options {
            let Value::Hash(hash) = options else {
                return Err(Fault::type_error(format!(
                    "`{method} :{name}` takes its options as a Hash (`default: 80`)"
                )));
            };
            for (key, value) in hash.map.borrow().iter() {
                let key = key.to_value().to_s();
                if key != "coerce" && key != "callbacks" {
                    refuse_stray_proc(value, &format!("`{key}:` of `{name}`"))?;
                }
                match key.as_str() {
                    "default" => property.default = Some(value.to_json().map_err(Fault::type_error)?),
                    "name_property" | "name_attribute" => property.name_property = value.truthy(),
                    "required" => property.required = value.truthy(),
                    "kind_of" | "is" => property.accepted = accepted_list(value)?,
                    "equal_to" => {
                        property.equal_to = Some(match value.to_json().map_err(Fault::type_error)? {
                            Json::Array(items) => items,
                            one => vec![one],
                        })
                    }
                    "regex" => property.regex = regex_list(value)?,
                    "coerce" => property.coerce = Some(self.kept_proc(value, "coerce")?),
                    "callbacks" => property.callbacks = self.callbacks(value)?,
                    "description" | "introduced" | "desired_state" | "identity" | "sensitive"
                    | "deprecated" | "skip_docs" => {}
                    other => {
                        return Err(Fault::new(
                            "NotImplementedError",
                            format!("property option `{other}:` is not supported (supported: default, name_property, required, equal_to, kind_of, regex, coerce, callbacks)"),
                        ))
                    }
                }
            }
        }
        // As Chef: with `coerce:`, the default is coerced and checked when a resource uses it,
        // not when the type loads.
        if let (Some(default), None) = (&property.default, &property.coerce) {
            self.rtype.check_value(&property, default).map_err(|why| {
                Fault::new(
                    "Chef::Exceptions::ValidationFailed",
                    format!("default of {why}"),
                )
            })?;
        }
        self.rtype.properties.insert(name, property);
        Ok(())
    }

    fn call_at_top<'a>(
        &mut self,
        name: &str,
        args: &[Value<'a>],
        info: CallInfo,
    ) -> Result<Reply<'a>, Fault> {
        if matches!(name, "proc" | "lambda") {
            if !info.has_block {
                return Err(Fault::argument(format!(
                    "`{name}` takes a block: {name} {{ |value| ... }}"
                )));
            }
            self.pending = Some(PendingBlock::Proc);
            return Ok(Reply::TakeBlock);
        }
        if let Some(why) = converge_time_refusal(name).or_else(|| super::recipe::refusal(name)) {
            return Err(Fault::new("NotImplementedError", format!("`{name}` {why}")));
        }
        if name == "lazy" {
            // Allowed in action bodies (a sub-resource's property), not for the type's own
            // properties, whose values its actions compile with.
            return Err(Fault::new(
                "NotImplementedError",
                "`lazy` for a property of a resource type is not supported: skillet compiles the actions with the property values before anything runs; give a plain default or compute the value in the action",
            ));
        }
        match (name, self.role) {
            ("property" | "attribute", FileRole::Resource) => self.property(name, args, info)?,
            ("actions" | "allowed_actions", FileRole::Resource) => {
                for action in words(name, args)? {
                    check_action_name(&action)?;
                    if !self.rtype.declared_actions.contains(&action) {
                        self.rtype.declared_actions.push(action);
                    }
                }
            }
            ("default_action", FileRole::Resource) => {
                let actions = words(name, args)?;
                for action in &actions {
                    check_action_name(action)?;
                }
                self.rtype.default_action = Some(actions);
            }
            ("resource_name" | "provides", _) => {
                let Some(type_name) = args.first().and_then(word) else {
                    return Err(Fault::argument(format!(
                        "`{name}` takes the resource type as a Symbol"
                    )));
                };
                if self.role == FileRole::Resource {
                    self.rename(name, type_name);
                }
            }
            (
                "unified_mode" | "use_inline_resources" | "description" | "introduced" | "examples",
                _,
            ) => {}
            ("action", _) => {
                let [action] = args else {
                    return Err(Fault::argument(
                        "`action` takes one name: action :create do ... end",
                    ));
                };
                let action =
                    word(action).ok_or_else(|| Fault::type_error("`action` takes a Symbol"))?;
                check_action_name(&action)?;
                if !info.has_block {
                    return Err(Fault::argument(format!(
                        "`action :{action}` needs a block: action :{action} do ... end"
                    )));
                }
                self.pending = Some(PendingBlock::Action(action, self.location(info.span)));
                return Ok(Reply::TakeBlock);
            }
            ("action_class", _) if info.has_block => {
                self.pending = Some(PendingBlock::ActionClass);
                return Ok(Reply::TakeBlock);
            }
            _ => return Ok(Reply::NotFound),
        }
        Ok(Reply::Value(Value::Nil))
    }
}

fn check_action_name(action: &str) -> Result<(), Fault> {
    match Action::named(action) {
        Some(_) => Ok(()),
        None => Err(Fault::argument(format!(
            "`{action}` is not a valid action name"
        ))),
    }
}

/// `regex: /x/` or `regex: [/x/, /y/]`.
fn regex_list(value: &Value<'_>) -> Result<Vec<Arc<RubyRegex>>, Fault> {
    let items = match value.clone().materialize() {
        Value::Array(items) => items.items.borrow().clone(),
        one => vec![one],
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Regex(r) => Ok(r),
            other => Err(Fault::type_error(format!(
                "`regex:` takes a Regexp, got {}",
                other.class_name()
            ))),
        })
        .collect()
}

/// A property's type argument: a class, a value, or an Array of them.
fn accepted_list(types: &Value<'_>) -> Result<Vec<Accepted>, Fault> {
    match types.clone().materialize() {
        Value::Array(items) => items.items.borrow().iter().map(accepted_one).collect(),
        one => Ok(vec![accepted_one(&one)?]),
    }
}

fn accepted_one(value: &Value<'_>) -> Result<Accepted, Fault> {
    Ok(match value {
        Value::Module(class) => Accepted::Class(class),
        Value::Regex(_) => {
            return Err(Fault::new(
                "NotImplementedError",
                "a Regexp as a property type is not supported; use String",
            ))
        }
        other => Accepted::Exactly(other.to_json().map_err(Fault::type_error)?),
    })
}

impl<'a> Host<'a> for TypeFile<'_> {
    fn call(
        &mut self,
        receiver: Option<&Value<'a>>,
        name: &str,
        args: &[Value<'a>],
        info: CallInfo,
    ) -> Result<Reply<'a>, Fault> {
        if receiver.is_some() {
            return Ok(Reply::NotFound);
        }
        self.call_at_top(name, args, info)
    }

    fn take_block(&mut self, block: CapturedBlock, _info: CallInfo) -> Result<Value<'a>, Fault> {
        match self.pending.take() {
            Some(PendingBlock::Action(name, location)) => {
                if let Some(body) = &block.block.body {
                    super::scan::each_call(body, &mut |call, span| match converge_time_refusal(
                        &call.name,
                    ) {
                        Some(why) if call.receiver.is_none() => Err(Fault::new(
                            "NotImplementedError",
                            format!("`{}` {why}", call.name),
                        )
                        .at(span)),
                        _ => Ok(()),
                    })?;
                }
                self.rtype.actions.insert(
                    name,
                    ActionBody {
                        location,
                        body: block,
                        file: self.file.clone(),
                        source: self.source.clone(),
                    },
                );
            }
            Some(PendingBlock::ActionClass) => {
                let statements: Vec<&Node> = match &block.block.body {
                    None => Vec::new(),
                    Some(body) => match &body.expr {
                        Expr::Seq(items) => items.iter().collect(),
                        _ => vec![body],
                    },
                };
                for statement in statements {
                    let Expr::Def(name, method) = &statement.expr else {
                        return Err(Fault::new(
                            "NotImplementedError",
                            "`action_class` may only define methods (`def name ... end`) in skillet",
                        )
                        .at(statement.span));
                    };
                    self.rtype.helpers.push((name.clone(), method.clone()));
                }
            }
            Some(PendingBlock::Proc) => {
                self.procs.push(Arc::new(block));
                return Ok(proc_value(self.procs.len() - 1));
            }
            None => {}
        }
        Ok(Value::Nil)
    }

    fn keeps_procs(&self) -> bool {
        true
    }
}

/// How a kept proc is named in a resource file: a Symbol no Ruby source writes (NUL first),
/// then its index among the file's procs.
const PROC_PREFIX: &str = "\u{0}proc:";

/// The value a `proc { }` call answers in a resource file.
fn proc_value<'a>(index: usize) -> Value<'a> {
    Value::Sym(Arc::from(format!("{PROC_PREFIX}{index}")))
}

/// Refuses a proc in `value` (or anywhere inside it): only `coerce:` and `callbacks:` take
/// procs, and one elsewhere (a type list, `equal_to:`, a default) would not be run.
fn refuse_stray_proc(value: &Value<'_>, place: &str) -> Result<(), Fault> {
    let stray = match value.clone().materialize() {
        Value::Array(items) => items
            .items
            .borrow()
            .iter()
            .any(|v| refuse_stray_proc(v, place).is_err()),
        Value::Hash(hash) => hash
            .map
            .borrow()
            .values()
            .any(|v| refuse_stray_proc(v, place).is_err()),
        one => proc_index(&one).is_some(),
    };
    if stray {
        return Err(Fault::new(
            "NotImplementedError",
            format!("a proc in {place} is not supported: only `coerce:` and `callbacks:` take procs (a default cannot be computed either: actions compile with the property values)"),
        ));
    }
    Ok(())
}

/// The index of the kept proc `value` stands for, if it is one.
fn proc_index(value: &Value<'_>) -> Option<usize> {
    match value {
        Value::Sym(name) => name.strip_prefix(PROC_PREFIX)?.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SITE: &str = "\
unified_mode true
property :docroot, String, name_property: true
property :port, Integer, default: 80
property :mode, [String, nil], equal_to: ['0644', '0600']
property :owner, String, required: true

action :create do
  directory new_resource.docroot
end

action :delete do
  directory docroot do
    action :delete
  end
end
";

    fn site() -> ResourceType {
        load_resource_file(Path::new("cookbooks/web/resources/site.rb"), SITE, "web").unwrap()
    }

    fn typed(source: &str) -> crate::Result<ResourceType> {
        load_resource_file(Path::new("cookbooks/web/resources/app.rb"), source, "web")
    }

    #[test]
    fn coerce_turns_given_values_and_the_default_into_the_stored_ones() {
        let t = typed(
            "property :port, Integer, default: '80', coerce: proc { |p| p.to_i }\n\
             property :name, String, coerce: ->(n) { n.downcase }\n\
             property :tags, Array, coerce: lambda { |t| t.is_a?(Array) ? t : [t] }\n",
        )
        .unwrap();
        let port = &t.properties["port"];
        assert_eq!(
            port.default,
            Some(json!("80")),
            "kept as written, coerced when used"
        );
        assert_eq!(t.coerce(port, &json!("8080")).unwrap(), json!(8080));
        assert_eq!(t.coerce(port, &Json::Null).unwrap(), Json::Null);
        assert_eq!(
            t.coerce(&t.properties["name"], &json!("WWW")).unwrap(),
            json!("www")
        );
        assert_eq!(
            t.coerce(&t.properties["tags"], &json!("a")).unwrap(),
            json!(["a"])
        );
        let err = t.coerce(&t.properties["name"], &json!(1)).unwrap_err();
        assert!(err.contains("downcase"), "{err}");
    }

    #[test]
    fn callbacks_name_the_rule_a_value_breaks() {
        let t = typed(
            "property :port, Integer, callbacks: {\n  \
             'should be a valid non-system port' => ->(p) { p > 1024 && p < 65535 },\n}\n",
        )
        .unwrap();
        let port = &t.properties["port"];
        assert!(t.check_value(port, &json!(8080)).is_ok());
        assert_eq!(
            t.check_value(port, &json!(80)).unwrap_err(),
            "Option port's value 80 should be a valid non-system port!"
        );
    }

    #[test]
    fn a_proc_where_a_value_belongs_and_a_value_where_a_proc_belongs_are_refused() {
        for source in [
            "property :port, Integer, default: proc { 1 }\n",
            "property :port, [Integer, proc { |p| p > 0 }]\n",
            "property :port, Integer, equal_to: [1, ->(p) { p }]\n",
            "property :port, Hash, default: { a: proc { 1 } }\n",
        ] {
            let err = typed(source).unwrap_err();
            assert!(
                err.to_string()
                    .contains("only `coerce:` and `callbacks:` take procs"),
                "{source}: {err}"
            );
        }
        let err = typed("property :port, Integer, coerce: 1\n").unwrap_err();
        assert!(err.to_string().contains("`coerce:` takes a proc"), "{err}");
        // The default is coerced when a resource uses it, as Chef does, not when the type loads.
        let t =
            typed("property :port, Integer, default: 1, coerce: proc { |p| p.nope }\n").unwrap();
        let err = t.coerce(&t.properties["port"], &json!(1)).unwrap_err();
        assert!(err.contains("nope"), "{err}");
    }

    #[test]
    fn a_resource_file_declares_a_type_named_after_cookbook_and_file() {
        let t = site();
        assert_eq!(t.name, "web_site");
        assert_eq!(
            t.properties.keys().collect::<Vec<_>>(),
            ["docroot", "port", "mode", "owner"]
        );
        assert!(t.properties["docroot"].name_property);
        assert!(t.properties["owner"].required);
        assert_eq!(t.properties["port"].default, Some(json!(80)));
        assert_eq!(t.default_actions(), [Action::Create]);
        assert_eq!(t.allowed_actions(), [Action::Create, Action::Delete]);
        assert_eq!(
            t.actions["delete"].location.to_string(),
            "cookbooks/web/resources/site.rb:11:1"
        );
    }

    #[test]
    fn values_are_checked_against_types_and_equal_to() {
        let t = site();
        assert!(t.check_value(&t.properties["port"], &json!(8080)).is_ok());
        assert_eq!(
            t.check_value(&t.properties["port"], &json!("8080"))
                .unwrap_err(),
            "Property port must be one of: Integer!  You passed \"8080\"."
        );
        assert_eq!(
            t.check_value(&t.properties["mode"], &json!("0777"))
                .unwrap_err(),
            "Option mode must be equal to one of: \"0644\", \"0600\"!  You passed \"0777\"."
        );
    }

    #[test]
    fn resource_name_and_lwrp_declarations() {
        let t = load_resource_file(
            Path::new("resources/x.rb"),
            "resource_name :thing\nprovides :gadget\nprovides :thing\nactions :start, :stop\ndefault_action :stop\nattribute :port, kind_of: Integer, default: 1\n",
            "cb",
        )
        .unwrap();
        assert_eq!(t.name, "thing");
        assert_eq!(t.aliases, ["gadget"]);
        assert_eq!(t.default_actions(), [Action::Stop]);
        assert_eq!(t.properties["port"].accepted, [Accepted::Class("Integer")]);
        let t = load_resource_file(
            Path::new("resources/x.rb"),
            "attribute :user, kind_of: String, regex: /^[a-z]+$/\n",
            "cb",
        )
        .unwrap();
        assert!(t.check_value(&t.properties["user"], &json!("bob")).is_ok());
        assert_eq!(
            t.check_value(&t.properties["user"], &json!("Bob!"))
                .unwrap_err(),
            "Option user's value \"Bob!\" does not match regular expression /^[a-z]+$/"
        );
    }

    #[test]
    fn action_class_methods_and_top_level_defs_become_helpers() {
        let t = load_resource_file(
            Path::new("r.rb"),
            "action_class do\n  def a\n    1\n  end\n\n  def b(x)\n    x\n  end\nend\ndef whyrun_supported?\n  true\nend\n",
            "cb",
        )
        .unwrap();
        let names: Vec<&str> = t.helpers.iter().map(|(n, _)| n.as_ref()).collect();
        assert_eq!(names, ["a", "b", "whyrun_supported?"]);
        let err = load_resource_file(
            Path::new("r.rb"),
            "action_class do\n  include Helpers\nend\n",
            "cb",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("r.rb:2:3: `action_class` may only define methods"),
            "{err}"
        );
    }

    #[test]
    fn converge_time_ruby_is_refused_at_its_line() {
        let err = load_resource_file(
            Path::new("r.rb"),
            "action :create do\n  converge_by 'x' do\n  end\nend\n",
            "cb",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("r.rb:2:3: `converge_by` runs a block"),
            "{err}"
        );
        let err = load_resource_file(Path::new("r.rb"), "load_current_value do\nend\n", "cb")
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("r.rb:1:1: `load_current_value`"),
            "{err}"
        );
        let err = load_resource_file(
            Path::new("r.rb"),
            "property :p, Integer, default: 'x'\n",
            "cb",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("default of Property p must be one of: Integer"),
            "{err}"
        );
        let err = load_resource_file(
            Path::new("r.rb"),
            "property :p, String, default: lazy { 'x' }\n",
            "cb",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("r.rb:1:31: `lazy` for a property"),
            "{err}"
        );
    }
}
