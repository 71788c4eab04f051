//! Dot paths over JSON as the PHP app's `adbario/php-dot-notation` reads and writes them:
//! `a.b.0.c`, where a numeric segment is a list position and `&#46;` stands for a literal dot
//! inside a key. Writing works like a PHP array: missing or scalar steps become new arrays, and
//! a list that gets a key out of sequence turns into an object.

use serde_json::{Map, Value};

/// The escape that keeps a dot inside one key (`a&#46;b` is the key `a.b`).
pub const ESCAPED_DOT: &str = "&#46;";

/// The value at `path`, if every step exists (`null` values exist).
pub fn get<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(root, child)
}

/// The value at `path` when it exists. An empty input never has anything, as with the PHP
/// library.
pub fn find<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    let empty = match root {
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => true,
    };
    if empty { None } else { get(root, path) }
}

/// The member `key` of an object. Most objects a mapping reads are small: comparing a few keys
/// (length first) is quicker than hashing the one looked for.
pub fn member<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    const SCANNED: usize = 8;
    if map.len() <= SCANNED {
        map.iter()
            .find_map(|(name, value)| (name == key).then_some(value))
    } else {
        map.get(key)
    }
}

fn child<'a>(value: &'a Value, segment: &str) -> Option<&'a Value> {
    match value {
        Value::Object(map) => member(map, segment),
        Value::Array(items) => list_index(segment).and_then(|index| items.get(index)),
        _ => None,
    }
}

/// A segment that addresses a list position: a canonical non-negative integer, as PHP turns
/// such string keys into integer keys.
fn list_index(segment: &str) -> Option<usize> {
    if segment.len() > 1 && segment.starts_with('0') {
        return None;
    }
    segment.parse().ok()
}

/// The key lengths of an object as a bit set (63 bytes and over share the last bit): a path
/// whose first step has a length no key has is known absent without hashing it, which spares
/// a lookup for every template a mapping holds.
#[derive(Debug, Clone, Copy)]
pub struct KeyLengths(u64);

impl KeyLengths {
    pub fn of(root: &Value) -> Self {
        match root {
            Value::Object(map) => Self(map.keys().fold(0, |bits, key| bits | bit(key.len()))),
            _ => Self(u64::MAX),
        }
    }

    /// Whether a key of `length` bytes may be there.
    pub fn may_hold(self, length: usize) -> bool {
        self.0 & bit(length) != 0
    }
}

fn bit(length: usize) -> u64 {
    1 << length.min(63)
}

/// Sets `value` at `path`, creating (or replacing non-array) intermediate steps with objects.
pub fn set(root: &mut Value, path: &str, value: Value) {
    let mut current = root;
    for segment in path.split('.') {
        if !matches!(current, Value::Object(_) | Value::Array(_)) {
            *current = Value::Object(Map::new());
        }
        current = child_slot(current, segment);
    }
    *current = value;
}

/// The slot for `segment` in an array-like value, created as `null` when missing. A list that
/// would get a gap or a non-numeric key becomes an object first, as a PHP array would.
fn child_slot<'a>(container: &'a mut Value, segment: &str) -> &'a mut Value {
    let position = match &*container {
        Value::Array(items) => match list_index(segment) {
            Some(index) if index <= items.len() => Some(index),
            _ => None,
        },
        _ => None,
    };
    if position.is_none() {
        list_to_object(container);
        if !container.is_object() {
            *container = Value::Object(Map::new());
        }
    }
    match container {
        Value::Array(items) => {
            let index = position.unwrap_or(items.len());
            if index == items.len() {
                items.push(Value::Null);
            }
            &mut items[index]
        }
        Value::Object(map) => map.entry(segment.to_owned()).or_insert(Value::Null),
        // Made an object just above.
        other => other,
    }
}

fn list_to_object(container: &mut Value) {
    if let Value::Array(items) = container {
        let map = std::mem::take(items)
            .into_iter()
            .enumerate()
            .map(|(index, item)| (index.to_string(), item))
            .collect();
        *container = Value::Object(map);
    }
}

/// Removes the value at `path` if it exists. Removing a list element other than the last
/// leaves the remaining positions as object keys, as `unset` on a PHP array does.
pub fn delete(root: &mut Value, path: &str) {
    let (parent_path, last) = match path.rsplit_once('.') {
        Some((parent, last)) => (Some(parent), last),
        None => (None, path),
    };
    let parent = match parent_path {
        Some(parent_path) => match get_mut(root, parent_path) {
            Some(parent) => parent,
            None => return,
        },
        None => root,
    };
    match parent {
        Value::Object(map) => {
            map.shift_remove(last);
        }
        Value::Array(items) => match list_index(last) {
            Some(index) if index + 1 == items.len() => {
                items.pop();
            }
            Some(index) if index < items.len() => {
                list_to_object(parent);
                if let Value::Object(map) = parent {
                    map.shift_remove(last);
                }
            }
            _ => {}
        },
        _ => {}
    }
}

/// The value at `path` to change in place, if every step exists.
pub fn get_mut<'a>(root: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    path.split('.')
        .try_fold(root, |value, segment| match value {
            Value::Object(map) => map.get_mut(segment),
            Value::Array(items) => list_index(segment).and_then(|index| items.get_mut(index)),
            _ => None,
        })
}

/// Whether any key, at any depth, contains `needle` (not empty).
pub fn any_key_contains(value: &Value, needle: &str) -> bool {
    // A byte search for the needle's first byte rules most keys out at once.
    let first = needle.as_bytes().first().copied().unwrap_or_default();
    let contains = |key: &str| key.as_bytes().contains(&first) && key.contains(needle);
    match value {
        Value::Object(map) => map
            .iter()
            .any(|(key, item)| contains(key) || any_key_contains(item, needle)),
        Value::Array(items) => items.iter().any(|item| any_key_contains(item, needle)),
        _ => false,
    }
}

/// The input with every `.` in a key written as `&#46;`, so that dot paths never split a key.
pub fn escape_keys(value: &Value) -> Value {
    map_keys(value, &|key| {
        if key.contains('.') {
            key.replace('.', ESCAPED_DOT)
        } else {
            key.to_owned()
        }
    })
}

/// The reverse of [`escape_keys`], applied to the output.
pub fn unescape_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, item)| {
                    let key = if key.contains(ESCAPED_DOT) {
                        key.replace(ESCAPED_DOT, ".")
                    } else {
                        key
                    };
                    (key, unescape_keys(item))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(unescape_keys).collect()),
        other => other,
    }
}

fn map_keys(value: &Value, rename: &dyn Fn(&str) -> String) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, item)| (rename(key), map_keys(item, rename)))
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.iter().map(|item| map_keys(item, rename)).collect())
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn get_walks_objects_and_lists() {
        let input = json!({"a": {"b": [10, {"c": null}]}});
        assert_eq!(get(&input, "a.b.0"), Some(&json!(10)));
        assert_eq!(get(&input, "a.b.1.c"), Some(&Value::Null));
        assert_eq!(get(&input, "a.b.2"), None);
        assert_eq!(get(&input, "a.x"), None);
        assert!(find(&input, "a.b.1.c").is_some());
        assert!(find(&json!({}), "").is_none());
        assert!(find(&json!([]), "0").is_none());
    }

    #[test]
    fn set_creates_objects_and_list_positions() {
        let mut output = json!({});
        set(&mut output, "kenmerken.0.kenmerk", json!("x"));
        set(&mut output, "kenmerken.1.kenmerk", json!("y"));
        set(&mut output, "meta.status.name", json!("ok"));
        assert_eq!(
            crate::mapping::php::normalize_lists(output),
            json!({"kenmerken": [{"kenmerk": "x"}, {"kenmerk": "y"}], "meta": {"status": {"name": "ok"}}})
        );
    }

    #[test]
    fn set_replaces_scalars_on_the_way_and_grows_lists() {
        let mut output = json!({"a": "text", "list": [1, 2]});
        set(&mut output, "a.b", json!(1));
        set(&mut output, "list.2", json!(3));
        set(&mut output, "list.5", json!(6));
        assert_eq!(
            output,
            json!({"a": {"b": 1}, "list": {"0": 1, "1": 2, "2": 3, "5": 6}})
        );
    }

    #[test]
    fn delete_removes_keys_and_list_positions() {
        let mut output = json!({"a": {"b": 1, "c": 2}, "list": [1, 2, 3]});
        delete(&mut output, "a.b");
        delete(&mut output, "list.0");
        delete(&mut output, "missing.key");
        assert_eq!(output, json!({"a": {"c": 2}, "list": {"1": 2, "2": 3}}));
    }

    #[test]
    fn dotted_keys_escape_and_come_back() {
        let escaped = escape_keys(&json!({"a.b": {"c.d": 1}}));
        assert_eq!(escaped, json!({"a&#46;b": {"c&#46;d": 1}}));
        assert_eq!(get(&escaped, "a&#46;b.c&#46;d"), Some(&json!(1)));
        assert_eq!(unescape_keys(escaped), json!({"a.b": {"c.d": 1}}));
    }
}
