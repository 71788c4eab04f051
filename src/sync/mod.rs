//! Synchronization runs: read a source page by page, map each object, and keep an OpenRegister
//! register equal to the source, with a contract per object.
//!
//! Safe by construction: a target object's id is derived from the synchronization and the
//! origin id, so a retried or repeated write never makes a second object; contracts are stored
//! per page, so a run that dies is finished by the next; objects that vanished are deleted only
//! after every page was read without error, and never in test mode.

pub mod contract;
pub mod events;
pub mod extra;
pub mod reader;
pub mod related;
pub mod sub_objects;
pub mod target;
pub mod writer;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, Utc};
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::call::source::expand_dots;
use crate::call::{CallRequest, CallService, SourceSpec};
use crate::db::store::{self, Key, StoreError};
use crate::db::{
    Db, MAPPING, RULE, SOURCE, SYNCHRONIZATION, SYNCHRONIZATION_LOG, format_time, parse_time,
};
use crate::logic::Rule;
use crate::mapping::{CompiledMapping, Mapper};
use crate::rules::{self, RuleSet};
use contract::{Contract, Outcome};
use reader::ReadConfig;
use target::{ApiTarget, Target};
use writer::{OpenRegisterTarget, RegisterSettings};

/// How many target writes run at once.
const WRITE_CONCURRENCY: usize = 8;

/// The key an origin id is remembered by in a run: a hash with fixed keys, the same in every
/// process.
fn origin_key(origin_id: &str) -> u64 {
    use std::hash::BuildHasher as _;
    std::hash::BuildHasherDefault::<std::hash::DefaultHasher>::default().hash_one(origin_id)
}

/// What happened to the object a push run is handed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutation {
    Create,
    Update,
    Delete,
}

impl Mutation {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "create" => Some(Self::Create),
            "update" => Some(Self::Update),
            "delete" => Some(Self::Delete),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Read and map, but write nothing.
    pub test: bool,
    /// Write every object, changed or not.
    pub force: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("synchronization {0:?} not found")]
    NotFound(String),
    #[error("synchronization {0} is already running")]
    AlreadyRunning(i64),
    #[error("{field}: {problem}")]
    Config {
        field: &'static str,
        problem: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<crate::db::DbError> for SyncError {
    fn from(error: crate::db::DbError) -> Self {
        Self::Store(error.into())
    }
}

/// How far a running synchronization is, for the UI's progress bar.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Progress {
    pub running: bool,
    pub stage: &'static str,
    pub page: u32,
    pub found: u64,
    pub processed: u64,
    /// How many objects the source says it has, when it says so.
    pub expected: Option<u64>,
}

/// The runs in progress: one per synchronization at a time.
#[derive(Default)]
pub struct Runs {
    running: Mutex<HashMap<i64, Progress>>,
    /// Push runs of one synchronization wait for each other (two events for one object must
    /// not both create it).
    pushes: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
}

impl Runs {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Progress>> {
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn start(self: &Arc<Self>, id: i64) -> Result<RunGuard, SyncError> {
        let mut running = self.lock();
        if running.contains_key(&id) {
            return Err(SyncError::AlreadyRunning(id));
        }
        running.insert(
            id,
            Progress {
                running: true,
                stage: "starting",
                ..Progress::default()
            },
        );
        Ok(RunGuard {
            runs: Arc::clone(self),
            id,
        })
    }

    /// The progress of a synchronization; not running when absent.
    pub fn progress(&self, id: i64) -> Progress {
        self.lock().get(&id).cloned().unwrap_or_default()
    }

    /// The progress of some running synchronization (the command line runs only one).
    pub fn progress_of_any(&self) -> Option<Progress> {
        self.lock().values().next().cloned()
    }

    fn push_lock(&self, id: i64) -> Arc<tokio::sync::Mutex<()>> {
        let mut pushes = self
            .pushes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(pushes.entry(id).or_default())
    }

    fn update(&self, id: i64, change: impl FnOnce(&mut Progress)) {
        if let Some(progress) = self.lock().get_mut(&id) {
            change(progress);
        }
    }
}

/// Releases the run's claim however the run ends.
struct RunGuard {
    runs: Arc<Runs>,
    id: i64,
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        self.runs.lock().remove(&self.id);
    }
}

/// What a run needs from the service.
pub struct Synchronizer {
    pub db: Db,
    pub calls: Arc<CallService>,
    pub mapper: Mapper,
    pub register: Option<RegisterSettings>,
    pub http: reqwest::Client,
    pub runs: Arc<Runs>,
    pub retention: crate::retention::Retention,
}

/// Counters and problems of one run.
#[derive(Debug, Default, Serialize)]
struct Counts {
    found: u64,
    skipped: u64,
    created: u64,
    updated: u64,
    deleted: u64,
    invalid: u64,
}

struct Run<'a> {
    sync: &'a Synchronizer,
    id: i64,
    uuid: String,
    options: RunOptions,
    read: ReadConfig,
    /// The source read by a pull run (a push run is handed its one object).
    source: Option<SourceSpec>,
    mapping: Option<Arc<CompiledMapping>>,
    /// Maps a source object before it is hashed (`sourceHashMapping`), so fields that change
    /// without meaning (timestamps) do not trigger writes.
    hash_mapping: Option<Arc<CompiledMapping>>,
    /// `extraDataConfigs`, and whether they run before the conditions.
    extra: Arc<Vec<extra::ExtraData>>,
    extra_before_conditions: bool,
    conditions: Option<Rule>,
    /// Shared by the concurrent writes of a page without copying its settings per object.
    target: Option<Arc<Target>>,
    /// Objects synced after this time are current (the later of the synchronization's and its
    /// mapping's last change).
    config_changed: Option<NaiveDateTime>,
    counts: Counts,
    errors: Vec<Value>,
    /// The origin ids read in this run, as 64-bit hashes: a million cost a few megabytes. A
    /// collision can only spare an object that vanished, never delete one that is there.
    seen: HashSet<u64>,
    /// What the run was handed (`data`), for `restrictDeletion`.
    data: Option<Value>,
    /// The request body of every page (`useDataAsRequestBody`: `#` or a path in `data`).
    data_as_body: Option<Value>,
    /// Only contracts whose origin id occurs in `data` may be deleted.
    restrict_deletion: bool,
    /// References to other synchronized objects, made target ids before writing.
    related: related::Related,
    /// What the run should report that is no error of an object (e.g. a rule it skips).
    warnings: Vec<Value>,
    /// Rules run on each mapped object before it is written (`actions`).
    actions: Arc<RuleSet>,
    /// Nested objects that get contracts of their own (`subObjects`).
    sub_objects: Option<Arc<sub_objects::SubObjects>>,
    /// For an API target, the origin ids of the last two pages, whose contracts may not be
    /// stored yet (one page being written, the one before being stored).
    unstored: [HashSet<String>; 2],
    /// A pull run of a synchronization without contracts: an object met for the first time in
    /// the run has none, so only repeated origin ids are looked up.
    first_run: bool,
    /// When the source refused a page for its rate limit: when it may be asked again (Unix).
    rate_limit_reset: Option<u64>,
    /// The uuid the run's SynchronizationLog gets (its contract logs point at it).
    log_uuid: String,
    /// The objects of the previous page, being written.
    writing: Option<tokio::task::JoinHandle<PageWrites>>,
    /// The contracts of the page before, being stored.
    saving: Option<tokio::task::JoinHandle<Result<(), StoreError>>>,
    timing: Timing,
}

/// Time spent per stage of a run (stages overlap: pages are read while others are written).
#[derive(Debug, Default)]
struct Timing {
    /// Waiting for source pages.
    fetch: std::time::Duration,
    /// Reading the contracts of a page.
    contracts_read: std::time::Duration,
    mapping: std::time::Duration,
    writing: std::time::Duration,
    contracts_save: std::time::Duration,
    deleting: std::time::Duration,
}

impl Timing {
    fn to_json(&self, total_ms: f64, found: u64) -> Value {
        let stages = [
            ("fetch", self.fetch),
            ("contracts_read", self.contracts_read),
            ("mapping", self.mapping),
            ("writing", self.writing),
            ("contracts_save", self.contracts_save),
            ("deleting", self.deleting),
        ];
        let slowest = stages.iter().max_by_key(|(_, d)| *d).map(|(name, _)| *name);
        let stages: Map<String, Value> = stages
            .iter()
            .map(|(name, d)| {
                (
                    (*name).to_owned(),
                    json!({"duration_ms": d.as_secs_f64() * 1000.0}),
                )
            })
            .collect();
        json!({
            "stages": stages,
            "total_ms": total_ms,
            "summary": {
                "slowest_stage": slowest,
                "objects_per_second": if total_ms > 0.0 { found as f64 * 1000.0 / total_ms } else { 0.0 },
            },
            "objects_per_second": if total_ms > 0.0 { found as f64 * 1000.0 / total_ms } else { 0.0 },
        })
    }
}

fn field<'a>(row: &'a Value, name: &str) -> Option<&'a str> {
    row.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

impl Synchronizer {
    /// Runs the synchronization named by `key` and answers its SynchronizationLog.
    pub async fn run(&self, key: &str, options: RunOptions) -> Result<Value, SyncError> {
        self.run_with_data(key, options, None).await
    }

    /// A run handed `data` (the run endpoint's `data` without a `mutationType`): for a
    /// synchronization that reads OpenRegister, a push run of that object as an update; for
    /// one that reads an API, a pull run with `data` in its request templates, as its request
    /// body (`useDataAsRequestBody`) and as the bound of deletion (`restrictDeletion`).
    pub async fn run_with_data(
        &self,
        key: &str,
        options: RunOptions,
        data: Option<Value>,
    ) -> Result<Value, SyncError> {
        let started = Instant::now();
        let (id, row) = self.find_synchronization(key).await?;
        let reads_register = field(&row, "sourceType") == Some("register/schema");
        let data = match data {
            Some(data) if reads_register => {
                return self
                    .push_found(id, &row, data, Mutation::Update, options.test)
                    .await;
            }
            other => other,
        };
        let _claim = self.runs.start(id)?;
        let mut run = self.prepare(id, &row, options, true, data).await?;
        let mut read_complete = run.read_all().await;
        if let Err(error) = run.finish().await {
            run.errors
                .push(json!({"stage": "store", "error": error.to_string()}));
            read_complete = false;
        }
        if read_complete && !options.test {
            run.delete_vanished().await;
        }
        let follow_ups = self.follow_ups(&row, options).await;
        let mut log = run.log(started.elapsed().as_secs_f64() * 1000.0, read_complete);
        if !follow_ups.is_empty() {
            log["result"]["followUps"] = Value::Array(follow_ups);
        }
        self.store_log(log).await
    }

    /// Runs the synchronizations in `followUps`, with the same flags; answers what each did.
    async fn follow_ups(&self, row: &Value, options: RunOptions) -> Vec<Value> {
        let keys: Vec<String> = match row.get("followUps") {
            Some(Value::Array(keys)) => keys
                .iter()
                .filter_map(|key| match key {
                    Value::String(s) if !s.is_empty() => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let mut done = Vec::with_capacity(keys.len());
        for key in keys {
            // A cycle of follow-ups ends at the first synchronization already running.
            done.push(match self.run_boxed(&key, options).await {
                Ok(log) => {
                    json!({"synchronization": key, "log": log["uuid"], "message": log["message"]})
                }
                Err(error) => json!({"synchronization": key, "error": error.to_string()}),
            });
        }
        done
    }

    fn run_boxed<'a>(
        &'a self,
        key: &'a str,
        options: RunOptions,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Value, SyncError>> + Send + 'a>>
    {
        Box::pin(self.run(key, options))
    }

    /// A push run (intern to extern): writes, or deletes, the one object it is handed, with the
    /// synchronization's conditions, mapping, contract and target. Always writes (`force`);
    /// `test` maps and writes nothing.
    pub async fn push(
        &self,
        key: &str,
        data: Value,
        mutation: Mutation,
        test: bool,
    ) -> Result<Value, SyncError> {
        let (id, row) = self.find_synchronization(key).await?;
        self.push_found(id, &row, data, mutation, test).await
    }

    /// A push run of a synchronization already looked up.
    async fn push_found(
        &self,
        id: i64,
        row: &Value,
        data: Value,
        mutation: Mutation,
        test: bool,
    ) -> Result<Value, SyncError> {
        let started = Instant::now();
        let lock = self.runs.push_lock(id);
        let _turn = lock.lock().await;
        let options = RunOptions { test, force: true };
        let mut run = self.prepare(id, row, options, false, None).await?;
        run.push(data, mutation).await;
        let mut log = run.log(started.elapsed().as_secs_f64() * 1000.0, true);
        log["result"]["type"] = "internToExtern".into();
        log["result"]["mutationType"] = mutation.as_str().into();
        self.store_log(log).await
    }

    async fn store_log(&self, log: Value) -> Result<Value, SyncError> {
        let input = log.as_object().cloned().unwrap_or_default();
        let stored = self
            .db
            .run(move |conn| store::create(conn, &SYNCHRONIZATION_LOG, &input))
            .await?;
        Ok(stored)
    }

    /// Reads what a run needs; `pull` runs read their source (with the `data` they were
    /// handed, if any), push runs are handed objects.
    async fn prepare(
        &self,
        id: i64,
        row: &Value,
        options: RunOptions,
        pull: bool,
        data: Option<Value>,
    ) -> Result<Run<'_>, SyncError> {
        let config_error =
            |field: &'static str, problem: String| SyncError::Config { field, problem };
        let source = if pull {
            let source_key = field(row, "sourceId")
                .ok_or_else(|| config_error("sourceId", "is required".into()))?;
            Some(SourceSpec::from_row(
                &self.find_source(source_key, "sourceId").await?,
            ))
        } else {
            None
        };
        let mut source_config = match row.get("sourceConfig") {
            Some(Value::Object(config)) => expand_dots(config),
            _ => Map::new(),
        };
        // The request parts may hold Twig (`{{ 'now'|date('Y-m-d') }}`): rendered once a run.
        let context =
            json!({"synchronization": row, "data": data.clone().unwrap_or_else(|| json!({}))});
        for key in ["endpoint", "headers", "query"] {
            if let Some(value) = source_config.get_mut(key) {
                crate::call::source::render_templates(value, &context);
            }
        }
        let mut config_changed = row
            .get("updated")
            .and_then(Value::as_str)
            .and_then(parse_time);
        let mut mappings = Vec::with_capacity(2);
        for name in ["sourceTargetMapping", "sourceHashMapping"] {
            let compiled = match field(row, name) {
                Some(key) => {
                    let (compiled, changed) = self.compile_mapping(name, key).await?;
                    config_changed = config_changed.max(changed);
                    Some(compiled)
                }
                None => None,
            };
            mappings.push(compiled);
        }
        let hash_mapping = mappings.pop().flatten();
        let mapping = mappings.pop().flatten();
        let (actions, actions_changed, warnings) = self.load_actions(row).await?;
        config_changed = config_changed.max(actions_changed);
        let read = ReadConfig::from_source_config(&source_config);
        let mut extra = Vec::new();
        if let Some(Value::Array(configs)) = source_config.get("extraDataConfigs") {
            for config in configs {
                let Value::Object(config) = config else {
                    return Err(config_error(
                        "sourceConfig.extraDataConfigs",
                        "each entry must be an object".into(),
                    ));
                };
                let spec = match config.get("source").and_then(|s| match s {
                    Value::String(s) if !s.is_empty() => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                }) {
                    Some(key) => SourceSpec::from_row(
                        &self
                            .find_source(&key, "sourceConfig.extraDataConfigs")
                            .await?,
                    ),
                    None => source.clone().ok_or_else(|| {
                        config_error(
                            "sourceConfig.extraDataConfigs",
                            "name a source: this synchronization reads none".into(),
                        )
                    })?,
                };
                extra.push(
                    extra::ExtraData::new(config, spec, read.headers.clone(), read.query.clone())
                        .map_err(|e| config_error("sourceConfig.extraDataConfigs", e))?,
                );
            }
        }
        let extra_before_conditions = source_config
            .get("fetchExtraDataBeforeConditions")
            .and_then(crate::db::parse_bool)
            .unwrap_or(false);
        let conditions = match row.get("conditions") {
            Some(Value::Object(rule)) if !rule.is_empty() => Some(
                Rule::compile(&Value::Object(rule.clone()))
                    .map_err(|e| config_error("conditions", e.to_string()))?,
            ),
            _ => None,
        };
        let target_id = field(row, "targetId").unwrap_or_default();
        let target = match field(row, "targetType").unwrap_or("register/schema") {
            "register/schema" => {
                let settings = self.register.clone().ok_or_else(|| {
                    config_error(
                        "targetType",
                        "OpenRegister is not configured: set OPENCONNECTOR_OPENREGISTER_URL".into(),
                    )
                })?;
                Target::Register(
                    OpenRegisterTarget::new(self.http.clone(), settings, target_id)
                        .map_err(|e| config_error("targetId", e))?,
                )
            }
            "api" => {
                let source = self.find_source(target_id, "targetId").await?;
                let config = match row.get("targetConfig") {
                    Some(Value::Object(config)) => expand_dots(config),
                    _ => Map::new(),
                };
                let api = ApiTarget::new(
                    Arc::clone(&self.calls),
                    SourceSpec::from_row(&source),
                    &config,
                )
                .map_err(|e| config_error("targetConfig", e))?;
                Target::Api(Box::new(api))
            }
            other => {
                return Err(config_error(
                    "targetType",
                    format!("{other:?} is not a target type; use register/schema or api"),
                ));
            }
        };
        let target = Some(Arc::new(target));
        Ok(Run {
            sync: self,
            id,
            uuid: field(row, "uuid").unwrap_or_default().to_owned(),
            options,
            read,
            source,
            mapping,
            hash_mapping,
            extra: Arc::new(extra),
            extra_before_conditions,
            conditions,
            target,
            config_changed,
            counts: Counts::default(),
            errors: Vec::new(),
            warnings,
            actions: Arc::new(actions),
            seen: HashSet::new(),
            data_as_body: source_config
                .get("useDataAsRequestBody")
                .and_then(Value::as_str)
                .filter(|path| !path.is_empty())
                .and_then(|path| match (&data, path) {
                    (Some(data), "#") => Some(data.clone()),
                    (Some(data), path) => reader::at_path(data, path).cloned(),
                    (None, _) => None,
                }),
            restrict_deletion: source_config
                .get("restrictDeletion")
                .and_then(crate::db::parse_bool)
                .unwrap_or(false),
            related: related::Related::from_config(&source_config),
            sub_objects: sub_objects::SubObjects::from_config(&source_config).map(Arc::new),
            first_run: false,
            unstored: Default::default(),
            data,
            rate_limit_reset: None,
            log_uuid: crate::db::new_row_uuid(),
            writing: None,
            saving: None,
            timing: Timing::default(),
        })
    }
}

impl Synchronizer {
    /// The synchronization named by `key` (id, uuid or slug): its id and row.
    async fn find_synchronization(&self, key: &str) -> Result<(i64, Value), SyncError> {
        let lookup = Key::parse(key);
        let row = self
            .db
            .run(move |conn| store::find(conn, &SYNCHRONIZATION, &lookup))
            .await?
            .ok_or_else(|| SyncError::NotFound(key.to_owned()))?;
        let id = row
            .get("id")
            .and_then(Value::as_i64)
            .ok_or_else(|| SyncError::NotFound(key.to_owned()))?;
        Ok((id, row))
    }

    /// A stored mapping compiled for a run, with the time it last changed.
    async fn compile_mapping(
        &self,
        field_name: &'static str,
        key: &str,
    ) -> Result<(Arc<CompiledMapping>, Option<NaiveDateTime>), SyncError> {
        let lookup = Key::parse(key);
        let row = self
            .db
            .run(move |conn| store::find(conn, &MAPPING, &lookup))
            .await?
            .ok_or_else(|| SyncError::Config {
                field: field_name,
                problem: format!("no mapping {key:?}"),
            })?;
        let changed = row
            .get("dateModified")
            .and_then(Value::as_str)
            .and_then(parse_time);
        let compiled = self
            .mapper
            .compile_json(&row)
            .map_err(|e| SyncError::Config {
                field: field_name,
                problem: e.to_string(),
            })?;
        Ok((compiled, changed))
    }

    /// The rules a synchronization runs on its objects (`actions`, ids or slugs), with when the
    /// latest of them (or a mapping one names) changed and what the run should report: rules
    /// that are gone (dropped, as in the PHP app) and types a synchronization does not run.
    async fn load_actions(
        &self,
        row: &Value,
    ) -> Result<(RuleSet, Option<NaiveDateTime>, Vec<Value>), SyncError> {
        let keys: Vec<String> = match row.get("actions") {
            Some(Value::Array(ids)) => ids
                .iter()
                .filter_map(|id| match id {
                    Value::String(key) if !key.is_empty() => Some(key.clone()),
                    Value::Number(id) => Some(id.to_string()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let (mut rules, mut changed, mut warnings) = (Vec::new(), None, Vec::new());
        for key in keys {
            let lookup = Key::parse(&key);
            let Some(row) = self
                .db
                .run(move |conn| store::find(conn, &RULE, &lookup))
                .await?
            else {
                warnings.push(json!({"stage": "actions", "error": format!("rule {key:?} does not exist; it is skipped")}));
                continue;
            };
            changed = changed.max(
                row.get("updated")
                    .and_then(Value::as_str)
                    .and_then(parse_time),
            );
            let mapping = match rules::Rule::mapping_key(&row) {
                Some(mapping_key) => {
                    let (compiled, mapping_changed) =
                        self.compile_mapping("actions", &mapping_key).await?;
                    changed = changed.max(mapping_changed);
                    Some(compiled)
                }
                None => None,
            };
            let rule = rules::Rule::from_row(&row, rules::Place::Synchronization, mapping)
                .map_err(|e| SyncError::Config {
                    field: "actions",
                    problem: e.to_string(),
                })?;
            if let Some(problem) = rule.not_run() {
                warnings.push(json!({"stage": "actions", "error": problem}));
            }
            rules.push(rule);
        }
        Ok((RuleSet::new(rules), changed, warnings))
    }

    async fn find_source(&self, key: &str, field_name: &'static str) -> Result<Value, SyncError> {
        let lookup = Key::parse(key);
        self.db
            .run(move |conn| store::find(conn, &SOURCE, &lookup))
            .await?
            .ok_or_else(|| SyncError::Config {
                field: field_name,
                problem: format!("no source {key:?}"),
            })
    }
}

/// An object ready to write: its origin id, the source object and its hash, and the mapped
/// object.
/// What a page's writes came to, with the page's unchanged objects.
struct PageWrites {
    checked: Vec<Outcome>,
    written: Vec<(Pending, Result<String, writer::WriteError>)>,
    took: Duration,
}

struct Pending {
    origin_id: String,
    origin_hash: String,
    source: Value,
    mapped: Value,
    contract: Option<Contract>,
    /// Whether the target has not got this object yet (a write creates it).
    first_write: bool,
    /// Its nested objects as the register shows them after the write (`subObjects`).
    sub_objects: Result<Vec<sub_objects::Saved>, String>,
    /// The target hash its contract got when it was planned with both hashes (see
    /// [`contract::plan_targets`]); a write then only marks the contract written.
    planned_target_hash: Option<String>,
}

impl Run<'_> {
    /// Reads every page and processes its objects. Answers whether the whole source was read
    /// without error (the condition for deleting what vanished).
    async fn read_all(&mut self) -> bool {
        if let (Some(target), false) = (&self.target, self.options.test) {
            if let Err(error) = target.check().await {
                self.errors
                    .push(json!({"stage": "target", "error": error.to_string()}));
                return false;
            }
        }
        let Some(source) = self.source.clone() else {
            self.errors
                .push(json!({"stage": "fetch", "error": "this run has no source to read"}));
            return false;
        };
        let sync_id = self.id;
        match self
            .sync
            .db
            .run(move |conn| contract::exists(conn, sync_id))
            .await
        {
            Ok(exists) => self.first_run = !exists,
            Err(error) => {
                self.errors
                    .push(json!({"stage": "store", "error": error.to_string()}));
                return false;
            }
        }
        let mut request = self.read.first_request(self.id);
        if let Some(body) = &self.data_as_body {
            request.body = Some(crate::call::RequestBody::Json(body.clone()));
        }
        let mut page = 1;
        let mut first_page_size = 0;
        let mut pending = self.fetch(&source, request.clone());
        loop {
            self.sync.runs.update(self.id, |p| {
                p.stage = "reading";
                p.page = page;
            });
            let waiting = Instant::now();
            let awaited = pending.await;
            self.timing.fetch += waiting.elapsed();
            let response = match awaited {
                Ok(response) => response,
                Err(error) => {
                    self.errors
                        .push(json!({"stage": "fetch", "page": page, "error": error.to_string()}));
                    return false;
                }
            };
            if !response.is_success() {
                let now = u64::try_from(Utc::now().timestamp()).unwrap_or_default();
                self.rate_limit_reset =
                    crate::call::ratelimit::reset_at(response.status, response.headers(), now);
                let message = format!(
                    "page {page}: the source answered {} {}",
                    response.status, response.record.status_message
                );
                self.errors
                    .push(json!({"stage": "fetch", "page": page, "error": message}));
                return false;
            }
            let parsed = response
                .data()
                .map_err(|e| e.to_string())
                .and_then(|mut body| {
                    let items =
                        reader::take_items(&mut body, self.read.results_position.as_deref())
                            .map_err(|e| e.to_string())?;
                    Ok((items, body))
                });
            let (items, body) = match parsed {
                Ok(parsed) => parsed,
                Err(error) => {
                    self.errors.push(json!({"stage": "fetch", "page": page, "error": format!("page {page}: {error}")}));
                    return false;
                }
            };
            let count = items.len();
            if page == 1 {
                first_page_size = count;
                let expected = reader::expected_total(&body, count);
                self.sync.runs.update(self.id, |p| p.expected = expected);
            }
            self.counts.found += count as u64;
            let found = self.counts.found;
            let position = reader::Position::new(page, count, first_page_size, found as usize);
            let next =
                reader::next_request(&self.read, &request, &body, response.headers(), position);
            // The next page is fetched while this one is mapped and written.
            let prefetch = next.clone().map(|next| self.fetch(&source, next));
            drop(body);
            if let Err(error) = self.process_page(items).await {
                if let Some(prefetch) = prefetch {
                    prefetch.abort();
                }
                self.errors
                    .push(json!({"stage": "store", "page": page, "error": error.to_string()}));
                return false;
            }
            self.sync.runs.update(self.id, |p| {
                p.found = found;
                p.processed = found;
            });
            match (next, prefetch) {
                (Some(next), Some(prefetch)) => {
                    request = next;
                    pending = prefetch;
                    page += 1;
                }
                _ => return true,
            }
        }
    }

    /// Fetches a page on its own task, so reading runs ahead of processing.
    fn fetch(
        &self,
        source: &SourceSpec,
        request: CallRequest,
    ) -> tokio::task::JoinHandle<crate::call::CallResponse> {
        let calls = Arc::clone(&self.sync.calls);
        let source = source.clone();
        tokio::spawn(async move { calls.call(&source, request).await })
    }

    /// Checks, maps and writes one page of objects, then stores their contracts together.
    async fn process_page(&mut self, items: Vec<Value>) -> Result<(), StoreError> {
        let mut objects: Vec<(String, Value)> = Vec::with_capacity(items.len());
        // Origin ids this run met before (or that share a hash with one): the only ones a
        // first run of a synchronization can have contracts for.
        let mut repeated = HashSet::new();
        // Where each origin id is on this page: one met twice keeps its last version there, so
        // one object is written once (two writes at once could race in the target).
        let mut on_page: HashMap<String, usize> = HashMap::with_capacity(items.len());
        for item in items {
            let origin_id =
                reader::at_path(&item, &self.read.id_position).and_then(|id| match id {
                    Value::String(s) if !s.is_empty() => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                });
            let Some(origin_id) = origin_id else {
                self.counts.invalid += 1;
                self.errors.push(json!({"stage": "object", "error": format!("Could not find origin id in object for key: {}", self.read.id_position)}));
                continue;
            };
            // Present in the source, whatever happens to it next: never deleted as vanished.
            if !self.seen.insert(origin_key(&origin_id)) {
                repeated.insert(origin_id.clone());
            }
            match on_page.get(&origin_id) {
                Some(&index) => {
                    self.counts.skipped += 1;
                    objects[index].1 = item;
                }
                None => {
                    on_page.insert(origin_id.clone(), objects.len());
                    objects.push((origin_id, item));
                }
            }
        }
        // An API target gets ids only when written: an object also on a page still being
        // written or stored waits for that page, or its contract would be missed (a duplicate).
        if self
            .unstored
            .iter()
            .any(|page| objects.iter().any(|(origin, _)| page.contains(origin)))
        {
            self.finish_writing().await?;
            self.finish_saving().await?;
        }
        if self.extra_before_conditions {
            objects = self.extend(objects).await;
        }
        if let Some(conditions) = &self.conditions {
            let mut passed = Vec::with_capacity(objects.len());
            for (origin_id, item) in objects {
                match conditions.matches(&item) {
                    Ok(true) => passed.push((origin_id, item)),
                    Ok(false) => self.counts.skipped += 1,
                    Err(error) => {
                        self.counts.invalid += 1;
                        self.errors.push(json!({"stage": "conditions", "originId": origin_id, "error": error.to_string()}));
                    }
                }
            }
            objects = passed;
        }
        if !self.extra_before_conditions {
            objects = self.extend(objects).await;
        }
        let sync_id = self.id;
        let origin_ids: Vec<String> = objects
            .iter()
            .map(|(origin, _)| origin)
            .filter(|origin| !self.first_run || repeated.contains(*origin))
            .cloned()
            .collect();
        let mut contracts: HashMap<String, Contract> = HashMap::new();
        if !origin_ids.is_empty() {
            let reading = Instant::now();
            contracts = self
                .sync
                .db
                .run(move |conn| contract::load(conn, sync_id, &origin_ids))
                .await?;
            self.timing.contracts_read += reading.elapsed();
        }

        let mut outcomes = Vec::with_capacity(objects.len());
        let mut to_map = Vec::new();
        for (origin_id, item) in objects {
            let origin_hash = match &self.hash_mapping {
                Some(hash_mapping) => match hash_mapping.apply(&item) {
                    Ok(hashed) => contract::hash(&hashed),
                    Err(error) => {
                        self.counts.invalid += 1;
                        self.errors.push(json!({"stage": "mapping", "originId": origin_id, "error": format!("sourceHashMapping: {error}")}));
                        continue;
                    }
                },
                None => contract::hash(&item),
            };
            // Origin ids are unique on a page (see above): each contract is taken once.
            let existing = contracts.remove(&origin_id);
            let current = existing.as_ref().is_some_and(|c| {
                c.origin_hash.as_deref() == Some(origin_hash.as_str())
                    && c.target_id.is_some()
                    && c.source_last_synced.is_some_and(|synced| {
                        self.config_changed.is_none_or(|changed| synced >= changed)
                    })
            });
            match existing {
                Some(contract) if current && !self.options.force => {
                    self.counts.skipped += 1;
                    outcomes.push(Outcome::Checked {
                        contract_id: contract.id,
                    });
                }
                contract => to_map.push((origin_id, origin_hash, item, contract)),
            }
        }

        // Mapping is CPU work that may read stored mappings: off the async workers.
        let mapping_started = Instant::now();
        let mapping = self.mapping.clone();
        let mapped = tokio::task::spawn_blocking(move || {
            to_map
                .into_iter()
                .map(|(origin_id, origin_hash, item, contract)| {
                    let mapped = match &mapping {
                        Some(mapping) => mapping.apply(&item).map_err(|e| e.to_string()),
                        None => Ok(item.clone()),
                    };
                    (origin_id, origin_hash, item, mapped, contract)
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| StoreError::Db(crate::db::DbError::Task(e.to_string())))?;

        self.timing.mapping += mapping_started.elapsed();
        let mut pending = Vec::with_capacity(mapped.len());
        for (origin_id, origin_hash, source, mapped, contract) in mapped {
            match mapped {
                Ok(mapped) => pending.push(Pending {
                    first_write: contract.as_ref().is_none_or(|c| !c.was_written()),
                    origin_id,
                    origin_hash,
                    source,
                    mapped,
                    contract,
                    sub_objects: Ok(Vec::new()),
                    planned_target_hash: None,
                }),
                Err(error) => {
                    self.counts.invalid += 1;
                    self.errors
                        .push(json!({"stage": "mapping", "originId": origin_id, "error": error}));
                }
            }
        }
        self.resolve_references(&mut pending).await?;
        if !self.actions.is_empty() {
            let actions = Arc::clone(&self.actions);
            let (counts, errors) = (&mut self.counts, &mut self.errors);
            pending.retain_mut(|item| {
                match actions.apply(rules::Timing::Before, std::mem::take(&mut item.mapped)) {
                    Ok(mapped) => {
                        item.mapped = mapped;
                        true
                    }
                    Err(error) => {
                        counts.invalid += 1;
                        errors.push(json!({"stage": "actions", "originId": item.origin_id, "error": error.to_string()}));
                        false
                    }
                }
            });
        }
        if self.options.test {
            for item in &pending {
                if item.first_write {
                    self.counts.created += 1;
                } else {
                    self.counts.updated += 1;
                }
            }
            return Ok(());
        }
        let Some(target) = self.target.clone() else {
            return Ok(());
        };
        if matches!(target.as_ref(), Target::Register(_)) {
            // Nested ids first: the object is final when its target hash is planned.
            self.give_sub_objects_their_ids(&mut pending).await?;
            self.plan_targets(&mut pending).await?;
        }
        // The previous page's writes end (and their contracts go to be stored) before this
        // page's begin, so writes stay bounded; this page's contracts were read, its objects
        // mapped and their target ids planned while they ran.
        self.finish_writing().await?;
        if matches!(target.as_ref(), Target::Api(_)) {
            self.unstored.swap(0, 1);
            self.unstored[1] = pending.iter().map(|item| item.origin_id.clone()).collect();
        }
        let sub_objects = self.sub_objects.clone();
        self.writing = Some(tokio::spawn(async move {
            let started = Instant::now();
            let written = futures_util::stream::iter(pending.into_iter().map(|mut item| {
                let target = Arc::clone(&target);
                let sub_objects = sub_objects.clone();
                async move {
                    let known = item.contract.as_ref().and_then(|c| c.target_id.as_deref());
                    let written = target.write(known, &item.mapped).await;
                    if let (Ok(target_id), Some(sub_objects), Target::Register(register)) =
                        (&written, sub_objects, target.as_ref())
                    {
                        item.sub_objects = match register.fetch(target_id, true).await {
                            Ok(shown) => Ok(shown
                                .map(|shown| sub_objects.saved(&shown))
                                .unwrap_or_default()),
                            Err(error) => Err(error.to_string()),
                        };
                    }
                    (item, written)
                }
            }))
            .buffer_unordered(WRITE_CONCURRENCY)
            .collect::<Vec<_>>()
            .await;
            PageWrites {
                checked: outcomes,
                written,
                took: started.elapsed(),
            }
        }));
        Ok(())
    }

    /// Gives every object the register has not got yet its target id, recorded in its contract
    /// before the write (see [`contract::plan_targets`]).
    async fn plan_targets(&mut self, pending: &mut [Pending]) -> Result<(), StoreError> {
        let mut new = Vec::new();
        let mut retargeted = Vec::new();
        // Origin ids are unique on a page, so each contract is planned once.
        for item in pending.iter_mut() {
            match &mut item.contract {
                Some(contract) if contract.target_id.is_some() => {}
                Some(contract) => {
                    let target_id = crate::db::new_row_uuid();
                    retargeted.push((contract.id, target_id.clone()));
                    contract.target_id = Some(target_id);
                }
                None => {
                    let target_hash = contract::hash(&item.mapped);
                    item.planned_target_hash = Some(target_hash.clone());
                    new.push(contract::Planned {
                        origin_id: item.origin_id.clone(),
                        target_id: crate::db::new_row_uuid(),
                        origin_hash: item.origin_hash.clone(),
                        target_hash,
                    });
                }
            }
        }
        if new.is_empty() && retargeted.is_empty() {
            return Ok(());
        }
        // One writer at a time: SQLite's waiting writers poll, which costs more than waiting
        // here for the contracts being stored (usually stored already).
        self.finish_saving().await?;
        let (sync_id, now) = (self.id, Utc::now().naive_utc());
        let planning = Instant::now();
        let made = self
            .sync
            .db
            .run(move |conn| contract::plan_targets(conn, sync_id, &new, &retargeted, now))
            .await?;
        self.timing.contracts_save += planning.elapsed();
        for item in pending.iter_mut().filter(|item| item.contract.is_none()) {
            item.contract = made.get(&item.origin_id).cloned();
        }
        Ok(())
    }

    /// Gives the nested objects (`subObjects`) whose origin ids have contracts their target
    /// ids, so the register updates them rather than making new ones. The page before is
    /// written and its contracts stored first: it may have made the contracts asked for.
    async fn give_sub_objects_their_ids(
        &mut self,
        pending: &mut [Pending],
    ) -> Result<(), StoreError> {
        let Some(sub_objects) = self.sub_objects.clone() else {
            return Ok(());
        };
        let mut asked = BTreeSet::new();
        for item in pending.iter_mut() {
            sub_objects.origin_ids(&mut item.mapped, &mut asked);
        }
        if asked.is_empty() {
            return Ok(());
        }
        self.finish_writing().await?;
        self.finish_saving().await?;
        let reading = Instant::now();
        let (sync_id, asked): (i64, Vec<String>) = (self.id, asked.into_iter().collect());
        let known: HashMap<String, String> = self
            .sync
            .db
            .run(move |conn| contract::load(conn, sync_id, &asked))
            .await?
            .into_iter()
            .filter_map(|(origin_id, contract)| Some((origin_id, contract.target_id?)))
            .collect();
        self.timing.contracts_read += reading.elapsed();
        for item in pending.iter_mut() {
            sub_objects.set_ids(&mut item.mapped, &known);
        }
        Ok(())
    }

    /// Makes the references the page's objects hold (`idsToReplaceWithTargetIdsBeforeRules`,
    /// `originIdsToReplace`) target ids, with one lookup for the page.
    async fn resolve_references(&mut self, pending: &mut [Pending]) -> Result<(), StoreError> {
        if self.related.is_empty() {
            return Ok(());
        }
        let mut asked = BTreeSet::new();
        for item in pending.iter() {
            self.related.referenced(&item.mapped, &mut asked);
        }
        if asked.is_empty() {
            return Ok(());
        }
        let reading = Instant::now();
        let asked: Vec<String> = asked.into_iter().collect();
        let known = self
            .sync
            .db
            .run(move |conn| contract::target_ids(conn, &asked))
            .await?;
        self.timing.contracts_read += reading.elapsed();
        for item in pending.iter_mut() {
            self.related.resolve(&mut item.mapped, &known);
        }
        Ok(())
    }

    /// Waits for the page being written, counts what happened to each object and sends the
    /// page's contracts to be stored.
    async fn finish_writing(&mut self) -> Result<(), StoreError> {
        let Some(writing) = self.writing.take() else {
            return Ok(());
        };
        let PageWrites {
            checked: mut outcomes,
            written,
            took,
        } = writing
            .await
            .map_err(|e| StoreError::Db(crate::db::DbError::Task(e.to_string())))?;
        self.timing.writing += took;
        for (item, written) in written {
            match written {
                Ok(target_id) => {
                    let read_back = match item.sub_objects {
                        Ok(saved) => {
                            outcomes.extend(saved.into_iter().map(Outcome::SubObject));
                            true
                        }
                        Err(error) => {
                            self.errors.push(json!({"stage": "subObjects", "originId": item.origin_id, "error": error}));
                            false
                        }
                    };
                    // Without its nested objects read, no hash: the next run writes it again.
                    let origin_hash = if read_back {
                        item.origin_hash
                    } else {
                        String::new()
                    };
                    let created = item.first_write;
                    if created {
                        self.counts.created += 1;
                    } else {
                        self.counts.updated += 1;
                    }
                    let target_moved = item
                        .contract
                        .as_ref()
                        .is_some_and(|c| c.target_id.as_deref() != Some(target_id.as_str()));
                    // Hashes stored when it was planned hold, unless the read-back failed.
                    let hashes_stored =
                        item.planned_target_hash.is_some() && !target_moved && read_back;
                    let target_hash = match item.planned_target_hash {
                        Some(planned) => planned,
                        None => contract::hash(&item.mapped),
                    };
                    outcomes.push(Outcome::Written {
                        target_moved,
                        hashes_stored,
                        contract: item.contract.map(|c| (c.id, c.uuid)),
                        target_hash,
                        origin_id: item.origin_id,
                        origin_hash,
                        target_id,
                        created,
                        source: Some(item.source),
                        target: item.mapped,
                    });
                }
                Err(error) => {
                    self.counts.invalid += 1;
                    self.errors.push(json!({"stage": "write", "originId": item.origin_id, "error": error.to_string()}));
                    outcomes.push(Outcome::Failed {
                        contract: item.contract.map(|c| (c.id, c.uuid)),
                        origin_id: item.origin_id,
                        error: error.to_string().chars().take(2000).collect(),
                    });
                }
            }
        }
        self.save_outcomes(outcomes).await
    }

    /// Waits until every write of the run has ended and its contracts are stored.
    async fn finish(&mut self) -> Result<(), StoreError> {
        self.finish_writing().await?;
        self.finish_saving().await
    }

    /// Stores outcomes with their contract logs, while the run goes on with the next page
    /// (one save in flight; its error surfaces at the next save or [`Run::finish_saving`]).
    async fn save_outcomes(&mut self, outcomes: Vec<Outcome>) -> Result<(), StoreError> {
        self.finish_saving().await?;
        let sync_id = self.id;
        let now = Utc::now().naive_utc();
        let logs = contract::LogContext {
            synchronization: self.uuid.clone(),
            log: self.log_uuid.clone(),
            force: self.options.force,
            expires: self.sync.retention.get().expires(
                crate::retention::LogKind::Contract,
                true,
                None,
                now,
            ),
        };
        let db = self.sync.db.clone();
        self.saving = Some(tokio::spawn(async move {
            db.run(move |conn| contract::save(conn, sync_id, &outcomes, &logs, now))
                .await
        }));
        Ok(())
    }

    /// Waits for the contracts being stored.
    async fn finish_saving(&mut self) -> Result<(), StoreError> {
        let Some(saving) = self.saving.take() else {
            return Ok(());
        };
        let waiting = Instant::now();
        let saved = saving
            .await
            .map_err(|e| StoreError::Db(crate::db::DbError::Task(e.to_string())))?;
        self.timing.contracts_save += waiting.elapsed();
        saved
    }

    /// Merges each object's `extraDataConfigs` calls into it (a few objects at a time); an
    /// object whose extra data cannot be fetched is counted invalid and retried next run.
    async fn extend(&mut self, objects: Vec<(String, Value)>) -> Vec<(String, Value)> {
        if self.extra.is_empty() {
            return objects;
        }
        let extra = Arc::clone(&self.extra);
        let calls = Arc::clone(&self.sync.calls);
        let extended =
            futures_util::stream::iter(objects.into_iter().map(|(origin_id, mut item)| {
                let extra = Arc::clone(&extra);
                let calls = Arc::clone(&calls);
                async move {
                    for config in extra.iter() {
                        if let Err(error) = config.extend(&calls, &mut item, &origin_id).await {
                            return (origin_id, Err(error));
                        }
                    }
                    (origin_id, Ok(item))
                }
            }))
            .buffered(WRITE_CONCURRENCY)
            .collect::<Vec<_>>()
            .await;
        let mut kept = Vec::with_capacity(extended.len());
        for (origin_id, item) in extended {
            match item {
                Ok(item) => kept.push((origin_id, item)),
                Err(error) => {
                    self.counts.invalid += 1;
                    self.errors
                        .push(json!({"stage": "extraData", "originId": origin_id, "error": error}));
                }
            }
        }
        kept
    }

    /// Handles the one object of a push run.
    async fn push(&mut self, data: Value, mutation: Mutation) {
        self.counts.found = 1;
        // OpenRegister objects carry their id in `@self.id`; other objects in `id`.
        if let Some(path) = ["@self.id", "id"].into_iter().find(|path| {
            matches!(
                reader::at_path(&data, path),
                Some(Value::String(_) | Value::Number(_))
            )
        }) {
            path.clone_into(&mut self.read.id_position);
        }
        if mutation != Mutation::Delete {
            let processed = self.process_page(vec![data]).await;
            if let Err(error) = processed.and(self.finish().await) {
                self.errors
                    .push(json!({"stage": "store", "error": error.to_string()}));
            }
            return;
        }
        let origin_id = match reader::at_path(&data, &self.read.id_position) {
            Some(Value::String(id)) if !id.is_empty() => id.clone(),
            Some(Value::Number(id)) => id.to_string(),
            _ => {
                self.counts.invalid += 1;
                self.errors.push(json!({"stage": "object", "error": format!("Could not find origin id in object for key: {}", self.read.id_position)}));
                return;
            }
        };
        let sync_id = self.id;
        let lookup = vec![origin_id.clone()];
        let contract = match self
            .sync
            .db
            .run(move |conn| contract::load(conn, sync_id, &lookup))
            .await
        {
            Ok(mut found) => found.remove(&origin_id),
            Err(error) => {
                self.errors
                    .push(json!({"stage": "store", "error": error.to_string()}));
                return;
            }
        };
        let (Some(contract), Some(target)) = (contract, self.target.clone()) else {
            self.counts.skipped += 1;
            return;
        };
        let Some(target_id) = contract.target_id.clone() else {
            self.counts.skipped += 1;
            return;
        };
        if self.options.test {
            self.counts.deleted += 1;
            return;
        }
        match target.delete(&target_id).await {
            Ok(()) => {
                self.counts.deleted += 1;
                let outcomes = vec![Outcome::Deleted {
                    contract_id: contract.id,
                    contract_uuid: contract.uuid,
                }];
                let saved = self.save_outcomes(outcomes).await;
                if let Err(error) = saved.and(self.finish_saving().await) {
                    self.errors
                        .push(json!({"stage": "store", "error": error.to_string()}));
                }
            }
            Err(error) => {
                self.counts.invalid += 1;
                self.errors.push(
                    json!({"stage": "delete", "originId": origin_id, "error": error.to_string()}),
                );
            }
        }
    }

    /// Deletes the target objects whose source objects were not in this (complete) read. The
    /// contracts are walked a chunk at a time, so memory does not grow with the source.
    async fn delete_vanished(&mut self) {
        const CHUNK: usize = 1000;
        let Some(target) = self.target.clone() else {
            return;
        };
        // `restrictDeletion`: only what the handed `data` names may go; without data, nothing.
        let bound = match (self.restrict_deletion, &self.data) {
            (false, _) => None,
            (true, Some(data)) => Some(data.to_string()),
            (true, None) => return,
        };
        let sync_id = self.id;
        self.sync.runs.update(self.id, |p| p.stage = "deleting");
        let mut after: Option<(String, i64)> = None;
        loop {
            let from = after.clone();
            let chunk = self
                .sync
                .db
                .run(move |conn| {
                    let from = from.as_ref().map(|(origin, id)| (origin.as_str(), *id));
                    contract::with_targets(conn, sync_id, from, CHUNK)
                })
                .await;
            let known = match chunk {
                Ok(known) => known,
                Err(error) => {
                    self.errors
                        .push(json!({"stage": "delete", "error": error.to_string()}));
                    return;
                }
            };
            let Some(last) = known.last() else {
                break;
            };
            let full = known.len() == CHUNK;
            after = Some((last.origin_id.clone(), last.id));
            let deleting = Instant::now();
            let vanished = known.into_iter().filter(|contract| {
                !self.seen.contains(&origin_key(&contract.origin_id))
                    && bound
                        .as_ref()
                        .is_none_or(|data| data.contains(contract.origin_id.as_str()))
            });
            let deletes = futures_util::stream::iter(vanished.map(|contract| {
                let target = Arc::clone(&target);
                async move {
                    let deleted = target.delete(&contract.target_id).await;
                    (contract, deleted)
                }
            }))
            .buffer_unordered(WRITE_CONCURRENCY)
            .collect::<Vec<_>>()
            .await;
            let mut outcomes = Vec::new();
            for (contract, deleted) in deletes {
                match deleted {
                    Ok(()) => {
                        self.counts.deleted += 1;
                        outcomes.push(Outcome::Deleted {
                            contract_id: contract.id,
                            contract_uuid: contract.uuid,
                        });
                    }
                    Err(error) => self.errors.push(json!({"stage": "delete", "originId": contract.origin_id, "error": error.to_string()})),
                }
            }
            self.timing.deleting += deleting.elapsed();
            if !outcomes.is_empty() {
                if let Err(error) = self.save_outcomes(outcomes).await {
                    self.errors
                        .push(json!({"stage": "delete", "error": error.to_string()}));
                    return;
                }
            }
            if !full {
                break;
            }
        }
        if let Err(error) = self.finish_saving().await {
            self.errors
                .push(json!({"stage": "delete", "error": error.to_string()}));
        }
    }

    /// The SynchronizationLog of this run.
    fn log(&self, milliseconds: f64, read_complete: bool) -> Value {
        let message = match (read_complete, self.errors.is_empty()) {
            (true, true) => "Success".to_owned(),
            (true, false) => format!("Finished with {} object errors", self.errors.len()),
            (false, _) => format!(
                "Stopped: {}; nothing was deleted",
                self.errors
                    .last()
                    .and_then(|e| e.get("error"))
                    .and_then(Value::as_str)
                    .unwrap_or("the source could not be read")
            ),
        };
        let now = Utc::now().naive_utc();
        let success = read_complete && self.errors.is_empty();
        let expires = self.sync.retention.get().expires(
            crate::retention::LogKind::Synchronization,
            success,
            None,
            now,
        );
        json!({
            "uuid": self.log_uuid,
            "message": message.chars().take(255).collect::<String>(),
            "synchronizationId": self.uuid,
            "result": {
                "objects": self.counts,
                "type": "externToIntern",
                "complete": read_complete,
                "errors": self.errors.iter().take(100).collect::<Vec<_>>(),
                "warnings": self.warnings,
                "rateLimitReset": self.rate_limit_reset,
                "timing": self.timing.to_json(milliseconds, self.counts.found),
            },
            "test": self.options.test,
            "force": self.options.force,
            "executionTime": milliseconds.round() as i64,
            "expires": expires.map(format_time),
        })
    }
}
