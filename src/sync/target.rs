//! Where a synchronization writes: an OpenRegister register/schema, or another Source's API.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Map, Value};

use super::reader::at_path;
use super::writer::{OpenRegisterTarget, WriteError};
use crate::call::{CallRequest, CallService, RequestBody, SourceSpec};

const TARGET_API: &str = "the target API";

/// A synchronization's target.
pub enum Target {
    Register(OpenRegisterTarget),
    Api(Box<ApiTarget>),
}

impl Target {
    /// Whether the target answers, before a run writes anything.
    pub async fn check(&self) -> Result<(), WriteError> {
        match self {
            Self::Register(register) => register.check().await,
            // An API has no cheap, side-effect free check; its first write tells.
            Self::Api(_) => Ok(()),
        }
    }

    /// Writes an object under its target id: an OpenRegister object under the id its contract
    /// planned (`known`, always given); an API object is created (`known` is `None`, the target
    /// answers the id) or updated.
    pub async fn write(&self, known: Option<&str>, object: &Value) -> Result<String, WriteError> {
        match self {
            Self::Register(register) => register.save(known, object).await,
            Self::Api(api) => match known {
                Some(id) => api.update(id, object).await,
                None => api.create(object).await,
            },
        }
    }

    /// Deletes the target object; one that is already gone counts as deleted.
    pub async fn delete(&self, target_id: &str) -> Result<(), WriteError> {
        match self {
            Self::Register(register) => register.delete(target_id).await,
            Self::Api(api) => api.delete(target_id).await,
        }
    }
}

/// Another Source as target (`targetType: api`, `targetId` = the source): POST to `endpoint`
/// on create (the new id read at `idPosition`), `updateMethod` (PUT) to `updateEndpoint` or
/// `endpoint/{id}` on update, `deleteMethod` (DELETE) to `deleteEndpoint` or `endpoint/{id}`.
/// `{{ originId }}` in the update and delete endpoints stands for the target object's id.
pub struct ApiTarget {
    calls: Arc<CallService>,
    source: SourceSpec,
    endpoint: String,
    create_method: Method,
    update_endpoint: Option<String>,
    update_method: Method,
    delete_endpoint: Option<String>,
    delete_method: Method,
    id_position: String,
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
}

fn method(config: &Map<String, Value>, key: &str, default: Method) -> Result<Method, String> {
    match config.get(key).and_then(Value::as_str) {
        None | Some("") => Ok(default),
        Some(name) => Method::from_bytes(name.trim().to_ascii_uppercase().as_bytes())
            .map_err(|_| format!("targetConfig.{key}: {name:?} is not an HTTP method")),
    }
}

fn pairs(config: &Map<String, Value>, key: &str) -> Vec<(String, String)> {
    config
        .get(key)
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn text(config: &Map<String, Value>, key: &str) -> Option<String> {
    config
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

impl ApiTarget {
    /// `config` is the synchronization's `targetConfig` with dot keys expanded.
    pub fn new(
        calls: Arc<CallService>,
        source: SourceSpec,
        config: &Map<String, Value>,
    ) -> Result<Self, String> {
        Ok(Self {
            calls,
            source,
            endpoint: text(config, "endpoint").unwrap_or_default(),
            create_method: method(config, "createMethod", Method::POST)?,
            update_endpoint: text(config, "updateEndpoint"),
            update_method: method(config, "updateMethod", Method::PUT)?,
            delete_endpoint: text(config, "deleteEndpoint"),
            delete_method: method(config, "deleteMethod", Method::DELETE)?,
            id_position: text(config, "idPosition")
                .or_else(|| text(config, "idposition"))
                .unwrap_or_else(|| "id".to_owned()),
            headers: pairs(config, "headers"),
            query: pairs(config, "query"),
        })
    }

    /// `template` with the object's id for `{{ originId }}`, or `endpoint/{id}`.
    fn object_endpoint(&self, template: Option<&String>, id: &str) -> String {
        match template {
            Some(template) => template
                .replace("{{ originId }}", id)
                .replace("{{originId}}", id),
            None => format!("{}/{id}", self.endpoint.trim_end_matches('/')),
        }
    }

    async fn send(
        &self,
        method: Method,
        endpoint: String,
        body: Option<&Value>,
    ) -> Result<crate::call::CallResponse, WriteError> {
        let mut request = CallRequest::new(method, endpoint);
        request.headers.clone_from(&self.headers);
        request.query.clone_from(&self.query);
        request.body = body.cloned().map(RequestBody::Json);
        let response = self.calls.call(&self.source, request).await;
        if response.is_success() {
            Ok(response)
        } else {
            Err(WriteError::Refused {
                target: TARGET_API,
                status: response.status,
                message: String::from_utf8_lossy(&response.body)
                    .chars()
                    .take(500)
                    .collect(),
            })
        }
    }

    async fn create(&self, object: &Value) -> Result<String, WriteError> {
        let response = self
            .send(
                self.create_method.clone(),
                self.endpoint.clone(),
                Some(object),
            )
            .await?;
        let body = response.data().unwrap_or(Value::Null);
        match at_path(&body, &self.id_position) {
            Some(Value::String(id)) if !id.is_empty() => Ok(id.clone()),
            Some(Value::Number(id)) => Ok(id.to_string()),
            _ => Err(WriteError::Refused {
                target: TARGET_API,
                status: response.status,
                message: format!(
                    "Could not determine an id from target synchronization: no id at {:?} in the answer",
                    self.id_position
                ),
            }),
        }
    }

    async fn update(&self, id: &str, object: &Value) -> Result<String, WriteError> {
        let endpoint = self.object_endpoint(self.update_endpoint.as_ref(), id);
        self.send(self.update_method.clone(), endpoint, Some(object))
            .await?;
        Ok(id.to_owned())
    }

    async fn delete(&self, id: &str) -> Result<(), WriteError> {
        let endpoint = self.object_endpoint(self.delete_endpoint.as_ref(), id);
        match self.send(self.delete_method.clone(), endpoint, None).await {
            Err(WriteError::Refused {
                status: 404 | 410, ..
            }) => Ok(()),
            other => other.map(|_| ()),
        }
    }
}
