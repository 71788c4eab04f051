//! Import and export: a configuration leaves one installation as a bundle and arrives whole in
//! another, references turned into the new ids; one object travels as JSON-LD.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{TestApp, backends, read};

const PASSWORD: &str = "s3cret-basic-password";

/// Creates a connected set in `app`: a source with a password, a mapping, a rule naming the
/// source, two synchronizations (the first follows up with the second) and a job.
async fn configure(app: &TestApp) {
    let created = |(status, body): (u16, Value)| {
        assert_eq!(status, 201, "{}: {body}", app.backend);
        body["id"].as_i64().expect("an id")
    };
    let source = created(
        app.post(
            "/api/sources",
            &json!({"name": "Zaken API", "location": "http://127.0.0.1:9/",
                "configuration": {"authentication": {"type": "basic", "username": "u", "password": PASSWORD}}}),
        )
        .await,
    );
    let mapping = created(
        app.post(
            "/api/mappings",
            &json!({"name": "Zaak", "mapping": {"title": "{{ name }}"}}),
        )
        .await,
    );
    let rule = created(
        app.post(
            "/api/rules",
            &json!({"name": "Fetch files", "type": "fetch_file",
                "configuration": {"fetch_file": {"source": source.to_string()}}}),
        )
        .await,
    );
    let second = created(
        app.post(
            "/api/synchronizations",
            &json!({"name": "B second", "sourceType": "api", "sourceId": source.to_string(),
                "targetType": "register/schema", "targetId": "1/2"}),
        )
        .await,
    );
    let first = created(
        app.post(
            "/api/synchronizations",
            &json!({"name": "A first", "sourceType": "api", "sourceId": source.to_string(),
                "sourceTargetMapping": mapping.to_string(), "targetType": "register/schema",
                "targetId": "1/2", "actions": [rule], "followUps": [second.to_string()]}),
        )
        .await,
    );
    created(
        app.post(
            "/api/jobs",
            &json!({"name": "Nightly", "jobClass": "SynchronizationAction",
                "arguments": {"synchronizationId": first}}),
        )
        .await,
    );
}

async fn import(app: &TestApp, bundle: &Value) -> (u16, Value) {
    app.post(
        "/api/import",
        &json!({"json": bundle.to_string(), "filename": "configuration.json"}),
    )
    .await
}

fn slugs(report: &Value, list: &str) -> Vec<String> {
    let mut slugs: Vec<String> = report[list]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|item| {
            format!(
                "{}:{}",
                item["type"].as_str().unwrap(),
                item["slug"].as_str().unwrap()
            )
        })
        .collect();
    slugs.sort();
    slugs
}

async fn find(app: &TestApp, kind: &str, slug: &str) -> Value {
    let (status, body) = app.get(&format!("/api/{kind}/{slug}")).await;
    assert_eq!(status, 200, "{}: {kind}/{slug}: {body}", app.backend);
    body
}

#[tokio::test]
async fn a_configuration_moves_to_another_installation_with_its_references() {
    for backend in backends() {
        let home = TestApp::spawn(&backend).await;
        let b = home.backend;
        configure(&home).await;

        let response = home
            .request(Method::GET, "/api/export")
            .send()
            .await
            .unwrap();
        let disposition = response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            disposition.contains("openconnector-configuration.json"),
            "{b}: {disposition}"
        );
        let (status, bundle) = read(response).await;
        assert_eq!(status, 200, "{b}: {bundle}");
        let components = &bundle["components"];
        let sync = &components["synchronizations"]["a-first"];
        assert_eq!(sync["sourceId"], "zaken-api", "{b}: {sync}");
        assert_eq!(sync["sourceTargetMapping"], "zaak", "{b}");
        assert_eq!(sync["actions"], json!(["fetch-files"]), "{b}");
        assert_eq!(sync["followUps"], json!(["b-second"]), "{b}");
        assert_eq!(
            sync["targetId"], "1/2",
            "{b}: a register target stays as it is"
        );
        assert!(
            sync.get("id").is_none() && sync.get("uuid").is_none(),
            "{b}: {sync}"
        );
        assert_eq!(
            components["rules"]["fetch-files"]["configuration"]["fetch_file"]["source"],
            "zaken-api",
            "{b}"
        );
        assert_eq!(
            components["jobs"]["nightly"]["arguments"]["synchronizationId"], "a-first",
            "{b}"
        );
        assert!(
            !bundle.to_string().contains(PASSWORD),
            "{b}: the password left in clear"
        );

        let away = TestApp::spawn(&backend).await;
        // Something of its own first, so ids differ between the installations.
        away.post("/api/mappings", &json!({"name": "Local"})).await;
        let (status, report) = import(&away, &bundle).await;
        assert_eq!(status, 201, "{b}: {report}");
        assert_eq!(
            slugs(&report, "created"),
            [
                "job:nightly",
                "mapping:zaak",
                "rule:fetch-files",
                "source:zaken-api",
                "synchronization:a-first",
                "synchronization:b-second"
            ],
            "{b}: {report}"
        );
        let warnings = report["warnings"].to_string();
        assert!(
            warnings.contains("components.sources.zaken-api.configuration.authentication.password"),
            "{b}: the missing secret is named: {warnings}"
        );

        let source = find(&away, "sources", "zaken-api").await;
        let mapping = find(&away, "mappings", "zaak").await;
        let first = find(&away, "synchronizations", "a-first").await;
        let second = find(&away, "synchronizations", "b-second").await;
        let rule = find(&away, "rules", "fetch-files").await;
        let job = find(&away, "jobs", "nightly").await;
        assert_eq!(first["sourceId"], source["id"].to_string(), "{b}: {first}");
        assert_eq!(
            first["sourceTargetMapping"],
            mapping["id"].to_string(),
            "{b}"
        );
        assert_eq!(first["actions"], json!([rule["id"]]), "{b}");
        assert_eq!(
            first["followUps"],
            json!([second["id"]]),
            "{b}: a reference to a later object is resolved too"
        );
        assert_eq!(
            rule["configuration"]["fetch_file"]["source"], source["id"],
            "{b}"
        );
        assert_eq!(job["arguments"]["synchronizationId"], first["id"], "{b}");
        assert!(
            source["configuration"]["authentication"]
                .get("password")
                .is_none(),
            "{b}: no mask stored as a password: {source}"
        );

        // The same bundle again changes nothing; an edited one changes only what was edited.
        let (status, report) = import(&away, &bundle).await;
        assert_eq!(status, 200, "{b}: {report}");
        assert_eq!(slugs(&report, "unchanged").len(), 6, "{b}: {report}");
        let mut edited = bundle.clone();
        edited["components"]["mappings"]["zaak"]["mapping"]["title"] = json!("{{ name|upper }}");
        let (status, report) = import(&away, &edited).await;
        assert_eq!(status, 200, "{b}: {report}");
        assert_eq!(slugs(&report, "updated"), ["mapping:zaak"], "{b}: {report}");
        assert_eq!(
            find(&away, "mappings", "zaak").await["mapping"]["title"],
            "{{ name|upper }}",
            "{b}"
        );
    }
}

#[tokio::test]
async fn a_bad_bundle_is_refused_whole_naming_each_problem() {
    for backend in backends() {
        let app = TestApp::spawn(&backend).await;
        let b = app.backend;
        let bundle = json!({"components": {
            "sources": {"fresh": {"name": "Fresh", "location": "http://127.0.0.1:9/"}},
            "mappings": {"broken": {"name": "Broken", "mapping": {"title": "{{ name"}}},
        }});
        let (status, body) = import(&app, &bundle).await;
        assert_eq!(status, 400, "{b}: {body}");
        let details = body["details"].as_object().expect("details");
        assert!(
            details
                .keys()
                .any(|k| k.starts_with("components.mappings.broken.") && k.ends_with("title")),
            "{b}: {body}"
        );
        let (status, _) = app.get("/api/sources/fresh").await;
        assert_eq!(
            status, 404,
            "{b}: the source before the broken mapping was not kept"
        );

        let (status, body) = import(&app, &json!({"components": {"widgets": {}}})).await;
        assert_eq!(status, 400, "{b}: {body}");
        assert!(
            body["details"]["components.widgets"].is_string(),
            "{b}: {body}"
        );

        let (status, body) = app
            .post(
                "/api/import",
                &json!({"json": "{\"components\": ", "filename": "c.json"}),
            )
            .await;
        assert_eq!(status, 400, "{b}: {body}");
        assert!(
            body["details"]["json"].as_str().unwrap().contains("line 1"),
            "{b}: {body}"
        );

        let (status, body) = app
            .post(
                "/api/import",
                &json!({"json": "a: 1", "filename": "c.yaml"}),
            )
            .await;
        assert_eq!(status, 400, "{b}: {body}");
        assert!(
            body["details"]["json"].as_str().unwrap().contains("YAML"),
            "{b}: {body}"
        );
    }
}

#[tokio::test]
async fn one_object_travels_as_json_ld_and_an_older_version_changes_nothing() {
    for backend in backends() {
        let home = TestApp::spawn(&backend).await;
        let b = home.backend;
        let (_, mapping) = home
            .post(
                "/api/mappings",
                &json!({"name": "Case to zaak", "version": "1.2.0", "mapping": {"a": "b"}}),
            )
            .await;
        let path = format!("/api/export/Mapping/{}", mapping["id"]);
        let response = home.request(Method::GET, &path).send().await.unwrap();
        let disposition = response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            disposition.contains("Mapping-Case-to-zaak-v1.2.0.json"),
            "{b}: {disposition}"
        );
        let (status, document) = read(response).await;
        assert_eq!(status, 200, "{b}: {document}");
        assert_eq!(document["@type"], "mapping", "{b}");
        assert_eq!(
            document["@id"],
            format!("urn:uuid:{}", mapping["uuid"].as_str().unwrap()),
            "{b}"
        );

        let away = TestApp::spawn(&backend).await;
        let body = json!({"json": document.to_string(), "type": "mapping"});
        let (status, report) = away.post("/api/import", &body).await;
        assert_eq!(status, 201, "{b}: {report}");
        assert_eq!(report["message"], "Import successful, created", "{b}");
        let imported = find(&away, "mappings", "case-to-zaak").await;
        assert_eq!(
            imported["uuid"], mapping["uuid"],
            "{b}: the object keeps who it is"
        );

        let (status, report) = away.post("/api/import", &body).await;
        assert_eq!(status, 200, "{b}: {report}");
        assert_eq!(
            report["message"], "Import ok, but nothing changed (currentVersion >= importVersion)",
            "{b}"
        );

        let mut newer = document.clone();
        newer["version"] = json!("1.10.0");
        newer["mapping"] = json!({"a": "c"});
        let (status, report) = away.post("/api/import", &json!({"json": newer})).await;
        assert_eq!(status, 200, "{b}: {report}");
        assert_eq!(report["message"], "Import successful, updated", "{b}");
        assert_eq!(
            find(&away, "mappings", "case-to-zaak").await["mapping"]["a"],
            "c",
            "{b}"
        );

        let (status, body) = away
            .post("/api/import", &json!({"json": document, "type": "source"}))
            .await;
        assert_eq!(status, 400, "{b}: {body}");
        assert!(body["details"]["type"].is_string(), "{b}: {body}");
        let (status, body) = away.post("/api/import", &json!({"@type": "callLog"})).await;
        assert_eq!(status, 400, "{b}: {body}");
        assert!(body["details"]["@type"].is_string(), "{b}: {body}");
        let (status, body) = home.get("/api/export/callLog/1").await;
        assert_eq!(status, 400, "{b}: {body}");
        let (status, _) = home.get("/api/export/mapping/99999").await;
        assert_eq!(status, 404, "{b}");
    }
}
