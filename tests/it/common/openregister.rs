//! A stand-in for the OpenRegister 1.0 REST API, the usual synchronization target, faithful to
//! what an HTTP sync client sees (spec reference-openregister.md §8): objects per
//! register+schema with POST-as-upsert (201 on create *and* replace), PUT that is not an upsert,
//! PATCH and POST-on-id merges, soft DELETE (403 for an absent id), schema validation with
//! OpenRegister's relaxations and its two error shapes, empty-value stripping on reads, the list
//! envelope with paging, filters and ordering, Basic auth with app passwords, and an audit trail.
//! Tests can also make it fail (`fail_next`) or look unreachable (`set_down`).
//!
//! Storage is one `HashMap` per (register, schema) keyed by UUID plus a row-ordered index, so
//! writes stay O(1) for the 100,000-object benchmark; lists are O(n).

use std::collections::{BTreeMap, HashMap};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::http::StatusCode;
use actix_web::middleware::Compress;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Map, Value, json};

/// The user `start` configures, with its app password (HTTP Basic).
pub const USER: &str = "sync";
pub const APP_PASSWORD: &str = "app-password";
/// Where the API lives under the Nextcloud root; `/apps/openregister/api` works as well.
pub const API_PATH: &str = "/index.php/apps/openregister/api";
const SHORT_API_PATH: &str = "/apps/openregister/api";

const NOT_LOGGED_IN: &str = "Current user is not logged in";

/// A register: objects live under (register, schema).
#[derive(Debug, Clone)]
struct Register {
    id: u64,
    uuid: String,
    slug: String,
    created: String,
}

/// A schema with what validation and serialisation need from it.
#[derive(Debug, Clone)]
struct Schema {
    id: u64,
    uuid: String,
    slug: String,
    title: String,
    properties: Map<String, Value>,
    required: Vec<String>,
    hard_validation: bool,
    configuration: Value,
    created: String,
}

impl Schema {
    fn name_field(&self) -> Option<&str> {
        self.configuration
            .get("objectNameField")
            .and_then(Value::as_str)
    }
}

/// One stored object (a row of OpenRegister's per-register+schema "magic" table).
#[derive(Debug, Clone)]
struct Record {
    /// The internal numeric row id: list order, `@self.description` fallback, audit `object`.
    row: u64,
    data: Map<String, Value>,
    owner: Option<String>,
    organisation: Option<String>,
    slug: Option<String>,
    created: String,
    updated: String,
    /// Set by a soft delete: `{deletedBy, deletedAt, objectId, organisation}`.
    deleted: Option<Value>,
}

/// The objects of one (register, schema): UUIDs are unique per table only, as in OR 1.0.
#[derive(Debug, Default)]
struct Table {
    records: HashMap<String, Record>,
    /// Row id → UUID, so lists come out in insertion order without sorting.
    order: BTreeMap<u64, String>,
    /// How many records carry a slug; the show route scans for slugs only when there are any.
    slugged: usize,
}

impl Table {
    fn live(&self, uuid: &str) -> Option<&Record> {
        self.records.get(uuid).filter(|r| r.deleted.is_none())
    }

    /// UUID of the live object `key` names: its UUID, or else its slug.
    fn find_live(&self, key: &str) -> Option<String> {
        if self.live(key).is_some() {
            return Some(key.to_owned());
        }
        if self.slugged == 0 {
            return None;
        }
        self.records
            .iter()
            .find(|(_, r)| r.deleted.is_none() && r.slug.as_deref() == Some(key))
            .map(|(uuid, _)| uuid.clone())
    }

    fn in_order(&self) -> impl Iterator<Item = (&String, &Record)> {
        self.order
            .values()
            .filter_map(|uuid| self.records.get_key_value(uuid))
    }
}

#[derive(Debug, Default)]
struct Store {
    registers: BTreeMap<u64, Register>,
    schemas: BTreeMap<u64, Schema>,
    tables: HashMap<(u64, u64), Table>,
    audit: Vec<Value>,
    next_row: u64,
}

impl Store {
    /// Numeric ids go straight to the id; anything else matches a UUID or a slug, ignoring case.
    fn register_id(&self, key: &str) -> Option<u64> {
        match key.parse::<u64>() {
            Ok(id) => self.registers.contains_key(&id).then_some(id),
            Err(_) => self
                .registers
                .values()
                .find(|r| r.uuid == key || r.slug.eq_ignore_ascii_case(key))
                .map(|r| r.id),
        }
    }

    fn schema_id(&self, key: &str) -> Option<u64> {
        match key.parse::<u64>() {
            Ok(id) => self.schemas.contains_key(&id).then_some(id),
            Err(_) => self
                .schemas
                .values()
                .find(|s| s.uuid == key || s.slug.eq_ignore_ascii_case(key))
                .map(|s| s.id),
        }
    }

    /// Both ids, or the 404 OpenRegister gives; `key` is `message`, or `error` on PATCH and
    /// POST-on-id.
    fn resolve(&self, register: &str, schema: &str, key: &str) -> Result<(u64, u64), HttpResponse> {
        let Some(register_id) = self.register_id(register) else {
            return Err(HttpResponse::NotFound()
                .json(json!({ key: format!("Register not found: '{register}'") })));
        };
        let Some(schema_id) = self.schema_id(schema) else {
            return Err(HttpResponse::NotFound()
                .json(json!({ key: format!("Schema not found: '{schema}'") })));
        };
        Ok((register_id, schema_id))
    }
}

/// Everything the server shares between requests and with the test.
pub struct OpenRegisterState {
    /// `http://127.0.0.1:PORT`, for `@self.uri`.
    origin: String,
    /// User → app password.
    users: Mutex<HashMap<String, String>>,
    store: Mutex<Store>,
    requests: AtomicU64,
    requests_by_method: Mutex<HashMap<String, u64>>,
    /// (how many object writes still fail, with which status).
    failures: Mutex<(u32, u16)>,
    down: AtomicBool,
    audit_enabled: AtomicBool,
    /// OR 1.0 answers 403 (unique `_uuid`) when a POST reuses a soft-deleted UUID; a test may
    /// ask for the intended "create it again" instead.
    recreate_deleted: AtomicBool,
}

impl OpenRegisterState {
    fn new(origin: String) -> Self {
        Self {
            origin,
            users: Mutex::new(HashMap::from([(USER.to_owned(), APP_PASSWORD.to_owned())])),
            store: Mutex::new(Store::default()),
            requests: AtomicU64::new(0),
            requests_by_method: Mutex::new(HashMap::new()),
            failures: Mutex::new((0, 500)),
            down: AtomicBool::new(false),
            audit_enabled: AtomicBool::new(true),
            recreate_deleted: AtomicBool::new(false),
        }
    }

    fn count(&self, method: &str) {
        self.requests.fetch_add(1, Ordering::SeqCst);
        *self
            .requests_by_method
            .lock()
            .expect("lock")
            .entry(method.to_owned())
            .or_default() += 1;
    }

    /// The status of an injected failure, using one up.
    fn take_failure(&self) -> Option<u16> {
        let mut failures = self.failures.lock().expect("lock");
        if failures.0 == 0 {
            return None;
        }
        failures.0 -= 1;
        Some(failures.1)
    }

    /// The user of valid Basic credentials. Anything else (none, wrong, Bearer) is anonymous,
    /// as on a public page in Nextcloud.
    fn authenticate(&self, request: &HttpRequest) -> Option<String> {
        let encoded = request
            .headers()
            .get("authorization")?
            .to_str()
            .ok()?
            .strip_prefix("Basic ")?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (user, password) = decoded.split_once(':')?;
        let users = self.users.lock().expect("lock");
        (users.get(user).map(String::as_str) == Some(password)).then(|| user.to_owned())
    }

    fn audit_enabled(&self) -> bool {
        self.audit_enabled.load(Ordering::SeqCst)
    }
}

/// The running stand-in.
pub struct OpenRegister {
    /// `http://127.0.0.1:PORT/index.php/apps/openregister/api`.
    pub base: String,
    /// `http://127.0.0.1:PORT`, the "Nextcloud" root.
    pub origin: String,
    pub state: Arc<OpenRegisterState>,
}

impl OpenRegister {
    /// An empty store on a free loopback port, with the user `sync` / `app-password`.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let origin = format!("http://{}", listener.local_addr().expect("bound"));
        let state = Arc::new(OpenRegisterState::new(origin.clone()));
        let shared = web::Data::from(Arc::clone(&state));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                // Compresses only when the client sent `Accept-Encoding: gzip`, like Nextcloud.
                .wrap(Compress::default())
                .default_service(web::to(handle))
        })
        .workers(2)
        .listen(listener)
        .expect("listen")
        .run();
        tokio::spawn(server);
        Self {
            base: format!("{origin}{API_PATH}"),
            origin,
            state,
        }
    }

    /// Adds a register; its title is the slug, its UUID random.
    pub fn add_register(&self, id: u64, slug: &str) {
        let mut store = self.state.store.lock().expect("lock");
        store.registers.insert(
            id,
            Register {
                id,
                uuid: uuid::Uuid::new_v4().to_string(),
                slug: slug.to_owned(),
                created: now(),
            },
        );
    }

    /// Adds a schema from a JSON Schema-like definition: `properties`, `required`, optionally
    /// `title` and `configuration` (`objectNameField` names the property `@self.name` shows).
    pub fn add_schema(&self, id: u64, slug: &str, schema: Value, hard_validation: bool) {
        let properties = schema
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let required = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|names| {
                names
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let title = schema
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or(slug)
            .to_owned();
        let configuration = schema
            .get("configuration")
            .cloned()
            .unwrap_or_else(|| json!({}));
        let mut store = self.state.store.lock().expect("lock");
        store.schemas.insert(
            id,
            Schema {
                id,
                uuid: uuid::Uuid::new_v4().to_string(),
                slug: slug.to_owned(),
                title,
                properties,
                required,
                hard_validation,
                configuration,
                created: now(),
            },
        );
    }

    /// Adds (or changes) a user and its app password.
    pub fn add_user(&self, user: &str, app_password: &str) {
        self.state
            .users
            .lock()
            .expect("lock")
            .insert(user.to_owned(), app_password.to_owned());
    }

    /// The live (not soft-deleted) objects in row order, as a GET shows them (stripped, with `id`
    /// and `@self`).
    pub fn objects(&self, register: u64, schema: u64) -> Vec<Value> {
        let store = self.state.store.lock().expect("lock");
        let (Some(table), Some(definition)) = (
            store.tables.get(&(register, schema)),
            store.schemas.get(&schema),
        ) else {
            return Vec::new();
        };
        table
            .in_order()
            .filter(|(_, record)| record.deleted.is_none())
            .map(|(uuid, record)| {
                stripped(serialise(
                    &self.state.origin,
                    register,
                    definition,
                    uuid,
                    record,
                ))
            })
            .collect()
    }

    /// One live object as a GET shows it.
    pub fn object(&self, register: u64, schema: u64, id: &str) -> Option<Value> {
        let store = self.state.store.lock().expect("lock");
        let record = store.tables.get(&(register, schema))?.live(id)?;
        let definition = store.schemas.get(&schema)?;
        Some(stripped(serialise(
            &self.state.origin,
            register,
            definition,
            id,
            record,
        )))
    }

    /// UUIDs of the soft-deleted objects of (register, schema).
    pub fn deleted_ids(&self, register: u64, schema: u64) -> Vec<String> {
        let store = self.state.store.lock().expect("lock");
        store
            .tables
            .get(&(register, schema))
            .map(|table| {
                table
                    .in_order()
                    .filter(|(_, record)| record.deleted.is_some())
                    .map(|(uuid, _)| uuid.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Requests received, all of them (also those answered 401, 503 or an injected failure).
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// Requests received with `method` (`"POST"`, `"DELETE"`, …).
    pub fn requests_by_method(&self, method: &str) -> u64 {
        self.state
            .requests_by_method
            .lock()
            .expect("lock")
            .get(&method.to_ascii_uppercase())
            .copied()
            .unwrap_or(0)
    }

    /// The next `n` object writes (POST, PUT, PATCH, DELETE under `/objects`) answer `status`
    /// with `{"error": ...}` and change nothing.
    pub fn fail_next(&self, n: u32, status: u16) {
        *self.state.failures.lock().expect("lock") = (n, status);
    }

    /// While down, every request answers 503 with an empty body (Nextcloud in maintenance mode,
    /// or a proxy with no backend).
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    /// Whether writes append audit entries (OpenRegister's `auditTrailsEnabled`, on by default).
    /// A benchmark may turn it off to save memory.
    pub fn set_audit(&self, enabled: bool) {
        self.state.audit_enabled.store(enabled, Ordering::SeqCst);
    }

    /// Off (the default, OR 1.0): a POST with the UUID of a soft-deleted object answers 403
    /// (unique `_uuid`). On: it creates the object afresh.
    pub fn set_recreate_deleted(&self, recreate: bool) {
        self.state
            .recreate_deleted
            .store(recreate, Ordering::SeqCst);
    }

    /// The audit trail, oldest first: `{id, uuid, register, schema, object, objectUuid, action,
    /// changed, user, userName, created}` per create, update and delete.
    pub fn audit(&self) -> Vec<Value> {
        self.state.store.lock().expect("lock").audit.clone()
    }
}

/// `YYYY-MM-DDTHH:MM:SS+00:00`, PHP's `format('c')` in UTC.
fn now() -> String {
    Utc::now().format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

fn respond(status: u16, body: &Value) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .json(body)
}

fn not_logged_in() -> HttpResponse {
    HttpResponse::Unauthorized().json(json!({"message": NOT_LOGGED_IN}))
}

/// Routes that need a logged-in user in OR 1.0; everything else on objects and schemas is
/// `@PublicPage`.
fn needs_login(method: &str, segments: &[&str]) -> bool {
    match (method, segments) {
        (_, ["objects", _, _]) | ("GET" | "POST", ["objects", _, _, _]) => false,
        ("GET", ["schemas"] | ["schemas", _]) => false,
        // Unknown routes answer 404 whoever asks.
        (_, [first, ..]) => matches!(
            *first,
            "objects" | "registers" | "schemas" | "deleted" | "audit-trails" | "bulk"
        ),
        (_, []) => false,
    }
}

fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = bytes
            .get(index + 1..index + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match (bytes[index], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                index += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// Nextcloud's request parameters: the query string, overridden by a JSON body (only with a JSON
/// content type) or a form body. Invalid JSON gives no body parameters, as `json_decode` does.
fn parameters(
    request: &HttpRequest,
    body: &[u8],
    query: &[(String, String)],
) -> Map<String, Value> {
    let mut parameters: Map<String, Value> = query
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let content_type = request
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.contains("json") {
        if let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) {
            parameters.extend(fields);
        }
    } else if content_type.contains("x-www-form-urlencoded") {
        let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
        parameters.extend(fields.into_iter().map(|(k, v)| (k, Value::String(v))));
    }
    parameters
}

async fn handle(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<OpenRegisterState>,
) -> HttpResponse {
    let method = request.method().as_str().to_owned();
    state.count(&method);
    if state.down.load(Ordering::SeqCst) {
        return HttpResponse::ServiceUnavailable().finish();
    }
    let path = request.path();
    let Some(rest) = path
        .strip_prefix(API_PATH)
        .or_else(|| path.strip_prefix(SHORT_API_PATH))
    else {
        return HttpResponse::NotFound().json(json!({"message": "Page not found"}));
    };
    let owned: Vec<String> = rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let segments: Vec<&str> = owned.iter().map(String::as_str).collect();
    if method != "GET" && matches!(segments.first(), Some(&"objects")) {
        if let Some(status) = state.take_failure() {
            return respond(status, &json!({"error": "Injected failure (stand-in)"}));
        }
    }
    let user = state.authenticate(&request);
    if user.is_none() && needs_login(&method, &segments) {
        return not_logged_in();
    }
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(request.query_string()).unwrap_or_default();
    let user = user.as_deref();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["objects", register, schema]) => list(&state, register, schema, &query),
        ("POST", ["objects", register, schema]) => {
            let parameters = parameters(&request, &body, &query);
            create(&state, register, schema, parameters, user)
        }
        ("GET", ["objects", register, schema, id]) => show(&state, register, schema, id, &query),
        ("PUT", ["objects", register, schema, id]) => {
            let parameters = parameters(&request, &body, &query);
            update(&state, register, schema, id, parameters, user, false)
        }
        ("PATCH" | "POST", ["objects", register, schema, id]) => {
            let parameters = parameters(&request, &body, &query);
            update(&state, register, schema, id, parameters, user, true)
        }
        ("DELETE", ["objects", register, schema, id]) => delete(&state, register, schema, id, user),
        ("GET", ["objects", register, schema, id, "audit-trails"]) => {
            object_audit(&state, register, schema, id, &query)
        }
        ("GET", ["audit-trails"]) => {
            let entries = state.store.lock().expect("lock").audit.clone();
            HttpResponse::Ok().json(audit_page(entries, &query))
        }
        ("GET", ["registers"]) => {
            let store = state.store.lock().expect("lock");
            let results: Vec<Value> = store.registers.values().map(register_json).collect();
            HttpResponse::Ok().json(json!({"results": results}))
        }
        ("GET", ["registers", key]) => {
            let store = state.store.lock().expect("lock");
            match store
                .register_id(key)
                .and_then(|id| store.registers.get(&id))
            {
                Some(register) => HttpResponse::Ok().json(register_json(register)),
                None => HttpResponse::NotFound()
                    .json(json!({"message": format!("Register not found: '{key}'")})),
            }
        }
        ("GET", ["schemas"]) => {
            let store = state.store.lock().expect("lock");
            let results: Vec<Value> = store.schemas.values().map(schema_json).collect();
            HttpResponse::Ok().json(json!({"results": results}))
        }
        ("GET", ["schemas", key]) => {
            let store = state.store.lock().expect("lock");
            match store.schema_id(key).and_then(|id| store.schemas.get(&id)) {
                Some(schema) => HttpResponse::Ok().json(schema_json(schema)),
                None => HttpResponse::NotFound().json(json!({"error": "Schema not found"})),
            }
        }
        ("GET", ["deleted"]) => deleted_list(&state),
        ("POST", ["deleted", id, "restore"]) => restore(&state, id),
        ("DELETE", ["deleted", id]) => purge(&state, id),
        (_, ["objects", ..] | ["registers", ..] | ["schemas", ..] | ["deleted", ..]) => {
            HttpResponse::MethodNotAllowed().json(json!({"message": "Method not allowed"}))
        }
        _ => HttpResponse::NotFound().json(json!({"message": "Page not found"})),
    }
}

/// What a write body becomes (§2.2): `_*`, `@*` other than `@self`, `uuid`, `register` and
/// `schema` are dropped; the id is `@self.id` ?? `id` (non-empty strings only).
struct WriteBody {
    data: Map<String, Value>,
    meta: Map<String, Value>,
    id: Option<String>,
}

fn write_body(parameters: Map<String, Value>) -> WriteBody {
    let mut data = Map::new();
    let mut meta = Map::new();
    let mut plain_id = None;
    for (key, value) in parameters {
        if key == "@self" {
            if let Value::Object(fields) = value {
                meta = fields;
            }
        } else if key == "id" {
            plain_id = Some(value);
        } else if !(key.starts_with('_')
            || key.starts_with('@')
            || matches!(key.as_str(), "uuid" | "register" | "schema"))
        {
            data.insert(key, value);
        }
    }
    let non_empty = |value: Option<&Value>| {
        value
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let id = non_empty(meta.get("id")).or_else(|| non_empty(plain_id.as_ref()));
    WriteBody { data, meta, id }
}

/// `@self.slug`, else a top-level `slug` property.
fn slug_of(meta: &Map<String, Value>, data: &Map<String, Value>) -> Option<String> {
    meta.get("slug")
        .or_else(|| data.get("slug"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Full-replace semantics: schema properties the body leaves out become `null`.
fn fill_missing(schema: &Schema, data: &mut Map<String, Value>) {
    for name in schema.properties.keys() {
        if !data.contains_key(name) {
            data.insert(name.clone(), Value::Null);
        }
    }
}

/// Validation errors as POST gives them: a bare JSON string.
fn post_validation_error(violations: &[Violation]) -> HttpResponse {
    let message = violations
        .first()
        .map(|v| v.friendly.clone())
        .unwrap_or_default();
    HttpResponse::BadRequest().json(Value::String(message))
}

/// Validation errors as PUT, PATCH and POST-on-id give them.
fn update_validation_error(violations: &[Violation]) -> HttpResponse {
    let mut pointers: Map<String, Value> = Map::new();
    for violation in violations {
        let entry = pointers
            .entry(violation.pointer.clone())
            .or_insert_with(|| json!([]));
        if let Value::Array(messages) = entry {
            messages.push(Value::String(violation.detail.clone()));
        }
    }
    let message = violations
        .first()
        .map(|v| v.friendly.clone())
        .unwrap_or_default();
    HttpResponse::BadRequest().json(json!({
        "status": "error",
        "message": "Validation failed",
        "errors": [{"property": null, "message": message, "errors": pointers}],
    }))
}

/// `changed` of an audit entry: `{key: {old, new}}` over the object's properties.
fn changes(old: &Map<String, Value>, new: &Map<String, Value>) -> Value {
    let mut changed = Map::new();
    for (key, value) in new {
        let before = old.get(key).unwrap_or(&Value::Null);
        if before != value {
            changed.insert(key.clone(), json!({"old": before, "new": value}));
        }
    }
    for (key, value) in old {
        if !new.contains_key(key) {
            changed.insert(key.clone(), json!({"old": value, "new": null}));
        }
    }
    Value::Object(changed)
}

#[allow(clippy::too_many_arguments)] // the columns of an audit row
fn append_audit(
    audit: &mut Vec<Value>,
    enabled: bool,
    action: &str,
    (register, schema): (u64, u64),
    record: &Record,
    uuid: &str,
    changed: Value,
    user: Option<&str>,
) {
    if !enabled {
        return;
    }
    let user = user.unwrap_or("System");
    audit.push(json!({
        "id": audit.len() + 1,
        "uuid": uuid::Uuid::new_v4().to_string(),
        "register": register,
        "schema": schema,
        "object": record.row,
        "objectUuid": uuid,
        "action": action,
        "changed": changed,
        "user": user,
        "userName": user,
        "created": now(),
    }));
}

fn create(
    state: &OpenRegisterState,
    register: &str,
    schema: &str,
    parameters: Map<String, Value>,
    user: Option<&str>,
) -> HttpResponse {
    let mut guard = state.store.lock().expect("lock");
    let store = &mut *guard;
    let (register_id, schema_id) = match store.resolve(register, schema, "message") {
        Ok(ids) => ids,
        Err(response) => return response,
    };
    let Some(definition) = store.schemas.get(&schema_id) else {
        return HttpResponse::NotFound().finish();
    };
    let WriteBody { mut data, meta, id } = write_body(parameters);
    let cascading = cascading_properties(definition);
    if !cascading.is_empty() {
        let previous = id
            .as_deref()
            .and_then(|id| store.tables.get(&(register_id, schema_id))?.live(id))
            .map(|record| record.data.clone());
        cascade(
            store,
            register_id,
            &cascading,
            &mut data,
            previous.as_ref(),
            user,
        );
    }
    let Some(definition) = store.schemas.get(&schema_id) else {
        return HttpResponse::NotFound().finish();
    };
    if definition.hard_validation {
        let violations = validate(definition, &mut data, &[]);
        if !violations.is_empty() {
            return post_validation_error(&violations);
        }
    }
    let timestamp = now();
    let table = store.tables.entry((register_id, schema_id)).or_default();
    let existing = id
        .as_deref()
        .and_then(|id| table.records.get(id))
        .map(|record| record.deleted.is_some());
    let audit_enabled = state.audit_enabled();
    match (id, existing) {
        (Some(id), Some(false)) => {
            let Some(record) = table.records.get_mut(&id) else {
                return HttpResponse::InternalServerError().finish();
            };
            fill_missing(definition, &mut data);
            let changed = changes(&record.data, &data);
            let had_slug = record.slug.is_some();
            record.data = data;
            apply_meta(record, &meta);
            record.updated = timestamp;
            table.slugged = table.slugged + usize::from(record.slug.is_some()) - usize::from(had_slug);
            let record = record.clone();
            append_audit(
                &mut store.audit,
                audit_enabled,
                "update",
                (register_id, schema_id),
                &record,
                &id,
                changed,
                user,
            );
            let body = serialise(&state.origin, register_id, definition, &id, &record);
            HttpResponse::Created().json(body)
        }
        (Some(id), Some(true)) if !state.recreate_deleted.load(Ordering::SeqCst) => {
            HttpResponse::Forbidden().json(json!({"error": format!(
                "An exception occurred while executing a query: SQLSTATE[23505]: Unique violation: 7 ERROR:  duplicate key value violates unique constraint \"oc_openregister_table_{register_id}_{schema_id}_uuid_unique\" DETAIL:  Key (_uuid)=({id}) already exists."
            )}))
        }
        (id, _) => {
            let uuid = id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            if let Some(previous) = table.records.remove(&uuid) {
                // A soft-deleted row being recreated (only with `set_recreate_deleted`).
                table.order.remove(&previous.row);
                table.slugged -= usize::from(previous.slug.is_some());
            }
            store.next_row += 1;
            let record = Record {
                row: store.next_row,
                slug: slug_of(&meta, &data),
                owner: user.map(str::to_owned).or_else(|| {
                    meta.get("owner")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                }),
                organisation: meta
                    .get("organisation")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                created: timestamp.clone(),
                updated: timestamp,
                deleted: None,
                data,
            };
            let changed = changes(&Map::new(), &record.data);
            append_audit(
                &mut store.audit,
                audit_enabled,
                "create",
                (register_id, schema_id),
                &record,
                &uuid,
                changed,
                user,
            );
            let body = serialise(&state.origin, register_id, definition, &uuid, &record);
            table.order.insert(record.row, uuid.clone());
            table.slugged += usize::from(record.slug.is_some());
            table.records.insert(uuid, record);
            HttpResponse::Created().json(body)
        }
    }
}

/// A property OR 1.0 cascades (SaveObject::cascadeObjects, without `inversedBy`): an object,
/// or a list of them, with a `$ref` and `objectConfiguration.handling` "cascade".
struct Cascading {
    property: String,
    schema: String,
    list: bool,
}

fn cascading_properties(schema: &Schema) -> Vec<Cascading> {
    schema
        .properties
        .iter()
        .filter_map(|(name, definition)| {
            let list = definition.get("type").and_then(Value::as_str) == Some("array");
            let items = if list {
                definition.get("items")?
            } else {
                definition
            };
            let handling = |d: &Value| {
                d.pointer("/objectConfiguration/handling")
                    .and_then(Value::as_str)
                    == Some("cascade")
            };
            let reference = items
                .get("$ref")
                .or_else(|| definition.get("$ref"))?
                .as_str()?;
            let cascades = (handling(definition) || handling(items))
                && definition.get("inversedBy").is_none()
                && items.get("inversedBy").is_none();
            cascades.then(|| Cascading {
                property: name.clone(),
                // `#/components/schemas/status` or a slug: the last segment names the schema.
                schema: reference.rsplit('/').next().unwrap_or(reference).to_owned(),
                list,
            })
        })
        .collect()
}

/// Saves the inline objects of cascading properties as new objects of their schema (their
/// `id` dropped: without `inversedBy` OR always creates) and puts their uuids in their place;
/// the uuids a list held before and no longer holds are soft-deleted as orphans.
fn cascade(
    store: &mut Store,
    register_id: u64,
    cascading: &[Cascading],
    data: &mut Map<String, Value>,
    previous: Option<&Map<String, Value>>,
    user: Option<&str>,
) {
    for Cascading {
        property,
        schema,
        list,
    } in cascading
    {
        let Some(schema_id) = store.schema_id(schema) else {
            continue;
        };
        let inline: Vec<Map<String, Value>> = match data.get(property) {
            Some(Value::Object(object)) if !*list => vec![object.clone()],
            Some(Value::Array(items)) if *list => {
                items.iter().filter_map(Value::as_object).cloned().collect()
            }
            _ => continue,
        };
        let mut uuids = Vec::new();
        for mut object in inline {
            object.remove("id");
            object.remove("@self");
            let uuid = uuid::Uuid::new_v4().to_string();
            store.next_row += 1;
            let record = Record {
                row: store.next_row,
                data: object,
                owner: user.map(str::to_owned),
                organisation: None,
                slug: None,
                created: now(),
                updated: now(),
                deleted: None,
            };
            let table = store.tables.entry((register_id, schema_id)).or_default();
            table.order.insert(record.row, uuid.clone());
            table.records.insert(uuid.clone(), record);
            uuids.push(Value::String(uuid));
        }
        if *list {
            let old = previous
                .and_then(|p| p.get(property))
                .and_then(Value::as_array);
            let table = store.tables.entry((register_id, schema_id)).or_default();
            for orphan in old.into_iter().flatten().filter_map(Value::as_str) {
                if let Some(record) = table.records.get_mut(orphan) {
                    record.deleted = Some(
                        json!({"deletedBy": user.unwrap_or("system"), "deletedAt": now(), "objectId": orphan, "reason": "orphaned-related-object"}),
                    );
                }
            }
            data.insert(property.clone(), Value::Array(uuids));
        } else if let Some(uuid) = uuids.pop() {
            data.insert(property.clone(), uuid);
        }
    }
}

/// `@self.objects` of a single object shown with `_extend`: the live objects of its register
/// whose uuids its properties hold.
fn related_objects(
    state: &OpenRegisterState,
    store: &Store,
    register_id: u64,
    data: &Map<String, Value>,
) -> Value {
    let mut objects = Map::new();
    let uuids = data.values().flat_map(|value| match value {
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect::<Vec<_>>(),
        other => other.as_str().into_iter().collect(),
    });
    for uuid in uuids {
        let found = store.tables.iter().find_map(|((register, schema), table)| {
            (*register == register_id)
                .then(|| Some((*schema, table.live(uuid)?)))
                .flatten()
        });
        if let Some((schema_id, record)) = found {
            if let Some(schema) = store.schemas.get(&schema_id) {
                objects.insert(
                    uuid.to_owned(),
                    serialise(&state.origin, register_id, schema, uuid, record),
                );
            }
        }
    }
    Value::Object(objects)
}

/// The `@self` keys a write may set on an existing object: `owner`, `organisation`, `slug`.
fn apply_meta(record: &mut Record, meta: &Map<String, Value>) {
    if let Some(owner) = meta.get("owner").and_then(Value::as_str) {
        record.owner = Some(owner.to_owned());
    }
    if let Some(organisation) = meta.get("organisation").and_then(Value::as_str) {
        record.organisation = Some(organisation.to_owned());
    }
    if let Some(slug) = slug_of(meta, &record.data) {
        record.slug = Some(slug);
    }
}

/// PUT (`merge == false`: full replace) or PATCH / POST-on-id (`merge == true`: shallow merge
/// onto the stored data). Both answer 200; neither creates.
fn update(
    state: &OpenRegisterState,
    register: &str,
    schema: &str,
    key: &str,
    parameters: Map<String, Value>,
    user: Option<&str>,
    merge: bool,
) -> HttpResponse {
    let mut guard = state.store.lock().expect("lock");
    let store = &mut *guard;
    let message_key = if merge { "error" } else { "message" };
    let (register_id, schema_id) = match store.resolve(register, schema, message_key) {
        Ok(ids) => ids,
        Err(response) => return response,
    };
    let Some(definition) = store.schemas.get(&schema_id) else {
        return HttpResponse::NotFound().finish();
    };
    let not_found = || {
        let message = if merge {
            "Object not found"
        } else {
            "Not Found"
        };
        HttpResponse::NotFound().json(json!({"error": message}))
    };
    let Some(table) = store.tables.get_mut(&(register_id, schema_id)) else {
        return not_found();
    };
    let Some(uuid) = table.find_live(key) else {
        return not_found();
    };
    let Some(record) = table.records.get_mut(&uuid) else {
        return not_found();
    };
    let WriteBody {
        data: body, meta, ..
    } = write_body(parameters);
    // Nulls the server itself filled in on an earlier full replace are not the client's to
    // defend, so a merge does not validate them again.
    let mut kept_nulls: Vec<String> = Vec::new();
    let mut data = if merge {
        let mut merged = record.data.clone();
        kept_nulls = merged
            .iter()
            .filter(|(name, value)| value.is_null() && !body.contains_key(*name))
            .map(|(name, _)| name.clone())
            .collect();
        merged.extend(body);
        merged
    } else {
        body
    };
    if definition.hard_validation {
        let violations = validate(definition, &mut data, &kept_nulls);
        if !violations.is_empty() {
            return update_validation_error(&violations);
        }
    }
    fill_missing(definition, &mut data);
    let changed = changes(&record.data, &data);
    let had_slug = record.slug.is_some();
    record.data = data;
    apply_meta(record, &meta);
    record.updated = now();
    table.slugged = table.slugged + usize::from(record.slug.is_some()) - usize::from(had_slug);
    let record = record.clone();
    append_audit(
        &mut store.audit,
        state.audit_enabled(),
        "update",
        (register_id, schema_id),
        &record,
        &uuid,
        changed,
        user,
    );
    HttpResponse::Ok().json(serialise(
        &state.origin,
        register_id,
        definition,
        &uuid,
        &record,
    ))
}

/// Soft delete: 204, hidden afterwards; an absent (or already deleted) id is 403.
fn delete(
    state: &OpenRegisterState,
    register: &str,
    schema: &str,
    key: &str,
    user: Option<&str>,
) -> HttpResponse {
    let mut guard = state.store.lock().expect("lock");
    let store = &mut *guard;
    let (register_id, schema_id) = match store.resolve(register, schema, "message") {
        Ok(ids) => ids,
        Err(response) => return response,
    };
    let absent = || {
        HttpResponse::Forbidden().json(json!({
            "error": format!("Object with identifier '{key}' not found in any magic table")
        }))
    };
    let Some(table) = store.tables.get_mut(&(register_id, schema_id)) else {
        return absent();
    };
    let Some(uuid) = table.find_live(key) else {
        return absent();
    };
    let Some(record) = table.records.get_mut(&uuid) else {
        return absent();
    };
    record.deleted = Some(json!({
        "deletedBy": user,
        "deletedAt": now(),
        "objectId": uuid,
        "organisation": record.organisation,
    }));
    let record = record.clone();
    append_audit(
        &mut store.audit,
        state.audit_enabled(),
        "delete",
        (register_id, schema_id),
        &record,
        &uuid,
        json!({}),
        user,
    );
    HttpResponse::NoContent().finish()
}

fn wants_empty(query: &[(String, String)]) -> bool {
    query
        .iter()
        .any(|(k, v)| k == "_empty" && matches!(v.as_str(), "true" | "1"))
}

fn show(
    state: &OpenRegisterState,
    register: &str,
    schema: &str,
    key: &str,
    query: &[(String, String)],
) -> HttpResponse {
    let store = state.store.lock().expect("lock");
    let (register_id, schema_id) = match store.resolve(register, schema, "message") {
        Ok(ids) => ids,
        Err(response) => return response,
    };
    let found = store
        .tables
        .get(&(register_id, schema_id))
        .and_then(|table| {
            let uuid = table.find_live(key)?;
            let record = table.records.get(&uuid)?;
            Some((uuid, record))
        });
    let (Some((uuid, record)), Some(definition)) = (found, store.schemas.get(&schema_id)) else {
        return HttpResponse::NotFound().json(json!({"error": "Not Found"}));
    };
    let mut body = serialise(&state.origin, register_id, definition, &uuid, record);
    if query.iter().any(|(key, _)| key == "_extend") {
        body["@self"]["objects"] = related_objects(state, &store, register_id, &record.data);
    }
    HttpResponse::Ok().json(if wants_empty(query) {
        body
    } else {
        stripped(body)
    })
}

/// `GET /objects/{r}/{s}/{id}/audit-trails`, filtered on the object (as intended; the real
/// 1.0.1 route may come back unfiltered, spec §5).
fn object_audit(
    state: &OpenRegisterState,
    register: &str,
    schema: &str,
    key: &str,
    query: &[(String, String)],
) -> HttpResponse {
    let store = state.store.lock().expect("lock");
    if let Err(response) = store.resolve(register, schema, "message") {
        return response;
    }
    let entries: Vec<Value> = store
        .audit
        .iter()
        .filter(|entry| entry["objectUuid"] == key)
        .cloned()
        .collect();
    HttpResponse::Ok().json(audit_page(entries, query))
}

/// The audit envelope with `_limit`/`_offset`/`_page` and equality filters on entry fields.
fn audit_page(entries: Vec<Value>, query: &[(String, String)]) -> Value {
    let filters: Vec<(&str, &str)> = query
        .iter()
        .filter(|(k, _)| !k.starts_with('_') && !matches!(k.as_str(), "register" | "schema" | "id"))
        .map(|(k, v)| {
            let field = match k.as_str() {
                "object_uuid" => "objectUuid",
                "user_name" => "userName",
                other => other,
            };
            (field, v.as_str())
        })
        .collect();
    let matching: Vec<Value> = entries
        .into_iter()
        .filter(|entry| {
            filters.iter().all(|(field, wanted)| {
                entry
                    .get(*field)
                    .is_some_and(|value| scalar_text(value).eq_ignore_ascii_case(wanted))
            })
        })
        .collect();
    let paging = Paging::from_query(query, matching.len());
    let results: Vec<Value> = matching
        .into_iter()
        .skip(paging.offset)
        .take(paging.limit)
        .collect();
    json!({
        "results": results,
        "total": paging.total,
        "page": paging.page,
        "pages": paging.pages,
        "limit": paging.limit,
        "offset": paging.offset,
    })
}

fn deleted_list(state: &OpenRegisterState) -> HttpResponse {
    let store = state.store.lock().expect("lock");
    let mut results = Vec::new();
    for ((register, schema), table) in &store.tables {
        let Some(definition) = store.schemas.get(schema) else {
            continue;
        };
        for (uuid, record) in table.in_order() {
            if record.deleted.is_some() {
                results.push(serialise(
                    &state.origin,
                    *register,
                    definition,
                    uuid,
                    record,
                ));
            }
        }
    }
    let total = results.len();
    HttpResponse::Ok().json(json!({"results": results, "total": total}))
}

/// `POST /deleted/{id}/restore`: the soft-deleted object comes back.
fn restore(state: &OpenRegisterState, uuid: &str) -> HttpResponse {
    let mut store = state.store.lock().expect("lock");
    for table in store.tables.values_mut() {
        if let Some(record) = table.records.get_mut(uuid) {
            if record.deleted.is_some() {
                record.deleted = None;
                record.updated = now();
                return HttpResponse::Ok().json(json!({"success": true, "id": uuid}));
            }
        }
    }
    HttpResponse::NotFound().json(json!({"error": "Object not found"}))
}

/// `DELETE /deleted/{id}`: the hard delete of a soft-deleted object.
fn purge(state: &OpenRegisterState, uuid: &str) -> HttpResponse {
    let mut store = state.store.lock().expect("lock");
    for table in store.tables.values_mut() {
        if table.records.get(uuid).is_some_and(|r| r.deleted.is_some()) {
            if let Some(record) = table.records.remove(uuid) {
                table.order.remove(&record.row);
                table.slugged -= usize::from(record.slug.is_some());
            }
            return HttpResponse::Ok().json(json!({"success": true, "id": uuid}));
        }
    }
    HttpResponse::NotFound().json(json!({"error": "Object not found"}))
}

fn register_json(register: &Register) -> Value {
    json!({
        "id": register.id, "uuid": register.uuid, "slug": register.slug, "title": register.slug,
        "version": "0.0.1", "description": null, "schemas": [], "source": "internal",
        "tablePrefix": null, "folder": null, "updated": register.created,
        "created": register.created, "owner": null, "application": null, "organisation": null,
        "authorization": null, "groups": [], "configuration": null, "deleted": null,
    })
}

fn schema_json(schema: &Schema) -> Value {
    json!({
        "id": schema.id, "uuid": schema.uuid, "uri": null, "slug": schema.slug,
        "title": schema.title, "description": null, "version": "0.0.1", "summary": null,
        "icon": null, "required": schema.required, "properties": schema.properties,
        "archive": [], "source": null, "hardValidation": schema.hard_validation,
        "immutable": false, "searchable": true, "updated": schema.created,
        "created": schema.created, "maxDepth": 0, "owner": null, "application": null,
        "organisation": null, "groups": [], "authorization": null, "deleted": null,
        "configuration": schema.configuration, "@self": {"extendedBy": []},
    })
}

/// The read shape (§2.1): the data, then `id`, then `@self`. Unstripped, as writes answer.
fn serialise(origin: &str, register: u64, schema: &Schema, uuid: &str, record: &Record) -> Value {
    let mut object = record.data.clone();
    object.insert("id".to_owned(), Value::String(uuid.to_owned()));
    let name = schema
        .name_field()
        .and_then(|field| record.data.get(field))
        .filter(|value| !value.is_null())
        .cloned()
        .unwrap_or_else(|| Value::String(uuid.to_owned()));
    object.insert(
        "@self".to_owned(),
        json!({
            "id": uuid,
            "slug": record.slug,
            "name": name,
            // An oddity of OR 1.0: the description falls back to the internal row id.
            "description": record.row,
            "summary": null,
            "image": null,
            "uri": format!("{origin}{API_PATH}/objects/{register}/{}/{uuid}", schema.id),
            "version": null,
            "register": register.to_string(),
            "schema": schema.id.to_string(),
            "schemaVersion": null,
            "files": [],
            "relations": [],
            "locked": null,
            "owner": record.owner,
            "organisation": record.organisation,
            "groups": [],
            "authorization": [],
            "folder": null,
            "application": null,
            "validation": [],
            "geo": [],
            "retention": [],
            "tmlo": [],
            "size": null,
            "updated": record.updated,
            "created": record.created,
            "deleted": record.deleted.clone().unwrap_or_else(|| json!([])),
            "source": null,
        }),
    );
    Value::Object(object)
}

/// GET's stripping: null, "", [] and {} go, recursively (even in `@self`).
fn strip_empty(value: Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::String(text) if text.is_empty() => None,
        Value::Array(items) => {
            let kept: Vec<Value> = items.into_iter().filter_map(strip_empty).collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        Value::Object(fields) => {
            let kept: Map<String, Value> = fields
                .into_iter()
                .filter_map(|(k, v)| strip_empty(v).map(|v| (k, v)))
                .collect();
            (!kept.is_empty()).then_some(Value::Object(kept))
        }
        other => Some(other),
    }
}

fn stripped(value: Value) -> Value {
    strip_empty(value).unwrap_or_else(|| json!({}))
}

/// Paging as OpenRegister computes it: `_limit` (20), `_offset`, or `_page` (offset derived).
struct Paging {
    total: usize,
    limit: usize,
    offset: usize,
    page: usize,
    pages: usize,
}

impl Paging {
    fn from_query(query: &[(String, String)], total: usize) -> Self {
        let number = |name: &str| {
            query
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        };
        let limit = number("_limit").unwrap_or(20);
        let (offset, page) = match (number("_offset"), number("_page")) {
            (Some(offset), _) => (offset, offset.checked_div(limit).map_or(1, |p| p + 1)),
            (None, Some(page)) => {
                let page = page.max(1);
                ((page - 1) * limit, page)
            }
            (None, None) => (0, 1),
        };
        let pages = if limit > 0 {
            total.div_ceil(limit).max(1)
        } else {
            1
        };
        Self {
            total,
            limit,
            offset,
            page,
            pages,
        }
    }
}

/// What a list filter looks at.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    /// A property, as a dot path.
    Property(Vec<String>),
    /// An `@self` field: `uuid`, `owner`, `organisation`, `created`, `updated`, `slug`.
    Metadata(String),
}

const METADATA_FIELDS: [&str; 7] = [
    "id",
    "uuid",
    "owner",
    "organisation",
    "created",
    "updated",
    "slug",
];

fn metadata(field: &str, uuid: &str, record: &Record) -> Value {
    match field {
        "id" | "uuid" => Value::String(uuid.to_owned()),
        "owner" => json!(record.owner),
        "organisation" => json!(record.organisation),
        "created" => Value::String(record.created.clone()),
        "updated" => Value::String(record.updated.clone()),
        "slug" => json!(record.slug),
        _ => Value::Null,
    }
}

fn property<'a>(data: &'a Map<String, Value>, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    rest.iter()
        .try_fold(data.get(first)?, |value, key| value.get(key.as_str()))
}

fn target_value(target: &Target, uuid: &str, record: &Record) -> Value {
    match target {
        Target::Property(path) => property(&record.data, path).cloned().unwrap_or(Value::Null),
        Target::Metadata(field) => metadata(field, uuid, record),
    }
}

/// A scalar as the text a query string would carry.
fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "null".to_owned(),
        other => other.to_string(),
    }
}

fn compare_text(actual: &str, wanted: &str) -> std::cmp::Ordering {
    match (actual.parse::<f64>(), wanted.parse::<f64>()) {
        (Ok(a), Ok(b)) => a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal),
        _ => actual.cmp(wanted),
    }
}

/// One filter condition: `prop=v` (case-insensitive equality), `prop[]=a&prop[]=b` (OR) and the
/// operators `ne gt gte lt lte ~ ^ $ === exists empty null`.
fn matches_filter(actual: &Value, operator: &str, wanted: &[String]) -> bool {
    use std::cmp::Ordering::{Greater, Less};
    let present = !actual.is_null();
    let empty = match actual {
        Value::Null => true,
        Value::String(text) => text.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(fields) => fields.is_empty(),
        _ => false,
    };
    let truthy = |text: &str| matches!(text, "true" | "1" | "yes");
    let scalars: Vec<String> = match actual {
        Value::Array(items) => items.iter().map(scalar_text).collect(),
        other => vec![scalar_text(other)],
    };
    wanted.iter().any(|wanted| {
        let wanted_lower = wanted.to_lowercase();
        match operator {
            "exists" => present == truthy(wanted),
            "empty" => empty == truthy(wanted),
            "null" => actual.is_null() == truthy(wanted),
            "ne" => present && scalars.iter().all(|a| !a.eq_ignore_ascii_case(wanted)),
            "gt" => present && scalars.iter().any(|a| compare_text(a, wanted) == Greater),
            "gte" => present && scalars.iter().any(|a| compare_text(a, wanted) != Less),
            "lt" => present && scalars.iter().any(|a| compare_text(a, wanted) == Less),
            "lte" => present && scalars.iter().any(|a| compare_text(a, wanted) != Greater),
            "~" => scalars
                .iter()
                .any(|a| a.to_lowercase().contains(&wanted_lower)),
            "^" => scalars
                .iter()
                .any(|a| a.to_lowercase().starts_with(&wanted_lower)),
            "$" => scalars
                .iter()
                .any(|a| a.to_lowercase().ends_with(&wanted_lower)),
            "===" => scalars.iter().any(|a| a == wanted),
            _ => {
                present && scalars.iter().any(|a| a.eq_ignore_ascii_case(wanted))
                    || !present && wanted_lower == "null"
            }
        }
    })
}

/// `name`, `name[]`, `name[op]` → (name, operator, is-list).
fn split_filter_key(key: &str) -> (&str, &str) {
    match key.split_once('[') {
        Some((name, rest)) => {
            let operator = rest.trim_end_matches(']');
            (name, if operator.is_empty() { "eq" } else { operator })
        }
        None => (key, "eq"),
    }
}

/// Ordering of two values: null and absent first, numbers numerically, the rest as text.
fn compare_values(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering::{Equal, Greater, Less};
    match (a, b) {
        (Value::Null, Value::Null) => Equal,
        (Value::Null, _) => Less,
        (_, Value::Null) => Greater,
        (Value::Number(x), Value::Number(y)) => {
            x.as_f64().partial_cmp(&y.as_f64()).unwrap_or(Equal)
        }
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => scalar_text(a).cmp(&scalar_text(b)),
    }
}

/// Any string in `value` (recursively) contains `needle` (lowercase).
fn contains_text(value: &Value, needle: &str) -> bool {
    match value {
        Value::String(text) => text.to_lowercase().contains(needle),
        Value::Array(items) => items.iter().any(|v| contains_text(v, needle)),
        Value::Object(fields) => fields.values().any(|v| contains_text(v, needle)),
        _ => false,
    }
}

fn order_target(name: &str) -> Target {
    match name.strip_prefix("@self.") {
        Some(field) => Target::Metadata(field.to_owned()),
        None => Target::Property(name.split('.').map(str::to_owned).collect()),
    }
}

/// `GET /objects/{r}/{s}`: the database-path envelope.
fn list(
    state: &OpenRegisterState,
    register: &str,
    schema: &str,
    query: &[(String, String)],
) -> HttpResponse {
    let store = state.store.lock().expect("lock");
    let (register_id, schema_id) = match store.resolve(register, schema, "message") {
        Ok(ids) => ids,
        Err(response) => return response,
    };
    let Some(definition) = store.schemas.get(&schema_id) else {
        return HttpResponse::NotFound().finish();
    };
    let mut filters: BTreeMap<(Target, String), Vec<String>> = BTreeMap::new();
    let mut ignored: Vec<String> = Vec::new();
    let mut orders: Vec<(Target, bool)> = Vec::new();
    let mut search: Option<String> = None;
    for (key, value) in query {
        if let Some(rest) = key.strip_prefix("_order") {
            if rest.is_empty() {
                // `_order={"prop":"asc"}`.
                if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(value) {
                    for (name, direction) in fields {
                        let descending = direction
                            .as_str()
                            .is_some_and(|d| d.eq_ignore_ascii_case("desc"));
                        orders.push((order_target(&name), descending));
                    }
                }
            } else {
                let name = rest.trim_start_matches('[').trim_end_matches(']');
                orders.push((order_target(name), value.eq_ignore_ascii_case("desc")));
            }
            continue;
        }
        if key == "_search" {
            search = Some(value.to_lowercase()).filter(|s| !s.is_empty());
            continue;
        }
        if key.starts_with('_') {
            continue;
        }
        if let Some(rest) = key.strip_prefix("@self[") {
            // `@self[field]=v` or `@self[field][op]=v`.
            let (field, operator) = match rest.split_once("][") {
                Some((field, operator)) => (field, operator.trim_end_matches(']')),
                None => (rest.trim_end_matches(']'), "eq"),
            };
            filters
                .entry((Target::Metadata(field.to_owned()), operator.to_owned()))
                .or_default()
                .push(value.clone());
            continue;
        }
        let (name, operator) = split_filter_key(key);
        if METADATA_FIELDS.contains(&name) && !definition.properties.contains_key(name) {
            filters
                .entry((Target::Metadata(name.to_owned()), operator.to_owned()))
                .or_default()
                .push(value.clone());
            continue;
        }
        // A quirk of OR's parser: an inner `_` means a dot path (`origin_id` → `origin.id`).
        let path: Vec<String> = name
            .replace('_', ".")
            .split('.')
            .map(str::to_owned)
            .collect();
        let known = path
            .first()
            .is_some_and(|root| definition.properties.contains_key(root));
        if known {
            filters
                .entry((Target::Property(path), operator.to_owned()))
                .or_default()
                .push(value.clone());
        } else {
            ignored.push(name.to_owned());
        }
    }
    let mut own = json!({"source": "database"});
    let mut matching: Vec<(&String, &Record)> = Vec::new();
    if ignored.is_empty() {
        if let Some(table) = store.tables.get(&(register_id, schema_id)) {
            matching = table
                .in_order()
                .filter(|(_, record)| record.deleted.is_none())
                .filter(|(uuid, record)| {
                    filters.iter().all(|((target, operator), wanted)| {
                        matches_filter(&target_value(target, uuid, record), operator, wanted)
                    })
                })
                .filter(|(_, record)| {
                    search
                        .as_deref()
                        .is_none_or(|needle| record.data.values().any(|v| contains_text(v, needle)))
                })
                .collect();
        }
    } else {
        let looks_like_control = ignored.iter().any(|name| {
            matches!(
                name.as_str(),
                "limit" | "offset" | "page" | "order" | "search" | "sort"
            )
        });
        own["ignoredFilters"] = json!(ignored);
        if looks_like_control {
            own["hint"] = json!(
                "Control parameters need a leading underscore, e.g. _limit, _offset, _page, _order, _search."
            );
        }
    }
    if !orders.is_empty() {
        matching.sort_by(|(uuid_a, a), (uuid_b, b)| {
            orders
                .iter()
                .map(|(target, descending)| {
                    let ordering = compare_values(
                        &target_value(target, uuid_a, a),
                        &target_value(target, uuid_b, b),
                    );
                    if *descending {
                        ordering.reverse()
                    } else {
                        ordering
                    }
                })
                .find(|ordering| ordering.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
    }
    let paging = Paging::from_query(query, matching.len());
    let keep_empty = wants_empty(query);
    let results: Vec<Value> = matching
        .into_iter()
        .skip(paging.offset)
        .take(paging.limit)
        .map(|(uuid, record)| {
            let object = serialise(&state.origin, register_id, definition, uuid, record);
            if keep_empty { object } else { stripped(object) }
        })
        .collect();
    HttpResponse::Ok().json(json!({
        "results": results,
        "total": paging.total,
        "page": paging.page,
        "pages": paging.pages,
        "limit": paging.limit,
        "offset": paging.offset,
        "facets": [],
        "@self": own,
    }))
}

/// One validation failure: the JSON pointer, Opis' message for it, OpenRegister's friendly text.
#[derive(Debug, Clone)]
struct Violation {
    pointer: String,
    detail: String,
    friendly: String,
}

/// Loosely a date-time PHP would parse: RFC 3339, or ISO without offset, or a plain date.
fn parses_as_datetime(text: &str) -> bool {
    DateTime::parse_from_rfc3339(text).is_ok()
        || NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
        || NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").is_ok()
        || NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
}

/// OpenRegister's normalisation before validating (stored as normalised): `date` values cut to
/// `Y-m-d`, unparsable `date-time` values and empty dates become null.
fn normalise_dates(definition: &Value, value: &mut Value) {
    let Value::String(text) = value else {
        return;
    };
    match definition.get("format").and_then(Value::as_str) {
        Some("date") if text.is_empty() => *value = Value::Null,
        Some("date") if text.len() > 10 && parses_as_datetime(text) => {
            *value = text
                .get(..10)
                .map_or(Value::Null, |day| Value::String(day.to_owned()));
        }
        Some("date-time") if !parses_as_datetime(text) => *value = Value::Null,
        _ => {}
    }
}

/// The JSON Schema type name of a value, as Opis reports it.
fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_matches(wanted: &str, value: &Value) -> bool {
    match (wanted, value) {
        ("integer", Value::Number(n)) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        ("number", Value::Number(_)) => true,
        _ => wanted == type_of(value),
    }
}

const JSON_TYPES: [&str; 7] = [
    "string", "integer", "number", "boolean", "object", "array", "null",
];

fn enum_without_null(definition: &Value) -> bool {
    definition
        .get("enum")
        .and_then(Value::as_array)
        .is_some_and(|values| !values.contains(&Value::Null))
}

/// Optional properties lose `""`, and `[]` when the array has no item-count constraints.
fn dropped_when_optional(definition: &Value, value: &Value) -> bool {
    match value {
        Value::String(text) => text.is_empty(),
        Value::Array(items) => {
            items.is_empty()
                && ["minItems", "maxItems", "uniqueItems"]
                    .iter()
                    .all(|k| definition.get(k).is_none())
        }
        _ => false,
    }
}

/// Validates `data` against the schema with OpenRegister's relaxations (§2.4): only the
/// schema-level `required` counts, optional properties are nullable (except enums without
/// null), `""` and unconstrained `[]` on optional properties are skipped, extra properties are
/// fine. Normalises dates in `data` first. `kept_nulls` are unchecked when still null.
fn validate(
    schema: &Schema,
    data: &mut Map<String, Value>,
    kept_nulls: &[String],
) -> Vec<Violation> {
    let mut found = Vec::new();
    for (name, definition) in &schema.properties {
        if let Some(value) = data.get_mut(name) {
            normalise_dates(definition, value);
        }
    }
    for name in &schema.required {
        if !data.contains_key(name) {
            found.push(Violation {
                pointer: "/".to_owned(),
                detail: format!("The required properties ({name}) are missing"),
                friendly: format!(
                    "The required property ({name}) is missing. Please provide a value for this property or set it to null if allowed."
                ),
            });
        }
    }
    for (name, definition) in &schema.properties {
        let Some(value) = data.get(name) else {
            continue;
        };
        let required = schema.required.contains(name);
        if !required && dropped_when_optional(definition, value)
            || value.is_null() && kept_nulls.contains(name)
        {
            continue;
        }
        let nullable = !required && !enum_without_null(definition);
        check(
            name,
            definition,
            value,
            nullable,
            &format!("/{name}"),
            &mut found,
        );
    }
    found
}

fn number_of(definition: &Value, keyword: &str) -> Option<f64> {
    definition.get(keyword).and_then(Value::as_f64)
}

/// The subset of JSON Schema the stand-in checks: `type`, `enum`, `minLength`, `maxLength`,
/// `pattern`, `format` (date, date-time, email, uuid), `minimum`, `maximum`, `minItems`,
/// `maxItems`, `items`, and nested `properties` with `required` (array or per property).
fn check(
    name: &str,
    definition: &Value,
    value: &Value,
    nullable: bool,
    pointer: &str,
    found: &mut Vec<Violation>,
) {
    if value.is_null() && nullable {
        return;
    }
    let mut fail = |detail: String, friendly: String| {
        found.push(Violation {
            pointer: pointer.to_owned(),
            detail,
            friendly,
        });
    };
    let mut types: Vec<&str> = match definition.get("type") {
        Some(Value::String(single)) => vec![single.as_str()],
        Some(Value::Array(several)) => several.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    // OpenRegister's own types (file, NcFile, …) are not JSON Schema; leave them unchecked.
    if types.iter().any(|t| !JSON_TYPES.contains(t)) {
        types.clear();
    }
    if nullable && !types.is_empty() && !types.contains(&"null") {
        types.push("null");
    }
    if !types.is_empty() && !types.iter().any(|t| type_matches(t, value)) {
        let actual = type_of(value);
        fail(
            format!(
                "The data ({actual}) must match the type: {}",
                types.join(", ")
            ),
            format!(
                "Property '{name}' should be type '{}' but is '{actual}'. Please provide a value of the correct type.",
                types.join(" or ")
            ),
        );
        return;
    }
    if let Some(allowed) = definition.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            let listed: Vec<String> = allowed.iter().map(scalar_text).collect();
            fail(
                "The data should match one item from enum".to_owned(),
                format!(
                    "Property '{name}' should be one of: {}. Please provide one of the allowed values.",
                    listed.join(", ")
                ),
            );
            return;
        }
    }
    match value {
        Value::String(text) => {
            let length = text.chars().count() as f64;
            if let Some(min) = number_of(definition, "minLength").filter(|min| length < *min) {
                fail(
                    format!("Minimum string length is {min}, found {length}"),
                    format!("Property '{name}' should have at least {min} characters."),
                );
            }
            if let Some(max) = number_of(definition, "maxLength").filter(|max| length > *max) {
                fail(
                    format!("Maximum string length is {max}, found {length}"),
                    format!("Property '{name}' should have at most {max} characters."),
                );
            }
            if let Some(pattern) = definition.get("pattern").and_then(Value::as_str) {
                let matched = regex::Regex::new(pattern).map_or(true, |re| re.is_match(text));
                if !matched {
                    fail(
                        format!("The string should match pattern: {pattern}"),
                        format!("Property '{name}' should match the pattern '{pattern}'."),
                    );
                }
            }
            let format = definition.get("format").and_then(Value::as_str);
            let format_ok = match format {
                Some("date") => NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok(),
                Some("date-time") => parses_as_datetime(text),
                Some("email") => text
                    .split_once('@')
                    .is_some_and(|(l, d)| !l.is_empty() && d.contains('.')),
                Some("uuid") => uuid::Uuid::parse_str(text).is_ok(),
                _ => true,
            };
            if !format_ok {
                let format = format.unwrap_or_default();
                fail(
                    format!("The data must match the '{format}' format"),
                    format!("Property '{name}' should match the format '{format}'."),
                );
            }
        }
        Value::Number(number) => {
            let number = number.as_f64().unwrap_or_default();
            if let Some(min) = number_of(definition, "minimum").filter(|min| number < *min) {
                fail(
                    format!("Number must be greater than or equal to {min}"),
                    format!("Property '{name}' should be at least {min}."),
                );
            }
            if let Some(max) = number_of(definition, "maximum").filter(|max| number > *max) {
                fail(
                    format!("Number must be lower than or equal to {max}"),
                    format!("Property '{name}' should be at most {max}."),
                );
            }
        }
        Value::Array(items) => {
            let count = items.len() as f64;
            if let Some(min) = number_of(definition, "minItems").filter(|min| count < *min) {
                fail(
                    format!("Array should have at least {min} items, {count} found"),
                    format!("Property '{name}' should have at least {min} items."),
                );
            }
            if let Some(max) = number_of(definition, "maxItems").filter(|max| count > *max) {
                fail(
                    format!("Array should have at most {max} items, {count} found"),
                    format!("Property '{name}' should have at most {max} items."),
                );
            }
            if let Some(item) = definition.get("items").filter(|item| item.is_object()) {
                for (index, element) in items.iter().enumerate() {
                    check(
                        name,
                        item,
                        element,
                        false,
                        &format!("{pointer}/{index}"),
                        found,
                    );
                }
            }
        }
        Value::Object(fields) => {
            let Some(properties) = definition.get("properties").and_then(Value::as_object) else {
                return;
            };
            let listed: Vec<&str> = definition
                .get("required")
                .and_then(Value::as_array)
                .map(|names| names.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for (child, child_definition) in properties {
                let required = listed.contains(&child.as_str())
                    || child_definition.get("required") == Some(&Value::Bool(true));
                let child_pointer = format!("{pointer}/{child}");
                match fields.get(child) {
                    None if required => found.push(Violation {
                        pointer: pointer.to_owned(),
                        detail: format!("The required properties ({child}) are missing"),
                        friendly: format!(
                            "The required property ({name}.{child}) is missing. Please provide a value for this property or set it to null if allowed."
                        ),
                    }),
                    None => {}
                    Some(child_value) => check(
                        &format!("{name}.{child}"),
                        child_definition,
                        child_value,
                        !required,
                        &child_pointer,
                        found,
                    ),
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::read;
    use reqwest::Method;

    /// A running stand-in with register 1 "publications" and schema 3 "publication"
    /// (`title` required, `originId`, `count` integer, `status` enum, `published` date-time).
    async fn fake() -> OpenRegister {
        let fake = OpenRegister::start().await;
        fake.add_register(1, "publications");
        fake.add_schema(
            3,
            "publication",
            json!({
                "properties": {
                    "title": {"type": "string", "maxLength": 255},
                    "originId": {"type": "string"},
                    "count": {"type": "integer"},
                    "status": {"type": "string", "enum": ["draft", "final"]},
                    "published": {"type": "string", "format": "date-time"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["title"],
                "configuration": {"objectNameField": "title"},
            }),
            true,
        );
        fake
    }

    /// A request as the `sync` user (`auth`) or anonymously, with an optional JSON body.
    async fn call(
        fake: &OpenRegister,
        method: Method,
        path: &str,
        body: Option<Value>,
        auth: bool,
    ) -> (u16, Value) {
        let client = reqwest::Client::new();
        let mut request = client.request(method, format!("{}{path}", fake.base));
        if auth {
            request = request.basic_auth(USER, Some(APP_PASSWORD));
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(request.send().await.expect("the stand-in answers")).await
    }

    const OBJECTS: &str = "/objects/1/3";
    const ID: &str = "0b6c1e0e-5a1e-4c9e-9a43-1f3f8b7f2c11";

    #[tokio::test]
    async fn openregister_upsert_with_id_answers_201_twice_and_keeps_one_object() {
        let fake = fake().await;
        let (status, first) = call(
            &fake,
            Method::POST,
            OBJECTS,
            Some(json!({"id": ID, "title": "One", "count": 1, "_helper": 1, "@type": "x", "uuid": "u"})),
            true,
        )
        .await;
        assert_eq!(status, 201, "{first}");
        assert_eq!(first["id"], ID);
        assert_eq!(first["@self"]["register"], "1");
        assert_eq!(first["@self"]["schema"], "3");
        assert_eq!(first["@self"]["owner"], USER);
        assert_eq!(first["@self"]["name"], "One");
        assert!(first.get("_helper").is_none() && first.get("@type").is_none());
        assert!(first.get("uuid").is_none());
        // Write answers are not stripped.
        assert!(first["@self"]["organisation"].is_null());
        assert!(first["@self"].get("organisation").is_some());

        let (status, second) = call(
            &fake,
            Method::POST,
            OBJECTS,
            Some(json!({"@self": {"id": ID}, "title": "Two"})),
            true,
        )
        .await;
        assert_eq!(status, 201, "{second}");
        // A full replace: `count` is gone (null), `created` kept.
        assert_eq!(second["title"], "Two");
        assert!(second["count"].is_null());
        assert_eq!(second["@self"]["created"], first["@self"]["created"]);

        let objects = fake.objects(1, 3);
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0]["title"], "Two");
        assert!(objects[0].get("count").is_none(), "GET strips nulls");
        let actions: Vec<Value> = fake.audit().iter().map(|e| e["action"].clone()).collect();
        assert_eq!(actions, vec![json!("create"), json!("update")]);
        assert_eq!(
            fake.audit()[1]["changed"]["title"],
            json!({"old": "One", "new": "Two"})
        );

        // Without an id a v4 is generated.
        let (status, created) = call(
            &fake,
            Method::POST,
            OBJECTS,
            Some(json!({"title": "Three"})),
            false,
        )
        .await;
        assert_eq!(status, 201);
        let generated =
            uuid::Uuid::parse_str(created["id"].as_str().expect("an id")).expect("a UUID");
        assert_eq!(generated.get_version_num(), 4);
        assert!(
            created["@self"]["owner"].is_null(),
            "anonymous creates have no owner"
        );
        assert_eq!(fake.audit()[2]["user"], "System");
    }

    #[tokio::test]
    async fn openregister_put_on_an_absent_object_is_404_and_patch_merges() {
        let fake = fake().await;
        let (status, body) = call(
            &fake,
            Method::PUT,
            &format!("{OBJECTS}/{ID}"),
            Some(json!({"title": "x"})),
            true,
        )
        .await;
        assert_eq!((status, body), (404, json!({"error": "Not Found"})));
        let (status, body) = call(
            &fake,
            Method::PATCH,
            &format!("{OBJECTS}/{ID}"),
            Some(json!({"title": "x"})),
            true,
        )
        .await;
        assert_eq!((status, body), (404, json!({"error": "Object not found"})));
        assert!(fake.object(1, 3, ID).is_none());

        call(
            &fake,
            Method::POST,
            OBJECTS,
            Some(json!({"id": ID, "title": "A", "count": 2})),
            true,
        )
        .await;
        let (status, patched) = call(
            &fake,
            Method::PATCH,
            &format!("{OBJECTS}/{ID}"),
            Some(json!({"originId": "ext-1"})),
            true,
        )
        .await;
        assert_eq!(status, 200, "{patched}");
        assert_eq!(
            (&patched["title"], &patched["count"]),
            (&json!("A"), &json!(2))
        );
        // POST-on-id merges too, and is public.
        let (status, merged) = call(
            &fake,
            Method::POST,
            &format!("{OBJECTS}/{ID}"),
            Some(json!({"count": 3})),
            false,
        )
        .await;
        assert_eq!(status, 200, "{merged}");
        assert_eq!(merged["originId"], "ext-1");
        let (status, replaced) = call(
            &fake,
            Method::PUT,
            &format!("{OBJECTS}/{ID}"),
            Some(json!({"title": "B"})),
            true,
        )
        .await;
        assert_eq!(status, 200);
        assert!(replaced["count"].is_null() && replaced["originId"].is_null());
        // A PUT validation failure has the envelope.
        let (status, body) = call(
            &fake,
            Method::PUT,
            &format!("{OBJECTS}/{ID}"),
            Some(json!({"title": "B", "count": "three"})),
            true,
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(body["status"], "error");
        assert_eq!(body["message"], "Validation failed");
        assert_eq!(
            body["errors"][0]["errors"]["/count"],
            json!(["The data (string) must match the type: integer, null"])
        );
        assert_eq!(
            body["errors"][0]["message"],
            "Property 'count' should be type 'integer or null' but is 'string'. Please provide a value of the correct type."
        );
    }

    #[tokio::test]
    async fn openregister_delete_of_an_absent_object_is_403() {
        let fake = fake().await;
        let (status, body) = call(
            &fake,
            Method::DELETE,
            &format!("{OBJECTS}/{ID}"),
            None,
            true,
        )
        .await;
        assert_eq!(status, 403);
        assert_eq!(
            body,
            json!({"error": format!("Object with identifier '{ID}' not found in any magic table")})
        );
    }

    #[tokio::test]
    async fn openregister_soft_deleted_objects_are_hidden() {
        let fake = fake().await;
        call(
            &fake,
            Method::POST,
            OBJECTS,
            Some(json!({"id": ID, "title": "Gone"})),
            true,
        )
        .await;
        call(
            &fake,
            Method::POST,
            OBJECTS,
            Some(json!({"title": "Stays"})),
            true,
        )
        .await;
        let (status, body) = call(
            &fake,
            Method::DELETE,
            &format!("{OBJECTS}/{ID}"),
            None,
            true,
        )
        .await;
        assert_eq!((status, body), (204, Value::Null));
        let (status, _) = call(&fake, Method::GET, &format!("{OBJECTS}/{ID}"), None, true).await;
        assert_eq!(status, 404);
        let (_, list) = call(&fake, Method::GET, OBJECTS, None, false).await;
        assert_eq!(list["total"], 1);
        assert_eq!(list["results"][0]["title"], "Stays");
        assert!(fake.object(1, 3, ID).is_none());
        assert_eq!(fake.objects(1, 3).len(), 1);
        assert_eq!(fake.deleted_ids(1, 3), vec![ID.to_owned()]);
        // A second delete finds nothing; a re-POST clashes on the unique index.
        let (status, _) = call(
            &fake,
            Method::DELETE,
            &format!("{OBJECTS}/{ID}"),
            None,
            true,
        )
        .await;
        assert_eq!(status, 403);
        let (status, body) = call(
            &fake,
            Method::POST,
            OBJECTS,
            Some(json!({"id": ID, "title": "Again"})),
            true,
        )
        .await;
        assert_eq!(status, 403);
        assert!(body["error"].as_str().is_some_and(|e| e.contains("unique")));
        // Purging (the hard delete) frees the UUID.
        let (status, _) = call(&fake, Method::DELETE, &format!("/deleted/{ID}"), None, true).await;
        assert_eq!(status, 200);
        let (status, _) = call(
            &fake,
            Method::POST,
            OBJECTS,
            Some(json!({"id": ID, "title": "Again"})),
            true,
        )
        .await;
        assert_eq!(status, 201);
        assert_eq!(
            fake.audit()
                .iter()
                .filter(|e| e["action"] == "delete")
                .count(),
            1
        );
    }

    #[tokio::test]
    async fn openregister_post_validation_failure_is_400_with_a_string() {
        let fake = fake().await;
        let (status, body) = call(
            &fake,
            Method::POST,
            OBJECTS,
            Some(json!({"count": 1})),
            true,
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(
            body,
            json!(
                "The required property (title) is missing. Please provide a value for this property or set it to null if allowed."
            )
        );
        let (status, body) = call(
            &fake,
            Method::POST,
            OBJECTS,
            Some(json!({"title": "T", "status": "other"})),
            true,
        )
        .await;
        assert_eq!(status, 400);
        assert!(body.is_string());
        // Relaxations: optional nulls, "" on optional, extra properties, unparsable date-time.
        let (status, body) = call(
            &fake,
            Method::POST,
            OBJECTS,
            Some(
                json!({"title": "T", "count": null, "originId": "", "extra": {"a": 1},
                "published": "not a date", "tags": []}),
            ),
            true,
        )
        .await;
        assert_eq!(status, 201, "{body}");
        assert!(body["published"].is_null());
        assert!(
            fake.objects(1, 3)
                .iter()
                .all(|o| o.get("originId").is_none())
        );
        // A schema without hard validation takes anything.
        fake.add_schema(
            4,
            "loose",
            json!({"properties": {"n": {"type": "integer"}}, "required": ["n"]}),
            false,
        );
        let (status, _) = call(
            &fake,
            Method::POST,
            "/objects/1/loose",
            Some(json!({"n": "x"})),
            false,
        )
        .await;
        assert_eq!(status, 201);
    }

    #[tokio::test]
    async fn openregister_anonymous_delete_is_401() {
        let fake = fake().await;
        call(
            &fake,
            Method::POST,
            OBJECTS,
            Some(json!({"id": ID, "title": "T"})),
            false,
        )
        .await;
        let unauthorised = json!({"message": "Current user is not logged in"});
        for method in [Method::DELETE, Method::PUT, Method::PATCH] {
            let (status, body) = call(
                &fake,
                method.clone(),
                &format!("{OBJECTS}/{ID}"),
                Some(json!({})),
                false,
            )
            .await;
            assert_eq!((status, &body), (401, &unauthorised), "{method}");
        }
        // A wrong app password is anonymous too; registers need a login.
        let response = reqwest::Client::new()
            .delete(format!("{}{OBJECTS}/{ID}", fake.base))
            .basic_auth(USER, Some("wrong"))
            .send()
            .await
            .expect("answers");
        assert_eq!(response.status().as_u16(), 401);
        let (status, _) = call(&fake, Method::GET, "/registers", None, false).await;
        assert_eq!(status, 401);
        let (status, registers) = call(&fake, Method::GET, "/registers", None, true).await;
        assert_eq!(status, 200);
        assert_eq!(registers["results"][0]["slug"], "publications");
        let (status, schema) = call(&fake, Method::GET, "/schemas/Publication", None, false).await;
        assert_eq!((status, &schema["id"]), (200, &json!(3)));
        assert!(fake.object(1, 3, ID).is_some());
    }

    #[tokio::test]
    async fn openregister_list_pages_filters_and_orders() {
        let fake = fake().await;
        for n in 1..=25 {
            let status = if n % 2 == 0 { "draft" } else { "final" };
            let (code, _) = call(
                &fake,
                Method::POST,
                OBJECTS,
                Some(
                    json!({"title": format!("Item {n:02}"), "count": n, "status": status,
                    "originId": format!("ext-{n}")}),
                ),
                true,
            )
            .await;
            assert_eq!(code, 201);
        }
        let (status, page) = call(&fake, Method::GET, OBJECTS, None, false).await;
        assert_eq!(status, 200);
        assert_eq!(page["results"].as_array().map(Vec::len), Some(20));
        assert_eq!(
            (
                &page["total"],
                &page["page"],
                &page["pages"],
                &page["limit"],
                &page["offset"]
            ),
            (&json!(25), &json!(1), &json!(2), &json!(20), &json!(0))
        );
        assert_eq!(page["facets"], json!([]));
        assert_eq!(page["@self"]["source"], "database");
        let (_, second) = call(
            &fake,
            Method::GET,
            &format!("{OBJECTS}?_limit=10&_page=3"),
            None,
            false,
        )
        .await;
        assert_eq!(
            (&second["offset"], &second["pages"]),
            (&json!(20), &json!(3))
        );
        assert_eq!(second["results"].as_array().map(Vec::len), Some(5));
        assert_eq!(second["results"][0]["title"], "Item 21");
        let (_, by_offset) = call(
            &fake,
            Method::GET,
            &format!("{OBJECTS}?_limit=5&_offset=10"),
            None,
            false,
        )
        .await;
        assert_eq!(
            (&by_offset["page"], &by_offset["results"][0]["count"]),
            (&json!(3), &json!(11))
        );

        let (_, filtered) = call(
            &fake,
            Method::GET,
            &format!("{OBJECTS}?originId=EXT-7"),
            None,
            false,
        )
        .await;
        assert_eq!(filtered["total"], 1, "equality is case-insensitive");
        assert_eq!(filtered["results"][0]["count"], 7);
        let (_, either) = call(
            &fake,
            Method::GET,
            &format!("{OBJECTS}?count[]=3&count[]=4&_limit=50"),
            None,
            false,
        )
        .await;
        assert_eq!(either["total"], 2);
        let (_, ordered) = call(
            &fake,
            Method::GET,
            &format!("{OBJECTS}?status=draft&_order[count]=desc&_limit=3"),
            None,
            false,
        )
        .await;
        assert_eq!(ordered["total"], 12);
        let counts: Vec<Value> = ordered["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|o| o["count"].clone())
            .collect();
        assert_eq!(counts, vec![json!(24), json!(22), json!(20)]);
        let (_, greater) = call(
            &fake,
            Method::GET,
            &format!("{OBJECTS}?count[gt]=22"),
            None,
            false,
        )
        .await;
        assert_eq!(greater["total"], 3);

        let (_, unknown) = call(
            &fake,
            Method::GET,
            &format!("{OBJECTS}?colour=red&limit=5"),
            None,
            false,
        )
        .await;
        assert_eq!(unknown["total"], 0);
        assert_eq!(
            unknown["@self"]["ignoredFilters"],
            json!(["colour", "limit"])
        );
        assert!(unknown["@self"]["hint"].is_string());

        // The short prefix works as well, and `_empty=true` keeps nulls.
        let short = format!(
            "{}/apps/openregister/api/objects/publications/PUBLICATION?_limit=1&_empty=true",
            fake.origin
        );
        let (status, kept) = read(reqwest::get(short).await.expect("answers")).await;
        assert_eq!(status, 200);
        assert!(kept["results"][0]["@self"]["organisation"].is_null());
        assert!(kept["results"][0]["@self"].get("organisation").is_some());
    }

    #[tokio::test]
    async fn openregister_unknown_register_or_schema_is_404_with_a_message() {
        let fake = fake().await;
        let (status, body) = call(&fake, Method::GET, "/objects/nope/3", None, false).await;
        assert_eq!(
            (status, body),
            (404, json!({"message": "Register not found: 'nope'"}))
        );
        let (status, body) = call(
            &fake,
            Method::POST,
            "/objects/1/99",
            Some(json!({"title": "x"})),
            true,
        )
        .await;
        assert_eq!(
            (status, body),
            (404, json!({"message": "Schema not found: '99'"}))
        );
        let (status, body) = call(
            &fake,
            Method::PATCH,
            &format!("/objects/7/3/{ID}"),
            Some(json!({})),
            true,
        )
        .await;
        assert_eq!(
            (status, body),
            (404, json!({"error": "Register not found: '7'"}))
        );
    }

    #[tokio::test]
    async fn openregister_fails_on_request_and_when_down() {
        let fake = fake().await;
        fake.set_audit(false);
        fake.fail_next(2, 503);
        for _ in 0..2 {
            let (status, _) = call(
                &fake,
                Method::POST,
                OBJECTS,
                Some(json!({"title": "T"})),
                true,
            )
            .await;
            assert_eq!(status, 503);
        }
        let (status, _) = call(
            &fake,
            Method::POST,
            OBJECTS,
            Some(json!({"title": "T"})),
            true,
        )
        .await;
        assert_eq!(status, 201);
        assert_eq!(fake.objects(1, 3).len(), 1);
        assert!(fake.audit().is_empty());

        fake.set_down(true);
        let (status, body) = call(&fake, Method::GET, OBJECTS, None, true).await;
        assert_eq!((status, body), (503, Value::Null));
        fake.set_down(false);
        assert_eq!(fake.requests(), 4);
        assert_eq!(fake.requests_by_method("post"), 3);

        // Another user, and a recreated soft-deleted UUID when asked for.
        fake.add_user("other", "other-password");
        fake.set_recreate_deleted(true);
        let client = reqwest::Client::new();
        let url = format!("{}{OBJECTS}", fake.base);
        let post = |body: Value| {
            client
                .post(&url)
                .basic_auth("other", Some("other-password"))
                .json(&body)
                .send()
        };
        let (_, created) = read(
            post(json!({"id": ID, "title": "A"}))
                .await
                .expect("answers"),
        )
        .await;
        assert_eq!(created["@self"]["owner"], "other");
        let (status, _) = call(
            &fake,
            Method::DELETE,
            &format!("{OBJECTS}/{ID}"),
            None,
            true,
        )
        .await;
        assert_eq!(status, 204);
        let (status, _) = read(
            post(json!({"id": ID, "title": "B"}))
                .await
                .expect("answers"),
        )
        .await;
        assert_eq!(status, 201);
        assert_eq!(
            fake.object(1, 3, ID).map(|o| o["title"].clone()),
            Some(json!("B"))
        );
    }
}
