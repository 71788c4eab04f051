//! Outbound calls against a real server on loopback: every authentication, XML and SOAP,
//! rate limits, retries, timeouts, refused connections, large, binary and malformed bodies,
//! and no secret in any stored log or API answer.

use std::process::Command;
use std::time::{Duration, Instant};

use openconnector::call::{CallRequest, CallService, CallSettings, SourceSpec};
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::tls::{Certificates, MutualTlsServer};
use crate::common::upstream::Upstream;
use crate::common::{TestApp, backends};

/// Secrets the tests configure; none may appear in a stored log or an API answer.
const SECRETS: [&str; 6] = [
    "api-key-value",
    "basic-password",
    "bearer-token-value",
    "client-secret",
    "user-password",
    "jwt-hmac-secret",
];

async fn source(app: &TestApp, upstream: &Upstream, configuration: Value) -> i64 {
    let (status, created) = app
        .post("/api/sources", &json!({"name": format!("S {}", uuid::Uuid::new_v4()), "location": upstream.base, "configuration": configuration}))
        .await;
    assert_eq!(status, 201, "{created}");
    created["id"].as_i64().expect("id")
}

/// The stored row of a source, as the call service reads it.
fn stored_source(app: &TestApp, id: i64) -> Value {
    let key = openconnector::db::store::Key::Id(id);
    app.state
        .db
        .run_blocking(|conn| openconnector::db::store::find(conn, &openconnector::db::SOURCE, &key))
        .expect("row")
        .expect("found")
}

async fn test_call(app: &TestApp, id: i64, body: Value) -> Value {
    let (status, log) = app.post(&format!("/api/sources/test/{id}"), &body).await;
    assert_eq!(status, 200, "{log}");
    log
}

fn body(log: &Value) -> Value {
    serde_json::from_str(log["response"]["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null)
}

async fn assert_no_secret_leaves(app: &TestApp) {
    app.state.calls.flush_logs().await;
    let (_, logs) = app.get("/api/sources/logs?_limit=500").await;
    let (_, sources) = app.get("/api/sources?_limit=500").await;
    let stored = app
        .state
        .db
        .run_blocking(|conn| {
            let (table, _) = conn.table(&openconnector::db::CALL_LOG);
            let mut sql = conn.sql();
            sql.push(&format!("SELECT request, response FROM {table}"));
            conn.load(&sql)
        })
        .expect("raw logs");
    let raw: String = stored
        .into_iter()
        .flat_map(|row| row.0.into_iter().flatten())
        .collect();
    assert!(logs["total"].as_u64().unwrap_or(0) > 0);
    for secret in SECRETS {
        for (what, text) in [
            ("log list", logs.to_string()),
            ("sources", sources.to_string()),
            ("stored logs", raw.clone()),
        ] {
            assert!(!text.contains(secret), "{secret} appears in the {what}");
        }
    }
}

#[tokio::test]
async fn api_key_basic_and_bearer_reach_the_server_and_stay_out_of_logs() {
    let app = TestApp::spawn(&backends()[0]).await;
    let upstream = Upstream::start().await;
    let header_key = source(
        &app,
        &upstream,
        json!({"authentication": {"type": "apiKey", "name": "X-Key", "value": "api-key-value"}}),
    )
    .await;
    let query_key = source(&app, &upstream, json!({"authentication.type": "apiKey", "authentication.in": "query", "authentication.name": "key", "authentication.value": "api-key-value"})).await;
    let basic = source(
        &app,
        &upstream,
        json!({"authentication": {"type": "basic", "username": "u", "password": "basic-password"}}),
    )
    .await;
    let bearer = source(&app, &upstream, json!({"authentication": {"type": "bearer", "token": "bearer-token-value"}, "headers.Accept": "application/json", "query.limit": 5})).await;

    let echo = body(&test_call(&app, header_key, json!({"endpoint": "/echo"})).await);
    assert_eq!(echo["headers"]["x-key"], "api-key-value");
    let log = test_call(
        &app,
        query_key,
        json!({"endpoint": "/echo", "query": {"page": "2"}}),
    )
    .await;
    assert_eq!(body(&log)["params"], json!(["key=api-key-value", "page=2"]));
    assert!(
        log["request"]["url"]
            .as_str()
            .is_some_and(|u| u.contains("key=••••") && u.contains("page=2")),
        "{log}"
    );
    let echo = body(&test_call(&app, basic, json!({"endpoint": "/echo"})).await);
    assert_eq!(
        echo["headers"]["authorization"],
        format!("Basic {}", base64_of("u:basic-password"))
    );
    let log = test_call(
        &app,
        bearer,
        json!({"endpoint": "/echo", "method": "POST", "body": "{\"a\":1}"}),
    )
    .await;
    let echo = body(&log);
    assert_eq!(
        echo["headers"]["authorization"],
        "Bearer bearer-token-value"
    );
    assert_eq!(echo["headers"]["accept"], "application/json");
    assert_eq!(echo["params"], json!(["limit=5"]));
    assert_eq!(
        (echo["method"].as_str(), echo["body"].as_str()),
        (Some("POST"), Some("{\"a\":1}"))
    );
    assert_eq!(log["request"]["headers"]["authorization"], "••••");

    let (_, shown) = app.get(&format!("/api/sources/{bearer}")).await;
    assert_eq!(shown["configuration"]["authentication"]["token"], "••••");
    let (status, _) = app
        .send(
            Method::PUT,
            &format!("/api/sources/{bearer}"),
            &json!({"configuration": shown["configuration"]}),
        )
        .await;
    assert_eq!(status, 200);
    let echo = body(&test_call(&app, bearer, json!({"endpoint": "/echo"})).await);
    assert_eq!(
        echo["headers"]["authorization"], "Bearer bearer-token-value",
        "a mask sent back keeps the secret"
    );
    assert_no_secret_leaves(&app).await;
}

#[tokio::test]
async fn a_client_certificate_opens_a_mutual_tls_source_and_a_missing_one_is_a_clear_log() {
    let app = TestApp::spawn(&backends()[0]).await;
    let Some(certificates) = Certificates::make() else {
        assert!(
            std::env::var_os("OPENCONNECTOR_TEST_REQUIRE_SERVICES").is_none(),
            "openssl cannot make certificates here"
        );
        eprintln!("skipping: openssl cannot make certificates here");
        return;
    };
    let server = MutualTlsServer::start(&certificates).await;
    let tls_source = |configuration: Value| {
        let app = &app;
        let base = server.base.clone();
        async move {
            let (status, created) = app
                .post("/api/sources", &json!({"name": format!("TLS {}", uuid::Uuid::new_v4()), "location": base, "configuration": configuration}))
                .await;
            assert_eq!(status, 201, "{created}");
            created["id"].as_i64().expect("id")
        }
    };

    let mutual = tls_source(json!({"verify": certificates.ca, "cert": certificates.client, "ssl_key": certificates.client_key})).await;
    let log = test_call(&app, mutual, json!({"endpoint": "/hello"})).await;
    assert_eq!(log["statusCode"], 200, "{log}");
    assert_eq!(body(&log), json!({"mutual": true}));
    let (_, shown) = app.get(&format!("/api/sources/{mutual}")).await;
    assert_eq!(
        shown["configuration"]["ssl_key"], "••••",
        "the client key is a secret"
    );

    let without_certificate = tls_source(json!({"verify": certificates.ca})).await;
    let log = test_call(&app, without_certificate, json!({"endpoint": "/hello"})).await;
    assert_eq!(log["statusCode"], 503, "refused by the server: {log}");
    assert!(
        log["statusMessage"]
            .as_str()
            .unwrap_or_default()
            .contains("could not be reached"),
        "{log}"
    );
    assert!(server.handshakes_refused() >= 1);

    let untrusted = tls_source(json!({})).await;
    let log = test_call(&app, untrusted, json!({"endpoint": "/hello"})).await;
    assert_eq!(
        log["statusCode"], 503,
        "an unknown CA is not trusted: {log}"
    );
    assert!(
        log.to_string().to_lowercase().contains("certificate"),
        "{log}"
    );

    app.state.calls.flush_logs().await;
    let (_, logs) = app.get("/api/sources/logs?_limit=500").await;
    let (_, sources) = app.get("/api/sources?_limit=500").await;
    let key_body = certificates.client_key.lines().nth(1).expect("a key line");
    for answer in [logs, sources] {
        assert!(
            !answer.to_string().contains(key_body),
            "the client key left: {answer}"
        );
    }
}

/// A fresh private key (PEM) and its public key (PEM) for `algorithm`, made by `openssl`.
fn key_pair(algorithm: jsonwebtoken::Algorithm) -> Option<(String, Vec<u8>)> {
    let dir = std::env::temp_dir().join(format!("oc-jwt-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).ok()?;
    let openssl = |args: &[&str]| {
        Command::new("openssl")
            .args(args)
            .current_dir(&dir)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let generate: &[&str] = match algorithm {
        jsonwebtoken::Algorithm::ES256 => &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "key.pem",
        ],
        _ => &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "key.pem",
        ],
    };
    let made =
        openssl(generate) && openssl(&["pkey", "-in", "key.pem", "-pubout", "-out", "public.pem"]);
    let pair = made.then(|| {
        Some((
            std::fs::read_to_string(dir.join("key.pem")).ok()?,
            std::fs::read(dir.join("public.pem")).ok()?,
        ))
    });
    std::fs::remove_dir_all(&dir).ok();
    pair.flatten()
}

#[tokio::test]
async fn a_private_key_jwt_client_assertion_is_verified_by_the_token_endpoint() {
    let app = TestApp::spawn(&backends()[0]).await;
    let upstream = Upstream::start().await;
    let (Some((private, public)), Some((other_private, _))) = (
        key_pair(jsonwebtoken::Algorithm::RS256),
        key_pair(jsonwebtoken::Algorithm::RS256),
    ) else {
        assert!(
            std::env::var_os("OPENCONNECTOR_TEST_REQUIRE_SERVICES").is_none(),
            "openssl cannot make a key here"
        );
        eprintln!("skipping: openssl cannot make a key here");
        return;
    };
    *upstream.state.jwt_key.lock().expect("lock") = Some((jsonwebtoken::Algorithm::RS256, public));
    let assertion = |key: &str| {
        json!({"authentication": {"type": "oauth2", "grant_type": "client_credentials",
            "tokenUrl": format!("{}/token", upstream.base), "client_id": "client",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "private_key": key, "assertion_algorithm": "RS256"}})
    };
    let signed = source(&app, &upstream, assertion(&private)).await;
    let log = test_call(&app, signed, json!({"endpoint": "/protected"})).await;
    assert_eq!(log["statusCode"], 200, "{log}");
    assert_eq!(upstream.tokens_issued(), 1);

    let forged = source(&app, &upstream, assertion(&other_private)).await;
    let log = test_call(&app, forged, json!({"endpoint": "/protected"})).await;
    assert_eq!(
        log["statusCode"], 401,
        "a key the token endpoint does not know: {log}"
    );
    assert_eq!(upstream.tokens_issued(), 1);
    assert_no_secret_leaves(&app).await;
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn oauth(upstream: &Upstream, grant: &str, credentials_in: &str) -> Value {
    json!({
        "headers.Authorization": "Bearer {{ oauthToken(source) }}",
        "authentication": {
            "grant_type": grant, "tokenUrl": format!("{}/token", upstream.base), "scope": "api",
            "authentication": credentials_in, "client_id": "client", "client_secret": "client-secret",
            "username": "user", "password": "user-password"
        }
    })
}

#[tokio::test]
async fn oauth_tokens_are_cached_shared_and_refreshed_once_on_401() {
    let app = TestApp::spawn(&backends()[0]).await;
    let upstream = Upstream::start().await;
    let id = source(
        &app,
        &upstream,
        oauth(&upstream, "client_credentials", "body"),
    )
    .await;

    let first = test_call(&app, id, json!({"endpoint": "/protected"})).await;
    assert_eq!(first["statusCode"], 200, "{first}");
    test_call(&app, id, json!({"endpoint": "/protected"})).await;
    assert_eq!(upstream.tokens_issued(), 1, "the token is cached");

    upstream.revoke_tokens();
    let refreshed = test_call(&app, id, json!({"endpoint": "/protected"})).await;
    assert_eq!(
        refreshed["statusCode"], 200,
        "a 401 refreshes the token once: {refreshed}"
    );
    assert_eq!(body(&refreshed)["presented"], "token-2");
    assert_eq!(upstream.hits("/protected"), 4);

    let password = source(&app, &upstream, oauth(&upstream, "password", "basic_auth")).await;
    let stored = stored_source(&app, password);
    let spec = SourceSpec::from_row(&stored);
    let calls = (0..10).map(|_| {
        app.state
            .calls
            .call(&spec, CallRequest::new(Method::GET, "/protected"))
    });
    let responses = futures_util::future::join_all(calls).await;
    assert!(
        responses.iter().all(|r| r.status == 200),
        "{:?}",
        responses.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(
        upstream.tokens_issued(),
        3,
        "ten concurrent callers share one token request"
    );

    let bad = source(&app, &upstream, json!({"authentication": {"grant_type": "client_credentials", "tokenUrl": format!("{}/token", upstream.base), "client_id": "client", "client_secret": "wrong-secret"}})).await;
    let refused = test_call(&app, bad, json!({"endpoint": "/protected"})).await;
    assert_eq!(refused["statusCode"], 401);
    assert!(
        refused["statusMessage"]
            .as_str()
            .is_some_and(|m| m.contains("token endpoint answered 401")),
        "{refused}"
    );
    assert_no_secret_leaves(&app).await;
}

#[tokio::test]
async fn jwts_we_sign_verify_at_the_server() {
    let app = TestApp::spawn(&backends()[0]).await;
    let upstream = Upstream::start().await;
    *upstream.state.jwt_key.lock().expect("lock") =
        Some((jsonwebtoken::Algorithm::HS256, b"jwt-hmac-secret".to_vec()));
    let hmac = source(&app, &upstream, json!({"authentication": {"algorithm": "HS256", "secret": "jwt-hmac-secret", "payload": "{\"iss\":\"connector\",\"sub\":\"42\"}", "x5t": "thumb"}})).await;
    let log = test_call(&app, hmac, json!({"endpoint": "/jwt"})).await;
    assert_eq!(log["statusCode"], 200, "{log}");
    assert_eq!(
        body(&log),
        json!({"claims": {"iss": "connector", "sub": "42"}, "x5t": "thumb"})
    );

    for algorithm in [
        jsonwebtoken::Algorithm::RS256,
        jsonwebtoken::Algorithm::PS256,
        jsonwebtoken::Algorithm::ES256,
    ] {
        let Some((private, public)) = key_pair(algorithm) else {
            eprintln!("skipping {algorithm:?}: openssl cannot make a key here");
            continue;
        };
        *upstream.state.jwt_key.lock().expect("lock") = Some((algorithm, public));
        let encoded = base64_of(&private);
        let id = source(&app, &upstream, json!({"authentication": {"type": "jwt", "algorithm": format!("{algorithm:?}"), "secret": encoded, "payload": {"iss": "connector"}}})).await;
        let log = test_call(&app, id, json!({"endpoint": "/jwt"})).await;
        assert_eq!(log["statusCode"], 200, "{algorithm:?}: {log}");
        assert_eq!(body(&log)["claims"]["iss"], "connector");
        let (_, shown) = app.get(&format!("/api/sources/{id}")).await;
        assert_eq!(shown["configuration"]["authentication"]["secret"], "••••");
    }
    assert_no_secret_leaves(&app).await;
}

#[tokio::test]
async fn xml_and_soap_answers_become_json_and_faults_are_errors() {
    let app = TestApp::spawn(&backends()[0]).await;
    let upstream = Upstream::start().await;
    let plain = source(&app, &upstream, json!({})).await;
    let row = stored_source(&app, plain);
    let response = app
        .state
        .calls
        .call(
            &SourceSpec::from_row(&row),
            CallRequest::new(Method::GET, "/xml"),
        )
        .await;
    assert_eq!(
        response.data().expect("XML reads as JSON"),
        json!({"@attributes": {"total": "2"}, "item": [{"@attributes": {"id": "1"}, "#text": "Een"}, {"@attributes": {"id": "2"}, "#text": "Twee"}]})
    );

    let (_, soap) = app
        .post(
            "/api/sources",
            &json!({"name": "Stock", "type": "soap", "location": format!("{}/soap", upstream.base),
            "configuration": {"soapVersion": "1.1", "namespace": "urn:stock"}}),
        )
        .await;
    let id = soap["id"].as_i64().expect("id");
    let log = test_call(
        &app,
        id,
        json!({"endpoint": "GetPrice", "method": "POST", "body": {"Item": "Apple"}}),
    )
    .await;
    assert_eq!(log["statusCode"], 200, "{log}");
    assert_eq!(body(&log)["m:GetPriceResponse"]["m:Price"], "1.90");
    assert_eq!(
        body(&log)["m:GetPriceResponse"]["m:Action"],
        "\"urn:stock/GetPrice\""
    );
    let fault = test_call(
        &app,
        id,
        json!({"endpoint": "GetPrice", "method": "POST", "body": {"Item": "Unknown"}}),
    )
    .await;
    assert_eq!(fault["statusCode"], 500);
    assert_eq!(
        body(&fault)["fault"],
        json!({"faultcode": "s:Client", "faultstring": "No such item", "detail": null})
    );
}

#[tokio::test]
async fn rate_limits_are_obeyed_and_never_hammer_the_source() {
    let app = TestApp::spawn(&backends()[0]).await;
    let upstream = Upstream::start().await;
    let id = source(&app, &upstream, json!({})).await;
    let started = Instant::now();
    let log = test_call(&app, id, json!({"endpoint": "/limited"})).await;
    assert_eq!(
        log["statusCode"], 200,
        "a 429 with Retry-After is retried after the wait: {log}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After: 1 was obeyed"
    );
    assert_eq!(upstream.hits("/limited"), 2);

    let (_, limited) = app
        .post("/api/sources", &json!({"name": "Limited", "location": upstream.base, "rateLimitLimit": 2, "rateLimitWindow": 60}))
        .await;
    let limited = limited["id"].as_i64().expect("id");
    for _ in 0..2 {
        assert_eq!(
            test_call(&app, limited, json!({"endpoint": "/echo"})).await["statusCode"],
            200
        );
    }
    let refused = test_call(&app, limited, json!({"endpoint": "/echo"})).await;
    assert_eq!(refused["statusCode"], 429);
    assert!(
        refused["statusMessage"]
            .as_str()
            .is_some_and(|m| m.contains("rate limit")),
        "{refused}"
    );
    assert_eq!(upstream.hits("/echo"), 2, "the third call never left");
}

/// A configured limit (`rateLimitLimit` per `rateLimitWindow`) is one budget, counted in the
/// source's row: a second replica (its own call service and pool on the same database) draws
/// from it too, so together they never exceed it.
#[tokio::test]
async fn a_configured_rate_limit_is_one_budget_for_every_replica() {
    for backend in backends() {
        let b = backend.name;
        let app = TestApp::spawn(&backend).await;
        let upstream = Upstream::start().await;
        let (_, limited) = app
            .post("/api/sources", &json!({"name": "Limited", "location": upstream.base, "rateLimitLimit": 3, "rateLimitWindow": 60}))
            .await;
        let id = limited["id"].as_i64().expect("id");
        let replica =
            CallService::new(app.store.another_pool(), CallSettings::default()).expect("a service");
        let spec = SourceSpec::from_row(&limited);
        let from_replica = || replica.call(&spec, CallRequest::new(Method::GET, "/echo"));

        for _ in 0..2 {
            assert_eq!(
                test_call(&app, id, json!({"endpoint": "/echo"})).await["statusCode"],
                200,
                "{b}"
            );
        }
        assert!(
            from_replica().await.is_success(),
            "{b}: the third call of the window"
        );
        assert_eq!(
            from_replica().await.status,
            429,
            "{b}: the budget is spent for everyone"
        );
        let refused = test_call(&app, id, json!({"endpoint": "/echo"})).await;
        assert_eq!(refused["statusCode"], 429, "{b}: {refused}");
        assert_eq!(
            upstream.hits("/echo"),
            3,
            "{b}: never more than the limit left"
        );
        let (_, source) = app.get(&format!("/api/sources/{id}")).await;
        assert_eq!(source["rateLimitRemaining"], 0, "{b}: {source}");
        assert!(
            source["rateLimitReset"]
                .as_i64()
                .is_some_and(|reset| reset > 0),
            "{b}"
        );
        replica.flush_logs().await;
    }
}

#[tokio::test]
async fn transient_failures_retry_and_failures_become_clear_logs() {
    let app = TestApp::spawn(&backends()[0]).await;
    let upstream = Upstream::start().await;
    let id = source(&app, &upstream, json!({"timeout": 0.3})).await;
    let log = test_call(&app, id, json!({"endpoint": "/flaky"})).await;
    assert_eq!(
        (log["statusCode"].as_u64(), upstream.hits("/flaky")),
        (Some(200), 3),
        "{log}"
    );
    let posted = test_call(&app, id, json!({"endpoint": "/flaky", "method": "POST"})).await;
    assert_eq!(
        (posted["statusCode"].as_u64(), upstream.hits("/flaky")),
        (Some(200), 4),
        "POST is sent once"
    );

    let started = Instant::now();
    let slow = test_call(&app, id, json!({"endpoint": "/slow"})).await;
    assert_eq!(slow["statusCode"], 504, "{slow}");
    assert!(
        slow["statusMessage"]
            .as_str()
            .is_some_and(|m| m.contains("timed out"))
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "three attempts of 0.3 s, not a hang"
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let closed_url = format!("http://{}", closed.local_addr().expect("address"));
    drop(closed);
    let (_, down) = app
        .post(
            "/api/sources",
            &json!({"name": "Down", "location": closed_url}),
        )
        .await;
    let refused = test_call(
        &app,
        down["id"].as_i64().expect("id"),
        json!({"endpoint": "/x"}),
    )
    .await;
    assert_eq!(refused["statusCode"], 503);
    assert!(
        refused["statusMessage"]
            .as_str()
            .is_some_and(|m| m.contains("could not be reached")),
        "{refused}"
    );

    // A host name that cannot be resolved: a 70-character label, which the system resolver
    // refuses itself (no query leaves the machine, unlike a `.invalid` name).
    let unresolvable = format!("http://{}.example", "a".repeat(70));
    let (_, nowhere) = app
        .post(
            "/api/sources",
            &json!({"name": "Nowhere", "location": unresolvable}),
        )
        .await;
    let started = Instant::now();
    let unresolved = test_call(
        &app,
        nowhere["id"].as_i64().expect("id"),
        json!({"endpoint": "/x"}),
    )
    .await;
    assert_eq!(unresolved["statusCode"], 503, "{unresolved}");
    assert!(
        unresolved["statusMessage"]
            .as_str()
            .is_some_and(|m| m.contains("could not be resolved")),
        "{unresolved}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "a clear log, not a hang"
    );

    let (_, disabled) = app
        .post(
            "/api/sources",
            &json!({"name": "Off", "location": upstream.base, "isEnabled": false}),
        )
        .await;
    let off = test_call(&app, disabled["id"].as_i64().expect("id"), json!({})).await;
    assert_eq!(
        (off["statusCode"].as_u64(), off["statusMessage"].as_str()),
        (Some(409), Some("This source is not enabled"))
    );
    let (status, missing) = app.post("/api/sources/test/999", &json!({})).await;
    assert_eq!((status, missing["error"].is_string()), (404, true));
    let (status, bad) = app
        .post(
            &format!("/api/sources/test/{id}"),
            &json!({"method": "NOT A METHOD", "headers": "x"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        bad["details"],
        json!({"method": "expected an HTTP method such as GET", "headers": "expected an object of names to values"})
    );
}

#[tokio::test]
async fn large_binary_and_malformed_bodies_are_handled() {
    let app = TestApp::spawn(&backends()[0]).await;
    let upstream = Upstream::start().await;
    let id = source(&app, &upstream, json!({})).await;
    let row = stored_source(&app, id);
    let spec = SourceSpec::from_row(&row);
    let big = app
        .state
        .calls
        .call(&spec, CallRequest::new(Method::GET, "/big"))
        .await;
    assert_eq!(big.body.len(), 1024 * 1024 + 4);
    assert_eq!(
        big.data().expect("JSON")[0].as_str().map(str::len),
        Some(1024 * 1024)
    );
    assert_eq!(big.record.response()["size"], 1024 * 1024 + 4);

    let malformed = app
        .state
        .calls
        .call(&spec, CallRequest::new(Method::GET, "/malformed"))
        .await;
    assert_eq!(malformed.status, 200);
    assert!(
        malformed.data().is_err(),
        "a malformed body is an error to the caller, not a panic"
    );

    let binary = test_call(&app, id, json!({"endpoint": "/binary"})).await;
    assert_eq!(binary["response"]["encoding"], "base64");
    assert_eq!(binary["response"]["body"], "//4AgQ==");
    app.state.calls.flush_logs().await;
    let (_, logs) = app.get("/api/sources/logs?statusCode=500").await;
    assert_eq!(
        logs["results"][0]["response"]["body"], "//4AgQ==",
        "error bodies are stored"
    );
}

/// A logged call sent again: the same method, URL, query and body, with the source's
/// authentication applied anew (the log only kept it masked), answered as a new CallLog.
#[tokio::test]
async fn a_logged_call_can_be_sent_again() {
    for backend in backends() {
        let app = TestApp::spawn(&backend).await;
        let upstream = Upstream::start().await;
        let id = source(&app, &upstream, json!({"logBody": true, "authentication.type": "apiKey", "authentication.in": "query", "authentication.name": "key", "authentication.value": "api-key-value"})).await;
        let first = test_call(&app, id, json!({"method": "POST", "endpoint": "/echo", "query": {"page": "2"}, "body": {"a": 1}})).await;
        assert_eq!(
            body(&first)["params"],
            json!(["key=api-key-value", "page=2"])
        );
        app.state.calls.flush_logs().await;
        let (_, logs) = app.get("/api/sources/logs?_limit=1").await;
        let log_id = logs["results"][0]["id"].clone();

        let (status, again) = app
            .post(&format!("/api/sources/logs/{log_id}/retry"), &json!({}))
            .await;
        assert_eq!(status, 200, "{}: {again}", backend.name);
        let echo = body(&again);
        assert_eq!(echo["method"], "POST");
        assert_eq!(
            echo["params"],
            json!(["key=api-key-value", "page=2"]),
            "the key applied anew, once"
        );
        assert_eq!(echo["body"], r#"{"a":1}"#);
        app.state.calls.flush_logs().await;
        assert_eq!(
            app.get("/api/sources/logs").await.1["total"],
            2,
            "a new log"
        );

        let (status, _) = app.post("/api/sources/logs/999999/retry", &json!({})).await;
        assert_eq!(status, 404);

        // Without logBody the body is not in the log: sending it again without is refused.
        let plain = source(&app, &upstream, json!({})).await;
        test_call(
            &app,
            plain,
            json!({"method": "POST", "endpoint": "/echo", "body": {"a": 1}}),
        )
        .await;
        app.state.calls.flush_logs().await;
        let (_, logs) = app.get("/api/sources/logs?_limit=1").await;
        let (status, refused) = app
            .post(
                &format!("/api/sources/logs/{}/retry", logs["results"][0]["id"]),
                &json!({}),
            )
            .await;
        assert_eq!(status, 409, "{refused}");
        assert!(
            refused["error"]
                .as_str()
                .is_some_and(|e| e.contains("logBody")),
            "{refused}"
        );
    }
}
