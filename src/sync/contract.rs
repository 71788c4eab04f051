//! Synchronization contracts: which source object became which target object, with the hashes
//! and times that decide whether it must be written again. Read and written a page at a time.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::db::sql::{Bind, power_of_two_runs};
use crate::db::store::{self, StoreError};
use crate::db::{CONTRACT, CONTRACT_LOG, Conn, SYNCHRONIZATION, parse_time};

/// A contract as the run needs it.
#[derive(Debug, Clone)]
pub struct Contract {
    pub id: i64,
    pub uuid: String,
    pub origin_id: String,
    pub origin_hash: Option<String>,
    pub target_id: Option<String>,
    pub source_last_synced: Option<NaiveDateTime>,
    /// What was last done to the target object; none while it was never written.
    pub last_action: Option<String>,
}

impl Contract {
    /// Whether the target object was written before (else a write creates it).
    pub fn was_written(&self) -> bool {
        self.target_id.is_some() && self.last_action.as_deref().is_some_and(|a| a != "delete")
    }
}

/// A canonical, key-order-independent SHA-256 of a JSON value: objects with their keys sorted,
/// every key and scalar as JSON text, fed to the hasher without building the text.
pub fn hash(value: &Value) -> String {
    /// Lets serde_json write straight into the hasher.
    struct Feed<'h>(&'h mut Sha256);

    impl std::io::Write for Feed<'_> {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.update(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn feed(hasher: &mut Sha256, value: &Value) {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                hasher.update(b"{");
                for key in keys {
                    // Writing JSON text into a hasher cannot fail.
                    let _ = serde_json::to_writer(Feed(hasher), key);
                    hasher.update(b":");
                    feed(hasher, &map[key]);
                    hasher.update(b",");
                }
                hasher.update(b"}");
            }
            Value::Array(items) => {
                hasher.update(b"[");
                for item in items {
                    feed(hasher, item);
                    hasher.update(b",");
                }
                hasher.update(b"]");
            }
            scalar => {
                let _ = serde_json::to_writer(Feed(hasher), scalar);
            }
        }
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hasher = Sha256::new();
    feed(&mut hasher, value);
    let mut text = String::with_capacity(64);
    for byte in hasher.finalize() {
        text.push(char::from(HEX[usize::from(byte >> 4)]));
        text.push(char::from(HEX[usize::from(byte & 15)]));
    }
    text
}

/// The contracts of `synchronization_id` for these origin ids, by origin id.
pub fn load(
    conn: &mut Conn,
    synchronization_id: i64,
    origin_ids: &[String],
) -> Result<HashMap<String, Contract>, StoreError> {
    let mut found = HashMap::with_capacity(origin_ids.len());
    let (table, _) = conn.table(&CONTRACT);
    let table = table.to_owned();
    let select = CONTRACT.select_fields(&table, conn.backend(), &RUN_FIELDS);
    for chunk in origin_ids.chunks(512) {
        let mut sql = conn.sql();
        sql.keep_prepared()
            .push("SELECT ")
            .push(&select)
            .push(" FROM ")
            .push(&table)
            .push(" WHERE synchronization_id = ")
            .bind(Bind::Text(Some(synchronization_id.to_string())))
            .push(" AND origin_id IN ")
            .in_list(chunk, |origin| Bind::Text(Some(origin.clone())));
        for row in conn.load(&sql)? {
            if let Some(contract) = from_row(row.0) {
                found.insert(contract.origin_id.clone(), contract);
            }
        }
    }
    Ok(found)
}

/// Whether a synchronization has any contract.
pub fn exists(conn: &mut Conn, synchronization_id: i64) -> Result<bool, StoreError> {
    let (table, _) = conn.table(&CONTRACT);
    let cast = conn.text_type();
    let mut sql = conn.sql();
    // Cast: rows are read as text, and PostgreSQL and MySQL send an integer as its bytes.
    sql.push(&format!(
        "SELECT CAST(id AS {cast}) FROM {table} WHERE synchronization_id = "
    ))
    .bind(Bind::Text(Some(synchronization_id.to_string())))
    .push(" LIMIT 1");
    Ok(!conn.load(&sql)?.is_empty())
}

/// A new object's contract as planned before its write: its target id and both hashes. It
/// holds no last action and no sync time until the write is saved, so until then it is never
/// taken as current (a crash before the save means a rewrite under the same id).
pub struct Planned {
    pub origin_id: String,
    pub target_id: String,
    pub origin_hash: String,
    pub target_hash: String,
}

/// Records, before anything is written, the target id each new object will get: contracts
/// for `new` (origin id, target id) and the target id of contracts that had none. A write that
/// dies before its contract is saved is then finished under the same id by the next run, so
/// ids can be time-ordered (and the target id indexes grow at their end) rather than derived.
/// Answers the new contracts by origin id.
pub fn plan_targets(
    conn: &mut Conn,
    synchronization_id: i64,
    new: &[Planned],
    retargeted: &[(i64, String)],
    now: NaiveDateTime,
) -> Result<HashMap<String, Contract>, StoreError> {
    conn.transaction(|conn| {
        let (table, _) = conn.table(&CONTRACT);
        let table = table.to_owned();
        for (id, target_id) in retargeted {
            let mut sql = conn.sql();
            sql.keep_prepared()
                .push(&format!("UPDATE {table} SET target_id = "))
                .bind(Bind::Text(Some(target_id.clone())))
                .push(" WHERE id = ")
                .bind(Bind::Int(Some(*id)));
            conn.execute(&sql)?;
        }
        if new.is_empty() {
            return Ok(HashMap::new());
        }
        let sync = synchronization_id.to_string();
        let rows = new
            .iter()
            .map(|planned| {
                new_row(
                    crate::db::new_row_uuid(),
                    &sync,
                    &planned.origin_id,
                    now,
                    vec![
                        ("targetId", text(&planned.target_id)),
                        ("originHash", text(&planned.origin_hash)),
                        ("targetHash", text(&planned.target_hash)),
                    ],
                )
            })
            .collect();
        store::insert_rows(conn, &CONTRACT, rows)?;
        let origin_ids: Vec<String> = new
            .iter()
            .map(|planned| planned.origin_id.clone())
            .collect();
        load(conn, synchronization_id, &origin_ids)
    })
}

/// The target ids written for these origin ids by any synchronization, by origin id; where
/// several synchronizations wrote one origin id, the latest contract's.
pub fn target_ids(
    conn: &mut Conn,
    origin_ids: &[String],
) -> Result<HashMap<String, String>, StoreError> {
    let mut found = HashMap::with_capacity(origin_ids.len());
    let (table, _) = conn.table(&CONTRACT);
    let table = table.to_owned();
    for chunk in origin_ids.chunks(512) {
        let mut sql = conn.sql();
        sql.keep_prepared()
            .push(&format!(
                "SELECT origin_id, target_id FROM {table} WHERE target_id IS NOT NULL AND (target_last_action IS NOT NULL OR {NESTED}) AND origin_id IN "
            ))
            .in_list(chunk, |origin| Bind::Text(Some(origin.clone())))
            .push(" ORDER BY id");
        for row in conn.load(&sql)? {
            let mut values = row.0.into_iter();
            if let (Some(Some(origin_id)), Some(Some(target_id))) = (values.next(), values.next()) {
                found.insert(origin_id, target_id);
            }
        }
    }
    Ok(found)
}

/// Nested-object contracts (`subObjects`): a target hash, but neither a last action nor an
/// origin hash (their objects came with another object's write).
const NESTED: &str =
    "(target_last_action IS NULL AND origin_hash IS NULL AND target_hash IS NOT NULL)";

/// A contract that points at a target object.
pub struct Targeted {
    pub id: i64,
    pub uuid: String,
    pub origin_id: String,
    pub target_id: String,
}

/// Up to `limit` contracts of a synchronization that point at a target object, in order of
/// origin id (then id), the next ones after `after`: a walk along the (synchronization,
/// origin id) index that costs the same at every step.
pub fn with_targets(
    conn: &mut Conn,
    synchronization_id: i64,
    after: Option<(&str, i64)>,
    limit: usize,
) -> Result<Vec<Targeted>, StoreError> {
    let (table, _) = conn.table(&CONTRACT);
    let cast = conn.text_type();
    let mut sql = conn.sql();
    sql.keep_prepared()
        .push(&format!(
            "SELECT CAST(id AS {cast}), uuid, origin_id, target_id FROM {table} WHERE synchronization_id = "
        ))
    .bind(Bind::Text(Some(synchronization_id.to_string())))
    // A planned target id may have been written just before a crash, so it counts; a nested
    // object's (`subObjects`: a target hash, no action) is the register's to remove.
    .push(&format!(" AND target_id IS NOT NULL AND NOT {NESTED}"));
    if let Some((origin_id, id)) = after {
        sql.push(" AND (origin_id > ")
            .bind(Bind::Text(Some(origin_id.to_owned())))
            .push(" OR (origin_id = ")
            .bind(Bind::Text(Some(origin_id.to_owned())))
            .push(" AND id > ")
            .bind(Bind::Int(Some(id)))
            .push("))");
    }
    sql.push(&format!(" ORDER BY origin_id, id LIMIT {limit}"));
    Ok(conn
        .load(&sql)?
        .into_iter()
        .filter_map(|row| {
            let mut values = row.0.into_iter();
            Some(Targeted {
                id: values.next().flatten()?.parse().ok()?,
                uuid: values.next().flatten().unwrap_or_default(),
                origin_id: values.next().flatten().unwrap_or_default(),
                target_id: values.next().flatten()?,
            })
        })
        .collect())
}

/// Deletes a synchronization with its contracts and their logs, in one transaction: without
/// the synchronization they describe nothing, and a synchronization made again starts afresh.
/// The target objects stay where they are.
pub fn delete_synchronization(conn: &mut Conn, key: &store::Key) -> Result<(), StoreError> {
    conn.transaction(|conn| {
        let row = store::find(conn, &SYNCHRONIZATION, key)?.ok_or(StoreError::NotFound)?;
        let id = row
            .get("id")
            .and_then(Value::as_i64)
            .ok_or(StoreError::NotFound)?;
        let uuid = row
            .get("uuid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        for (entity, owner) in [(&CONTRACT_LOG, uuid), (&CONTRACT, id.to_string())] {
            let (table, _) = conn.table(entity);
            let mut sql = conn.sql();
            sql.push(&format!("DELETE FROM {table} WHERE synchronization_id = "))
                .bind(Bind::Text(Some(owner)));
            conn.execute(&sql)?;
        }
        store::delete(conn, &SYNCHRONIZATION, &store::Key::Id(id))
    })
}

/// A new contract's row for [`store::insert_rows`]: `values` besides its identity and times.
fn new_row(
    uuid: String,
    synchronization_id: &str,
    origin_id: &str,
    now: NaiveDateTime,
    mut values: Vec<(&'static str, Bind)>,
) -> Vec<Bind> {
    values.extend([
        ("uuid", text(uuid)),
        ("version", text("0.0.1")),
        ("synchronizationId", text(synchronization_id)),
        ("originId", text(origin_id)),
        ("created", Bind::Time(Some(now))),
        ("updated", Bind::Time(Some(now))),
    ]);
    store::row_of(&CONTRACT, values)
}

/// A text bind.
fn text(value: impl Into<String>) -> Bind {
    Bind::Text(Some(value.into()))
}

/// The columns a run reads of a contract, after `id`, in [`from_row`]'s order.
const RUN_FIELDS: [&str; 6] = [
    "uuid",
    "originId",
    "originHash",
    "targetId",
    "sourceLastSynced",
    "targetLastAction",
];

fn from_row(values: Vec<Option<String>>) -> Option<Contract> {
    let mut values = values.into_iter();
    Some(Contract {
        id: values.next().flatten()?.parse().ok()?,
        uuid: values.next().flatten()?,
        origin_id: values.next().flatten()?,
        origin_hash: values.next().flatten(),
        target_id: values.next().flatten(),
        source_last_synced: values.next().flatten().and_then(|time| parse_time(&time)),
        last_action: values.next().flatten(),
    })
}

/// What a run decided for one object.
#[derive(Debug)]
// A page holds a few hundred outcomes at most; boxing the large variant buys nothing.
#[allow(clippy::large_enum_variant)]
pub enum Outcome {
    /// Unchanged: only its check time moves.
    Checked { contract_id: i64 },
    /// Written to the target (created or updated).
    Written {
        /// The stored contract (id, uuid), if there is one.
        contract: Option<(i64, String)>,
        origin_id: String,
        origin_hash: String,
        target_id: String,
        target_hash: String,
        created: bool,
        /// The target id differs from the one the stored contract held.
        target_moved: bool,
        /// The contract already holds these hashes and this target id (planned this run).
        hashes_stored: bool,
        /// The object as read and as written, for the contract log of an update.
        source: Option<Value>,
        target: Value,
    },
    /// Removed from the target.
    Deleted {
        contract_id: i64,
        contract_uuid: String,
    },
    /// A nested object the register holds (`subObjects`): its contract, found by origin id,
    /// is made or pointed at `target_id`.
    SubObject(super::sub_objects::Saved),
    /// Could not be written: remembered on the contract (made if need be, without a target
    /// or hash, so the next run tries again).
    Failed {
        contract: Option<(i64, String)>,
        origin_id: String,
        error: String,
    },
}

/// What every contract log of a run shares.
pub struct LogContext {
    pub synchronization: String,
    pub log: String,
    pub force: bool,
    pub expires: Option<NaiveDateTime>,
}

impl LogContext {
    fn row(
        &self,
        contract: &str,
        result: &str,
        source: Option<&Value>,
        target: Option<&Value>,
        now: NaiveDateTime,
    ) -> Vec<Bind> {
        store::row_of(
            &CONTRACT_LOG,
            vec![
                ("uuid", text(crate::db::new_row_uuid())),
                ("message", text(format!("{result} of contract {contract}"))),
                ("synchronizationId", text(&self.synchronization)),
                ("synchronizationContractId", text(contract)),
                ("synchronizationLogId", text(&self.log)),
                ("targetResult", text(result)),
                ("test", Bind::Bool(Some(false))),
                ("force", Bind::Bool(Some(self.force))),
                ("source", Bind::Text(source.map(Value::to_string))),
                ("target", Bind::Text(target.map(Value::to_string))),
                ("expires", Bind::Time(self.expires)),
                ("created", Bind::Time(Some(now))),
            ],
        )
    }
}

/// Stores a page's outcomes in one transaction: new contracts in one insert, changes as
/// updates by id, and a contract log per update, delete or nested object in one insert.
pub fn save(
    conn: &mut Conn,
    synchronization_id: i64,
    outcomes: &[Outcome],
    logs: &LogContext,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    conn.transaction(|conn| {
        let (table, _) = conn.table(&CONTRACT);
        let table = table.to_owned();
        let stamp = Bind::Time(Some(now));
        let mut new_rows = Vec::new();
        let mut log_rows = Vec::new();
        let sync = synchronization_id.to_string();
        let mut checked = Vec::new();
        // Written contracts by id with (origin hash, target hash, action, target id); those
        // whose target id moved (API targets) also set it, the rest leave its indexes alone.
        let mut written = Vec::new();
        let mut moved = Vec::new();
        // First writes of contracts planned with their hashes: only marked written.
        let mut first_writes = Vec::new();
        // By origin id: a nested object met twice on a page keeps the last place it was seen.
        let mut sub_objects = HashMap::new();
        for outcome in outcomes {
            match outcome {
                Outcome::SubObject(saved) => {
                    sub_objects.insert(saved.origin_id.as_str(), saved);
                }
                Outcome::Checked { contract_id } => checked.push(*contract_id),
                // As in the PHP app, a contract's logs record what happens to it after it was made:
                // its first write is on the contract itself (and in the register's audit trail).
                Outcome::Written { contract: None, origin_id, origin_hash, target_id, target_hash, .. } => {
                    let uuid = crate::db::new_row_uuid();
                    let mut row = vec![
                        ("originHash", text(origin_hash)),
                        ("targetId", text(target_id)),
                        ("targetHash", text(target_hash)),
                        ("targetLastAction", text("create")),
                        ("retryCount", Bind::Int(Some(0))),
                    ];
                    for field in ["sourceLastChanged", "sourceLastChecked", "sourceLastSynced", "targetLastChanged", "targetLastSynced"] {
                        row.push((field, stamp.clone()));
                    }
                    new_rows.push(new_row(uuid, &sync, origin_id, now, row));
                }
                Outcome::Written { contract: Some((id, _)), created: true, hashes_stored: true, .. } => {
                    first_writes.push(*id);
                }
                Outcome::Written { contract: Some((id, uuid)), origin_hash, target_id, target_hash, created, target_moved, source, target, .. } => {
                    let action = if *created { "create" } else { "update" };
                    if !*created {
                        log_rows.push(logs.row(uuid, action, source.as_ref(), Some(target), now));
                    }
                    let values = [origin_hash.as_str(), target_hash.as_str(), action, target_id.as_str()];
                    if *target_moved {
                        moved.push((*id, values));
                    } else {
                        written.push((*id, values));
                    }
                }
                Outcome::Failed { contract: Some((id, _)), error, .. } => {
                    let mut sql = conn.sql();
                    sql.keep_prepared()
                        .push(&format!("UPDATE {table} SET last_error = "))
                        .bind(Bind::Text(Some(error.clone())))
                        // No hash: the next run writes it again even if the source goes back
                        // (and a planned contract never looks like a nested object's).
                        .push(", origin_hash = NULL, target_hash = NULL, retry_count = COALESCE(retry_count, 0) + 1, source_last_checked = ")
                        .bind(stamp.clone())
                        .push(", updated = ")
                        .bind(stamp.clone())
                        .push(" WHERE id = ")
                        .bind(Bind::Int(Some(*id)));
                    conn.execute(&sql)?;
                }
                Outcome::Failed { contract: None, origin_id, error } => {
                    new_rows.push(new_row(
                        crate::db::new_row_uuid(),
                        &sync,
                        origin_id,
                        now,
                        vec![
                            ("lastError", text(error)),
                            ("retryCount", Bind::Int(Some(1))),
                            ("sourceLastChecked", stamp.clone()),
                        ],
                    ));
                }
                Outcome::Deleted { contract_id, contract_uuid } => {
                    log_rows.push(logs.row(contract_uuid, "delete", None, None, now));
                    let mut sql = conn.sql();
                    sql.keep_prepared()
                        .push(&format!("UPDATE {table} SET target_id = NULL, target_hash = NULL, target_last_action = 'delete', target_last_changed = "))
                        .bind(stamp.clone())
                        .push(", updated = ")
                        .bind(stamp.clone())
                        .push(" WHERE id = ")
                        .bind(Bind::Int(Some(*contract_id)));
                    conn.execute(&sql)?;
                }
            }
        }
        // One statement for a chunk of written contracts: their own values picked by id.
        for (contracts, columns) in [
            (written.as_slice(), &["origin_hash", "target_hash", "target_last_action"][..]),
            (moved.as_slice(), &["origin_hash", "target_hash", "target_last_action", "target_id"][..]),
        ] {
          let mut contracts = contracts;
          for run in power_of_two_runs(contracts.len(), 256) {
            let (chunk, rest) = contracts.split_at(run);
            contracts = rest;
            let mut sql = conn.sql();
            sql.keep_prepared().push(&format!("UPDATE {table} SET "));
            for (index, column) in columns.iter().enumerate() {
                sql.push(&format!("{}{column} = CASE id", if index == 0 { "" } else { ", " }));
                for (id, values) in chunk {
                    sql.push(" WHEN ").bind(Bind::Int(Some(*id))).push(" THEN ").bind(Bind::Text(Some(values[index].to_owned())));
                }
                sql.push(" END");
            }
            sql.push(", last_error = NULL, retry_count = 0");
            for column in ["source_last_changed", "source_last_checked", "source_last_synced", "target_last_changed", "target_last_synced", "updated"] {
                sql.push(&format!(", {column} = ")).bind(stamp.clone());
            }
            sql.push(" WHERE id IN ").in_list(chunk, |(id, _)| Bind::Int(Some(*id)));
            conn.execute(&sql)?;
          }
        }
        for chunk in first_writes.chunks(512) {
            let mut sql = conn.sql();
            sql.keep_prepared().push(&format!(
                "UPDATE {table} SET target_last_action = 'create', last_error = NULL, retry_count = 0"
            ));
            for column in ["source_last_changed", "source_last_checked", "source_last_synced", "target_last_changed", "target_last_synced", "updated"] {
                sql.push(&format!(", {column} = ")).bind(stamp.clone());
            }
            sql.push(" WHERE id IN ").in_list(chunk, |id| Bind::Int(Some(*id)));
            conn.execute(&sql)?;
        }
        if !sub_objects.is_empty() {
            let origin_ids: Vec<String> = sub_objects.keys().map(|id| (*id).to_owned()).collect();
            let existing = load(conn, synchronization_id, &origin_ids)?;
            for (origin_id, saved) in sub_objects {
                let target_hash = hash(&saved.object);
                match existing.get(origin_id) {
                    Some(contract) => {
                        log_rows.push(logs.row(&contract.uuid, "update", None, Some(&saved.object), now));
                        let mut sql = conn.sql();
                        sql.keep_prepared()
                            .push(&format!("UPDATE {table} SET target_id = "))
                            .bind(text(&saved.target_id))
                            .push(", target_hash = ")
                            .bind(text(target_hash));
                        for column in ["target_last_changed", "target_last_synced", "source_last_synced", "updated"] {
                            sql.push(&format!(", {column} = ")).bind(stamp.clone());
                        }
                        sql.push(" WHERE id = ").bind(Bind::Int(Some(contract.id)));
                        conn.execute(&sql)?;
                    }
                    None => {
                        let uuid = crate::db::new_row_uuid();
                        log_rows.push(logs.row(&uuid, "create", None, Some(&saved.object), now));
                        let mut row = vec![
                            ("targetId", text(&saved.target_id)),
                            ("targetHash", text(target_hash)),
                        ];
                        for field in ["targetLastChanged", "targetLastSynced", "sourceLastSynced"] {
                            row.push((field, stamp.clone()));
                        }
                        new_rows.push(new_row(uuid, &sync, origin_id, now, row));
                    }
                }
            }
        }
        if !new_rows.is_empty() {
            store::insert_rows(conn, &CONTRACT, std::mem::take(&mut new_rows))?;
        }
        if !log_rows.is_empty() {
            store::insert_rows(conn, &CONTRACT_LOG, std::mem::take(&mut log_rows))?;
        }
        for chunk in checked.chunks(512) {
            let mut sql = conn.sql();
            sql.keep_prepared()
                .push(&format!("UPDATE {table} SET source_last_checked = "))
                .bind(stamp.clone())
                .push(" WHERE id IN ")
                .in_list(chunk, |id| Bind::Int(Some(*id)));
            conn.execute(&sql)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_hash_is_the_one_stored_contracts_hold() {
        // SHA-256 of `{"a":[true,"x",],"b":1,}`: changing the hash would re-sync every object.
        assert_eq!(
            hash(&json!({"b": 1, "a": [true, "x"]})),
            "888f2a496d45f4e2b3793fc611520db33919256733eb0e3b79b5401fd9da844f"
        );
    }

    #[test]
    fn hashes_ignore_key_order_but_not_values() {
        let a = hash(&json!({"a": 1, "b": {"c": [1, 2], "d": "x"}}));
        let b = hash(&json!({"b": {"d": "x", "c": [1, 2]}, "a": 1}));
        assert_eq!(a, b);
        assert_ne!(a, hash(&json!({"a": 1, "b": {"c": [2, 1], "d": "x"}})));
        assert_eq!(a.len(), 64);
    }
}
