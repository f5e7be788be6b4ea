//! Methods of Ruby's scalar values: String, Symbol, Integer, Float, nil, true/false, and
//! `format`.

use super::ast::{BlockArg, Span};
use super::interp::{arity, Fault, Flow, Interp};
use super::value::{compare, equal, float_to_s, Value};
use std::cmp::Ordering;
use std::sync::Arc;

type Found<'a> = Result<Option<Value<'a>>, Flow<'a>>;

/// The largest string or array one operation may build (repeat, padding, `Array#*`).
pub(crate) const MAX_SIZE: usize = 64 << 20;

fn str_arg<'v>(args: &'v [Value<'_>], index: usize, method: &str) -> Result<&'v str, Fault> {
    match args.get(index) {
        Some(Value::Str(s)) => Ok(s),
        Some(other) => Err(Fault::type_error(format!(
            "no implicit conversion of {} into String (in `{method}`)",
            other.class_name()
        ))),
        None => Err(Fault::argument(format!("`{method}` needs an argument"))),
    }
}

fn int_arg(args: &[Value<'_>], index: usize, method: &str) -> Result<i64, Fault> {
    match args.get(index) {
        Some(Value::Int(i)) => Ok(*i),
        Some(Value::Float(f)) => Ok(*f as i64),
        Some(other) => Err(Fault::type_error(format!(
            "no implicit conversion of {} into Integer (in `{method}`)",
            other.class_name()
        ))),
        None => Err(Fault::argument(format!("`{method}` needs an argument"))),
    }
}

/// Ruby's `String#to_i`: leading integer, else 0.
pub(crate) fn parse_int_prefix(s: &str) -> i64 {
    let t = s.trim_start();
    let (sign, digits) = match t.as_bytes().first() {
        Some(b'-') => (-1, &t[1..]),
        Some(b'+') => (1, &t[1..]),
        _ => (1, t),
    };
    let digits: String = digits
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '_')
        .filter(|c| *c != '_')
        .collect();
    digits.parse::<i64>().map_or(0, |v| v * sign)
}

/// Ruby's `String#to_f`: leading float, else 0.0.
pub(crate) fn parse_float_prefix(s: &str) -> f64 {
    let t = s.trim_start();
    let mut end = 0;
    let bytes = t.as_bytes();
    let mut seen_dot = false;
    let mut seen_e = false;
    while end < bytes.len() {
        let c = bytes[end];
        let ok = c.is_ascii_digit()
            || (end == 0 && (c == b'-' || c == b'+'))
            || (c == b'.' && !seen_dot && !seen_e)
            || ((c == b'e' || c == b'E') && !seen_e && end > 0);
        if !ok {
            break;
        }
        seen_dot |= c == b'.';
        seen_e |= c == b'e' || c == b'E';
        end += 1;
    }
    let mut candidate = &t[..end];
    while !candidate.is_empty() {
        if let Ok(f) = candidate.parse::<f64>() {
            return f;
        }
        candidate = &candidate[..candidate.len() - 1];
    }
    0.0
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}

fn char_index(s: &str, index: i64) -> Option<usize> {
    let len = i64::try_from(s.chars().count()).ok()?;
    let index = if index < 0 { len + index } else { index };
    (0..=len)
        .contains(&index)
        .then(|| usize::try_from(index).ok())
        .flatten()
}

fn substring(s: &str, start: i64, length: i64) -> Option<String> {
    let start = char_index(s, start)?;
    let length = usize::try_from(length).ok()?;
    Some(s.chars().skip(start).take(length).collect())
}

fn split<'a>(s: &str, sep: Option<&str>, limit: Option<i64>) -> Vec<Value<'a>> {
    let mut parts: Vec<String> = match sep {
        None | Some(" ") => match limit {
            Some(n) if n > 0 => {
                let mut out = Vec::new();
                let mut rest = s.trim_start();
                while !rest.is_empty() {
                    if out.len() + 1 == usize::try_from(n).unwrap_or(usize::MAX) {
                        out.push(rest.to_string());
                        break;
                    }
                    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                    out.push(rest[..end].to_string());
                    rest = rest[end..].trim_start();
                }
                out
            }
            _ => s.split_whitespace().map(str::to_string).collect(),
        },
        Some("") => s.chars().map(|c| c.to_string()).collect(),
        Some(sep) => match limit {
            Some(n) if n > 0 => s
                .splitn(usize::try_from(n).unwrap_or(usize::MAX), sep)
                .map(str::to_string)
                .collect(),
            _ => s.split(sep).map(str::to_string).collect(),
        },
    };
    if limit.is_none_or(|n| n == 0) {
        while parts.last().is_some_and(String::is_empty) {
            parts.pop();
        }
    }
    parts.into_iter().map(Value::str).collect()
}

fn pad(s: &str, width: i64, fill: &str, side: Ordering) -> String {
    let len = s.chars().count();
    let width = usize::try_from(width).unwrap_or(0).min(MAX_SIZE);
    if width <= len || fill.is_empty() {
        return s.to_string();
    }
    let total = width - len;
    let filler = |n: usize| fill.chars().cycle().take(n).collect::<String>();
    match side {
        Ordering::Less => format!("{s}{}", filler(total)),
        Ordering::Greater => format!("{}{s}", filler(total)),
        Ordering::Equal => {
            let left = total / 2;
            format!("{}{s}{}", filler(left), filler(total - left))
        }
    }
}

/// `String#tr` with `a-z` ranges and `^` negation.
fn tr(s: &str, from: &str, to: &str) -> String {
    fn expand(set: &str) -> Vec<char> {
        let chars: Vec<char> = set.chars().collect();
        let mut out = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            if i + 2 < chars.len() && chars[i + 1] == '-' {
                let (a, b) = (chars[i] as u32, chars[i + 2] as u32);
                out.extend((a..=b).filter_map(char::from_u32));
                i += 3;
            } else {
                out.push(chars[i]);
                i += 1;
            }
        }
        out
    }
    let (negate, from) = match from.strip_prefix('^') {
        Some(rest) if !rest.is_empty() => (true, rest),
        _ => (false, from),
    };
    let from = expand(from);
    let to = expand(to);
    s.chars()
        .filter_map(|c| {
            let position = from.iter().position(|f| *f == c);
            match (negate, position) {
                (true, Some(_)) | (false, None) => Some(c),
                (true, None) => to.last().copied(),
                (false, Some(i)) => {
                    if to.is_empty() {
                        None
                    } else {
                        Some(*to.get(i).unwrap_or(&to[to.len() - 1]))
                    }
                }
            }
        })
        .collect()
}

impl<'a> Interp<'a, '_> {
    pub(crate) fn string_method(
        &mut self,
        s: &Arc<str>,
        name: &str,
        args: &[Value<'a>],
        block: Option<&BlockArg>,
        span: Span,
    ) -> Found<'a> {
        let text: &str = s;
        if let Some(Value::Regex(re)) = args.first() {
            let re = re.clone();
            if let Some(v) = self.string_regex_method(text, &re, name, args, block, span)? {
                return Ok(Some(v));
            }
        }
        if let Some(base) = name.strip_suffix('!') {
            if matches!(
                base,
                "upcase"
                    | "downcase"
                    | "capitalize"
                    | "swapcase"
                    | "strip"
                    | "lstrip"
                    | "rstrip"
                    | "chomp"
                    | "chop"
                    | "squeeze"
                    | "reverse"
                    | "gsub"
                    | "sub"
                    | "tr"
                    | "delete"
            ) {
                return self.string_method(s, base, args, block, span);
            }
        }
        match name {
            "replace" | "+@" | "-@" | "dup" | "clone" | "itself" | "length" | "size"
            | "bytesize" | "to_s" | "to_str" | "to_sym" | "intern" | "to_i" | "to_f" | "chars"
            | "bytes" | "lines" | "ord" | "hex" | "oct" | "succ" | "next" | "unpack"
            | "unpack1" | "encode" | "force_encoding" | "unicode_normalize" => {
                self.string_conversion(s, name, args)
            }
            "upcase" | "downcase" | "capitalize" | "swapcase" | "strip" | "lstrip" | "rstrip"
            | "chomp" | "chop" | "reverse" | "squeeze" | "center" | "ljust" | "rjust" => {
                self.string_reshaping(s, name, args)
            }
            "split" | "empty?" | "include?" | "start_with?" | "end_with?" | "index" | "rindex"
            | "count" | "[]" | "slice" | "<=>" | "<" | ">" | "<=" | ">=" | "casecmp?"
            | "casecmp" => self.string_search(s, name, args),
            "prepend" | "gsub" | "sub" | "tr" | "delete" | "+" | "<<" | "concat" | "*" | "%"
            | "each_char" | "each_line" => self.string_building(s, name, args, block, span),
            _ => Ok(None),
        }
    }

    /// String methods that convert the string to another value.
    fn string_conversion(&mut self, s: &Arc<str>, name: &str, args: &[Value<'a>]) -> Found<'a> {
        let text: &str = s;
        Ok(Some(match name {
            "replace" => Value::str(str_arg(args, 0, name)?),
            "+@" | "-@" | "dup" | "clone" | "itself" => Value::Str(s.clone()),
            "length" | "size" => {
                Value::Int(i64::try_from(text.chars().count()).unwrap_or(i64::MAX))
            }
            "bytesize" => Value::Int(i64::try_from(text.len()).unwrap_or(i64::MAX)),
            "to_s" | "to_str" => Value::Str(s.clone()),
            "to_sym" | "intern" => Value::Sym(s.clone()),
            "to_i" => Value::Int(parse_int_prefix(text)),
            "to_f" => Value::Float(parse_float_prefix(text)),
            "chars" => Value::array(text.chars().map(|c| Value::str(c.to_string())).collect()),
            "bytes" => Value::array(text.bytes().map(|b| Value::Int(i64::from(b))).collect()),
            "lines" => Value::array(text.split_inclusive('\n').map(Value::str).collect()),
            "ord" => match text.chars().next() {
                Some(c) => Value::Int(i64::from(c as u32)),
                None => return Err(Fault::argument("empty string").into()),
            },
            "hex" => {
                Value::Int(i64::from_str_radix(text.trim_start_matches("0x"), 16).unwrap_or(0))
            }
            "oct" => Value::Int(i64::from_str_radix(text.trim_start_matches("0o"), 8).unwrap_or(0)),
            "succ" | "next" => Value::str(succ(text)),
            "encode" | "force_encoding" | "unicode_normalize" | "scrub" => Value::Str(s.clone()),
            _ => return Ok(None),
        }))
    }

    /// String methods that change case, whitespace or layout.
    fn string_reshaping(&mut self, s: &Arc<str>, name: &str, args: &[Value<'a>]) -> Found<'a> {
        let text: &str = s;
        Ok(Some(match name {
            "upcase" => Value::str(text.to_uppercase()),
            "downcase" => Value::str(text.to_lowercase()),
            "capitalize" => Value::str(capitalize(text)),
            "swapcase" => Value::str(
                text.chars()
                    .map(|c| {
                        if c.is_uppercase() {
                            c.to_lowercase().collect::<String>()
                        } else {
                            c.to_uppercase().collect()
                        }
                    })
                    .collect::<String>(),
            ),
            "strip" => Value::str(text.trim_matches(|c: char| c.is_whitespace() || c == '\0')),
            "lstrip" => Value::str(text.trim_start()),
            "rstrip" => Value::str(text.trim_end_matches(|c: char| c.is_whitespace() || c == '\0')),
            "chomp" => Value::str(match args.first() {
                Some(Value::Str(suffix)) => text.strip_suffix(suffix.as_ref()).unwrap_or(text),
                _ => text
                    .strip_suffix("\r\n")
                    .or_else(|| text.strip_suffix('\n'))
                    .or_else(|| text.strip_suffix('\r'))
                    .unwrap_or(text),
            }),
            "chop" => {
                let mut t = text.to_string();
                t.pop();
                Value::str(t)
            }
            "reverse" => Value::str(text.chars().rev().collect::<String>()),
            "squeeze" => {
                let mut out = String::new();
                for c in text.chars() {
                    if !out.ends_with(c) {
                        out.push(c);
                    }
                }
                Value::str(out)
            }
            "center" | "ljust" | "rjust" => {
                let width = int_arg(args, 0, name)?;
                let fill = if args.len() > 1 {
                    str_arg(args, 1, name)?
                } else {
                    " "
                };
                let side = match name {
                    "ljust" => Ordering::Less,
                    "rjust" => Ordering::Greater,
                    _ => Ordering::Equal,
                };
                Value::str(pad(text, width, fill, side))
            }
            _ => return Ok(None),
        }))
    }

    /// String methods that look into the string or compare it.
    fn string_search(&mut self, s: &Arc<str>, name: &str, args: &[Value<'a>]) -> Found<'a> {
        let text: &str = s;
        Ok(Some(match name {
            "split" => {
                let sep = match args.first() {
                    None | Some(Value::Nil) => None,
                    Some(_) => Some(str_arg(args, 0, name)?),
                };
                let limit = match args.get(1) {
                    Some(_) => Some(int_arg(args, 1, name)?),
                    None => None,
                };
                Value::array(split(text, sep, limit))
            }
            "empty?" => Value::Bool(text.is_empty()),
            "include?" => Value::Bool(text.contains(str_arg(args, 0, name)?)),
            "start_with?" => Value::Bool(
                args.iter()
                    .any(|a| matches!(a, Value::Str(p) if text.starts_with(p.as_ref()))),
            ),
            "end_with?" => Value::Bool(
                args.iter()
                    .any(|a| matches!(a, Value::Str(p) if text.ends_with(p.as_ref()))),
            ),
            "index" => {
                let needle = str_arg(args, 0, name)?;
                match text.find(needle) {
                    Some(b) => Value::Int(i64::try_from(text[..b].chars().count()).unwrap_or(0)),
                    None => Value::Nil,
                }
            }
            "rindex" => {
                let needle = str_arg(args, 0, name)?;
                match text.rfind(needle) {
                    Some(b) => Value::Int(i64::try_from(text[..b].chars().count()).unwrap_or(0)),
                    None => Value::Nil,
                }
            }
            "count" => {
                let set: Vec<char> = str_arg(args, 0, name)?.chars().collect();
                Value::Int(
                    i64::try_from(text.chars().filter(|c| set.contains(c)).count()).unwrap_or(0),
                )
            }
            "[]" | "slice" => string_index(text, args)?,
            "<=>" => match args
                .first()
                .and_then(|o| compare(&Value::Str(s.clone()), o))
            {
                Some(o) => Value::Int(o as i64),
                None => Value::Nil,
            },
            "<" | ">" | "<=" | ">=" => {
                let other = args.first().cloned().unwrap_or(Value::Nil);
                let Some(ordering) = compare(&Value::Str(s.clone()), &other) else {
                    return Err(Fault::argument(format!(
                        "comparison of String with {} failed",
                        other.class_name()
                    ))
                    .into());
                };
                Value::Bool(ordering_matches(name, ordering))
            }
            "casecmp?" => {
                Value::Bool(text.to_lowercase() == str_arg(args, 0, name)?.to_lowercase())
            }
            "casecmp" => Value::Int(
                text.to_lowercase()
                    .cmp(&str_arg(args, 0, name)?.to_lowercase()) as i64,
            ),
            _ => return Ok(None),
        }))
    }

    /// String methods that build a new string from parts.
    fn string_building(
        &mut self,
        s: &Arc<str>,
        name: &str,
        args: &[Value<'a>],
        block: Option<&BlockArg>,
        span: Span,
    ) -> Found<'a> {
        let text: &str = s;
        Ok(Some(match name {
            "prepend" => {
                let mut out = String::new();
                for a in args {
                    out.push_str(&self.stringify(a.clone(), span)?);
                }
                out.push_str(text);
                Value::str(out)
            }
            "gsub" | "sub" => {
                arity(args, 1, 2)?;
                let pattern = str_arg(args, 0, name)?;
                let all = name.starts_with('g');
                Value::str(self.substitute(text, pattern, args.get(1), block, all, span)?)
            }
            "tr" => Value::str(tr(text, str_arg(args, 0, name)?, str_arg(args, 1, name)?)),
            "delete" => {
                let set: Vec<char> = str_arg(args, 0, name)?.chars().collect();
                Value::str(
                    text.chars()
                        .filter(|c| !set.contains(c))
                        .collect::<String>(),
                )
            }
            "+" => match args.first() {
                Some(Value::Str(o)) => Value::str(format!("{text}{o}")),
                Some(other) => {
                    return Err(Fault::type_error(format!(
                        "no implicit conversion of {} into String",
                        other.class_name()
                    ))
                    .into())
                }
                None => return Err(Fault::argument("`+` needs an argument").into()),
            },
            "<<" | "concat" => {
                let mut out = text.to_string();
                for a in args {
                    out.push_str(&self.stringify(a.clone(), span)?);
                }
                Value::str(out)
            }
            "*" => {
                let n = int_arg(args, 0, name)?;
                let n = usize::try_from(n).map_err(|_| Fault::argument("negative argument"))?;
                if text.len().saturating_mul(n) > MAX_SIZE {
                    return Err(Fault::argument("argument too big").into());
                }
                Value::str(text.repeat(n))
            }
            "%" => {
                let values = match args.first() {
                    Some(Value::Array(a)) => a.items.borrow().clone(),
                    Some(v) => vec![v.clone()],
                    None => Vec::new(),
                };
                Value::str(format(text, &values)?)
            }
            "each_char" | "each_line" => {
                let Some(block) = block else {
                    return Ok(None);
                };
                let pieces: Vec<String> = if name == "each_char" {
                    text.chars().map(|c| c.to_string()).collect()
                } else {
                    text.split_inclusive('\n').map(str::to_string).collect()
                };
                for piece in pieces {
                    self.yield_block(block, vec![Value::str(piece)])?;
                }
                Value::Str(s.clone())
            }
            _ => return Ok(None),
        }))
    }

    fn substitute(
        &mut self,
        text: &str,
        pattern: &str,
        replacement: Option<&Value<'a>>,
        block: Option<&BlockArg>,
        all: bool,
        span: Span,
    ) -> Result<String, Flow<'a>> {
        if pattern.is_empty() {
            return Ok(text.to_string());
        }
        let mut out = String::new();
        let mut rest = text;
        while let Some(at) = rest.find(pattern) {
            out.push_str(&rest[..at]);
            let piece = match (replacement, block) {
                (Some(Value::Hash(h)), _) => h
                    .get(&Value::str(pattern))
                    .map(|v| v.to_s())
                    .unwrap_or_default(),
                (Some(r), _) => r.to_s().replace("\\0", pattern).replace("\\&", pattern),
                (None, Some(b)) => {
                    let v = self.yield_block(b, vec![Value::str(pattern)])?;
                    self.stringify(v, span)?
                }
                (None, None) => {
                    return Err(
                        Fault::argument("wrong number of arguments (given 1, expected 2)").into(),
                    )
                }
            };
            out.push_str(&piece);
            rest = &rest[at + pattern.len()..];
            if !all {
                break;
            }
        }
        out.push_str(rest);
        Ok(out)
    }

    pub(crate) fn integer_method(
        &mut self,
        i: i64,
        name: &str,
        args: &[Value<'a>],
        block: Option<&BlockArg>,
        _span: Span,
    ) -> Found<'a> {
        if let Some(v) = integer_arithmetic(i, name, args)? {
            return Ok(Some(v));
        }
        Ok(Some(match name {
            "times" if block.is_none() => {
                if i > 1_000_000 {
                    return Err(Fault::argument("too many items for an enumerator").into());
                }
                Value::array((0..i.max(0)).map(Value::Int).collect())
            }
            "times" | "upto" | "downto" => {
                let Some(block) = block else {
                    return Ok(None);
                };
                let range: Box<dyn Iterator<Item = i64>> = match name {
                    "times" => Box::new(0..i.max(0)),
                    "upto" => Box::new(i..=int_arg(args, 0, name)?),
                    _ => Box::new((int_arg(args, 0, name)?..=i).rev()),
                };
                for n in range {
                    self.yield_block(block, vec![Value::Int(n)])?;
                }
                Value::Int(i)
            }
            "step" => {
                let limit = int_arg(args, 0, name)?;
                let step = if args.len() > 1 {
                    int_arg(args, 1, name)?
                } else {
                    1
                };
                if step == 0 {
                    return Err(Fault::argument("step can't be 0").into());
                }
                let mut items = Vec::new();
                let mut n = i;
                while (step > 0 && n <= limit) || (step < 0 && n >= limit) {
                    items.push(Value::Int(n));
                    n = n.saturating_add(step);
                }
                match block {
                    Some(block) => {
                        for item in items {
                            self.yield_block(block, vec![item])?;
                        }
                        Value::Int(i)
                    }
                    None => Value::array(items),
                }
            }
            _ => return Ok(None),
        }))
    }
}

fn succ(text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let mut i = chars.len();
    while i > 0 {
        i -= 1;
        match chars[i] {
            'z' => chars[i] = 'a',
            'Z' => chars[i] = 'A',
            '9' => chars[i] = '0',
            c if c.is_ascii_alphanumeric() => {
                chars[i] = char::from_u32(c as u32 + 1).unwrap_or(c);
                return chars.into_iter().collect();
            }
            _ => continue,
        }
    }
    let first = match text.chars().next() {
        Some('z') => 'a',
        Some('Z') => 'A',
        Some('9') => '1',
        _ => return chars.into_iter().collect(),
    };
    std::iter::once(first).chain(chars).collect()
}

fn string_index<'a>(text: &str, args: &[Value<'a>]) -> Result<Value<'a>, Fault> {
    let found = match args {
        [Value::Int(i)] => char_index(text, *i)
            .filter(|&at| at < text.chars().count())
            .and_then(|at| text.chars().nth(at))
            .map(|c| c.to_string()),
        [Value::Int(start), Value::Int(length)] => substring(text, *start, *length),
        [Value::Range(r)] => match (&r.0, &r.1) {
            (Value::Int(a), high) => {
                let len = i64::try_from(text.chars().count()).unwrap_or(0);
                let b = match high {
                    Value::Int(b) => *b,
                    _ => -1,
                };
                let b = if b < 0 { len.saturating_add(b) } else { b };
                let b = if r.2 { b.saturating_sub(1) } else { b };
                let a = if *a < 0 { len.saturating_add(*a) } else { *a };
                substring(text, a, b.saturating_sub(a).saturating_add(1).max(0))
            }
            _ => None,
        },
        [Value::Str(needle)] => text.contains(needle.as_ref()).then(|| needle.to_string()),
        _ => return Err(Fault::type_error("unsupported String#[] arguments")),
    };
    Ok(found.map_or(Value::Nil, Value::str))
}

fn ordering_matches(op: &str, ordering: Ordering) -> bool {
    match op {
        "<" => ordering == Ordering::Less,
        ">" => ordering == Ordering::Greater,
        "<=" => ordering != Ordering::Greater,
        _ => ordering != Ordering::Less,
    }
}

fn integer_arithmetic<'a>(
    i: i64,
    name: &str,
    args: &[Value<'a>],
) -> Result<Option<Value<'a>>, Fault> {
    let overflow = || {
        Fault::new(
            "RangeError",
            "integer overflow (values beyond 64 bits are unsupported)",
        )
    };
    let other = args.first();
    let arithmetic = matches!(
        name,
        "+" | "-" | "*" | "/" | "%" | "**" | "<" | ">" | "<=" | ">=" | "<=>"
    );
    if arithmetic && matches!(other, Some(Value::Float(_))) {
        return float_method(i as f64, name, args);
    }
    Ok(Some(match (name, other) {
        ("+", Some(Value::Int(o))) => Value::Int(i.checked_add(*o).ok_or_else(overflow)?),
        ("-", Some(Value::Int(o))) => Value::Int(i.checked_sub(*o).ok_or_else(overflow)?),
        ("*", Some(Value::Int(o))) => Value::Int(i.checked_mul(*o).ok_or_else(overflow)?),
        ("/" | "div", Some(Value::Int(0))) | ("%" | "modulo", Some(Value::Int(0))) => {
            return Err(Fault::new("ZeroDivisionError", "divided by 0"))
        }
        ("/" | "div", Some(Value::Int(o))) => {
            let q = i.checked_div_euclid(*o).ok_or_else(overflow)?;
            let r = i.checked_rem_euclid(*o).ok_or_else(overflow)?;
            Value::Int(q - i64::from(o.is_negative() && r != 0))
        }
        ("%" | "modulo", Some(Value::Int(o))) => {
            let r = i.checked_rem_euclid(*o).ok_or_else(overflow)?;
            Value::Int(if *o < 0 && r != 0 { r + o } else { r })
        }
        ("**" | "pow", Some(Value::Int(o))) => {
            if *o < 0 {
                Value::Float((i as f64).powf(*o as f64))
            } else {
                let e = u32::try_from(*o).map_err(|_| overflow())?;
                Value::Int(i.checked_pow(e).ok_or_else(overflow)?)
            }
        }
        ("fdiv", Some(Value::Int(o))) => Value::Float(i as f64 / *o as f64),
        ("&", Some(Value::Int(o))) => Value::Int(i & o),
        ("|", Some(Value::Int(o))) => Value::Int(i | o),
        ("^", Some(Value::Int(o))) => Value::Int(i ^ o),
        ("<<", Some(Value::Int(o))) => Value::Int(
            i.checked_shl(u32::try_from(*o).map_err(|_| overflow())?)
                .ok_or_else(overflow)?,
        ),
        (">>", Some(Value::Int(o))) => Value::Int(i >> (*o).clamp(0, 63)),
        ("<" | ">" | "<=" | ">=", Some(Value::Int(o))) => {
            Value::Bool(ordering_matches(name, i.cmp(o)))
        }
        ("<=>", Some(o)) => match compare(&Value::Int(i), o) {
            Some(ord) => Value::Int(ord as i64),
            None => Value::Nil,
        },
        ("-@", None) => Value::Int(i.checked_neg().ok_or_else(overflow)?),
        ("+@", None) => Value::Int(i),
        ("~", None) => Value::Int(!i),
        ("to_s" | "inspect", None) => Value::str(i.to_string()),
        ("to_s", Some(Value::Int(base))) => Value::str(int_to_base(i, *base)?),
        ("to_i" | "to_int" | "floor" | "ceil" | "round" | "truncate" | "ord", _) => Value::Int(i),
        ("to_f", None) => Value::Float(i as f64),
        ("chr", None) => Value::str(
            u8::try_from(i)
                .map(|b| char::from(b).to_string())
                .map_err(|_| Fault::new("RangeError", format!("{i} out of char range")))?,
        ),
        ("abs" | "magnitude", None) => Value::Int(i.checked_abs().ok_or_else(overflow)?),
        ("succ" | "next", None) => Value::Int(i.checked_add(1).ok_or_else(overflow)?),
        ("pred", None) => Value::Int(i.checked_sub(1).ok_or_else(overflow)?),
        ("even?", None) => Value::Bool(i % 2 == 0),
        ("odd?", None) => Value::Bool(i % 2 != 0),
        ("zero?", None) => Value::Bool(i == 0),
        ("positive?", None) => Value::Bool(i > 0),
        ("negative?", None) => Value::Bool(i < 0),
        ("nonzero?", None) => {
            if i == 0 {
                Value::Nil
            } else {
                Value::Int(i)
            }
        }
        ("integer?", None) => Value::Bool(true),
        ("between?", Some(_)) => {
            let low = int_arg(args, 0, name)?;
            let high = int_arg(args, 1, name)?;
            Value::Bool(low <= i && i <= high)
        }
        ("clamp", Some(_)) => Value::Int(i.clamp(
            int_arg(args, 0, name)?,
            int_arg(args, 1, name)?.max(int_arg(args, 0, name)?),
        )),
        ("divmod", Some(Value::Int(o))) if *o != 0 => {
            let q = integer_arithmetic(i, "/", args)?.unwrap_or(Value::Nil);
            let r = integer_arithmetic(i, "%", args)?.unwrap_or(Value::Nil);
            Value::array(vec![q, r])
        }
        ("==" | "===" | "eql?", Some(o)) => Value::Bool(equal(&Value::Int(i), o)),
        ("+" | "-" | "*" | "/" | "%" | "**" | "<" | ">" | "<=" | ">=", Some(o)) => {
            return Err(Fault::type_error(format!(
                "{} can't be coerced into Integer",
                o.class_name()
            )))
        }
        _ => return Ok(None),
    }))
}

fn int_to_base(i: i64, base: i64) -> Result<String, Fault> {
    if !(2..=36).contains(&base) {
        return Err(Fault::argument(format!("invalid radix {base}")));
    }
    let base = u64::try_from(base).unwrap_or(10);
    let mut n = i.unsigned_abs();
    let mut digits = Vec::new();
    loop {
        let d = u32::try_from(n % base).unwrap_or(0);
        digits.push(char::from_digit(d, 36).unwrap_or('0'));
        n /= base;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        digits.push('-');
    }
    Ok(digits.into_iter().rev().collect())
}

fn round_to(f: f64, digits: i64) -> f64 {
    let factor = 10f64.powi(i32::try_from(digits).unwrap_or(0));
    (f * factor).round() / factor
}

fn float_to_int(f: f64) -> Result<i64, Fault> {
    if f.is_finite() && f.abs() < 9.2e18 {
        Ok(f as i64)
    } else {
        Err(Fault::new("FloatDomainError", float_to_s(f)))
    }
}

/// Methods of Float.
pub(crate) fn float_method<'a>(
    f: f64,
    name: &str,
    args: &[Value<'a>],
) -> Result<Option<Value<'a>>, Fault> {
    let other = match args.first() {
        Some(Value::Int(i)) => Some(*i as f64),
        Some(Value::Float(o)) => Some(*o),
        _ => None,
    };
    Ok(Some(match (name, other) {
        ("+", Some(o)) => Value::Float(f + o),
        ("-", Some(o)) => Value::Float(f - o),
        ("*", Some(o)) => Value::Float(f * o),
        ("/" | "fdiv", Some(o)) => Value::Float(f / o),
        ("%" | "modulo", Some(o)) => Value::Float(f - o * (f / o).floor()),
        ("**" | "pow", Some(o)) => Value::Float(f.powf(o)),
        ("<" | ">" | "<=" | ">=", Some(o)) => match f.partial_cmp(&o) {
            Some(ordering) => Value::Bool(ordering_matches(name, ordering)),
            None => Value::Bool(false),
        },
        ("<=>", Some(o)) => match f.partial_cmp(&o) {
            Some(ordering) => Value::Int(ordering as i64),
            None => Value::Nil,
        },
        ("-@", _) => Value::Float(-f),
        ("+@", _) => Value::Float(f),
        ("to_s" | "inspect", _) => Value::str(float_to_s(f)),
        ("to_f", _) => Value::Float(f),
        ("to_i" | "to_int" | "truncate", _) => Value::Int(float_to_int(f)?),
        ("floor", None) => Value::Int(float_to_int(f.floor())?),
        ("ceil", None) => Value::Int(float_to_int(f.ceil())?),
        ("round", None) => Value::Int(float_to_int(f.round())?),
        ("round", Some(d)) => Value::Float(round_to(f, d as i64)),
        ("floor", Some(d)) => {
            let factor = 10f64.powi(d as i32);
            Value::Float((f * factor).floor() / factor)
        }
        ("ceil", Some(d)) => {
            let factor = 10f64.powi(d as i32);
            Value::Float((f * factor).ceil() / factor)
        }
        ("abs" | "magnitude", _) => Value::Float(f.abs()),
        ("nan?", _) => Value::Bool(f.is_nan()),
        ("infinite?", _) => {
            if f.is_infinite() {
                Value::Int(if f > 0.0 { 1 } else { -1 })
            } else {
                Value::Nil
            }
        }
        ("finite?", _) => Value::Bool(f.is_finite()),
        ("zero?", _) => Value::Bool(f == 0.0),
        ("positive?", _) => Value::Bool(f > 0.0),
        ("negative?", _) => Value::Bool(f < 0.0),
        ("integer?", _) => Value::Bool(false),
        ("==" | "===" | "eql?", _) => {
            Value::Bool(args.first().is_some_and(|o| equal(&Value::Float(f), o)))
        }
        ("+" | "-" | "*" | "/" | "%" | "**" | "<" | ">" | "<=" | ">=", None) => {
            return Err(Fault::type_error(format!(
                "{} can't be coerced into Float",
                args.first().map_or("nil", Value::class_name)
            )))
        }
        _ => return Ok(None),
    }))
}

/// Methods of Symbol.
pub(crate) fn symbol_method<'a>(
    s: &Arc<str>,
    name: &str,
    args: &[Value<'a>],
) -> Result<Option<Value<'a>>, Fault> {
    Ok(Some(match name {
        "to_s" | "id2name" | "name" => Value::Str(s.clone()),
        "to_sym" => Value::Sym(s.clone()),
        "to_proc" => Value::Sym(s.clone()),
        "length" | "size" => Value::Int(i64::try_from(s.chars().count()).unwrap_or(0)),
        "upcase" => Value::Sym(Arc::from(s.to_uppercase())),
        "downcase" => Value::Sym(Arc::from(s.to_lowercase())),
        "capitalize" => Value::Sym(Arc::from(capitalize(s))),
        "empty?" => Value::Bool(s.is_empty()),
        "start_with?" => Value::Bool(
            args.iter()
                .any(|a| matches!(a, Value::Str(p) if s.starts_with(p.as_ref()))),
        ),
        "end_with?" => Value::Bool(
            args.iter()
                .any(|a| matches!(a, Value::Str(p) if s.ends_with(p.as_ref()))),
        ),
        "<=>" => match args
            .first()
            .and_then(|o| compare(&Value::Sym(s.clone()), o))
        {
            Some(o) => Value::Int(o as i64),
            None => Value::Nil,
        },
        _ => return Ok(None),
    }))
}

/// Methods of nil.
pub(crate) fn nil_method<'a>(name: &str, _args: &[Value<'a>]) -> Option<Value<'a>> {
    Some(match name {
        "to_s" => Value::str(""),
        "to_a" => Value::array(Vec::new()),
        "to_h" => Value::hash(indexmap::IndexMap::new()),
        "to_i" => Value::Int(0),
        "to_f" => Value::Float(0.0),
        "inspect" => Value::str("nil"),
        "&" => Value::Bool(false),
        _ => return None,
    })
}

/// Methods of true and false.
pub(crate) fn bool_method<'a>(b: bool, name: &str, args: &[Value<'a>]) -> Option<Value<'a>> {
    let other = args.first().is_some_and(Value::truthy);
    Some(match name {
        "to_s" | "inspect" => Value::str(if b { "true" } else { "false" }),
        "&" => Value::Bool(b && other),
        "|" => Value::Bool(b || other),
        "^" => Value::Bool(b != other),
        _ => return None,
    })
}

/// `Integer(x)`.
pub(crate) fn kernel_integer<'a>(value: &Value<'a>) -> Result<Value<'a>, Fault> {
    match value {
        Value::Int(i) => Ok(Value::Int(*i)),
        Value::Float(f) => Ok(Value::Int(float_to_int(*f)?)),
        Value::Str(s) => {
            let t = s.trim().replace('_', "");
            let parsed = if let Some(hex) = t.strip_prefix("0x") {
                i64::from_str_radix(hex, 16).ok()
            } else {
                t.parse::<i64>().ok()
            };
            parsed.map(Value::Int).ok_or_else(|| {
                Fault::argument(format!("invalid value for Integer(): {}", value.inspect()))
            })
        }
        other => Err(Fault::type_error(format!(
            "can't convert {} into Integer",
            other.class_name()
        ))),
    }
}

/// `Float(x)`.
pub(crate) fn kernel_float<'a>(value: &Value<'a>) -> Result<Value<'a>, Fault> {
    match value {
        Value::Int(i) => Ok(Value::Float(*i as f64)),
        Value::Float(f) => Ok(Value::Float(*f)),
        Value::Str(s) => s
            .trim()
            .replace('_', "")
            .parse::<f64>()
            .map(Value::Float)
            .map_err(|_| {
                Fault::argument(format!("invalid value for Float(): {}", value.inspect()))
            }),
        other => Err(Fault::type_error(format!(
            "can't convert {} into Float",
            other.class_name()
        ))),
    }
}

/// Ruby's `format`: `%s %d %i %f %x %o %b %e %%` with flags `-+0 ` and width/precision.
pub(crate) fn format(spec: &str, args: &[Value<'_>]) -> Result<String, Fault> {
    let mut out = String::new();
    let mut chars = spec.chars().peekable();
    let mut next = args.iter();
    let named = match args {
        [Value::Hash(h)] => Some(h),
        _ => None,
    };
    let lookup = |name: &str| -> Result<Value<'_>, Fault> {
        named
            .and_then(|h| {
                h.get(&Value::Sym(Arc::from(name)))
                    .or_else(|| h.get(&Value::str(name)))
            })
            .ok_or_else(|| Fault::new("KeyError", format!("key<{name}> not found")))
    };
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut named_arg = None;
        match chars.peek() {
            Some('{') => {
                chars.next();
                let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
                out.push_str(&lookup(&name)?.to_s());
                continue;
            }
            Some('<') => {
                chars.next();
                let name: String = chars.by_ref().take_while(|c| *c != '>').collect();
                named_arg = Some(lookup(&name)?);
            }
            _ => {}
        }
        let mut flags = String::new();
        while let Some(&f) = chars.peek() {
            if "-+0 #".contains(f) {
                flags.push(f);
                chars.next();
            } else {
                break;
            }
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            chars.next();
        }
        let mut precision = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                p.push(d);
                chars.next();
            }
            precision = Some(p.parse::<usize>().unwrap_or(0).min(1000));
        }
        let Some(conversion) = chars.next() else {
            return Err(Fault::argument(
                "incomplete format specifier; use %% instead",
            ));
        };
        if conversion == '%' {
            out.push('%');
            continue;
        }
        let arg = match &named_arg {
            Some(value) => value,
            None => next
                .next()
                .ok_or_else(|| Fault::argument("too few arguments"))?,
        };
        let body = match conversion {
            's' => {
                let s = arg.to_s();
                match precision {
                    Some(p) => s.chars().take(p).collect(),
                    None => s,
                }
            }
            'p' => arg.inspect(),
            'd' | 'i' | 'u' => {
                let n = match kernel_integer(&match arg {
                    Value::Float(f) => Value::Float(f.floor()),
                    other => other.clone(),
                })? {
                    Value::Int(n) => n,
                    _ => 0,
                };
                let sign = if flags.contains('+') && n >= 0 {
                    "+"
                } else if flags.contains(' ') && n >= 0 {
                    " "
                } else {
                    ""
                };
                format!("{sign}{n}")
            }
            'f' | 'e' | 'g' => {
                let f = match kernel_float(arg)? {
                    Value::Float(f) => f,
                    _ => 0.0,
                };
                let p = precision.unwrap_or(6);
                let body = match conversion {
                    'f' => format!("{f:.p$}"),
                    'e' => {
                        let s = format!("{f:.p$e}");
                        match s.split_once('e') {
                            Some((m, e)) => {
                                let e: i32 = e.parse().unwrap_or(0);
                                format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
                            }
                            None => s,
                        }
                    }
                    _ => float_to_s(f),
                };
                if flags.contains('+') && f >= 0.0 {
                    format!("+{body}")
                } else {
                    body
                }
            }
            'x' | 'X' | 'o' | 'b' => {
                let n = match kernel_integer(arg)? {
                    Value::Int(n) => n,
                    _ => 0,
                };
                let base = match conversion {
                    'x' | 'X' => 16,
                    'o' => 8,
                    _ => 2,
                };
                let s = int_to_base(n, base)?;
                if conversion == 'X' {
                    s.to_uppercase()
                } else {
                    s
                }
            }
            'c' => match arg {
                Value::Int(n) => u32::try_from(*n)
                    .ok()
                    .and_then(char::from_u32)
                    .map(String::from)
                    .unwrap_or_default(),
                other => other.to_s().chars().take(1).collect(),
            },
            other => {
                return Err(Fault::argument(format!(
                    "malformed format string - %{other}"
                )))
            }
        };
        let width: usize = width.parse().unwrap_or(0);
        if width > MAX_SIZE {
            return Err(Fault::argument("width too big"));
        }
        let len = body.chars().count();
        if len >= width {
            out.push_str(&body);
        } else if flags.contains('-') {
            out.push_str(&body);
            out.push_str(&" ".repeat(width - len));
        } else if flags.contains('0') && !matches!(conversion, 's' | 'p' | 'c') {
            let (sign, digits) = match body.strip_prefix(['-', '+']) {
                Some(rest) => (&body[..1], rest),
                None => ("", body.as_str()),
            };
            out.push_str(sign);
            out.push_str(&"0".repeat(width - len));
            out.push_str(digits);
        } else {
            out.push_str(&" ".repeat(width - len));
            out.push_str(&body);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_handles_common_conversions() {
        let args = [Value::str("a"), Value::Int(5), Value::Float(1.5)];
        assert_eq!(format("%s-%03d-%.2f%%", &args).unwrap(), "a-005-1.50%");
        assert_eq!(
            format("%-4s|%4s|", &[Value::str("ab"), Value::str("c")]).unwrap(),
            "ab  |   c|"
        );
        assert_eq!(
            format("%x %o %b", &[Value::Int(255), Value::Int(8), Value::Int(5)]).unwrap(),
            "ff 10 101"
        );
    }

    #[test]
    fn string_to_i_and_to_f_read_prefixes() {
        assert_eq!(parse_int_prefix(" 42abc"), 42);
        assert_eq!(parse_int_prefix("-7"), -7);
        assert_eq!(parse_int_prefix("x"), 0);
        assert!((parse_float_prefix("1.5e2x") - 150.0).abs() < f64::EPSILON);
        assert!((parse_float_prefix("3.") - 3.0).abs() < f64::EPSILON);
    }

    #[test]
    fn split_follows_ruby() {
        let parts: Vec<String> = split(" a  b c ", None, None)
            .iter()
            .map(Value::to_s)
            .collect();
        assert_eq!(parts, ["a", "b", "c"]);
        let parts: Vec<String> = split("a,b,,", Some(","), None)
            .iter()
            .map(Value::to_s)
            .collect();
        assert_eq!(parts, ["a", "b"]);
        let parts: Vec<String> = split("a=b=c", Some("="), Some(2))
            .iter()
            .map(Value::to_s)
            .collect();
        assert_eq!(parts, ["a", "b=c"]);
    }

    #[test]
    fn integer_division_floors_like_ruby() {
        assert!(matches!(
            integer_arithmetic(-7, "/", &[Value::Int(2)]).unwrap(),
            Some(Value::Int(-4))
        ));
        assert!(matches!(
            integer_arithmetic(7, "/", &[Value::Int(-2)]).unwrap(),
            Some(Value::Int(-4))
        ));
        assert!(matches!(
            integer_arithmetic(-7, "%", &[Value::Int(3)]).unwrap(),
            Some(Value::Int(2))
        ));
        assert!(matches!(
            integer_arithmetic(7, "%", &[Value::Int(-3)]).unwrap(),
            Some(Value::Int(-2))
        ));
    }
}
