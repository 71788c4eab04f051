//! Settings: defaults, then an optional TOML file, then `OPENCONNECTOR_*` environment
//! variables. Every problem is collected and reported before the server binds.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::appapi::ExAppSettings;
use crate::db::BackendKind;
use crate::secret::Secret;
use crate::sync::writer::{RegisterAuth, RegisterSettings};

/// The settings of one running service.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    /// `None` means the SQLite file in the data folder.
    pub database_url: Option<String>,
    pub table_prefix: String,
    pub admin_token: Option<Secret>,
    pub db_max_connections: u32,
    pub log_level: String,
    /// How often the scheduler looks for due jobs.
    pub job_tick: std::time::Duration,
    /// Present when AppAPI started us (`APP_ID` is set).
    pub exapp: Option<ExAppSettings>,
    /// OpenRegister's `…/apps/openregister/api` base, with a Nextcloud user and app password.
    pub openregister: Option<RegisterSettings>,
}

/// One bad setting: its name as the user wrote it and what was expected.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.problem)
    }
}

/// The TOML file's keys, named as the environment variables without `OPENCONNECTOR_`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    bind: Option<String>,
    data_dir: Option<String>,
    database_url: Option<String>,
    table_prefix: Option<String>,
    admin_token: Option<String>,
    db_max_connections: Option<u32>,
    log_level: Option<String>,
    job_tick: Option<u64>,
    openregister_url: Option<String>,
    openregister_user: Option<String>,
    openregister_password: Option<String>,
}

const ENV_PREFIX: &str = "OPENCONNECTOR_";

impl Settings {
    /// Loads settings from `file` (if given) and the environment read through `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let from_file = match file {
            Some(path) => read_file(path).unwrap_or_else(|e| {
                errors.push(e);
                FileSettings::default()
            }),
            None => FileSettings::default(),
        };
        // Environment wins over the file; the key names which one a problem came from.
        let pick = |name: &str, file_value: Option<String>| -> Option<(String, String)> {
            let env_key = format!("{ENV_PREFIX}{}", name.to_uppercase());
            match env(&env_key).filter(|v| !v.is_empty()) {
                Some(value) => Some((env_key, value)),
                None => file_value.map(|value| (name.to_owned(), value)),
            }
        };

        let bind = match pick("bind", from_file.bind) {
            Some((key, value)) => value.parse().unwrap_or_else(|_| {
                errors.push(problem(
                    &key,
                    "an address and port such as 127.0.0.1:8080",
                    &value,
                ));
                default_bind()
            }),
            None => default_bind(),
        };
        let exapp = ExAppSettings::from_env(&env, &mut errors);
        // Under AppAPI the data folder is the app's persistent storage unless set explicitly.
        let default_data_dir = exapp
            .as_ref()
            .and_then(|e| e.persistent_storage.clone())
            .unwrap_or_else(|| PathBuf::from("./data"));
        let data_dir = pick("data_dir", from_file.data_dir)
            .map_or(default_data_dir, |(_, v)| PathBuf::from(v));
        let database_url = pick("database_url", from_file.database_url).and_then(|(key, value)| {
            match BackendKind::from_url(&value) {
                Ok(_) => Some(value),
                Err(expected) => {
                    errors.push(problem(&key, &expected, &redact_url(&value)));
                    None
                }
            }
        });
        let table_prefix = match pick("table_prefix", from_file.table_prefix) {
            Some((key, value)) if !is_table_prefix(&value) => {
                errors.push(problem(
                    &key,
                    "1 to 20 lowercase letters, digits or underscores, starting with a letter",
                    &value,
                ));
                String::new()
            }
            Some((_, value)) => value,
            None => "oc_openconnector_".to_owned(),
        };
        let admin_token = match pick("admin_token", from_file.admin_token) {
            Some((key, value)) if value.len() < 16 => {
                errors.push(ConfigError {
                    key,
                    problem: "expected at least 16 characters".into(),
                });
                None
            }
            other => other.map(|(_, value)| Secret::new(value)),
        };
        let db_max_connections = match pick(
            "db_max_connections",
            from_file.db_max_connections.map(|n| n.to_string()),
        ) {
            Some((key, value)) => match value.parse::<u32>() {
                Ok(n) if (1..=200).contains(&n) => n,
                _ => {
                    errors.push(problem(&key, "a whole number from 1 to 200", &value));
                    8
                }
            },
            None => 8,
        };
        let log_level = match pick("log_level", from_file.log_level) {
            Some((key, value)) => {
                if tracing_subscriber::EnvFilter::try_new(&value).is_err() {
                    errors.push(problem(
                        &key,
                        "a log filter such as info or openconnector=debug",
                        &value,
                    ));
                }
                value
            }
            None => "info".to_owned(),
        };
        let job_tick = match pick("job_tick", from_file.job_tick.map(|n| n.to_string())) {
            Some((key, value)) => match value.parse::<u64>() {
                Ok(n) if (1..=3600).contains(&n) => n,
                _ => {
                    errors.push(problem(
                        &key,
                        "a whole number of seconds from 1 to 3600",
                        &value,
                    ));
                    15
                }
            },
            None => 15,
        };

        let openregister = match pick("openregister_url", from_file.openregister_url) {
            Some((key, url)) if !url.starts_with("http://") && !url.starts_with("https://") => {
                errors.push(problem(
                    &key,
                    "an http(s) URL ending in /apps/openregister/api",
                    &url,
                ));
                None
            }
            Some((_, url)) => {
                let user = pick("openregister_user", from_file.openregister_user).map(|(_, v)| v);
                let password =
                    pick("openregister_password", from_file.openregister_password).map(|(_, v)| v);
                let auth = match (user, password) {
                    (Some(user), Some(password)) => RegisterAuth::Basic {
                        user,
                        password: Secret::new(password),
                    },
                    (None, None) => RegisterAuth::None,
                    _ => {
                        errors.push(ConfigError {
                            key: "OPENCONNECTOR_OPENREGISTER_USER/PASSWORD".into(),
                            problem: "expected both a user and an app password, or neither".into(),
                        });
                        RegisterAuth::None
                    }
                };
                Some(RegisterSettings {
                    base: url.trim_end_matches('/').to_owned(),
                    auth,
                })
            }
            None => None,
        };

        if errors.is_empty() {
            Ok(Self {
                bind,
                data_dir,
                database_url,
                table_prefix,
                admin_token,
                db_max_connections,
                log_level,
                job_tick: std::time::Duration::from_secs(job_tick),
                exapp,
                openregister,
            })
        } else {
            Err(errors)
        }
    }

    /// The database URL in force: the configured one, or the SQLite file in the data folder.
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            self.data_dir
                .join("openconnector.sqlite")
                .to_string_lossy()
                .into_owned()
        })
    }
}

fn default_bind() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn read_file(path: &Path) -> Result<FileSettings, ConfigError> {
    let key = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        key: key.clone(),
        problem: format!("cannot read the file: {e}"),
    })?;
    toml::from_str(&text).map_err(|e| ConfigError {
        key,
        problem: format!("expected TOML with the keys bind, data_dir, database_url, table_prefix, admin_token, db_max_connections, log_level, job_tick, openregister_url, openregister_user, openregister_password: {}", e.message()),
    })
}

fn problem(key: &str, expected: &str, got: &str) -> ConfigError {
    ConfigError {
        key: key.to_owned(),
        problem: format!("expected {expected}, got {got:?}"),
    }
}

fn is_table_prefix(value: &str) -> bool {
    let mut bytes = value.bytes();
    value.len() <= 20
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A database URL with its password masked, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:••••{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |key| map.get(key).cloned()
    }

    #[test]
    fn defaults_need_no_setting() {
        let settings = Settings::load(None, env(&[])).expect("defaults are valid");
        assert_eq!(settings.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(settings.table_prefix, "oc_openconnector_");
        assert!(settings.database_url().ends_with("openconnector.sqlite"));
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = std::env::temp_dir().join(format!("oc-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("config.toml");
        std::fs::write(&file, "bind = \"127.0.0.1:9000\"\ntable_prefix = \"a_\"\n").expect("write");
        let settings = Settings::load(Some(&file), env(&[("OPENCONNECTOR_TABLE_PREFIX", "b_")]))
            .expect("valid");
        assert_eq!(settings.bind.port(), 9000);
        assert_eq!(settings.table_prefix, "b_");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn every_bad_setting_is_named_with_what_was_expected() {
        let errors = Settings::load(
            None,
            env(&[
                ("OPENCONNECTOR_BIND", "nowhere"),
                ("OPENCONNECTOR_DATABASE_URL", "redis://u:pw@host/db"),
                ("OPENCONNECTOR_TABLE_PREFIX", "Bad-Prefix"),
                ("OPENCONNECTOR_ADMIN_TOKEN", "short"),
            ]),
        )
        .expect_err("invalid");
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert!(lines[0].starts_with("OPENCONNECTOR_BIND: expected an address and port"));
        assert!(lines[1].contains("OPENCONNECTOR_DATABASE_URL") && !lines[1].contains("pw"));
        assert!(lines[2].starts_with("OPENCONNECTOR_TABLE_PREFIX"));
        assert!(lines[3].starts_with("OPENCONNECTOR_ADMIN_TOKEN") && !lines[3].contains("short"));
    }
}
