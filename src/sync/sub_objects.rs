//! `subObjects` (spec §5.6): nested objects of a written object that carry an `originId` get
//! contracts of their own, so the next run can give them back the target ids they got.
//!
//! The configuration is a tree of property names (`{"statussen": {}, "rollen": {"subObjects":
//! {"betrokkene": {}}}}`). Before a write, a nested object at a place the tree names whose
//! origin id has a contract gets that contract's target id as `id`. After the write the object
//! is read back as OpenRegister shows it with `_extend=all`: a nested object still inline
//! counts with its own `id`; one OpenRegister cascaded into another schema shows as its uuid,
//! and is found in `@self.objects` by that uuid.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};

/// A nested object as the register holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Saved {
    pub origin_id: String,
    pub target_id: String,
    pub object: Value,
}

/// A synchronization's `subObjects` tree.
#[derive(Debug, Clone)]
pub struct SubObjects {
    tree: Map<String, Value>,
}

impl SubObjects {
    /// The tree in a synchronization's `sourceConfig` (dot keys already expanded), if any.
    pub fn from_config(source_config: &Map<String, Value>) -> Option<Self> {
        match source_config.get("subObjects") {
            Some(Value::Object(tree)) if !tree.is_empty() => Some(Self { tree: tree.clone() }),
            _ => None,
        }
    }

    /// The origin ids of the nested objects an object holds at the places the tree names.
    /// Takes the object mutably only to share its walk with [`SubObjects::set_ids`]; nothing
    /// changes (a copy per object would cost more than the walk).
    pub fn origin_ids(&self, object: &mut Value, into: &mut BTreeSet<String>) {
        if let Value::Object(object) = object {
            visit(object, &self.tree, &mut |nested| {
                if let Some(origin_id) = origin_id_of(nested) {
                    into.insert(origin_id.to_owned());
                }
            });
        }
    }

    /// Gives each nested object whose origin id is `known` (origin id → target id) that id.
    pub fn set_ids(&self, object: &mut Value, known: &HashMap<String, String>) {
        if let Value::Object(object) = object {
            visit(object, &self.tree, &mut |nested| {
                let target = origin_id_of(nested).and_then(|origin_id| known.get(origin_id));
                if let Some(target) = target {
                    nested.insert("id".to_owned(), Value::String(target.clone()));
                }
            });
        }
    }

    /// The nested objects of a saved object, as OpenRegister shows it with `_extend=all`.
    pub fn saved(&self, shown: &Value) -> Vec<Saved> {
        let mut found = Vec::new();
        let related = shown.pointer("/@self/objects").and_then(Value::as_object);
        if let Value::Object(object) = shown {
            collect(object, &self.tree, related, &mut found);
        }
        found
    }
}

fn origin_id_of(object: &Map<String, Value>) -> Option<&str> {
    object
        .get("originId")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
}

/// The tree below a property: its `subObjects`, if it has one.
fn below(config: &Value) -> Option<&Map<String, Value>> {
    config.get("subObjects").and_then(Value::as_object)
}

fn visit(
    object: &mut Map<String, Value>,
    tree: &Map<String, Value>,
    on: &mut dyn FnMut(&mut Map<String, Value>),
) {
    for (key, config) in tree {
        let nested: Vec<&mut Map<String, Value>> = match object.get_mut(key) {
            Some(Value::Object(nested)) => vec![nested],
            Some(Value::Array(items)) => {
                items.iter_mut().filter_map(Value::as_object_mut).collect()
            }
            _ => continue,
        };
        for nested in nested {
            on(nested);
            if let Some(tree) = below(config) {
                visit(nested, tree, on);
            }
        }
    }
}

fn collect(
    object: &Map<String, Value>,
    tree: &Map<String, Value>,
    related: Option<&Map<String, Value>>,
    found: &mut Vec<Saved>,
) {
    for (key, config) in tree {
        let values: Vec<&Value> = match object.get(key) {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(value) => vec![value],
            None => continue,
        };
        for value in values {
            // Cascaded into its own schema: a uuid, with the object under `@self.objects`.
            let (nested, id) = match value {
                Value::String(uuid) => {
                    match related.and_then(|r| r.get(uuid)).and_then(Value::as_object) {
                        Some(nested) => (nested, Some(uuid.as_str())),
                        None => continue,
                    }
                }
                Value::Object(nested) => (nested, nested.get("id").and_then(Value::as_str)),
                _ => continue,
            };
            if let (Some(origin_id), Some(id)) = (origin_id_of(nested), id) {
                found.push(Saved {
                    origin_id: origin_id.to_owned(),
                    target_id: id.to_owned(),
                    object: Value::Object(nested.clone()),
                });
            }
            if let Some(tree) = below(config) {
                collect(nested, tree, related, found);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sub_objects() -> SubObjects {
        let config =
            json!({"subObjects": {"statussen": {}, "rollen": {"subObjects": {"betrokkene": []}}}});
        SubObjects::from_config(config.as_object().unwrap_or(&Map::new())).expect("a tree")
    }

    fn object() -> Value {
        json!({
            "originId": "Z-1",
            "statussen": [{"originId": "S-1", "naam": "open"}, {"naam": "no origin"}, "not an object"],
            "rollen": {"originId": "R-1", "betrokkene": {"originId": "B-1"}},
            "elders": {"originId": "X-1"}
        })
    }

    #[test]
    fn only_the_places_the_tree_names_count() {
        let mut ids = BTreeSet::new();
        sub_objects().origin_ids(&mut object(), &mut ids);
        assert_eq!(ids.into_iter().collect::<Vec<_>>(), ["B-1", "R-1", "S-1"]);
    }

    #[test]
    fn known_origin_ids_give_their_target_ids() {
        let known: HashMap<String, String> = [("S-1", "t-s"), ("B-1", "t-b"), ("X-1", "t-x")]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .into();
        let mut object = object();
        sub_objects().set_ids(&mut object, &known);
        assert_eq!(object["statussen"][0]["id"], "t-s");
        assert_eq!(object["rollen"]["betrokkene"]["id"], "t-b");
        assert!(object["rollen"].get("id").is_none());
        assert!(object["elders"].get("id").is_none(), "not in the tree");
    }

    #[test]
    fn saved_objects_are_found_inline_or_cascaded() {
        let shown = json!({
            "id": "z",
            "statussen": ["u-1", "u-unknown"],
            "rollen": {"id": "r", "originId": "R-1", "betrokkene": {"originId": "B-1"}},
            "@self": {"objects": {"u-1": {"id": "u-1", "originId": "S-1", "naam": "open"}}}
        });
        let found = sub_objects().saved(&shown);
        let pairs: Vec<(&str, &str)> = found
            .iter()
            .map(|s| (s.origin_id.as_str(), s.target_id.as_str()))
            .collect();
        // B-1 has no id where it is shown inline, so there is nothing to remember.
        assert_eq!(pairs, [("S-1", "u-1"), ("R-1", "r")]);
        assert_eq!(found[0].object["naam"], "open");
    }
}
