//! Synchronizations end to end: a paged source on loopback, the OpenRegister stand-in as the
//! target, every run through the API, on every backend.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::openregister::{APP_PASSWORD, OpenRegister, USER};
use crate::common::upstream::Upstream;
use crate::common::{TestApp, backends};
use openconnector::secret::Secret;
use openconnector::sync::writer::{RegisterAuth, RegisterSettings};

fn zaak(n: u32, title: &str) -> Value {
    json!({"id": format!("Z-{n:03}"), "omschrijving": title, "status": {"code": if n % 2 == 0 { "open" } else { "closed" }}})
}

struct Setup {
    app: TestApp,
    upstream: Upstream,
    register: OpenRegister,
    sync_id: i64,
    mapping_id: i64,
    source_id: Value,
}

async fn setup(backend: &crate::common::Backend, count: u32) -> Setup {
    let register = OpenRegister::start().await;
    register.add_register(1, "zaken");
    register.add_schema(2, "zaak", json!({"required": ["title"], "properties": {"title": {"type": "string"}, "state": {"type": "string"}, "origin": {"type": "string"}}}), true);
    let settings = RegisterSettings {
        base: register.base.clone(),
        auth: RegisterAuth::Basic {
            user: USER.into(),
            password: Secret::new(APP_PASSWORD),
        },
    };
    let app = TestApp::spawn_with_register(backend, Some(settings)).await;
    let upstream = Upstream::start().await;
    *upstream.state.objects.lock().expect("lock") =
        (1..=count).map(|n| zaak(n, &format!("Zaak {n}"))).collect();
    let (_, source) = app
        .post(
            "/api/sources",
            &json!({"name": "Zaken API", "location": upstream.base}),
        )
        .await;
    let (_, mapping) = app
        .post("/api/mappings", &json!({"name": "Zaak", "mapping": {"title": "{{ omschrijving }}", "state": "status.code", "origin": "id"}}))
        .await;
    let (status, sync) = app
        .post("/api/synchronizations", &json!({
            "name": "Zaken", "sourceId": source["id"], "sourceType": "api",
            "sourceConfig": {"endpoint": "/objects", "resultsPosition": "results", "idPosition": "id"},
            "sourceTargetMapping": mapping["id"], "targetType": "register/schema", "targetId": "zaken/zaak"
        }))
        .await;
    assert_eq!(status, 201, "{sync}");
    Setup {
        sync_id: sync["id"].as_i64().expect("id"),
        mapping_id: mapping["id"].as_i64().expect("id"),
        source_id: source["id"].clone(),
        app,
        upstream,
        register,
    }
}

impl Setup {
    async fn run(&self, path: &str) -> Value {
        self.run_other(&json!(self.sync_id), path).await
    }

    /// Runs (or tests) another synchronization of this set-up's app.
    async fn run_other(&self, id: &Value, path: &str) -> Value {
        let (status, log) = self
            .app
            .post(&format!("/api/synchronizations/{id}/{path}"), &json!({}))
            .await;
        assert_eq!(status, 200, "{log}");
        log
    }

    fn stored(&self) -> Vec<Value> {
        self.register.objects(1, 2)
    }
}

fn counts(log: &Value) -> [u64; 6] {
    let objects = &log["result"]["objects"];
    [
        "found", "skipped", "created", "updated", "deleted", "invalid",
    ]
    .map(|k| objects[k].as_u64().unwrap_or(u64::MAX))
}

#[tokio::test]
async fn a_register_follows_its_source_through_edits_deletions_and_failures() {
    for backend in backends() {
        let s = setup(&backend, 25).await;
        let b = backend.name;

        let first = s.run("run").await;
        assert_eq!(
            counts(&first),
            [25, 0, 25, 0, 0, 0],
            "{b}: first sync {first}"
        );
        assert_eq!(first["message"], "Success");
        let stored = s.stored();
        assert_eq!(stored.len(), 25, "{b}");
        let z1 = stored
            .iter()
            .find(|o| o["origin"] == "Z-001")
            .expect("Z-001 written");
        assert_eq!(
            (z1["title"].as_str(), z1["state"].as_str()),
            (Some("Zaak 1"), Some("closed")),
            "{b}: mapped"
        );
        let (_, contracts) = s
            .app
            .get(&format!(
                "/api/synchronizations/{}/contracts?_limit=100",
                s.sync_id
            ))
            .await;
        assert_eq!(contracts["total"], 25, "{b}: a contract per object");

        let writes = s.register.requests_by_method("POST");
        let again = s.run("run").await;
        assert_eq!(
            counts(&again),
            [25, 25, 0, 0, 0, 0],
            "{b}: unchanged re-sync {again}"
        );
        assert_eq!(
            s.register.requests_by_method("POST"),
            writes,
            "{b}: nothing was written"
        );

        {
            let mut objects = s.upstream.state.objects.lock().expect("lock");
            objects[3] = zaak(4, "Zaak 4, herzien");
            objects[17] = zaak(18, "Zaak 18, herzien");
        }
        let edited = s.run("run").await;
        assert_eq!(counts(&edited), [25, 23, 0, 2, 0, 0], "{b}: edits {edited}");
        assert!(
            s.stored().iter().any(|o| o["title"] == "Zaak 4, herzien"),
            "{b}"
        );

        s.upstream
            .state
            .objects
            .lock()
            .expect("lock")
            .retain(|o| !["Z-002", "Z-010", "Z-025"].contains(&o["id"].as_str().unwrap_or("")));
        let deleted = s.run("run").await;
        assert_eq!(
            counts(&deleted),
            [22, 22, 0, 0, 3, 0],
            "{b}: deletions {deleted}"
        );
        assert_eq!(s.stored().len(), 22, "{b}");

        s.upstream.state.objects.lock().expect("lock").truncate(15);
        *s.upstream.state.failing_page.lock().expect("lock") = Some(2);
        let failed = s.run("run").await;
        assert_eq!(
            counts(&failed)[4],
            0,
            "{b}: a failing page never deletes {failed}"
        );
        assert!(
            failed["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Stopped") && m.contains("nothing was deleted")),
            "{b}: {failed}"
        );
        assert_eq!(s.stored().len(), 22, "{b}");
        *s.upstream.state.failing_page.lock().expect("lock") = None;

        let test = s.run("test").await;
        assert_eq!(counts(&test)[4], 0, "{b}: test mode deletes nothing");
        assert_eq!(test["test"], true);
        assert_eq!(s.stored().len(), 22, "{b}: test mode writes nothing");

        let (status, _) = s
            .app
            .send(
                Method::PUT,
                &format!("/api/mappings/{}", s.mapping_id),
                &json!({"mapping": {"title": "{{ omschrijving|upper }}", "origin": "id"}}),
            )
            .await;
        assert_eq!(status, 200);
        let remapped = s.run("run").await;
        assert_eq!(
            counts(&remapped),
            [15, 0, 0, 15, 7, 0],
            "{b}: a mapping edit re-syncs everything {remapped}"
        );
        assert!(
            s.stored()
                .iter()
                .all(|o| o["title"].as_str().is_some_and(|t| t == t.to_uppercase())),
            "{b}"
        );

        let (_, logs) = s
            .app
            .get(&format!(
                "/api/synchronizations/logs?synchronizationId={}",
                first["synchronizationId"].as_str().unwrap_or("")
            ))
            .await;
        assert_eq!(logs["total"], 7, "{b}: every run left a log");
    }
}

#[tokio::test]
async fn an_unreachable_register_stops_the_run_before_anything_changes() {
    let backend = &backends()[0];
    let s = setup(backend, 5).await;
    s.register.set_down(true);
    let log = s.run("run").await;
    assert_eq!(counts(&log), [0, 0, 0, 0, 0, 0], "{log}");
    assert!(
        log["message"]
            .as_str()
            .is_some_and(|m| m.contains("OpenRegister")),
        "{log}"
    );
    s.register.set_down(false);
    let log = s.run("run").await;
    assert_eq!(counts(&log), [5, 0, 5, 0, 0, 0], "{log}");

    let (status, error) = s
        .app
        .post("/api/synchronizations/9999/run", &json!({}))
        .await;
    assert_eq!(status, 404, "{error}");
    let (status, error) = s
        .app
        .post(
            &format!("/api/synchronizations/{}/run", s.sync_id),
            &json!({"force": "maybe"}),
        )
        .await;
    assert_eq!(
        (status, &error["details"]["force"]),
        (400, &json!("expected true or false"))
    );
    let (status, progress) = s
        .app
        .get(&format!("/api/synchronizations/{}/progress", s.sync_id))
        .await;
    assert_eq!((status, &progress["running"]), (200, &json!(false)));
}

/// The sync command line, killed in the middle of a run and started again: the second run
/// finishes the job without a duplicate (target ids come from the origin ids, contracts are
/// stored per page), on every backend.
#[tokio::test]
async fn a_run_killed_midway_is_finished_by_the_next_without_duplicates() {
    for backend in backends() {
        killed_midway_then_finished(&backend).await;
    }
}

async fn killed_midway_then_finished(backend: &crate::common::Backend) {
    const OBJECTS: u32 = 1500;
    let register = OpenRegister::start().await;
    register.add_register(1, "zaken");
    register.add_schema(
        2,
        "zaak",
        json!({"properties": {"title": {"type": "string"}}}),
        false,
    );
    let upstream = Upstream::start().await;
    *upstream.state.objects.lock().expect("lock") = (1..=OBJECTS)
        .map(|n| zaak(n, &format!("Zaak {n}")))
        .collect();

    let test_db = crate::common::TestDb::new(backend);
    let db = test_db.db.clone();
    let (url, prefix) = test_db.url_and_prefix();
    let create = |entity, value: Value| {
        let input = value.as_object().cloned().unwrap_or_default();
        db.run_blocking(|conn| openconnector::db::store::create(conn, entity, &input))
            .expect("create")
    };
    let source = create(
        &openconnector::db::SOURCE,
        json!({"name": "Zaken", "location": upstream.base}),
    );
    let sync = create(
        &openconnector::db::SYNCHRONIZATION,
        json!({
            "name": "Zaken", "sourceId": source["id"], "sourceConfig": {"endpoint": "/objects", "resultsPosition": "results"},
            "targetType": "register/schema", "targetId": "zaken/zaak"
        }),
    );
    let sync_id = sync["id"].to_string();
    let run = || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_openconnector"));
        command
            .args(["sync", &sync_id])
            .env("OPENCONNECTOR_DATABASE_URL", url)
            .env("OPENCONNECTOR_TABLE_PREFIX", prefix)
            .env("OPENCONNECTOR_OPENREGISTER_URL", &register.base)
            .env("OPENCONNECTOR_OPENREGISTER_USER", USER)
            .env("OPENCONNECTOR_OPENREGISTER_PASSWORD", APP_PASSWORD)
            .env("OPENCONNECTOR_LOG_LEVEL", "error")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        command
    };
    let b = backend.name;
    let mut child = run().spawn().expect("the binary starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while register.requests_by_method("POST") < 300 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    child.kill().expect("kill");
    child.wait().expect("reaped");
    let written_before = register.objects(1, 2).len();
    assert!(
        written_before > 0 && written_before < OBJECTS as usize,
        "{b}: killed midway: {written_before} written"
    );

    let output = run().output().expect("the second run");
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{b}: {summary}");
    let stored = register.objects(1, 2);
    assert_eq!(
        stored.len(),
        OBJECTS as usize,
        "{b}: all present, none twice: {summary}"
    );
    let mut origins: Vec<&str> = stored.iter().filter_map(|o| o["id"].as_str()).collect();
    origins.sort_unstable();
    origins.dedup();
    assert_eq!(origins.len(), OBJECTS as usize);
    let contracts = db
        .run_blocking(|conn| {
            let query = openconnector::db::listing::ListQuery::parse(
                &openconnector::db::CONTRACT,
                &[("_limit".to_owned(), "1".to_owned())],
                false,
            )
            .map_err(openconnector::db::store::StoreError::Invalid)?;
            openconnector::db::store::list(conn, &openconnector::db::CONTRACT, &query)
        })
        .expect("contracts");
    assert_eq!(
        contracts.total,
        u64::from(OBJECTS),
        "{b}: one contract per object"
    );
}

/// A synchronization into another Source's API: POST on create (the id read from the answer),
/// PUT on update, DELETE for vanished objects, nothing for unchanged ones.
#[tokio::test]
async fn an_api_target_gets_creates_updates_and_deletes() {
    for backend in backends() {
        let app = TestApp::spawn(&backend).await;
        let upstream = Upstream::start().await;
        *upstream.state.objects.lock().expect("lock") =
            (1..=15).map(|n| zaak(n, &format!("Zaak {n}"))).collect();
        let (_, source) = app
            .post(
                "/api/sources",
                &json!({"name": "Zaken API", "location": upstream.base}),
            )
            .await;
        let (_, target) = app
            .post(
                "/api/sources",
                &json!({"name": "Cases API", "location": upstream.base}),
            )
            .await;
        let (_, mapping) = app.post("/api/mappings", &json!({"name": "Case", "mapping": {"title": "{{ omschrijving }}", "origin": "id"}})).await;
        let (status, sync) = app.post("/api/synchronizations", &json!({
            "name": "Zaken to cases", "sourceId": source["id"],
            "sourceConfig": {"endpoint": "/objects", "resultsPosition": "results"},
            "sourceTargetMapping": mapping["id"], "targetType": "api", "targetId": target["id"],
            "targetConfig": {"endpoint": "/items", "idPosition": "data.id", "updateEndpoint": "/items/{{ originId }}"}
        })).await;
        assert_eq!(status, 201, "{sync}");
        let run = || async {
            let (status, log) = app
                .post(
                    &format!("/api/synchronizations/{}/run", sync["id"]),
                    &json!({}),
                )
                .await;
            assert_eq!(status, 200, "{log}");
            log
        };
        let first = run().await;
        assert_eq!(
            counts(&first),
            [15, 0, 15, 0, 0, 0],
            "{}: {first}",
            backend.name
        );
        let stages = &first["result"]["timing"]["stages"];
        assert!(
            stages["writing"]["duration_ms"]
                .as_f64()
                .is_some_and(|ms| ms > 0.0),
            "{stages}"
        );
        assert!(
            stages["fetch"]["duration_ms"].as_f64().is_some(),
            "{stages}"
        );
        assert_eq!(upstream.state.items.lock().expect("lock").len(), 15);
        let (_, contracts) = app
            .get(&format!(
                "/api/synchronizations/{}/contracts?_limit=50",
                sync["id"]
            ))
            .await;
        assert!(
            contracts["results"]
                .as_array()
                .expect("list")
                .iter()
                .all(|c| c["targetId"]
                    .as_str()
                    .is_some_and(|id| id.starts_with("item-"))),
            "{contracts}"
        );

        assert_eq!(
            counts(&run().await),
            [15, 15, 0, 0, 0, 0],
            "unchanged: nothing sent"
        );
        {
            let mut objects = upstream.state.objects.lock().expect("lock");
            objects[0] = zaak(1, "Zaak 1, edited");
            objects.truncate(12);
        }
        let edited_run = run().await;
        assert_eq!(
            counts(&edited_run),
            [12, 11, 0, 1, 3, 0],
            "{}",
            backend.name
        );
        let items = upstream.state.items.lock().expect("lock").clone();
        assert_eq!(items.len(), 12);
        let edited = items
            .values()
            .filter(|item| item["title"] == "Zaak 1, edited")
            .count();
        assert_eq!(edited, 1, "updated in place");

        // A refused write is remembered on the contract and tried again each run until it
        // goes through.
        let contract_of = |origin: &'static str| {
            let app = &app;
            let path = format!(
                "/api/synchronizations/{}/contracts?originId={origin}",
                sync["id"]
            );
            async move { app.get(&path).await.1["results"][0].clone() }
        };
        {
            let mut objects = upstream.state.objects.lock().expect("lock");
            objects[1] = zaak(2, "reject");
            objects.push(zaak(99, "reject"));
        }
        assert_eq!(
            counts(&run().await),
            [13, 11, 0, 0, 0, 2],
            "{}",
            backend.name
        );
        assert_eq!(counts(&run().await), [13, 11, 0, 0, 0, 2], "tried again");
        let refused = contract_of("Z-002").await;
        assert_eq!(refused["retryCount"], 2, "{refused}");
        assert!(
            refused["lastError"]
                .as_str()
                .is_some_and(|e| e.contains("422")),
            "{refused}"
        );
        let new_refused = contract_of("Z-099").await;
        assert_eq!(
            (
                new_refused["retryCount"].clone(),
                new_refused["targetId"].clone()
            ),
            (json!(2), Value::Null),
            "{new_refused}"
        );
        {
            let mut objects = upstream.state.objects.lock().expect("lock");
            objects[1] = zaak(2, "Zaak 2");
            objects[12] = zaak(99, "Zaak 99");
        }
        assert_eq!(
            counts(&run().await),
            [13, 11, 1, 1, 0, 0],
            "{}",
            backend.name
        );
        let healed = contract_of("Z-002").await;
        assert_eq!(
            (healed["retryCount"].clone(), healed["lastError"].clone()),
            (json!(0), Value::Null),
            "{healed}"
        );
        assert!(contract_of("Z-099").await["targetId"].is_string());

        // A contract log per update and delete (not for a contract's first write, as in the
        // PHP app), pointing at its run's log.
        let (status, logs) = app
            .get(&format!(
                "/api/synchronizations/contracts/logs?synchronizationId={}&_limit=100",
                sync["uuid"].as_str().expect("uuid")
            ))
            .await;
        assert_eq!(status, 200, "{logs}");
        let logs = logs["results"].as_array().expect("results").clone();
        let results = |kind: &str| logs.iter().filter(|l| l["targetResult"] == kind).count();
        assert_eq!(
            (results("create"), results("update"), results("delete")),
            (0, 2, 3),
            "{}",
            backend.name
        );
        let updated = logs
            .iter()
            .find(|l| l["targetResult"] == "update")
            .expect("an update");
        assert!(
            updated["source"]["omschrijving"].is_string() && updated["target"]["title"].is_string(),
            "{updated}"
        );
        assert_eq!(
            logs.iter()
                .filter(|l| l["synchronizationLogId"] == edited_run["uuid"])
                .count(),
            4,
            "the edited run's update and deletes point at it"
        );

        // New objects met twice (Z-020 on both pages, Z-021 twice on the second) are created
        // once: the target answers the ids, so the second meeting waits for the first's contract.
        {
            let mut objects = upstream.state.objects.lock().expect("lock");
            objects.insert(0, zaak(20, "Zaak 20"));
            objects.extend([
                zaak(20, "Zaak 20"),
                zaak(21, "Zaak 21"),
                zaak(21, "Zaak 21, again"),
            ]);
        }
        run().await;
        let items = upstream.state.items.lock().expect("lock").clone();
        for origin in ["Z-020", "Z-021"] {
            let made = items
                .values()
                .filter(|item| item["origin"] == origin)
                .count();
            assert_eq!(
                made, 1,
                "{}: {origin} created once: {items:?}",
                backend.name
            );
        }
        let z21 = items.values().find(|item| item["origin"] == "Z-021");
        assert_eq!(
            z21.map(|item| item["title"].clone()),
            Some(json!("Zaak 21, again")),
            "the last version"
        );
    }
}

/// Push runs (intern to extern): an object handed to the run endpoint, or announced by an
/// OpenRegister object event, is created, updated and deleted in an API target.
#[tokio::test]
async fn push_runs_follow_objects_from_the_run_endpoint_and_from_object_events() {
    for backend in backends() {
        let app = TestApp::spawn(&backend).await;
        let upstream = Upstream::start().await;
        let (_, target) = app
            .post(
                "/api/sources",
                &json!({"name": "Cases API", "location": upstream.base}),
            )
            .await;
        let (_, mapping) = app.post("/api/mappings", &json!({"name": "Case", "mapping": {"title": "{{ naam }}", "register": "@self.register"}})).await;
        let (status, sync) = app.post("/api/synchronizations", &json!({
            "name": "Zaken out", "sourceType": "register/schema", "sourceId": "1/2",
            "sourceTargetMapping": mapping["id"], "targetType": "api", "targetId": target["id"],
            "targetConfig": {"endpoint": "/items", "idPosition": "data.id"},
            "conditions": {"!=": [{"var": "naam"}, "secret"]}
        })).await;
        assert_eq!(status, 201, "{sync}");
        let push = |body: Value| {
            let app = &app;
            let path = format!("/api/synchronizations/{}/run", sync["id"]);
            async move {
                let (status, log) = app.post(&path, &body).await;
                assert_eq!(status, 200, "{log}");
                log
            }
        };
        let object = |naam: &str| json!({"naam": naam, "@self": {"id": "0d2a8f0e-0000-4000-8000-000000000001", "register": 1, "schema": 2}});

        let created = push(json!({"data": object("Eerste"), "mutationType": "create"})).await;
        assert_eq!(created["result"]["type"], "internToExtern");
        assert_eq!(
            counts(&created),
            [1, 0, 1, 0, 0, 0],
            "{}: {created}",
            backend.name
        );
        assert_eq!(
            upstream.state.items.lock().expect("lock")["item-1"],
            json!({"title": "Eerste", "register": 1})
        );

        let updated = push(json!({"data": object("Tweede"), "mutationType": "update"})).await;
        assert_eq!(counts(&updated), [1, 0, 0, 1, 0, 0], "{updated}");
        assert_eq!(
            upstream.state.items.lock().expect("lock")["item-1"]["title"],
            "Tweede"
        );

        let skipped = push(json!({"data": object("secret")})).await;
        assert_eq!(
            counts(&skipped),
            [1, 1, 0, 0, 0, 0],
            "conditions hold pushes too"
        );

        let test = push(json!({"data": object("Proef"), "test": true})).await;
        assert_eq!(counts(&test), [1, 0, 0, 1, 0, 0]);
        assert_eq!(
            upstream.state.items.lock().expect("lock")["item-1"]["title"],
            "Tweede",
            "a test writes nothing"
        );

        let deleted = push(json!({"data": object("Tweede"), "mutationType": "delete"})).await;
        assert_eq!(counts(&deleted), [1, 0, 0, 0, 1, 0], "{deleted}");
        assert!(upstream.state.items.lock().expect("lock").is_empty());

        let (status, bad) = app
            .post(
                &format!("/api/synchronizations/{}/run", sync["id"]),
                &json!({"data": object("x"), "mutationType": "rename"}),
            )
            .await;
        assert_eq!(status, 400);
        assert!(bad["details"]["mutationType"].is_string(), "{bad}");

        // An object event from Nextcloud's webhook listeners starts the same push.
        let event = json!({"user": {"uid": "admin"}, "event": {"class": "OCA\\OpenRegister\\Event\\ObjectCreatedEvent",
            "object": {"uuid": "0d2a8f0e-0000-4000-8000-000000000002", "register": 1, "schema": 2, "object": {"naam": "Via event"}}}});
        let (status, _) = app.post("/api/webhooks/openregister", &event).await;
        assert_eq!(status, 202);
        let mut arrived = false;
        for _ in 0..100 {
            if upstream
                .state
                .items
                .lock()
                .expect("lock")
                .values()
                .any(|item| item["title"] == "Via event")
            {
                arrived = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(arrived, "{}: the event pushed the object", backend.name);

        // `triggerOnlyOnEvents` holds back the mutations it does not name.
        app.send(
            Method::PUT,
            &format!("/api/synchronizations/{}", sync["id"]),
            &json!({"sourceConfig": {"triggerOnlyOnEvents": ["CREATE"]}}),
        )
        .await;
        let update = json!({"event": {"class": "OCA\\OpenRegister\\Event\\ObjectUpdatedEvent",
            "object": {"uuid": "0d2a8f0e-0000-4000-8000-000000000002", "register": 1, "schema": 2, "object": {"naam": "Changed"}}}});
        app.post("/api/webhooks/openregister", &update).await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(
            upstream
                .state
                .items
                .lock()
                .expect("lock")
                .values()
                .all(|item| item["title"] != "Changed")
        );
    }
}

/// `sourceHashMapping` decides what counts as a change; `endpoint` may be a template;
/// `followUps` run after, and a cycle of follow-ups ends instead of looping.
#[tokio::test]
async fn hash_mappings_templated_endpoints_and_follow_ups() {
    for backend in backends() {
        let s = setup(&backend, 10).await;
        let b = backend.name;
        let (_, hashed) = s.app.post("/api/mappings", &json!({"name": "What matters", "mapping": {"id": "id", "omschrijving": "omschrijving"}})).await;
        let (_, other) = s.app.post("/api/synchronizations", &json!({
            "name": "Nothing passes", "sourceId": s.app.get(&format!("/api/synchronizations/{}", s.sync_id)).await.1["sourceId"],
            "sourceConfig": {"endpoint": "/objects", "resultsPosition": "results"},
            "conditions": {"==": [1, 2]}, "targetType": "register/schema", "targetId": "zaken/zaak",
            "followUps": [s.sync_id]
        })).await;
        let (status, updated) = s.app.send(Method::PUT, &format!("/api/synchronizations/{}", s.sync_id), &json!({
            "sourceHashMapping": hashed["id"],
            "sourceConfig": {"endpoint": "{{ '/obj' ~ 'ects' }}", "resultsPosition": "results", "idPosition": "id"},
            "followUps": [other["id"]]
        })).await;
        assert_eq!(status, 200, "{updated}");

        let first = s.run("run").await;
        assert_eq!(
            counts(&first),
            [10, 0, 10, 0, 0, 0],
            "{b}: the templated endpoint was read: {first}"
        );
        let follow = &first["result"]["followUps"][0];
        assert_eq!(
            follow["synchronization"],
            other["id"].to_string(),
            "{first}"
        );
        assert!(follow["log"].is_string(), "the follow-up ran: {follow}");
        let (_, other_logs) = s
            .app
            .get(&format!(
                "/api/synchronizations/logs?synchronizationId={}",
                other["uuid"].as_str().expect("uuid")
            ))
            .await;
        assert_eq!(other_logs["total"], 1, "{b}");
        let inner = &other_logs["results"][0]["result"]["followUps"][0];
        assert!(
            inner["error"]
                .as_str()
                .is_some_and(|e| e.contains("already running")),
            "the cycle ends: {inner}"
        );

        {
            let mut objects = s.upstream.state.objects.lock().expect("lock");
            objects[0]["status"]["code"] = json!("reopened");
        }
        assert_eq!(
            counts(&s.run("run").await),
            [10, 10, 0, 0, 0, 0],
            "{b}: a change outside the hash mapping is no change"
        );
        {
            let mut objects = s.upstream.state.objects.lock().expect("lock");
            objects[1]["omschrijving"] = json!("Zaak 2, renamed");
        }
        assert_eq!(counts(&s.run("run").await), [10, 9, 0, 1, 0, 0], "{b}");
    }
}

/// Vanished objects are looked for a chunk of contracts at a time; the walk meets every
/// contract with a target exactly once, also where origin ids repeat, on every backend.
#[tokio::test]
async fn the_walk_over_contracts_meets_each_once() {
    use openconnector::db::{CONTRACT, store};
    use openconnector::sync::contract;
    for backend in backends() {
        let app = TestApp::spawn(&backend).await;
        let b = app.backend;
        let db = &app.state.db;
        db.run_blocking(|conn| {
            for n in 0..2345 {
                // Every hundredth origin id twice (bad data a source can give), every tenth
                // contract without a target, and another synchronization's contracts between.
                let origin = format!("O-{:05}", if n % 100 == 1 { n - 1 } else { n });
                let target = (n % 10 != 3).then(|| format!("T-{n}"));
                // A written object's contract says so; one with a planned target does not.
                let action = target.as_ref().map(|_| "create");
                for sync in ["7", "8"] {
                    let row = json!({"synchronizationId": sync, "originId": origin,
                                     "targetId": target, "targetLastAction": action});
                    store::create(conn, &CONTRACT, row.as_object().unwrap())?;
                }
            }
            Ok::<_, store::StoreError>(())
        })
        .expect("contracts");
        let mut met = Vec::new();
        let mut after: Option<(String, i64)> = None;
        loop {
            let from = after.clone();
            let chunk = db
                .run_blocking(|conn| {
                    contract::with_targets(
                        conn,
                        7,
                        from.as_ref().map(|(o, i)| (o.as_str(), *i)),
                        1000,
                    )
                })
                .expect("a chunk");
            let Some(last) = chunk.last() else { break };
            after = Some((last.origin_id.clone(), last.id));
            met.extend(chunk.into_iter().map(|c| c.target_id));
        }
        let expected: Vec<String> = (0..2345)
            .filter(|n| n % 10 != 3)
            .map(|n| format!("T-{n}"))
            .collect();
        assert_eq!(met.len(), expected.len(), "{b}");
        let mut sorted = met.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), expected.len(), "{b}: each once");
    }
}

/// A pull run handed `data`: the endpoint template and the request body take it, and with
/// `restrictDeletion` only vanished objects that `data` names are deleted (none without data).
#[tokio::test]
async fn data_handed_to_a_pull_run_shapes_its_requests_and_bounds_deletion() {
    for backend in backends() {
        let s = setup(&backend, 12).await;
        let b = s.app.backend;
        let first = s.run("run").await;
        assert_eq!(counts(&first)[2], 12, "{b}: {first}");

        let (status, updated) = s
            .app
            .send(
                Method::PUT,
                &format!("/api/synchronizations/{}", s.sync_id),
                &json!({"sourceConfig": {"endpoint": "/objects?kind={{ data.kind }}", "resultsPosition": "results",
                    "idPosition": "id", "restrictDeletion": "true", "useDataAsRequestBody": "filter"}}),
            )
            .await;
        assert_eq!(status, 200, "{b}: {updated}");
        s.upstream.state.objects.lock().expect("lock").retain(|o| {
            !["Z-001", "Z-002", "Z-003"].contains(&o["id"].as_str().unwrap_or_default())
        });

        let (status, without) = s
            .app
            .post(
                &format!("/api/synchronizations/{}/run", s.sync_id),
                &json!({}),
            )
            .await;
        assert_eq!(status, 200, "{b}: {without}");
        assert_eq!(
            counts(&without)[4],
            0,
            "{b}: no data, nothing deleted: {without}"
        );

        let data = json!({"kind": "zaken", "filter": {"ids": ["Z-002"]}});
        let (status, bounded) = s
            .app
            .post(
                &format!("/api/synchronizations/{}/run", s.sync_id),
                &json!({"data": data}),
            )
            .await;
        assert_eq!(status, 200, "{b}: {bounded}");
        assert_eq!(
            counts(&bounded)[4],
            1,
            "{b}: only what data names: {bounded}"
        );
        let stored: Vec<String> = s
            .stored()
            .iter()
            .map(|o| o["origin"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert!(!stored.contains(&"Z-002".to_owned()), "{b}: {stored:?}");
        assert!(
            stored.contains(&"Z-001".to_owned()) && stored.contains(&"Z-003".to_owned()),
            "{b}: {stored:?}"
        );

        s.app.state.calls.flush_logs().await;
        let (_, logs) = s.app.get("/api/sources/logs?_limit=5").await;
        let newest = &logs["results"][0]["request"];
        assert!(
            newest["url"]
                .as_str()
                .unwrap_or_default()
                .contains("kind=zaken"),
            "{b}: {newest}"
        );
        assert!(
            newest["bodyLength"].as_u64().unwrap_or(0) > 0,
            "{b}: the data went as the body: {newest}"
        );
    }
}

/// Deleting a synchronization takes its contracts and contract logs along, and leaves the
/// objects it wrote.
#[tokio::test]
async fn a_deleted_synchronization_leaves_no_contracts_behind() {
    for backend in backends() {
        let s = setup(&backend, 5).await;
        let b = s.app.backend;
        s.run("run").await;
        s.upstream.state.objects.lock().expect("lock")[0] = zaak(1, "Zaak 1, edited");
        s.run("run").await;
        let (_, sync) = s
            .app
            .get(&format!("/api/synchronizations/{}", s.sync_id))
            .await;
        let contracts = format!(
            "/api/synchronization-contracts?synchronization_id={}",
            s.sync_id
        );
        let logs = format!(
            "/api/synchronizations/contracts/logs?synchronization_id={}",
            sync["uuid"].as_str().unwrap_or_default()
        );
        assert_eq!(s.app.get(&contracts).await.1["total"], 5, "{b}");
        assert_eq!(s.app.get(&logs).await.1["total"], 1, "{b}: the update's");

        let (status, _) = s
            .app
            .send(
                Method::DELETE,
                &format!("/api/synchronizations/{}", s.sync_id),
                &json!({}),
            )
            .await;
        assert_eq!(status, 204, "{b}");
        assert_eq!(s.app.get(&contracts).await.1["total"], 0, "{b}");
        assert_eq!(s.app.get(&logs).await.1["total"], 0, "{b}");
        assert_eq!(s.stored().len(), 5, "{b}: the written objects stay");
        let (status, _) = s
            .app
            .send(
                Method::DELETE,
                &format!("/api/synchronizations/{}", s.sync_id),
                &json!({}),
            )
            .await;
        assert_eq!(status, 404, "{b}");
    }
}

/// `originIdsToReplace` and `idsToReplaceWithTargetIdsBeforeRules`: references to objects
/// another synchronization wrote become those objects' ids in the register (a whole value, the
/// uuid inside a URL, an `id` beside an `originId`); unknown ones stay as they were.
#[tokio::test]
async fn references_become_the_target_ids_another_synchronization_wrote() {
    for backend in backends() {
        let s = setup(&backend, 0).await;
        let b = backend.name;
        let uuids = [
            "11111111-2222-4333-8444-555555555555",
            "66666666-7777-4888-9999-aaaaaaaaaaaa",
        ];
        *s.upstream.state.objects.lock().expect("lock") = uuids
            .iter()
            .enumerate()
            .map(|(n, uuid)| json!({"id": uuid, "omschrijving": format!("Zaak {n}"), "status": {"code": "open"}}))
            .collect();
        assert_eq!(counts(&s.run("run").await), [2, 0, 2, 0, 0, 0], "{b}");
        // What the first synchronization wrote: its origin ids and the register's ids.
        let written: std::collections::HashMap<String, String> = s
            .stored()
            .iter()
            .map(|o| {
                (
                    o["origin"].as_str().unwrap_or_default().to_owned(),
                    o["id"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        assert_eq!(written.len(), 2, "{b}");

        s.register
            .add_schema(3, "besluit", json!({"properties": {}}), false);
        let (_, mapping) = s.app.post("/api/mappings", &json!({"name": "Besluit", "mapping": {
            "title": "omschrijving",
            "zaak": "id",
            "zaakUrl": "https://zaken.example/api/v1/zaken/{{ id }}?expand=true",
            "betrokkene.id": "unresolved",
            "betrokkene.originId": "id",
            "onbekend": "https://zaken.example/api/v1/zaken/00000000-0000-4000-8000-000000000000"
        }})).await;
        let (status, besluiten) = s.app.post("/api/synchronizations", &json!({
            "name": "Besluiten", "sourceId": s.source_id,
            "sourceConfig": {
                "endpoint": "/objects", "resultsPosition": "results", "idPosition": "omschrijving",
                "originIdsToReplace": {"zaak": "true", "zaakUrl": "true", "onbekend": "true"},
                "idsToReplaceWithTargetIdsBeforeRules.betrokkene.id": "true"
            },
            "sourceTargetMapping": mapping["id"], "targetType": "register/schema", "targetId": "zaken/besluit"
        })).await;
        assert_eq!(status, 201, "{besluiten}");
        let log = s.run_other(&besluiten["id"], "run").await;
        assert_eq!(counts(&log), [2, 0, 2, 0, 0, 0], "{b}: {log}");

        let stored = s.register.objects(1, 3);
        assert_eq!(stored.len(), 2, "{b}");
        for besluit in &stored {
            let origin = uuids
                .iter()
                .find(|uuid| besluit["betrokkene"]["originId"] == **uuid)
                .expect("each besluit names its zaak");
            let target = &written[*origin];
            assert_ne!(target, origin, "{b}: the register chose its own ids");
            assert_eq!(besluit["zaak"], json!(target), "{b}: {besluit}");
            assert_eq!(
                besluit["zaakUrl"],
                json!(format!(
                    "https://zaken.example/api/v1/zaken/{target}?expand=true"
                )),
                "{b}"
            );
            assert_eq!(besluit["betrokkene"]["id"], json!(target), "{b}");
            assert_eq!(
                besluit["onbekend"],
                json!("https://zaken.example/api/v1/zaken/00000000-0000-4000-8000-000000000000"),
                "{b}: nothing synced under that uuid"
            );
        }
    }
}

/// `triggerFromRelatedObjects`: an event on an object that points at another (by uuid or by a
/// URL ending in one) runs the synchronization of the object pointed at, read from OpenRegister,
/// for the mutations its configuration names.
#[tokio::test]
async fn an_event_on_a_related_object_syncs_the_object_it_points_at() {
    for backend in backends() {
        let b = backend.name;
        let register = OpenRegister::start().await;
        register.add_register(1, "zaken");
        register.add_schema(2, "zaak", json!({"properties": {}}), false);
        register.add_schema(3, "rol", json!({"properties": {}}), false);
        let settings = RegisterSettings {
            base: register.base.clone(),
            auth: RegisterAuth::Basic {
                user: USER.into(),
                password: Secret::new(APP_PASSWORD),
            },
        };
        let zaak = "0d2a8f0e-0000-4000-8000-00000000000a";
        let store_zaak = |naam: &'static str| {
            let url = format!("{}/objects/1/2/{zaak}", register.base);
            async move {
                let response = reqwest::Client::new()
                    .put(url)
                    .basic_auth(USER, Some(APP_PASSWORD))
                    .json(&json!({"naam": naam}))
                    .send()
                    .await
                    .expect("the stand-in answers");
                assert!(response.status().is_success(), "{}", response.status());
            }
        };
        let response = reqwest::Client::new()
            .post(format!("{}/objects/1/2", register.base))
            .basic_auth(USER, Some(APP_PASSWORD))
            .json(&json!({"id": zaak, "naam": "Zaak A"}))
            .send()
            .await
            .expect("the stand-in answers");
        assert!(response.status().is_success(), "{}", response.status());

        let app = TestApp::spawn_with_register(&backend, Some(settings)).await;
        let upstream = Upstream::start().await;
        let (_, target) = app
            .post(
                "/api/sources",
                &json!({"name": "Cases API", "location": upstream.base}),
            )
            .await;
        let (_, mapping) = app
            .post(
                "/api/mappings",
                &json!({"name": "Case", "mapping": {"title": "{{ naam }}"}}),
            )
            .await;
        let (status, sync) = app.post("/api/synchronizations", &json!({
            "name": "Zaken out", "sourceType": "register/schema", "sourceId": "1/2",
            "sourceConfig": {"triggerFromRelatedObjects": {"1/3": {"zaak": ["update"]}}},
            "sourceTargetMapping": mapping["id"], "targetType": "api", "targetId": target["id"],
            "targetConfig": {"endpoint": "/items", "idPosition": "data.id"}
        })).await;
        assert_eq!(status, 201, "{sync}");
        let rol_event = |class: &str| {
            json!({"event": {"class": format!("OCA\\OpenRegister\\Event\\{class}"),
            "object": {"uuid": "0d2a8f0e-0000-4000-8000-00000000000b", "register": 1, "schema": 3,
                       "object": {"rol": "initiator", "zaak": format!("https://nextcloud.example/apps/openregister/api/objects/1/2/{zaak}")}}}})
        };
        let titles = || -> Vec<Value> {
            upstream
                .state
                .items
                .lock()
                .expect("lock")
                .values()
                .map(|item| item["title"].clone())
                .collect()
        };

        // A created rol counts as a change of its zaak (create and update go together).
        let (status, _) = app
            .post(
                "/api/webhooks/openregister",
                &rol_event("ObjectCreatedEvent"),
            )
            .await;
        assert_eq!(status, 202);
        let mut arrived = false;
        for _ in 0..100 {
            if titles() == [json!("Zaak A")] {
                arrived = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(
            arrived,
            "{b}: the zaak the rol points at was pushed: {:?}",
            titles()
        );

        // A deleted rol triggers nothing: delete is not named.
        store_zaak("Zaak A, herzien").await;
        app.post(
            "/api/webhooks/openregister",
            &rol_event("ObjectDeletedEvent"),
        )
        .await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(titles(), [json!("Zaak A")], "{b}");

        // An updated rol pushes the zaak as it is now.
        app.post(
            "/api/webhooks/openregister",
            &rol_event("ObjectUpdatedEvent"),
        )
        .await;
        let mut updated = false;
        for _ in 0..100 {
            if titles() == [json!("Zaak A, herzien")] {
                updated = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(updated, "{b}: {:?}", titles());
    }
}

/// A first run looks contracts up only for origin ids it met before: an object repeated on a
/// later page, or twice on one page, still gets one contract and one target object.
#[tokio::test]
async fn a_first_run_meets_repeated_origin_ids_once() {
    for backend in backends() {
        let s = setup(&backend, 0).await;
        let b = backend.name;
        // Ten a page: Z-003 again on page 2, and Z-012 twice on page 2.
        let mut objects: Vec<Value> = (1..=15).map(|n| zaak(n, &format!("Zaak {n}"))).collect();
        objects[11] = zaak(3, "Zaak 3, again");
        objects[13] = zaak(13, "Zaak 13");
        objects[14] = zaak(13, "Zaak 13, twice");
        *s.upstream.state.objects.lock().expect("lock") = objects;
        let log = s.run("run").await;
        assert_eq!(log["result"]["objects"]["found"], 15, "{b}: {log}");
        assert_eq!(log["result"]["objects"]["invalid"], 0, "{b}: {log}");
        let mut origins: Vec<String> = s
            .stored()
            .iter()
            .map(|o| o["origin"].as_str().unwrap_or_default().to_owned())
            .collect();
        origins.sort();
        let mut unique = origins.clone();
        unique.dedup();
        assert_eq!(origins, unique, "{b}: one object per origin id");
        assert_eq!(unique.len(), 12, "{b}: {unique:?}");
        let contracts = format!(
            "/api/synchronization-contracts?synchronization_id={}",
            s.sync_id
        );
        assert_eq!(
            s.app.get(&contracts).await.1["total"],
            12,
            "{b}: one contract per origin id"
        );
        // The next run finds every object current.
        let again = s.run("run").await;
        assert_eq!(again["result"]["objects"]["created"], 0, "{b}: {again}");
        assert_eq!(s.stored().len(), 12, "{b}");
    }
}

/// `subObjects`: nested objects with an `originId` get contracts of their own, from the saved
/// object read back with `_extend=all`: cascaded ones (OpenRegister saves them in their own
/// schema and keeps their uuids) and inline ones with an `id`. A re-run points the contracts at
/// what the register holds then, without duplicates.
#[tokio::test]
async fn sub_objects_get_contracts_that_follow_the_register() {
    for backend in backends() {
        let s = setup(&backend, 0).await;
        let b = backend.name;
        let cascade = json!({"handling": "cascade"});
        s.register.add_schema(3, "dossier", json!({"properties": {
            "statussen": {"type": "array", "items": {"type": "object", "$ref": "#/components/schemas/status", "objectConfiguration": cascade}},
            "behandelaar": {"type": "object", "$ref": "persoon", "objectConfiguration": cascade},
            "notities": {"type": "array"}
        }}), false);
        s.register
            .add_schema(4, "status", json!({"properties": {}}), false);
        s.register
            .add_schema(5, "persoon", json!({"properties": {}}), false);
        let zaak = |id: &str, statussen: Value, persoon: &str| {
            json!({"id": id, "statussen": statussen, "behandelaar": {"originId": persoon, "naam": persoon},
                   "notities": [{"originId": format!("N-{id}"), "id": format!("n-{id}"), "tekst": "inline"}]})
        };
        let set_source = |first_status: &str| {
            *s.upstream.state.objects.lock().expect("lock") = vec![
                zaak(
                    "Z-1",
                    json!([{"originId": "S-1", "naam": first_status}, {"originId": "S-2", "naam": "later"}]),
                    "P-1",
                ),
                zaak("Z-2", json!([{"originId": "S-3", "naam": "open"}]), "P-2"),
            ];
        };
        set_source("open");
        let (status, sync) = s.app.post("/api/synchronizations", &json!({
            "name": "Dossiers", "sourceId": s.source_id,
            "sourceConfig": {"endpoint": "/objects", "resultsPosition": "results", "idPosition": "id",
                             "subObjects": {"statussen": {}, "behandelaar": {}, "notities": {}}},
            "targetType": "register/schema", "targetId": "zaken/dossier"
        })).await;
        assert_eq!(status, 201, "{sync}");
        let run = || s.run_other(&sync["id"], "run");
        // Origin id → target id of the run's contracts, and how many there are.
        let contracts = || async {
            let (_, page) = s
                .app
                .get(&format!(
                    "/api/synchronizations/{}/contracts?_limit=100",
                    sync["id"]
                ))
                .await;
            let results = page["results"].as_array().cloned().unwrap_or_default();
            let by_origin: std::collections::HashMap<String, String> = results
                .iter()
                .map(|c| {
                    (
                        c["originId"].as_str().unwrap_or_default().to_owned(),
                        c["targetId"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            assert_eq!(
                by_origin.len(),
                results.len(),
                "{b}: one contract per origin id: {page}"
            );
            by_origin
        };
        let live_status = |origin: &str, known: &std::collections::HashMap<String, String>| {
            s.register
                .object(1, 4, &known[origin])
                .map(|o| o["naam"].clone())
        };

        let log = run().await;
        assert_eq!(counts(&log), [2, 0, 2, 0, 0, 0], "{b}: {log}");
        let first = contracts().await;
        let mut origins: Vec<&str> = first.keys().map(String::as_str).collect();
        origins.sort_unstable();
        assert_eq!(
            origins,
            [
                "N-Z-1", "N-Z-2", "P-1", "P-2", "S-1", "S-2", "S-3", "Z-1", "Z-2"
            ],
            "{b}"
        );
        assert_eq!(
            s.register.objects(1, 4).len(),
            3,
            "{b}: the statuses, cascaded"
        );
        assert_eq!(live_status("S-1", &first), Some(json!("open")), "{b}");
        assert_eq!(
            s.register
                .object(1, 5, &first["P-2"])
                .map(|o| o["naam"].clone()),
            Some(json!("P-2")),
            "{b}"
        );
        assert_eq!(
            first["N-Z-1"], "n-Z-1",
            "{b}: an inline object keeps its own id"
        );

        // A status changes at the source: the dossier is written again; OpenRegister makes new
        // status objects (and drops the old ones), and the contracts follow.
        set_source("closed");
        let log = run().await;
        assert_eq!(counts(&log), [2, 1, 0, 1, 0, 0], "{b}: {log}");
        let second = contracts().await;
        assert_eq!(second.len(), 9, "{b}: no duplicates");
        assert_eq!(
            s.register.objects(1, 4).len(),
            3,
            "{b}: still three live statuses"
        );
        assert_eq!(live_status("S-1", &second), Some(json!("closed")), "{b}");
        assert_eq!(
            live_status("S-3", &second),
            live_status("S-3", &first),
            "{b}: Z-2 was skipped"
        );
        assert_eq!(s.register.objects(1, 3).len(), 2, "{b}: nothing deleted");

        let log = run().await;
        assert_eq!(counts(&log), [2, 2, 0, 0, 0, 0], "{b}: {log}");
        assert_eq!(contracts().await, second, "{b}");
    }
}

/// `actions`: rules run on each mapped object before it is written, in their order and when
/// their conditions hold: a mapping rule reshapes it, an error rule keeps it out (counted
/// invalid, retried next run); a rule type synchronizations do not run is reported and skipped;
/// editing a rule re-syncs.
#[tokio::test]
async fn actions_run_on_each_object_before_it_is_written() {
    for backend in backends() {
        let s = setup(&backend, 3).await;
        let b = backend.name;
        let (_, shout) = s
            .app
            .post(
                "/api/mappings",
                &json!({"name": "Shout", "passThrough": true,
            "mapping": {"title": "{{ title|upper }}"}}),
            )
            .await;
        let app = &s.app;
        let rule = |body: Value| async move {
            let (status, rule) = app.post("/api/rules", &body).await;
            assert_eq!(status, 201, "{rule}");
            rule
        };
        let refuse = rule(json!({"name": "No Z-002", "type": "error", "order": 2,
            "conditions": {"==": [{"var": "origin"}, "Z-002"]},
            "configuration": {"error": {"code": 422, "name": "Refused", "message": "Z-002 may not pass"}}})).await;
        let upper = rule(json!({"name": "Upper", "type": "mapping", "order": 1,
            "configuration": {"mapping": shout["id"]}}))
        .await;
        let files = rule(json!({"name": "Files", "type": "fetch_file", "order": 3})).await;
        let (status, updated) = s
            .app
            .send(
                Method::PUT,
                &format!("/api/synchronizations/{}", s.sync_id),
                &json!({"actions": [refuse["id"], upper["uuid"], files["id"], "no-such-rule"]}),
            )
            .await;
        assert_eq!(status, 200, "{updated}");

        let log = s.run("run").await;
        assert_eq!(counts(&log), [3, 0, 2, 0, 0, 1], "{b}: {log}");
        let errors = log["result"]["errors"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(errors.len(), 1, "{b}: {log}");
        assert_eq!(errors[0]["originId"], "Z-002", "{b}");
        assert!(
            errors[0]["error"]
                .as_str()
                .is_some_and(|e| e.contains("Z-002 may not pass")),
            "{b}: {log}"
        );
        let warnings = log["result"]["warnings"].to_string();
        assert!(
            warnings.contains("Files") && warnings.contains("no-such-rule"),
            "{b}: {warnings}"
        );
        let mut titles: Vec<String> = s
            .stored()
            .iter()
            .map(|o| o["title"].as_str().unwrap_or_default().to_owned())
            .collect();
        titles.sort();
        assert_eq!(
            titles,
            ["ZAAK 1", "ZAAK 3"],
            "{b}: mapped, then reshaped by the rule"
        );

        // The refusal is retried; an edited rule (now refusing nothing) re-syncs everything.
        assert_eq!(counts(&s.run("run").await), [3, 2, 0, 0, 0, 1], "{b}");
        let (status, _) = s
            .app
            .send(
                Method::PUT,
                &format!("/api/rules/{}", refuse["id"]),
                &json!({"conditions": {"==": [{"var": "origin"}, "none"]}}),
            )
            .await;
        assert_eq!(status, 200, "{b}");
        assert_eq!(counts(&s.run("run").await), [3, 0, 1, 2, 0, 0], "{b}");
        assert_eq!(s.stored().len(), 3, "{b}");
    }
}

/// A second synchronization's contracts start past the first's: their ids then have bytes
/// that are not text, which PostgreSQL and MySQL send raw unless the query casts them.
#[tokio::test]
async fn a_synchronization_whose_contracts_have_high_ids_runs_again() {
    for backend in backends() {
        let s = setup(&backend, 130).await;
        let b = backend.name;
        assert_eq!(counts(&s.run("run").await)[2], 130, "{b}");
        let (status, again) = s.app.post("/api/synchronizations", &json!({
            "name": "Zaken again", "sourceId": s.source_id,
            "sourceConfig": {"endpoint": "/objects", "resultsPosition": "results", "idPosition": "id"},
            "sourceTargetMapping": s.mapping_id, "targetType": "register/schema", "targetId": "zaken/zaak"
        })).await;
        assert_eq!(status, 201, "{again}");
        assert_eq!(
            counts(&s.run_other(&again["id"], "run").await),
            [130, 0, 130, 0, 0, 0],
            "{b}"
        );
        assert_eq!(
            counts(&s.run_other(&again["id"], "run").await),
            [130, 130, 0, 0, 0, 0],
            "{b}"
        );
    }
}
