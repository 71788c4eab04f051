//! Standalone authentication: every protected route needs `Authorization: Bearer <admin token>`.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, web};

use crate::app::AppState;
use crate::error::AppError;

pub async fn require_admin(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let presented = request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    let allowed = match (presented, request.app_data::<web::Data<AppState>>()) {
        (Some(token), Some(state)) => state.admin_token.matches(token),
        _ => false,
    };
    if !allowed {
        let reason = if presented.is_some() {
            "wrong token"
        } else {
            "no bearer token"
        };
        tracing::info!(
            path = request.path(),
            reason,
            "Refused an unauthenticated request."
        );
        return Err(AppError::Unauthorized(
            "authentication required: send Authorization: Bearer <admin token>".into(),
        )
        .into());
    }
    next.call(request).await
}
