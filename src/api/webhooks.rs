//! `POST /api/webhooks/openregister`: OpenRegister object events, delivered by Nextcloud's
//! webhook listeners. Each is kept as an Event, the one place events enter, and starts the
//! push synchronizations it triggers (in the background: Nextcloud does not wait for them).

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::extract::json_object;
use crate::app::AppState;
use crate::db::{EVENT, store};
use crate::error::AppError;
use crate::sync::events::ObjectEvent;

pub async fn receive_object_event(
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let payload = Value::Object(json_object(&body)?);
    let kind = payload
        .get("event")
        .and_then(|event| event.get("class").or(Some(event)))
        .and_then(Value::as_str)
        .unwrap_or("OCA\\OpenRegister\\Event\\ObjectEvent")
        .to_owned();
    let subject = payload
        .pointer("/event/object/uuid")
        .or_else(|| payload.pointer("/event/object/id"))
        .map(|id| id.as_str().map_or_else(|| id.to_string(), str::to_owned));
    let event = json!({
        "source": "nextcloud:openregister",
        "type": kind,
        "subject": subject,
        "data": payload,
        "userId": payload.get("user").and_then(|u| u.get("uid")).cloned().unwrap_or(Value::Null),
        "status": "pending",
    });
    let input = event.as_object().cloned().unwrap_or_default();
    let stored = state
        .db
        .run(move |conn| store::create(conn, &EVENT, &input))
        .await?;
    if let Some(object_event) = ObjectEvent::from_webhook(&payload) {
        let state = state.clone();
        tokio::spawn(async move {
            for outcome in state.sync.on_object_event(&object_event).await {
                if let Err(error) = outcome {
                    tracing::warn!(%error, "A push synchronization for an object event failed.");
                }
            }
        });
    }
    Ok(HttpResponse::Accepted().json(json!({"id": stored["id"], "uuid": stored["uuid"]})))
}
