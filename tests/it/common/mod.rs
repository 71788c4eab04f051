//! Test helpers: the backends to run against and a running server per test.

pub mod nextcloud;
pub mod openregister;
pub mod tls;
pub mod upstream;

use std::net::TcpListener;

use actix_web::web;
use openconnector::app::{AppState, build_server};
use openconnector::db::Db;
use openconnector::secret::Secret;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;

/// A database to test against.
#[derive(Debug, Clone)]
pub struct Backend {
    pub name: &'static str,
    pub url: Option<String>,
}

/// SQLite always; PostgreSQL and MySQL/MariaDB when `OPENCONNECTOR_TEST_POSTGRES_URL` and
/// `OPENCONNECTOR_TEST_MYSQL_URL` are set. With `OPENCONNECTOR_TEST_REQUIRE_SERVICES=1` a
/// missing URL fails the test instead of skipping that backend.
pub fn backends() -> Vec<Backend> {
    let require = std::env::var("OPENCONNECTOR_TEST_REQUIRE_SERVICES").is_ok_and(|v| v == "1");
    let mut found = vec![Backend {
        name: "sqlite",
        url: None,
    }];
    for (name, variable) in [
        ("postgres", "OPENCONNECTOR_TEST_POSTGRES_URL"),
        ("mysql", "OPENCONNECTOR_TEST_MYSQL_URL"),
    ] {
        match std::env::var(variable) {
            Ok(url) if !url.is_empty() => found.push(Backend {
                name,
                url: Some(url),
            }),
            _ if require => {
                panic!("{variable} is not set and OPENCONNECTOR_TEST_REQUIRE_SERVICES=1")
            }
            _ => eprintln!("skipping {name}: {variable} is not set"),
        }
    }
    found
}

/// A fresh, migrated database of `backend`: its own SQLite file, or its own table prefix in
/// the shared server database. Dropping it removes the tables again.
pub struct TestDb {
    pub db: Db,
    url: String,
    prefix: String,
    dir: Option<std::path::PathBuf>,
}

impl TestDb {
    pub fn new(backend: &Backend) -> Self {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let prefix = format!("t{}_", &unique[..12]);
        let (url, dir) = match &backend.url {
            Some(url) => (url.clone(), None),
            None => {
                let dir = std::env::temp_dir().join(format!("openconnector-test-{unique}"));
                (
                    dir.join("test.sqlite").to_string_lossy().into_owned(),
                    Some(dir),
                )
            }
        };
        let db = Db::connect(&url, &prefix, 4).expect("the test database is reachable");
        db.run_blocking(|conn| conn.run_pending_migrations())
            .expect("migrations apply");
        Self {
            db,
            url,
            prefix,
            dir,
        }
    }

    /// The database URL and table prefix, for a service process started by a test.
    pub fn url_and_prefix(&self) -> (&str, &str) {
        (&self.url, &self.prefix)
    }

    /// A second pool on the same tables, as another replica of the service would have.
    pub fn another_pool(&self) -> Db {
        Db::connect(&self.url, &self.prefix, 4).expect("the test database is reachable")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.dir {
            Some(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            None => {
                while let Ok(Some(_)) = self.db.run_blocking(|conn| conn.revert_last_migration()) {}
                let _ = self.db.run_blocking(|conn| {
                    let table = format!("{}migrations", conn.prefix());
                    conn.batch(&format!("DROP TABLE {table}"))
                });
            }
        }
    }
}

pub const TOKEN: &str = "test-admin-token-0123456789";

/// A running server with its own database.
pub struct TestApp {
    pub base: String,
    pub state: web::Data<AppState>,
    pub client: reqwest::Client,
    pub backend: &'static str,
    pub store: TestDb,
}

impl TestApp {
    pub async fn spawn(backend: &Backend) -> Self {
        Self::spawn_with_register(backend, None).await
    }

    /// A running server whose synchronizations write to `register`.
    pub async fn spawn_with_register(
        backend: &Backend,
        register: Option<openconnector::sync::writer::RegisterSettings>,
    ) -> Self {
        if let Ok(filter) = std::env::var("TEST_LOG") {
            openconnector::telemetry::init_logging(&filter);
        }
        let store = TestDb::new(backend);
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().expect("bound").port();
        let state = web::Data::new(
            AppState::new(store.db.clone(), Secret::new(TOKEN))
                .expect("state")
                .with_register(register),
        );
        let server = build_server(listener, state.clone()).expect("the server starts");
        tokio::spawn(server);
        Self {
            base: format!("http://127.0.0.1:{port}"),
            state,
            // Every request opens its own connection: one the server is closing (after its
            // keep-alive, or after a body it did not read) can never be reused, which on a busy
            // machine made a request fail now and then with "connection closed".
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .expect("a client"),
            backend: backend.name,
            store,
        }
    }

    /// The service as a Nextcloud app talking to `nextcloud_url`, over a database that is not
    /// migrated yet (`POST /init` does that): a fresh SQLite file, or `database_url`.
    pub async fn spawn_exapp(
        nextcloud_url: &str,
        secret: &str,
        database_url: Option<&str>,
    ) -> (String, web::Data<AppState>, Option<std::path::PathBuf>) {
        let dir =
            std::env::temp_dir().join(format!("openconnector-exapp-{}", uuid::Uuid::new_v4()));
        let url = database_url.map_or_else(
            || dir.join("exapp.sqlite").to_string_lossy().into_owned(),
            str::to_owned,
        );
        let db = Db::connect_lazily(&url, "oc_openconnector_", 4).expect("a pool");
        let settings = openconnector::appapi::ExAppSettings {
            app_id: "openconnector".into(),
            app_version: "0.1.0".into(),
            secret: Secret::new(secret),
            display_name: "Connector".into(),
            nextcloud_url: nextcloud_url.to_owned(),
            persistent_storage: Some(dir.clone()),
            listen: openconnector::appapi::Listen::Tcp("127.0.0.1:0".parse().expect("address")),
        };
        let exapp = openconnector::appapi::ExApp::new(settings).expect("client");
        let state = web::Data::new(AppState::for_exapp(db, exapp).expect("state"));
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let base = format!("http://{}", listener.local_addr().expect("bound"));
        tokio::spawn(build_server(listener, state.clone()).expect("the server starts"));
        (base, state, database_url.is_none().then_some(dir))
    }

    /// A request with the admin token.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        read(
            self.request(Method::GET, path)
                .send()
                .await
                .expect("GET answers"),
        )
        .await
    }

    pub async fn send(&self, method: Method, path: &str, body: &Value) -> (u16, Value) {
        read(
            self.request(method, path)
                .json(body)
                .send()
                .await
                .expect("request answers"),
        )
        .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(Method::POST, path, body).await
    }
}

/// Status and JSON body (`Null` for an empty body).
pub async fn read(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON body, got {text}"))
    };
    (status, body)
}
