//! Import and export of configurations; the work is `crate::transfer`'s.

use actix_web::http::StatusCode;
use actix_web::http::header::{
    CONTENT_DISPOSITION, ContentDisposition, DispositionParam, DispositionType,
};
use actix_web::{HttpResponse, web};
use serde_json::Value;

use super::extract::json_object;
use crate::app::AppState;
use crate::db::store::Key;
use crate::error::AppError;
use crate::transfer::{self, Kind};

/// `POST /api/import`: `{json: <document or its text>, filename?, type?}`, or the document
/// itself. 201 when something was created, 200 otherwise.
pub async fn import(
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let mut request = json_object(&body)?;
    let (document, expected_type) = match request.remove("json") {
        Some(Value::String(text)) => {
            let file_name = request.get("filename").and_then(Value::as_str);
            (
                parse_document(&text, file_name)?,
                take_text(&request, "type"),
            )
        }
        Some(document @ Value::Object(_)) => (document, take_text(&request, "type")),
        Some(_) => {
            return Err(AppError::invalid_field(
                "json",
                "must be the document, or its JSON text",
            ));
        }
        None => (Value::Object(request), None),
    };
    let report = state
        .db
        .run(move |conn| transfer::import(conn, document, expected_type.as_deref()))
        .await?;
    let status = if report.created.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(HttpResponse::build(status).json(report))
}

fn take_text(request: &serde_json::Map<String, Value>, field: &str) -> Option<String> {
    request
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn parse_document(text: &str, file_name: Option<&str>) -> Result<Value, AppError> {
    let lower = file_name.unwrap_or_default().to_ascii_lowercase();
    if lower.ends_with(".yaml") || lower.ends_with(".yml") {
        return Err(AppError::invalid_field(
            "json",
            "YAML files are not supported; export the configuration as JSON",
        ));
    }
    serde_json::from_str(text).map_err(|e| {
        AppError::invalid_field(
            "json",
            &format!(
                "not valid JSON: {} at line {} column {}",
                super::extract::describe(&e),
                e.line(),
                e.column()
            ),
        )
    })
}

fn attachment(file_name: String) -> (actix_web::http::header::HeaderName, ContentDisposition) {
    (
        CONTENT_DISPOSITION,
        ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(file_name)],
        },
    )
}

/// `GET /api/export`: the whole configuration as one bundle.
pub async fn export_all(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let bundle = state
        .db
        .run(|conn| transfer::export_all(conn).map_err(AppError::from))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(attachment("openconnector-configuration.json".into()))
        .json(bundle))
}

/// `GET /api/export/{type}/{id}`: one object as JSON-LD.
pub async fn export_one(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (type_text, id) = path.into_inner();
    let kind = Kind::parse(&type_text).ok_or_else(|| {
        AppError::invalid_field(
            "type",
            &format!(
                "{type_text:?} cannot be exported; one of source, mapping, rule, endpoint, synchronization, job"
            ),
        )
    })?;
    let key = Key::parse(&id);
    let exported = state
        .db
        .run(move |conn| transfer::export_one(conn, kind, &key).map_err(AppError::from))
        .await?
        .ok_or_else(|| super::resources::not_found(kind.type_name(), &id))?;
    Ok(HttpResponse::Ok()
        .insert_header(attachment(exported.file_name))
        .json(exported.document))
}
