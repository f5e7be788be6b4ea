//! Walking a lowered tree without running it: used to refuse, at compile time, what a block
//! kept for converge time (a guard) would call but cannot.

use super::ast::{Arg, BlockArg, Call, Expr, HashItem, Node, Span};
use super::interp::Fault;

/// Calls `visit` with every method call in `node` (and in blocks inside it), outermost first;
/// the first error stops the walk.
pub(crate) fn each_call(
    node: &Node,
    visit: &mut dyn FnMut(&Call, Span) -> Result<(), Fault>,
) -> Result<(), Fault> {
    let mut walk = |n: &Node| each_call(n, visit);
    match &node.expr {
        Expr::Interpolated(parts)
        | Expr::InterpolatedSym(parts)
        | Expr::InterpolatedRegex(parts, _)
        | Expr::Seq(parts) => parts.iter().try_for_each(walk),
        Expr::Array(items) => items.iter().try_for_each(|a| walk(arg_node(a))),
        Expr::Hash(items) => items.iter().try_for_each(|item| match item {
            HashItem::Pair(k, v) => {
                walk(k)?;
                walk(v)
            }
            HashItem::Splat(n) => walk(n),
        }),
        Expr::Range { low, high, .. } => low.iter().chain(high.iter()).try_for_each(|n| walk(n)),
        Expr::LocalSet(_, value)
        | Expr::LocalOpSet(_, _, value)
        | Expr::IvarSet(_, value)
        | Expr::IvarOpSet(_, _, value)
        | Expr::MultiSet(_, value)
        | Expr::Not(value)
        | Expr::Output { value, .. } => walk(value),
        Expr::Next(value) | Expr::Break(value) | Expr::Return(value) => {
            value.iter().try_for_each(|n| walk(n))
        }
        Expr::And(a, b) | Expr::Or(a, b) | Expr::RescueModifier(a, b) => {
            walk(a)?;
            walk(b)
        }
        Expr::IndexOpSet {
            receiver,
            args,
            value,
            ..
        } => {
            walk(receiver)?;
            args.iter().try_for_each(|a| walk(arg_node(a)))?;
            walk(value)
        }
        Expr::If {
            cond,
            then,
            otherwise,
        } => {
            walk(cond)?;
            then.iter()
                .chain(otherwise.iter())
                .try_for_each(|n| walk(n))
        }
        Expr::Case {
            subject,
            whens,
            otherwise,
        } => {
            subject.iter().try_for_each(|n| walk(n))?;
            for when in whens {
                when.conditions.iter().try_for_each(|a| walk(arg_node(a)))?;
                when.body.iter().try_for_each(&mut walk)?;
            }
            otherwise.iter().try_for_each(|n| walk(n))
        }
        Expr::Begin {
            body,
            rescues,
            otherwise,
            ensure,
        } => {
            body.iter()
                .chain(otherwise.iter())
                .chain(ensure.iter())
                .try_for_each(|n| walk(n))?;
            rescues
                .iter()
                .filter_map(|r| r.body.as_ref())
                .try_for_each(walk)
        }
        Expr::Def(_, method) => method.body.iter().try_for_each(walk),
        Expr::Module(_, body, _) => body.iter().try_for_each(|n| each_call(n, visit)),
        Expr::Call(call) => {
            visit(call, node.span)?;
            call.receiver.iter().try_for_each(|n| each_call(n, visit))?;
            call.args
                .iter()
                .try_for_each(|a| each_call(arg_node(a), visit))?;
            match &call.block {
                Some(BlockArg::Code(block)) => {
                    block.body.iter().try_for_each(|n| each_call(n, visit))
                }
                _ => Ok(()),
            }
        }
        Expr::Nil
        | Expr::True
        | Expr::False
        | Expr::SelfRef
        | Expr::Int(_)
        | Expr::Float(_)
        | Expr::Str(_)
        | Expr::Sym(_)
        | Expr::Regex(_)
        | Expr::LocalGet(_)
        | Expr::IvarGet(_)
        | Expr::Const(_)
        | Expr::SourceFile
        | Expr::Text(_) => Ok(()),
    }
}

fn arg_node(arg: &Arg) -> &Node {
    match arg {
        Arg::Plain(n) | Arg::Splat(n) => n,
    }
}
