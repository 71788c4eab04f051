//! Routes that hang under one synchronization.

use actix_web::{HttpRequest, HttpResponse, web};

use super::extract::query_pairs;
use super::resources::not_found;
use crate::app::AppState;
use crate::db::listing::ListQuery;
use crate::db::store::{self, Key, StoreError};
use crate::db::{CONTRACT, SYNCHRONIZATION};
use crate::error::AppError;
use crate::sync::{Mutation, RunOptions, SyncError};

/// `GET /api/synchronizations/{id}/contracts`: the contracts of one synchronization, paged
/// and filtered like every list.
pub async fn list_contracts(
    state: web::Data<AppState>,
    id: web::Path<String>,
    request: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let mut params = query_pairs(&request)?;
    let key = Key::parse(&id);
    let page = state
        .db
        .run(move |conn| {
            let synchronization =
                store::find(conn, &SYNCHRONIZATION, &key)?.ok_or(StoreError::NotFound)?;
            let sync_id = synchronization
                .get("id")
                .map(ToString::to_string)
                .unwrap_or_default();
            params.retain(|(name, _)| name != "synchronizationId" && name != "synchronization_id");
            params.push(("synchronizationId".to_owned(), sync_id));
            let query = ListQuery::parse(&CONTRACT, &params, false).map_err(StoreError::Invalid)?;
            store::list(conn, &CONTRACT, &query)
        })
        .await;
    match page {
        Err(StoreError::NotFound) => Err(not_found(SYNCHRONIZATION.name, &id)),
        other => Ok(HttpResponse::Ok().json(other?)),
    }
}

/// What a run was asked to do.
struct RunRequest {
    options: RunOptions,
    /// The object handed to the run.
    data: Option<serde_json::Value>,
    /// What happened to `data`, when the caller says: a push run.
    mutation: Option<Mutation>,
}

/// Body (or query) of a run: `test` and `force`, both optional booleans; `data` (an object),
/// with `mutationType` (`create`, `update` or `delete`) a push run, without it a run handed
/// `data` (see `Synchronizer::run_with_data`).
fn run_request(body: &[u8], request: &HttpRequest, test: bool) -> Result<RunRequest, AppError> {
    let mut options = RunOptions { test, force: false };
    let mut fields: serde_json::Map<String, serde_json::Value> =
        if body.iter().all(u8::is_ascii_whitespace) {
            serde_json::Map::new()
        } else {
            super::extract::json_object(body)?
        };
    for (key, value) in query_pairs(request)? {
        fields
            .entry(key)
            .or_insert(serde_json::Value::String(value));
    }
    let mut problems = std::collections::BTreeMap::new();
    for (key, target) in [("test", &mut options.test), ("force", &mut options.force)] {
        if let Some(value) = fields.get(key) {
            match crate::db::parse_bool(value) {
                Some(flag) => *target = *target || flag,
                None => {
                    problems.insert(key.to_owned(), "expected true or false".to_owned());
                }
            }
        }
    }
    let data = match fields.get("data") {
        None | Some(serde_json::Value::Null) => None,
        Some(data @ serde_json::Value::Object(_)) => Some(data.clone()),
        Some(_) => {
            problems.insert("data".to_owned(), "expected an object".to_owned());
            None
        }
    };
    let mutation = match fields.get("mutationType") {
        None | Some(serde_json::Value::Null) => None,
        Some(value) => {
            let mutation = value.as_str().and_then(Mutation::parse);
            if mutation.is_none() {
                problems.insert(
                    "mutationType".to_owned(),
                    "expected create, update or delete".to_owned(),
                );
            }
            mutation
        }
    };
    if problems.is_empty() {
        Ok(RunRequest {
            options,
            data,
            mutation,
        })
    } else {
        Err(AppError::invalid_fields(problems))
    }
}

/// Runs what was asked: a push run for `data`, else a pull run.
async fn perform(
    state: &AppState,
    id: &str,
    asked: RunRequest,
) -> Result<serde_json::Value, AppError> {
    match (asked.data, asked.mutation) {
        (Some(data), Some(mutation)) => state
            .sync
            .push(id, data, mutation, asked.options.test)
            .await
            .map_err(sync_error),
        (data, _) => state
            .sync
            .run_with_data(id, asked.options, data)
            .await
            .map_err(sync_error),
    }
}

fn sync_error(error: SyncError) -> AppError {
    match error {
        SyncError::NotFound(key) => not_found(SYNCHRONIZATION.name, &key),
        SyncError::AlreadyRunning(id) => AppError::Conflict {
            message: format!("synchronization {id} is already running"),
            details: std::collections::BTreeMap::new(),
        },
        SyncError::Config { field, problem } => AppError::BadRequest {
            message: "the synchronization cannot run".into(),
            details: std::collections::BTreeMap::from([(field.to_owned(), problem)]),
        },
        SyncError::Store(error) => error.into(),
    }
}

/// `POST /api/synchronizations/{id}/run`: runs it now (a pull run, or a push run for `data`)
/// and answers the SynchronizationLog.
pub async fn run(
    state: web::Data<AppState>,
    id: web::Path<String>,
    request: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let asked = run_request(&body, &request, false)?;
    Ok(HttpResponse::Ok().json(perform(&state, &id, asked).await?))
}

/// `POST /api/synchronizations/{id}/test`: a run that writes nothing.
pub async fn test(
    state: web::Data<AppState>,
    id: web::Path<String>,
    request: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let asked = run_request(&body, &request, true)?;
    Ok(HttpResponse::Ok().json(perform(&state, &id, asked).await?))
}

/// `GET /api/synchronizations/{id}/progress`: how far a running synchronization is.
pub async fn progress(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let key = Key::parse(&id);
    let row = state
        .db
        .run(move |conn| store::find(conn, &SYNCHRONIZATION, &key))
        .await?;
    let row = row.ok_or_else(|| not_found(SYNCHRONIZATION.name, &id))?;
    let sync_id = row
        .get("id")
        .and_then(serde_json::Value::as_i64)
        .unwrap_or_default();
    Ok(HttpResponse::Ok().json(state.sync.runs.progress(sync_id)))
}
