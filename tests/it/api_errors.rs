//! Bad input gets a 4xx naming the problem, and nothing is written.

use reqwest::Method;
use serde_json::json;

use crate::common::{TestApp, backends, read};

#[tokio::test]
async fn malformed_and_invalid_bodies_are_refused_and_nothing_is_written() {
    for backend in backends() {
        let app = TestApp::spawn(&backend).await;
        let b = app.backend;
        let raw = |body: &'static str| {
            app.request(Method::POST, "/api/sources")
                .header("content-type", "application/json")
                .body(body)
                .send()
        };
        let (status, error) = read(raw("{\"name\": ").await.expect("answer")).await;
        assert_eq!(status, 400, "{b}");
        assert!(
            error["error"]
                .as_str()
                .is_some_and(|e| e.starts_with("the body is not valid JSON")),
            "{b}: {error}"
        );
        let (status, error) = read(raw("[]").await.expect("answer")).await;
        assert_eq!(
            (status, error["error"].as_str()),
            (400, Some("the body must be a JSON object")),
            "{b}"
        );

        let (status, error) = app
            .post(
                "/api/sources",
                &json!({
                    "description": "no name",
                    "isEnabled": "maybe",
                    "configuration": "not an object",
                    "colour": "red",
                    "logRetention": 1.5,
                    "slug": "Not A Slug",
                    "_links": {"ignored": true},
                    "dateCreated": "ignored",
                    "password": "legacy and ignored",
                }),
            )
            .await;
        assert_eq!(status, 400, "{b}");
        assert_eq!(
            error["details"],
            json!({
                "name": "is required",
                "isEnabled": "expected a boolean",
                "configuration": "expected a JSON object or array",
                "colour": "unknown field",
                "logRetention": "expected an integer",
                "slug": "expected lowercase letters, digits and single dashes",
            }),
            "{b}"
        );
        let (_, created) = app.post("/api/sources", &json!({"name": "ok"})).await;
        let (status, error) = app
            .send(
                Method::PUT,
                "/api/sources/ok",
                &json!({"name": "", "location": 5}),
            )
            .await;
        assert_eq!(
            (status, &error["details"]["name"]),
            (400, &json!("is required")),
            "{b}"
        );
        let (_, after) = app.get("/api/sources/ok").await;
        assert_eq!(after, created, "{b}: a refused update writes nothing");
        let (_, list) = app.get("/api/sources").await;
        assert_eq!(list["total"], 1, "{b}: refused creates wrote nothing");

        for path in [
            "/api/sources/999",
            "/api/sources/no-such-slug",
            "/api/consumers/some-slug",
        ] {
            let (status, error) = app.get(path).await;
            assert_eq!(status, 404, "{b} {path}");
            assert!(error["error"].is_string(), "{b} {path}");
        }
        let (status, _) = app
            .send(Method::PUT, "/api/sources/999", &json!({"name": "x"}))
            .await;
        assert_eq!(status, 404, "{b}");
        let (status, error) = app.get("/api/sources?_limit=501&_page=0&colour=red").await;
        assert_eq!(status, 400, "{b}");
        assert_eq!(
            error["details"],
            json!({
                "_limit": "expected a whole number from 1 to 500",
                "_page": "expected a whole number of at least 1",
                "colour": "unknown field",
            }),
            "{b}"
        );
    }
}

#[tokio::test]
async fn every_api_route_but_health_needs_the_admin_token() {
    let app = TestApp::spawn(&backends()[0]).await;
    for path in [
        "/api/sources",
        "/api/dashboard",
        "/api/sources/logs",
        "/api/synchronizations/1/contracts",
    ] {
        let url = format!("{}{path}", app.base);
        let (status, body) = read(app.client.get(&url).send().await.expect("answer")).await;
        assert_eq!(status, 401, "{path}");
        assert!(
            body["error"].as_str().is_some_and(|e| e.contains("Bearer")),
            "{path}"
        );
        let (status, _) = read(
            app.client
                .get(&url)
                .bearer_auth("wrong-token")
                .send()
                .await
                .expect("answer"),
        )
        .await;
        assert_eq!(status, 401, "{path}");
        let (status, _) = read(
            app.client
                .get(&url)
                .basic_auth("admin", Some(crate::common::TOKEN))
                .send()
                .await
                .expect("answer"),
        )
        .await;
        assert_eq!(status, 401, "{path}: only the bearer scheme is accepted");
    }
    let (status, _) = read(
        app.client
            .get(format!("{}/api/health", app.base))
            .send()
            .await
            .expect("answer"),
    )
    .await;
    assert_eq!(status, 200);
}
