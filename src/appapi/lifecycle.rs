//! The routes AppAPI drives: `GET /heartbeat`, `POST /init` and `PUT /enabled`.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::db::DbError;
use crate::error::AppError;

/// `GET /heartbeat`: no authentication; AppAPI polls it until it answers.
pub async fn heartbeat() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// `POST /init`: answers at once, then migrates the database and reports progress to 100, or
/// the error that stopped it.
pub async fn init(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let exapp = state
        .exapp()
        .ok_or_else(|| AppError::NotFound("not running as a Nextcloud app".into()))?;
    let db = state.db.clone();
    let state = state.clone();
    tokio::spawn(async move {
        let nextcloud = &exapp.nextcloud;
        let report = |progress: u8, error: String| async move {
            if let Err(failure) = nextcloud.report_progress(progress, &error).await {
                tracing::error!(%failure, progress, "Init progress could not be reported to Nextcloud.");
            }
        };
        report(0, String::new()).await;
        let migrated = match db
            .run(|conn| conn.run_pending_migrations().map(|applied| applied.len()))
            .await
        {
            // Background work (jobs, log cleaning) starts once the tables exist.
            Ok(applied) => state.become_ready().await.map(|()| applied),
            Err(error) => Err(error),
        };
        match migrated {
            Ok(applied) => {
                tracing::info!(applied, "Init finished: the database is up to date.");
                report(100, String::new()).await;
            }
            Err(error) => {
                let error: DbError = error;
                tracing::error!(%error, "Init failed.");
                report(0, format!("database: {error}")).await;
            }
        }
    });
    Ok(HttpResponse::Ok().json(json!({})))
}

#[derive(Debug, Deserialize)]
pub struct EnabledQuery {
    enabled: u8,
}

/// `PUT /enabled?enabled=1|0`: registers or removes our menu entry, page assets and webhook
/// listeners. Answers `{"error": ""}` or the reason it could not.
pub async fn enabled(
    state: web::Data<AppState>,
    query: web::Query<EnabledQuery>,
) -> Result<HttpResponse, AppError> {
    let exapp = state
        .exapp()
        .ok_or_else(|| AppError::NotFound("not running as a Nextcloud app".into()))?;
    let nextcloud = &exapp.nextcloud;
    let outcome = if query.enabled == 1 {
        match nextcloud.register_ui(&exapp.settings.display_name).await {
            Ok(()) => {
                // Without OpenRegister (or webhook_listeners) there are no object events to
                // hear; the app still works, so this is a warning rather than a refusal.
                if let Err(failure) = nextcloud.register_webhooks().await {
                    tracing::warn!(%failure, "Webhook listeners for OpenRegister events could not be registered; push synchronizations will not start on events.");
                }
                Ok(())
            }
            Err(failure) => Err(failure),
        }
    } else {
        let ui = nextcloud.unregister_ui().await;
        let hooks = nextcloud.unregister_webhooks().await;
        ui.and(hooks)
    };
    let error = match outcome {
        Ok(()) => String::new(),
        Err(failure) => {
            tracing::error!(%failure, enabled = query.enabled, "Changing the enabled state failed.");
            failure.to_string()
        }
    };
    Ok(HttpResponse::Ok().json(json!({"error": error})))
}
