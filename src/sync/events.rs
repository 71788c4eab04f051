//! OpenRegister object events start push runs: every synchronization whose source is the
//! event's register/schema runs for that object, unless its `triggerOnlyOnEvents` says no.
//! A synchronization whose objects the event's object points at (`triggerFromRelatedObjects`)
//! runs for the object pointed at, read from OpenRegister.

use serde_json::{Map, Value, json};

use super::writer::OpenRegisterTarget;
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

fn source_config(synchronization: &Value) -> Map<String, Value> {
    match synchronization.get("sourceConfig") {
        Some(Value::Object(config)) => crate::call::source::expand_dots(config),
        _ => Map::new(),
    }
}

/// Whether a synchronization's `sourceConfig.triggerOnlyOnEvents` (`"CREATE"` or a list) lets
/// this mutation start it; absent or empty lets every mutation.
fn triggered_by(synchronization: &Value, mutation: Mutation) -> bool {
    let config = source_config(synchronization);
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

/// The relation key through which objects of `related` (`"<register>/<schema>"`) point at a
/// synchronization's objects, when its `triggerFromRelatedObjects` lets this mutation through:
/// `{"<register>/<schema>": {"<relation key>": ["create", "update", "delete"] or ["all"]}}`. As
/// in the PHP app, create and update count as one, delete must be named, and the first relation
/// key is the one read.
fn related_trigger(synchronization: &Value, related: &str, mutation: Mutation) -> Option<String> {
    let config = source_config(synchronization);
    let relations = config
        .get("triggerFromRelatedObjects")?
        .get(related)?
        .as_object()?;
    let (key, mutations) = relations.iter().next()?;
    let names: Vec<String> = mutations
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_ascii_lowercase)
        .collect();
    let named = |name: &str| names.iter().any(|n| n == name);
    let allowed = named("all")
        || match mutation {
            Mutation::Create | Mutation::Update => named("create") || named("update"),
            Mutation::Delete => named("delete"),
        };
    let key = key.trim();
    (allowed && !key.is_empty()).then(|| key.to_owned())
}

/// The uuid of the object a relation value names: the uuid itself, or a URL whose last path
/// segment is one.
fn parent_uuid(reference: &str) -> Option<String> {
    let reference = reference.trim();
    let last = match reqwest::Url::parse(reference) {
        Ok(url) if url.has_host() => url
            .path_segments()?
            .rev()
            .find(|s| !s.is_empty())?
            .to_owned(),
        _ => reference.to_owned(),
    };
    uuid::Uuid::try_parse(&last).ok().map(|_| last)
}

impl Synchronizer {
    /// Runs every synchronization the event triggers, directly or through a related object;
    /// answers each one's log or error.
    pub async fn on_object_event(&self, event: &ObjectEvent) -> Vec<Result<Value, SyncError>> {
        let source = format!("{}/{}", event.register, event.schema);
        let direct = match self.register_synchronizations(Some(source)).await {
            Ok(found) => found,
            Err(error) => return vec![Err(error)],
        };
        let mut outcomes = Vec::new();
        for synchronization in direct.iter().filter(|s| triggered_by(s, event.mutation)) {
            let key = synchronization["id"].to_string();
            outcomes.push(
                self.push(&key, event.object.clone(), event.mutation, false)
                    .await,
            );
        }
        outcomes.extend(self.on_related_object_event(event, &direct).await);
        outcomes
    }

    /// Runs, for the object it points at, each synchronization whose `triggerFromRelatedObjects`
    /// names the event's register/schema (and that the event did not start directly).
    async fn on_related_object_event(
        &self,
        event: &ObjectEvent,
        direct: &[Value],
    ) -> Vec<Result<Value, SyncError>> {
        let related = format!("{}/{}", event.register, event.schema);
        let all = match self.register_synchronizations(None).await {
            Ok(found) => found,
            Err(error) => return vec![Err(error)],
        };
        let mut outcomes = Vec::new();
        for synchronization in &all {
            if direct.iter().any(|d| d["id"] == synchronization["id"])
                || !triggered_by(synchronization, event.mutation)
            {
                continue;
            }
            let Some(relation_key) = related_trigger(synchronization, &related, event.mutation)
            else {
                continue;
            };
            let Some(parent) = super::reader::at_path(&event.object, &relation_key)
                .and_then(Value::as_str)
                .and_then(parent_uuid)
            else {
                continue;
            };
            let key = synchronization["id"].to_string();
            match self.read_register_object(synchronization, &parent).await {
                Ok(Some(object)) => {
                    outcomes.push(self.push(&key, object, Mutation::Update, false).await);
                }
                Ok(None) => {}
                Err(error) => outcomes.push(Err(error)),
            }
        }
        outcomes
    }

    /// The synchronizations that read OpenRegister, those of one `register/schema` or all.
    async fn register_synchronizations(
        &self,
        source: Option<String>,
    ) -> Result<Vec<Value>, SyncError> {
        let mut filters = vec![
            ("sourceType".to_owned(), "register/schema".to_owned()),
            ("_limit".to_owned(), "500".to_owned()),
        ];
        if let Some(source) = source {
            filters.push(("sourceId".to_owned(), source));
        }
        let page = self
            .db
            .run(move |conn| {
                let query = ListQuery::parse(&SYNCHRONIZATION, &filters, false)
                    .map_err(StoreError::Invalid)?;
                store::list(conn, &SYNCHRONIZATION, &query)
            })
            .await?;
        Ok(page.results)
    }

    /// An object of the register/schema a synchronization reads.
    async fn read_register_object(
        &self,
        synchronization: &Value,
        uuid: &str,
    ) -> Result<Option<Value>, SyncError> {
        let problem = |problem: String| SyncError::Config {
            field: "triggerFromRelatedObjects",
            problem,
        };
        let settings = self.register.clone().ok_or_else(|| {
            problem("OpenRegister is not configured: set OPENCONNECTOR_OPENREGISTER_URL".into())
        })?;
        let source = synchronization["sourceId"].as_str().unwrap_or_default();
        let register =
            OpenRegisterTarget::new(self.http.clone(), settings, source).map_err(problem)?;
        register
            .fetch(uuid, false)
            .await
            .map_err(|error| problem(format!("the object {uuid} could not be read: {error}")))
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
    fn related_triggers_name_a_relation_key_and_the_mutations() {
        let sync = json!({"sourceConfig": {"triggerFromRelatedObjects": {
            "1/rol": {"zaak": ["create"]}, "1/besluit": {" zaak.url ": ["delete"]}, "1/x": {"a": ["ALL"]}
        }}});
        assert_eq!(
            related_trigger(&sync, "1/rol", Mutation::Update).as_deref(),
            Some("zaak")
        );
        assert_eq!(related_trigger(&sync, "1/rol", Mutation::Delete), None);
        assert_eq!(
            related_trigger(&sync, "1/besluit", Mutation::Delete).as_deref(),
            Some("zaak.url")
        );
        assert_eq!(related_trigger(&sync, "1/besluit", Mutation::Create), None);
        assert_eq!(
            related_trigger(&sync, "1/x", Mutation::Delete).as_deref(),
            Some("a")
        );
        assert_eq!(related_trigger(&sync, "2/rol", Mutation::Create), None);
        let uuid = "11111111-2222-4333-8444-555555555555";
        assert_eq!(parent_uuid(uuid).as_deref(), Some(uuid));
        assert_eq!(
            parent_uuid(&format!("https://h/api/zaken/{uuid}/")).as_deref(),
            Some(uuid)
        );
        assert_eq!(parent_uuid(&format!("https://h/api/{uuid}/x")), None);
        assert_eq!(parent_uuid("Z-1"), None);
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
