//! The HTTP API: the one route table. Handlers parse, call the store, and shape the answer.

mod auth;
mod dashboard;
mod extract;
mod health;
mod jobs;
mod mappings;
mod openapi;
mod resources;
pub(crate) mod secrets;
mod settings;
mod sources;
mod synchronizations;
mod transfer;
mod ui;
pub(crate) mod validate;
mod webhooks;

use actix_web::web;

use crate::appapi::lifecycle;
use crate::db::{self, Entity};
pub use auth::authenticate;
use extract::Served;

/// Collections with full create, read, update, delete and list under `/api/<path>`.
pub const COLLECTIONS: [(&str, &Entity); 9] = [
    ("sources", &db::SOURCE),
    ("endpoints", &db::ENDPOINT),
    ("consumers", &db::CONSUMER),
    ("mappings", &db::MAPPING),
    ("jobs", &db::JOB),
    ("synchronizations", &db::SYNCHRONIZATION),
    ("rules", &db::RULE),
    ("events", &db::EVENT),
    ("synchronization-contracts", &db::CONTRACT),
];

/// Log lists (read and delete; logs are written by the service itself), newest first.
pub const LOGS: [(&str, &Entity); 6] = [
    ("sources/logs", &db::CALL_LOG),
    ("endpoints/logs", &db::ENDPOINT_LOG),
    ("events/messages", &db::EVENT_MESSAGE),
    ("jobs/logs", &db::JOB_LOG),
    ("synchronizations/logs", &db::SYNCHRONIZATION_LOG),
    ("synchronizations/contracts/logs", &db::CONTRACT_LOG),
];

/// Registers every route. Routes without authentication come first; everything else under
/// `/api` needs the admin token.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/api/health", web::get().to(health::health))
        .route("/api/openapi.json", web::get().to(openapi::document))
        .route("/metrics", web::get().to(crate::telemetry::metrics));

    config
        .route("/heartbeat", web::get().to(lifecycle::heartbeat))
        .route("/init", web::post().to(lifecycle::init))
        .route("/enabled", web::put().to(lifecycle::enabled));

    let mut api = web::scope("/api")
        .route(
            "/webhooks/openregister",
            web::post().to(webhooks::receive_object_event),
        )
        .route("/dashboard", web::get().to(dashboard::counts))
        .route("/sources/test/{id}", web::post().to(sources::test_source))
        .route(
            "/sources/logs/{id}/retry",
            web::post().to(sources::retry_call),
        )
        .route("/mappings/test", web::post().to(mappings::test_mapping))
        .route("/import", web::post().to(transfer::import))
        .route("/export", web::get().to(transfer::export_all))
        .route("/export/{type}/{id}", web::get().to(transfer::export_one))
        .route("/jobs/run/{id}", web::post().to(jobs::run))
        .route("/jobs/test/{id}", web::post().to(jobs::test))
        .route("/settings", web::get().to(settings::get))
        .route("/settings", web::put().to(settings::put))
        .route("/settings/stats", web::get().to(settings::stats))
        .route("/settings/rebase", web::post().to(settings::rebase))
        .route(
            "/synchronizations/{id}/contracts",
            web::get().to(synchronizations::list_contracts),
        )
        .route(
            "/synchronizations/{id}/run",
            web::post().to(synchronizations::run),
        )
        .route(
            "/synchronizations/{id}/test",
            web::post().to(synchronizations::test),
        )
        .route(
            "/synchronizations/{id}/progress",
            web::get().to(synchronizations::progress),
        );
    // Log routes precede the collections so that `/sources/logs` is not read as a source id.
    for (path, entity) in LOGS {
        let served = web::Data::new(Served {
            entity,
            newest_first: true,
        });
        api = api
            .service(
                web::resource(format!("/{path}"))
                    .app_data(served.clone())
                    .route(web::get().to(resources::list_items)),
            )
            .service(
                web::resource(format!("/{path}/{{id}}"))
                    .app_data(served)
                    .route(web::get().to(resources::get_item))
                    .route(web::delete().to(resources::delete_item)),
            );
    }
    for (path, entity) in COLLECTIONS {
        let served = web::Data::new(Served {
            entity,
            newest_first: false,
        });
        api = api
            .service(
                web::resource(format!("/{path}"))
                    .app_data(served.clone())
                    .route(web::get().to(resources::list_items))
                    .route(web::post().to(resources::create_item)),
            )
            .service(
                web::resource(format!("/{path}/{{id}}"))
                    .app_data(served)
                    .route(web::get().to(resources::get_item))
                    .route(web::put().to(resources::update_item))
                    .route(web::patch().to(resources::update_item))
                    .route(web::delete().to(resources::delete_item)),
            );
    }
    config.service(api);
    config.default_service(web::to(ui::serve));
}
