//! PHP value semantics on JSON values: the string, number and truth conversions, loose
//! equality, `json_encode`, the URL and HTML encoders. Mappings were written against PHP, so
//! every conversion the engine makes goes through here to give PHP's answer.

use std::fmt::Write as _;

use serde_json::{Map, Value};

/// PHP's `(string)` of a float (`precision` = 14): `1.0` → `"1"`, `0.1 + 0.2` → `"0.3"`,
/// `1e25` → `"1.0E+25"`.
pub fn float_to_string(number: f64) -> String {
    format_float(number, 14, 'E', false)
}

/// PHP's `json_encode` of a float (`serialize_precision` = -1): the shortest form that reads
/// back (`1`, `0.30000000000000004`, `1.0e+25`).
pub fn float_to_json(number: f64) -> String {
    format_float(number, 17, 'e', true)
}

/// PHP's `zend_gcvt` float printing: exponent form when the decimal exponent reaches `digits`
/// or falls below -4. `shortest` picks the fewest digits that read back (precision -1); else the
/// number is rounded to `digits` significant digits.
fn format_float(number: f64, digits: usize, exponent_letter: char, shortest: bool) -> String {
    if number.is_nan() {
        return "NAN".into();
    }
    if number.is_infinite() {
        return if number > 0.0 { "INF" } else { "-INF" }.into();
    }
    if number == 0.0 {
        return if number.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // Scientific form gives the significant digits and the decimal exponent.
    let scientific = if shortest {
        format!("{number:e}")
    } else {
        format!("{:.*e}", digits - 1, number)
    };
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let significant: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let significant = significant.trim_end_matches('0');
    let significant = if significant.is_empty() {
        "0"
    } else {
        significant
    };
    let sign = if negative { "-" } else { "" };
    if exponent < -4 || exponent >= digits as i32 {
        let (head, tail) = significant.split_at(1);
        let tail = if tail.is_empty() { "0" } else { tail };
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        return format!(
            "{sign}{head}.{tail}{exponent_letter}{exponent_sign}{}",
            exponent.abs()
        );
    }
    let mut text = String::from(sign);
    if exponent < 0 {
        text.push_str("0.");
        for _ in 0..(-exponent - 1) {
            text.push('0');
        }
        text.push_str(significant);
    } else {
        let integer_digits = exponent as usize + 1;
        if significant.len() <= integer_digits {
            text.push_str(significant);
            for _ in significant.len()..integer_digits {
                text.push('0');
            }
        } else {
            text.push_str(&significant[..integer_digits]);
            text.push('.');
            text.push_str(&significant[integer_digits..]);
        }
    }
    text
}

/// PHP's `(string)` of a JSON value: `true` → `"1"`, `false`/`null` → `""`, arrays → `"Array"`.
/// [`to_string`], borrowing a string value instead of copying it.
pub fn to_text(value: &Value) -> std::borrow::Cow<'_, str> {
    match value {
        Value::String(text) => std::borrow::Cow::Borrowed(text),
        other => std::borrow::Cow::Owned(to_string(other)),
    }
}

pub fn to_string(value: &Value) -> String {
    match value {
        Value::Null | Value::Bool(false) => String::new(),
        Value::Bool(true) => "1".into(),
        Value::Number(number) => number_to_string(number),
        Value::String(text) => text.clone(),
        Value::Array(_) | Value::Object(_) => "Array".into(),
    }
}

pub fn number_to_string(number: &serde_json::Number) -> String {
    match number.as_i64() {
        Some(integer) => integer.to_string(),
        None => match number.as_u64() {
            Some(integer) => integer.to_string(),
            None => float_to_string(number.as_f64().unwrap_or(0.0)),
        },
    }
}

/// PHP truthiness: `""`, `"0"`, `0`, `0.0`, `null`, `false` and empty arrays are false.
pub fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(flag) => *flag,
        Value::Number(number) => number.as_f64().is_some_and(|n| n != 0.0),
        Value::String(text) => !(text.is_empty() || text == "0"),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
    }
}

/// A number as PHP reads it from a string (`"42abc"` → 42, `" 3.5"` → 3.5, `"abc"` → 0):
/// leading whitespace, then the longest numeric prefix. `None` when there is no prefix at all.
pub fn leading_number(text: &str) -> Option<f64> {
    let trimmed = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let bytes = trimmed.as_bytes();
    let mut end = 0;
    if end < bytes.len() && (bytes[end] == b'+' || bytes[end] == b'-') {
        end += 1;
    }
    let digits_start = end;
    while end < bytes.len() && bytes[end].is_ascii_digit() {
        end += 1;
    }
    let mut mantissa_digits = end - digits_start;
    if end < bytes.len() && bytes[end] == b'.' {
        let fraction_start = end + 1;
        let mut fraction_end = fraction_start;
        while fraction_end < bytes.len() && bytes[fraction_end].is_ascii_digit() {
            fraction_end += 1;
        }
        mantissa_digits += fraction_end - fraction_start;
        if mantissa_digits > 0 {
            end = fraction_end;
        }
    }
    if mantissa_digits == 0 {
        return None;
    }
    if end < bytes.len() && (bytes[end] == b'e' || bytes[end] == b'E') {
        let mut exponent_end = end + 1;
        if exponent_end < bytes.len()
            && (bytes[exponent_end] == b'+' || bytes[exponent_end] == b'-')
        {
            exponent_end += 1;
        }
        let exponent_digits = exponent_end;
        while exponent_end < bytes.len() && bytes[exponent_end].is_ascii_digit() {
            exponent_end += 1;
        }
        if exponent_end > exponent_digits {
            end = exponent_end;
        }
    }
    trimmed[..end].parse().ok()
}

/// Whether PHP calls the string numeric (`is_numeric`): whitespace around allowed, no trailing text.
pub fn is_numeric_string(text: &str) -> bool {
    let trimmed = text.trim_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    !trimmed.is_empty()
        && leading_number(trimmed).is_some()
        && numeric_prefix_len(trimmed) == trimmed.len()
}

fn numeric_prefix_len(text: &str) -> usize {
    // The parse above does not report its length; re-scan the same grammar.
    let bytes = text.as_bytes();
    let mut end = 0;
    if end < bytes.len() && (bytes[end] == b'+' || bytes[end] == b'-') {
        end += 1;
    }
    let start = end;
    while end < bytes.len() && bytes[end].is_ascii_digit() {
        end += 1;
    }
    let mut digits = end - start;
    if end < bytes.len() && bytes[end] == b'.' {
        let mut fraction_end = end + 1;
        while fraction_end < bytes.len() && bytes[fraction_end].is_ascii_digit() {
            fraction_end += 1;
        }
        digits += fraction_end - end - 1;
        if digits > 0 {
            end = fraction_end;
        }
    }
    if end < bytes.len() && (bytes[end] == b'e' || bytes[end] == b'E') {
        let mut exponent_end = end + 1;
        if exponent_end < bytes.len()
            && (bytes[exponent_end] == b'+' || bytes[exponent_end] == b'-')
        {
            exponent_end += 1;
        }
        let exponent_digits = exponent_end;
        while exponent_end < bytes.len() && bytes[exponent_end].is_ascii_digit() {
            exponent_end += 1;
        }
        if exponent_end > exponent_digits {
            end = exponent_end;
        }
    }
    end
}

/// PHP's `(int)`: floats truncate, strings take their numeric prefix, arrays give 0 or 1.
pub fn to_int(value: &Value) -> i64 {
    match value {
        Value::Null | Value::Bool(false) => 0,
        Value::Bool(true) => 1,
        Value::Number(number) => number
            .as_i64()
            .unwrap_or_else(|| float_to_int(number.as_f64().unwrap_or(0.0))),
        Value::String(text) => leading_number(text).map_or(0, float_to_int),
        Value::Array(items) => i64::from(!items.is_empty()),
        Value::Object(map) => i64::from(!map.is_empty()),
    }
}

/// PHP 8 truncates floats toward zero; out of range (and NaN) gives 0 on 64-bit builds
/// from PHP 8.? on, older versions wrapped. We take 0 rather than wrap.
pub fn float_to_int(number: f64) -> i64 {
    if number.is_finite() && number > i64::MIN as f64 && number < i64::MAX as f64 {
        number.trunc() as i64
    } else {
        0
    }
}

/// PHP's `(float)`.
pub fn to_float(value: &Value) -> f64 {
    match value {
        Value::Number(number) => number.as_f64().unwrap_or(0.0),
        Value::String(text) => leading_number(text).unwrap_or(0.0),
        other => to_int(other) as f64,
    }
}

/// A JSON number for a float, integral floats kept as floats (PHP floats print as `1.0` in JSON).
pub fn float_value(number: f64) -> Value {
    serde_json::Number::from_f64(number).map_or(Value::Null, Value::Number)
}

/// PHP 8 loose comparison (`==`) of two JSON values.
pub fn loose_equals(left: &Value, right: &Value) -> bool {
    use Value::{Array, Bool, Null, Number, Object, String as Text};
    match (left, right) {
        (Null, Null) => true,
        (Bool(flag), other) | (other, Bool(flag)) => *flag == is_truthy(other),
        (Null, Text(text)) | (Text(text), Null) => text.is_empty(),
        (Null, other) | (other, Null) => !is_truthy(other),
        (Number(a), Number(b)) => match (a.as_i64(), b.as_i64()) {
            (Some(a), Some(b)) => a == b,
            _ => a.as_f64() == b.as_f64(),
        },
        (Number(number), Text(text)) | (Text(text), Number(number)) => {
            if is_numeric_string(text) {
                leading_number(text) == number.as_f64()
            } else {
                number_to_string(number) == *text
            }
        }
        (Text(a), Text(b)) => {
            if is_numeric_string(a) && is_numeric_string(b) {
                leading_number(a) == leading_number(b)
            } else {
                a == b
            }
        }
        (Array(a), Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| loose_equals(x, y))
        }
        (Object(a), Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(key, x)| b.get(key).is_some_and(|y| loose_equals(x, y)))
        }
        (Array(list), Object(map)) | (Object(map), Array(list)) => {
            list.len() == map.len()
                && list.iter().enumerate().all(|(index, x)| {
                    map.get(&index.to_string())
                        .is_some_and(|y| loose_equals(x, y))
                })
        }
        _ => false,
    }
}

/// Whether a JSON object is a PHP list: keys exactly `"0"`, `"1"`, … in order.
pub fn is_list_keys(map: &Map<String, Value>) -> bool {
    map.keys()
        .enumerate()
        .all(|(index, key)| key.parse::<usize>() == Ok(index))
}

/// Turns every object whose keys are `0..n` in order into a list, as PHP's `json_encode` does
/// with arrays, so the output has the shape the PHP app would give. An empty object becomes
/// `[]` (PHP cannot tell them apart).
pub fn normalize_lists(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            if is_list_keys(&map) {
                Value::Array(
                    map.into_iter()
                        .map(|(_, item)| normalize_lists(item))
                        .collect(),
                )
            } else {
                Value::Object(
                    map.into_iter()
                        .map(|(key, item)| (key, normalize_lists(item)))
                        .collect(),
                )
            }
        }
        Value::Array(items) => Value::Array(items.into_iter().map(normalize_lists).collect()),
        other => other,
    }
}

/// [`normalize_lists`] in place: only the objects that become lists are rebuilt.
pub fn normalize_lists_in_place(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for item in map.values_mut() {
                normalize_lists_in_place(item);
            }
            if is_list_keys(map) {
                let items = std::mem::take(map)
                    .into_iter()
                    .map(|(_, item)| item)
                    .collect();
                *value = Value::Array(items);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalize_lists_in_place),
        _ => {}
    }
}

/// PHP's `json_encode` with default flags: `/` escaped, non-ASCII as `\uXXXX`, lists as
/// arrays, other maps as objects.
pub fn json_encode(value: &Value) -> String {
    let mut out = String::new();
    write_json(&mut out, value);
    out
}

pub fn write_json(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Value::Number(number) => match (number.as_i64(), number.as_u64()) {
            (Some(integer), _) => {
                let _ = write!(out, "{integer}");
            }
            (None, Some(integer)) => {
                let _ = write!(out, "{integer}");
            }
            _ => out.push_str(&float_to_json(number.as_f64().unwrap_or(0.0))),
        },
        Value::String(text) => write_json_string(out, text),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            if is_list_keys(map) {
                out.push('[');
                for (index, item) in map.values().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    write_json(out, item);
                }
                out.push(']');
                return;
            }
            out.push('{');
            for (index, (key, item)) in map.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_json_string(out, key);
                out.push(':');
                write_json(out, item);
            }
            out.push('}');
        }
    }
}

pub fn write_json_string(out: &mut String, text: &str) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// PHP's `urlencode`: RFC 1738 with space as `+`; only `-_.` and alphanumerics stay.
pub fn url_encode(text: &str) -> String {
    percent_encode(text, true)
}

/// PHP's `rawurlencode`: RFC 3986, space as `%20`, `-_.~` and alphanumerics stay.
pub fn raw_url_encode(text: &str) -> String {
    percent_encode(text, false)
}

fn percent_encode(text: &str, form: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(byte as char),
            b'~' if !form => out.push('~'),
            b' ' if form => out.push('+'),
            other => {
                let _ = write!(out, "%{other:02X}");
            }
        }
    }
    out
}

/// PHP's `urldecode` (`+` is a space) or `rawurldecode`; bad escapes stay as they are.
pub fn url_decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' if index + 2 < bytes.len() => {
                let high = (bytes[index + 1] as char).to_digit(16);
                let low = (bytes[index + 2] as char).to_digit(16);
                if let (Some(high), Some(low)) = (high, low) {
                    out.push((high * 16 + low) as u8);
                    index += 2;
                } else {
                    out.push(b'%');
                }
            }
            other => out.push(other),
        }
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// PHP's `htmlspecialchars` with `ENT_QUOTES` (what `htmlentities` does to ASCII text).
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#039;"),
            c => out.push(c),
        }
    }
    out
}

/// PHP's `htmlentities` (`ENT_QUOTES | ENT_HTML401`): the special characters plus every
/// character that has a named HTML 4.01 entity.
pub fn html_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#039;"),
            c if c.is_ascii() => out.push(c),
            c => match super::html_entities::name_of(c) {
                Some(name) => {
                    out.push('&');
                    out.push_str(name);
                    out.push(';');
                }
                None => out.push(c),
            },
        }
    }
    out
}

/// PHP's `html_entity_decode` (`ENT_QUOTES | ENT_SUBSTITUTE | ENT_HTML401`): named HTML 4.01
/// entities, `&#039;`-style decimal and `&#x27;`-style hex references. Unknown ones stay.
pub fn html_entity_decode(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let decoded = after.find(';').filter(|end| *end <= 32).and_then(|end| {
            let name = &after[..end];
            decode_entity(name).map(|character| (character, end))
        });
        match decoded {
            Some((character, end)) => {
                out.push(character);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn decode_entity(name: &str) -> Option<char> {
    if let Some(number) = name.strip_prefix('#') {
        let code = if let Some(hex) = number.strip_prefix(['x', 'X']) {
            if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            u32::from_str_radix(hex, 16).ok()?
        } else {
            if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            number.parse().ok()?
        };
        // HTML 4.01 decoding leaves references to non-characters alone.
        return char::from_u32(code).filter(|c| *c != '\0');
    }
    super::html_entities::char_of(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_print_as_php_echo_does() {
        assert_eq!(float_to_string(1.0), "1");
        assert_eq!(float_to_string(0.1 + 0.2), "0.3");
        assert_eq!(float_to_string(2.75), "2.75");
        assert_eq!(float_to_string(1e25), "1.0E+25");
        assert_eq!(float_to_string(1e-5), "1.0E-5");
        assert_eq!(float_to_string(0.0001), "0.0001");
        assert_eq!(float_to_string(-2.5), "-2.5");
        assert_eq!(float_to_string(123456789012345.0), "1.2345678901234E+14");
    }

    #[test]
    fn floats_encode_as_php_json_does() {
        assert_eq!(float_to_json(1.0), "1");
        assert_eq!(float_to_json(-0.0), "-0");
        assert_eq!(float_to_json(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(float_to_json(1e16), "10000000000000000");
        assert_eq!(float_to_json(1e17), "1.0e+17");
        assert_eq!(float_to_json(1e-5), "1.0e-5");
        assert_eq!(float_to_json(0.0001), "0.0001");
        assert_eq!(float_to_json(2.5), "2.5");
    }

    #[test]
    fn strings_read_as_php_numbers() {
        assert_eq!(to_int(&json!("42abc")), 42);
        assert_eq!(to_int(&json!("abc")), 0);
        assert_eq!(to_int(&json!(" 7")), 7);
        assert_eq!(to_int(&json!("3.9")), 3);
        assert_eq!(to_int(&json!("1e3")), 1000);
        assert_eq!(to_float(&json!("2.75")), 2.75);
        assert!(is_numeric_string(" 12 "));
        assert!(!is_numeric_string("12a"));
        assert!(!is_numeric_string("."));
    }

    #[test]
    fn loose_equality_follows_php_8() {
        assert!(loose_equals(&json!("1"), &json!(1)));
        assert!(!loose_equals(&json!("abc"), &json!(0)));
        assert!(loose_equals(&json!(null), &json!(false)));
        assert!(loose_equals(&json!(""), &json!(null)));
        assert!(loose_equals(&json!("1e1"), &json!("10")));
        assert!(!loose_equals(&json!("a"), &json!("b")));
    }

    #[test]
    fn json_encode_escapes_as_php() {
        assert_eq!(json_encode(&json!({"a": "é/"})), r#"{"a":"\u00e9\/"}"#);
        assert_eq!(json_encode(&json!({"0": 1, "1": 2})), "[1,2]");
        assert_eq!(json_encode(&json!({})), "[]");
    }

    #[test]
    fn url_encoders_differ_on_space() {
        let url = "https://example.com/path with spaces";
        assert_eq!(
            url_encode(url),
            "https%3A%2F%2Fexample.com%2Fpath+with+spaces"
        );
        assert_eq!(
            raw_url_encode(url),
            "https%3A%2F%2Fexample.com%2Fpath%20with%20spaces"
        );
        assert_eq!(url_decode("a+b%20c%zz", true), "a b c%zz");
        assert_eq!(url_decode("a+b%20c", false), "a+b c");
    }

    #[test]
    fn html_entities_round_trip() {
        let script = r#"<script>alert("test")</script>"#;
        assert_eq!(
            html_entities(script),
            "&lt;script&gt;alert(&quot;test&quot;)&lt;/script&gt;"
        );
        assert_eq!(
            html_entity_decode("&lt;b&gt; &amp;amp; &eacute; &#39; &#x41; &bogus;"),
            "<b> &amp; é ' A &bogus;"
        );
        assert_eq!(html_entities("café"), "caf&eacute;");
    }

    #[test]
    fn numeric_objects_become_lists() {
        let value = normalize_lists(json!({"a": {"0": 1, "1": {"0": "x"}}, "b": {"1": 2}}));
        assert_eq!(value, json!({"a": [1, ["x"]], "b": {"1": 2}}));
    }
}
