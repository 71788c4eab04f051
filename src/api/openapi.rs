//! `GET /api/openapi.json`: an OpenAPI 3.1 description of the API, generated from the same
//! route lists and entity descriptors that serve the requests, so it cannot drift.

use std::sync::OnceLock;

use actix_web::HttpResponse;
use serde_json::{Map, Value, json};

use super::{COLLECTIONS, LOGS};
use crate::db::{Entity, FieldType};

pub async fn document() -> HttpResponse {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    HttpResponse::Ok().json(DOCUMENT.get_or_init(build))
}

fn build() -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    schemas.insert(
        "Error".into(),
        json!({
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": { "type": "string", "description": "What went wrong, for people." },
                "details": {
                    "type": "object",
                    "additionalProperties": { "type": "string" },
                    "description": "The problem with each field or parameter, by name."
                }
            }
        }),
    );
    paths.insert("/api/health".into(), json!({
        "get": {
            "operationId": "health",
            "summary": "Whether the service and its database answer",
            "security": [],
            "responses": {
                "200": { "description": "Healthy", "content": json_content(json!({ "type": "object" })) },
                "503": { "description": "The database is unreachable" }
            }
        }
    }));
    paths.insert("/api/dashboard".into(), json!({
        "get": {
            "operationId": "dashboard",
            "summary": "Counts of each kind of item",
            "responses": {
                "200": {
                    "description": "Counts",
                    "content": json_content(json!({ "type": "object", "additionalProperties": { "type": "integer" } }))
                },
                "401": error_response("No or a wrong admin token")
            }
        }
    }));
    paths.insert("/metrics".into(), json!({
        "get": {
            "operationId": "metrics",
            "summary": "Request counts and latencies in Prometheus text format",
            "security": [],
            "responses": { "200": { "description": "Metrics", "content": { "text/plain": { "schema": { "type": "string" } } } } }
        }
    }));
    for (path, entity) in COLLECTIONS {
        schemas.insert(entity.name.into(), entity_schema(entity));
        let item = schema_ref(entity.name);
        paths.insert(
            format!("/api/{path}"),
            json!({
                "get": list_operation(entity, &format!("list_{}", operation_name(path))),
                "post": {
                    "operationId": format!("create_{}", operation_name(path)),
                    "summary": format!("Create a {}", entity.name),
                    "requestBody": { "required": true, "content": json_content(item.clone()) },
                    "responses": {
                        "201": { "description": "Created", "content": json_content(item.clone()) },
                        "400": error_response("Malformed JSON or invalid fields"),
                        "401": error_response("No or a wrong admin token"),
                        "409": error_response("The slug or uuid is already in use")
                    }
                }
            }),
        );
        let write = |verb: &str| {
            json!({
                "operationId": format!("{verb}_{}", operation_name(path)),
                "summary": format!("Change fields of a {} (the version's patch number goes up unless one is given)", entity.name),
                "parameters": [id_parameter()],
                "requestBody": { "required": true, "content": json_content(item.clone()) },
                "responses": {
                    "200": { "description": "Updated", "content": json_content(item.clone()) },
                    "400": error_response("Malformed JSON or invalid fields"),
                    "404": error_response("No such item"),
                    "409": error_response("The slug is already in use")
                }
            })
        };
        paths.insert(
            format!("/api/{path}/{{id}}"),
            json!({
                "get": get_operation(entity, &format!("get_{}", operation_name(path))),
                "put": write("update"),
                "patch": write("patch"),
                "delete": delete_operation(entity, &format!("delete_{}", operation_name(path)))
            }),
        );
    }
    for (path, entity) in LOGS {
        schemas.insert(entity.name.into(), entity_schema(entity));
        let name = operation_name(path);
        paths.insert(
            format!("/api/{path}"),
            json!({ "get": list_operation(entity, &format!("list_{name}")) }),
        );
        paths.insert(
            format!("/api/{path}/{{id}}"),
            json!({
                "get": get_operation(entity, &format!("get_{name}")),
                "delete": delete_operation(entity, &format!("delete_{name}"))
            }),
        );
    }
    let contracts = list_operation(
        &crate::db::CONTRACT,
        "list_synchronization_contracts_of_synchronization",
    );
    let mut contracts = contracts;
    if let Some(parameters) = contracts
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
    {
        parameters.insert(0, id_parameter());
    }
    paths.insert(
        "/api/synchronizations/{id}/contracts".into(),
        json!({ "get": contracts }),
    );
    for (path, method, summary) in ACTIONS {
        let mut operation = json!({
            "summary": summary,
            "operationId": format!("{method}{}", operation_name(path)),
            "responses": {
                "200": { "description": "Done", "content": json_content(json!({ "type": "object" })) },
                "400": error_response("Invalid input, each field named"),
                "404": error_response("Not found"),
                "409": error_response("Cannot run now"),
            }
        });
        let mut parameters = Vec::new();
        if path.contains("{type}") {
            parameters.push(json!({
                "name": "type", "in": "path", "required": true,
                "schema": { "type": "string", "enum": ["source", "mapping", "rule", "endpoint", "synchronization", "job"] }
            }));
        }
        if path.contains("{id}") {
            parameters.push(id_parameter());
        }
        if !parameters.is_empty() {
            operation["parameters"] = Value::Array(parameters);
        }
        if method != "get" {
            operation["requestBody"] =
                json!({ "content": json_content(json!({ "type": "object" })) });
        }
        let entry = paths.entry(path.to_owned()).or_insert_with(|| json!({}));
        entry[method] = operation;
    }

    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "OpenConnector",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Sources, mappings, synchronizations, endpoints and jobs for Nextcloud."
        },
        "servers": [{ "url": "/" }],
        "security": [{ "adminToken": [] }],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": { "adminToken": { "type": "http", "scheme": "bearer" } }
        }
    })
}

/// Routes that act rather than store: (path, method, summary).
const ACTIONS: [(&str, &str, &str); 14] = [
    (
        "/api/import",
        "post",
        "Import a configuration bundle or one exported object: `{json, filename?, type?}`",
    ),
    (
        "/api/export",
        "get",
        "The whole configuration as one bundle, references as slugs",
    ),
    (
        "/api/export/{type}/{id}",
        "get",
        "One source, mapping, rule, endpoint, synchronization or job as JSON-LD",
    ),
    (
        "/api/sources/test/{id}",
        "post",
        "Call a source once; answers the CallLog",
    ),
    (
        "/api/mappings/test",
        "post",
        "Run an unsaved mapping on a sample input",
    ),
    (
        "/api/synchronizations/{id}/run",
        "post",
        "Run a synchronization now (`test`, `force`); answers its log",
    ),
    (
        "/api/synchronizations/{id}/test",
        "post",
        "Run a synchronization that writes nothing",
    ),
    (
        "/api/synchronizations/{id}/progress",
        "get",
        "Progress of a running synchronization",
    ),
    (
        "/api/jobs/run/{id}",
        "post",
        "Run a job now (`forceRun`); answers its JobLog",
    ),
    (
        "/api/jobs/test/{id}",
        "post",
        "Run a job without moving its schedule; answers its JobLog",
    ),
    (
        "/api/settings",
        "get",
        "Retention settings (milliseconds, 0 keeps)",
    ),
    (
        "/api/settings",
        "put",
        "Change retention settings: `{retention: {...}}`",
    ),
    (
        "/api/settings/stats",
        "get",
        "Counts and sizes of the log tables",
    ),
    (
        "/api/settings/rebase",
        "post",
        "Recompute the expiry of stored logs",
    ),
];

fn operation_name(path: &str) -> String {
    path.replace(['/', '-'], "_")
}

fn json_content(schema: Value) -> Value {
    json!({ "application/json": { "schema": schema } })
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn error_response(description: &str) -> Value {
    json!({ "description": description, "content": json_content(schema_ref("Error")) })
}

fn id_parameter() -> Value {
    json!({
        "name": "id", "in": "path", "required": true,
        "description": "The numeric id, the uuid or the slug",
        "schema": { "type": "string" }
    })
}

fn list_operation(entity: &Entity, operation_id: &str) -> Value {
    let mut parameters = vec![
        json!({ "name": "_page", "in": "query", "schema": { "type": "integer", "minimum": 1, "default": 1 } }),
        json!({ "name": "_limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 500, "default": 20 } }),
        json!({ "name": "_search", "in": "query", "description": format!("Words in {}", entity.search.join(" or ")), "schema": { "type": "string" } }),
    ];
    if entity.created.is_some() {
        for name in ["date_from", "date_to"] {
            parameters.push(json!({ "name": name, "in": "query", "schema": { "type": "string", "format": "date-time" } }));
        }
    }
    for field in entity.fields.iter().filter(|f| f.ty != FieldType::Json) {
        let ranged = matches!(field.ty, FieldType::Int | FieldType::Time);
        let description = if ranged {
            "Equal to the value; `min,max` for an inclusive range; `IS NULL` or `IS NOT NULL`"
        } else {
            "Equal to the value; `IS NULL` or `IS NOT NULL`"
        };
        parameters.push(json!({ "name": field.name, "in": "query", "description": description, "schema": { "type": "string" } }));
        parameters.push(json!({
            "name": format!("_order[{}]", field.name), "in": "query",
            "schema": { "type": "string", "enum": ["asc", "desc"] }
        }));
    }
    json!({
        "operationId": operation_id,
        "summary": format!("List {} items", entity.name),
        "parameters": parameters,
        "responses": {
            "200": {
                "description": "One page",
                "content": json_content(json!({
                    "type": "object",
                    "required": ["results", "total", "page", "pages"],
                    "properties": {
                        "results": { "type": "array", "items": schema_ref(entity.name) },
                        "total": { "type": "integer" },
                        "page": { "type": "integer" },
                        "pages": { "type": "integer" }
                    }
                }))
            },
            "400": error_response("A parameter is invalid"),
            "401": error_response("No or a wrong admin token")
        }
    })
}

fn get_operation(entity: &Entity, operation_id: &str) -> Value {
    json!({
        "operationId": operation_id,
        "summary": format!("Read a {}", entity.name),
        "parameters": [id_parameter()],
        "responses": {
            "200": { "description": "Found", "content": json_content(schema_ref(entity.name)) },
            "404": error_response("No such item")
        }
    })
}

fn delete_operation(entity: &Entity, operation_id: &str) -> Value {
    json!({
        "operationId": operation_id,
        "summary": format!("Delete a {}", entity.name),
        "parameters": [id_parameter()],
        "responses": {
            "204": { "description": "Deleted" },
            "404": error_response("No such item")
        }
    })
}

fn entity_schema(entity: &Entity) -> Value {
    let mut properties = Map::new();
    properties.insert("id".into(), json!({ "type": "integer", "readOnly": true }));
    for field in entity.fields {
        let mut schema = match field.ty {
            FieldType::Uuid => json!({ "type": ["string", "null"], "format": "uuid" }),
            FieldType::Str => json!({ "type": ["string", "null"], "maxLength": 255 }),
            FieldType::Text => json!({ "type": ["string", "null"] }),
            FieldType::Int => json!({ "type": ["integer", "null"] }),
            FieldType::Bool => json!({ "type": ["boolean", "null"] }),
            FieldType::Json => json!({ "type": ["object", "array", "null"] }),
            FieldType::Time => json!({ "type": ["string", "null"], "format": "date-time" }),
        };
        if entity.is_read_only(field.name) {
            schema["readOnly"] = Value::Bool(true);
        }
        properties.insert(field.name.into(), schema);
    }
    json!({
        "type": "object",
        "required": entity.required,
        "properties": properties
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_of_the_table_is_described() {
        let document = build();
        let paths = document["paths"].as_object().expect("paths");
        for (path, _) in COLLECTIONS.iter().chain(LOGS.iter()) {
            assert!(paths.contains_key(&format!("/api/{path}")), "{path}");
            assert!(
                paths.contains_key(&format!("/api/{path}/{{id}}")),
                "{path}/{{id}}"
            );
        }
        assert_eq!(
            document["components"]["schemas"]["Source"]["required"],
            json!(["name"])
        );
    }
}
