//! PHP semantics on MiniJinja values: string and truth conversion, numbers, comparison, and
//! conversion to and from JSON. Template values are PHP arrays, so a map with keys 0..n is a
//! list and numeric string keys are integer keys.

use std::cmp::Ordering;
use std::sync::Arc;

use minijinja::value::{Value, ValueKind};
use serde_json::Value as Json;

use crate::mapping::php;

/// A PHP number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    pub fn as_f64(self) -> f64 {
        match self {
            Self::Int(integer) => integer as f64,
            Self::Float(float) => float,
        }
    }

    pub fn into_value(self) -> Value {
        match self {
            Self::Int(integer) => Value::from(integer),
            Self::Float(float) => Value::from(float),
        }
    }
}

/// A key of a PHP array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    Int(i64),
    Text(Arc<str>),
}

impl Key {
    pub fn from_value(value: &Value) -> Self {
        if let Some(integer) = as_int(value) {
            return Self::Int(integer);
        }
        let text = to_string(value);
        match super::syntax::canonical_int(&text) {
            Some(integer) => Self::Int(integer),
            None => Self::Text(text.into()),
        }
    }

    pub fn into_value(self) -> Value {
        match self {
            Self::Int(integer) => Value::from(integer),
            Self::Text(text) => Value::from(text),
        }
    }
}

fn as_int(value: &Value) -> Option<i64> {
    if value.is_integer() {
        value.as_i64()
    } else {
        None
    }
}

fn as_float(value: &Value) -> Option<f64> {
    if value.kind() == ValueKind::Number && !value.is_integer() {
        f64::try_from(value.clone()).ok()
    } else {
        None
    }
}

/// PHP's `(string)`: `true` → `"1"`, `false`/`null` → `""`, arrays → `"Array"`.
pub fn to_string(value: &Value) -> String {
    if let Some(text) = value.as_str() {
        return text.to_owned();
    }
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => String::new(),
        ValueKind::Bool => if value.is_true() { "1" } else { "" }.to_owned(),
        ValueKind::Number => match as_int(value) {
            Some(integer) => integer.to_string(),
            None => php::float_to_string(as_float(value).unwrap_or(0.0)),
        },
        ValueKind::Seq | ValueKind::Map | ValueKind::Iterable => "Array".to_owned(),
        _ => value.to_string(),
    }
}

/// PHP truthiness.
pub fn is_truthy(value: &Value) -> bool {
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => false,
        ValueKind::Bool => value.is_true(),
        ValueKind::Number => match as_int(value) {
            Some(integer) => integer != 0,
            None => as_float(value).is_some_and(|float| float != 0.0),
        },
        ValueKind::String => value
            .as_str()
            .is_some_and(|text| !(text.is_empty() || text == "0")),
        _ => value.len().is_none_or(|length| length > 0),
    }
}

/// Twig's `empty`: null, false, `""` and empty arrays (not `0`, not `"0"`).
pub fn is_empty(value: &Value) -> bool {
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => true,
        ValueKind::Bool => !value.is_true(),
        ValueKind::String => value.as_str().is_some_and(str::is_empty),
        ValueKind::Seq | ValueKind::Map => value.len() == Some(0),
        _ => false,
    }
}

pub fn is_array(value: &Value) -> bool {
    matches!(
        value.kind(),
        ValueKind::Seq | ValueKind::Map | ValueKind::Iterable
    )
}

/// PHP's numeric reading of a value (strings by their numeric prefix).
pub fn to_number(value: &Value) -> Number {
    if let Some(integer) = as_int(value) {
        return Number::Int(integer);
    }
    if let Some(float) = as_float(value) {
        return Number::Float(float);
    }
    match value.kind() {
        ValueKind::String => {
            let text = value.as_str().unwrap_or_default();
            match php::leading_number(text) {
                Some(float) => {
                    let trimmed = text.trim();
                    match trimmed.parse::<i64>() {
                        Ok(integer) => Number::Int(integer),
                        Err(_)
                            if float.fract() == 0.0
                                && !trimmed.contains(['.', 'e', 'E'])
                                && float.abs() < 9.2e18 =>
                        {
                            Number::Int(float as i64)
                        }
                        Err(_) => Number::Float(float),
                    }
                }
                None => Number::Int(0),
            }
        }
        ValueKind::Bool => Number::Int(i64::from(value.is_true())),
        ValueKind::Seq | ValueKind::Map => Number::Int(i64::from(is_truthy(value))),
        _ => Number::Int(0),
    }
}

pub fn to_int(value: &Value) -> i64 {
    match to_number(value) {
        Number::Int(integer) => integer,
        Number::Float(float) => php::float_to_int(float),
    }
}

pub fn to_f64(value: &Value) -> f64 {
    to_number(value).as_f64()
}

/// Whether a value is a number or a numeric string.
fn is_numeric(value: &Value) -> bool {
    match value.kind() {
        ValueKind::Number => true,
        ValueKind::String => php::is_numeric_string(value.as_str().unwrap_or_default()),
        _ => false,
    }
}

/// PHP 8's `<=>`.
pub fn compare(left: &Value, right: &Value) -> Ordering {
    use ValueKind::{Bool, Map, None as Null, Number as Num, Seq, String as Text, Undefined};
    let (left_kind, right_kind) = (left.kind(), right.kind());
    let is_null = |kind| matches!(kind, Null | Undefined);
    match (left_kind, right_kind) {
        (l, r) if is_null(l) && is_null(r) => Ordering::Equal,
        (l, Text) if is_null(l) => "".cmp(right.as_str().unwrap_or_default()),
        (Text, r) if is_null(r) => left.as_str().unwrap_or_default().cmp(""),
        (l, r) if is_null(l) || is_null(r) || l == Bool || r == Bool => {
            is_truthy(left).cmp(&is_truthy(right))
        }
        (Seq | Map, Seq | Map) => {
            let (left_items, right_items) = (entries(left), entries(right));
            match left_items.len().cmp(&right_items.len()) {
                Ordering::Equal => {}
                other => return other,
            }
            for (key, value) in &left_items {
                match right_items.iter().find(|(other_key, _)| other_key == key) {
                    Some((_, other)) => match compare(value, other) {
                        Ordering::Equal => {}
                        unequal => return unequal,
                    },
                    // Uncomparable: PHP answers 1.
                    None => return Ordering::Greater,
                }
            }
            Ordering::Equal
        }
        (Seq | Map, _) => Ordering::Greater,
        (_, Seq | Map) => Ordering::Less,
        (Num, Num) => compare_numbers(to_number(left), to_number(right)),
        (Num, Text) | (Text, Num) | (Text, Text) => {
            if is_numeric(left) && is_numeric(right) {
                compare_numbers(to_number(left), to_number(right))
            } else {
                to_string(left).cmp(&to_string(right))
            }
        }
        _ => to_string(left).cmp(&to_string(right)),
    }
}

fn compare_numbers(left: Number, right: Number) -> Ordering {
    match (left, right) {
        (Number::Int(a), Number::Int(b)) => a.cmp(&b),
        (a, b) => a
            .as_f64()
            .partial_cmp(&b.as_f64())
            .unwrap_or(Ordering::Greater),
    }
}

/// PHP 8's `==`.
pub fn loose_equals(left: &Value, right: &Value) -> bool {
    if is_array(left) != is_array(right) {
        // An array equals only an array (or null/false when empty, via truth).
        return matches!(
            left.kind(),
            ValueKind::Bool | ValueKind::None | ValueKind::Undefined
        ) && is_truthy(left) == is_truthy(right)
            || matches!(
                right.kind(),
                ValueKind::Bool | ValueKind::None | ValueKind::Undefined
            ) && is_truthy(left) == is_truthy(right);
    }
    compare(left, right) == Ordering::Equal
}

/// PHP's `===`.
pub fn strict_equals(left: &Value, right: &Value) -> bool {
    let null = |value: &Value| matches!(value.kind(), ValueKind::None | ValueKind::Undefined);
    if null(left) || null(right) {
        return null(left) && null(right);
    }
    match (left.kind(), right.kind()) {
        (ValueKind::Number, ValueKind::Number) => match (as_int(left), as_int(right)) {
            (Some(a), Some(b)) => a == b,
            (None, None) => as_float(left) == as_float(right),
            _ => false,
        },
        (a, b) if a != b => false,
        _ => to_json(left) == to_json(right),
    }
}

/// The entries of a PHP array, keys included (lists give 0..n).
pub fn entries(value: &Value) -> Vec<(Key, Value)> {
    match value.kind() {
        ValueKind::Map => match value.try_iter() {
            Ok(keys) => keys
                .map(|key| {
                    let item = value.get_item(&key).unwrap_or_default();
                    (Key::from_value(&key), item)
                })
                .collect(),
            Err(_) => Vec::new(),
        },
        ValueKind::Seq | ValueKind::Iterable => match value.try_iter() {
            Ok(items) => items
                .enumerate()
                .map(|(index, item)| (Key::Int(index as i64), item))
                .collect(),
            Err(_) => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// The values of a PHP array in order.
pub fn values(value: &Value) -> Vec<Value> {
    match value.kind() {
        ValueKind::Seq | ValueKind::Iterable => {
            value.try_iter().map(Iterator::collect).unwrap_or_default()
        }
        ValueKind::Map => entries(value).into_iter().map(|(_, item)| item).collect(),
        _ => Vec::new(),
    }
}

/// Builds a PHP array: a list when the keys are 0..n in order, else a map.
pub fn from_entries(entries: Vec<(Key, Value)>) -> Value {
    let is_list = entries
        .iter()
        .enumerate()
        .all(|(index, (key, _))| *key == Key::Int(index as i64));
    if is_list {
        Value::from(
            entries
                .into_iter()
                .map(|(_, item)| item)
                .collect::<Vec<_>>(),
        )
    } else {
        Value::from_pairs(
            entries
                .into_iter()
                .map(|(key, item)| (key.into_value(), item)),
        )
    }
}

/// A template value as JSON (integer keys as strings, lists by PHP's rule).
pub fn to_json(value: &Value) -> Json {
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => Json::Null,
        ValueKind::Bool => Json::Bool(value.is_true()),
        ValueKind::Number => match as_int(value) {
            Some(integer) => Json::from(integer),
            None => php::float_value(as_float(value).unwrap_or(0.0)),
        },
        ValueKind::String => Json::String(value.as_str().unwrap_or_default().to_owned()),
        ValueKind::Seq | ValueKind::Iterable => {
            Json::Array(values(value).iter().map(to_json).collect())
        }
        ValueKind::Map => {
            let items = entries(value);
            let is_list = items
                .iter()
                .enumerate()
                .all(|(index, (key, _))| *key == Key::Int(index as i64));
            if is_list && !items.is_empty() {
                Json::Array(items.iter().map(|(_, item)| to_json(item)).collect())
            } else {
                Json::Object(
                    items
                        .into_iter()
                        .map(|(key, item)| {
                            let key = match key {
                                Key::Int(integer) => integer.to_string(),
                                Key::Text(text) => text.to_string(),
                            };
                            (key, to_json(&item))
                        })
                        .collect(),
                )
            }
        }
        _ => Json::String(value.to_string()),
    }
}

/// The template context for an input: its top-level keys as variables, only those in `names`
/// when given (converting an input costs more than most renders, and templates read little).
pub fn context_from_json(input: &Json, names: Option<&std::collections::HashSet<String>>) -> Value {
    match (input, names) {
        (Json::Object(map), Some(names)) => Value::from_pairs(
            map.iter()
                .filter(|(key, _)| names.contains(key.as_str()))
                .map(|(key, item)| (Value::from(key.as_str()), from_json(item))),
        ),
        _ => from_json(input),
    }
}

/// A JSON value as a template value; object keys that PHP would read as integers become
/// integer keys.
pub fn from_json(json: &Json) -> Value {
    match json {
        Json::Null => Value::from(()),
        Json::Bool(flag) => Value::from(*flag),
        Json::Number(number) => match (number.as_i64(), number.as_u64()) {
            (Some(integer), _) => Value::from(integer),
            (None, Some(integer)) => Value::from(integer),
            _ => Value::from(number.as_f64().unwrap_or(0.0)),
        },
        Json::String(text) => Value::from(text.as_str()),
        Json::Array(items) => Value::from(items.iter().map(from_json).collect::<Vec<_>>()),
        Json::Object(map) => Value::from_pairs(map.iter().map(|(key, item)| {
            let key = match super::syntax::canonical_int(key) {
                Some(integer) => Value::from(integer),
                None => Value::from(key.as_str()),
            };
            (key, from_json(item))
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_and_truth_follow_php() {
        assert_eq!(to_string(&Value::from(true)), "1");
        assert_eq!(to_string(&Value::from(false)), "");
        assert_eq!(to_string(&Value::from(())), "");
        assert_eq!(to_string(&Value::from(1.0)), "1");
        assert_eq!(to_string(&from_json(&json!([1]))), "Array");
        assert!(!is_truthy(&Value::from("0")));
        assert!(is_truthy(&Value::from("0.0")));
        assert!(!is_truthy(&from_json(&json!([]))));
    }

    #[test]
    fn comparison_follows_php_8() {
        assert_eq!(
            compare(&Value::from("10"), &Value::from(9)),
            Ordering::Greater
        );
        assert_eq!(
            compare(&Value::from("abc"), &Value::from(0)),
            Ordering::Greater
        );
        assert!(loose_equals(&Value::from("1"), &Value::from(1)));
        assert!(loose_equals(&Value::from(()), &Value::from(false)));
        assert!(!loose_equals(&Value::from("a"), &Value::from(0)));
        assert!(strict_equals(&Value::from(1), &Value::from(1)));
        assert!(!strict_equals(&Value::from(1), &Value::from("1")));
    }

    #[test]
    fn json_round_trips_with_integer_keys() {
        let input = json!({"a": {"0": "x", "1": "y"}, "b": {"2": 1}, "c": 1.5, "d": [true, null]});
        let value = from_json(&input);
        assert_eq!(
            value
                .get_attr("a")
                .and_then(|a| a.get_item(&Value::from(0)))
                .ok(),
            Some(Value::from("x"))
        );
        assert_eq!(
            to_json(&value),
            json!({"a": ["x", "y"], "b": {"2": 1}, "c": 1.5, "d": [true, null]})
        );
    }
}
