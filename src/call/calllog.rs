//! CallLogs: what an outbound call sent and got, with every secret redacted, written to the
//! database in batches by one background task so logging never slows a call down.

use std::borrow::Cow;
use std::net::IpAddr;

use base64::Engine;
use bytes::Bytes;
use chrono::{NaiveDateTime, Utc};
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use thread_priority::{ThreadPriority, set_current_thread_priority};
use tokio::sync::{Notify, oneshot};

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

/// The JSON text of a log part, written by hand: nearly every string in a log (names, URLs,
/// header values) needs no escaping and is copied whole, where serde_json escapes byte by
/// byte. The rare string that needs escaping goes through serde_json.
struct JsonText {
    text: String,
    /// Nothing written yet in the open object or list: no comma before the next member.
    first: bool,
}

impl JsonText {
    fn new(capacity: usize) -> Self {
        Self {
            text: String::with_capacity(capacity),
            first: true,
        }
    }

    fn open(&mut self, bracket: char) {
        self.text.push(bracket);
        self.first = true;
    }

    fn close(&mut self, bracket: char) {
        self.text.push(bracket);
        self.first = false;
    }

    /// Starts a list item: a comma unless it is the first.
    fn item(&mut self) {
        if !self.first {
            self.text.push(',');
        }
        self.first = false;
    }

    /// A member's key that needs no escaping: one of ours.
    fn field(&mut self, name: &'static str) {
        self.item();
        self.text.push('"');
        self.text.push_str(name);
        self.text.push_str("\":");
    }

    /// A member's key from elsewhere: a header name. HTTP/1 limits those to token characters,
    /// but the http crate lets other paths through, so it is checked like any string.
    fn key(&mut self, key: &str) {
        self.item();
        self.string(key);
        self.text.push(':');
    }

    fn string(&mut self, value: &str) {
        // One pass without an early exit, which the compiler turns into wide compares.
        let escaped = value.bytes().fold(false, |escaped, byte| {
            escaped | (byte < 0x20) | (byte == b'"') | (byte == b'\\')
        });
        if escaped {
            self.text
                .push_str(&serde_json::to_string(value).unwrap_or_default());
        } else {
            self.text.push('"');
            self.text.push_str(value);
            self.text.push('"');
        }
    }

    fn number(&mut self, value: impl itoa::Integer) {
        self.text.push_str(itoa::Buffer::new().format(value));
    }

    /// A duration in milliseconds with three decimals.
    fn millis(&mut self, duration: Duration) {
        let micros = duration.as_micros();
        self.number(micros / 1000);
        self.text.push('.');
        let fraction = micros % 1000;
        self.text.push_str(if fraction < 10 {
            "00"
        } else if fraction < 100 {
            "0"
        } else {
            ""
        });
        self.number(fraction);
    }

    fn ip(&mut self, ip: IpAddr) {
        // Display pads and formats each octet generically, at a tenth of a stored log's cost.
        let IpAddr::V4(v4) = ip else {
            self.string(&ip.to_string());
            return;
        };
        self.text.push('"');
        for (index, octet) in v4.octets().into_iter().enumerate() {
            if index > 0 {
                self.text.push('.');
            }
            self.number(octet);
        }
        self.text.push('"');
    }

    fn null(&mut self) {
        self.text.push_str("null");
    }

    /// A value as written before (by [`HeadersMemo`]).
    fn written(&mut self, json: &str) {
        self.text.push_str(json);
        self.first = false;
    }

    fn finish(mut self) -> String {
        self.close('}');
        self.text
    }
}

/// The JSON of the request headers last logged, for the next log that sends the same shared
/// map (a source's plain calls share one) through the same redactor: a batch of one source's
/// calls writes its headers once. It holds both, so neither address can be reused meanwhile.
#[derive(Default)]
struct HeadersMemo(Option<(Arc<HeaderMap>, Arc<Redactor>, String)>);

impl HeadersMemo {
    fn write(&mut self, out: &mut JsonText, headers: &Arc<HeaderMap>, redactor: &Arc<Redactor>) {
        if let Some((map, by, json)) = &self.0 {
            if Arc::ptr_eq(map, headers) && Arc::ptr_eq(by, redactor) {
                out.written(json);
                return;
            }
        }
        let start = out.text.len();
        write_headers(out, headers, redactor, false);
        let json = out.text[start..].to_owned();
        self.0 = Some((Arc::clone(headers), Arc::clone(redactor), json));
    }
}

/// A header map as logged, secrets redacted: each name with its value, or (`lists`) with the
/// list of its values, as the PHP app logs response headers.
fn write_headers(out: &mut JsonText, headers: &HeaderMap, redactor: &Redactor, lists: bool) {
    out.open('{');
    // A header map yields a name's values one after another: grouping neighbours needs no
    // lookup per name.
    let mut entries = headers.iter().peekable();
    while let Some((name, first)) = entries.next() {
        out.key(name.as_str());
        let mut more = std::iter::from_fn(|| {
            entries
                .next_if(|(next, _)| *next == name)
                .map(|(_, value)| value)
        });
        if lists {
            out.open('[');
            for value in std::iter::once(first).chain(more) {
                out.item();
                out.string(&logged_value(redactor, name, value));
            }
            out.close(']');
        } else {
            let last = more.by_ref().last().unwrap_or(first);
            out.string(&logged_value(redactor, name, last));
        }
    }
    out.close('}');
}

/// A header value as logged: the redaction mark for a secret header, else its text (invalid
/// UTF-8 replaced).
fn logged_value<'v>(
    redactor: &Redactor,
    name: &HeaderName,
    value: &'v HeaderValue,
) -> Cow<'v, str> {
    let text = match value.to_str() {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(value.as_bytes()),
    };
    match text {
        Cow::Borrowed(text) => Cow::Borrowed(redactor.header(name.as_str(), text)),
        Cow::Owned(text) => Cow::Owned(redactor.header(name.as_str(), &text).to_owned()),
    }
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

/// What a call sent, as it was sent: redacted only when it is written out.
#[derive(Debug, Clone)]
pub struct SentRequest {
    pub method: Method,
    pub url: String,
    /// `None` for calls logged without headers (refusals, token requests). Shared: calls
    /// that add no headers of their own all send (and log) their source's.
    pub headers: Option<Arc<HeaderMap>>,
    pub body_length: Option<usize>,
    /// The body, kept with `logBody`.
    pub body: Option<String>,
    /// Why a call was made that the caller did not ask for (`token`).
    pub purpose: Option<&'static str>,
}

impl SentRequest {
    /// A request logged by its method and URL alone (a refusal, a token request).
    pub fn without_headers(method: Method, url: String, purpose: Option<&'static str>) -> Self {
        Self {
            method,
            url,
            headers: None,
            body_length: None,
            body: None,
            purpose,
        }
    }
}

/// What a call got back.
#[derive(Debug, Clone, Default)]
pub struct GotResponse {
    pub elapsed: Duration,
    pub remote_ip: Option<IpAddr>,
    pub headers: HeaderMap,
    /// The whole body's size.
    pub size: usize,
    /// The body, kept for errors and with `logBody`.
    pub body: Option<Bytes>,
}

/// Whose log a record is and how it is kept.
#[derive(Debug, Clone)]
pub struct LogOwner {
    pub source_id: Option<i64>,
    pub synchronization_id: Option<i64>,
    pub redactor: Arc<Redactor>,
    pub retention: Retention,
}

/// One CallLog: the facts of a call as they were. Its redacted JSON is written on the log
/// writer's thread when the row is stored (or when the API shows it), not on the call path.
#[derive(Debug, Clone)]
pub struct CallRecord {
    /// Formatted when the log is stored or shown, not on the call path.
    pub uuid: uuid::Uuid,
    pub created: NaiveDateTime,
    pub owner: LogOwner,
    pub status: u16,
    pub status_message: Cow<'static, str>,
    request: SentRequest,
    response: GotResponse,
}

impl CallRecord {
    pub fn new(
        owner: LogOwner,
        status: u16,
        status_message: impl Into<Cow<'static, str>>,
        request: SentRequest,
        response: GotResponse,
    ) -> Self {
        let status_message = status_message.into();
        // The column holds 255 characters; a reason phrase is borrowed, not copied.
        let status_message = if status_message.chars().nth(255).is_some() {
            Cow::Owned(status_message.chars().take(255).collect())
        } else {
            status_message
        };
        // One clock reading for both: the uuid's time is the log's. Its other 74 bits are
        // random (the crate's generator, seeded by the OS, so replicas started alike differ);
        // no v7 context, whose lock per log would only order uuids within a millisecond.
        let now = Utc::now();
        let stamp = uuid::Timestamp::from_unix(
            uuid::NoContext,
            u64::try_from(now.timestamp()).unwrap_or_default(),
            now.timestamp_subsec_nanos(),
        );
        Self {
            uuid: uuid::Uuid::new_v7(stamp),
            created: now.naive_utc(),
            owner,
            status,
            status_message,
            request,
            response,
        }
    }

    /// The response's headers as they came (not redacted).
    pub fn response_headers(&self) -> &HeaderMap {
        &self.response.headers
    }

    fn expires(&self) -> Option<NaiveDateTime> {
        self.owner.retention.expires(self.created, self.status)
    }

    /// The logged request as JSON text, redacted.
    fn request_text(&self, memo: &mut HeadersMemo) -> String {
        let (request, redactor) = (&self.request, &*self.owner.redactor);
        let mut out = JsonText::new(256);
        out.open('{');
        out.field("url");
        out.string(&redactor.url(&request.url));
        out.field("method");
        out.string(request.method.as_str());
        if let Some(headers) = &request.headers {
            out.field("headers");
            memo.write(&mut out, headers, &self.owner.redactor);
        }
        if let Some(length) = request.body_length {
            out.field("bodyLength");
            out.number(length);
        }
        if let Some(body) = &request.body {
            out.field("body");
            out.string(&redactor.body(body));
        }
        if let Some(purpose) = request.purpose {
            out.field("purpose");
            out.string(purpose);
        }
        out.finish()
    }

    /// The logged response as JSON text, redacted; `body` only where the stored log keeps it.
    fn response_text(&self) -> String {
        let (response, redactor) = (&self.response, &*self.owner.redactor);
        let mut out = JsonText::new(384);
        out.open('{');
        out.field("statusCode");
        out.number(self.status);
        out.field("statusMessage");
        out.string(&self.status_message);
        out.field("responseTime");
        out.millis(response.elapsed);
        out.field("size");
        out.number(response.size);
        out.field("remoteIp");
        match response.remote_ip {
            Some(ip) => out.ip(ip),
            None => out.null(),
        }
        out.field("headers");
        write_headers(&mut out, &response.headers, redactor, true);
        if let Some(body) = &response.body {
            let (text, encoding) = body_text(redactor, body);
            out.field("body");
            out.string(&text);
            out.field("encoding");
            out.string(encoding);
        }
        out.finish()
    }

    /// The logged request, redacted.
    pub fn request(&self) -> Value {
        serde_json::from_str(&self.request_text(&mut HeadersMemo::default())).unwrap_or(Value::Null)
    }

    /// The logged response, redacted; `body` only where the stored log keeps it.
    pub fn response(&self) -> Value {
        serde_json::from_str(&self.response_text()).unwrap_or(Value::Null)
    }

    /// The wire form of the log, as the API shows it.
    pub fn to_json(&self) -> Value {
        let (request, response) = self.texts(&mut HeadersMemo::default());
        let parse = |text: &str| serde_json::from_str(text).unwrap_or(Value::Null);
        json!({
            "uuid": self.uuid.to_string(),
            "statusCode": self.status,
            "statusMessage": self.status_message,
            "request": parse(&request),
            "response": parse(&response),
            "sourceId": self.owner.source_id,
            "synchronizationId": self.owner.synchronization_id,
            "created": format_time(self.created),
            "expires": self.expires().map(format_time),
            "size": row_size(&request, &response),
        })
    }

    /// The JSON texts of the logged request and response.
    fn texts(&self, memo: &mut HeadersMemo) -> (String, String) {
        (self.request_text(memo), self.response_text())
    }

    /// The row's binds, for the fields [`STORED`] names.
    fn binds(&self, memo: &mut HeadersMemo) -> Vec<Bind> {
        let (request, response) = self.texts(memo);
        let size = i64::try_from(row_size(&request, &response)).ok();
        vec![
            Bind::Text(Some(self.uuid.to_string())),
            Bind::Int(Some(i64::from(self.status))),
            Bind::Text(Some(self.status_message.clone().into_owned())),
            Bind::Text(Some(request)),
            Bind::Text(Some(response)),
            Bind::Int(self.owner.source_id),
            Bind::Int(self.owner.synchronization_id),
            Bind::Time(Some(self.created)),
            Bind::Time(self.expires()),
            Bind::Int(size),
        ]
    }
}

/// A log row's size as the PHP app reckons it: at least 4 KB.
fn row_size(request: &str, response: &str) -> usize {
    (request.len() + response.len() + 512).max(4096)
}

/// A body as log text: redacted UTF-8, or base64 when it is not text.
pub fn body_text(redactor: &Redactor, body: &[u8]) -> (String, &'static str) {
    match std::str::from_utf8(body) {
        Ok(text) => (redactor.body(text), "UTF-8"),
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(body),
            "base64",
        ),
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
            // The source sends its own User-Agent now, not the version that made the log.
            let skip = ["host", "content-length", "user-agent"]
                .contains(&name.to_ascii_lowercase().as_str());
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

enum Message {
    Record(Arc<CallRecord>),
    Flush(oneshot::Sender<()>),
}

/// A handle on the log writer; cheap to clone.
#[derive(Clone)]
pub struct CallLogWriter {
    sender: mpsc::Sender<Message>,
    backlog: Arc<Backlog>,
    /// The writer's thread, woken from its gathering pause by a flush.
    thread: Option<std::thread::Thread>,
}

/// Logs queued and not yet stored, shared by the handles and the writer.
struct Backlog {
    queued: AtomicUsize,
    /// Past this many queued logs, callers wait for the writer ([`CallLogWriter::keep_up`]).
    limit: usize,
    drained: Notify,
    /// Set when the writer has ended, however: nobody waits for it then.
    stopped: AtomicBool,
}

/// Marks the backlog stopped when the writer's thread ends, even by a panic, and wakes whoever
/// waits: calls must not wait for logs that will never be stored.
struct StopOnExit<'a>(&'a Backlog);

impl Drop for StopOnExit<'_> {
    fn drop(&mut self) {
        self.0.stopped.store(true, Ordering::Relaxed);
        self.0.drained.notify_waiters();
    }
}

/// How many rows one insert carries at most.
const BATCH: usize = 512;
/// How long the writer waits for more logs before it stores what it has.
const GATHER: Duration = Duration::from_millis(20);
/// Queued logs past which calls wait for the writer: some 20 batches, a few MB.
const BACKLOG_LIMIT: usize = 10_000;

impl CallLogWriter {
    /// Starts the writer on a thread of its own, which stores logs in batches.
    pub fn start(db: Db) -> Self {
        Self::with_limits(db, BACKLOG_LIMIT, GATHER)
    }

    /// A writer that makes callers wait past `limit` queued logs and lets a few logs gather
    /// for `gather` before it stores them.
    fn with_limits(db: Db, limit: usize, gather: Duration) -> Self {
        let (sender, receiver) = mpsc::channel::<Message>();
        let backlog = Arc::new(Backlog {
            queued: AtomicUsize::new(0),
            limit,
            drained: Notify::new(),
            stopped: AtomicBool::new(false),
        });
        let shared = Arc::clone(&backlog);
        let spawned = std::thread::Builder::new()
            .name("call-log-writer".into())
            .spawn(move || {
                lower_priority();
                let _stop = StopOnExit(&shared);
                write_batches(&db, &receiver, &shared, gather);
            });
        let thread = match spawned {
            Ok(handle) => Some(handle.thread().clone()),
            Err(error) => {
                tracing::error!(%error, "The call log writer could not start; call logs are lost.");
                None
            }
        };
        Self {
            sender,
            backlog,
            thread,
        }
    }

    /// Queues a log for storage.
    pub fn write(&self, record: Arc<CallRecord>) {
        self.backlog.queued.fetch_add(1, Ordering::Relaxed);
        if self.sender.send(Message::Record(record)).is_err() {
            self.backlog.queued.fetch_sub(1, Ordering::Relaxed);
            tracing::error!("The call log writer has stopped; a call log is lost.");
        }
    }

    /// Waits while more logs are queued than the writer may fall behind by: calls then go
    /// at the speed logs are stored, and memory stays bounded.
    pub async fn keep_up(&self) {
        let backlog = &self.backlog;
        let behind = || {
            backlog.queued.load(Ordering::Relaxed) > backlog.limit
                && !backlog.stopped.load(Ordering::Relaxed)
        };
        while behind() {
            let drained = self.backlog.drained.notified();
            tokio::pin!(drained);
            // Registered before the second look, so a batch stored in between still wakes us.
            drained.as_mut().enable();
            if !behind() {
                return;
            }
            drained.await;
        }
    }

    /// Waits until every log queued before this call is stored.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.sender.send(Message::Flush(done)).is_ok() {
            // Whoever flushes waits for the logs, not for the writer's pause to end.
            if let Some(thread) = &self.thread {
                thread.unpark();
            }
            let _ = wait.await;
        }
    }
}

/// Logs are bookkeeping: under load the calls come first, and the writer stores in the CPU
/// time they leave. On Linux it runs as SCHED_IDLE: a CPU that runs only the writer counts as
/// idle, so a woken call thread is placed there and preempts it at once (a nice-19 thread
/// runs out its slice first). Should other work keep every CPU busy, the writer's share is
/// small, and the backlog limit then makes calls wait for it: memory stays bounded and no log
/// is lost. Where that policy cannot be had, the writer runs at nice 19.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    match thread_priority::set_thread_priority_and_policy(
        thread_priority::thread_native_id(),
        ThreadPriority::Min,
        thread_priority::ThreadSchedulePolicy::Normal(
            thread_priority::NormalThreadSchedulePolicy::Idle,
        ),
    ) {
        Ok(()) => return,
        Err(error) => {
            tracing::debug!(
                ?error,
                "The call log writer is not SCHED_IDLE; it runs at nice 19."
            );
        }
    }
    if let Err(error) = set_current_thread_priority(ThreadPriority::Min) {
        tracing::debug!(?error, "The call log writer keeps the normal priority.");
    }
}

/// The writer's loop: gathers what is queued, stores it in one insert, repeats until every
/// handle is gone.
fn write_batches(db: &Db, receiver: &mpsc::Receiver<Message>, backlog: &Backlog, gather: Duration) {
    let mut records = Vec::with_capacity(BATCH);
    let mut waiting = Vec::new();
    let mut memo = HeadersMemo::default();
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
            // A flush unparks the writer at once; a stray early wake-up only stores sooner.
            std::thread::park_timeout(gather);
            next = receiver.try_recv().ok();
        }
        if !records.is_empty() {
            let stored = db.run_blocking(|conn| {
                let rows: Vec<Vec<Bind>> = records.iter().map(|r| r.binds(&mut memo)).collect();
                store::insert_fields(conn, &CALL_LOG, &STORED, rows)
            });
            if let Err(error) = stored {
                let count = records.len();
                tracing::error!(%error, count, "Call logs could not be stored and are lost.");
            }
            backlog.queued.fetch_sub(records.len(), Ordering::Relaxed);
            backlog.drained.notify_waiters();
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
            let mut out = JsonText::new(0);
            write_headers(&mut out, &headers, &redactor, lists);
            serde_json::from_str::<Value>(&out.text).expect("JSON")
        };
        assert_eq!(
            logged(true),
            json!({"set-cookie": [REDACTED, REDACTED], "x-seen": ["one", "two"], "x-raw": ["caf\u{fffd}"]})
        );
        assert_eq!(
            logged(false),
            json!({"set-cookie": REDACTED, "x-seen": "two", "x-raw": "caf\u{fffd}"})
        );
        // The http crate's HTTP/2 path lets a quote into a header name; the log stays JSON.
        let mut odd = HeaderMap::new();
        odd.insert(
            HeaderName::from_static("x-\"odd"),
            HeaderValue::from_static("1"),
        );
        let mut out = JsonText::new(0);
        write_headers(&mut out, &odd, &redactor, false);
        assert_eq!(
            serde_json::from_str::<Value>(&out.text).expect("JSON"),
            json!({"x-\"odd": "1"})
        );
    }

    #[tokio::test]
    async fn a_flush_does_not_wait_out_the_writers_gathering_pause() {
        let (dir, db) = crate::db::tests::scratch_sqlite();
        // An hour's pause: only the flush's wake-up can end it within the test's patience.
        let writer =
            CallLogWriter::with_limits(db.clone(), BACKLOG_LIMIT, Duration::from_secs(3600));
        let request =
            SentRequest::without_headers(Method::GET, "http://127.0.0.1:9/items".into(), None);
        let record = CallRecord::new(test_owner(), 200, "OK", request, GotResponse::default());
        writer.write(Arc::new(record));
        // Let the writer take the log and start its pause before the flush arrives (were it
        // late, it would find the flush with the log and the test would prove nothing).
        tokio::time::sleep(Duration::from_millis(200)).await;
        tokio::time::timeout(Duration::from_secs(60), writer.flush())
            .await
            .expect("the flush woke the writer");
        assert_eq!(stored_logs(&db), 1);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn logs_sharing_a_header_map_reuse_its_json_only_through_the_same_redactor() {
        let mut headers = HeaderMap::new();
        headers.insert("accept", HeaderValue::from_static("application/json"));
        headers.insert("x-key", HeaderValue::from_static("k1"));
        let headers = Arc::new(headers);
        let plain = Arc::new(Redactor::new(&[], &[]));
        let secret_key = Arc::new(Redactor::new(&["X-Key".into()], &[]));
        let record = |redactor: &Arc<Redactor>| {
            let owner = LogOwner {
                redactor: Arc::clone(redactor),
                ..test_owner()
            };
            let mut sent =
                SentRequest::without_headers(Method::GET, "http://127.0.0.1:9/a".into(), None);
            sent.headers = Some(Arc::clone(&headers));
            CallRecord::new(owner, 200, "OK", sent, GotResponse::default())
        };
        let logged = |text: String| -> Value {
            serde_json::from_str::<Value>(&text).expect("JSON")["headers"].clone()
        };
        let mut memo = HeadersMemo::default();
        let first = logged(record(&plain).request_text(&mut memo));
        let again = logged(record(&plain).request_text(&mut memo));
        let redacted = logged(record(&secret_key).request_text(&mut memo));
        assert_eq!(first, json!({"accept": "application/json", "x-key": "k1"}));
        assert_eq!(again, first);
        assert_eq!(
            redacted,
            json!({"accept": "application/json", "x-key": REDACTED})
        );
    }

    #[test]
    fn a_logs_uuid_is_a_version_7_uuid_of_its_creation_time_and_unique() {
        let record = |_| {
            let sent = SentRequest::without_headers(Method::GET, "http://h/".into(), None);
            CallRecord::new(test_owner(), 200, "OK", sent, GotResponse::default())
        };
        let records: Vec<CallRecord> = (0..1000).map(record).collect();
        let first = &records[0];
        assert_eq!(first.uuid.get_version_num(), 7);
        assert_eq!(first.uuid.get_variant(), uuid::Variant::RFC4122);
        let (seconds, nanos) = first.uuid.get_timestamp().expect("a time").to_unix();
        let created = first.created.and_utc();
        assert_eq!(
            seconds * 1000 + u64::from(nanos / 1_000_000),
            u64::try_from(created.timestamp_millis()).expect("after 1970")
        );
        let unique: std::collections::HashSet<uuid::Uuid> =
            records.iter().map(|r| r.uuid).collect();
        assert_eq!(unique.len(), records.len());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_writer_runs_in_the_time_other_threads_leave() {
        let (dir, db) = crate::db::tests::scratch_sqlite();
        let writer = CallLogWriter::start(db);
        // The policy is the 41st field of a thread's stat line; 5 is SCHED_IDLE.
        let policy_of_writer = || {
            std::fs::read_dir("/proc/self/task")
                .ok()?
                .flatten()
                .find_map(|task| {
                    let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
                    if comm.trim() != "call-log-writer" {
                        return None;
                    }
                    let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
                    let after_name = stat.rsplit_once(')')?.1;
                    after_name.split_whitespace().nth(38)?.parse::<u32>().ok()
                })
        };
        let started = std::time::Instant::now();
        let mut policy = policy_of_writer();
        while policy != Some(5) && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(10));
            policy = policy_of_writer();
        }
        assert_eq!(policy, Some(5), "the writer's scheduling policy");
        drop(writer);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_replayed_request_leaves_out_what_the_source_sends_anew() {
        let logged = json!({
            "url": "http://h/items?page=2&api_key=••••", "method": "GET",
            "headers": {"accept": "application/json", "authorization": "••••",
                        "user-agent": "OpenConnector/0.0.1", "host": "h", "content-length": "0"}
        });
        let request = replay(&logged).expect("replayable");
        assert_eq!(request.endpoint, "http://h/items");
        assert_eq!(request.query, vec![("page".to_owned(), "2".to_owned())]);
        assert_eq!(
            request.headers,
            vec![("accept".to_owned(), "application/json".to_owned())]
        );
    }

    fn test_owner() -> LogOwner {
        LogOwner {
            source_id: Some(1),
            synchronization_id: None,
            redactor: Arc::new(Redactor::new(&[], &[])),
            retention: Retention {
                success: 60,
                error: 60,
            },
        }
    }

    fn stored_logs(db: &Db) -> usize {
        let rows = db
            .run_blocking(|conn| {
                let mut sql = conn.sql();
                sql.push(&format!("SELECT COUNT(*) FROM {}", conn.table(&CALL_LOG).0));
                conn.load(&sql)
            })
            .expect("count");
        rows[0].0[0]
            .as_deref()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    #[tokio::test]
    async fn callers_wait_while_more_logs_are_queued_than_the_limit() {
        let (dir, db) = crate::db::tests::scratch_sqlite();
        let writer = CallLogWriter::with_limits(db.clone(), 3, GATHER);
        let owner = test_owner();
        let request =
            SentRequest::without_headers(Method::GET, "http://127.0.0.1:9/items".into(), None);
        for _ in 0..50 {
            let record = CallRecord::new(
                owner.clone(),
                200,
                "OK",
                request.clone(),
                GotResponse::default(),
            );
            writer.write(Arc::new(record));
        }
        writer.keep_up().await;
        assert!(writer.backlog.queued.load(Ordering::Relaxed) <= 3);
        let stored = stored_logs(&db);
        assert!(
            stored >= 47,
            "only {stored} of 50 logs were stored when the caller went on"
        );
        writer.flush().await;
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn logged_parts_are_json_with_what_needs_escaping_escaped() {
        let owner = LogOwner {
            retention: Retention {
                success: 0,
                error: 0,
            },
            ..test_owner()
        };
        let mut sent_headers = HeaderMap::new();
        sent_headers.insert("x-note", HeaderValue::from_static("a \"quoted\"\tvalue"));
        let sent = SentRequest {
            method: Method::POST,
            url: "http://127.0.0.1:9/items?q=caf\u{e9}".into(),
            headers: Some(Arc::new(sent_headers)),
            body_length: Some(24),
            body: Some("line one\nline \"two\"\u{1}".into()),
            purpose: None,
        };
        let got = GotResponse {
            elapsed: Duration::from_micros(1_500),
            remote_ip: Some("::1".parse().expect("address")),
            headers: HeaderMap::new(),
            size: 0,
            body: None,
        };
        let record = CallRecord::new(owner, 502, "Bad \"Gateway\"\r\n", sent, got);
        let (request, response) = record.texts(&mut HeadersMemo::default());
        let request: Value = serde_json::from_str(&request).expect("request JSON");
        let response: Value = serde_json::from_str(&response).expect("response JSON");
        assert_eq!(request["url"], "http://127.0.0.1:9/items?q=caf\u{e9}");
        assert_eq!(request["headers"]["x-note"], "a \"quoted\"\tvalue");
        assert_eq!(request["body"], "line one\nline \"two\"\u{1}");
        assert_eq!(request["bodyLength"], 24);
        assert_eq!(response["statusMessage"], "Bad \"Gateway\"\r\n");
        assert_eq!(response["responseTime"].as_f64(), Some(1.5));
        assert_eq!(response["remoteIp"], "::1");
        assert_eq!(response["headers"], json!({}));
        let local = GotResponse {
            elapsed: Duration::from_micros(42),
            remote_ip: Some(std::net::Ipv4Addr::new(10, 0, 255, 7).into()),
            ..GotResponse::default()
        };
        let record = CallRecord::new(record.owner.clone(), 200, "OK", record.request, local);
        let response: Value = serde_json::from_str(&record.response_text()).expect("JSON");
        assert_eq!(response["remoteIp"], "10.0.255.7");
        assert_eq!(response["responseTime"].as_f64(), Some(0.042));
    }

    #[test]
    fn a_synchronization_finds_its_call_logs_through_the_partial_index() {
        let (dir, db) = crate::db::tests::scratch_sqlite();
        let plan = db
            .run_blocking(|conn| {
                let table = conn.table(&CALL_LOG).0.to_owned();
                let mut sql = conn.sql();
                sql.push(&format!(
                    "EXPLAIN QUERY PLAN SELECT id FROM {table} WHERE synchronization_id = "
                ))
                .bind(Bind::Int(Some(3)))
                .push(" ORDER BY id DESC");
                conn.load(&sql)
            })
            .expect("plan");
        let steps: Vec<String> = plan
            .into_iter()
            .filter_map(|row| row.0.last().cloned().flatten())
            .collect();
        assert!(
            steps.iter().any(|step| step.contains("call_logs_ix3")),
            "the lookup does not use the index: {steps:?}"
        );
        std::fs::remove_dir_all(&dir).ok();
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
