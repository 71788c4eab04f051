//! The database: one pool over SQLite, PostgreSQL or MySQL/MariaDB, chosen by the URL scheme.
//!
//! Diesel is synchronous, so work runs on tokio's blocking pool through [`Db::run`]; callers
//! write one closure against [`Conn`] and it runs unchanged on every backend.

mod entities;
mod entity;
pub mod listing;
mod migrate;
pub mod sql;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use diesel::connection::{SimpleConnection, TransactionManager};
use diesel::r2d2::{ConnectionManager, Pool, PooledConnection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};

pub use entities::*;
pub use entity::{
    ENTITIES, Entity, Field, FieldDefault, FieldType, format_time, new_row_uuid, parse_bool,
    parse_time,
};
pub use migrate::{MIGRATIONS_TABLE, Migration, migrations};
use sql::{Sql, TextRow};

#[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
compile_error!("enable at least one database backend feature: sqlite, postgres or mysql");

/// Which database server a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres,
    Mysql,
}

impl BackendKind {
    /// Reads the backend from a database URL; anything that is not a postgres or mysql URL is
    /// an SQLite path (with or without `sqlite://`).
    pub fn from_url(url: &str) -> Result<Self, String> {
        let kind = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::Postgres
        } else if url.starts_with("mysql://") || url.starts_with("mariadb://") {
            Self::Mysql
        } else if url.contains("://") && !url.starts_with("sqlite://") {
            return Err("a sqlite path, postgres://… or mysql://… URL".into());
        } else {
            Self::Sqlite
        };
        if kind.compiled_in() {
            Ok(kind)
        } else {
            Err(format!(
                "a backend built into this binary ({} is not)",
                kind.name()
            ))
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::Mysql => "mysql",
        }
    }

    fn compiled_in(self) -> bool {
        match self {
            Self::Sqlite => cfg!(feature = "sqlite"),
            Self::Postgres => cfg!(feature = "postgres"),
            Self::Mysql => cfg!(feature = "mysql"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("the database is unreachable: {0}")]
    Unreachable(String),
    #[error("{column} already exists")]
    Duplicate { column: String },
    #[error("database error: {0}")]
    Query(#[from] DieselError),
    #[error("database task failed: {0}")]
    Task(String),
}

impl DbError {
    fn from_diesel(error: DieselError) -> Self {
        match &error {
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                Self::Duplicate {
                    column: duplicate_column(info.constraint_name(), info.message()),
                }
            }
            _ => Self::Query(error),
        }
    }
}

/// The column of a unique violation. PostgreSQL names the index (`…_uq_<column>`), MySQL
/// quotes it in the message, SQLite says `UNIQUE constraint failed: <table>.<column>`.
fn duplicate_column(constraint: Option<&str>, message: &str) -> String {
    let text = constraint.unwrap_or(message);
    let column = match (
        text.rsplit_once("_uq_"),
        text.strip_prefix("UNIQUE constraint failed: "),
    ) {
        (Some((_, rest)), _) => rest,
        (None, Some(columns)) => columns.rsplit('.').next().unwrap_or(columns),
        (None, None) => "value",
    };
    column
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

#[derive(Clone)]
enum AnyPool {
    #[cfg(feature = "sqlite")]
    Sqlite(Pool<ConnectionManager<diesel::SqliteConnection>>),
    #[cfg(feature = "postgres")]
    Postgres(Pool<ConnectionManager<diesel::PgConnection>>),
    #[cfg(feature = "mysql")]
    Mysql(Pool<ConnectionManager<diesel::MysqlConnection>>),
}

enum AnyConn {
    #[cfg(feature = "sqlite")]
    Sqlite(PooledConnection<ConnectionManager<diesel::SqliteConnection>>),
    #[cfg(feature = "postgres")]
    Postgres(PooledConnection<ConnectionManager<diesel::PgConnection>>),
    #[cfg(feature = "mysql")]
    Mysql(PooledConnection<ConnectionManager<diesel::MysqlConnection>>),
}

/// Runs `$body` with `$c` bound to the concrete diesel connection, once per backend arm.
macro_rules! on_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            #[cfg(feature = "sqlite")]
            AnyConn::Sqlite($c) => $body,
            #[cfg(feature = "postgres")]
            AnyConn::Postgres($c) => $body,
            #[cfg(feature = "mysql")]
            AnyConn::Mysql($c) => $body,
        }
    };
}

/// SQLite settings applied to every pooled connection: wait for locks instead of failing,
/// and let readers run beside the one writer. A new database gets 8 KB pages (the page size
/// is fixed once the file is in WAL mode): SQLite writes the WAL a page at a time, and bulk
/// inserts of logs made half the writes, for about a sixth less CPU per stored call log.
#[cfg(feature = "sqlite")]
#[derive(Debug)]
struct SqlitePragmas;

#[cfg(feature = "sqlite")]
impl diesel::r2d2::CustomizeConnection<diesel::SqliteConnection, diesel::r2d2::Error>
    for SqlitePragmas
{
    fn on_acquire(&self, conn: &mut diesel::SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(
            "PRAGMA page_size = 8192; PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
             PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
             PRAGMA cache_size = -8192;",
        )
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// The table names and select lists of every entity under the configured prefix, built once.
struct Tables {
    prefix: String,
    by_entity: Vec<(&'static str, String, String)>,
}

impl Tables {
    fn new(prefix: &str, backend: BackendKind) -> Self {
        let by_entity = ENTITIES
            .iter()
            .map(|entity| {
                let table = format!("{prefix}{}", entity.table);
                let select = entity.select_list(&table, backend);
                (entity.name, table, select)
            })
            .collect();
        Self {
            prefix: prefix.to_owned(),
            by_entity,
        }
    }

    fn get(&self, entity: &Entity) -> (&str, &str) {
        self.by_entity
            .iter()
            .find(|(name, _, _)| *name == entity.name)
            .map_or(("", ""), |(_, table, select)| {
                (table.as_str(), select.as_str())
            })
    }
}

/// A handle on the pool; cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: BackendKind,
    tables: Arc<Tables>,
}

/// A checked-out connection, with the table names of this deployment.
pub struct Conn {
    inner: AnyConn,
    backend: BackendKind,
    tables: Arc<Tables>,
    /// Whether a transaction is open: an inner `transaction` then joins it.
    in_transaction: bool,
}

impl Db {
    /// Opens a pool. The URL's scheme picks the backend; SQLite paths get their parent folder.
    pub fn connect(url: &str, prefix: &str, max_connections: u32) -> Result<Self, DbError> {
        Self::open(url, prefix, max_connections, true)
    }

    /// A pool that connects on first use, so a service can start (and say why later) while
    /// its database is still unreachable.
    pub fn connect_lazily(url: &str, prefix: &str, max_connections: u32) -> Result<Self, DbError> {
        Self::open(url, prefix, max_connections, false)
    }

    fn open(url: &str, prefix: &str, max_connections: u32, eager: bool) -> Result<Self, DbError> {
        let backend = BackendKind::from_url(url).map_err(DbError::Unreachable)?;
        let pool = match backend {
            #[cfg(feature = "sqlite")]
            BackendKind::Sqlite => {
                let path = url.strip_prefix("sqlite://").unwrap_or(url);
                if let Some(parent) = std::path::Path::new(path).parent() {
                    if !parent.as_os_str().is_empty() {
                        std::fs::create_dir_all(parent).map_err(|e| {
                            DbError::Unreachable(format!("{}: {e}", parent.display()))
                        })?;
                    }
                }
                AnyPool::Sqlite(finish(
                    pool_builder(max_connections).connection_customizer(Box::new(SqlitePragmas)),
                    ConnectionManager::new(path),
                    eager,
                )?)
            }
            #[cfg(feature = "postgres")]
            BackendKind::Postgres => AnyPool::Postgres(finish(
                pool_builder(max_connections),
                ConnectionManager::new(url),
                eager,
            )?),
            #[cfg(feature = "mysql")]
            BackendKind::Mysql => {
                let url = url.replacen("mariadb://", "mysql://", 1);
                AnyPool::Mysql(finish(
                    pool_builder(max_connections),
                    ConnectionManager::new(url),
                    eager,
                )?)
            }
            #[allow(unreachable_patterns)]
            _ => {
                return Err(DbError::Unreachable(format!(
                    "{} is not built in",
                    backend.name()
                )));
            }
        };
        Ok(Self {
            pool,
            backend,
            tables: Arc::new(Tables::new(prefix, backend)),
        })
    }

    pub fn backend(&self) -> BackendKind {
        self.backend
    }

    pub fn prefix(&self) -> &str {
        &self.tables.prefix
    }

    fn checkout(&self) -> Result<Conn, DbError> {
        let unreachable = |e: diesel::r2d2::PoolError| DbError::Unreachable(e.to_string());
        let inner = match &self.pool {
            #[cfg(feature = "sqlite")]
            AnyPool::Sqlite(pool) => AnyConn::Sqlite(pool.get().map_err(unreachable)?),
            #[cfg(feature = "postgres")]
            AnyPool::Postgres(pool) => AnyConn::Postgres(pool.get().map_err(unreachable)?),
            #[cfg(feature = "mysql")]
            AnyPool::Mysql(pool) => AnyConn::Mysql(pool.get().map_err(unreachable)?),
        };
        Ok(Conn {
            inner,
            backend: self.backend,
            tables: Arc::clone(&self.tables),
            in_transaction: false,
        })
    }

    /// Runs blocking database work off the async workers.
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut Conn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.checkout()?;
            work(&mut conn)
        })
        .await
        .map_err(|e| E::from(DbError::Task(e.to_string())))?
    }

    /// Runs blocking work on the calling thread (command line, migrations, benchmarks).
    pub fn run_blocking<T, E>(&self, work: impl FnOnce(&mut Conn) -> Result<T, E>) -> Result<T, E>
    where
        E: From<DbError>,
    {
        let mut conn = self.checkout()?;
        work(&mut conn)
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.run(|conn| conn.batch("SELECT 1")).await
    }
}

impl Conn {
    pub fn backend(&self) -> BackendKind {
        self.backend
    }

    pub fn sql(&self) -> Sql {
        Sql::for_backend(self.backend)
    }

    /// The prefixed table name and the select list of an entity.
    pub fn table(&self, entity: &Entity) -> (&str, &str) {
        self.tables.get(entity)
    }

    pub fn prefix(&self) -> &str {
        &self.tables.prefix
    }

    /// The type a value is cast to when it is read as text.
    pub fn text_type(&self) -> &'static str {
        if self.backend == BackendKind::Mysql {
            "CHAR"
        } else {
            "TEXT"
        }
    }

    pub fn execute(&mut self, sql: &Sql) -> Result<usize, DbError> {
        on_conn!(&mut self.inner, c => sql.execute_on(&mut **c)).map_err(DbError::from_diesel)
    }

    pub fn load(&mut self, sql: &Sql) -> Result<Vec<TextRow>, DbError> {
        on_conn!(&mut self.inner, c => sql.load_on(&mut **c)).map_err(DbError::from_diesel)
    }

    /// Runs statements without binds (DDL, pragmas).
    pub fn batch(&mut self, text: &str) -> Result<(), DbError> {
        on_conn!(&mut self.inner, c => c.batch_execute(text)).map_err(DbError::from_diesel)
    }

    /// Runs `work` in one transaction: committed when it returns Ok, rolled back otherwise.
    pub fn transaction<T, E>(
        &mut self,
        work: impl FnOnce(&mut Self) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<DbError>,
    {
        if self.in_transaction {
            return work(self);
        }

        match &mut self.inner {
            // Every transaction here writes; taking the write lock up front lets SQLite wait
            // for it (busy_timeout) instead of failing when a read upgrades to a write.
            #[cfg(feature = "sqlite")]
            AnyConn::Sqlite(c) => {
                diesel::connection::AnsiTransactionManager::begin_transaction_sql(
                    &mut **c,
                    "BEGIN IMMEDIATE",
                )
            }
            #[allow(unreachable_patterns)]
            other => on_conn!(other, c => begin(&mut **c)),
        }
        .map_err(DbError::from_diesel)?;
        self.in_transaction = true;
        let outcome = work(self);
        self.in_transaction = false;
        match outcome {
            Ok(value) => {
                on_conn!(&mut self.inner, c => commit(&mut **c)).map_err(DbError::from_diesel)?;
                Ok(value)
            }
            Err(error) => {
                if let Err(rollback) = on_conn!(&mut self.inner, c => rollback(&mut **c)) {
                    tracing::warn!(error = %rollback, "Rolling back a transaction failed.");
                }
                Err(error)
            }
        }
    }
}

/// Builds the pool: eagerly connected (failing now if the database is unreachable) or not.
fn finish<M: diesel::r2d2::ManageConnection>(
    builder: diesel::r2d2::Builder<M>,
    manager: M,
    eager: bool,
) -> Result<Pool<M>, DbError> {
    if eager {
        builder
            .build(manager)
            .map_err(|e| DbError::Unreachable(e.to_string()))
    } else {
        Ok(builder.min_idle(Some(0)).build_unchecked(manager))
    }
}

fn pool_builder<M: diesel::r2d2::ManageConnection>(
    max_connections: u32,
) -> diesel::r2d2::Builder<M> {
    Pool::builder()
        .max_size(max_connections.max(1))
        .min_idle(Some(1))
        .connection_timeout(Duration::from_secs(10))
}

fn begin<C: diesel::Connection>(c: &mut C) -> diesel::QueryResult<()> {
    C::TransactionManager::begin_transaction(c)
}

fn commit<C: diesel::Connection>(c: &mut C) -> diesel::QueryResult<()> {
    C::TransactionManager::commit_transaction(c)
}

fn rollback<C: diesel::Connection>(c: &mut C) -> diesel::QueryResult<()> {
    C::TransactionManager::rollback_transaction(c)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::{Db, duplicate_column};

    /// A migrated SQLite database in a directory of its own, for unit tests; remove the
    /// directory when done.
    #[cfg(feature = "sqlite")]
    pub(crate) fn scratch_sqlite() -> (std::path::PathBuf, Db) {
        let dir = std::env::temp_dir().join(format!("oc-db-{}", uuid::Uuid::new_v4()));
        let path = dir.join("scratch.sqlite");
        let db = Db::connect(&path.to_string_lossy(), "oc_openconnector_", 2).expect("db");
        db.run_blocking(|conn| conn.run_pending_migrations())
            .expect("migrations");
        (dir, db)
    }

    /// `.cargo/config.toml` builds the bundled SQLite in multi-thread mode (a build that lost
    /// the setting would pay a mutex around every bind again), and a new file gets 8 KB pages.
    #[cfg(feature = "sqlite")]
    #[test]
    fn a_new_sqlite_database_has_large_pages_and_no_connection_mutex() {
        let (dir, db) = scratch_sqlite();
        let values = |pragma: &'static str| {
            db.run_blocking(move |conn| {
                let mut sql = conn.sql();
                sql.push(pragma);
                conn.load(&sql)
            })
            .expect("pragma")
            .into_iter()
            .filter_map(|row| row.0.into_iter().next().flatten())
            .collect::<Vec<String>>()
        };
        let options = values("PRAGMA compile_options");
        assert!(
            options.iter().any(|option| option == "THREADSAFE=2"),
            "{options:?}"
        );
        assert_eq!(values("PRAGMA page_size"), ["8192"]);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn unique_violations_name_their_column_on_every_backend() {
        assert_eq!(
            duplicate_column(Some("oc_openconnector_sources_uq_slug"), "x"),
            "slug"
        );
        assert_eq!(
            duplicate_column(
                None,
                "Duplicate entry 'a' for key 'oc_openconnector_rules_uq_uuid'"
            ),
            "uuid"
        );
        assert_eq!(
            duplicate_column(
                None,
                "UNIQUE constraint failed: oc_openconnector_mappings.slug"
            ),
            "slug"
        );
    }
}
