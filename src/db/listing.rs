//! List queries shared by every collection: paging, search, order and field filters, parsed
//! once from the query string and turned into SQL with binds.

use std::collections::BTreeMap;

use super::entity::{Entity, FieldType};
use super::sql::{Bind, Sql};

pub const DEFAULT_LIMIT: u64 = 20;
pub const MAX_LIMIT: u64 = 500;

/// Problems with a query string, by parameter name.
pub type ParamErrors = BTreeMap<String, String>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

impl Direction {
    fn sql(self) -> &'static str {
        match self {
            Self::Asc => " ASC",
            Self::Desc => " DESC",
        }
    }
}

#[derive(Debug, PartialEq)]
enum Condition {
    Eq(&'static str, Bind),
    IsNull(&'static str),
    IsNotNull(&'static str),
    AtLeast(&'static str, Bind),
    AtMost(&'static str, Bind),
}

/// A parsed list request.
#[derive(Debug)]
pub struct ListQuery {
    pub page: u64,
    pub limit: u64,
    search: Option<String>,
    order: Vec<(&'static str, Direction)>,
    conditions: Vec<Condition>,
}

impl ListQuery {
    /// Parses `_page`, `_limit`, `_search`, `_order[field]` (or `_sort[field]`), `date_from` /
    /// `date_to` on the creation time, and `field=value` filters. A filter value `IS NULL` or
    /// `IS NOT NULL` tests for null; on numbers and times `min,max` is an inclusive range with
    /// either end optional. `newest_first` orders by id descending unless `_order` says otherwise.
    pub fn parse(
        entity: &Entity,
        params: &[(String, String)],
        newest_first: bool,
    ) -> Result<Self, ParamErrors> {
        let mut errors = ParamErrors::new();
        let mut query = Self {
            page: 1,
            limit: DEFAULT_LIMIT,
            search: None,
            order: Vec::new(),
            conditions: Vec::new(),
        };
        for (key, value) in params {
            let key = key.as_str();
            let result = match key {
                "_page" | "page" => parse_count(value, 1, u64::MAX).map(|n| query.page = n),
                "_limit" | "limit" => parse_count(value, 1, MAX_LIMIT).map(|n| query.limit = n),
                "_search" => {
                    let term = value.trim();
                    query.search = (!term.is_empty()).then(|| term.to_lowercase());
                    Ok(())
                }
                "date_from" | "dateFrom" | "date_to" | "dateTo" => query.push_date_bound(
                    entity,
                    key.ends_with("rom") || key.ends_with("From"),
                    value,
                ),
                _ if key.starts_with("_order[") || key.starts_with("_sort[") => {
                    query.add_order(entity, key, value)
                }
                _ if key.starts_with('_') => Ok(()),
                _ => query.push_filter(entity, key, value),
            };
            if let Err(problem) = result {
                errors.insert(key.to_owned(), problem);
            }
        }
        let default_direction = if newest_first {
            Direction::Desc
        } else {
            Direction::Asc
        };
        let last = query.order.last().map_or(default_direction, |(_, d)| *d);
        if !query.order.iter().any(|(c, _)| *c == "id") {
            query.order.push(("id", last));
        }
        if errors.is_empty() {
            Ok(query)
        } else {
            Err(errors)
        }
    }

    pub fn offset(&self) -> u64 {
        (self.page - 1).saturating_mul(self.limit)
    }

    fn push_date_bound(&mut self, entity: &Entity, from: bool, value: &str) -> Result<(), String> {
        let field = entity
            .created
            .and_then(|name| entity.field(name))
            .ok_or_else(|| "this list has no creation time".to_owned())?;
        let bind = field.filter_bind(value)?;
        self.conditions.push(if from {
            Condition::AtLeast(field.column, bind)
        } else {
            Condition::AtMost(field.column, bind)
        });
        Ok(())
    }

    fn add_order(&mut self, entity: &Entity, key: &str, value: &str) -> Result<(), String> {
        let name = key
            .split_once('[')
            .and_then(|(_, rest)| rest.strip_suffix(']'))
            .ok_or("expected _order[field]=asc|desc")?;
        let column = if name == "id" {
            "id"
        } else {
            entity
                .field(name)
                .ok_or_else(|| format!("unknown field {name:?}"))?
                .column
        };
        let direction = match value.to_ascii_lowercase().as_str() {
            "asc" | "" => Direction::Asc,
            "desc" => Direction::Desc,
            _ => return Err("expected asc or desc".into()),
        };
        self.order.push((column, direction));
        Ok(())
    }

    fn push_filter(&mut self, entity: &Entity, key: &str, value: &str) -> Result<(), String> {
        let (column, field) = if key == "id" {
            ("id", None)
        } else {
            let field = entity.field(key).ok_or("unknown field")?;
            (field.column, Some(field))
        };
        let typed = |text: &str| match field {
            Some(field) => field.filter_bind(text),
            None => text
                .trim()
                .parse()
                .map(|i| Bind::Int(Some(i)))
                .map_err(|_| "expected an integer".into()),
        };
        let trimmed = value.trim();
        if trimmed.eq_ignore_ascii_case("IS NULL") {
            self.conditions.push(Condition::IsNull(column));
            return Ok(());
        }
        if trimmed.eq_ignore_ascii_case("IS NOT NULL") {
            self.conditions.push(Condition::IsNotNull(column));
            return Ok(());
        }
        let ranged = field.is_none_or(|f| matches!(f.ty, FieldType::Int | FieldType::Time));
        match value.split_once(',') {
            Some((min, max)) if ranged => {
                if !min.trim().is_empty() {
                    self.conditions
                        .push(Condition::AtLeast(column, typed(min)?));
                }
                if !max.trim().is_empty() {
                    self.conditions.push(Condition::AtMost(column, typed(max)?));
                }
            }
            _ => self.conditions.push(Condition::Eq(column, typed(value)?)),
        }
        Ok(())
    }

    /// Appends ` WHERE …` (or nothing) for the search and filters.
    pub fn push_where(&self, sql: &mut Sql, entity: &Entity) {
        let mut first = true;
        let mut and = |sql: &mut Sql| {
            sql.push(if first { " WHERE " } else { " AND " });
            first = false;
        };
        if let Some(term) = &self.search {
            and(sql);
            let pattern = format!("%{}%", escape_like(term));
            sql.push("(");
            let columns = entity.search.iter().filter_map(|name| entity.field(name));
            for (i, field) in columns.enumerate() {
                if i > 0 {
                    sql.push(" OR ");
                }
                sql.push("LOWER(")
                    .push(field.column)
                    .push(") LIKE ")
                    .bind(Bind::Text(Some(pattern.clone())))
                    .push(" ESCAPE '!'");
            }
            sql.push(")");
        }
        for condition in &self.conditions {
            and(sql);
            match condition {
                Condition::Eq(column, bind) => sql.push(column).push(" = ").bind(bind.clone()),
                Condition::IsNull(column) => sql.push(column).push(" IS NULL"),
                Condition::IsNotNull(column) => sql.push(column).push(" IS NOT NULL"),
                Condition::AtLeast(column, bind) => {
                    sql.push(column).push(" >= ").bind(bind.clone())
                }
                Condition::AtMost(column, bind) => sql.push(column).push(" <= ").bind(bind.clone()),
            };
        }
    }

    /// Appends ` ORDER BY …`. Columns are qualified with `table`: the select list reads them
    /// cast to text, and PostgreSQL names a cast like its column, so a bare name would sort the
    /// text.
    pub fn push_order(&self, sql: &mut Sql, table: &str) {
        sql.push(" ORDER BY ");
        for (i, (column, direction)) in self.order.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push(table).push(".").push(column).push(direction.sql());
        }
    }

    /// Appends ` ORDER BY … LIMIT … OFFSET …`.
    pub fn push_order_and_page(&self, sql: &mut Sql, table: &str) {
        self.push_order(sql, table);
        // Both numbers are parsed integers, so writing them into the text is safe, and MySQL
        // wants literals here.
        sql.push(&format!(" LIMIT {} OFFSET {}", self.limit, self.offset()));
    }
}

fn parse_count(value: &str, min: u64, max: u64) -> Result<u64, String> {
    match value.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ if max == u64::MAX => Err(format!("expected a whole number of at least {min}")),
        _ => Err(format!("expected a whole number from {min} to {max}")),
    }
}

/// Escapes LIKE wildcards with `!`, the escape character every backend accepts.
fn escape_like(term: &str) -> String {
    let mut out = String::with_capacity(term.len());
    for c in term.chars() {
        if matches!(c, '!' | '%' | '_') {
            out.push('!');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{BackendKind, CALL_LOG, SOURCE};
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn paging_search_order_and_filters_become_one_statement() {
        let query = ListQuery::parse(
            &SOURCE,
            &pairs(&[
                ("_page", "3"),
                ("_limit", "10"),
                ("_search", "100%"),
                ("_order[name]", "DESC"),
                ("isEnabled", "true"),
                ("rateLimitLimit", "IS NULL"),
            ]),
            false,
        )
        .expect("valid query");
        assert_eq!(query.offset(), 20);
        let mut sql = Sql::new();
        query.push_where(&mut sql, &SOURCE);
        query.push_order_and_page(&mut sql, "t");
        assert_eq!(
            sql.text(BackendKind::Postgres),
            " WHERE (LOWER(name) LIKE $1 ESCAPE '!' OR LOWER(description) LIKE $2 ESCAPE '!') \
             AND is_enabled = $3 AND rate_limit_limit IS NULL ORDER BY t.name DESC, t.id DESC LIMIT 10 OFFSET 20"
        );
    }

    #[test]
    fn ranges_apply_to_numbers_and_dates() {
        let query = ListQuery::parse(
            &CALL_LOG,
            &pairs(&[
                ("status_code", "400,499"),
                ("date_from", "2026-01-01"),
                ("sourceId", "7"),
            ]),
            true,
        )
        .expect("valid query");
        let mut sql = Sql::new();
        query.push_where(&mut sql, &CALL_LOG);
        query.push_order_and_page(&mut sql, "t");
        assert_eq!(
            sql.text(BackendKind::Sqlite),
            " WHERE status_code >= ? AND status_code <= ? AND created >= ? AND source_id = ? \
             ORDER BY t.id DESC LIMIT 20 OFFSET 0"
        );
    }

    #[test]
    fn bad_parameters_are_named() {
        let errors = ListQuery::parse(
            &SOURCE,
            &pairs(&[
                ("_limit", "501"),
                ("colour", "red"),
                ("_order[nope]", "asc"),
                ("logRetention", "x"),
            ]),
            false,
        )
        .expect_err("invalid query");
        assert_eq!(errors["_limit"], "expected a whole number from 1 to 500");
        assert_eq!(errors["colour"], "unknown field");
        assert_eq!(errors["_order[nope]"], "unknown field \"nope\"");
        assert_eq!(errors["logRetention"], "expected an integer");
    }
}
