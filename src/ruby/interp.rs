//! The tree-walking evaluator: scopes, control flow, method dispatch and blocks.
//!
//! What a file may call without a receiver (`default`, `depends`, `node`) comes from a [`Host`];
//! methods of built-in values live in `builtins`, `collections` and `modules`.

use super::ast::{
    Arg, AssignOp, Block, BlockArg, Call, Expr, HashItem, Local, Node, Param, Span, Target,
};
use super::frozen::{CapturedBlock, FrozenValue};
use super::lower::Program;
use super::value::{equal, AttrRef, HashKey, Mutability, Value};
use indexmap::IndexMap;
use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

/// How much stack the evaluator (or the lowering) may use before refusing to go deeper.
const STACK_BUDGET: usize = 1 << 20;

/// An approximation of the current stack position: the address of a local.
pub(crate) fn stack_position() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

/// Whether recursion that started at `base` has used up its stack budget.
pub(crate) fn stack_exhausted(base: usize) -> bool {
    base.abs_diff(stack_position()) > STACK_BUDGET
}

/// The class of a fault that carries an error of the host (the compiler) out of the
/// evaluation; like refusals, `rescue` never catches it.
pub(crate) const HOST_FAILURE: &str = "Skillet::HostFailure";

/// The object `new_resource` answers in a custom resource's action; its methods are the host's.
pub(crate) const NEW_RESOURCE: &str = "Chef::Resource";

/// A Ruby error being raised: its class, message and where (once known).
#[derive(Debug, Clone)]
pub(crate) struct Fault {
    pub class: &'static str,
    pub message: String,
    pub span: Option<Span>,
}

impl Fault {
    /// A fault with no location yet; the enclosing call adds its own.
    pub(crate) fn new(class: &'static str, message: impl Into<String>) -> Self {
        Self {
            class,
            message: message.into(),
            span: None,
        }
    }

    /// Sets the location unless one is known.
    pub(crate) fn at(mut self, span: Span) -> Self {
        self.span.get_or_insert(span);
        self
    }

    /// `NoMethodError` for `name` on `receiver`.
    pub(crate) fn no_method(name: &str, receiver: &Value<'_>) -> Self {
        Fault::new(
            "NoMethodError",
            format!("undefined method `{name}` for {}", receiver.class_name()),
        )
    }

    /// Whether a bare `rescue` catches it: like Ruby's StandardError, refusals of unsupported
    /// code and stack exhaustion are not caught, so they can never be skipped silently.
    pub(crate) fn is_rescuable(&self) -> bool {
        !matches!(
            self.class,
            "NotImplementedError" | "SystemStackError" | "SyntaxError" | HOST_FAILURE
        )
    }

    /// `ArgumentError`.
    pub(crate) fn argument(message: impl Into<String>) -> Self {
        Fault::new("ArgumentError", message)
    }

    /// `TypeError`.
    pub(crate) fn type_error(message: impl Into<String>) -> Self {
        Fault::new("TypeError", message)
    }
}

/// How evaluation leaves an expression other than by its value.
#[derive(Debug)]
pub(crate) enum Flow<'a> {
    Error(Fault),
    Next(Value<'a>),
    Break(Value<'a>),
    Return(Value<'a>),
}

impl From<Fault> for Flow<'_> {
    fn from(fault: Fault) -> Self {
        Flow::Error(fault)
    }
}

/// The result of evaluating something.
pub(crate) type Eval<'a> = Result<Value<'a>, Flow<'a>>;

/// What a host did with a call.
pub(crate) enum Reply<'a> {
    /// The call's result.
    Value(Value<'a>),
    /// Dispatch the same method on this value instead (a precedence level read).
    Delegate(Value<'a>),
    /// The host has no such method.
    NotFound,
    /// Evaluate the call's block now (a resource block: its calls go to the host, which knows
    /// it is inside the block), then ask [`Host::block_done`] for the call's value.
    RunBlock,
    /// Hand the call's block, with a copy of the variables it sees, to [`Host::take_block`]
    /// (a block guard, evaluated later).
    TakeBlock,
    /// Call [`Host::call_with_ivars`] with the caller's instance variables (a template's
    /// partials and helpers see the template's `@vars`).
    WithIvars,
    /// Run the call's block with each item of this collection (`search(:node, q) { |n| }`);
    /// without a block, the collection is the call's value.
    Iterate(Value<'a>),
}

/// Facts about a call a host may want.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallInfo {
    pub span: Span,
    pub has_block: bool,
    pub variable_call: bool,
}

/// A host with no methods of its own: plain Ruby only.
pub(crate) struct PlainHost;

impl<'a> Host<'a> for PlainHost {
    fn call(
        &mut self,
        _receiver: Option<&Value<'a>>,
        _name: &str,
        _args: &[Value<'a>],
        _info: CallInfo,
    ) -> Result<Reply<'a>, Fault> {
        Ok(Reply::NotFound)
    }
}

/// The environment of a file: methods without receiver, and the node objects.
pub(crate) trait Host<'a> {
    /// A call on `receiver` (None: no receiver or `self`; else `Value::Node`/`Value::Attr`).
    fn call(
        &mut self,
        receiver: Option<&Value<'a>>,
        name: &str,
        args: &[Value<'a>],
        info: CallInfo,
    ) -> Result<Reply<'a>, Fault>;

    /// The current value at a precedence-level path; None when not set.
    fn resolve(&mut self, _attr: &AttrRef) -> Result<Option<Value<'a>>, Fault> {
        Ok(None)
    }

    /// The block a [`Reply::RunBlock`] asked for has run (`completed`) or stopped with an
    /// error or `return`; the answer is the call's value.
    fn block_done(&mut self, _completed: bool, _info: CallInfo) -> Result<Value<'a>, Fault> {
        Ok(Value::Nil)
    }

    /// The block a [`Reply::TakeBlock`] asked for; the answer is the call's value.
    fn take_block(&mut self, _block: CapturedBlock, _info: CallInfo) -> Result<Value<'a>, Fault> {
        Ok(Value::Nil)
    }

    /// Whether `proc { }` and `lambda { }` (and `->(x) { }`) are the host's to answer: a file
    /// that keeps blocks as values for later (a property's `coerce:`). Elsewhere they are
    /// refused as unsupported Ruby.
    fn keeps_procs(&self) -> bool {
        false
    }

    /// A constant the evaluator does not know (a library module); None leaves it undefined.
    fn constant(&mut self, _name: &str) -> Result<Option<Value<'a>>, Fault> {
        Ok(None)
    }

    /// `module Name ... end` is entered; most files may not define modules.
    fn open_module(&mut self, name: &str) -> Result<(), Fault> {
        Err(Fault::new(
            "NotImplementedError",
            format!(
                "unsupported Ruby: module definition (`module {name}`); modules are read only from a cookbook's libraries/, as template helpers"
            ),
        ))
    }

    /// The module opened last is done.
    fn close_module(&mut self) {}

    /// `def name ... end` evaluated here: the host may take the definition for itself (a
    /// template's `helpers do ... end`, a library module) and answers true; otherwise (false)
    /// it becomes a method of the file being evaluated, as in Ruby.
    fn define(&mut self, _name: &str, _body: Arc<Block>) -> Result<bool, Fault> {
        Ok(false)
    }

    /// The call a [`Reply::WithIvars`] asked for, with the caller's instance variables.
    fn call_with_ivars(
        &mut self,
        name: &str,
        _args: &[Value<'a>],
        _ivars: &HashMap<Arc<str>, Value<'a>>,
        _info: CallInfo,
    ) -> Result<Value<'a>, Fault> {
        Err(Fault::new(
            "NoMethodError",
            format!("undefined method `{name}`"),
        ))
    }
}

/// An evaluator of one file or template.
pub(crate) struct Interp<'a, 'h> {
    pub file: &'h Path,
    frames: Vec<Vec<Value<'a>>>,
    stack_base: usize,
    /// The stack position of the evaluation this one runs inside (a partial or helper of a
    /// template), so nested evaluators share one stack budget.
    outer_base: Option<usize>,
    pub ivars: HashMap<Arc<str>, Value<'a>>,
    /// Methods the code defined with `def` that the host did not take (or that were given to
    /// it, as a resource type's helpers are to its actions); calls without a receiver find
    /// them first.
    pub methods: HashMap<Arc<str>, Arc<Block>>,
    host: &'h mut dyn Host<'a>,
    /// ERB output.
    pub out: String,
}

impl<'a, 'h> Interp<'a, 'h> {
    /// An evaluator for `file` with `host`'s methods.
    pub(crate) fn new(file: &'h Path, host: &'h mut dyn Host<'a>) -> Self {
        Self {
            file,
            frames: Vec::new(),
            stack_base: stack_position(),
            outer_base: None,
            ivars: HashMap::new(),
            methods: HashMap::new(),
            host,
            out: String::new(),
        }
    }

    /// Makes this evaluator count its stack from `base`, the start of the evaluation it runs
    /// inside, so that evaluators nested through the host (partials, helpers calling helpers)
    /// cannot recurse past the budget.
    pub(crate) fn nested_in(&mut self, base: usize) {
        self.outer_base = Some(base);
        self.stack_base = base;
    }

    /// Runs a program; `return` at top level ends it early.
    pub(crate) fn run(&mut self, program: &Program) -> Result<Value<'a>, Fault> {
        self.stack_base = self.outer_base.unwrap_or_else(stack_position);
        self.frames.push(vec![Value::Nil; program.locals as usize]);
        let result = self.eval(&program.body);
        self.frames.pop();
        match result {
            Ok(v) | Err(Flow::Return(v)) => Ok(v),
            Err(Flow::Error(fault)) => Err(fault),
            Err(Flow::Next(_)) => Err(Fault::new("SyntaxError", "`next` used outside of a block")),
            Err(Flow::Break(_)) => {
                Err(Fault::new("SyntaxError", "`break` used outside of a block"))
            }
        }
    }

    fn local(&mut self, local: Local) -> Result<&mut Value<'a>, Fault> {
        let index = self.frames.len().checked_sub(1 + local.depth as usize);
        index
            .and_then(|i| self.frames.get_mut(i))
            .and_then(|frame| frame.get_mut(local.slot as usize))
            .ok_or_else(|| Fault::new("NameError", "local variable out of scope"))
    }

    /// Evaluates one expression.
    pub(crate) fn eval(&mut self, node: &Node) -> Eval<'a> {
        let span = node.span;
        if stack_exhausted(self.stack_base) {
            return Err(Fault::new(
                "SystemStackError",
                "stack level too deep (nesting too deep)",
            )
            .at(span)
            .into());
        }
        let at = |f: Fault| Flow::Error(f.at(span));
        Ok(match &node.expr {
            Expr::Nil => Value::Nil,
            Expr::True => Value::Bool(true),
            Expr::False => Value::Bool(false),
            Expr::SelfRef => Value::Module("main"),
            Expr::Int(i) => Value::Int(*i),
            Expr::Float(f) => Value::Float(*f),
            Expr::Str(s) => Value::Str(s.clone()),
            Expr::Sym(s) => Value::Sym(s.clone()),
            Expr::Interpolated(parts) => Value::str(self.interpolate(parts)?),
            Expr::InterpolatedSym(parts) => Value::Sym(Arc::from(self.interpolate(parts)?)),
            Expr::Regex(regex) => Value::Regex(regex.clone()),
            Expr::InterpolatedRegex(parts, flags) => {
                let source = self.interpolate(parts)?;
                let regex = super::regexp::RubyRegex::compile(&source, *flags)
                    .map_err(|m| Fault::new("RegexpError", m).at(span))?;
                Value::Regex(Arc::new(regex))
            }
            Expr::Array(items) => Value::array(self.eval_args(items)?),
            Expr::Hash(items) => self.eval_hash(items)?,
            Expr::Range {
                low,
                high,
                exclusive,
            } => {
                let low = match low {
                    Some(l) => self.eval(l)?,
                    None => Value::Nil,
                };
                let high = match high {
                    Some(h) => self.eval(h)?,
                    None => Value::Nil,
                };
                Value::Range(Rc::new((low, high, *exclusive)))
            }
            Expr::LocalGet(local) => self.local(*local).map_err(at)?.clone(),
            Expr::LocalSet(local, value) => {
                let value = self.eval(value)?;
                *self.local(*local).map_err(at)? = value.clone();
                value
            }
            Expr::LocalOpSet(local, op, value) => {
                let current = self.local(*local).map_err(at)?.clone();
                let Some(new) = self.op_assign(current, op, value, span)? else {
                    return Ok(self.local(*local).map_err(at)?.clone());
                };
                *self.local(*local).map_err(at)? = new.clone();
                new
            }
            Expr::IvarGet(name) => self.ivars.get(name).cloned().unwrap_or(Value::Nil),
            Expr::IvarSet(name, value) => {
                let value = self.eval(value)?;
                self.ivars.insert(name.clone(), value.clone());
                value
            }
            Expr::IvarOpSet(name, op, value) => {
                let current = self.ivars.get(name).cloned().unwrap_or(Value::Nil);
                match self.op_assign(current.clone(), op, value, span)? {
                    Some(new) => {
                        self.ivars.insert(name.clone(), new.clone());
                        new
                    }
                    None => current,
                }
            }
            Expr::MultiSet(targets, value) => {
                let value = self.eval(value)?;
                self.assign_targets(targets, value.clone(), span)?;
                value
            }
            Expr::Const(name) => match super::modules::constant(name) {
                Ok(value) => value,
                Err(fault) => match self.host.constant(name).map_err(at)? {
                    Some(value) => value,
                    None => return Err(at(fault)),
                },
            },
            Expr::Call(call) => self.eval_call(call, span)?,
            Expr::IndexOpSet {
                receiver,
                args,
                op,
                value,
            } => self.index_op_set(receiver, args, op, value, span)?,
            Expr::And(left, right) => {
                let left = self.eval(left)?;
                if self.truthy(&left)? {
                    self.eval(right)?
                } else {
                    left
                }
            }
            Expr::Or(left, right) => {
                let left = self.eval(left)?;
                if self.truthy(&left)? {
                    left
                } else {
                    self.eval(right)?
                }
            }
            Expr::Not(value) => {
                let value = self.eval(value)?;
                Value::Bool(!self.truthy(&value)?)
            }
            Expr::If {
                cond,
                then,
                otherwise,
            } => {
                let cond = self.eval(cond)?;
                let branch = if self.truthy(&cond)? { then } else { otherwise };
                match branch {
                    Some(b) => self.eval(b)?,
                    None => Value::Nil,
                }
            }
            Expr::Case {
                subject,
                whens,
                otherwise,
            } => self.eval_case(subject.as_deref(), whens, otherwise.as_deref(), span)?,
            Expr::Seq(nodes) => {
                let mut last = Value::Nil;
                for n in nodes {
                    last = self.eval(n)?;
                }
                last
            }
            Expr::Begin {
                body,
                rescues,
                otherwise,
                ensure,
            } => self.eval_begin(
                body.as_deref(),
                rescues,
                otherwise.as_deref(),
                ensure.as_deref(),
            )?,
            Expr::RescueModifier(body, rescue) => match self.eval(body) {
                Err(Flow::Error(fault)) if fault.is_rescuable() => self.eval(rescue)?,
                other => other?,
            },
            Expr::Next(value) => return Err(Flow::Next(self.eval_optional(value.as_deref())?)),
            Expr::Break(value) => return Err(Flow::Break(self.eval_optional(value.as_deref())?)),
            Expr::Return(value) => return Err(Flow::Return(self.eval_optional(value.as_deref())?)),
            Expr::SourceFile => Value::str(self.file.to_string_lossy()),
            Expr::Module(name, body, locals) => {
                self.host.open_module(name).map_err(|f| f.at(node.span))?;
                self.frames.push(vec![Value::Nil; *locals as usize]);
                let result = self.eval_optional(body.as_deref());
                self.frames.pop();
                self.host.close_module();
                result?;
                Value::Nil
            }
            Expr::Def(name, method) => {
                let taken = self
                    .host
                    .define(name, method.clone())
                    .map_err(|f| f.at(node.span))?;
                if !taken {
                    self.methods.insert(name.clone(), method.clone());
                }
                Value::Sym(name.clone())
            }
            Expr::Text(text) => {
                self.out.push_str(text);
                Value::Nil
            }
            Expr::Output { value, escape } => {
                let value = self.eval(value)?;
                let text = self.stringify(value, span)?;
                if *escape {
                    escape_html(&text, &mut self.out);
                } else {
                    self.out.push_str(&text);
                }
                Value::Nil
            }
        })
    }

    fn eval_optional(&mut self, node: Option<&Node>) -> Eval<'a> {
        match node {
            Some(n) => self.eval(n),
            None => Ok(Value::Nil),
        }
    }

    /// Ruby truthiness; a precedence-level path is read first.
    pub(crate) fn truthy(&mut self, value: &Value<'a>) -> Result<bool, Fault> {
        match value {
            Value::Attr(attr) => Ok(self.host.resolve(attr)?.is_none_or(|v| v.truthy())),
            other => Ok(other.truthy()),
        }
    }

    /// `to_s` as string interpolation and `<%= %>` call it.
    pub(crate) fn stringify(&mut self, value: Value<'a>, span: Span) -> Result<String, Flow<'a>> {
        match value {
            Value::Str(s) => Ok(s.to_string()),
            Value::Attr(_) | Value::Node => {
                let s = self.call_method(value, "to_s", Vec::new(), None, span)?;
                Ok(s.to_s())
            }
            other => Ok(other.to_s()),
        }
    }

    fn interpolate(&mut self, parts: &[Node]) -> Result<String, Flow<'a>> {
        let mut out = String::new();
        for part in parts {
            let value = self.eval(part)?;
            out.push_str(&self.stringify(value, part.span)?);
        }
        Ok(out)
    }

    /// Evaluates arguments, expanding splats.
    pub(crate) fn eval_args(&mut self, args: &[Arg]) -> Result<Vec<Value<'a>>, Flow<'a>> {
        let mut out = Vec::with_capacity(args.len());
        for arg in args {
            match arg {
                Arg::Plain(n) => out.push(self.eval(n)?),
                Arg::Splat(n) => {
                    let value = self.eval(n)?;
                    out.extend(super::collections::splat_items(value));
                }
            }
        }
        Ok(out)
    }

    fn eval_hash(&mut self, items: &[HashItem]) -> Eval<'a> {
        let mut map = IndexMap::with_capacity(items.len());
        for item in items {
            match item {
                HashItem::Pair(k, v) => {
                    let key = self.eval(k)?;
                    let key = HashKey::of(&key).map_err(|m| Fault::type_error(m).at(k.span))?;
                    let value = self.eval(v)?;
                    map.insert(key, value);
                }
                HashItem::Splat(n) => {
                    let value = self.eval(n)?.materialize();
                    match value {
                        Value::Hash(h) => {
                            for (k, v) in h.map.borrow().iter() {
                                map.insert(k.clone(), v.clone());
                            }
                        }
                        Value::Nil => {}
                        other => {
                            return Err(Fault::type_error(format!(
                                "no implicit conversion of {} into Hash",
                                other.class_name()
                            ))
                            .at(n.span)
                            .into())
                        }
                    }
                }
            }
        }
        Ok(Value::hash(map))
    }

    fn op_assign(
        &mut self,
        current: Value<'a>,
        op: &AssignOp,
        value: &Node,
        span: Span,
    ) -> Result<Option<Value<'a>>, Flow<'a>> {
        Ok(match op {
            AssignOp::Or => {
                if self.truthy(&current)? {
                    None
                } else {
                    Some(self.eval(value)?)
                }
            }
            AssignOp::And => {
                if self.truthy(&current)? {
                    Some(self.eval(value)?)
                } else {
                    None
                }
            }
            AssignOp::Binary(name) => {
                let operand = self.eval(value)?;
                Some(self.call_method(current, name, vec![operand], None, span)?)
            }
        })
    }

    fn index_op_set(
        &mut self,
        receiver: &Node,
        args: &[Arg],
        op: &AssignOp,
        value: &Node,
        span: Span,
    ) -> Eval<'a> {
        let receiver = self.eval(receiver)?;
        let args = self.eval_args(args)?;
        let mut current = self.call_method(receiver.clone(), "[]", args.clone(), None, span)?;
        if let Value::Attr(attr) = &current {
            current = self.host.resolve(attr)?.unwrap_or(Value::Nil);
        }
        let Some(new) = self.op_assign(current.clone(), op, value, span)? else {
            return Ok(current);
        };
        let mut set_args = args;
        set_args.push(new.clone());
        self.call_method(receiver, "[]=", set_args, None, span)?;
        Ok(new)
    }

    fn assign_targets(
        &mut self,
        targets: &[Target],
        value: Value<'a>,
        span: Span,
    ) -> Result<(), Flow<'a>> {
        let items = super::collections::to_array(value);
        let splat_at = targets.iter().position(|t| matches!(t, Target::Splat(_)));
        for (i, target) in targets.iter().enumerate() {
            let value = match (splat_at, target) {
                (Some(s), Target::Splat(_)) => {
                    let after = targets.len() - s - 1;
                    let end = items.len().saturating_sub(after).max(s);
                    Value::array(items.get(s..end).unwrap_or_default().to_vec())
                }
                (Some(s), _) if i > s => {
                    let from_end = targets.len() - i;
                    items
                        .len()
                        .checked_sub(from_end)
                        .filter(|&j| j >= s)
                        .and_then(|j| items.get(j).cloned())
                        .unwrap_or(Value::Nil)
                }
                _ => items.get(i).cloned().unwrap_or(Value::Nil),
            };
            self.assign(target, value, span)?;
        }
        Ok(())
    }

    fn assign(&mut self, target: &Target, value: Value<'a>, span: Span) -> Result<(), Flow<'a>> {
        match target {
            Target::Local(local) => *self.local(*local).map_err(|f| f.at(span))? = value,
            Target::Ivar(name) => {
                self.ivars.insert(name.clone(), value);
            }
            Target::Splat(inner) => self.assign(inner, value, span)?,
            Target::Nested(targets) => self.assign_targets(targets, value, span)?,
        }
        Ok(())
    }

    fn eval_case(
        &mut self,
        subject: Option<&Node>,
        whens: &[super::ast::When],
        otherwise: Option<&Node>,
        span: Span,
    ) -> Eval<'a> {
        let subject = match subject {
            Some(s) => Some(self.eval(s)?),
            None => None,
        };
        for when in whens {
            for condition in self.eval_args(&when.conditions)? {
                let matched = match &subject {
                    Some(s) => self.case_equal(&condition, s, span)?,
                    None => self.truthy(&condition)?,
                };
                if matched {
                    return self.eval_optional(when.body.as_ref());
                }
            }
        }
        self.eval_optional(otherwise)
    }

    /// Ruby `===` as `case`/`when` uses it.
    pub(crate) fn case_equal(
        &mut self,
        pattern: &Value<'a>,
        value: &Value<'a>,
        span: Span,
    ) -> Result<bool, Flow<'a>> {
        Ok(match pattern {
            Value::Module(class) => super::modules::is_a(value, class),
            Value::Regex(regex) => match value {
                Value::Str(s) | Value::Sym(s) => regex.regex.is_match(s),
                _ => false,
            },
            Value::Range(_) => {
                let included =
                    self.call_method(pattern.clone(), "include?", vec![value.clone()], None, span)?;
                included.truthy()
            }
            Value::Attr(_) => {
                let eq =
                    self.call_method(pattern.clone(), "==", vec![value.clone()], None, span)?;
                eq.truthy()
            }
            _ => equal(pattern, value),
        })
    }

    fn eval_begin(
        &mut self,
        body: Option<&Node>,
        rescues: &[super::ast::Rescue],
        otherwise: Option<&Node>,
        ensure: Option<&Node>,
    ) -> Eval<'a> {
        let mut result = self.eval_optional(body);
        if let Err(Flow::Error(fault)) = &result {
            if let Some(rescue) = rescues.first().filter(|_| fault.is_rescuable()) {
                let fault = fault.clone();
                result = self.eval_rescue(rescue, &fault);
            }
        } else if result.is_ok() {
            if let Some(o) = otherwise {
                result = self.eval(o);
            }
        }
        if let Some(e) = ensure {
            self.eval(e)?;
        }
        result
    }

    /// A mutating call on a variable: borrowed JSON is copied into the variable first, so the
    /// change is kept; for a String (an immutable value here), the new string is written back.
    fn settle_receiver(&mut self, call: &Call, receiver: Value<'a>) -> Result<Value<'a>, Fault> {
        let Some(node) = &call.receiver else {
            return Ok(receiver);
        };
        if !matches!(node.expr, Expr::LocalGet(_) | Expr::IvarGet(_)) || !is_mutator(&call.name) {
            return Ok(receiver);
        }
        match receiver {
            Value::Json(_) => {
                let owned = receiver.materialize();
                self.store(node, owned.clone())?;
                Ok(owned)
            }
            other => Ok(other),
        }
    }

    fn store(&mut self, variable: &Node, value: Value<'a>) -> Result<(), Fault> {
        match &variable.expr {
            Expr::LocalGet(local) => *self.local(*local)? = value,
            Expr::IvarGet(name) => {
                self.ivars.insert(name.clone(), value);
            }
            _ => {}
        }
        Ok(())
    }

    /// A `rescue => e` clause: `e` is the error's message.
    fn eval_rescue(&mut self, rescue: &super::ast::Rescue, fault: &Fault) -> Eval<'a> {
        if let Some(target) = &rescue.variable {
            let error = Value::str(&fault.message);
            self.assign(target, error, fault.span.unwrap_or_default())?;
        }
        self.eval_optional(rescue.body.as_ref())
    }

    fn eval_call(&mut self, call: &Call, span: Span) -> Eval<'a> {
        let receiver = match &call.receiver {
            Some(r) => {
                let value = self.eval(r)?;
                Some(self.settle_receiver(call, value).map_err(|f| f.at(span))?)
            }
            None => None,
        };
        if call.safe_navigation && receiver.as_ref().is_some_and(Value::is_nil) {
            return Ok(Value::Nil);
        }
        let args = self.eval_args(&call.args)?;
        let block = call.block.as_ref();
        let string_receiver = matches!(receiver, Some(Value::Str(_)));
        let result = match receiver {
            None | Some(Value::Module("main")) => self.call_self(call, args, span),
            Some(Value::Nil) if call.name.as_ref() == "[]" => {
                let what = call
                    .receiver_text
                    .as_deref()
                    .map(|t| format!(" (`{t}` is nil)"))
                    .unwrap_or_default();
                Err(Fault::new(
                    "NoMethodError",
                    format!("undefined method `[]` for nil{what}"),
                )
                .into())
            }
            Some(receiver) => self.call_method(receiver, &call.name, args, block, span),
        };
        let root = call.receiver.as_ref().and_then(mutation_root);
        if let (true, Ok(Value::Str(_)), Some(node)) = (string_receiver, &result, root) {
            if is_string_mutator(&call.name) {
                if let Ok(new) = &result {
                    self.store(node, new.clone()).map_err(|f| f.at(span))?;
                }
            }
        }
        match result {
            Err(Flow::Break(value)) if block.is_some() => Ok(value),
            Err(Flow::Error(fault)) => Err(Flow::Error(fault.at(span))),
            other => other,
        }
    }

    fn call_self(&mut self, call: &Call, args: Vec<Value<'a>>, span: Span) -> Eval<'a> {
        let block = call.block.as_ref();
        if let Some(method) = self.methods.get(&call.name).cloned() {
            return self.call_defined(&call.name, &method, args);
        }
        if let Some(value) = self.kernel(&call.name, &args, span)? {
            return Ok(value);
        }
        let info = CallInfo {
            span,
            has_block: block.is_some(),
            variable_call: call.variable_call,
        };
        match self.host.call(None, &call.name, &args, info)? {
            Reply::Value(v) => Ok(v),
            Reply::Delegate(v) => self.call_method(v, &call.name, args, block, span),
            Reply::RunBlock => self.run_host_block(block, info),
            Reply::WithIvars => {
                Ok(self
                    .host
                    .call_with_ivars(&call.name, &args, &self.ivars, info)?)
            }
            Reply::Iterate(items) => match block {
                Some(_) => {
                    self.call_method(items, "each", Vec::new(), block, span)?;
                    Ok(Value::Nil)
                }
                None => Ok(items),
            },
            Reply::TakeBlock => {
                let Some(BlockArg::Code(block)) = block else {
                    return Err(Fault::argument(format!(
                        "`{}` expects a block (`{} {{ ... }}`)",
                        call.name, call.name
                    ))
                    .into());
                };
                let captured = self.capture(block);
                Ok(self.host.take_block(captured, info)?)
            }
            Reply::NotFound if call.variable_call => Err(Fault::new(
                "NameError",
                format!("undefined local variable or method `{}`", call.name),
            )
            .into()),
            Reply::NotFound => {
                Err(Fault::new("NoMethodError", format!("undefined method `{}`", call.name)).into())
            }
        }
    }

    /// Calls a method defined with `def`: its own scope, `return` ends it.
    fn call_defined(&mut self, name: &str, method: &Arc<Block>, args: Vec<Value<'a>>) -> Eval<'a> {
        if args.len() != method.params.len() {
            return Err(Fault::argument(format!(
                "wrong number of arguments (given {}, expected {}) for `{name}`",
                args.len(),
                method.params.len()
            ))
            .into());
        }
        let outer = std::mem::take(&mut self.frames);
        let result = self.yield_block(&BlockArg::Code(method.clone()), args);
        self.frames = outer;
        match result {
            Ok(v) | Err(Flow::Return(v)) => Ok(v),
            Err(Flow::Next(_) | Flow::Break(_)) => Err(Fault::new(
                "SyntaxError",
                format!("`next` or `break` outside of a block in `{name}`"),
            )
            .into()),
            Err(flow) => Err(flow),
        }
    }

    /// Runs the block of a call the host handles as a scope (a resource block); the host hears
    /// how it ended even when it failed.
    fn run_host_block(&mut self, block: Option<&BlockArg>, info: CallInfo) -> Eval<'a> {
        let result = match block {
            Some(b) => self.yield_block(b, Vec::new()),
            None => Ok(Value::Nil),
        };
        let completed = matches!(result, Ok(_) | Err(Flow::Break(_)));
        let value = self.host.block_done(completed, info)?;
        match result {
            Ok(_) | Err(Flow::Break(_)) => Ok(value),
            Err(flow) => Err(flow),
        }
    }

    /// A copy of `block` with the variables it can see, to be run after this evaluation.
    fn capture(&self, block: &Arc<Block>) -> CapturedBlock {
        CapturedBlock {
            block: block.clone(),
            frames: self
                .frames
                .iter()
                .map(|frame| frame.iter().map(FrozenValue::freeze).collect())
                .collect(),
            ivars: self
                .ivars
                .iter()
                .map(|(k, v)| (k.clone(), FrozenValue::freeze(v)))
                .collect(),
        }
    }

    /// Runs a captured block in this evaluator (whose own frames are replaced): its value, with
    /// `next`, `break` and `return` all ending the block.
    pub(crate) fn run_captured(&mut self, captured: &'a CapturedBlock) -> Result<Value<'a>, Fault> {
        self.run_captured_with(captured, Vec::new(), None)
    }

    /// [`Interp::run_captured`] with block arguments and, when given, these instance variables
    /// instead of the captured ones (a template helper sees the template's `@vars`).
    pub(crate) fn run_captured_with(
        &mut self,
        captured: &'a CapturedBlock,
        args: Vec<Value<'a>>,
        ivars: Option<HashMap<Arc<str>, Value<'a>>>,
    ) -> Result<Value<'a>, Fault> {
        self.stack_base = self.outer_base.unwrap_or_else(stack_position);
        self.frames = captured
            .frames
            .iter()
            .map(|frame| frame.iter().map(FrozenValue::thaw).collect())
            .collect();
        self.ivars = match ivars {
            Some(ivars) => ivars,
            None => captured
                .ivars
                .iter()
                .map(|(k, v)| (k.clone(), v.thaw()))
                .collect(),
        };
        let result = self.yield_block(&BlockArg::Code(captured.block.clone()), args);
        self.frames.clear();
        match result {
            Ok(v) | Err(Flow::Break(v) | Flow::Next(v) | Flow::Return(v)) => Ok(v),
            Err(Flow::Error(fault)) => Err(fault),
        }
    }

    /// Calls `name` on a value: the host's objects first, then built-in methods.
    pub(crate) fn call_method(
        &mut self,
        receiver: Value<'a>,
        name: &str,
        args: Vec<Value<'a>>,
        block: Option<&BlockArg>,
        span: Span,
    ) -> Eval<'a> {
        let mut receiver = receiver;
        if matches!(
            receiver,
            Value::Node | Value::Attr(_) | Value::Module(NEW_RESOURCE)
        ) {
            let info = CallInfo {
                span,
                has_block: block.is_some(),
                variable_call: false,
            };
            match self.host.call(Some(&receiver), name, &args, info)? {
                Reply::Value(v) => return Ok(v),
                Reply::Delegate(v) => receiver = v,
                Reply::NotFound
                | Reply::RunBlock
                | Reply::TakeBlock
                | Reply::WithIvars
                | Reply::Iterate(_) => return Err(Fault::no_method(name, &receiver).into()),
            }
        }
        if let Value::Json(json) = receiver {
            if let Some(v) = super::collections::json_fast_path(json, name, &args) {
                return Ok(v);
            }
            receiver = receiver.materialize();
        }
        if let Some(v) = self.builtin(&receiver, name, &args, block, span)? {
            return Ok(v);
        }
        if let Some(v) = self.object_method(&receiver, name, &args, block, span)? {
            return Ok(v);
        }
        // Attribute-like hashes (from JSON: node attributes, search results) answer a method
        // named like one of their keys, as Chef's attribute objects and nodes do (`n.name`).
        if let Value::Hash(h) = &receiver {
            if h.indifferent && args.is_empty() && block.is_none() {
                if let Some(v) = h.map.borrow().get(&HashKey::Str(Arc::from(name))) {
                    return Ok(v.clone());
                }
            }
        }
        Err(Fault::no_method(name, &receiver).into())
    }

    fn builtin(
        &mut self,
        receiver: &Value<'a>,
        name: &str,
        args: &[Value<'a>],
        block: Option<&BlockArg>,
        span: Span,
    ) -> Result<Option<Value<'a>>, Flow<'a>> {
        match receiver {
            Value::Str(s) => self.string_method(s, name, args, block, span),
            Value::Sym(s) => super::builtins::symbol_method(s, name, args).map_err(Flow::from),
            Value::Int(i) => self.integer_method(*i, name, args, block, span),
            Value::Float(f) => super::builtins::float_method(*f, name, args).map_err(Flow::from),
            Value::Array(a) => self.array_method(a, name, args, block, span),
            Value::Hash(h) => self.hash_method(h, name, args, block, span),
            Value::Range(r) => self.range_method(r, name, args, block, span),
            Value::Module(m) => self.module_method(m, name, args, block),
            Value::Regex(r) => self.regex_method(r, name, args),
            Value::Nil => Ok(super::builtins::nil_method(name, args)),
            Value::Bool(b) => Ok(super::builtins::bool_method(*b, name, args)),
            Value::Json(_) | Value::Node | Value::Attr(_) => Ok(None),
        }
    }

    fn object_method(
        &mut self,
        receiver: &Value<'a>,
        name: &str,
        args: &[Value<'a>],
        block: Option<&BlockArg>,
        span: Span,
    ) -> Result<Option<Value<'a>>, Flow<'a>> {
        let one = || args.first().cloned().unwrap_or(Value::Nil);
        Ok(Some(match name {
            "nil?" => Value::Bool(receiver.is_nil()),
            "to_s" => Value::str(receiver.to_s()),
            "inspect" => Value::str(receiver.inspect()),
            "==" | "eql?" | "equal?" => Value::Bool(equal(receiver, &one())),
            "!=" => Value::Bool(!equal(receiver, &one())),
            "!" => Value::Bool(!receiver.truthy()),
            "===" => Value::Bool(self.case_equal(receiver, &one(), span)?),
            "is_a?" | "kind_of?" | "instance_of?" => match one() {
                Value::Module(class) => Value::Bool(super::modules::is_a(receiver, class)),
                other => {
                    return Err(Fault::type_error(format!(
                        "class or module required, got {}",
                        other.class_name()
                    ))
                    .into())
                }
            },
            "class" => Value::Module(receiver.ruby_class()),
            "freeze" | "itself" => receiver.clone(),
            "dup" | "clone" => match receiver {
                Value::Array(a) => Value::array(a.items.borrow().clone()),
                Value::Hash(h) => Value::Hash(std::rc::Rc::new(super::value::RHash {
                    map: std::cell::RefCell::new(h.map.borrow().clone()),
                    mutability: Mutability::Mutable,
                    indifferent: h.indifferent,
                    default: h.default.clone(),
                })),
                other => other.clone(),
            },
            "frozen?" => Value::Bool(!matches!(receiver, Value::Array(_) | Value::Hash(_))),
            "respond_to?" => Value::Bool(matches!(one(), Value::Str(_) | Value::Sym(_))),
            "to_json" => Value::str(
                serde_json::to_string(&receiver.to_json().map_err(Fault::type_error)?)
                    .unwrap_or_default(),
            ),
            "then" | "yield_self" | "tap" => {
                let Some(block) = block else {
                    return Ok(Some(receiver.clone()));
                };
                let result = self.yield_block(block, vec![receiver.clone()])?;
                if name == "tap" {
                    receiver.clone()
                } else {
                    result
                }
            }
            _ => return Ok(None),
        }))
    }

    /// Calls a block with arguments; `next` ends this call of the block.
    pub(crate) fn yield_block(&mut self, block: &BlockArg, args: Vec<Value<'a>>) -> Eval<'a> {
        match block {
            BlockArg::Symbol(name) => {
                let mut args = args.into_iter();
                let receiver = args.next().unwrap_or(Value::Nil);
                self.call_method(receiver, name, args.collect(), None, Span::default())
            }
            BlockArg::Code(block) => {
                let mut frame = vec![Value::Nil; block.locals as usize];
                let args = if block.params.len() > 1 && args.len() == 1 {
                    super::collections::to_array(args.into_iter().next().unwrap_or(Value::Nil))
                } else {
                    args
                };
                for (param, value) in block
                    .params
                    .iter()
                    .zip(args.into_iter().chain(std::iter::repeat(Value::Nil)))
                {
                    bind_param(&mut frame, param, value);
                }
                self.frames.push(frame);
                let result = match &block.body {
                    Some(body) => self.eval(body),
                    None => Ok(Value::Nil),
                };
                self.frames.pop();
                match result {
                    Err(Flow::Next(v)) => Ok(v),
                    other => other,
                }
            }
        }
    }

    /// Kernel methods available in every file.
    fn kernel(
        &mut self,
        name: &str,
        args: &[Value<'a>],
        span: Span,
    ) -> Result<Option<Value<'a>>, Flow<'a>> {
        let first = || args.first().cloned().unwrap_or(Value::Nil);
        Ok(Some(match name {
            "raise" | "fail" => {
                let message = match args {
                    [] => "unhandled exception".to_string(),
                    [Value::Module(_), message, ..] => message.to_s(),
                    [message, ..] => message.to_s(),
                };
                return Err(Fault::new("RuntimeError", message).into());
            }
            "require" | "require_relative" => Value::Bool(true),
            "puts" | "print" | "p" | "pp" => {
                let text: Vec<String> = args
                    .iter()
                    .map(|a| {
                        if name == "p" || name == "pp" {
                            a.inspect()
                        } else {
                            a.to_s()
                        }
                    })
                    .collect();
                if name == "print" {
                    print!("{}", text.concat());
                } else {
                    println!("{}", text.join("\n"));
                }
                if name == "p" {
                    first()
                } else {
                    Value::Nil
                }
            }
            "format" | "sprintf" => match args.split_first() {
                Some((Value::Str(f), rest)) => Value::str(super::builtins::format(f, rest)?),
                _ => return Err(Fault::argument("format needs a format string").into()),
            },
            "Integer" => super::builtins::kernel_integer(&first())?,
            "Float" => super::builtins::kernel_float(&first())?,
            "String" => Value::str(self.stringify(first(), span)?),
            "Array" => match first() {
                Value::Nil => Value::array(Vec::new()),
                v @ (Value::Array(_)
                | Value::Json(serde_json::Value::Array(_))
                | Value::Hash(_)
                | Value::Range(_)) => Value::array(super::collections::splat_items(v)),
                other => Value::array(vec![other]),
            },
            "__dir__" => Value::str(
                self.file
                    .parent()
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
            "__method__" => Value::Nil,
            "lambda" | "proc" if self.host.keeps_procs() => return Ok(None),
            "lambda"
            | "proc"
            | "loop"
            | "eval"
            | "instance_eval"
            | "binding"
            | "define_method"
            | "send"
            | "public_send"
            | "instance_variable_get"
            | "instance_variable_set"
            | "exit" => {
                return Err(Fault::new(
                    "NotImplementedError",
                    format!("unsupported Ruby: `{name}`"),
                )
                .into())
            }
            _ => return Ok(None),
        }))
    }
}

/// The variable a chain of in-place calls changes: `s` in `s << 'a' << 'b'`.
fn mutation_root(node: &Node) -> Option<&Node> {
    match &node.expr {
        Expr::LocalGet(_) | Expr::IvarGet(_) => Some(node),
        Expr::Call(call) if is_string_mutator(&call.name) => {
            call.receiver.as_ref().and_then(mutation_root)
        }
        _ => None,
    }
}

/// String methods that change the string in place.
fn is_string_mutator(name: &str) -> bool {
    name.ends_with('!') || matches!(name, "<<" | "concat" | "prepend" | "replace")
}

/// Methods that change their receiver in place.
pub(crate) fn is_mutator(name: &str) -> bool {
    name.ends_with('!')
        || matches!(
            name,
            "<<" | "push"
                | "append"
                | "unshift"
                | "prepend"
                | "concat"
                | "pop"
                | "shift"
                | "delete"
                | "delete_at"
                | "clear"
                | "[]="
                | "store"
                | "update"
                | "insert"
                | "replace"
        )
}

fn bind_param<'a>(frame: &mut [Value<'a>], param: &Param, value: Value<'a>) {
    match param {
        Param::Slot(slot) => {
            if let Some(cell) = frame.get_mut(*slot as usize) {
                *cell = value;
            }
        }
        Param::Destructure(params) => {
            let items = super::collections::to_array(value);
            for (i, p) in params.iter().enumerate() {
                bind_param(frame, p, items.get(i).cloned().unwrap_or(Value::Nil));
            }
        }
    }
}

/// Erubis' `escape_xml`: `& < > " '`.
pub(crate) fn escape_html(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#039;"),
            c => out.push(c),
        }
    }
}

/// Checks the argument count of a built-in method.
pub(crate) fn arity(args: &[Value<'_>], min: usize, max: usize) -> Result<(), Fault> {
    if args.len() < min || args.len() > max {
        let expected = if min == max {
            min.to_string()
        } else if max == usize::MAX {
            format!("{min}+")
        } else {
            format!("{min}..{max}")
        };
        return Err(Fault::argument(format!(
            "wrong number of arguments (given {}, expected {expected})",
            args.len()
        )));
    }
    Ok(())
}

/// A node-view container refuses writes the way Chef does.
pub(crate) fn check_mutable(mutability: Mutability, class: &str) -> Result<(), Fault> {
    match mutability {
        Mutability::Mutable => Ok(()),
        Mutability::NodeView => Err(Fault::new(
            "Chef::Exceptions::ImmutableAttributeModification",
            format!(
                "Node attributes are read-only when you do not specify which precedence level to set. \
                 To set an attribute use code like `node.default[\"key\"] = \"value\"` (tried to modify a {class})"
            ),
        )),
    }
}
