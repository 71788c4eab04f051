//! How long logs are kept: the installation's retention settings, the expiry of a new log,
//! the cleaner that deletes expired logs in small batches (so a large backlog never holds a
//! table for long), the recomputation of stored expiries, and the counts for the settings page.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::db::sql::Bind;
use crate::db::{
    BackendKind, CALL_LOG, CONTRACT_LOG, Conn, Db, DbError, EVENT_MESSAGE, Entity, JOB_LOG,
    SYNCHRONIZATION_LOG,
};

/// Retention per kind of log, in milliseconds; 0 keeps forever. Field names and defaults are
/// those of the PHP app's `retention` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetentionSettings {
    /// Successful calls, job runs and synchronizations.
    pub success_log_retention: i64,
    /// Failed calls.
    pub call_log_retention: i64,
    pub event_message_retention: i64,
    /// Failed or warning job runs.
    pub job_log_retention: i64,
    pub sync_contract_log_retention: i64,
    /// Failed synchronizations.
    pub sync_log_retention: i64,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            success_log_retention: 3_600_000,
            call_log_retention: 2_592_000_000,
            event_message_retention: 604_800_000,
            job_log_retention: 2_592_000_000,
            sync_contract_log_retention: 7_776_000_000,
            sync_log_retention: 2_592_000_000,
        }
    }
}

/// The kinds of logs the cleaner looks after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    Call,
    Job,
    Synchronization,
    Contract,
    EventMessage,
}

impl LogKind {
    pub const ALL: [Self; 5] = [
        Self::Call,
        Self::Job,
        Self::Synchronization,
        Self::Contract,
        Self::EventMessage,
    ];

    pub fn entity(self) -> &'static Entity {
        match self {
            Self::Call => &CALL_LOG,
            Self::Job => &JOB_LOG,
            Self::Synchronization => &SYNCHRONIZATION_LOG,
            Self::Contract => &CONTRACT_LOG,
            Self::EventMessage => &EVENT_MESSAGE,
        }
    }

    /// The name in the settings statistics.
    fn label(self) -> &'static str {
        match self {
            Self::Call => "callLogs",
            Self::Job => "jobLogs",
            Self::Synchronization => "synchronizationLogs",
            Self::Contract => "synchronizationContractLogs",
            Self::EventMessage => "eventMessages",
        }
    }

    /// SQL that is true for the rows of this kind counted as successes, if the kind has any.
    fn success_condition(self) -> Option<&'static str> {
        match self {
            Self::Call => Some("status_code < 400"),
            Self::Job => Some("level IN ('SUCCESS', 'INFO', 'DEBUG')"),
            Self::Synchronization => Some("message = 'Success'"),
            Self::Contract | Self::EventMessage => None,
        }
    }
}

impl RetentionSettings {
    /// The global retention of a log of `kind`, in milliseconds.
    pub fn millis(&self, kind: LogKind, success: bool) -> i64 {
        if success && kind.success_condition().is_some() {
            return self.success_log_retention;
        }
        match kind {
            LogKind::Call => self.call_log_retention,
            LogKind::Job => self.job_log_retention,
            LogKind::Synchronization => self.sync_log_retention,
            LogKind::Contract => self.sync_contract_log_retention,
            LogKind::EventMessage => self.event_message_retention,
        }
    }

    /// When a new log expires: the longer of the global retention and its owner's own
    /// (a source's or job's, in seconds), and never when either is 0.
    pub fn expires(
        &self,
        kind: LogKind,
        success: bool,
        own_seconds: Option<i64>,
        created: NaiveDateTime,
    ) -> Option<NaiveDateTime> {
        let global = self.millis(kind, success);
        let own = own_seconds.map(|s| s.saturating_mul(1000));
        if global <= 0 || own.is_some_and(|own| own <= 0) {
            return None;
        }
        let millis = own.map_or(global, |own| own.max(global));
        Some(created + chrono::Duration::milliseconds(millis))
    }

    /// Applies a partial update (`{"callLogRetention": 0, ...}`); problems name the field.
    pub fn merge(
        &self,
        update: &Map<String, Value>,
    ) -> Result<Self, std::collections::BTreeMap<String, String>> {
        let mut merged = serde_json::to_value(self).unwrap_or_default();
        let mut problems = std::collections::BTreeMap::new();
        for (key, value) in update {
            let field = format!("retention.{key}");
            match (merged.get_mut(key), value.as_i64()) {
                (None, _) => {
                    problems.insert(field, "is not a retention setting".to_owned());
                }
                (Some(slot), Some(millis)) if millis >= 0 => *slot = Value::from(millis),
                (Some(_), _) => {
                    problems.insert(
                        field,
                        "expected a whole number of milliseconds, 0 or more (0 keeps)".to_owned(),
                    );
                }
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        serde_json::from_value(merged).map_err(|e| {
            std::collections::BTreeMap::from([("retention".to_owned(), e.to_string())])
        })
    }
}

/// The settings shared by everything that writes logs; replaced when an admin changes them and
/// reloaded by the cleaner, so every replica follows the stored value.
#[derive(Debug, Clone, Default)]
pub struct Retention(Arc<RwLock<RetentionSettings>>);

impl Retention {
    pub fn get(&self) -> RetentionSettings {
        *self
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn set(&self, settings: RetentionSettings) {
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = settings;
    }
}

const SETTING_NAME: &str = "retention";

/// Reads the stored settings (the defaults when none are stored).
pub fn load(conn: &mut Conn) -> Result<RetentionSettings, DbError> {
    let table = format!("{}settings", conn.prefix());
    let mut sql = conn.sql();
    sql.push(&format!("SELECT value FROM {table} WHERE name = "))
        .bind(Bind::Text(Some(SETTING_NAME.to_owned())));
    let stored = conn
        .load(&sql)?
        .into_iter()
        .next()
        .and_then(|row| row.0.into_iter().next().flatten());
    Ok(stored
        .and_then(|text| {
            // Stored values missing a key (older versions) keep that key's default.
            let defaults = serde_json::to_value(RetentionSettings::default()).ok()?;
            let mut merged = defaults.as_object()?.clone();
            let stored: Map<String, Value> = serde_json::from_str(&text).ok()?;
            merged.extend(stored);
            serde_json::from_value(Value::Object(merged)).ok()
        })
        .unwrap_or_default())
}

/// Stores the settings.
pub fn save(conn: &mut Conn, settings: &RetentionSettings) -> Result<(), DbError> {
    let table = format!("{}settings", conn.prefix());
    let value = serde_json::to_string(settings).unwrap_or_default();
    conn.transaction(|conn| {
        let mut delete = conn.sql();
        delete
            .push(&format!("DELETE FROM {table} WHERE name = "))
            .bind(Bind::Text(Some(SETTING_NAME.to_owned())));
        conn.execute(&delete)?;
        let mut insert = conn.sql();
        insert
            .push(&format!("INSERT INTO {table} (name, value) VALUES ("))
            .bind(Bind::Text(Some(SETTING_NAME.to_owned())))
            .push(", ")
            .bind(Bind::Text(Some(value)))
            .push(")");
        conn.execute(&insert).map(|_| ())
    })
}

/// Deletes at most `limit` expired rows of one kind; answers how many went.
pub fn delete_expired_batch(
    conn: &mut Conn,
    kind: LogKind,
    now: NaiveDateTime,
    limit: u32,
) -> Result<usize, DbError> {
    let (table, _) = conn.table(kind.entity());
    let table = table.to_owned();
    let mut sql = conn.sql();
    match conn.backend() {
        // MySQL cannot name the table it deletes from in a subquery, but it can limit a delete.
        BackendKind::Mysql => {
            sql.push(&format!("DELETE FROM {table} WHERE expires < "))
                .bind(Bind::Time(Some(now)))
                .push(&format!(" ORDER BY expires LIMIT {limit}"));
        }
        BackendKind::Sqlite | BackendKind::Postgres => {
            sql.push(&format!(
                "DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE expires < "
            ))
            .bind(Bind::Time(Some(now)))
            .push(&format!(" LIMIT {limit})"));
        }
    }
    conn.execute(&sql)
}

/// What one cleaning pass deleted, per kind.
#[derive(Debug, Default, Serialize)]
pub struct Cleaned {
    pub deleted: u64,
    pub batches: u64,
}

/// How the cleaner spaces its work so that other writers never wait long for a table.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Rows per delete, each its own transaction.
    pub batch: u32,
    /// Pause between deletes.
    pub pause: Duration,
}

impl Pace {
    pub fn for_backend(backend: BackendKind) -> Self {
        match backend {
            // SQLite has one writer at a time, and a writer that found the lock taken sleeps
            // in steps of up to 100 ms before it looks again: short deletes, and pauses long
            // enough that it finds the lock free when it wakes.
            BackendKind::Sqlite => Self {
                batch: 500,
                pause: Duration::from_millis(25),
            },
            // Row locks: other writers only wait for rows they share with the delete.
            BackendKind::Postgres | BackendKind::Mysql => Self {
                batch: 1_000,
                pause: Duration::from_millis(5),
            },
        }
    }
}

/// Deletes every log expired at `now`, a batch per transaction with a pause between batches.
pub async fn clean(db: &Db, now: NaiveDateTime, pace: Pace) -> Result<Cleaned, DbError> {
    let mut cleaned = Cleaned::default();
    let batch = pace.batch;
    let sqlite = db.backend() == BackendKind::Sqlite;
    for kind in LogKind::ALL {
        loop {
            let deleted = db
                .run(move |conn| {
                    let deleted = delete_expired_batch(conn, kind, now, batch)?;
                    if sqlite {
                        // Copy the deletes out of the write-ahead log now, without blocking
                        // anyone, rather than leave a large checkpoint to a writer's commit.
                        conn.batch("PRAGMA wal_checkpoint(PASSIVE)")?;
                    }
                    Ok::<_, DbError>(deleted)
                })
                .await?;
            cleaned.deleted += deleted as u64;
            cleaned.batches += 1;
            if deleted < batch as usize {
                break;
            }
            tokio::time::sleep(pace.pause).await;
        }
    }
    Ok(cleaned)
}

/// Counts and sizes per kind of log: all, expired at `now`, and kept forever.
pub fn stats(conn: &mut Conn, now: NaiveDateTime) -> Result<Value, DbError> {
    let text = conn.text_type();
    let mut tables = Map::new();
    let (mut all, mut all_expired, mut all_size) = (0_i64, 0_i64, 0_i64);
    for kind in LogKind::ALL {
        let (table, _) = conn.table(kind.entity());
        let size = if kind.entity().has_field("size") {
            "COALESCE(SUM(size), 0)"
        } else {
            "0"
        };
        let query = format!(
            "SELECT CAST(COUNT(*) AS {text}), \
             CAST(COALESCE(SUM(CASE WHEN expires < "
        );
        let rest = format!(
            " THEN 1 ELSE 0 END), 0) AS {text}), \
             CAST(COALESCE(SUM(CASE WHEN expires IS NULL THEN 1 ELSE 0 END), 0) AS {text}), \
             CAST({size} AS {text}) FROM {table}"
        );
        let mut sql = conn.sql();
        sql.push(&query).bind(Bind::Time(Some(now))).push(&rest);
        let row = conn.load(&sql)?.into_iter().next();
        let numbers: Vec<i64> = row
            .map(|row| {
                row.0
                    .into_iter()
                    .map(|v| v.and_then(|v| v.parse().ok()).unwrap_or(0))
                    .collect()
            })
            .unwrap_or_default();
        let number = |i: usize| numbers.get(i).copied().unwrap_or(0);
        all += number(0);
        all_expired += number(1);
        all_size += number(3);
        tables.insert(
            kind.label().to_owned(),
            json!({"total": number(0), "expired": number(1), "withoutExpiry": number(2), "size": number(3)}),
        );
    }
    Ok(json!({
        "tables": tables,
        "totals": {"total": all, "expired": all_expired, "size": all_size},
    }))
}

/// Rows per update while recomputing expiries.
const REBASE_BATCH: i64 = 5_000;

/// Recomputes `expires` of every stored log from `created` and the global settings (owners'
/// own retention is not consulted here). Answers the number of rows updated.
pub fn rebase(conn: &mut Conn, settings: &RetentionSettings) -> Result<u64, DbError> {
    let mut updated = 0;
    for kind in LogKind::ALL {
        let (table, _) = conn.table(kind.entity());
        let table = table.to_owned();
        let text = conn.text_type();
        let mut bounds = conn.sql();
        bounds.push(&format!(
            "SELECT CAST(MIN(id) AS {text}), CAST(MAX(id) AS {text}) FROM {table}"
        ));
        let row = conn.load(&bounds)?.into_iter().next();
        let bound = |i: usize| -> Option<i64> {
            row.as_ref()
                .and_then(|r| r.0.get(i).cloned().flatten())
                .and_then(|v| v.parse().ok())
        };
        let (Some(low), Some(high)) = (bound(0), bound(1)) else {
            continue;
        };
        let success = kind.success_condition();
        let mut start = low;
        while start <= high {
            let end = start + REBASE_BATCH;
            let mut sql = conn.sql();
            sql.push(&format!("UPDATE {table} SET expires = CASE "));
            if let Some(condition) = success {
                sql.push(&format!("WHEN {condition} THEN "));
                push_expiry(&mut sql, conn.backend(), settings.millis(kind, true));
            }
            sql.push(" ELSE ");
            push_expiry(&mut sql, conn.backend(), settings.millis(kind, false));
            sql.push(" END WHERE id >= ")
                .bind(Bind::Int(Some(start)))
                .push(" AND id < ")
                .bind(Bind::Int(Some(end)));
            updated += conn.execute(&sql)? as u64;
            start = end;
        }
    }
    Ok(updated)
}

/// `created` plus `millis` in the backend's date arithmetic; NULL (kept) for 0.
fn push_expiry(sql: &mut crate::db::sql::Sql, backend: BackendKind, millis: i64) {
    if millis <= 0 {
        sql.push("NULL");
        return;
    }
    match backend {
        BackendKind::Postgres => {
            sql.push("created + (")
                .bind(Bind::Int(Some(millis)))
                .push(" * INTERVAL '1 millisecond')");
        }
        BackendKind::Mysql => {
            sql.push("DATE_ADD(created, INTERVAL ")
                .bind(Bind::Int(Some(millis.saturating_mul(1000))))
                .push(" MICROSECOND)");
        }
        BackendKind::Sqlite => {
            sql.push("strftime('%Y-%m-%d %H:%M:%f', created, '+' || (")
                .bind(Bind::Int(Some(millis)))
                .push(" / 1000.0) || ' seconds')");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn expiry_takes_the_longer_retention_and_zero_keeps() {
        let settings = RetentionSettings::default();
        let created = at("2026-11-23 10:00:00");
        // Success: one hour globally, the source's two hours win.
        assert_eq!(
            settings.expires(LogKind::Call, true, Some(7200), created),
            Some(at("2026-11-23 12:00:00"))
        );
        // Failure: thirty days globally win over the source's one day.
        assert_eq!(
            settings.expires(LogKind::Call, false, Some(86400), created),
            Some(at("2026-12-23 10:00:00"))
        );
        assert_eq!(
            settings.expires(LogKind::Call, true, Some(0), created),
            None
        );
        let keep_calls = RetentionSettings {
            call_log_retention: 0,
            ..settings
        };
        assert_eq!(
            keep_calls.expires(LogKind::Call, false, None, created),
            None
        );
        // Contract logs have no success rate of their own.
        assert_eq!(
            settings.expires(LogKind::Contract, true, None, created),
            Some(at("2027-02-21 10:00:00"))
        );
    }

    #[test]
    fn a_partial_update_names_each_bad_field() {
        let settings = RetentionSettings::default();
        let merged = settings
            .merge(json!({"callLogRetention": 0}).as_object().unwrap())
            .unwrap();
        assert_eq!(merged.call_log_retention, 0);
        assert_eq!(merged.job_log_retention, settings.job_log_retention);
        let problems = settings
            .merge(
                json!({"callLogRetention": -1, "nonsense": 5, "jobLogRetention": "x"})
                    .as_object()
                    .unwrap(),
            )
            .unwrap_err();
        assert_eq!(
            problems.keys().collect::<Vec<_>>(),
            [
                "retention.callLogRetention",
                "retention.jobLogRetention",
                "retention.nonsense"
            ]
        );
    }
}
