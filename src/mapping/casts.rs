//! The casts a mapping applies after mapping and `unset` (spec §4.2), with PHP's results.
//! A cast spec is a list or a comma-separated string (so a comma inside `unsetIfValue==a,b`
//! splits, as in PHP); unknown names are ignored. Casts are parsed once, when a mapping is
//! compiled.

use base64::Engine as _;
use serde_json::Value;

use super::{dot_path, php, php_date};

/// One cast, parsed from its name.
#[derive(Debug, Clone, PartialEq)]
pub enum Cast {
    String,
    Bool,
    NullableBool,
    Int,
    Float,
    Array,
    Date,
    UrlEncode,
    UrlDecode,
    RawUrlEncode,
    RawUrlDecode,
    HtmlEncode,
    HtmlDecode,
    Base64Encode,
    Base64Decode,
    Json,
    JsonToArray,
    Utf8,
    NullStringToNull,
    CoordinateStringToArray,
    KeyCantBeValue,
    /// Delete the key when the value equals this text (loosely); the empty text matches empty values.
    UnsetIfValue(String),
    /// Like `UnsetIfValue`, but the value becomes `null`.
    SetNullIfValue(String),
    /// The value becomes the count of the list at this dot path of the output.
    CountValue(String),
    MoneyStringToInt,
    IntToMoneyString,
}

impl Cast {
    /// The cast a name stands for; `None` for names PHP ignores.
    pub fn parse(name: &str) -> Option<Self> {
        if let Some(text) = name.strip_prefix("unsetIfValue==") {
            return Some(Self::UnsetIfValue(text.to_owned()));
        }
        if let Some(text) = name.strip_prefix("setNullIfValue==") {
            return Some(Self::SetNullIfValue(text.to_owned()));
        }
        if let Some(path) = name.strip_prefix("countValue:") {
            return Some(Self::CountValue(path.to_owned()));
        }
        Some(match name {
            "string" => Self::String,
            "bool" | "boolean" => Self::Bool,
            "?bool" | "?boolean" => Self::NullableBool,
            "int" | "integer" => Self::Int,
            "float" => Self::Float,
            "array" => Self::Array,
            "date" => Self::Date,
            "url" => Self::UrlEncode,
            "urlDecode" => Self::UrlDecode,
            "rawurl" => Self::RawUrlEncode,
            "rawurlDecode" => Self::RawUrlDecode,
            "html" => Self::HtmlEncode,
            "htmlDecode" => Self::HtmlDecode,
            "base64" => Self::Base64Encode,
            "base64Decode" => Self::Base64Decode,
            "json" => Self::Json,
            "jsonToArray" => Self::JsonToArray,
            "utf8" => Self::Utf8,
            "nullStringToNull" => Self::NullStringToNull,
            "coordinateStringToArray" => Self::CoordinateStringToArray,
            "keyCantBeValue" => Self::KeyCantBeValue,
            "moneyStringToInt" => Self::MoneyStringToInt,
            "intToMoneyString" => Self::IntToMoneyString,
            _ => return None,
        })
    }

    /// Parses a cast spec: a JSON list of names or a comma-separated string.
    pub fn parse_spec(spec: &Value) -> Vec<Self> {
        match spec {
            Value::String(text) => text.split(',').filter_map(Self::parse).collect(),
            Value::Array(items) => items
                .iter()
                .filter_map(Value::as_str)
                .filter_map(Self::parse)
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// What a cast did to the key.
enum Outcome {
    Unchanged,
    Replace(Value),
    Delete,
}

/// Applies each path's casts in order to the output; a path that is absent is skipped, and a
/// key a cast deleted gets no further casts. A cast changes its value in place.
pub fn apply(output: &mut Value, casts: &[(String, Vec<Cast>)]) {
    for (path, path_casts) in casts {
        for cast in path_casts {
            let Some(value) = dot_path::get(output, path) else {
                break;
            };
            match apply_one(cast, path, value, output) {
                Outcome::Unchanged => {}
                Outcome::Replace(value) => {
                    if let Some(slot) = dot_path::get_mut(output, path) {
                        *slot = value;
                    }
                }
                Outcome::Delete => {
                    dot_path::delete(output, path);
                    break;
                }
            }
        }
    }
}

fn apply_one(cast: &Cast, key: &str, value: &Value, output: &Value) -> Outcome {
    let text = || php::to_text(value);
    let string = |text: String| Outcome::Replace(Value::String(text));
    match cast {
        Cast::String if value.is_string() => Outcome::Unchanged,
        Cast::String => string(php::to_string(value)),
        Cast::Bool => Outcome::Replace(Value::Bool(php_bool(value))),
        Cast::NullableBool if value.is_null() => Outcome::Unchanged,
        Cast::NullableBool => Outcome::Replace(Value::Bool(php_bool(value))),
        Cast::Int => Outcome::Replace(Value::from(php::to_int(value))),
        Cast::Float => Outcome::Replace(php::float_value(php::to_float(value))),
        Cast::Array if value.is_array() || value.is_object() => Outcome::Unchanged,
        Cast::Array => Outcome::Replace(Value::Array(vec![value.clone()])),
        Cast::Date => string(php_date::format(&chrono::Utc::now(), &text())),
        Cast::UrlEncode => string(php::url_encode(&text())),
        Cast::UrlDecode => string(php::url_decode(&text(), true)),
        Cast::RawUrlEncode => string(php::raw_url_encode(&text())),
        Cast::RawUrlDecode => string(php::url_decode(&text(), false)),
        Cast::HtmlEncode => string(php::html_entities(&text())),
        Cast::HtmlDecode => string(php::html_entity_decode(&text())),
        Cast::Base64Encode => string(base64::engine::general_purpose::STANDARD.encode(&*text())),
        Cast::Base64Decode => string(base64_decode_lenient(&text())),
        Cast::Json => string(php::json_encode(value)),
        Cast::JsonToArray if value.is_array() || value.is_object() => Outcome::Unchanged,
        Cast::JsonToArray => {
            let text = text();
            let parsed = if text.contains('&') {
                serde_json::from_str(&php::html_entity_decode(&text))
            } else {
                serde_json::from_str(&text)
            };
            Outcome::Replace(parsed.unwrap_or(Value::Null))
        }
        Cast::Utf8 => string(deunicode::deunicode(&text())),
        Cast::NullStringToNull if value.as_str() == Some("null") => Outcome::Replace(Value::Null),
        Cast::NullStringToNull => Outcome::Unchanged,
        Cast::CoordinateStringToArray => match value {
            Value::String(coordinates) => Outcome::Replace(coordinate_pairs(coordinates)),
            _ => Outcome::Unchanged,
        },
        Cast::KeyCantBeValue if php::loose_equals(&Value::String(key.to_owned()), value) => {
            Outcome::Delete
        }
        Cast::KeyCantBeValue => Outcome::Unchanged,
        Cast::UnsetIfValue(expected) if matches_value(value, expected) => Outcome::Delete,
        Cast::SetNullIfValue(expected) if matches_value(value, expected) => {
            Outcome::Replace(Value::Null)
        }
        Cast::UnsetIfValue(_) | Cast::SetNullIfValue(_) => Outcome::Unchanged,
        Cast::CountValue(path) => match dot_path::get(output, path) {
            Some(Value::Array(items)) => Outcome::Replace(Value::from(items.len())),
            Some(Value::Object(map)) => Outcome::Replace(Value::from(map.len())),
            _ => Outcome::Unchanged,
        },
        Cast::MoneyStringToInt => Outcome::Replace(Value::from(php::to_int(&Value::String(
            text().replace(['.', ','], ""),
        )))),
        Cast::IntToMoneyString => string(number_format(php::to_float(value) / 100.0, 2, ",", ".")),
    }
}

/// PHP's bool cast in the mapping service: `(int) $v === 1`, or `true`/`yes` in any case.
fn php_bool(value: &Value) -> bool {
    if php::to_int(value) == 1 {
        return true;
    }
    value.as_str().is_some_and(|text| {
        let lower = text.to_lowercase();
        lower == "true" || lower == "yes"
    })
}

/// The `unsetIfValue==`/`setNullIfValue==` test: loose equality with the text, and for the
/// empty text also `null`, `""` and arrays whose leaves are all empty.
fn matches_value(value: &Value, expected: &str) -> bool {
    if expected.is_empty() {
        return match value {
            Value::Null => true,
            Value::String(text) => text.is_empty(),
            Value::Array(_) | Value::Object(_) => all_leaves_empty(value),
            _ => false,
        };
    }
    php::loose_equals(value, &Value::String(expected.to_owned()))
}

fn all_leaves_empty(value: &Value) -> bool {
    match value {
        Value::Array(items) => items.iter().all(all_leaves_empty),
        Value::Object(map) => map.values().all(all_leaves_empty),
        Value::Null => true,
        Value::String(text) => text.is_empty(),
        _ => false,
    }
}

/// `"52.3 4.9"` → `["52.3","4.9"]`; longer strings give a list of pairs.
fn coordinate_pairs(coordinates: &str) -> Value {
    let mut pairs: Vec<Value> = Vec::new();
    let mut point: Vec<Value> = Vec::new();
    for half in coordinates.split(' ') {
        if point.len() > 1 {
            pairs.push(Value::Array(std::mem::take(&mut point)));
        }
        point.push(Value::String(half.to_owned()));
    }
    pairs.push(Value::Array(point));
    if pairs.len() == 1 {
        pairs.remove(0)
    } else {
        Value::Array(pairs)
    }
}

/// PHP's non-strict `base64_decode`: characters outside the alphabet are skipped.
pub fn base64_decode_lenient(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '+' || *c == '/')
        .collect();
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    // A lone trailing character cannot hold a byte; PHP drops it.
    let usable = if cleaned.len() % 4 == 1 {
        &cleaned[..cleaned.len() - 1]
    } else {
        &cleaned
    };
    engine
        .decode(usable)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

/// PHP's `number_format` with explicit separators (rounding half away from zero).
pub fn number_format(number: f64, decimals: usize, decimal_point: &str, thousands: &str) -> String {
    let factor = 10f64.powi(decimals as i32);
    let rounded = (number.abs() * factor).round() / factor;
    let text = format!("{rounded:.decimals$}");
    let (integer, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let mut grouped = String::new();
    for (index, digit) in integer.chars().enumerate() {
        if index > 0 && (integer.len() - index) % 3 == 0 {
            grouped.push_str(thousands);
        }
        grouped.push(digit);
    }
    let sign = if number < 0.0 && rounded != 0.0 {
        "-"
    } else {
        ""
    };
    if decimals == 0 {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}{decimal_point}{fraction}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cast(value: Value, spec: &str) -> Option<Value> {
        let mut output = json!({"field": value, "items": [1, 2, 3, 4, 5]});
        apply(
            &mut output,
            &[("field".into(), Cast::parse_spec(&json!(spec)))],
        );
        output.get("field").cloned()
    }

    #[test]
    fn basic_casts() {
        assert_eq!(cast(json!(123), "string"), Some(json!("123")));
        assert_eq!(cast(json!(true), "string"), Some(json!("1")));
        assert_eq!(cast(json!("true"), "bool"), Some(json!(true)));
        assert_eq!(cast(json!("YES"), "boolean"), Some(json!(true)));
        assert_eq!(cast(json!("0"), "boolean"), Some(json!(false)));
        assert_eq!(cast(json!("1"), "bool"), Some(json!(true)));
        assert_eq!(cast(json!(null), "?bool"), Some(json!(null)));
        assert_eq!(cast(json!("1"), "?boolean"), Some(json!(true)));
        assert_eq!(cast(json!("42"), "int"), Some(json!(42)));
        assert_eq!(cast(json!("42abc"), "integer"), Some(json!(42)));
        assert_eq!(cast(json!("abc"), "int"), Some(json!(0)));
        assert_eq!(cast(json!(3.9), "int"), Some(json!(3)));
        assert_eq!(cast(json!("2.75"), "float"), Some(json!(2.75)));
        assert_eq!(
            cast(json!("single_value"), "array"),
            Some(json!(["single_value"]))
        );
        assert_eq!(cast(json!([1]), "array"), Some(json!([1])));
    }

    #[test]
    fn encoding_casts() {
        let url = json!("https://example.com/path with spaces");
        assert_eq!(
            cast(url.clone(), "url"),
            Some(json!("https%3A%2F%2Fexample.com%2Fpath+with+spaces"))
        );
        assert_eq!(
            cast(url, "rawurl"),
            Some(json!("https%3A%2F%2Fexample.com%2Fpath%20with%20spaces"))
        );
        assert_eq!(cast(json!("a+b%20c"), "urlDecode"), Some(json!("a b c")));
        assert_eq!(cast(json!("a+b%20c"), "rawurlDecode"), Some(json!("a+b c")));
        assert_eq!(
            cast(json!(r#"<script>alert("test")</script>"#), "html"),
            Some(json!(
                "&lt;script&gt;alert(&quot;test&quot;)&lt;/script&gt;"
            ))
        );
        assert_eq!(cast(json!("&lt;b&gt;"), "htmlDecode"), Some(json!("<b>")));
        assert_eq!(
            cast(json!("Hello World"), "base64"),
            Some(json!("SGVsbG8gV29ybGQ="))
        );
        assert_eq!(
            cast(json!("SGVsbG8gV29ybGQ="), "base64Decode"),
            Some(json!("Hello World"))
        );
        assert_eq!(cast(json!("SGVsbG8"), "base64Decode"), Some(json!("Hello")));
    }

    #[test]
    fn json_casts() {
        let encoded = cast(json!({"name": "John", "age": 30}), "json");
        assert_eq!(encoded, Some(json!(r#"{"name":"John","age":30}"#)));
        assert_eq!(
            cast(encoded.unwrap_or_default(), "jsonToArray"),
            Some(json!({"name": "John", "age": 30}))
        );
        assert_eq!(
            cast(json!("{&quot;a&quot;:1}"), "jsonToArray"),
            Some(json!({"a": 1}))
        );
        assert_eq!(cast(json!("not json"), "jsonToArray"), Some(json!(null)));
        assert_eq!(cast(json!([1]), "jsonToArray"), Some(json!([1])));
    }

    #[test]
    fn special_casts() {
        assert_eq!(
            cast(json!("52.3676 4.9041"), "coordinateStringToArray"),
            Some(json!(["52.3676", "4.9041"]))
        );
        assert_eq!(
            cast(json!("1 2 3 4 5"), "coordinateStringToArray"),
            Some(json!([["1", "2"], ["3", "4"], ["5"]]))
        );
        assert_eq!(
            cast(json!("1.234,56"), "moneyStringToInt"),
            Some(json!(123456))
        );
        assert_eq!(
            cast(json!(123456), "intToMoneyString"),
            Some(json!("1.234,56"))
        );
        assert_eq!(cast(json!(-5), "intToMoneyString"), Some(json!("-0,05")));
        assert_eq!(cast(json!("null"), "nullStringToNull"), Some(json!(null)));
        assert_eq!(
            cast(json!("café résumé"), "utf8"),
            Some(json!("cafe resume"))
        );
        assert_eq!(cast(json!("x"), "countValue:items"), Some(json!(5)));
        assert_eq!(cast(json!("field"), "keyCantBeValue"), None);
        assert_eq!(cast(json!("other"), "keyCantBeValue"), Some(json!("other")));
        assert_eq!(cast(json!("x"), "unknownCast"), Some(json!("x")));
    }

    #[test]
    fn conditional_unset_and_null() {
        assert_eq!(cast(json!("inactive"), "unsetIfValue==inactive"), None);
        assert_eq!(
            cast(json!("active"), "unsetIfValue==inactive"),
            Some(json!("active"))
        );
        assert_eq!(cast(json!(""), "setNullIfValue=="), Some(json!(null)));
        assert_eq!(cast(json!(null), "unsetIfValue=="), None);
        assert_eq!(cast(json!([["", null], {"a": ""}]), "unsetIfValue=="), None);
        assert_eq!(cast(json!(0), "unsetIfValue=="), Some(json!(0)));
        assert_eq!(cast(json!("1"), "unsetIfValue==1"), None);
        // A comma in the spec string splits it, as in PHP.
        assert_eq!(cast(json!("a,b"), "unsetIfValue==a,b"), Some(json!("a,b")));
    }

    #[test]
    fn date_cast_formats_now() {
        let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
        assert_eq!(cast(json!("Y-m-d"), "date"), Some(json!(today)));
    }

    #[test]
    fn casts_run_in_order_and_stop_after_delete() {
        let mut output = json!({"a": "5", "b": ""});
        apply(
            &mut output,
            &[
                ("a".into(), Cast::parse_spec(&json!(["int", "string"]))),
                (
                    "b".into(),
                    Cast::parse_spec(&json!("unsetIfValue==,string")),
                ),
                ("missing".into(), Cast::parse_spec(&json!("string"))),
            ],
        );
        assert_eq!(output, json!({"a": "5"}));
    }
}
