//! Writing to OpenRegister over its REST API: a POST with the object's id is an upsert, so a
//! retried write never makes a second object; DELETE removes one.

use std::time::Duration;

use base64::Engine;
use reqwest::{Client, Method, RequestBuilder};
use serde_json::Value;

use crate::call::retry::RetryPolicy;
use crate::secret::Secret;

/// How we authenticate to OpenRegister.
#[derive(Debug, Clone)]
pub enum RegisterAuth {
    /// A Nextcloud user and app password (standalone).
    Basic {
        user: String,
        password: Secret,
    },
    /// AppAPI's headers, acting as the app (inside Nextcloud).
    AppApi {
        app_id: String,
        app_version: String,
        secret: Secret,
    },
    None,
}

/// Where OpenRegister is: its `…/apps/openregister/api` base and how to sign in.
#[derive(Debug, Clone)]
pub struct RegisterSettings {
    pub base: String,
    pub auth: RegisterAuth,
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{target} could not be reached: {cause}")]
    Unreachable { target: &'static str, cause: String },
    #[error("{target} answered {status}: {message}")]
    Refused {
        target: &'static str,
        status: u16,
        message: String,
    },
}

impl WriteError {
    /// Whether the whole target is unusable (as opposed to this one object being refused).
    pub fn is_target_failure(&self) -> bool {
        matches!(
            self,
            Self::Unreachable { .. }
                | Self::Refused {
                    status: 401 | 403 | 404 | 500..=599,
                    ..
                }
        )
    }
}

const OPENREGISTER: &str = "OpenRegister";

/// One register and schema to write to.
#[derive(Clone)]
pub struct OpenRegisterTarget {
    client: Client,
    settings: RegisterSettings,
    collection: String,
    retry: RetryPolicy,
}

impl OpenRegisterTarget {
    /// `target` is `"<register>/<schema>"` (ids, uuids or slugs).
    pub fn new(client: Client, settings: RegisterSettings, target: &str) -> Result<Self, String> {
        let (register, schema) = target
            .split_once('/')
            .filter(|(r, s)| !r.is_empty() && !s.is_empty() && !s.contains('/'))
            .ok_or_else(|| format!("targetId must be \"<register>/<schema>\", got {target:?}"))?;
        let collection = format!(
            "{}/objects/{register}/{schema}",
            settings.base.trim_end_matches('/')
        );
        Ok(Self {
            client,
            settings,
            collection,
            retry: RetryPolicy::default(),
        })
    }

    fn request(&self, method: Method, url: &str) -> RequestBuilder {
        let request = self
            .client
            .request(method, url)
            .header("accept", "application/json")
            .timeout(Duration::from_secs(60));
        match &self.settings.auth {
            RegisterAuth::Basic { user, password } => {
                request.basic_auth(user, Some(password.expose()))
            }
            RegisterAuth::AppApi {
                app_id,
                app_version,
                secret,
            } => request
                .header("EX-APP-ID", app_id)
                .header("EX-APP-VERSION", app_version)
                .header(
                    "AUTHORIZATION-APP-API",
                    base64::engine::general_purpose::STANDARD
                        .encode(format!(":{}", secret.expose())),
                ),
            RegisterAuth::None => request,
        }
    }

    /// Sends a request, retrying transient failures (the writes are idempotent).
    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&[u8]>,
    ) -> Result<(u16, String), WriteError> {
        let mut attempt = 0;
        loop {
            let mut request = self.request(method.clone(), url);
            if let Some(body) = body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.to_vec());
            }
            let outcome = match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let text = response.text().await.unwrap_or_default();
                    Ok((status, text))
                }
                Err(error) => Err(WriteError::Unreachable {
                    target: OPENREGISTER,
                    cause: error.to_string(),
                }),
            };
            let transient = match &outcome {
                Ok((status, _)) => Some(*status),
                Err(_) => None,
            };
            let retry = match transient {
                Some(status) => matches!(status, 429 | 502 | 503 | 504),
                None => true,
            };
            if retry && attempt < self.retry.max_retries {
                if let Some(delay) = self.retry.delay(attempt, None) {
                    attempt += 1;
                    tokio::time::sleep(delay).await;
                    continue;
                }
            }
            return outcome;
        }
    }

    /// Creates or replaces the object with uuid `id` (without one, OpenRegister chooses it);
    /// answers the id OpenRegister kept.
    pub async fn save(&self, id: Option<&str>, object: &Value) -> Result<String, WriteError> {
        let body = match id {
            Some(id) => body_with_id(object, id),
            None => serde_json::to_vec(object).unwrap_or_default(),
        };
        let (status, text) = self
            .send(Method::POST, &self.collection, Some(&body))
            .await?;
        if !(200..300).contains(&status) {
            return Err(WriteError::Refused {
                target: OPENREGISTER,
                status,
                message: text.chars().take(500).collect(),
            });
        }
        /// Only the id of the saved object is read; the rest is skipped, not built.
        #[derive(serde::Deserialize)]
        struct Saved {
            id: Option<Value>,
        }
        let saved = serde_json::from_str::<Saved>(&text).ok().and_then(|s| s.id);
        saved
            .as_ref()
            .and_then(Value::as_str)
            .or(id)
            .map(str::to_owned)
            .ok_or_else(|| WriteError::Refused {
                target: OPENREGISTER,
                status,
                message: "the saved object has no id".into(),
            })
    }

    /// The object with uuid `id` as OpenRegister shows it, with its related objects under
    /// `@self.objects` when `extend_all`; `None` when there is none.
    pub async fn fetch(&self, id: &str, extend_all: bool) -> Result<Option<Value>, WriteError> {
        let extend = if extend_all { "?_extend=all" } else { "" };
        let url = format!("{}/{id}{extend}", self.collection);
        let (status, text) = self.send(Method::GET, &url, None).await?;
        let refused = |message: String| WriteError::Refused {
            target: OPENREGISTER,
            status,
            message,
        };
        match status {
            200..=299 => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| refused(format!("the object is not JSON: {e}"))),
            404 => Ok(None),
            _ => Err(refused(text.chars().take(500).collect())),
        }
    }

    /// Deletes the object `id`. An object that is already gone counts as deleted.
    pub async fn delete(&self, id: &str) -> Result<(), WriteError> {
        let url = format!("{}/{id}", self.collection);
        let (status, text) = self.send(Method::DELETE, &url, None).await?;
        let already_gone = status == 404 || (status == 403 && text.contains("not found"));
        if (200..300).contains(&status) || already_gone {
            Ok(())
        } else {
            Err(WriteError::Refused {
                target: OPENREGISTER,
                status,
                message: text.chars().take(500).collect(),
            })
        }
    }

    /// Whether the register and schema answer, before a run writes anything.
    pub async fn check(&self) -> Result<(), WriteError> {
        let url = format!("{}?_limit=1", self.collection);
        let (status, text) = self.send(Method::GET, &url, None).await?;
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(WriteError::Refused {
                target: OPENREGISTER,
                status,
                message: text.chars().take(300).collect(),
            })
        }
    }
}

/// The JSON of `object` with `id` set, written straight from the object: `id` first, then
/// the object's own keys (an object that has an `id` gets its value replaced).
fn body_with_id(object: &Value, id: &str) -> Vec<u8> {
    match object {
        Value::Object(map) if !map.contains_key("id") => {
            let mut out = Vec::with_capacity(256);
            out.extend_from_slice(b"{\"id\":");
            // Writing JSON into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut out, id);
            for (key, value) in map {
                out.push(b',');
                let _ = serde_json::to_writer(&mut out, key);
                out.push(b':');
                let _ = serde_json::to_writer(&mut out, value);
            }
            out.push(b'}');
            out
        }
        _ => {
            let mut body = object.clone();
            if let Value::Object(map) = &mut body {
                map.insert("id".into(), Value::String(id.to_owned()));
            }
            serde_json::to_vec(&body).unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_body_carries_the_id_once() {
        let written: Value =
            serde_json::from_slice(&body_with_id(&json!({"a": 1, "b": [true]}), "x"))
                .unwrap_or_default();
        assert_eq!(written, json!({"id": "x", "a": 1, "b": [true]}));
        let replaced: Value =
            serde_json::from_slice(&body_with_id(&json!({"id": "old", "a": 1}), "x"))
                .unwrap_or_default();
        assert_eq!(replaced, json!({"id": "x", "a": 1}));
        let empty: Value =
            serde_json::from_slice(&body_with_id(&json!({}), "x")).unwrap_or_default();
        assert_eq!(empty, json!({"id": "x"}));
    }
}
