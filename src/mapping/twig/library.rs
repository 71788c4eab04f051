//! Twig's filters, tests and functions (and OpenConnector's own) with PHP's results, plus the
//! `__twig_*` helpers the translated templates call for PHP operators. Registered once on the
//! base environment.

use std::cmp::Ordering;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use minijinja::value::{Object, Rest, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State};

use super::values::{self, Key, Number};
use crate::mapping::{casts, php, php_date};

/// The largest string or list a template may build (a runaway `~` loop or `range`).
pub const MAX_VALUE_BYTES: usize = 8 * 1024 * 1024;
const MAX_RANGE_ITEMS: usize = 100_000;

/// Filters a template may use (checked at compile time, as Twig does).
pub const FILTERS: &[&str] = &[
    "abs",
    "b64dec",
    "b64enc",
    "capitalize",
    "date",
    "default",
    "e",
    "escape",
    "first",
    "join",
    "json_decode",
    "json_encode",
    "keys",
    "last",
    "length",
    "lower",
    "merge",
    "nl2br",
    "number_format",
    "preg_replace",
    "raw",
    "replace",
    "reverse",
    "round",
    "slice",
    "slugify",
    "sort",
    "spaceless",
    "split",
    "strip_tags",
    "striptags",
    "title",
    "trim",
    "upper",
    "url_encode",
    "format",
];

/// Tests a template may use after `is`.
pub const TESTS: &[&str] = &[
    "defined",
    "null",
    "none",
    "empty",
    "iterable",
    "even",
    "odd",
    "divisible by",
    "same as",
];

/// Functions a template may call.
pub const FUNCTIONS: &[&str] = &[
    "executeMapping",
    "generateUuid",
    "date",
    "range",
    "min",
    "max",
    "cycle",
    "attribute",
];

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

fn too_large() -> Error {
    invalid(format!(
        "a template value grew past {MAX_VALUE_BYTES} bytes"
    ))
}

fn arg(args: &[Value], index: usize) -> Option<&Value> {
    args.get(index)
        .filter(|value| !value.is_undefined() && !value.is_none())
}

fn string_value(text: String) -> Result<Value, Error> {
    if text.len() > MAX_VALUE_BYTES {
        Err(too_large())
    } else {
        Ok(Value::from(text))
    }
}

/// Registers everything on the environment.
pub fn register(env: &mut Environment<'static>) {
    register_filters(env);
    register_tests(env);
    register_operators(env);
    register_functions(env);
}

// ---------------------------------------------------------------------------------------------
// Filters

fn register_filters(env: &mut Environment<'static>) {
    env.add_filter("twig_abs", |value: Value| match values::to_number(&value) {
        Number::Int(integer) => Number::Int(integer.saturating_abs()).into_value(),
        Number::Float(float) => Value::from(float.abs()),
    });
    env.add_filter("twig_b64enc", |value: Value| {
        base64::engine::general_purpose::STANDARD.encode(values::to_string(&value))
    });
    env.add_filter("twig_b64dec", |value: Value| {
        casts::base64_decode_lenient(&values::to_string(&value))
    });
    env.add_filter("twig_capitalize", |value: Value| {
        let lower = values::to_string(&value).to_lowercase();
        let mut chars = lower.chars();
        match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => String::new(),
        }
    });
    env.add_filter("twig_title", |value: Value| {
        let mut out = String::new();
        let mut start = true;
        for c in values::to_string(&value).chars() {
            if start {
                out.extend(c.to_uppercase())
            } else {
                out.extend(c.to_lowercase())
            }
            start = c.is_whitespace() || c == '-';
        }
        out
    });
    env.add_filter("twig_date", date_filter);
    env.add_filter("twig_default", |value: Value, args: Rest<Value>| {
        if values::is_empty(&value) {
            args.0.first().cloned().unwrap_or_else(|| Value::from(""))
        } else {
            value
        }
    });
    env.add_filter("twig_e", escape_filter);
    env.add_filter("twig_escape", escape_filter);
    env.add_filter("twig_raw", |value: Value| match value.as_str() {
        // Raw output is not escaped, so the PHP app's final entity decoding touches it.
        Some(text) => Value::from(php::html_entity_decode(text)),
        None => value,
    });
    env.add_filter("twig_first", |value: Value| {
        if let Some(text) = value.as_str() {
            return Value::from(text.chars().next().map(String::from).unwrap_or_default());
        }
        values::values(&value)
            .into_iter()
            .next()
            .unwrap_or_else(|| Value::from(()))
    });
    env.add_filter("twig_last", |value: Value| {
        if let Some(text) = value.as_str() {
            return Value::from(text.chars().last().map(String::from).unwrap_or_default());
        }
        values::values(&value)
            .into_iter()
            .last()
            .unwrap_or_else(|| Value::from(()))
    });
    env.add_filter(
        "twig_join",
        |value: Value, args: Rest<Value>| -> Result<Value, Error> {
            let glue = arg(&args, 0).map(values::to_string).unwrap_or_default();
            let items: Vec<String> = values::values(&value)
                .iter()
                .map(values::to_string)
                .collect();
            let joined = match (arg(&args, 1), items.len()) {
                (Some(last_glue), count) if count > 1 => {
                    format!(
                        "{}{}{}",
                        items[..count - 1].join(&glue),
                        values::to_string(last_glue),
                        items[count - 1]
                    )
                }
                _ => items.join(&glue),
            };
            string_value(joined)
        },
    );
    env.add_filter("twig_json_encode", |value: Value, args: Rest<Value>| {
        let flags = arg(&args, 0).map_or(0, values::to_int);
        json_encode_with_flags(&values::to_json(&value), flags)
    });
    env.add_filter(
        "twig_json_decode",
        |value: Value| match serde_json::from_str::<serde_json::Value>(&values::to_string(&value)) {
            Ok(json) => values::from_json(&json),
            Err(_) => Value::from(()),
        },
    );
    env.add_filter("twig_keys", |value: Value| {
        Value::from(
            values::entries(&value)
                .into_iter()
                .map(|(key, _)| key.into_value())
                .collect::<Vec<_>>(),
        )
    });
    env.add_filter("twig_length", |value: Value| -> usize {
        match value.kind() {
            ValueKind::Undefined | ValueKind::None => 0,
            ValueKind::Seq | ValueKind::Map | ValueKind::Iterable => value.len().unwrap_or(0),
            _ => values::to_string(&value).chars().count(),
        }
    });
    env.add_filter("twig_lower", |value: Value| {
        values::to_string(&value).to_lowercase()
    });
    env.add_filter("twig_upper", |value: Value| {
        values::to_string(&value).to_uppercase()
    });
    env.add_filter(
        "twig_merge",
        |value: Value, other: Value| -> Result<Value, Error> {
            if !values::is_array(&value) && !value.is_none() && !value.is_undefined() {
                return Err(invalid("the merge filter only works with arrays"));
            }
            if !values::is_array(&other) {
                return Err(invalid("the merge filter only works with arrays"));
            }
            let mut merged = values::entries(&value);
            let mut next_index = merged
                .iter()
                .filter(|(key, _)| matches!(key, Key::Int(_)))
                .count() as i64;
            // array_merge: integer keys are renumbered and appended, string keys overwrite.
            let mut renumbered: Vec<(Key, Value)> = Vec::with_capacity(merged.len());
            let mut index = 0;
            for (key, item) in merged.drain(..) {
                match key {
                    Key::Int(_) => {
                        renumbered.push((Key::Int(index), item));
                        index += 1;
                    }
                    text => renumbered.push((text, item)),
                }
            }
            next_index = next_index.max(index);
            for (key, item) in values::entries(&other) {
                match key {
                    Key::Int(_) => {
                        renumbered.push((Key::Int(next_index), item));
                        next_index += 1;
                    }
                    text => match renumbered
                        .iter_mut()
                        .find(|(existing, _)| *existing == text)
                    {
                        Some(slot) => slot.1 = item,
                        None => renumbered.push((text, item)),
                    },
                }
            }
            if renumbered.len() > MAX_VALUE_BYTES / 16 {
                return Err(too_large());
            }
            Ok(values::from_entries(renumbered))
        },
    );
    env.add_filter("twig_nl2br", |value: Value| {
        values::to_string(&value).replace('\n', "<br />\n")
    });
    env.add_filter("twig_number_format", |value: Value, args: Rest<Value>| {
        let decimals = arg(&args, 0).map_or(0, values::to_int).clamp(0, 20) as usize;
        let point = arg(&args, 1).map_or_else(|| ".".to_owned(), values::to_string);
        let thousands = arg(&args, 2).map_or_else(|| ",".to_owned(), values::to_string);
        casts::number_format(values::to_f64(&value), decimals, &point, &thousands)
    });
    env.add_filter("twig_preg_replace", preg_replace_filter);
    env.add_filter(
        "twig_replace",
        |value: Value, from: Value| -> Result<Value, Error> {
            let pairs: Vec<(String, String)> = values::entries(&from)
                .into_iter()
                .map(|(key, item)| {
                    let key = match key {
                        Key::Int(integer) => integer.to_string(),
                        Key::Text(text) => text.to_string(),
                    };
                    (key, values::to_string(&item))
                })
                .collect();
            string_value(strtr(&values::to_string(&value), &pairs))
        },
    );
    env.add_filter("twig_reverse", |value: Value| {
        if let Some(text) = value.as_str() {
            return Value::from(text.chars().rev().collect::<String>());
        }
        if !values::is_array(&value) {
            return Value::from(values::to_string(&value).chars().rev().collect::<String>());
        }
        let mut entries = values::entries(&value);
        entries.reverse();
        let mut index = 0;
        let renumbered = entries
            .into_iter()
            .map(|(key, item)| match key {
                Key::Int(_) => {
                    index += 1;
                    (Key::Int(index - 1), item)
                }
                text => (text, item),
            })
            .collect();
        values::from_entries(renumbered)
    });
    env.add_filter("twig_round", |value: Value, args: Rest<Value>| {
        let precision = arg(&args, 0).map_or(0, values::to_int).clamp(-15, 15) as i32;
        let method = arg(&args, 1).map_or_else(|| "common".to_owned(), values::to_string);
        let number = values::to_f64(&value);
        let factor = 10f64.powi(precision);
        let rounded = match method.as_str() {
            "ceil" => (number * factor).ceil() / factor,
            "floor" => (number * factor).floor() / factor,
            _ => php_round(number, precision),
        };
        Value::from(rounded)
    });
    env.add_filter("twig_slice", slice_filter);
    env.add_filter("twig_slugify", |value: Value| {
        slugify(&values::to_string(&value))
    });
    env.add_filter("twig_sort", |value: Value| {
        let mut entries = values::entries(&value);
        // asort: values ordered, keys kept.
        entries.sort_by(|(_, a), (_, b)| values::compare(a, b));
        values::from_entries(entries)
    });
    env.add_filter("twig_spaceless", |value: Value| {
        let text = values::to_string(&value);
        let mut out = String::with_capacity(text.len());
        let mut rest = text.trim();
        while let Some(at) = rest.find('>') {
            out.push_str(&rest[..=at]);
            let after = &rest[at + 1..];
            let trimmed = after.trim_start();
            rest = if trimmed.starts_with('<') {
                trimmed
            } else {
                after
            };
        }
        out.push_str(rest);
        out
    });
    env.add_filter("twig_split", split_filter);
    env.add_filter("twig_striptags", |value: Value| {
        strip_tags(&values::to_string(&value))
    });
    env.add_filter("twig_strip_tags", |value: Value| {
        strip_tags(&values::to_string(&value))
    });
    env.add_filter("twig_trim", |value: Value, args: Rest<Value>| {
        let text = values::to_string(&value);
        let characters: Vec<char> = arg(&args, 0).map_or_else(
            || " \t\n\r\0\x0B".chars().collect(),
            |chars| values::to_string(chars).chars().collect(),
        );
        let side = arg(&args, 1).map_or_else(|| "both".to_owned(), values::to_string);
        let trimmed = match side.as_str() {
            "left" => text.trim_start_matches(characters.as_slice()),
            "right" => text.trim_end_matches(characters.as_slice()),
            _ => text.trim_matches(characters.as_slice()),
        };
        trimmed.to_owned()
    });
    env.add_filter("twig_url_encode", |value: Value| {
        if values::is_array(&value) {
            let pairs: Vec<String> = values::entries(&value)
                .into_iter()
                .map(|(key, item)| {
                    let key = match key {
                        Key::Int(integer) => integer.to_string(),
                        Key::Text(text) => text.to_string(),
                    };
                    format!(
                        "{}={}",
                        php::raw_url_encode(&key),
                        php::raw_url_encode(&values::to_string(&item))
                    )
                })
                .collect();
            return pairs.join("&");
        }
        php::raw_url_encode(&values::to_string(&value))
    });
    env.add_filter(
        "twig_format",
        |value: Value, args: Rest<Value>| -> Result<Value, Error> {
            string_value(sprintf(&values::to_string(&value), &args.0)?)
        },
    );
}

fn escape_filter(value: Value, args: Rest<Value>) -> Value {
    let strategy = arg(&args, 0).map_or_else(|| "html".to_owned(), values::to_string);
    let text = values::to_string(&value);
    // The PHP app entity-decodes every render, so HTML escaping is undone in the end.
    match strategy.as_str() {
        "url" => Value::from(php::raw_url_encode(&text)),
        _ => Value::from(text),
    }
}

fn date_filter(value: Value, args: Rest<Value>) -> Result<Value, Error> {
    let format = arg(&args, 0).map_or_else(|| "F j, Y H:i".to_owned(), values::to_string);
    let moment = to_moment(&value)?;
    Ok(Value::from(php_date::format(&moment, &format)))
}

/// Twig's date conversion: null and `now` → now, integers and digit strings → timestamps,
/// other strings → PHP date strings.
fn to_moment(value: &Value) -> Result<chrono::DateTime<chrono::Utc>, Error> {
    use chrono::TimeZone as _;
    let now = chrono::Utc::now();
    if value.is_none() || value.is_undefined() {
        return Ok(now);
    }
    let timestamp = match value.kind() {
        ValueKind::Number => Some(values::to_f64(value)),
        ValueKind::String => {
            let text = value.as_str().unwrap_or_default();
            let digits = text.strip_prefix('-').unwrap_or(text);
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                text.parse::<f64>().ok()
            } else {
                None
            }
        }
        _ => None,
    };
    if let Some(seconds) = timestamp {
        return chrono::Utc
            .timestamp_opt(seconds.trunc() as i64, 0)
            .single()
            .ok_or_else(|| invalid("timestamp out of range"));
    }
    let text = values::to_string(value);
    php_date::parse(&text, now)
        .ok_or_else(|| invalid(format!("failed to parse time string ({text})")))
}

fn preg_replace_filter(
    value: Value,
    pattern: Value,
    replacement: Value,
    args: Rest<Value>,
) -> Result<Value, Error> {
    let regex = pcre_to_regex(&values::to_string(&pattern))?;
    let limit = arg(&args, 0).map_or(-1, values::to_int);
    let replacement = pcre_replacement(&values::to_string(&replacement));
    let text = values::to_string(&value);
    let replaced = if limit < 0 {
        regex.replace_all(&text, replacement.as_str())
    } else {
        regex.replacen(&text, limit as usize, replacement.as_str())
    };
    string_value(replaced.into_owned())
}

/// A PHP `/pattern/flags` regex as a Rust regex (no look-around or back-references).
fn pcre_to_regex(pattern: &str) -> Result<regex::Regex, Error> {
    let mut chars = pattern.chars();
    let delimiter = chars
        .next()
        .ok_or_else(|| invalid("preg_replace: empty pattern"))?;
    let closing = match delimiter {
        '(' => ')',
        '{' => '}',
        '[' => ']',
        '<' => '>',
        other => other,
    };
    let body_and_flags = &pattern[delimiter.len_utf8()..];
    let end = body_and_flags
        .rfind(closing)
        .ok_or_else(|| invalid("preg_replace: no ending delimiter"))?;
    let body = &body_and_flags[..end];
    let flags = &body_and_flags[end + closing.len_utf8()..];
    let mut inline = String::new();
    for flag in flags.chars() {
        match flag {
            'i' | 'm' | 's' | 'x' => inline.push(flag),
            'u' | 'D' => {}
            other => {
                return Err(invalid(format!(
                    "preg_replace: unknown modifier \"{other}\""
                )));
            }
        }
    }
    let source = if inline.is_empty() {
        body.to_owned()
    } else {
        format!("(?{inline}){body}")
    };
    regex::RegexBuilder::new(&source)
        .size_limit(1 << 20)
        .build()
        .map_err(|err| invalid(format!("preg_replace: {err}")))
}

/// PHP replacement references (`$1`, `\1`, `${1}`) in the regex crate's form.
fn pcre_replacement(replacement: &str) -> String {
    let mut out = String::with_capacity(replacement.len());
    let chars: Vec<char> = replacement.chars().collect();
    let mut index = 0;
    while index < chars.len() {
        let c = chars[index];
        let next = chars.get(index + 1).copied();
        match (c, next) {
            ('$' | '\\', Some(digit)) if digit.is_ascii_digit() => {
                let mut end = index + 1;
                while end < chars.len() && end < index + 3 && chars[end].is_ascii_digit() {
                    end += 1;
                }
                let group: String = chars[index + 1..end].iter().collect();
                out.push_str(&format!("${{{group}}}"));
                index = end;
                continue;
            }
            ('$', Some('{')) => {
                out.push('$');
            }
            ('$', _) => out.push_str("$$"),
            _ => out.push(c),
        }
        index += 1;
    }
    out
}

fn slice_filter(value: Value, start: Value, args: Rest<Value>) -> Result<Value, Error> {
    let start = values::to_int(&start);
    let length = arg(&args, 0).map(values::to_int);
    let preserve_keys = arg(&args, 1).is_some_and(values::is_truthy);
    if values::is_array(&value) {
        let entries = values::entries(&value);
        let (from, to) = slice_bounds(entries.len(), start, length);
        let mut index = 0;
        let sliced = entries
            .into_iter()
            .skip(from)
            .take(to - from)
            .map(|(key, item)| match key {
                Key::Int(_) if !preserve_keys => {
                    index += 1;
                    (Key::Int(index - 1), item)
                }
                other => (other, item),
            })
            .collect();
        return Ok(values::from_entries(sliced));
    }
    let chars: Vec<char> = values::to_string(&value).chars().collect();
    let (from, to) = slice_bounds(chars.len(), start, length);
    Ok(Value::from(chars[from..to].iter().collect::<String>()))
}

/// PHP's `array_slice`/`mb_substr` bounds: negative start counts from the end, negative length
/// stops that far from the end.
fn slice_bounds(count: usize, start: i64, length: Option<i64>) -> (usize, usize) {
    let count_i = count as i64;
    let from = if start < 0 {
        (count_i + start).max(0)
    } else {
        start.min(count_i)
    };
    let to = match length {
        None => count_i,
        Some(length) if length < 0 => (count_i + length).max(from),
        Some(length) => (from + length).min(count_i),
    };
    (from as usize, to.max(from) as usize)
}

fn split_filter(value: Value, delimiter: Value, args: Rest<Value>) -> Result<Value, Error> {
    let text = values::to_string(&value);
    let delimiter = values::to_string(&delimiter);
    let limit = arg(&args, 0).map(values::to_int);
    let parts: Vec<String> = if delimiter.is_empty() {
        let size = limit.filter(|limit| *limit > 0).unwrap_or(1) as usize;
        let chars: Vec<char> = text.chars().collect();
        chars
            .chunks(size)
            .map(|chunk| chunk.iter().collect())
            .collect()
    } else {
        let all: Vec<&str> = text.split(delimiter.as_str()).collect();
        match limit {
            None => all.into_iter().map(str::to_owned).collect(),
            Some(limit) if limit > 0 => text
                .splitn(limit as usize, delimiter.as_str())
                .map(str::to_owned)
                .collect(),
            Some(0) => vec![text.clone()],
            Some(limit) => {
                let keep = all.len().saturating_sub(limit.unsigned_abs() as usize);
                all.into_iter().take(keep).map(str::to_owned).collect()
            }
        }
    };
    if parts.len() > MAX_RANGE_ITEMS * 10 {
        return Err(too_large());
    }
    Ok(Value::from(
        parts.into_iter().map(Value::from).collect::<Vec<_>>(),
    ))
}

/// PHP's `strtr` with an array: longest match first, each position replaced once.
fn strtr(text: &str, pairs: &[(String, String)]) -> String {
    let mut pairs: Vec<&(String, String)> =
        pairs.iter().filter(|(from, _)| !from.is_empty()).collect();
    if pairs.is_empty() {
        return text.to_owned();
    }
    pairs.sort_by_key(|pair| std::cmp::Reverse(pair.0.len()));
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'outer: while !rest.is_empty() {
        for (from, to) in &pairs {
            if rest.starts_with(from.as_str()) {
                out.push_str(to);
                rest = &rest[from.len()..];
                continue 'outer;
            }
        }
        let length = rest.chars().next().map_or(1, char::len_utf8);
        out.push_str(&rest[..length]);
        rest = &rest[length..];
    }
    out
}

/// OpenConnector's `slugify`: lowercase; spaces and underscores → `-`; only `[a-z0-9-]`
/// kept; runs of `-` collapsed; `-` trimmed.
pub fn slugify(text: &str) -> String {
    let mut slug = String::with_capacity(text.len());
    for c in text.to_lowercase().chars() {
        let c = if c.is_ascii_whitespace() || c == '_' {
            '-'
        } else {
            c
        };
        if c.is_ascii_lowercase() || c.is_ascii_digit() || (c == '-' && !slug.ends_with('-')) {
            slug.push(c);
        }
    }
    slug.trim_matches('-').to_owned()
}

/// PHP's `strip_tags` for ordinary markup: tags, comments and PHP blocks removed.
pub(super) fn strip_tags(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match (depth, quote, c) {
            (0, _, '<') => depth = 1,
            (0, _, c) => out.push(c),
            (_, Some(q), c) if c == q => quote = None,
            (_, Some(_), _) => {}
            (_, None, '"' | '\'') => quote = Some(c),
            (_, None, '<') => depth += 1,
            (_, None, '>') => depth -= 1,
            _ => {}
        }
    }
    out
}

/// PHP's `round()`: half away from zero, after a pre-rounding that absorbs binary noise.
fn php_round(number: f64, precision: i32) -> f64 {
    if !number.is_finite() {
        return number;
    }
    let factor = 10f64.powi(precision);
    let scaled = number * factor;
    let pre_rounded = format!("{scaled:.15e}").parse::<f64>().unwrap_or(scaled);
    let rounded = pre_rounded.round();
    let result = rounded / factor;
    if result.is_finite() { result } else { number }
}

fn json_encode_with_flags(json: &serde_json::Value, flags: i64) -> String {
    const UNESCAPED_SLASHES: i64 = 64;
    const PRETTY_PRINT: i64 = 128;
    const UNESCAPED_UNICODE: i64 = 256;
    let mut text = php::json_encode(json);
    if flags & (UNESCAPED_SLASHES | UNESCAPED_UNICODE | PRETTY_PRINT) == 0 {
        return text;
    }
    if flags & PRETTY_PRINT != 0 {
        text = pretty_print(&text);
    }
    if flags & UNESCAPED_SLASHES != 0 {
        text = text.replace("\\/", "/");
    }
    if flags & UNESCAPED_UNICODE != 0 {
        text = unescape_unicode(&text);
    }
    text
}

/// PHP's pretty print of compact JSON: four spaces, `": "`, empty arrays kept as `[]`/`{}`.
fn pretty_print(compact: &str) -> String {
    let mut out = String::with_capacity(compact.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let chars: Vec<char> = compact.chars().collect();
    for (index, &c) in chars.iter().enumerate() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        let newline = |out: &mut String, depth: usize| {
            out.push('\n');
            for _ in 0..depth {
                out.push_str("    ");
            }
        };
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '[' | '{' => {
                out.push(c);
                if matches!(chars.get(index + 1), Some(']' | '}')) {
                    continue;
                }
                depth += 1;
                newline(&mut out, depth);
            }
            ']' | '}' => {
                if !matches!(chars.get(index.wrapping_sub(1)), Some('[' | '{')) {
                    depth = depth.saturating_sub(1);
                    newline(&mut out, depth);
                }
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            other => out.push(other),
        }
    }
    out
}

fn unescape_unicode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("\\u") {
        let (before, after) = rest.split_at(at);
        let preceding_backslashes = before.chars().rev().take_while(|c| *c == '\\').count();
        out.push_str(before);
        let code = after
            .get(2..6)
            .and_then(|hex| u16::from_str_radix(hex, 16).ok());
        match code {
            Some(unit) if preceding_backslashes % 2 == 0 && unit >= 0x80 => {
                let mut units = vec![unit];
                let mut consumed = 6;
                if (0xd800..0xdc00).contains(&unit) {
                    if let Some(low) = after
                        .get(8..12)
                        .and_then(|hex| u16::from_str_radix(hex, 16).ok())
                    {
                        units.push(low);
                        consumed = 12;
                    }
                }
                out.push_str(&String::from_utf16_lossy(&units));
                rest = &after[consumed..];
            }
            _ => {
                out.push_str("\\u");
                rest = &after[2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// PHP's `sprintf` for `%s`, `%d`, `%f` (with width, padding, precision), `%%`.
fn sprintf(format: &str, args: &[Value]) -> Result<String, Error> {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    let mut next_arg = 0;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        let mut pad = ' ';
        let mut left = false;
        let mut plus = false;
        while let Some(&flag) = chars.peek() {
            match flag {
                '0' => pad = '0',
                '-' => left = true,
                '+' => plus = true,
                ' ' => pad = ' ',
                _ => break,
            }
            chars.next();
        }
        let mut width = 0usize;
        while let Some(digit) = chars.peek().and_then(|c| c.to_digit(10)) {
            width = width * 10 + digit as usize;
            chars.next();
        }
        let mut precision = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut digits = 0usize;
            while let Some(digit) = chars.peek().and_then(|c| c.to_digit(10)) {
                digits = digits * 10 + digit as usize;
                chars.next();
            }
            precision = Some(digits);
        }
        let conversion = chars
            .next()
            .ok_or_else(|| invalid("format: missing conversion"))?;
        let value = args
            .get(next_arg)
            .cloned()
            .ok_or_else(|| invalid("format: too few arguments"))?;
        next_arg += 1;
        let mut text = match conversion {
            's' => {
                let text = values::to_string(&value);
                match precision {
                    Some(precision) => text.chars().take(precision).collect(),
                    None => text,
                }
            }
            'd' | 'i' => {
                let number = values::to_int(&value);
                if plus && number >= 0 {
                    format!("+{number}")
                } else {
                    number.to_string()
                }
            }
            'f' | 'F' => {
                let number = values::to_f64(&value);
                let text = format!("{number:.*}", precision.unwrap_or(6));
                if plus && number >= 0.0 {
                    format!("+{text}")
                } else {
                    text
                }
            }
            'x' => format!("{:x}", values::to_int(&value)),
            'X' => format!("{:X}", values::to_int(&value)),
            'b' => format!("{:b}", values::to_int(&value)),
            'o' => format!("{:o}", values::to_int(&value)),
            'c' => char::from_u32(values::to_int(&value) as u32)
                .map(String::from)
                .unwrap_or_default(),
            'e' => format!("{:.*e}", precision.unwrap_or(6), values::to_f64(&value)),
            other => return Err(invalid(format!("format: unknown conversion \"{other}\""))),
        };
        let length = text.chars().count();
        if length < width {
            let padding: String = std::iter::repeat_n(pad, width - length).collect();
            text = if left {
                format!("{text}{}", padding.replace('0', " "))
            } else if pad == '0' && (text.starts_with('-') || text.starts_with('+')) {
                format!("{}{padding}{}", &text[..1], &text[1..])
            } else {
                format!("{padding}{text}")
            };
        }
        out.push_str(&text);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Tests

fn register_tests(env: &mut Environment<'static>) {
    env.add_function("__twig_is_defined", |value: Value| !value.is_undefined());
    env.add_function("__twig_is_null", |value: Value| {
        value.is_none() || value.is_undefined()
    });
    env.add_function("__twig_is_none", |value: Value| {
        value.is_none() || value.is_undefined()
    });
    env.add_function("__twig_is_empty", |value: Value| values::is_empty(&value));
    env.add_function("__twig_is_iterable", |value: Value| {
        values::is_array(&value)
    });
    env.add_function("__twig_is_even", |value: Value| {
        values::to_int(&value) % 2 == 0
    });
    env.add_function("__twig_is_odd", |value: Value| {
        values::to_int(&value) % 2 != 0
    });
    env.add_function(
        "__twig_is_divisible_by",
        |value: Value, by: Value| -> Result<bool, Error> {
            let by = values::to_int(&by);
            if by == 0 {
                return Err(invalid("division by zero"));
            }
            Ok(values::to_int(&value) % by == 0)
        },
    );
    env.add_function("__twig_is_same_as", |value: Value, other: Value| {
        values::strict_equals(&value, &other)
    });
}

// ---------------------------------------------------------------------------------------------
// Operators and plumbing used by the translated templates

/// The variables `{% set %}` assigns during one render.
#[derive(Debug, Default)]
struct Vars(Mutex<std::collections::HashMap<Arc<str>, Value>>);

impl Object for Vars {}

fn register_operators(env: &mut Environment<'static>) {
    env.add_function("__twig_bool", |value: Value| values::is_truthy(&value));
    env.add_function("__twig_eq", |left: Value, right: Value| {
        values::loose_equals(&left, &right)
    });
    env.add_function(
        "__twig_compare",
        |left: Value, right: Value| match values::compare(&left, &right) {
            Ordering::Less => -1,
            Ordering::Equal => 0,
            Ordering::Greater => 1,
        },
    );
    env.add_function("__twig_in", |needle: Value, haystack: Value| -> bool {
        if let Some(text) = haystack.as_str() {
            return match needle.kind() {
                ValueKind::String | ValueKind::Number => {
                    let needle = values::to_string(&needle);
                    needle.is_empty() || text.contains(&needle)
                }
                _ => false,
            };
        }
        values::values(&haystack)
            .iter()
            .any(|item| values::compare(&needle, item) == Ordering::Equal)
    });
    env.add_function(
        "__twig_matches",
        |subject: Value, pattern: Value| -> Result<bool, Error> {
            Ok(pcre_to_regex(&values::to_string(&pattern))?.is_match(&values::to_string(&subject)))
        },
    );
    env.add_function("__twig_starts_with", |subject: Value, prefix: Value| {
        values::to_string(&subject).starts_with(&values::to_string(&prefix))
    });
    env.add_function("__twig_ends_with", |subject: Value, suffix: Value| {
        values::to_string(&subject).ends_with(&values::to_string(&suffix))
    });
    env.add_function(
        "__twig_add",
        |left: Value, right: Value| -> Result<Value, Error> {
            if values::is_array(&left) && values::is_array(&right) {
                // PHP array union: keys of the left win.
                let mut union = values::entries(&left);
                for (key, item) in values::entries(&right) {
                    if !union.iter().any(|(existing, _)| *existing == key) {
                        union.push((key, item));
                    }
                }
                return Ok(values::from_entries(union));
            }
            arithmetic(&left, &right, i64::checked_add, |a, b| a + b)
        },
    );
    env.add_function("__twig_sub", |left: Value, right: Value| {
        arithmetic(&left, &right, i64::checked_sub, |a, b| a - b)
    });
    env.add_function("__twig_mul", |left: Value, right: Value| {
        arithmetic(&left, &right, i64::checked_mul, |a, b| a * b)
    });
    env.add_function(
        "__twig_div",
        |left: Value, right: Value| -> Result<Value, Error> {
            let (a, b) = (numeric_operand(&left)?, numeric_operand(&right)?);
            if b.as_f64() == 0.0 {
                return Err(invalid("division by zero"));
            }
            Ok(match (a, b) {
                (Number::Int(a), Number::Int(b)) if a.checked_rem(b) == Some(0) => {
                    Value::from(a / b)
                }
                (a, b) => Value::from(a.as_f64() / b.as_f64()),
            })
        },
    );
    env.add_function(
        "__twig_floordiv",
        |left: Value, right: Value| -> Result<Value, Error> {
            let (a, b) = (numeric_operand(&left)?, numeric_operand(&right)?);
            if b.as_f64() == 0.0 {
                return Err(invalid("division by zero"));
            }
            Ok(Value::from(php::float_to_int(
                (a.as_f64() / b.as_f64()).floor(),
            )))
        },
    );
    env.add_function(
        "__twig_mod",
        |left: Value, right: Value| -> Result<Value, Error> {
            let (a, b) = (values::to_int(&left), values::to_int(&right));
            if b == 0 {
                return Err(invalid("modulo by zero"));
            }
            Ok(Value::from(a.wrapping_rem(b)))
        },
    );
    env.add_function(
        "__twig_pow",
        |left: Value, right: Value| -> Result<Value, Error> {
            let (a, b) = (numeric_operand(&left)?, numeric_operand(&right)?);
            if let (Number::Int(base), Number::Int(exponent)) = (a, b) {
                if let Ok(exponent) = u32::try_from(exponent) {
                    if let Some(power) = base.checked_pow(exponent) {
                        return Ok(Value::from(power));
                    }
                }
            }
            Ok(Value::from(a.as_f64().powf(b.as_f64())))
        },
    );
    env.add_function("__twig_neg", |value: Value| -> Result<Value, Error> {
        Ok(match numeric_operand(&value)? {
            Number::Int(integer) => match integer.checked_neg() {
                Some(negated) => Value::from(negated),
                None => Value::from(-(integer as f64)),
            },
            Number::Float(float) => Value::from(-float),
        })
    });
    env.add_function("__twig_pos", |value: Value| -> Result<Value, Error> {
        Ok(numeric_operand(&value)?.into_value())
    });
    env.add_function("__twig_bitand", |a: Value, b: Value| {
        values::to_int(&a) & values::to_int(&b)
    });
    env.add_function("__twig_bitor", |a: Value, b: Value| {
        values::to_int(&a) | values::to_int(&b)
    });
    env.add_function("__twig_bitxor", |a: Value, b: Value| {
        values::to_int(&a) ^ values::to_int(&b)
    });
    env.add_function(
        "__twig_concat",
        |parts: Rest<Value>| -> Result<Value, Error> {
            let mut out = String::new();
            for part in &parts.0 {
                match part.as_str() {
                    Some(text) => out.push_str(text),
                    None => out.push_str(&values::to_string(part)),
                }
                if out.len() > MAX_VALUE_BYTES {
                    return Err(too_large());
                }
            }
            Ok(Value::from(out))
        },
    );
    env.add_function("__twig_coalesce", |value: Value, fallback: Value| {
        if value.is_none() || value.is_undefined() {
            fallback
        } else {
            value
        }
    });
    env.add_function("__twig_elvis", |value: Value, fallback: Value| {
        if values::is_truthy(&value) {
            value
        } else {
            fallback
        }
    });
    env.add_function("__twig_values", |value: Value| match value.kind() {
        ValueKind::Seq => value,
        _ => Value::from(values::values(&value)),
    });
    env.add_function("__twig_items", |value: Value| {
        Value::from(
            values::entries(&value)
                .into_iter()
                .map(|(key, item)| Value::from(vec![key.into_value(), item]))
                .collect::<Vec<_>>(),
        )
    });
    env.add_function("__twig_vars", || Value::from_object(Vars::default()));
    env.add_function(
        "__twig_assign",
        |vars: Value, name: Arc<str>, value: Value| -> Result<Value, Error> {
            let vars = vars
                .downcast_object_ref::<Vars>()
                .ok_or_else(|| invalid("no variable scope"))?;
            let mut map = vars
                .0
                .lock()
                .map_err(|_| invalid("variable scope poisoned"))?;
            map.insert(name, value);
            Ok(Value::from(""))
        },
    );
    env.add_function(
        "__twig_pick",
        |vars: Value, name: Arc<str>, context: Value| -> Result<Value, Error> {
            let vars = vars
                .downcast_object_ref::<Vars>()
                .ok_or_else(|| invalid("no variable scope"))?;
            let map = vars
                .0
                .lock()
                .map_err(|_| invalid("variable scope poisoned"))?;
            Ok(map.get(&name).cloned().unwrap_or(context))
        },
    );
    env.add_function("__twig_lookup", |state: &State, name: Arc<str>| {
        state.lookup(&name).unwrap_or(Value::UNDEFINED)
    });
    env.add_function("__twig_discard", |_value: Value| Value::from(""));
}

/// An arithmetic operand as PHP 8 reads it: arrays and strings with no numeric prefix are
/// type errors.
fn numeric_operand(value: &Value) -> Result<Number, Error> {
    if values::is_array(value) {
        return Err(invalid("Unsupported operand types: array"));
    }
    if let Some(text) = value.as_str() {
        if php::leading_number(text).is_none() {
            return Err(invalid("Unsupported operand types: string"));
        }
    }
    Ok(values::to_number(value))
}

fn arithmetic(
    left: &Value,
    right: &Value,
    integer: fn(i64, i64) -> Option<i64>,
    float: fn(f64, f64) -> f64,
) -> Result<Value, Error> {
    let (a, b) = (numeric_operand(left)?, numeric_operand(right)?);
    Ok(match (a, b) {
        (Number::Int(x), Number::Int(y)) => match integer(x, y) {
            Some(result) => Value::from(result),
            None => Value::from(float(x as f64, y as f64)),
        },
        (a, b) => Value::from(float(a.as_f64(), b.as_f64())),
    })
}

// ---------------------------------------------------------------------------------------------
// Functions

fn register_functions(env: &mut Environment<'static>) {
    env.add_function(
        "__twig_fn_executeMapping",
        crate::mapping::execute_from_template,
    );
    env.add_function("__twig_fn_generateUuid", || {
        uuid::Uuid::new_v4().to_string()
    });
    env.add_function(
        "__twig_fn_date",
        |args: Rest<Value>| -> Result<Value, Error> {
            let moment = to_moment(args.0.first().unwrap_or(&Value::from(())))?;
            // Twig returns a DateTime object; its ISO form sorts and reformats the same way.
            Ok(Value::from(php_date::format(&moment, "c")))
        },
    );
    env.add_function("__twig_fn_range", range_function);
    env.add_function("__twig_fn_min", |args: Rest<Value>| {
        extreme(&args.0, Ordering::Less)
    });
    env.add_function("__twig_fn_max", |args: Rest<Value>| {
        extreme(&args.0, Ordering::Greater)
    });
    env.add_function("__twig_fn_cycle", |items: Value, position: Value| {
        let items = values::values(&items);
        if items.is_empty() {
            return Value::from(());
        }
        let index = values::to_int(&position).rem_euclid(items.len() as i64) as usize;
        items[index].clone()
    });
    env.add_function("__twig_fn_attribute", item);
    env.add_function("__twig_item", item);
}

/// `subject[key]` as Twig reads it: array keys only (a string has no items).
fn item(subject: Value, key: Value) -> Value {
    if !values::is_array(&subject) {
        return Value::from(());
    }
    subject
        .get_item(&Key::from_value(&key).into_value())
        .unwrap_or_default()
}

fn extreme(args: &[Value], wanted: Ordering) -> Value {
    let candidates = match args {
        [single] if values::is_array(single) => values::values(single),
        many => many.to_vec(),
    };
    let mut best: Option<Value> = None;
    for candidate in candidates {
        best = match best {
            Some(current) if values::compare(&candidate, &current) != wanted => Some(current),
            _ => Some(candidate),
        };
    }
    best.unwrap_or_else(|| Value::from(()))
}

/// A one-character, non-digit string (a letter range bound).
fn single_letter(value: &Value) -> Option<char> {
    let mut chars = value.as_str()?.chars();
    let first = chars.next()?;
    (chars.next().is_none() && !first.is_ascii_digit()).then_some(first)
}

/// Twig's `range(low, high, step)`: inclusive, counting down when `low > high`, letters too.
fn range_function(low: Value, high: Value, args: Rest<Value>) -> Result<Value, Error> {
    let step = arg(&args, 0).map_or(1.0, |step| values::to_f64(step).abs());
    if step == 0.0 {
        return Err(invalid("range: step must not be zero"));
    }
    if let (Some(from), Some(to)) = (single_letter(&low), single_letter(&high)) {
        let (from, to) = (from as u32, to as u32);
        let step = step as u32;
        let step = step.max(1);
        let codes: Vec<u32> = if from <= to {
            (from..=to).step_by(step as usize).collect()
        } else {
            (to..=from).rev().step_by(step as usize).collect()
        };
        return Ok(Value::from(
            codes
                .into_iter()
                .filter_map(char::from_u32)
                .map(|c| Value::from(c.to_string()))
                .collect::<Vec<_>>(),
        ));
    }
    let (from, to) = (values::to_number(&low), values::to_number(&high));
    let count = ((to.as_f64() - from.as_f64()).abs() / step).floor() + 1.0;
    if !count.is_finite() || count > MAX_RANGE_ITEMS as f64 {
        return Err(invalid(format!("range: more than {MAX_RANGE_ITEMS} items")));
    }
    let descending = from.as_f64() > to.as_f64();
    let integral = matches!((from, to), (Number::Int(_), Number::Int(_))) && step.fract() == 0.0;
    let items = (0..count as usize).map(|index| {
        let offset = index as f64 * step;
        let value = if descending {
            from.as_f64() - offset
        } else {
            from.as_f64() + offset
        };
        if integral {
            Value::from(value as i64)
        } else {
            Value::from(value)
        }
    });
    Ok(Value::from(items.collect::<Vec<_>>()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugify_follows_openconnector() {
        assert_eq!(slugify("  Hello_World, Café 42!  "), "hello-world-caf-42");
        assert_eq!(slugify("--a   b--"), "a-b");
    }

    #[test]
    fn strtr_prefers_longest_keys() {
        let pairs = vec![
            ("a".to_owned(), "1".to_owned()),
            ("ab".to_owned(), "2".to_owned()),
        ];
        assert_eq!(strtr("abac", &pairs), "21c");
    }

    #[test]
    fn pcre_patterns_translate() {
        let regex = pcre_to_regex("/[^0-9]+/i");
        assert!(regex.is_ok_and(|regex| regex.replace_all("a1b2", "").as_ref() == "12"));
        assert_eq!(pcre_replacement("$1-\\2 ${3} $x"), "${1}-${2} ${3} $$x");
        assert!(pcre_to_regex("no delimiters").is_err());
    }

    #[test]
    fn sprintf_formats() {
        let args = [Value::from(5), Value::from("ab"), Value::from(1.23456)];
        assert_eq!(
            sprintf("%03d|%-4s|%.2f|%%", &args).ok(),
            Some("005|ab  |1.23|%".to_owned())
        );
    }

    #[test]
    fn php_round_is_half_away_from_zero() {
        assert_eq!(php_round(2.5, 0), 3.0);
        assert_eq!(php_round(-2.5, 0), -3.0);
        assert_eq!(php_round(1.955, 2), 1.96);
    }

    #[test]
    fn strip_tags_removes_markup() {
        assert_eq!(
            strip_tags("<p class=\"a>b\">Hi <b>there</b></p>"),
            "Hi there"
        );
    }

    #[test]
    fn slice_bounds_follow_php() {
        assert_eq!(slice_bounds(5, 1, Some(2)), (1, 3));
        assert_eq!(slice_bounds(5, -2, None), (3, 5));
        assert_eq!(slice_bounds(5, 1, Some(-1)), (1, 4));
        assert_eq!(slice_bounds(5, 9, None), (5, 5));
    }

    #[test]
    fn pretty_print_matches_php() {
        assert_eq!(
            pretty_print(r#"{"a":[1,2],"b":{}}"#),
            "{\n    \"a\": [\n        1,\n        2\n    ],\n    \"b\": {}\n}"
        );
    }
}
