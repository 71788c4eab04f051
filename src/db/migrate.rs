//! Schema migrations: the SQL folders under `migrations/`, embedded at build time, run in
//! order and recorded in `<prefix>migrations`.
//!
//! The files spell the default prefix `oc_openconnector_`; a deployment with another prefix
//! gets the same statements with its own prefix, so several installations can share one
//! database.

use chrono::Utc;

use super::sql::Bind;
use super::{BackendKind, Conn, DbError};

#[derive(Debug)]
pub struct Migration {
    pub name: &'static str,
    pub up: &'static str,
    pub down: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

const DEFAULT_PREFIX: &str = "oc_openconnector_";

/// The table that records applied migrations, under the deployment's prefix.
pub const MIGRATIONS_TABLE: &str = "migrations";

/// The migrations of one backend, oldest first.
pub fn migrations(backend: BackendKind) -> &'static [Migration] {
    match backend {
        BackendKind::Sqlite => SQLITE,
        BackendKind::Postgres => POSTGRES,
        BackendKind::Mysql => MYSQL,
    }
}

impl Conn {
    fn ensure_migrations_table(&mut self) -> Result<String, DbError> {
        let table = format!("{}{MIGRATIONS_TABLE}", self.prefix());
        self.batch(&format!(
            "CREATE TABLE IF NOT EXISTS {table} (name VARCHAR(190) NOT NULL PRIMARY KEY, applied_at VARCHAR(40) NOT NULL)"
        ))?;
        Ok(table)
    }

    /// Names of the migrations already applied.
    pub fn applied_migrations(&mut self) -> Result<Vec<String>, DbError> {
        let table = self.ensure_migrations_table()?;
        let mut sql = self.sql();
        sql.push(&format!("SELECT name FROM {table} ORDER BY name"));
        Ok(self
            .load(&sql)?
            .into_iter()
            .filter_map(|row| row.0.into_iter().next().flatten())
            .collect())
    }

    /// Applies every pending migration, each in its own transaction where the backend allows
    /// DDL in transactions. Returns the names applied.
    pub fn run_pending_migrations(&mut self) -> Result<Vec<&'static str>, DbError> {
        let table = self.ensure_migrations_table()?;
        let applied = self.applied_migrations()?;
        let mut ran = Vec::new();
        for migration in migrations(self.backend()) {
            if applied.iter().any(|name| name == migration.name) {
                continue;
            }
            let up = self.with_prefix(migration.up);
            self.transaction(|conn| {
                conn.batch(&up)?;
                let mut sql = conn.sql();
                sql.push(&format!("INSERT INTO {table} (name, applied_at) VALUES ("))
                    .bind(Bind::Text(Some(migration.name.to_owned())))
                    .push(", ")
                    .bind(Bind::Text(Some(Utc::now().to_rfc3339())))
                    .push(")");
                conn.execute(&sql).map(|_| ())
            })?;
            tracing::info!(migration = migration.name, "Applied a database migration.");
            ran.push(migration.name);
        }
        Ok(ran)
    }

    /// Reverts the newest applied migration; `None` when none is applied.
    pub fn revert_last_migration(&mut self) -> Result<Option<&'static str>, DbError> {
        let table = self.ensure_migrations_table()?;
        let applied = self.applied_migrations()?;
        let Some(last) = migrations(self.backend())
            .iter()
            .rev()
            .find(|m| applied.iter().any(|name| name == m.name))
        else {
            return Ok(None);
        };
        let down = self.with_prefix(last.down);
        self.transaction(|conn| {
            conn.batch(&down)?;
            let mut sql = conn.sql();
            sql.push(&format!("DELETE FROM {table} WHERE name = "))
                .bind(Bind::Text(Some(last.name.to_owned())));
            conn.execute(&sql).map(|_| ())
        })?;
        Ok(Some(last.name))
    }

    fn with_prefix(&self, text: &str) -> String {
        if self.prefix() == DEFAULT_PREFIX {
            text.to_owned()
        } else {
            text.replace(DEFAULT_PREFIX, self.prefix())
        }
    }
}
