//! `POST /api/mappings/test`: run an unsaved mapping on a sample input, and check the result
//! against a JSON Schema when one is given (spec §4.7).

use actix_web::{HttpResponse, web};
use serde_json::Value;

use super::extract::json_object;
use crate::app::AppState;
use crate::error::AppError;

/// Body: `{inputObject, mapping, schema?}`; answers `{resultObject, isValid, validationErrors}`.
pub async fn test_mapping(
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let mut input = json_object(&body)?;
    let mut problems = std::collections::BTreeMap::new();
    let input_object = input.remove("inputObject").unwrap_or_else(|| {
        problems.insert(
            "inputObject".to_owned(),
            "is required: the object to map".to_owned(),
        );
        Value::Null
    });
    let mapping = match input.remove("mapping") {
        Some(mapping @ Value::Object(_)) => mapping,
        Some(_) => {
            problems.insert("mapping".to_owned(), "expected a mapping object".to_owned());
            Value::Null
        }
        None => {
            problems.insert(
                "mapping".to_owned(),
                "is required: the mapping to run".to_owned(),
            );
            Value::Null
        }
    };
    let schema = match input.remove("schema") {
        None | Some(Value::Null) => None,
        Some(schema @ (Value::Object(_) | Value::Bool(_))) => Some(schema),
        Some(_) => {
            problems.insert(
                "schema".to_owned(),
                "expected a JSON Schema object".to_owned(),
            );
            None
        }
    };
    if !problems.is_empty() {
        return Err(AppError::invalid_fields(problems));
    }
    let state = state.clone();
    let result = tokio::task::spawn_blocking(move || {
        state
            .mapper
            .test_mapping(&input_object, &mapping, schema.as_ref())
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?;
    match result {
        Ok(result) => Ok(HttpResponse::Ok().json(result)),
        Err(error) => Err(AppError::BadRequest {
            message: "Mapping error".into(),
            details: std::collections::BTreeMap::from([("mapping".to_owned(), error.to_string())]),
        }),
    }
}
