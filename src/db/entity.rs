//! Entity descriptors: which fields a table has, their wire names and types, and how a JSON
//! value becomes a bound parameter and a stored text becomes JSON again.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat};
use serde_json::{Map, Value};

use super::BackendKind;
use super::entities::*;
use super::sql::Bind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Uuid,
    /// Short text, up to 255 characters (indexed columns).
    Str,
    Text,
    Int,
    Bool,
    /// A JSON object or array, stored as text.
    Json,
    /// A UTC timestamp, RFC 3339 on the wire.
    Time,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldDefault {
    NoDefault,
    Str(&'static str),
    Int(i64),
    Bool(bool),
    /// JSON text.
    Json(&'static str),
    /// The time of the insert.
    Now,
}

#[derive(Debug)]
pub struct Field {
    /// camelCase name on the wire.
    pub name: &'static str,
    /// snake_case column name.
    pub column: &'static str,
    pub ty: FieldType,
    pub default: FieldDefault,
}

#[derive(Debug)]
pub struct Entity {
    pub name: &'static str,
    /// Table name without the prefix.
    pub table: &'static str,
    /// Path of the collection under `/api`.
    pub path: &'static str,
    pub fields: &'static [Field],
    /// Fields `_search` looks in.
    pub search: &'static [&'static str],
    /// Fields a create must give (and an update may not empty).
    pub required: &'static [&'static str],
    pub has_slug: bool,
    pub has_version: bool,
    pub created: Option<&'static str>,
    pub updated: Option<&'static str>,
    /// Fields of the PHP app that are accepted and ignored, so old exports load.
    pub legacy: &'static [&'static str],
}

/// Every stored entity, in the order migrations create them.
pub static ENTITIES: [&Entity; 16] = [
    &SOURCE,
    &ENDPOINT,
    &MAPPING,
    &SYNCHRONIZATION,
    &CONTRACT,
    &RULE,
    &JOB,
    &CONSUMER,
    &EVENT,
    &EVENT_SUBSCRIPTION,
    &EVENT_MESSAGE,
    &CALL_LOG,
    &JOB_LOG,
    &SYNCHRONIZATION_LOG,
    &CONTRACT_LOG,
    &ENDPOINT_LOG,
];

/// Old spellings that real configurations carry, with the field they mean.
const ALIASES: [(&str, &str); 1] = [("passTrough", "passThrough")];

const MAX_STR: usize = 255;

impl Field {
    pub const fn new(
        name: &'static str,
        column: &'static str,
        ty: FieldType,
        default: FieldDefault,
    ) -> Self {
        Self {
            name,
            column,
            ty,
            default,
        }
    }

    /// What the field expects, in words for an error message.
    pub fn expected(&self) -> &'static str {
        match self.ty {
            FieldType::Uuid => "a UUID",
            FieldType::Str => "a string of at most 255 characters",
            FieldType::Text => "a string",
            FieldType::Int => "an integer",
            FieldType::Bool => "a boolean",
            FieldType::Json => "a JSON object or array",
            FieldType::Time => "a date-time such as 2026-01-31T12:00:00Z",
        }
    }

    /// Turns a wire value into a bind; `Err` carries the problem for the field's error entry.
    pub fn to_bind(&self, value: &Value) -> Result<Bind, String> {
        let wrong = || Err(format!("expected {}", self.expected()));
        Ok(match (self.ty, value) {
            (FieldType::Int, Value::Null) => Bind::Int(None),
            (FieldType::Bool, Value::Null) => Bind::Bool(None),
            (FieldType::Time, Value::Null) => Bind::Time(None),
            (_, Value::Null) => Bind::Text(None),
            (FieldType::Uuid, Value::String(s)) if uuid::Uuid::parse_str(s).is_ok() => {
                Bind::Text(Some(s.to_ascii_lowercase()))
            }
            (FieldType::Str, Value::String(s)) if s.chars().count() <= MAX_STR => {
                Bind::Text(Some(s.clone()))
            }
            (FieldType::Text, Value::String(s)) => Bind::Text(Some(s.clone())),
            // PHP configurations write ids as numbers where the column is a string.
            (FieldType::Str | FieldType::Text, Value::Number(n)) => Bind::Text(Some(n.to_string())),
            (FieldType::Int, Value::Number(n)) => match n.as_i64() {
                Some(i) => Bind::Int(Some(i)),
                None => return wrong(),
            },
            (FieldType::Int, Value::String(s)) => match s.trim().parse() {
                Ok(i) => Bind::Int(Some(i)),
                Err(_) => return wrong(),
            },
            (FieldType::Bool, Value::Bool(b)) => Bind::Bool(Some(*b)),
            (FieldType::Bool, other) => match parse_bool(other) {
                Some(b) => Bind::Bool(Some(b)),
                None => return wrong(),
            },
            (FieldType::Json, Value::Object(_) | Value::Array(_)) => {
                Bind::Text(Some(value.to_string()))
            }
            (FieldType::Time, Value::String(s)) => match parse_time(s) {
                Some(t) => Bind::Time(Some(t)),
                None => return wrong(),
            },
            _ => return wrong(),
        })
    }

    /// A filter value from a query string, typed for this field.
    pub fn filter_bind(&self, text: &str) -> Result<Bind, String> {
        if self.ty == FieldType::Json {
            return Err("cannot filter on a JSON field".into());
        }
        self.to_bind(&Value::String(text.to_owned()))
    }

    /// The default bind for a create that does not name this field.
    pub fn default_bind(&self) -> Option<Bind> {
        match self.default {
            FieldDefault::NoDefault | FieldDefault::Now => None,
            FieldDefault::Str(s) => Some(Bind::Text(Some(s.to_owned()))),
            FieldDefault::Int(i) => Some(Bind::Int(Some(i))),
            FieldDefault::Bool(b) => Some(Bind::Bool(Some(b))),
            FieldDefault::Json(j) => Some(Bind::Text(Some(j.to_owned()))),
        }
    }

    /// Turns the stored text back into a wire value.
    pub fn to_json(&self, text: Option<String>) -> Value {
        let Some(text) = text else { return Value::Null };
        match self.ty {
            FieldType::Int => text.parse::<i64>().map_or(Value::String(text), Value::from),
            FieldType::Bool => Value::Bool(matches!(text.as_str(), "1" | "t" | "true" | "TRUE")),
            FieldType::Json => serde_json::from_str(&text).unwrap_or(Value::String(text)),
            FieldType::Time => match parse_time(&text) {
                Some(t) => Value::String(format_time(t)),
                None => Value::String(text),
            },
            FieldType::Uuid | FieldType::Str | FieldType::Text => Value::String(text),
        }
    }

    /// The select expression that reads this column of `table` as text on `backend`.
    fn select_expr(&self, table: &str, backend: BackendKind) -> String {
        let column = format!("{table}.{}", self.column);
        match (self.ty, backend) {
            (FieldType::Int | FieldType::Bool | FieldType::Time, BackendKind::Mysql) => {
                format!("CAST({column} AS CHAR)")
            }
            (FieldType::Int | FieldType::Bool | FieldType::Time, _) => {
                format!("CAST({column} AS TEXT)")
            }
            _ => column,
        }
    }
}

impl Entity {
    /// A field by wire name, known alias, or column name.
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        let name = ALIASES
            .iter()
            .find(|(old, _)| *old == name)
            .map_or(name, |(_, new)| new);
        self.fields
            .iter()
            .find(|f| f.name == name || f.column == name)
    }

    /// A field a request body may name: its wire name or a known alias.
    pub fn input_field(&self, name: &str) -> Option<&'static Field> {
        let name = ALIASES
            .iter()
            .find(|(old, _)| *old == name)
            .map_or(name, |(_, new)| new);
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn has_field(&self, name: &str) -> bool {
        self.fields.iter().any(|f| f.name == name)
    }

    /// Whether `name` is written by the store itself and ignored in requests.
    pub fn is_read_only(&self, name: &str) -> bool {
        name == "id" || Some(name) == self.created || Some(name) == self.updated
    }

    pub fn is_legacy(&self, name: &str) -> bool {
        self.legacy.contains(&name)
    }

    /// `id` and every field of `table`, read as text, in the order [`Entity::row_to_json`]
    /// expects. Columns are qualified so the list also serves joins.
    pub(super) fn select_list(&self, table: &str, backend: BackendKind) -> String {
        select_expressions(self.fields.iter(), table, backend)
    }

    /// `id` and the fields named (wire names) of `table`, read as text, in that order: for
    /// hot reads that need a few columns, not the whole row.
    pub fn select_fields(&self, table: &str, backend: BackendKind, names: &[&str]) -> String {
        let fields = names
            .iter()
            .filter_map(|name| self.fields.iter().find(|f| f.name == *name));
        select_expressions(fields, table, backend)
    }

    /// A row of [`Entity::select_list`] as a wire object.
    pub fn row_to_json(&self, values: Vec<Option<String>>) -> Value {
        let mut object = Map::with_capacity(self.fields.len() + 1);
        let mut values = values.into_iter();
        let id = values.next().flatten().and_then(|s| s.parse::<i64>().ok());
        object.insert("id".into(), id.map_or(Value::Null, Value::from));
        for (field, text) in self.fields.iter().zip(values) {
            object.insert(field.name.into(), field.to_json(text));
        }
        Value::Object(object)
    }
}

/// The select list of `id` and `fields` of `table`, each read as text.
fn select_expressions<'f>(
    fields: impl Iterator<Item = &'f Field>,
    table: &str,
    backend: BackendKind,
) -> String {
    static ID: Field = Field::new("id", "id", FieldType::Int, FieldDefault::NoDefault);
    std::iter::once(&ID)
        .chain(fields)
        .map(|f| f.select_expr(table, backend))
        .collect::<Vec<_>>()
        .join(", ")
}

/// PHP-style booleans from query strings and old configurations.
pub fn parse_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|i| i != 0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Some(true),
            "false" | "0" | "no" | "off" | "" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Reads RFC 3339, `YYYY-MM-DD HH:MM:SS[.f]` (as databases print) or a bare date, as UTC.
pub fn parse_time(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.naive_utc());
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t);
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
}

/// A new row's uuid. Time-ordered (version 7): a table's uuid index then grows at its end
/// rather than at random places, so a batch of log rows touches a few index pages instead of
/// one per row.
pub fn new_row_uuid() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// ISO 8601 with offset, as the PHP app's `c` format prints it, with fractions of a second
/// when there are any (change detection compares these times).
pub fn format_time(time: NaiveDateTime) -> String {
    time.and_utc().to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_required_search_and_timestamp_field_exists() {
        for entity in ENTITIES {
            let named = entity
                .required
                .iter()
                .chain(entity.search)
                .chain(entity.created.iter())
                .chain(entity.updated.iter());
            for name in named {
                assert!(
                    entity.has_field(name),
                    "{}.{name} is not a field",
                    entity.name
                );
            }
            assert_eq!(entity.has_slug, entity.has_field("slug"), "{}", entity.name);
            assert_eq!(
                entity.has_version,
                entity.has_field("version"),
                "{}",
                entity.name
            );
        }
    }

    #[test]
    fn wire_values_become_typed_binds_or_name_the_expectation() {
        let port = Field::new("port", "port", FieldType::Int, FieldDefault::NoDefault);
        assert_eq!(port.to_bind(&json!(42)), Ok(Bind::Int(Some(42))));
        assert_eq!(port.to_bind(&json!("42")), Ok(Bind::Int(Some(42))));
        assert_eq!(port.to_bind(&json!("x")), Err("expected an integer".into()));
        let flag = Field::new("on", "on", FieldType::Bool, FieldDefault::NoDefault);
        assert_eq!(flag.to_bind(&json!("false")), Ok(Bind::Bool(Some(false))));
        assert!(flag.to_bind(&json!({})).is_err());
        let config = Field::new("c", "c", FieldType::Json, FieldDefault::NoDefault);
        assert!(config.to_bind(&json!("text")).is_err());
        let name = Field::new("n", "n", FieldType::Str, FieldDefault::NoDefault);
        assert!(name.to_bind(&json!("x".repeat(256))).is_err());
        assert_eq!(name.to_bind(&json!(7)), Ok(Bind::Text(Some("7".into()))));
    }

    #[test]
    fn times_read_in_every_database_spelling_and_print_with_offset() {
        let expected = parse_time("2026-01-31T12:00:00Z");
        assert!(expected.is_some());
        assert_eq!(parse_time("2026-01-31 12:00:00"), expected);
        assert_eq!(parse_time("2026-01-31 12:00:00.000000"), expected);
        assert_eq!(parse_time("2026-01-31T13:00:00+01:00"), expected);
        assert_eq!(
            expected.map(format_time).as_deref(),
            Some("2026-01-31T12:00:00+00:00")
        );
    }
}
