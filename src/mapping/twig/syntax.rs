//! Twig source → MiniJinja source. Twig's lexer and expression grammar (operator precedences
//! as in Twig 3.5) are implemented here; the result is emitted as MiniJinja code in which every
//! operation whose PHP meaning differs from Jinja's (truth, `==`, `+`, `~`, `??`, `in`, tests,
//! `for` over maps, `set` inside loops) is a call into the Twig library. Whitespace control is
//! applied here, so the emitted template has none. Line breaks are kept in place, so line
//! numbers in MiniJinja's errors are the Twig template's.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::library;

/// A syntax error in a Twig template: the line (1-based) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
}

fn error<T>(line: usize, message: impl Into<String>) -> Result<T, SyntaxError> {
    Err(SyntaxError {
        line,
        message: message.into(),
    })
}

/// Translates a Twig template to MiniJinja source.
pub fn translate(source: &str) -> Result<String, SyntaxError> {
    emit(&parse(source)?)
}

/// A Twig template's syntax tree.
pub(super) fn parse(source: &str) -> Result<Vec<Node>, SyntaxError> {
    let parts = lex_template(source)?;
    let mut parser = TemplateParser { parts, position: 0 };
    let nodes = parser.parse_nodes(&[])?;
    if let Some(part) = parser.parts.get(parser.position) {
        return error(part.line, "unexpected closing tag");
    }
    Ok(nodes)
}

/// MiniJinja source for a syntax tree.
pub(super) fn emit(nodes: &[Node]) -> Result<String, SyntaxError> {
    let mut assigned = BTreeSet::new();
    collect_assigned(nodes, &mut assigned);
    let mut emitter = Emitter {
        out: String::new(),
        assigned,
        loop_names: Vec::new(),
        loop_frames: Vec::new(),
        captures: 0,
    };
    if !emitter.assigned.is_empty() {
        emitter.out.push_str("{% set __v = __twig_vars() %}");
    }
    emitter.emit_nodes(nodes)?;
    Ok(emitter.out)
}

/// Whether a template is plain text (nothing for the engine to do).
pub fn is_plain_text(source: &str) -> bool {
    !(source.contains("{{") || source.contains("{%") || source.contains("{#"))
}

// ---------------------------------------------------------------------------------------------
// Tokens of an expression

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Name(String),
    Int(i64),
    Float(f64),
    Str(Vec<StrPiece>),
    Op(&'static str),
    Punct(char),
}

#[derive(Debug, Clone, PartialEq)]
enum StrPiece {
    Text(String),
    Expr(Vec<Spanned>),
}

#[derive(Debug, Clone, PartialEq)]
struct Spanned {
    token: Token,
    line: usize,
}

/// Twig's operators, longest first so that `not in` wins over `not`.
const OPERATORS: &[&str] = &[
    "starts with",
    "ends with",
    "matches",
    "is not",
    "not in",
    "b-and",
    "b-xor",
    "b-or",
    "and",
    "not",
    "<=>",
    "**",
    "//",
    "==",
    "!=",
    "<=",
    ">=",
    "..",
    "??",
    "or",
    "in",
    "is",
    "<",
    ">",
    "+",
    "-",
    "*",
    "/",
    "%",
    "~",
    "=",
];

// ---------------------------------------------------------------------------------------------
// The template lexer: text, `{{ }}`, `{% %}`, `{# #}`, with whitespace control

#[derive(Debug)]
enum PartKind {
    Text(String),
    Print(Vec<Spanned>),
    Tag(String, Vec<Spanned>),
}

#[derive(Debug)]
struct Part {
    kind: PartKind,
    line: usize,
}

struct Cursor<'a> {
    source: &'a str,
    position: usize,
    line: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        &self.source[self.position..]
    }

    fn advance(&mut self, bytes: usize) {
        let taken = &self.source[self.position..self.position + bytes];
        self.line += taken.matches('\n').count();
        self.position += bytes;
    }

    fn skip_whitespace(&mut self) {
        let rest = self.rest();
        let trimmed = rest.trim_start();
        self.advance(rest.len() - trimmed.len());
    }
}

fn lex_template(source: &str) -> Result<Vec<Part>, SyntaxError> {
    let mut cursor = Cursor {
        source,
        position: 0,
        line: 1,
    };
    let mut parts = Vec::new();
    let mut trim_next: Option<char> = None;
    loop {
        let rest = cursor.rest();
        let start = find_tag_start(rest);
        let text_end = start.unwrap_or(rest.len());
        let mut text = &rest[..text_end];
        match trim_next.take() {
            Some('-') => text = text.trim_start(),
            Some(_) => text = text.trim_start_matches([' ', '\t', '\0', '\x0b']),
            None => {}
        }
        let modifier = start
            .and_then(|at| rest[at + 2..].chars().next())
            .filter(|c| *c == '-' || *c == '~');
        match modifier {
            Some('-') => text = text.trim_end(),
            Some(_) => text = text.trim_end_matches([' ', '\t', '\0', '\x0b']),
            None => {}
        }
        let text_line = cursor.line;
        if !text.is_empty() {
            parts.push(Part {
                kind: PartKind::Text(text.to_owned()),
                line: text_line,
            });
        }
        let Some(start) = start else {
            break;
        };
        cursor.advance(start);
        let kind = &cursor.rest()[..2];
        cursor.advance(2 + usize::from(modifier.is_some()));
        let tag_line = cursor.line;
        match kind {
            "{#" => {
                let rest = cursor.rest();
                let Some(end) = rest.find("#}") else {
                    return error(tag_line, "unclosed comment");
                };
                let closing_modifier = rest[..end]
                    .chars()
                    .last()
                    .filter(|c| *c == '-' || *c == '~');
                cursor.advance(end + 2);
                trim_next = closing_modifier;
                if closing_modifier.is_none() && cursor.rest().starts_with('\n') {
                    cursor.advance(1);
                }
            }
            "{{" => {
                let (tokens, closing_modifier) = lex_expression(&mut cursor, "}}")?;
                trim_next = closing_modifier;
                parts.push(Part {
                    kind: PartKind::Print(tokens),
                    line: tag_line,
                });
            }
            _ => {
                cursor.skip_whitespace();
                let name_end = cursor
                    .rest()
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(cursor.rest().len());
                let name = cursor.rest()[..name_end].to_owned();
                if name.is_empty() {
                    return error(tag_line, "a block must start with a tag name");
                }
                cursor.advance(name_end);
                if name == "verbatim" {
                    let (_, closing_modifier) = lex_expression(&mut cursor, "%}")?;
                    let text = lex_verbatim(&mut cursor, &name, closing_modifier, &mut trim_next)?;
                    parts.push(Part {
                        kind: PartKind::Text(text),
                        line: tag_line,
                    });
                    continue;
                }
                let (tokens, closing_modifier) = lex_expression(&mut cursor, "%}")?;
                trim_next = closing_modifier;
                if closing_modifier.is_none() && cursor.rest().starts_with('\n') {
                    cursor.advance(1);
                }
                parts.push(Part {
                    kind: PartKind::Tag(name, tokens),
                    line: tag_line,
                });
            }
        }
    }
    Ok(parts)
}

/// The first `{{`, `{%` or `{#`, as Twig finds it.
fn find_tag_start(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(1))
        .find(|&at| bytes[at] == b'{' && matches!(bytes[at + 1], b'{' | b'%' | b'#'))
}

fn lex_verbatim(
    cursor: &mut Cursor<'_>,
    name: &str,
    opening_modifier: Option<char>,
    trim_next: &mut Option<char>,
) -> Result<String, SyntaxError> {
    let start_line = cursor.line;
    if opening_modifier.is_none() && cursor.rest().starts_with('\n') {
        cursor.advance(1);
    }
    let end_name = format!("end{name}");
    let mut search_from = 0;
    loop {
        let rest = cursor.rest();
        let Some(found) = rest[search_from..].find("{%") else {
            return error(start_line, format!("unclosed \"{name}\" block"));
        };
        let at = search_from + found;
        let after = &rest[at + 2..];
        let modifier = after.chars().next().filter(|c| *c == '-' || *c == '~');
        let inner = after[usize::from(modifier.is_some())..].trim_start();
        if let Some(tail) = inner.strip_prefix(end_name.as_str()) {
            let tail = tail.trim_start();
            let closing_modifier = tail.chars().next().filter(|c| *c == '-' || *c == '~');
            let close = &tail[usize::from(closing_modifier.is_some())..];
            if close.starts_with("%}") {
                let mut text = rest[..at].to_owned();
                match modifier {
                    Some('-') => text = text.trim_end().to_owned(),
                    Some(_) => text = text.trim_end_matches([' ', '\t', '\0', '\x0b']).to_owned(),
                    None => {}
                }
                let consumed = rest.len() - close.len() + 2;
                cursor.advance(consumed);
                *trim_next = closing_modifier;
                if closing_modifier.is_none() && cursor.rest().starts_with('\n') {
                    cursor.advance(1);
                }
                return Ok(text);
            }
        }
        search_from = at + 2;
    }
}

/// Lexes expression tokens up to the closing delimiter (`}}` or `%}`, optionally with a `-` or
/// `~` before it) at bracket depth 0. Returns the tokens and the closing modifier.
fn lex_expression(
    cursor: &mut Cursor<'_>,
    closing: &str,
) -> Result<(Vec<Spanned>, Option<char>), SyntaxError> {
    let mut tokens: Vec<Spanned> = Vec::new();
    let mut brackets: Vec<char> = Vec::new();
    loop {
        cursor.skip_whitespace();
        let rest = cursor.rest();
        let line = cursor.line;
        if rest.is_empty() {
            return error(
                line,
                format!("unexpected end of template, expected \"{closing}\""),
            );
        }
        if brackets.is_empty() {
            for modifier in ['-', '~'] {
                if rest.starts_with(modifier) && rest[1..].starts_with(closing) {
                    cursor.advance(1 + closing.len());
                    return Ok((tokens, Some(modifier)));
                }
            }
            if rest.starts_with(closing) {
                cursor.advance(closing.len());
                return Ok((tokens, None));
            }
        }
        let after_dot = matches!(
            tokens.last(),
            Some(Spanned {
                token: Token::Punct('.'),
                ..
            })
        );
        let (token, length) = lex_token(rest, line, after_dot)?;
        if let Token::Punct(punct) = token {
            match punct {
                '(' | '[' | '{' => brackets.push(punct),
                ')' | ']' | '}' => {
                    let expected = match punct {
                        ')' => '(',
                        ']' => '[',
                        _ => '{',
                    };
                    if brackets.pop() != Some(expected) {
                        return error(line, format!("unexpected \"{punct}\""));
                    }
                }
                _ => {}
            }
        }
        cursor.advance(length);
        tokens.push(Spanned { token, line });
    }
}

fn lex_token(rest: &str, line: usize, after_dot: bool) -> Result<(Token, usize), SyntaxError> {
    let bytes = rest.as_bytes();
    let first = bytes[0];
    // Operators come before names, as in Twig; a word operator must be followed by a space or
    // an opening bracket.
    for operator in OPERATORS {
        if let Some(length) = match_operator(rest, operator) {
            // `a.in` and `a|not`-like names after a dot are attributes, not operators.
            if !after_dot || !operator.as_bytes()[0].is_ascii_alphabetic() {
                return Ok((Token::Op(operator), length));
            }
        }
    }
    let first_char = rest.chars().next().unwrap_or(' ');
    if first_char.is_alphabetic() || first_char == '_' {
        let end = rest
            .char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
            .map_or(rest.len(), |(at, _)| at);
        return Ok((Token::Name(rest[..end].to_owned()), end));
    }
    if first.is_ascii_digit() {
        return lex_number(rest, line, after_dot);
    }
    if first == b'"' || first == b'\'' {
        return lex_string(rest, line);
    }
    if b"()[]{}?:.,|".contains(&first) {
        return Ok((Token::Punct(first as char), 1));
    }
    let shown: String = rest.chars().take(1).collect();
    error(line, format!("unexpected character \"{shown}\""))
}

fn match_operator(rest: &str, operator: &str) -> Option<usize> {
    let mut length = 0;
    for (index, word) in operator.split(' ').enumerate() {
        if index > 0 {
            let spaces = rest[length..].len() - rest[length..].trim_start().len();
            if spaces == 0 {
                return None;
            }
            length += spaces;
        }
        if !rest[length..].starts_with(word) {
            return None;
        }
        length += word.len();
    }
    if operator.as_bytes()[operator.len() - 1].is_ascii_alphabetic() {
        let next = rest[length..].chars().next();
        if !next.is_some_and(|c| c.is_whitespace() || c == '(' || c == '[' || c == '{') {
            return None;
        }
    }
    Some(length)
}

fn lex_number(rest: &str, line: usize, after_dot: bool) -> Result<(Token, usize), SyntaxError> {
    let bytes = rest.as_bytes();
    let mut end = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    let mut is_float = false;
    // After a dot (`a.0.1`) a number is a list position, never a fraction.
    if !after_dot && end + 1 < bytes.len() && bytes[end] == b'.' && bytes[end + 1].is_ascii_digit()
    {
        is_float = true;
        end += 1;
        end += bytes[end..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
    }
    if !after_dot
        && end + 2 < bytes.len()
        && (bytes[end] == b'e' || bytes[end] == b'E')
        && (bytes[end + 1] == b'+' || bytes[end + 1] == b'-')
        && bytes[end + 2].is_ascii_digit()
    {
        is_float = true;
        end += 2;
        end += bytes[end..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
    }
    let text = &rest[..end];
    if !is_float {
        if let Ok(integer) = text.parse() {
            return Ok((Token::Int(integer), end));
        }
    }
    match text.parse() {
        Ok(float) => Ok((Token::Float(float), end)),
        Err(_) => error(line, format!("bad number \"{text}\"")),
    }
}

fn lex_string(rest: &str, line: usize) -> Result<(Token, usize), SyntaxError> {
    let quote = rest.as_bytes()[0];
    let bytes = rest.as_bytes();
    let mut pieces = Vec::new();
    let mut raw = String::new();
    let mut index = 1;
    while index < bytes.len() {
        let byte = bytes[index];
        if byte == b'\\' && index + 1 < bytes.len() {
            let escaped_len = rest[index + 1..].chars().next().map_or(1, char::len_utf8);
            raw.push_str(&rest[index..index + 1 + escaped_len]);
            index += 1 + escaped_len;
            continue;
        }
        if byte == quote {
            if !raw.is_empty() || pieces.is_empty() {
                pieces.push(StrPiece::Text(strip_c_slashes(&raw)));
            }
            return Ok((Token::Str(pieces), index + 1));
        }
        if quote == b'"' && byte == b'#' && bytes.get(index + 1) == Some(&b'{') {
            if !raw.is_empty() {
                pieces.push(StrPiece::Text(strip_c_slashes(&raw)));
                raw.clear();
            }
            let mut cursor = Cursor {
                source: rest,
                position: index + 2,
                line,
            };
            let (tokens, _) = lex_expression(&mut cursor, "}")?;
            pieces.push(StrPiece::Expr(tokens));
            index = cursor.position;
            continue;
        }
        let length = rest[index..].chars().next().map_or(1, char::len_utf8);
        raw.push_str(&rest[index..index + length]);
        index += length;
    }
    error(line, "unclosed string")
}

/// PHP's `stripcslashes`, which Twig applies to string literals.
fn strip_c_slashes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(next) = chars.next() else {
            break;
        };
        match next {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'a' => out.push('\x07'),
            'v' => out.push('\x0b'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'x' => {
                let mut value = 0u32;
                let mut digits = 0;
                while digits < 2 {
                    match chars.peek().and_then(|c| c.to_digit(16)) {
                        Some(digit) => {
                            value = value * 16 + digit;
                            chars.next();
                            digits += 1;
                        }
                        None => break,
                    }
                }
                if digits == 0 {
                    out.push('x');
                } else {
                    out.push(char::from_u32(value).unwrap_or('\u{fffd}'));
                }
            }
            '0'..='7' => {
                let mut value = next.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match chars.peek().and_then(|c| c.to_digit(8)) {
                        Some(digit) => {
                            value = value * 8 + digit;
                            chars.next();
                        }
                        None => break,
                    }
                }
                out.push(char::from_u32(value & 0xff).unwrap_or('\u{fffd}'));
            }
            other => out.push(other),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Expressions

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Expr {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A double-quoted string with `#{…}` parts: their concatenation.
    Interpolation(Vec<Expr>),
    Name(String),
    List(Vec<Expr>),
    Hash(Vec<(Expr, Expr)>),
    Attr(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    Slice(Box<Expr>, Option<Box<Expr>>, Option<Box<Expr>>),
    Call(String, Vec<Expr>),
    Filter(Box<Expr>, String, Vec<Expr>),
    Unary(&'static str, Box<Expr>),
    Binary(&'static str, Box<Expr>, Box<Expr>),
    Test {
        subject: Box<Expr>,
        name: String,
        args: Vec<Expr>,
        negated: bool,
    },
    Conditional(Box<Expr>, Option<Box<Expr>>, Option<Box<Expr>>),
}

/// Twig 3.5's binary operators: precedence and right associativity.
fn binary_operator(operator: &str) -> Option<(u32, bool)> {
    Some(match operator {
        "or" => (10, false),
        "and" => (15, false),
        "b-or" => (16, false),
        "b-xor" => (17, false),
        "b-and" => (18, false),
        "==" | "!=" | "<=>" | "<" | ">" | ">=" | "<=" | "not in" | "in" | "matches"
        | "starts with" | "ends with" => (20, false),
        ".." => (25, false),
        "+" | "-" => (30, false),
        "~" => (40, false),
        "*" | "/" | "//" | "%" => (60, false),
        "is" | "is not" => (100, false),
        "**" => (200, true),
        "??" => (300, true),
        _ => return None,
    })
}

fn unary_operator(operator: &str) -> Option<u32> {
    match operator {
        "not" => Some(50),
        "-" | "+" => Some(500),
        _ => None,
    }
}

struct ExprParser<'a> {
    tokens: &'a [Spanned],
    position: usize,
    /// The line of the tag, for errors at the end of the tokens.
    line: usize,
}

impl<'a> ExprParser<'a> {
    fn new(tokens: &'a [Spanned], line: usize) -> Self {
        Self {
            tokens,
            position: 0,
            line,
        }
    }

    fn peek(&self) -> Option<&'a Token> {
        self.tokens.get(self.position).map(|spanned| &spanned.token)
    }

    fn peek_at(&self, offset: usize) -> Option<&'a Token> {
        self.tokens
            .get(self.position + offset)
            .map(|spanned| &spanned.token)
    }

    fn current_line(&self) -> usize {
        self.tokens
            .get(self.position)
            .map_or(self.line, |spanned| spanned.line)
    }

    fn next(&mut self) -> Option<&'a Token> {
        let token = self.peek();
        self.position += 1;
        token
    }

    fn at_end(&self) -> bool {
        self.position >= self.tokens.len()
    }

    fn is_punct(&self, punct: char) -> bool {
        self.peek() == Some(&Token::Punct(punct))
    }

    fn is_op(&self, operator: &str) -> bool {
        matches!(self.peek(), Some(Token::Op(op)) if *op == operator)
    }

    fn expect_punct(&mut self, punct: char) -> Result<(), SyntaxError> {
        if self.is_punct(punct) {
            self.position += 1;
            Ok(())
        } else {
            self.unexpected(&format!("\"{punct}\""))
        }
    }

    fn unexpected<T>(&self, expected: &str) -> Result<T, SyntaxError> {
        let found = match self.peek() {
            None => "end of expression".to_owned(),
            Some(Token::Name(name)) => format!("name \"{name}\""),
            Some(Token::Int(number)) => format!("number {number}"),
            Some(Token::Float(number)) => format!("number {number}"),
            Some(Token::Str(_)) => "string".to_owned(),
            Some(Token::Op(op)) => format!("operator \"{op}\""),
            Some(Token::Punct(punct)) => format!("\"{punct}\""),
        };
        error(
            self.current_line(),
            format!("unexpected {found}, expected {expected}"),
        )
    }

    fn expect_name(&mut self) -> Result<String, SyntaxError> {
        match self.peek() {
            Some(Token::Name(name)) => {
                self.position += 1;
                Ok(name.clone())
            }
            _ => self.unexpected("a name"),
        }
    }

    fn expect_end(&self) -> Result<(), SyntaxError> {
        if self.at_end() {
            Ok(())
        } else {
            self.unexpected("the end of the tag")
        }
    }

    fn parse_expression(&mut self, precedence: u32) -> Result<Expr, SyntaxError> {
        let mut expr = self.parse_primary()?;
        while let Some(Token::Op(operator)) = self.peek() {
            let Some((operator_precedence, right)) = binary_operator(operator) else {
                break;
            };
            if operator_precedence < precedence {
                break;
            }
            self.position += 1;
            expr = match *operator {
                "is" | "is not" => self.parse_test(expr, *operator == "is not")?,
                _ => {
                    let next = if right {
                        operator_precedence
                    } else {
                        operator_precedence + 1
                    };
                    let right_expr = self.parse_expression(next)?;
                    Expr::Binary(operator, Box::new(expr), Box::new(right_expr))
                }
            };
        }
        if precedence == 0 {
            return self.parse_conditional(expr);
        }
        Ok(expr)
    }

    fn parse_conditional(&mut self, mut expr: Expr) -> Result<Expr, SyntaxError> {
        while self.is_punct('?') {
            self.position += 1;
            if self.is_punct(':') {
                self.position += 1;
                let otherwise = self.parse_expression(0)?;
                expr = Expr::Conditional(Box::new(expr), None, Some(Box::new(otherwise)));
            } else {
                let then = self.parse_expression(0)?;
                let otherwise = if self.is_punct(':') {
                    self.position += 1;
                    Some(Box::new(self.parse_expression(0)?))
                } else {
                    None
                };
                expr = Expr::Conditional(Box::new(expr), Some(Box::new(then)), otherwise);
            }
        }
        Ok(expr)
    }

    fn parse_test(&mut self, subject: Expr, negated: bool) -> Result<Expr, SyntaxError> {
        let line = self.current_line();
        let mut name = self.expect_name()?;
        if let Some(Token::Name(second)) = self.peek() {
            let two_words = format!("{name} {second}");
            if library::TESTS.contains(&two_words.as_str()) {
                name = two_words;
                self.position += 1;
            }
        }
        if !library::TESTS.contains(&name.as_str()) {
            return error(line, format!("unknown \"{name}\" test"));
        }
        let args = if self.is_punct('(') {
            self.parse_arguments()?
        } else {
            Vec::new()
        };
        Ok(Expr::Test {
            subject: Box::new(subject),
            name,
            args,
            negated,
        })
    }

    fn parse_primary(&mut self) -> Result<Expr, SyntaxError> {
        if let Some(Token::Op(operator)) = self.peek() {
            if let Some(precedence) = unary_operator(operator) {
                self.position += 1;
                let operand = self.parse_expression(precedence)?;
                return self.parse_postfix(Expr::Unary(operator, Box::new(operand)));
            }
        }
        if self.is_punct('(') {
            self.position += 1;
            let expr = self.parse_expression(0)?;
            self.expect_punct(')')?;
            return self.parse_postfix(expr);
        }
        let line = self.current_line();
        let expr = match self.next() {
            Some(Token::Name(name)) => match name.as_str() {
                "true" | "TRUE" => Expr::Bool(true),
                "false" | "FALSE" => Expr::Bool(false),
                "null" | "NULL" | "none" | "NONE" => Expr::Null,
                _ if self.is_punct('(') => {
                    if !library::FUNCTIONS.contains(&name.as_str()) {
                        return error(line, format!("unknown \"{name}\" function"));
                    }
                    let args = self.parse_arguments()?;
                    Expr::Call(name.clone(), args)
                }
                _ => Expr::Name(name.clone()),
            },
            Some(Token::Int(number)) => Expr::Int(*number),
            Some(Token::Float(number)) => Expr::Float(*number),
            Some(Token::Str(pieces)) => string_expr(pieces, line)?,
            Some(Token::Punct('[')) => {
                let mut items = Vec::new();
                while !self.is_punct(']') {
                    if !items.is_empty() {
                        self.expect_punct(',')?;
                        if self.is_punct(']') {
                            break;
                        }
                    }
                    items.push(self.parse_expression(0)?);
                }
                self.position += 1;
                Expr::List(items)
            }
            Some(Token::Punct('{')) => self.parse_hash()?,
            _ => {
                self.position -= 1;
                return self.unexpected("an expression");
            }
        };
        self.parse_postfix(expr)
    }

    fn parse_hash(&mut self) -> Result<Expr, SyntaxError> {
        let mut pairs = Vec::new();
        while !self.is_punct('}') {
            if !pairs.is_empty() {
                self.expect_punct(',')?;
                if self.is_punct('}') {
                    break;
                }
            }
            let line = self.current_line();
            let key = match self.next() {
                Some(Token::Name(name)) => Expr::Str(name.clone()),
                Some(Token::Int(number)) => Expr::Int(*number),
                Some(Token::Float(number)) => Expr::Float(*number),
                Some(Token::Str(pieces)) => string_expr(pieces, line)?,
                Some(Token::Punct('(')) => {
                    let key = self.parse_expression(0)?;
                    self.expect_punct(')')?;
                    key
                }
                _ => {
                    self.position -= 1;
                    return self.unexpected("a hash key");
                }
            };
            self.expect_punct(':')?;
            let value = self.parse_expression(0)?;
            pairs.push((key, value));
        }
        self.position += 1;
        Ok(Expr::Hash(pairs))
    }

    fn parse_postfix(&mut self, mut expr: Expr) -> Result<Expr, SyntaxError> {
        loop {
            if self.is_punct('.') {
                self.position += 1;
                let line = self.current_line();
                expr = match self.next() {
                    Some(Token::Name(name)) => Expr::Attr(Box::new(expr), name.clone()),
                    Some(Token::Int(number)) => {
                        Expr::Index(Box::new(expr), Box::new(Expr::Int(*number)))
                    }
                    Some(Token::Op(op)) if op.bytes().all(|b| b.is_ascii_alphabetic()) => {
                        Expr::Attr(Box::new(expr), (*op).to_owned())
                    }
                    _ => return error(line, "expected a name or number after \".\""),
                };
                // A method call on an array is a key lookup in Twig: the arguments are parsed
                // and dropped.
                if self.is_punct('(') {
                    self.parse_arguments()?;
                }
            } else if self.is_punct('[') {
                self.position += 1;
                expr = self.parse_subscript(expr)?;
            } else if self.is_punct('|') {
                self.position += 1;
                let line = self.current_line();
                let name = self.expect_name()?;
                if !library::FILTERS.contains(&name.as_str()) {
                    return error(line, format!("unknown \"{name}\" filter"));
                }
                let args = if self.is_punct('(') {
                    self.parse_arguments()?
                } else {
                    Vec::new()
                };
                expr = Expr::Filter(Box::new(expr), name, args);
            } else {
                return Ok(expr);
            }
        }
    }

    fn parse_subscript(&mut self, subject: Expr) -> Result<Expr, SyntaxError> {
        let start = if self.is_punct(':') {
            None
        } else {
            Some(Box::new(self.parse_expression(0)?))
        };
        if self.is_punct(':') {
            self.position += 1;
            let length = if self.is_punct(']') {
                None
            } else {
                Some(Box::new(self.parse_expression(0)?))
            };
            self.expect_punct(']')?;
            return Ok(Expr::Slice(Box::new(subject), start, length));
        }
        self.expect_punct(']')?;
        match start {
            Some(index) => Ok(Expr::Index(Box::new(subject), index)),
            None => self.unexpected("an index"),
        }
    }

    fn parse_arguments(&mut self) -> Result<Vec<Expr>, SyntaxError> {
        self.expect_punct('(')?;
        let mut args = Vec::new();
        while !self.is_punct(')') {
            if !args.is_empty() {
                self.expect_punct(',')?;
                if self.is_punct(')') {
                    break;
                }
            }
            if matches!(self.peek(), Some(Token::Name(_)))
                && (self.peek_at(1) == Some(&Token::Op("="))
                    || self.peek_at(1) == Some(&Token::Punct(':')))
            {
                return error(self.current_line(), "named arguments are not supported");
            }
            args.push(self.parse_expression(0)?);
        }
        self.position += 1;
        Ok(args)
    }
}

fn string_expr(pieces: &[StrPiece], line: usize) -> Result<Expr, SyntaxError> {
    if let [StrPiece::Text(text)] = pieces {
        return Ok(Expr::Str(text.clone()));
    }
    let mut parts = Vec::new();
    for piece in pieces {
        match piece {
            StrPiece::Text(text) => parts.push(Expr::Str(text.clone())),
            StrPiece::Expr(tokens) => {
                let mut parser = ExprParser::new(tokens, line);
                let expr = parser.parse_expression(0)?;
                parser.expect_end()?;
                parts.push(expr);
            }
        }
    }
    Ok(Expr::Interpolation(parts))
}

fn parse_whole_expression(tokens: &[Spanned], line: usize) -> Result<Expr, SyntaxError> {
    let mut parser = ExprParser::new(tokens, line);
    if parser.at_end() {
        return error(line, "expected an expression");
    }
    let expr = parser.parse_expression(0)?;
    parser.expect_end()?;
    Ok(expr)
}

// ---------------------------------------------------------------------------------------------
// Template structure

#[derive(Debug, Clone)]
pub(super) enum Node {
    Text(String),
    Print(Expr),
    If(Vec<(Expr, Vec<Node>)>, Option<Vec<Node>>),
    For {
        key: Option<String>,
        value: String,
        sequence: Expr,
        body: Vec<Node>,
        otherwise: Option<Vec<Node>>,
    },
    Set(Vec<(String, Expr)>),
    /// `{% do expr %}`: evaluated for its effect only.
    Do(Expr),
    SetBlock(String, Vec<Node>),
    Apply(Vec<(String, Vec<Expr>)>, Vec<Node>),
    With(Option<Expr>, Vec<Node>),
}

struct TemplateParser {
    parts: Vec<Part>,
    position: usize,
}

impl TemplateParser {
    /// Parses nodes until one of the `ends` tags (which is left unconsumed) or the end.
    fn parse_nodes(&mut self, ends: &[&str]) -> Result<Vec<Node>, SyntaxError> {
        let mut nodes = Vec::new();
        while let Some(part) = self.parts.get(self.position) {
            let line = part.line;
            match &part.kind {
                PartKind::Text(text) => {
                    if !text.is_empty() {
                        nodes.push(Node::Text(text.clone()));
                    }
                    self.position += 1;
                }
                PartKind::Print(tokens) => {
                    let expr = parse_whole_expression(tokens, line)?;
                    nodes.push(Node::Print(expr));
                    self.position += 1;
                }
                PartKind::Tag(name, tokens) => {
                    if ends.contains(&name.as_str()) {
                        return Ok(nodes);
                    }
                    let name = name.clone();
                    let tokens = tokens.clone();
                    self.position += 1;
                    nodes.push(self.parse_tag(&name, &tokens, line)?);
                }
            }
        }
        if ends.is_empty() {
            Ok(nodes)
        } else {
            let line = self.parts.last().map_or(1, |part| part.line);
            error(
                line,
                format!(
                    "unexpected end of template, expected \"{}\"",
                    ends.join("\" or \"")
                ),
            )
        }
    }

    /// The tag at the current position (an end tag just found by `parse_nodes`), consumed.
    fn take_tag(&mut self) -> (String, Vec<Spanned>, usize) {
        let Some(part) = self.parts.get(self.position) else {
            return (String::new(), Vec::new(), 1);
        };
        self.position += 1;
        match &part.kind {
            PartKind::Tag(name, tokens) => (name.clone(), tokens.clone(), part.line),
            PartKind::Text(_) | PartKind::Print(_) => (String::new(), Vec::new(), part.line),
        }
    }

    fn parse_tag(
        &mut self,
        name: &str,
        tokens: &[Spanned],
        line: usize,
    ) -> Result<Node, SyntaxError> {
        match name {
            "if" => {
                let mut branches = vec![(parse_whole_expression(tokens, line)?, Vec::new())];
                let mut otherwise = None;
                loop {
                    let body = self.parse_nodes(&["elseif", "else", "endif"])?;
                    if let Some(last) = branches.last_mut() {
                        last.1 = body;
                    }
                    let (end, end_tokens, end_line) = self.take_tag();
                    match end.as_str() {
                        "elseif" => branches
                            .push((parse_whole_expression(&end_tokens, end_line)?, Vec::new())),
                        "else" => {
                            ExprParser::new(&end_tokens, end_line).expect_end()?;
                            otherwise = Some(self.parse_nodes(&["endif"])?);
                            let (_, end_tokens, end_line) = self.take_tag();
                            ExprParser::new(&end_tokens, end_line).expect_end()?;
                            break;
                        }
                        _ => {
                            ExprParser::new(&end_tokens, end_line).expect_end()?;
                            break;
                        }
                    }
                }
                Ok(Node::If(branches, otherwise))
            }
            "for" => {
                let mut parser = ExprParser::new(tokens, line);
                let first = parser.expect_name()?;
                let (key, value) = if parser.is_punct(',') {
                    parser.position += 1;
                    (Some(first), parser.expect_name()?)
                } else {
                    (None, first)
                };
                if !parser.is_op("in") {
                    return parser.unexpected("\"in\"");
                }
                parser.position += 1;
                let sequence = parser.parse_expression(0)?;
                parser.expect_end()?;
                let body = self.parse_nodes(&["else", "endfor"])?;
                let (end, end_tokens, end_line) = self.take_tag();
                ExprParser::new(&end_tokens, end_line).expect_end()?;
                let otherwise = if end == "else" {
                    let otherwise = self.parse_nodes(&["endfor"])?;
                    self.take_tag();
                    Some(otherwise)
                } else {
                    None
                };
                Ok(Node::For {
                    key,
                    value,
                    sequence,
                    body,
                    otherwise,
                })
            }
            "set" => {
                let mut parser = ExprParser::new(tokens, line);
                let mut names = vec![parser.expect_name()?];
                while parser.is_punct(',') {
                    parser.position += 1;
                    names.push(parser.expect_name()?);
                }
                if parser.at_end() {
                    if names.len() != 1 {
                        return error(line, "a block \"set\" takes one name");
                    }
                    let body = self.parse_nodes(&["endset"])?;
                    self.take_tag();
                    return Ok(Node::SetBlock(names.remove(0), body));
                }
                if !parser.is_op("=") {
                    return parser.unexpected("\"=\"");
                }
                parser.position += 1;
                let mut values = vec![parser.parse_expression(0)?];
                while parser.is_punct(',') {
                    parser.position += 1;
                    values.push(parser.parse_expression(0)?);
                }
                parser.expect_end()?;
                if values.len() != names.len() {
                    return error(line, "the number of names and values in \"set\" must match");
                }
                Ok(Node::Set(names.into_iter().zip(values).collect()))
            }
            "apply" => {
                let mut parser = ExprParser::new(tokens, line);
                let mut filters = Vec::new();
                loop {
                    let filter_line = parser.current_line();
                    let filter = parser.expect_name()?;
                    if !library::FILTERS.contains(&filter.as_str()) {
                        return error(filter_line, format!("unknown \"{filter}\" filter"));
                    }
                    let args = if parser.is_punct('(') {
                        parser.parse_arguments()?
                    } else {
                        Vec::new()
                    };
                    filters.push((filter, args));
                    if !parser.is_punct('|') {
                        break;
                    }
                    parser.position += 1;
                }
                parser.expect_end()?;
                let end = format!("end{name}");
                let body = self.parse_nodes(&[end.as_str()])?;
                self.take_tag();
                Ok(Node::Apply(filters, body))
            }
            "autoescape" => {
                let body = self.parse_nodes(&["endautoescape"])?;
                self.take_tag();
                Ok(Node::With(None, body))
            }
            "with" => {
                let mut parser = ExprParser::new(tokens, line);
                let scope = if parser.at_end() {
                    None
                } else {
                    Some(parser.parse_expression(0)?)
                };
                if matches!(parser.peek(), Some(Token::Name(word)) if word == "only") {
                    parser.position += 1;
                }
                parser.expect_end()?;
                let body = self.parse_nodes(&["endwith"])?;
                self.take_tag();
                Ok(Node::With(scope, body))
            }
            "do" => Ok(Node::Do(parse_whole_expression(tokens, line)?)),
            "elseif" | "else" | "endif" | "endfor" | "endset" | "endapply" | "endwith" => {
                error(line, format!("unexpected \"{name}\" tag"))
            }
            other => error(line, format!("unknown \"{other}\" tag")),
        }
    }
}

fn collect_assigned(nodes: &[Node], assigned: &mut BTreeSet<String>) {
    for node in nodes {
        match node {
            Node::Set(pairs) => assigned.extend(pairs.iter().map(|(name, _)| name.clone())),
            Node::SetBlock(name, body) => {
                assigned.insert(name.clone());
                collect_assigned(body, assigned);
            }
            Node::If(branches, otherwise) => {
                for (_, body) in branches {
                    collect_assigned(body, assigned);
                }
                if let Some(body) = otherwise {
                    collect_assigned(body, assigned);
                }
            }
            Node::For {
                body, otherwise, ..
            } => {
                collect_assigned(body, assigned);
                if let Some(body) = otherwise {
                    collect_assigned(body, assigned);
                }
            }
            Node::Apply(_, body) | Node::With(_, body) => collect_assigned(body, assigned),
            Node::Text(_) | Node::Print(_) | Node::Do(_) => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Emitting MiniJinja

/// Names MiniJinja reads as something other than a context variable.
const MINIJINJA_RESERVED: &[&str] = &[
    "true",
    "True",
    "false",
    "False",
    "none",
    "None",
    "and",
    "or",
    "not",
    "in",
    "is",
    "if",
    "else",
    "loop",
    "self",
    "super",
    "caller",
    "varargs",
    "kwargs",
    "namespace",
];

struct Emitter {
    out: String,
    /// Names given a value by `set` anywhere in the template; they live in the `__v` object
    /// so that a `set` inside a loop changes the variable outside it, as in Twig.
    assigned: BTreeSet<String>,
    /// Loop variable names in scope, innermost last.
    loop_names: Vec<String>,
    /// How many of `loop_names` each enclosing `for` brought, outermost first.
    loop_frames: Vec<usize>,
    captures: usize,
}

/// What a `loop.parent…` chain stands for: the `loop` of the `for` at a depth (1 is the
/// outermost), or the variables as seen at a depth (0 is outside every loop).
#[derive(Debug, Clone, Copy)]
enum LoopReference {
    Loop(usize),
    Variables(usize),
}

impl Emitter {
    fn emit_nodes(&mut self, nodes: &[Node]) -> Result<(), SyntaxError> {
        for node in nodes {
            self.emit_node(node)?;
        }
        Ok(())
    }

    fn emit_node(&mut self, node: &Node) -> Result<(), SyntaxError> {
        match node {
            Node::Text(text) => self.emit_text(text),
            Node::Print(expr) => {
                let code = self.expr(expr);
                let _ = write!(self.out, "{{{{ {code} }}}}");
            }
            Node::If(branches, otherwise) => {
                for (index, (condition, body)) in branches.iter().enumerate() {
                    let code = self.condition(condition);
                    let keyword = if index == 0 { "if" } else { "elif" };
                    let _ = write!(self.out, "{{% {keyword} {code} %}}");
                    self.emit_nodes(body)?;
                }
                if let Some(body) = otherwise {
                    self.out.push_str("{% else %}");
                    self.emit_nodes(body)?;
                }
                self.out.push_str("{% endif %}");
            }
            Node::For {
                key,
                value,
                sequence,
                body,
                otherwise,
            } => {
                let sequence_code = self.expr(sequence);
                // MiniJinja has no `loop.parent`: the enclosing loop is kept under a name.
                let depth = self.loop_frames.len();
                if depth > 0 {
                    let _ = write!(self.out, "{{% set __loop_{depth} = loop %}}");
                }
                match key {
                    Some(key) => {
                        let _ = write!(
                            self.out,
                            "{{% for {}, {} in __twig_items({sequence_code}) %}}",
                            loop_name(key),
                            loop_name(value),
                        );
                    }
                    None => {
                        let _ = write!(
                            self.out,
                            "{{% for {} in __twig_values({sequence_code}) %}}",
                            loop_name(value)
                        );
                    }
                }
                let pushed = usize::from(key.is_some()) + 1;
                if let Some(key) = key {
                    self.loop_names.push(key.clone());
                }
                self.loop_names.push(value.clone());
                self.loop_frames.push(pushed);
                self.emit_nodes(body)?;
                self.loop_frames.pop();
                self.loop_names.truncate(self.loop_names.len() - pushed);
                if let Some(body) = otherwise {
                    self.out.push_str("{% else %}");
                    self.emit_nodes(body)?;
                }
                self.out.push_str("{% endfor %}");
            }
            Node::Set(pairs) => {
                // All values are computed before any is assigned (`set a, b = b, a`).
                let codes: Vec<String> = pairs.iter().map(|(_, value)| self.expr(value)).collect();
                for ((name, _), code) in pairs.iter().zip(codes) {
                    let _ = write!(
                        self.out,
                        "{{{{ __twig_assign(__v, {}, {code}) }}}}",
                        quote(name)
                    );
                }
            }
            Node::Do(expr) => {
                let code = self.expr(expr);
                let _ = write!(self.out, "{{{{ __twig_discard({code}) }}}}");
            }
            Node::SetBlock(name, body) => {
                self.captures += 1;
                let capture = format!("__capture{}", self.captures);
                let _ = write!(self.out, "{{% set {capture} %}}");
                self.emit_nodes(body)?;
                let _ = write!(
                    self.out,
                    "{{% endset %}}{{{{ __twig_assign(__v, {}, {capture}) }}}}",
                    quote(name)
                );
            }
            Node::Apply(filters, body) => {
                self.captures += 1;
                let capture = format!("__capture{}", self.captures);
                let _ = write!(self.out, "{{% set {capture} %}}");
                self.emit_nodes(body)?;
                let mut code = capture.clone();
                for (name, args) in filters {
                    code = self.filter_call(code, name, args);
                }
                let _ = write!(self.out, "{{% endset %}}{{{{ {code} }}}}");
            }
            Node::With(scope, body) => {
                // Twig's `with` scoping is not modelled: the body sees the outer variables,
                // and a given hash is not merged in.
                let _ = scope;
                self.emit_nodes(body)?;
            }
        }
        Ok(())
    }

    /// Literal text, entity-decoded as the PHP app decodes the whole render, and wrapped in a
    /// raw block when MiniJinja could read a delimiter in it.
    fn emit_text(&mut self, text: &str) {
        let decoded = crate::mapping::php::html_entity_decode(text);
        if decoded.contains('{') {
            if decoded.contains("{%") {
                let _ = write!(self.out, "{{{{ {} }}}}", quote(&decoded));
            } else {
                let _ = write!(self.out, "{{% raw %}}{decoded}{{% endraw %}}");
            }
        } else {
            self.out.push_str(&decoded);
        }
    }

    fn condition(&self, expr: &Expr) -> String {
        let code = self.expr(expr);
        if is_boolean(expr) {
            code
        } else {
            format!("__twig_bool({code})")
        }
    }

    fn filter_call(&self, subject: String, name: &str, args: &[Expr]) -> String {
        let mut code = format!("({subject}|{}", filter_name(name));
        if !args.is_empty() {
            code.push('(');
            code.push_str(&self.list(args));
            code.push(')');
        }
        code.push(')');
        code
    }

    fn list(&self, items: &[Expr]) -> String {
        items
            .iter()
            .map(|item| self.expr(item))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn expr(&self, expr: &Expr) -> String {
        match expr {
            Expr::Null => "none".into(),
            Expr::Bool(flag) => flag.to_string(),
            Expr::Int(number) => number.to_string(),
            Expr::Float(number) => format!("{number:?}"),
            Expr::Str(text) => quote(text),
            Expr::Interpolation(parts) => format!("__twig_concat({})", self.list(parts)),
            Expr::Name(name) => self.name(name),
            Expr::List(items) => format!("[{}]", self.list(items)),
            Expr::Hash(pairs) => {
                let items: Vec<String> = pairs
                    .iter()
                    .map(|(key, value)| format!("{}: {}", self.hash_key(key), self.expr(value)))
                    .collect();
                format!("{{{}}}", items.join(", "))
            }
            Expr::Attr(subject, name) => {
                if let Some(LoopReference::Loop(depth)) = self.loop_reference(expr) {
                    return self.loop_code(depth);
                }
                if let Some(LoopReference::Variables(depth)) = self.loop_reference(subject) {
                    if name == "loop" {
                        // Outside every loop there is none.
                        return "none".into();
                    }
                    let visible = self.loop_frames[..depth].iter().sum();
                    return self.name_among(name, &self.loop_names[..visible]);
                }
                let subject = self.expr(subject);
                if is_identifier(name) && !MINIJINJA_RESERVED.contains(&name.as_str()) {
                    format!("{subject}.{name}")
                } else {
                    format!("{subject}[{}]", quote(name))
                }
            }
            Expr::Index(subject, index) => {
                let index = match index.as_ref() {
                    Expr::Str(text) if canonical_int(text).is_some() => text.clone(),
                    other => self.expr(other),
                };
                format!("__twig_item({}, {index})", self.expr(subject))
            }
            Expr::Slice(subject, start, length) => format!(
                "({}|twig_slice({}, {}))",
                self.expr(subject),
                start
                    .as_ref()
                    .map_or_else(|| "0".to_owned(), |start| self.expr(start)),
                length
                    .as_ref()
                    .map_or_else(|| "none".to_owned(), |length| self.expr(length))
            ),
            Expr::Call(name, args) => format!("__twig_fn_{name}({})", self.list(args)),
            Expr::Filter(subject, name, args) => self.filter_call(self.expr(subject), name, args),
            Expr::Unary(operator, operand) => match *operator {
                "not" => format!("(not {})", self.condition(operand)),
                "-" => format!("__twig_neg({})", self.expr(operand)),
                _ => format!("__twig_pos({})", self.expr(operand)),
            },
            Expr::Binary(operator, left, right) => self.binary(operator, left, right),
            Expr::Test {
                subject,
                name,
                args,
                negated,
            } => {
                let mut call = format!(
                    "__twig_is_{}({}",
                    name.replace(' ', "_"),
                    self.expr(subject)
                );
                for arg in args {
                    call.push_str(", ");
                    call.push_str(&self.expr(arg));
                }
                call.push(')');
                if *negated {
                    format!("(not {call})")
                } else {
                    call
                }
            }
            Expr::Conditional(condition, then, otherwise) => match (then, otherwise) {
                (None, Some(otherwise)) => {
                    format!(
                        "__twig_elvis({}, {})",
                        self.expr(condition),
                        self.expr(otherwise)
                    )
                }
                (Some(then), otherwise) => format!(
                    "({} if {} else {})",
                    self.expr(then),
                    self.condition(condition),
                    otherwise
                        .as_ref()
                        .map_or_else(|| "\"\"".to_owned(), |otherwise| self.expr(otherwise))
                ),
                (None, None) => "none".into(),
            },
        }
    }

    /// Twig's `loop.parent` (the variables outside the loop) and `loop.parent.loop`, at any
    /// depth; `None` for anything else.
    fn loop_reference(&self, expr: &Expr) -> Option<LoopReference> {
        match expr {
            Expr::Name(name) if name == "loop" => {
                let depth = self.loop_frames.len();
                let shadowed = self.loop_names.iter().any(|loop_name| loop_name == "loop");
                (depth > 0 && !shadowed).then_some(LoopReference::Loop(depth))
            }
            Expr::Attr(subject, attribute) => {
                match (self.loop_reference(subject)?, attribute.as_str()) {
                    (LoopReference::Loop(depth), "parent") => {
                        Some(LoopReference::Variables(depth - 1))
                    }
                    (LoopReference::Variables(depth), "loop") if depth > 0 => {
                        Some(LoopReference::Loop(depth))
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn loop_code(&self, depth: usize) -> String {
        if depth == self.loop_frames.len() {
            "loop".into()
        } else {
            format!("__loop_{depth}")
        }
    }

    fn name(&self, name: &str) -> String {
        self.name_among(name, &self.loop_names)
    }

    /// A variable's code where `loop_names` are the loop variables in scope.
    fn name_among(&self, name: &str, loop_names: &[String]) -> String {
        if loop_names.iter().any(|loop_name| loop_name == name) {
            return loop_name(name);
        }
        if name == "loop" && !loop_names.is_empty() {
            return "loop".into();
        }
        let plain =
            is_identifier(name) && !MINIJINJA_RESERVED.contains(&name) && !name.starts_with("__");
        let context = if plain {
            name.to_owned()
        } else {
            format!("__twig_lookup({})", quote(name))
        };
        if self.assigned.contains(name) {
            format!("__twig_pick(__v, {}, {context})", quote(name))
        } else {
            context
        }
    }

    fn hash_key(&self, key: &Expr) -> String {
        match key {
            Expr::Str(text) => match canonical_int(text) {
                Some(number) => number.to_string(),
                None => quote(text),
            },
            other => self.expr(other),
        }
    }

    fn binary(&self, operator: &str, left: &Expr, right: &Expr) -> String {
        let function = match operator {
            "or" | "and" => {
                return format!(
                    "({} {operator} {})",
                    self.condition(left),
                    self.condition(right)
                );
            }
            "~" => {
                let mut parts = Vec::new();
                flatten_concat(left, &mut parts);
                flatten_concat(right, &mut parts);
                let codes: Vec<String> = parts.iter().map(|part| self.expr(part)).collect();
                return format!("__twig_concat({})", codes.join(", "));
            }
            "!=" => return format!("(not __twig_eq({}, {}))", self.expr(left), self.expr(right)),
            "not in" => {
                return format!("(not __twig_in({}, {}))", self.expr(left), self.expr(right));
            }
            "<" | ">" | "<=" | ">=" => {
                return format!(
                    "(__twig_compare({}, {}) {operator} 0)",
                    self.expr(left),
                    self.expr(right)
                );
            }
            "<=>" => "__twig_compare",
            "==" => "__twig_eq",
            "in" => "__twig_in",
            "matches" => "__twig_matches",
            "starts with" => "__twig_starts_with",
            "ends with" => "__twig_ends_with",
            ".." => "__twig_fn_range",
            "+" => "__twig_add",
            "-" => "__twig_sub",
            "*" => "__twig_mul",
            "/" => "__twig_div",
            "//" => "__twig_floordiv",
            "%" => "__twig_mod",
            "**" => "__twig_pow",
            "??" => "__twig_coalesce",
            "b-and" => "__twig_bitand",
            "b-or" => "__twig_bitor",
            _ => "__twig_bitxor",
        };
        format!("{function}({}, {})", self.expr(left), self.expr(right))
    }
}

fn flatten_concat<'a>(expr: &'a Expr, parts: &mut Vec<&'a Expr>) {
    match expr {
        Expr::Binary("~", left, right) => {
            flatten_concat(left, parts);
            flatten_concat(right, parts);
        }
        other => parts.push(other),
    }
}

/// Whether an expression already yields a bool, so a condition needs no PHP truth conversion.
fn is_boolean(expr: &Expr) -> bool {
    match expr {
        Expr::Bool(_) | Expr::Test { .. } | Expr::Unary("not", _) => true,
        Expr::Binary(operator, _, _) => matches!(
            *operator,
            "or" | "and"
                | "=="
                | "!="
                | "<"
                | ">"
                | "<="
                | ">="
                | "in"
                | "not in"
                | "matches"
                | "starts with"
                | "ends with"
        ),
        _ => false,
    }
}

/// Loop variables are renamed so they cannot be mistaken for `set` variables or MiniJinja words.
fn loop_name(name: &str) -> String {
    let mut encoded = String::from("__l_");
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            encoded.push(c);
        } else {
            let _ = write!(encoded, "_{:x}_", c as u32);
        }
    }
    encoded
}

fn filter_name(name: &str) -> String {
    format!("twig_{name}")
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A string PHP would turn into an integer array key (`"12"`, not `"012"` or `"1.0"`).
pub fn canonical_int(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) || text == "-0" {
        return None;
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A MiniJinja string literal.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emitted(source: &str) -> String {
        match translate(source) {
            Ok(code) => code,
            Err(err) => panic!("{source}: {err}"),
        }
    }

    #[test]
    fn precedence_follows_twig() {
        assert_eq!(
            emitted("{{ a ~ b ?? c }}"),
            "{{ __twig_concat(a, __twig_coalesce(b, c)) }}"
        );
        assert_eq!(
            emitted("{{ 1 + 2 * 3 }}"),
            "{{ __twig_add(1, __twig_mul(2, 3)) }}"
        );
        assert_eq!(emitted("{{ -a|abs }}"), "{{ __twig_neg((a|twig_abs)) }}");
        assert_eq!(
            emitted("{{ a ? b : c }}"),
            "{{ (b if __twig_bool(a) else c) }}"
        );
        assert_eq!(emitted("{{ a ?: c }}"), "{{ __twig_elvis(a, c) }}");
        assert_eq!(
            emitted("{{ a is not defined }}"),
            "{{ (not __twig_is_defined(a)) }}"
        );
        assert_eq!(
            emitted("{{ 2 ** 3 ** 2 }}"),
            "{{ __twig_pow(2, __twig_pow(3, 2)) }}"
        );
    }

    #[test]
    fn tags_translate() {
        assert_eq!(
            emitted("{% if a %}x{% elseif b == 1 %}y{% else %}z{% endif %}"),
            "{% if __twig_bool(a) %}x{% elif __twig_eq(b, 1) %}y{% else %}z{% endif %}"
        );
        assert_eq!(
            emitted("{% for k, v in m %}{{ k }}{% else %}-{% endfor %}"),
            "{% for __l_k, __l_v in __twig_items(m) %}{{ __l_k }}{% else %}-{% endfor %}"
        );
        assert!(emitted("{% set x = 1 %}{{ x }}").contains("__twig_pick(__v, \"x\", x)"));
    }

    #[test]
    fn hashes_take_bare_and_numeric_keys() {
        assert_eq!(
            emitted("{{ {a: 1, 'b': 2, 3: 4, '5': 6, (k): 7} }}"),
            "{{ {\"a\": 1, \"b\": 2, 3: 4, 5: 6, k: 7} }}"
        );
    }

    #[test]
    fn whitespace_control_trims_text() {
        assert_eq!(emitted("a  {{- 1 -}}  b"), "a{{ 1 }}b");
        assert_eq!(emitted("a \n {{~ 1 ~}} \n b"), "a \n{{ 1 }}\n b");
        assert_eq!(
            emitted("{% if a %}\nx{% endif %}\n"),
            "{% if __twig_bool(a) %}x{% endif %}"
        );
    }

    #[test]
    fn errors_name_the_line() {
        let err = translate("a\n{{ foo( }}").err();
        assert_eq!(err.map(|e| e.line), Some(2));
        let err = translate("{% if a %}\n\n{{ x|nosuch }}{% endif %}").err();
        assert_eq!(
            err,
            Some(SyntaxError {
                line: 3,
                message: "unknown \"nosuch\" filter".into()
            })
        );
        assert!(translate("{% if a %}").is_err());
        assert!(translate("{% endif %}").is_err());
        assert!(translate("{% bogus %}").is_err());
        assert!(translate("{{ 'open }}").is_err());
        assert!(translate("{{ € }}").is_err());
        assert!(translate("{{ ² }}").is_err());
    }

    #[test]
    fn strings_unescape_and_interpolate() {
        assert_eq!(emitted(r#"{{ 'it\'s' }}"#), r#"{{ "it's" }}"#);
        assert_eq!(
            emitted(r#"{{ "a#{b}c" }}"#),
            r#"{{ __twig_concat("a", b, "c") }}"#
        );
    }

    #[test]
    fn dotted_numbers_are_positions() {
        assert_eq!(
            emitted("{{ a.0.1 }}"),
            "{{ __twig_item(__twig_item(a, 0), 1) }}"
        );
        assert_eq!(emitted("{{ 1.5 }}"), "{{ 1.5 }}");
    }

    #[test]
    fn plain_text_is_recognised() {
        assert!(is_plain_text("hello"));
        assert!(!is_plain_text("{{ x }}"));
    }
}
