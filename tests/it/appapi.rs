//! The AppAPI protocol end to end, against the Nextcloud stand-in.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::TestApp;
use crate::common::nextcloud::{Nextcloud, info_xml_routes};

const SECRET: &str = "exapp-secret-0123456789abcdef";

async fn installed() -> (Nextcloud, String, Option<std::path::PathBuf>) {
    let nextcloud = Nextcloud::start(
        "openconnector",
        SECRET,
        &[("admin", true), ("alice", false)],
    )
    .await;
    let (base, _, dir) = TestApp::spawn_exapp(&nextcloud.base, SECRET, None).await;
    nextcloud.attach(&base);
    nextcloud
        .install_and_enable()
        .await
        .expect("install and enable");
    (nextcloud, base, dir)
}

#[tokio::test]
async fn lifecycle_registers_and_removes_the_ui_and_webhooks() {
    let (nextcloud, _, dir) = installed().await;
    let progress = nextcloud.state.progress.lock().expect("lock").clone();
    assert_eq!(progress.first().map(|p| p.0), Some(0));
    assert_eq!(progress.last(), Some(&(100, String::new())));
    {
        let ui = nextcloud.state.ui.lock().expect("lock");
        let menu = &ui[&("top-menu".to_owned(), "openconnector".to_owned())];
        assert_eq!(
            (menu["displayName"].as_str(), menu["icon"].as_str()),
            (Some("Connector"), Some("img/app.svg"))
        );
        assert!(ui.contains_key(&("script".to_owned(), "js/openconnector-main".to_owned())));
        assert!(ui.contains_key(&("style".to_owned(), "css/openconnector-main".to_owned())));
        let state = &ui[&("initial-state".to_owned(), "api-base".to_owned())];
        assert_eq!(
            state["value"]["base"],
            "/index.php/apps/app_api/proxy/openconnector/"
        );
    }
    let hooks = nextcloud.state.webhooks.lock().expect("lock").clone();
    let events: Vec<&str> = hooks.iter().filter_map(|h| h["event"].as_str()).collect();
    assert_eq!(events.len(), 3);
    assert!(
        hooks
            .iter()
            .all(|h| h["uri"] == "/api/webhooks/openregister")
    );
    assert!(
        nextcloud.state.refused.lock().expect("lock").is_empty(),
        "every call of ours carried valid headers"
    );

    nextcloud.set_enabled(false).await.expect("disable");
    assert!(nextcloud.state.ui.lock().expect("lock").is_empty());
    assert!(nextcloud.state.webhooks.lock().expect("lock").is_empty());
    if let Some(dir) = dir {
        std::fs::remove_dir_all(dir).ok();
    }
}

#[tokio::test]
async fn forged_headers_are_refused_and_heartbeat_needs_none() {
    let (nextcloud, base, dir) = installed().await;
    let client = reqwest::Client::new();
    let heartbeat: Value = client
        .get(format!("{base}/heartbeat"))
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("JSON");
    assert_eq!(heartbeat, json!({"status": "ok"}));

    let good = nextcloud
        .to_exapp(Method::GET, "/api/dashboard", "alice")
        .send()
        .await
        .expect("answer");
    assert_eq!(good.status().as_u16(), 200);

    use base64::Engine;
    let encode = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let forgeries: [(&str, Vec<(&str, String)>); 6] = [
        ("no headers", vec![]),
        (
            "wrong app id",
            vec![
                ("EX-APP-ID", "other".into()),
                ("EX-APP-VERSION", "1".into()),
                ("AUTHORIZATION-APP-API", encode(&format!("alice:{SECRET}"))),
            ],
        ),
        (
            "empty version",
            vec![
                ("EX-APP-ID", "openconnector".into()),
                ("EX-APP-VERSION", String::new()),
                ("AUTHORIZATION-APP-API", encode(&format!("alice:{SECRET}"))),
            ],
        ),
        (
            "wrong secret",
            vec![
                ("EX-APP-ID", "openconnector".into()),
                ("EX-APP-VERSION", "1".into()),
                ("AUTHORIZATION-APP-API", encode("alice:guess")),
            ],
        ),
        (
            "not base64",
            vec![
                ("EX-APP-ID", "openconnector".into()),
                ("EX-APP-VERSION", "1".into()),
                ("AUTHORIZATION-APP-API", "alice:guess".into()),
            ],
        ),
        (
            "url-safe alphabet",
            vec![
                ("EX-APP-ID", "openconnector".into()),
                ("EX-APP-VERSION", "1".into()),
                (
                    "AUTHORIZATION-APP-API",
                    base64::engine::general_purpose::URL_SAFE.encode(format!("al>?:{SECRET}")),
                ),
            ],
        ),
    ];
    for (what, headers) in forgeries {
        let mut request = client.get(format!("{base}/api/dashboard"));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send().await.expect("answer");
        assert_eq!(response.status().as_u16(), 401, "{what}");
        let body: Value = response.json().await.expect("JSON");
        assert!(
            body["error"].as_str().is_some_and(
                |e| e.starts_with("AppAPI authentication failed") && !e.contains(SECRET)
            ),
            "{what}: {body}"
        );
    }
    let bearer = client
        .get(format!("{base}/api/dashboard"))
        .bearer_auth(SECRET)
        .send()
        .await
        .expect("answer");
    assert_eq!(
        bearer.status().as_u16(),
        401,
        "the standalone token scheme is off under AppAPI"
    );
    if let Some(dir) = dir {
        std::fs::remove_dir_all(dir).ok();
    }
}

#[tokio::test]
async fn users_reach_the_api_through_the_proxy_and_only_admins_reach_sources() {
    let (nextcloud, _, dir) = installed().await;
    let (status, body) = nextcloud
        .browse(Method::GET, "/api/dashboard", "alice", None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"sources\":0"));
    let (status, _) = nextcloud
        .browse(Method::GET, "/api/dashboard", "", None)
        .await;
    assert_eq!(status, 404, "anonymous visitors do not reach USER routes");

    let (status, _) = nextcloud
        .browse(
            Method::POST,
            "/api/sources",
            "alice",
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(status, 404, "the proxy hides ADMIN routes from users");
    let direct = nextcloud
        .to_exapp(Method::GET, "/api/sources", "alice")
        .send()
        .await
        .expect("answer");
    assert_eq!(
        direct.status().as_u16(),
        403,
        "and the app checks again itself"
    );
    let (status, body) = nextcloud
        .browse(
            Method::POST,
            "/api/sources",
            "admin",
            Some(json!({"name": "Weather"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = nextcloud
        .browse(Method::GET, "/api/sources/weather", "admin", None)
        .await;
    assert_eq!((status, body.contains("Weather")), (200, true));

    let (status, _) = nextcloud
        .browse(Method::GET, "/api/endpoint/anything", "", None)
        .await;
    assert_ne!(status, 401, "the gateway is PUBLIC: its endpoints decide");
    if let Some(dir) = dir {
        std::fs::remove_dir_all(dir).ok();
    }
}

#[tokio::test]
async fn an_init_failure_reaches_nextcloud_as_an_error() {
    let nextcloud = Nextcloud::start("openconnector", SECRET, &[]).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let url = format!(
        "postgres://postgres@{}/none",
        closed.local_addr().expect("address")
    );
    drop(closed);
    let (base, _, _) = TestApp::spawn_exapp(&nextcloud.base, SECRET, Some(&url)).await;
    nextcloud.attach(&base);
    let error = nextcloud
        .install_and_enable()
        .await
        .expect_err("init cannot migrate");
    assert!(error.starts_with("init failed: database"), "{error}");
}

#[tokio::test]
async fn notifications_go_to_the_named_user() {
    let nextcloud = Nextcloud::start("openconnector", SECRET, &[("alice", false)]).await;
    let (base, state, dir) = TestApp::spawn_exapp(&nextcloud.base, SECRET, None).await;
    nextcloud.attach(&base);
    let exapp = state.exapp().expect("exapp mode");
    exapp
        .nextcloud
        .notify("alice", "Synchronization Weather failed", "3 objects could not be written", Some("/index.php/apps/app_api/embedded/openconnector/openconnector#/synchronizations/logs"))
        .await
        .expect("notified");
    let sent = nextcloud.state.notifications.lock().expect("lock").clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, "alice");
    assert_eq!(
        sent[0].1["params"]["subject_params"]["rich_subject"],
        "Synchronization Weather failed"
    );
    let refused = exapp.nextcloud.notify("mallory", "x", "y", None).await;
    assert!(refused.is_err(), "an unknown user is refused with OCS 997");
    assert_eq!(exapp.is_admin("alice").await.ok(), Some(false));
    if let Some(dir) = dir {
        std::fs::remove_dir_all(dir).ok();
    }
}

/// Requests the server answers, one per route it serves, with the method AppAPI's proxy would
/// forward (it has no PATCH).
const SERVED: [(&str, &str); 19] = [
    ("GET", "/api/endpoint/zaken/1"),
    ("POST", "/api/import"),
    ("GET", "/api/export/source/1"),
    ("GET", "/api/sources"),
    ("POST", "/api/sources/test/1"),
    ("GET", "/api/sources/logs"),
    ("POST", "/api/webhooks/openregister"),
    ("GET", "/metrics"),
    ("GET", "/api/settings"),
    ("GET", "/api/settings/stats"),
    ("GET", "/api/dashboard"),
    ("POST", "/api/jobs/run/1"),
    ("GET", "/api/mappings"),
    ("PUT", "/api/mappings/1"),
    ("DELETE", "/api/rules/1"),
    ("GET", "/api/synchronizations/1/contracts"),
    ("GET", "/api/openapi.json"),
    ("GET", "/img/app.svg"),
    ("GET", "/"),
];

#[test]
fn every_served_route_is_declared_and_every_declared_route_is_served() {
    let routes = info_xml_routes();
    for (method, path) in SERVED {
        let route = routes
            .iter()
            .find(|r| r.matches(path) && r.verbs.iter().any(|v| v == method));
        assert!(
            route.is_some(),
            "{method} {path} is served but no route of info.xml lets it through"
        );
    }
    for route in &routes {
        let served = SERVED
            .iter()
            .any(|(method, path)| route.matches(path) && route.verbs.iter().any(|v| v == method));
        assert!(
            served,
            "info.xml declares {} but no served request matches it",
            route.url
        );
    }
    assert_eq!(
        routes
            .iter()
            .find(|r| r.matches("/api/endpoint/x"))
            .map(|r| r.access),
        Some(0)
    );
    assert_eq!(
        routes
            .iter()
            .find(|r| r.matches("/api/sources/1"))
            .map(|r| r.access),
        Some(2)
    );
}

#[tokio::test]
async fn every_served_route_answers_through_appapi_auth() {
    let (nextcloud, _, dir) = installed().await;
    // The gateway (`/api/endpoint/…`) is declared for the endpoints issue; it has no handler yet.
    for (method, path) in SERVED
        .iter()
        .filter(|(_, path)| !path.starts_with("/api/endpoint/"))
    {
        let request = nextcloud.to_exapp(
            Method::from_bytes(method.as_bytes()).expect("method"),
            path,
            "admin",
        );
        let request = if *method == "GET" {
            request
        } else {
            request.json(&json!({}))
        };
        let status = request.send().await.expect("answer").status().as_u16();
        let ui_not_built = status == 404 && (*path == "/" || path.starts_with("/img/"));
        assert!(
            status != 401 && (status != 404 || is_missing_item(path) || ui_not_built),
            "{method} {path} answered {status}"
        );
    }
    if let Some(dir) = dir {
        std::fs::remove_dir_all(dir).ok();
    }
}

/// Paths that name an item the fresh database does not have: a 404 there is the route working.
fn is_missing_item(path: &str) -> bool {
    path.ends_with("/1") || path.contains("/1/")
}

#[tokio::test]
async fn a_failing_job_notifies_its_owner_once_per_failure_streak() {
    use openconnector::jobs::scheduler::{ManualClock, Scheduler, SchedulerSettings};
    let nextcloud = Nextcloud::start(
        "openconnector",
        SECRET,
        &[("admin", true), ("alice", false)],
    )
    .await;
    let (base, state, dir) = TestApp::spawn_exapp(&nextcloud.base, SECRET, None).await;
    nextcloud.attach(&base);
    nextcloud
        .install_and_enable()
        .await
        .expect("install and enable");
    let send = |method: Method, path: &str, body: Value| {
        let request = nextcloud.to_exapp(method, path, "admin").json(&body);
        async move { crate::common::read(request.send().await.expect("answer")).await }
    };
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let dead = format!("http://{}", closed.local_addr().expect("address"));
    drop(closed);
    let (_, source) = send(
        Method::POST,
        "/api/sources",
        json!({"name": "Gone", "location": dead}),
    )
    .await;
    let (status, sync) = send(Method::POST, "/api/synchronizations", json!({"name": "Weather", "sourceId": source["id"], "targetId": "1/2", "sourceConfig": {"endpoint": "/objects"}})).await;
    assert_eq!(status, 201, "{sync}");
    let failing = json!({"jobClass": "SynchronizationAction", "arguments": {"synchronizationId": sync["id"]}});
    let (status, job) = send(Method::POST, "/api/jobs", json!({"name": "Weather sync", "userId": "alice", "cron": "*/5 * * * *", "jobClass": failing["jobClass"], "arguments": failing["arguments"]})).await;
    assert_eq!(status, 201, "{job}");
    let due = job["nextRun"]
        .as_str()
        .and_then(openconnector::db::parse_time)
        .expect("next run");
    let clock = std::sync::Arc::new(ManualClock::new(due));
    let scheduler = Scheduler::new(state.clone(), clock.clone(), SchedulerSettings::default());
    let run = || async {
        assert_eq!(scheduler.tick().await.expect("tick"), 1);
        scheduler.wait_idle().await;
        clock.advance(chrono::Duration::minutes(5));
    };
    let sent = || nextcloud.state.notifications.lock().expect("lock").clone();

    run().await;
    run().await;
    assert_eq!(sent().len(), 1, "two failures in a row: one notification");
    assert_eq!(sent()[0].0, "alice");
    let params = &sent()[0].1["params"]["subject_params"];
    assert_eq!(params["rich_subject"], "Job \"Weather sync\" failed");
    assert!(
        params["rich_message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Failed to synchronize"),
        "{params}"
    );
    assert!(
        params["link"]
            .as_str()
            .unwrap_or_default()
            .ends_with(&format!("/jobs/logs?jobId={}", job["id"])),
        "{params}"
    );

    // A success ends the streak; the next failure notifies again.
    let (_, heartbeat) = send(Method::PUT, &format!("/api/jobs/{}", job["id"]), json!({"jobClass": "PingAction", "arguments": {"sourceId": source["id"], "endpoint": format!("{}/heartbeat", base)}})).await;
    assert_eq!(heartbeat["jobClass"], "PingAction");
    send(
        Method::PUT,
        &format!("/api/jobs/{}", job["id"]),
        json!({"nextRun": openconnector::db::format_time(due + chrono::Duration::minutes(10))}),
    )
    .await;
    run().await;
    send(Method::PUT, &format!("/api/jobs/{}", job["id"]), json!({"jobClass": failing["jobClass"], "arguments": failing["arguments"], "nextRun": openconnector::db::format_time(due + chrono::Duration::minutes(15))})).await;
    run().await;
    assert_eq!(sent().len(), 2, "a new streak, a new notification");
    if let Some(dir) = dir {
        std::fs::remove_dir_all(dir).ok();
    }
}
