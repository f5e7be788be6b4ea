//! The owned syntax tree the evaluator walks.
//!
//! Prism's tree borrows the parser and the source; this tree owns everything (strings are
//! `Arc<str>`), so a compiled template is `Send + Sync` and can be rendered many times without
//! parsing again. Local variables are resolved at lowering time to a scope depth and a slot.

use super::regexp::{RegexFlags, RubyRegex};
use std::sync::Arc;

/// A 1-based line and column in the file the code came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub line: u32,
    pub column: u32,
}

/// One expression with the place it starts at.
#[derive(Debug, Clone)]
pub struct Node {
    pub span: Span,
    pub expr: Expr,
}

/// A local variable: how many block scopes up, and its slot in that scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Local {
    pub depth: u32,
    pub slot: u32,
}

/// The expressions of the supported Ruby subset.
#[derive(Debug, Clone)]
pub enum Expr {
    /// `def name(a, b) ... end`: a method of the file being evaluated (plain parameters only).
    Def(Arc<str>, Arc<Block>),
    Nil,
    True,
    False,
    SelfRef,
    Int(i64),
    Float(f64),
    Str(Arc<str>),
    Sym(Arc<str>),
    /// `"a#{b}c"`: the parts' `to_s` concatenated.
    Interpolated(Vec<Node>),
    /// `:"a#{b}"`.
    InterpolatedSym(Vec<Node>),
    /// `/a\d/i`, compiled when the file is compiled.
    Regex(Arc<RubyRegex>),
    /// `/#{a}\d/`, compiled when evaluated.
    InterpolatedRegex(Vec<Node>, RegexFlags),
    Array(Vec<Arg>),
    Hash(Vec<HashItem>),
    Range {
        low: Option<Box<Node>>,
        high: Option<Box<Node>>,
        exclusive: bool,
    },
    LocalGet(Local),
    LocalSet(Local, Box<Node>),
    LocalOpSet(Local, AssignOp, Box<Node>),
    IvarGet(Arc<str>),
    IvarSet(Arc<str>, Box<Node>),
    IvarOpSet(Arc<str>, AssignOp, Box<Node>),
    /// `a, b = value`.
    MultiSet(Vec<Target>, Box<Node>),
    /// A constant (`File`, `Chef::Log`), joined with `::`.
    Const(Arc<str>),
    Call(Box<Call>),
    /// `recv[args] ||= value`, `recv[args] += value`.
    IndexOpSet {
        receiver: Box<Node>,
        args: Vec<Arg>,
        op: AssignOp,
        value: Box<Node>,
    },
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    If {
        cond: Box<Node>,
        then: Option<Box<Node>>,
        otherwise: Option<Box<Node>>,
    },
    Case {
        subject: Option<Box<Node>>,
        whens: Vec<When>,
        otherwise: Option<Box<Node>>,
    },
    Seq(Vec<Node>),
    Begin {
        body: Option<Box<Node>>,
        rescues: Vec<Rescue>,
        otherwise: Option<Box<Node>>,
        ensure: Option<Box<Node>>,
    },
    RescueModifier(Box<Node>, Box<Node>),
    Next(Option<Box<Node>>),
    Break(Option<Box<Node>>),
    Return(Option<Box<Node>>),
    /// `__FILE__`.
    SourceFile,
    /// ERB: literal template text.
    Text(Arc<str>),
    /// ERB: `<%= value %>` (or `<%== value %>` when `escape`).
    Output {
        value: Box<Node>,
        escape: bool,
    },
}

/// A compound assignment operator.
#[derive(Debug, Clone)]
pub enum AssignOp {
    /// `||=`
    Or,
    /// `&&=`
    And,
    /// `+=`, `-=`, `<<=` …: the binary method's name.
    Binary(Arc<str>),
}

/// An argument or array element.
#[derive(Debug, Clone)]
pub enum Arg {
    Plain(Node),
    Splat(Node),
}

/// An element of a hash literal.
#[derive(Debug, Clone)]
pub enum HashItem {
    Pair(Node, Node),
    Splat(Node),
}

/// A method call.
#[derive(Debug, Clone)]
pub struct Call {
    pub receiver: Option<Node>,
    pub name: Arc<str>,
    pub args: Vec<Arg>,
    pub block: Option<BlockArg>,
    /// `recv&.name`.
    pub safe_navigation: bool,
    /// A bare identifier that is not a local variable (`foo`, no arguments, no parentheses).
    pub variable_call: bool,
    /// The receiver's source text, for error messages about `[]` on nil.
    pub receiver_text: Option<Arc<str>>,
}

/// The block given to a call.
#[derive(Debug, Clone)]
pub enum BlockArg {
    Code(Arc<Block>),
    /// `&:name`.
    Symbol(Arc<str>),
}

/// A `do |params| … end` or `{ |params| … }` block.
#[derive(Debug, Clone)]
pub struct Block {
    pub params: Vec<Param>,
    /// How many locals the block's scope has (parameters first).
    pub locals: u32,
    pub body: Option<Node>,
}

/// A block parameter.
#[derive(Debug, Clone)]
pub enum Param {
    Slot(u32),
    /// `|(k, v), i|`
    Destructure(Vec<Param>),
}

/// One `when a, b then …` branch.
#[derive(Debug, Clone)]
pub struct When {
    pub conditions: Vec<Arg>,
    pub body: Option<Node>,
}

/// One `rescue => e` clause; every clause catches every error raised by evaluated code.
#[derive(Debug, Clone)]
pub struct Rescue {
    pub variable: Option<Target>,
    pub body: Option<Node>,
}

/// The left side of an assignment.
#[derive(Debug, Clone)]
pub enum Target {
    Local(Local),
    Ivar(Arc<str>),
    Splat(Box<Target>),
    Nested(Vec<Target>),
}
