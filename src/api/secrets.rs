//! Secrets inside stored configuration (passwords, client secrets, keys, tokens) never leave
//! through the API: answers show a mask, and a mask sent back keeps the stored value, so a
//! client can read an object, change a field and send it back whole.

use serde_json::{Map, Value};

use crate::call::calllog::REDACTED;
#[cfg(test)]
use crate::db;
use crate::db::Entity;

/// The JSON fields of each entity that may hold secrets.
const SECRET_HOLDERS: [(&str, &str); 3] = [
    ("Source", "configuration"),
    ("Consumer", "authorizationConfiguration"),
    ("EventSubscription", "protocolSettings"),
];

/// Key names (the last part of a dot key, any case) whose values are secret.
const SECRET_NAMES: [&str; 13] = [
    "password",
    "secret",
    "client_secret",
    "private_key",
    "ssl_key",
    "token",
    "access_token",
    "refresh_token",
    "apikey",
    "api_key",
    "authorization",
    "proxy-authorization",
    "x-api-key",
];

fn holders(entity: &Entity) -> impl Iterator<Item = &'static str> + '_ {
    SECRET_HOLDERS
        .iter()
        .filter(move |(name, _)| *name == entity.name)
        .map(|(_, field)| *field)
}

fn is_secret(key: &str, inside_authentication: bool) -> bool {
    let last = key.rsplit('.').next().unwrap_or(key).to_ascii_lowercase();
    SECRET_NAMES.contains(&last.as_str())
        || last.contains("secret")
        || last.contains("password")
        || (inside_authentication && last == "value")
        || (key.starts_with("authentication.") && last == "value")
}

/// Whether a value is a template (a `{{ … }}` placement, not a secret itself).
fn is_template(value: &Value) -> bool {
    value.as_str().is_some_and(|s| s.contains("{{"))
}

fn mask_value(value: &mut Value, inside_authentication: bool) {
    match value {
        Value::Object(object) => {
            for (key, child) in object.iter_mut() {
                let inside = inside_authentication || key == "authentication";
                if is_secret(key, inside)
                    && !child.is_null()
                    && !is_template(child)
                    && !child.is_object()
                {
                    *child = Value::String(REDACTED.into());
                } else {
                    mask_value(child, inside);
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| mask_value(item, inside_authentication)),
        _ => {}
    }
}

/// Replaces every secret of an entity's wire object with the mask.
pub fn mask(entity: &Entity, item: &mut Value) {
    for field in holders(entity) {
        if let Some(value) = item.get_mut(field) {
            mask_value(value, false);
        }
    }
}

/// Where `input` holds the mask, puts back the value `current` has at that place.
fn restore_value(input: &mut Value, current: Option<&Value>) {
    match input {
        Value::String(text) if text == REDACTED => {
            if let Some(current) = current {
                *input = current.clone();
            }
        }
        Value::Object(object) => {
            for (key, child) in object.iter_mut() {
                restore_value(child, current.and_then(|c| c.get(key)));
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter_mut().enumerate() {
                restore_value(child, current.and_then(|c| c.get(i)));
            }
        }
        _ => {}
    }
}

/// Restores masked secrets in an update's `input` from the stored object.
pub fn restore(entity: &Entity, input: &mut Map<String, Value>, current: &Value) {
    for field in holders(entity) {
        if let Some(value) = input.get_mut(field) {
            restore_value(value, current.get(field));
        }
    }
}

/// Removes the masks left in `input` (secrets an export could not carry) and answers where
/// they were, as dot paths, so the caller can say which secrets still have to be set.
pub fn strip_masks(entity: &Entity, input: &mut Map<String, Value>) -> Vec<String> {
    fn strip(value: &mut Value, place: String, removed: &mut Vec<String>) {
        if let Value::Object(object) = value {
            object.retain(|key, child| {
                let here = format!("{place}.{key}");
                if child.as_str() == Some(REDACTED) {
                    removed.push(here);
                    false
                } else {
                    strip(child, here, removed);
                    true
                }
            });
        }
    }
    let mut removed = Vec::new();
    for field in holders(entity) {
        if let Some(value) = input.get_mut(field) {
            strip(value, field.to_owned(), &mut removed);
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_masked_and_templates_are_not() {
        let mut source = json!({"configuration": {
            "headers.Authorization": "Bearer {{ oauthToken(source) }}",
            "headers.X-Api-Key": "plain",
            "authentication": {"type": "apiKey", "value": "k1", "client_secret": "s", "tokenUrl": "http://t"},
            "authentication.password": "p",
            "query.limit": "10"
        }});
        mask(&db::SOURCE, &mut source);
        assert_eq!(
            source,
            json!({"configuration": {
                "headers.Authorization": "Bearer {{ oauthToken(source) }}",
                "headers.X-Api-Key": REDACTED,
                "authentication": {"type": "apiKey", "value": REDACTED, "client_secret": REDACTED, "tokenUrl": "http://t"},
                "authentication.password": REDACTED,
                "query.limit": "10"
            }})
        );
    }

    #[test]
    fn a_mask_sent_back_keeps_the_stored_secret() {
        let current =
            json!({"configuration": {"authentication": {"client_secret": "s", "scope": "a"}}});
        let mut input =
            json!({"configuration": {"authentication": {"client_secret": REDACTED, "scope": "b"}}})
                .as_object()
                .cloned()
                .unwrap_or_default();
        restore(&db::SOURCE, &mut input, &current);
        assert_eq!(
            Value::Object(input),
            json!({"configuration": {"authentication": {"client_secret": "s", "scope": "b"}}})
        );
    }
}
