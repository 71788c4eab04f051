//! Mappings through the API: the test action, save-time template checks, and mappings that
//! call stored mappings.

use reqwest::Method;
use serde_json::json;

use crate::common::{TestApp, backends};

#[tokio::test]
async fn the_test_action_maps_casts_and_validates_against_a_schema() {
    let app = TestApp::spawn(&backends()[0]).await;
    let mapping = json!({
        "name": "Zaak",
        "mapping": {
            "title": "{{ omschrijving|upper }}",
            "identifier": "id",
            "status.code": "{% if afgerond %}closed{% else %}open{% endif %}",
            "count": "{{ items|length }}"
        },
        "cast": {"count": "int"},
        "unset": ["status.unused"]
    });
    let input = json!({"id": "Z-1", "omschrijving": "bouwvergunning", "afgerond": false, "items": [1, 2, 3]});
    let (status, answer) = app
        .post(
            "/api/mappings/test",
            &json!({"inputObject": input, "mapping": mapping}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["resultObject"],
        json!({"title": "BOUWVERGUNNING", "identifier": "Z-1", "status": {"code": "open"}, "count": 3})
    );
    assert_eq!(
        (
            answer["isValid"].as_bool(),
            answer["validationErrors"].as_array().map(Vec::len)
        ),
        (Some(true), Some(0))
    );

    let schema = json!({"type": "object", "required": ["title", "owner"], "properties": {"count": {"type": "string"}}});
    let (_, answer) = app
        .post(
            "/api/mappings/test",
            &json!({"inputObject": input, "mapping": mapping, "schema": schema}),
        )
        .await;
    assert_eq!(answer["isValid"], false);
    let pointers: Vec<&str> = answer["validationErrors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["pointer"].as_str())
        .collect();
    assert!(
        pointers.contains(&"/count") && pointers.contains(&""),
        "{answer}"
    );

    let (status, error) = app
        .post("/api/mappings/test", &json!({"mapping": "x"}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        error["details"]["inputObject"],
        "is required: the object to map"
    );
    assert_eq!(error["details"]["mapping"], "expected a mapping object");
}

#[tokio::test]
async fn templates_that_do_not_compile_are_refused_when_saved() {
    let app = TestApp::spawn(&backends()[0]).await;
    let (status, error) = app
        .post("/api/mappings", &json!({"name": "Broken", "mapping": {"ok": "{{ a }}", "bad": "line one\n{{ name | }}"}}))
        .await;
    assert_eq!(status, 400, "{error}");
    let problem = error["details"]["mapping.bad"]
        .as_str()
        .or(error["details"]["bad"].as_str())
        .unwrap_or_default();
    assert!(
        problem.contains("line 2"),
        "the error names the key and the line: {error}"
    );
    let (_, list) = app.get("/api/mappings").await;
    assert_eq!(list["total"], 0, "nothing was stored");

    let (status, created) = app
        .post(
            "/api/mappings",
            &json!({"name": "Fine", "mapping": {"a": "{{ b }}"}}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = app
        .send(
            Method::PUT,
            &format!("/api/mappings/{}", created["id"]),
            &json!({"mapping": {"a": "{% if %}"}}),
        )
        .await;
    assert_eq!(status, 400, "an update is checked too");
    let (_, unchanged) = app.get(&format!("/api/mappings/{}", created["id"])).await;
    assert_eq!(unchanged["mapping"], json!({"a": "{{ b }}"}));
}

#[tokio::test]
async fn a_mapping_calls_a_stored_mapping_by_slug() {
    let app = TestApp::spawn(&backends()[0]).await;
    let (status, _) = app
        .post("/api/mappings", &json!({"name": "Address", "mapping": {"street": "straat", "city": "{{ plaats|capitalize }}"}}))
        .await;
    assert_eq!(status, 201);
    let mapping = json!({
        "mapping": {"name": "naam", "address": "{{ executeMapping('address', adres)|json_encode }}"},
        "cast": {"address": "jsonToArray"}
    });
    let input = json!({"naam": "Gemeente", "adres": {"straat": "Markt 1", "plaats": "utrecht"}});
    let (status, answer) = app
        .post(
            "/api/mappings/test",
            &json!({"inputObject": input, "mapping": mapping}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["resultObject"],
        json!({"name": "Gemeente", "address": {"street": "Markt 1", "city": "Utrecht"}})
    );
}
