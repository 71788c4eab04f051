//! Mappings that `executeMapping(…)` names by id, uuid, slug or reference, read from the store.

use serde_json::Value;

use super::{MappingDefinition, MappingKey, MappingSource};
use crate::db::listing::ListQuery;
use crate::db::store::{self, Key};
use crate::db::{Db, MAPPING};

/// The stored Mapping entities as a [`MappingSource`]. Lookups block on the database, so the
/// mapper runs on the blocking pool (as every caller of it does).
pub struct StoredMappings {
    db: Db,
}

impl StoredMappings {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    fn row(&self, key: &MappingKey) -> Option<Value> {
        let found = self.db.run_blocking(|conn| match key {
            MappingKey::Id(id) => store::find(conn, &MAPPING, &Key::Id(*id)),
            MappingKey::Name(name) => store::find(conn, &MAPPING, &Key::parse(name)),
            MappingKey::Reference(reference) => {
                let params = [
                    ("reference".to_owned(), reference.clone()),
                    ("_limit".to_owned(), "1".to_owned()),
                ];
                let query = ListQuery::parse(&MAPPING, &params, false)
                    .map_err(store::StoreError::Invalid)?;
                Ok(store::list(conn, &MAPPING, &query)?
                    .results
                    .into_iter()
                    .next())
            }
        });
        match found {
            Ok(row) => row,
            Err(error) => {
                tracing::warn!(%error, mapping = %key, "A mapping named by executeMapping could not be read.");
                None
            }
        }
    }
}

impl MappingSource for StoredMappings {
    fn find(&self, key: &MappingKey) -> Option<MappingDefinition> {
        let row = self.row(key)?;
        MappingDefinition::from_json(&row).ok()
    }
}
