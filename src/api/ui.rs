//! The web UI: the files of `frontend/dist`, embedded at build time. Any other GET outside
//! `/api` answers `index.html`, so deep links work on reload; `index.html` learns its base path
//! from the `%BASE_HREF%` placeholder.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};

use crate::error::AppError;

include!(concat!(env!("OUT_DIR"), "/ui_assets.rs"));

const INDEX: &str = "index.html";

/// Answers a UI file or, for any other path, the page itself.
pub async fn serve(request: HttpRequest) -> Result<HttpResponse, AppError> {
    let path = request.path().trim_start_matches('/');
    let readable = matches!(
        *request.method(),
        actix_web::http::Method::GET | actix_web::http::Method::HEAD
    );
    if !readable || path.starts_with("api/") || path == "api" {
        return Err(AppError::NotFound(format!("no route {}", request.path())));
    }
    if let Some((name, bytes)) = ASSETS
        .iter()
        .find(|(name, _)| *name == path && *name != INDEX)
    {
        // Built files carry a content hash in their names, so they never change.
        let cache = if name.starts_with("assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        return Ok(HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, content_type(name)))
            .insert_header((header::CACHE_CONTROL, cache))
            .body(*bytes));
    }
    let Some((_, page)) = ASSETS.iter().find(|(name, _)| *name == INDEX) else {
        return Err(AppError::NotFound(
            "the web UI is not built into this binary: run `npm ci && npm run build` in frontend/ and rebuild".into(),
        ));
    };
    let page = String::from_utf8_lossy(page).replace("%BASE_HREF%", "/");
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(page))
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, extension)| extension) {
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("ttf") => "font/ttf",
        _ => "application/octet-stream",
    }
}
