//! Create, read, update, delete and list every kind through HTTP, on every backend.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{TestApp, backends};

/// Each collection with the smallest valid body and whether it has slugs.
fn kinds() -> Vec<(&'static str, Value, bool)> {
    vec![
        (
            "sources",
            json!({"name": "Weather API", "location": "http://127.0.0.1:1/api"}),
            true,
        ),
        (
            "endpoints",
            json!({"name": "Zaken", "endpoint": "api/zaken/{{id}}", "method": "GET"}),
            true,
        ),
        (
            "consumers",
            json!({"name": "https://issuer.example", "domains": ["a.example"]}),
            false,
        ),
        (
            "mappings",
            json!({"name": "Zaak mapping", "mapping": {"id": "uuid"}, "passTrough": true}),
            true,
        ),
        (
            "jobs",
            json!({"name": "Nightly sync", "interval": 60, "jobClass": "SynchronizationAction", "arguments": {"synchronizationId": 1}}),
            true,
        ),
        (
            "synchronizations",
            json!({"name": "Weather sync", "sourceId": 1, "targetId": "1/2"}),
            true,
        ),
        (
            "rules",
            json!({"name": "Auth rule", "type": "authentication", "order": 2}),
            true,
        ),
        (
            "events",
            json!({"source": "/sources/1", "type": "nl.openconnector.test"}),
            false,
        ),
        (
            "synchronization-contracts",
            json!({"synchronizationId": "1", "originId": "abc"}),
            false,
        ),
    ]
}

#[tokio::test]
async fn every_kind_round_trips_by_id_uuid_and_slug() {
    for backend in backends() {
        let app = TestApp::spawn(&backend).await;
        for (kind, body, has_slug) in kinds() {
            let context = format!("{} {kind}", app.backend);
            let (status, created) = app.post(&format!("/api/{kind}"), &body).await;
            assert_eq!(status, 201, "{context}: {created}");
            let id = created["id"].as_i64().expect("numeric id");
            let uuid = created["uuid"].as_str().expect("uuid").to_owned();
            for (key, value) in body.as_object().expect("object") {
                let key = if key == "passTrough" {
                    "passThrough"
                } else {
                    key.as_str()
                };
                let stored = &created[key];
                let same = stored == value || stored.as_str() == Some(&value.to_string());
                assert!(same, "{context}: {key} stored as {stored}, sent {value}");
            }

            let mut keys = vec![id.to_string(), uuid.clone()];
            if has_slug {
                let slug = created["slug"].as_str().expect("a generated slug");
                keys.push(slug.to_owned());
            }
            for key in &keys {
                let (status, read) = app.get(&format!("/api/{kind}/{key}")).await;
                assert_eq!((status, &read), (200, &created), "{context} by {key}");
            }

            let (status, list) = app.get(&format!("/api/{kind}")).await;
            assert_eq!(status, 200, "{context}");
            assert_eq!(list["total"], 1, "{context}: {list}");
            assert_eq!(list["results"][0]["id"], id, "{context}");

            let (status, updated) = app
                .send(
                    Method::PUT,
                    &format!("/api/{kind}/{uuid}"),
                    &json!({"uuid": "ignored-on-update"}),
                )
                .await;
            assert_eq!(status, 200, "{context}: {updated}");
            if created.get("version").is_some() {
                assert_eq!(
                    updated["version"], "0.0.2",
                    "{context}: the patch number goes up"
                );
                let (_, pinned) = app
                    .send(
                        Method::PATCH,
                        &format!("/api/{kind}/{id}"),
                        &json!({"version": "2.0.0"}),
                    )
                    .await;
                assert_eq!(
                    pinned["version"], "2.0.0",
                    "{context}: a given version wins"
                );
            }
            assert_eq!(
                updated["uuid"],
                uuid.as_str(),
                "{context}: the uuid never changes"
            );

            let response = app
                .request(Method::DELETE, &format!("/api/{kind}/{id}"))
                .send()
                .await
                .expect("DELETE");
            assert_eq!(response.status().as_u16(), 204, "{context}");
            let (status, missing) = app.get(&format!("/api/{kind}/{id}")).await;
            assert_eq!(status, 404, "{context}");
            assert!(
                missing["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("not found")),
                "{context}"
            );
        }
    }
}

#[tokio::test]
async fn lists_page_search_order_and_filter() {
    for backend in backends() {
        let app = TestApp::spawn(&backend).await;
        for n in 1..=25 {
            let body = json!({
                "name": format!("Source {n:02}"),
                "description": if n % 5 == 0 { "Has the Needle_word" } else { "plain" },
                "isEnabled": n % 2 == 0,
                "logRetention": n,
            });
            let (status, _) = app.post("/api/sources", &body).await;
            assert_eq!(status, 201);
        }
        let b = app.backend;
        let (_, page) = app.get("/api/sources?_limit=10&_page=3").await;
        assert_eq!(
            (
                page["total"].as_u64(),
                page["page"].as_u64(),
                page["pages"].as_u64()
            ),
            (Some(25), Some(3), Some(3)),
            "{b}"
        );
        assert_eq!(page["results"].as_array().map(Vec::len), Some(5), "{b}");
        assert_eq!(
            page["results"][0]["name"], "Source 21",
            "{b}: default order is by id"
        );

        let (_, page) = app.get("/api/sources?_order%5Bname%5D=desc&_limit=2").await;
        assert_eq!(page["results"][0]["name"], "Source 25", "{b}");
        assert_eq!(page["results"][1]["name"], "Source 24", "{b}");

        let (_, page) = app.get("/api/sources?_search=needle_WORD").await;
        assert_eq!(
            page["total"], 5,
            "{b}: search ignores case and reads _ literally"
        );
        let (_, page) = app.get("/api/sources?_search=needle%25word").await;
        assert_eq!(page["total"], 0, "{b}: % is not a wildcard");

        let (_, page) = app
            .get("/api/sources?isEnabled=true&logRetention=10,20")
            .await;
        let names: Vec<&str> = page["results"]
            .as_array()
            .expect("results")
            .iter()
            .filter_map(|r| r["name"].as_str())
            .collect();
        assert_eq!(
            names,
            [
                "Source 10",
                "Source 12",
                "Source 14",
                "Source 16",
                "Source 18",
                "Source 20"
            ],
            "{b}"
        );

        let (_, page) = app.get("/api/sources?description=plain&isEnabled=0").await;
        assert_eq!(page["total"], 10, "{b}");
        let (_, page) = app.get("/api/sources?reference=IS%20NULL").await;
        assert_eq!(page["total"], 25, "{b}");
        let (_, page) = app.get("/api/sources?_page=9").await;
        assert_eq!(
            (
                page["total"].as_u64(),
                page["results"].as_array().map(Vec::len)
            ),
            (Some(25), Some(0)),
            "{b}"
        );
    }
}

#[tokio::test]
async fn slugs_are_generated_unique_and_explicit_duplicates_conflict() {
    for backend in backends() {
        let app = TestApp::spawn(&backend).await;
        let b = app.backend;
        let mut slugs = Vec::new();
        for _ in 0..3 {
            let (_, created) = app
                .post("/api/mappings", &json!({"name": "Zaak → Case!"}))
                .await;
            slugs.push(created["slug"].as_str().unwrap_or_default().to_owned());
        }
        assert_eq!(slugs, ["zaak-case", "zaak-case-2", "zaak-case-3"], "{b}");

        let (status, error) = app
            .post(
                "/api/mappings",
                &json!({"name": "Other", "slug": "zaak-case"}),
            )
            .await;
        assert_eq!(status, 409, "{b}: {error}");
        assert_eq!(error["details"]["slug"], "already in use", "{b}");

        let (status, _) = app
            .send(
                Method::PUT,
                "/api/mappings/zaak-case-3",
                &json!({"slug": "zaak-case-2"}),
            )
            .await;
        assert_eq!(status, 409, "{b}");
        let (_, unchanged) = app.get("/api/mappings/zaak-case-3").await;
        assert_eq!(
            unchanged["version"], "0.0.1",
            "{b}: a refused update changes nothing"
        );

        let uuid = uuid::Uuid::new_v4().to_string();
        let (status, _) = app
            .post("/api/rules", &json!({"name": "R", "uuid": uuid}))
            .await;
        assert_eq!(status, 201, "{b}");
        let (status, error) = app
            .post("/api/rules", &json!({"name": "R2", "uuid": uuid}))
            .await;
        assert_eq!(
            (status, &error["details"]["uuid"]),
            (409, &json!("already in use")),
            "{b}"
        );
    }
}

#[tokio::test]
async fn contracts_list_per_synchronization_and_dashboard_counts() {
    for backend in backends() {
        let app = TestApp::spawn(&backend).await;
        let b = app.backend;
        let (_, sync) = app
            .post("/api/synchronizations", &json!({"name": "S"}))
            .await;
        let sync_id = sync["id"].to_string();
        for origin in ["a", "b", "c"] {
            app.post(
                "/api/synchronization-contracts",
                &json!({"synchronizationId": sync_id, "originId": origin}),
            )
            .await;
        }
        app.post(
            "/api/synchronization-contracts",
            &json!({"synchronizationId": "999", "originId": "z"}),
        )
        .await;

        let (status, page) = app
            .get("/api/synchronizations/s/contracts?_order%5BoriginId%5D=desc")
            .await;
        assert_eq!(status, 200, "{b}: {page}");
        let origins: Vec<&str> = page["results"]
            .as_array()
            .expect("results")
            .iter()
            .filter_map(|c| c["originId"].as_str())
            .collect();
        assert_eq!(origins, ["c", "b", "a"], "{b}");
        let (status, _) = app.get("/api/synchronizations/nope/contracts").await;
        assert_eq!(status, 404, "{b}");

        let (status, counts) = app.get("/api/dashboard").await;
        assert_eq!(status, 200, "{b}");
        assert_eq!(counts["synchronizations"], 1, "{b}");
        assert_eq!(counts["synchronizationContracts"], 4, "{b}");
        assert_eq!(counts["sources"], 0, "{b}");
    }
}

#[tokio::test]
async fn health_openapi_and_metrics_are_served() {
    let backend = &backends()[0];
    let app = TestApp::spawn(backend).await;
    let (status, health) = crate::common::read(
        app.client
            .get(format!("{}/api/health", app.base))
            .send()
            .await
            .expect("health"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(health["database"]["status"], "ok");

    let (status, document) = crate::common::read(
        app.client
            .get(format!("{}/api/openapi.json", app.base))
            .send()
            .await
            .expect("openapi"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(document["openapi"], "3.1.0");
    assert!(document["paths"]["/api/sources/{id}"]["put"].is_object());

    app.get("/api/sources").await;
    let metrics = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .expect("metrics");
    let text = metrics.text().await.expect("text");
    assert!(
        text.contains(
            r#"openconnector_http_requests_total{method="GET",route="/api/sources",status="2xx"} 1"#
        ),
        "{text}"
    );
}
