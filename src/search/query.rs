//! The query language of Chef's search (Solr's syntax as the Chef server and chef-zero accept
//! it): `field:value`, wildcards `*` and `?`, `AND`/`OR`/`NOT` (also `&&`, `||`, `!`, `-`),
//! parentheses (also after a field: `role:(web OR db)`), quoted phrases, ranges
//! `[a TO b]`/`{a TO b}` and `*:*`. Two clauses side by side mean `OR`; `AND` binds tighter
//! than `OR`. A leading `+` (required) is read as the plain clause.

use std::fmt;

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// A value pattern: against a field's values, or against every value when bare.
    Term(Pattern),
    /// Words in this order, separated by non-word characters (`"web server"`).
    Phrase(Vec<Pattern>),
    /// Values between two bounds (`*` leaves a side open); inclusive with `[ ]`.
    Range {
        low: Option<String>,
        high: Option<String>,
        low_inclusive: bool,
        high_inclusive: bool,
    },
    /// `field:query`; the field may hold wildcards (`*:*`, `mysql_*:1`).
    Field(Pattern, Box<Query>),
    And(Box<Query>, Box<Query>),
    Or(Box<Query>, Box<Query>),
    Not(Box<Query>),
}

/// A term with its wildcards: the text between them is literal (escapes removed).
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    pub parts: Vec<PatternPart>,
}

/// A piece of a [`Pattern`].
#[derive(Debug, Clone, PartialEq)]
pub enum PatternPart {
    Literal(String),
    /// `*`: any run of word characters.
    Any,
    /// `?`: one word character.
    One,
}

impl Pattern {
    /// The literal text when the pattern has no wildcard.
    pub fn literal(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                PatternPart::Literal(s) => out.push_str(s),
                PatternPart::Any | PatternPart::One => return None,
            }
        }
        Some(out)
    }
}

/// Why a query could not be parsed: the message and the character offset it refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.offset + 1)
    }
}

impl std::error::Error for ParseError {}

/// One token of a query and where it starts.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// A term's raw text (escapes still in it).
    Word(String),
    Quote,
    Open,
    Close,
    OpenRange(bool),
    CloseRange(bool),
    Colon,
    And,
    Or,
    Not,
    Plus,
    Caret,
}

/// Characters that end a term (unless escaped); `-` only starts an operator at a term's start.
fn is_operator_char(c: char) -> bool {
    matches!(
        c,
        '"' | '+' | '!' | '(' | ')' | '{' | '}' | '[' | ']' | '^' | ':'
    )
}

fn tokenize(text: &str) -> Result<Vec<(usize, Token)>, ParseError> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (offset, c) = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let next = chars.get(i + 1).map(|&(_, c)| c);
        let single = match c {
            '"' => Some(Token::Quote),
            '(' => Some(Token::Open),
            ')' => Some(Token::Close),
            '[' => Some(Token::OpenRange(true)),
            '{' => Some(Token::OpenRange(false)),
            ']' => Some(Token::CloseRange(true)),
            '}' => Some(Token::CloseRange(false)),
            ':' => Some(Token::Colon),
            '+' => Some(Token::Plus),
            '^' => Some(Token::Caret),
            '!' => Some(Token::Not),
            '-' => Some(Token::Not),
            '&' if next == Some('&') => {
                i += 1;
                Some(Token::And)
            }
            '|' if next == Some('|') => {
                i += 1;
                Some(Token::Or)
            }
            _ => None,
        };
        if let Some(token) = single {
            tokens.push((offset, token));
            i += 1;
            continue;
        }
        let mut word = String::new();
        while i < chars.len() {
            let c = chars[i].1;
            if c == '\\' {
                let Some(&(_, escaped)) = chars.get(i + 1) else {
                    return Err(ParseError {
                        offset: chars[i].0,
                        message: "a backslash at the end of the query escapes nothing".into(),
                    });
                };
                word.push('\\');
                word.push(escaped);
                i += 2;
                continue;
            }
            if c.is_whitespace() || is_operator_char(c) {
                break;
            }
            if (c == '&' || c == '|') && chars.get(i + 1).map(|&(_, n)| n) == Some(c) {
                break;
            }
            word.push(c);
            i += 1;
        }
        let token = match word.as_str() {
            "AND" => Token::And,
            "OR" => Token::Or,
            "NOT" => Token::Not,
            _ => Token::Word(word),
        };
        tokens.push((offset, token));
    }
    Ok(tokens)
}

/// Turns a term's raw text into a pattern: `*`/`?` are wildcards unless escaped.
fn pattern(raw: &str) -> Pattern {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(escaped) = chars.next() {
                    literal.push(escaped);
                }
            }
            '*' | '?' => {
                if !literal.is_empty() {
                    parts.push(PatternPart::Literal(std::mem::take(&mut literal)));
                }
                parts.push(if c == '*' {
                    PatternPart::Any
                } else {
                    PatternPart::One
                });
            }
            _ => literal.push(c),
        }
    }
    if !literal.is_empty() {
        parts.push(PatternPart::Literal(literal));
    }
    Pattern { parts }
}

/// Parses a query; an empty query means `*:*`, as Chef's search does.
pub fn parse(text: &str) -> Result<Query, ParseError> {
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        return Ok(Query::Field(
            Pattern {
                parts: vec![PatternPart::Any],
            },
            Box::new(Query::Term(Pattern {
                parts: vec![PatternPart::Any],
            })),
        ));
    }
    let mut parser = Parser {
        tokens,
        at: 0,
        end: text.len(),
        depth: 0,
        clauses: 0,
    };
    let query = parser.expression()?;
    if let Some((offset, _)) = parser.tokens.get(parser.at) {
        return Err(ParseError {
            offset: *offset,
            message: "unexpected `)`".into(),
        });
    }
    Ok(query)
}

/// How deep parentheses and unary operators may nest.
const MAX_DEPTH: usize = 200;

/// How many clauses a query may have (Solr's default `maxBooleanClauses`).
pub const MAX_CLAUSES: usize = 1024;

struct Parser {
    tokens: Vec<(usize, Token)>,
    at: usize,
    end: usize,
    depth: usize,
    clauses: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|(_, t)| t)
    }

    fn offset(&self) -> usize {
        self.tokens.get(self.at).map_or(self.end, |(o, _)| *o)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).map(|(_, t)| t.clone());
        self.at += 1;
        token
    }

    fn error<T>(&self, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError {
            offset: self.offset(),
            message: message.into(),
        })
    }

    /// `clause (op? clause)*` until `)` or the end: OR of ANDs.
    fn expression(&mut self) -> Result<Query, ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.error("the query nests too deep");
        }
        let first = self.clause()?;
        // Alternatives (joined by OR), each an AND chain; the last one is being built.
        let mut alternatives = Vec::new();
        let mut current = first;
        loop {
            match self.peek() {
                None | Some(Token::Close) => break,
                Some(Token::And) => {
                    self.next();
                    let right = self.clause()?;
                    current = Query::And(Box::new(current), Box::new(right));
                }
                Some(Token::Or) => {
                    self.next();
                    let next = self.clause()?;
                    alternatives.push(std::mem::replace(&mut current, next));
                }
                // Clauses side by side: OR, Solr's default operator; a prohibited clause
                // (`-x`, `NOT x`) excludes from what comes before it.
                Some(_) => {
                    let next = self.clause()?;
                    if matches!(next, Query::Not(_)) {
                        current = Query::And(Box::new(current), Box::new(next));
                    } else {
                        alternatives.push(std::mem::replace(&mut current, next));
                    }
                }
            }
        }
        self.depth -= 1;
        alternatives.push(current);
        let mut iter = alternatives.into_iter().rev();
        let mut result = iter.next().unwrap_or(Query::Phrase(Vec::new()));
        for earlier in iter {
            result = Query::Or(Box::new(earlier), Box::new(result));
        }
        Ok(result)
    }

    /// A unary operator and its clause, a group, a phrase, a range, or `field:value`.
    fn clause(&mut self) -> Result<Query, ParseError> {
        self.clauses += 1;
        if self.clauses > MAX_CLAUSES {
            return self.error(format!(
                "too many clauses: a query may have at most {MAX_CLAUSES}"
            ));
        }
        match self.peek() {
            Some(Token::Not) => {
                self.next();
                self.nested(|p| Ok(Query::Not(Box::new(p.clause()?))))
            }
            Some(Token::Plus) => {
                self.next();
                self.nested(Parser::clause)
            }
            Some(Token::Word(_)) => {
                let Some(Token::Word(word)) = self.next() else {
                    return self.error("expected a term");
                };
                if self.peek() == Some(&Token::Colon) {
                    self.next();
                    let value = self.value()?;
                    return self.boosted(Query::Field(pattern(&word), Box::new(value)));
                }
                self.boosted(Query::Term(pattern(&word)))
            }
            _ => {
                let value = self.value()?;
                self.boosted(value)
            }
        }
    }

    fn nested(
        &mut self,
        parse: impl FnOnce(&mut Parser) -> Result<Query, ParseError>,
    ) -> Result<Query, ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.error("the query nests too deep");
        }
        let result = parse(self);
        self.depth -= 1;
        result
    }

    /// `^2` after a clause changes relevance only, which local search does not rank by.
    fn boosted(&mut self, query: Query) -> Result<Query, ParseError> {
        if self.peek() == Some(&Token::Caret) {
            self.next();
            let at = self.offset();
            match self.next() {
                Some(Token::Word(_)) => {}
                _ => return self.error_at(at, "expected a number after `^`"),
            }
        }
        Ok(query)
    }

    /// What may follow `field:`: a term, a phrase, a range, a group, or a negated value.
    fn value(&mut self) -> Result<Query, ParseError> {
        let offset = self.offset();
        match self.next() {
            Some(Token::Word(word)) => Ok(Query::Term(pattern(&word))),
            Some(Token::Quote) => {
                let mut words = Vec::new();
                loop {
                    match self.next() {
                        Some(Token::Quote) => break,
                        Some(Token::Word(w)) => words.push(pattern(&w)),
                        // Operators inside quotes are separators, as in a Solr phrase.
                        Some(_) => {}
                        None => {
                            return Err(ParseError {
                                offset,
                                message: "a phrase's `\"` is never closed".into(),
                            })
                        }
                    }
                }
                Ok(Query::Phrase(words))
            }
            Some(Token::OpenRange(low_inclusive)) => {
                let low = self.bound("the range's lower bound")?;
                let at = self.offset();
                match self.next() {
                    Some(Token::Word(w)) if w == "TO" => {}
                    _ => return self.error_at(at, "expected `TO` in the range"),
                }
                let high = self.bound("the range's upper bound")?;
                let at = self.offset();
                let high_inclusive = match self.next() {
                    Some(Token::CloseRange(inclusive)) => inclusive,
                    _ => return self.error_at(at, "expected `]` or `}` to end the range"),
                };
                Ok(Query::Range {
                    low,
                    high,
                    low_inclusive,
                    high_inclusive,
                })
            }
            Some(Token::Open) => {
                let inner = self.nested(Parser::expression)?;
                match self.next() {
                    Some(Token::Close) => Ok(inner),
                    _ => Err(ParseError {
                        offset,
                        message: "a `(` is never closed".into(),
                    }),
                }
            }
            Some(Token::Not) => self.nested(|p| Ok(Query::Not(Box::new(p.value()?)))),
            None => Err(ParseError {
                offset,
                message: "the query ends where a value was expected".into(),
            }),
            Some(Token::Close | Token::CloseRange(_)) => Err(ParseError {
                offset,
                message: "unexpected closing bracket".into(),
            }),
            Some(_) => Err(ParseError {
                offset,
                message: "expected a value".into(),
            }),
        }
    }

    fn bound(&mut self, what: &str) -> Result<Option<String>, ParseError> {
        let at = self.offset();
        match self.next() {
            Some(Token::Word(w)) if w == "*" => Ok(None),
            Some(Token::Word(w)) => Ok(pattern(&w).literal().or(Some(w))),
            _ => self.error_at(at, format!("expected {what}")),
        }
    }

    fn error_at<T>(&self, offset: usize, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError {
            offset,
            message: message.into(),
        })
    }
}
