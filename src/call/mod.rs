//! Outbound calls: every request to a source (a test, a sync page, a proxy, a job) goes
//! through [`CallService::call`], which applies the source's configuration and
//! authentication, respects its rate limit, retries transient failures, and leaves a redacted
//! CallLog for every attempt.

pub mod auth;
pub mod calllog;
pub mod ratelimit;
pub mod request;
pub mod retry;
pub mod soap;
pub mod source;
pub mod xml;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, USER_AGENT};
use reqwest::{Client, Method};
use serde_json::{Map, Value, json};

use crate::db::Db;
use crate::secret::Secret;
use auth::{AuthError, Authentication, CachedToken, TokenCache};
use calllog::{CallLogWriter, CallRecord, GotResponse, LogOwner, SentRequest};
use ratelimit::{LocalLimit, RateLimits};
use request::{is_absolute, join_url, method_override};
use retry::RetryPolicy;
use source::TlsSettings;
pub use source::{SourceSpec, SourceType};

/// What to do when a source's rate limit is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnRateLimit {
    /// Answer 429 at once, without calling.
    #[default]
    FailFast,
    /// Wait for the reset when it is near enough.
    Wait,
}

#[derive(Debug, Clone)]
pub enum RequestBody {
    Json(Value),
    Text(String),
}

/// One call to make to a source.
#[derive(Debug, Clone)]
pub struct CallRequest {
    pub method: Method,
    /// Appended to the source's location; a full `http(s)://` URL is used as it is.
    pub endpoint: String,
    pub headers: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    pub body: Option<RequestBody>,
    /// A GET of one object (picks `readMethod` over `listMethod`).
    pub read: bool,
    pub on_rate_limit: OnRateLimit,
    pub synchronization_id: Option<i64>,
}

impl CallRequest {
    pub fn new(method: Method, endpoint: impl Into<String>) -> Self {
        Self {
            method,
            endpoint: endpoint.into(),
            headers: Vec::new(),
            query: Vec::new(),
            body: None,
            read: false,
            on_rate_limit: OnRateLimit::FailFast,
            synchronization_id: None,
        }
    }
}

/// The outcome of a call: the last attempt's response and its log.
#[derive(Debug)]
pub struct CallResponse {
    pub status: u16,
    pub body: Bytes,
    /// The log, which also holds the response's headers (one map for both).
    pub record: Arc<CallRecord>,
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("the response body is neither JSON nor XML: {0}")]
    Unreadable(String),
}

impl CallResponse {
    /// The CallLog as the API shows it, with the (redacted) body even where the stored log
    /// leaves it out.
    pub fn log(&self, source: &SourceSpec) -> Value {
        let mut log = self.record.to_json();
        if log["response"].get("body").is_none() {
            let (text, encoding) = calllog::body_text(&source.redactor, &self.body);
            log["response"]["body"] = Value::String(text);
            log["response"]["encoding"] = Value::String(encoding.into());
        }
        log
    }

    pub fn headers(&self) -> &HeaderMap {
        self.record.response_headers()
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON: parsed JSON, or XML by the `@attributes` convention.
    pub fn data(&self) -> Result<Value, DataError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        if let Ok(value) = serde_json::from_slice(&self.body) {
            return Ok(value);
        }
        let text = String::from_utf8_lossy(&self.body);
        if text.trim_start().starts_with('<') {
            return xml::to_json(&text).map_err(|e| DataError::Unreadable(e.to_string()));
        }
        Err(DataError::Unreadable(text.chars().take(200).collect()))
    }
}

/// Settings of the call service.
#[derive(Debug, Clone)]
pub struct CallSettings {
    pub connect_timeout: Duration,
    /// Total time of one attempt unless the source sets `timeout` (seconds).
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// The installation's log retention, combined with each source's own.
    pub retention: crate::retention::Retention,
}

impl Default for CallSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            retention: crate::retention::Retention::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

pub struct CallService {
    client: Client,
    /// Clients with a source's own TLS settings, by those settings.
    tls_clients: Mutex<HashMap<String, Client>>,
    tokens: TokenCache,
    limits: RateLimits,
    logs: CallLogWriter,
    db: Db,
    settings: CallSettings,
}

/// How an attempt ended before its response was read.
struct Failure {
    /// 503 when the source could not be reached, 504 when it did not answer in time.
    status: u16,
    message: String,
}

impl CallService {
    /// A service writing its logs to `db`, by a log writer on a thread of its own.
    pub fn new(db: Db, settings: CallSettings) -> Result<Self, CallError> {
        Ok(Self {
            client: build_client(&settings, None)?,
            tls_clients: Mutex::new(HashMap::new()),
            tokens: TokenCache::default(),
            limits: RateLimits::default(),
            logs: CallLogWriter::start(db.clone()),
            db,
            settings,
        })
    }

    /// Waits until every log written so far is stored.
    pub async fn flush_logs(&self) {
        self.logs.flush().await;
    }

    /// Calls `source`. Never fails: refusals, connection errors and timeouts come back as a
    /// response with a status that says so (409, 429, 500, 503, 504) and are logged like any
    /// other call.
    #[tracing::instrument(level = "debug", skip_all, fields(source = source.id, method = %request.method, endpoint = %request.endpoint))]
    pub async fn call(&self, source: &SourceSpec, mut request: CallRequest) -> CallResponse {
        self.logs.keep_up().await;
        if !source.enabled {
            return self.refuse(source, &request, 409, "This source is not enabled");
        }
        if source.location.is_empty() && !is_absolute(&request.endpoint) {
            return self.refuse(source, &request, 409, "This source has no location");
        }
        request.method = method_override(source, &request);
        let authentication = match &source.auth {
            Ok(authentication) => authentication,
            Err(problem) => return self.refuse(source, &request, 500, problem),
        };
        let client = match self.client_for(source) {
            Ok(client) => client,
            Err(problem) => return self.refuse(source, &request, 500, &problem),
        };

        let mut attempt = 0;
        let mut refreshed = false;
        loop {
            if let Some(source_id) = source.id {
                if let Err(wait) = self.take_budget(source_id, source.local_limit).await {
                    if request.on_rate_limit == OnRateLimit::Wait
                        && wait <= self.settings.retry.max_wait
                    {
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    let message = format!(
                        "The rate limit for this source has been exceeded. Try again in {} s.",
                        wait.as_secs()
                    );
                    // Callers that reschedule (jobs) read when to come back as from a server.
                    let mut headers = HeaderMap::new();
                    headers.insert(
                        reqwest::header::RETRY_AFTER,
                        HeaderValue::from(wait.as_secs().max(1)),
                    );
                    return self.refusal(source, &request, 429, &message, headers);
                }
            }
            let token = match self.credentials(source, authentication, &client).await {
                Ok(token) => token,
                Err(error) => return self.refuse(source, &request, 401, &error.to_string()),
            };
            let (built, sent) = match request::prepare(source, &request, token.as_ref()) {
                Ok(prepared) => (prepared.request, prepared.sent),
                Err(problem) => return self.refuse(source, &request, 500, &problem),
            };
            let started = Instant::now();
            // Boxed: the in-flight state stays out of this future, which callers keep by the
            // thousand (a sync's pages, a gateway's requests) and move on every spawn.
            let outcome = Box::pin(send(&client, built)).await;
            let elapsed = started.elapsed();
            let failed_to_connect = outcome.is_err();
            let (status, message, headers, body, remote_ip) = match outcome {
                Ok(Answer {
                    status,
                    headers,
                    body,
                    remote_ip,
                }) => {
                    let message = Cow::Borrowed(status.canonical_reason().unwrap_or_default());
                    (status.as_u16(), message, headers, body, remote_ip)
                }
                Err(Failure { status, message }) => (
                    status,
                    Cow::Owned(message),
                    HeaderMap::new(),
                    Bytes::new(),
                    None,
                ),
            };
            let (status, body, headers) = if source.kind == SourceType::Soap && !failed_to_connect {
                soap_result(status, body, headers)
            } else {
                (status, body, headers)
            };
            let wait = source
                .id
                .and_then(|id| self.limits.observe(id, status, &headers));
            let got = GotResponse {
                elapsed,
                remote_ip,
                headers,
                size: body.len(),
                body: Some(body.clone()),
            };
            let record = self.log(source, &request, status, message, sent, got);

            if status == 401 && !refreshed {
                if let Some(token) = &token {
                    if matches!(
                        authentication,
                        Authentication::OAuth(_) | Authentication::Decos(_)
                    ) {
                        self.tokens.invalidate(&source.auth_key, token).await;
                        refreshed = true;
                        continue;
                    }
                }
            }
            // `None` tells the retry policy the source was never reached.
            let answered = (!failed_to_connect).then_some(status);
            if self
                .settings
                .retry
                .retryable(&request.method, answered, attempt)
            {
                if let Some(delay) = self.settings.retry.delay(attempt, wait) {
                    attempt += 1;
                    tracing::debug!(
                        status,
                        attempt,
                        delay_ms = delay.as_millis(),
                        "Retrying a call."
                    );
                    tokio::time::sleep(delay).await;
                    continue;
                }
            }
            return CallResponse {
                status,
                body,
                record,
            };
        }
    }

    /// A response for a call we did not make, logged like one.
    fn refuse(
        &self,
        source: &SourceSpec,
        request: &CallRequest,
        status: u16,
        message: &str,
    ) -> CallResponse {
        self.refusal(source, request, status, message, HeaderMap::new())
    }

    /// [`Self::refuse`] with headers for the caller (a 429's `Retry-After`).
    fn refusal(
        &self,
        source: &SourceSpec,
        request: &CallRequest,
        status: u16,
        message: &str,
        headers: HeaderMap,
    ) -> CallResponse {
        let url = join_url(&source.location, &request.endpoint).into_owned();
        let sent = SentRequest::without_headers(request.method.clone(), url, None);
        let body = Bytes::from(json!({ "error": message }).to_string());
        let got = GotResponse {
            headers,
            size: body.len(),
            body: Some(body.clone()),
            ..GotResponse::default()
        };
        let record = self.log(source, request, status, message.to_owned(), sent, got);
        CallResponse {
            status,
            body,
            record,
        }
    }

    /// Queues the attempt's CallLog for storage. The body is kept only for errors and
    /// sources with `logBody`; it is redacted, like the rest, when the log is written.
    fn log(
        &self,
        source: &SourceSpec,
        request: &CallRequest,
        status: u16,
        message: impl Into<Cow<'static, str>>,
        sent: SentRequest,
        mut got: GotResponse,
    ) -> Arc<CallRecord> {
        if status < 400 && !source.log_body {
            got.body = None;
        }
        let owner = LogOwner {
            source_id: source.id,
            synchronization_id: request.synchronization_id,
            redactor: Arc::clone(&source.redactor),
            retention: source.retention.with_global(&self.settings.retention.get()),
        };
        let record = Arc::new(CallRecord::new(owner, status, message, sent, got));
        self.logs.write(Arc::clone(&record));
        record
    }

    /// The token an authentication needs for this call, if any.
    async fn credentials(
        &self,
        source: &SourceSpec,
        authentication: &Authentication,
        client: &Client,
    ) -> Result<Option<Secret>, AuthError> {
        match authentication {
            Authentication::Jwt(signer) => signer.sign(&Map::new()).map(Some),
            Authentication::OAuth(oauth) => {
                let fetch = || async {
                    let auth::TokenRequest { form, basic } = oauth.token_request()?;
                    let mut builder = client
                        .post(&oauth.token_url)
                        .form(&form)
                        .header("accept", "application/json")
                        .header(USER_AGENT, request::OUR_USER_AGENT);
                    if let Some((user, password)) = basic {
                        builder = builder.basic_auth(user, Some(password.expose()));
                    }
                    self.token_call(source, builder, &oauth.token_url, oauth.token_location())
                        .await
                };
                // Boxed like an attempt: a token fetch is rare and large.
                Box::pin(self.tokens.get(&source.auth_key, fetch))
                    .await
                    .map(Some)
            }
            Authentication::Decos(decos) => {
                let fetch = || async {
                    let builder = client
                        .post(&decos.token_url)
                        .header("content-type", "application/json")
                        .header(USER_AGENT, request::OUR_USER_AGENT)
                        .body(decos.body().to_owned());
                    self.token_call(source, builder, &decos.token_url, decos.token_location())
                        .await
                };
                Box::pin(self.tokens.get(&source.auth_key, fetch))
                    .await
                    .map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Posts a token request, logs it (secrets redacted) and reads the token.
    async fn token_call(
        &self,
        source: &SourceSpec,
        builder: reqwest::RequestBuilder,
        url: &str,
        location: &str,
    ) -> Result<CachedToken, AuthError> {
        let request = CallRequest::new(Method::POST, url);
        let sent = SentRequest::without_headers(Method::POST, url.to_owned(), Some("token"));
        let started = Instant::now();
        let response = builder
            .send()
            .await
            .map_err(|e| AuthError::TokenUnreachable(e.to_string()))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| AuthError::TokenUnreachable(e.to_string()))?;
        let message = status.canonical_reason().unwrap_or_default();
        let got = GotResponse {
            elapsed: started.elapsed(),
            remote_ip: None,
            headers,
            size: body.len(),
            body: Some(body.clone()),
        };
        self.log(source, &request, status.as_u16(), message, sent, got);
        let refused = |message: String| AuthError::TokenRefused {
            status: status.as_u16(),
            message,
        };
        if !status.is_success() {
            return Err(refused(
                source
                    .redactor
                    .body(&String::from_utf8_lossy(&body))
                    .chars()
                    .take(300)
                    .collect(),
            ));
        }
        let value: Value = serde_json::from_slice(&body)
            .map_err(|e| refused(format!("the answer is not JSON: {e}")))?;
        CachedToken::from_response(&value, location)
            .ok_or_else(|| refused(format!("the answer has no token at {location:?}")))
    }

    /// The shared client, or one with the source's own certificates.
    /// Takes one call from the source's budgets: the configured one, shared by every replica
    /// through the database (counted here alone when the database cannot be reached), and
    /// what the source's own rate-limit headers said.
    async fn take_budget(&self, source_id: i64, local: Option<LocalLimit>) -> Result<(), Duration> {
        let Some(local) = local else {
            return self.limits.acquire(source_id, None);
        };
        let now = ratelimit::now();
        match self
            .db
            .run(move |conn| ratelimit::take_shared(conn, source_id, local, now))
            .await
        {
            Ok(taken) => taken.and_then(|()| self.limits.acquire(source_id, None)),
            Err(error) => {
                tracing::warn!(%error, source_id, "The shared rate-limit budget could not be read; counting here alone.");
                self.limits.acquire(source_id, Some(local))
            }
        }
    }

    fn client_for(&self, source: &SourceSpec) -> Result<Client, String> {
        let Some(tls) = &source.tls else {
            return Ok(self.client.clone());
        };
        let key = tls.key();
        let mut clients = self
            .tls_clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        let client = build_client(&self.settings, Some(tls)).map_err(|e| e.to_string())?;
        clients.insert(key, client.clone());
        Ok(client)
    }
}

fn build_client(settings: &CallSettings, tls: Option<&TlsSettings>) -> Result<Client, CallError> {
    let mut builder = Client::builder()
        .use_rustls_tls()
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.timeout)
        .pool_max_idle_per_host(64)
        .user_agent(request::OUR_USER_AGENT);
    if let Some(tls) = tls {
        match &tls.verify {
            Some(Value::Bool(false)) => builder = builder.danger_accept_invalid_certs(true),
            Some(Value::String(pem)) if pem.contains("-----BEGIN") => {
                let certificate =
                    reqwest::Certificate::from_pem(pem.replace("\\n", "\n").as_bytes())
                        .map_err(|e| CallError::Client(format!("configuration.verify: {e}")))?;
                builder = builder.add_root_certificate(certificate);
            }
            _ => {}
        }
        if let Some(cert) = &tls.cert {
            let pem = format!("{cert}\n{}", tls.key.clone().unwrap_or_default());
            let identity = reqwest::Identity::from_pem(pem.as_bytes())
                .map_err(|e| CallError::Client(format!("configuration.cert / ssl_key: {e}")))?;
            builder = builder.identity(identity);
        }
    }
    builder
        .build()
        .map_err(|e| CallError::Client(e.to_string()))
}

/// What an attempt got back before the call service looks at it.
struct Answer {
    status: reqwest::StatusCode,
    headers: HeaderMap,
    body: Bytes,
    remote_ip: Option<std::net::IpAddr>,
}

/// Sends one attempt and reads its whole body.
async fn send(client: &Client, request: reqwest::Request) -> Result<Answer, Failure> {
    let mut response = client.execute(request).await.map_err(|e| classify(&e))?;
    let status = response.status();
    // Taken, not cloned: reading the body needs them no more.
    let headers = std::mem::take(response.headers_mut());
    let remote_ip = response.remote_addr().map(|a| a.ip());
    let body = response.bytes().await.map_err(|e| classify(&e))?;
    Ok(Answer {
        status,
        headers,
        body,
        remote_ip,
    })
}

fn classify(error: &reqwest::Error) -> Failure {
    // The innermost cause says what happened (refused, DNS, reset); reqwest's own text does not.
    let mut cause = error.to_string();
    let mut resolving = false;
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        cause = inner.to_string();
        // hyper-util names a failed lookup "dns error" one level above the resolver's text.
        resolving |= cause.starts_with("dns error");
        source = inner.source();
    }
    let (status, message) = if error.is_timeout() {
        (504, format!("The call timed out: {cause}"))
    } else if resolving {
        (
            503,
            format!("The host name of the source could not be resolved: {cause}"),
        )
    } else {
        (503, format!("The source could not be reached: {cause}"))
    };
    Failure { status, message }
}

/// A SOAP answer as JSON: the Body's content with its status, or a fault as a 500 with the
/// fault as the body.
fn soap_result(status: u16, body: Bytes, mut headers: HeaderMap) -> (u16, Bytes, HeaderMap) {
    let text = String::from_utf8_lossy(&body);
    let (status, json) = match soap::parse(&text) {
        Ok(soap::SoapResponse::Body(value)) => (status, value),
        Ok(soap::SoapResponse::Fault(fault)) => (
            if status < 400 { 500 } else { status },
            json!({ "fault": fault }),
        ),
        Err(error) => {
            return (
                if status < 400 { 502 } else { status },
                Bytes::from(json!({"error": error.to_string()}).to_string()),
                headers,
            );
        }
    };
    headers.insert(
        reqwest::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    (status, Bytes::from(json.to_string()), headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_in_flight_stays_small() {
        // A sync or a gateway keeps many calls in flight and moves each into its task; what an
        // attempt holds while it waits (reqwest's state, the body being read) and a token
        // fetch live on the heap, not in every call.
        let (dir, db) = crate::db::tests::scratch_sqlite();
        let service = CallService::new(db, CallSettings::default()).expect("service");
        let source = SourceSpec::from_row(&json!({"id": 1, "location": "http://127.0.0.1:9"}));
        let call = service.call(&source, CallRequest::new(Method::GET, "/items"));
        let size = std::mem::size_of_val(&call);
        drop(call);
        assert!(size <= 2048, "a call's future takes {size} bytes");
        std::fs::remove_dir_all(&dir).ok();
    }
}
