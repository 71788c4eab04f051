//! Compiled mappings, kept per mapping version so templates are compiled once, not per object.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};

use super::{CompiledMapping, MappingDefinition, MappingError};

/// What a compiled mapping is cached under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CacheKey {
    /// A stored mapping: its id (or uuid) and version; the version changes on every update.
    Stored { id: String, version: String },
    /// An inline mapping (a JSON object in a template): a hash of its text.
    Inline(u64),
}

impl CacheKey {
    /// The key for a definition: stored when it has an id or uuid, else by content.
    pub fn for_definition(definition: &MappingDefinition) -> Self {
        let id = definition
            .id
            .map(|id| id.to_string())
            .or_else(|| definition.uuid.clone());
        match id {
            Some(id) => Self::Stored {
                id,
                version: definition.version.clone(),
            },
            None => {
                let mut hasher = DefaultHasher::new();
                definition.source_text().hash(&mut hasher);
                Self::Inline(hasher.finish())
            }
        }
    }
}

/// A bounded map of compiled mappings. When full it starts over: compiling again is cheap next
/// to a growing map, and a working set larger than the bound is not expected.
#[derive(Debug)]
pub struct MappingCache {
    entries: Mutex<HashMap<CacheKey, Arc<CompiledMapping>>>,
    capacity: usize,
}

impl Default for MappingCache {
    fn default() -> Self {
        Self::with_capacity(1024)
    }
}

impl MappingCache {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// The compiled mapping for a definition, compiled by `compile` (outside the lock) when
    /// missing.
    pub fn get_or_compile(
        &self,
        definition: &MappingDefinition,
        compile: impl FnOnce(&MappingDefinition) -> Result<CompiledMapping, MappingError>,
    ) -> Result<Arc<CompiledMapping>, MappingError> {
        let key = CacheKey::for_definition(definition);
        if let Some(found) = self.lock().get(&key) {
            return Ok(Arc::clone(found));
        }
        let compiled = Arc::new(compile(definition)?);
        let mut entries = self.lock();
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(key, Arc::clone(&compiled));
        Ok(compiled)
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CacheKey, Arc<CompiledMapping>>> {
        // A panic while holding the lock leaves a map that is still consistent.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn definition(version: &str) -> MappingDefinition {
        let json = json!({"id": 7, "version": version, "mapping": {"a": "{{ b }}"}});
        MappingDefinition::from_json(&json).unwrap()
    }

    #[test]
    fn compiles_once_per_version() {
        let cache = MappingCache::default();
        let first = cache
            .get_or_compile(&definition("1.0.0"), CompiledMapping::compile)
            .unwrap();
        let again = cache
            .get_or_compile(&definition("1.0.0"), CompiledMapping::compile)
            .unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        let bumped = cache
            .get_or_compile(&definition("1.0.1"), CompiledMapping::compile)
            .unwrap();
        assert!(!Arc::ptr_eq(&first, &bumped));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn starts_over_when_full() {
        let cache = MappingCache::with_capacity(1);
        cache
            .get_or_compile(&definition("1"), CompiledMapping::compile)
            .unwrap();
        cache
            .get_or_compile(&definition("2"), CompiledMapping::compile)
            .unwrap();
        assert_eq!(cache.len(), 1);
    }
}
