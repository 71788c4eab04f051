//! A stand-in for Nextcloud with AppAPI, faithful to what an ExApp sees (spec
//! reference-appapi.md §11 items 1–5): it validates every header of our calls as Nextcloud does
//! (401 with OCS 997 otherwise), answers in OCS v1/v2 envelopes, stores what we register, drives
//! the lifecycle as AppAPI does, and proxies browser requests by the routes of our real
//! `appinfo/info.xml` (regex, verb, access level, 404 on denial).

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use serde_json::{Value, json};

/// One `<route>` of info.xml.
#[derive(Debug, Clone)]
pub struct Route {
    pub url: String,
    pub verbs: Vec<String>,
    /// 0 PUBLIC, 1 USER, 2 ADMIN.
    pub access: u8,
    regex: regex::Regex,
}

impl Route {
    pub fn matches(&self, path: &str) -> bool {
        self.regex.is_match(path)
    }
}

/// The routes of our `appinfo/info.xml`, read with our own XML reader.
pub fn info_xml_routes() -> Vec<Route> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/appinfo/info.xml"))
        .expect("appinfo/info.xml");
    let info = openconnector::call::xml::to_json(&text).expect("info.xml is XML");
    let routes = &info["external-app"]["routes"]["route"];
    let routes = match routes {
        Value::Array(items) => items.clone(),
        single => vec![single.clone()],
    };
    routes
        .iter()
        .map(|route| {
            let url = route["url"].as_str().expect("url").to_owned();
            let access = match route["access_level"].as_str().expect("access_level") {
                "PUBLIC" | "0" => 0,
                "USER" | "1" => 1,
                "ADMIN" | "2" => 2,
                other => panic!("unknown access level {other}"),
            };
            Route {
                // AppAPI matches `~^(?:<url>)~i`.
                regex: regex::Regex::new(&format!("(?i)^(?:{url})")).expect("route regex"),
                verbs: route["verb"]
                    .as_str()
                    .expect("verb")
                    .split(',')
                    .map(|v| v.trim().to_uppercase())
                    .collect(),
                url,
                access,
            }
        })
        .collect()
}

#[derive(Default)]
pub struct NextcloudState {
    pub app_id: String,
    pub secret: String,
    /// Users and whether each is an admin.
    pub users: HashMap<String, bool>,
    pub exapp_base: Mutex<String>,
    pub routes: Vec<Route>,
    pub progress: Mutex<Vec<(i64, String)>>,
    /// Registered UI rows by kind ("top-menu", "script", …) and key.
    pub ui: Mutex<HashMap<(String, String), Value>>,
    pub webhooks: Mutex<Vec<Value>>,
    pub notifications: Mutex<Vec<(String, Value)>>,
    /// Headers of every call we received, for inspection.
    pub refused: Mutex<Vec<String>>,
}

pub struct Nextcloud {
    pub base: String,
    pub state: Arc<NextcloudState>,
    client: reqwest::Client,
}

fn envelope(version: u8, ok: bool, statuscode: u16, message: &str, data: Value) -> HttpResponse {
    let code = match (version, ok) {
        (1, true) => 100,
        (_, true) => 200,
        _ => statuscode,
    };
    let body = json!({"ocs": {"meta": {"status": if ok { "ok" } else { "failure" }, "statuscode": code, "message": message,
        "totalitems": "", "itemsperpage": ""}, "data": data}});
    // v1 keeps HTTP 200 for failures except 401; v2 maps the OCS code to HTTP.
    let http = match (version, ok, statuscode) {
        (_, true, _) => 200,
        (_, false, 997) => 401,
        (1, false, _) => 200,
        (_, false, 998) => 404,
        (_, false, code) if (400..600).contains(&code) => code,
        _ => 500,
    };
    HttpResponse::build(actix_web::http::StatusCode::from_u16(http).expect("status")).json(body)
}

impl Nextcloud {
    pub async fn start(app_id: &str, secret: &str, users: &[(&str, bool)]) -> Self {
        let state = Arc::new(NextcloudState {
            app_id: app_id.to_owned(),
            secret: secret.to_owned(),
            users: users
                .iter()
                .map(|(u, admin)| ((*u).to_owned(), *admin))
                .collect(),
            routes: info_xml_routes(),
            ..NextcloudState::default()
        });
        let shared = web::Data::from(Arc::clone(&state));
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let base = format!("http://{}", listener.local_addr().expect("bound"));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .default_service(web::to(handle))
        })
        .workers(2)
        .listen(listener)
        .expect("listen")
        .run();
        tokio::spawn(server);
        Self {
            base,
            state,
            client: reqwest::Client::new(),
        }
    }

    pub fn attach(&self, exapp_base: &str) {
        *self.state.exapp_base.lock().expect("lock") = exapp_base.to_owned();
    }

    /// AppAPI's headers for a request to the ExApp acting as `user`.
    pub fn auth_headers(&self, user: &str) -> Vec<(&'static str, String)> {
        let credentials = base64::engine::general_purpose::STANDARD
            .encode(format!("{user}:{}", self.state.secret));
        vec![
            ("EX-APP-ID", self.state.app_id.clone()),
            ("EX-APP-VERSION", "0.1.0".to_owned()),
            ("AUTHORIZATION-APP-API", credentials),
            ("AA-VERSION", "32".to_owned()),
            ("AA-REQUEST-ID", "stand-in".to_owned()),
        ]
    }

    fn exapp_base(&self) -> String {
        self.state.exapp_base.lock().expect("lock").clone()
    }

    /// A request from AppAPI to the ExApp.
    pub fn to_exapp(
        &self,
        method: reqwest::Method,
        path: &str,
        user: &str,
    ) -> reqwest::RequestBuilder {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.exapp_base()));
        for (name, value) in self.auth_headers(user) {
            request = request.header(name, value);
        }
        request
    }

    /// Register → heartbeat → init → progress 100 → heartbeat → enable, as AppAPI does it.
    /// Answers the error that stopped it.
    pub async fn install_and_enable(&self) -> Result<(), String> {
        self.wait_for_heartbeat().await?;
        let init = self
            .to_exapp(reqwest::Method::POST, "/init", "")
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !matches!(init.status().as_u16(), 404 | 501) {
            if !init.status().is_success() {
                return Err(format!("POST /init answered {}", init.status()));
            }
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let last = self.state.progress.lock().expect("lock").last().cloned();
                match last {
                    Some((_, error)) if !error.is_empty() => {
                        return Err(format!("init failed: {error}"));
                    }
                    Some((100, _)) => break,
                    _ if Instant::now() > deadline => return Err("init did not finish".into()),
                    _ => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        }
        self.wait_for_heartbeat().await?;
        self.set_enabled(true).await
    }

    pub async fn set_enabled(&self, enabled: bool) -> Result<(), String> {
        let path = format!("/enabled?enabled={}", u8::from(enabled));
        let response = self
            .to_exapp(reqwest::Method::PUT, &path, "")
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let body: Value = response.json().await.map_err(|e| e.to_string())?;
        match body["error"].as_str() {
            Some("") => Ok(()),
            Some(error) => Err(error.to_owned()),
            None => Err(format!("PUT /enabled answered {body}")),
        }
    }

    async fn wait_for_heartbeat(&self) -> Result<(), String> {
        for _ in 0..100 {
            if let Ok(response) = self
                .client
                .get(format!("{}/heartbeat", self.exapp_base()))
                .send()
                .await
            {
                if response.status().is_success() {
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    if body["status"] == "ok" {
                        return Ok(());
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err("heartbeat check failed".into())
    }

    /// A browser request through the PHP proxy, as `session_user` ("" = anonymous).
    pub async fn browse(
        &self,
        method: reqwest::Method,
        path: &str,
        session_user: &str,
        body: Option<Value>,
    ) -> (u16, String) {
        let mut request = self
            .client
            .request(
                method,
                format!(
                    "{}/index.php/apps/app_api/proxy/{}{path}",
                    self.base, self.state.app_id
                ),
            )
            .header("x-test-session-user", session_user);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the stand-in answers");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }
}

/// Checks AppAPI's headers as Nextcloud does; answers the acting user or the refusal.
fn authenticate(request: &HttpRequest, state: &NextcloudState) -> Result<String, String> {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    if header("ex-app-id") != state.app_id {
        return Err("unknown or missing EX-APP-ID".into());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(header("authorization-app-api"))
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or("AUTHORIZATION-APP-API is not base64")?;
    let (user, secret) = decoded.split_once(':').ok_or("no user:secret")?;
    if secret != state.secret {
        return Err("Invalid signature for ExApp".into());
    }
    if header("ex-app-version").is_empty() {
        return Err("empty EX-APP-VERSION".into());
    }
    if header("ocs-apirequest") != "true" && request.path().starts_with("/ocs/") {
        return Err("OCS-APIRequest missing".into());
    }
    if !user.is_empty() && !state.users.contains_key(user) {
        return Err(format!("user {user} does not exist"));
    }
    Ok(user.to_owned())
}

async fn handle(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<NextcloudState>,
) -> HttpResponse {
    let path = request.path().to_owned();
    if let Some(rest) =
        path.strip_prefix(&format!("/index.php/apps/app_api/proxy/{}", state.app_id))
    {
        return proxy(&request, rest, body, &state).await;
    }
    let version = if path.starts_with("/ocs/v2.php") {
        2
    } else {
        1
    };
    let user = match authenticate(&request, &state) {
        Ok(user) => user,
        Err(reason) => {
            state
                .refused
                .lock()
                .expect("lock")
                .push(format!("{} {path}: {reason}", request.method()));
            return envelope(
                version,
                false,
                997,
                "AppAPI authentication failed",
                json!([]),
            );
        }
    };
    let input: Value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).unwrap_or(Value::Null)
    };
    let method = request.method().as_str().to_owned();
    let route = path
        .trim_start_matches("/ocs/v1.php")
        .trim_start_matches("/ocs/v2.php");
    match (method.as_str(), route) {
        ("PUT", "/apps/app_api/ex-app/status") => {
            let progress = input["progress"].as_i64().unwrap_or(-1);
            let error = input["error"].as_str().unwrap_or("").to_owned();
            state.progress.lock().expect("lock").push((progress, error));
            envelope(version, true, 200, "OK", json!([]))
        }
        (verb @ ("POST" | "DELETE"), ui) if ui.starts_with("/apps/app_api/api/v1/ui/") => {
            let kind = ui.trim_start_matches("/apps/app_api/api/v1/ui/").to_owned();
            let key = ["key", "path", "name"]
                .iter()
                .find_map(|k| input[*k].as_str())
                .unwrap_or("")
                .to_owned();
            let mut rows = state.ui.lock().expect("lock");
            if verb == "POST" {
                rows.insert((kind, key), input);
                envelope(version, true, 200, "OK", json!([]))
            } else if rows.remove(&(kind, key)).is_some() {
                envelope(version, true, 200, "OK", json!([]))
            } else {
                envelope(version, false, 404, "Not found", json!([]))
            }
        }
        ("POST", "/apps/webhook_listeners/api/v1/webhooks") => {
            if !user.is_empty() && !state.users.get(&user).copied().unwrap_or(false) {
                return envelope(version, false, 403, "admin required", json!([]));
            }
            let mut hooks = state.webhooks.lock().expect("lock");
            let mut row = input;
            row["appId"] = json!(state.app_id);
            row["id"] = json!(hooks.len() + 1);
            hooks.push(row.clone());
            envelope(version, true, 200, "OK", row)
        }
        ("DELETE", hook)
            if hook.starts_with("/apps/webhook_listeners/api/v1/webhooks/byappid/") =>
        {
            let app = hook.rsplit('/').next().unwrap_or("").to_owned();
            let mut hooks = state.webhooks.lock().expect("lock");
            let before = hooks.len();
            hooks.retain(|h| h["appId"] != app.as_str());
            envelope(version, true, 200, "OK", json!(before - hooks.len()))
        }
        ("POST", "/apps/app_api/api/v1/notification") => {
            state
                .notifications
                .lock()
                .expect("lock")
                .push((user, input));
            envelope(version, true, 200, "OK", json!({"app": state.app_id}))
        }
        ("GET", "/cloud/user") => {
            if user.is_empty() {
                return envelope(version, false, 997, "not logged in", json!([]));
            }
            let admin = state.users.get(&user).copied().unwrap_or(false);
            let groups = if admin {
                json!(["admin", "users"])
            } else {
                json!(["users"])
            };
            envelope(
                version,
                true,
                200,
                "OK",
                json!({"id": user, "displayname": user, "groups": groups}),
            )
        }
        _ => envelope(version, false, 998, "Not found", json!([])),
    }
}

/// The PHP proxy: first route whose URL and verb match decides; its access level applies
/// without falling through; denial and no match are both 404.
async fn proxy(
    request: &HttpRequest,
    rest: &str,
    body: web::Bytes,
    state: &NextcloudState,
) -> HttpResponse {
    let path = if rest.is_empty() {
        "/".to_owned()
    } else {
        rest.to_owned()
    };
    let method = request.method().as_str().to_uppercase();
    if !matches!(method.as_str(), "GET" | "POST" | "PUT" | "DELETE")
        || path.split('/').any(|s| s == "..")
    {
        return HttpResponse::NotFound().finish();
    }
    let user = request
        .headers()
        .get("x-test-session-user")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let Some(route) = state
        .routes
        .iter()
        .find(|r| r.matches(&path) && r.verbs.contains(&method))
    else {
        return HttpResponse::NotFound().finish();
    };
    let allowed = match route.access {
        0 => true,
        1 => !user.is_empty(),
        _ => state.users.get(&user).copied().unwrap_or(false),
    };
    if !allowed {
        return HttpResponse::NotFound().finish();
    }
    let base = state.exapp_base.lock().expect("lock").clone();
    let query = request.query_string();
    let url = if query.is_empty() {
        format!("{base}{path}")
    } else {
        format!("{base}{path}?{query}")
    };
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{}", state.secret));
    let mut forwarded = reqwest::Client::new()
        .request(
            reqwest::Method::from_bytes(method.as_bytes()).expect("method"),
            url,
        )
        .header("EX-APP-ID", &state.app_id)
        .header("EX-APP-VERSION", "0.1.0")
        .header("AUTHORIZATION-APP-API", credentials)
        .header("AA-VERSION", "32")
        .header("X-Origin-IP", "127.0.0.1")
        .body(body.to_vec());
    if let Some(content_type) = request.headers().get("content-type") {
        forwarded = forwarded.header("content-type", content_type.as_bytes());
    }
    let Ok(response) = forwarded.send().await else {
        return HttpResponse::InternalServerError().finish();
    };
    let status = actix_web::http::StatusCode::from_u16(response.status().as_u16()).expect("status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = response.bytes().await.unwrap_or_default();
    let mut answer = HttpResponse::build(status);
    if !content_type.is_empty() {
        answer.insert_header(("content-type", content_type));
    }
    answer.body(bytes)
}
