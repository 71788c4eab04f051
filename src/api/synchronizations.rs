//! Routes that hang under one synchronization.

use actix_web::{HttpRequest, HttpResponse, web};

use super::extract::query_pairs;
use super::resources::not_found;
use crate::app::AppState;
use crate::db::listing::ListQuery;
use crate::db::store::{self, Key, StoreError};
use crate::db::{CONTRACT, SYNCHRONIZATION};
use crate::error::AppError;

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
