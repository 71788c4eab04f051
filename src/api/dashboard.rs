//! `GET /api/dashboard`: how many of each thing there are.

use actix_web::{HttpResponse, web};
use serde_json::{Map, Value};

use crate::app::AppState;
use crate::db::{self, store};
use crate::error::AppError;

/// The counted kinds, keyed as the PHP app's dashboard names them.
const COUNTED: [(&str, &db::Entity); 10] = [
    ("sources", &db::SOURCE),
    ("endpoints", &db::ENDPOINT),
    ("consumers", &db::CONSUMER),
    ("mappings", &db::MAPPING),
    ("jobs", &db::JOB),
    ("synchronizations", &db::SYNCHRONIZATION),
    ("synchronizationContracts", &db::CONTRACT),
    ("rules", &db::RULE),
    ("events", &db::EVENT),
    ("callLogs", &db::CALL_LOG),
];

pub async fn counts(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let counts = state
        .db
        .run(|conn| {
            let mut counts = Map::new();
            for (key, entity) in COUNTED {
                counts.insert(key.to_owned(), Value::from(store::count(conn, entity)?));
            }
            Ok::<_, store::StoreError>(counts)
        })
        .await?;
    Ok(HttpResponse::Ok().json(counts))
}
