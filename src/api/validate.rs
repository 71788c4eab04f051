//! Checks that depend on what a field means, made before anything is stored: a mapping's
//! templates must compile (the error names the key, the line and the problem); a job's
//! schedule and action must be usable, and its next run is filled in.

use serde_json::{Map, Value};

use crate::db::{Entity, JOB, MAPPING};
use crate::error::AppError;
use crate::mapping::validate_templates;

/// The fields that make up a mapping's behaviour.
const MAPPING_FIELDS: [&str; 5] = ["mapping", "unset", "cast", "passThrough", "passTrough"];

/// Refuses input that would store something unusable and completes what follows from it;
/// `current` is the stored row on update.
pub fn prepare(
    entity: &Entity,
    input: &mut Map<String, Value>,
    current: Option<&Value>,
) -> Result<(), AppError> {
    if entity.name == JOB.name {
        crate::jobs::prepare_for_save(input, current, chrono::Utc::now().naive_utc())
            .map_err(AppError::invalid_fields)?;
    }
    if entity.name == MAPPING.name
        && MAPPING_FIELDS
            .iter()
            .any(|field| input.contains_key(*field))
    {
        let mut merged = current
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (key, value) in input.iter() {
            merged.insert(key.clone(), value.clone());
        }
        validate_templates(&Value::Object(merged)).map_err(AppError::invalid_fields)?;
    }
    Ok(())
}
