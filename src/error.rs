//! The one error type that reaches HTTP: every module's error maps into it, and only here is
//! a status picked. The client gets the message and field details; the cause goes to the log.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::db::DbError;
use crate::db::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{message}")]
    BadRequest {
        message: String,
        details: BTreeMap<String, String>,
    },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    Conflict {
        message: String,
        details: BTreeMap<String, String>,
    },
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// The text is the cause, for the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest {
            message: message.into(),
            details: BTreeMap::new(),
        }
    }

    /// A 400 naming one field and what is wrong with it.
    pub fn invalid_field(field: &str, problem: &str) -> Self {
        Self::invalid_fields(BTreeMap::from([(field.to_owned(), problem.to_owned())]))
    }

    pub fn invalid_fields(details: BTreeMap<String, String>) -> Self {
        Self::BadRequest {
            message: "the request has invalid fields".into(),
            details,
        }
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Invalid(details) => Self::invalid_fields(details),
            StoreError::NotFound => Self::NotFound("not found".into()),
            StoreError::Conflict { field } => Self::Conflict {
                message: format!("{field} is already in use"),
                details: BTreeMap::from([(field, "already in use".to_owned())]),
            },
            StoreError::Db(error) => error.into(),
        }
    }
}

impl From<DbError> for AppError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Unreachable(cause) => Self::Unavailable(cause),
            DbError::Duplicate { column } => StoreError::Conflict { field: column }.into(),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (message, details) = match self {
            Self::BadRequest { message, details } | Self::Conflict { message, details } => {
                (message.clone(), Some(details))
            }
            Self::Internal(cause) => {
                tracing::error!(%cause, "A request failed on an internal error.");
                ("internal error".to_owned(), None)
            }
            Self::Unavailable(cause) => {
                tracing::warn!(%cause, "A request failed because the database is unreachable.");
                ("the database is unreachable".to_owned(), None)
            }
            other => (other.to_string(), None),
        };
        let body = match details {
            Some(details) if !details.is_empty() => json!({ "error": message, "details": details }),
            _ => json!({ "error": message }),
        };
        HttpResponse::build(self.status_code()).json(body)
    }
}
