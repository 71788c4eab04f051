//! The collections under `/api/<kind>` and the log lists: list, read, create, update and
//! delete, the same for every kind; the entity comes from the route. Secrets in stored
//! configuration are masked on the way out and kept when a mask comes back.

use actix_web::{HttpRequest, HttpResponse, web};

use super::extract::{Served, json_object, query_pairs};
use super::{secrets, validate};
use crate::app::AppState;
use crate::db::SYNCHRONIZATION;
use crate::db::listing::ListQuery;
use crate::db::store::{self, Key, StoreError};
use crate::error::AppError;

pub async fn list_items(
    state: web::Data<AppState>,
    served: web::Data<Served>,
    request: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let entity = served.entity;
    let query = ListQuery::parse(entity, &query_pairs(&request)?, served.newest_first)
        .map_err(AppError::invalid_fields)?;
    let mut page = state
        .db
        .run(move |conn| store::list(conn, entity, &query))
        .await?;
    page.results
        .iter_mut()
        .for_each(|item| secrets::mask(entity, item));
    Ok(HttpResponse::Ok().json(page))
}

pub async fn get_item(
    state: web::Data<AppState>,
    served: web::Data<Served>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let entity = served.entity;
    let key = Key::parse(&id);
    let found = state
        .db
        .run(move |conn| store::find(conn, entity, &key))
        .await?;
    let mut item = found.ok_or_else(|| not_found(entity.name, &id))?;
    secrets::mask(entity, &mut item);
    Ok(HttpResponse::Ok().json(item))
}

pub async fn create_item(
    state: web::Data<AppState>,
    served: web::Data<Served>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let entity = served.entity;
    let mut input = json_object(&body)?;
    validate::prepare(entity, &mut input, None)?;
    let mut created = state
        .db
        .run(move |conn| store::create(conn, entity, &input))
        .await?;
    secrets::mask(entity, &mut created);
    Ok(HttpResponse::Created().json(created))
}

pub async fn update_item(
    state: web::Data<AppState>,
    served: web::Data<Served>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let entity = served.entity;
    let mut input = json_object(&body)?;
    let key = Key::parse(&id);
    let updated = state
        .db
        .run(move |conn| {
            let current = store::find(conn, entity, &key)
                .and_then(|row| row.ok_or(StoreError::NotFound))
                .map_err(Rejected::Store)?;
            secrets::restore(entity, &mut input, &current);
            validate::prepare(entity, &mut input, Some(&current)).map_err(Rejected::Input)?;
            store::update(conn, entity, &key, &input).map_err(Rejected::Store)
        })
        .await;
    let mut item = updated.map_err(|rejected| match rejected {
        Rejected::Input(error) => error,
        Rejected::Store(error) => found_or(error, entity.name, &id),
    })?;
    secrets::mask(entity, &mut item);
    Ok(HttpResponse::Ok().json(item))
}

pub async fn delete_item(
    state: web::Data<AppState>,
    served: web::Data<Served>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let entity = served.entity;
    let key = Key::parse(&id);
    state
        .db
        .run(move |conn| {
            if entity.name == SYNCHRONIZATION.name {
                crate::sync::contract::delete_synchronization(conn, &key)
            } else {
                store::delete(conn, entity, &key)
            }
        })
        .await
        .map_err(|e| found_or(e, entity.name, &id))?;
    Ok(HttpResponse::NoContent().finish())
}

/// Why an update was not stored: its input, or the store.
enum Rejected {
    Input(AppError),
    Store(StoreError),
}

impl From<crate::db::DbError> for Rejected {
    fn from(error: crate::db::DbError) -> Self {
        Self::Store(error.into())
    }
}

/// A not-found error that names what was asked for; other errors as they are.
fn found_or(error: StoreError, kind: &str, id: &str) -> AppError {
    match error {
        StoreError::NotFound => not_found(kind, id),
        other => other.into(),
    }
}

pub fn not_found(kind: &str, id: &str) -> AppError {
    AppError::NotFound(format!("{kind} {id:?} not found"))
}
