//! Create, read, update, delete and list for every entity, driven by its descriptor.
//!
//! Input is checked field by field before anything is written, and each change runs in one
//! transaction, so a failed request leaves nothing behind.

use std::collections::BTreeMap;

use chrono::Utc;
use serde::Serialize;
use serde_json::{Map, Value};

use super::entity::{Entity, Field, FieldDefault};
use super::listing::ListQuery;
use super::sql::{Bind, Sql, power_of_two_runs};
use super::{BackendKind, Conn, DbError};

/// How a request names one row: the numeric id, the uuid or the slug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    Id(i64),
    Uuid(String),
    Slug(String),
}

impl Key {
    pub fn parse(text: &str) -> Self {
        if let Ok(id) = text.parse::<i64>() {
            Self::Id(id)
        } else if uuid::Uuid::parse_str(text).is_ok() {
            Self::Uuid(text.to_ascii_lowercase())
        } else {
            Self::Slug(text.to_owned())
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the request has invalid fields")]
    Invalid(BTreeMap<String, String>),
    #[error("not found")]
    NotFound,
    #[error("{field} is already in use")]
    Conflict { field: String },
    #[error(transparent)]
    Db(DbError),
}

impl From<DbError> for StoreError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Duplicate { column } => Self::Conflict { field: column },
            other => Self::Db(other),
        }
    }
}

/// One page of a list.
#[derive(Debug, Serialize)]
pub struct Page {
    pub results: Vec<Value>,
    pub total: u64,
    pub page: u64,
    pub pages: u64,
}

/// A page of rows matching `query`, with the total count of matches.
pub fn list(conn: &mut Conn, entity: &Entity, query: &ListQuery) -> Result<Page, StoreError> {
    let (table, select) = conn.table(entity);
    let mut count = conn.sql();
    count.push(&format!(
        "SELECT CAST(COUNT(*) AS {}) FROM {table}",
        conn.text_type()
    ));
    query.push_where(&mut count, entity);
    // A deferred join: the page's ids come from the filter's index alone, and only those
    // rows are read whole, so a deep page costs an index range scan, not a table scan.
    let mut rows = conn.sql();
    rows.push("SELECT ").push(select).push(" FROM ").push(table);
    rows.push(" JOIN (SELECT ")
        .push(table)
        .push(".id FROM ")
        .push(table);
    query.push_where(&mut rows, entity);
    query.push_order_and_page(&mut rows, table);
    rows.push(") page_ids ON ")
        .push(table)
        .push(".id = page_ids.id");
    query.push_order(&mut rows, table);

    let total = first_number(conn.load(&count)?);
    let results = conn
        .load(&rows)?
        .into_iter()
        .map(|row| entity.row_to_json(row.0))
        .collect();
    Ok(Page {
        results,
        total,
        page: query.page,
        pages: total.div_ceil(query.limit).max(1),
    })
}

/// `SELECT <every column> FROM <table>` of an entity, for a query to go on from.
fn select_rows(conn: &Conn, entity: &Entity) -> super::sql::Sql {
    let (table, select) = conn.table(entity);
    let mut sql = conn.sql();
    sql.push("SELECT ").push(select).push(" FROM ").push(table);
    sql
}

/// Every row of an entity, oldest first. For the configuration entities, which stay small.
pub fn all(conn: &mut Conn, entity: &Entity) -> Result<Vec<Value>, StoreError> {
    let mut sql = select_rows(conn, entity);
    sql.push(" ORDER BY id");
    Ok(conn
        .load(&sql)?
        .into_iter()
        .map(|row| entity.row_to_json(row.0))
        .collect())
}

/// The number of rows of an entity.
pub fn count(conn: &mut Conn, entity: &Entity) -> Result<u64, StoreError> {
    let (table, _) = conn.table(entity);
    let mut sql = conn.sql();
    sql.push(&format!(
        "SELECT CAST(COUNT(*) AS {}) FROM {table}",
        conn.text_type()
    ));
    Ok(first_number(conn.load(&sql)?))
}

fn first_number(rows: Vec<super::sql::TextRow>) -> u64 {
    rows.into_iter()
        .next()
        .and_then(|row| row.0.into_iter().next().flatten())
        .and_then(|text| text.parse().ok())
        .unwrap_or(0)
}

/// The row named by `key`, if any.
pub fn find(conn: &mut Conn, entity: &Entity, key: &Key) -> Result<Option<Value>, StoreError> {
    let mut sql = select_rows(conn, entity);
    sql.push(" WHERE ");
    match key {
        Key::Id(id) => sql.push("id = ").bind(Bind::Int(Some(*id))),
        Key::Uuid(uuid) => sql.push("uuid = ").bind(Bind::Text(Some(uuid.clone()))),
        Key::Slug(slug) if entity.has_slug => {
            sql.push("slug = ").bind(Bind::Text(Some(slug.clone())))
        }
        Key::Slug(_) => return Ok(None),
    };
    Ok(conn
        .load(&sql)?
        .into_iter()
        .next()
        .map(|row| entity.row_to_json(row.0)))
}

/// Checks `input` and inserts a row; answers the stored row.
pub fn create(
    conn: &mut Conn,
    entity: &Entity,
    input: &Map<String, Value>,
) -> Result<Value, StoreError> {
    let mut values = check_input(entity, input, true)?;
    let now = Bind::Time(Some(Utc::now().naive_utc()));
    let uuid = match values.iter().find(|(f, _)| f.name == "uuid") {
        Some((_, Bind::Text(Some(uuid)))) => uuid.clone(),
        _ => {
            let uuid = crate::db::new_row_uuid();
            values.push((field(entity, "uuid"), Bind::Text(Some(uuid.clone()))));
            uuid
        }
    };
    for f in entity.fields {
        if values.iter().any(|(given, _)| given.name == f.name) {
            continue;
        }
        let stamp = Some(f.name) == entity.created
            || Some(f.name) == entity.updated
            || f.default == FieldDefault::Now;
        if stamp {
            values.push((f, now.clone()));
        } else if let Some(bind) = f.default_bind() {
            values.push((f, bind));
        }
    }
    conn.transaction(|conn| {
        if entity.has_slug && !values.iter().any(|(f, _)| f.name == "slug") {
            let name = input
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let slug = free_slug(conn, entity, &slugify(name, entity.name))?;
            values.push((field(entity, "slug"), Bind::Text(Some(slug))));
        }
        let (table, _) = conn.table(entity);
        let mut sql = conn.sql();
        sql.push("INSERT INTO ").push(table).push(" (");
        for (i, (f, _)) in values.iter().enumerate() {
            sql.push(if i == 0 { "" } else { ", " }).push(f.column);
        }
        sql.push(") VALUES (");
        for (i, (_, bind)) in values.iter().enumerate() {
            sql.push(if i == 0 { "" } else { ", " }).bind(bind.clone());
        }
        sql.push(")");
        conn.execute(&sql)?;
        find(conn, entity, &Key::Uuid(uuid)).and_then(|row| row.ok_or(StoreError::NotFound))
    })
}

/// Applies the fields of `input` to the row named by `key` (a partial update, as the PHP app
/// does for PUT). The version's patch number goes up unless `input` names a version.
pub fn update(
    conn: &mut Conn,
    entity: &Entity,
    key: &Key,
    input: &Map<String, Value>,
) -> Result<Value, StoreError> {
    let mut values = check_input(entity, input, false)?;
    conn.transaction(|conn| {
        let current = find(conn, entity, key)?.ok_or(StoreError::NotFound)?;
        let id = current
            .get("id")
            .and_then(Value::as_i64)
            .ok_or(StoreError::NotFound)?;
        if entity.has_version && !values.iter().any(|(f, _)| f.name == "version") {
            let version = current
                .get("version")
                .and_then(Value::as_str)
                .unwrap_or("0.0.0");
            values.push((
                field(entity, "version"),
                Bind::Text(Some(bump_patch(version))),
            ));
        }
        if let Some(updated) = entity.updated {
            values.push((
                field(entity, updated),
                Bind::Time(Some(Utc::now().naive_utc())),
            ));
        }
        if !values.is_empty() {
            let (table, _) = conn.table(entity);
            let mut sql = conn.sql();
            sql.push("UPDATE ").push(table).push(" SET ");
            for (i, (f, bind)) in values.iter().enumerate() {
                sql.push(if i == 0 { "" } else { ", " })
                    .push(f.column)
                    .push(" = ")
                    .bind(bind.clone());
            }
            sql.push(" WHERE id = ").bind(Bind::Int(Some(id)));
            conn.execute(&sql)?;
        }
        find(conn, entity, &Key::Id(id))?.ok_or(StoreError::NotFound)
    })
}

/// Deletes the row named by `key`.
pub fn delete(conn: &mut Conn, entity: &Entity, key: &Key) -> Result<(), StoreError> {
    let (table, _) = conn.table(entity);
    let mut sql = conn.sql();
    sql.push("DELETE FROM ").push(table).push(" WHERE ");
    match key {
        Key::Id(id) => sql.push("id = ").bind(Bind::Int(Some(*id))),
        Key::Uuid(uuid) => sql.push("uuid = ").bind(Bind::Text(Some(uuid.clone()))),
        Key::Slug(slug) if entity.has_slug => {
            sql.push("slug = ").bind(Bind::Text(Some(slug.clone())))
        }
        Key::Slug(_) => return Err(StoreError::NotFound),
    };
    match conn.execute(&sql)? {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

/// Inserts many rows in one statement per chunk, for bulk loads (logs, benchmarks). Rows are
/// taken as given, a bind per field in field order: the caller fills every field it needs.
pub fn insert_rows(
    conn: &mut Conn,
    entity: &Entity,
    rows: Vec<Vec<Bind>>,
) -> Result<(), StoreError> {
    let all: Vec<&str> = entity.fields.iter().map(|f| f.name).collect();
    insert_fields(conn, entity, &all, rows)
}

/// [`insert_rows`] for rows that bind only the named `fields`, in that order; the others keep
/// their column defaults. Rows that leave fields empty then carry fewer binds.
pub fn insert_fields(
    conn: &mut Conn,
    entity: &Entity,
    fields: &[&str],
    rows: Vec<Vec<Bind>>,
) -> Result<(), StoreError> {
    let columns = fields
        .iter()
        .map(|name| {
            entity.field(name).map(|f| f.column).ok_or_else(|| {
                StoreError::Invalid(BTreeMap::from([(
                    (*name).to_owned(),
                    format!("is not a field of {}", entity.name),
                )]))
            })
        })
        .collect::<Result<Vec<&str>, _>>()?;
    let (table, _) = conn.table(entity);
    // On SQLite, OR FAIL spares each multi-row statement a statement journal (a copy of every
    // page it changes, kept to undo it alone): a failure ends the transaction anyway.
    let insert = match conn.backend() {
        BackendKind::Sqlite => "INSERT OR FAIL INTO",
        _ => "INSERT INTO",
    };
    let header = format!("{insert} {table} ({}) VALUES ", columns.join(", "));
    let per_row = columns.len().max(1);
    // Stay under SQLite's limit of 32766 bound parameters per statement.
    let max_rows = 30_000 / per_row;
    conn.transaction(|conn| {
        let count = rows.len();
        let mut rows = rows.into_iter();
        for run in power_of_two_runs(count, max_rows) {
            let mut sql: Sql = conn.sql();
            // Each row adds its parentheses and a comma and space between binds.
            sql.reserve(run * per_row, header.len() + run * (4 + 2 * per_row))
                .keep_prepared()
                .push(&header);
            // The binds move into the statement: long texts (log bodies) are not copied.
            for (i, row) in rows.by_ref().take(run).enumerate() {
                sql.push(if i == 0 { "(" } else { ", (" });
                for (j, bind) in row.into_iter().enumerate() {
                    sql.push(if j == 0 { "" } else { ", " }).bind(bind);
                }
                sql.push(")");
            }
            conn.execute(&sql)?;
        }
        Ok(())
    })
}

/// One row of binds in field order for [`insert_rows`] from `(field name, bind)` pairs, NULL
/// (of the field's type) for the fields not given: hot paths build rows without JSON.
pub fn row_of(entity: &Entity, mut values: Vec<(&str, Bind)>) -> Vec<Bind> {
    entity
        .fields
        .iter()
        .map(
            |f| match values.iter().position(|(name, _)| *name == f.name) {
                Some(index) => values.swap_remove(index).1,
                None => f.to_bind(&Value::Null).unwrap_or(Bind::Text(None)),
            },
        )
        .collect()
}

/// One row of binds in field order from a wire object, for [`insert_rows`]: absent fields are
/// NULL. Values are written as given, without the checks of [`create`].
pub fn row_binds(entity: &Entity, values: &Map<String, Value>) -> Result<Vec<Bind>, StoreError> {
    let mut errors = BTreeMap::new();
    let binds = entity
        .fields
        .iter()
        .map(|f| {
            f.to_bind(values.get(f.name).unwrap_or(&Value::Null))
                .unwrap_or_else(|problem| {
                    errors.insert(f.name.to_owned(), problem);
                    Bind::Text(None)
                })
        })
        .collect();
    if errors.is_empty() {
        Ok(binds)
    } else {
        Err(StoreError::Invalid(errors))
    }
}

fn field(entity: &Entity, name: &str) -> &'static Field {
    // Descriptors are static and their tests check these names exist; a miss is a programming
    // error in this module, caught by the tests of every entity.
    entity
        .fields
        .iter()
        .find(|f| f.name == name)
        .unwrap_or(&entity.fields[0])
}

/// Checks every key of `input`. Keys starting with `_`, read-only fields and legacy PHP fields
/// are ignored; anything else unknown is an error, as is a wrong type or an empty required field.
fn check_input(
    entity: &Entity,
    input: &Map<String, Value>,
    creating: bool,
) -> Result<Vec<(&'static Field, Bind)>, StoreError> {
    let mut values = Vec::with_capacity(input.len());
    let mut errors = BTreeMap::new();
    for (key, value) in input {
        if key.starts_with('_') || entity.is_read_only(key) || entity.is_legacy(key) {
            continue;
        }
        let Some(field) = entity.input_field(key) else {
            errors.insert(key.clone(), "unknown field".to_owned());
            continue;
        };
        if field.name == "uuid" && !creating {
            continue;
        }
        let blank = value.is_null() || value.as_str().is_some_and(|s| s.trim().is_empty());
        if blank && entity.required.contains(&field.name) {
            errors.insert(key.clone(), "is required".to_owned());
            continue;
        }
        if field.name == "slug" && !blank && !value.as_str().is_some_and(is_slug) {
            errors.insert(
                key.clone(),
                "expected lowercase letters, digits and single dashes".into(),
            );
            continue;
        }
        match field.to_bind(value) {
            Ok(bind) => values.push((field, bind)),
            Err(problem) => {
                errors.insert(key.clone(), problem);
            }
        }
    }
    if creating {
        for name in entity.required {
            if !values.iter().any(|(f, _)| f.name == *name) && !errors.contains_key(*name) {
                errors.insert((*name).to_owned(), "is required".to_owned());
            }
        }
    }
    if errors.is_empty() {
        Ok(values)
    } else {
        Err(StoreError::Invalid(errors))
    }
}

/// The first of `base`, `base-2`, `base-3`, … that no row uses yet.
fn free_slug(conn: &mut Conn, entity: &Entity, base: &str) -> Result<String, StoreError> {
    let (table, _) = conn.table(entity);
    let mut sql = conn.sql();
    sql.push("SELECT slug FROM ")
        .push(table)
        .push(" WHERE slug = ")
        .bind(Bind::Text(Some(base.to_owned())))
        .push(" OR slug LIKE ")
        .bind(Bind::Text(Some(format!("{}-%", base.replace('-', "!-")))))
        .push(" ESCAPE '!'");
    let taken: Vec<String> = conn
        .load(&sql)?
        .into_iter()
        .filter_map(|row| row.0.into_iter().next().flatten())
        .collect();
    if !taken.iter().any(|s| s == base) {
        return Ok(base.to_owned());
    }
    let mut n = 2u64;
    loop {
        let candidate = format!("{base}-{n}");
        if !taken.contains(&candidate) {
            return Ok(candidate);
        }
        n += 1;
    }
}

/// A slug from a name: lowercase ASCII letters and digits, other runs become one dash.
pub fn slugify(name: &str, fallback: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let mut slug: String = slug.trim_end_matches('-').chars().take(200).collect();
    if slug.ends_with('-') {
        slug.pop();
    }
    if slug.is_empty() {
        fallback.to_ascii_lowercase()
    } else {
        slug
    }
}

fn is_slug(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 255
        && text.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// `1.2.3` → `1.2.4`; a version whose last part is not a number is kept.
fn bump_patch(version: &str) -> String {
    match version.rsplit_once('.') {
        Some((head, last)) => match last.parse::<u64>() {
            Ok(n) => format!("{head}.{}", n + 1),
            Err(_) => version.to_owned(),
        },
        None => version
            .parse::<u64>()
            .map_or_else(|_| version.to_owned(), |n| (n + 1).to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lowercase_dashed_names() {
        assert_eq!(slugify("My Source (v2)!", "source"), "my-source-v2");
        assert_eq!(slugify("  ", "Source"), "source");
        assert!(is_slug("my-source-2"));
        assert!(!is_slug("My-Source"));
        assert!(!is_slug("a--b"));
    }

    #[test]
    fn versions_bump_their_patch_number() {
        assert_eq!(bump_patch("1.2.3"), "1.2.4");
        assert_eq!(bump_patch("0.0.9"), "0.0.10");
        assert_eq!(bump_patch("7"), "8");
        assert_eq!(bump_patch("1.0.beta"), "1.0.beta");
    }

    #[test]
    fn keys_are_ids_uuids_or_slugs() {
        assert_eq!(Key::parse("42"), Key::Id(42));
        assert_eq!(
            Key::parse("6F9619FF-8B86-D011-B42D-00C04FC964FF"),
            Key::Uuid("6f9619ff-8b86-d011-b42d-00c04fc964ff".into())
        );
        assert_eq!(Key::parse("my-source"), Key::Slug("my-source".into()));
    }
}
