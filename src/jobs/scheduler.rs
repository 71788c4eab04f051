//! The in-process scheduler: every tick it claims the jobs that are due and runs them; every
//! minute it cleans expired logs. Several replicas may share one database: a due run is
//! claimed in a transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL and MySQL, SQLite's write
//! lock otherwise) by writing a lease on the job row, so exactly one replica runs it. The lease
//! is renewed while the run lasts; a replica that dies stops renewing and, once the lease
//! expires, another replica runs the job again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::web;
use chrono::NaiveDateTime;
use serde_json::Value;
use tokio::task::JoinHandle;

use super::schedule::{Schedule, pushed_out};
use super::{Action, LogEntry, Mode, Outcome};
use crate::app::AppState;
use crate::db::sql::Bind;
use crate::db::store::{self, Key, StoreError};
use crate::db::{BackendKind, Conn, DbError, JOB, JOB_LOG, format_time, parse_time};
use crate::retention;

/// Where the scheduler reads the time; tests move it by hand.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> NaiveDateTime;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> NaiveDateTime {
        chrono::Utc::now().naive_utc()
    }
}

/// A clock that stands still until told to move.
pub struct ManualClock(Mutex<NaiveDateTime>);

impl ManualClock {
    pub fn new(now: NaiveDateTime) -> Self {
        Self(Mutex::new(now))
    }

    pub fn set(&self, now: NaiveDateTime) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = now;
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> NaiveDateTime {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[derive(Debug, Clone)]
pub struct SchedulerSettings {
    /// How often due jobs are looked for.
    pub tick: Duration,
    /// How long a claim holds without renewal.
    pub lease: Duration,
    /// Most jobs claimed per tick.
    pub batch: u32,
    /// How often expired logs are deleted.
    pub clean_every: Duration,
    /// How long running jobs may take to finish at shutdown before they are interrupted.
    pub shutdown_grace: Duration,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        Self {
            tick: Duration::from_secs(15),
            lease: Duration::from_secs(60),
            batch: 8,
            clean_every: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(20),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("job {0:?} not found")]
    NotFound(String),
    #[error("job {id} is not due until {next_run}; send forceRun to run it now")]
    NotDue { id: i64, next_run: String },
    #[error("job {0} is running; it does not allow parallel runs")]
    Busy(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<DbError> for JobError {
    fn from(error: DbError) -> Self {
        Self::Store(error.into())
    }
}

/// A job claimed for one run.
struct Claimed {
    id: i64,
    row: Value,
    /// Held under a lease (jobs that allow parallel runs are not).
    leased: bool,
}

fn job_id(row: &Value) -> i64 {
    row.get("id").and_then(Value::as_i64).unwrap_or_default()
}

fn is_parallel(row: &Value) -> bool {
    row.get("allowParallelRuns") == Some(&Value::Bool(true))
}

fn time_field(row: &Value, name: &str) -> Option<NaiveDateTime> {
    row.get(name).and_then(Value::as_str).and_then(parse_time)
}

fn schedule_of(row: &Value) -> Schedule {
    Schedule::of_job(row).unwrap_or_else(|_| {
        // Stored rows were checked on save; a row edited behind our back runs by default.
        Schedule::parse(None, None, None)
            .unwrap_or(Schedule::Interval(chrono::Duration::minutes(5)))
    })
}

/// Claims up to `limit` due jobs at `now`.
fn claim_due(
    conn: &mut Conn,
    owner: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: u32,
) -> Result<Vec<Claimed>, DbError> {
    conn.transaction(|conn| {
        let (table, columns) = conn.table(&JOB);
        let (table, columns) = (table.to_owned(), columns.to_owned());
        let mut select = conn.sql();
        select
            .push(&format!(
                "SELECT {columns} FROM {table} WHERE {table}.is_enabled = "
            ))
            .bind(Bind::Bool(Some(true)))
            .push(&format!(
                " AND {table}.next_run IS NOT NULL AND {table}.next_run <= "
            ))
            .bind(Bind::Time(Some(now)))
            .push(&format!(
                " AND ({table}.lease_expires IS NULL OR {table}.lease_expires < "
            ))
            .bind(Bind::Time(Some(now)))
            .push(&format!(") ORDER BY {table}.next_run LIMIT {limit}"));
        if conn.backend() != BackendKind::Sqlite {
            select.push(" FOR UPDATE SKIP LOCKED");
        }
        let rows = conn.load(&select)?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            let mut row = JOB.row_to_json(row.0);
            let id = job_id(&row);
            let leased = !is_parallel(&row);
            let mut update = conn.sql();
            if leased {
                update
                    .push(&format!(
                        "UPDATE {table} SET status = 'running', lease_owner = "
                    ))
                    .bind(Bind::Text(Some(owner.to_owned())))
                    .push(", lease_expires = ")
                    .bind(Bind::Time(Some(lease_until)));
            } else {
                // Parallel runs move the schedule on at once: the next due run may start
                // while this one is still going.
                let next = schedule_of(&row).next_after(time_field(&row, "nextRun"), now);
                row["nextRun"] = format_time(next).into();
                update
                    .push(&format!("UPDATE {table} SET next_run = "))
                    .bind(Bind::Time(Some(next)));
            }
            update.push(" WHERE id = ").bind(Bind::Int(Some(id)));
            conn.execute(&update)?;
            claimed.push(Claimed { id, row, leased });
        }
        Ok(claimed)
    })
}

/// Claims one job for a run by hand; false when another run holds it.
fn claim_one(
    conn: &mut Conn,
    id: i64,
    owner: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
) -> Result<bool, DbError> {
    let (table, _) = conn.table(&JOB);
    let table = table.to_owned();
    let mut sql = conn.sql();
    sql.push(&format!(
        "UPDATE {table} SET status = 'running', lease_owner = "
    ))
    .bind(Bind::Text(Some(owner.to_owned())))
    .push(", lease_expires = ")
    .bind(Bind::Time(Some(lease_until)))
    .push(" WHERE id = ")
    .bind(Bind::Int(Some(id)))
    .push(" AND (lease_expires IS NULL OR lease_expires < ")
    .bind(Bind::Time(Some(now)))
    .push(")");
    Ok(conn.execute(&sql)? == 1)
}

fn renew(conn: &mut Conn, id: i64, owner: &str, until: NaiveDateTime) -> Result<bool, DbError> {
    let (table, _) = conn.table(&JOB);
    let table = table.to_owned();
    let mut sql = conn.sql();
    sql.push(&format!("UPDATE {table} SET lease_expires = "))
        .bind(Bind::Time(Some(until)))
        .push(" WHERE id = ")
        .bind(Bind::Int(Some(id)))
        .push(" AND lease_owner = ")
        .bind(Bind::Text(Some(owner.to_owned())));
    Ok(conn.execute(&sql)? == 1)
}

/// How a finished run changes its job.
struct Finish {
    /// The job's status after the run (`None`: no status).
    status: Option<String>,
    last_run: Option<NaiveDateTime>,
    next_run: Option<NaiveDateTime>,
    disable: bool,
}

/// Records the end of a run: the job's new state, its lease released, and its JobLog, in one
/// transaction (so a run is counted exactly when its job moved on).
fn finish(
    conn: &mut Conn,
    claimed: &Claimed,
    owner: &str,
    change: &Finish,
    log: &serde_json::Map<String, Value>,
) -> Result<Value, StoreError> {
    conn.transaction(|conn| {
        let (table, _) = conn.table(&JOB);
        let table = table.to_owned();
        let mut sql = conn.sql();
        sql.push(&format!("UPDATE {table} SET status = "))
            .bind(Bind::Text(change.status.clone()));
        if let Some(last_run) = change.last_run {
            sql.push(", last_run = ").bind(Bind::Time(Some(last_run)));
        }
        if let Some(next_run) = change.next_run {
            sql.push(", next_run = ").bind(Bind::Time(Some(next_run)));
        }
        if change.disable {
            sql.push(", is_enabled = ").bind(Bind::Bool(Some(false)));
        }
        if claimed.leased {
            sql.push(", lease_owner = NULL, lease_expires = NULL");
        }
        sql.push(" WHERE id = ").bind(Bind::Int(Some(claimed.id)));
        if claimed.leased {
            sql.push(" AND lease_owner = ")
                .bind(Bind::Text(Some(owner.to_owned())));
        }
        if conn.execute(&sql)? == 0 {
            tracing::warn!(
                job = claimed.id,
                "A job run ended after its lease had passed to another replica."
            );
        }
        store::create(conn, &JOB_LOG, log)
    })
}

/// Runs jobs: claims them, runs their action while keeping the claim, and records the end.
#[derive(Clone)]
pub struct Runner {
    state: web::Data<AppState>,
    clock: Arc<dyn Clock>,
    /// Identifies this process's claims.
    owner: String,
    lease: Duration,
}

impl Runner {
    pub fn new(state: web::Data<AppState>, clock: Arc<dyn Clock>, lease: Duration) -> Self {
        Self {
            state,
            clock,
            owner: uuid::Uuid::new_v4().to_string(),
            lease,
        }
    }

    fn lease_until(&self, now: NaiveDateTime) -> NaiveDateTime {
        now + chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::minutes(1))
    }

    /// Runs a job by hand (`POST /api/jobs/run|test/{id}`) and answers its JobLog. Not forced,
    /// a disabled job only logs a warning and a job that is not due is refused.
    pub async fn run_by_hand(&self, key: &str, mode: Mode) -> Result<Value, JobError> {
        let lookup = Key::parse(key);
        let row = self
            .state
            .db
            .run(move |conn| store::find(conn, &JOB, &lookup))
            .await?
            .ok_or_else(|| JobError::NotFound(key.to_owned()))?;
        let id = job_id(&row);
        let now = self.clock.now();
        if mode == Mode::Scheduled {
            if row.get("isEnabled") == Some(&Value::Bool(false)) {
                let outcome = Outcome {
                    level: super::Level::Warning,
                    message: "This job is disabled".into(),
                    result: Value::Null,
                    error: Vec::new(),
                    not_before: None,
                };
                let log = self.log_entry(&row, &outcome, mode, Instant::now(), now, None);
                return Ok(self
                    .state
                    .db
                    .run(move |conn| store::create(conn, &JOB_LOG, &log))
                    .await?);
            }
            if let Some(next_run) = time_field(&row, "nextRun").filter(|next| *next > now) {
                return Err(JobError::NotDue {
                    id,
                    next_run: format_time(next_run),
                });
            }
        }
        let leased = !is_parallel(&row);
        if leased {
            let (owner, until) = (self.owner.clone(), self.lease_until(now));
            let claimed = self
                .state
                .db
                .run(move |conn| claim_one(conn, id, &owner, now, until))
                .await?;
            if !claimed {
                return Err(JobError::Busy(id));
            }
        }
        Ok(self.run_claimed(Claimed { id, row, leased }, mode).await?)
    }

    /// Runs a claimed job to its end and records it.
    async fn run_claimed(&self, claimed: Claimed, mode: Mode) -> Result<Value, StoreError> {
        let started = Instant::now();
        let last_run = self.clock.now();
        let outcome = match Action::of_job(&claimed.row) {
            Ok(action) => {
                let run = super::perform(&self.state, &action, mode);
                if claimed.leased {
                    tokio::select! {
                        outcome = run => outcome,
                        never = self.keep_lease(claimed.id) => match never {},
                    }
                } else {
                    run.await
                }
            }
            Err(problems) => Outcome::failed(
                "The job cannot run".into(),
                problems
                    .into_iter()
                    .map(|(field, problem)| format!("{field}: {problem}"))
                    .collect(),
                Value::Null,
            ),
        };
        let now = self.clock.now();
        let change = match mode {
            Mode::Scheduled => {
                let next = if claimed.leased {
                    schedule_of(&claimed.row).next_after(time_field(&claimed.row, "nextRun"), now)
                } else {
                    time_field(&claimed.row, "nextRun").unwrap_or(now)
                };
                Finish {
                    status: Some(outcome.status().to_owned()),
                    last_run: Some(last_run),
                    next_run: Some(pushed_out(next, outcome.not_before)),
                    disable: claimed.row.get("singleRun") == Some(&Value::Bool(true)),
                }
            }
            Mode::Forced => Finish {
                status: Some(outcome.status().to_owned()),
                last_run: Some(last_run),
                next_run: None,
                disable: false,
            },
            // A test leaves the job as it was, but for its claim.
            Mode::Test => Finish {
                status: claimed
                    .row
                    .get("status")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                last_run: None,
                next_run: None,
                disable: false,
            },
        };
        let log = self.log_entry(
            &claimed.row,
            &outcome,
            mode,
            started,
            last_run,
            change.next_run,
        );
        let owner = self.owner.clone();
        let previous = claimed
            .row
            .get("status")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let job = claimed.row.clone();
        let stored = self
            .state
            .db
            .run(move |conn| finish(conn, &claimed, &owner, &change, &log))
            .await?;
        if outcome.is_failure() && mode != Mode::Test && previous.as_deref() != Some("failed") {
            self.notify_failure(&job, &outcome).await;
        }
        Ok(stored)
    }

    fn log_entry(
        &self,
        job: &Value,
        outcome: &Outcome,
        mode: Mode,
        started: Instant,
        last_run: NaiveDateTime,
        next_run: Option<NaiveDateTime>,
    ) -> serde_json::Map<String, Value> {
        LogEntry {
            job,
            outcome,
            mode,
            started,
            last_run,
            next_run,
            retention: self.state.retention.get(),
        }
        .to_input()
    }

    /// Renews the lease of a running job until the run ends (this future never completes).
    async fn keep_lease(&self, id: i64) -> std::convert::Infallible {
        let every = self.lease / 3;
        loop {
            tokio::time::sleep(every).await;
            let (owner, until) = (self.owner.clone(), self.lease_until(self.clock.now()));
            match self
                .state
                .db
                .run(move |conn| renew(conn, id, &owner, until))
                .await
            {
                Ok(true) => {}
                Ok(false) => tracing::warn!(job = id, "Lost the lease of a running job."),
                Err(error) => tracing::warn!(job = id, %error, "Could not renew a job's lease."),
            }
        }
    }

    /// Tells the job's owner that it failed, once per failure streak (the caller checks that
    /// the previous run did not fail).
    async fn notify_failure(&self, job: &Value, outcome: &Outcome) {
        let Some(exapp) = self.state.exapp() else {
            return;
        };
        let name = job.get("name").and_then(Value::as_str).unwrap_or("a job");
        let Some(user) = job
            .get("userId")
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
        else {
            tracing::warn!(job = name, "A job failed; it has no userId to notify.");
            return;
        };
        let link = format!(
            "{}/index.php/apps/app_api/embedded/{}/{}/jobs/logs?jobId={}",
            exapp.settings.nextcloud_url,
            exapp.settings.app_id,
            crate::appapi::client::MENU,
            job_id(job)
        );
        let subject = format!("Job \"{name}\" failed");
        if let Err(error) = exapp
            .nextcloud
            .notify(user, &subject, &outcome.message, Some(&link))
            .await
        {
            tracing::warn!(job = name, %error, "Could not notify the owner of a failed job.");
        }
    }

    /// Records that a run was cut off (shutdown): the job is released to run again at once.
    async fn interrupt(&self, claimed: Claimed, started: Instant, last_run: NaiveDateTime) {
        let outcome = Outcome::failed(
            "Interrupted: the service stopped before the run finished".into(),
            Vec::new(),
            Value::Null,
        );
        let change = Finish {
            status: Some("interrupted".to_owned()),
            last_run: Some(last_run),
            next_run: None,
            disable: false,
        };
        let log = self.log_entry(
            &claimed.row,
            &outcome,
            Mode::Scheduled,
            started,
            last_run,
            None,
        );
        let owner = self.owner.clone();
        let id = claimed.id;
        if let Err(error) = self
            .state
            .db
            .run(move |conn| finish(conn, &claimed, &owner, &change, &log))
            .await
        {
            tracing::error!(job = id, %error, "Could not record an interrupted job run.");
        }
    }
}

/// A run in progress.
struct Running {
    handle: JoinHandle<()>,
    job: Value,
    leased: bool,
    started: Instant,
    last_run: NaiveDateTime,
}

/// Runs due jobs and cleans logs until stopped.
pub struct Scheduler {
    runner: Runner,
    settings: SchedulerSettings,
    running: Arc<Mutex<HashMap<u64, Running>>>,
    next_run_number: std::sync::atomic::AtomicU64,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Scheduler {
    pub fn new(
        state: web::Data<AppState>,
        clock: Arc<dyn Clock>,
        settings: SchedulerSettings,
    ) -> Self {
        Self {
            runner: Runner::new(state, clock, settings.lease),
            settings,
            running: Arc::default(),
            next_run_number: std::sync::atomic::AtomicU64::new(0),
            stop: tokio::sync::watch::channel(false).0,
        }
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Running>> {
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Claims the jobs due now and starts their runs; answers how many started.
    pub async fn tick(&self) -> Result<usize, DbError> {
        let now = self.runner.clock.now();
        let owner = self.runner.owner.clone();
        let until = self.runner.lease_until(now);
        let limit = self.settings.batch;
        let claimed = self
            .runner
            .state
            .db
            .run(move |conn| claim_due(conn, &owner, now, until, limit))
            .await?;
        let started = claimed.len();
        for claimed in claimed {
            let number = self
                .next_run_number
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let runner = self.runner.clone();
            let running = Arc::clone(&self.running);
            let job = claimed.row.clone();
            let leased = claimed.leased;
            let id = claimed.id;
            // The entry is added before the task can finish and remove it.
            let mut table = self.running();
            let handle = tokio::spawn(async move {
                if let Err(error) = runner.run_claimed(claimed, Mode::Scheduled).await {
                    tracing::error!(job = id, %error, "A job run could not be recorded.");
                }
                running
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&number);
            });
            table.insert(
                number,
                Running {
                    handle,
                    job,
                    leased,
                    started: Instant::now(),
                    last_run: now,
                },
            );
        }
        Ok(started)
    }

    /// Deletes expired logs (and picks up retention settings other replicas stored).
    pub async fn clean(&self) -> Result<retention::Cleaned, DbError> {
        let state = &self.runner.state;
        let settings = state.db.run(retention::load).await?;
        state.retention.set(settings);
        let pace = retention::Pace::for_backend(state.db.backend());
        retention::clean(&state.db, self.runner.clock.now(), pace).await
    }

    /// How many runs are in progress.
    pub fn busy(&self) -> usize {
        self.running().len()
    }

    /// Waits until no run is in progress.
    pub async fn wait_idle(&self) {
        while self.busy() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Ticks and cleans until [`Scheduler::shutdown`]; waits for the database to be ready.
    pub async fn run(&self) {
        let mut stop = self.stop.subscribe();
        let mut ticks = tokio::time::interval(self.settings.tick);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_clean: Option<Instant> = None;
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stop.changed() => return,
            }
            if !self.runner.state.is_ready() && !self.database_is_ready().await {
                continue;
            }
            if let Err(error) = self.tick().await {
                tracing::warn!(%error, "Could not look for due jobs.");
            }
            if last_clean.is_none_or(|at| at.elapsed() >= self.settings.clean_every) {
                last_clean = Some(Instant::now());
                match self.clean().await {
                    Ok(cleaned) if cleaned.deleted > 0 => {
                        tracing::info!(deleted = cleaned.deleted, "Deleted expired logs.");
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "Could not delete expired logs."),
                }
            }
        }
    }

    /// Under AppAPI a restarted app is not sent `/init` again: a migrated database is ready.
    async fn database_is_ready(&self) -> bool {
        let state = &self.runner.state;
        let migrated = state
            .db
            .run(|conn| {
                let applied = conn.applied_migrations()?.len();
                Ok::<_, DbError>(applied == crate::db::migrations(conn.backend()).len())
            })
            .await;
        matches!(migrated, Ok(true)) && state.become_ready().await.is_ok()
    }

    /// Stops ticking, lets running jobs finish within the grace period, and records the rest
    /// as interrupted (released, so they run again at once), never leaving one "running".
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let deadline = Instant::now() + self.settings.shutdown_grace;
        while self.busy() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let cut: Vec<Running> = self.running().drain().map(|(_, run)| run).collect();
        for run in cut {
            run.handle.abort();
            let _ = run.handle.await;
            let claimed = Claimed {
                id: job_id(&run.job),
                row: run.job,
                leased: run.leased,
            };
            self.runner
                .interrupt(claimed, run.started, run.last_run)
                .await;
        }
    }

    /// Stops at once without recording anything, as a process that dies would.
    pub fn abandon(&self) {
        let _ = self.stop.send(true);
        for (_, run) in self.running().drain() {
            run.handle.abort();
        }
    }
}
