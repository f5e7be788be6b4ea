//! Ruby regular expressions on the `regex` crate.
//!
//! A Ruby literal is translated once: `^`/`$` are line anchors in Ruby (so `(?m)` is always on),
//! Ruby's `/m` is `(?s)`, and the few escapes Ruby has and `regex` lacks (`\h`, `\Z`) are
//! rewritten. Features `regex` does not have (look-around, back-references) are refused with a
//! compile error rather than matched differently.

use super::ast::{BlockArg, Span};
use super::interp::{arity, Fault, Flow, Interp};
use super::value::Value;
use std::sync::Arc;

/// A compiled Ruby regular expression with its source and flags for `inspect`.
#[derive(Debug, Clone)]
pub struct RubyRegex {
    pub regex: regex::Regex,
    pub source: Arc<str>,
    pub flags: Arc<str>,
}

/// The options of a regular expression literal.
#[derive(Debug, Clone, Copy, Default)]
pub struct RegexFlags {
    pub ignore_case: bool,
    pub extended: bool,
    pub multiline: bool,
}

impl RegexFlags {
    fn letters(self) -> String {
        let mut out = String::new();
        if self.multiline {
            out.push('m');
        }
        if self.ignore_case {
            out.push('i');
        }
        if self.extended {
            out.push('x');
        }
        out
    }
}

/// Rewrites Ruby-only escapes into `regex` syntax.
fn translate(source: &str) -> String {
    let mut out = String::with_capacity(source.len() + 8);
    let mut chars = source.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('h') => out.push_str("[0-9a-fA-F]"),
            Some('H') => out.push_str("[^0-9a-fA-F]"),
            Some('Z') => out.push_str(r"(?:\n?\z)"),
            Some('/') => out.push('/'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

impl RubyRegex {
    /// Compiles Ruby regular expression source with its flags.
    pub fn compile(source: &str, flags: RegexFlags) -> Result<RubyRegex, String> {
        let mut pattern = String::from("(?m");
        if flags.multiline {
            pattern.push('s');
        }
        if flags.ignore_case {
            pattern.push('i');
        }
        if flags.extended {
            pattern.push('x');
        }
        pattern.push(')');
        pattern.push_str(&translate(source));
        let regex = regex::RegexBuilder::new(&pattern)
            .size_limit(1 << 22)
            .build()
            .map_err(|e| match e {
                regex::Error::Syntax(message) => {
                    let summary = message
                        .lines()
                        .rev()
                        .find(|l| l.starts_with("error:"))
                        .unwrap_or("invalid syntax")
                        .trim_start_matches("error: ")
                        .to_string();
                    format!(
                        "unsupported regular expression /{source}/: {summary} \
                         (look-around and back-references are not supported)"
                    )
                }
                other => format!("unsupported regular expression /{source}/: {other}"),
            })?;
        Ok(RubyRegex {
            regex,
            source: Arc::from(source),
            flags: Arc::from(flags.letters()),
        })
    }

    /// Ruby's `Regexp#inspect`: `/source/flags`.
    pub fn inspect(&self) -> String {
        let mut source = String::with_capacity(self.source.len());
        let mut escaped = false;
        for c in self.source.chars() {
            if c == '/' && !escaped {
                source.push('\\');
            }
            escaped = c == '\\' && !escaped;
            source.push(c);
        }
        format!("/{source}/{}", self.flags)
    }
}

fn char_index(text: &str, byte: usize) -> i64 {
    i64::try_from(text[..byte].chars().count()).unwrap_or(i64::MAX)
}

/// Ruby's `MatchData`, approximated by `[whole, group1, …]` (nil for unmatched groups).
fn match_data<'a>(captures: &regex::Captures<'_>) -> Value<'a> {
    Value::array(
        captures
            .iter()
            .map(|g| g.map_or(Value::Nil, |m| Value::str(m.as_str())))
            .collect(),
    )
}

/// Expands `\0 \& \1 … \9 \k<name> \\` in a Ruby replacement string.
fn expand(replacement: &str, captures: &regex::Captures<'_>, out: &mut String) {
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some(d @ '0'..='9') => {
                chars.next();
                let index = d.to_digit(10).unwrap_or(0) as usize;
                out.push_str(captures.get(index).map_or("", |m| m.as_str()));
            }
            Some('&') => {
                chars.next();
                out.push_str(captures.get(0).map_or("", |m| m.as_str()));
            }
            Some('\\') => {
                chars.next();
                out.push('\\');
            }
            Some('k') => {
                chars.next();
                if chars.peek() == Some(&'<') {
                    chars.next();
                    let name: String = chars.by_ref().take_while(|c| *c != '>').collect();
                    out.push_str(captures.name(&name).map_or("", |m| m.as_str()));
                } else {
                    out.push_str("\\k");
                }
            }
            _ => out.push('\\'),
        }
    }
}

impl<'a> Interp<'a, '_> {
    /// Methods of a Regexp value.
    pub(crate) fn regex_method(
        &mut self,
        re: &Arc<RubyRegex>,
        name: &str,
        args: &[Value<'a>],
    ) -> Result<Option<Value<'a>>, Flow<'a>> {
        let text = match args.first() {
            Some(Value::Str(s)) => Some(s.clone()),
            Some(Value::Sym(s)) => Some(s.clone()),
            _ => None,
        };
        Ok(Some(match name {
            "=~" | "match" | "match?" | "===" | "!~" => {
                arity(args, 1, 2)?;
                let Some(text) = text else {
                    return Ok(Some(match name {
                        "===" | "match?" => Value::Bool(false),
                        "!~" => Value::Bool(true),
                        _ => Value::Nil,
                    }));
                };
                match name {
                    "match?" | "===" => Value::Bool(re.regex.is_match(&text)),
                    "!~" => Value::Bool(!re.regex.is_match(&text)),
                    "match" => re
                        .regex
                        .captures(&text)
                        .map_or(Value::Nil, |c| match_data(&c)),
                    _ => re
                        .regex
                        .find(&text)
                        .map_or(Value::Nil, |m| Value::Int(char_index(&text, m.start()))),
                }
            }
            "source" => Value::Str(re.source.clone()),
            "to_s" | "inspect" => Value::str(re.inspect()),
            "==" | "eql?" => Value::Bool(
                matches!(args.first(), Some(Value::Regex(o)) if o.source == re.source && o.flags == re.flags),
            ),
            _ => return Ok(None),
        }))
    }

    /// String methods that take a Regexp (`gsub(/x/, 'y')`, `scan`, `split`, `=~`).
    pub(crate) fn string_regex_method(
        &mut self,
        text: &str,
        re: &Arc<RubyRegex>,
        name: &str,
        args: &[Value<'a>],
        block: Option<&BlockArg>,
        span: Span,
    ) -> Result<Option<Value<'a>>, Flow<'a>> {
        Ok(Some(match name {
            "=~" | "match" | "match?" | "!~" => {
                return self.regex_method(re, name, &[Value::str(text)]);
            }
            "gsub" | "sub" => {
                arity(args, 1, 2)?;
                let all = name == "gsub";
                let mut out = String::with_capacity(text.len());
                let mut last = 0;
                for captures in re.regex.captures_iter(text) {
                    let Some(whole) = captures.get(0) else {
                        continue;
                    };
                    out.push_str(&text[last..whole.start()]);
                    match (args.get(1), block) {
                        (Some(Value::Str(r)), _) => expand(r, &captures, &mut out),
                        (Some(Value::Hash(h)), _) => {
                            let v = h.get(&Value::str(whole.as_str())).unwrap_or(Value::Nil);
                            out.push_str(&v.to_s());
                        }
                        (Some(other), _) => out.push_str(&other.to_s()),
                        (None, Some(b)) => {
                            let v = self.yield_block(b, vec![Value::str(whole.as_str())])?;
                            out.push_str(&self.stringify(v, span)?);
                        }
                        (None, None) => {
                            return Err(Fault::argument(
                                "wrong number of arguments (given 1, expected 2)",
                            )
                            .into())
                        }
                    }
                    last = whole.end();
                    if !all {
                        break;
                    }
                }
                out.push_str(&text[last..]);
                Value::str(out)
            }
            "scan" => {
                let mut found = Vec::new();
                for captures in re.regex.captures_iter(text) {
                    let item = if captures.len() > 1 {
                        Value::array(
                            captures
                                .iter()
                                .skip(1)
                                .map(|g| g.map_or(Value::Nil, |m| Value::str(m.as_str())))
                                .collect(),
                        )
                    } else {
                        captures
                            .get(0)
                            .map_or(Value::Nil, |m| Value::str(m.as_str()))
                    };
                    found.push(item);
                }
                match block {
                    Some(b) => {
                        for item in found {
                            self.yield_block(b, vec![item])?;
                        }
                        Value::str(text)
                    }
                    None => Value::array(found),
                }
            }
            "split" => {
                let limit = match args.get(1) {
                    Some(Value::Int(n)) if *n > 0 => usize::try_from(*n).unwrap_or(usize::MAX),
                    _ => usize::MAX,
                };
                let mut parts: Vec<String> = if re.source.is_empty() {
                    text.chars().map(String::from).collect()
                } else {
                    re.regex.splitn(text, limit).map(String::from).collect()
                };
                if limit == usize::MAX {
                    while parts.last().is_some_and(String::is_empty) {
                        parts.pop();
                    }
                }
                Value::array(parts.into_iter().map(Value::str).collect())
            }
            "index" => re
                .regex
                .find(text)
                .map_or(Value::Nil, |m| Value::Int(char_index(text, m.start()))),
            "start_with?" => Value::Bool(re.regex.find(text).is_some_and(|m| m.start() == 0)),
            "[]" | "slice" => match re.regex.captures(text) {
                Some(c) => {
                    let group = match args.get(1) {
                        Some(Value::Int(i)) => usize::try_from(*i).ok().and_then(|i| c.get(i)),
                        Some(Value::Str(n) | Value::Sym(n)) => c.name(n),
                        _ => c.get(0),
                    };
                    group.map_or(Value::Nil, |m| Value::str(m.as_str()))
                }
                None => Value::Nil,
            },
            _ => return Ok(None),
        }))
    }
}

/// `Regexp.escape`.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '.' | '*' | '?' | '+' | '^' | '$' | '|' | '(' | ')' | '[' | ']' | '{' | '}' | '\\'
            | '/' | '-' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            ' ' => out.push_str("\\ "),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruby_anchors_are_line_anchors() {
        let re = RubyRegex::compile("^b$", RegexFlags::default()).unwrap();
        assert!(re.regex.is_match("a\nb\nc"));
        let re = RubyRegex::compile(r"\Ab", RegexFlags::default()).unwrap();
        assert!(!re.regex.is_match("a\nb"));
    }

    #[test]
    fn ruby_only_escapes_are_translated() {
        let re = RubyRegex::compile(r"\h+\Z", RegexFlags::default()).unwrap();
        assert!(re.regex.is_match("beef\n"));
        assert_eq!(re.inspect(), r"/\h+\Z/");
    }

    #[test]
    fn unsupported_features_are_refused() {
        let err = RubyRegex::compile("a(?=b)", RegexFlags::default()).unwrap_err();
        assert!(err.contains("look-around"), "{err}");
    }
}
