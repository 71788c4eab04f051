//! References to objects other synchronizations wrote, made into their target ids before an
//! object is written (spec §5.2 and §5.6), so a register holds its own uuids in relations
//! rather than the source's ids:
//! - `idsToReplaceWithTargetIdsBeforeRules`: a tree of property names; at each object it
//!   reaches that has an `id` key, the `id` becomes the target id of the object's `originId`;
//! - `originIdsToReplace`: a tree whose leaves are `"true"`; a string there that is an origin id,
//!   or a URL holding a uuid that is one, becomes the target id (in a URL, just the uuid).
//!
//! Origin ids are looked up in the contracts of every synchronization, a page at a time: the
//! walk that replaces is first run with nothing known, which lists what it would ask.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};

/// A synchronization's reference trees.
#[derive(Debug, Default, Clone)]
pub struct Related {
    ids_before_rules: Option<Map<String, Value>>,
    origin_ids: Option<Map<String, Value>>,
}

/// What the walk does at the places its tree names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Replace {
    /// An `id` beside an `originId`.
    Ids,
    /// String leaves marked `"true"`.
    Strings,
}

impl Related {
    /// The trees in a synchronization's `sourceConfig` (dot keys already expanded).
    pub fn from_config(source_config: &Map<String, Value>) -> Self {
        let tree = |key: &str| source_config.get(key).and_then(Value::as_object).cloned();
        Self {
            ids_before_rules: tree("idsToReplaceWithTargetIdsBeforeRules"),
            origin_ids: tree("originIdsToReplace"),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.ids_before_rules.is_none() && self.origin_ids.is_none()
    }

    /// The origin ids an object refers to at the places the trees name.
    pub fn referenced(&self, object: &Value, into: &mut BTreeSet<String>) {
        // With nothing known the walk changes nothing; on a copy, so it can take it mutably.
        let mut copy = object.clone();
        self.walk(&mut copy, &mut |origin_id: &str| {
            into.insert(origin_id.to_owned());
            None
        });
    }

    /// Replaces the references whose target ids are `known` (origin id → target id).
    pub fn resolve(&self, object: &mut Value, known: &HashMap<String, String>) {
        self.walk(object, &mut |origin_id: &str| known.get(origin_id).cloned());
    }

    fn walk(&self, object: &mut Value, lookup: &mut dyn FnMut(&str) -> Option<String>) {
        for (tree, replace) in [
            (&self.ids_before_rules, Replace::Ids),
            (&self.origin_ids, Replace::Strings),
        ] {
            if let (Some(tree), Value::Object(map)) = (tree, &mut *object) {
                walk_object(map, tree, replace, lookup);
            }
        }
    }
}

fn walk_object(
    object: &mut Map<String, Value>,
    tree: &Map<String, Value>,
    replace: Replace,
    lookup: &mut dyn FnMut(&str) -> Option<String>,
) {
    for (key, below) in tree {
        let Some(value) = object.get_mut(key) else {
            continue;
        };
        match (value, below) {
            (Value::Array(items), Value::Object(below)) => {
                for item in items {
                    if let Value::Object(item) = item {
                        walk_object(item, below, replace, lookup);
                    }
                }
            }
            (Value::Object(nested), Value::Object(below)) => {
                walk_object(nested, below, replace, lookup);
            }
            (Value::String(text), marker) if replace == Replace::Strings && is_marked(marker) => {
                if let Some(replaced) = target_for(text, lookup) {
                    *text = replaced;
                }
            }
            _ => {}
        }
        if replace == Replace::Ids && key == "id" {
            let target = match object.get("originId") {
                Some(Value::String(origin_id)) => target_for(origin_id, lookup),
                _ => None,
            };
            if let Some(target) = target {
                object.insert("id".to_owned(), Value::String(target));
            }
        }
    }
}

/// A leaf marked for replacement: `"true"`, as the PHP app's configurations write it, or `true`.
fn is_marked(marker: &Value) -> bool {
    matches!(marker, Value::Bool(true)) || marker.as_str() == Some("true")
}

/// The text with its origin id made a target id: the whole text when it is an origin id with a
/// contract, else the first uuid in a URL; `None` when nothing is known.
fn target_for(text: &str, lookup: &mut dyn FnMut(&str) -> Option<String>) -> Option<String> {
    if let Some(target) = lookup(text) {
        return (target != text).then_some(target);
    }
    let is_url = reqwest::Url::parse(text).is_ok_and(|url| url.has_host());
    let (start, uuid) = is_url.then(|| first_uuid(text)).flatten()?;
    let target = lookup(uuid)?;
    (target != uuid).then(|| format!("{}{target}{}", &text[..start], &text[start + uuid.len()..]))
}

/// The first uuid (8-4-4-4-12 hexadecimal digits) in a text, with where it starts.
fn first_uuid(text: &str) -> Option<(usize, &str)> {
    const GROUPS: [usize; 5] = [8, 4, 4, 4, 12];
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(35)).find_map(|start| {
        let mut position = start;
        for (index, length) in GROUPS.iter().enumerate() {
            if index > 0 {
                if bytes.get(position) != Some(&b'-') {
                    return None;
                }
                position += 1;
            }
            let group = bytes.get(position..position + length)?;
            if !group.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            position += length;
        }
        Some((start, &text[start..position]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const P1: &str = "80c24f50-4dc9-4937-b99e-9c253b5dfe8a";

    fn related() -> Related {
        let config = json!({
            "idsToReplaceWithTargetIdsBeforeRules": {"betrokkenen": {"id": "true"}, "id": "true"},
            "originIdsToReplace": {"zaaktype": "true", "rollen": {"persoon": "true"}, "status": "true"}
        });
        Related::from_config(config.as_object().unwrap_or(&Map::new()))
    }

    fn object() -> Value {
        json!({
            "id": "z1", "originId": "Z-1",
            "betrokkenen": [{"id": "b", "originId": "B-1"}, {"id": "c", "originId": "unknown"}, {"originId": "B-1"}],
            "zaaktype": format!("https://catalogi.example/zaaktypen/{P1}?x=1"),
            "rollen": [{"persoon": "P-2"}, {"persoon": 7}],
            "status": "not-a-url-with-80c24f50-4dc9-4937-b99e-9c253b5dfe8a"
        })
    }

    #[test]
    fn the_walk_lists_the_origin_ids_it_would_ask_for() {
        let mut asked = BTreeSet::new();
        related().referenced(&object(), &mut asked);
        let expected: BTreeSet<String> = [
            "Z-1",
            "B-1",
            "unknown",
            &format!("https://catalogi.example/zaaktypen/{P1}?x=1"),
            P1,
            "P-2",
            "not-a-url-with-80c24f50-4dc9-4937-b99e-9c253b5dfe8a",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        assert_eq!(asked, expected);
    }

    #[test]
    fn known_origin_ids_become_target_ids_where_the_trees_say() {
        let known: HashMap<String, String> = [
            ("Z-1", "t-z"),
            ("B-1", "t-b"),
            (P1, "t-zaaktype"),
            ("P-2", "t-p"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
        let mut object = object();
        related().resolve(&mut object, &known);
        assert_eq!(
            object,
            json!({
                "id": "t-z", "originId": "Z-1",
                // Only where an `id` is present; an unknown origin id leaves it alone.
                "betrokkenen": [{"id": "t-b", "originId": "B-1"}, {"id": "c", "originId": "unknown"}, {"originId": "B-1"}],
                "zaaktype": "https://catalogi.example/zaaktypen/t-zaaktype?x=1",
                "rollen": [{"persoon": "t-p"}, {"persoon": 7}],
                // Not a URL: a uuid inside is not replaced.
                "status": "not-a-url-with-80c24f50-4dc9-4937-b99e-9c253b5dfe8a"
            })
        );
    }

    #[test]
    fn uuids_are_found_anywhere_in_a_text() {
        assert_eq!(first_uuid(&format!("/a/{P1}")), Some((3, P1)));
        assert_eq!(first_uuid("80c24f50-4dc9-4937-b99e-9c253b5dfe8"), None);
        assert_eq!(first_uuid(""), None);
    }
}
