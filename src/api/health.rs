//! `GET /api/health`: whether the service and its database answer. No authentication, so
//! load balancers and AppAPI can ask.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::app::AppState;

pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let backend = state.db.backend().name();
    match state.db.ping().await {
        Ok(()) => HttpResponse::Ok().json(json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
            "database": { "backend": backend, "status": "ok" },
        })),
        Err(error) => {
            tracing::warn!(%error, "The health check cannot reach the database.");
            HttpResponse::ServiceUnavailable().json(json!({
                "status": "error",
                "version": env!("CARGO_PKG_VERSION"),
                "database": { "backend": backend, "status": "unreachable" },
            }))
        }
    }
}
