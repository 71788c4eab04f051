//! Our calls to Nextcloud, in one place: OCS requests with AppAPI's headers, acting as a user
//! or as the app itself, the OCS envelope unwrapped into data or a typed failure.

use std::time::Duration;

use base64::Engine;
use reqwest::{Client, Method};
use serde_json::{Value, json};

use super::ExAppSettings;
use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub enum NextcloudError {
    #[error("Nextcloud could not be reached: {0}")]
    Unreachable(String),
    #[error("Nextcloud refused {what}: {message} (OCS {statuscode}, HTTP {status})")]
    Refused {
        what: String,
        status: u16,
        statuscode: i64,
        message: String,
    },
    #[error("Nextcloud answered {what} with something that is not an OCS envelope: {detail}")]
    Malformed { what: String, detail: String },
}

/// The name of our top-menu entry and of the page it opens.
pub const MENU: &str = "openconnector";

/// OpenRegister's object events, which start push synchronizations.
pub const OBJECT_EVENTS: [&str; 3] = [
    "OCA\\OpenRegister\\Event\\ObjectCreatedEvent",
    "OCA\\OpenRegister\\Event\\ObjectUpdatedEvent",
    "OCA\\OpenRegister\\Event\\ObjectDeletedEvent",
];

/// Where Nextcloud delivers those events (a route of ours).
pub const WEBHOOK_PATH: &str = "/api/webhooks/openregister";

#[derive(Clone)]
pub struct NextcloudClient {
    http: Client,
    base: String,
    app_id: String,
    app_version: String,
    secret: Secret,
}

impl NextcloudClient {
    pub fn new(settings: &ExAppSettings) -> Result<Self, NextcloudError> {
        let http = Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| NextcloudError::Unreachable(e.to_string()))?;
        Ok(Self {
            http,
            base: settings.nextcloud_url.clone(),
            app_id: settings.app_id.clone(),
            app_version: settings.app_version.clone(),
            secret: settings.secret.clone(),
        })
    }

    /// The base URL of Nextcloud (no trailing slash).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// AppAPI's headers for a call acting as `user` ("" for the app itself).
    fn request(&self, method: Method, path: &str, user: &str) -> reqwest::RequestBuilder {
        let credentials = base64::engine::general_purpose::STANDARD
            .encode(format!("{user}:{}", self.secret.expose()));
        self.http
            .request(method, format!("{}{path}", self.base))
            .header("EX-APP-ID", &self.app_id)
            .header("EX-APP-VERSION", &self.app_version)
            .header("AUTHORIZATION-APP-API", credentials)
            .header("AA-VERSION", "32")
            .header("OCS-APIRequest", "true")
            .header("Accept", "application/json")
    }

    /// An OCS call; answers the envelope's `data`.
    pub async fn ocs(
        &self,
        method: Method,
        path: &str,
        user: &str,
        body: Option<&Value>,
    ) -> Result<Value, NextcloudError> {
        let what = format!("{method} {path}");
        let mut request = self.request(method, path, user);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| NextcloudError::Unreachable(e.to_string()))?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| NextcloudError::Unreachable(e.to_string()))?;
        if status == 204 || (text.is_empty() && (200..300).contains(&status)) {
            return Ok(Value::Null);
        }
        let envelope: Value =
            serde_json::from_str(&text).map_err(|_| NextcloudError::Malformed {
                what: what.clone(),
                detail: text.chars().take(200).collect(),
            })?;
        let meta = &envelope["ocs"]["meta"];
        if meta.is_null() {
            return Err(NextcloudError::Malformed {
                what,
                detail: text.chars().take(200).collect(),
            });
        }
        if meta["status"] == "ok" && (200..300).contains(&status) {
            return Ok(envelope["ocs"]["data"].clone());
        }
        Err(NextcloudError::Refused {
            what,
            status,
            statuscode: meta["statuscode"].as_i64().unwrap_or_default(),
            message: meta["message"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// Reports init progress (0..=100) or a failure.
    pub async fn report_progress(&self, progress: u8, error: &str) -> Result<(), NextcloudError> {
        let body = json!({"progress": progress, "error": error});
        self.ocs(
            Method::PUT,
            "/ocs/v1.php/apps/app_api/ex-app/status",
            "",
            Some(&body),
        )
        .await
        .map(|_| ())
    }

    /// Registers the top-menu entry, the page's script and style, and the initial state that
    /// tells the page where our API is.
    pub async fn register_ui(&self, display_name: &str) -> Result<(), NextcloudError> {
        let ui = "/ocs/v1.php/apps/app_api/api/v1/ui";
        let proxy = format!(
            "{}/index.php/apps/app_api/proxy/{}/",
            self.base_path(),
            self.app_id
        );
        let calls = [
            (
                "top-menu",
                json!({"name": MENU, "displayName": display_name, "icon": "img/app.svg", "adminRequired": 0}),
            ),
            (
                "script",
                json!({"type": "top_menu", "name": MENU, "path": "js/openconnector-main", "afterAppId": ""}),
            ),
            (
                "style",
                json!({"type": "top_menu", "name": MENU, "path": "css/openconnector-main"}),
            ),
            (
                "initial-state",
                json!({"type": "top_menu", "name": MENU, "key": "api-base", "value": {"base": proxy}}),
            ),
        ];
        for (kind, body) in calls {
            self.ocs(Method::POST, &format!("{ui}/{kind}"), "", Some(&body))
                .await?;
        }
        Ok(())
    }

    /// Removes what [`Self::register_ui`] registered.
    pub async fn unregister_ui(&self) -> Result<(), NextcloudError> {
        let ui = "/ocs/v1.php/apps/app_api/api/v1/ui";
        let calls = [
            (
                "initial-state",
                json!({"type": "top_menu", "name": MENU, "key": "api-base"}),
            ),
            (
                "style",
                json!({"type": "top_menu", "name": MENU, "path": "css/openconnector-main"}),
            ),
            (
                "script",
                json!({"type": "top_menu", "name": MENU, "path": "js/openconnector-main"}),
            ),
            ("top-menu", json!({"name": MENU})),
        ];
        for (kind, body) in calls {
            match self
                .ocs(Method::DELETE, &format!("{ui}/{kind}"), "", Some(&body))
                .await
            {
                // Already gone is what we wanted.
                Err(NextcloudError::Refused {
                    statuscode: 404 | 998,
                    ..
                })
                | Ok(_) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(())
    }

    /// Asks Nextcloud to deliver OpenRegister's object events to our webhook route.
    pub async fn register_webhooks(&self) -> Result<(), NextcloudError> {
        for event in OBJECT_EVENTS {
            let body = json!({
                "httpMethod": "POST", "uri": WEBHOOK_PATH, "event": event,
                "eventFilter": {}, "userIdFilter": "", "headers": {}, "authMethod": "none", "authData": {}
            });
            self.ocs(
                Method::POST,
                "/ocs/v2.php/apps/webhook_listeners/api/v1/webhooks",
                "",
                Some(&body),
            )
            .await?;
        }
        Ok(())
    }

    /// Removes every webhook this app registered.
    pub async fn unregister_webhooks(&self) -> Result<(), NextcloudError> {
        let path = format!(
            "/ocs/v2.php/apps/webhook_listeners/api/v1/webhooks/byappid/{}",
            self.app_id
        );
        match self.ocs(Method::DELETE, &path, "", None).await {
            Err(NextcloudError::Refused {
                statuscode: 404 | 998,
                ..
            })
            | Ok(_) => Ok(()),
            Err(other) => Err(other),
        }
    }

    /// Sends `user` a notification with an optional link.
    pub async fn notify(
        &self,
        user: &str,
        subject: &str,
        message: &str,
        link: Option<&str>,
    ) -> Result<(), NextcloudError> {
        let body = json!({"params": {
            "object": "app_api",
            "object_id": uuid::Uuid::new_v4().to_string(),
            "subject_type": "app_api_ex_app",
            "subject_params": {
                "rich_subject": subject, "rich_subject_params": {},
                "rich_message": message, "rich_message_params": {},
                "link": link.unwrap_or_default()
            }
        }});
        self.ocs(
            Method::POST,
            "/ocs/v1.php/apps/app_api/api/v1/notification",
            user,
            Some(&body),
        )
        .await
        .map(|_| ())
    }

    /// Whether `user` is in Nextcloud's admin group (asked as that user).
    pub async fn is_admin(&self, user: &str) -> Result<bool, NextcloudError> {
        if user.is_empty() {
            return Ok(false);
        }
        let data = self
            .ocs(Method::GET, "/ocs/v2.php/cloud/user", user, None)
            .await?;
        Ok(data["groups"]
            .as_array()
            .is_some_and(|groups| groups.iter().any(|g| g == "admin")))
    }

    /// Where the browser reaches us through AppAPI's proxy, e.g.
    /// `/index.php/apps/app_api/proxy/openconnector/`.
    pub fn proxy_path(&self) -> String {
        format!(
            "{}/index.php/apps/app_api/proxy/{}/",
            self.base_path(),
            self.app_id
        )
    }

    /// The path part of the base URL (for links the browser follows), e.g. "" or "/nextcloud".
    fn base_path(&self) -> String {
        reqwest::Url::parse(&self.base)
            .map(|url| url.path().trim_end_matches('/').to_owned())
            .unwrap_or_default()
    }
}
