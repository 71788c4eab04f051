//! Start-up: the shared state, the database made ready, and the HTTP server.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};

use crate::appapi::ExApp;
use crate::call::CallService;
use crate::config::{Settings, redact_url};
use crate::db::{Db, DbError};
use crate::mapping::Mapper;
use crate::mapping::stored::StoredMappings;
use crate::retention::Retention;
use crate::secret::Secret;
use crate::sync::Synchronizer;
use crate::sync::writer::{RegisterAuth, RegisterSettings};
use crate::telemetry::{self, Metrics};

/// Who may call us: an admin with the bearer token (standalone), or Nextcloud through AppAPI.
pub enum Access {
    Standalone { admin_token: Secret },
    ExApp(Arc<ExApp>),
}

/// What every request handler can reach.
pub struct AppState {
    pub db: Db,
    pub calls: Arc<CallService>,
    /// Compiles and caches mappings; `executeMapping` finds stored ones through the store.
    pub mapper: Mapper,
    pub sync: Synchronizer,
    pub access: Access,
    pub metrics: Metrics,
    /// The installation's log retention, shared with everything that writes logs.
    pub retention: Retention,
    /// Whether the database is migrated (at once standalone, after `/init` under AppAPI);
    /// background work waits for it.
    ready: Arc<AtomicBool>,
}

impl AppState {
    /// The state of a standalone service. Starts background writers, so it needs a tokio
    /// runtime.
    pub fn new(db: Db, admin_token: Secret) -> Result<Self, crate::call::CallError> {
        Self::with_access(db, Access::Standalone { admin_token })
    }

    /// The state of a service running as a Nextcloud app.
    pub fn for_exapp(db: Db, exapp: ExApp) -> Result<Self, crate::call::CallError> {
        Self::with_access(db, Access::ExApp(Arc::new(exapp)))
    }

    fn with_access(db: Db, access: Access) -> Result<Self, crate::call::CallError> {
        let retention = Retention::default();
        let calls = Arc::new(CallService::new(
            db.clone(),
            crate::call::CallSettings {
                retention: retention.clone(),
                ..crate::call::CallSettings::default()
            },
        )?);
        let ready = Arc::new(AtomicBool::new(matches!(access, Access::Standalone { .. })));
        let mapper = Mapper::new(Arc::new(StoredMappings::new(db.clone())));
        let register = match &access {
            Access::ExApp(exapp) => Some(RegisterSettings {
                base: format!(
                    "{}/index.php/apps/openregister/api",
                    exapp.settings.nextcloud_url
                ),
                auth: RegisterAuth::AppApi {
                    app_id: exapp.settings.app_id.clone(),
                    app_version: exapp.settings.app_version.clone(),
                    secret: exapp.settings.secret.clone(),
                },
            }),
            Access::Standalone { .. } => None,
        };
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| crate::call::CallError::Client(e.to_string()))?;
        Ok(Self {
            sync: Synchronizer {
                db: db.clone(),
                calls: Arc::clone(&calls),
                mapper: mapper.clone(),
                register,
                http,
                runs: Arc::default(),
                retention: retention.clone(),
            },
            calls,
            mapper,
            db,
            access,
            metrics: Metrics::default(),
            retention,
            ready,
        })
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Marks the database migrated and reads the stored settings.
    pub async fn become_ready(&self) -> Result<(), DbError> {
        let settings = self.db.run(crate::retention::load).await?;
        self.retention.set(settings);
        self.ready.store(true, Ordering::Release);
        Ok(())
    }

    /// Where synchronizations write: OpenRegister's REST API (overrides the default under AppAPI).
    pub fn with_register(mut self, register: Option<RegisterSettings>) -> Self {
        if register.is_some() {
            self.sync.register = register;
        }
        self
    }

    pub fn exapp(&self) -> Option<Arc<ExApp>> {
        match &self.access {
            Access::ExApp(exapp) => Some(Arc::clone(exapp)),
            Access::Standalone { .. } => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database {url}: {source}")]
    Database { url: String, source: DbError },
    #[error("admin token file {path}: {source}")]
    TokenFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot generate an admin token: {0}")]
    Randomness(getrandom::Error),
}

/// Where the admin token came from, so start-up can tell the operator.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenOrigin {
    Configured,
    Stored(PathBuf),
    Generated(PathBuf),
}

/// Connects to the configured database and applies pending migrations.
pub fn open_database(settings: &Settings) -> Result<Db, StartError> {
    let db = open_database_without_migrations(settings)?;
    db.run_blocking(|conn| conn.run_pending_migrations())
        .map_err(|source| StartError::Database {
            url: redact_url(&settings.database_url()),
            source,
        })?;
    Ok(db)
}

/// A pool for the configured database that connects on first use (under AppAPI, `/init`
/// migrates and reports a database that cannot be reached).
pub fn open_database_lazily(settings: &Settings) -> Result<Db, StartError> {
    let url = settings.database_url();
    Db::connect_lazily(&url, &settings.table_prefix, settings.db_max_connections).map_err(
        |source| StartError::Database {
            url: redact_url(&url),
            source,
        },
    )
}

/// Connects to the configured database as it is.
pub fn open_database_without_migrations(settings: &Settings) -> Result<Db, StartError> {
    let url = settings.database_url();
    Db::connect(&url, &settings.table_prefix, settings.db_max_connections).map_err(|source| {
        StartError::Database {
            url: redact_url(&url),
            source,
        }
    })
}

/// The configured admin token, or the one stored in the data folder, or a new one stored there.
pub fn admin_token(settings: &Settings) -> Result<(Secret, TokenOrigin), StartError> {
    if let Some(token) = &settings.admin_token {
        return Ok((token.clone(), TokenOrigin::Configured));
    }
    let path = settings.data_dir.join("admin-token");
    let file_error = |source| StartError::TokenFile {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => {
            return Ok((Secret::new(text.trim()), TokenOrigin::Stored(path)));
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(file_error(e)),
    }
    let token = Secret::generate().map_err(StartError::Randomness)?;
    write_private(&path, token.expose()).map_err(file_error)?;
    Ok((token, TokenOrigin::Generated(path)))
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    std::io::Write::write_all(&mut options.open(path)?, format!("{text}\n").as_bytes())
}

/// A bound socket to serve on.
pub enum Listener {
    Tcp(TcpListener),
    #[cfg(unix)]
    Unix(std::os::unix::net::UnixListener),
}

impl From<TcpListener> for Listener {
    fn from(listener: TcpListener) -> Self {
        Self::Tcp(listener)
    }
}

/// The HTTP server on an already bound listener (tests bind port 0 and read it back).
pub fn build_server(
    listener: impl Into<Listener>,
    state: web::Data<AppState>,
) -> std::io::Result<Server> {
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::PayloadConfig::new(16 * 1024 * 1024))
            .wrap(from_fn(crate::api::authenticate))
            .wrap(from_fn(telemetry::measure))
            .wrap(actix_web::middleware::Compress::default())
            .configure(crate::api::configure)
    });
    let server = match listener.into() {
        Listener::Tcp(listener) => server.listen(listener)?,
        #[cfg(unix)]
        Listener::Unix(listener) => server.listen_uds(listener)?,
    };
    Ok(server.run())
}
