//! CallLogs: what an outbound call sent and got, with every secret redacted, written to the
//! database in batches by one background task so logging never slows a call down.

use std::borrow::Cow;
use std::net::IpAddr;

use chrono::{NaiveDateTime, Utc};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Value, json};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::db::sql::Bind;
use crate::db::store;
use crate::db::{CALL_LOG, Db, format_time};

/// What stands in for a secret in logs and API answers.
pub const REDACTED: &str = "••••";

/// Header names whose values are always secret.
const SECRET_HEADERS: [&str; 6] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
];

/// JSON keys whose values are secret wherever they appear in a logged body.
const SECRET_KEYS: [&str; 10] = [
    "access_token",
    "refresh_token",
    "id_token",
    "token",
    "client_secret",
    "client_assertion",
    "password",
    "secret",
    "private_key",
    "apikey",
];

/// The names to redact for one source: the fixed ones plus those its configuration names
/// (an API key's header or query parameter). Lists, not sets: a handful of short names are
/// compared case-insensitively without lowercasing a copy on every call.
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    headers: Vec<String>,
    query: Vec<String>,
}

fn listed(names: &[String], name: &str) -> bool {
    names.iter().any(|listed| listed.eq_ignore_ascii_case(name))
}

impl Redactor {
    pub fn new(extra_headers: &[String], extra_query: &[String]) -> Self {
        let mut headers: Vec<String> = SECRET_HEADERS.iter().map(|h| (*h).to_owned()).collect();
        headers.extend(extra_headers.iter().cloned());
        let mut query: Vec<String> = SECRET_KEYS.iter().map(|k| (*k).to_owned()).collect();
        query.extend(["api_key", "key", "access-token"].map(str::to_owned));
        query.extend(extra_query.iter().cloned());
        Self { headers, query }
    }

    /// The value to log for a header: itself, or the redaction mark for a secret one.
    pub fn header<'a>(&self, name: &str, value: &'a str) -> &'a str {
        if listed(&self.headers, name) {
            REDACTED
        } else {
            value
        }
    }

    /// A URL with the values of secret query parameters replaced (borrowed when it has none).
    pub fn url<'a>(&self, url: &'a str) -> Cow<'a, str> {
        let Some((base, query)) = url.split_once('?') else {
            return Cow::Borrowed(url);
        };
        let secret = |pair: &str| {
            pair.split_once('=')
                .is_some_and(|(name, _)| self.is_secret_name(name))
        };
        if !query.split('&').any(secret) {
            return Cow::Borrowed(url);
        }
        let pairs: Vec<Cow<'_, str>> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if self.is_secret_name(name) => {
                    Cow::Owned(format!("{name}={REDACTED}"))
                }
                _ => Cow::Borrowed(pair),
            })
            .collect();
        Cow::Owned(format!("{base}?{}", pairs.join("&")))
    }

    fn is_secret_name(&self, name: &str) -> bool {
        listed(&self.query, name)
    }

    /// A JSON value with every secret key's value replaced, at any depth.
    pub fn json(&self, value: &Value) -> Value {
        match value {
            Value::Object(object) => Value::Object(
                object
                    .iter()
                    .map(|(key, child)| {
                        let hidden =
                            self.is_secret_name(key) || key.to_ascii_lowercase().contains("secret");
                        let child = if hidden && !child.is_null() {
                            Value::String(REDACTED.into())
                        } else {
                            self.json(child)
                        };
                        (key.clone(), child)
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(|item| self.json(item)).collect()),
            other => other.clone(),
        }
    }

    /// A body text with secret JSON fields or form fields replaced.
    pub fn body(&self, text: &str) -> String {
        if let Ok(value) = serde_json::from_str::<Value>(text) {
            return self.json(&value).to_string();
        }
        if text.contains('=') && !text.contains(' ') && !text.contains('<') {
            return self
                .url(&format!("?{text}"))
                .trim_start_matches('?')
                .to_owned();
        }
        text.to_owned()
    }
}

/// A header map as logged, secrets redacted: each name with its value, or (`lists`) with the
/// list of its values, as the PHP app logs response headers. Serialized straight into the
/// log's JSON text, without building a JSON tree first.
pub struct LoggedHeaders<'a> {
    pub headers: &'a HeaderMap,
    pub redactor: &'a Redactor,
    pub lists: bool,
}

impl Serialize for LoggedHeaders<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.headers.keys_len()))?;
        for name in self.headers.keys() {
            let values = self.headers.get_all(name);
            if self.lists {
                let logged: Vec<Cow<'_, str>> =
                    values.iter().map(|value| self.value(name, value)).collect();
                map.serialize_entry(name.as_str(), &logged)?;
            } else if let Some(value) = values.iter().next_back() {
                map.serialize_entry(name.as_str(), &self.value(name, value))?;
            }
        }
        map.end()
    }
}

impl LoggedHeaders<'_> {
    fn value<'v>(&self, name: &HeaderName, value: &'v HeaderValue) -> Cow<'v, str> {
        match String::from_utf8_lossy(value.as_bytes()) {
            Cow::Borrowed(text) => Cow::Borrowed(self.redactor.header(name.as_str(), text)),
            Cow::Owned(text) => Cow::Owned(self.redactor.header(name.as_str(), &text).to_owned()),
        }
    }
}

/// The logged form of a request: URL, method and headers with secrets redacted.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoggedRequest<'a> {
    pub url: Cow<'a, str>,
    pub method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<LoggedHeaders<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_length: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Why a call was made that the caller did not ask for (`token`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<&'static str>,
}

/// The logged form of a response; `body` only when the stored log keeps it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoggedResponse<'a> {
    pub status_code: u16,
    pub status_message: &'a str,
    /// Milliseconds.
    pub response_time: f64,
    pub size: usize,
    pub remote_ip: Option<IpAddr>,
    pub headers: LoggedHeaders<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<&'static str>,
}

/// Retention of a source's logs, in seconds; 0 keeps them.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub success: i64,
    pub error: i64,
}

impl Retention {
    /// The source's retention combined with the installation's: the longer one, and kept
    /// forever when either says so.
    pub fn with_global(self, global: &crate::retention::RetentionSettings) -> Self {
        use crate::retention::LogKind;
        let combine = |own: i64, millis: i64| {
            if own <= 0 || millis <= 0 {
                0
            } else {
                own.max((millis + 999) / 1000)
            }
        };
        Self {
            success: combine(self.success, global.millis(LogKind::Call, true)),
            error: combine(self.error, global.millis(LogKind::Call, false)),
        }
    }

    pub fn expires(self, created: NaiveDateTime, status: u16) -> Option<NaiveDateTime> {
        let seconds = if status < 400 {
            self.success
        } else {
            self.error
        };
        (seconds > 0).then(|| created + chrono::Duration::seconds(seconds))
    }
}

/// One CallLog row. The request and response come as JSON text, serialized once on the call
/// path from borrowed parts: no JSON tree is built for a log nobody reads.
#[derive(Debug, Clone)]
pub struct CallRecord {
    pub uuid: String,
    pub created: NaiveDateTime,
    pub source_id: Option<i64>,
    pub synchronization_id: Option<i64>,
    pub status: u16,
    pub status_message: String,
    /// Redacted request description, as JSON text.
    request: String,
    /// Redacted response description, as JSON text; has `body` only when the stored log
    /// keeps it.
    response: String,
    pub retention: Retention,
}

impl CallRecord {
    pub fn new(
        source_id: Option<i64>,
        synchronization_id: Option<i64>,
        status: u16,
        status_message: &str,
        request: String,
        response: String,
        retention: Retention,
    ) -> Self {
        Self {
            uuid: crate::db::new_row_uuid(),
            created: Utc::now().naive_utc(),
            source_id,
            synchronization_id,
            status,
            status_message: truncate(status_message, 255),
            request,
            response,
            retention,
        }
    }

    fn expires(&self) -> Option<NaiveDateTime> {
        self.retention.expires(self.created, self.status)
    }

    pub fn request(&self) -> Value {
        serde_json::from_str(&self.request).unwrap_or(Value::Null)
    }

    pub fn response(&self) -> Value {
        serde_json::from_str(&self.response).unwrap_or(Value::Null)
    }

    /// The wire form of the log, as the API shows it.
    pub fn to_json(&self) -> Value {
        let mut log = json!({
            "uuid": self.uuid,
            "statusCode": self.status,
            "statusMessage": self.status_message,
            "request": self.request(),
            "response": self.response(),
            "sourceId": self.source_id,
            "synchronizationId": self.synchronization_id,
            "created": format_time(self.created),
            "expires": self.expires().map(format_time),
        });
        log["size"] = Value::from(self.size());
        log
    }

    fn size(&self) -> usize {
        (self.request.len() + self.response.len() + 512).max(4096)
    }

    /// The row's binds, for the fields [`STORED`] names.
    fn binds(&self) -> Vec<Bind> {
        vec![
            Bind::Text(Some(self.uuid.clone())),
            Bind::Int(Some(i64::from(self.status))),
            Bind::Text(Some(self.status_message.clone())),
            Bind::Text(Some(self.request.clone())),
            Bind::Text(Some(self.response.clone())),
            Bind::Int(self.source_id),
            Bind::Int(self.synchronization_id),
            Bind::Time(Some(self.created)),
            Bind::Time(self.expires()),
            Bind::Int(i64::try_from(self.size()).ok()),
        ]
    }
}

/// The fields a call log row stores, in the order of [`CallRecord::binds`]; the others
/// (`actionId`, `userId`, `sessionId`) stay empty.
const STORED: [&str; 10] = [
    "uuid",
    "statusCode",
    "statusMessage",
    "request",
    "response",
    "sourceId",
    "synchronizationId",
    "created",
    "expires",
    "size",
];

/// JSON text of a log part ([`LoggedRequest`], [`LoggedResponse`]). These serialize without
/// fail (string keys, no fallible impls); an empty object stands in should one ever not.
pub fn json_text(part: &impl Serialize) -> String {
    serde_json::to_string(part).unwrap_or_else(|_| "{}".to_owned())
}

/// The request of a stored call log, to send again through its source. Redacted headers and
/// query values are left out (the source applies its authentication anew); a body with
/// redacted fields cannot be sent again.
pub fn replay(logged: &Value) -> Result<super::CallRequest, String> {
    let method = logged
        .get("method")
        .and_then(Value::as_str)
        .and_then(|m| reqwest::Method::from_bytes(m.as_bytes()).ok())
        .ok_or("the log has no request method")?;
    let url = logged
        .get("url")
        .and_then(Value::as_str)
        .ok_or("the log has no request URL")?;
    let mut url = reqwest::Url::parse(url).map_err(|e| format!("the logged URL: {e}"))?;
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(_, value)| value != REDACTED)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.set_query(None);
    let mut request = super::CallRequest::new(method, url.to_string());
    request.query = kept;
    if let Some(Value::Object(headers)) = logged.get("headers") {
        for (name, value) in headers {
            let skip = ["host", "content-length"].contains(&name.to_ascii_lowercase().as_str());
            match value.as_str() {
                Some(text) if !skip && !text.contains(REDACTED) => {
                    request.headers.push((name.clone(), text.to_owned()));
                }
                _ => {}
            }
        }
    }
    match logged.get("body").and_then(Value::as_str) {
        Some(body) if body.contains(REDACTED) => {
            return Err("the request body held secrets, which logs do not keep".into());
        }
        Some(body) => request.body = Some(super::RequestBody::Text(body.to_owned())),
        None if logged
            .get("bodyLength")
            .is_some_and(|n| n.as_u64() > Some(0)) =>
        {
            return Err("its body was not kept; set logBody on the source to keep bodies".into());
        }
        None => {}
    }
    Ok(request)
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

enum Message {
    Record(Arc<CallRecord>),
    Flush(oneshot::Sender<()>),
}

/// A handle on the log writer; cheap to clone.
#[derive(Clone)]
pub struct CallLogWriter {
    sender: mpsc::Sender<Message>,
}

/// How many rows one insert carries at most.
const BATCH: usize = 512;
/// How long the writer waits for more logs before it stores what it has.
const GATHER: Duration = Duration::from_millis(20);

impl CallLogWriter {
    /// Starts the writer on a thread of its own, which stores logs in batches.
    pub fn start(db: Db) -> Self {
        let (sender, receiver) = mpsc::channel::<Message>();
        let spawned = std::thread::Builder::new()
            .name("call-log-writer".into())
            .spawn(move || write_batches(&db, &receiver));
        if let Err(error) = spawned {
            tracing::error!(%error, "The call log writer could not start; call logs are lost.");
        }
        Self { sender }
    }

    /// Queues a log for storage.
    pub fn write(&self, record: Arc<CallRecord>) {
        if self.sender.send(Message::Record(record)).is_err() {
            tracing::error!("The call log writer has stopped; a call log is lost.");
        }
    }

    /// Waits until every log queued before this call is stored.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.sender.send(Message::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

/// The writer's loop: gathers what is queued, stores it in one insert, repeats until every
/// handle is gone.
fn write_batches(db: &Db, receiver: &mpsc::Receiver<Message>) {
    let mut records = Vec::with_capacity(BATCH);
    let mut waiting = Vec::new();
    while let Ok(message) = receiver.recv() {
        let mut next = Some(message);
        let mut gathered = false;
        loop {
            while let Some(message) = next.take() {
                match message {
                    Message::Record(record) => records.push(record),
                    Message::Flush(done) => waiting.push(done),
                }
                if records.len() < BATCH {
                    next = receiver.try_recv().ok();
                }
            }
            // A few logs: let a busy period's logs gather for a moment (one insert per batch,
            // not per call). A backlog, or someone waiting: store at once.
            if gathered || records.len() >= BATCH / 4 || !waiting.is_empty() {
                break;
            }
            gathered = true;
            std::thread::sleep(GATHER);
            next = receiver.try_recv().ok();
        }
        if !records.is_empty() {
            let stored = db.run_blocking(|conn| {
                let rows: Vec<Vec<Bind>> = records.iter().map(|r| r.binds()).collect();
                store::insert_fields(conn, &CALL_LOG, &STORED, rows)
            });
            if let Err(error) = stored {
                let count = records.len();
                tracing::error!(%error, count, "Call logs could not be stored and are lost.");
            }
            records.clear();
        }
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_headers_urls_and_bodies() {
        let redactor = Redactor::new(&["X-Custom-Key".into()], &["sig".into()]);
        assert_eq!(redactor.header("Authorization", "Bearer abc"), REDACTED);
        assert_eq!(redactor.url("http://h/p?page=2"), "http://h/p?page=2");
        assert_eq!(redactor.header("x-custom-key", "k"), REDACTED);
        assert_eq!(
            redactor.header("Accept", "application/json"),
            "application/json"
        );
        assert_eq!(
            redactor.url("http://h/p?page=2&sig=abc&api_key=k"),
            "http://h/p?page=2&sig=••••&api_key=••••"
        );
        assert_eq!(
            redactor.body(r#"{"access_token":"t","nested":{"client_secret":"s","keep":1}}"#),
            r#"{"access_token":"••••","nested":{"client_secret":"••••","keep":1}}"#
        );
        assert_eq!(
            redactor.body("grant_type=password&password=hunter2"),
            "grant_type=password&password=••••"
        );
    }

    #[test]
    fn headers_are_logged_redacted_as_values_or_lists() {
        let mut headers = HeaderMap::new();
        headers.append("set-cookie", HeaderValue::from_static("a=1"));
        headers.append("set-cookie", HeaderValue::from_static("b=2"));
        headers.append("x-seen", HeaderValue::from_static("one"));
        headers.append("x-seen", HeaderValue::from_static("two"));
        headers.insert("x-raw", HeaderValue::from_bytes(b"caf\xe9").expect("value"));
        let redactor = Redactor::new(&[], &[]);
        let logged = |lists| {
            serde_json::to_value(LoggedHeaders {
                headers: &headers,
                redactor: &redactor,
                lists,
            })
            .expect("JSON")
        };
        assert_eq!(
            logged(true),
            json!({"set-cookie": [REDACTED, REDACTED], "x-seen": ["one", "two"], "x-raw": ["caf\u{fffd}"]})
        );
        assert_eq!(
            logged(false),
            json!({"set-cookie": REDACTED, "x-seen": "two", "x-raw": "caf\u{fffd}"})
        );
    }

    #[test]
    fn retention_sets_expiry_by_outcome_and_zero_keeps() {
        let now = Utc::now().naive_utc();
        let retention = Retention {
            success: 60,
            error: 0,
        };
        assert_eq!(
            retention.expires(now, 200),
            Some(now + chrono::Duration::seconds(60))
        );
        assert_eq!(retention.expires(now, 500), None);
    }
}
