//! An outside API for the call tests: a real actix server on a free loopback port with the
//! behaviours the tests need (echo, OAuth token endpoint, JWT check, XML, SOAP, slowness,
//! flakiness, rate limits, large and binary bodies). It counts every request per path.

use std::collections::{HashMap, HashSet};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use serde_json::{Value, json};

#[derive(Default)]
pub struct UpstreamState {
    hits: Mutex<HashMap<String, u32>>,
    tokens: Mutex<HashSet<String>>,
    issued: Mutex<u32>,
    /// The objects `/objects` serves, ten a page.
    pub objects: Mutex<Vec<Value>>,
    /// A page of `/objects` that answers 500.
    pub failing_page: Mutex<Option<u64>>,
    /// The writable `/items` collection (an API target): id → object, and the count of creates.
    pub items: Mutex<std::collections::BTreeMap<String, Value>>,
    created: Mutex<u32>,
    /// Key the `/jwt` route verifies with: (algorithm, PEM or secret).
    pub jwt_key: Mutex<Option<(jsonwebtoken::Algorithm, Vec<u8>)>>,
}

pub struct Upstream {
    pub base: String,
    pub state: Arc<UpstreamState>,
}

impl Upstream {
    pub async fn start() -> Self {
        let state = Arc::new(UpstreamState::default());
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
        Self { base, state }
    }

    pub fn hits(&self, path: &str) -> u32 {
        self.state
            .hits
            .lock()
            .expect("lock")
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// Revokes every issued token, so the next protected call answers 401.
    pub fn revoke_tokens(&self) {
        self.state.tokens.lock().expect("lock").clear();
    }

    pub fn tokens_issued(&self) -> u32 {
        *self.state.issued.lock().expect("lock")
    }
}

fn headers_json(request: &HttpRequest) -> Value {
    request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                Value::String(value.to_str().unwrap_or("").to_owned()),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// `/items`: POST creates (`{"data": {"id": …}}` answered, the id nested as some APIs do),
/// PUT `/items/{id}` replaces, DELETE `/items/{id}` removes; unknown ids are 404.
fn items(request: &HttpRequest, body: &[u8], state: &UpstreamState) -> HttpResponse {
    let mut items = state.items.lock().expect("lock");
    let id = request.path().strip_prefix("/items/").map(str::to_owned);
    let object: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    match (request.method().as_str(), id) {
        _ if object["title"] == "reject" => {
            HttpResponse::UnprocessableEntity().json(json!({"error": "title: rejected"}))
        }
        ("POST", None) => {
            let mut created = state.created.lock().expect("lock");
            *created += 1;
            let id = format!("item-{created}");
            items.insert(id.clone(), object.clone());
            HttpResponse::Created().json(json!({"data": {"id": id, "object": object}}))
        }
        ("PUT", Some(id)) if items.contains_key(&id) => {
            items.insert(id.clone(), object.clone());
            HttpResponse::Ok().json(json!({"data": {"id": id, "object": object}}))
        }
        ("DELETE", Some(id)) if items.remove(&id).is_some() => HttpResponse::NoContent().finish(),
        ("GET", None) => {
            HttpResponse::Ok().json(json!({"results": items.values().collect::<Vec<_>>()}))
        }
        _ => HttpResponse::NotFound().json(json!({"error": "no such item"})),
    }
}

fn decoding_key(algorithm: jsonwebtoken::Algorithm, key: &[u8]) -> jsonwebtoken::DecodingKey {
    match algorithm {
        jsonwebtoken::Algorithm::HS256
        | jsonwebtoken::Algorithm::HS384
        | jsonwebtoken::Algorithm::HS512 => jsonwebtoken::DecodingKey::from_secret(key),
        jsonwebtoken::Algorithm::ES256 | jsonwebtoken::Algorithm::ES384 => {
            jsonwebtoken::DecodingKey::from_ec_pem(key).expect("EC public key")
        }
        _ => jsonwebtoken::DecodingKey::from_rsa_pem(key).expect("RSA public key"),
    }
}

/// A private-key JWT client assertion (RFC 7523): signed by the key in `jwt_key`, issued by
/// and about the client, for this token endpoint, not expired.
fn client_assertion_ok(
    form: &HashMap<String, String>,
    audience: &str,
    state: &UpstreamState,
) -> bool {
    let jwt_bearer = form.get("client_assertion_type").map(String::as_str)
        == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    let (Some(assertion), Some((algorithm, key))) = (
        form.get("client_assertion"),
        state.jwt_key.lock().expect("lock").clone(),
    ) else {
        return false;
    };
    let mut validation = jsonwebtoken::Validation::new(algorithm);
    validation.set_audience(&[audience]);
    validation.set_issuer(&["client"]);
    validation.sub = Some("client".into());
    jwt_bearer
        && jsonwebtoken::decode::<Value>(assertion, &decoding_key(algorithm, &key), &validation)
            .is_ok()
}

async fn handle(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<UpstreamState>,
) -> HttpResponse {
    let path = request.path().to_owned();
    let hit = {
        let mut hits = state.hits.lock().expect("lock");
        let count = hits.entry(path.clone()).or_default();
        *count += 1;
        *count
    };
    let query: HashMap<String, String> =
        serde_urlencoded::from_str(request.query_string()).unwrap_or_default();
    if path == "/items" || path.starts_with("/items/") {
        return items(&request, &body, &state);
    }
    match path.as_str() {
        "/echo" => HttpResponse::Ok().json(json!({
            "method": request.method().as_str(),
            "headers": headers_json(&request),
            // Pairs rather than an object, so the log's redaction of secret names leaves them
            // readable to the tests.
            "params": query.iter().map(|(k, v)| format!("{k}={v}")).collect::<std::collections::BTreeSet<_>>(),
            "body": String::from_utf8_lossy(&body),
        })),
        "/token" => {
            let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
            let basic = request
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Basic "))
                .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
                .map(|v| String::from_utf8_lossy(&v).into_owned());
            let audience = format!("http://{}/token", request.connection_info().host());
            let client_ok = form.get("client_id").map(String::as_str) == Some("client")
                && form.get("client_secret").map(String::as_str) == Some("client-secret")
                || basic.as_deref() == Some("client:client-secret")
                || client_assertion_ok(&form, &audience, &state);
            let grant_ok = match form.get("grant_type").map(String::as_str) {
                Some("client_credentials") => true,
                Some("password") => form.get("username").map(String::as_str) == Some("user")
                    && form.get("password").map(String::as_str) == Some("user-password"),
                _ => false,
            };
            if !(client_ok && grant_ok) {
                return HttpResponse::Unauthorized().json(json!({"error": "invalid_client"}));
            }
            // Slow enough that concurrent callers overlap, to prove they share one request.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let mut issued = state.issued.lock().expect("lock");
            *issued += 1;
            let token = format!("token-{issued}");
            state.tokens.lock().expect("lock").insert(token.clone());
            HttpResponse::Ok().json(json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600}))
        }
        "/protected" => {
            let presented = request
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_owned)
                .unwrap_or_default();
            if state.tokens.lock().expect("lock").contains(&presented) {
                HttpResponse::Ok().json(json!({"ok": true, "presented": presented}))
            } else {
                HttpResponse::Unauthorized().json(json!({"error": "invalid_token"}))
            }
        }
        "/jwt" => {
            let token = request
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or_default()
                .to_owned();
            let Some((algorithm, key)) = state.jwt_key.lock().expect("lock").clone() else {
                return HttpResponse::InternalServerError().finish();
            };
            let key = decoding_key(algorithm, &key);
            let mut validation = jsonwebtoken::Validation::new(algorithm);
            validation.required_spec_claims.clear();
            validation.validate_exp = false;
            match jsonwebtoken::decode::<Value>(&token, &key, &validation) {
                Ok(data) => HttpResponse::Ok().json(json!({"claims": data.claims, "x5t": data.header.x5t})),
                Err(error) => HttpResponse::Unauthorized().json(json!({"error": error.to_string()})),
            }
        }
        "/objects" => {
            let page: u64 = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
            if *state.failing_page.lock().expect("lock") == Some(page) {
                return HttpResponse::InternalServerError().json(json!({"error": "page broke"}));
            }
            let objects = state.objects.lock().expect("lock");
            let size = 10usize;
            let start = usize::try_from(page.saturating_sub(1)).unwrap_or(usize::MAX).saturating_mul(size);
            let results: Vec<Value> = objects.iter().skip(start).take(size).cloned().collect();
            let pages = objects.len().div_ceil(size);
            HttpResponse::Ok().json(json!({"results": results, "page": page, "pages": pages, "total": objects.len()}))
        }
        "/xml" => HttpResponse::Ok()
            .content_type("application/xml")
            .body(r#"<?xml version="1.0"?><result total="2"><item id="1">Een</item><item id="2">Twee</item></result>"#),
        "/soap" => {
            let text = String::from_utf8_lossy(&body);
            if text.contains("Unknown") {
                HttpResponse::InternalServerError().content_type("text/xml").body(
                    r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>No such item</faultstring></s:Fault></s:Body></s:Envelope>"#,
                )
            } else {
                let action = request.headers().get("soapaction").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                HttpResponse::Ok().content_type("text/xml").body(format!(
                    r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:GetPriceResponse xmlns:m="urn:stock"><m:Price>1.90</m:Price><m:Action>{action}</m:Action></m:GetPriceResponse></s:Body></s:Envelope>"#
                ))
            }
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            HttpResponse::Ok().finish()
        }
        "/flaky" => {
            if hit <= 2 {
                HttpResponse::ServiceUnavailable().finish()
            } else {
                HttpResponse::Ok().json(json!({"attempt": hit}))
            }
        }
        "/limited" => {
            if hit == 1 {
                HttpResponse::TooManyRequests().insert_header(("Retry-After", "1")).finish()
            } else {
                HttpResponse::Ok().json(json!({"attempt": hit}))
            }
        }
        // Spent for an hour: the budget is gone and the reset is an absolute Unix time.
        "/exhausted" => {
            let reset = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("time")
                .as_secs()
                + 3600;
            HttpResponse::TooManyRequests()
                .insert_header(("X-RateLimit-Remaining", "0"))
                .insert_header(("X-RateLimit-Reset", reset.to_string()))
                .finish()
        }
        "/big" => HttpResponse::Ok().content_type("application/json").body(format!("[\"{}\"]", "x".repeat(1024 * 1024))),
        "/binary" => HttpResponse::InternalServerError().content_type("application/octet-stream").body(vec![0xff, 0xfe, 0x00, 0x81]),
        "/malformed" => HttpResponse::Ok().content_type("application/json").body("{\"not\": json"),
        _ => HttpResponse::NotFound().json(json!({"error": "no such path", "path": path})),
    }
}
