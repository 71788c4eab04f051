//! OpenRegister object events start push runs: every synchronization whose source is the
//! event's register/schema runs for that object, unless its `triggerOnlyOnEvents` says no.

use serde_json::{Map, Value, json};

use super::{Mutation, SyncError, Synchronizer};
use crate::db::SYNCHRONIZATION;
use crate::db::listing::ListQuery;
use crate::db::store::{self, StoreError};

/// One object event, as Nextcloud's webhook listeners deliver it.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectEvent {
    pub mutation: Mutation,
    pub register: String,
    pub schema: String,
    /// The object with its `@self` (id, register, schema).
    pub object: Value,
}

fn id_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl ObjectEvent {
    /// Reads a webhook body: `{"event": {"class": "…ObjectCreatedEvent", "object": {...}}}`.
    /// The object may be serialized with its `@self`, or as the stored entity (`uuid`,
    /// `register`, `schema` and the data under `object`).
    pub fn from_webhook(payload: &Value) -> Option<Self> {
        let event = payload.get("event")?;
        let class = event
            .get("class")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let mutation = if class.contains("Created") {
            Mutation::Create
        } else if class.contains("Updated") {
            Mutation::Update
        } else if class.contains("Deleted") {
            Mutation::Delete
        } else {
            return None;
        };
        let entity = ["object", "newObject", "entity"]
            .iter()
            .find_map(|key| event.get(*key).filter(|v| v.is_object()))?;
        if let Some(meta) = entity.get("@self") {
            return Some(Self {
                mutation,
                register: id_text(meta.get("register"))?,
                schema: id_text(meta.get("schema"))?,
                object: entity.clone(),
            });
        }
        let register = id_text(entity.get("register"))?;
        let schema = id_text(entity.get("schema"))?;
        let id = id_text(entity.get("uuid")).or_else(|| id_text(entity.get("id")))?;
        let mut object: Map<String, Value> = entity
            .get("object")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        object.insert(
            "@self".into(),
            json!({"id": id, "register": register, "schema": schema}),
        );
        Some(Self {
            mutation,
            register,
            schema,
            object: Value::Object(object),
        })
    }
}

/// Whether a synchronization's `sourceConfig.triggerOnlyOnEvents` (`"CREATE"` or a list) lets
/// this mutation start it; absent or empty lets every mutation.
fn triggered_by(synchronization: &Value, mutation: Mutation) -> bool {
    let config = match synchronization.get("sourceConfig") {
        Some(Value::Object(config)) => crate::call::source::expand_dots(config),
        _ => Map::new(),
    };
    let names: Vec<String> = match config.get("triggerOnlyOnEvents") {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(many)) => many
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    names.is_empty()
        || names
            .iter()
            .any(|name| name.eq_ignore_ascii_case(mutation.as_str()))
}

impl Synchronizer {
    /// Runs every synchronization the event triggers; answers each one's log or error.
    pub async fn on_object_event(&self, event: &ObjectEvent) -> Vec<Result<Value, SyncError>> {
        let source = format!("{}/{}", event.register, event.schema);
        let filters = vec![
            ("sourceType".to_owned(), "register/schema".to_owned()),
            ("sourceId".to_owned(), source),
            ("_limit".to_owned(), "500".to_owned()),
        ];
        let found = self
            .db
            .run(move |conn| {
                let query = ListQuery::parse(&SYNCHRONIZATION, &filters, false)
                    .map_err(StoreError::Invalid)?;
                store::list(conn, &SYNCHRONIZATION, &query)
            })
            .await;
        let synchronizations = match found {
            Ok(page) => page.results,
            Err(error) => return vec![Err(error.into())],
        };
        let mut outcomes = Vec::new();
        for synchronization in synchronizations
            .iter()
            .filter(|s| triggered_by(s, event.mutation))
        {
            let key = synchronization["id"].to_string();
            outcomes.push(
                self.push(&key, event.object.clone(), event.mutation, false)
                    .await,
            );
        }
        outcomes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_serializations_of_an_object_are_read() {
        let with_self = json!({"event": {"class": "OCA\\OpenRegister\\Event\\ObjectUpdatedEvent",
            "object": {"title": "A", "@self": {"id": "u-1", "register": 1, "schema": "zaak"}}}});
        let event = ObjectEvent::from_webhook(&with_self).unwrap();
        assert_eq!(
            (
                event.mutation,
                event.register.as_str(),
                event.schema.as_str()
            ),
            (Mutation::Update, "1", "zaak")
        );
        let entity = json!({"event": {"class": "OCA\\OpenRegister\\Event\\ObjectCreatedEvent",
            "object": {"uuid": "u-2", "register": "5", "schema": 6, "object": {"title": "B"}}}});
        let event = ObjectEvent::from_webhook(&entity).unwrap();
        assert_eq!(
            event.object,
            json!({"title": "B", "@self": {"id": "u-2", "register": "5", "schema": "6"}})
        );
        assert!(ObjectEvent::from_webhook(&json!({"event": {"class": "Other"}})).is_none());
    }

    #[test]
    fn trigger_only_on_events_limits_the_mutations() {
        let only_create = json!({"sourceConfig": {"triggerOnlyOnEvents": "CREATE"}});
        assert!(triggered_by(&only_create, Mutation::Create));
        assert!(!triggered_by(&only_create, Mutation::Delete));
        let some = json!({"sourceConfig": {"triggerOnlyOnEvents": ["UPDATE", "DELETE"]}});
        assert!(triggered_by(&some, Mutation::Delete));
        assert!(!triggered_by(&some, Mutation::Create));
        assert!(triggered_by(&json!({}), Mutation::Create));
    }
}
