//! Authentication of outbound calls, configured under `configuration.authentication`:
//! API key, HTTP Basic, bearer token, a JWT we sign, OAuth 2.0 (client credentials or
//! password grant, optionally with a private-key JWT client assertion) and the Decos token call.
//!
//! With an explicit `type` the credentials are applied to every call. Without one, a block with
//! `grant_type` is OAuth and one with `algorithm` and `secret` is a JWT, as in the PHP app's
//! configurations (which put `Bearer {{ oauthToken(source) }}` in a header: we set that header).

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value, json};

use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("configuration.authentication.{field}: {problem}")]
    Config {
        field: &'static str,
        problem: String,
    },
    #[error("signing the JWT failed: {0}")]
    Signing(String),
    #[error("the token endpoint answered {status}: {message}")]
    TokenRefused { status: u16, message: String },
    #[error("the token endpoint could not be reached: {0}")]
    TokenUnreachable(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLocation {
    Header,
    Query,
}

/// How a source authenticates.
#[derive(Debug, Clone)]
pub enum Authentication {
    None,
    ApiKey {
        name: String,
        location: KeyLocation,
        value: Secret,
    },
    Basic {
        username: String,
        password: Secret,
    },
    Bearer {
        token: Secret,
    },
    Jwt(JwtSigner),
    OAuth(OAuthClient),
    Decos(DecosClient),
}

/// A JWT we sign per call.
#[derive(Debug, Clone)]
pub struct JwtSigner {
    algorithm: Algorithm,
    key: Secret,
    payload: Payload,
    x5t: Option<String>,
}

/// The claims: fixed JSON, or a Twig template giving JSON (`{"iat": {{ 'now'|date('U') }}}`),
/// compiled once and rendered per signature with the authentication settings in context.
#[derive(Clone)]
enum Payload {
    Fixed(Value),
    Template {
        set: std::sync::Arc<crate::mapping::twig::TemplateSet>,
        context: Value,
    },
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fixed(value) => f.debug_tuple("Fixed").field(value).finish(),
            Self::Template { .. } => f.write_str("Template"),
        }
    }
}

impl Payload {
    fn claims(&self) -> Result<Map<String, Value>, AuthError> {
        let value = match self {
            Self::Fixed(value) => return Ok(value.as_object().cloned().unwrap_or_default()),
            Self::Template { set, context } => {
                let text = set
                    .render("payload", &crate::mapping::twig::values::from_json(context))
                    .map_err(|e| AuthError::Signing(format!("payload: {e}")))?;
                serde_json::from_str::<Value>(&text).map_err(|e| {
                    AuthError::Signing(format!("payload: the template gave no JSON object: {e}"))
                })?
            }
        };
        match value {
            Value::Object(claims) => Ok(claims),
            _ => Err(AuthError::Signing(
                "payload: the template gave no JSON object".into(),
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Grant {
    ClientCredentials,
    Password { username: String, password: Secret },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum CredentialsIn {
    Body,
    Basic,
}

/// The form of a token request, and the client's Basic credentials when sent that way.
pub struct TokenRequest {
    pub form: Vec<(&'static str, String)>,
    pub basic: Option<(String, Secret)>,
}

/// An OAuth 2.0 token endpoint and our credentials for it.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    pub token_url: String,
    grant: Grant,
    client_id: String,
    client_secret: Option<Secret>,
    scope: Option<String>,
    credentials_in: CredentialsIn,
    token_location: String,
    assertion: Option<JwtSigner>,
}

/// The Decos token call: the configuration (less `tokenUrl`) posted as JSON.
#[derive(Debug, Clone)]
pub struct DecosClient {
    pub token_url: String,
    body: Secret,
    token_location: String,
}

fn text<'a>(config: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    config
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn required(config: &Map<String, Value>, field: &'static str) -> Result<String, AuthError> {
    text(config, field)
        .map(str::to_owned)
        .ok_or(AuthError::Config {
            field,
            problem: "is required".into(),
        })
}

impl Authentication {
    /// Reads `configuration.authentication` (already expanded from dot keys).
    pub fn from_config(configuration: &Map<String, Value>) -> Result<Self, AuthError> {
        let Some(Value::Object(config)) = configuration.get("authentication") else {
            return Ok(Self::None);
        };
        let kind = text(config, "type").map(str::to_ascii_lowercase);
        let kind = match kind.as_deref() {
            Some(kind) => kind.replace(['_', '-'], ""),
            None if config.contains_key("grant_type") => "oauth2".into(),
            None if config.contains_key("algorithm") && config.contains_key("secret") => {
                "jwt".into()
            }
            None => return Ok(Self::None),
        };
        Ok(match kind.as_str() {
            "apikey" => Self::ApiKey {
                name: text(config, "name")
                    .or(text(config, "key"))
                    .unwrap_or("X-Api-Key")
                    .to_owned(),
                location: match text(config, "in").or(text(config, "location")) {
                    Some("query") => KeyLocation::Query,
                    Some("header") | None => KeyLocation::Header,
                    Some(other) => {
                        return Err(AuthError::Config {
                            field: "in",
                            problem: format!("expected header or query, got {other:?}"),
                        });
                    }
                },
                value: Secret::new(required(config, "value")?),
            },
            "basic" => Self::Basic {
                username: required(config, "username")?,
                password: Secret::new(text(config, "password").unwrap_or_default()),
            },
            "bearer" => Self::Bearer {
                token: Secret::new(required(config, "token")?),
            },
            "jwt" => Self::Jwt(JwtSigner::from_config(config)?),
            "oauth2" | "oauth" => Self::OAuth(OAuthClient::from_config(config)?),
            "decos" => Self::Decos(DecosClient::from_config(config)?),
            other => {
                return Err(AuthError::Config {
                    field: "type",
                    problem: format!(
                        "expected apiKey, basic, bearer, jwt, oauth2 or decos, got {other:?}"
                    ),
                });
            }
        })
    }

    /// The header or query name carrying a secret, for redaction.
    pub fn secret_names(&self) -> (Vec<String>, Vec<String>) {
        match self {
            Self::ApiKey {
                name,
                location: KeyLocation::Header,
                ..
            } => (vec![name.clone()], Vec::new()),
            Self::ApiKey {
                name,
                location: KeyLocation::Query,
                ..
            } => (Vec::new(), vec![name.clone()]),
            _ => (Vec::new(), Vec::new()),
        }
    }
}

/// A key for PEM text given plainly or base64-encoded (as the PHP app stores it).
fn pem_bytes(text: &str) -> Vec<u8> {
    if text.contains("-----BEGIN") {
        return text.replace("\\n", "\n").into_bytes();
    }
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .unwrap_or_else(|_| text.as_bytes().to_vec())
}

impl JwtSigner {
    fn from_config(config: &Map<String, Value>) -> Result<Self, AuthError> {
        let name = text(config, "algorithm").unwrap_or("HS256");
        let algorithm = Algorithm::from_str(&name.to_ascii_uppercase()).map_err(|_| AuthError::Config {
            field: "algorithm",
            problem: format!("expected HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256 or ES384, got {name:?}"),
        })?;
        let payload = match config.get("payload") {
            Some(Value::String(text)) if text.contains("{{") || text.contains("{%") => {
                let mut set = crate::mapping::twig::TemplateSet::default();
                set.add("payload", text).map_err(|e| AuthError::Config {
                    field: "payload",
                    problem: format!("the template does not compile: {e}"),
                })?;
                let mut context = config.clone();
                context.remove("secret");
                Payload::Template {
                    set: std::sync::Arc::new(set),
                    context: Value::Object(context),
                }
            }
            Some(Value::String(text)) => {
                Payload::Fixed(serde_json::from_str(text).map_err(|e| AuthError::Config {
                    field: "payload",
                    problem: format!("expected a JSON object: {e}"),
                })?)
            }
            Some(value @ Value::Object(_)) => Payload::Fixed(value.clone()),
            None => Payload::Fixed(json!({})),
            Some(_) => {
                return Err(AuthError::Config {
                    field: "payload",
                    problem: "expected a JSON object".into(),
                });
            }
        };
        let signer = Self {
            algorithm,
            key: Secret::new(required(config, "secret")?),
            payload,
            x5t: text(config, "x5t").map(str::to_owned),
        };
        signer.encoding_key()?;
        Ok(signer)
    }

    fn encoding_key(&self) -> Result<EncodingKey, AuthError> {
        let invalid = |e: jsonwebtoken::errors::Error| AuthError::Config {
            field: "secret",
            problem: format!("not a usable key: {e}"),
        };
        match self.algorithm {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                Ok(EncodingKey::from_secret(self.key.expose().as_bytes()))
            }
            Algorithm::ES256 | Algorithm::ES384 => {
                EncodingKey::from_ec_pem(&pem_bytes(self.key.expose())).map_err(invalid)
            }
            Algorithm::EdDSA => {
                EncodingKey::from_ed_pem(&pem_bytes(self.key.expose())).map_err(invalid)
            }
            _ => EncodingKey::from_rsa_pem(&pem_bytes(self.key.expose())).map_err(invalid),
        }
    }

    /// A signed token with `extra` claims added to the configured payload.
    pub fn sign(&self, extra: &Map<String, Value>) -> Result<Secret, AuthError> {
        let mut header = Header::new(self.algorithm);
        header.x5t.clone_from(&self.x5t);
        let mut claims = self.payload.claims()?;
        for (key, value) in extra {
            claims.entry(key.clone()).or_insert_with(|| value.clone());
        }
        jsonwebtoken::encode(&header, &claims, &self.encoding_key()?)
            .map(Secret::new)
            .map_err(|e| AuthError::Signing(e.to_string()))
    }
}

impl OAuthClient {
    fn from_config(config: &Map<String, Value>) -> Result<Self, AuthError> {
        let grant = match text(config, "grant_type").unwrap_or("client_credentials") {
            "client_credentials" => Grant::ClientCredentials,
            "password" => Grant::Password {
                username: required(config, "username")?,
                password: Secret::new(required(config, "password")?),
            },
            other => {
                return Err(AuthError::Config {
                    field: "grant_type",
                    problem: format!("expected client_credentials or password, got {other:?}"),
                });
            }
        };
        let assertion = match text(config, "client_assertion_type") {
            Some(_) => {
                let mut signer_config = config.clone();
                signer_config.insert(
                    "secret".into(),
                    Value::String(required(config, "private_key")?),
                );
                let algorithm = text(config, "assertion_algorithm")
                    .unwrap_or("PS256")
                    .to_owned();
                signer_config.insert("algorithm".into(), Value::String(algorithm));
                Some(JwtSigner::from_config(&signer_config)?)
            }
            None => None,
        };
        Ok(Self {
            token_url: required(config, "tokenUrl")?,
            grant,
            client_id: text(config, "client_id").unwrap_or_default().to_owned(),
            client_secret: text(config, "client_secret").map(Secret::new),
            scope: text(config, "scope").map(str::to_owned),
            credentials_in: match text(config, "authentication") {
                Some("basic_auth" | "basic" | "header") => CredentialsIn::Basic,
                _ => CredentialsIn::Body,
            },
            token_location: text(config, "tokenLocation")
                .unwrap_or("access_token")
                .to_owned(),
            assertion,
        })
    }

    /// The token request: form fields, and Basic credentials when configured so.
    pub fn token_request(&self) -> Result<TokenRequest, AuthError> {
        let mut form = Vec::new();
        match &self.grant {
            Grant::ClientCredentials => form.push(("grant_type", "client_credentials".to_owned())),
            Grant::Password { username, password } => {
                form.push(("grant_type", "password".to_owned()));
                form.push(("username", username.clone()));
                form.push(("password", password.expose().to_owned()));
            }
        }
        if let Some(scope) = &self.scope {
            form.push(("scope", scope.clone()));
        }
        let mut basic = None;
        match self.credentials_in {
            CredentialsIn::Basic => {
                basic = Some((
                    self.client_id.clone(),
                    self.client_secret
                        .clone()
                        .unwrap_or_else(|| Secret::new("")),
                ));
            }
            CredentialsIn::Body => {
                if !self.client_id.is_empty() {
                    form.push(("client_id", self.client_id.clone()));
                }
                if let Some(secret) = &self.client_secret {
                    form.push(("client_secret", secret.expose().to_owned()));
                }
            }
        }
        if let Some(signer) = &self.assertion {
            let now = chrono::Utc::now().timestamp();
            let claims = json!({
                "iss": self.client_id, "sub": self.client_id, "aud": self.token_url,
                "jti": uuid::Uuid::new_v4().to_string(), "iat": now, "exp": now + 300,
            });
            let assertion = signer.sign(claims.as_object().unwrap_or(&Map::new()))?;
            form.push((
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
            ));
            form.push(("client_assertion", assertion.expose().to_owned()));
        }
        Ok(TokenRequest { form, basic })
    }

    pub fn token_location(&self) -> &str {
        &self.token_location
    }
}

impl DecosClient {
    fn from_config(config: &Map<String, Value>) -> Result<Self, AuthError> {
        let mut body = config.clone();
        body.remove("tokenUrl");
        body.remove("type");
        body.remove("tokenLocation");
        Ok(Self {
            token_url: required(config, "tokenUrl")?,
            body: Secret::new(Value::Object(body).to_string()),
            token_location: text(config, "tokenLocation").unwrap_or("token").to_owned(),
        })
    }

    pub fn body(&self) -> &str {
        self.body.expose()
    }

    pub fn token_location(&self) -> &str {
        &self.token_location
    }
}

/// A token and until when it may be used.
#[derive(Debug, Clone)]
pub struct CachedToken {
    pub token: Secret,
    pub valid_until: Instant,
}

/// Tokens are used until this long before they expire.
const EXPIRY_MARGIN: Duration = Duration::from_secs(30);
/// How long a token without a stated lifetime is used.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);

impl CachedToken {
    /// Reads the token at `location` and its lifetime (`expires_in`, else the JWT's `exp`).
    pub fn from_response(body: &Value, location: &str) -> Option<Self> {
        let token = location
            .split('.')
            .try_fold(body, |value, key| value.get(key))?
            .as_str()?
            .to_owned();
        let lifetime = body
            .get("expires_in")
            .and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .map(Duration::from_secs)
            .or_else(|| jwt_lifetime(&token))
            .unwrap_or(DEFAULT_LIFETIME);
        Some(Self {
            token: Secret::new(token),
            valid_until: Instant::now() + lifetime.saturating_sub(EXPIRY_MARGIN),
        })
    }
}

/// The time left before a JWT's `exp`, if the token is a JWT.
fn jwt_lifetime(token: &str) -> Option<Duration> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let exp = serde_json::from_slice::<Value>(&bytes)
        .ok()?
        .get("exp")?
        .as_i64()?;
    u64::try_from(exp - chrono::Utc::now().timestamp())
        .ok()
        .map(Duration::from_secs)
}

type Slot = Arc<tokio::sync::Mutex<Option<CachedToken>>>;

/// Tokens per source and configuration. Callers of one key queue on one slot, so concurrent
/// calls share a single token request.
#[derive(Default)]
pub struct TokenCache {
    slots: Mutex<HashMap<String, Slot>>,
}

impl TokenCache {
    fn slot(&self, key: &str) -> Slot {
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(slots.entry(key.to_owned()).or_default())
    }

    /// The cached token for `key`, or a new one from `fetch` (one fetch at a time per key).
    pub async fn get<F, Fut>(&self, key: &str, fetch: F) -> Result<Secret, AuthError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<CachedToken, AuthError>>,
    {
        let slot = self.slot(key);
        let mut cached = slot.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| t.valid_until > Instant::now()) {
            return Ok(token.token.clone());
        }
        let fresh = fetch().await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// Forgets `rejected` for `key` (after a 401), unless another caller already replaced it.
    pub async fn invalidate(&self, key: &str, rejected: &Secret) {
        let slot = self.slot(key);
        let mut cached = slot.lock().await;
        if cached.as_ref().is_some_and(|t| t.token == *rejected) {
            *cached = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_template_is_rendered_at_each_signature() {
        let config = json!({"algorithm": "HS256", "secret": "s3cret", "issuer": "connector",
            "payload": "{\"iss\": \"{{ issuer }}\", \"iat\": {{ 'now'|date('U') }}}"});
        let signer = JwtSigner::from_config(config.as_object().unwrap()).unwrap();
        let token = signer.sign(&Map::new()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(Algorithm::HS256);
        validation.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<Value>(
            token.expose(),
            &jsonwebtoken::DecodingKey::from_secret(b"s3cret"),
            &validation,
        )
        .unwrap()
        .claims;
        assert_eq!(claims["iss"], "connector");
        let now = chrono::Utc::now().timestamp();
        assert!(
            (claims["iat"].as_i64().unwrap() - now).abs() <= 2,
            "{claims}"
        );
        let broken = json!({"secret": "s", "payload": "{{ unclosed"});
        assert!(JwtSigner::from_config(broken.as_object().unwrap()).is_err());
    }

    fn config(value: Value) -> Map<String, Value> {
        json!({ "authentication": value })
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn kinds_are_read_from_type_or_inferred_as_the_php_app_did() {
        let key = Authentication::from_config(&config(
            json!({"type": "apiKey", "in": "query", "name": "key", "value": "k"}),
        ));
        assert!(matches!(
            key,
            Ok(Authentication::ApiKey {
                location: KeyLocation::Query,
                ..
            })
        ));
        let oauth = Authentication::from_config(&config(json!({
            "grant_type": "client_credentials", "tokenUrl": "http://127.0.0.1/token",
            "client_id": "c", "client_secret": "s", "scope": "api", "authentication": "body"
        })));
        assert!(matches!(oauth, Ok(Authentication::OAuth(_))));
        let jwt = Authentication::from_config(&config(
            json!({"algorithm": "HS256", "secret": "s", "payload": "{\"iss\":\"c\"}"}),
        ));
        assert!(matches!(jwt, Ok(Authentication::Jwt(_))));
        assert!(matches!(
            Authentication::from_config(&Map::new()),
            Ok(Authentication::None)
        ));
    }

    #[test]
    fn bad_configuration_names_the_field() {
        let error = Authentication::from_config(&config(
            json!({"type": "jwt", "algorithm": "XX1", "secret": "s"}),
        ))
        .expect_err("bad algorithm");
        assert!(
            error
                .to_string()
                .starts_with("configuration.authentication.algorithm: expected HS256")
        );
        let error =
            Authentication::from_config(&config(json!({"type": "oauth2", "client_id": "c"})))
                .expect_err("no url");
        assert_eq!(
            error.to_string(),
            "configuration.authentication.tokenUrl: is required"
        );
        let error = Authentication::from_config(&config(
            json!({"type": "jwt", "algorithm": "RS256", "secret": "not a key"}),
        ))
        .expect_err("bad key");
        assert!(
            error
                .to_string()
                .starts_with("configuration.authentication.secret: not a usable key")
        );
    }

    #[test]
    fn tokens_live_until_shortly_before_they_expire() {
        let token = CachedToken::from_response(
            &json!({"data": {"token": "t"}, "expires_in": 3600}),
            "data.token",
        )
        .expect("token");
        let left = token.valid_until - Instant::now();
        assert!(left > Duration::from_secs(3500) && left <= Duration::from_secs(3570));
        assert!(CachedToken::from_response(&json!({"other": 1}), "access_token").is_none());
    }
}
