//! Jobs end to end: schedules under a hand-moved clock, runs by hand, several replicas on one
//! database, shutdown, and log retention; on every backend.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use chrono::NaiveDateTime;
use openconnector::app::AppState;
use openconnector::db::{CALL_LOG, JOB_LOG, parse_time};
use openconnector::jobs::scheduler::{Clock, ManualClock, Scheduler, SchedulerSettings};
use openconnector::retention::{self, LogKind};
use openconnector::secret::Secret;
use serde_json::{Value, json};

use crate::common::upstream::Upstream;
use crate::common::{TOKEN, TestApp, backends};

fn settings() -> SchedulerSettings {
    SchedulerSettings {
        tick: Duration::from_secs(3600),
        lease: Duration::from_secs(60),
        batch: 20,
        clean_every: Duration::from_secs(3600),
        shutdown_grace: Duration::from_millis(200),
    }
}

fn time(value: &Value) -> NaiveDateTime {
    value
        .as_str()
        .and_then(parse_time)
        .unwrap_or_else(|| panic!("a time, got {value}"))
}

async fn create(app: &TestApp, path: &str, body: Value) -> Value {
    let (status, created) = app.post(path, &body).await;
    assert_eq!(status, 201, "{created}");
    created
}

async fn logs_of(app: &TestApp, job: &Value) -> Vec<Value> {
    let (status, page) = app
        .get(&format!("/api/jobs/logs?jobId={}&_limit=100", job["id"]))
        .await;
    assert_eq!(status, 200, "{page}");
    page["results"].as_array().cloned().unwrap_or_default()
}

/// A service, an outside API on loopback, and a source pointing at it.
async fn with_upstream(backend: &crate::common::Backend) -> (TestApp, Upstream, Value) {
    let app = TestApp::spawn(backend).await;
    let upstream = Upstream::start().await;
    let source = create(
        &app,
        "/api/sources",
        json!({"name": "Upstream", "location": upstream.base}),
    )
    .await;
    (app, upstream, source)
}

async fn job(app: &TestApp, job: &Value) -> Value {
    app.get(&format!("/api/jobs/{}", job["id"])).await.1
}

#[tokio::test]
async fn jobs_run_on_their_schedule_under_a_controllable_clock() {
    for backend in backends() {
        let (app, upstream, source) = with_upstream(&backend).await;
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        let dead = format!("http://{}", closed.local_addr().expect("address"));
        drop(closed);
        let dead_source = create(
            &app,
            "/api/sources",
            json!({"name": "Gone", "location": dead}),
        )
        .await;
        // Its own source: a spent rate limit holds back every call to the source it names.
        let limited_source = create(
            &app,
            "/api/sources",
            json!({"name": "Limited", "location": upstream.base}),
        )
        .await;
        let ping = |source: &Value, endpoint: &str| json!({"sourceId": source["id"], "endpoint": endpoint});

        let healthy = create(&app, "/api/jobs", json!({"name": "healthy", "jobClass": "PingAction", "arguments": ping(&source, "/echo")})).await;
        assert_eq!(healthy["cron"], "*/5 * * * *", "the default schedule");
        let failing = create(&app, "/api/jobs", json!({"name": "failing", "jobClass": "OCA\\OpenConnector\\Action\\PingAction", "arguments": ping(&dead_source, ""), "cron": "*/5 * * * *"})).await;
        let limited = create(&app, "/api/jobs", json!({"name": "limited", "jobClass": "PingAction", "arguments": ping(&limited_source, "/exhausted"), "cron": "*/5 * * * *"})).await;
        let once = create(&app, "/api/jobs", json!({"name": "once", "jobClass": "PingAction", "arguments": ping(&source, "/echo"), "cron": "*/5 * * * *", "singleRun": true})).await;
        let disabled = create(&app, "/api/jobs", json!({"name": "off", "jobClass": "PingAction", "arguments": ping(&source, "/echo"), "cron": "*/5 * * * *", "isEnabled": false})).await;
        let hourly = create(&app, "/api/jobs", json!({"name": "hourly", "jobClass": "PingAction", "arguments": ping(&source, "/echo"), "interval": 3600})).await;

        // A new job is scheduled on save: no manual first run needed.
        let due = time(&healthy["nextRun"]);
        assert_eq!(due.format("%M:%S").to_string().chars().last(), Some('0'));
        assert!(due > chrono::Utc::now().naive_utc());
        assert_eq!(time(&failing["nextRun"]), due);
        let hourly_due = time(&hourly["nextRun"]);

        let clock = Arc::new(ManualClock::new(due - chrono::Duration::minutes(1)));
        let scheduler = Scheduler::new(app.state.clone(), clock.clone(), settings());
        assert_eq!(
            scheduler.tick().await.expect("tick"),
            0,
            "{}: nothing due yet",
            backend.name
        );

        clock.set(due);
        assert_eq!(scheduler.tick().await.expect("tick"), 4, "{}", backend.name);
        scheduler.wait_idle().await;
        assert_eq!(
            scheduler.tick().await.expect("tick"),
            0,
            "a run is not repeated"
        );

        let healthy_logs = logs_of(&app, &healthy).await;
        assert_eq!(healthy_logs.len(), 1);
        assert_eq!(healthy_logs[0]["level"], "INFO", "{}", healthy_logs[0]);
        let after = job(&app, &healthy).await;
        assert_eq!(time(&after["nextRun"]), due + chrono::Duration::minutes(5));
        assert_eq!(time(&after["lastRun"]), due);
        assert_eq!(after["status"], "ok");

        let failing_logs = logs_of(&app, &failing).await;
        assert_eq!(failing_logs[0]["level"], "ERROR", "{}", failing_logs[0]);
        assert!(
            failing_logs[0]["message"]
                .as_str()
                .unwrap_or_default()
                .starts_with("Ping failed")
        );
        let failed = job(&app, &failing).await;
        assert_eq!(
            time(&failed["nextRun"]),
            due + chrono::Duration::minutes(5),
            "a failure keeps the schedule"
        );
        assert_eq!(failed["status"], "failed");

        let limited_logs = logs_of(&app, &limited).await;
        assert_eq!(limited_logs[0]["level"], "WARNING", "{}", limited_logs[0]);
        let pushed = time(&job(&app, &limited).await["nextRun"]);
        let reset = chrono::Utc::now().naive_utc() + chrono::Duration::minutes(59);
        assert!(
            pushed > reset,
            "pushed out to the rate-limit reset, got {pushed}"
        );
        assert_eq!(pushed.format("%S").to_string(), "00", "on a whole minute");

        let single = job(&app, &once).await;
        assert_eq!(single["isEnabled"], false, "a single run disables its job");
        assert!(logs_of(&app, &disabled).await.is_empty());

        clock.set(due + chrono::Duration::minutes(5));
        assert_eq!(
            scheduler.tick().await.expect("tick"),
            2,
            "healthy and failing again"
        );
        scheduler.wait_idle().await;
        assert_eq!(logs_of(&app, &healthy).await.len(), 2);
        assert_eq!(logs_of(&app, &failing).await.len(), 2);
        assert_eq!(logs_of(&app, &limited).await.len(), 1);
        assert_eq!(logs_of(&app, &once).await.len(), 1);

        // The hourly job keeps its rhythm from its due time, however late the tick.
        clock.set(hourly_due + chrono::Duration::minutes(7));
        scheduler.tick().await.expect("tick");
        scheduler.wait_idle().await;
        assert_eq!(logs_of(&app, &hourly).await.len(), 1);
        assert_eq!(
            time(&job(&app, &hourly).await["nextRun"]),
            hourly_due + chrono::Duration::hours(1)
        );
    }
}

#[tokio::test]
async fn runs_by_hand_follow_the_rules_and_bad_jobs_are_refused() {
    for backend in backends() {
        let (app, _upstream, source) = with_upstream(&backend).await;
        let job = create(&app, "/api/jobs", json!({"name": "ping", "jobClass": "PingAction", "arguments": {"sourceId": source["id"], "endpoint": "/echo"}, "cron": "0 3 * * *", "timeZone": "Europe/Amsterdam"})).await;
        let next = job["nextRun"].clone();

        let (status, refused) = app
            .post(&format!("/api/jobs/run/{}", job["id"]), &json!({}))
            .await;
        assert_eq!(status, 409, "not due: {refused}");
        assert_eq!(refused["details"]["nextRun"], next);

        let (status, log) = app
            .post(
                &format!("/api/jobs/run/{}", job["id"]),
                &json!({"forceRun": true}),
            )
            .await;
        assert_eq!(status, 200, "{log}");
        assert_eq!(log["level"], "INFO");
        assert!(
            log["stackTrace"][0]
                .as_str()
                .unwrap_or_default()
                .starts_with("Doing a force run")
        );
        assert_eq!(log["result"]["statusCode"], 200);
        let after = app.get(&format!("/api/jobs/{}", job["id"])).await.1;
        assert_eq!(after["nextRun"], next, "a forced run keeps the schedule");
        assert!(after["lastRun"].is_string());

        let (status, log) = app
            .post(&format!("/api/jobs/test/{}", job["id"]), &json!({}))
            .await;
        assert_eq!(
            (status, log["level"].clone()),
            (200, json!("INFO")),
            "{log}"
        );

        let (_, _) = app
            .send(
                reqwest::Method::PUT,
                &format!("/api/jobs/{}", job["id"]),
                &json!({"isEnabled": false}),
            )
            .await;
        let (status, log) = app
            .post(&format!("/api/jobs/run/{}", job["id"]), &json!({}))
            .await;
        assert_eq!(
            (status, log["level"].clone(), log["message"].clone()),
            (200, json!("WARNING"), json!("This job is disabled"))
        );

        let (status, body) = app.post("/api/jobs/run/999999", &json!({})).await;
        assert_eq!(status, 404, "{body}");
        let (status, body) = app
            .post(
                &format!("/api/jobs/run/{}", job["id"]),
                &json!({"forceRun": "often"}),
            )
            .await;
        assert_eq!(
            (status, body["details"]["forceRun"].is_string()),
            (400, true),
            "{body}"
        );

        for (input, field) in [
            (
                json!({"name": "x", "jobClass": "PingAction", "arguments": {"sourceId": 1}, "cron": "every day"}),
                "cron",
            ),
            (
                json!({"name": "x", "jobClass": "PingAction", "arguments": {"sourceId": 1}, "timeZone": "Mars/Base"}),
                "timeZone",
            ),
            (
                json!({"name": "x", "jobClass": "EventAction", "arguments": {}}),
                "jobClass",
            ),
            (
                json!({"name": "x", "jobClass": "SynchronizationAction", "arguments": {}}),
                "arguments.synchronizationId",
            ),
        ] {
            let (status, body) = app.post("/api/jobs", &input).await;
            assert_eq!(status, 400, "{input}: {body}");
            assert!(
                body["details"][field].is_string(),
                "{field} named in {body}"
            );
        }
    }
}

/// A replica: its own pool and state over the shared tables, and its own scheduler.
fn replica(app: &TestApp, clock: &Arc<ManualClock>) -> Scheduler {
    let state =
        web::Data::new(AppState::new(app.store.another_pool(), Secret::new(TOKEN)).expect("state"));
    Scheduler::new(state, clock.clone(), settings())
}

#[tokio::test]
async fn replicas_run_each_due_run_exactly_once_and_take_over_a_dead_ones_jobs() {
    for backend in backends() {
        let (app, upstream, source) = with_upstream(&backend).await;
        let mut jobs = Vec::new();
        for n in 0..4 {
            jobs.push(create(&app, "/api/jobs", json!({"name": format!("every minute {n}"), "jobClass": "PingAction", "arguments": {"sourceId": source["id"], "endpoint": "/echo"}, "cron": "* * * * *"})).await);
        }
        let first = time(&jobs[0]["nextRun"]);
        let clock = Arc::new(ManualClock::new(first));
        let replicas = [
            replica(&app, &clock),
            replica(&app, &clock),
            replica(&app, &clock),
        ];
        const TICKS: usize = 12;
        for _ in 0..TICKS {
            let (a, b, c) =
                tokio::join!(replicas[0].tick(), replicas[1].tick(), replicas[2].tick());
            let started = a.expect("tick") + b.expect("tick") + c.expect("tick");
            assert_eq!(
                started,
                jobs.len(),
                "{}: every due job claimed once",
                backend.name
            );
            for replica in &replicas {
                replica.wait_idle().await;
            }
            clock.advance(chrono::Duration::minutes(1));
        }
        for job in &jobs {
            assert_eq!(
                logs_of(&app, job).await.len(),
                TICKS,
                "{}: {}",
                backend.name,
                job["name"]
            );
        }
        assert_eq!(upstream.hits("/echo") as usize, TICKS * jobs.len());

        // A replica dies mid-run: its claim holds until the lease expires, then another runs it.
        let slow = create(&app, "/api/jobs", json!({"name": "slow", "jobClass": "PingAction", "arguments": {"sourceId": source["id"], "endpoint": "/slow"}, "cron": "0 0 1 1 *"})).await;
        let due = clock.now();
        app.send(
            reqwest::Method::PUT,
            &format!("/api/jobs/{}", slow["id"]),
            &json!({"nextRun": openconnector::db::format_time(due)}),
        )
        .await;
        for job in &jobs {
            app.send(
                reqwest::Method::PUT,
                &format!("/api/jobs/{}", job["id"]),
                &json!({"isEnabled": false}),
            )
            .await;
        }
        let dying = replica(&app, &clock);
        assert_eq!(dying.tick().await.expect("tick"), 1);
        tokio::time::sleep(Duration::from_millis(200)).await;
        dying.abandon();
        assert_eq!(job(&app, &slow).await["status"], "running");
        clock.advance(chrono::Duration::seconds(30));
        assert_eq!(
            replicas[0].tick().await.expect("tick"),
            0,
            "the lease still holds"
        );
        clock.advance(chrono::Duration::seconds(31));
        assert_eq!(
            replicas[1].tick().await.expect("tick"),
            1,
            "taken over after the lease"
        );
        replicas[1].wait_idle().await;
        let logs = logs_of(&app, &slow).await;
        assert_eq!(
            logs.len(),
            1,
            "{}: only the finished run is logged",
            backend.name
        );
        assert_eq!(logs[0]["level"], "INFO", "{}", logs[0]);
        assert_eq!(job(&app, &slow).await["status"], "ok");
    }
}

#[tokio::test]
async fn shutdown_records_a_cut_off_run_as_interrupted_and_releases_it() {
    for backend in backends() {
        let (app, _upstream, source) = with_upstream(&backend).await;
        let slow = create(&app, "/api/jobs", json!({"name": "slow", "jobClass": "PingAction", "arguments": {"sourceId": source["id"], "endpoint": "/slow"}})).await;
        let clock = Arc::new(ManualClock::new(time(&slow["nextRun"])));
        let scheduler = Scheduler::new(app.state.clone(), clock.clone(), settings());
        assert_eq!(scheduler.tick().await.expect("tick"), 1);
        tokio::time::sleep(Duration::from_millis(100)).await;
        scheduler.shutdown().await;
        let after = job(&app, &slow).await;
        assert_eq!(after["status"], "interrupted", "{}", backend.name);
        assert_eq!(
            time(&after["nextRun"]),
            time(&slow["nextRun"]),
            "due again at once"
        );
        let logs = logs_of(&app, &slow).await;
        assert_eq!(logs.len(), 1);
        assert_eq!(logs[0]["level"], "ERROR");
        assert!(
            logs[0]["message"]
                .as_str()
                .unwrap_or_default()
                .starts_with("Interrupted")
        );
        // Released: another scheduler may claim it at once.
        let next = Scheduler::new(app.state.clone(), clock, settings());
        assert_eq!(next.tick().await.expect("tick"), 1);
        next.abandon();
    }
}

#[tokio::test]
async fn the_cleaner_deletes_exactly_the_expired_logs_and_settings_drive_expiry() {
    for backend in backends() {
        let app = TestApp::spawn(&backend).await;
        let now = chrono::Utc::now().naive_utc();
        let db = app.state.db.clone();
        // Seven expired call logs (more than one batch of three), two alive, one kept forever.
        let rows: Vec<(i64, Option<NaiveDateTime>)> = (0..7)
            .map(|n| (n, Some(now - chrono::Duration::minutes(n + 1))))
            .chain([
                (7, Some(now + chrono::Duration::hours(1))),
                (8, Some(now + chrono::Duration::days(2))),
                (9, None),
            ])
            .collect();
        db.run(move |conn| {
            for (n, expires) in rows {
                let input = json!({"uuid": uuid::Uuid::new_v4().to_string(), "statusCode": 200 + n, "sourceId": 1,
                                   "expires": expires.map(openconnector::db::format_time)});
                openconnector::db::store::create(conn, &CALL_LOG, input.as_object().expect("object"))?;
            }
            let job_log = json!({"jobId": 1, "level": "ERROR", "expires": openconnector::db::format_time(now - chrono::Duration::seconds(1))});
            openconnector::db::store::create(conn, &JOB_LOG, job_log.as_object().expect("object"))
        })
        .await
        .expect("logs stored");

        let (status, stats) = app.get("/api/settings/stats").await;
        assert_eq!(status, 200, "{stats}");
        assert_eq!(
            stats["tables"]["callLogs"],
            json!({"total": 10, "expired": 7, "withoutExpiry": 1, "size": 40960})
        );

        let pace = retention::Pace {
            batch: 3,
            pause: Duration::ZERO,
        };
        let cleaned = retention::clean(&db, now, pace).await.expect("cleaned");
        assert_eq!(cleaned.deleted, 8, "{}", backend.name);
        let (_, stats) = app.get("/api/settings/stats").await;
        assert_eq!(stats["tables"]["callLogs"]["total"], 3);
        assert_eq!(stats["tables"]["callLogs"]["expired"], 0);
        assert_eq!(stats["tables"]["jobLogs"]["total"], 0);
        let (_, left) = app.get("/api/sources/logs?_limit=50").await;
        let mut codes: Vec<i64> = left["results"]
            .as_array()
            .expect("results")
            .iter()
            .filter_map(|l| l["statusCode"].as_i64())
            .collect();
        codes.sort_unstable();
        assert_eq!(codes, [207, 208, 209], "{}", backend.name);

        // Settings: defaults, a partial update, a named error, and a rebase of stored expiries.
        let (status, settings) = app.get("/api/settings").await;
        assert_eq!(status, 200);
        assert_eq!(settings["retention"]["callLogRetention"], 2_592_000_000_i64);
        let (status, bad) = app
            .send(
                reqwest::Method::PUT,
                "/api/settings",
                &json!({"retention": {"callLogRetention": -5}}),
            )
            .await;
        assert_eq!(status, 400);
        assert!(
            bad["details"]["retention.callLogRetention"].is_string(),
            "{bad}"
        );
        let (status, updated) = app
            .send(
                reqwest::Method::PUT,
                "/api/settings",
                &json!({"retention": {"successLogRetention": 120_000, "callLogRetention": 0}}),
            )
            .await;
        assert_eq!(status, 200, "{updated}");
        assert_eq!(updated["retention"]["successLogRetention"], 120_000);
        assert_eq!(
            app.get("/api/settings").await.1["retention"],
            updated["retention"],
            "stored"
        );
        let (status, rebased) = app.post("/api/settings/rebase", &json!({})).await;
        assert_eq!(
            (status, rebased["updated"].as_i64()),
            (200, Some(3)),
            "{rebased}"
        );
        let (_, left) = app.get("/api/sources/logs?_limit=50").await;
        for log in left["results"].as_array().expect("results") {
            // SQLite's date arithmetic keeps milliseconds.
            let expected = time(&log["created"]) + chrono::Duration::minutes(2);
            let off = (time(&log["expires"]) - expected)
                .num_microseconds()
                .unwrap_or(i64::MAX)
                .abs();
            assert!(off < 1000, "{}: {log}", backend.name);
        }
        // New logs follow the settings too: a successful call now expires in two minutes.
        assert_eq!(
            app.state
                .retention
                .get()
                .expires(LogKind::Call, true, Some(60), now),
            Some(now + chrono::Duration::minutes(2))
        );
    }
}

/// The real binary: a job running when SIGTERM arrives finishes before the process exits, and
/// is not left "running".
#[tokio::test]
async fn on_sigterm_the_service_lets_a_running_job_finish() {
    let upstream = Upstream::start().await;
    let dir = std::env::temp_dir().join(format!("openconnector-term-{}", uuid::Uuid::new_v4()));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("address")
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_openconnector"))
        .env("OPENCONNECTOR_DATA_DIR", &dir)
        .env("OPENCONNECTOR_BIND", format!("127.0.0.1:{port}"))
        .env("OPENCONNECTOR_ADMIN_TOKEN", TOKEN)
        .env("OPENCONNECTOR_JOB_TICK", "1")
        .env_remove("OPENCONNECTOR_DATABASE_URL")
        .env_remove("APP_ID")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the binary starts");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, body: Value| {
        let request = client
            .request(method, format!("{base}{path}"))
            .bearer_auth(TOKEN)
            .json(&body);
        async move { crate::common::read(request.send().await.expect("answer")).await }
    };
    let mut up = false;
    for _ in 0..100 {
        if client
            .get(format!("{base}/api/health"))
            .send()
            .await
            .is_ok()
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the service answers");
    let (_, source) = call(
        reqwest::Method::POST,
        "/api/sources",
        json!({"name": "Slow", "location": upstream.base}),
    )
    .await;
    let past = openconnector::db::format_time(
        chrono::Utc::now().naive_utc() - chrono::Duration::minutes(1),
    );
    let (status, job) = call(reqwest::Method::POST, "/api/jobs", json!({"name": "slow", "jobClass": "PingAction", "arguments": {"sourceId": source["id"], "endpoint": "/slow"}, "nextRun": past})).await;
    assert_eq!(status, 201, "{job}");
    let path = format!("/api/jobs/{}", job["id"]);
    let mut running = false;
    for _ in 0..100 {
        if call(reqwest::Method::GET, &path, Value::Null).await.1["status"] == "running" {
            running = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(running, "the scheduler picked the job up");
    let terminated = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(terminated.success());
    let exit = child.wait().expect("the service exits");
    assert!(exit.success(), "{exit:?}");

    let db = openconnector::db::Db::connect(
        &dir.join("openconnector.sqlite").to_string_lossy(),
        "oc_openconnector_",
        1,
    )
    .expect("the data file");
    let id = job["id"].as_i64().expect("id");
    let stored = db
        .run_blocking(|conn| {
            openconnector::db::store::find(
                conn,
                &openconnector::db::JOB,
                &openconnector::db::store::Key::Id(id),
            )
        })
        .expect("read")
        .expect("the job");
    assert_eq!(
        stored["status"], "ok",
        "finished, not left running: {stored}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
