//! Who may call which route. Standalone: everything under `/api` needs
//! `Authorization: Bearer <admin token>`, except health, the OpenAPI document and the public
//! gateway. As a Nextcloud app: every route but `/heartbeat` and the public gateway needs
//! AppAPI's headers, and admin data (sources and their secrets, installation settings) needs a Nextcloud admin.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};

use crate::app::{Access, AppState};
use crate::appapi::auth::verify;
use crate::error::AppError;

/// The gateway's paths: the Endpoint's own rules decide who may call them.
fn is_gateway(path: &str) -> bool {
    path.starts_with("/api/endpoint/")
}

fn is_admin_data(path: &str) -> bool {
    [
        "/api/sources",
        "/api/settings",
        "/api/import",
        "/api/export",
    ]
    .iter()
    .any(|root| {
        path == *root
            || path
                .strip_prefix(root)
                .is_some_and(|rest| rest.starts_with('/'))
    }) || path == "/metrics"
}

pub async fn authenticate(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let Some(state) = request.app_data::<web::Data<AppState>>().cloned() else {
        return Err(AppError::Internal("the application state is missing".into()).into());
    };
    let path = request.path().to_owned();
    if path == "/heartbeat" || path == "/api/health" || is_gateway(&path) {
        return next.call(request).await;
    }
    match &state.access {
        Access::Standalone { admin_token } => {
            let protected = path.starts_with("/api/") && path != "/api/openapi.json";
            if protected {
                let presented = request
                    .headers()
                    .get(actix_web::http::header::AUTHORIZATION)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| {
                        let (scheme, token) = value.split_once(' ')?;
                        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
                    });
                if !presented.is_some_and(|token| admin_token.matches(token)) {
                    let reason = if presented.is_some() {
                        "wrong token"
                    } else {
                        "no bearer token"
                    };
                    tracing::info!(path, reason, "Refused an unauthenticated request.");
                    return Err(AppError::Unauthorized(
                        "authentication required: send Authorization: Bearer <admin token>".into(),
                    )
                    .into());
                }
            }
        }
        Access::ExApp(exapp) => {
            let user = verify(&exapp.settings, request.headers()).map_err(|reason| {
                tracing::warn!(path, %reason, "Refused a request without valid AppAPI authentication.");
                AppError::Unauthorized(format!("AppAPI authentication failed: {reason}"))
            })?;
            if is_admin_data(&path) {
                let admin = exapp.is_admin(&user.0).await.map_err(|failure| {
                    AppError::Unavailable(format!("the admin check failed: {failure}"))
                })?;
                if !admin {
                    tracing::info!(
                        path,
                        user = user.0,
                        "Refused a non-admin on an admin route."
                    );
                    return Err(
                        AppError::Forbidden("this needs a Nextcloud administrator".into()).into(),
                    );
                }
            }
            request.extensions_mut().insert(user);
        }
    }
    next.call(request).await
}
