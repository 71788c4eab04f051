//! Request parsing shared by the handlers: JSON bodies, query pairs, the entity of a route.

use actix_web::HttpRequest;
use serde_json::{Map, Value};

use crate::db::Entity;
use crate::error::AppError;

/// The entity a route serves, attached to its resource as app data. Logs list newest first.
#[derive(Debug, Clone, Copy)]
pub struct Served {
    pub entity: &'static Entity,
    pub newest_first: bool,
}

/// The body as a JSON object; anything else is a 400 that says what was wrong and where.
pub fn json_object(body: &[u8]) -> Result<Map<String, Value>, AppError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(AppError::bad_request(
            "the body must be a JSON object, and it is empty",
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(AppError::bad_request("the body must be a JSON object")),
        Err(e) => Err(AppError::bad_request(format!(
            "the body is not valid JSON: {} at line {} column {}",
            describe(&e),
            e.line(),
            e.column()
        ))),
    }
}

pub(super) fn describe(error: &serde_json::Error) -> String {
    let text = error.to_string();
    // serde_json appends " at line L column C"; we say it ourselves.
    text.split(" at line ").next().unwrap_or(&text).to_owned()
}

/// The query string as ordered pairs.
pub fn query_pairs(request: &HttpRequest) -> Result<Vec<(String, String)>, AppError> {
    serde_urlencoded::from_str(request.query_string())
        .map_err(|e| AppError::bad_request(format!("the query string is malformed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_must_be_json_objects() {
        assert!(json_object(br#"{"name":"x"}"#).is_ok());
        let message = |body: &[u8]| match json_object(body) {
            Err(AppError::BadRequest { message, .. }) => message,
            other => panic!("expected a bad request, got {other:?}"),
        };
        assert_eq!(
            message(b""),
            "the body must be a JSON object, and it is empty"
        );
        assert_eq!(message(b"[1]"), "the body must be a JSON object");
        assert_eq!(
            message(b"{\n \"name\": }"),
            "the body is not valid JSON: expected value at line 2 column 10"
        );
    }
}
