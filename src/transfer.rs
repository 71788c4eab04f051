//! Import and export of configurations, so that a working set-up moves between installations:
//! a whole configuration as one bundle (`{"components": {"sources": {<slug>: {…}}, …}}`, the
//! PHP app's configuration format), or one object as JSON-LD (`@type`, `@id`, the PHP app's
//! per-object files). References between objects travel as slugs and are turned back into
//! ids on import; local state (ids, times, run state) stays home, and secrets leave masked.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::api::{secrets, validate};
use crate::db::listing::ListQuery;
use crate::db::store::{self, Key, StoreError};
use crate::db::{Conn, ENDPOINT, Entity, FieldType, JOB, MAPPING, RULE, SOURCE, SYNCHRONIZATION};
use crate::error::AppError;

/// The kinds of object a configuration is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Source,
    Mapping,
    Rule,
    Endpoint,
    Synchronization,
    Job,
}

/// Import order: what an object refers to is, as far as possible, there before it.
const ORDER: [Kind; 6] = [
    Kind::Source,
    Kind::Mapping,
    Kind::Rule,
    Kind::Endpoint,
    Kind::Synchronization,
    Kind::Job,
];

impl Kind {
    /// A kind by its type name (`source`) or component name (`sources`), in any case.
    pub fn parse(text: &str) -> Option<Self> {
        let lower = text.trim().to_ascii_lowercase();
        ORDER
            .into_iter()
            .find(|kind| kind.type_name() == lower || kind.component() == lower)
    }

    pub fn type_name(self) -> &'static str {
        match self {
            Self::Source => "source",
            Self::Mapping => "mapping",
            Self::Rule => "rule",
            Self::Endpoint => "endpoint",
            Self::Synchronization => "synchronization",
            Self::Job => "job",
        }
    }

    fn component(self) -> &'static str {
        match self {
            Self::Source => "sources",
            Self::Mapping => "mappings",
            Self::Rule => "rules",
            Self::Endpoint => "endpoints",
            Self::Synchronization => "synchronizations",
            Self::Job => "jobs",
        }
    }

    fn entity(self) -> &'static Entity {
        match self {
            Self::Source => &SOURCE,
            Self::Mapping => &MAPPING,
            Self::Rule => &RULE,
            Self::Endpoint => &ENDPOINT,
            Self::Synchronization => &SYNCHRONIZATION,
            Self::Job => &JOB,
        }
    }
}

fn type_names() -> String {
    ORDER.map(Kind::type_name).join(", ")
}

/// Fields that hold one installation's state of an object rather than its configuration.
const LOCAL_FIELDS: [&str; 24] = [
    "id",
    "uuid",
    "created",
    "updated",
    "dateCreated",
    "dateModified",
    "lastRun",
    "nextRun",
    "status",
    "jobListId",
    "currentPage",
    "sourceHash",
    "targetHash",
    "sourceLastChanged",
    "sourceLastChecked",
    "sourceLastSynced",
    "targetLastChanged",
    "targetLastChecked",
    "targetLastSynced",
    "lastCall",
    "lastSync",
    "objectCount",
    "rateLimitRemaining",
    "rateLimitReset",
];

/// The JSON-LD keys of a per-object file.
const LINKED_DATA_KEYS: [&str; 3] = ["@context", "@type", "@id"];

/// Calls `visit` with every value of `object` that names another object: the kind it names,
/// where it is (a dot path) and the value.
fn for_each_reference(
    kind: Kind,
    object: &mut Map<String, Value>,
    visit: &mut dyn FnMut(Kind, String, &mut Value),
) {
    let text = |object: &Map<String, Value>, field: &str| {
        object
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let mut one = |object: &mut Map<String, Value>, field: &str, target: Kind| {
        if let Some(value) = object.get_mut(field) {
            visit(target, field.to_owned(), value);
        }
    };
    match kind {
        Kind::Synchronization => {
            if text(object, "sourceType") != "register/schema" {
                one(object, "sourceId", Kind::Source);
            }
            if text(object, "targetType") == "api" {
                one(object, "targetId", Kind::Source);
            }
            for field in [
                "sourceTargetMapping",
                "targetSourceMapping",
                "sourceHashMapping",
            ] {
                one(object, field, Kind::Mapping);
            }
            visit_list(object, "actions", Kind::Rule, visit);
            visit_list(object, "followUps", Kind::Synchronization, visit);
        }
        Kind::Endpoint => {
            if text(object, "targetType") == "api" {
                one(object, "targetId", Kind::Source);
            }
            one(object, "inputMapping", Kind::Mapping);
            one(object, "outputMapping", Kind::Mapping);
            visit_list(object, "rules", Kind::Rule, visit);
        }
        Kind::Job => {
            if let Some(Value::Object(arguments)) = object.get_mut("arguments") {
                for (field, target) in [
                    ("synchronizationId", Kind::Synchronization),
                    ("endpointId", Kind::Endpoint),
                    ("sourceId", Kind::Source),
                ] {
                    if let Some(value) = arguments.get_mut(field) {
                        visit(target, format!("arguments.{field}"), value);
                    }
                }
            }
        }
        Kind::Rule => {
            if let Some(configuration) = object.get_mut("configuration") {
                visit_rule_configuration(configuration, "configuration".into(), visit);
            }
        }
        Kind::Source | Kind::Mapping => {}
    }
}

fn visit_list(
    object: &mut Map<String, Value>,
    field: &str,
    target: Kind,
    visit: &mut dyn FnMut(Kind, String, &mut Value),
) {
    if let Some(Value::Array(items)) = object.get_mut(field) {
        for (i, item) in items.iter_mut().enumerate() {
            visit(target, format!("{field}.{i}"), item);
        }
    }
}

/// A rule's configuration names other objects under keys like `source` or `mappingId`, at
/// any depth (`fetch_file.source`).
fn visit_rule_configuration(
    value: &mut Value,
    place: String,
    visit: &mut dyn FnMut(Kind, String, &mut Value),
) {
    match value {
        Value::Object(object) => {
            for (key, child) in object.iter_mut() {
                let here = format!("{place}.{key}");
                let named = Kind::parse(key.strip_suffix("Id").unwrap_or(key))
                    .filter(|_| !key.ends_with('s'));
                match named {
                    Some(target) if child.is_string() || child.is_number() => {
                        visit(target, here, child)
                    }
                    _ => visit_rule_configuration(child, here, visit),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                visit_rule_configuration(item, format!("{place}.{i}"), visit);
            }
        }
        _ => {}
    }
}

/// Every stored object of each kind, in import order.
type RowsByKind = Vec<(Kind, Vec<Value>)>;

/// A bundle's object with its kind and slug.
type BundleObject = (Kind, String, Map<String, Value>);

/// Ids, slugs and uuids of the objects of one kind.
#[derive(Default)]
struct Names {
    slug_by_id: HashMap<i64, String>,
    id_by_slug: HashMap<String, i64>,
    id_by_uuid: HashMap<String, i64>,
}

/// Every object of the six kinds by id, slug and uuid: what turns references around.
#[derive(Default)]
struct Directory(HashMap<Kind, Names>);

impl Directory {
    fn load(conn: &mut Conn) -> Result<(Self, RowsByKind), StoreError> {
        let mut directory = Self::default();
        let mut rows = Vec::with_capacity(ORDER.len());
        for kind in ORDER {
            let objects = store::all(conn, kind.entity())?;
            objects.iter().for_each(|row| directory.add(kind, row));
            rows.push((kind, objects));
        }
        Ok((directory, rows))
    }

    fn add(&mut self, kind: Kind, row: &Value) {
        let Some(id) = row.get("id").and_then(Value::as_i64) else {
            return;
        };
        let names = self.0.entry(kind).or_default();
        if let Some(slug) = row.get("slug").and_then(Value::as_str) {
            names.slug_by_id.insert(id, slug.to_owned());
            names.id_by_slug.insert(slug.to_owned(), id);
        }
        if let Some(uuid) = row.get("uuid").and_then(Value::as_str) {
            names.id_by_uuid.insert(uuid.to_owned(), id);
        }
    }

    /// The slug of the object a stored reference (an id, as number or text, or a uuid) names.
    fn slug_of(&self, kind: Kind, reference: &Value) -> Option<&str> {
        let names = self.0.get(&kind)?;
        let id = match reference {
            Value::Number(number) => number.as_i64()?,
            Value::String(text) => match text.trim().parse::<i64>() {
                Ok(id) => id,
                Err(_) => *names.id_by_uuid.get(&text.to_ascii_lowercase())?,
            },
            _ => return None,
        };
        names.slug_by_id.get(&id).map(String::as_str)
    }

    /// The id of the object a travelling reference (a slug, a uuid or an id of here) names.
    fn id_of(&self, kind: Kind, reference: &Value) -> Option<i64> {
        let names = self.0.get(&kind)?;
        match reference {
            Value::Number(number) => number
                .as_i64()
                .filter(|id| names.slug_by_id.contains_key(id)),
            Value::String(text) => {
                let text = text.trim();
                names
                    .id_by_slug
                    .get(text)
                    .or_else(|| names.id_by_uuid.get(&text.to_ascii_lowercase()))
                    .copied()
                    .or_else(|| {
                        text.parse::<i64>()
                            .ok()
                            .filter(|id| names.slug_by_id.contains_key(id))
                    })
            }
            _ => None,
        }
    }
}

/// An object as it travels: local state dropped, references as slugs, secrets masked.
fn portable(kind: Kind, mut row: Value, directory: &Directory) -> Map<String, Value> {
    secrets::mask(kind.entity(), &mut row);
    let Value::Object(mut object) = row else {
        return Map::new();
    };
    for field in LOCAL_FIELDS {
        object.remove(field);
    }
    for_each_reference(kind, &mut object, &mut |target, _, value| {
        if let Some(slug) = directory.slug_of(target, value) {
            *value = Value::String(slug.to_owned());
        }
    });
    object
}

/// The whole configuration as one bundle.
pub fn export_all(conn: &mut Conn) -> Result<Value, StoreError> {
    let (directory, rows) = Directory::load(conn)?;
    let mut components = Map::new();
    for (kind, objects) in rows {
        let mut by_slug = Map::new();
        for row in objects {
            let object = portable(kind, row, &directory);
            let slug = object
                .get("slug")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            by_slug.insert(slug, Value::Object(object));
        }
        components.insert(kind.component().to_owned(), Value::Object(by_slug));
    }
    Ok(json!({
        "info": {
            "title": "OpenConnector configuration",
            "version": env!("CARGO_PKG_VERSION"),
            "exported": crate::db::format_time(chrono::Utc::now().naive_utc()),
        },
        "components": components,
    }))
}

/// One exported object: its file name and its JSON-LD document.
pub struct ExportedObject {
    pub file_name: String,
    pub document: Value,
}

/// One object as JSON-LD, or `None` when there is no such object.
pub fn export_one(
    conn: &mut Conn,
    kind: Kind,
    key: &Key,
) -> Result<Option<ExportedObject>, StoreError> {
    let Some(row) = store::find(conn, kind.entity(), key)? else {
        return Ok(None);
    };
    let (directory, _) = Directory::load(conn)?;
    let reference = match row.get("reference").and_then(Value::as_str) {
        Some(reference) if !reference.trim().is_empty() => reference.to_owned(),
        _ => format!(
            "urn:uuid:{}",
            row.get("uuid").and_then(Value::as_str).unwrap_or_default()
        ),
    };
    let object = portable(kind, row, &directory);
    let label = |field: &str| {
        object
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .collect::<String>()
    };
    let type_name = kind.type_name();
    let file_name = format!(
        "{}{}-{}-v{}.json",
        type_name[..1].to_ascii_uppercase(),
        &type_name[1..],
        label("name"),
        label("version"),
    );
    let mut document = Map::new();
    document.insert(
        "@context".into(),
        json!({"schema": "http://schema.org", "register": "Not Implemented"}),
    );
    document.insert("@type".into(), type_name.into());
    document.insert("@id".into(), reference.into());
    document.extend(object);
    Ok(Some(ExportedObject {
        file_name,
        document: Value::Object(document),
    }))
}

/// An object an import touched.
#[derive(Debug, Serialize)]
pub struct Touched {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub slug: String,
    pub id: i64,
    pub name: Option<String>,
}

/// What an import did.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub message: String,
    pub created: Vec<Touched>,
    pub updated: Vec<Touched>,
    pub unchanged: Vec<Touched>,
    pub warnings: Vec<String>,
}

/// Imports a bundle or one JSON-LD object, all or nothing. `expected_type` is the caller's
/// `type`, which a JSON-LD object's `@type` must equal.
pub fn import(
    conn: &mut Conn,
    document: Value,
    expected_type: Option<&str>,
) -> Result<Report, AppError> {
    let Value::Object(mut document) = document else {
        return Err(AppError::invalid_field(
            "json",
            "the document must be a JSON object",
        ));
    };
    if let Some(components) = document.remove("components") {
        let components = bundle_components(components)?;
        conn.transaction(|conn| import_bundle(conn, components))
    } else if document.contains_key("@type") {
        let (kind, object) = linked_data_object(document, expected_type)?;
        conn.transaction(|conn| import_object(conn, kind, object))
    } else {
        Err(AppError::invalid_field(
            "json",
            "the document is neither a configuration bundle (`components`) nor an exported object (`@type`)",
        ))
    }
}

/// A bundle's objects in import order, each with its slug; a malformed bundle is refused
/// before anything is written, naming every problem.
fn bundle_components(components: Value) -> Result<Vec<BundleObject>, AppError> {
    let Value::Object(components) = components else {
        return Err(AppError::invalid_field("components", "must be an object"));
    };
    let mut problems = BTreeMap::new();
    let mut objects = Vec::new();
    for (name, entries) in components {
        let place = format!("components.{name}");
        let Some(kind) = Kind::parse(&name).filter(|kind| kind.component() == name) else {
            problems.insert(
                place,
                format!(
                    "unknown component; expected one of {}",
                    ORDER.map(Kind::component).join(", ")
                ),
            );
            continue;
        };
        let Value::Object(entries) = entries else {
            problems.insert(place, "must be an object of objects by slug".into());
            continue;
        };
        for (slug, object) in entries {
            match object {
                Value::Object(object) if !slug.trim().is_empty() => {
                    objects.push((kind, slug, object))
                }
                Value::Object(_) => {
                    problems.insert(place.clone(), "an object's slug is empty".into());
                }
                _ => {
                    problems.insert(format!("{place}.{slug}"), "must be an object".into());
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(AppError::invalid_fields(problems));
    }
    objects.sort_by_key(|(kind, _, _)| ORDER.iter().position(|k| k == kind));
    Ok(objects)
}

fn linked_data_object(
    mut document: Map<String, Value>,
    expected_type: Option<&str>,
) -> Result<(Kind, Map<String, Value>), AppError> {
    let type_text = document
        .get("@type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let kind = Kind::parse(&type_text).ok_or_else(|| {
        AppError::invalid_field(
            "@type",
            &format!(
                "unknown type {type_text:?}; expected one of {}",
                type_names()
            ),
        )
    })?;
    if let Some(expected) = expected_type.filter(|t| !t.trim().is_empty()) {
        if Kind::parse(expected) != Some(kind) {
            return Err(AppError::invalid_field(
                "type",
                &format!("the document is a {type_text:?}, not a {expected:?}"),
            ));
        }
    }
    if let Some(Value::String(reference)) = document.remove("@id") {
        match reference.strip_prefix("urn:uuid:") {
            Some(uuid) => document.insert("uuid".into(), uuid.to_ascii_lowercase().into()),
            None => document.insert("reference".into(), reference.into()),
        };
    }
    Ok((kind, document))
}

/// The fields of a travelling object that may be stored here (a uuid only says which object
/// a JSON-LD file is; a bundle's objects are known by slug).
fn importable(mut object: Map<String, Value>) -> Map<String, Value> {
    object.retain(|key, _| {
        key == "uuid"
            || !(LINKED_DATA_KEYS.contains(&key.as_str()) || LOCAL_FIELDS.contains(&key.as_str()))
    });
    object
}

/// Turns the references of `input` into ids of here; answers the places it could not.
fn resolve(kind: Kind, input: &mut Map<String, Value>, directory: &Directory) -> Vec<String> {
    let mut unresolved = Vec::new();
    for_each_reference(kind, input, &mut |target, place, value| {
        let blank = value.is_null() || value.as_str().is_some_and(|s| s.trim().is_empty());
        if blank {
            return;
        }
        // Text columns (`sourceId`) keep ids as text; lists and nested JSON hold numbers.
        let in_text_column = !place.contains('.')
            && kind
                .entity()
                .fields
                .iter()
                .any(|f| f.name == place && f.ty == FieldType::Str);
        match directory.id_of(target, value) {
            Some(id) if in_text_column => *value = id.to_string().into(),
            Some(id) => *value = id.into(),
            None => unresolved.push(format!(
                "{place}: no {} {value} here; kept as it is",
                target.type_name()
            )),
        }
    });
    unresolved
}

/// Prefixes the field names of a refusal with the place of the object in the document.
fn at_place(error: AppError, place: &str) -> AppError {
    match error {
        AppError::BadRequest { details, .. } if !details.is_empty() => AppError::invalid_fields(
            details
                .into_iter()
                .map(|(field, problem)| (format!("{place}.{field}"), problem))
                .collect(),
        ),
        AppError::BadRequest { message, .. } => AppError::invalid_field(place, &message),
        AppError::Conflict { message, details } => AppError::Conflict {
            message: format!("{place}: {message}"),
            details: details
                .into_iter()
                .map(|(field, problem)| (format!("{place}.{field}"), problem))
                .collect(),
        },
        other => other,
    }
}

/// How one object was written.
enum Written {
    Created(Value),
    Updated(Value),
    Unchanged(Value),
}

/// Creates the object, or updates `current` with it; an update that would change nothing
/// (`travelling`, the object as the document gives it, equals the export of `current`) is not
/// made. Masked secrets keep the stored value, or are left out and reported.
#[allow(clippy::too_many_arguments)]
fn write(
    conn: &mut Conn,
    kind: Kind,
    mut input: Map<String, Value>,
    travelling: Map<String, Value>,
    current: Option<Value>,
    place: &str,
    directory: &Directory,
    warnings: &mut Vec<String>,
) -> Result<Written, AppError> {
    let entity = kind.entity();
    if let Some(current) = &current {
        let mut stored = portable(kind, current.clone(), directory);
        secrets::strip_masks(entity, &mut stored);
        // A mask stands for whatever secret is there; it is never a change.
        let mut travelling = travelling;
        secrets::strip_masks(entity, &mut travelling);
        secrets_masked(entity, &mut travelling);
        if travelling
            .iter()
            .all(|(key, value)| key == "uuid" || stored.get(key) == Some(value))
        {
            return Ok(Written::Unchanged(current.clone()));
        }
        secrets::restore(entity, &mut input, current);
    }
    warnings.extend(
        secrets::strip_masks(entity, &mut input)
            .into_iter()
            .map(|path| format!("{place}.{path}: the secret was not exported; set it here")),
    );
    let place_error = |error: AppError| at_place(error, place);
    validate::prepare(entity, &mut input, current.as_ref()).map_err(place_error)?;
    match current {
        Some(current) => {
            let id = current
                .get("id")
                .and_then(Value::as_i64)
                .unwrap_or_default();
            input.remove("uuid");
            store::update(conn, entity, &Key::Id(id), &input)
                .map(Written::Updated)
                .map_err(|e| place_error(e.into()))
        }
        None => store::create(conn, entity, &input)
            .map(Written::Created)
            .map_err(|e| place_error(e.into())),
    }
}

/// Masks the secrets of a travelling object the way an export does, so that it compares
/// equal to the export of what is stored.
fn secrets_masked(entity: &Entity, object: &mut Map<String, Value>) {
    let mut value = Value::Object(std::mem::take(object));
    secrets::mask(entity, &mut value);
    if let Value::Object(masked) = value {
        *object = masked;
    }
}

fn touched(kind: Kind, row: &Value) -> Touched {
    let text = |field: &str| row.get(field).and_then(Value::as_str).map(str::to_owned);
    Touched {
        kind: kind.type_name(),
        slug: text("slug").unwrap_or_default(),
        id: row.get("id").and_then(Value::as_i64).unwrap_or_default(),
        name: text("name"),
    }
}

impl Report {
    fn record(&mut self, kind: Kind, written: &Written) {
        match written {
            Written::Created(row) => self.created.push(touched(kind, row)),
            Written::Updated(row) => self.updated.push(touched(kind, row)),
            Written::Unchanged(row) => self.unchanged.push(touched(kind, row)),
        }
    }

    fn row(written: &Written) -> &Value {
        match written {
            Written::Created(row) | Written::Updated(row) | Written::Unchanged(row) => row,
        }
    }
}

fn import_bundle(conn: &mut Conn, objects: Vec<BundleObject>) -> Result<Report, AppError> {
    let (mut directory, _) = Directory::load(conn)?;
    let mut report = Report::default();
    // References to objects later in the bundle (a follow-up, a rule naming an endpoint)
    // are resolved in a second pass, once every object has an id.
    let mut second_pass = Vec::new();
    for (kind, slug, object) in objects {
        let place = format!("components.{}.{slug}", kind.component());
        let mut input = importable(object);
        input.remove("uuid");
        input.insert("slug".into(), slug.clone().into());
        let original = input.clone();
        let forward = !resolve(kind, &mut input, &directory).is_empty();
        let current = store::find(conn, kind.entity(), &Key::Slug(slug))?;
        let written = write(
            conn,
            kind,
            input,
            original.clone(),
            current,
            &place,
            &directory,
            &mut report.warnings,
        )?;
        let row = Report::row(&written);
        directory.add(kind, row);
        if forward {
            let id = row.get("id").and_then(Value::as_i64).unwrap_or_default();
            second_pass.push((kind, id, place, original));
        }
        report.record(kind, &written);
    }
    for (kind, id, place, mut original) in second_pass {
        let mut references = HashSet::new();
        let unresolved = resolve(kind, &mut original, &directory);
        report
            .warnings
            .extend(unresolved.into_iter().map(|text| format!("{place}.{text}")));
        for_each_reference(kind, &mut original, &mut |_, place, _| {
            references.insert(place.split('.').next().unwrap_or_default().to_owned());
        });
        let mut changes: Map<String, Value> = original
            .into_iter()
            .filter(|(field, _)| references.contains(field))
            .collect();
        let current = store::find(conn, kind.entity(), &Key::Id(id))?.unwrap_or_default();
        changes.retain(|field, value| current.get(field) != Some(value));
        if !changes.is_empty() {
            if let Some(version) = current.get("version") {
                changes.insert("version".into(), version.clone());
            }
            store::update(conn, kind.entity(), &Key::Id(id), &changes)
                .map_err(|e| at_place(e.into(), &place))?;
        }
    }
    report.message = format!(
        "Import successful: {} created, {} updated, {} unchanged",
        report.created.len(),
        report.updated.len(),
        report.unchanged.len()
    );
    Ok(report)
}

/// Compares dotted versions part by part as numbers (`1.10.0` is newer than `1.9.0`).
fn version_parts(version: Option<&Value>) -> Vec<u64> {
    version
        .and_then(Value::as_str)
        .unwrap_or("0")
        .split('.')
        .map(|part| part.trim().parse().unwrap_or(0))
        .collect()
}

/// One JSON-LD object, matched by its reference (`@id`), then its uuid, then its slug; an
/// existing object at the same or a newer version is left as it is (the PHP app's rule).
fn import_object(
    conn: &mut Conn,
    kind: Kind,
    object: Map<String, Value>,
) -> Result<Report, AppError> {
    let entity = kind.entity();
    let (directory, _) = Directory::load(conn)?;
    let mut input = importable(object);
    let travelling = input.clone();
    let mut report = Report {
        warnings: resolve(kind, &mut input, &directory),
        ..Report::default()
    };
    let reference = input.get("reference").and_then(Value::as_str);
    let mut current = match reference {
        Some(reference) => {
            let query = ListQuery::parse(entity, &[("reference".into(), reference.into())], false)
                .map_err(AppError::invalid_fields)?;
            store::list(conn, entity, &query)?
                .results
                .into_iter()
                .next()
        }
        None => None,
    };
    for key in ["uuid", "slug"] {
        if current.is_none() {
            if let Some(Value::String(text)) = input.get(key) {
                current = store::find(conn, entity, &Key::parse(text))?;
            }
        }
    }
    if let Some(existing) = &current {
        if version_parts(existing.get("version")) >= version_parts(input.get("version")) {
            report.unchanged.push(touched(kind, existing));
            report.message =
                "Import ok, but nothing changed (currentVersion >= importVersion)".into();
            return Ok(report);
        }
    }
    let written = write(
        conn,
        kind,
        input,
        travelling,
        current,
        kind.type_name(),
        &directory,
        &mut report.warnings,
    )?;
    report.message = match written {
        Written::Created(_) => "Import successful, created",
        Written::Updated(_) => "Import successful, updated",
        Written::Unchanged(_) => "Import ok, but nothing changed",
    }
    .into();
    report.record(kind, &written);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_by_type_or_component_in_any_case() {
        assert_eq!(Kind::parse("Synchronization"), Some(Kind::Synchronization));
        assert_eq!(Kind::parse("jobs"), Some(Kind::Job));
        assert_eq!(Kind::parse("callLog"), None);
    }

    #[test]
    fn references_are_found_where_each_kind_keeps_them() {
        let mut sync = json!({
            "sourceType": "api", "sourceId": "1", "targetType": "api", "targetId": "2",
            "sourceTargetMapping": "3", "actions": [4], "followUps": ["5"],
        });
        let mut rule = json!({"configuration": {"fetch_file": {"source": "6", "sources": "x"}, "mappingId": 7}});
        let mut job = json!({"arguments": {"synchronizationId": 8, "force": true}});
        let mut found = Vec::new();
        let mut collect =
            |target: Kind, place: String, _: &mut Value| found.push((target.type_name(), place));
        for (kind, object) in [
            (Kind::Synchronization, &mut sync),
            (Kind::Rule, &mut rule),
            (Kind::Job, &mut job),
        ] {
            for_each_reference(kind, object.as_object_mut().unwrap(), &mut collect);
        }
        let found: Vec<String> = found.into_iter().map(|(k, p)| format!("{k}@{p}")).collect();
        assert_eq!(
            found,
            [
                "source@sourceId",
                "source@targetId",
                "mapping@sourceTargetMapping",
                "rule@actions.0",
                "synchronization@followUps.0",
                "source@configuration.fetch_file.source",
                "mapping@configuration.mappingId",
                "synchronization@arguments.synchronizationId",
            ]
        );
    }

    #[test]
    fn a_register_target_is_not_a_reference() {
        let mut sync = json!({"sourceType": "register/schema", "sourceId": "1/2", "targetType": "register/schema", "targetId": "3/4"});
        let mut count = 0;
        for_each_reference(
            Kind::Synchronization,
            sync.as_object_mut().unwrap(),
            &mut |_, _, _| count += 1,
        );
        assert_eq!(count, 0);
    }

    #[test]
    fn versions_compare_as_numbers() {
        assert!(version_parts(Some(&json!("1.10.0"))) > version_parts(Some(&json!("1.9.9"))));
        assert!(version_parts(Some(&json!("1.0.0"))) >= version_parts(Some(&json!("1.0"))));
    }
}
