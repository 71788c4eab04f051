//! Running inside Nextcloud as an AppAPI external app ("ExApp"): the settings AppAPI passes in
//! the environment, the lifecycle routes it calls, the authentication of its requests, and our
//! calls back to Nextcloud.

pub mod auth;
pub mod client;
pub mod lifecycle;

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::config::ConfigError;
use crate::secret::Secret;

/// The unix socket HaRP's FRP client tunnels to.
pub const HARP_SOCKET: &str = "/tmp/exapp.sock";

/// Where the service listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    Tcp(SocketAddr),
    /// Under HaRP (`HP_SHARED_KEY` set).
    UnixSocket(PathBuf),
}

/// What AppAPI tells the app through its environment.
#[derive(Debug, Clone)]
pub struct ExAppSettings {
    pub app_id: String,
    pub app_version: String,
    pub secret: Secret,
    pub display_name: String,
    /// Nextcloud's base URL, without a trailing `/index.php` or `/`.
    pub nextcloud_url: String,
    pub persistent_storage: Option<PathBuf>,
    pub listen: Listen,
}

impl ExAppSettings {
    /// Reads `APP_ID`, `APP_VERSION`, `APP_SECRET`, `APP_HOST`, `APP_PORT`,
    /// `APP_PERSISTENT_STORAGE`, `NEXTCLOUD_URL`, `APP_DISPLAY_NAME` and `HP_SHARED_KEY`.
    /// `None` when `APP_ID` is absent (standalone).
    pub fn from_env(
        env: &impl Fn(&str) -> Option<String>,
        errors: &mut Vec<ConfigError>,
    ) -> Option<Self> {
        let get = |key: &str| env(key).filter(|v| !v.trim().is_empty());
        let app_id = get("APP_ID")?;
        let mut require = |key: &str, what: &str| {
            get(key).unwrap_or_else(|| {
                errors.push(ConfigError {
                    key: key.to_owned(),
                    problem: format!("expected {what} (AppAPI sets it; APP_ID is set)"),
                });
                String::new()
            })
        };
        let app_version = require("APP_VERSION", "the app version");
        let secret = Secret::new(require("APP_SECRET", "the shared secret"));
        let nextcloud_url = require(
            "NEXTCLOUD_URL",
            "Nextcloud's URL such as http://nextcloud.local",
        );
        let listen = if get("HP_SHARED_KEY").is_some() {
            Listen::UnixSocket(PathBuf::from(HARP_SOCKET))
        } else {
            let host = get("APP_HOST").unwrap_or_else(|| "127.0.0.1".to_owned());
            let port = require("APP_PORT", "the port AppAPI assigned");
            let address = if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            };
            match address.parse() {
                Ok(address) => Listen::Tcp(address),
                Err(_) => {
                    if !port.is_empty() {
                        errors.push(ConfigError {
                            key: "APP_HOST/APP_PORT".into(),
                            problem: format!("expected an address and port, got {address:?}"),
                        });
                    }
                    Listen::Tcp(SocketAddr::from(([127, 0, 0, 1], 0)))
                }
            }
        };
        if !nextcloud_url.is_empty()
            && !nextcloud_url.starts_with("http://")
            && !nextcloud_url.starts_with("https://")
        {
            errors.push(ConfigError {
                key: "NEXTCLOUD_URL".into(),
                problem: format!("expected an http(s) URL, got {nextcloud_url:?}"),
            });
        }
        Some(Self {
            display_name: get("APP_DISPLAY_NAME").unwrap_or_else(|| app_id.clone()),
            app_id,
            app_version,
            secret,
            nextcloud_url: base_url(&nextcloud_url),
            persistent_storage: get("APP_PERSISTENT_STORAGE").map(PathBuf::from),
            listen,
        })
    }
}

/// The running ExApp: its settings, our client for Nextcloud, and remembered admin checks.
pub struct ExApp {
    pub settings: ExAppSettings,
    pub nextcloud: client::NextcloudClient,
    pub admins: auth::AdminCache,
}

impl ExApp {
    pub fn new(settings: ExAppSettings) -> Result<Self, client::NextcloudError> {
        Ok(Self {
            nextcloud: client::NextcloudClient::new(&settings)?,
            settings,
            admins: auth::AdminCache::default(),
        })
    }

    /// Whether `user` may use admin routes: the system ("") may; users must be Nextcloud admins.
    pub async fn is_admin(&self, user: &str) -> Result<bool, client::NextcloudError> {
        if user.is_empty() {
            return Ok(true);
        }
        if let Some(admin) = self.admins.get(user) {
            return Ok(admin);
        }
        let admin = self.nextcloud.is_admin(user).await?;
        self.admins.put(user, admin);
        Ok(admin)
    }
}

/// `http://nc/index.php/` → `http://nc`.
fn base_url(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    url.strip_suffix("/index.php")
        .unwrap_or(url)
        .trim_end_matches('/')
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(pairs: &[(&str, &str)]) -> (Option<ExAppSettings>, Vec<ConfigError>) {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        let mut errors = Vec::new();
        let settings = ExAppSettings::from_env(&|key: &str| map.get(key).cloned(), &mut errors);
        (settings, errors)
    }

    #[test]
    fn app_id_switches_exapp_mode_on_and_the_url_loses_index_php() {
        assert!(read(&[]).0.is_none());
        let (settings, errors) = read(&[
            ("APP_ID", "openconnector"),
            ("APP_VERSION", "1.0.0"),
            ("APP_SECRET", "s"),
            ("APP_HOST", "0.0.0.0"),
            ("APP_PORT", "23000"),
            ("NEXTCLOUD_URL", "http://nc.local/index.php/"),
        ]);
        assert!(errors.is_empty(), "{errors:?}");
        let settings = settings.expect("exapp");
        assert_eq!(settings.nextcloud_url, "http://nc.local");
        assert_eq!(
            settings.listen,
            Listen::Tcp("0.0.0.0:23000".parse().expect("address"))
        );
        assert_eq!(settings.display_name, "openconnector");
    }

    #[test]
    fn harp_listens_on_the_socket_and_missing_values_are_named() {
        let (settings, errors) = read(&[("APP_ID", "openconnector"), ("HP_SHARED_KEY", "k")]);
        assert_eq!(
            settings.map(|s| s.listen),
            Some(Listen::UnixSocket(PathBuf::from(HARP_SOCKET)))
        );
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["APP_VERSION", "APP_SECRET", "NEXTCLOUD_URL"]);
    }
}
