//! The collections under `/api/<kind>` and the log lists: list, read, create, update and
//! delete, the same for every kind; the entity comes from the route.

use actix_web::{HttpRequest, HttpResponse, web};

use super::extract::{Served, json_object, query_pairs};
use crate::app::AppState;
use crate::db::listing::ListQuery;
use crate::db::store::{self, Key};
use crate::error::AppError;

pub async fn list_items(
    state: web::Data<AppState>,
    served: web::Data<Served>,
    request: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let entity = served.entity;
    let query = ListQuery::parse(entity, &query_pairs(&request)?, served.newest_first)
        .map_err(AppError::invalid_fields)?;
    let page = state
        .db
        .run(move |conn| store::list(conn, entity, &query))
        .await?;
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
    found
        .map(|item| HttpResponse::Ok().json(item))
        .ok_or_else(|| not_found(entity.name, &id))
}

pub async fn create_item(
    state: web::Data<AppState>,
    served: web::Data<Served>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let entity = served.entity;
    let input = json_object(&body)?;
    let created = state
        .db
        .run(move |conn| store::create(conn, entity, &input))
        .await?;
    Ok(HttpResponse::Created().json(created))
}

pub async fn update_item(
    state: web::Data<AppState>,
    served: web::Data<Served>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let entity = served.entity;
    let input = json_object(&body)?;
    let key = Key::parse(&id);
    match state
        .db
        .run(move |conn| store::update(conn, entity, &key, &input))
        .await
    {
        Err(store::StoreError::NotFound) => Err(not_found(entity.name, &id)),
        other => Ok(HttpResponse::Ok().json(other?)),
    }
}

pub async fn delete_item(
    state: web::Data<AppState>,
    served: web::Data<Served>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let entity = served.entity;
    let key = Key::parse(&id);
    match state
        .db
        .run(move |conn| store::delete(conn, entity, &key))
        .await
    {
        Err(store::StoreError::NotFound) => Err(not_found(entity.name, &id)),
        other => other
            .map(|()| HttpResponse::NoContent().finish())
            .map_err(AppError::from),
    }
}

pub fn not_found(kind: &str, id: &str) -> AppError {
    AppError::NotFound(format!("{kind} {id:?} not found"))
}
