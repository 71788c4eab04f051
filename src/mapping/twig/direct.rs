//! A direct evaluator for the Twig that mappings mostly hold: text, prints, `if`, `for`, and
//! expressions of names, attributes, literals, the common operators, tests and filters. It
//! reads the input object where it is, with no conversion into template values and no template
//! engine, which is where a mapping's time went. Anything outside that subset is known when
//! the template is compiled (it is then left to MiniJinja); anything unusual met while
//! rendering (a type PHP would juggle, a date it cannot read, a runaway loop) makes the render
//! give up, and the caller renders with MiniJinja instead, so results and errors stay exactly
//! what the engine gives.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Map, Value as Json};

use super::library::{MAX_VALUE_BYTES, slugify, strip_tags};
use super::syntax::{self, Expr, Node, SyntaxError};
use crate::mapping::{dot_path, php, php_date};

/// Steps (nodes and loop turns) one render may take before it leaves the work to MiniJinja,
/// whose fuel limit then says what went wrong.
const MAX_STEPS: u64 = 200_000;

/// The render left the work to MiniJinja.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GaveUp;

/// A template in the subset, ready to render.
#[derive(Debug, Clone)]
pub struct DirectTemplate {
    nodes: Vec<Node>,
}

impl DirectTemplate {
    /// The template, when it is in the subset.
    pub fn compile(source: &str) -> Result<Option<Self>, SyntaxError> {
        let nodes = syntax::parse(source)?;
        Ok(nodes.iter().all(node_supported).then(|| Self {
            nodes: decode_text(nodes),
        }))
    }

    /// Renders with the top-level keys of `input` as variables.
    pub fn render(&self, input: &Json) -> Result<String, GaveUp> {
        let mut render = Render {
            input,
            locals: Vec::new(),
            loops: Vec::new(),
            steps: 0,
            out: String::new(),
        };
        render.nodes(&self.nodes)?;
        Ok(render.out)
    }
}

/// Literal text is entity-decoded, as the PHP app decodes every render (see the emitter).
fn decode_text(nodes: Vec<Node>) -> Vec<Node> {
    nodes
        .into_iter()
        .map(|node| match node {
            Node::Text(text) => Node::Text(php::html_entity_decode(&text)),
            Node::If(branches, otherwise) => Node::If(
                branches
                    .into_iter()
                    .map(|(condition, body)| (condition, decode_text(body)))
                    .collect(),
                otherwise.map(decode_text),
            ),
            Node::For {
                key,
                value,
                sequence,
                body,
                otherwise,
            } => Node::For {
                key,
                value,
                sequence,
                body: decode_text(body),
                otherwise: otherwise.map(decode_text),
            },
            other => other,
        })
        .collect()
}

const FILTERS: [&str; 16] = [
    "default",
    "upper",
    "lower",
    "capitalize",
    "trim",
    "striptags",
    "strip_tags",
    "date",
    "slugify",
    "join",
    "json_encode",
    "length",
    "first",
    "last",
    "abs",
    "raw",
];

const BINARY: [&str; 16] = [
    "~", "??", "and", "or", "==", "!=", "<", ">", "<=", ">=", "+", "-", "*", "/", "//", "%",
];

const TESTS: [&str; 5] = ["defined", "null", "none", "empty", "iterable"];

fn node_supported(node: &Node) -> bool {
    match node {
        Node::Text(_) => true,
        Node::Print(expr) => expr_supported(expr),
        Node::If(branches, otherwise) => {
            branches.iter().all(|(condition, body)| {
                expr_supported(condition) && body.iter().all(node_supported)
            }) && otherwise
                .as_ref()
                .is_none_or(|body| body.iter().all(node_supported))
        }
        Node::For {
            key,
            value,
            sequence,
            body,
            otherwise,
        } => {
            key.as_deref().is_none_or(plain_name)
                && plain_name(value)
                && expr_supported(sequence)
                && body.iter().all(node_supported)
                && otherwise
                    .as_ref()
                    .is_none_or(|body| body.iter().all(node_supported))
        }
        _ => false,
    }
}

/// Names the evaluator reads as variables (Twig's special `_context`, `_self`… are not).
fn plain_name(name: &str) -> bool {
    !name.starts_with('_') && name != "loop"
}

fn expr_supported(expr: &Expr) -> bool {
    match expr {
        Expr::Null | Expr::Bool(_) | Expr::Int(_) | Expr::Float(_) | Expr::Str(_) => true,
        Expr::Interpolation(parts) | Expr::List(parts) => parts.iter().all(expr_supported),
        Expr::Name(name) => !name.starts_with('_'),
        Expr::Hash(pairs) => pairs.iter().all(|(key, value)| {
            matches!(key, Expr::Str(text) if syntax::canonical_int(text).is_none())
                && expr_supported(value)
        }),
        Expr::Attr(subject, _) => expr_supported(subject),
        Expr::Index(subject, index) => expr_supported(subject) && expr_supported(index),
        Expr::Filter(subject, name, args) => {
            FILTERS.contains(&name.as_str())
                && expr_supported(subject)
                && args.iter().all(expr_supported)
                && match name.as_str() {
                    "trim" | "json_encode" | "upper" | "lower" | "capitalize" | "striptags"
                    | "strip_tags" | "slugify" | "length" | "first" | "last" | "abs" | "raw" => {
                        args.is_empty()
                    }
                    "default" | "date" => args.len() <= 1,
                    _ => args.len() <= 2,
                }
        }
        Expr::Unary(operator, operand) => {
            ["not", "-", "+"].contains(operator) && expr_supported(operand)
        }
        Expr::Binary(operator, left, right) => {
            BINARY.contains(operator) && expr_supported(left) && expr_supported(right)
        }
        Expr::Test {
            subject,
            name,
            args,
            ..
        } => TESTS.contains(&name.as_str()) && args.is_empty() && expr_supported(subject),
        Expr::Conditional(condition, then, otherwise) => {
            expr_supported(condition)
                && then.as_deref().is_none_or(expr_supported)
                && otherwise.as_deref().is_none_or(expr_supported)
        }
        Expr::Slice(..) | Expr::Call(..) => false,
    }
}

/// A value met while rendering: part of the input, made here, or not there at all.
#[derive(Debug, Clone)]
enum Val<'a> {
    Undefined,
    Json(Cow<'a, Json>),
}

static NULL: Json = Json::Null;

impl<'a> Val<'a> {
    fn json(&self) -> &Json {
        match self {
            Self::Undefined => &NULL,
            Self::Json(json) => json,
        }
    }

    fn owned(json: Json) -> Self {
        Self::Json(Cow::Owned(json))
    }

    fn text(text: String) -> Self {
        Self::owned(Json::String(text))
    }

    fn is_null(&self) -> bool {
        self.json().is_null()
    }

    fn into_json(self) -> Json {
        match self {
            Self::Undefined => Json::Null,
            Self::Json(json) => json.into_owned(),
        }
    }

    /// The attribute or position `key` of this value, as Twig reads `a.b` and `a[b]`.
    fn item(self, key: &Json) -> Self {
        match key {
            Json::String(text) => self.attribute(text),
            Json::Number(number) => self.attribute(&php::number_to_string(number)),
            _ => Self::Undefined,
        }
    }

    fn attribute(self, key: &str) -> Self {
        match self {
            Self::Json(Cow::Borrowed(json)) => {
                lookup(json, key).map_or(Self::Undefined, |found| Self::Json(Cow::Borrowed(found)))
            }
            Self::Json(Cow::Owned(json)) => {
                lookup(&json, key).map_or(Self::Undefined, |found| Self::owned(found.clone()))
            }
            Self::Undefined => Self::Undefined,
        }
    }
}

fn lookup<'j>(json: &'j Json, key: &str) -> Option<&'j Json> {
    match json {
        Json::Object(map) => dot_path::member(map, key),
        Json::Array(items) => syntax::canonical_int(key)
            .and_then(|index| usize::try_from(index).ok())
            .and_then(|index| items.get(index)),
        _ => None,
    }
}

struct LoopState {
    index0: usize,
    length: usize,
}

struct Render<'n, 'a> {
    input: &'a Json,
    locals: Vec<(&'n str, Val<'a>)>,
    loops: Vec<LoopState>,
    steps: u64,
    out: String,
}

impl<'n, 'a> Render<'n, 'a> {
    fn step(&mut self) -> Result<(), GaveUp> {
        self.steps += 1;
        if self.steps > MAX_STEPS || self.out.len() > MAX_VALUE_BYTES {
            return Err(GaveUp);
        }
        Ok(())
    }

    fn nodes(&mut self, nodes: &'n [Node]) -> Result<(), GaveUp> {
        nodes.iter().try_for_each(|node| self.node(node))
    }

    fn node(&mut self, node: &'n Node) -> Result<(), GaveUp> {
        self.step()?;
        match node {
            Node::Text(text) => self.out.push_str(text),
            Node::Print(expr) => {
                let value = self.expr(expr)?;
                match value.json() {
                    Json::String(text) => self.out.push_str(text),
                    other => self.out.push_str(&php::to_string(other)),
                }
            }
            Node::If(branches, otherwise) => {
                for (condition, body) in branches {
                    if php::is_truthy(self.expr(condition)?.json()) {
                        return self.nodes(body);
                    }
                }
                if let Some(body) = otherwise {
                    self.nodes(body)?;
                }
            }
            Node::For {
                key,
                value,
                sequence,
                body,
                otherwise,
            } => {
                let items: Vec<(Val<'a>, Val<'a>)> = match self.expr(sequence)? {
                    Val::Json(Cow::Borrowed(json)) => entries(json)
                        .map(|(k, v)| (Val::owned(k), Val::Json(Cow::Borrowed(v))))
                        .collect(),
                    Val::Json(Cow::Owned(json)) => entries(&json)
                        .map(|(k, v)| (Val::owned(k), Val::owned(v.clone())))
                        .collect(),
                    Val::Undefined => Vec::new(),
                };
                if items.is_empty() {
                    if let Some(body) = otherwise {
                        self.nodes(body)?;
                    }
                    return Ok(());
                }
                let length = items.len();
                let depth = self.locals.len();
                self.loops.push(LoopState { index0: 0, length });
                for (index0, (item_key, item)) in items.into_iter().enumerate() {
                    self.step()?;
                    self.locals.truncate(depth);
                    if let Some(key) = key {
                        self.locals.push((key.as_str(), item_key));
                    }
                    self.locals.push((value.as_str(), item));
                    if let Some(state) = self.loops.last_mut() {
                        state.index0 = index0;
                    }
                    self.nodes(body)?;
                }
                self.locals.truncate(depth);
                self.loops.pop();
            }
            _ => return Err(GaveUp),
        }
        Ok(())
    }

    fn name(&self, name: &str) -> Val<'a> {
        if let Some((_, value)) = self.locals.iter().rev().find(|(local, _)| *local == name) {
            return value.clone();
        }
        match self.input {
            Json::Object(map) => dot_path::member(map, name)
                .map_or(Val::Undefined, |found| Val::Json(Cow::Borrowed(found))),
            _ => Val::Undefined,
        }
    }

    /// `loop.index` and its siblings inside a `for`.
    fn loop_attribute(&self, attribute: &str) -> Result<Val<'a>, GaveUp> {
        let state = self.loops.last().ok_or(GaveUp)?;
        let number = |n: usize| Val::owned(Json::from(n));
        Ok(match attribute {
            "index" => number(state.index0 + 1),
            "index0" => number(state.index0),
            "revindex" => number(state.length - state.index0),
            "revindex0" => number(state.length - state.index0 - 1),
            "first" => Val::owned(Json::Bool(state.index0 == 0)),
            "last" => Val::owned(Json::Bool(state.index0 + 1 == state.length)),
            "length" => number(state.length),
            _ => return Err(GaveUp),
        })
    }

    fn expr(&mut self, expr: &'n Expr) -> Result<Val<'a>, GaveUp> {
        Ok(match expr {
            Expr::Null => Val::owned(Json::Null),
            Expr::Bool(flag) => Val::owned(Json::Bool(*flag)),
            Expr::Int(number) => Val::owned(Json::from(*number)),
            Expr::Float(number) => Val::owned(php::float_value(*number)),
            Expr::Str(text) => Val::text(text.clone()),
            Expr::Interpolation(parts) => {
                let mut text = String::new();
                for part in parts {
                    push_text(&mut text, self.expr(part)?.json());
                }
                Val::text(text)
            }
            Expr::Name(name) => {
                if name == "loop" && !self.loops.is_empty() && !self.is_local("loop") {
                    return Err(GaveUp);
                }
                self.name(name)
            }
            Expr::List(items) => Val::owned(Json::Array(
                items
                    .iter()
                    .map(|item| self.expr(item).map(Val::into_json))
                    .collect::<Result<_, _>>()?,
            )),
            Expr::Hash(pairs) => {
                let mut map = Map::with_capacity(pairs.len());
                for (key, value) in pairs {
                    let Expr::Str(key) = key else {
                        return Err(GaveUp);
                    };
                    map.insert(key.clone(), self.expr(value)?.into_json());
                }
                Val::owned(Json::Object(map))
            }
            Expr::Attr(subject, attribute) => {
                if matches!(subject.as_ref(), Expr::Name(name) if name == "loop")
                    && !self.loops.is_empty()
                    && !self.is_local("loop")
                {
                    return self.loop_attribute(attribute);
                }
                self.expr(subject)?.attribute(attribute)
            }
            Expr::Index(subject, index) => {
                let index = self.expr(index)?;
                let index = index.json();
                if !(index.is_string() || index.as_i64().is_some()) {
                    return Err(GaveUp);
                }
                self.expr(subject)?.item(index)
            }
            Expr::Filter(subject, name, args) if name == "json_encode" && args.is_empty() => {
                if let Expr::Hash(pairs) = subject.as_ref() {
                    if let Some(text) = self.hash_as_json(pairs)? {
                        return Ok(Val::text(text));
                    }
                }
                Val::text(php::json_encode(self.expr(subject)?.json()))
            }
            Expr::Filter(subject, name, args) => {
                let subject = self.expr(subject)?;
                // Most filters take at most one argument: no list for it.
                match args.as_slice() {
                    [] => filter(name, subject, &[])?,
                    [arg] => filter(name, subject, &[self.expr(arg)?])?,
                    _ => {
                        let args = args
                            .iter()
                            .map(|arg| self.expr(arg))
                            .collect::<Result<Vec<_>, _>>()?;
                        filter(name, subject, &args)?
                    }
                }
            }
            Expr::Unary(operator, operand) => {
                let operand = self.expr(operand)?;
                match *operator {
                    "not" => Val::owned(Json::Bool(!php::is_truthy(operand.json()))),
                    "-" => match operand.json() {
                        Json::Number(number) => match number.as_i64() {
                            Some(integer) => {
                                Val::owned(Json::from(integer.checked_neg().ok_or(GaveUp)?))
                            }
                            None => Val::owned(php::float_value(-number.as_f64().ok_or(GaveUp)?)),
                        },
                        _ => return Err(GaveUp),
                    },
                    _ => match operand.json() {
                        Json::Number(_) => operand,
                        _ => return Err(GaveUp),
                    },
                }
            }
            Expr::Binary(operator, left, right) => self.binary(operator, left, right)?,
            Expr::Test {
                subject,
                name,
                negated,
                ..
            } => {
                let subject = self.expr(subject)?;
                let outcome = match name.as_str() {
                    "defined" => !matches!(subject, Val::Undefined),
                    "null" | "none" => subject.is_null(),
                    "empty" => is_empty(subject.json()),
                    _ => matches!(subject.json(), Json::Array(_) | Json::Object(_)),
                };
                Val::owned(Json::Bool(outcome != *negated))
            }
            Expr::Conditional(condition, then, otherwise) => {
                let condition_value = self.expr(condition)?;
                let truthy = php::is_truthy(condition_value.json());
                match (then, otherwise) {
                    (None, Some(otherwise)) => {
                        if truthy {
                            condition_value
                        } else {
                            self.expr(otherwise)?
                        }
                    }
                    (Some(then), otherwise) => {
                        if truthy {
                            self.expr(then)?
                        } else {
                            match otherwise {
                                Some(otherwise) => self.expr(otherwise)?,
                                None => Val::text(String::new()),
                            }
                        }
                    }
                    (None, None) => return Err(GaveUp),
                }
            }
            Expr::Slice(..) | Expr::Call(..) => return Err(GaveUp),
        })
    }

    /// `{…}|json_encode` written as JSON text as the hash is evaluated, without building it;
    /// `None` for the hashes PHP would encode otherwise (empty: `[]`; a repeated key).
    fn hash_as_json(&mut self, pairs: &'n [(Expr, Expr)]) -> Result<Option<String>, GaveUp> {
        let keys: Vec<&str> = pairs
            .iter()
            .filter_map(|(key, _)| match key {
                Expr::Str(text) => Some(text.as_str()),
                _ => None,
            })
            .collect();
        let unique = keys
            .iter()
            .enumerate()
            .all(|(i, key)| !keys[..i].contains(key));
        if keys.is_empty() || keys.len() != pairs.len() || !unique {
            return Ok(None);
        }
        let mut text = String::with_capacity(16 * pairs.len());
        text.push('{');
        for (index, (key, (_, value))) in keys.iter().zip(pairs).enumerate() {
            if index > 0 {
                text.push(',');
            }
            php::write_json_string(&mut text, key);
            text.push(':');
            php::write_json(&mut text, self.expr(value)?.json());
        }
        text.push('}');
        Ok(Some(text))
    }

    fn is_local(&self, name: &str) -> bool {
        self.locals.iter().any(|(local, _)| *local == name)
    }

    fn binary(
        &mut self,
        operator: &str,
        left: &'n Expr,
        right: &'n Expr,
    ) -> Result<Val<'a>, GaveUp> {
        match operator {
            "??" => {
                let value = self.expr(left)?;
                return if value.is_null() {
                    self.expr(right)
                } else {
                    Ok(value)
                };
            }
            "and" => {
                let outcome = php::is_truthy(self.expr(left)?.json())
                    && php::is_truthy(self.expr(right)?.json());
                return Ok(Val::owned(Json::Bool(outcome)));
            }
            "or" => {
                let outcome = php::is_truthy(self.expr(left)?.json())
                    || php::is_truthy(self.expr(right)?.json());
                return Ok(Val::owned(Json::Bool(outcome)));
            }
            _ => {}
        }
        let left = self.expr(left)?;
        let right = self.expr(right)?;
        let (a, b) = (left.json(), right.json());
        let boolean = |flag: bool| Ok(Val::owned(Json::Bool(flag)));
        match operator {
            "~" => {
                let mut text = String::new();
                push_text(&mut text, a);
                push_text(&mut text, b);
                Ok(Val::text(text))
            }
            "==" => boolean(php::loose_equals(a, b)),
            "!=" => boolean(!php::loose_equals(a, b)),
            "<" => boolean(compare(a, b)? == Ordering::Less),
            ">" => boolean(compare(a, b)? == Ordering::Greater),
            "<=" => boolean(compare(a, b)? != Ordering::Greater),
            ">=" => boolean(compare(a, b)? != Ordering::Less),
            _ => arithmetic(operator, a, b).map(Val::owned),
        }
    }
}

fn push_text(out: &mut String, value: &Json) {
    match value {
        Json::String(text) => out.push_str(text),
        other => out.push_str(&php::to_string(other)),
    }
}

/// The keys (as Twig gives them: integers for list positions and numeric keys) and values
/// of what a `for` walks; nothing for scalars.
fn entries(json: &Json) -> Box<dyn Iterator<Item = (Json, &Json)> + '_> {
    match json {
        Json::Array(items) => Box::new(
            items
                .iter()
                .enumerate()
                .map(|(index, item)| (Json::from(index), item)),
        ),
        Json::Object(map) => Box::new(map.iter().map(|(key, item)| {
            let key = match syntax::canonical_int(key) {
                Some(integer) => Json::from(integer),
                None => Json::String(key.clone()),
            };
            (key, item)
        })),
        _ => Box::new(std::iter::empty()),
    }
}

/// Twig's `empty`: null, false, `""` and empty arrays (not `0`, not `"0"`).
fn is_empty(json: &Json) -> bool {
    match json {
        Json::Null => true,
        Json::Bool(flag) => !flag,
        Json::String(text) => text.is_empty(),
        Json::Array(items) => items.is_empty(),
        Json::Object(map) => map.is_empty(),
        Json::Number(_) => false,
    }
}

/// A number, or a string PHP reads whole as a number.
fn numeric(json: &Json) -> Option<f64> {
    match json {
        Json::Number(number) => number.as_f64(),
        Json::String(text) if php::is_numeric_string(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// PHP 8's ordering where it is plain: numbers (and numeric strings) by value, other strings
/// byte by byte. Mixed kinds give up.
fn compare(a: &Json, b: &Json) -> Result<Ordering, GaveUp> {
    match (numeric(a), numeric(b)) {
        (Some(x), Some(y)) => x.partial_cmp(&y).ok_or(GaveUp),
        _ => match (a, b) {
            (Json::String(x), Json::String(y)) => Ok(x.as_bytes().cmp(y.as_bytes())),
            _ => Err(GaveUp),
        },
    }
}

/// Arithmetic on two JSON numbers; anything PHP would juggle (strings, null) gives up.
fn arithmetic(operator: &str, a: &Json, b: &Json) -> Result<Json, GaveUp> {
    let (Json::Number(x), Json::Number(y)) = (a, b) else {
        return Err(GaveUp);
    };
    if let (Some(i), Some(j)) = (x.as_i64(), y.as_i64()) {
        let integer = match operator {
            "+" => i.checked_add(j),
            "-" => i.checked_sub(j),
            "*" => i.checked_mul(j),
            "/" if j != 0 && i % j == 0 => i.checked_div(j),
            "//" if j != 0 => Some((i as f64 / j as f64).floor() as i64),
            "%" if j != 0 => i.checked_rem(j),
            _ => None,
        };
        if let Some(integer) = integer {
            return Ok(Json::from(integer));
        }
    }
    let (f, g) = (x.as_f64().ok_or(GaveUp)?, y.as_f64().ok_or(GaveUp)?);
    let float = match operator {
        "+" => f + g,
        "-" => f - g,
        "*" => f * g,
        "/" if g != 0.0 => f / g,
        "//" if g != 0.0 => return Ok(Json::from((f / g).floor() as i64)),
        _ => return Err(GaveUp),
    };
    if float.is_finite() {
        Ok(php::float_value(float))
    } else {
        Err(GaveUp)
    }
}

fn text_of<'v>(value: &'v Val) -> Cow<'v, str> {
    php::to_text(value.json())
}

fn filter<'a>(name: &str, subject: Val<'a>, args: &[Val<'a>]) -> Result<Val<'a>, GaveUp> {
    let json = subject.json();
    Ok(match name {
        "default" => {
            if is_empty(json) {
                args.first()
                    .cloned()
                    .unwrap_or_else(|| Val::text(String::new()))
            } else {
                subject
            }
        }
        "upper" => Val::text(text_of(&subject).to_uppercase()),
        "lower" => Val::text(text_of(&subject).to_lowercase()),
        "capitalize" => {
            let lower = text_of(&subject).to_lowercase();
            let mut chars = lower.chars();
            Val::text(match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            })
        }
        "trim" => {
            const BLANK: [char; 6] = [' ', '\t', '\n', '\r', '\0', '\x0B'];
            let untouched =
                matches!(json, Json::String(text) if text.trim_matches(BLANK).len() == text.len());
            if untouched {
                subject
            } else {
                Val::text(text_of(&subject).trim_matches(BLANK).to_owned())
            }
        }
        "striptags" | "strip_tags" => Val::text(strip_tags(&text_of(&subject))),
        "slugify" => Val::text(slugify(&text_of(&subject))),
        "raw" => match json {
            Json::String(text) => Val::text(php::html_entity_decode(text)),
            _ => subject,
        },
        "date" => {
            let format = args.first().map_or(Cow::Borrowed("F j, Y H:i"), text_of);
            Val::text(php_date::format(&moment(json)?, &format))
        }
        "join" => {
            let items: Vec<&Json> = match json {
                Json::Null => Vec::new(),
                Json::Array(items) => items.iter().collect(),
                Json::Object(map) => map.values().collect(),
                _ => return Err(GaveUp),
            };
            let glue = args.first().map(text_of).unwrap_or_default();
            let mut joined = String::new();
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    match args.get(1) {
                        Some(last_glue) if index + 1 == items.len() => {
                            joined.push_str(&text_of(last_glue))
                        }
                        _ => joined.push_str(&glue),
                    }
                }
                push_text(&mut joined, item);
            }
            Val::text(joined)
        }
        "length" => Val::owned(Json::from(match json {
            Json::Null => 0,
            Json::Array(items) => items.len(),
            Json::Object(map) => map.len(),
            other => php::to_string(other).chars().count(),
        })),
        "first" | "last" => {
            let first = name == "first";
            match json {
                Json::String(text) => {
                    let picked = if first {
                        text.chars().next()
                    } else {
                        text.chars().last()
                    };
                    Val::text(picked.map(String::from).unwrap_or_default())
                }
                Json::Array(items) => {
                    let picked = if first { items.first() } else { items.last() };
                    picked.map_or(Val::Undefined, |item| Val::owned(item.clone()))
                }
                Json::Object(map) => {
                    let picked = if first {
                        map.values().next()
                    } else {
                        map.values().next_back()
                    };
                    picked.map_or(Val::Undefined, |item| Val::owned(item.clone()))
                }
                _ => return Err(GaveUp),
            }
        }
        "abs" => match json {
            Json::Number(number) => match number.as_i64() {
                Some(integer) => Val::owned(Json::from(integer.checked_abs().ok_or(GaveUp)?)),
                None => Val::owned(php::float_value(number.as_f64().ok_or(GaveUp)?.abs())),
            },
            _ => return Err(GaveUp),
        },
        _ => return Err(GaveUp),
    })
}

/// Twig's date reading: null → now, integers and digit strings → timestamps, other strings
/// → PHP date strings; what cannot be read is left to MiniJinja's error.
fn moment(json: &Json) -> Result<chrono::DateTime<chrono::Utc>, GaveUp> {
    use chrono::TimeZone as _;
    let now = chrono::Utc::now();
    let timestamp = match json {
        Json::Null => return Ok(now),
        Json::Number(number) => number.as_f64(),
        Json::String(text) => {
            let digits = text.strip_prefix('-').unwrap_or(text);
            (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
                .then(|| text.parse::<f64>().ok())
                .flatten()
        }
        _ => return Err(GaveUp),
    };
    match timestamp {
        Some(seconds) => chrono::Utc
            .timestamp_opt(seconds.trunc() as i64, 0)
            .single()
            .ok_or(GaveUp),
        None => php_date::parse(&php::to_string(json), now).ok_or(GaveUp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::twig::render_once;

    /// Every corpus template the evaluator takes renders as MiniJinja renders it.
    #[test]
    fn the_corpus_renders_as_the_engine_renders_it() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/twig/corpus.json");
        let corpus: Vec<Json> =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_default())
                .unwrap_or_default();
        assert!(corpus.len() >= 200, "the corpus is there");
        let (mut taken, mut rendered) = (0, 0);
        for case in &corpus {
            let template = case["template"].as_str().unwrap_or_default();
            let context = &case["context"];
            let Ok(Some(direct)) = DirectTemplate::compile(template) else {
                continue;
            };
            taken += 1;
            let Ok(ours) = direct.render(context) else {
                continue;
            };
            rendered += 1;
            let engine = render_once(template, context);
            assert_eq!(Ok(ours), engine, "{}: {template}", case["name"]);
        }
        eprintln!(
            "direct evaluator: took {taken} of {} corpus templates, rendered {rendered}",
            corpus.len()
        );
        assert!(
            taken > 150,
            "the evaluator takes most of the corpus ({taken})"
        );
        assert!(
            rendered > 120,
            "and renders most of what it takes ({rendered})"
        );
    }

    /// The benchmark's mapping is what real mappings look like: every template of it renders
    /// directly, and as the engine renders it.
    #[test]
    fn the_benchmark_mapping_renders_directly() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/twig/mapping.json");
        let fixture: Json =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_default())
                .unwrap_or_default();
        let input = &fixture["input"];
        let mut templates = 0;
        for value in fixture["mapping"]["mapping"]
            .as_object()
            .into_iter()
            .flat_map(|m| m.values())
        {
            let Some(template) = value
                .as_str()
                .filter(|t| t.contains("{{") || t.contains("{%"))
            else {
                continue;
            };
            templates += 1;
            let direct = DirectTemplate::compile(template).ok().flatten();
            let rendered = direct.map(|d| d.render(input));
            assert_eq!(
                rendered,
                Some(render_once(template, input).map_err(|_| GaveUp)),
                "{template}"
            );
        }
        assert!(templates >= 15, "{templates}");
    }

    #[test]
    fn outside_the_subset_is_left_to_the_engine() {
        for template in [
            "{% set x = 1 %}{{ x }}",
            "{{ range(1, 3)|join }}",
            "{{ a|replace({'a': 'b'}) }}",
            "{{ _context }}",
            "{{ {1: 'a'}|json_encode }}",
        ] {
            assert!(
                matches!(DirectTemplate::compile(template), Ok(None)),
                "{template}"
            );
        }
        let loop_printed = DirectTemplate::compile("{% for a in b %}{{ loop }}{% endfor %}")
            .ok()
            .flatten();
        assert_eq!(
            loop_printed.map(|t| t.render(&serde_json::json!({"b": [1]}))),
            Some(Err(GaveUp))
        );
    }
}
