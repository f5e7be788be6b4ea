//! Parsing with prism and lowering prism's tree to the owned [`ast`](super::ast).
//!
//! Everything the evaluator cannot run is refused here, at compile time, with the construct
//! named ("unsupported Ruby: `while` loop") and its line and column; prism's syntax errors are
//! reported the same way.

use super::ast::{
    Arg, AssignOp, Block, BlockArg, Call, Expr, HashItem, Local, Node, Param, Rescue, Span, Target,
    When,
};
use super::regexp::{RegexFlags, RubyRegex};
use super::Fault;
use ruby_prism as pm;
use std::sync::Arc;

/// Turns byte offsets of the parsed code into lines and columns of the user's file.
pub(crate) trait SpanMap {
    /// The line and column of a byte offset of the parsed code.
    fn span(&self, offset: u32) -> Span;
}

/// Line starts of a source text, for offset → line:column.
pub(crate) struct LineIndex<'s> {
    source: &'s str,
    starts: Vec<usize>,
}

impl<'s> LineIndex<'s> {
    /// Indexes the lines of `source`.
    pub(crate) fn new(source: &'s str) -> Self {
        let mut starts = vec![0];
        starts.extend(source.match_indices('\n').map(|(i, _)| i + 1));
        Self { source, starts }
    }

    /// The 1-based line and column (in characters) of a byte offset.
    pub(crate) fn locate(&self, offset: usize) -> Span {
        let offset = offset.min(self.source.len());
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let column = self
            .source
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        Span {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column + 1).unwrap_or(u32::MAX),
        }
    }
}

impl SpanMap for LineIndex<'_> {
    fn span(&self, offset: u32) -> Span {
        self.locate(offset as usize)
    }
}

/// Parses `code` and lowers the whole program; in a template, `texts` are the text chunks that
/// `__erb_text(i)` markers refer to (None outside templates).
pub(crate) fn parse_program(
    code: &str,
    spans: &(dyn SpanMap + Sync),
    texts: Option<&[Arc<str>]>,
) -> Result<Program, Fault> {
    // Prism recurses once per nesting level (up to its limit of 10,000), so code long enough to
    // nest deeply is parsed on a thread whose stack cannot run out.
    if nesting_bound(code) < INLINE_PARSE_LIMIT {
        return parse_and_lower(code, spans, texts);
    }
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("ruby-parse".to_string())
            .stack_size(PARSE_STACK)
            .spawn_scoped(scope, || parse_and_lower(code, spans, texts));
        match worker {
            Ok(handle) => handle.join().unwrap_or_else(|_| {
                Err(Fault::new(
                    "SyntaxError",
                    "the Ruby parser failed on this file",
                ))
            }),
            Err(_) => parse_and_lower(code, spans, texts),
        }
    })
}

/// Code that cannot nest deeper than this is parsed on the caller's stack (prism needs well
/// under 512 bytes of stack per level).
const INLINE_PARSE_LIMIT: usize = 2000;

/// An upper bound of how deep `code` can nest: every level needs at least one token, and every
/// token starts with a punctuation byte or a word.
fn nesting_bound(code: &str) -> usize {
    let mut count = 0;
    let mut in_word = false;
    for byte in code.bytes() {
        let word = byte.is_ascii_alphanumeric() || byte == b'_' || byte >= 0x80;
        let starts_word = word && !in_word;
        let punctuation = !word && !byte.is_ascii_whitespace();
        count += usize::from(starts_word || punctuation);
        in_word = word;
    }
    count
}

/// The stack of the thread that parses longer code.
const PARSE_STACK: usize = 8 << 20;

fn parse_and_lower(
    code: &str,
    spans: &(dyn SpanMap + Sync),
    texts: Option<&[Arc<str>]>,
) -> Result<Program, Fault> {
    let result = pm::parse(code.as_bytes());
    if let Some(error) = result.errors().next() {
        let message = String::from_utf8_lossy(error.message()).into_owned();
        return Err(
            Fault::new("SyntaxError", format!("syntax error: {message}"))
                .at(spans.span(error.location().start())),
        );
    }
    let root = result.node();
    let Some(program) = root.as_program_node() else {
        return Err(Fault::new("SyntaxError", "expected a Ruby program"));
    };
    let locals = local_names(&program.locals());
    let count = locals.len();
    let mut lowerer = Lowerer {
        depth: 0,
        stack_base: super::interp::stack_position(),
        scopes: vec![locals],
        spans,
        source: code.as_bytes(),
        texts,
    };
    let body = lowerer.statements(Some(program.statements()), spans.span(0))?;
    Ok(Program {
        locals: u32::try_from(count).unwrap_or(u32::MAX),
        body,
    })
}

/// A lowered file: its top-level local count and body.
#[derive(Debug, Clone)]
pub(crate) struct Program {
    pub locals: u32,
    pub body: Node,
}

/// How deep expressions may nest.
const MAX_NESTING: u32 = 1000;

struct Lowerer<'s> {
    depth: u32,
    stack_base: usize,
    scopes: Vec<Vec<Vec<u8>>>,
    spans: &'s dyn SpanMap,
    source: &'s [u8],
    texts: Option<&'s [Arc<str>]>,
}

type Lowered = Result<Node, Fault>;

fn text(bytes: &[u8]) -> Arc<str> {
    Arc::from(String::from_utf8_lossy(bytes).as_ref())
}

/// What to call a prism node in "unsupported Ruby: …" messages; unnamed constructs are quoted.
fn describe(node: &pm::Node<'_>) -> String {
    let known = match node {
        pm::Node::WhileNode { .. } => "`while` loop",
        pm::Node::UntilNode { .. } => "`until` loop",
        pm::Node::ForNode { .. } => "`for` loop",
        pm::Node::DefNode { .. } => "method definition (`def`)",
        pm::Node::ClassNode { .. } => "class definition",
        pm::Node::ModuleNode { .. } => "module definition",
        pm::Node::SingletonClassNode { .. } => "singleton class (`class << self`)",
        pm::Node::MatchWriteNode { .. } => "regular expression match with named captures",
        pm::Node::XStringNode { .. } | pm::Node::InterpolatedXStringNode { .. } => {
            "command execution (backticks)"
        }
        pm::Node::GlobalVariableReadNode { .. }
        | pm::Node::GlobalVariableWriteNode { .. }
        | pm::Node::GlobalVariableOrWriteNode { .. }
        | pm::Node::GlobalVariableAndWriteNode { .. }
        | pm::Node::GlobalVariableOperatorWriteNode { .. }
        | pm::Node::BackReferenceReadNode { .. }
        | pm::Node::NumberedReferenceReadNode { .. } => "global variable",
        pm::Node::ClassVariableReadNode { .. }
        | pm::Node::ClassVariableWriteNode { .. }
        | pm::Node::ClassVariableOrWriteNode { .. } => "class variable",
        pm::Node::ConstantWriteNode { .. }
        | pm::Node::ConstantPathWriteNode { .. }
        | pm::Node::ConstantOrWriteNode { .. } => "constant assignment",
        pm::Node::YieldNode { .. } => "`yield`",
        pm::Node::SuperNode { .. } | pm::Node::ForwardingSuperNode { .. } => "`super`",
        pm::Node::DefinedNode { .. } => "`defined?`",
        pm::Node::CaseMatchNode { .. } => "pattern matching (`case … in`)",
        pm::Node::MatchPredicateNode { .. } | pm::Node::MatchRequiredNode { .. } => {
            "pattern matching (`=>` / `in`)"
        }
        pm::Node::AliasMethodNode { .. } | pm::Node::AliasGlobalVariableNode { .. } => "`alias`",
        pm::Node::UndefNode { .. } => "`undef`",
        pm::Node::RationalNode { .. } => "rational number",
        pm::Node::ImaginaryNode { .. } => "imaginary number",
        pm::Node::FlipFlopNode { .. } => "flip-flop",
        pm::Node::RedoNode { .. } => "`redo`",
        pm::Node::RetryNode { .. } => "`retry`",
        pm::Node::PreExecutionNode { .. } => "`BEGIN` block",
        pm::Node::PostExecutionNode { .. } => "`END` block",
        pm::Node::SourceEncodingNode { .. } => "`__ENCODING__`",
        pm::Node::ForwardingArgumentsNode { .. } => "argument forwarding (`...`)",
        pm::Node::ItLocalVariableReadNode { .. } => "`it` block parameter",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_string();
    }
    let text = String::from_utf8_lossy(node.location().as_slice()).into_owned();
    let first_line = text.lines().next().unwrap_or_default();
    let snippet: String = first_line.chars().take(40).collect();
    let ellipsis = if snippet.len() < text.len() {
        "…"
    } else {
        ""
    };
    format!("`{snippet}{ellipsis}`")
}

impl<'s> Lowerer<'s> {
    fn span(&self, node: &pm::Node<'_>) -> Span {
        self.spans.span(node.location().start())
    }

    fn unsupported(&self, node: &pm::Node<'_>) -> Fault {
        Fault::new(
            "NotImplementedError",
            format!("unsupported Ruby: {}", describe(node)),
        )
        .at(self.span(node))
    }

    fn node(&self, span: Span, expr: Expr) -> Node {
        Node { span, expr }
    }

    fn boxed(&mut self, node: &pm::Node<'_>) -> Result<Box<Node>, Fault> {
        Ok(Box::new(self.lower(node)?))
    }

    fn optional(&mut self, node: Option<pm::Node<'_>>) -> Result<Option<Box<Node>>, Fault> {
        node.map(|n| self.boxed(&n)).transpose()
    }

    fn statements(&mut self, statements: Option<pm::StatementsNode<'_>>, span: Span) -> Lowered {
        let Some(statements) = statements else {
            return Ok(self.node(span, Expr::Nil));
        };
        let mut body = Vec::new();
        for statement in statements.body().iter() {
            body.push(self.lower(&statement)?);
        }
        Ok(match body.len() {
            0 => self.node(span, Expr::Nil),
            1 => body.remove(0),
            _ => self.node(body[0].span, Expr::Seq(body)),
        })
    }

    fn optional_statements(
        &mut self,
        statements: Option<pm::StatementsNode<'_>>,
    ) -> Result<Option<Box<Node>>, Fault> {
        match statements {
            Some(s) => {
                let span = self.spans.span(s.as_node().location().start());
                Ok(Some(Box::new(self.statements(Some(s), span)?)))
            }
            None => Ok(None),
        }
    }

    fn local(&self, name: &[u8], depth: u32, node: &pm::Node<'_>) -> Result<Local, Fault> {
        let found = self
            .scopes
            .len()
            .checked_sub(1 + depth as usize)
            .and_then(|index| self.scopes[index].iter().position(|l| l == name));
        match found {
            Some(slot) => Ok(Local {
                depth,
                slot: u32::try_from(slot).unwrap_or(u32::MAX),
            }),
            None => Err(Fault::new(
                "NameError",
                format!(
                    "undefined local variable or method `{}`",
                    String::from_utf8_lossy(name)
                ),
            )
            .at(self.span(node))),
        }
    }

    fn args(&mut self, args: Option<pm::ArgumentsNode<'_>>) -> Result<Vec<Arg>, Fault> {
        let mut out = Vec::new();
        if let Some(args) = args {
            for arg in args.arguments().iter() {
                out.push(self.arg(&arg)?);
            }
        }
        Ok(out)
    }

    fn arg(&mut self, arg: &pm::Node<'_>) -> Result<Arg, Fault> {
        if let Some(splat) = arg.as_splat_node() {
            return match splat.expression() {
                Some(e) => Ok(Arg::Splat(self.lower(&e)?)),
                None => Err(self.unsupported(arg)),
            };
        }
        if let Some(hash) = arg.as_keyword_hash_node() {
            let span = self.span(arg);
            let items = self.hash_items(hash.elements())?;
            return Ok(Arg::Plain(self.node(span, Expr::Hash(items))));
        }
        Ok(Arg::Plain(self.lower(arg)?))
    }

    fn hash_items(&mut self, elements: pm::NodeList<'_>) -> Result<Vec<HashItem>, Fault> {
        let mut items = Vec::new();
        for element in elements.iter() {
            if let Some(assoc) = element.as_assoc_node() {
                let key = self.lower(&assoc.key())?;
                let value = self.lower(&assoc.value())?;
                items.push(HashItem::Pair(key, value));
            } else if let Some(splat) = element.as_assoc_splat_node() {
                match splat.value() {
                    Some(v) => items.push(HashItem::Splat(self.lower(&v)?)),
                    None => return Err(self.unsupported(&element)),
                }
            } else {
                return Err(self.unsupported(&element));
            }
        }
        Ok(items)
    }

    fn parts(&mut self, parts: pm::NodeList<'_>) -> Result<Vec<Node>, Fault> {
        let mut out = Vec::new();
        for part in parts.iter() {
            if let Some(embedded) = part.as_embedded_statements_node() {
                let span = self.span(&part);
                out.push(self.statements(embedded.statements(), span)?);
            } else if let Some(variable) = part.as_embedded_variable_node() {
                out.push(self.lower(&variable.variable())?);
            } else {
                out.push(self.lower(&part)?);
            }
        }
        Ok(out)
    }

    fn lower(&mut self, node: &pm::Node<'_>) -> Lowered {
        // The evaluator recurses as deep as the tree; refuse trees that could exhaust the stack.
        if self.depth >= MAX_NESTING || super::interp::stack_exhausted(self.stack_base) {
            return Err(Fault::new(
                "NotImplementedError",
                "unsupported Ruby: expressions nested this deep",
            )
            .at(self.span(node)));
        }
        self.depth += 1;
        let lowered = self.lower_node(node);
        self.depth -= 1;
        lowered
    }

    fn lower_node(&mut self, node: &pm::Node<'_>) -> Lowered {
        match node {
            pm::Node::NilNode { .. }
            | pm::Node::TrueNode { .. }
            | pm::Node::FalseNode { .. }
            | pm::Node::SelfNode { .. }
            | pm::Node::SourceFileNode { .. }
            | pm::Node::SourceLineNode { .. }
            | pm::Node::IntegerNode { .. }
            | pm::Node::FloatNode { .. }
            | pm::Node::StringNode { .. }
            | pm::Node::SymbolNode { .. }
            | pm::Node::InterpolatedStringNode { .. }
            | pm::Node::RegularExpressionNode { .. }
            | pm::Node::InterpolatedRegularExpressionNode { .. }
            | pm::Node::InterpolatedSymbolNode { .. }
            | pm::Node::ArrayNode { .. }
            | pm::Node::HashNode { .. }
            | pm::Node::KeywordHashNode { .. }
            | pm::Node::ImplicitNode { .. }
            | pm::Node::RangeNode { .. } => self.lower_literal(node),
            pm::Node::LocalVariableReadNode { .. }
            | pm::Node::LocalVariableWriteNode { .. }
            | pm::Node::LocalVariableOrWriteNode { .. }
            | pm::Node::LocalVariableAndWriteNode { .. }
            | pm::Node::LocalVariableOperatorWriteNode { .. }
            | pm::Node::InstanceVariableReadNode { .. }
            | pm::Node::InstanceVariableWriteNode { .. }
            | pm::Node::InstanceVariableOrWriteNode { .. }
            | pm::Node::InstanceVariableAndWriteNode { .. }
            | pm::Node::InstanceVariableOperatorWriteNode { .. }
            | pm::Node::MultiWriteNode { .. }
            | pm::Node::ConstantReadNode { .. }
            | pm::Node::ConstantPathNode { .. } => self.lower_variable(node),
            pm::Node::CallNode { .. }
            | pm::Node::LambdaNode { .. }
            | pm::Node::IndexOrWriteNode { .. }
            | pm::Node::IndexAndWriteNode { .. }
            | pm::Node::IndexOperatorWriteNode { .. }
            | pm::Node::AndNode { .. }
            | pm::Node::OrNode { .. } => self.lower_operation(node),
            pm::Node::ParenthesesNode { .. }
            | pm::Node::StatementsNode { .. }
            | pm::Node::IfNode { .. }
            | pm::Node::UnlessNode { .. }
            | pm::Node::ElseNode { .. }
            | pm::Node::CaseNode { .. }
            | pm::Node::BeginNode { .. }
            | pm::Node::RescueModifierNode { .. }
            | pm::Node::NextNode { .. }
            | pm::Node::BreakNode { .. }
            | pm::Node::ReturnNode { .. } => self.lower_control(node),
            pm::Node::DefNode { .. } => self.lower_def(node),
            pm::Node::ModuleNode { .. } => self.lower_module(node),
            _ => Err(self.unsupported(node)),
        }
    }

    /// Literals: nil, numbers, strings, symbols, regular expressions, arrays, hashes, ranges.
    fn lower_literal(&mut self, node: &pm::Node<'_>) -> Lowered {
        let span = self.span(node);
        let expr = match node {
            pm::Node::NilNode { .. } => Expr::Nil,
            pm::Node::TrueNode { .. } => Expr::True,
            pm::Node::FalseNode { .. } => Expr::False,
            pm::Node::SelfNode { .. } => Expr::SelfRef,
            pm::Node::SourceFileNode { .. } => Expr::SourceFile,
            pm::Node::SourceLineNode { .. } => Expr::Int(i64::from(span.line)),
            pm::Node::IntegerNode { .. } => self.integer(node)?,
            pm::Node::FloatNode { .. } => {
                Expr::Float(node.as_float_node().map_or(0.0, |f| f.value()))
            }
            pm::Node::StringNode { .. } => Expr::Str(
                node.as_string_node()
                    .map_or_else(|| Arc::from(""), |s| text(s.unescaped())),
            ),
            pm::Node::SymbolNode { .. } => Expr::Sym(
                node.as_symbol_node()
                    .map_or_else(|| Arc::from(""), |s| text(s.unescaped())),
            ),
            pm::Node::InterpolatedStringNode { .. } => match node.as_interpolated_string_node() {
                Some(s) => Expr::Interpolated(self.parts(s.parts())?),
                None => return Err(self.unsupported(node)),
            },
            pm::Node::RegularExpressionNode { .. } => match node.as_regular_expression_node() {
                Some(r) => {
                    let flags = RegexFlags {
                        ignore_case: r.is_ignore_case(),
                        extended: r.is_extended(),
                        multiline: r.is_multi_line(),
                    };
                    let source = String::from_utf8_lossy(r.unescaped()).into_owned();
                    let regex = RubyRegex::compile(&source, flags)
                        .map_err(|m| Fault::new("RegexpError", m).at(span))?;
                    Expr::Regex(Arc::new(regex))
                }
                None => return Err(self.unsupported(node)),
            },
            pm::Node::InterpolatedRegularExpressionNode { .. } => {
                match node.as_interpolated_regular_expression_node() {
                    Some(r) => {
                        let flags = RegexFlags {
                            ignore_case: r.is_ignore_case(),
                            extended: r.is_extended(),
                            multiline: r.is_multi_line(),
                        };
                        Expr::InterpolatedRegex(self.parts(r.parts())?, flags)
                    }
                    None => return Err(self.unsupported(node)),
                }
            }
            pm::Node::InterpolatedSymbolNode { .. } => match node.as_interpolated_symbol_node() {
                Some(s) => Expr::InterpolatedSym(self.parts(s.parts())?),
                None => return Err(self.unsupported(node)),
            },
            pm::Node::ArrayNode { .. } => {
                let mut items = Vec::new();
                if let Some(array) = node.as_array_node() {
                    for element in array.elements().iter() {
                        items.push(self.arg(&element)?);
                    }
                }
                Expr::Array(items)
            }
            pm::Node::HashNode { .. } => match node.as_hash_node() {
                Some(h) => Expr::Hash(self.hash_items(h.elements())?),
                None => return Err(self.unsupported(node)),
            },
            pm::Node::KeywordHashNode { .. } => match node.as_keyword_hash_node() {
                Some(h) => Expr::Hash(self.hash_items(h.elements())?),
                None => return Err(self.unsupported(node)),
            },
            pm::Node::ImplicitNode { .. } => match node.as_implicit_node() {
                Some(i) => return self.lower(&i.value()),
                None => return Err(self.unsupported(node)),
            },
            pm::Node::RangeNode { .. } => match node.as_range_node() {
                Some(r) => Expr::Range {
                    low: self.optional(r.left())?,
                    high: self.optional(r.right())?,
                    exclusive: r.is_exclude_end(),
                },
                None => return Err(self.unsupported(node)),
            },
            _ => return Err(self.unsupported(node)),
        };
        Ok(self.node(span, expr))
    }

    /// Variables and constants: reads, writes and compound assignments.
    fn lower_variable(&mut self, node: &pm::Node<'_>) -> Lowered {
        let span = self.span(node);
        let expr = match node {
            pm::Node::LocalVariableReadNode { .. } => match node.as_local_variable_read_node() {
                Some(l) => Expr::LocalGet(self.local(l.name().as_slice(), l.depth(), node)?),
                None => return Err(self.unsupported(node)),
            },
            pm::Node::LocalVariableWriteNode { .. } => match node.as_local_variable_write_node() {
                Some(l) => {
                    let local = self.local(l.name().as_slice(), l.depth(), node)?;
                    Expr::LocalSet(local, self.boxed(&l.value())?)
                }
                None => return Err(self.unsupported(node)),
            },
            pm::Node::LocalVariableOrWriteNode { .. } => {
                match node.as_local_variable_or_write_node() {
                    Some(l) => {
                        let local = self.local(l.name().as_slice(), l.depth(), node)?;
                        Expr::LocalOpSet(local, AssignOp::Or, self.boxed(&l.value())?)
                    }
                    None => return Err(self.unsupported(node)),
                }
            }
            pm::Node::LocalVariableAndWriteNode { .. } => {
                match node.as_local_variable_and_write_node() {
                    Some(l) => {
                        let local = self.local(l.name().as_slice(), l.depth(), node)?;
                        Expr::LocalOpSet(local, AssignOp::And, self.boxed(&l.value())?)
                    }
                    None => return Err(self.unsupported(node)),
                }
            }
            pm::Node::LocalVariableOperatorWriteNode { .. } => {
                match node.as_local_variable_operator_write_node() {
                    Some(l) => {
                        let local = self.local(l.name().as_slice(), l.depth(), node)?;
                        let op = AssignOp::Binary(text(l.binary_operator().as_slice()));
                        Expr::LocalOpSet(local, op, self.boxed(&l.value())?)
                    }
                    None => return Err(self.unsupported(node)),
                }
            }
            pm::Node::InstanceVariableReadNode { .. } => {
                match node.as_instance_variable_read_node() {
                    Some(i) => Expr::IvarGet(text(i.name().as_slice())),
                    None => return Err(self.unsupported(node)),
                }
            }
            pm::Node::InstanceVariableWriteNode { .. } => {
                match node.as_instance_variable_write_node() {
                    Some(i) => Expr::IvarSet(text(i.name().as_slice()), self.boxed(&i.value())?),
                    None => return Err(self.unsupported(node)),
                }
            }
            pm::Node::InstanceVariableOrWriteNode { .. } => {
                match node.as_instance_variable_or_write_node() {
                    Some(i) => Expr::IvarOpSet(
                        text(i.name().as_slice()),
                        AssignOp::Or,
                        self.boxed(&i.value())?,
                    ),
                    None => return Err(self.unsupported(node)),
                }
            }
            pm::Node::InstanceVariableAndWriteNode { .. } => {
                match node.as_instance_variable_and_write_node() {
                    Some(i) => Expr::IvarOpSet(
                        text(i.name().as_slice()),
                        AssignOp::And,
                        self.boxed(&i.value())?,
                    ),
                    None => return Err(self.unsupported(node)),
                }
            }
            pm::Node::InstanceVariableOperatorWriteNode { .. } => {
                match node.as_instance_variable_operator_write_node() {
                    Some(i) => Expr::IvarOpSet(
                        text(i.name().as_slice()),
                        AssignOp::Binary(text(i.binary_operator().as_slice())),
                        self.boxed(&i.value())?,
                    ),
                    None => return Err(self.unsupported(node)),
                }
            }
            pm::Node::MultiWriteNode { .. } => self.multi_write(node)?,
            pm::Node::ConstantReadNode { .. } => match node.as_constant_read_node() {
                Some(c) => Expr::Const(text(c.name().as_slice())),
                None => return Err(self.unsupported(node)),
            },
            pm::Node::ConstantPathNode { .. } => Expr::Const(self.constant_path(node)?),
            _ => return Err(self.unsupported(node)),
        };
        Ok(self.node(span, expr))
    }

    /// Calls, index assignments and boolean operators.
    fn lower_operation(&mut self, node: &pm::Node<'_>) -> Lowered {
        let span = self.span(node);
        let expr = match node {
            pm::Node::CallNode { .. } => self.call(node)?,
            pm::Node::LambdaNode { .. } => self.lambda(node)?,
            pm::Node::IndexOrWriteNode { .. } => match node.as_index_or_write_node() {
                Some(i) => {
                    self.index_op(node, i.receiver(), i.arguments(), AssignOp::Or, &i.value())?
                }
                None => return Err(self.unsupported(node)),
            },
            pm::Node::IndexAndWriteNode { .. } => match node.as_index_and_write_node() {
                Some(i) => {
                    self.index_op(node, i.receiver(), i.arguments(), AssignOp::And, &i.value())?
                }
                None => return Err(self.unsupported(node)),
            },
            pm::Node::IndexOperatorWriteNode { .. } => match node.as_index_operator_write_node() {
                Some(i) => {
                    let op = AssignOp::Binary(text(i.binary_operator().as_slice()));
                    self.index_op(node, i.receiver(), i.arguments(), op, &i.value())?
                }
                None => return Err(self.unsupported(node)),
            },
            pm::Node::AndNode { .. } => match node.as_and_node() {
                Some(a) => Expr::And(self.boxed(&a.left())?, self.boxed(&a.right())?),
                None => return Err(self.unsupported(node)),
            },
            pm::Node::OrNode { .. } => match node.as_or_node() {
                Some(o) => Expr::Or(self.boxed(&o.left())?, self.boxed(&o.right())?),
                None => return Err(self.unsupported(node)),
            },
            _ => return Err(self.unsupported(node)),
        };
        Ok(self.node(span, expr))
    }

    /// Control flow: grouping, conditionals, case, rescue and jumps.
    fn lower_control(&mut self, node: &pm::Node<'_>) -> Lowered {
        let span = self.span(node);
        let expr = match node {
            pm::Node::ParenthesesNode { .. } => match node.as_parentheses_node() {
                Some(p) => match p.body() {
                    Some(body) => return self.lower(&body),
                    None => Expr::Nil,
                },
                None => return Err(self.unsupported(node)),
            },
            pm::Node::StatementsNode { .. } => {
                return self.statements(node.as_statements_node(), span)
            }
            pm::Node::IfNode { .. } => match node.as_if_node() {
                Some(i) => Expr::If {
                    cond: self.boxed(&i.predicate())?,
                    then: self.optional_statements(i.statements())?,
                    otherwise: self.optional(i.subsequent())?,
                },
                None => return Err(self.unsupported(node)),
            },
            pm::Node::UnlessNode { .. } => match node.as_unless_node() {
                Some(u) => {
                    let otherwise = match u.else_clause() {
                        Some(e) => self.optional_statements(e.statements())?,
                        None => None,
                    };
                    Expr::If {
                        cond: Box::new(Node {
                            span,
                            expr: Expr::Not(self.boxed(&u.predicate())?),
                        }),
                        then: self.optional_statements(u.statements())?,
                        otherwise,
                    }
                }
                None => return Err(self.unsupported(node)),
            },
            pm::Node::ElseNode { .. } => match node.as_else_node() {
                Some(e) => return self.statements(e.statements(), span),
                None => return Err(self.unsupported(node)),
            },
            pm::Node::CaseNode { .. } => self.case(node)?,
            pm::Node::BeginNode { .. } => self.begin(node)?,
            pm::Node::RescueModifierNode { .. } => match node.as_rescue_modifier_node() {
                Some(r) => Expr::RescueModifier(
                    self.boxed(&r.expression())?,
                    self.boxed(&r.rescue_expression())?,
                ),
                None => return Err(self.unsupported(node)),
            },
            pm::Node::NextNode { .. } => match node.as_next_node() {
                Some(n) => Expr::Next(self.jump_value(n.arguments(), span)?),
                None => return Err(self.unsupported(node)),
            },
            pm::Node::BreakNode { .. } => match node.as_break_node() {
                Some(b) => Expr::Break(self.jump_value(b.arguments(), span)?),
                None => return Err(self.unsupported(node)),
            },
            pm::Node::ReturnNode { .. } => match node.as_return_node() {
                Some(r) => Expr::Return(self.jump_value(r.arguments(), span)?),
                None => return Err(self.unsupported(node)),
            },
            _ => return Err(self.unsupported(node)),
        };
        Ok(self.node(span, expr))
    }

    fn integer(&self, node: &pm::Node<'_>) -> Result<Expr, Fault> {
        let Some(integer) = node.as_integer_node() else {
            return Err(self.unsupported(node));
        };
        let value = integer.value();
        let (negative, digits) = value.to_u32_digits();
        let magnitude: u128 = digits
            .iter()
            .rev()
            .try_fold(0u128, |acc, &d| {
                acc.checked_mul(1 << 32)
                    .and_then(|a| a.checked_add(u128::from(d)))
            })
            .unwrap_or(u128::MAX);
        let signed = if negative {
            i128::try_from(magnitude).ok().map(|m| -m)
        } else {
            i128::try_from(magnitude).ok()
        };
        signed
            .and_then(|v| i64::try_from(v).ok())
            .map(Expr::Int)
            .ok_or_else(|| {
                Fault::new(
                    "RangeError",
                    "unsupported Ruby: integer larger than 64 bits",
                )
                .at(self.span(node))
            })
    }

    fn constant_path(&self, node: &pm::Node<'_>) -> Result<Arc<str>, Fault> {
        if let Some(c) = node.as_constant_read_node() {
            return Ok(text(c.name().as_slice()));
        }
        let Some(path) = node.as_constant_path_node() else {
            return Err(self.unsupported(node));
        };
        let Some(name) = path.name() else {
            return Err(self.unsupported(node));
        };
        let name = String::from_utf8_lossy(name.as_slice()).into_owned();
        match path.parent() {
            Some(parent) => Ok(Arc::from(format!(
                "{}::{name}",
                self.constant_path(&parent)?
            ))),
            None => Ok(Arc::from(name)),
        }
    }

    fn jump_value(
        &mut self,
        args: Option<pm::ArgumentsNode<'_>>,
        span: Span,
    ) -> Result<Option<Box<Node>>, Fault> {
        let mut args = self.args(args)?;
        Ok(match args.len() {
            0 => None,
            1 => match args.remove(0) {
                Arg::Plain(n) => Some(Box::new(n)),
                splat => Some(Box::new(self.node(span, Expr::Array(vec![splat])))),
            },
            _ => Some(Box::new(self.node(span, Expr::Array(args)))),
        })
    }

    fn index_op(
        &mut self,
        node: &pm::Node<'_>,
        receiver: Option<pm::Node<'_>>,
        args: Option<pm::ArgumentsNode<'_>>,
        op: AssignOp,
        value: &pm::Node<'_>,
    ) -> Result<Expr, Fault> {
        let Some(receiver) = receiver else {
            return Err(self.unsupported(node));
        };
        Ok(Expr::IndexOpSet {
            receiver: self.boxed(&receiver)?,
            args: self.args(args)?,
            op,
            value: self.boxed(value)?,
        })
    }

    fn call(&mut self, node: &pm::Node<'_>) -> Result<Expr, Fault> {
        let Some(call) = node.as_call_node() else {
            return Err(self.unsupported(node));
        };
        let name = text(call.name().as_slice());
        let receiver = call.receiver();
        if receiver.is_none() && name.starts_with("__erb_") && self.texts.is_some() {
            if let Some(expr) = self.erb_marker(&name, call.arguments())? {
                return Ok(expr);
            }
        }
        if name.as_ref() == "!" && call.arguments().is_none() && call.block().is_none() {
            if let Some(r) = receiver {
                return Ok(Expr::Not(self.boxed(&r)?));
            }
        }
        let receiver_text = match (&receiver, name.as_ref()) {
            (Some(r), "[]") => {
                let location = r.location();
                let start = location.start() as usize;
                let end = location.end() as usize;
                self.source.get(start..end).map(text)
            }
            _ => None,
        };
        let receiver = receiver.map(|r| self.lower(&r)).transpose()?;
        let args = self.args(call.arguments())?;
        let block = match call.block() {
            Some(b) => Some(self.block(&b)?),
            None => None,
        };
        Ok(Expr::Call(Box::new(Call {
            receiver,
            name,
            args,
            block,
            safe_navigation: call.is_safe_navigation(),
            variable_call: call.is_variable_call(),
            receiver_text,
        })))
    }

    fn erb_marker(
        &mut self,
        name: &str,
        args: Option<pm::ArgumentsNode<'_>>,
    ) -> Result<Option<Expr>, Fault> {
        let mut args = self.args(args)?;
        if args.len() != 1 {
            return Ok(None);
        }
        let Arg::Plain(arg) = args.remove(0) else {
            return Ok(None);
        };
        Ok(match (name, arg.expr) {
            ("__erb_text", Expr::Int(i)) => usize::try_from(i)
                .ok()
                .and_then(|i| self.texts.and_then(|t| t.get(i)))
                .map(|t| Expr::Text(t.clone())),
            ("__erb_expr", expr) => Some(Expr::Output {
                value: Box::new(Node {
                    span: arg.span,
                    expr,
                }),
                escape: false,
            }),
            ("__erb_escape", expr) => Some(Expr::Output {
                value: Box::new(Node {
                    span: arg.span,
                    expr,
                }),
                escape: true,
            }),
            _ => None,
        })
    }

    fn block(&mut self, node: &pm::Node<'_>) -> Result<BlockArg, Fault> {
        if let Some(argument) = node.as_block_argument_node() {
            return match argument.expression().and_then(|e| e.as_symbol_node()) {
                Some(symbol) => Ok(BlockArg::Symbol(text(symbol.unescaped()))),
                None => Err(Fault::new(
                    "NotImplementedError",
                    "unsupported Ruby: passing a block with `&` (only `&:method` is supported)",
                )
                .at(self.span(node))),
            };
        }
        let Some(block) = node.as_block_node() else {
            return Err(self.unsupported(node));
        };
        let locals = local_names(&block.locals());
        Ok(BlockArg::Code(self.scoped_block(
            locals,
            block.parameters(),
            block.body(),
        )?))
    }

    /// `->(x) { ... }`: a call of `lambda` with that block, which only hosts that keep blocks
    /// as values (a resource file's `coerce:`) accept.
    fn lambda(&mut self, node: &pm::Node<'_>) -> Result<Expr, Fault> {
        let Some(lambda) = node.as_lambda_node() else {
            return Err(self.unsupported(node));
        };
        let locals = local_names(&lambda.locals());
        let block = self.scoped_block(locals, lambda.parameters(), lambda.body())?;
        Ok(Expr::Call(Box::new(Call {
            receiver: None,
            name: Arc::from("lambda"),
            args: Vec::new(),
            block: Some(BlockArg::Code(block)),
            safe_navigation: false,
            variable_call: false,
            receiver_text: None,
        })))
    }

    /// A block's parameters and body, lowered in a scope of its own `locals`.
    fn scoped_block(
        &mut self,
        locals: Vec<Vec<u8>>,
        parameters: Option<pm::Node<'_>>,
        body: Option<pm::Node<'_>>,
    ) -> Result<Arc<Block>, Fault> {
        let count = u32::try_from(locals.len()).unwrap_or(u32::MAX);
        self.scopes.push(locals);
        let result = self.block_body(parameters, body);
        self.scopes.pop();
        let (params, body) = result?;
        Ok(Arc::new(Block {
            params,
            locals: count,
            body,
        }))
    }

    /// `def name(a, b) ... end` without a receiver: a method body in a scope of its own (it sees
    /// no outer locals), plain required parameters only. The file's host may take the
    /// definition (template helpers, library modules); otherwise it is a method of the file.
    fn lower_def(&mut self, node: &pm::Node<'_>) -> Lowered {
        let span = self.span(node);
        let Some(def) = node.as_def_node() else {
            return Err(self.unsupported(node));
        };
        if def.receiver().is_some() {
            return Err(Fault::new(
                "NotImplementedError",
                "unsupported Ruby: a method defined on an object (`def self.x`)",
            )
            .at(span));
        }
        let locals = local_names(&def.locals());
        let count = u32::try_from(locals.len()).unwrap_or(u32::MAX);
        let outer = std::mem::replace(&mut self.scopes, vec![locals]);
        let result = self.def_body(&def, span);
        self.scopes = outer;
        let (params, body) = result?;
        Ok(Node {
            span,
            expr: Expr::Def(
                text(def.name().as_slice()),
                Arc::new(Block {
                    params,
                    locals: count,
                    body,
                }),
            ),
        })
    }

    /// `module A::B ... end`: its body in a scope of its own; whether a module may be defined
    /// is up to the file's host (only libraries define them).
    fn lower_module(&mut self, node: &pm::Node<'_>) -> Lowered {
        let span = self.span(node);
        let Some(module) = node.as_module_node() else {
            return Err(self.unsupported(node));
        };
        let name = text(module.constant_path().location().as_slice());
        let locals = local_names(&module.locals());
        let count = u32::try_from(locals.len()).unwrap_or(u32::MAX);
        let outer = std::mem::replace(&mut self.scopes, vec![locals]);
        let body = match module.body() {
            Some(b) => self.lower(&b).map(|n| Some(Box::new(n))),
            None => Ok(None),
        };
        self.scopes = outer;
        Ok(Node {
            span,
            expr: Expr::Module(name, body?, count),
        })
    }

    fn def_body(
        &mut self,
        def: &pm::DefNode<'_>,
        span: Span,
    ) -> Result<(Vec<Param>, Option<Node>), Fault> {
        let params = match def.parameters() {
            None => Vec::new(),
            Some(params) => {
                let unsupported_kind = params.optionals().iter().next().is_some()
                    || params.rest().is_some()
                    || params.posts().iter().next().is_some()
                    || params.keywords().iter().next().is_some()
                    || params.keyword_rest().is_some()
                    || params.block().is_some();
                if unsupported_kind {
                    return Err(Fault::new(
                        "NotImplementedError",
                        "unsupported Ruby: method parameters other than plain names",
                    )
                    .at(span));
                }
                params
                    .requireds()
                    .iter()
                    .map(|p| self.param(&p))
                    .collect::<Result<Vec<_>, _>>()?
            }
        };
        let body = match def.body() {
            Some(b) => Some(self.lower(&b)?),
            None => None,
        };
        Ok((params, body))
    }

    fn block_body(
        &mut self,
        parameters: Option<pm::Node<'_>>,
        body: Option<pm::Node<'_>>,
    ) -> Result<(Vec<Param>, Option<Node>), Fault> {
        let params = match parameters {
            None => Vec::new(),
            Some(p) => self.block_params(&p)?,
        };
        let body = match body {
            Some(b) => Some(self.lower(&b)?),
            None => None,
        };
        Ok((params, body))
    }

    fn block_params(&mut self, node: &pm::Node<'_>) -> Result<Vec<Param>, Fault> {
        if let Some(numbered) = node.as_numbered_parameters_node() {
            return Ok((0..u32::from(numbered.maximum()))
                .map(Param::Slot)
                .collect());
        }
        let Some(block_params) = node.as_block_parameters_node() else {
            return Err(self.unsupported(node));
        };
        let Some(params) = block_params.parameters() else {
            return Ok(Vec::new());
        };
        let unsupported_kind = params.optionals().iter().next().is_some()
            || params.rest().is_some()
            || params.posts().iter().next().is_some()
            || params.keywords().iter().next().is_some()
            || params.keyword_rest().is_some()
            || params.block().is_some();
        if unsupported_kind {
            return Err(Fault::new(
                "NotImplementedError",
                "unsupported Ruby: block parameters other than plain names and `(a, b)`",
            )
            .at(self.span(node)));
        }
        params.requireds().iter().map(|p| self.param(&p)).collect()
    }

    fn param(&mut self, node: &pm::Node<'_>) -> Result<Param, Fault> {
        if let Some(required) = node.as_required_parameter_node() {
            let local = self.local(required.name().as_slice(), 0, node)?;
            return Ok(Param::Slot(local.slot));
        }
        if let Some(multi) = node.as_multi_target_node() {
            if multi.rest().is_some() || multi.rights().iter().next().is_some() {
                return Err(self.unsupported(node));
            }
            let nested = multi
                .lefts()
                .iter()
                .map(|p| self.param(&p))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(Param::Destructure(nested));
        }
        Err(self.unsupported(node))
    }

    fn target(&mut self, node: &pm::Node<'_>) -> Result<Target, Fault> {
        if let Some(local) = node.as_local_variable_target_node() {
            return Ok(Target::Local(self.local(
                local.name().as_slice(),
                local.depth(),
                node,
            )?));
        }
        if let Some(ivar) = node.as_instance_variable_target_node() {
            return Ok(Target::Ivar(text(ivar.name().as_slice())));
        }
        if let Some(splat) = node.as_splat_node() {
            return match splat.expression() {
                Some(e) => Ok(Target::Splat(Box::new(self.target(&e)?))),
                None => Err(self.unsupported(node)),
            };
        }
        if let Some(multi) = node.as_multi_target_node() {
            let mut targets = Vec::new();
            for t in multi.lefts().iter() {
                targets.push(self.target(&t)?);
            }
            if let Some(rest) = multi.rest() {
                targets.push(self.target(&rest)?);
            }
            for t in multi.rights().iter() {
                targets.push(self.target(&t)?);
            }
            return Ok(Target::Nested(targets));
        }
        Err(self.unsupported(node))
    }

    fn multi_write(&mut self, node: &pm::Node<'_>) -> Result<Expr, Fault> {
        let Some(multi) = node.as_multi_write_node() else {
            return Err(self.unsupported(node));
        };
        let mut targets = Vec::new();
        for t in multi.lefts().iter() {
            targets.push(self.target(&t)?);
        }
        if let Some(rest) = multi.rest() {
            if rest.as_implicit_rest_node().is_none() {
                targets.push(self.target(&rest)?);
            }
        }
        for t in multi.rights().iter() {
            targets.push(self.target(&t)?);
        }
        Ok(Expr::MultiSet(targets, self.boxed(&multi.value())?))
    }

    fn case(&mut self, node: &pm::Node<'_>) -> Result<Expr, Fault> {
        let Some(case) = node.as_case_node() else {
            return Err(self.unsupported(node));
        };
        let subject = self.optional(case.predicate())?;
        let mut whens = Vec::new();
        for condition in case.conditions().iter() {
            let Some(when) = condition.as_when_node() else {
                return Err(self.unsupported(&condition));
            };
            let mut conditions = Vec::new();
            for c in when.conditions().iter() {
                conditions.push(self.arg(&c)?);
            }
            let body = self.optional_statements(when.statements())?.map(|b| *b);
            whens.push(When { conditions, body });
        }
        let otherwise = match case.else_clause() {
            Some(e) => self.optional_statements(e.statements())?,
            None => None,
        };
        Ok(Expr::Case {
            subject,
            whens,
            otherwise,
        })
    }

    fn begin(&mut self, node: &pm::Node<'_>) -> Result<Expr, Fault> {
        let Some(begin) = node.as_begin_node() else {
            return Err(self.unsupported(node));
        };
        let body = self.optional_statements(begin.statements())?;
        let mut rescues = Vec::new();
        let mut clause = begin.rescue_clause();
        while let Some(rescue) = clause {
            let variable = match rescue.reference() {
                Some(r) => Some(self.target(&r)?),
                None => None,
            };
            let body = self.optional_statements(rescue.statements())?.map(|b| *b);
            rescues.push(Rescue { variable, body });
            clause = rescue.subsequent();
        }
        let otherwise = match begin.else_clause() {
            Some(e) => self.optional_statements(e.statements())?,
            None => None,
        };
        let ensure = match begin.ensure_clause() {
            Some(e) => self.optional_statements(e.statements())?,
            None => None,
        };
        Ok(Expr::Begin {
            body,
            rescues,
            otherwise,
            ensure,
        })
    }
}

/// The names of a scope's local variables, as prism lists them.
fn local_names(list: &pm::ConstantList<'_>) -> Vec<Vec<u8>> {
    list.iter().map(|c| c.as_slice().to_vec()).collect()
}
