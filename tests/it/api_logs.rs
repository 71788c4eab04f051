//! Log lists: newest first, date and status ranges, per-parent filters, delete.

use openconnector::db::sql::Bind;
use openconnector::db::{CALL_LOG, store};
use reqwest::Method;

use crate::common::{TestApp, backends};

/// Call logs for sources 1 and 2, one a day through January 2026, with statuses cycling
/// 200, 404, 500.
fn call_logs() -> Vec<Vec<Bind>> {
    (0..30)
        .map(|n: i64| {
            let day = chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
                .and_then(|d| d.checked_add_days(chrono::Days::new(n as u64)));
            let created = day.and_then(|d| d.and_hms_opt(12, 0, 0));
            CALL_LOG
                .fields
                .iter()
                .map(|f| match f.name {
                    "uuid" => Bind::Text(Some(uuid::Uuid::new_v4().to_string())),
                    "statusCode" => Bind::Int(Some([200, 404, 500][(n % 3) as usize])),
                    "sourceId" => Bind::Int(Some(1 + n % 2)),
                    "request" => {
                        Bind::Text(Some(format!(r#"{{"method":"GET","url":"/items/{n}"}}"#)))
                    }
                    "created" => Bind::Time(created),
                    "size" => Bind::Int(Some(4096)),
                    _ => match f.ty {
                        openconnector::db::FieldType::Int => Bind::Int(None),
                        openconnector::db::FieldType::Bool => Bind::Bool(None),
                        openconnector::db::FieldType::Time => Bind::Time(None),
                        _ => Bind::Text(None),
                    },
                })
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn call_logs_filter_by_date_status_and_source_newest_first() {
    for backend in backends() {
        let app = TestApp::spawn(&backend).await;
        let b = app.backend;
        app.store
            .db
            .run_blocking(|conn| store::insert_rows(conn, &CALL_LOG, call_logs()))
            .expect("logs insert");

        let (status, page) = app.get("/api/sources/logs?_limit=5").await;
        assert_eq!(status, 200, "{b}: {page}");
        assert_eq!(page["total"], 30, "{b}");
        assert_eq!(page["pages"], 6, "{b}");
        assert_eq!(
            page["results"][0]["request"]["url"], "/items/29",
            "{b}: newest first"
        );

        let (_, page) = app.get("/api/sources/logs?status_code=400,599&source_id=1&date_from=2026-01-10&date_to=2026-01-20T23:59:59Z").await;
        let urls: Vec<&str> = page["results"]
            .as_array()
            .expect("results")
            .iter()
            .filter_map(|r| r["request"]["url"].as_str())
            .collect();
        // Days 10..=20 are n = 9..=19; source 1 is even n; status >= 400 is n % 3 != 0.
        assert_eq!(urls, ["/items/16", "/items/14", "/items/10"], "{b}");

        let (_, page) = app.get("/api/sources/logs?statusCode=200&sourceId=2").await;
        assert_eq!(page["total"], 5, "{b}");

        let id = page["results"][0]["id"].as_i64().expect("id");
        let response = app
            .request(Method::DELETE, &format!("/api/sources/logs/{id}"))
            .send()
            .await
            .expect("delete");
        assert_eq!(response.status().as_u16(), 204, "{b}");
        let (_, page) = app.get("/api/sources/logs?statusCode=200&sourceId=2").await;
        assert_eq!(page["total"], 4, "{b}");

        let (status, error) = app.get("/api/sources/logs?status_code=abc,").await;
        assert_eq!(
            (status, &error["details"]["status_code"]),
            (400, &serde_json::json!("expected an integer")),
            "{b}"
        );
        for path in ["/api/jobs/logs", "/api/synchronizations/logs"] {
            let (status, page) = app.get(path).await;
            assert_eq!(
                (status, &page["total"]),
                (200, &serde_json::json!(0)),
                "{b} {path}"
            );
        }
    }
}

#[tokio::test]
async fn event_deliveries_and_endpoint_logs_are_listed_with_filters() {
    use openconnector::db::{ENDPOINT_LOG, EVENT_MESSAGE};
    for backend in backends() {
        let app = TestApp::spawn(&backend).await;
        let b = app.backend;
        app.store
            .db
            .run_blocking(|conn| {
                for (n, status) in ["delivered", "failed", "failed"].iter().enumerate() {
                    let message = serde_json::json!({"eventId": n + 1, "subscriptionId": 7, "status": status,
                        "payload": {"type": "object.created"}, "retryCount": n});
                    store::create(conn, &EVENT_MESSAGE, message.as_object().unwrap())?;
                }
                for (endpoint, code) in [(3, 200), (3, 404), (4, 200)] {
                    let log = serde_json::json!({"endpointId": endpoint, "statusCode": code,
                        "method": "GET", "path": "/api/endpoint/zaken"});
                    store::create(conn, &ENDPOINT_LOG, log.as_object().unwrap())?;
                }
                Ok::<_, store::StoreError>(())
            })
            .expect("rows");

        let (status, page) = app.get("/api/events/messages?status=failed").await;
        assert_eq!(status, 200, "{b}: {page}");
        assert_eq!(page["total"], 2, "{b}: {page}");
        assert_eq!(page["results"][0]["eventId"], 3, "{b}: newest first");

        let (status, page) = app.get("/api/endpoints/logs?endpoint_id=3").await;
        assert_eq!(status, 200, "{b}: {page}");
        assert_eq!(page["total"], 2, "{b}: {page}");
        assert_eq!(page["results"][0]["statusCode"], 404, "{b}: {page}");
    }
}
