//! `extraDataConfigs`: per object, more calls whose answers are merged into the object before
//! it is hashed and mapped (a list endpoint that lacks details, fetched per item).

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::reader::at_path;
use crate::call::{CallRequest, CallService, SourceSpec};
use crate::mapping::twig::{TemplateSet, values};

/// Where one extra call goes, per object.
enum Endpoint {
    /// The endpoint (or URL) found at a dot path in the object.
    Dynamic(String),
    /// A fixed endpoint with `{{ originId }}` and `{{ subObjectId }}` filled in.
    Static {
        template: String,
        id_location: Option<String>,
        sub_object: Option<String>,
    },
    /// A Twig template with `endpoint`, `object`, `originId` and `extraDataConfig` in context
    /// (compiled once per run).
    Template {
        set: Arc<TemplateSet>,
        config: Value,
    },
}

/// One configured extra call.
pub struct ExtraData {
    source: SourceSpec,
    endpoint: Endpoint,
    /// Where the answer goes: under this key, or merged into the object.
    key: Option<String>,
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
}

fn text(config: &Map<String, Value>, key: &str) -> Option<String> {
    config
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn scalar_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl ExtraData {
    /// Reads one entry of `extraDataConfigs`; `source` is the source it calls (the entry's
    /// `source`, else the synchronization's), with the run's request headers and query.
    pub fn new(
        config: &Map<String, Value>,
        source: SourceSpec,
        headers: Vec<(String, String)>,
        query: Vec<(String, String)>,
    ) -> Result<Self, String> {
        let endpoint = if let Some(path) = text(config, "dynamicEndpointLocation") {
            Endpoint::Dynamic(path)
        } else if let Some(template) = text(config, "staticEndpoint") {
            Endpoint::Static {
                template,
                id_location: text(config, "endpointIdLocation"),
                sub_object: text(config, "subObjectId"),
            }
        } else if let Some(template) = text(config, "endpointTemplate") {
            let mut set = TemplateSet::default();
            set.add("endpoint", &template)
                .map_err(|e| format!("endpointTemplate: {e}"))?;
            Endpoint::Template {
                set: Arc::new(set),
                config: Value::Object(config.clone()),
            }
        } else {
            return Err(
                "each entry needs dynamicEndpointLocation, staticEndpoint or endpointTemplate"
                    .into(),
            );
        };
        Ok(Self {
            source,
            endpoint,
            key: text(config, "keyToSetExtraData"),
            headers,
            query,
        })
    }

    /// The endpoint for one object, or why there is none.
    fn endpoint_for(&self, object: &Value, origin_id: &str) -> Result<String, String> {
        match &self.endpoint {
            Endpoint::Dynamic(path) => scalar_text(at_path(object, path))
                .ok_or_else(|| format!("no endpoint at {path:?} in the object")),
            Endpoint::Static {
                template,
                id_location,
                sub_object,
            } => {
                let id = match id_location {
                    Some(path) => scalar_text(at_path(object, path))
                        .ok_or_else(|| format!("no id at {path:?} in the object"))?,
                    None => origin_id.to_owned(),
                };
                let mut endpoint = template
                    .replace("{{ originId }}", &id)
                    .replace("{{originId}}", &id);
                if let Some(path) = sub_object {
                    let sub = scalar_text(at_path(object, path)).unwrap_or_default();
                    endpoint = endpoint
                        .replace("{{ subObjectId }}", &sub)
                        .replace("{{subObjectId}}", &sub);
                }
                Ok(endpoint)
            }
            Endpoint::Template { set, config } => {
                let context = json!({
                    "endpoint": self.source.location, "object": object,
                    "originId": origin_id, "extraDataConfig": config,
                });
                set.render("endpoint", &values::from_json(&context))
                    .map(|rendered| rendered.trim().to_owned())
                    .map_err(|e| format!("endpointTemplate: {e}"))
            }
        }
    }

    /// Fetches the extra data for one object and merges it in.
    pub async fn extend(
        &self,
        calls: &CallService,
        object: &mut Value,
        origin_id: &str,
    ) -> Result<(), String> {
        let endpoint = self.endpoint_for(object, origin_id)?;
        let mut request = CallRequest::new(Method::GET, endpoint.clone());
        request.read = true;
        request.headers.clone_from(&self.headers);
        request.query.clone_from(&self.query);
        request.on_rate_limit = crate::call::OnRateLimit::Wait;
        let response = calls.call(&self.source, request).await;
        if !response.is_success() {
            return Err(format!(
                "extra data from {endpoint}: the source answered {} {}",
                response.status, response.record.status_message
            ));
        }
        let data = response
            .data()
            .map_err(|e| format!("extra data from {endpoint}: {e}"))?;
        match (&self.key, object) {
            (Some(key), Value::Object(map)) => {
                map.insert(key.clone(), data);
            }
            (None, Value::Object(map)) => {
                if let Value::Object(extra) = data {
                    map.extend(extra);
                }
            }
            _ => {}
        }
        Ok(())
    }
}
