//! The installation's settings: log retention (`GET/PUT /api/settings`), log counts
//! (`GET /api/settings/stats`) and recomputing stored expiries (`POST /api/settings/rebase`).

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::extract::json_object;
use crate::app::AppState;
use crate::error::AppError;
use crate::retention::{self, RetentionSettings};

fn answer(settings: &RetentionSettings) -> Value {
    json!({
        "version": {"appName": "OpenConnector", "appVersion": env!("CARGO_PKG_VERSION")},
        "retention": settings,
    })
}

pub async fn get(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let settings = state.db.run(retention::load).await?;
    state.retention.set(settings);
    Ok(HttpResponse::Ok().json(answer(&settings)))
}

/// Takes `{"retention": {...}}` with any subset of the six values (milliseconds, 0 keeps).
pub async fn put(state: web::Data<AppState>, body: web::Bytes) -> Result<HttpResponse, AppError> {
    let input = json_object(&body)?;
    let update = match input.get("retention") {
        Some(Value::Object(update)) => update.clone(),
        _ => {
            return Err(AppError::invalid_fields(BTreeMap::from([(
                "retention".to_owned(),
                "is required: an object of retention times in milliseconds".to_owned(),
            )])));
        }
    };
    let stored = state.db.run(retention::load).await?;
    let merged = stored.merge(&update).map_err(AppError::invalid_fields)?;
    state
        .db
        .run(move |conn| retention::save(conn, &merged))
        .await?;
    state.retention.set(merged);
    Ok(HttpResponse::Ok().json(answer(&merged)))
}

pub async fn stats(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let now = chrono::Utc::now().naive_utc();
    let stats = state
        .db
        .run(move |conn| retention::stats(conn, now))
        .await?;
    Ok(HttpResponse::Ok().json(stats))
}

pub async fn rebase(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let settings = state.db.run(retention::load).await?;
    let updated = state
        .db
        .run(move |conn| retention::rebase(conn, &settings))
        .await?;
    Ok(HttpResponse::Ok().json(json!({"updated": updated, "retention": settings})))
}
