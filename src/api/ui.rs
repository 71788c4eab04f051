//! The web UI: the files of `frontend/dist`, embedded at build time. Any other GET outside
//! `/api` answers `index.html`, so deep links work on reload; `index.html` learns its base path
//! from the `%BASE_HREF%` placeholder. Inside Nextcloud the page is AppAPI's, which loads the
//! stable `js/openconnector-main.js` and `css/openconnector-main.css`: small loaders for the
//! built (content-hashed) entry files.

use std::sync::OnceLock;

use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::app::AppState;
use crate::error::AppError;

include!(concat!(env!("OUT_DIR"), "/ui_assets.rs"));

const INDEX: &str = "index.html";

fn asset(name: &str) -> Option<&'static [u8]> {
    ASSETS
        .iter()
        .find(|(file, _)| *file == name)
        .map(|(_, bytes)| *bytes)
}

/// The entry module and style sheets that `index.html` names, relative to the dist folder.
struct Entry {
    script: Option<String>,
    styles: Vec<String>,
}

fn entry() -> &'static Entry {
    static ENTRY: OnceLock<Entry> = OnceLock::new();
    ENTRY.get_or_init(|| {
        let page = asset(INDEX)
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        let attribute = |tag: &str, name: &str| {
            let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
            let end = tag[start..].find('"')? + start;
            Some(tag[start..end].trim_start_matches("./").to_owned())
        };
        let tags: Vec<&str> = page.split('<').collect();
        Entry {
            script: tags
                .iter()
                .find(|tag| {
                    tag.starts_with("script")
                        && tag.contains("type=\"module\"")
                        && tag.contains("src=")
                })
                .and_then(|tag| attribute(tag, "src")),
            styles: tags
                .iter()
                .filter(|tag| tag.starts_with("link") && tag.contains("rel=\"stylesheet\""))
                .filter_map(|tag| attribute(tag, "href"))
                .collect(),
        }
    })
}

fn respond(
    content_type: &str,
    cache: &str,
    body: impl actix_web::body::MessageBody + 'static,
) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, cache))
        .body(body)
}

/// Answers a UI file or, for any other path, the page itself.
pub async fn serve(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let path = request.path().trim_start_matches('/');
    let readable = matches!(*request.method(), Method::GET | Method::HEAD);
    if !readable || path.starts_with("api/") || path == "api" {
        return Err(AppError::NotFound(format!(
            "no route {} {}",
            request.method(),
            request.path()
        )));
    }
    // Where the browser finds us: "/" standalone, AppAPI's proxy path inside Nextcloud.
    let base = state
        .exapp()
        .map_or_else(|| "/".to_owned(), |exapp| exapp.nextcloud.proxy_path());
    match path {
        "js/openconnector-main.js" => {
            let script = entry().script.as_deref().ok_or_else(not_built)?;
            // A dynamic import works whether Nextcloud loads this as a classic script or a module.
            let loader = format!("import({:?});\n", format!("{base}{script}"));
            return Ok(respond(
                "text/javascript; charset=utf-8",
                "no-cache",
                loader,
            ));
        }
        "css/openconnector-main.css" => {
            let imports: String = entry()
                .styles
                .iter()
                .map(|style| format!("@import url({:?});\n", format!("{base}{style}")))
                .collect();
            return Ok(respond("text/css; charset=utf-8", "no-cache", imports));
        }
        _ => {}
    }
    if let Some(bytes) = asset(path).filter(|_| path != INDEX) {
        // Built files carry a content hash in their names, so they never change.
        let cache = if path.starts_with("assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        return Ok(respond(content_type(path), cache, bytes));
    }
    let page = asset(INDEX).ok_or_else(not_built)?;
    let page = String::from_utf8_lossy(page).replace("%BASE_HREF%", &base);
    Ok(respond("text/html; charset=utf-8", "no-cache", page))
}

fn not_built() -> AppError {
    AppError::NotFound(
        "the web UI is not built into this binary: run `npm ci && npm run build` in frontend/ and rebuild".into(),
    )
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
