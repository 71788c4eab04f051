//! From a [`CallRequest`] and its source to the HTTP request that is sent, and what its
//! CallLog keeps of it. What every call of a source sends (configured headers and
//! query, a fixed credential) is worked out once, when the source is read ([`FixedParts`]);
//! a call only adds its own parts.

use std::borrow::Cow;
use std::sync::Arc;

use base64::Engine;
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use serde_json::{Map, Value};

use super::auth::{Authentication, KeyLocation};
use super::calllog::SentRequest;
use super::soap;
use super::source::{SourceSpec, SourceType};
use super::{CallRequest, RequestBody};
use crate::secret::Secret;

/// The `User-Agent` of our calls.
pub const OUR_USER_AGENT: &str = concat!("OpenConnector/", env!("CARGO_PKG_VERSION"));

/// The parts of every call to one source, from its configuration and authentication.
#[derive(Debug, Clone, Default)]
pub struct FixedParts {
    /// Configured headers that do not place a token, and our User-Agent unless one is
    /// configured.
    headers: HeaderMap,
    /// Configured headers that place a token (`Bearer {{ oauthToken(source) }}`).
    token_headers: Vec<(HeaderName, String)>,
    /// Configured query parameters; a value may place a token.
    query: Vec<(String, String)>,
    /// A fixed credential's header (API key, Basic, bearer token); it wins over the
    /// request's own headers.
    auth_header: Option<(HeaderName, HeaderValue)>,
    /// An API key sent in the query.
    auth_query: Option<(String, Secret)>,
    /// Every header of a call that adds none of its own (no token, body or request header):
    /// [`Self::headers`] and the fixed credential. Shared by such calls and their logs.
    plain: Arc<HeaderMap>,
    /// The configured `json` (written out) or `body`, sent by calls without a body.
    default_body: Option<DefaultBody>,
}

#[derive(Debug, Clone)]
enum DefaultBody {
    Json(String),
    Text(String),
}

impl FixedParts {
    /// `Err` names a configured header that cannot be sent.
    pub fn new(
        configuration: &Map<String, Value>,
        authentication: Option<&Authentication>,
    ) -> Result<Self, String> {
        let mut parts = Self::default();
        let configured = |key: &str| {
            configuration
                .get(key)
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter_map(|(name, value)| config_text(value).map(|text| (name, text)))
        };
        for (name, text) in configured("headers") {
            if places_token(&text) {
                parts.token_headers.push((header_name(name)?, text));
            } else {
                parts
                    .headers
                    .insert(header_name(name)?, header_value(name, &text)?);
            }
        }
        // Every call names us unless configured otherwise. Set here, not only as the client's
        // default (which reqwest still uses for a proxy's CONNECT): a call's headers are whole
        // when built and logged as sent, and reqwest finds nothing to add to each request.
        if !parts.headers.contains_key(USER_AGENT) {
            parts
                .headers
                .insert(USER_AGENT, HeaderValue::from_static(OUR_USER_AGENT));
        }
        parts.default_body = match (configuration.get("json"), configuration.get("body")) {
            (Some(value), _) if !value.is_null() => Some(DefaultBody::Json(value.to_string())),
            (_, Some(Value::String(body))) => Some(DefaultBody::Text(body.clone())),
            _ => None,
        };
        parts.query = configured("query")
            .map(|(name, text)| (name.clone(), text))
            .collect();
        let secret_header = |name: &str, value: String| -> Result<_, String> {
            let mut value = header_value(name, &value)?;
            value.set_sensitive(true);
            Ok(Some((header_name(name)?, value)))
        };
        match authentication {
            Some(Authentication::ApiKey {
                name,
                location: KeyLocation::Header,
                value,
            }) => parts.auth_header = secret_header(name, value.expose().to_owned())?,
            Some(Authentication::ApiKey {
                name,
                location: KeyLocation::Query,
                value,
            }) => parts.auth_query = Some((name.clone(), value.clone())),
            Some(Authentication::Basic { username, password }) => {
                let encoded = base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{}", password.expose()));
                parts.auth_header = secret_header("authorization", format!("Basic {encoded}"))?;
            }
            Some(Authentication::Bearer { token }) => {
                parts.auth_header =
                    secret_header("authorization", format!("Bearer {}", token.expose()))?;
            }
            _ => {}
        }
        let mut plain = parts.headers.clone();
        if let Some((name, value)) = &parts.auth_header {
            plain.insert(name.clone(), value.clone());
        }
        parts.plain = Arc::new(plain);
        Ok(parts)
    }
}

/// A request ready to send, with what its log keeps of it.
pub struct Prepared {
    pub request: reqwest::Request,
    pub sent: SentRequest,
}

/// Builds the request for one attempt. `token` is the credential of a token-based
/// authentication (JWT, OAuth, Decos). `Err` says why no request can be built.
pub fn prepare(
    source: &SourceSpec,
    request: &CallRequest,
    token: Option<&Secret>,
) -> Result<Prepared, String> {
    let fixed = source.fixed.as_ref().map_err(Clone::clone)?;
    let Payload {
        body,
        content_type,
        soap_action,
    } = payload(source, fixed, request);
    let plain = fixed.token_headers.is_empty()
        && request.headers.is_empty()
        && (fixed.auth_header.is_some() || token.is_none())
        && content_type.is_none()
        && soap_action.is_none();
    let headers = if plain {
        Arc::clone(&fixed.plain)
    } else {
        Arc::new(own_headers(
            source,
            fixed,
            request,
            token,
            content_type,
            soap_action,
        )?)
    };

    let joined = source
        .base
        .as_ref()
        .and_then(|base| base.join(&request.endpoint));
    let mut url = match joined {
        Some(url) => url,
        None => parse_target(source, request)?,
    };
    let overridden = |name: &str| request.query.iter().any(|(given, _)| given == name);
    if !fixed.query.is_empty() || !request.query.is_empty() || fixed.auth_query.is_some() {
        let mut pairs = url.query_pairs_mut();
        for (name, value) in fixed.query.iter().filter(|(name, _)| !overridden(name)) {
            pairs.append_pair(name, &place_token(value, token));
        }
        for (name, value) in &request.query {
            pairs.append_pair(name, value);
        }
        if let Some((name, key)) = &fixed.auth_query {
            pairs.append_pair(name, key.expose());
        }
    }

    let sent = SentRequest {
        method: request.method.clone(),
        url: url.as_str().to_owned(),
        headers: Some(Arc::clone(&headers)),
        body_length: body.as_ref().map(String::len),
        body: if source.log_body { body.clone() } else { None },
        purpose: None,
    };
    let mut built = reqwest::Request::new(request.method.clone(), url);
    *built.headers_mut() = HeaderMap::clone(&headers);
    // The client's own total timeout applies unless the source sets one. Only set when it
    // does: reqwest keeps a request's timeout in its extensions, a map made on first use.
    if source.timeout.is_some() {
        *built.timeout_mut() = source.timeout;
    }
    *built.body_mut() = body.map(reqwest::Body::from);
    Ok(Prepared {
        request: built,
        sent,
    })
}

/// The URL of a call parsed whole: a SOAP source posts every operation to its location.
fn parse_target(source: &SourceSpec, request: &CallRequest) -> Result<reqwest::Url, String> {
    let target = if source.kind == SourceType::Soap {
        Cow::Borrowed(source.location.as_str())
    } else {
        join_url(&source.location, &request.endpoint)
    };
    let url = reqwest::Url::parse(&target)
        .map_err(|e| format!("the request cannot be built: {e}: {target}"))?;
    if !url.has_host() {
        return Err(format!(
            "the request cannot be built: {target} names no host"
        ));
    }
    Ok(url)
}

/// The headers of a call that adds its own to the source's: a token, its request's headers,
/// a body's content type, a SOAP action.
fn own_headers(
    source: &SourceSpec,
    fixed: &FixedParts,
    request: &CallRequest,
    token: Option<&Secret>,
    content_type: Option<String>,
    soap_action: Option<String>,
) -> Result<HeaderMap, String> {
    let mut headers = fixed.headers.clone();
    for (name, template) in &fixed.token_headers {
        let value = header_value(name.as_str(), &place_token(template, token))?;
        headers.insert(name.clone(), value);
    }
    for (name, value) in &request.headers {
        headers.insert(header_name(name)?, header_value(name, value)?);
    }
    match (&fixed.auth_header, token) {
        (Some((name, value)), _) => {
            headers.insert(name.clone(), value.clone());
        }
        (None, Some(token)) => {
            let mut value = header_value("authorization", &format!("Bearer {}", token.expose()))?;
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        (None, None) => {}
    }
    if let Some(content_type) = content_type {
        if !headers.contains_key(CONTENT_TYPE) || source.kind == SourceType::Soap {
            headers.insert(CONTENT_TYPE, header_value("content-type", &content_type)?);
        }
    }
    if let Some(action) = soap_action {
        headers.insert(
            HeaderName::from_static("soapaction"),
            header_value("soapaction", &action)?,
        );
    }
    Ok(headers)
}

/// What a request carries besides headers and query.
#[derive(Default)]
struct Payload {
    body: Option<String>,
    /// The content type the body implies, unless the request names its own.
    content_type: Option<String>,
    soap_action: Option<String>,
}

/// The request's own body, else the source's configured `json` or `body`; for SOAP the
/// envelope around the arguments.
fn payload(source: &SourceSpec, fixed: &FixedParts, request: &CallRequest) -> Payload {
    if source.kind == SourceType::Soap {
        let arguments = match &request.body {
            Some(RequestBody::Json(value)) => value.clone(),
            Some(RequestBody::Text(text)) => serde_json::from_str(text).unwrap_or(Value::Null),
            None => source
                .configuration
                .get("json")
                .cloned()
                .unwrap_or(Value::Null),
        };
        let soap = soap::request(
            soap::SoapVersion::from_config(source.config_str("soapVersion")),
            request.endpoint.trim_start_matches('/'),
            source.config_str("namespace"),
            source.config_str("soapAction"),
            &arguments,
        );
        return Payload {
            body: Some(soap.body),
            content_type: Some(soap.content_type),
            soap_action: soap.soap_action,
        };
    }
    let json = |text: String| Payload {
        body: Some(text),
        content_type: Some("application/json".to_owned()),
        soap_action: None,
    };
    let text = |text: &String| Payload {
        body: Some(text.clone()),
        ..Payload::default()
    };
    match (&request.body, &fixed.default_body) {
        (Some(RequestBody::Json(value)), _) => json(value.to_string()),
        (Some(RequestBody::Text(body)), _) => text(body),
        (None, Some(DefaultBody::Json(body))) => json(body.clone()),
        (None, Some(DefaultBody::Text(body))) => text(body),
        (None, None) => Payload::default(),
    }
}

pub fn is_absolute(endpoint: &str) -> bool {
    endpoint.starts_with("http://") || endpoint.starts_with("https://")
}

/// A source's location, parsed once for the endpoints that only add a path and a query to it
/// (nearly all): their URL is the location's with that path and query set, and its scheme and
/// host are not parsed again on every call (with an IP address or a name, that parse is most
/// of the URL's cost).
#[derive(Debug, Clone)]
pub struct Location {
    url: reqwest::Url,
    /// Whether the location names a path of its own (`http://h/api`); without one the
    /// endpoint's path is the whole path.
    has_path: bool,
}

impl Location {
    /// `None` for a location that parses into something other than itself (a default port,
    /// upper-case letters, a query): calls to it parse their whole URL.
    pub fn parse(location: &str) -> Option<Self> {
        let url = reqwest::Url::parse(location).ok()?;
        if !url.has_host() || url.query().is_some() || url.fragment().is_some() {
            return None;
        }
        let has_path = if url.as_str() == location {
            true
        } else if url.as_str().strip_suffix('/') == Some(location) {
            false
        } else {
            return None;
        };
        Some(Self { url, has_path })
    }

    /// The URL of the location followed by `endpoint`, as parsing the two together gives it;
    /// `None` for an endpoint that is more than a plain path and query (a full URL too).
    pub fn join(&self, endpoint: &str) -> Option<reqwest::Url> {
        let plain = endpoint.starts_with('/')
            && endpoint
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'#' && b != b'\\');
        if !plain {
            return None;
        }
        let (path, query) = match endpoint.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (endpoint, None),
        };
        let mut url = self.url.clone();
        if self.has_path {
            let mut joined = String::with_capacity(self.url.path().len() + path.len());
            joined.push_str(self.url.path());
            joined.push_str(path);
            url.set_path(&joined);
        } else {
            url.set_path(path);
        }
        url.set_query(query);
        Some(url)
    }
}

/// The location followed by the endpoint; a full URL as endpoint is used as it is.
pub fn join_url<'a>(location: &str, endpoint: &'a str) -> Cow<'a, str> {
    if is_absolute(endpoint) {
        Cow::Borrowed(endpoint)
    } else {
        let mut url = String::with_capacity(location.len() + endpoint.len());
        url.push_str(location);
        url.push_str(endpoint);
        Cow::Owned(url)
    }
}

/// `createMethod`, `updateMethod`, `destroyMethod`, `readMethod` and `listMethod`: the
/// methods that replace those of the matching kinds of call, read once per source.
#[derive(Debug, Clone, Default)]
pub struct MethodOverrides {
    create: Option<Method>,
    update: Option<Method>,
    destroy: Option<Method>,
    read: Option<Method>,
    list: Option<Method>,
}

impl MethodOverrides {
    pub fn from_config(configuration: &Map<String, Value>) -> Self {
        let method = |key: &str| {
            configuration
                .get(key)
                .and_then(Value::as_str)
                .filter(|m| !m.is_empty())
                .and_then(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok())
        };
        Self {
            create: method("createMethod"),
            update: method("updateMethod"),
            destroy: method("destroyMethod"),
            read: method("readMethod"),
            list: method("listMethod"),
        }
    }
}

/// The method a call is sent with: its own, or the one its source configures for its kind.
pub fn method_override(source: &SourceSpec, request: &CallRequest) -> Method {
    let methods = &source.methods;
    let configured = match request.method {
        Method::POST => &methods.create,
        Method::PUT | Method::PATCH => &methods.update,
        Method::DELETE => &methods.destroy,
        Method::GET if request.read => &methods.read,
        Method::GET => &methods.list,
        _ => &None,
    };
    configured.as_ref().unwrap_or(&request.method).clone()
}

/// Text of a configured header or query value: strings as they are, numbers and booleans
/// printed, a list by its first element.
fn config_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) => items.first().and_then(config_text),
        _ => None,
    }
}

/// Whether a configuration text places a token the PHP way (`{{ oauthToken(source) }}`).
pub fn places_token(text: &str) -> bool {
    ["oauthToken(", "jwtToken(", "decosToken("]
        .iter()
        .any(|function| text.contains(function))
}

/// Replaces `{{ oauthToken(source) }}`, `{{ jwtToken(source) }}` and `{{ decosToken(source) }}`
/// with the token; other text is kept as it is.
fn place_token<'a>(text: &'a str, token: Option<&Secret>) -> Cow<'a, str> {
    if !text.contains("{{") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(end) = rest[start..].find("}}") else {
            break;
        };
        let expression = rest[start + 2..start + end].trim();
        out.push_str(&rest[..start]);
        match token.filter(|_| places_token(expression)) {
            Some(token) => out.push_str(token.expose()),
            None => out.push_str(&rest[start..start + end + 2]),
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn header_name(name: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("header name {name:?} is not valid"))
}

fn header_value(name: &str, value: &str) -> Result<HeaderValue, String> {
    HeaderValue::from_str(value).map_err(|_| format!("the value of header {name} is not valid"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::calllog::{CallRecord, GotResponse, LogOwner};
    use serde_json::json;
    use std::sync::Arc;
    use std::time::Duration;

    /// The request as its CallLog shows it.
    fn logged(source: &SourceSpec, prepared: Prepared) -> Value {
        let owner = LogOwner {
            source_id: source.id,
            synchronization_id: None,
            redactor: Arc::clone(&source.redactor),
            retention: source.retention,
        };
        CallRecord::new(owner, 200, "OK", prepared.sent, GotResponse::default()).request()
    }

    #[test]
    fn php_token_placeholders_take_the_token() {
        let token = Secret::new("abc");
        assert_eq!(
            place_token("Bearer {{ oauthToken(source) }}", Some(&token)),
            "Bearer abc"
        );
        assert_eq!(place_token("{{jwtToken(source)}}", Some(&token)), "abc");
        assert_eq!(
            place_token("x {{ other }} y", Some(&token)),
            "x {{ other }} y"
        );
        assert_eq!(place_token("plain", None), "plain");
    }

    #[test]
    fn configured_methods_replace_the_kind_of_call() {
        let source = SourceSpec::from_row(
            &json!({"configuration": {"updateMethod": "post", "readMethod": "POST"}}),
        );
        assert_eq!(
            method_override(&source, &CallRequest::new(Method::PUT, "")),
            Method::POST
        );
        let mut read = CallRequest::new(Method::GET, "/1");
        read.read = true;
        assert_eq!(method_override(&source, &read), Method::POST);
        assert_eq!(
            method_override(&source, &CallRequest::new(Method::GET, "")),
            Method::GET
        );
    }

    #[test]
    fn a_request_takes_fixed_parts_its_own_and_the_credential_last() {
        let source = SourceSpec::from_row(&json!({
            "id": 1, "location": "http://127.0.0.1:9/api",
            "configuration": {
                "timeout": 5,
                "headers.Accept": "application/json", "headers.X-Trace": 7,
                "query.limit": "100", "query.page": "1",
                "authentication": {"type": "apiKey", "name": "key", "value": "k1", "location": "query"}
            }
        }));
        let mut request = CallRequest::new(Method::GET, "/items?q=a");
        request.query = vec![("page".into(), "2".into())];
        request.headers = vec![("X-Trace".into(), "8".into())];
        let prepared = prepare(&source, &request, None).expect("request");
        assert_eq!(
            prepared.request.url().as_str(),
            "http://127.0.0.1:9/api/items?q=a&limit=100&page=2&key=k1"
        );
        assert_eq!(prepared.request.headers()["x-trace"], "8");
        assert_eq!(prepared.request.headers()["accept"], "application/json");
        assert_eq!(prepared.request.timeout(), Some(&Duration::from_secs(5)));
        let untimed = SourceSpec::from_row(&json!({"location": "http://127.0.0.1:9"}));
        let plain = prepare(&untimed, &CallRequest::new(Method::GET, "/"), None).expect("request");
        assert_eq!(
            plain.request.timeout(),
            None,
            "the client's default applies"
        );
        assert_eq!(
            logged(&source, prepared),
            json!({
                "url": "http://127.0.0.1:9/api/items?q=a&limit=100&page=2&key=••••",
                "method": "GET",
                "headers": {
                    "accept": "application/json", "x-trace": "8", "user-agent": OUR_USER_AGENT
                }
            })
        );
    }

    proptest::proptest! {
        #[test]
        fn a_location_parsed_once_joins_endpoints_as_parsing_them_together_does(
            location in proptest::sample::select(vec![
                "http://127.0.0.1:9", "http://127.0.0.1:9/", "https://h.example/api",
                "https://h.example/api/v1/", "http://h/a%20b", "http://h/a-b/c",
                "http://h:8080/x.y",
            ]),
            endpoint in "/[a-zA-Z0-9./%?&=_~!$'()*+,;:@ #\\\\é-]{0,24}",
        ) {
            let whole = reqwest::Url::parse(&join_url(location, &endpoint));
            let base = Location::parse(location).expect("a location that parses into itself");
            if let Some(joined) = base.join(&endpoint) {
                let whole = whole.as_ref().ok().map(reqwest::Url::as_str);
                proptest::prop_assert_eq!(Some(joined.as_str()), whole);
            }
        }
    }

    #[test]
    fn a_location_is_parsed_once_unless_it_changes_when_parsed() {
        for changed in [
            "http://H/api",
            "http://h:80/api",
            "http://h/api?key=1",
            "http://h/api#x",
        ] {
            assert!(Location::parse(changed).is_none(), "{changed}");
        }
        let base = Location::parse("http://127.0.0.1:9/api").expect("location");
        let cases = [
            ("/items?page=2", Some("http://127.0.0.1:9/api/items?page=2")),
            ("/?=", Some("http://127.0.0.1:9/api/?=")),
            ("/../x/./y", Some("http://127.0.0.1:9/x/y")),
            ("/a b", None),
            ("/a#f", None),
            ("items", None),
        ];
        for (endpoint, url) in cases {
            assert_eq!(
                base.join(endpoint).as_ref().map(reqwest::Url::as_str),
                url,
                "{endpoint}"
            );
        }
    }

    #[test]
    fn a_configured_json_or_body_is_sent_by_calls_without_their_own() {
        let body_of = |prepared: &Prepared| {
            let bytes = prepared.request.body().and_then(reqwest::Body::as_bytes);
            bytes.map(|b| String::from_utf8_lossy(b).into_owned())
        };
        let json_source = SourceSpec::from_row(&json!({
            "location": "http://127.0.0.1:9", "configuration": {"json": {"a": 1}}
        }));
        let post = CallRequest::new(Method::POST, "/");
        let prepared = prepare(&json_source, &post, None).expect("request");
        assert_eq!(body_of(&prepared).as_deref(), Some(r#"{"a":1}"#));
        assert_eq!(
            prepared.request.headers()["content-type"],
            "application/json"
        );

        let mut own = CallRequest::new(Method::POST, "/");
        own.body = Some(RequestBody::Text("mine".into()));
        let prepared = prepare(&json_source, &own, None).expect("request");
        assert_eq!(body_of(&prepared).as_deref(), Some("mine"));

        let text_source = SourceSpec::from_row(&json!({
            "location": "http://127.0.0.1:9", "configuration": {"body": "x=1"}
        }));
        let prepared = prepare(&text_source, &post, None).expect("request");
        assert_eq!(body_of(&prepared).as_deref(), Some("x=1"));
        assert!(prepared.request.headers().get("content-type").is_none());
    }

    #[test]
    fn calls_that_add_no_headers_share_their_sources_headers_with_their_logs() {
        let source = SourceSpec::from_row(&json!({
            "location": "http://127.0.0.1:9",
            "configuration": {"headers.Accept": "application/json",
                              "authentication": {"type": "bearer", "token": "t0k"}}
        }));
        let first = prepare(&source, &CallRequest::new(Method::GET, "/a"), None).expect("request");
        let second = prepare(&source, &CallRequest::new(Method::GET, "/b"), None).expect("request");
        let shared = first.sent.headers.as_ref().expect("logged headers");
        assert!(Arc::ptr_eq(
            shared,
            second.sent.headers.as_ref().expect("logged headers")
        ));
        assert_eq!(first.request.headers(), &**shared, "sent as logged");
        assert_eq!(first.request.headers()["accept"], "application/json");
        assert_eq!(first.request.headers()["authorization"], "Bearer t0k");
        assert_eq!(first.request.headers()["user-agent"], OUR_USER_AGENT);

        let mut own = CallRequest::new(Method::GET, "/c");
        own.headers = vec![("X-Trace".into(), "1".into())];
        let third = prepare(&source, &own, None).expect("request");
        let its_own = third.sent.headers.as_ref().expect("logged headers");
        assert!(!Arc::ptr_eq(shared, its_own));
        assert_eq!(third.request.headers(), &**its_own);
        assert_eq!(third.request.headers()["x-trace"], "1");
        assert_eq!(third.request.headers()["authorization"], "Bearer t0k");
        assert_eq!(third.request.headers()["user-agent"], OUR_USER_AGENT);

        let named = SourceSpec::from_row(&json!({
            "location": "http://127.0.0.1:9",
            "configuration": {"headers": {"User-Agent": "Integrator/2"}}
        }));
        let call = prepare(&named, &CallRequest::new(Method::GET, "/"), None).expect("request");
        assert_eq!(call.request.headers()["user-agent"], "Integrator/2");
        assert_eq!(
            call.request.headers().get_all("user-agent").iter().count(),
            1
        );
    }

    #[test]
    fn a_fixed_credential_header_wins_and_is_logged_redacted() {
        let source = SourceSpec::from_row(&json!({
            "location": "http://127.0.0.1:9",
            "configuration": {"authentication": {"type": "basic", "username": "u", "password": "p"}}
        }));
        let mut request = CallRequest::new(Method::POST, "/x");
        request.headers = vec![("Authorization".into(), "mine".into())];
        request.body = Some(RequestBody::Json(json!({"a": 1})));
        let prepared = prepare(&source, &request, None).expect("request");
        assert_eq!(prepared.request.headers()["authorization"], "Basic dTpw");
        let logged = logged(&source, prepared);
        assert_eq!(logged["headers"]["authorization"], "••••");
        assert_eq!(logged["headers"]["content-type"], "application/json");
        assert_eq!(logged["bodyLength"], 7);
        assert!(
            logged.get("body").is_none(),
            "bodies are logged with logBody only"
        );
    }

    #[test]
    fn bad_configured_headers_and_urls_are_named() {
        let problem = |row: Value| {
            let source = SourceSpec::from_row(&row);
            let request = CallRequest::new(Method::GET, "/");
            prepare(&source, &request, None).err().expect("refused")
        };
        let bad_header = problem(json!({
            "location": "http://127.0.0.1:9", "configuration": {"headers": {"Bad Name": "x"}}
        }));
        assert!(bad_header.contains("\"Bad Name\""), "{bad_header}");
        let bad_url = problem(json!({"location": "not a url"}));
        assert!(
            bad_url.starts_with("the request cannot be built"),
            "{bad_url}"
        );
    }
}
