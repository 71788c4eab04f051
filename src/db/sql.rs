//! Statements with bound parameters, written once and run on any backend.
//!
//! Table names carry a configurable prefix, so statements are built at run time; every value
//! still travels as a bound parameter, never spliced into the text.

use chrono::NaiveDateTime;
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, QueryableByName};
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::row::NamedRow;
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, Bool, HasSqlType, Nullable, Text, Timestamp};
use diesel::{Connection, RunQueryDsl, connection::LoadConnection};

use super::BackendKind;

/// One bound value. `None` binds SQL NULL of that type.
#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    Text(Option<String>),
    Int(Option<i64>),
    Bool(Option<bool>),
    Time(Option<NaiveDateTime>),
}

/// SQL text plus its binds, with placeholders in the backend's own syntax.
#[derive(Debug)]
pub struct Sql {
    backend: BackendKind,
    text: String,
    binds: Vec<Bind>,
}

impl Sql {
    pub fn new(backend: BackendKind) -> Self {
        Self {
            backend,
            text: String::with_capacity(256),
            binds: Vec::new(),
        }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `bind`.
    pub fn bind(&mut self, bind: Bind) -> &mut Self {
        self.binds.push(bind);
        match self.backend {
            BackendKind::Postgres => {
                use std::fmt::Write;
                let _ = write!(self.text, "${}", self.binds.len());
            }
            _ => self.text.push('?'),
        }
        self
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    fn boxed<'a, DB>(&'a self) -> BoxedSqlQuery<'a, DB, SqlQuery>
    where
        DB: Backend
            + HasSqlType<Text>
            + HasSqlType<BigInt>
            + HasSqlType<Bool>
            + HasSqlType<Timestamp>,
        str: ToSql<Text, DB>,
        i64: ToSql<BigInt, DB>,
        bool: ToSql<Bool, DB>,
        NaiveDateTime: ToSql<Timestamp, DB>,
    {
        let mut query = diesel::sql_query(self.text.as_str()).into_boxed::<DB>();
        for bind in &self.binds {
            query = match bind {
                Bind::Text(v) => query.bind::<Nullable<Text>, _>(v.as_deref()),
                Bind::Int(v) => query.bind::<Nullable<BigInt>, _>(*v),
                Bind::Bool(v) => query.bind::<Nullable<Bool>, _>(*v),
                Bind::Time(v) => query.bind::<Nullable<Timestamp>, _>(*v),
            };
        }
        query
    }

    pub(super) fn execute_on<C>(&self, conn: &mut C) -> diesel::QueryResult<usize>
    where
        C: Connection,
        C::Backend:
            HasSqlType<Text> + HasSqlType<BigInt> + HasSqlType<Bool> + HasSqlType<Timestamp>,
        str: ToSql<Text, C::Backend>,
        i64: ToSql<BigInt, C::Backend>,
        bool: ToSql<Bool, C::Backend>,
        NaiveDateTime: ToSql<Timestamp, C::Backend>,
        for<'a> BoxedSqlQuery<'a, C::Backend, SqlQuery>:
            diesel::query_builder::QueryFragment<C::Backend> + diesel::query_builder::QueryId,
    {
        self.boxed::<C::Backend>().execute(conn)
    }

    pub(super) fn load_on<C>(&self, conn: &mut C) -> diesel::QueryResult<Vec<TextRow>>
    where
        C: Connection + LoadConnection,
        C::Backend:
            HasSqlType<Text> + HasSqlType<BigInt> + HasSqlType<Bool> + HasSqlType<Timestamp>,
        str: ToSql<Text, C::Backend>,
        i64: ToSql<BigInt, C::Backend>,
        bool: ToSql<Bool, C::Backend>,
        NaiveDateTime: ToSql<Timestamp, C::Backend>,
        for<'a> BoxedSqlQuery<'a, C::Backend, SqlQuery>:
            diesel::query_dsl::LoadQuery<'a, C, TextRow>,
    {
        self.boxed::<C::Backend>().load(conn)
    }
}

/// A row read as text: every selected column is cast to text in SQL, so one row type serves
/// every table and backend; the entity descriptor turns the texts back into typed JSON.
#[derive(Debug)]
pub struct TextRow(pub Vec<Option<String>>);

impl<DB> QueryableByName<DB> for TextRow
where
    DB: Backend,
    String: FromSql<Text, DB>,
{
    fn build<'a>(row: &impl NamedRow<'a, DB>) -> deserialize::Result<Self> {
        let count = row.field_count();
        let mut values = Vec::with_capacity(count);
        for index in 0..count {
            values.push(row.get_value::<Nullable<Text>, Option<String>, usize>(index)?);
        }
        Ok(Self(values))
    }
}
