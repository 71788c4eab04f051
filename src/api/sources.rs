//! `POST /api/sources/test/{id}`: make one call to a source and show what came back.

use actix_web::{HttpResponse, web};
use reqwest::Method;
use serde_json::Value;

use super::extract::json_object;
use super::resources::not_found;
use crate::app::AppState;
use crate::call::{CallRequest, RequestBody, SourceSpec};
use crate::db::store::{self, Key};
use crate::db::{CALL_LOG, SOURCE};
use crate::error::AppError;

/// Body: `{method, endpoint, headers, query, body, type}`, all optional. Answers the CallLog
/// with the response body.
pub async fn test_source(
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let input = if body.iter().all(u8::is_ascii_whitespace) {
        Default::default()
    } else {
        json_object(&body)?
    };
    let request = test_request(&input)?;
    let key = Key::parse(&id);
    let row = state
        .db
        .run(move |conn| store::find(conn, &SOURCE, &key))
        .await?;
    let source = SourceSpec::from_row(&row.ok_or_else(|| not_found(SOURCE.name, &id))?);
    let response = state.calls.call(&source, request).await;
    Ok(HttpResponse::Ok().json(response.log(&source)))
}

fn test_request(input: &serde_json::Map<String, Value>) -> Result<CallRequest, AppError> {
    let mut problems = std::collections::BTreeMap::new();
    let method_name = input
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or("GET")
        .to_ascii_uppercase();
    let method = Method::from_bytes(method_name.as_bytes()).unwrap_or_else(|_| {
        problems.insert(
            "method".to_owned(),
            "expected an HTTP method such as GET".to_owned(),
        );
        Method::GET
    });
    let mut request = CallRequest::new(
        method,
        input
            .get("endpoint")
            .and_then(Value::as_str)
            .unwrap_or_default(),
    );
    let mut pairs = |field: &str| -> Vec<(String, String)> {
        match input.get(field) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                    )
                })
                .collect(),
            Some(_) => {
                problems.insert(
                    field.to_owned(),
                    "expected an object of names to values".to_owned(),
                );
                Vec::new()
            }
        }
    };
    request.headers = pairs("headers");
    request.query = pairs("query");
    let content_type = match input.get("type").and_then(Value::as_str) {
        None | Some("json") => "application/json",
        Some("xml") => "application/xml",
        Some("yaml") => "application/x-yaml",
        Some(_) => {
            problems.insert("type".to_owned(), "expected json, xml or yaml".to_owned());
            "application/json"
        }
    };
    match input.get("body") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) if text.is_empty() => {}
        Some(Value::String(text)) => {
            request.body = Some(RequestBody::Text(text.clone()));
            request
                .headers
                .push(("content-type".into(), content_type.into()));
        }
        Some(value) => request.body = Some(RequestBody::Json(value.clone())),
    }
    if problems.is_empty() {
        Ok(request)
    } else {
        Err(AppError::invalid_fields(problems))
    }
}

/// `POST /api/sources/logs/{id}/retry`: sends a logged call again through its source, with the
/// source's current authentication, and answers the new CallLog.
pub async fn retry_call(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let key = Key::parse(&id);
    let log = state
        .db
        .run(move |conn| store::find(conn, &CALL_LOG, &key))
        .await?
        .ok_or_else(|| not_found(CALL_LOG.name, &id))?;
    let source_key = log
        .get("sourceId")
        .map(|id| id.to_string())
        .unwrap_or_default();
    let lookup = Key::parse(&source_key);
    let row = state
        .db
        .run(move |conn| store::find(conn, &SOURCE, &lookup))
        .await?
        .ok_or_else(|| AppError::Conflict {
            message: format!("the source {source_key} of this call is gone"),
            details: std::collections::BTreeMap::new(),
        })?;
    let request =
        crate::call::calllog::replay(&log["request"]).map_err(|problem| AppError::Conflict {
            message: format!("this call cannot be sent again: {problem}"),
            details: std::collections::BTreeMap::new(),
        })?;
    let source = SourceSpec::from_row(&row);
    let response = state.calls.call(&source, request).await;
    Ok(HttpResponse::Ok().json(response.log(&source)))
}
