//! Jobs: what a job does (its action), one run of it and its JobLog. When runs happen, and
//! which replica runs them, is the scheduler's business.

pub mod schedule;
pub mod scheduler;

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, NaiveDateTime};
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::app::AppState;
use crate::call::{CallRequest, SourceSpec};
use crate::db::store::{self, Key};
use crate::db::{SOURCE, format_time};
use crate::retention::{LogKind, RetentionSettings};
use crate::sync::{RunOptions, SyncError};
use schedule::Schedule;

const SYNCHRONIZATION_ACTION: &str = "SynchronizationAction";
const PING_ACTION: &str = "PingAction";
/// The namespace of the PHP app's action classes, accepted so imported jobs run.
const PHP_NAMESPACE: &str = "OCA\\OpenConnector\\Action\\";

/// What a job does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Runs a synchronization (`{synchronizationId, force}`).
    Synchronization {
        synchronization: String,
        force: bool,
    },
    /// Calls a source once (`{sourceId, endpoint}`) to see that it answers.
    Ping { source: String, endpoint: String },
}

fn key_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Action {
    /// The action of a job class (ours or the PHP app's name) and its arguments; problems
    /// name the field.
    pub fn parse(job_class: &str, arguments: &Value) -> Result<Self, BTreeMap<String, String>> {
        let class = job_class.trim();
        let class = class
            .strip_prefix('\\')
            .unwrap_or(class)
            .strip_prefix(PHP_NAMESPACE)
            .unwrap_or(class);
        let problem = |field: &str, text: String| BTreeMap::from([(field.to_owned(), text)]);
        match class {
            SYNCHRONIZATION_ACTION => {
                let synchronization =
                    key_text(arguments.get("synchronizationId")).ok_or_else(|| {
                        problem(
                            "arguments.synchronizationId",
                            "is required: the id, uuid or slug of the synchronization to run"
                                .into(),
                        )
                    })?;
                let force = match arguments.get("force") {
                    None | Some(Value::Null) => false,
                    Some(value) => crate::db::parse_bool(value).ok_or_else(|| {
                        problem("arguments.force", "expected true or false".into())
                    })?,
                };
                Ok(Self::Synchronization {
                    synchronization,
                    force,
                })
            }
            PING_ACTION => Ok(Self::Ping {
                source: key_text(arguments.get("sourceId")).ok_or_else(|| {
                    problem(
                        "arguments.sourceId",
                        "is required: the id, uuid or slug of the source to call".into(),
                    )
                })?,
                endpoint: arguments
                    .get("endpoint")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            }),
            _ => Err(problem(
                "jobClass",
                format!(
                    "{job_class:?} is not a job class; use {SYNCHRONIZATION_ACTION} or {PING_ACTION}"
                ),
            )),
        }
    }

    pub fn of_job(job: &Value) -> Result<Self, BTreeMap<String, String>> {
        let class = job
            .get("jobClass")
            .and_then(Value::as_str)
            .unwrap_or(PING_ACTION);
        Self::parse(class, job.get("arguments").unwrap_or(&Value::Null))
    }
}

/// How a run was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Due by its schedule (or run by hand when due): the schedule moves on.
    Scheduled,
    /// Run by hand regardless of `isEnabled` and `nextRun`; the schedule stays.
    Forced,
    /// Forced, and a synchronization writes nothing.
    Test,
}

/// JobLog levels, as the PHP app spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warning,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "INFO",
            Self::Warning => "WARNING",
            Self::Error => "ERROR",
        }
    }
}

/// What one run of an action came to.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub level: Level,
    pub message: String,
    pub result: Value,
    /// The error with its causes, outermost first.
    pub error: Vec<String>,
    /// The source asked not to be called before this time (a rate-limit reset).
    pub not_before: Option<NaiveDateTime>,
}

impl Outcome {
    fn info(message: String, result: Value) -> Self {
        Self {
            level: Level::Info,
            message,
            result,
            error: Vec::new(),
            not_before: None,
        }
    }

    fn failed(message: String, error: Vec<String>, result: Value) -> Self {
        Self {
            level: Level::Error,
            message,
            result,
            error,
            not_before: None,
        }
    }

    pub fn is_failure(&self) -> bool {
        self.level == Level::Error
    }

    /// The job's status after this run.
    pub fn status(&self) -> &'static str {
        match self.level {
            Level::Info => "ok",
            Level::Warning => "warning",
            Level::Error => "failed",
        }
    }
}

fn unix_time(value: &Value) -> Option<NaiveDateTime> {
    value
        .as_i64()
        .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
        .map(|t| t.naive_utc())
}

/// Runs an action once.
pub async fn perform(state: &AppState, action: &Action, mode: Mode) -> Outcome {
    match action {
        Action::Synchronization {
            synchronization,
            force,
        } => {
            let options = RunOptions {
                test: mode == Mode::Test,
                force: *force,
            };
            match state.sync.run(synchronization, options).await {
                Ok(log) => synchronization_outcome(log),
                Err(SyncError::AlreadyRunning(id)) => Outcome {
                    level: Level::Warning,
                    message: format!("Skipped: synchronization {id} is already running"),
                    result: Value::Null,
                    error: Vec::new(),
                    not_before: None,
                },
                Err(error) => Outcome::failed(
                    format!("Failed to synchronize: {error}"),
                    causes(&error),
                    Value::Null,
                ),
            }
        }
        Action::Ping { source, endpoint } => ping(state, source, endpoint).await,
    }
}

/// The outcome of a synchronization run from its log.
fn synchronization_outcome(log: Value) -> Outcome {
    let result = &log["result"];
    let found = result["objects"]["found"].as_u64().unwrap_or(0);
    let summary = json!({
        "synchronizationLog": log.get("uuid"),
        "objects": result.get("objects"),
        "complete": result.get("complete"),
    });
    let message = log["message"].as_str().unwrap_or_default().to_owned();
    if let Some(reset) = unix_time(&result["rateLimitReset"]) {
        return Outcome {
            level: Level::Warning,
            message: format!(
                "Stopped synchronization: the source's rate limit resets at {}",
                format_time(reset)
            ),
            result: summary,
            error: vec![message],
            not_before: Some(reset),
        };
    }
    if result["complete"] != true {
        return Outcome::failed(
            format!("Failed to synchronize: {message}"),
            vec![message],
            summary,
        );
    }
    let errors = result["errors"].as_array().map_or(0, Vec::len);
    if errors > 0 {
        return Outcome {
            level: Level::Warning,
            message: format!("Synchronized {found} objects with {errors} errors"),
            result: summary,
            error: vec![message],
            not_before: None,
        };
    }
    Outcome::info(format!("Synchronized {found} successfully"), summary)
}

async fn ping(state: &AppState, source: &str, endpoint: &str) -> Outcome {
    let lookup = Key::parse(source);
    let row = match state
        .db
        .run(move |conn| store::find(conn, &SOURCE, &lookup))
        .await
    {
        Ok(Some(row)) => row,
        Ok(None) => {
            return Outcome::failed(
                format!("Ping failed: no source {source:?}"),
                Vec::new(),
                Value::Null,
            );
        }
        Err(error) => {
            return Outcome::failed("Ping failed".into(), causes(&error), Value::Null);
        }
    };
    let spec = SourceSpec::from_row(&row);
    let name = row
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or(source)
        .to_owned();
    let response = state
        .calls
        .call(&spec, CallRequest::new(Method::GET, endpoint))
        .await;
    let result =
        json!({"callLog": response.record.uuid.to_string(), "statusCode": response.status});
    if response.is_success() {
        return Outcome::info(
            format!("Ping succeeded: {name} answered {}", response.status),
            result,
        );
    }
    let now = chrono::Utc::now();
    let reset = crate::call::ratelimit::reset_at(
        response.status,
        response.headers(),
        u64::try_from(now.timestamp()).unwrap_or_default(),
    )
    .and_then(|seconds| DateTime::from_timestamp(i64::try_from(seconds).ok()?, 0))
    .map(|t| t.naive_utc());
    let message = format!(
        "Ping failed: {name} answered {} {}",
        response.status, response.record.status_message
    );
    match reset {
        Some(reset) => Outcome {
            level: Level::Warning,
            message,
            result,
            error: Vec::new(),
            not_before: Some(reset),
        },
        None => Outcome::failed(message, Vec::new(), result),
    }
}

/// An error and its sources, outermost first.
fn causes(error: &dyn std::error::Error) -> Vec<String> {
    let mut chain = vec![error.to_string()];
    let mut next = error.source();
    while let Some(cause) = next {
        chain.push(cause.to_string());
        next = cause.source();
    }
    chain
}

/// The JobLog of a run, ready to store.
pub struct LogEntry<'a> {
    pub job: &'a Value,
    pub outcome: &'a Outcome,
    pub mode: Mode,
    pub started: Instant,
    pub last_run: NaiveDateTime,
    pub next_run: Option<NaiveDateTime>,
    pub retention: RetentionSettings,
}

/// Longest message kept, as the PHP app truncates it.
const MAX_MESSAGE: usize = 10_000;

impl LogEntry<'_> {
    pub fn to_input(&self) -> Map<String, Value> {
        let job = self.job;
        let outcome = self.outcome;
        let success = outcome.level == Level::Info;
        let own = if success {
            job.get("logRetention")
        } else {
            job.get("errorRetention")
        }
        .and_then(Value::as_i64);
        let expires = self
            .retention
            .expires(LogKind::Job, success, own, self.last_run);
        let mut trace = Vec::new();
        if self.mode != Mode::Scheduled {
            trace.push(Value::from(
                "Doing a force run for this job, ignoring \"enabled\" & \"nextRun\" check...",
            ));
        }
        trace.extend(outcome.error.iter().cloned().map(Value::from));
        let mut input = Map::new();
        input.insert("level".into(), outcome.level.as_str().into());
        input.insert(
            "message".into(),
            outcome
                .message
                .chars()
                .take(MAX_MESSAGE)
                .collect::<String>()
                .into(),
        );
        input.insert(
            "jobId".into(),
            job.get("id").cloned().unwrap_or(Value::Null),
        );
        input.insert(
            "jobClass".into(),
            job.get("jobClass").cloned().unwrap_or(Value::Null),
        );
        input.insert(
            "arguments".into(),
            job.get("arguments").cloned().unwrap_or(json!({})),
        );
        input.insert(
            "executionTime".into(),
            Value::from(i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX)),
        );
        input.insert(
            "userId".into(),
            job.get("userId").cloned().unwrap_or(Value::Null),
        );
        input.insert("stackTrace".into(), Value::Array(trace));
        input.insert("lastRun".into(), format_time(self.last_run).into());
        input.insert(
            "nextRun".into(),
            self.next_run.map_or(Value::Null, |t| format_time(t).into()),
        );
        input.insert("result".into(), outcome.result.clone());
        input.insert(
            "error".into(),
            if outcome.error.is_empty() {
                Value::Null
            } else {
                outcome.error.join(": ").into()
            },
        );
        input.insert(
            "expires".into(),
            expires.map_or(Value::Null, |t| format_time(t).into()),
        );
        input
    }
}

/// Checks a job before it is stored and fills in what follows from it: the schedule must
/// parse, the class and arguments must name an action, and `nextRun` is computed when the
/// job is new or its schedule changed (so a new job runs on schedule without a manual first
/// run). `current` is the stored row on update.
pub fn prepare_for_save(
    input: &mut Map<String, Value>,
    current: Option<&Value>,
    now: NaiveDateTime,
) -> Result<(), BTreeMap<String, String>> {
    let mut merged = current
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    merged.extend(input.iter().map(|(k, v)| (k.clone(), v.clone())));
    let merged = Value::Object(merged);
    let mut problems = BTreeMap::new();
    if input.contains_key("jobClass") || input.contains_key("arguments") || current.is_none() {
        if let Err(found) = Action::of_job(&merged) {
            problems.extend(found);
        }
    }
    let schedule = match Schedule::of_job(&merged) {
        Ok(schedule) => Some(schedule),
        Err(error) => {
            problems.insert(error.field.to_owned(), error.problem);
            None
        }
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    let no_schedule_given = |row: &Value| {
        ["cron", "interval"]
            .iter()
            .all(|k| row.get(*k).is_none_or(|v| v.is_null() || v == "" || v == 0))
    };
    if current.is_none() && no_schedule_given(&merged) {
        input.insert("cron".into(), schedule::DEFAULT_CRON.into());
    }
    let schedule_changed = ["cron", "interval", "timeZone", "isEnabled"]
        .iter()
        .any(|k| input.contains_key(*k));
    let next_given = input.get("nextRun").is_some_and(|v| !v.is_null());
    let next_missing = merged.get("nextRun").is_none_or(Value::is_null);
    if let Some(schedule) = schedule {
        if !next_given && (current.is_none() || schedule_changed || next_missing) {
            input.insert(
                "nextRun".into(),
                format_time(schedule.next_after(None, now)).into(),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_ours_or_the_php_names() {
        let sync = Action::parse(
            "OCA\\OpenConnector\\Action\\SynchronizationAction",
            &json!({"synchronizationId": 7, "force": "true"}),
        )
        .unwrap();
        assert_eq!(
            sync,
            Action::Synchronization {
                synchronization: "7".into(),
                force: true
            }
        );
        let ping = Action::parse("PingAction", &json!({"sourceId": "my-source"})).unwrap();
        assert_eq!(
            ping,
            Action::Ping {
                source: "my-source".into(),
                endpoint: String::new()
            }
        );
        assert!(
            Action::parse("SynchronizationAction", &json!({}))
                .unwrap_err()
                .contains_key("arguments.synchronizationId")
        );
        assert!(
            Action::parse("OCA\\OpenConnector\\Action\\EventAction", &json!({}))
                .unwrap_err()
                .contains_key("jobClass")
        );
    }

    #[test]
    fn a_new_job_gets_a_schedule_and_its_next_run() {
        let now =
            NaiveDateTime::parse_from_str("2026-11-23 10:02:00", "%Y-%m-%d %H:%M:%S").unwrap();
        let mut input =
            json!({"name": "ping", "jobClass": "PingAction", "arguments": {"sourceId": 1}})
                .as_object()
                .unwrap()
                .clone();
        prepare_for_save(&mut input, None, now).unwrap();
        assert_eq!(input["cron"], "*/5 * * * *");
        assert_eq!(input["nextRun"], "2026-11-23T10:05:00+00:00");

        // Changing the interval of a stored job moves its next run.
        let stored = json!({"id": 1, "jobClass": "PingAction", "arguments": {"sourceId": 1},
                            "cron": null, "interval": 600, "nextRun": "2026-11-23T10:05:00+00:00"});
        let mut update = json!({"interval": 60}).as_object().unwrap().clone();
        prepare_for_save(&mut update, Some(&stored), now).unwrap();
        assert_eq!(update["nextRun"], "2026-11-23T10:03:00+00:00");

        let mut bad = json!({"cron": "every day"}).as_object().unwrap().clone();
        assert!(
            prepare_for_save(&mut bad, Some(&stored), now)
                .unwrap_err()
                .contains_key("cron")
        );
    }
}
