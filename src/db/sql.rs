//! Statements with bound parameters, written once and run on any backend.
//!
//! Table names carry a configurable prefix, so statements are built at run time; every value
//! still travels as a bound parameter, never spliced into the text.

use chrono::NaiveDateTime;
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, QueryableByName};
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::row::NamedRow;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamp, Untyped};
use diesel::{Connection, RunQueryDsl, connection::LoadConnection};

/// One bound value. `None` binds SQL NULL of that type.
#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    Text(Option<String>),
    Int(Option<i64>),
    Bool(Option<bool>),
    Time(Option<NaiveDateTime>),
}

/// SQL text plus its binds; diesel writes the placeholders in the backend's own syntax.
#[derive(Debug, Default)]
pub struct Sql {
    /// The text without placeholders: diesel writes each one where a bind is pushed.
    text: String,
    binds: Vec<Bind>,
    /// Where in `text` each bind's placeholder goes.
    marks: Vec<usize>,
    keep_prepared: bool,
    /// Times are bound as the text SQLite stores, written here: diesel's strftime costs a
    /// fifth of a bulk insert of logs.
    times_as_text: bool,
}

impl Sql {
    pub fn new() -> Self {
        Self {
            text: String::with_capacity(256),
            binds: Vec::new(),
            marks: Vec::new(),
            keep_prepared: false,
            times_as_text: false,
        }
    }

    /// A statement for `backend`, binding times its cheapest way.
    pub fn for_backend(backend: super::BackendKind) -> Self {
        Self {
            times_as_text: backend == super::BackendKind::Sqlite,
            ..Self::new()
        }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Makes room for `binds` more binds and `text` more bytes of text: a bulk insert knows
    /// its size, and growing a statement of thousands of binds step by step copies it often.
    pub fn reserve(&mut self, binds: usize, text: usize) -> &mut Self {
        self.binds.reserve(binds);
        self.marks.reserve(binds);
        self.text.reserve(text);
        self
    }

    /// Appends a placeholder for `bind`.
    pub fn bind(&mut self, bind: Bind) -> &mut Self {
        let bind = match bind {
            Bind::Time(Some(time)) if self.times_as_text => Bind::Text(Some(sqlite_time(time))),
            other => other,
        };
        self.binds.push(bind);
        self.marks.push(self.text.len());
        self
    }

    /// The text with each placeholder in `backend`'s syntax, as diesel sends it.
    #[cfg(test)]
    pub fn text(&self, backend: super::BackendKind) -> String {
        let mut text = String::new();
        let mut from = 0;
        for (index, &mark) in self.marks.iter().enumerate() {
            text.push_str(&self.text[from..mark]);
            match backend {
                super::BackendKind::Postgres => text.push_str(&format!("${}", index + 1)),
                _ => text.push('?'),
            }
            from = mark;
        }
        text.push_str(&self.text[from..]);
        text
    }

    /// Marks a statement whose text recurs on a hot path (a page of contracts, a batch of
    /// logs): the connection keeps it prepared and reuses it. Only fixed shapes qualify, since
    /// diesel's cache per connection has no bound.
    pub fn keep_prepared(&mut self) -> &mut Self {
        self.keep_prepared = true;
        self
    }

    /// Appends `(v1, v2, …)` for an `IN`, padded with copies of the last value to a power of
    /// two, so that one kept statement serves lists of many lengths. Nothing for no values.
    pub fn in_list<T>(&mut self, values: &[T], bind: impl Fn(&T) -> Bind) -> &mut Self {
        self.push("(");
        for index in 0..padded_len(values.len()) {
            if index > 0 {
                self.push(", ");
            }
            self.bind(bind(&values[index.min(values.len() - 1)]));
        }
        self.push(")")
    }

    pub(super) fn execute_on<C>(&self, conn: &mut C) -> diesel::QueryResult<usize>
    where
        C: Connection,
        Self: QueryFragment<C::Backend>,
    {
        RunQueryDsl::execute(self, conn)
    }

    pub(super) fn load_on<C>(&self, conn: &mut C) -> diesel::QueryResult<Vec<TextRow>>
    where
        C: Connection + LoadConnection,
        for<'a> &'a Self: diesel::query_dsl::LoadQuery<'a, C, TextRow>,
    {
        RunQueryDsl::load(self, conn)
    }
}

impl QueryId for Sql {
    type QueryId = ();
    // The text is built at run time, so the cache keys it by text, not by type.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Sql {
    type SqlType = Untyped;
}

impl<C> RunQueryDsl<C> for &Sql {}

/// Writes the text and binds for one backend; a macro since the bounds a generic impl needs
/// (`ToSql` for each bind type) are not implied through a helper trait.
macro_rules! query_fragment_for {
    ($backend:ty) => {
        impl QueryFragment<$backend> for Sql {
            fn walk_ast<'b>(
                &'b self,
                mut out: AstPass<'_, 'b, $backend>,
            ) -> diesel::QueryResult<()> {
                if !self.keep_prepared {
                    out.unsafe_to_cache_prepared();
                }
                let mut from = 0;
                for (bind, &mark) in self.binds.iter().zip(&self.marks) {
                    out.push_sql(&self.text[from..mark]);
                    from = mark;
                    match bind {
                        Bind::Text(v) => out.push_bind_param::<Nullable<Text>, _>(v)?,
                        Bind::Int(v) => out.push_bind_param::<Nullable<BigInt>, _>(v)?,
                        Bind::Bool(v) => out.push_bind_param::<Nullable<Bool>, _>(v)?,
                        Bind::Time(v) => out.push_bind_param::<Nullable<Timestamp>, _>(v)?,
                    }
                }
                out.push_sql(&self.text[from..]);
                Ok(())
            }
        }
    };
}

#[cfg(feature = "sqlite")]
query_fragment_for!(diesel::sqlite::Sqlite);
#[cfg(feature = "postgres")]
query_fragment_for!(diesel::pg::Pg);
#[cfg(feature = "mysql")]
query_fragment_for!(diesel::mysql::Mysql);

/// A time as diesel binds it for SQLite (`%F %T%.f`), written digit by digit: no format
/// string is parsed per value.
fn sqlite_time(time: NaiveDateTime) -> String {
    use chrono::{Datelike, Timelike};
    let nanos = time.nanosecond();
    let Ok(year) = u32::try_from(time.year()) else {
        return time.format("%F %T%.f").to_string();
    };
    if year > 9999 || nanos >= 1_000_000_000 {
        return time.format("%F %T%.f").to_string();
    }
    let mut text = String::with_capacity(29);
    let fields = [
        (year, 4, ""),
        (time.month(), 2, "-"),
        (time.day(), 2, "-"),
        (time.hour(), 2, " "),
        (time.minute(), 2, ":"),
        (time.second(), 2, ":"),
    ];
    for (value, width, separator) in fields {
        text.push_str(separator);
        push_digits(&mut text, value, width);
    }
    // `%.f`: no fraction for whole seconds, else milli-, micro- or nanoseconds as needed.
    if nanos != 0 {
        text.push('.');
        if nanos % 1_000_000 == 0 {
            push_digits(&mut text, nanos / 1_000_000, 3);
        } else if nanos % 1_000 == 0 {
            push_digits(&mut text, nanos / 1_000, 6);
        } else {
            push_digits(&mut text, nanos, 9);
        }
    }
    text
}

/// `value` with `width` (at most 9) digits, zero-padded.
fn push_digits(text: &mut String, mut value: u32, width: usize) {
    let mut digits = [b'0'; 9];
    let width = width.min(digits.len());
    for slot in digits[..width].iter_mut().rev() {
        // `value % 10` is below 10, so the cast keeps it whole.
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
    text.extend(digits[..width].iter().map(|&digit| char::from(digit)));
}

/// The length a list of `len` values is padded to: the next power of two (0 stays 0).
pub fn padded_len(len: usize) -> usize {
    if len == 0 { 0 } else { len.next_power_of_two() }
}

/// Splits `count` items into runs whose lengths are powers of two of at most `max` (itself
/// rounded down to one), largest first: rows inserted this way take few statement shapes.
pub fn power_of_two_runs(mut count: usize, max: usize) -> impl Iterator<Item = usize> {
    let max = if max == 0 { 1 } else { 1 << max.ilog2() };
    std::iter::from_fn(move || {
        if count == 0 {
            return None;
        }
        let run = if count >= max {
            max
        } else {
            1 << count.ilog2()
        };
        count -= run;
        Some(run)
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_times_are_written_as_diesel_writes_them() {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 4).expect("date");
        for nanos in [0, 7, 120_000_000, 123_456_000, 123_456_789, 1_500_000_000] {
            let time = day.and_hms_nano_opt(5, 6, 59, nanos).expect("time");
            assert_eq!(sqlite_time(time), time.format("%F %T%.f").to_string());
        }
        let ancient = chrono::NaiveDate::from_ymd_opt(-12, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("time");
        assert_eq!(sqlite_time(ancient), ancient.format("%F %T%.f").to_string());
        let mut sql = Sql::for_backend(crate::db::BackendKind::Sqlite);
        sql.bind(Bind::Time(Some(ancient))).bind(Bind::Time(None));
        assert!(matches!(
            sql.binds[..],
            [Bind::Text(Some(_)), Bind::Time(None)]
        ));
    }

    #[test]
    fn runs_are_powers_of_two_up_to_the_maximum() {
        assert_eq!(
            power_of_two_runs(100, 1500).collect::<Vec<_>>(),
            [64, 32, 4]
        );
        assert_eq!(
            power_of_two_runs(2500, 1500).collect::<Vec<_>>(),
            [1024, 1024, 256, 128, 64, 4]
        );
        assert_eq!(power_of_two_runs(1, 0).collect::<Vec<_>>(), [1]);
        assert_eq!(power_of_two_runs(0, 8).count(), 0);
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn kept_statements_are_prepared_once_per_connection() {
        use diesel::connection::InstrumentationEvent;
        use std::sync::{Arc, Mutex};

        let prepared = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&prepared);
        let mut conn =
            diesel::SqliteConnection::establish(":memory:").expect("an in-memory database");
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::CacheQuery { sql, .. } = event {
                seen.lock().expect("lock").push(sql.to_owned());
            }
        });
        let statement = |kept: bool, value: i64| {
            let mut sql = Sql::new();
            if kept {
                sql.keep_prepared();
            }
            sql.push("SELECT ").bind(Bind::Int(Some(value)));
            sql
        };
        for value in 0..3 {
            statement(true, value).execute_on(&mut conn).expect("runs");
            statement(false, value).execute_on(&mut conn).expect("runs");
        }
        // One preparation kept for three runs; the others are never cached.
        assert_eq!(*prepared.lock().expect("lock"), ["SELECT ?"]);
    }

    #[test]
    fn in_lists_repeat_their_last_value_up_to_a_power_of_two() {
        let mut sql = Sql::new();
        sql.push("x IN ")
            .in_list(&[1_i64, 2, 3], |v| Bind::Int(Some(*v)));
        assert_eq!(
            sql.text(crate::db::BackendKind::Postgres),
            "x IN ($1, $2, $3, $4)"
        );
        assert_eq!(sql.binds.last(), Some(&Bind::Int(Some(3))));
        assert_eq!(padded_len(0), 0);
        assert_eq!(padded_len(64), 64);
    }
}
