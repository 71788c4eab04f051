//! A source as the call service needs it: read once from its stored row, configuration
//! expanded from flat dot keys.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::auth::Authentication;
use super::calllog::{Redactor, Retention};
use super::ratelimit::LocalLimit;
use super::request::{FixedParts, Location, MethodOverrides, places_token};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceType {
    /// JSON or XML over HTTP (`api`, `json`, `xml`, …).
    Http,
    Soap,
}

/// The parts of a Source row that shape its calls.
#[derive(Debug, Clone)]
pub struct SourceSpec {
    pub id: Option<i64>,
    pub location: String,
    pub enabled: bool,
    pub kind: SourceType,
    /// `configuration` with dot keys expanded.
    pub configuration: Map<String, Value>,
    pub retention: Retention,
    pub local_limit: Option<LocalLimit>,
    /// The authentication, or why it cannot be used.
    pub auth: Result<Authentication, String>,
    /// Identifies the source and its credentials for the token cache.
    pub auth_key: String,
    pub redactor: Arc<Redactor>,
    /// What every call sends, or which configured header cannot be sent.
    pub fixed: Result<FixedParts, String>,
    /// `logBody`: keep request and response bodies in every CallLog, not only on errors.
    pub log_body: bool,
    /// `timeout` (seconds), replacing the service's default total time of an attempt.
    pub timeout: Option<Duration>,
    /// Own TLS settings, when the source has any.
    pub tls: Option<TlsSettings>,
    /// Configured methods per kind of call (`createMethod`, ...).
    pub methods: MethodOverrides,
    /// The location, parsed once where calls build their URLs on it (not SOAP, which posts
    /// every operation to the location itself).
    pub base: Option<Location>,
}

impl SourceSpec {
    /// Reads a Source row as the API and store give it.
    pub fn from_row(row: &Value) -> Self {
        let int = |key: &str| row.get(key).and_then(Value::as_i64);
        let mut configuration = match row.get("configuration") {
            Some(Value::Object(config)) => Value::Object(expand_dots(config)),
            _ => Value::Object(Map::new()),
        };
        render_templates(&mut configuration, &serde_json::json!({ "source": row }));
        let configuration = match configuration {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        let auth = Authentication::from_config(&configuration).map_err(|e| e.to_string());
        let (secret_headers, secret_query) = auth
            .as_ref()
            .map(Authentication::secret_names)
            .unwrap_or_default();
        let auth_key = format!(
            "{}:{}",
            int("id").unwrap_or_default(),
            configuration
                .get("authentication")
                .map(Value::to_string)
                .unwrap_or_default()
        );
        let fixed = FixedParts::new(&configuration, auth.as_ref().ok());
        let timeout = configuration
            .get("timeout")
            .and_then(|t| {
                t.as_f64()
                    .or_else(|| t.as_str().and_then(|s| s.parse().ok()))
            })
            .filter(|t| *t > 0.0)
            .and_then(|t| Duration::try_from_secs_f64(t).ok());
        let tls = Some(TlsSettings::from_config(&configuration)).filter(|tls| !tls.is_default());
        let log_body = configuration
            .get("logBody")
            .and_then(crate::db::parse_bool)
            .unwrap_or(false);
        let kind = match row.get("type").and_then(Value::as_str) {
            Some(kind) if kind.eq_ignore_ascii_case("soap") => SourceType::Soap,
            _ => SourceType::Http,
        };
        let location = row
            .get("location")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
            .to_owned();
        Self {
            id: int("id"),
            base: (kind == SourceType::Http)
                .then(|| Location::parse(&location))
                .flatten(),
            location,
            enabled: row
                .get("isEnabled")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            kind,
            retention: Retention {
                success: int("logRetention").unwrap_or(3600),
                error: int("errorRetention").unwrap_or(86400),
            },
            local_limit: match (int("rateLimitLimit"), int("rateLimitWindow")) {
                (Some(limit), Some(window)) if limit > 0 && window > 0 => Some(LocalLimit {
                    limit,
                    window: window.unsigned_abs(),
                }),
                _ => None,
            },
            redactor: Arc::new(Redactor::new(&secret_headers, &secret_query)),
            auth,
            auth_key,
            fixed,
            log_body,
            timeout,
            tls,
            methods: MethodOverrides::from_config(&configuration),
            configuration,
        }
    }

    pub fn config_str(&self, key: &str) -> Option<&str> {
        self.configuration
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    pub fn config_map(&self, key: &str) -> Option<&Map<String, Value>> {
        self.configuration.get(key).and_then(Value::as_object)
    }
}

/// A source's TLS options: `verify` (false, or a CA certificate in PEM), `cert` and `ssl_key`
/// (a client certificate and key in PEM).
#[derive(Clone)]
pub struct TlsSettings {
    pub verify: Option<Value>,
    pub cert: Option<String>,
    pub key: Option<String>,
}

impl TlsSettings {
    fn from_config(configuration: &Map<String, Value>) -> Self {
        let pem = |key: &str| match configuration.get(key) {
            Some(Value::String(text)) if !text.is_empty() => Some(text.replace("\\n", "\n")),
            Some(Value::Array(items)) => items
                .first()
                .and_then(Value::as_str)
                .map(|t| t.replace("\\n", "\n")),
            _ => None,
        };
        Self {
            verify: configuration
                .get("verify")
                .filter(|v| !matches!(v, Value::Bool(true) | Value::Null))
                .cloned(),
            cert: pem("cert"),
            key: pem("ssl_key"),
        }
    }

    fn is_default(&self) -> bool {
        self.verify.is_none() && self.cert.is_none() && self.key.is_none()
    }

    /// Identifies the settings among the clients built for them.
    pub fn key(&self) -> String {
        format!("{:?}|{:?}|{:?}", self.verify, self.cert, self.key)
    }
}

/// Never prints the private key.
impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSettings")
            .field("verify", &self.verify.is_some())
            .field("cert", &self.cert.is_some())
            .field("key", &self.key.is_some())
            .finish()
    }
}

/// Renders every configuration string that holds a Twig template (`{{ source.name }}`,
/// `{{ 'now'|date('U') }}`) once, with the source in context, as the PHP app does before each
/// call. Token placements (`oauthToken(source)` …) are left for the call, which knows the token;
/// a template that fails keeps its text and is logged.
pub fn render_templates(value: &mut Value, context: &Value) {
    match value {
        Value::String(text)
            if (text.contains("{{") || text.contains("{%")) && !places_token(text) =>
        {
            match crate::mapping::twig::render_once(text, context) {
                Ok(rendered) => *text = rendered,
                Err(error) => {
                    tracing::warn!(%error, "A source configuration template could not be rendered; it is sent as written.")
                }
            }
        }
        // A JWT payload is a template rendered per signature (fresh `iat`), not once.
        Value::Object(map) => map
            .iter_mut()
            .filter(|(key, _)| key.as_str() != "payload")
            .for_each(|(_, child)| render_templates(child, context)),
        Value::Array(items) => items
            .iter_mut()
            .for_each(|child| render_templates(child, context)),
        _ => {}
    }
}

/// Expands top-level keys with dots into nested objects (`"headers.Accept"` →
/// `{"headers": {"Accept": …}}`); containers whose keys are `0..n-1` become lists, as PHP
/// arrays do. Nested keys are left as they are.
pub fn expand_dots(config: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    let mut expanded = Vec::new();
    for (key, value) in config {
        if key.contains('.') {
            let mut parts = key.split('.');
            let first = parts.next().unwrap_or_default().to_owned();
            let mut target = out
                .entry(first.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            for part in parts {
                if !target.is_object() {
                    *target = Value::Object(Map::new());
                }
                let Value::Object(object) = target else { break };
                target = object.entry(part.to_owned()).or_insert(Value::Null);
            }
            *target = value.clone();
            expanded.push(first);
        } else {
            match (out.get_mut(key), value) {
                (Some(Value::Object(existing)), Value::Object(given)) => {
                    for (k, v) in given {
                        existing.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
                _ => {
                    out.insert(key.clone(), value.clone());
                }
            }
        }
    }
    for key in expanded {
        if let Some(value) = out.get_mut(&key) {
            php_lists(value);
        }
    }
    out
}

/// Turns objects keyed `0..n-1` into lists, at any depth.
fn php_lists(value: &mut Value) {
    if let Value::Object(object) = value {
        for child in object.values_mut() {
            php_lists(child);
        }
        let is_list =
            !object.is_empty() && object.keys().enumerate().all(|(i, k)| k == &i.to_string());
        if is_list {
            let items = std::mem::take(object).into_iter().map(|(_, v)| v).collect();
            *value = Value::Array(items);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dot_keys_expand_and_numbered_keys_make_lists() {
        let config = json!({
            "headers.Accept": "application/json",
            "headers.X-Trace": "1",
            "query.limit": "100",
            "extraDataConfigs.0.staticEndpoint": "/a",
            "extraDataConfigs.1.staticEndpoint": "/b",
            "timeout": 30,
            "authentication": {"type": "bearer", "token": "t"}
        });
        assert_eq!(
            Value::Object(expand_dots(config.as_object().expect("object"))),
            json!({
                "headers": {"Accept": "application/json", "X-Trace": "1"},
                "query": {"limit": "100"},
                "extraDataConfigs": [{"staticEndpoint": "/a"}, {"staticEndpoint": "/b"}],
                "timeout": 30,
                "authentication": {"type": "bearer", "token": "t"}
            })
        );
    }

    #[test]
    fn configuration_templates_render_with_the_source_and_leave_token_placements() {
        let spec = SourceSpec::from_row(&json!({
            "id": 9, "name": "Zaken",
            "configuration": {
                "headers.X-Source": "{{ source.name }}/{{ source.id }}",
                "headers.Authorization": "Bearer {{ oauthToken(source) }}",
                "query.year": "{{ '2026-03-04'|date('Y') }}",
                "query.broken": "{{ source. }}"
            }
        }));
        assert_eq!(spec.configuration["headers"]["X-Source"], "Zaken/9");
        assert_eq!(
            spec.configuration["headers"]["Authorization"],
            "Bearer {{ oauthToken(source) }}"
        );
        assert_eq!(spec.configuration["query"]["year"], "2026");
        assert_eq!(spec.configuration["query"]["broken"], "{{ source. }}");
    }

    #[test]
    fn a_row_becomes_a_spec_with_retention_limits_and_auth() {
        let spec = SourceSpec::from_row(&json!({
            "id": 4, "location": " http://127.0.0.1:9/api ", "isEnabled": false, "type": "soap",
            "logRetention": 10, "errorRetention": 20, "rateLimitLimit": 5, "rateLimitWindow": 60,
            "configuration": {"authentication.type": "apiKey", "authentication.value": "k", "authentication.name": "X-Key"}
        }));
        assert_eq!(spec.location, "http://127.0.0.1:9/api");
        assert!(!spec.enabled);
        assert_eq!(spec.kind, SourceType::Soap);
        assert_eq!((spec.retention.success, spec.retention.error), (10, 20));
        assert!(spec.local_limit.is_some());
        assert!(matches!(spec.auth, Ok(Authentication::ApiKey { .. })));
        assert_eq!(
            spec.redactor.header("x-key", "k"),
            super::super::calllog::REDACTED
        );
    }
}
