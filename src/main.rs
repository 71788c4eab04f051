//! The `openconnector` command: `serve` (the default) and `migrate`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;

use actix_web::web;
use clap::{Parser, Subcommand};
use openconnector::app::{self, AppState, Listener, TokenOrigin};
use openconnector::appapi::{ExApp, ExAppSettings, Listen};
use openconnector::config::Settings;
use openconnector::jobs::scheduler::{Scheduler, SchedulerSettings, SystemClock};
use openconnector::sync::RunOptions;
use openconnector::telemetry;

#[derive(Parser)]
#[command(
    name = "openconnector",
    version,
    about = "Integration hub for Nextcloud"
)]
struct Cli {
    /// A TOML settings file; OPENCONNECTOR_* environment variables override it.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (the default).
    Serve,
    /// Apply pending database migrations, or revert the newest with --revert.
    Migrate {
        #[arg(long)]
        revert: bool,
    },
    /// Run one synchronization now (by id, uuid or slug), showing its progress.
    Sync {
        synchronization: String,
        /// Read and map, but write nothing.
        #[arg(long)]
        test: bool,
        /// Write every object, changed or not.
        #[arg(long)]
        force: bool,
    },
}

/// Exit code for a bad setting, so supervisors can tell it from a crash.
const EXIT_BAD_CONFIG: u8 = 12;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref(), |key| std::env::var(key).ok()) {
        Ok(settings) => settings,
        Err(errors) => {
            for error in errors {
                eprintln!("openconnector: bad setting {error}");
            }
            return ExitCode::from(EXIT_BAD_CONFIG);
        }
    };
    telemetry::init_logging(&settings.log_level);
    let outcome = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&settings),
        Command::Migrate { revert } => migrate(&settings, revert),
        Command::Sync {
            synchronization,
            test,
            force,
        } => sync(&settings, &synchronization, RunOptions { test, force }),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("openconnector: {message}");
            ExitCode::FAILURE
        }
    }
}

fn migrate(settings: &Settings, revert: bool) -> Result<(), String> {
    let db = app::open_database_without_migrations(settings).map_err(|e| e.to_string())?;
    if revert {
        match db
            .run_blocking(|conn| conn.revert_last_migration())
            .map_err(|e| e.to_string())?
        {
            Some(name) => println!("reverted {name}"),
            None => println!("no migration to revert"),
        }
    } else {
        let applied = db
            .run_blocking(|conn| conn.run_pending_migrations())
            .map_err(|e| e.to_string())?;
        if applied.is_empty() {
            println!("the database is up to date");
        }
        for name in applied {
            println!("applied {name}");
        }
    }
    Ok(())
}

/// Runs a synchronization from the command line, printing a progress line until it ends.
fn sync(settings: &Settings, synchronization: &str, options: RunOptions) -> Result<(), String> {
    let db = app::open_database(settings).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let token = openconnector::secret::Secret::new("");
        let state = AppState::new(db, token).map_err(|e| e.to_string())?.with_register(settings.openregister.clone());
        let runs = std::sync::Arc::clone(&state.sync.runs);
        let run = state.sync.run(synchronization, options);
        tokio::pin!(run);
        let mut ticker = tokio::time::interval(std::time::Duration::from_millis(250));
        let log = loop {
            tokio::select! {
                log = &mut run => break log,
                _ = ticker.tick() => {
                    let progress = runs.progress_of_any();
                    if let Some(progress) = progress {
                        eprint!("\r{:<10} page {:>5}  objects {:>9}", progress.stage, progress.page, progress.processed);
                    }
                }
            }
        };
        eprintln!();
        let log = log.map_err(|e| e.to_string())?;
        let objects = &log["result"]["objects"];
        println!(
            "{}: found {}, created {}, updated {}, skipped {}, deleted {}, invalid {} in {} ms",
            log["message"].as_str().unwrap_or_default(),
            objects["found"], objects["created"], objects["updated"], objects["skipped"], objects["deleted"], objects["invalid"],
            log["executionTime"]
        );
        if log["result"]["complete"] == true { Ok(()) } else { Err("the synchronization did not finish".to_owned()) }
    })
}

fn serve(settings: &Settings) -> Result<(), String> {
    match &settings.exapp {
        Some(exapp) => serve_exapp(settings, exapp),
        None => serve_standalone(settings),
    }
}

fn serve_standalone(settings: &Settings) -> Result<(), String> {
    let db = app::open_database(settings).map_err(|e| e.to_string())?;
    let (admin_token, origin) = app::admin_token(settings).map_err(|e| e.to_string())?;
    let listener = TcpListener::bind(settings.bind).map_err(|e| {
        format!(
            "cannot listen on {} (OPENCONNECTOR_BIND): {e}",
            settings.bind
        )
    })?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    println!(
        "OpenConnector {} on {} with {}",
        env!("CARGO_PKG_VERSION"),
        address,
        db.backend().name()
    );
    println!("  UI and API: http://{address}/");
    match origin {
        TokenOrigin::Configured => {
            println!("  admin token: as configured (OPENCONNECTOR_ADMIN_TOKEN)")
        }
        TokenOrigin::Stored(path) => println!("  admin token: in {}", path.display()),
        TokenOrigin::Generated(path) => {
            println!(
                "  admin token (new, saved in {}): {}",
                path.display(),
                admin_token.expose()
            );
        }
    }
    run(listener.into(), settings, move || {
        AppState::new(db, admin_token).map_err(|e| e.to_string())
    })
}

/// Under AppAPI: listen where AppAPI says, and leave migrations to `POST /init`.
fn serve_exapp(settings: &Settings, exapp: &ExAppSettings) -> Result<(), String> {
    let db = app::open_database_lazily(settings).map_err(|e| e.to_string())?;
    let listener = match &exapp.listen {
        Listen::Tcp(address) => Listener::Tcp(
            TcpListener::bind(address)
                .map_err(|e| format!("cannot listen on {address} (APP_HOST/APP_PORT): {e}"))?,
        ),
        Listen::UnixSocket(path) => {
            // A socket file left by a previous run would stop the bind.
            let _ = std::fs::remove_file(path);
            let listener = std::os::unix::net::UnixListener::bind(path)
                .map_err(|e| format!("cannot listen on {} (HaRP): {e}", path.display()))?;
            // The FRP client may run as another user; it must be able to connect.
            std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o666))
                .map_err(|e| format!("cannot open {} to the FRP client: {e}", path.display()))?;
            Listener::Unix(listener)
        }
    };
    println!(
        "OpenConnector {} as Nextcloud app {:?} for {} on {:?} with {}",
        env!("CARGO_PKG_VERSION"),
        exapp.app_id,
        exapp.nextcloud_url,
        exapp.listen,
        db.backend().name()
    );
    let exapp = ExApp::new(exapp.clone()).map_err(|e| e.to_string())?;
    run(listener, settings, move || {
        AppState::for_exapp(db, exapp).map_err(|e| e.to_string())
    })
}

/// Runs the server and the job scheduler until stopped: SIGINT or SIGTERM finish requests in
/// flight, then running jobs finish or are recorded as interrupted.
fn run(
    listener: Listener,
    settings: &Settings,
    state: impl FnOnce() -> Result<AppState, String>,
) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let state = web::Data::new(state()?);
        if state.is_ready() {
            state.become_ready().await.map_err(|e| e.to_string())?;
        }
        let scheduler = std::sync::Arc::new(Scheduler::new(
            state.clone(),
            std::sync::Arc::new(SystemClock),
            SchedulerSettings {
                tick: settings.job_tick,
                ..SchedulerSettings::default()
            },
        ));
        let ticking = tokio::spawn({
            let scheduler = std::sync::Arc::clone(&scheduler);
            async move { scheduler.run().await }
        });
        let server = app::build_server(listener, state).map_err(|e| e.to_string())?;
        let served = server.await.map_err(|e| e.to_string());
        scheduler.shutdown().await;
        let _ = ticking.await;
        served
    })
}
