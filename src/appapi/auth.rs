//! Authentication of requests from Nextcloud: `EX-APP-ID` must be ours, `EX-APP-VERSION` must
//! be present, and `AUTHORIZATION-APP-API` must be base64 of `user:secret` with our secret
//! (compared in constant time). The user half is the acting Nextcloud user ("" = the system).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::header::HeaderMap;
use base64::Engine;

use super::ExAppSettings;

/// The Nextcloud user a request acts for; empty for AppAPI's own calls and anonymous visitors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextcloudUser(pub String);

/// Why a request was refused; never contains the presented secret.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AppApiAuthError {
    #[error("the {0} header is missing")]
    Missing(&'static str),
    #[error("EX-APP-ID names another app")]
    WrongApp,
    #[error("AUTHORIZATION-APP-API is not base64 of user:secret")]
    Malformed,
    #[error("the app secret does not match")]
    WrongSecret,
}

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, AppApiAuthError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(AppApiAuthError::Missing(name))
}

/// Checks AppAPI's headers and answers the acting user.
pub fn verify(
    settings: &ExAppSettings,
    headers: &HeaderMap,
) -> Result<NextcloudUser, AppApiAuthError> {
    let app_id = header(headers, "ex-app-id")?;
    header(headers, "ex-app-version")?;
    let credentials = header(headers, "authorization-app-api")?;
    // Compare ids without branching on content either; the id is not secret, but cheap to do.
    if !crate::secret::Secret::new(settings.app_id.as_str()).matches(app_id) {
        return Err(AppApiAuthError::WrongApp);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(credentials)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or(AppApiAuthError::Malformed)?;
    let (user, secret) = decoded.split_once(':').ok_or(AppApiAuthError::Malformed)?;
    if !settings.secret.matches(secret) {
        return Err(AppApiAuthError::WrongSecret);
    }
    Ok(NextcloudUser(user.to_owned()))
}

/// Whether users are admins, remembered for a minute so admin routes do not ask Nextcloud on
/// every request.
#[derive(Default)]
pub struct AdminCache {
    known: Mutex<HashMap<String, (bool, Instant)>>,
}

const ADMIN_CACHE_TIME: Duration = Duration::from_secs(60);

impl AdminCache {
    pub fn get(&self, user: &str) -> Option<bool> {
        let known = self
            .known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        known
            .get(user)
            .filter(|(_, at)| at.elapsed() < ADMIN_CACHE_TIME)
            .map(|(admin, _)| *admin)
    }

    pub fn put(&self, user: &str, admin: bool) {
        let mut known = self
            .known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        known.insert(user.to_owned(), (admin, Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appapi::Listen;
    use crate::secret::Secret;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn settings() -> ExAppSettings {
        ExAppSettings {
            app_id: "openconnector".into(),
            app_version: "1.0.0".into(),
            secret: Secret::new("s3cret"),
            display_name: "Connector".into(),
            nextcloud_url: "http://nc".into(),
            persistent_storage: None,
            listen: Listen::Tcp("127.0.0.1:0".parse().expect("address")),
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        map
    }

    fn credentials(text: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    #[test]
    fn valid_headers_name_the_user() {
        let ok = headers(&[
            ("ex-app-id", "openconnector"),
            ("ex-app-version", "0.9"),
            ("authorization-app-api", &credentials("alice:s3cret")),
        ]);
        assert_eq!(verify(&settings(), &ok), Ok(NextcloudUser("alice".into())));
        let system = headers(&[
            ("ex-app-id", "openconnector"),
            ("ex-app-version", "1"),
            ("authorization-app-api", &credentials(":s3cret")),
        ]);
        assert_eq!(
            verify(&settings(), &system),
            Ok(NextcloudUser(String::new()))
        );
    }

    #[test]
    fn every_forgery_is_refused_with_its_reason() {
        let good = credentials("alice:s3cret");
        let cases: [(&[(&'static str, &str)], AppApiAuthError); 6] = [
            (
                &[("ex-app-version", "1"), ("authorization-app-api", &good)],
                AppApiAuthError::Missing("ex-app-id"),
            ),
            (
                &[
                    ("ex-app-id", "openconnector"),
                    ("ex-app-version", " "),
                    ("authorization-app-api", &good),
                ],
                AppApiAuthError::Missing("ex-app-version"),
            ),
            (
                &[
                    ("ex-app-id", "other"),
                    ("ex-app-version", "1"),
                    ("authorization-app-api", &good),
                ],
                AppApiAuthError::WrongApp,
            ),
            (
                &[
                    ("ex-app-id", "openconnector"),
                    ("ex-app-version", "1"),
                    ("authorization-app-api", "%%%"),
                ],
                AppApiAuthError::Malformed,
            ),
            (
                &[
                    ("ex-app-id", "openconnector"),
                    ("ex-app-version", "1"),
                    ("authorization-app-api", &credentials("alice:wrong")),
                ],
                AppApiAuthError::WrongSecret,
            ),
            (
                &[("ex-app-id", "openconnector"), ("ex-app-version", "1")],
                AppApiAuthError::Missing("authorization-app-api"),
            ),
        ];
        for (pairs, expected) in cases {
            assert_eq!(verify(&settings(), &headers(pairs)), Err(expected.clone()));
            assert!(!expected.to_string().contains("s3cret"));
        }
    }
}
